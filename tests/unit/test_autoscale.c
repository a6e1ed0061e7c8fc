// Tests of the autoscaler's pure parts (front/autoscale.h; issue 16 item 3): the hysteresis
// decision (the recommendation must persist, a dwell after each rescale, bounds, no flapping
// on an alternating recommendation, nothing while busy) and the calibrated planner query on a
// toy planner (more load or a slower measured TPOT never asks for fewer devices; idle asks for
// the smallest shape).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "front/autoscale.h"
#include "plan_fixture.h"

#include <stdio.h>
#include <string.h>

static const struct autoscale_bounds B = {1, 2, 1, 3};
static const struct autoscale_policy P = {.persist = 3, .dwell_s = 30};

static struct autoscale_decision eval(struct autoscale_state *st, double t, int ca, int cm, int ra,
                                      int rm, int busy) {
    struct autoscale_input in = {
        .t_s = t, .cur_attn = ca, .cur_moe = cm, .rec_attn = ra, .rec_moe = rm, .busy = busy};
    struct autoscale_decision d;
    autoscale_decide(st, &P, &B, &in, &d);
    return d;
}

TEST(autoscale_persist_and_dwell) {
    struct autoscale_state st;
    memset(&st, 0, sizeof st);
    // The running shape recommended: hold.
    struct autoscale_decision d = eval(&st, 0, 1, 1, 1, 1, 0);
    ASSERT_EQ(d.action, AUTOSCALE_HOLD);
    ASSERT(strstr(d.reason, "running"));
    // (2,2) must be seen 3 times in a row.
    ASSERT_EQ(eval(&st, 1, 1, 1, 2, 2, 0).action, AUTOSCALE_HOLD);
    ASSERT_EQ(eval(&st, 2, 1, 1, 2, 2, 0).action, AUTOSCALE_HOLD);
    d = eval(&st, 3, 1, 1, 2, 2, 0);
    ASSERT_EQ(d.action, AUTOSCALE_RESCALE);
    ASSERT_EQ(d.to_attn, 2);
    ASSERT_EQ(d.to_moe, 2);
    autoscale_acted(&st, 3);
    // Right after: (1,1) persists, but the dwell (30 s) holds it back ...
    for (int t = 4; t < 33; t++) {
        d = eval(&st, t, 2, 2, 1, 1, 0);
        ASSERT_EQ(d.action, AUTOSCALE_HOLD);
    }
    ASSERT(strstr(d.reason, "dwell"));
    // ... until it has passed.
    d = eval(&st, 33.5, 2, 2, 1, 1, 0);
    ASSERT_EQ(d.action, AUTOSCALE_RESCALE);
    ASSERT_EQ(d.to_attn, 1);
    ASSERT_EQ(d.to_moe, 1);
}

TEST(autoscale_no_flapping) {
    struct autoscale_state st;
    memset(&st, 0, sizeof st);
    // A recommendation that alternates never persists: never a rescale.
    for (int t = 0; t < 100; t++) {
        struct autoscale_decision d = eval(&st, t, 1, 1, t % 2 ? 2 : 1, t % 2 ? 1 : 2, 0);
        ASSERT_EQ(d.action, AUTOSCALE_HOLD);
    }
    // Nor does one interrupted by the running shape or by no recommendation.
    memset(&st, 0, sizeof st);
    for (int t = 0; t < 60; t += 3) {
        ASSERT_EQ(eval(&st, t, 1, 1, 2, 2, 0).action, AUTOSCALE_HOLD);
        ASSERT_EQ(eval(&st, t + 1, 1, 1, 2, 2, 0).action, AUTOSCALE_HOLD);
        ASSERT_EQ(eval(&st, t + 2, 1, 1, t % 2 ? 1 : 0, t % 2 ? 1 : 0, 0).action, AUTOSCALE_HOLD);
    }
}

