// Selective dispatch (xfer.h, SPEC §4 "Selective dispatch"): the routing exchange, the plan
// of who needs which row, and the 1PC / 2PC1 / 2PC2 paths that move only those rows. Rows
// travel packed (ascending row order within each message); every receiver knows each
// message's row count from the plan, which every rank computes from the same routing and
// schedule, so no message carries a header and empty messages are not sent. The return is
// the fixed-order one (docs/PROTOCOL.md "Selective dispatch" item 6): row units — a row's
// leading experts folded where they ran, every later expert's output on its own — folded
// on in expert-id order where they meet, so a row's sum never depends on the grouping.
// Buffers: sbuf and rbuf hold the most rows one phase moves through the rank (a row goes to
// at most min(k, n_e) places and comes back as at most k units): k x max_local on an
// attention rank (x its node size on a leader), k x max_rows on a MoE rank.
// SPDX-License-Identifier: MIT
#include "comm/xfer.h"

#include "base/mem.h"
#include "comm/xfer_impl.h"

#include <string.h>

void xfer_sel_free(struct xfer *x) {
    mem_free(x->need);
    mem_free(x->need_node);
    mem_free(x->route);
    mem_free(x->rcounts);
    mem_free(x->rdispls);
    mem_free(x->sbuf);
    mem_free(x->rbuf);
    mem_free(x->roff);
    mem_free(x->slot);
    mem_free(x->slot_inst);
    mem_free(x->pfx_inst);
    mem_free(x->pfx_node);
    mem_free(x->fold);
    mem_free(x->usingle);
    x->need = x->need_node = NULL;
    x->route = NULL;
    x->rcounts = x->rdispls = NULL;
    x->sbuf = x->rbuf = NULL;
    x->roff = NULL;
    x->slot = x->slot_inst = NULL;
    x->pfx_inst = x->pfx_node = x->fold = NULL;
    x->usingle = NULL;
    x->w_all = NULL;
    x->axpy = NULL;
    x->k = 0;
}

int xfer_sel_init(struct xfer *x, int32_t k, xfer_axpy_fn axpy) {
    const struct topo *t = x->t;
    if (k < 1 || k > LIMIT_MAX_EXPERT_USED || !axpy) return JANUS_EINVAL;
    xfer_sel_free(x);
    // The most rows one phase moves through this rank: a row goes to at most min(k, n_e)
    // places and comes back as at most k row units. Attention: k x its rows (its node's on
    // a leader); MoE: k x B.
    int64_t own = t->role == TOPO_ROLE_ATTN
                      ? x->max_local * (t->is_leader ? topo_node_n(t, t->role, t->node) : 1)
                      : x->max_rows;
    int64_t rows = (int64_t)k * own;
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    if (rows * x->d > INT32_MAX || x->max_rows * 2 * k > INT32_MAX) return JANUS_ELIMIT;
    x->need = mem_calloc(MEM_TAG_COMM, (size_t)(M->n_inst * x->max_rows), 1);
    x->need_node = mem_calloc(MEM_TAG_COMM, (size_t)(M->n_node * x->max_rows), 1);
    x->route = mem_calloc(MEM_TAG_COMM, (size_t)(x->max_rows * 2 * k), sizeof *x->route);
    x->rcounts = mem_calloc(MEM_TAG_COMM, (size_t)t->n_ranks, sizeof *x->rcounts);
    x->rdispls = mem_calloc(MEM_TAG_COMM, (size_t)t->n_ranks, sizeof *x->rdispls);
    x->sbuf = mem_calloc(MEM_TAG_COMM, (size_t)(rows * x->d), sizeof(float));
    x->rbuf = mem_calloc(MEM_TAG_COMM, (size_t)(rows * x->d), sizeof(float));
    x->roff = mem_calloc(MEM_TAG_COMM, (size_t)t->n_ranks + 1, sizeof *x->roff);
    size_t pairs = (size_t)(x->max_rows * k);
    x->slot = mem_calloc(MEM_TAG_COMM, pairs, sizeof *x->slot);
    x->slot_inst = mem_calloc(MEM_TAG_COMM, pairs, sizeof *x->slot_inst);
    x->pfx_inst = mem_calloc(MEM_TAG_COMM, (size_t)x->max_rows, 1);
    x->pfx_node = mem_calloc(MEM_TAG_COMM, (size_t)x->max_rows, 1);
    x->fold = mem_calloc(MEM_TAG_COMM, pairs, 1);
    if (t->role == TOPO_ROLE_ATTN)
        x->usingle = mem_calloc(MEM_TAG_COMM, (size_t)(own * k * x->d), sizeof(float));
    if (!x->need || !x->need_node || !x->route || !x->rcounts || !x->rdispls || !x->sbuf ||
        !x->rbuf || !x->roff || !x->slot || !x->slot_inst || !x->pfx_inst || !x->pfx_node ||
        !x->fold || (t->role == TOPO_ROLE_ATTN && !x->usingle)) {
        xfer_sel_free(x);
        return JANUS_ENOMEM;
    }
    x->sel_rows = rows;
    x->k = k;
    x->axpy = axpy;
    return JANUS_OK;
}

