// Gate variants (engine/gate.h): softmax/sigmoid, selection bias, renormalisation, scale,
// group-limited top-k with both group-score rules (fixtures README §4, §9.2), ties to the
// lower id, and determinism.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "engine/gate.h"

static void params(struct gate_params *p, int64_t n, int64_t k) {
    *p = (struct gate_params){
        .n_expert = n, .k = k, .gating = HPARAMS_GATING_SOFTMAX, .scale = 1.0f};
}

TEST(gate_softmax_topk_renorm) {
    struct gate_params p;
    params(&p, 4, 2);
    const float r[4] = {0.0f, 2.0f, 1.0f, -1.0f};
    float scratch[12], w[2];
    int32_t ids[2];
    gate_select(&p, r, scratch, ids, w);
    ASSERT_EQ(ids[0], 1);
    ASSERT_EQ(ids[1], 2);
    double z = exp(0) + exp(2) + exp(1) + exp(-1);
    ASSERT_NEAR(w[0], exp(2) / z, 1e-6);
    ASSERT_NEAR(w[1], exp(1) / z, 1e-6);
    p.norm = 1;
    p.scale = 2.0f;
    gate_select(&p, r, scratch, ids, w);
    ASSERT_NEAR(w[0], 2.0 * exp(2) / (exp(2) + exp(1)), 1e-6);
    ASSERT_NEAR(w[0] + w[1], 2.0, 1e-6);
}

TEST(gate_sigmoid_bias_selects_but_weights_unbiased) {
    struct gate_params p;
    params(&p, 4, 1);
    p.gating = HPARAMS_GATING_SIGMOID;
    const float r[4] = {1.0f, 0.5f, 0.0f, 0.0f};
    const float bias[4] = {0.0f, 0.0f, 0.0f, 1.0f};
    p.bias = bias;
    float scratch[12], w[1];
    int32_t ids[1];
    gate_select(&p, r, scratch, ids, w);
    ASSERT_EQ(ids[0], 3);         // 0.5 + 1 beats sigmoid(1) = 0.73
    ASSERT_NEAR(w[0], 0.5, 1e-7); // unbiased sigmoid(0)
}

TEST(gate_ties_lower_id) {
    struct gate_params p;
    params(&p, 6, 3);
    const float r[6] = {1, 3, 3, 1, 3, 0};
    float scratch[18], w[3];
    int32_t ids[3];
    gate_select(&p, r, scratch, ids, w);
    ASSERT_EQ(ids[0], 1);
    ASSERT_EQ(ids[1], 2);
    ASSERT_EQ(ids[2], 4);
}

// 8 experts in 4 groups of 2, keep 2 groups, k = 2.
TEST(gate_groups_max_rule_without_bias) {
    struct gate_params p;
    params(&p, 8, 2);
    p.n_group = 4;
    p.n_group_used = 2;
    // probabilities ∝ exp(r). Group maxima: g0: 5, g1: 4.9, g2: 4.95, g3: 1.
    // Max rule keeps g0, g2. Top-2 sum would keep g1 (4.9 + 4.8) over g2 (4.95 + 0).
    const float r[8] = {5.0f, 0.0f, 4.9f, 4.8f, 4.95f, 0.0f, 1.0f, 0.0f};
    float scratch[24], w[2];
    int32_t ids[2];
    gate_select(&p, r, scratch, ids, w);
    ASSERT_EQ(ids[0], 0);
    ASSERT_EQ(ids[1], 4); // 2 (4.9) is higher but its group is dropped
    // k = 3: the third pick is among the kept groups' experts 1 and 5 (equal scores):
    // lower id wins.
    p.k = 3;
    int32_t ids3[3];
    float w3[3];
    gate_select(&p, r, scratch, ids3, w3);
    ASSERT_EQ(ids3[0], 0);
    ASSERT_EQ(ids3[1], 4);
    ASSERT_EQ(ids3[2], 1);
    // no groups: plain top-2 is {0, 4} too, but top-3 takes expert 2.
    p.n_group = 0;
    gate_select(&p, r, scratch, ids3, w3);
    ASSERT_EQ(ids3[2], 2);
}

TEST(gate_groups_top2_sum_rule_with_bias) {
    struct gate_params p;
    params(&p, 8, 2);
    p.gating = HPARAMS_GATING_SIGMOID;
    p.n_group = 4;
    p.n_group_used = 2;
    p.norm = 1;
    p.scale = 2.5f;
    const float zero[8] = {0};
    p.bias = zero; // bias present (all zero) → top-2 sum rule
    // sigmoid scores: g0: {s(5), s(-5)}, g1: {s(3), s(3)}, g2: {s(4), s(-5)}, g3: low.
    // Sums: g0 ≈ 0.9933+0.0067 = 1.0, g1 ≈ 1.905, g2 ≈ 0.982+0.0067 = 0.989, g3 small.
    // top-2 sum keeps g1 and g0 (max rule would keep g0 and g2).
    const float r[8] = {5.0f, -5.0f, 3.0f, 3.0f, 4.0f, -5.0f, -3.0f, -3.0f};
    float scratch[24], w[2];
    int32_t ids[2];
    gate_select(&p, r, scratch, ids, w);
    ASSERT_EQ(ids[0], 0);
    ASSERT_EQ(ids[1], 2); // expert 4 (s(4)) is dropped with its group
    ASSERT_NEAR(w[0] + w[1], 2.5, 1e-6);
    p.bias = NULL; // max rule: keeps g0 and g2 → expert 4 is second
    gate_select(&p, r, scratch, ids, w);
    ASSERT_EQ(ids[1], 4);
}

TEST(gate_deterministic_bits) {
    struct gate_params p;
    params(&p, 64, 6);
    p.n_group = 8;
    p.n_group_used = 3;
    p.norm = 1;
    float r[64], scratch[192], w1[6], w2[6];
    int32_t i1[6], i2[6];
    for (int i = 0; i < 64; i++)
        r[i] = sinf((float)i * 1.7f) * 3.0f;
    gate_select(&p, r, scratch, i1, w1);
    for (int i = 0; i < 192; i++)
        scratch[i] = -1.0f; // scratch contents must not matter
    gate_select(&p, r, scratch, i2, w2);
    ASSERT_MEM_EQ(i1, i2, sizeof i1);
    ASSERT_MEM_EQ(w1, w2, sizeof w1);
    for (int j = 0; j < 6; j++)
        ASSERT(i1[j] >= 0 && i1[j] < 64);
}
