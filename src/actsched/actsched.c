// Activation scheduler entry points (actsched.h, SPEC §5): workspace/output lifetime,
// input validation and collection of the activated set, policy dispatch, the per-token
// physical-replica rewrite, the output checker and the digest. No allocation after init.
// SPDX-License-Identifier: MIT
#include "actsched/actsched.h"

#include <string.h>

#include "actsched/actsched_impl.h"
#include "base/hash.h"
#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"

static const char *const policy_names[ACTSCHED_POLICY_COUNT] = {
    "greedy", "optimal", "random", "round-robin", "token-balanced", "first",
};

const char *actsched_policy_name(enum actsched_policy p) {
    return (unsigned)p < ACTSCHED_POLICY_COUNT ? policy_names[p] : "?";
}

int actsched_policy_parse(const char *name, enum actsched_policy *out) {
    for (int i = 0; i < ACTSCHED_POLICY_COUNT; i++)
        if (name && !strcmp(name, policy_names[i])) {
            *out = (enum actsched_policy)i;
            return JANUS_OK;
        }
    return JANUS_EINVAL;
}

static int limits_ok(const struct actsched_limits *lim) {
    return lim && lim->max_tokens >= 1 && lim->max_tokens <= LIMIT_MAX_BATCH &&
           lim->max_experts >= 1 && lim->max_experts <= LIMIT_MAX_EXPERTS &&
           lim->max_instances >= 1 && lim->max_instances <= LIMIT_MAX_INSTANCES &&
           lim->max_top_k >= 1 && lim->max_top_k <= LIMIT_MAX_EXPERT_USED;
}

// ---- lifetime

int actsched_init(struct actsched_ws *ws, const struct actsched_limits *lim) {
    memset(ws, 0, sizeof *ws);
    if (!limits_ok(lim)) return JANUS_EINVAL;
    size_t E = (size_t)lim->max_experts, n = (size_t)lim->max_instances;
    ws->lim = *lim;
    ws->mark = mem_alloc(MEM_TAG_SCHED, 4 * E * sizeof(int32_t));
    ws->order = mem_alloc(MEM_TAG_SCHED, E * sizeof(int32_t));
    ws->keys = mem_alloc(MEM_TAG_SCHED, E * sizeof(uint64_t));
    ws->load = mem_alloc(MEM_TAG_SCHED, n * sizeof(int32_t));
    ws->tok_load = mem_alloc(MEM_TAG_SCHED, n * sizeof(int64_t));
    ws->queue = mem_alloc(MEM_TAG_SCHED, n * sizeof(int32_t));
    ws->parent_e = mem_alloc(MEM_TAG_SCHED, n * sizeof(int32_t));
    ws->parent_j = mem_alloc(MEM_TAG_SCHED, n * sizeof(int32_t));
    ws->seen = mem_alloc(MEM_TAG_SCHED, n * sizeof(int32_t));
    ws->head = mem_alloc(MEM_TAG_SCHED, n * sizeof(int32_t));
    ws->next_e = mem_alloc(MEM_TAG_SCHED, E * sizeof(int32_t));
    ws->prev_e = mem_alloc(MEM_TAG_SCHED, E * sizeof(int32_t));
    ws->bucket = mem_alloc(MEM_TAG_SCHED, (n + 2) * sizeof(int32_t));
    if (!ws->mark || !ws->order || !ws->keys || !ws->load || !ws->tok_load || !ws->queue ||
        !ws->parent_e || !ws->parent_j || !ws->seen || !ws->bucket || !ws->head || !ws->next_e ||
        !ws->prev_e) {
        actsched_free(ws);
        return JANUS_ENOMEM;
    }
    memset(ws->mark, 0, 4 * E * sizeof(int32_t));
    return JANUS_OK;
}

void actsched_free(struct actsched_ws *ws) {
    mem_free(ws->mark);
    mem_free(ws->order);
    mem_free(ws->keys);
    mem_free(ws->load);
    mem_free(ws->tok_load);
    mem_free(ws->queue);
    mem_free(ws->parent_e);
    mem_free(ws->parent_j);
    mem_free(ws->seen);
    mem_free(ws->head);
    mem_free(ws->next_e);
    mem_free(ws->prev_e);
    mem_free(ws->bucket);
    memset(ws, 0, sizeof *ws);
}

int actsched_output_init(struct actsched_output *out, const struct actsched_limits *lim) {
    memset(out, 0, sizeof *out);
    if (!limits_ok(lim)) return JANUS_EINVAL;
    size_t E = (size_t)lim->max_experts, n = (size_t)lim->max_instances;
    size_t nt = (size_t)lim->max_tokens * (size_t)lim->max_top_k;
    out->active = mem_alloc(MEM_TAG_SCHED, E * sizeof(int32_t));
    out->active_tokens = mem_alloc(MEM_TAG_SCHED, E * sizeof(int32_t));
    out->assign = mem_alloc(MEM_TAG_SCHED, E * sizeof(int32_t));
    out->assign_replica = mem_alloc(MEM_TAG_SCHED, E * sizeof(int32_t));
    out->inst_count = mem_alloc(MEM_TAG_SCHED, n * sizeof(int32_t));
    out->token_replica = mem_alloc(MEM_TAG_SCHED, nt * sizeof(int32_t));
    if (!out->active || !out->active_tokens || !out->assign || !out->assign_replica ||
        !out->inst_count || !out->token_replica) {
        actsched_output_free(out);
        return JANUS_ENOMEM;
    }
    out->cap = *lim;
    return JANUS_OK;
}