// ---- routing exchange and plan

// 1 if job ranks a and b share a node (same role, same node).
static int same_node(const struct topo *t, int32_t a, int32_t b) {
    int32_t ra = t->role_of[a], rb = t->role_of[b];
    return ra == rb && t->side[ra].node[t->inst_of[a]] == t->side[rb].node[t->inst_of[b]];
}

int xfer_route_exchange(struct xfer *x, const int32_t *ids, const float *w, int32_t *ids_all,
                        float *w_all) {
    const struct topo *t = x->t;
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN];
    JANUS_ASSERT(x->mode == XFER_MODE_SELECTIVE && x->k > 0);
    const int64_t B = x->n_rows, k = x->k, k2 = 2 * k;
    if (B == 0) return JANUS_OK;
    for (int32_t r = 0; r < t->n_ranks; r++)
        x->rcounts[r] = x->rdispls[r] = 0;
    for (int32_t i = 0; i < A->n_inst; i++) {
        x->rcounts[A->rank[i]] = (int)(x->b[i] * k2);
        x->rdispls[A->rank[i]] = (int)(x->off[i] * k2);
    }
    if (t->role == TOPO_ROLE_ATTN) {
        int64_t bi = x->b[t->inst];
        int32_t *mine = x->route + x->off[t->inst] * k2;
        for (int64_t r = 0; r < bi; r++) {
            memcpy(mine + r * k2, ids + r * k, (size_t)k * sizeof(int32_t));
            memcpy(mine + r * k2 + k, w + r * k, (size_t)k * sizeof(float));
        }
        // Logical messages: this instance's routing to every other rank of the job.
        for (int32_t r = 0; r < t->n_ranks && bi > 0; r++) {
            if (r == t->rank) continue;
            int link = same_node(t, r, t->rank) ? XFER_LINK_LOCAL : XFER_LINK_CROSS;
            uint64_t bytes = (uint64_t)bi * (uint64_t)k * 8;
            xfer_count(x, XFER_DIR_DISPATCH, link, 1, bytes);
            x->ctr.route_msgs[link]++;
            x->ctr.route_bytes[link] += bytes;
        }
    }
    int rc = JANUS_MPI_CALL(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x->route, x->rcounts,
                                           x->rdispls, MPI_INT32_T, t->comm));
    if (rc != JANUS_OK) return rc;
    for (int64_t r = 0; r < B; r++) {
        memcpy(ids_all + r * k, x->route + r * k2, (size_t)k * sizeof(int32_t));
        memcpy(w_all + r * k, x->route + r * k2 + k, (size_t)k * sizeof(float));
    }
    return JANUS_OK;
}

