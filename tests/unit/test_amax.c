// Tests for the a_max tables: Monte Carlo over the real placement + scheduler (sim/mc.c)
// is monotone in B, within the analytic bound, deterministic, optimal <= greedy; lookup
// interpolation; cache round trip and key/format errors; the bound by hand.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "scale/amax.h"
#include "sim/mc.h"

#include <stdlib.h>

static void small_params(struct mc_params *p, enum actsched_policy s) {
    mc_default_params(p, 32, 4);
    p->samples = 4;
    p->n_b = 10;
    int grid[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 1024};
    for (int j = 0; j < 10; j++)
        p->b_grid[j] = grid[j];
    p->sched = s;
    p->warm_steps = 64;
    p->warm_batch = 64;
}

static const int32_t NE[] = {2, 4, 8}, SL[] = {20, 10, 6};

TEST(mc_monotone_and_within_bound) {
    struct mc_params p;
    small_params(&p, ACTSCHED_POLICY_GREEDY);
    struct amax_table t;
    char err[256];
    ASSERT_OK(mc_build(&t, &p, NE, SL, 3, err, sizeof err));
    ASSERT_EQ(t.n_cfg, 3);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < t.n_b; j++) {
            float a = t.amax[i * t.n_b + j];
            if (j) ASSERT_LE(t.amax[i * t.n_b + j - 1], a);
            if (j) ASSERT_LE(t.tmax[i * t.n_b + j - 1], t.tmax[i * t.n_b + j]);
            ASSERT_LE(a, t.bound[i * t.n_b + j] + 1e-5);
            ASSERT_LE(a, SL[i]);

            ASSERT_LE(t.active[j] / NE[i] - 1e-5, a + 1e-5); // a_max >= active / n per sample
        }
    // B = 1: exactly k experts are activated, spread over at most k instances.
    ASSERT_NEAR(t.active[0], 4, 1e-6);
    ASSERT_LE(t.amax[0], 4);
    // Large batches activate everything: a_max >= E / n.
    ASSERT_LE(32.0 / 8, t.amax[2 * t.n_b + t.n_b - 1]);
    amax_free(&t);
}

TEST(mc_deterministic_and_seeded) {
    struct mc_params p;
    small_params(&p, ACTSCHED_POLICY_RANDOM);
    struct amax_table a, b, c;
    char err[256];
    ASSERT_OK(mc_build(&a, &p, NE, SL, 3, err, sizeof err));
    ASSERT_OK(mc_build(&b, &p, NE, SL, 3, err, sizeof err));
    size_t cells = (size_t)a.n_cfg * a.n_b;
    ASSERT_MEM_EQ(a.amax, b.amax, cells * sizeof(float));
    ASSERT_MEM_EQ(a.tmax, b.tmax, cells * sizeof(float));
    ASSERT_MEM_EQ(a.bound, b.bound, cells * sizeof(float));
    ASSERT_EQ(a.key, b.key);
    p.seed = 2;
    ASSERT_OK(mc_build(&c, &p, NE, SL, 3, err, sizeof err));
    ASSERT_NE(a.key, c.key);
    ASSERT(memcmp(a.tmax, c.tmax, cells * sizeof(float)) != 0);
    amax_free(&a);
    amax_free(&b);
    amax_free(&c);
}

TEST(mc_optimal_never_worse_than_greedy) {
    struct mc_params p;
    struct amax_table g, o, f;
    char err[256];
    small_params(&p, ACTSCHED_POLICY_GREEDY);
    ASSERT_OK(mc_build(&g, &p, NE, SL, 3, err, sizeof err));
    small_params(&p, ACTSCHED_POLICY_OPTIMAL);
    ASSERT_OK(mc_build(&o, &p, NE, SL, 3, err, sizeof err));
    small_params(&p, ACTSCHED_POLICY_FIRST);
    ASSERT_OK(mc_build(&f, &p, NE, SL, 3, err, sizeof err));
    // Common random numbers: the same batches for every policy, so per sample optimal <=
    // any other policy, hence also on average.
    for (int c = 0; c < g.n_cfg * g.n_b; c++) {
        ASSERT_LE(o.amax[c], g.amax[c] + 1e-5);
        ASSERT_LE(o.amax[c], f.amax[c] + 1e-5);
    }
    amax_free(&g);
    amax_free(&o);
    amax_free(&f);
}

TEST(mc_rejects_bad_configurations) {
    struct mc_params p;
    small_params(&p, ACTSCHED_POLICY_GREEDY);
    struct amax_table t;
    char err[256];
    int32_t ne[] = {2}, sl[] = {4}; // 8 slots < 32 experts
    ASSERT_EQ(mc_build(&t, &p, ne, sl, 1, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "n_e 2") != NULL);
    int32_t ne2[] = {4, 2}, sl2[] = {10, 20}; // not ascending
    ASSERT_EQ(mc_build(&t, &p, ne2, sl2, 2, err, sizeof err), JANUS_EINVAL);
}

