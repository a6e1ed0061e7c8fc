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

// ---- selective dispatch (issue 17) ----------------------------------------------------------

// The uniform closed form against a direct count over every k-subset of E experts spread
// evenly (E/n_e consecutive experts per instance).
TEST(fanout_uniform_matches_direct_count) {
    const int cases[][3] = {{16, 4, 4}, {16, 2, 8}, {12, 3, 3}, {10, 5, 5}, {8, 8, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int E = cases[c][0], k = cases[c][1], ne = cases[c][2], per = E / ne;
        double sum = 0, n = 0;
        for (unsigned mask = 0; mask < (1u << E); mask++) {
            if (__builtin_popcount(mask) != k) continue;
            unsigned inst = 0;
            for (int e = 0; e < E; e++)
                if (mask & (1u << e)) inst |= 1u << (e / per);
            sum += __builtin_popcount(inst);
            n++;
        }
        ASSERT_NEAR(amax_fanout_uniform(E, k, ne), sum / n, 1e-9);
    }
    ASSERT_NEAR(amax_fanout_uniform(160, 6, 1), 1, 0);
}

// Selective 1PC with every instance needed (fan-out n_e) moves what broadcast 1PC moves,
// plus the routing exchange; bytes follow the formula.
TEST(selective_reduces_to_broadcast_and_bytes) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model lm;
    setup(&m, &h, &c, &lm);
    ASSERT_OK(latency_model_init(&lm, &m, &h, &c));
    int pts[][2] = {{1, 2}, {2, 2}, {3, 5}, {8, 8}, {4, 12}};
    double Bs[] = {1, 7, 64, 1000, 8192};
    for (size_t p = 0; p < sizeof pts / sizeof pts[0]; p++)
        for (size_t j = 0; j < sizeof Bs / sizeof Bs[0]; j++) {
            int na = pts[p][0], ne = pts[p][1];
            double B = Bs[j], fan = ne < m.top_k ? ne : m.top_k;
            double route = latency_route_layer(&lm, na, ne, B);
            ASSERT(route > 0);
            // Every instance needed: broadcast's dispatch; back, the same messages with the
            // row units instead of broadcast's n_e partial rows (bytes only: no latency).
            double u = latency_return_units(m.top_k, fan);
            struct latency_model lm0 = lm;
            lm0.inter_lat = lm0.intra_lat = 0;
            if (ne <= m.top_k)
                ASSERT_NEAR(latency_comm_sel(&lm0, LATENCY_COMM_1PC, na, ne, B, fan) -
                                latency_route_layer(&lm0, na, ne, B),
                            latency_comm_layer(&lm0, LATENCY_COMM_1PC, na, ne, B, 0, NULL) / 2 *
                                (1 + u / ne),
                            1e-12);
            // Bytes: B x fan-out rows out, B x units back, plus B x k x 8 to each other rank.
            ASSERT_NEAR(latency_dispatch_bytes(&lm, 0, na, ne, B, fan), 2 * B * ne * lm.row_bytes,
                        1e-6);
            ASSERT_NEAR(latency_dispatch_bytes(&lm, 1, na, ne, B, 1.5),
                        B * (1.5 + latency_return_units(m.top_k, 1.5)) * lm.row_bytes +
                            B * m.top_k * 8.0 * (na + ne - 1),
                        1e-6);
            // Fewer destinations never cost more.
            for (int s = LATENCY_COMM_1PC; s <= LATENCY_COMM_2PC2; s++)
                ASSERT_LE(latency_comm_sel(&lm, (enum latency_comm)s, na, ne, B, 1),
                          latency_comm_sel(&lm, (enum latency_comm)s, na, ne, B, fan) + 1e-15);
        }
    ASSERT_EQ(latency_comm_sel(&lm, LATENCY_COMM_1PC, 2, 2, 0, 1), 0);
    // Row units: one group folds everything; k = 4 over 2 groups 4 - (1/2 + 1/4 + 1/8); at
    // least one per group (k = 2 over 2 groups: 2).
    ASSERT_NEAR(latency_return_units(4, 1), 1, 0);
    ASSERT_NEAR(latency_return_units(4, 2), 3.125, 1e-15);
    ASSERT_NEAR(latency_return_units(2, 2), 2, 0);
    ASSERT_NEAR(latency_return_units(1, 1), 1, 0);
}