void actsched_output_free(struct actsched_output *out) {
    mem_free(out->active);
    mem_free(out->active_tokens);
    mem_free(out->assign);
    mem_free(out->assign_replica);
    mem_free(out->inst_count);
    mem_free(out->token_replica);
    memset(out, 0, sizeof *out);
}

// ---- run

int actsched_run(struct actsched_ws *ws, enum actsched_policy policy,
                 const struct actsched_input *in, struct actsched_output *out) {
    const struct layout_layer *ly = in->layer;
    if (!ly || ly->n_experts < 1 || !ly->host_off) return JANUS_EINVAL; // dense layer
    int32_t E = ly->n_experts, n = ly->n_instances, k = in->top_k;
    int64_t B = in->n_tok;
    if ((unsigned)policy >= ACTSCHED_POLICY_COUNT || B < 0 || in->step < 0 ||
        (B > 0 && (k < 1 || !in->routing)))
        return JANUS_EINVAL;
    if (B > ws->lim.max_tokens || k > ws->lim.max_top_k || E > ws->lim.max_experts ||
        n > ws->lim.max_instances || E > out->cap.max_experts || n > out->cap.max_instances ||
        B * k > out->cap.max_tokens * out->cap.max_top_k)
        return JANUS_ELIMIT;

    // Collect: token counts per expert (range-checked), then the ascending active set.
    // Four interleaved histograms break the store-to-load dependency of repeated ids (the
    // same expert appears many times in a large batch); the range check is branch-free.
    int32_t *mark = ws->mark, *m1 = mark + E, *m2 = mark + 2 * E, *m3 = mark + 3 * E;
    memset(mark, 0, sizeof(int32_t) * 4 * (size_t)E);
    const int32_t *routing = in->routing;
    int64_t nt = B * k, i4 = nt & ~(int64_t)3;
    uint32_t bad = 0, uE = (uint32_t)E;
    for (int64_t i = 0; i < i4; i += 4) {
        uint32_t a = (uint32_t)routing[i], b = (uint32_t)routing[i + 1];
        uint32_t c = (uint32_t)routing[i + 2], d = (uint32_t)routing[i + 3];
        uint32_t oob = (a >= uE) | (b >= uE) | (c >= uE) | (d >= uE);
        if (JANUS_UNLIKELY(oob)) {
            bad = 1;
            break;
        }
        mark[a]++;
        m1[b]++;
        m2[c]++;
        m3[d]++;
    }
    for (int64_t i = i4; i < nt && !bad; i++) {
        uint32_t e = (uint32_t)routing[i];
        if (e >= uE)
            bad = 1;
        else
            mark[e]++;
    }
    if (bad) return JANUS_EINVAL;
    int32_t na = 0;
    for (int32_t e = 0; e < E; e++) {
        out->assign[e] = -1;
        out->assign_replica[e] = -1;
        int32_t c = mark[e] + m1[e] + m2[e] + m3[e];
        mark[e] = c;
        if (c) {
            out->active[na] = e;
            out->active_tokens[na] = c;
            na++;
        }
    }
    out->n_experts = E;
    out->n_instances = n;
    out->n_tok = B;
    out->top_k = B > 0 ? k : in->top_k;
    out->n_active = na;

    switch (policy) {
    case ACTSCHED_POLICY_GREEDY: greedy_assign(ws, in, out); break;
    case ACTSCHED_POLICY_OPTIMAL: optimal_assign(ws, in, out); break;
    case ACTSCHED_POLICY_RANDOM: baselines_random(ws, in, out); break;
    case ACTSCHED_POLICY_ROUND_ROBIN: baselines_round_robin(ws, in, out); break;
    case ACTSCHED_POLICY_TOKEN_BALANCED: baselines_token_balanced(ws, in, out); break;
    case ACTSCHED_POLICY_FIRST: baselines_first(ws, in, out); break;
    default: return JANUS_EINVAL;
    }

    // Host-list indices -> instances and physical replica ids.
    for (int32_t i = 0; i < na; i++) {
        int32_t e = out->active[i];
        int32_t j = out->assign[e];
        out->assign[e] = ly->hosts[j];
        out->assign_replica[e] = ly->replica[j];
    }
    int32_t a_max = 0;
    for (int32_t g = 0; g < n; g++) {
        out->inst_count[g] = ws->load[g];
        if (ws->load[g] > a_max) a_max = ws->load[g];
    }
    out->a_max = a_max;

    // Per-token rewrite: logical expert -> physical replica.
    const int32_t *rep = out->assign_replica;
    int32_t *tr = out->token_replica;
    int64_t i8 = nt & ~(int64_t)7;
    for (int64_t i = 0; i < i8; i += 8) { // unrolled: 8 independent gathers per iteration
        int32_t r0 = rep[routing[i]], r1 = rep[routing[i + 1]], r2 = rep[routing[i + 2]];
        int32_t r3 = rep[routing[i + 3]], r4 = rep[routing[i + 4]], r5 = rep[routing[i + 5]];
        int32_t r6 = rep[routing[i + 6]], r7 = rep[routing[i + 7]];
        tr[i] = r0;
        tr[i + 1] = r1;
        tr[i + 2] = r2;
        tr[i + 3] = r3;
        tr[i + 4] = r4;
        tr[i + 5] = r5;
        tr[i + 6] = r6;
        tr[i + 7] = r7;
    }
    for (int64_t i = i8; i < nt; i++)
        tr[i] = rep[routing[i]];
    return JANUS_OK;
}

