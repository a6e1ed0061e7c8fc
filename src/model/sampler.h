// Token sampling from one row of logits: greedy (ties → lowest id), or temperature with
// optional top-k and top-p (nucleus) filtering, drawn from an explicit-state rng (seeded;
// the C library PRNG is banned). Same seed and logits → same tokens on every platform (SPEC §9).
// Scratch is allocated at init; sampler_sample never allocates. Not thread-safe.
// SPDX-License-Identifier: MIT
#ifndef JANUS_SAMPLER_H
#define JANUS_SAMPLER_H

#include "base/base.h"
#include "base/rng.h"

#include <stdint.h>

struct sampler_cand {
    float v;    // logit, then probability weight
    int32_t id; // token id
};

struct sampler_params {
    float temp;    // <= 0: greedy
    int64_t top_k; // 0: no top-k filter
    float top_p;   // >= 1: no top-p filter; in (0, 1)
    uint64_t seed;
};

struct sampler {
    struct sampler_params p;
    int64_t n_vocab;
    struct rng rng;
    struct sampler_cand *cand; // (n_vocab) candidates: logit, then probability
};

// JANUS_OK / JANUS_EINVAL (n_vocab < 1, negative top_k, top_p <= 0 or NaN temp) /
// JANUS_ENOMEM; on failure *s is zeroed.
JANUS_WUR int sampler_init(struct sampler *s, int64_t n_vocab, const struct sampler_params *p);
void sampler_free(struct sampler *s);
// Index of the largest logit; ties → lowest id.
int32_t sampler_greedy(const float *logits, int64_t n);
// Samples one id from logits (n_vocab values).
int32_t sampler_sample(struct sampler *s, const float *logits);
// The one sampling entry point of the serving path (every executor): samples logits with
// parameters *p, the draw seeded with rng_init3(p->seed, pos, 0), so the token depends only
// on the logits, the parameters and the row's position (not on the instance, batch or step).
// p->temp <= 0: greedy.
int32_t sampler_sample_at(struct sampler *s, const float *logits, const struct sampler_params *p,
                          int64_t pos);

#endif // JANUS_SAMPLER_H
