// Planner front door: tables per system + search (planner.h).
// No I/O of its own beyond the catalogue reads and the a_max table cache.
// SPDX-License-Identifier: MIT
#include "sim/planner.h"

#include "base/status.h"
#include "sim/catalog.h"

#include <cJSON.h>
#include <math.h>

#include <stdio.h>
#include <string.h>

void planner_default_options(struct planner_options *o) {
    memset(o, 0, sizeof *o);
    o->max_gpus = 64;
    o->seed = 1;
    o->janus_sched = ACTSCHED_POLICY_GREEDY;
}

int planner_init(struct planner *pl, const struct models_shape *m, const struct hw_profile *hw,
                 const struct latency_coef *c, const struct planner_options *o, char *err,
                 size_t err_len) {
    memset(pl, 0, sizeof *pl);
    if (o->max_gpus < 1 || o->max_gpus > AMAX_MAX_CFG)
        return status_errf(err, err_len, JANUS_EINVAL, "max GPUs must be in [1, %d]", AMAX_MAX_CFG);
    pl->model = *m;
    pl->hw = *hw;
    pl->opt = *o;
    int rc = latency_model_init(&pl->lm, &pl->model, &pl->hw, c);
    if (rc)
        return status_errf(err, err_len, rc,
                           "latency model: invalid coefficients or hardware memory too small");
    mc_default_params(&pl->mc, m->n_experts, m->top_k);
    pl->mc.seed = o->seed;
    if (o->samples > 0) pl->mc.samples = o->samples;
    if (o->stats && o->stats->n_experts != m->n_experts)
        return status_errf(err, err_len, JANUS_EINVAL, "statistics have %d experts but %s has %d",
                           (int)o->stats->n_experts, m->id, m->n_experts);
    pl->mc.stats = o->stats;
    for (int k = 0; k < BASELINES_COUNT; k++) {
        baselines_get((enum baselines_kind)k, c, &pl->sys[k]);
        if (k == BASELINES_JANUS) pl->sys[k].sched = o->janus_sched;
        if (o->systems && !(o->systems & (1u << k))) continue;
        int32_t n_e[AMAX_MAX_CFG], slots[AMAX_MAX_CFG];
        int n = baselines_configs(&pl->sys[k], &pl->lm, o->max_gpus, n_e, slots, AMAX_MAX_CFG);
        pl->built[k] = 1;
        if (n == 0) { // every plan of this system is infeasible; say why
            int C = latency_moe_slots(&pl->lm);
            if (!pl->sys[k].space.colocated && C < 1)
                snprintf(pl->why_empty[k], sizeof pl->why_empty[k],
                         "one expert slot per layer does not fit in device memory");
            else if (!pl->sys[k].space.colocated)
                snprintf(
                    pl->why_empty[k], sizeof pl->why_empty[k],
                    "needs at least %d MoE instances (C = %d) plus attention: more than %d GPUs",
                    (m->n_experts + C - 1) / C, C, o->max_gpus);
            else
                snprintf(pl->why_empty[k], sizeof pl->why_empty[k], "no unit size within %d GPUs",
                         o->max_gpus);
            continue;
        }
        struct mc_params mp = pl->mc;
        mp.placement = pl->sys[k].placement;
        mp.sched = pl->sys[k].sched;
        char tag[96];
        snprintf(tag, sizeof tag, "%s-%s", m->id, pl->sys[k].name);
        rc = mc_build_cached(&pl->tab[k], &mp, n_e, slots, n, o->cache_dir, tag, &pl->from_cache[k],
                             &pl->build_s[k], err, err_len);
        if (rc) {
            planner_free(pl);
            return rc;
        }
    }
    return JANUS_OK;
}

void planner_free(struct planner *pl) {
    for (int k = 0; k < BASELINES_COUNT; k++)
        amax_free(&pl->tab[k]);
}

// Checks a query's arguments and clears *out. Returns JANUS_OK when the search should run,
// JANUS_EINVAL for an unknown or unbuilt system or a cluster larger than the tables, or 1
// when the system has no configuration at all (out->why says why; the answer is "none").
static int query_begin(const struct planner *pl, enum baselines_kind kind,
                       const struct search_params *p, struct search_point *out) {
    if ((unsigned)kind >= BASELINES_COUNT || !pl->built[kind] || p->max_gpus > pl->opt.max_gpus)
        return JANUS_EINVAL;
    memset(out, 0, sizeof *out);
    if (pl->tab[kind].n_cfg == 0) {
        out->why = pl->why_empty[kind];
        return 1;
    }
    return JANUS_OK;
}

int planner_plan(const struct planner *pl, enum baselines_kind kind, const struct search_params *p,
                 struct search_point *out) {
    int rc = query_begin(pl, kind, p, out);
    if (rc) return rc < 0 ? rc : JANUS_OK;
    return search_plan(&pl->lm, &pl->sys[kind].lat, &pl->sys[kind].space, &pl->tab[kind], p, out);
}

int planner_best_at_batch(const struct planner *pl, enum baselines_kind kind,
                          const struct search_params *p, double batch, struct search_point *out) {
    int rc = query_begin(pl, kind, p, out);
    if (rc) return rc < 0 ? rc : JANUS_OK;
    return search_best_at_batch(&pl->lm, &pl->sys[kind].lat, &pl->sys[kind].space, &pl->tab[kind],
                                p, batch, out);
}

