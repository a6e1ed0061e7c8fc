// Wire format of the control messages between ranks of one deployment (SPEC §3, §4;
// docs/PROTOCOL.md): a fixed 24-byte header {magic, version, type, layer, len, step}
// followed by len payload bytes, all little-endian. Encoders write into caller buffers;
// decoders check every length, count and range against limits.h before touching memory,
// so a malformed message is JANUS_EPROTO/JANUS_ELIMIT, never a crash. Pure: no I/O, no MPI.
// The bulk data of the exchange (x rows, partial sums) is raw float32 whose sizes follow
// from the step header, so it needs no framing.
// SPDX-License-Identifier: MIT
#ifndef JANUS_COMM_WIRE_H
#define JANUS_COMM_WIRE_H

#include "base/base.h"
#include "base/limits.h"

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC       0x53554e4aU // "JNUS" read as little-endian u32
#define WIRE_VERSION     1
#define WIRE_HEADER_SIZE 24
#define WIRE_LAYER_NONE  (-1)
// Exchange schemes on the wire (values of enum xfer_scheme, comm/xfer.h).
#define WIRE_N_SCHEMES 3
// Largest payload we accept (a step header for LIMIT_MAX_INSTANCES instances is ~4 KiB;
// a local batch of exec.h is ~40 KiB): 16 MiB leaves room and bounds allocations.
#define WIRE_MAX_PAYLOAD (16u << 20)

// Message types. Explicit numbers, append-only; retired values stay as comments.
enum wire_type {
    WIRE_TYPE_STEP = 1,    // controller -> every rank: step header (struct wire_step)
    WIRE_TYPE_STOP = 2,    // controller -> every rank: leave the worker loop (no payload)
    WIRE_TYPE_BATCH = 3,   // reserved: controller -> attention instance local batch
    WIRE_TYPE_RESULT = 4,  // reserved: attention instance -> controller results
    WIRE_TYPE_STATS = 5,   // controller -> every rank: join the statistics reduction
    WIRE_TYPE_ERROR = 6,   // reserved: a rank reports a failed step
    WIRE_TYPE_REPLACE = 7, // controller -> every rank: a live re-placement phase (wire_replace)
};
#define WIRE_TYPE_MAX 7

struct wire_header {
    uint32_t magic;   // WIRE_MAGIC
    uint16_t version; // WIRE_VERSION
    uint16_t type;    // enum wire_type
    int32_t layer;    // layer index, or WIRE_LAYER_NONE
    uint32_t len;     // payload bytes following the header, <= WIRE_MAX_PAYLOAD
    uint64_t step;    // step number
};

// Step header flags.
#define WIRE_STEP_LOGITS    1u // attention instances return logits instead of sampling
#define WIRE_STEP_SELECTIVE 2u // selective dispatch (SPEC §4); else broadcast
#define WIRE_STEP_FLAGS_ALL (WIRE_STEP_LOGITS | WIRE_STEP_SELECTIVE)

// The step header payload (SPEC §3): step number (in the wire header), each attention
// instance's token count b_i, the exchange scheme and (flags) the dispatch mode of the step.
struct wire_step {
    uint64_t step;
    int32_t scheme;                 // enum xfer_scheme, 0 <= scheme < WIRE_N_SCHEMES
    uint32_t flags;                 // WIRE_STEP_* bits
    int32_t n_attn;                 // 1..LIMIT_MAX_INSTANCES
    int32_t b[LIMIT_MAX_INSTANCES]; // (n_attn) rows of each attention instance, >= 0
};

// Bytes of an encoded step header message for n_attn instances.
size_t wire_step_size(int32_t n_attn);

// Writes header h into out[0..WIRE_HEADER_SIZE). out must hold WIRE_HEADER_SIZE bytes.
void wire_header_encode(const struct wire_header *h, uint8_t *out);