// ---- checker and digest

int actsched_check(const struct actsched_input *in, const struct actsched_output *out, char *err,
                   size_t err_len) {
    const struct layout_layer *ly = in->layer;
    int32_t E = ly->n_experts, n = ly->n_instances;
    if (out->n_experts != E || out->n_instances != n || out->n_tok != in->n_tok)
        return status_errf(err, err_len, JANUS_EINVAL, "output sizes do not match the input");
    if (n > LIMIT_MAX_INSTANCES) return JANUS_EINVAL;
    int32_t cnt[LIMIT_MAX_INSTANCES];
    memset(cnt, 0, sizeof(int32_t) * (size_t)n);
    int64_t nt = in->n_tok * in->top_k, tok_sum = 0;
    int32_t n_assigned = 0;
    for (int32_t e = 0; e < E; e++) {
        if (out->assign[e] < 0) {
            if (out->assign_replica[e] != -1)
                return status_errf(err, err_len, JANUS_EINVAL, "inactive expert %d has a replica",
                                   e);
            continue;
        }
        int32_t g = out->assign[e];
        if (g >= n || layout_replica_id(ly, e, g) < 0)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "expert %d assigned to instance %d, which lacks it", e, g);
        if (out->assign_replica[e] != layout_replica_id(ly, e, g))
            return status_errf(err, err_len, JANUS_EINVAL, "expert %d: replica id %d, expected %d",
                               e, out->assign_replica[e], layout_replica_id(ly, e, g));
        cnt[g]++;
        n_assigned++;
    }
    if (n_assigned != out->n_active)
        return status_errf(err, err_len, JANUS_EINVAL, "%d experts assigned but %d active",
                           n_assigned, out->n_active);
    for (int32_t i = 0; i < out->n_active; i++) {
        if ((i > 0 && out->active[i] <= out->active[i - 1]) || out->active[i] < 0 ||
            out->active[i] >= E || out->assign[out->active[i]] < 0 || out->active_tokens[i] < 1)
            return status_errf(err, err_len, JANUS_EINVAL, "active list entry %d invalid", i);
        tok_sum += out->active_tokens[i];
    }
    if (tok_sum != nt)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "active token counts sum to %lld, expected %lld", (long long)tok_sum,
                           (long long)nt);
    int32_t a_max = 0;
    for (int32_t g = 0; g < n; g++) {
        if (cnt[g] != out->inst_count[g])
            return status_errf(err, err_len, JANUS_EINVAL,
                               "instance %d: count %d, assignment says %d", g, out->inst_count[g],
                               cnt[g]);
        if (cnt[g] > a_max) a_max = cnt[g];
    }
    if (a_max != out->a_max)
        return status_errf(err, err_len, JANUS_EINVAL, "a_max %d, counts say %d", out->a_max,
                           a_max);
    for (int64_t i = 0; i < nt; i++) {
        int32_t e = in->routing[i];
        if (e < 0 || e >= E || out->assign[e] < 0 ||
            out->token_replica[i] != out->assign_replica[e])
            return status_errf(
                err, err_len, JANUS_EINVAL, "token %lld choice %lld: replica %d wrong",
                (long long)(i / in->top_k), (long long)(i % in->top_k), out->token_replica[i]);
    }
    return JANUS_OK;
}

uint64_t actsched_digest(const struct actsched_output *out) {
    int64_t hdr[6] = {out->n_experts, out->n_instances, out->n_tok,
                      out->top_k,     out->n_active,    out->a_max};
    uint64_t h = hash_fnv1a(HASH_FNV_INIT, hdr, sizeof hdr);
    h = hash_fnv1a(h, out->active, sizeof(int32_t) * (size_t)out->n_active);
    h = hash_fnv1a(h, out->active_tokens, sizeof(int32_t) * (size_t)out->n_active);
    h = hash_fnv1a(h, out->assign, sizeof(int32_t) * (size_t)out->n_experts);
    h = hash_fnv1a(h, out->inst_count, sizeof(int32_t) * (size_t)out->n_instances);
    h = hash_fnv1a(h, out->token_replica,
                   sizeof(int32_t) * (size_t)(out->n_tok * (out->n_tok ? out->top_k : 0)));
    return h;
}
