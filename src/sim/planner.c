// Planner front door: tables per system + search (planner.h).
// SPDX-License-Identifier: MIT
#include "sim/planner.h"

#include "base/status.h"

#include <stdio.h>
#include <string.h>

void planner_default_options(struct planner_options *o) {
    memset(o, 0, sizeof *o);
    o->max_gpus = 64;
    o->seed = 1;
    o->janus_sched = ACTSCHED_POLICY_GREEDY;
}

int planner_init(struct planner *pl, const struct model_shape *m, const struct hw_profile *hw,
                 const struct latency_coef *c, const struct planner_options *o, char *err,
                 size_t errlen) {
    memset(pl, 0, sizeof *pl);
    if (o->max_gpus < 1 || o->max_gpus > AMAX_MAX_CFG) {
        snprintf(err, errlen, "max GPUs must be in [1, %d]", AMAX_MAX_CFG);
        return JANUS_EINVAL;
    }
    pl->model = *m;
    pl->hw = *hw;
    pl->opt = *o;
    int rc = latency_model_init(&pl->lm, &pl->model, &pl->hw, c);
    if (rc) {
        snprintf(err, errlen, "latency model: invalid coefficients or hardware memory too small");
        return rc;
    }
    mc_default_params(&pl->mc, m->n_experts, m->top_k);
    pl->mc.seed = o->seed;
    if (o->samples > 0) pl->mc.samples = o->samples;
    for (int k = 0; k < BASELINES_COUNT; k++) {
        baselines_get((enum baselines_kind)k, c, &pl->sys[k]);
        if (k == BASELINES_JANUS) pl->sys[k].sched = o->janus_sched;
        if (o->systems && !(o->systems & (1u << k))) continue;
        int32_t n_e[AMAX_MAX_CFG], slots[AMAX_MAX_CFG];
        int n = baselines_configs(&pl->sys[k], &pl->lm, o->max_gpus, n_e, slots, AMAX_MAX_CFG);
        pl->built[k] = 1;
        if (n == 0) continue; // the experts never fit: every plan of this system is infeasible
        struct mc_params mp = pl->mc;
        mp.placement = pl->sys[k].placement;
        mp.sched = pl->sys[k].sched;
        char tag[96];
        snprintf(tag, sizeof tag, "%s-%s", m->id, pl->sys[k].name);
        rc = mc_build_cached(&pl->tab[k], &mp, n_e, slots, n, o->cache_dir, tag,
                             &pl->from_cache[k], &pl->build_s[k], err, errlen);
        if (rc) {
            planner_free(pl);
            return rc;
        }
    }
    return JANUS_OK;
}

void planner_free(struct planner *pl) {
    for (int k = 0; k < BASELINES_COUNT; k++) amax_free(&pl->tab[k]);
}

int planner_plan(const struct planner *pl, enum baselines_kind kind, const struct search_params *p,
                 struct search_point *out) {
    if ((unsigned)kind >= BASELINES_COUNT || !pl->built[kind]) return JANUS_EINVAL;
    if (p->max_gpus > pl->opt.max_gpus) return JANUS_EINVAL;
    memset(out, 0, sizeof *out);
    if (pl->tab[kind].n_cfg == 0) {
        out->why = "the experts do not fit in device memory";
        return JANUS_OK;
    }
    return search_plan(&pl->lm, &pl->sys[kind].lat, &pl->sys[kind].space, &pl->tab[kind], p, out);
}
