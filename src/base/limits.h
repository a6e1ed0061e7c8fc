// Every hard limit of the system, each with the reason for its value (sqliteLimit.h).
// External input (GGUF, HTTP, JSON, wire) is checked against these before allocation.
// SPDX-License-Identifier: MIT
#ifndef JANUS_LIMITS_H
#define JANUS_LIMITS_H

// GGUF: real models have < 2k metadata keys and < 100k tensors; vocabularies < 1M tokens.
#define LIMIT_GGUF_MAX_KV        65536
#define LIMIT_GGUF_MAX_TENSORS   1048576
#define LIMIT_GGUF_MAX_STRING    (16u << 20) // one string value or key: 16 MiB
#define LIMIT_GGUF_MAX_ARRAY     (1u << 24)  // elements in one array (vocab/merges fit easily)
#define LIMIT_GGUF_MAX_DIMS      4           // ggml tensors have at most 4 dims
#define LIMIT_GGUF_MAX_NAME      256         // tensor name bytes (ggml GGML_MAX_NAME is 64)
#define LIMIT_GGUF_MAX_ALIGNMENT 65536

// Model shape: largest public MoE models are well inside these.
#define LIMIT_MAX_LAYERS      512
#define LIMIT_MAX_EXPERTS     1024
#define LIMIT_MAX_EXPERT_USED 64
#define LIMIT_MAX_VOCAB       (1 << 22)
#define LIMIT_MAX_CONTEXT     (1 << 20)

// Deployment.
#define LIMIT_MAX_INSTANCES 1024  // attention or MoE instances per deployment
#define LIMIT_MAX_SLOTS     4096  // expert slots per MoE instance (all layers share C)
#define LIMIT_MAX_BATCH     65536 // tokens in one step across the deployment
// Rows one attention instance may run in one step; the batcher's per-step token budget
// (SPEC §3 "Ours", default 256) must be <= this.
#define LIMIT_MAX_STEP_ROWS 1024
// Sequence slots (live requests) per attention instance: slot ids 0..LIMIT_MAX_SEQS-1.
#define LIMIT_MAX_SEQS 256

// HTTP (src/http/gate.c): a request head (request line + header lines) is at most this many
// bytes, else 431. Real clients send < 2 KiB; libmicrohttpd parses the head inside its
// per-connection pool (32 KiB by default), which must hold it with room to spare.
#define LIMIT_HTTP_HEAD 16384

_Static_assert(LIMIT_MAX_EXPERT_USED <= LIMIT_MAX_EXPERTS, "top-k cannot exceed experts");
_Static_assert(LIMIT_MAX_SEQS <= LIMIT_MAX_STEP_ROWS, "a step may sample every live sequence");
_Static_assert(LIMIT_GGUF_MAX_DIMS == 4, "ggml tensors are at most 4-D");

#endif // JANUS_LIMITS_H
