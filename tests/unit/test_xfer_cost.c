// Unit tests for comm/xfer_cost: hand-computed predictions, the adaptive choice across its
// regions with injected costs (it changes scheme where the model says it should), and the
// override parser. Pure: no MPI calls (topologies from topo_build).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "comm/xfer_cost.h"

static struct xfer_cost costs(double cross_lat_us, double cross_gbps, double local_lat_us,
                              double local_gbps) {
    struct xfer_cost c;
    c.lat_s[XFER_LINK_CROSS] = cross_lat_us * 1e-6;
    c.lat_s[XFER_LINK_LOCAL] = local_lat_us * 1e-6;
    c.byte_s[XFER_LINK_CROSS] = cross_gbps > 0 ? 1.0 / (cross_gbps * 1e9) : 0;
    c.byte_s[XFER_LINK_LOCAL] = local_gbps > 0 ? 1.0 / (local_gbps * 1e9) : 0;
    return c;
}

TEST(xfer_cost_hand_computed) {
    // 4 attention + 4 MoE in nodes of 2: N_a = N_e = 2. Latency only (infinite bandwidth):
    // 1PC: every attention instance sends 4 messages -> 4 L_c per direction.
    // 2PC1: gather 1 L_l + leaders 2 L_c + multicast 1 L_l. 2PC2: 1 L_l + 1 L_c + 1 L_c + 1 L_l.
    struct topo t;
    ASSERT_OK(topo_build(&t, 4, 4, 2, NULL, 0));
    int32_t b[4] = {1, 1, 1, 1};
    struct xfer_cost c = costs(10, 0, 1, 0);
    ASSERT_NEAR(xfer_cost_predict(&c, &t, b, 100, XFER_SCHEME_1PC), 2 * 40e-6, 1e-12);
    ASSERT_NEAR(xfer_cost_predict(&c, &t, b, 100, XFER_SCHEME_2PC1), 2 * 22e-6, 1e-12);
    ASSERT_NEAR(xfer_cost_predict(&c, &t, b, 100, XFER_SCHEME_2PC2), 2 * 22e-6, 1e-12);
    // Bytes only (no latency), 1 GB/s cross, 1 GB/s local, B = 4 rows of 1000 bytes:
    // 1PC: an attention instance sends 4 x 1000, a MoE instance receives 4000 -> 4 us.
    // 2PC1: gather 1000 (1 us) + leader sends 2 x 2000 = 4000 (4 us) + multicast 4000 (4 us).
    c = costs(0, 1, 0, 1);
    ASSERT_NEAR(xfer_cost_predict(&c, &t, b, 1000, XFER_SCHEME_1PC), 2 * 4e-6, 1e-12);
    ASSERT_NEAR(xfer_cost_predict(&c, &t, b, 1000, XFER_SCHEME_2PC1), 2 * 9e-6, 1e-12);
    // 2PC2: 1 us + (2000 to the designated node: 2 us) + (designated forwards 2000: 2 us) + 4 us.
    ASSERT_NEAR(xfer_cost_predict(&c, &t, b, 1000, XFER_SCHEME_2PC2), 2 * 9e-6, 1e-12);
    topo_free(&t);
}

TEST(xfer_choose_regions_cross_latency) {
    // Sweep the cross-node latency: cheap cross links -> 1PC (no local phases); expensive ->
    // a 2PC scheme. With N_a <= N_e the two 2PC cases tie on latency and case 1 wins the tie.
    struct topo t;
    ASSERT_OK(topo_build(&t, 4, 4, 2, NULL, 0));
    int32_t b[4] = {2, 0, 1, 3}; // an empty local batch included
    double pred[XFER_N_SCHEMES];
    struct xfer_cost c = costs(0.5, 10, 2, 10);
    ASSERT_EQ(xfer_choose(&c, &t, b, 256, pred), XFER_SCHEME_1PC);
    ASSERT_LT(pred[0], pred[1]);
    c = costs(50, 10, 2, 10);
    ASSERT_EQ(xfer_choose(&c, &t, b, 256, pred), XFER_SCHEME_2PC1);
    ASSERT_LT(pred[1], pred[0]);
    // The switch happens exactly where the predictions cross: 1PC = 8 L_c + bytes,
    // 2PC = 4 L_c + 4 L_l + bytes; find the crossing by bisection and check both sides.
    double lo = 0.5, hi = 50;
    for (int it = 0; it < 60; it++) {
        double mid = (lo + hi) / 2;
        c = costs(mid, 10, 2, 10);
        if (xfer_choose(&c, &t, b, 256, NULL) == XFER_SCHEME_1PC)
            lo = mid;
        else
            hi = mid;
    }
    c = costs(lo, 10, 2, 10);
    double p1 = xfer_cost_predict(&c, &t, b, 256, 0), p2 = xfer_cost_predict(&c, &t, b, 256, 1);
    ASSERT_NEAR(p1, p2, 1e-9);
    ASSERT(lo > 1.0 && lo < 4.0); // latency-dominated: crossing near L_c = L_l (+ bytes)
    topo_free(&t);
}