TEST(lookup_interpolates) {
    struct amax_table t;
    ASSERT_OK(amax_alloc(&t, 2, 3));
    t.n_e[0] = 2;
    t.n_e[1] = 5;
    int grid[] = {1, 10, 100};
    float a[] = {1, 4, 9, 2, 3, 3}, tm[] = {1, 10, 100, 1, 5, 50};
    for (int j = 0; j < 3; j++)
        t.b_grid[j] = grid[j];
    memcpy(t.amax, a, sizeof a);
    memcpy(t.tmax, tm, sizeof tm);
    double am, tx;
    ASSERT_OK(amax_lookup(&t, 2, 10, &am, &tx));
    ASSERT_NEAR(am, 4, 1e-6);
    ASSERT_NEAR(tx, 10, 1e-6);
    ASSERT_OK(amax_lookup(&t, 2, 55, &am, &tx));
    ASSERT_NEAR(am, 6.5, 1e-6);
    ASSERT_OK(amax_lookup(&t, 2, 1000, &am, &tx)); // above: a_max holds, t_max scales
    ASSERT_NEAR(am, 9, 1e-6);
    ASSERT_NEAR(tx, 1000, 1e-3);
    ASSERT_OK(amax_lookup(&t, 5, 0.5, &am, &tx)); // below the grid: toward 0
    ASSERT_NEAR(am, 1, 1e-6);
    ASSERT_EQ(amax_lookup(&t, 3, 10, &am, &tx), JANUS_ENOTFOUND);
    // Monotone repair.
    t.amax[1] = 0.5f;
    amax_make_monotone(&t);
    ASSERT_NEAR(t.amax[1], 1, 0);
    amax_free(&t);
}

TEST(bound_by_hand) {
    // Two instances; instance 0 holds experts {0, 1}, instance 1 holds {2}.
    float p[] = {0.5f, 0.5f, 1.0f};
    int32_t hosts[] = {0, 1, 2, -1}, cnt[] = {2, 1};
    double mu = 2 * (1 - pow(0.5, 3)); // E[a_0] at B = 3
    double want = fmin(2.0, mu + sqrt(2 * mu * log(2.0)) + 1);
    ASSERT_NEAR(amax_bound(p, 3, hosts, cnt, 2, 2, 3), want, 1e-6);
    // Tiny batch: capped by the larger instance's count only when the bound exceeds it.
    ASSERT_LE(amax_bound(p, 3, hosts, cnt, 2, 2, 1e6), 2.0);
}

TEST(cache_round_trip_and_errors) {
    struct mc_params p;
    small_params(&p, ACTSCHED_POLICY_GREEDY);
    char dir[512], err[256];
    snprintf(dir, sizeof dir, "%s/cache", test_tmpdir());
    struct amax_table a, b;
    int hit = -1;
    double secs = -1;
    ASSERT_OK(mc_build_cached(&a, &p, NE, SL, 3, dir, "t", &hit, &secs, err, sizeof err));
    ASSERT_EQ(hit, 0);
    ASSERT(secs >= 0);
    ASSERT_OK(mc_build_cached(&b, &p, NE, SL, 3, dir, "t", &hit, &secs, err, sizeof err));
    ASSERT_EQ(hit, 1);
    size_t cells = (size_t)a.n_cfg * a.n_b;
    ASSERT_MEM_EQ(a.amax, b.amax, cells * sizeof(float));
    ASSERT_MEM_EQ(a.tmax, b.tmax, cells * sizeof(float));
    ASSERT_MEM_EQ(a.bound, b.bound, cells * sizeof(float));
    ASSERT_MEM_EQ(a.active, b.active, a.n_b * sizeof(float));
    ASSERT_MEM_EQ(a.fanout, b.fanout, cells * sizeof(float));
    ASSERT_EQ(b.n_prof, a.n_prof);
    ASSERT(a.n_prof > 1 && a.amax_prof && b.amax_prof);
    ASSERT_MEM_EQ(a.amax_prof, b.amax_prof, (size_t)a.n_prof * cells * sizeof(float));
    char path[700];
    snprintf(path, sizeof path, "%s/x.txt", dir);
    ASSERT_OK(amax_save(&a, path));
    amax_free(&b);
    ASSERT_EQ(amax_load(&b, path, a.key + 1), JANUS_EFORMAT);
    ASSERT_OK(amax_load(&b, path, a.key));
    amax_free(&b);
    char missing[700];
    snprintf(missing, sizeof missing, "%s/none.txt", dir);
    ASSERT_EQ(amax_load(&b, missing, a.key), JANUS_ENOTFOUND);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fprintf(f, "janus-amax 2 %016llx 1 2 32 4 1\nb 1 2\nact 1 x\n", (unsigned long long)a.key);
    fclose(f);
    ASSERT_EQ(amax_load(&b, path, a.key), JANUS_EFORMAT);
    amax_free(&a);
}

