// The autoscaler of `janus serve --autoscale` (issue 16 item 3, SPEC §7): every interval it
// measures the arrival rate (requests/s, output tokens/s) and the TPOT at the front, asks the
// planner (sim/planner.h, the hardware profile measured here: cpu-local) for the deployment
// shape (n_attn, n_moe) of that load, and rescales the deployment live (front_rescale) once
// the recommendation has held for a number of evaluations and the last rescale is old enough
// (hysteresis). The decision (autoscale_decide) and the planner query (autoscale_recommend)
// are pure and unit-tested (tests/unit/test_autoscale.c); the thread only measures and acts.
// SPDX-License-Identifier: MIT
#ifndef JANUS_FRONT_AUTOSCALE_H
#define JANUS_FRONT_AUTOSCALE_H

#include "base/base.h"
#include "front/front.h"
#include "sim/planner.h"

#include <pthread.h>
#include <stdint.h>

// ---- the decision (pure)

struct autoscale_bounds {
    int min_attn, max_attn, min_moe, max_moe; // inclusive, >= 1
};
struct autoscale_policy {
    int persist;    // the same recommendation this many evaluations in a row (>= 1)
    double dwell_s; // at least this long after the last rescale (or its failure)
};
struct autoscale_state {     // zero-initialised; carried from one evaluation to the next
    int cand_attn, cand_moe; // the recommendation being confirmed (0: none)
    int streak;              // evaluations in a row it has been seen
    double last_change_s;    // t_s of the last rescale attempt
    int changed;             // a rescale was attempted (last_change_s valid)
};
struct autoscale_input {
    double t_s;            // now, seconds (any monotonic origin)
    int cur_attn, cur_moe; // the running shape
    int rec_attn, rec_moe; // the planner's recommendation (0: none this time)
    int busy;              // a rescale or a recovery is under way
};
enum autoscale_action { AUTOSCALE_HOLD = 0, AUTOSCALE_RESCALE = 1 };
struct autoscale_decision {
    enum autoscale_action action;
    int to_attn, to_moe; // RESCALE: the new shape; HOLD: the recommendation (clamped), or 0
    char reason[192];
};

// Clamps (*a, *m) into b.
void autoscale_clamp(const struct autoscale_bounds *b, int *a, int *m);
// One evaluation: updates st and fills d. RESCALE only when the clamped recommendation differs
// from the running shape, has been the same for pol->persist evaluations in a row (an
// evaluation with another or no recommendation starts the count again), nothing is busy, and
// pol->dwell_s has passed since the last rescale attempt. Call autoscale_acted after acting.
void autoscale_decide(struct autoscale_state *st, const struct autoscale_policy *pol,
                      const struct autoscale_bounds *b, const struct autoscale_input *in,
                      struct autoscale_decision *d);
// A rescale was attempted at t_s (done or failed): the dwell starts, the count restarts.
void autoscale_acted(struct autoscale_state *st, double t_s);

// ---- the planner query (pure over the planner)

struct autoscale_measure {
    double req_rate; // requests arriving per second over the window
    double tok_rate; // output tokens per second over the window
    double tpot_s;   // mean time per output token over the window (0: none measured)
    double context;  // mean context of the requests (prompt + half the output; 0: unknown)
    int cur_attn, cur_moe;
};
struct autoscale_rec {
    int n_attn, n_moe;  // the recommended shape, clamped into the bounds
    int feasible;       // the planner found a shape within the (calibrated) SLO
    double calib;       // measured TPOT / the planner's TPOT at the running shape (1: not known)
    double tpot_pred_s; // the planner's TPOT at the recommended shape, calibrated
};
// The planner's shape (Janus's system, search_plan) for m->tok_rate output tokens/s within
// the TPOT SLO slo_s, on at most b->max_attn + b->max_moe devices. The planner's latency
// model is calibrated on what is measured here: when m->tpot_s > 0 the SLO it is given is
// divided by calib = measured TPOT / its TPOT for the running shape at that rate, so that a
// machine slower (or busier) than its profile asks for more instances. When nothing fits, the
// largest-capacity shape. JANUS_OK, or an error (err) from the planner.
JANUS_WUR int autoscale_recommend(const struct planner *pl, double slo_s,
                                  const struct autoscale_bounds *b,
                                  const struct autoscale_measure *m, struct autoscale_rec *out,
                                  char *err, size_t err_len);

// ---- the running autoscaler

struct autoscale_params {
    double interval_s; // between evaluations (the measuring window)
    double slo_tpot_s; // the TPOT SLO
    struct autoscale_policy policy;
    struct autoscale_bounds bounds;
    const struct planner *planner; // borrowed; outlives the autoscaler
};

struct autoscaler {
    struct autoscale_params p;
    struct front *f;
    pthread_t thread;
    int started;
    _Atomic int stop;
    pthread_mutex_t mu; // guards what follows (read by /metrics)
    uint64_t evaluations, rescales, failures;
    struct autoscale_measure last_m;
    struct autoscale_rec last_rec;
    struct autoscale_decision last;
    struct autoscale_state st;
};

// Starts the thread (first evaluation after one interval). JANUS_OK or JANUS_EIO.
JANUS_WUR int autoscale_start(struct autoscaler *as, struct front *f,
                              const struct autoscale_params *p, char *err, size_t err_len);
// Stops and joins it (a rescale in progress ends first: call after front_stop, or it waits
// for the rescale). Idempotent; no-op if never started.
void autoscale_stop(struct autoscaler *as);

#endif // JANUS_FRONT_AUTOSCALE_H
