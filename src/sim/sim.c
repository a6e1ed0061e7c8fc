// Discrete-event replay of a load trace with periodic re-planning (sim.h, SPEC §8).
// Deterministic: the same trace, planner and parameters give the same result.
// SPDX-License-Identifier: MIT
#include "sim/sim.h"

#include "base/mem.h"
#include "base/status.h"

#include <math.h>
#include <string.h>

enum ev_kind { EV_REPLAN = 0, EV_BIN = 1 }; // re-plan before evaluating a bin at equal times

struct ev {
    double t;
    int kind;
    int idx; // interval or bin index
};

struct heap {
    struct ev *a;
    int n, cap;
};

static int ev_less(const struct ev *x, const struct ev *y) {
    if (x->t != y->t) return x->t < y->t;
    if (x->kind != y->kind) return x->kind < y->kind;
    return x->idx < y->idx;
}

static void heap_push(struct heap *h, struct ev e) {
    int i = h->n++;
    h->a[i] = e;
    while (i > 0 && ev_less(&h->a[i], &h->a[(i - 1) / 2])) {
        struct ev t = h->a[i];
        h->a[i] = h->a[(i - 1) / 2];
        h->a[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static struct ev heap_pop(struct heap *h) {
    struct ev top = h->a[0];
    h->a[0] = h->a[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && ev_less(&h->a[l], &h->a[m])) m = l;
        if (r < h->n && ev_less(&h->a[r], &h->a[m])) m = r;
        if (m == i) break;
        struct ev t = h->a[i];
        h->a[i] = h->a[m];
        h->a[m] = t;
        i = m;
    }
    return top;
}

void sim_result_free(struct sim_result *r) {
    mem_free(r->iv);
    memset(r, 0, sizeof *r);
}

int sim_run(const struct planner *pl, const struct workload_trace *tr, const struct sim_params *p,
            struct sim_result *out) {
    memset(out, 0, sizeof *out);
    if (!pl || !tr || !p || tr->n < 1 || !(tr->bin_s > 0) || !(p->interval_s >= tr->bin_s) ||
        !(p->slo_s > 0) || p->max_gpus < 1 || p->max_gpus > pl->opt.max_gpus ||
        !(p->headroom > 0) || !(p->reconf_s >= 0))
        return JANUS_EINVAL;
    int bins_per = (int)floor(p->interval_s / tr->bin_s + 1e-9);
    int n_int = (tr->n + bins_per - 1) / bins_per;
    out->iv = mem_calloc(MEM_TAG_SIM, (size_t)n_int, sizeof *out->iv);
    struct heap h = {mem_calloc(MEM_TAG_SIM, (size_t)(n_int + tr->n), sizeof(struct ev)), 0,
                     n_int + tr->n};
    if (!out->iv || !h.a) {
        mem_free(h.a);
        sim_result_free(out);
        return JANUS_ENOMEM;
    }
    out->n_int = n_int;
    int on[BASELINES_COUNT];
    for (int k = 0; k < BASELINES_COUNT; k++) {
        on[k] = pl->built[k] && (!p->systems || (p->systems & (1u << k)));
        out->sys[k].active = on[k];
    }
    for (int i = 0; i < n_int; i++)
        heap_push(&h, (struct ev){i * bins_per * tr->bin_s, EV_REPLAN, i});
    for (int b = 0; b < tr->n; b++)
        heap_push(&h, (struct ev){b * tr->bin_s, EV_BIN, b});
    struct search_point cur[BASELINES_COUNT];
    memset(cur, 0, sizeof cur);
    double tok_iv[BASELINES_COUNT], ok_iv[BASELINES_COUNT];
    int rc = JANUS_OK;
    while (h.n > 0 && !rc) {
        struct ev e = heap_pop(&h);
        if (e.kind == EV_REPLAN) {
            int i = e.idx, b0 = i * bins_per, b1 = b0 + bins_per < tr->n ? b0 + bins_per : tr->n;
            struct sim_interval *iv = &out->iv[i];
            iv->t_s = e.t;
            double measured = 0;
            for (int b = b0; b < b1; b++)
                if (tr->rate[b] > iv->rate_peak) iv->rate_peak = tr->rate[b];
            if (!p->forecast_last)
                measured = iv->rate_peak;
            else if (i == 0)
                measured = tr->rate[0];
            else
                for (int b = b0 - bins_per; b < b0; b++)
                    if (tr->rate[b] > measured) measured = tr->rate[b];
            iv->rate_plan = measured * p->headroom;
            struct search_params sp = {p->slo_s, iv->rate_plan > 1e-3 ? iv->rate_plan : 1e-3,
                                       p->context, p->max_gpus};
            for (int k = 0; k < BASELINES_COUNT && !rc; k++) {
                tok_iv[k] = ok_iv[k] = 0;
                if (!on[k]) continue;
                struct search_point pt;
                rc = planner_plan(pl, (enum baselines_kind)k, &sp, &pt);
                if (rc) break;
                struct sim_system_result *sr = &out->sys[k];
                if (!pt.feasible) sr->infeasible++;
                if (i > 0 && (pt.n_attn != cur[k].n_attn || pt.n_moe != cur[k].n_moe)) {
                    sr->reconfigs++;
                    double extra = fabs((double)pt.n_gpus - cur[k].n_gpus) * p->reconf_s / 3600.0;
                    sr->gpu_hours += extra;
                    sr->reconf_gpu_hours += extra;
                }
                cur[k] = pt;
                iv->n_attn[k] = pt.n_attn;
                iv->n_moe[k] = pt.n_moe;
                iv->n_gpus[k] = pt.n_gpus;
                iv->feasible[k] = pt.feasible;
                if (pt.n_gpus > sr->peak_gpus) sr->peak_gpus = pt.n_gpus;
                sr->gpu_hours += pt.n_gpus * (b1 - b0) * tr->bin_s / 3600.0;
            }
        } else {
            double r = tr->rate[e.idx], tokens = r * tr->bin_s;
            int i = e.idx / bins_per;
            for (int k = 0; k < BASELINES_COUNT; k++) {
                if (!on[k]) continue;
                // Capacity within the SLO covers the rate <=> the steady batch meets the SLO
                // (B / TPOT(B) is non-decreasing in B).
                int ok =
                    cur[k].n_gpus > 0 && cur[k].batch_cap > 0 && r <= cur[k].rate_cap * (1 + 1e-9);
                out->sys[k].tokens += tokens;
                tok_iv[k] += tokens;
                if (ok) {
                    out->sys[k].tokens_ok += tokens;
                    ok_iv[k] += tokens;
                }
                out->iv[i].attain[k] = tok_iv[k] > 0 ? ok_iv[k] / tok_iv[k] : 1.0;
            }
        }
    }
    mem_free(h.a);
    if (rc) {
        sim_result_free(out);
        return rc;
    }
    for (int k = 0; k < BASELINES_COUNT; k++) {
        struct sim_system_result *sr = &out->sys[k];
        sr->slo_attainment = sr->tokens > 0 ? sr->tokens_ok / sr->tokens : 1.0;
    }
    return JANUS_OK;
}
