// Attention-instance side of the engine (SPEC §2, §3): embeddings, per-layer attention with
// the KV cache (GQA with RoPE NORM/NEOX, qwen2moe q/k/v biases, qwen3moe per-head q/k
// RMSNorm before RoPE, deepseek2 MLA caching the compressed latent), residuals, the FFN
// input norm, dense FFN layers, shared experts and the output head. It holds everything
// except the router and routed experts. The MoE side (moe.h) turns x into moe_out.
// Not collective; not thread-safe (one caller per context). No allocation after attn_init.
// SPDX-License-Identifier: MIT

// Per step: attn_step_begin(batch) → for each layer l: attn_layer_begin(l); if the layer
// is MoE: read attn_x(), attn_layer_shared(l) (may overlap the exchange), then
// attn_layer_end(l, moe_out) → attn_logits() → attn_step_end().
// Shapes: n = batch->n tokens, E = n_embd, V = n_vocab.
#ifndef JANUS_ATTN_H
#define JANUS_ATTN_H

#include "base/arena.h"
#include "base/base.h"
#include "engine/batch.h"
#include "engine/kvcache.h"
#include "engine/linear.h"
#include "model/weights.h"

#include <stdint.h>

struct attn_params {
    int64_t max_tokens; // worst-case local batch (tokens per step)
    int64_t n_seq;      // sequence slots in the KV cache
    int64_t max_ctx;    // positions per sequence
    int64_t page_size;  // KV page size (0: 16)
    int64_t n_pages;    // KV pool pages (0: enough for n_seq · max_ctx)
    int kv_type;        // KV cache storage, enum kern_kvtype (0: F32)
};

struct attn {
    const struct model *m;
    const struct linear_ctx *lin;
    struct kvcache kv;
    int64_t max_tokens, max_ctx;
    const struct batch *batch; // current step's batch (borrowed until attn_step_end)
    struct arena arena;        // every buffer below, reserved at init
    float *h;                  // (max_tokens, E) residual stream
    float *x;           // (max_tokens, E) normed layer input; after attn_layer_begin: MoE input
    float *q;           // (max_tokens, H·hd_k)   MLA: H·(nope+rope)
    float *k;           // (max_tokens, n_k)      GQA: Hkv·hd_k; MLA: kv_lora+rope latent
    float *v;           // (max_tokens, Hkv·hd_v) GQA only
    float *att;         // (max_tokens, H·hd_v) concatenated head outputs
    float *tmp;         // (max_tokens, max(E, q_lora))
    float *ff_g, *ff_u; // (max_tokens, max FFN width on this side)
    float *shared;      // (max_tokens, E) shared-expert output of the current layer
    int shared_valid;   // attn_layer_shared ran for the current layer
    int64_t n_thread_scratch; // scratch sets below (= threads of the linear pool)
    int64_t n_rope;           // rotated dims per head (GQA n_rot, MLA qk_rope)
    float *rope_cs, *rope_sn; // (max_tokens, n_rope) this step's RoPE angles per row
    float *scores; // (n_thread_scratch, max_ctx) attention scores of one head, per thread
    float *lat_q;  // (n_thread_scratch, kv_lora+rope) MLA absorbed query | q_pe, per thread
    float *lat_o, *lat_row; // (n_thread_scratch, kv_lora) MLA latent output, row buffer
    int64_t *next_pos;      // (n_seq) per slot: position after this step
};

// Allocates the context and its KV cache for model m (borrowed; must outlive a).
// JANUS_OK / JANUS_EINVAL (bad params) / JANUS_ENOMEM; on failure *a is zeroed.
JANUS_WUR int attn_init(struct attn *a, const struct model *m, const struct linear_ctx *lin,
                        const struct attn_params *p);
void attn_free(struct attn *a);

// Validates the batch (n <= max_tokens; token ids < V; seq slots < n_seq; each slot's
// tokens at consecutive positions continuing its cached length), reserves KV pages and
// embeds the tokens into h. JANUS_EINVAL / JANUS_ELIMIT (KV pool or context exhausted) with
// nothing computed; the batch is borrowed until attn_step_end.
JANUS_WUR int attn_step_begin(struct attn *a, const struct batch *b);
// Layer l: h += Attn(rms(h, attn_norm)) (appending K/V), x = rms(h, ffn_norm); for a
// dense layer also h += FFN(x). Returns 1 if the layer is MoE (caller must produce moe_out
// from attn_x() and call attn_layer_end), else 0.
int attn_layer_begin(struct attn *a, int64_t l);
// The MoE input of the current layer: (n, E), valid until the next attn_layer_begin.
static inline const float *attn_x(const struct attn *a) { return a->x; }
// Shared expert(s) of MoE layer l on x into a->shared (no-op if the model has none).
void attn_layer_shared(struct attn *a, int64_t l);
// h += moe_out (n, E) + shared (computing it first if attn_layer_shared was not called).
void attn_layer_end(struct attn *a, int64_t l, const float *moe_out);
// Logits of the rows with logits set, in batch order: out (n_logits, V).
void attn_logits(struct attn *a, float *out);
// Commits the step's positions to the KV cache lengths and releases the batch.
void attn_step_end(struct attn *a);
// Frees a sequence slot's KV pages (request finished).
void attn_seq_free(struct attn *a, int64_t seq);

#endif // JANUS_ATTN_H
