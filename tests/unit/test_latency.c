// Tests for scale/latency: roofline terms by hand, monotonicity in the batch for every
// system's mechanisms, exchange-scheme costs (adaptive = cheapest; 2PC sends fewer
// cross-node messages), memory capacity formulas, coefficient overrides.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "plan_fixture.h"
#include "scale/latency.h"

static void setup(struct models_shape *m, struct hw_profile *h, struct latency_coef *c,
                  struct latency_model *lm) {
    fx_model(m);
    fx_hw(h);
    latency_coef_default(c);
}

TEST(derived_coefficients_by_hand) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model lm;
    setup(&m, &h, &c, &lm);
    ASSERT_OK(latency_model_init(&lm, &m, &h, &c));
    // One expert: 3 * 1024 * 512 params * 2 bytes; beta = bytes / (bw * eff_mem).
    double eb = 3.0 * 1024 * 512 * 2;
    ASSERT_NEAR(lm.expert_w_bytes, eb, 1e-6);
    ASSERT_NEAR(lm.beta, eb / (1e12 * c.eff_mem), 1e-15);
    ASSERT_NEAR(lm.gamma, 2.0 * 3 * 1024 * 512 / (100e12 * c.eff_flops), 1e-18);
    // GQA KV: 2 * kv_heads * head_dim * 2 bytes per token per layer.
    ASSERT_NEAR(lm.kv_bytes_token_layer, 2.0 * 2 * 128 * 2, 1e-9);
    ASSERT_NEAR(lm.kv_bytes_token, 4 * 1024.0, 1e-9);
    // Slots: usable memory over all MoE layers' expert bytes.
    double usable = 6e9 * (1 - c.mem_reserve_frac) - c.mem_buffer_bytes;
    double router = 1024.0 * 16 * 2 * 3;
    int C = (int)floor((usable - router) / (eb * 3));
    ASSERT_EQ(latency_moe_slots(&lm), C);
    // Attention capacity: free memory over context * KV bytes per token.
    double cap = (usable - lm.nonexpert_bytes) / (300 * lm.kv_bytes_token);
    ASSERT_NEAR(latency_attn_capacity(&lm, 300), cap, 1e-9 * cap);
    ASSERT_EQ(latency_colo_capacity(&lm, 1000000, 300), 0);
}

TEST(step_time_monotone_in_batch_every_system) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model lm;
    setup(&m, &h, &c, &lm);
    ASSERT_OK(latency_model_init(&lm, &m, &h, &c));
    struct amax_table t;
    ASSERT_OK(fx_table(&t, 8, 8, 16, 2));
    struct latency_system sys[] = {
        {0, 1, LATENCY_COMM_ADAPTIVE, 1},   {0, 1, LATENCY_COMM_1PC, 1},
        {0, 1, LATENCY_COMM_2PC1, 1},       {0, 1, LATENCY_COMM_2PC2, 1},
        {1, 0, LATENCY_COMM_A2A_COLO, 1},   {0, 0, LATENCY_COMM_M2N_EXPERT, 2},
        {0, 0, LATENCY_COMM_A2A_DISAGG, 1},
    };
    for (size_t s = 0; s < sizeof sys / sizeof sys[0]; s++) {
        int na = sys[s].colocated ? 8 : 5, ne = 8;
        double prev = 0;
        for (double B = 0.5; B < 20000; B *= 1.3) {
            struct latency_breakdown br;
            ASSERT_OK(latency_step(&lm, &sys[s], &t, na, ne, B, 500, &br));
            ASSERT(isfinite(br.tpot) && br.tpot > 0);
            ASSERT_LE(prev, br.tpot * (1 + 1e-12));
            prev = br.tpot;
        }
    }
    amax_free(&t);
}

TEST(small_batch_is_memory_bound_sum) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model lm;
    setup(&m, &h, &c, &lm);
    c.step_fixed_s = 0;
    ASSERT_OK(latency_model_init(&lm, &m, &h, &c));
    struct amax_table t;
    ASSERT_OK(fx_table(&t, 4, 8, 16, 2));
    struct latency_system sys = {0, 1, LATENCY_COMM_1PC, 1};
    struct latency_breakdown br;
    double B = 1e-3; // vanishing batch: weights dominate, comm ~ message latencies
    ASSERT_OK(latency_step(&lm, &sys, &t, 1, 1, B, 0, &br));
    double bw = 1e12 * c.eff_mem;
    double attn_moe_layer = lm.attn_w_bytes / bw + c.attn_fixed_s;
    double attn_dense = (lm.attn_w_bytes + lm.dense_w_bytes) / bw + c.attn_fixed_s;
    ASSERT_NEAR(br.attn, 3 * attn_moe_layer + attn_dense, 1e-6 * br.attn);
    // a_max ~ (k*B/n + 1) * B from the table below its first grid point -> ~0.
    ASSERT_LT(br.amax, 0.01);
    // One message each way at the intra-node latency (1 + 1 <= 4 devices per node).
    double comm_layer = 2 * (2e-6 + B * 2048 / (100e9 * c.eff_net));
    ASSERT_NEAR(br.comm, 3 * comm_layer, 1e-9);
    amax_free(&t);
}

