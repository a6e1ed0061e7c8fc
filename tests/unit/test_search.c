// Tests for scale/search: Little's-law bisection on a synthetic monotone model, the search
// against a brute-force cross-check on a small space, infeasibility detection.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "plan_fixture.h"
#include "scale/latency.h"
#include "scale/search.h"

struct fx {
    struct models_shape m;
    struct hw_profile h;
    struct latency_model lm;
    struct amax_table t;
    struct latency_system sys;
    struct search_space space;
};

static int fx_init(struct fx *f) {
    memset(f, 0, sizeof *f);
    fx_model(&f->m);
    fx_hw(&f->h);
    struct latency_coef c;
    latency_coef_default(&c);
    int rc = latency_model_init(&f->lm, &f->m, &f->h, &c);
    if (rc) return rc;
    int C = latency_moe_slots(&f->lm);
    if (C > 16) C = 16;
    rc = fx_table(&f->t, 12, C, 16, 2);
    f->sys.gate_on_moe = 1;
    f->sys.comm = LATENCY_COMM_ADAPTIVE;
    f->sys.micro_batches = 1;
    f->space.unit_attn = f->space.unit_moe = 1;
    return rc;
}

TEST(little_law_fixed_point) {
    struct fx f;
    ASSERT_OK(fx_init(&f));
    struct search_params p = {0.05, 0, 300, 16};
    double rates[] = {100, 2000, 20000};
    for (int i = 0; i < 3; i++) {
        p.rate = rates[i];
        struct search_point pt;
        ASSERT_OK(search_eval(&f.lm, &f.sys, &f.space, &f.t, &p, 3, 4, &pt));
        if (pt.why &&
            !strcmp(pt.why, "even the largest batch memory allows cannot sustain the rate"))
            continue;
        // B = rate * TPOT(B) at the fixed point, and it is the smallest such B.
        ASSERT_NEAR(pt.batch, p.rate * pt.tpot, 1e-6 * pt.batch + 1e-9);
        struct latency_breakdown br;
        double below = pt.batch * (1 - 1e-6);
        ASSERT_OK(latency_step(&f.lm, &f.sys, &f.t, 3, 4, below, p.context, &br));
        ASSERT_LT(below / br.tpot, p.rate);
        ASSERT_NEAR(pt.tpg, p.rate / 7, 1e-9);
    }
    amax_free(&f.t);
}

TEST(capacity_is_largest_batch_within_slo) {
    struct fx f;
    ASSERT_OK(fx_init(&f));
    struct search_params p = {0.004, 10, 300, 16};
    struct search_point pt;
    ASSERT_OK(search_eval(&f.lm, &f.sys, &f.space, &f.t, &p, 2, 3, &pt));
    ASSERT(pt.batch_cap > 0);
    ASSERT_LE(pt.tpot_cap, p.slo_s);
    if (pt.batch_cap < pt.b_max) {
        struct latency_breakdown br;
        ASSERT_OK(latency_step(&f.lm, &f.sys, &f.t, 2, 3, pt.batch_cap * 1.0001, p.context, &br));
        ASSERT_LT(p.slo_s, br.tpot);
    }
    ASSERT_NEAR(pt.tpg_capacity, pt.batch_cap / pt.tpot_cap / 5, 1e-9 * pt.tpg_capacity);
    amax_free(&f.t);
}

// Brute force: scan batches on a fine grid for every configuration.
static int brute(struct fx *f, const struct search_params *p, int *gpus, double *tpot) {
    *gpus = 0;
    *tpot = 0;
    for (int ci = 0; ci < f->t.n_cfg; ci++) {
        int ne = f->t.n_e[ci];
        for (int na = 1; na + ne <= p->max_gpus; na++) {
            double bmax = search_b_max(&f->lm, &f->space, na, f->t.slots[ci], p->context);
            if (bmax < 1) continue;
            int found = 0;
            double tp = 0;
            for (int s = 1; s <= 20000 && !found; s++) {
                double B = bmax * s / 20000.0;
                struct latency_breakdown br;
                if (latency_step(&f->lm, &f->sys, &f->t, na, ne, B, p->context, &br)) return -1;
                if (B / br.tpot >= p->rate) {
                    found = 1;
                    tp = br.tpot;
                }
            }
            if (!found || tp > p->slo_s) continue;
            int g = na + ne;
            if (!*gpus || g < *gpus || (g == *gpus && tp < *tpot)) {
                *gpus = g;
                *tpot = tp;
            }
        }
    }
    return 0;
}

