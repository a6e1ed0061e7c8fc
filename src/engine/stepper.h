// The monolithic reference step (SPEC §3, ARCHITECTURE.md): one attention context and one
// MoE context holding every expert, in one process. Per step: embed → per layer attention
// begin / gate / experts (all local) / shared / end → logits. The batch may hold several
// sequences at different positions, prefill and decode tokens mixed. Every distributed run
// is tested against this. Optional routing callback for --record-routing traces.
// Not thread-safe; no allocation after stepper_init.
// SPDX-License-Identifier: MIT
#ifndef JANUS_STEPPER_H
#define JANUS_STEPPER_H

#include "base/base.h"
#include "engine/attn.h"
#include "engine/batch.h"
#include "engine/linear.h"
#include "engine/moe.h"
#include "model/weights.h"

#include <stdint.h>

// Called after the gate of every MoE layer: ids (n_tok, k) logical experts of this step.
typedef void (*stepper_routing_fn)(void *user, int64_t step, int64_t layer, const int32_t *ids,
                                   int64_t n_tok, int64_t k);

struct stepper_params {
    int64_t max_tokens;          // tokens per step
    int64_t n_seq;               // sequence slots
    int64_t max_ctx;             // positions per sequence
    int64_t max_logits;          // rows with logits per step (0: max_tokens)
    int64_t page_size;           // KV cache page size in positions (0: 16)
    int64_t n_pages;             // KV pool pages (0: enough for n_seq · max_ctx)
    int kv_type;                 // KV cache storage, enum kern_kvtype (0: F32)
    int n_threads;               // 1 = serial
    int matmul;                  // numeric path, enum linear_path (0: the default)
    const struct kern_ops *kern; // NULL: kern_best()
};

struct stepper {
    const struct model *m;
    struct linear_ctx lin;
    struct attn attn;
    struct moe moe;
    struct moe_routing routing;
    float *moe_out; // (max_tokens, E)
    float *logits;  // (max_logits, V)
    int64_t max_logits;
    int64_t n_logits; // rows of logits of the last step
    int64_t step;     // steps run so far
    int64_t moe_ns;   // wall time spent in the MoE side (gate + experts), summed over steps
    stepper_routing_fn on_routing;
    void *on_routing_user;
};

// Sets up the contexts for model m (borrowed). JANUS_OK / JANUS_EINVAL (also: matmul not an
// enum linear_path) / JANUS_ENOMEM.
JANUS_WUR int stepper_init(struct stepper *st, const struct model *m,
                           const struct stepper_params *p);
void stepper_free(struct stepper *st);
void stepper_set_routing_cb(struct stepper *st, stepper_routing_fn fn, void *user);

// Runs one step over b. On success the logits of the rows with logits set are available
// through stepper_logits (batch order). Errors (JANUS_EINVAL bad batch, JANUS_ELIMIT KV or
// context full, more logits rows than max_logits) leave caches unchanged.
JANUS_WUR int stepper_step(struct stepper *st, const struct batch *b);
// Logits of the last step: n_out rows of V, owned by st, valid until the next step.
const float *stepper_logits(const struct stepper *st, int64_t *n_out);
// Frees a sequence slot (its KV pages go back to the pool).
void stepper_seq_free(struct stepper *st, int64_t seq);

#endif // JANUS_STEPPER_H
