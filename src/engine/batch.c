// Local batch storage (batch.h).
// Allocates at init only; batch_add fails with JANUS_ELIMIT at the capacity.
// SPDX-License-Identifier: MIT
#include "engine/batch.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"

#include <string.h>

int batch_init(struct batch *b, int64_t cap) {
    memset(b, 0, sizeof *b);
    if (cap < 1 || cap > LIMIT_MAX_BATCH) return JANUS_EINVAL;
    b->token = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->token);
    b->seq = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->seq);
    b->pos = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->pos);
    b->logits = mem_calloc(MEM_TAG_ENGINE, (size_t)cap, sizeof *b->logits);
    if (!b->token || !b->seq || !b->pos || !b->logits) {
        batch_free(b);
        return JANUS_ENOMEM;
    }
    b->cap = cap;
    return JANUS_OK;
}

void batch_free(struct batch *b) {
    mem_free(b->token);
    mem_free(b->seq);
    mem_free(b->pos);
    mem_free(b->logits);
    memset(b, 0, sizeof *b);
}

int batch_add(struct batch *b, int32_t token, int32_t seq, int32_t pos, int logits) {
    if (b->n >= b->cap) return JANUS_ELIMIT;
    b->token[b->n] = token;
    b->seq[b->n] = seq;
    b->pos[b->n] = pos;
    b->logits[b->n] = logits ? 1 : 0;
    b->n++;
    return JANUS_OK;
}

int64_t batch_n_logits(const struct batch *b) {
    int64_t n = 0;
    for (int64_t i = 0; i < b->n; i++)
        n += b->logits[i];
    return n;
}
