// Co-activation greedy placement with bounded swap (place.h, SPEC §6, the publication's
// algorithm with our fixed ordering and ties), its objective, and whole-layout building
// from statistics for the janus and EPLB policies. Pure; planning-time scratch memory is
// allocated and freed inside each call.
// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "place/place.h"

struct replica_key {
    double load, tok; // per-replica
    int32_t e;
};

// Descending per-replica load, then per-replica tokens, then ascending expert id.
static int cmp_replica(const void *pa, const void *pb) {
    const struct replica_key *a = pa, *b = pb;
    if (a->load != b->load) return a->load > b->load ? -1 : 1;
    if (a->tok != b->tok) return a->tok > b->tok ? -1 : 1;
    return (a->e > b->e) - (a->e < b->e);
}

static int cmp_i32(const void *pa, const void *pb) {
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

struct pstate {
    int32_t E, n, C;
    const double *coact; // (E, E) or NULL
    int32_t *inst;       // (n, C) experts on each instance, in insertion order
    int32_t *used;       // (n)
    uint8_t *held;       // (n, E)
    double *lsum, *tsum; // (n) per-replica load / token sums
};

static double coact_with(const struct pstate *s, int32_t e, int32_t g, int32_t skip) {
    if (!s->coact) return 0.0;
    double c = 0.0;
    for (int32_t i = 0; i < s->used[g]; i++) {
        int32_t x = s->inst[g * s->C + i];
        if (x != skip) c += s->coact[(size_t)e * s->E + x];
    }
    return c;
}

static void put(struct pstate *s, int32_t e, int32_t g, double l, double t) {
    s->inst[g * s->C + s->used[g]++] = e;
    s->held[(size_t)g * s->E + e] = 1;
    s->lsum[g] += l;
    s->tsum[g] += t;
}

static void take(struct pstate *s, int32_t e, int32_t g, double l, double t) {
    int32_t *v = s->inst + g * s->C;
    for (int32_t i = 0; i < s->used[g]; i++)
        if (v[i] == e) {
            memmove(v + i, v + i + 1, sizeof(int32_t) * (size_t)(s->used[g] - i - 1));
            break;
        }
    s->used[g]--;
    s->held[(size_t)g * s->E + e] = 0;
    s->lsum[g] -= l;
    s->tsum[g] -= t;
}

double placement_max_coact(const int32_t *slots, int32_t n_instances, int32_t n_slots,
                           int32_t n_experts, const double *coact) {
    if (!coact) return 0.0;
    double best = 0.0;
    for (int32_t g = 0; g < n_instances; g++) {
        double c = 0.0;
        const int32_t *v = slots + (size_t)g * n_slots;
        for (int32_t i = 0; i < n_slots; i++)
            for (int32_t j = i + 1; j < n_slots; j++)
                if (v[i] >= 0 && v[j] >= 0) c += coact[(size_t)v[i] * n_experts + v[j]];
        if (c > best) best = c;
    }
    return best;
}

int placement_janus(const struct placement_input *in, int32_t *slots, struct placement_report *rep,
                    char *err, size_t err_len) {
    int32_t E = in->n_experts, n = in->n_instances, C = in->n_slots;
    if (E < 1 || E > LIMIT_MAX_EXPERTS || n < 1 || n > LIMIT_MAX_INSTANCES || C < 1 ||
        C > LIMIT_MAX_SLOTS || !in->counts || !in->load)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "placement: sizes out of range (E=%d n=%d C=%d)", E, n, C);
    int64_t total = 0;
    for (int32_t e = 0; e < E; e++) {
        if (in->counts[e] < 1 || in->counts[e] > n)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "placement: expert %d has %d replicas (need 1..%d)", e,
                               in->counts[e], n);
        if (!(in->load[e] >= 0) || !isfinite(in->load[e]) ||
            (in->tok && (!(in->tok[e] >= 0) || !isfinite(in->tok[e]))))
            return status_errf(err, err_len, JANUS_EINVAL,
                               "placement: load of expert %d is not finite and >= 0", e);
        total += in->counts[e];
    }
    if (total > (int64_t)n * C)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "placement: %lld replicas exceed %d x %d slots", (long long)total, n, C);
    struct replica_key *reps = mem_alloc(MEM_TAG_SCHED, sizeof *reps * (size_t)total);
    struct pstate s = {E, n, C, in->coact, NULL, NULL, NULL, NULL, NULL};
    s.inst = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)n * C);
    s.used = mem_calloc(MEM_TAG_SCHED, (size_t)n, sizeof(int32_t));
    s.held = mem_calloc(MEM_TAG_SCHED, (size_t)n * E, 1);
    s.lsum = mem_calloc(MEM_TAG_SCHED, (size_t)n, sizeof(double));
    s.tsum = mem_calloc(MEM_TAG_SCHED, (size_t)n, sizeof(double));
    int rc = JANUS_OK;
    if (!reps || !s.inst || !s.used || !s.held || !s.lsum || !s.tsum) {
        rc = JANUS_ENOMEM;
        goto done;
    }
    int64_t m = 0;
    for (int32_t e = 0; e < E; e++)
        for (int32_t r = 0; r < in->counts[e]; r++) {
            reps[m].load = in->load[e] / in->counts[e];
            reps[m].tok = in->tok ? in->tok[e] / in->counts[e] : 0.0;
            reps[m].e = e;
            m++;
        }
    qsort(reps, (size_t)total, sizeof *reps, cmp_replica);
    int32_t n_swaps = 0;
    for (int64_t i = 0; i < total; i++) {
        int32_t e = reps[i].e;
        int32_t best = -1;
        double bc = 0;
        for (int32_t g = 0; g < n; g++) {
            if (s.used[g] >= C || s.held[(size_t)g * E + e]) continue;
            double c = coact_with(&s, e, g, -1);
            if (best < 0 || c < bc ||
                (c == bc && (s.lsum[g] < s.lsum[best] ||
                             (s.lsum[g] == s.lsum[best] && s.tsum[g] < s.tsum[best])))) {
                best = g;
                bc = c;
            }
        }
        if (best >= 0) {
            put(&s, e, best, reps[i].load, reps[i].tok);
            continue;
        }
        // Bounded swap: move one replica x from a full instance h lacking e to an instance
        // g with a free slot (which necessarily holds e) that lacks x; put e on h. Cheapest
        // added co-activation wins; ties: lowest (g, h, position of x).
        int32_t bg = -1, bh = -1, bx = -1;
        double bcost = 0;
        for (int32_t g = 0; g < n; g++) {
            if (s.used[g] >= C) continue;
            for (int32_t h = 0; h < n; h++) {
                if (h == g || s.held[(size_t)h * E + e]) continue;
                for (int32_t xi = 0; xi < s.used[h]; xi++) {
                    int32_t x = s.inst[h * C + xi];
                    if (s.held[(size_t)g * E + x]) continue;
                    double cost = coact_with(&s, x, g, -1) + coact_with(&s, e, h, x);
                    if (bg < 0 || cost < bcost) {
                        bg = g;
                        bh = h;
                        bx = x;
                        bcost = cost;
                    }
                }
            }
        }
        // Exists whenever R(e) <= n and replicas fit (see docs/internals/place.md).
        JANUS_ASSERT(bg >= 0);
        double xl = in->load[bx] / in->counts[bx];
        double xt = in->tok ? in->tok[bx] / in->counts[bx] : 0.0;
        take(&s, bx, bh, xl, xt);
        put(&s, bx, bg, xl, xt);
        put(&s, e, bh, reps[i].load, reps[i].tok);
        n_swaps++;
    }
    for (int32_t g = 0; g < n; g++) {
        int32_t *v = slots + (size_t)g * C;
        memcpy(v, s.inst + g * C, sizeof(int32_t) * (size_t)s.used[g]);
        qsort(v, (size_t)s.used[g], sizeof(int32_t), cmp_i32);
        for (int32_t i = s.used[g]; i < C; i++)
            v[i] = -1;
    }
    if (rep) {
        rep->n_swaps = n_swaps;
        rep->max_coact = placement_max_coact(slots, n, C, E, in->coact);
        double ml = 0;
        for (int32_t g = 0; g < n; g++)
            if (s.lsum[g] > ml) ml = s.lsum[g];
        rep->max_load = ml;
    }
