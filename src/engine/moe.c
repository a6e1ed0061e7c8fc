// MoE-instance side: gate for all tokens, grouped expert execution (moe.h).
// Scratch comes from an arena reserved at init; the step allocates nothing (SPEC §3).
// SPDX-License-Identifier: MIT
#include "engine/moe.h"

#include "base/mem.h"
#include "base/status.h"
#include "engine/gate.h"

#include <string.h>

// Rows of the group buffers: every (token, slot) pair of a step when that is small (a
// decode step: all activated experts in one group), else max_tokens and at least
// MOE_GROUP_MIN_ROWS (large prefill steps run in several groups).
#define MOE_GROUP_MIN_ROWS 512

int moe_init(struct moe *mo, const struct model *m, const struct linear_ctx *lin,
             int64_t max_tokens) {
    memset(mo, 0, sizeof *mo);
    const struct hparams *hp = &m->hp;
    if (max_tokens < 1 || hp->n_expert < 1) return JANUS_EINVAL;
    mo->m = m;
    mo->lin = lin;
    mo->max_tokens = max_tokens;
    const int64_t T = max_tokens, X = hp->n_expert, E = hp->n_embd, F = hp->n_ff_exp;
    const int64_t k = hp->n_expert_used;
    const int64_t R = JANUS_MIN(T * k, JANUS_MAX(T, MOE_GROUP_MIN_ROWS));
    mo->group_rows = R;
    const size_t sizes[] = {(size_t)(T * X) * 4, (size_t)gate_scratch_floats(X) * 4,
                            (size_t)(X + 1) * 4, (size_t)(T * k) * 4,
                            (size_t)(T * k) * 4, (size_t)(R * E) * 4,
                            (size_t)(R * F) * 4, (size_t)(R * F) * 4,
                            (size_t)(R * E) * 4, (size_t)(T * k) * 4};
    size_t cap = 0;
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(sizes); i++)
        cap += (sizes[i] + 63) & ~(size_t)63;
    int rc = arena_init(&mo->arena, MEM_TAG_ENGINE, cap);
    if (rc != JANUS_OK) {
        memset(mo, 0, sizeof *mo);
        return rc;
    }
    void **bufs[] = {(void **)&mo->r,   (void **)&mo->gscratch, (void **)&mo->count,
                     (void **)&mo->tok, (void **)&mo->tw,       (void **)&mo->xg,
                     (void **)&mo->g,   (void **)&mo->u,        (void **)&mo->y,
                     (void **)&mo->pair};
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(bufs); i++) {
        *bufs[i] = arena_alloc(&mo->arena, sizes[i]);
        JANUS_ASSERT(*bufs[i]);
    }
    // int8 path: a group's gate/up run quantises its R gathered rows of E, the down run R
    // rows of F (the router is F32: always exact).
    rc = linear_reserve(lin, R * JANUS_MAX(E, F));
    if (rc != JANUS_OK) {
        moe_free(mo);
        return rc;
    }
    return JANUS_OK;
}

void moe_free(struct moe *mo) {
    arena_free(&mo->arena);
    memset(mo, 0, sizeof *mo);
}

int moe_routing_init(struct moe_routing *rt, const struct model *m, int64_t max_tokens) {
    memset(rt, 0, sizeof *rt);
    const int64_t k = m->hp.n_expert_used;
    if (max_tokens < 1 || k < 1) return JANUS_EINVAL;
    rt->ids = mem_calloc(MEM_TAG_ENGINE, (size_t)(max_tokens * k), sizeof *rt->ids);
    rt->w = mem_calloc(MEM_TAG_ENGINE, (size_t)(max_tokens * k), sizeof *rt->w);
    if (!rt->ids || !rt->w) {
        moe_routing_free(rt);
        return JANUS_ENOMEM;
    }
    rt->k = k;
    return JANUS_OK;
}

void moe_routing_free(struct moe_routing *rt) {
    mem_free(rt->ids);
    mem_free(rt->w);
    memset(rt, 0, sizeof *rt);
}

void moe_gate_rows(const struct model *m, const struct linear_ctx *lin, int64_t l, const float *x,
                   int64_t n, float *r, float *gscratch, struct moe_routing *rt) {
    const struct hparams *hp = &m->hp;
    const struct model_layer *L = &m->layers[l];
    JANUS_ASSERT(L->is_moe && n >= 0 && rt->k == hp->n_expert_used);
    const int64_t X = hp->n_expert, k = hp->n_expert_used;
    linear(lin, r, X, &L->router, x, n);
    struct gate_params gp;
    gate_params_from_hparams(&gp, hp, L->exp_probs_b);
    for (int64_t t = 0; t < n; t++)
        gate_select(&gp, r + t * X, gscratch, rt->ids + t * k, rt->w + t * k);
    rt->n_tok = n;
}

void moe_gate(struct moe *mo, int64_t l, const float *x, int64_t n, struct moe_routing *rt) {
    JANUS_ASSERT(n <= mo->max_tokens);
    moe_gate_rows(mo->m, mo->lin, l, x, n, mo->r, mo->gscratch, rt);
}

// Counting sort of (t, j) pairs by expert: count[e]..count[e+1] index tok/tw.
static void group_by_expert(struct moe *mo, const struct moe_routing *rt, int64_t X) {
    const int64_t n = rt->n_tok, k = rt->k;
    memset(mo->count, 0, (size_t)(X + 1) * sizeof(int32_t));
    for (int64_t i = 0; i < n * k; i++)
        mo->count[rt->ids[i] + 1]++;
    for (int64_t e = 0; e < X; e++)
        mo->count[e + 1] += mo->count[e];
    // Fill in token order using count[e] as a cursor, then shift back.
    for (int64_t i = 0; i < n * k; i++) {
        const int32_t e = rt->ids[i];
        const int32_t at = mo->count[e]++;
        mo->tok[at] = (int32_t)(i / k);
        mo->tw[at] = rt->w[i];
        mo->pair[at] = (int32_t)i;
    }
    for (int64_t e = X; e > 0; e--)
        mo->count[e] = mo->count[e - 1];
    mo->count[0] = 0;
}