TEST(adaptive_is_cheapest_and_2pc_saves_messages) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model lm;
    setup(&m, &h, &c, &lm);
    ASSERT_OK(latency_model_init(&lm, &m, &h, &c));
    int na[] = {2, 8, 32, 64}, ne[] = {2, 8, 16, 64};
    double Bs[] = {1, 64, 4096};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            for (int b = 0; b < 3; b++) {
                int chosen;
                double a =
                    latency_comm_layer(&lm, LATENCY_COMM_ADAPTIVE, na[i], ne[j], Bs[b], 0, &chosen);
                double c1 = latency_comm_layer(&lm, LATENCY_COMM_1PC, na[i], ne[j], Bs[b], 0, NULL);
                double c2 =
                    latency_comm_layer(&lm, LATENCY_COMM_2PC1, na[i], ne[j], Bs[b], 0, NULL);
                double c3 =
                    latency_comm_layer(&lm, LATENCY_COMM_2PC2, na[i], ne[j], Bs[b], 0, NULL);
                ASSERT_NEAR(a, fmin(c1, fmin(c2, c3)), 1e-15);
                ASSERT(chosen >= LATENCY_COMM_1PC && chosen <= LATENCY_COMM_2PC2);
            }
    // Many small messages: 64 x 64 instances at batch 1 is latency-bound; 2PC wins.
    int chosen;
    (void)latency_comm_layer(&lm, LATENCY_COMM_ADAPTIVE, 64, 64, 1, 0, &chosen);
    ASSERT(chosen == LATENCY_COMM_2PC1 || chosen == LATENCY_COMM_2PC2);
    ASSERT_LT(latency_comm_layer(&lm, LATENCY_COMM_2PC1, 64, 64, 1, 0, NULL),
              latency_comm_layer(&lm, LATENCY_COMM_1PC, 64, 64, 1, 0, NULL));
    // One attention and one MoE instance: 1PC is a single message; 2PC adds nothing.
    ASSERT_NEAR(latency_comm_layer(&lm, LATENCY_COMM_1PC, 1, 1, 8, 0, NULL),
                latency_comm_layer(&lm, LATENCY_COMM_2PC1, 1, 1, 8, 0, NULL), 1e-15);
    // More rails make 2PC cheaper across nodes, never 1PC.
    struct latency_model lm8;
    c.leader_rails = 4;
    ASSERT_OK(latency_model_init(&lm8, &m, &h, &c));
    ASSERT_LT(latency_comm_layer(&lm8, LATENCY_COMM_2PC1, 16, 16, 4096, 0, NULL),
              latency_comm_layer(&lm, LATENCY_COMM_2PC1, 16, 16, 4096, 0, NULL));
    ASSERT_NEAR(latency_comm_layer(&lm8, LATENCY_COMM_1PC, 16, 16, 4096, 0, NULL),
                latency_comm_layer(&lm, LATENCY_COMM_1PC, 16, 16, 4096, 0, NULL), 1e-15);
}

TEST(shared_expert_overlap_and_pingpong) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model lm;
    setup(&m, &h, &c, &lm);
    ASSERT_OK(latency_model_init(&lm, &m, &h, &c));
    struct amax_table t;
    ASSERT_OK(fx_table(&t, 8, 8, 16, 2));
    struct latency_system one = {0, 0, LATENCY_COMM_A2A_DISAGG, 1};
    struct latency_system two = {0, 0, LATENCY_COMM_A2A_DISAGG, 2};
    struct latency_breakdown b1, b2;
    ASSERT_OK(latency_step(&lm, &one, &t, 4, 4, 512, 300, &b1));
    ASSERT_OK(latency_step(&lm, &two, &t, 4, 4, 512, 300, &b2));
    // The overlapped shared experts never add more than their own time.
    ASSERT_LE(b1.tpot, b1.attn + b1.moe + b1.comm + b1.head + 1e-12);
    ASSERT_LE(b1.tpot, b1.attn + b1.moe + b1.comm + b1.shared + b1.head + 1e-12);
    // Ping-pong runs the slower stage twice per layer.
    ASSERT(b2.tpot > 0 && isfinite(b2.tpot));
    ASSERT_EQ(latency_step(&lm, &one, &t, 4, 99, 512, 300, &b1), JANUS_ENOTFOUND);
    ASSERT_EQ(latency_step(&lm, &one, &t, 0, 4, 512, 300, &b1), JANUS_EINVAL);
    ASSERT_EQ(latency_step(&lm, &one, &t, 4, 4, -1, 300, &b1), JANUS_EINVAL);
    struct latency_system colo = {1, 0, LATENCY_COMM_A2A_COLO, 1};
    ASSERT_EQ(latency_step(&lm, &colo, &t, 3, 4, 5, 300, &b1), JANUS_EINVAL);
    amax_free(&t);
}

TEST(coefficients_override_and_validation) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model lm;
    setup(&m, &h, &c, &lm);
    ASSERT_OK(latency_coef_set(&c, "eff_mem", 0.5));
    ASSERT_NEAR(c.eff_mem, 0.5, 0);
    ASSERT_OK(latency_coef_set(&c, "micro_batches", 3));
    ASSERT_EQ(c.micro_batches, 3);
    ASSERT_EQ(latency_coef_set(&c, "nope", 1), JANUS_EINVAL);
    ASSERT_EQ(latency_coef_set(&c, "micro_batches", 0.5), JANUS_EINVAL);
    char buf[2048];
    int n = latency_coef_format(&c, buf, sizeof buf);
    ASSERT(n > 0 && n < (int)sizeof buf);
    ASSERT(strstr(buf, "eff_mem=0.5\n") != NULL);
    ASSERT_OK(latency_model_init(&lm, &m, &h, &c));
    c.eff_mem = 0;
    ASSERT_EQ(latency_model_init(&lm, &m, &h, &c), JANUS_EINVAL);
    latency_coef_default(&c);
    h.mem_bytes = 1e9; // below the buffers
    ASSERT_EQ(latency_model_init(&lm, &m, &h, &c), JANUS_EINVAL);
}
