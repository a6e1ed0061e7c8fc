// Little's-law bisection and the (n_attn, n_moe) search (search.h, SPEC §7).
// Pure: plain data in and out, no allocation or I/O.
// SPDX-License-Identifier: MIT
#include "scale/search.h"

#include "base/limits.h"
#include "base/status.h"

#include <math.h>
#include <string.h>

#define BISECT_ITERS 64
#define B_MIN        1e-6 // a batch below one millionth of a request is "idle"

double search_b_max(const struct latency_model *lm, const struct search_space *space, int n_attn,
                    int slots, double context) {
    double per = space->colocated ? latency_colo_capacity(lm, slots, context)
                                  : latency_attn_capacity(lm, context);
    double b = floor(per) * n_attn; // whole requests per instance
    return b > LIMIT_MAX_BATCH ? LIMIT_MAX_BATCH : b;
}

static double tpot_at(const struct latency_model *lm, const struct latency_system *sys,
                      const struct amax_table *tab, int na, int ne, double B, double ctx,
                      struct latency_breakdown *br) {
    struct latency_breakdown tmp;
    if (latency_step(lm, sys, tab, na, ne, B, ctx, br ? br : &tmp)) return INFINITY;
    return (br ? br : &tmp)->tpot;
}

static int eval(const struct latency_model *lm, const struct latency_system *sys,
                const struct search_space *space, const struct amax_table *tab,
                const struct search_params *p, int na, int ne, int want_cap,
                struct search_point *out) {
    struct search_point r;
    memset(&r, 0, sizeof r);
    if (!lm || !sys || !space || !tab || !p || !out || na < 1 || ne < 1 || !(p->rate > 0) ||
        !(p->slo_s > 0) || p->context < 0)
        return JANUS_EINVAL;
    int ci = amax_find(tab, ne);
    if (ci < 0) return JANUS_ENOTFOUND;
    r.n_attn = na;
    r.n_moe = ne;
    r.n_gpus = space->colocated ? ne : na + ne;
    r.slots = tab->slots[ci];
    r.b_max = search_b_max(lm, space, na, r.slots, p->context);
    if (r.b_max < 1) {
        r.why = "weights and one request's KV cache do not fit in device memory";
        *out = r;
        return JANUS_OK;
    }
    double ctx = p->context;
    // Capacity within the SLO: TPOT is non-decreasing in B.
    double lo = B_MIN, hi = r.b_max;
    if (!want_cap) {
        // skipped: the scan only needs the steady batch
    } else if (tpot_at(lm, sys, tab, na, ne, hi, ctx, NULL) <= p->slo_s) {
        r.batch_cap = hi;
    } else if (tpot_at(lm, sys, tab, na, ne, lo, ctx, NULL) > p->slo_s) {
        r.batch_cap = 0;
    } else {
        for (int it = 0; it < BISECT_ITERS; it++) {
            double mid = 0.5 * (lo + hi);
            if (tpot_at(lm, sys, tab, na, ne, mid, ctx, NULL) <= p->slo_s)
                lo = mid;
            else
                hi = mid;
        }
        r.batch_cap = lo;
    }
    if (r.batch_cap > 0) {
        r.tpot_cap = tpot_at(lm, sys, tab, na, ne, r.batch_cap, ctx, NULL);
        r.rate_cap = r.batch_cap / r.tpot_cap;
        r.tpg_capacity = r.rate_cap / r.n_gpus;
    }
    // Steady batch: smallest B with B / TPOT(B) >= rate.
    double tmax = tpot_at(lm, sys, tab, na, ne, r.b_max, ctx, NULL);
    if (r.b_max / tmax < p->rate) {
        r.batch = r.b_max;
        r.tpot = tmax;
        (void)tpot_at(lm, sys, tab, na, ne, r.batch, ctx, &r.br);
        r.tpg = p->rate / r.n_gpus;
        r.why = "even the largest batch memory allows cannot sustain the rate";
        *out = r;
        return JANUS_OK;
    }
    lo = B_MIN;
    hi = r.b_max;
    if (lo / tpot_at(lm, sys, tab, na, ne, lo, ctx, NULL) >= p->rate) {
        hi = lo;
    } else {
        for (int it = 0; it < BISECT_ITERS; it++) {
            double mid = 0.5 * (lo + hi);
            if (mid / tpot_at(lm, sys, tab, na, ne, mid, ctx, NULL) >= p->rate)
                hi = mid;
            else
                lo = mid;
        }
    }
    r.batch = hi;
    r.tpot = tpot_at(lm, sys, tab, na, ne, r.batch, ctx, &r.br);
    r.tpg = p->rate / r.n_gpus;
    if (r.tpot > p->slo_s) {
        r.why = "TPOT above the SLO at the steady batch";
    } else if (space->balance_ratio > 0) {
        double a = r.br.attn_stage, m = r.br.moe_stage;
        double ratio = (a > m ? a : m) / ((a < m ? a : m) > 0 ? (a < m ? a : m) : 1e-300);
        if (ratio > space->balance_ratio)
            r.why = "attention and MoE stages not balanced";
        else
            r.feasible = 1;
    } else {
        r.feasible = 1;
    }
    *out = r;
    return JANUS_OK;
}