// One group: experts ids[0..n) with their token rows at row offsets off[] of the group
// buffers. Gathers, runs gate/up+SwiGLU then down as two pool runs, scatter-adds (or, for
// pairs not folded, copies the output to single).
static void run_group(struct moe *mo, const struct model_layer *L, const float *x,
                      const int32_t *ids, const int64_t *off, int n, const uint8_t *fold,
                      float *out, float *single) {
    const struct hparams *hp = &mo->m->hp;
    const int64_t E = hp->n_embd, F = hp->n_ff_exp;
    JANUS_ASSERT(n >= 1 && n <= LINEAR_MAX_OPS);
    struct wview wg[LINEAR_MAX_OPS], wu[LINEAR_MAX_OPS], wd[LINEAR_MAX_OPS];
    struct linear_op up[LINEAR_MAX_OPS], down[LINEAR_MAX_OPS];
    for (int j = 0; j < n; j++) {
        const int64_t e = ids[j], c0 = mo->count[e], c = mo->count[e + 1] - c0;
        float *xg = mo->xg + off[j] * E;
        for (int64_t i = 0; i < c; i++)
            memcpy(xg + i * E, x + (int64_t)mo->tok[c0 + i] * E, (size_t)E * sizeof(float));
        wg[j] = wview3_mat(&L->gate_exps, e);
        wu[j] = wview3_mat(&L->up_exps, e);
        wd[j] = wview3_mat(&L->down_exps, e);
        up[j] = (struct linear_op){.y = mo->g + off[j] * F,
                                   .ldy = F,
                                   .w = &wg[j],
                                   .x = xg,
                                   .n_tok = c,
                                   .wu = &wu[j],
                                   .u = mo->u + off[j] * F};
        down[j] = (struct linear_op){
            .y = mo->y + off[j] * E, .ldy = E, .w = &wd[j], .x = mo->g + off[j] * F, .n_tok = c};
    }
    linear_many(mo->lin, up, n);
    linear_many(mo->lin, down, n);
    const struct kern_ops *K = mo->lin->kern;
    for (int j = 0; j < n; j++) {
        const int64_t e = ids[j], c0 = mo->count[e], c = mo->count[e + 1] - c0;
        for (int64_t i = 0; i < c; i++) {
            const float *y = mo->y + (off[j] + i) * E;
            const int32_t p = mo->pair[c0 + i];
            if (fold && !fold[p])
                memcpy(single + (int64_t)p * E, y, (size_t)E * sizeof(float));
            else
                K->axpy(out + (int64_t)mo->tok[c0 + i] * E, mo->tw[c0 + i], y, E);
        }
    }
}

void moe_experts(struct moe *mo, int64_t l, const float *x, int64_t n, const struct moe_routing *rt,
                 const uint8_t *run_here, float *out) {
    moe_experts_split(mo, l, x, n, rt, run_here, NULL, out, NULL);
}

void moe_experts_split(struct moe *mo, int64_t l, const float *x, int64_t n,
                       const struct moe_routing *rt, const uint8_t *run_here, const uint8_t *fold,
                       float *out, float *single) {
    const struct hparams *hp = &mo->m->hp;
    const struct model_layer *L = &mo->m->layers[l];
    JANUS_ASSERT(L->is_moe && rt->n_tok == n && n <= mo->max_tokens);
    JANUS_ASSERT(!fold || single);
    const int64_t X = hp->n_expert, E = hp->n_embd;
    memset(out, 0, (size_t)(n * E) * sizeof(float));
    for (int64_t i = 0; i < n * rt->k; i++)
        JANUS_ASSERT(rt->ids[i] >= 0 && rt->ids[i] < X);
    group_by_expert(mo, rt, X);
    int32_t ids[LINEAR_MAX_OPS];
    int64_t off[LINEAR_MAX_OPS], rows = 0;
    int n_grp = 0;
    for (int64_t e = 0; e < X; e++) {
        const int64_t c = mo->count[e + 1] - mo->count[e];
        if (c == 0 || (run_here && !run_here[e])) continue;
        if (n_grp == LINEAR_MAX_OPS || rows + c > mo->group_rows) { // c <= max_tokens: fits
            run_group(mo, L, x, ids, off, n_grp, fold, out, single);
            n_grp = 0, rows = 0;
        }
        ids[n_grp] = (int32_t)e;
        off[n_grp++] = rows;
        rows += c;
    }
    if (n_grp) run_group(mo, L, x, ids, off, n_grp, fold, out, single);
}

int64_t moe_n_active(struct moe *mo, const struct moe_routing *rt, const uint8_t *run_here) {
    const int64_t X = mo->m->hp.n_expert;
    int32_t *seen = mo->count; // scratch (X + 1); rebuilt by every moe_experts call
    memset(seen, 0, (size_t)(X + 1) * sizeof(int32_t));
    int64_t n = 0;
    for (int64_t i = 0; i < rt->n_tok * rt->k; i++) {
        const int32_t e = rt->ids[i];
        JANUS_ASSERT(e >= 0 && e < X);
        if (seen[e] || (run_here && !run_here[e])) continue;
        seen[e] = 1;
        n++;
    }
    return n;
}