int planner_best_capacity(const struct planner *pl, enum baselines_kind kind,
                          const struct search_params *p, struct search_point *out) {
    int rc = query_begin(pl, kind, p, out);
    if (rc) return rc < 0 ? rc : JANUS_OK;
    return search_best_capacity(&pl->lm, &pl->sys[kind].lat, &pl->sys[kind].space, &pl->tab[kind],
                                p, out);
}

int planner_load(struct planner *pl, const char *data_dir, const char *model_id,
                 const char *model_file, const char *hw_id, const struct latency_coef *c,
                 const struct planner_options *o, char *err, size_t err_len) {
    char dir[4096];
    memset(pl, 0, sizeof *pl);
    if (data_dir)
        snprintf(dir, sizeof dir, "%s", data_dir);
    else if (catalog_data_dir(dir, sizeof dir))
        return status_errf(err, err_len, JANUS_ENOTFOUND,
                           "data directory not found (set JANUS_DATA_DIR or --data-dir)");
    struct models_shape m;
    struct hw_profile hw;
    int rc = model_file ? models_load_file(model_file, &m, err, err_len)
                        : models_load(dir, model_id, &m, err, err_len);
    if (rc) return rc;
    rc = hw_load(dir, hw_id, &hw, err, err_len);
    if (rc) return rc;
    return planner_init(pl, &m, &hw, c, o, err, err_len);
}

const char *planner_scheme_name(int scheme) {
    switch (scheme) {
    case LATENCY_COMM_1PC: return "1pc";
    case LATENCY_COMM_2PC1: return "2pc1";
    case LATENCY_COMM_2PC2: return "2pc2";
    case LATENCY_COMM_ADAPTIVE: return "adaptive";
    case LATENCY_COMM_A2A_COLO: return "a2a";
    case LATENCY_COMM_M2N_EXPERT: return "m2n-expert";
    case LATENCY_COMM_A2A_DISAGG: return "a2a-disagg";
    }
    return "?";
}

// Rounds to 6 significant digits so the JSON stays readable and stable.
static double r6(double v) {
    if (!isfinite(v) || v == 0) return isfinite(v) ? v : 0;
    double m = pow(10, 5 - floor(log10(fabs(v))));
    return round(v * m) / m;
}

double planner_layer_amax(const struct planner *pl, enum baselines_kind kind,
                          const struct search_point *pt, int layer) {
    if (!pl || (unsigned)kind >= BASELINES_COUNT || pt->n_moe < 1 || pl->tab[kind].n_cfg == 0)
        return -1;
    const struct amax_table *t = &pl->tab[kind];
    int M = pl->sys[kind].lat.micro_batches < 1 ? 1 : pl->sys[kind].lat.micro_batches;
    int np = t->n_prof < 1 ? 1 : t->n_prof;
    return amax_lookup_profile(t, layer % np, pt->n_moe, pt->batch / M);
}

cJSON *planner_point_json(const struct planner *pl, enum baselines_kind kind,
                          const struct search_point *pt) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "n_gpus", pt->n_gpus);
    cJSON_AddNumberToObject(o, "n_attn", pt->n_attn);
    cJSON_AddNumberToObject(o, "n_moe", pt->n_moe);
    cJSON_AddNumberToObject(o, "batch", r6(pt->batch));
    cJSON_AddNumberToObject(o, "tpot_ms", r6(pt->tpot * 1e3));
    cJSON_AddNumberToObject(o, "tpg", r6(pt->tpg));
    cJSON_AddNumberToObject(o, "tpg_capacity", r6(pt->tpg_capacity));
    cJSON_AddBoolToObject(o, "feasible", pt->feasible);
    cJSON_AddNumberToObject(o, "slots", pt->slots);
    cJSON_AddNumberToObject(o, "b_max", r6(pt->b_max));
    cJSON_AddNumberToObject(o, "batch_capacity", r6(pt->batch_cap));
    cJSON_AddNumberToObject(o, "amax_per_layer", r6(pt->br.amax));
    cJSON_AddNumberToObject(o, "tmax_per_layer", r6(pt->br.tmax));
    cJSON_AddStringToObject(o, "scheme", planner_scheme_name(pt->br.scheme));
    if (pl && pl->sys[kind].lat.gate_on_moe) {
        cJSON_AddStringToObject(o, "dispatch", pt->br.mode ? "selective" : "broadcast");
        cJSON_AddNumberToObject(o, "fanout", r6(pt->br.fanout));
    }
    cJSON *b = cJSON_AddObjectToObject(o, "tpot_breakdown_ms");
    if (b) {
        cJSON_AddNumberToObject(b, "attention", r6(pt->br.attn * 1e3));
        cJSON_AddNumberToObject(b, "moe", r6(pt->br.moe * 1e3));
        cJSON_AddNumberToObject(b, "comm", r6(pt->br.comm * 1e3));
        if (pl && pl->sys[kind].lat.gate_on_moe)
            cJSON_AddNumberToObject(b, "routing", r6(pt->br.route * 1e3));
        cJSON_AddNumberToObject(b, "shared", r6(pt->br.shared * 1e3));
        cJSON_AddNumberToObject(b, "head", r6(pt->br.head * 1e3));
    }
    if (pl && pt->n_moe > 0 && pl->tab[kind].n_cfg > 0) {
        cJSON *arr = cJSON_AddArrayToObject(o, "amax_layers");
        for (int l = 0; arr && l < pl->lm.n_moe_layers; l++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(r6(planner_layer_amax(pl, kind, pt, l))));
    }
    if (!pt->feasible && pt->why) cJSON_AddStringToObject(o, "reason", pt->why);
    return o;
}