int search_eval(const struct latency_model *lm, const struct latency_system *sys,
                const struct search_space *space, const struct amax_table *tab,
                const struct search_params *p, int na, int ne, struct search_point *out) {
    return eval(lm, sys, space, tab, p, na, ne, 1, out);
}

static int better(const struct search_point *a, const struct search_point *b) {
    if (!b->n_gpus) return 1;
    if (a->n_gpus != b->n_gpus) return a->n_gpus < b->n_gpus;
    if (a->tpot != b->tpot) return a->tpot < b->tpot;
    return a->n_moe < b->n_moe;
}

int search_plan(const struct latency_model *lm, const struct latency_system *sys,
                const struct search_space *space, const struct amax_table *tab,
                const struct search_params *p, struct search_point *out) {
    if (!lm || !sys || !space || !tab || !p || !out || p->max_gpus < 1) return JANUS_EINVAL;
    int ua = space->unit_attn < 1 ? 1 : space->unit_attn;
    int um = space->unit_moe < 1 ? 1 : space->unit_moe;
    struct search_point best, fallback, pt;
    memset(&best, 0, sizeof best);
    memset(&fallback, 0, sizeof fallback);
    for (int ci = 0; ci < tab->n_cfg; ci++) {
        int ne = tab->n_e[ci];
        if (ne % um) continue;
        if (space->colocated) {
            int allowed = 0;
            for (int s = 0; s < space->n_sizes; s++)
                allowed |= space->sizes[s] == ne;
            if (!allowed || ne > p->max_gpus) continue;
            int rc = eval(lm, sys, space, tab, p, ne, ne, !best.feasible, &pt);
            if (rc) return rc;
            if (pt.feasible && better(&pt, &best)) best = pt;
            if (!pt.feasible && pt.rate_cap > fallback.rate_cap) fallback = pt;
            continue;
        }
        for (int na = ua; na + ne <= p->max_gpus; na += ua) {
            if (best.feasible && na + ne > best.n_gpus) break;
            int rc = eval(lm, sys, space, tab, p, na, ne, !best.feasible, &pt);
            if (rc) return rc;
            if (pt.feasible && better(&pt, &best)) best = pt;
            if (!pt.feasible && pt.rate_cap > fallback.rate_cap) fallback = pt;
        }
    }
    if (best.feasible) {
        return search_eval(lm, sys, space, tab, p, best.n_attn, best.n_moe, out);
    } else {
        if (!fallback.why) fallback.why = "no configuration within max_gpus";
        *out = fallback;
    }
    return JANUS_OK;
}

static int balanced(const struct search_space *space, const struct latency_breakdown *br) {
    if (!(space->balance_ratio > 0)) return 1;
    double a = br->attn_stage, m = br->moe_stage, lo = a < m ? a : m, hi = a > m ? a : m;
    return lo > 0 && hi / lo <= space->balance_ratio;
}

// Calls visit(na, ne) for every configuration the space allows within max_gpus.
typedef int (*visit_fn)(void *ctx, int na, int ne);
static int for_each_config(const struct search_space *space, const struct amax_table *tab,
                           int max_gpus, visit_fn visit, void *ctx) {
    int ua = space->unit_attn < 1 ? 1 : space->unit_attn;
    int um = space->unit_moe < 1 ? 1 : space->unit_moe;
    for (int ci = 0; ci < tab->n_cfg; ci++) {
        int ne = tab->n_e[ci], rc;
        if (ne % um) continue;
        if (space->colocated) {
            int allowed = 0;
            for (int s = 0; s < space->n_sizes; s++)
                allowed |= space->sizes[s] == ne;
            if (allowed && ne <= max_gpus && (rc = visit(ctx, ne, ne))) return rc;
            continue;
        }
        for (int na = ua; na + ne <= max_gpus; na += ua)
            if ((rc = visit(ctx, na, ne))) return rc;
    }
    return JANUS_OK;
}