void xfer_sel_plan(struct xfer *x, const int32_t *ids_all, const float *w_all,
                   const int32_t *assign) {
    const struct topo *t = x->t;
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    const int64_t B = x->n_rows, R = x->max_rows, k = x->k;
    const int32_t me = t->role == TOPO_ROLE_MOE ? t->inst : -1;
    x->w_all = w_all;
    for (int32_t g = 0; g < M->n_inst; g++)
        memset(x->need + g * R, 0, (size_t)B);
    for (int32_t n = 0; n < M->n_node; n++)
        memset(x->need_node + n * R, 0, (size_t)B);
    for (int64_t r = 0; r < B; r++) {
        const int32_t *ids = ids_all + r * k;
        int32_t *slot = x->slot + r * k, *inst = x->slot_inst + r * k;
        for (int32_t j = 0; j < k; j++) { // insertion sort of the routing indices by id
            int32_t i = j;
            for (; i > 0 && ids[slot[i - 1]] > ids[j]; i--)
                slot[i] = slot[i - 1];
            slot[i] = j;
        }
        for (int32_t j = 0; j < k; j++) {
            int32_t g = assign[ids[slot[j]]];
            JANUS_ASSERT(g >= 0 && g < M->n_inst);
            inst[j] = g;
            x->need[g * R + r] = 1;
            x->need_node[M->node[g] * R + r] = 1;
        }
        int32_t p = 1, q = 1;
        while (p < k && inst[p] == inst[0])
            p++;
        while (q < k && M->node[inst[q]] == M->node[inst[0]])
            q++;
        x->pfx_inst[r] = (uint8_t)p;
        x->pfx_node[r] = (uint8_t)q;
        if (me < 0) continue;
        uint8_t *fold = x->fold + r * k;
        memset(fold, 0, (size_t)k);
        for (int32_t j = 0; j < p && inst[0] == me; j++)
            fold[slot[j]] = 1;
    }
}

// ---- the fixed-order return: row units
// Levels of grouping: a slot belongs to a MoE instance, a MoE node, or (LV_ALL) the whole
// MoE side. A group G at a level holds, for row t, the fold of the row's leading slots in G
// (if slot 0 is in G) and one unit per later slot in G (the expert's unweighted output),
// in slot order. Units live "dense" in a struct units (fold rows f, single rows s by
// routing index, both from global row base) or packed in messages (ascending row, then
// fold first and singles in slot order).
enum { LV_INST = 0, LV_NODE = 1, LV_ALL = 2 };

struct units {
    float *f;     // fold rows: row t at f + (t - base) * d
    float *s;     // single rows: (t, routing index i) at s + ((t - base) * k + i) * d
    int64_t base; // global row of the first row
};

static int32_t slot_grp(const struct xfer *x, int lv, int64_t r, int32_t j) {
    int32_t g = x->slot_inst[r * x->k + j];
    return lv == LV_INST ? g : lv == LV_NODE ? x->t->side[TOPO_ROLE_MOE].node[g] : 0;
}

// Slots [0, pfx) of row r are folded by the time the row's units are at level lv.
static int32_t pfx_of(const struct xfer *x, int lv, int64_t r) {
    return lv == LV_INST ? x->pfx_inst[r] : lv == LV_NODE ? x->pfx_node[r] : x->k;
}

static int64_t units_of(const struct xfer *x, int lv, int32_t G, int64_t r0, int64_t n) {
    int64_t c = 0;
    for (int64_t r = r0; r < r0 + n; r++) {
        c += slot_grp(x, lv, r, 0) == G;
        for (int32_t j = pfx_of(x, lv, r); j < x->k; j++)
            c += slot_grp(x, lv, r, j) == G;
    }
    return c;
}

static float *fold_row(const struct xfer *x, const struct units *u, int64_t r) {
    return u->f + (r - u->base) * x->d;
}
static float *single_row(const struct xfer *x, const struct units *u, int64_t r, int32_t j) {
    return u->s + ((r - u->base) * x->k + x->slot[r * x->k + j]) * x->d;
}

// Packs group G's units (level lv) of rows [r0, r0 + n) at dst; returns how many.
static int64_t pack_units(const struct xfer *x, float *dst, const struct units *u, int lv,
                          int32_t G, int64_t r0, int64_t n) {
    JANUS_ASSERT(dst >= x->sbuf &&
                 (dst - x->sbuf) / x->d + units_of(x, lv, G, r0, n) <= x->sel_rows);
    const size_t row = (size_t)x->d * sizeof(float);
    int64_t c = 0;
    for (int64_t r = r0; r < r0 + n; r++) {
        if (slot_grp(x, lv, r, 0) == G) memcpy(dst + (c++) * x->d, fold_row(x, u, r), row);
        for (int32_t j = pfx_of(x, lv, r); j < x->k; j++)
            if (slot_grp(x, lv, r, j) == G) memcpy(dst + (c++) * x->d, single_row(x, u, r, j), row);
    }
    return c;
}