TEST(autoscale_bounds_and_busy) {
    struct autoscale_state st;
    memset(&st, 0, sizeof st);
    // Out of bounds: clamped to (2,3); a clamp equal to the running shape holds.
    struct autoscale_decision d;
    for (int t = 0; t < 3; t++)
        d = eval(&st, t, 2, 3, 8, 9, 0);
    ASSERT_EQ(d.action, AUTOSCALE_HOLD);
    ASSERT_EQ(d.to_attn, 2);
    ASSERT_EQ(d.to_moe, 3);
    // From (1,1) the clamped (2,3) is the target.
    memset(&st, 0, sizeof st);
    for (int t = 0; t < 3; t++)
        d = eval(&st, t, 1, 1, 8, 9, 0);
    ASSERT_EQ(d.action, AUTOSCALE_RESCALE);
    ASSERT_EQ(d.to_attn, 2);
    ASSERT_EQ(d.to_moe, 3);
    int a = 0, m = 0;
    autoscale_clamp(&B, &a, &m);
    ASSERT_EQ(a, 1);
    ASSERT_EQ(m, 1);
    // Not ready yet (no shape): held, and the count does not start.
    memset(&st, 0, sizeof st);
    ASSERT_EQ(eval(&st, 0, 0, 0, 2, 2, 1).action, AUTOSCALE_HOLD);
    ASSERT_EQ(st.streak, 0);
    // Busy (a rescale or a recovery under way): held, and acted on once free.
    memset(&st, 0, sizeof st);
    for (int t = 0; t < 5; t++)
        ASSERT_EQ(eval(&st, t, 1, 1, 1, 2, 1).action, AUTOSCALE_HOLD);
    ASSERT_EQ(eval(&st, 5, 1, 1, 1, 2, 0).action, AUTOSCALE_RESCALE);
}

static struct planner g_pl; // large: off the stack

TEST(autoscale_recommend_monotone) {
    struct models_shape m;
    struct hw_profile h;
    struct latency_coef c;
    fx_model(&m);
    fx_hw(&h);
    latency_coef_default(&c);
    struct planner_options o;
    planner_default_options(&o);
    o.max_gpus = 8;
    o.samples = 2;
    o.systems = 1u << BASELINES_JANUS;
    char err[256];
    ASSERT_EQ(planner_init(&g_pl, &m, &h, &c, &o, err, sizeof err), JANUS_OK);
    struct autoscale_bounds b = {1, 4, 1, 4};
    struct autoscale_rec r;
    // Idle: the smallest shape.
    struct autoscale_measure ms = {.cur_attn = 2, .cur_moe = 2};
    ASSERT_EQ(autoscale_recommend(&g_pl, 0.05, &b, &ms, &r, err, sizeof err), JANUS_OK);
    ASSERT(r.feasible);
    ASSERT_EQ(r.n_attn + r.n_moe, 2);
    ASSERT_NEAR(r.calib, 1, 0);
    // More load never asks for fewer devices.
    int prev = 0;
    for (double rate = 100; rate < 3e6; rate *= 4) {
        ms.tok_rate = rate;
        ASSERT_EQ(autoscale_recommend(&g_pl, 0.05, &b, &ms, &r, err, sizeof err), JANUS_OK);
        ASSERT(r.n_attn >= 1 && r.n_attn <= 4 && r.n_moe >= 1 && r.n_moe <= 4);
        if (r.feasible) {
            ASSERT(r.n_attn + r.n_moe >= prev);
            prev = r.n_attn + r.n_moe;
        }
    }
    // A measured TPOT slower than the planner's: calibration > 1, and no fewer devices than
    // the uncalibrated answer.
    ms.tok_rate = 2000;
    ms.tpot_s = 0;
    ASSERT_EQ(autoscale_recommend(&g_pl, 0.05, &b, &ms, &r, err, sizeof err), JANUS_OK);
    int base = r.n_attn + r.n_moe;
    ms.tpot_s = 10; // far slower than any prediction
    ASSERT_EQ(autoscale_recommend(&g_pl, 0.05, &b, &ms, &r, err, sizeof err), JANUS_OK);
    ASSERT(r.calib > 1);
    ASSERT(r.n_attn + r.n_moe >= base);
    // A bad SLO is an error, not a crash.
    ASSERT(autoscale_recommend(&g_pl, 0, &b, &ms, &r, err, sizeof err) != JANUS_OK);
    planner_free(&g_pl);
}