struct best_ctx {
    const struct latency_model *lm;
    const struct latency_system *sys;
    const struct search_space *space;
    const struct amax_table *tab;
    const struct search_params *p;
    double batch;
    struct search_point best;
};

static int visit_at_batch(void *vctx, int na, int ne) {
    struct best_ctx *c = vctx;
    int ci = amax_find(c->tab, ne);
    int slots = ci >= 0 ? c->tab->slots[ci] : 0;
    double bmax = search_b_max(c->lm, c->space, na, slots, c->p->context);
    if (c->batch > bmax) return JANUS_OK;
    struct latency_breakdown br;
    int rc = latency_step(c->lm, c->sys, c->tab, na, ne, c->batch, c->p->context, &br);
    if (rc) return rc;
    if (br.tpot > c->p->slo_s || !balanced(c->space, &br)) return JANUS_OK;
    int gpus = c->space->colocated ? ne : na + ne;
    double tpg = c->batch / br.tpot / gpus;
    if (c->best.feasible && tpg <= c->best.tpg) return JANUS_OK;
    struct search_point *b = &c->best;
    memset(b, 0, sizeof *b);
    b->feasible = 1;
    b->n_attn = na;
    b->n_moe = ne;
    b->n_gpus = gpus;
    b->slots = slots;
    b->b_max = bmax;
    b->batch = b->batch_cap = c->batch;
    b->tpot = b->tpot_cap = br.tpot;
    b->rate_cap = c->batch / br.tpot;
    b->tpg = b->tpg_capacity = tpg;
    b->br = br;
    return JANUS_OK;
}

int search_best_at_batch(const struct latency_model *lm, const struct latency_system *sys,
                         const struct search_space *space, const struct amax_table *tab,
                         const struct search_params *p, double batch, struct search_point *out) {
    if (!lm || !sys || !space || !tab || !p || !out || !(batch > 0) || !(p->slo_s > 0))
        return JANUS_EINVAL;
    struct best_ctx c = {lm, sys, space, tab, p, batch, {0}};
    int rc = for_each_config(space, tab, p->max_gpus, visit_at_batch, &c);
    if (rc) return rc;
    if (!c.best.feasible) c.best.why = "no configuration meets the SLO at this batch";
    *out = c.best;
    return JANUS_OK;
}

static int visit_capacity(void *vctx, int na, int ne) {
    struct best_ctx *c = vctx;
    struct search_point pt;
    int rc = eval(c->lm, c->sys, c->space, c->tab, c->p, na, ne, 1, &pt);
    if (rc) return rc;
    if (!(pt.batch_cap > 0)) return JANUS_OK;
    struct latency_breakdown br;
    rc = latency_step(c->lm, c->sys, c->tab, na, ne, pt.batch_cap, c->p->context, &br);
    if (rc) return rc;
    if (!balanced(c->space, &br)) return JANUS_OK;
    if (c->best.feasible && pt.tpg_capacity <= c->best.tpg_capacity) return JANUS_OK;
    pt.feasible = 1;
    pt.why = NULL;
    pt.batch = pt.batch_cap;
    pt.tpot = pt.tpot_cap;
    pt.tpg = pt.tpg_capacity;
    pt.br = br;
    c->best = pt;
    return JANUS_OK;
}

int search_best_capacity(const struct latency_model *lm, const struct latency_system *sys,
                         const struct search_space *space, const struct amax_table *tab,
                         const struct search_params *p, struct search_point *out) {
    if (!lm || !sys || !space || !tab || !p || !out || !(p->slo_s > 0)) return JANUS_EINVAL;
    struct search_params q = *p;
    if (!(q.rate > 0)) q.rate = 1e-3;
    struct best_ctx c = {lm, sys, space, tab, &q, 0, {0}};
    int rc = for_each_config(space, tab, p->max_gpus, visit_capacity, &c);
    if (rc) return rc;
    if (!c.best.feasible) c.best.why = "no configuration meets the SLO";
    *out = c.best;
    return JANUS_OK;
}