// The per-step choice is the cheaper of the two modes' best schemes, never worse than
// either; forcing a mode restricts the choice; selective wins with many MoE instances and
// a small fan-out, broadcast with one MoE instance (the routing exchange is pure cost).
TEST(per_step_choice_never_worse_than_either_mode) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model lm;
    setup(&m, &h, &c, &lm);
    c.leader_rails = 1;
    ASSERT_OK(latency_model_init(&lm, &m, &h, &c));
    int pts[][2] = {{1, 1}, {1, 7}, {4, 4}, {3, 9}, {8, 16}, {16, 16}};
    double Bs[] = {1, 16, 256, 4096};
    double fans[] = {1, 1.5, 2};
    for (size_t p = 0; p < sizeof pts / sizeof pts[0]; p++)
        for (size_t j = 0; j < sizeof Bs / sizeof Bs[0]; j++)
            for (size_t f = 0; f < sizeof fans / sizeof fans[0]; f++) {
                int na = pts[p][0], ne = pts[p][1], s0, m0, s1, m1, s2, m2;
                double B = Bs[j], fan = fans[f] < ne ? fans[f] : ne;
                double a =
                    latency_comm_choose(&lm, LATENCY_DISPATCH_AUTO, na, ne, B, fan, &s0, &m0);
                double bc =
                    latency_comm_choose(&lm, LATENCY_DISPATCH_BROADCAST, na, ne, B, fan, &s1, &m1);
                double se =
                    latency_comm_choose(&lm, LATENCY_DISPATCH_SELECTIVE, na, ne, B, fan, &s2, &m2);
                ASSERT_EQ(m1, 0);
                ASSERT_EQ(m2, 1);
                ASSERT_LE(a, bc);
                ASSERT_LE(a, se);
                ASSERT_NEAR(a, m0 ? se : bc, 0);
                // Each mode's best is the minimum over its schemes.
                for (int s = LATENCY_COMM_1PC; s <= LATENCY_COMM_2PC2; s++) {
                    ASSERT_LE(bc,
                              latency_comm_layer(&lm, (enum latency_comm)s, na, ne, B, 0, NULL));
                    ASSERT_LE(se, latency_comm_sel(&lm, (enum latency_comm)s, na, ne, B, fan));
                }
            }
    int s, mode;
    (void)latency_comm_choose(&lm, LATENCY_DISPATCH_AUTO, 8, 16, 4096, 1.5, &s, &mode);
    ASSERT_EQ(mode, 1);
    (void)latency_comm_choose(&lm, LATENCY_DISPATCH_AUTO, 1, 1, 4096, 1, &s, &mode);
    ASSERT_EQ(mode, 0);
}

// Janus's step: auto's exchange is the cheaper forced mode's; a selective step moves the
// gate to the attention side and reports the routing exchange; the calibrated monolithic
// baseline is mono_slowdown x its roofline, and Janus does not see the factor.
TEST(step_dispatch_modes_and_mono_slowdown) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    setup(&m, &h, &c, NULL);
    struct amax_table t;
    ASSERT_OK(fx_table(&t, 16, 8, 16, 2));
    struct latency_system jan = {0, 1, LATENCY_COMM_ADAPTIVE, 1};
    struct latency_system colo = {1, 0, LATENCY_COMM_A2A_COLO, 1};
    struct latency_breakdown br[3], mo[2];
    struct latency_model lm[3];
    for (int d = 0; d < 3; d++) {
        c.dispatch = d;
        c.mono_slowdown = d == 0 ? 1 : 1.25;
        ASSERT_OK(latency_model_init(&lm[d], &m, &h, &c));
        ASSERT_OK(latency_step(&lm[d], &jan, &t, 8, 16, 2048, 300, &br[d]));
        if (d < 2) ASSERT_OK(latency_step(&lm[d], &colo, &t, 8, 8, 2048, 300, &mo[d]));
    }
    ASSERT_EQ(br[1].mode, 0);
    ASSERT_EQ(br[1].route, 0);
    ASSERT_EQ(br[2].mode, 1);
    ASSERT(br[2].route > 0 && br[2].route < br[2].comm);
    ASSERT_NEAR(br[0].comm, fmin(br[1].comm, br[2].comm), 1e-12);
    ASSERT_NEAR(br[2].fanout, amax_fanout_uniform(16, 2, 16), 1e-9); // hand-built table
    ASSERT(br[2].attn > br[1].attn); // the gate moved to the attention side
    ASSERT_NEAR(mo[1].tpot, 1.25 * mo[0].tpot, 1e-12 * mo[0].tpot);
    // Janus under slowdown 1 (d = 0) and 1.25 (d = 1, broadcast forced): the same as
    // auto when auto picks broadcast, independent of the factor.
    if (br[0].mode == 0) ASSERT_NEAR(br[0].tpot, br[1].tpot, 1e-12);
    c.mono_slowdown = 0.9; // never faster than the roofline
    ASSERT_EQ(latency_model_init(&lm[0], &m, &h, &c), JANUS_EINVAL);
    latency_coef_default(&c);
    ASSERT_NEAR(c.mono_slowdown, LATENCY_MONO_SLOWDOWN, 0);
    ASSERT_EQ(latency_coef_set(&c, "dispatch", 3), JANUS_EINVAL);
    ASSERT_OK(latency_coef_set(&c, "dispatch", 2));
    ASSERT_EQ(c.dispatch, LATENCY_DISPATCH_SELECTIVE);
    amax_free(&t);
}

// The hardware's leader_rails is used unless the coefficient overrides it.
TEST(leader_rails_from_hardware) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    struct latency_model a, b, f;
    setup(&m, &h, &c, NULL);
    h.leader_rails = 4;
    ASSERT_OK(latency_model_init(&a, &m, &h, &c)); // coefficient 0: the hardware's 4
    c.leader_rails = 4;
    ASSERT_OK(latency_model_init(&b, &m, &h, &c));
    c.leader_rails = 1; // the single-leader funnel
    ASSERT_OK(latency_model_init(&f, &m, &h, &c));
    ASSERT_NEAR(a.rails, 4, 0);
    ASSERT_NEAR(f.rails, 1, 0);
    ASSERT_NEAR(latency_comm_layer(&a, LATENCY_COMM_2PC1, 16, 16, 4096, 0, NULL),
                latency_comm_layer(&b, LATENCY_COMM_2PC1, 16, 16, 4096, 0, NULL), 0);
    ASSERT_LT(latency_comm_layer(&a, LATENCY_COMM_2PC1, 16, 16, 4096, 0, NULL),
              latency_comm_layer(&f, LATENCY_COMM_2PC1, 16, 16, 4096, 0, NULL));
    h.leader_rails = 0; // hand-built profiles: one rail
    c.leader_rails = 0;
    ASSERT_OK(latency_model_init(&a, &m, &h, &c));
    ASSERT_NEAR(a.rails, 1, 0);
}