TEST(xfer_choose_case2_when_many_attention_nodes) {
    // N_a = 8 attention nodes, N_e = 2 MoE nodes, expensive cross latency: 1PC and 2PC1 put
    // 8 messages on a MoE endpoint; case 2 only 4 + 1.
    struct topo t;
    ASSERT_OK(topo_build(&t, 8, 2, 1, NULL, 0));
    int32_t b[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    double pred[XFER_N_SCHEMES];
    struct xfer_cost c = costs(100, 10, 1, 10);
    ASSERT_EQ(xfer_choose(&c, &t, b, 64, pred), XFER_SCHEME_2PC2);
    ASSERT_NEAR(pred[XFER_SCHEME_1PC], 2 * (8 * 100e-6 + 8 * 64 / 10e9), 1e-12);
    ASSERT_NEAR(pred[XFER_SCHEME_2PC2], 2 * (4 * 100e-6 + 4 * 64 / 10e9 + 100e-6 + 4 * 64 / 10e9),
                1e-12);
    // Nodes of one instance have no local phases, so even a cheap cross link keeps case 2
    // ahead (5 cross messages on the busiest endpoint against 8).
    c = costs(0.1, 10, 1, 10);
    ASSERT_EQ(xfer_choose(&c, &t, b, 64, NULL), XFER_SCHEME_2PC2); // still fewer messages
    topo_free(&t);
}

TEST(xfer_choose_bytes_region) {
    // 2 attention + 4 MoE in nodes of 2 (N_a = 1, N_e = 2), expensive cross latency but a slow
    // local link: small batches -> 2PC (fewer cross messages); large batches -> 1PC, because
    // the 2PC multicast pushes all B rows through the MoE leader's slow local link.
    struct topo t;
    ASSERT_OK(topo_build(&t, 2, 4, 2, NULL, 0));
    struct xfer_cost c = costs(20, 10, 1, 0.5);
    int32_t small[2] = {1, 1}, large[2] = {256, 256};
    ASSERT_NE(xfer_choose(&c, &t, small, 4096, NULL), XFER_SCHEME_1PC);
    ASSERT_EQ(xfer_choose(&c, &t, large, 4096, NULL), XFER_SCHEME_1PC);
    // Every prediction grows with B.
    for (int s = 0; s < XFER_N_SCHEMES; s++)
        ASSERT_LT(xfer_cost_predict(&c, &t, small, 4096, s),
                  xfer_cost_predict(&c, &t, large, 4096, s));
    // Empty step: latency only, all positive.
    int32_t none[2] = {0, 0};
    for (int s = 0; s < XFER_N_SCHEMES; s++)
        ASSERT_LT(0, xfer_cost_predict(&c, &t, none, 4096, s));
    topo_free(&t);
}

TEST(xfer_cost_override_parse) {
    struct xfer_cost c;
    xfer_cost_default(&c);
    char err[160] = "";
    ASSERT_OK(xfer_cost_override(&c, "cross_lat_us=50,cross_gbps=1", err, sizeof err));
    ASSERT_NEAR(c.lat_s[XFER_LINK_CROSS], 50e-6, 1e-15);
    ASSERT_NEAR(c.byte_s[XFER_LINK_CROSS], 1e-9, 1e-20);
    ASSERT_OK(xfer_cost_override(&c, "local_lat_us=0,local_gbps=2.5", err, sizeof err));
    ASSERT_NEAR(c.lat_s[XFER_LINK_LOCAL], 0, 1e-15);
    ASSERT_OK(xfer_cost_override(&c, "", err, sizeof err));
    struct xfer_cost before = c;
    const char *bad[] = {"cross_lat_us",    "bogus=1",        "cross_gbps=0",
                         "cross_lat_us=-1", "cross_gbps=abc", "cross_lat_us=1,,local_gbps=1",
                         "cross_gbps=nan",  "cross_lat_us="};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        err[0] = 0;
        ASSERT_EQ(xfer_cost_override(&c, bad[k], err, sizeof err), JANUS_EINVAL);
        ASSERT(strstr(err, "--comm-cost") != NULL);
        ASSERT_MEM_EQ(&c, &before, sizeof c); // unchanged
    }
}

TEST(xfer_scheme_names) {
    int32_t s = -1;
    ASSERT_OK(xfer_scheme_parse("2pc2", &s));
    ASSERT_EQ(s, XFER_SCHEME_2PC2);
    ASSERT_EQ(xfer_scheme_parse("3pc", &s), JANUS_EINVAL);
    ASSERT_STR_EQ(xfer_scheme_name(XFER_SCHEME_1PC), "1pc");
}

