// One step's local batch of an attention instance, as structure-of-arrays: for each of n
// tokens its id, sequence slot, position, and whether its logits are wanted (SPEC §3).
// Tokens of one sequence appear in increasing position order; prefill chunks and decode
// tokens of different sequences mix freely. Capacity is fixed at init (no step-time malloc).
// SPDX-License-Identifier: MIT
#ifndef JANUS_BATCH_H
#define JANUS_BATCH_H

#include "base/base.h"

#include <stdint.h>

struct batch {
    int64_t n;       // tokens in use
    int64_t cap;     // capacity
    int32_t *token;  // (cap) token ids
    int32_t *seq;    // (cap) sequence slot (KV cache owner)
    int32_t *pos;    // (cap) position within the sequence (0 = first token)
    uint8_t *logits; // (cap) 1: compute this row's logits
};

// Allocates room for cap tokens. JANUS_OK / JANUS_ENOMEM / JANUS_EINVAL (cap < 1).
JANUS_WUR int batch_init(struct batch *b, int64_t cap);
void batch_free(struct batch *b);
static inline void batch_clear(struct batch *b) { b->n = 0; }
// Appends one token. JANUS_ELIMIT when full (batch unchanged).
JANUS_WUR int batch_add(struct batch *b, int32_t token, int32_t seq, int32_t pos, int logits);
// Number of rows with logits set.
int64_t batch_n_logits(const struct batch *b);

#endif // JANUS_BATCH_H