// The inverse: group G's packed units of rows [r0, r0 + n) into u; returns how many.
static int64_t unpack_units(const struct xfer *x, const float *src, const struct units *u, int lv,
                            int32_t G, int64_t r0, int64_t n) {
    const size_t row = (size_t)x->d * sizeof(float);
    int64_t c = 0;
    for (int64_t r = r0; r < r0 + n; r++) {
        if (slot_grp(x, lv, r, 0) == G) memcpy(fold_row(x, u, r), src + (c++) * x->d, row);
        for (int32_t j = pfx_of(x, lv, r); j < x->k; j++)
            if (slot_grp(x, lv, r, j) == G) memcpy(single_row(x, u, r, j), src + (c++) * x->d, row);
    }
    return c;
}

// Rows [r0, r0 + n) whose slot 0 is in group G of level hi (G < 0: every row): folds the
// slots from level lo's prefix to level hi's into the fold row, in slot order, with the
// engine's axpy: the same operations, in the same order, as the monolithic engine.
static void extend_folds(const struct xfer *x, const struct units *u, int lo, int hi, int32_t G,
                         int64_t r0, int64_t n) {
    for (int64_t r = r0; r < r0 + n; r++) {
        if (G >= 0 && slot_grp(x, hi, r, 0) != G) continue;
        float *f = fold_row(x, u, r);
        for (int32_t j = pfx_of(x, lo, r); j < pfx_of(x, hi, r); j++)
            x->axpy(f, x->w_all[r * x->k + x->slot[r * x->k + j]], single_row(x, u, r, j), x->d);
    }
}

int64_t xfer_sel_return_rows(const struct xfer *x, int per_node) {
    const struct topo_side *M = &x->t->side[TOPO_ROLE_MOE];
    int32_t n = per_node ? M->n_node : M->n_inst;
    int64_t s = 0;
    for (int32_t g = 0; g < n; g++)
        s += units_of(x, per_node ? LV_NODE : LV_INST, g, 0, x->n_rows);
    return s;
}

int64_t xfer_sel_fanout(const struct xfer *x, int per_node) {
    const struct topo_side *M = &x->t->side[TOPO_ROLE_MOE];
    const uint8_t *m = per_node ? x->need_node : x->need;
    int32_t n = per_node ? M->n_node : M->n_inst;
    int64_t s = 0;
    for (int32_t g = 0; g < n; g++)
        for (int64_t r = 0; r < x->n_rows; r++)
            s += m[g * x->max_rows + r];
    return s;
}

// ---- packing: rows [r0, r0 + n) of a block whose first row is global row r0, where mask
// (indexed by global row) is set.

static int64_t n_masked(const uint8_t *mask, int64_t r0, int64_t n) {
    int64_t c = 0;
    for (int64_t r = 0; r < n; r++)
        c += mask[r0 + r];
    return c;
}

static int64_t pack(const struct xfer *x, float *dst, const float *src, const uint8_t *mask,
                    int64_t r0, int64_t n) {
    JANUS_ASSERT(dst >= x->sbuf && (dst - x->sbuf) / x->d + n_masked(mask, r0, n) <= x->sel_rows);
    int64_t c = 0;
    for (int64_t r = 0; r < n; r++)
        if (mask[r0 + r]) memcpy(dst + (c++) * x->d, src + r * x->d, (size_t)x->d * sizeof(float));
    return c;
}

// Copies packed rows to their places.
static void unpack(const struct xfer *x, float *dst, const float *src, const uint8_t *mask,
                   int64_t r0, int64_t n) {
    int64_t c = 0;
    for (int64_t r = 0; r < n; r++)
        if (mask[r0 + r]) memcpy(dst + r * x->d, src + (c++) * x->d, (size_t)x->d * sizeof(float));
}

// Receives n packed rows at row `at` of rbuf.
static int recv_rows(struct xfer *x, int64_t at, int64_t n, int src, int tag) {
    JANUS_ASSERT(at >= 0 && at + n <= x->sel_rows);
    return xfer_irecv(x, x->rbuf + at * x->d, n, src, tag);
}

static const uint8_t *need_of(const struct xfer *x, int32_t g) { return x->need + g * x->max_rows; }
static const uint8_t *need_of_node(const struct xfer *x, int32_t k) {
    return x->need_node + k * x->max_rows;
}

// ---- attention side