TEST(mc_layer_profiles) {
    struct mc_params p;
    small_params(&p, ACTSCHED_POLICY_GREEDY);
    p.n_prof = 3;
    struct amax_table t, one;
    char err[256];
    ASSERT_OK(mc_build(&t, &p, NE, SL, 3, err, sizeof err));
    ASSERT_EQ(t.n_prof, 3);
    ASSERT(t.amax_prof != NULL);
    size_t cells = (size_t)t.n_cfg * t.n_b;
    int differ = 0;
    for (size_t c = 0; c < cells; c++) {
        double m = (t.amax_prof[c] + t.amax_prof[cells + c] + t.amax_prof[2 * cells + c]) / 3;
        // The table's a_max is the mean over profiles (up to the monotone repair, which can
        // only raise it).
        ASSERT_LE(m - 1e-5, t.amax[c]);
        differ |= t.amax_prof[c] != t.amax_prof[cells + c];
    }
    ASSERT(differ); // profiles have different hot experts
    // Profile lookups; profile 0 equals a one-profile build's a_max.
    p.n_prof = 1;
    ASSERT_OK(mc_build(&one, &p, NE, SL, 3, err, sizeof err));
    ASSERT(one.amax_prof == NULL);
    ASSERT_NEAR(amax_lookup_profile(&t, 0, 4, 64), amax_lookup_profile(&one, 0, 4, 64), 1e-6);
    ASSERT_NE(t.key, one.key);
    amax_free(&t);
    amax_free(&one);
}

// Selective dispatch's fan-out from the Monte Carlo (real placement and scheduler): within
// [1, min(k, n_e)], exactly 1 with one instance; under uniform routing without replicas
// (zipf 0, no groups, C = E/n_e) it matches the closed form;
// with grouped statistics it stays valid and deterministic.
TEST(mc_fanout_measured) {
    struct mc_params p;
    small_params(&p, ACTSCHED_POLICY_GREEDY);
    p.zipf = 0;
    p.p_group = 0;
    p.n_prof = 1;
    p.samples = 8;
    p.warm_steps = 256;
    p.warm_batch = 256;
    const int32_t ne[] = {1, 2, 4, 8}, sl[] = {32, 16, 8, 4};
    struct amax_table t;
    char err[256];
    ASSERT_OK(mc_build(&t, &p, ne, sl, 4, err, sizeof err));
    for (int i = 0; i < 4; i++) {
        double cf = amax_fanout_uniform(32, 4, ne[i]);
        for (int j = 0; j < t.n_b; j++) {
            double f = t.fanout[i * t.n_b + j];
            ASSERT_LE(1 - 1e-6, f);
            ASSERT_LE(f, fmin(4, ne[i]) + 1e-6);
            if (ne[i] == 1) ASSERT_NEAR(f, 1, 1e-6);
            // Many tokens averaged: within 3 % of the closed form.
            if (t.b_grid[j] >= 256) ASSERT_NEAR(f, cf, 0.03 * cf);
        }
        // Between grid points 256 and 1024: between their values.
        double lo = fmin(t.fanout[i * t.n_b + 8], t.fanout[i * t.n_b + 9]);
        double hi = fmax(t.fanout[i * t.n_b + 8], t.fanout[i * t.n_b + 9]);
        double f512 = amax_fanout(&t, ne[i], 512);
        ASSERT(f512 >= lo - 1e-6 && f512 <= hi + 1e-6);
    }
    // n_e not in the table: the closed form.
    ASSERT_NEAR(amax_fanout(&t, 16, 512), amax_fanout_uniform(32, 4, 16), 1e-12);
    amax_free(&t);
    // Grouped statistics (groups of 4, 90 % of choices from the group): still a valid
    // fan-out, and deterministic.
    small_params(&p, ACTSCHED_POLICY_GREEDY);
    p.group_size = 4;
    p.p_group = 0.9;
    struct amax_table u;
    ASSERT_OK(mc_build(&t, &p, ne, sl, 4, err, sizeof err));
    ASSERT_OK(mc_build(&u, &p, ne, sl, 4, err, sizeof err));
    ASSERT_MEM_EQ(t.fanout, u.fanout, (size_t)t.n_cfg * t.n_b * sizeof(float));
    for (int c = 0; c < t.n_cfg * t.n_b; c++)
        ASSERT(t.fanout[c] >= 1 - 1e-6 && t.fanout[c] <= 4 + 1e-6);
    amax_free(&u);
    amax_free(&t);
}
