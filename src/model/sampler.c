// Sampling (sampler.h). Temperature path: candidates sorted by logit (desc, ties by id),
// cut to top-k, softmax at temperature, cut to the smallest prefix with mass >= top_p,
// renormalised, then one uniform draw walks the cumulative sum.
// SPDX-License-Identifier: MIT
#include "model/sampler.h"

#include "base/mem.h"
#include "base/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sampler_init(struct sampler *s, int64_t n_vocab, const struct sampler_params *p) {
    memset(s, 0, sizeof *s);
    if (n_vocab < 1 || p->top_k < 0 || !(p->top_p > 0) || isnan(p->temp)) return JANUS_EINVAL;
    s->cand = mem_alloc(MEM_TAG_ENGINE, (size_t)n_vocab * sizeof *s->cand);
    if (!s->cand) return JANUS_ENOMEM;
    s->p = *p;
    s->n_vocab = n_vocab;
    rng_init(&s->rng, p->seed);
    return JANUS_OK;
}

void sampler_free(struct sampler *s) {
    mem_free(s->cand);
    memset(s, 0, sizeof *s);
}

int32_t sampler_greedy(const float *logits, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return (int32_t)best;
}

// Descending logit, ties by ascending id (a total order, so qsort's instability is moot).
static int cand_cmp(const void *a, const void *b) {
    const struct sampler_cand *x = a, *y = b;
    if (x->v > y->v) return -1;
    if (x->v < y->v) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

int32_t sampler_sample(struct sampler *s, const float *logits) {
    const int64_t n = s->n_vocab;
    if (s->p.temp <= 0.0f) return sampler_greedy(logits, n);
    struct sampler_cand *c = s->cand;
    const int64_t m = (s->p.top_k > 0 && s->p.top_k < n) ? s->p.top_k : n;
    int64_t kept = 0;
    if (m <= 64) {
        // Small top-k: insertion into a sorted prefix of m (strict > keeps lower ids first).
        for (int64_t i = 0; i < n; i++) {
            const float v = logits[i];
            if (kept == m && !(v > c[m - 1].v)) continue;
            int64_t j = kept < m ? kept++ : m - 1;
            while (j > 0 && c[j - 1].v < v) {
                c[j] = c[j - 1];
                j--;
            }
            c[j].v = v;
            c[j].id = (int32_t)i;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            c[i].v = logits[i];
            c[i].id = (int32_t)i;
        }
        qsort(c, (size_t)n, sizeof *c, cand_cmp);
        kept = m;
    }
    // Softmax at temperature over the kept candidates (sorted descending).
    const float mx = c[0].v;
    double sum = 0.0;
    for (int64_t i = 0; i < kept; i++) {
        c[i].v = expf((c[i].v - mx) / s->p.temp);
        sum += c[i].v;
    }
    int64_t cut = kept;
    if (s->p.top_p < 1.0f) {
        double acc = 0.0;
        for (int64_t i = 0; i < kept; i++) {
            acc += c[i].v / sum;
            if (acc >= s->p.top_p) {
                cut = i + 1;
                break;
            }
        }
    }
    double mass = 0.0;
    for (int64_t i = 0; i < cut; i++)
        mass += c[i].v;
    const double u = rng_uniform(&s->rng) * mass;
    double acc = 0.0;
    for (int64_t i = 0; i < cut; i++) {
        acc += c[i].v;
        if (u < acc) return c[i].id;
    }
    return c[cut - 1].id;
}

int32_t sampler_sample_at(struct sampler *s, const float *logits, const struct sampler_params *p,
                          int64_t pos) {
    if (p->temp <= 0.0f) return sampler_greedy(logits, s->n_vocab);
    s->p = *p;
    rng_init3(&s->rng, p->seed, (uint64_t)pos, 0);
    return sampler_sample(s, logits);
}