int xfer_sel_attn_send(struct xfer *x, int32_t layer, const float *xi) {
    const struct topo *t = x->t;
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    int rc = JANUS_OK;
    if (x->n_rows == 0) return JANUS_OK;
    if (x->scheme == XFER_SCHEME_1PC) {
        // To each MoE instance the rows it needs; its row units come back.
        int64_t bi = x->b[t->inst], r0 = x->off[t->inst], at = 0, rat = 0;
        for (int32_t g = 0; g < M->n_inst && rc == JANUS_OK; g++) {
            x->roff[g] = rat;
            int64_t n = pack(x, x->sbuf + at * x->d, xi, need_of(x, g), r0, bi);
            if (n == 0) continue;
            int64_t nu = units_of(x, LV_INST, g, r0, bi);
            rc = recv_rows(x, rat, nu, xfer_moe_rank(x, g), TAG(layer, PH_RETURN));
            if (rc == JANUS_OK)
                rc = xfer_isend_link(x, x->sbuf + at * x->d, n, xfer_moe_rank(x, g),
                                     TAG(layer, PH_DISPATCH), XFER_DIR_DISPATCH, XFER_LINK_CROSS);
            at += n;
            rat += nu;
        }
        x->roff[M->n_inst] = rat;
        return rc;
    }
    const float *payload = xi;
    rc = xfer_attn_gather(x, xi, &payload);
    if (rc != JANUS_OK || !t->is_leader) return rc;
    int32_t j = t->node;
    int64_t rows = xfer_node_rows(x, j), r0 = x->node_off[j];
    if (x->scheme == XFER_SCHEME_2PC2) {
        // The designated MoE leader gets the node's rows, as in broadcast (every row is needed
        // by some MoE node), and returns the node's summed rows.
        if (rows == 0) return JANUS_OK;
        int dest = xfer_leader_rank(x, TOPO_ROLE_MOE, j % M->n_node);
        rc = xfer_irecv(x, x->stage, rows, dest, TAG(layer, PH_RETURN_ATT));
        if (rc == JANUS_OK)
            rc = xfer_isend_link(x, payload, rows, dest, TAG(layer, PH_DISPATCH), XFER_DIR_DISPATCH,
                                 XFER_LINK_CROSS);
        return rc;
    }
    // 2PC1: to each MoE leader the node's rows some instance of its node needs; the MoE
    // node's row units come back.
    int64_t at = 0, rat = 0;
    for (int32_t k = 0; k < M->n_node && rc == JANUS_OK; k++) {
        x->roff[k] = rat;
        int64_t n = pack(x, x->sbuf + at * x->d, payload, need_of_node(x, k), r0, rows);
        if (n == 0) continue;
        int dest = xfer_leader_rank(x, TOPO_ROLE_MOE, k);
        int64_t nu = units_of(x, LV_NODE, k, r0, rows);
        rc = recv_rows(x, rat, nu, dest, TAG(layer, PH_RETURN));
        if (rc == JANUS_OK)
            rc = xfer_isend_link(x, x->sbuf + at * x->d, n, dest, TAG(layer, PH_DISPATCH),
                                 XFER_DIR_DISPATCH, XFER_LINK_CROSS);
        at += n;
        rat += nu;
    }
    x->roff[M->n_node] = rat;
    return rc;
}

int xfer_sel_attn_recv(struct xfer *x, int32_t layer, float *out) {
    const struct topo *t = x->t;
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    JANUS_UNUSED(layer);
    if (x->n_rows == 0) return JANUS_OK;
    int rc = xfer_wait_all(x);
    if (rc != JANUS_OK) return rc;
    if (x->scheme == XFER_SCHEME_1PC) {
        int64_t bi = x->b[t->inst], r0 = x->off[t->inst];
        struct units u = {out, x->usingle, r0};
        for (int32_t g = 0; g < M->n_inst; g++)
            unpack_units(x, x->rbuf + x->roff[g] * x->d, &u, LV_INST, g, r0, bi);
        extend_folds(x, &u, LV_INST, LV_ALL, -1, r0, bi);
        return JANUS_OK;
    }
    if (t->is_leader && x->scheme == XFER_SCHEME_2PC1) {
        int32_t j = t->node;
        int64_t rows = xfer_node_rows(x, j), r0 = x->node_off[j];
        struct units u = {x->stage, x->usingle, r0};
        for (int32_t k = 0; k < M->n_node; k++)
            unpack_units(x, x->rbuf + x->roff[k] * x->d, &u, LV_NODE, k, r0, rows);
        extend_folds(x, &u, LV_NODE, LV_ALL, -1, r0, rows);
    }
    return xfer_attn_scatter(x, out);
}

