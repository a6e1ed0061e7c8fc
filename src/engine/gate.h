// MoE gate (router post-processing) for one token: probabilities (softmax or sigmoid),
// selection score with the optional exp_probs_b bias, group-limited top-k (group score =
// max without bias, sum of the top 2 with bias; fixtures README §4, §9.2), weights from the
// unbiased probabilities, optional renormalisation, scale (SPEC §9). Pure and scalar: the
// same input gives bit-identical output on every MoE instance regardless of threads
// (SPEC §3). Ties in every ranking go to the lower expert (or group) id.
// SPDX-License-Identifier: MIT
#ifndef JANUS_GATE_H
#define JANUS_GATE_H

#include "model/hparams.h"

#include <stdint.h>

struct gate_params {
    int64_t n_expert;           // router outputs
    int64_t k;                  // experts chosen per token
    enum hparams_gating gating; // softmax or sigmoid
    int norm;                   // renormalise the k weights to sum 1
    float scale;                // then multiply by this
    const float *bias;          // (n_expert) selection bias (exp_probs_b) or NULL
    int64_t n_group;            // G (0/1: no groups)
    int64_t n_group_used;       // Gu
};

// Fills p from a model's hyper-parameters and one layer's bias (NULL if none).
void gate_params_from_hparams(struct gate_params *p, const struct hparams *hp, const float *bias);

// Scratch floats gate_select needs.
static inline int64_t gate_scratch_floats(int64_t n_expert) { return 3 * n_expert; }

// Chooses k experts for one token from its router logits r (n_expert).
// out: ids (k) in decreasing selection score; w (k) their weights.
// scratch: gate_scratch_floats(n_expert) floats. Pure; no allocation.
void gate_select(const struct gate_params *p, const float *r, float *scratch, int32_t *ids,
                 float *w);

#endif // JANUS_GATE_H