TEST(xfer_selective_need_prob) {
    // k = 2 of E = 8 over 4 instances (2 experts each): P(miss) = C(6,2)/C(8,2) = 15/28.
    ASSERT_NEAR(xfer_cost_need_prob(2, 8, 1, 4), 1 - 15.0 / 28.0, 1e-12);
    ASSERT_NEAR(xfer_cost_need_prob(2, 8, 4, 4), 1.0, 1e-12); // every instance: always
    ASSERT_NEAR(xfer_cost_need_prob(1, 8, 1, 8), 1.0 / 8, 1e-12);
    ASSERT_LT(xfer_cost_need_prob(2, 64, 1, 8), xfer_cost_need_prob(6, 64, 1, 8));
}

TEST(xfer_choose_pair_regions) {
    // 2 attention + 8 MoE instances, one per node; k = 2 of 64 experts.
    struct topo t;
    ASSERT_OK(topo_build(&t, 2, 8, 1, NULL, 0));
    int32_t small[2] = {1, 1}, large[2] = {512, 512}, none[2] = {0, 0};
    double pred[XFER_N_MODES * XFER_N_SCHEMES];
    int32_t s = -1, m = -1;
    // Latency-bound, few MoE instances (2 + 2, k = 2 of 8: a row needs both instances 79 % of
    // the time): broadcast, as the routing exchange adds n - 1 messages per attention
    // instance. With 8 MoE instances and k = 2 of 64 selective sends fewer messages in all.
    struct topo t2;
    ASSERT_OK(topo_build(&t2, 2, 2, 1, NULL, 0));
    struct xfer_cost c = costs(50, 100, 50, 100);
    xfer_choose_pair(&c, &t2, small, 8192, 2, 8, -1, -1, &s, &m, pred);
    ASSERT_EQ(m, XFER_MODE_BROADCAST);
    topo_free(&t2);
    xfer_choose_pair(&c, &t, small, 8192, 2, 64, -1, -1, &s, &m, pred);
    ASSERT_EQ(m, XFER_MODE_SELECTIVE);
    // Bytes-bound (large B, slow links): selective; a row goes to ~2 of 8 instances.
    c = costs(1, 1, 1, 1);
    xfer_choose_pair(&c, &t, large, 8192, 2, 64, -1, -1, &s, &m, pred);
    ASSERT_EQ(m, XFER_MODE_SELECTIVE);
    ASSERT_LT(pred[XFER_N_SCHEMES + s], pred[XFER_SCHEME_1PC]);
    // A forced half stays forced; the other half is still chosen.
    xfer_choose_pair(&c, &t, large, 8192, 2, 64, XFER_SCHEME_2PC2, -1, &s, &m, NULL);
    ASSERT_EQ(s, XFER_SCHEME_2PC2);
    ASSERT_EQ(m, XFER_MODE_SELECTIVE);
    xfer_choose_pair(&c, &t, large, 8192, 2, 64, -1, XFER_MODE_BROADCAST, &s, &m, NULL);
    ASSERT_EQ(m, XFER_MODE_BROADCAST);
    // No selective set-up (k = 0): broadcast whatever the costs.
    xfer_choose_pair(&c, &t, large, 8192, 0, 64, -1, -1, &s, &m, NULL);
    ASSERT_EQ(m, XFER_MODE_BROADCAST);
    // An empty step moves nothing selectively; its scheme is the one broadcast would pick.
    ASSERT_NEAR(xfer_cost_predict_mode(&c, &t, none, 8192, 0, XFER_MODE_SELECTIVE, 2, 64), 0,
                1e-15);
    xfer_choose_pair(&c, &t, none, 8192, 2, 64, -1, -1, &s, &m, NULL);
    ASSERT_EQ(m, XFER_MODE_SELECTIVE);
    ASSERT_EQ(s, xfer_choose(&c, &t, none, 8192, NULL));
    // Selective 1PC bytes per MoE instance: B·q rows out, plus the routing; back, the row
    // units: max(f, k − Σ_{j=1}^{k−1} f^−j) per row (f = n_e·q, the fan-out) for f's rows.
    c = costs(0, 1, 0, 1);
    double q = xfer_cost_need_prob(2, 64, 1, 8);
    double route = 1024.0 * 2 * 8 / 1e9; // every rank receives B·k·8 bytes
    double disp = fmax(1024 * q * 8192 / 1e9, 8 * q * 512 * 8192 / 1e9);
    ASSERT_NEAR(xfer_cost_predict_mode(&c, &t, large, 8192, 0, XFER_MODE_SELECTIVE, 2, 64),
                fmax(route, 9 * 512 * 16.0 / 1e9) + disp +
                    disp * fmax(8 * q, 2 - 1 / (8 * q)) / (8 * q),
                1e-12);
    topo_free(&t);
}

TEST(xfer_mode_names) {
    int32_t m = -1;
    ASSERT_OK(xfer_mode_parse("selective", &m));
    ASSERT_EQ(m, XFER_MODE_SELECTIVE);
    ASSERT_EQ(xfer_mode_parse("auto", &m), JANUS_EINVAL);
    ASSERT_STR_EQ(xfer_mode_name(XFER_MODE_BROADCAST), "broadcast");
}