TEST(search_matches_brute_force) {
    struct fx f;
    ASSERT_OK(fx_init(&f));
    double rates[] = {2e4, 2e5, 6e5, 1.5e6};
    int n_feasible = 0;
    for (int i = 0; i < 4; i++) {
        struct search_params p = {0.0015, rates[i], 300, 10};
        struct search_point pt;
        ASSERT_OK(search_plan(&f.lm, &f.sys, &f.space, &f.t, &p, &pt));
        int g;
        double tp;
        ASSERT_EQ(brute(&f, &p, &g, &tp), 0);
        ASSERT_EQ(pt.feasible ? pt.n_gpus : 0, g);
        n_feasible += g > 0;
        if (g)
            fprintf(stderr, "rate %g: %d GPUs (%d+%d), TPOT %.3f ms\n", rates[i], g, pt.n_attn,
                    pt.n_moe, tp * 1e3);
        if (g) ASSERT_NEAR(pt.tpot, tp, 0.02 * tp);
    }
    ASSERT_LE(2, n_feasible); // the cross-check is not vacuous
    amax_free(&f.t);
}

TEST(search_gpus_monotone_in_rate) {
    struct fx f;
    ASSERT_OK(fx_init(&f));
    int prev = 0;
    for (double r = 100; r < 1e5; r *= 1.7) {
        struct search_params p = {0.01, r, 300, 12};
        struct search_point pt;
        ASSERT_OK(search_plan(&f.lm, &f.sys, &f.space, &f.t, &p, &pt));
        if (!pt.feasible) break;
        ASSERT_LE(prev, pt.n_gpus);
        prev = pt.n_gpus;
    }
    ASSERT(prev > 0);
    amax_free(&f.t);
}

TEST(search_detects_infeasible) {
    struct fx f;
    ASSERT_OK(fx_init(&f));
    struct search_point pt;
    struct search_params huge = {0.01, 1e12, 300, 8};
    ASSERT_OK(search_plan(&f.lm, &f.sys, &f.space, &f.t, &huge, &pt));
    ASSERT_EQ(pt.feasible, 0);
    ASSERT(pt.why != NULL);
    struct search_params tiny_slo = {1e-6, 10, 300, 8};
    ASSERT_OK(search_plan(&f.lm, &f.sys, &f.space, &f.t, &tiny_slo, &pt));
    ASSERT_EQ(pt.feasible, 0);
    // A context so long that no request's KV cache fits.
    struct search_params long_ctx = {1.0, 10, 1e9, 8};
    ASSERT_OK(search_plan(&f.lm, &f.sys, &f.space, &f.t, &long_ctx, &pt));
    ASSERT_EQ(pt.feasible, 0);
    // Bad arguments are errors, not infeasibility.
    struct search_params bad = {0.01, -1, 300, 8};
    ASSERT_EQ(search_eval(&f.lm, &f.sys, &f.space, &f.t, &bad, 1, 2, &pt), JANUS_EINVAL);
    struct search_params ok = {0.01, 10, 300, 8};
    ASSERT_EQ(search_eval(&f.lm, &f.sys, &f.space, &f.t, &ok, 1, 99, &pt), JANUS_ENOTFOUND);
    amax_free(&f.t);
}

TEST(search_units_and_colocated_sizes) {
    struct fx f;
    ASSERT_OK(fx_init(&f));
    f.space.unit_attn = 4;
    f.space.unit_moe = 4;
    struct search_params p = {0.01, 3000, 300, 12};
    struct search_point pt;
    ASSERT_OK(search_plan(&f.lm, &f.sys, &f.space, &f.t, &p, &pt));
    if (pt.feasible) {
        ASSERT_EQ(pt.n_attn % 4, 0);
        ASSERT_EQ(pt.n_moe % 4, 0);
    }
    static const int32_t sizes[] = {2, 4, 8};
    struct search_space colo = {1, sizes, 3, 1, 1, 0};
    struct latency_system cs = {1, 0, LATENCY_COMM_A2A_COLO, 1};
    ASSERT_OK(search_plan(&f.lm, &cs, &colo, &f.t, &p, &pt));
    if (pt.feasible) {
        ASSERT_EQ(pt.n_attn, pt.n_moe);
        ASSERT_EQ(pt.n_gpus, pt.n_moe);
        ASSERT(pt.n_gpus == 2 || pt.n_gpus == 4 || pt.n_gpus == 8);
    }
    amax_free(&f.t);
}

TEST(best_at_batch_and_capacity) {
    struct fx f;
    ASSERT_OK(fx_init(&f));
    struct search_params p = {0.01, 1, 300, 10};
    struct search_point a, c;
    ASSERT_OK(search_best_at_batch(&f.lm, &f.sys, &f.space, &f.t, &p, 256, &a));
    ASSERT(a.feasible);
    ASSERT_LE(a.tpot, p.slo_s);
    ASSERT_NEAR(a.tpg, 256 / a.tpot / a.n_gpus, 1e-9 * a.tpg);
    ASSERT_OK(search_best_capacity(&f.lm, &f.sys, &f.space, &f.t, &p, &c));
    ASSERT(c.feasible);
    ASSERT_LE(a.tpg, c.tpg_capacity * (1 + 1e-6) + 1e-9);
    amax_free(&f.t);
}