// ---- MoE side

// Selective 2PC, within a MoE node: the leader sends each member the rows it needs (x_all
// holds at least the node's rows on the leader); members unpack them into x_all.
static int local_dispatch(struct xfer *x, int32_t layer, float *x_all) {
    const struct topo *t = x->t;
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    int32_t first = M->node_first[t->node], n_node = M->node_first[t->node + 1] - first;
    if (n_node == 1) return JANUS_OK;
    const int64_t B = x->n_rows;
    int rc = JANUS_OK;
    if (t->is_leader) {
        int64_t at = 0;
        for (int32_t p = 1; p < n_node && rc == JANUS_OK; p++) {
            int32_t g = M->member[first + p];
            int64_t n = pack(x, x->sbuf + at * x->d, x_all, need_of(x, g), 0, B);
            if (n)
                rc = xfer_isend_link(x, x->sbuf + at * x->d, n, xfer_moe_rank(x, g),
                                     TAG(layer, PH_SEL_LOCAL), XFER_DIR_DISPATCH, XFER_LINK_LOCAL);
            at += n;
        }
        int rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    int64_t n = n_masked(need_of(x, t->inst), 0, B);
    if (n == 0) return JANUS_OK;
    rc = recv_rows(x, 0, n, xfer_moe_rank(x, M->member[first]), TAG(layer, PH_SEL_LOCAL));
    int rc2 = xfer_wait_all(x);
    if (rc == JANUS_OK) rc = rc2;
    if (rc == JANUS_OK) unpack(x, x_all, x->rbuf, need_of(x, t->inst), 0, B);
    return rc;
}

// Selective 2PC, within a MoE node: members send the leader their row units; the leader
// takes them into its own (u) and folds its node's runs (instance level to node level).
static int local_return(struct xfer *x, int32_t layer, const struct units *u) {
    const struct topo *t = x->t;
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    int32_t first = M->node_first[t->node], n_node = M->node_first[t->node + 1] - first;
    const int64_t B = x->n_rows;
    if (n_node == 1) {
        extend_folds(x, u, LV_INST, LV_NODE, t->node, 0, B); // no-op: one instance, one node
        return JANUS_OK;
    }
    int rc = JANUS_OK;
    if (!t->is_leader) {
        int64_t n = pack_units(x, x->sbuf, u, LV_INST, t->inst, 0, B);
        if (n)
            rc = xfer_isend_link(x, x->sbuf, n, xfer_moe_rank(x, M->member[first]),
                                 TAG(layer, PH_SEL_LOCAL_R), XFER_DIR_RETURN, XFER_LINK_LOCAL);
        int rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    int64_t at = 0;
    for (int32_t p = 1; p < n_node && rc == JANUS_OK; p++) {
        int32_t g = M->member[first + p];
        int64_t n = units_of(x, LV_INST, g, 0, B);
        x->roff[p] = at;
        if (n) rc = recv_rows(x, at, n, xfer_moe_rank(x, g), TAG(layer, PH_SEL_LOCAL_R));
        at += n;
    }
    int rc2 = xfer_wait_all(x);
    if (rc == JANUS_OK) rc = rc2;
    for (int32_t p = 1; p < n_node && rc == JANUS_OK; p++)
        unpack_units(x, x->rbuf + x->roff[p] * x->d, u, LV_INST, M->member[first + p], 0, B);
    if (rc == JANUS_OK) extend_folds(x, u, LV_INST, LV_NODE, t->node, 0, B);
    return rc;
}

int xfer_sel_moe_recv(struct xfer *x, int32_t layer, float *x_all) {
    const struct topo *t = x->t;
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN], *M = &t->side[TOPO_ROLE_MOE];
    int32_t N_a = A->n_node, N_e = M->n_node, k = t->node;
    int rc = JANUS_OK, rc2;
    if (x->n_rows == 0) return JANUS_OK;
    if (x->scheme == XFER_SCHEME_1PC) {
        const uint8_t *mine = need_of(x, t->inst);
        int64_t at = 0;
        for (int32_t i = 0; i < A->n_inst && rc == JANUS_OK; i++) {
            x->roff[i] = at;
            int64_t n = n_masked(mine, x->off[i], x->b[i]);
            if (n) rc = recv_rows(x, at, n, xfer_attn_rank(x, i), TAG(layer, PH_DISPATCH));
            at += n;
        }
        rc2 = xfer_wait_all(x);
        if (rc == JANUS_OK) rc = rc2;
        for (int32_t i = 0; i < A->n_inst && rc == JANUS_OK; i++)
            unpack(x, x_all + x->off[i] * x->d, x->rbuf + x->roff[i] * x->d, mine, x->off[i],
                   x->b[i]);
        return rc;
    }
    if (t->is_leader && x->scheme == XFER_SCHEME_2PC1) {
        const uint8_t *mine = need_of_node(x, k);
        int64_t at = 0;
        for (int32_t j = 0; j < N_a && rc == JANUS_OK; j++) {
            x->roff[j] = at;
            int64_t n = n_masked(mine, x->node_off[j], xfer_node_rows(x, j));
            if (n)
                rc = recv_rows(x, at, n, xfer_leader_rank(x, TOPO_ROLE_ATTN, j),
                               TAG(layer, PH_DISPATCH));
            at += n;
        }
        rc2 = xfer_wait_all(x);
        if (rc == JANUS_OK) rc = rc2;
        for (int32_t j = 0; j < N_a && rc == JANUS_OK; j++)
            unpack(x, x_all + x->node_off[j] * x->d, x->rbuf + x->roff[j] * x->d, mine,
                   x->node_off[j], xfer_node_rows(x, j));
    } else if (t->is_leader) { // 2PC2
        int32_t D = JANUS_MIN(N_a, N_e);
        const uint8_t *mine = need_of_node(x, k);
        // A designated leader receives its attention nodes' rows (all of them).
        for (int32_t j = k; j < N_a && rc == JANUS_OK; j += N_e)
            if (xfer_node_rows(x, j))
                rc = xfer_irecv(x, x_all + x->node_off[j] * x->d, xfer_node_rows(x, j),
                                xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_DISPATCH));
        rc2 = xfer_wait_all(x);
        if (rc == JANUS_OK) rc = rc2;
        // Then each designated leader sends every other MoE leader the rows of its attention
        // nodes that the other's node needs, packed in ascending j and row.
        int64_t at = 0;
        for (int32_t k2 = 0; k2 < D && rc == JANUS_OK; k2++) {
            x->roff[k2] = at;
            if (k2 == k) continue;
            int64_t n = 0;
            for (int32_t j = k2; j < N_a; j += N_e)
                n += n_masked(mine, x->node_off[j], xfer_node_rows(x, j));
            if (n)
                rc = recv_rows(x, at, n, xfer_leader_rank(x, TOPO_ROLE_MOE, k2),
                               TAG(layer, PH_DISPATCH_LD));
            at += n;
        }
        int64_t sat = 0;
        for (int32_t k2 = 0; k2 < N_e && k < D && rc == JANUS_OK; k2++) {
            if (k2 == k) continue;
            int64_t n = 0;
            for (int32_t j = k; j < N_a; j += N_e)
                n += pack(x, x->sbuf + (sat + n) * x->d, x_all + x->node_off[j] * x->d,
                          need_of_node(x, k2), x->node_off[j], xfer_node_rows(x, j));
            if (n)
                rc = xfer_isend_link(
                    x, x->sbuf + sat * x->d, n, xfer_leader_rank(x, TOPO_ROLE_MOE, k2),
                    TAG(layer, PH_DISPATCH_LD), XFER_DIR_DISPATCH, XFER_LINK_CROSS);
            sat += n;
        }
        rc2 = xfer_wait_all(x);
        if (rc == JANUS_OK) rc = rc2;
        for (int32_t k2 = 0; k2 < D && rc == JANUS_OK; k2++) {
            if (k2 == k) continue;
            int64_t c = 0;
            for (int32_t j = k2; j < N_a; j += N_e) {
                unpack(x, x_all + x->node_off[j] * x->d, x->rbuf + (x->roff[k2] + c) * x->d, mine,
                       x->node_off[j], xfer_node_rows(x, j));
                c += n_masked(mine, x->node_off[j], xfer_node_rows(x, j));
            }
        }
    }
    if (rc != JANUS_OK) return rc;
    return local_dispatch(x, layer, x_all);
}

