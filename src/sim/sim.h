// The cluster simulator (SPEC §8): replays a load trace (output tokens/s per bin) against every
// system of the planner on a virtual clock, re-planning at every interval and evaluating each
// system's deployment at every bin. Reports GPU-hours (each change also charges |delta GPUs| x
// reconf_s), SLO attainment (token-weighted) and the number of reconfigurations per system.
// Deterministic; no I/O.
// SPDX-License-Identifier: MIT
// Events (a small binary heap ordered by time, then kind): at every interval a re-plan for each
// system for a forecast of the interval's peak load times a headroom factor (the forecast is
// either the interval's own peak, a perfect forecast, or the previous interval's measured peak;
// the first interval then uses its first bin), and at every bin an evaluation of each system's
// current deployment: the bin's tokens count as within the SLO when the deployment's capacity
// within the SLO covers the bin's rate.
#ifndef JANUS_SIM_SIM_H
#define JANUS_SIM_SIM_H

#include "base/base.h"
#include "sim/planner.h"
#include "sim/workload.h"

struct sim_params {
    double slo_s;   // TPOT SLO
    double context; // average decode context S
    int max_gpus;
    double interval_s; // re-planning interval (900)
    double headroom;   // planned rate = headroom x forecast peak (1.0)
    int forecast_last; // 0: the interval's own peak (perfect forecast, equal-SLO GPU-hours);
                       // 1: the previous interval's measured peak (reactive re-planning)
    unsigned systems;  // bit mask of baselines_kind (0: all built in the planner)
    double reconf_s;   // seconds each added or removed GPU is held extra at a change
                       // (expert loading before the switch, draining after it)
};

struct sim_interval {
    double t_s;       // start
    double rate_plan; // rate the plans were made for
    double rate_peak; // actual peak bin in the interval
    int n_attn[BASELINES_COUNT], n_moe[BASELINES_COUNT], n_gpus[BASELINES_COUNT];
    int feasible[BASELINES_COUNT];
    double attain[BASELINES_COUNT]; // token-weighted fraction within the SLO
};

struct sim_system_result {
    int active; // simulated
    double gpu_hours;
    double tokens, tokens_ok;
    double slo_attainment;   // tokens_ok / tokens
    double reconf_gpu_hours; // part of gpu_hours charged to reconfigurations
    int reconfigs;           // deployment changes after the first interval
    int infeasible;          // intervals whose plan could not meet the SLO at the planned rate
    int peak_gpus;
};

struct sim_result {
    int n_int;
    struct sim_interval *iv; // (n_int)
    struct sim_system_result sys[BASELINES_COUNT];
};

JANUS_WUR int sim_run(const struct planner *pl, const struct workload_trace *tr,
                      const struct sim_params *p, struct sim_result *out);
void sim_result_free(struct sim_result *r);

#endif // JANUS_SIM_SIM_H
