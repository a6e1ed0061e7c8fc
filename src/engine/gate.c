// Gate variants (gate.h). Plain scalar loops in a fixed order, so every MoE instance that
// calls this with the same router logits gets the same bits.
// SPDX-License-Identifier: MIT
#include "engine/gate.h"

#include "base/base.h"
#include "base/limits.h"

#include <math.h>

void gate_params_from_hparams(struct gate_params *p, const struct hparams *hp, const float *bias) {
    p->n_expert = hp->n_expert;
    p->k = hp->n_expert_used;
    p->gating = hp->gating;
    p->norm = hp->weights_norm;
    p->scale = hp->weights_scale;
    p->bias = bias;
    p->n_group = hp->n_group;
    p->n_group_used = hp->n_group_used;
}

// Index of the largest s[i] among i in [lo, hi) with !taken[i]; ties → lowest index; NaN
// never wins over a number. -1 if none left.
static int64_t argmax_untaken(const float *s, const float *taken, int64_t lo, int64_t hi) {
    int64_t best = -1;
    for (int64_t i = lo; i < hi; i++) {
        if (taken[i] != 0.0f) continue;
        if (best < 0 || s[i] > s[best] || (isnan(s[best]) && !isnan(s[i]))) best = i;
    }
    return best;
}

void gate_select(const struct gate_params *p, const float *r, float *scratch, int32_t *ids,
                 float *w) {
    const int64_t n = p->n_expert, k = p->k;
    JANUS_ASSERT(k >= 1 && k <= n);
    float *prob = scratch, *s = scratch + n, *taken = scratch + 2 * n;

    // 1. probabilities
    if (p->gating == HPARAMS_GATING_SIGMOID) {
        for (int64_t i = 0; i < n; i++)
            prob[i] = 1.0f / (1.0f + expf(-r[i]));
    } else {
        float mx = r[0];
        for (int64_t i = 1; i < n; i++)
            if (r[i] > mx) mx = r[i];
        float sum = 0.0f;
        for (int64_t i = 0; i < n; i++) {
            prob[i] = expf(r[i] - mx);
            sum += prob[i];
        }
        for (int64_t i = 0; i < n; i++)
            prob[i] /= sum;
    }
    // 2. selection scores
    for (int64_t i = 0; i < n; i++) {
        s[i] = p->bias ? prob[i] + p->bias[i] : prob[i];
        taken[i] = 0.0f;
    }
    // 3. group limiting: mark the experts of dropped groups as taken.
    if (p->n_group > 1) {
        const int64_t G = p->n_group, gs = n / G;
        // G < n_expert <= LIMIT_MAX_EXPERTS (hparams validation), so these fit.
        float gscore[LIMIT_MAX_EXPERTS];
        float gtaken[LIMIT_MAX_EXPERTS];
        JANUS_ASSERT(G <= LIMIT_MAX_EXPERTS);
        for (int64_t g = 0; g < G; g++) {
            const float *sg = s + g * gs;
            float m1 = -INFINITY, m2 = -INFINITY;
            for (int64_t i = 0; i < gs; i++) {
                if (sg[i] > m1) {
                    m2 = m1;
                    m1 = sg[i];
                } else if (sg[i] > m2) {
                    m2 = sg[i];
                }
            }
            gscore[g] = p->bias ? m1 + m2 : m1; // V3 noaux_tc: top-2 sum; V2: max
            gtaken[g] = 0.0f;
        }
        for (int64_t j = 0; j < p->n_group_used; j++) {
            const int64_t g = argmax_untaken(gscore, gtaken, 0, G);
            gtaken[g] = 1.0f;
        }
        for (int64_t g = 0; g < G; g++)
            if (gtaken[g] == 0.0f)
                for (int64_t i = 0; i < gs; i++)
                    taken[g * gs + i] = 1.0f;
    }
    // 4. top-k of the selection scores
    for (int64_t j = 0; j < k; j++) {
        const int64_t e = argmax_untaken(s, taken, 0, n);
        JANUS_ASSERT(e >= 0);
        taken[e] = 1.0f;
        ids[j] = (int32_t)e;
        w[j] = prob[e]; // weights from the unbiased probabilities
    }
    // 5. renormalise, scale
    if (p->norm) {
        float sum = 0.0f;
        for (int64_t j = 0; j < k; j++)
            sum += w[j];
        for (int64_t j = 0; j < k; j++)
            w[j] /= sum;
    }
    if (p->scale != 1.0f)
        for (int64_t j = 0; j < k; j++)
            w[j] *= p->scale;
}