// Decodes and validates a header from in[0..n). JANUS_OK: *h filled; JANUS_EAGAIN if
// n < WIRE_HEADER_SIZE; JANUS_EPROTO on bad magic, version, type or a payload length above
// WIRE_MAX_PAYLOAD (*h untouched on error). Does not require the payload to be present.
JANUS_WUR int wire_header_decode(const uint8_t *in, size_t n, struct wire_header *h);

// Encodes s as a full STEP message (header + payload) into out[0..cap). On success stores
// the byte count in *n_out. JANUS_EINVAL if s breaks the ranges of struct wire_step (or
// Σ b_i > LIMIT_MAX_BATCH); JANUS_ELIMIT if cap is too small. out untouched on error.
JANUS_WUR int wire_step_encode(const struct wire_step *s, uint8_t *out, size_t cap, size_t *n_out);

// Decodes a full STEP message from in[0..n). Checks header, type == WIRE_TYPE_STEP,
// len == n - WIRE_HEADER_SIZE, payload size matches n_attn, every range of struct
// wire_step, Σ b_i <= LIMIT_MAX_BATCH, and, if expect_n_attn > 0, n_attn == expect_n_attn.
// Returns JANUS_OK (s filled), JANUS_EAGAIN (truncated), JANUS_EPROTO or JANUS_ELIMIT
// (s untouched on error).
JANUS_WUR int wire_step_decode(const uint8_t *in, size_t n, int32_t expect_n_attn,
                               struct wire_step *s);

// ---- live re-placement (issue 16 item 2; docs/PROTOCOL.md "Live re-placement")
// Broadcast between steps like a STATS header. STATS: MoE instance 0 sends its decayed
// expert statistics to the controller. LOAD: the new layout follows as a second broadcast
// of layout_ints int32 (per layer: 1 = MoE or 0 = dense, then n_instances * n_slots slot
// contents, -1 = empty); each rank rebuilds and checks it, compares its digest and starts
// loading its new share in the background. POLL: every rank joins an allreduce of its state
// (ready, still loading, failed); when all are ready every rank switches at once, before
// step `step` (the header's step number), so the first step of the new layout is the same
// everywhere. ABORT: the re-placement under way is dropped (its loaded slabs released).
enum wire_replace_phase {
    WIRE_REPLACE_STATS = 1,
    WIRE_REPLACE_LOAD = 2,
    WIRE_REPLACE_POLL = 3,
    WIRE_REPLACE_ABORT = 4,
};
#define WIRE_REPLACE_PHASE_MAX 4

struct wire_replace {
    uint64_t step;       // the header's step number (POLL: the switch step if all are ready)
    uint32_t phase;      // enum wire_replace_phase
    int32_t n_layers;    // LOAD: the new layout's shape, each within limits.h (else 0)
    int32_t n_instances; //
    int32_t n_slots;     //
    int32_t n_experts;   //
    uint64_t digest;     // LOAD: layout_digest of the new layout (else 0)
    uint32_t n_ints;     // LOAD: int32 values in the layout broadcast (else 0)
};

// Bytes of an encoded REPLACE message (header + payload).
size_t wire_replace_size(void);
// int32 values of a layout of that shape on the wire (0 if a size is out of range).
uint64_t wire_replace_layout_ints(int32_t n_layers, int32_t n_instances, int32_t n_slots);
// Encodes r (JANUS_EINVAL: a field out of range, n_ints not matching the shape on LOAD;
// JANUS_ELIMIT: cap too small). out untouched on error.
JANUS_WUR int wire_replace_encode(const struct wire_replace *r, uint8_t *out, size_t cap,
                                  size_t *n_out);
// Decodes a full REPLACE message from in[0..n) (n may exceed the message: a header buffer
// sized for STEP; the bytes after it are ignored). JANUS_OK, JANUS_EAGAIN (truncated),
// JANUS_EPROTO (not a REPLACE, a bad phase, a shape out of limits.h, n_ints not matching it).
JANUS_WUR int wire_replace_decode(const uint8_t *in, size_t n, struct wire_replace *r);

#endif // JANUS_COMM_WIRE_H