int xfer_sel_moe_send(struct xfer *x, int32_t layer, float *partial, float *single) {
    const struct topo *t = x->t;
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN], *M = &t->side[TOPO_ROLE_MOE];
    int32_t N_a = A->n_node, N_e = M->n_node, k = t->node;
    int rc = JANUS_OK, rc2;
    if (x->n_rows == 0) return JANUS_OK;
    JANUS_ASSERT(single != NULL);
    const struct units u = {partial, single, 0};
    if (x->scheme == XFER_SCHEME_1PC) {
        int64_t at = 0;
        for (int32_t i = 0; i < A->n_inst && rc == JANUS_OK; i++) {
            int64_t n =
                pack_units(x, x->sbuf + at * x->d, &u, LV_INST, t->inst, x->off[i], x->b[i]);
            if (n)
                rc = xfer_isend_link(x, x->sbuf + at * x->d, n, xfer_attn_rank(x, i),
                                     TAG(layer, PH_RETURN), XFER_DIR_RETURN, XFER_LINK_CROSS);
            at += n;
        }
        rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    rc = local_return(x, layer, &u);
    if (rc != JANUS_OK || !t->is_leader) return rc;
    if (x->scheme == XFER_SCHEME_2PC1) {
        int64_t at = 0;
        for (int32_t j = 0; j < N_a && rc == JANUS_OK; j++) {
            int64_t n = pack_units(x, x->sbuf + at * x->d, &u, LV_NODE, k, x->node_off[j],
                                   xfer_node_rows(x, j));
            if (n)
                rc = xfer_isend_link(x, x->sbuf + at * x->d, n,
                                     xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_RETURN),
                                     XFER_DIR_RETURN, XFER_LINK_CROSS);
            at += n;
        }
        rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    // 2PC2: every MoE leader sends each designated leader (not itself) its node's row units
    // of the attention nodes designated there; the designated leader takes them into its own
    // (global rows: each slot belongs to one node, so nothing collides), folds every row to
    // the end and sends each of its attention nodes its rows.
    int32_t D = JANUS_MIN(N_a, N_e);
    int64_t at = 0;
    for (int32_t k2 = 0; k2 < N_e && k < D && rc == JANUS_OK; k2++) {
        x->roff[k2] = at;
        if (k2 == k) continue;
        int64_t n = 0;
        for (int32_t j = k; j < N_a; j += N_e)
            n += units_of(x, LV_NODE, k2, x->node_off[j], xfer_node_rows(x, j));
        if (n)
            rc = recv_rows(x, at, n, xfer_leader_rank(x, TOPO_ROLE_MOE, k2),
                           TAG(layer, PH_RETURN_LD));
        at += n;
    }
    int64_t sat = 0;
    for (int32_t k2 = 0; k2 < D && rc == JANUS_OK; k2++) {
        if (k2 == k) continue;
        int64_t n = 0;
        for (int32_t j = k2; j < N_a; j += N_e)
            n += pack_units(x, x->sbuf + (sat + n) * x->d, &u, LV_NODE, k, x->node_off[j],
                            xfer_node_rows(x, j));
        if (n)
            rc = xfer_isend_link(x, x->sbuf + sat * x->d, n, xfer_leader_rank(x, TOPO_ROLE_MOE, k2),
                                 TAG(layer, PH_RETURN_LD), XFER_DIR_RETURN, XFER_LINK_CROSS);
        sat += n;
    }
    rc2 = xfer_wait_all(x);
    if (rc == JANUS_OK) rc = rc2;
    if (rc != JANUS_OK || k >= D) return rc;
    for (int32_t k2 = 0; k2 < N_e; k2++) {
        if (k2 == k) continue;
        int64_t c = 0;
        for (int32_t j = k; j < N_a; j += N_e)
            c += unpack_units(x, x->rbuf + (x->roff[k2] + c) * x->d, &u, LV_NODE, k2,
                              x->node_off[j], xfer_node_rows(x, j));
    }
    for (int32_t j = k; j < N_a; j += N_e)
        extend_folds(x, &u, LV_NODE, LV_ALL, -1, x->node_off[j], xfer_node_rows(x, j));
    for (int32_t j = k; j < N_a && rc == JANUS_OK; j += N_e)
        if (xfer_node_rows(x, j))
            rc = xfer_isend_link(x, partial + x->node_off[j] * x->d, xfer_node_rows(x, j),
                                 xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_RETURN_ATT),
                                 XFER_DIR_RETURN, XFER_LINK_CROSS);
    rc2 = xfer_wait_all(x);
    return rc != JANUS_OK ? rc : rc2;
}