done:
    mem_free(reps);
    mem_free(s.inst);
    mem_free(s.used);
    mem_free(s.held);
    mem_free(s.lsum);
    mem_free(s.tsum);
    return rc;
}

int placement_build_layout(struct layout *l, const struct stats *s, int32_t n_instances,
                           int32_t n_slots, enum placement_policy policy,
                           const struct eplb_params *eplb, struct placement_build_report *rep,
                           char *err, size_t err_len) {
    int32_t E = s->n_experts, n = n_instances, C = n_slots;
    struct placement_build_report r = {0};
    int rc = layout_init(l, s->n_layers, n, C, E);
    if (rc) return status_errf(err, err_len, rc, "place: invalid sizes (n=%d C=%d E=%d)", n, C, E);
    if ((int64_t)n * C < E) {
        status_errf(err, err_len, JANUS_EINVAL,
                    "place: %d instances x %d slots cannot hold %d experts", n, C, E);
        layout_free(l);
        return JANUS_EINVAL;
    }
    if (policy != PLACEMENT_POLICY_JANUS && policy != PLACEMENT_POLICY_EPLB) {
        status_errf(err, err_len, JANUS_EINVAL, "place: unknown policy");
        layout_free(l);
        return JANUS_EINVAL;
    }
    double *t = mem_alloc(MEM_TAG_SCHED, sizeof(double) * (size_t)E);
    double *c = mem_alloc(MEM_TAG_SCHED, sizeof(double) * (size_t)E);
    double *a = mem_alloc(MEM_TAG_SCHED, sizeof(double) * (size_t)E * E);
    int32_t *counts = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)E);
    int32_t *slots = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)n * C);
    float *w = mem_alloc(MEM_TAG_SCHED, sizeof(float) * (size_t)E);
    if (!t || !c || !a || !counts || !slots || !w) {
        rc = JANUS_ENOMEM;
        goto done;
    }
    for (int32_t li = 0; li < s->n_layers; li++) {
        if (stats_steps(s, li) <= 0) continue;
        stats_layer_export(s, li, t, c, a);
        char sub[JANUS_ERR_LEN];
        int32_t dup = 0;
        if (policy == PLACEMENT_POLICY_JANUS) {
            rc = replicate_counts(E, c, t, n, C, counts, sub, sizeof sub);
            if (!rc) {
                struct placement_input pin = {E, n, C, counts, c, t, a};
                struct placement_report pr;
                rc = placement_janus(&pin, slots, &pr, sub, sizeof sub);
                if (!rc) {
                    r.n_swaps += pr.n_swaps;
                    if (pr.max_coact > r.max_coact) r.max_coact = pr.max_coact;
                }
            }
            if (!rc) rc = layout_set_layer_slots(l, li, slots, NULL, sub, sizeof sub);
        } else {
            struct eplb_params ep = {0, 1, 1, n, EPLB_POLICY_GLOBAL};
            if (eplb) ep = *eplb;
            ep.n_phys = n * C;
            ep.n_gpus = n;
            for (int32_t e = 0; e < E; e++)
                w[e] = (float)t[e];
            rc = eplb_rebalance(w, E, &ep, slots, NULL, NULL, sub, sizeof sub);
            if (!rc) rc = layout_set_layer_slots(l, li, slots, &dup, sub, sizeof sub);
            r.n_duplicates += dup;
        }
        if (rc) {
            status_errf(err, err_len, rc, "place: layer %d: %s", li, sub);
            goto done;
        }
        r.n_layers_placed++;
    }
    if (r.n_layers_placed == 0) {
        rc =
            status_errf(err, err_len, JANUS_EINVAL, "place: the statistics have no recorded layer");
    }
done:
    mem_free(t);
    mem_free(c);
    mem_free(a);
    mem_free(counts);
    mem_free(slots);
    mem_free(w);
    if (rc)
        layout_free(l);
    else if (rep)
        *rep = r;
    return rc;
}
