// Selective dispatch (xfer.h, SPEC §4 "Selective dispatch"): the routing exchange, the plan
// of who needs which row, and the 1PC / 2PC1 / 2PC2 paths that move only those rows.
// Rows travel packed (ascending row order within each message); every receiver knows each
// message's row count from the plan, which every rank computes from the same routing and
// schedule, so no message carries a header and empty messages are not sent. Sums: the
// attention side adds the contributions of one row in MoE-instance order (1PC) or MoE-node
// order (2PC), a MoE leader its members' rows in node order; the one-instance partials
// themselves are summed by expert id (engine/moe.h). Buffers: sbuf and rbuf hold the most
// rows one phase moves through the rank, a row going to at most kk = min(k, n_e) places:
// kk x max_local on an attention rank (x its node size on a leader), max_rows on a MoE
// member, kk x max_rows on a MoE leader.
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
    x->need = x->need_node = NULL;
    x->route = NULL;
    x->rcounts = x->rdispls = NULL;
    x->sbuf = x->rbuf = NULL;
    x->roff = NULL;
    x->k = 0;
}

int xfer_sel_init(struct xfer *x, int32_t k) {
    const struct topo *t = x->t;
    if (k < 1 || k > LIMIT_MAX_EXPERT_USED) return JANUS_EINVAL;
    xfer_sel_free(x);
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    int64_t kk = JANUS_MIN((int64_t)k, (int64_t)M->n_inst);
    // The most rows one phase moves through this rank (a row goes to at most kk places):
    // attention: kk x its rows (its node's on a leader); MoE member: B; MoE leader: kk x B.
    int64_t rows = t->role == TOPO_ROLE_ATTN
                       ? kk * x->max_local * (t->is_leader ? topo_node_n(t, t->role, t->node) : 1)
                       : (t->is_leader ? kk : 1) * x->max_rows;
    if (rows * x->d > INT32_MAX || x->max_rows * 2 * k > INT32_MAX) return JANUS_ELIMIT;
    x->need = mem_calloc(MEM_TAG_COMM, (size_t)(M->n_inst * x->max_rows), 1);
    x->need_node = mem_calloc(MEM_TAG_COMM, (size_t)(M->n_node * x->max_rows), 1);
    x->route = mem_calloc(MEM_TAG_COMM, (size_t)(x->max_rows * 2 * k), sizeof *x->route);
    x->rcounts = mem_calloc(MEM_TAG_COMM, (size_t)t->n_ranks, sizeof *x->rcounts);
    x->rdispls = mem_calloc(MEM_TAG_COMM, (size_t)t->n_ranks, sizeof *x->rdispls);
    x->sbuf = mem_calloc(MEM_TAG_COMM, (size_t)(rows * x->d), sizeof(float));
    x->rbuf = mem_calloc(MEM_TAG_COMM, (size_t)(rows * x->d), sizeof(float));
    x->roff = mem_calloc(MEM_TAG_COMM, (size_t)t->n_ranks + 1, sizeof *x->roff);
    if (!x->need || !x->need_node || !x->route || !x->rcounts || !x->rdispls || !x->sbuf ||
        !x->rbuf || !x->roff) {
        xfer_sel_free(x);
        return JANUS_ENOMEM;
    }
    x->sel_rows = rows;
    x->k = k;
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

void xfer_sel_plan(struct xfer *x, const int32_t *ids_all, const int32_t *assign) {
    const struct topo_side *M = &x->t->side[TOPO_ROLE_MOE];
    const int64_t B = x->n_rows, R = x->max_rows, k = x->k;
    for (int32_t g = 0; g < M->n_inst; g++)
        memset(x->need + g * R, 0, (size_t)B);
    for (int32_t n = 0; n < M->n_node; n++)
        memset(x->need_node + n * R, 0, (size_t)B);
    for (int64_t r = 0; r < B; r++)
        for (int64_t j = 0; j < k; j++) {
            int32_t g = assign[ids_all[r * k + j]];
            JANUS_ASSERT(g >= 0 && g < M->n_inst);
            x->need[g * R + r] = 1;
            x->need_node[M->node[g] * R + r] = 1;
        }
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

// add 0: copy packed rows to their places; add 1: add them there.
static void unpack(const struct xfer *x, float *dst, const float *src, const uint8_t *mask,
                   int64_t r0, int64_t n, int add) {
    int64_t c = 0;
    for (int64_t r = 0; r < n; r++) {
        if (!mask[r0 + r]) continue;
        if (add)
            xfer_add_into(dst + r * x->d, src + c * x->d, x->d);
        else
            memcpy(dst + r * x->d, src + c * x->d, (size_t)x->d * sizeof(float));
        c++;
    }
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
        // To each MoE instance the rows it needs; its partial rows come back in the same order.
        int64_t bi = x->b[t->inst], r0 = x->off[t->inst], at = 0;
        for (int32_t g = 0; g < M->n_inst && rc == JANUS_OK; g++) {
            x->roff[g] = at;
            int64_t n = pack(x, x->sbuf + at * x->d, xi, need_of(x, g), r0, bi);
            if (n == 0) continue;
            rc = recv_rows(x, at, n, xfer_moe_rank(x, g), TAG(layer, PH_RETURN));
            if (rc == JANUS_OK)
                rc = xfer_isend_link(x, x->sbuf + at * x->d, n, xfer_moe_rank(x, g),
                                     TAG(layer, PH_DISPATCH), XFER_DIR_DISPATCH, XFER_LINK_CROSS);
            at += n;
        }
        x->roff[M->n_inst] = at;
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
    // 2PC1: to each MoE leader the node's rows some instance of its node needs.
    int64_t at = 0;
    for (int32_t k = 0; k < M->n_node && rc == JANUS_OK; k++) {
        x->roff[k] = at;
        int64_t n = pack(x, x->sbuf + at * x->d, payload, need_of_node(x, k), r0, rows);
        if (n == 0) continue;
        int dest = xfer_leader_rank(x, TOPO_ROLE_MOE, k);
        rc = recv_rows(x, at, n, dest, TAG(layer, PH_RETURN));
        if (rc == JANUS_OK)
            rc = xfer_isend_link(x, x->sbuf + at * x->d, n, dest, TAG(layer, PH_DISPATCH),
                                 XFER_DIR_DISPATCH, XFER_LINK_CROSS);
        at += n;
    }
    x->roff[M->n_node] = at;
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
        if (bi) memset(out, 0, (size_t)(bi * x->d) * sizeof(float));
        for (int32_t g = 0; g < M->n_inst; g++) // MoE-instance order, as in broadcast 1PC
            unpack(x, out, x->rbuf + x->roff[g] * x->d, need_of(x, g), r0, bi, 1);
        return JANUS_OK;
    }
    if (t->is_leader && x->scheme == XFER_SCHEME_2PC1) {
        int32_t j = t->node;
        int64_t rows = xfer_node_rows(x, j), r0 = x->node_off[j];
        if (rows) memset(x->stage, 0, (size_t)(rows * x->d) * sizeof(float));
        for (int32_t k = 0; k < M->n_node; k++) // MoE-node order
            unpack(x, x->stage, x->rbuf + x->roff[k] * x->d, need_of_node(x, k), r0, rows, 1);
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
    if (rc == JANUS_OK) unpack(x, x_all, x->rbuf, need_of(x, t->inst), 0, B, 0);
    return rc;
}

// Selective 2PC, within a MoE node: members send the leader their partial rows (the rows
// they need); the leader adds them to its own partial in node order.
static int local_return(struct xfer *x, int32_t layer, float *partial) {
    const struct topo *t = x->t;
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    int32_t first = M->node_first[t->node], n_node = M->node_first[t->node + 1] - first;
    if (n_node == 1) return JANUS_OK;
    const int64_t B = x->n_rows;
    int rc = JANUS_OK;
    if (!t->is_leader) {
        int64_t n = pack(x, x->sbuf, partial, need_of(x, t->inst), 0, B);
        if (n)
            rc = xfer_isend_link(x, x->sbuf, n, xfer_moe_rank(x, M->member[first]),
                                 TAG(layer, PH_SEL_LOCAL_R), XFER_DIR_RETURN, XFER_LINK_LOCAL);
        int rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    int64_t at = 0;
    for (int32_t p = 1; p < n_node && rc == JANUS_OK; p++) {
        int32_t g = M->member[first + p];
        int64_t n = n_masked(need_of(x, g), 0, B);
        x->roff[p] = at;
        if (n) rc = recv_rows(x, at, n, xfer_moe_rank(x, g), TAG(layer, PH_SEL_LOCAL_R));
        at += n;
    }
    int rc2 = xfer_wait_all(x);
    if (rc == JANUS_OK) rc = rc2;
    for (int32_t p = 1; p < n_node && rc == JANUS_OK; p++)
        unpack(x, partial, x->rbuf + x->roff[p] * x->d, need_of(x, M->member[first + p]), 0, B, 1);
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
                   x->b[i], 0);
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
                   x->node_off[j], xfer_node_rows(x, j), 0);
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
                       x->node_off[j], xfer_node_rows(x, j), 0);
                c += n_masked(mine, x->node_off[j], xfer_node_rows(x, j));
            }
        }
    }
    if (rc != JANUS_OK) return rc;
    return local_dispatch(x, layer, x_all);
}

int xfer_sel_moe_send(struct xfer *x, int32_t layer, float *partial) {
    const struct topo *t = x->t;
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN], *M = &t->side[TOPO_ROLE_MOE];
    int32_t N_a = A->n_node, N_e = M->n_node, k = t->node;
    int rc = JANUS_OK, rc2;
    if (x->n_rows == 0) return JANUS_OK;
    if (x->scheme == XFER_SCHEME_1PC) {
        const uint8_t *mine = need_of(x, t->inst);
        int64_t at = 0;
        for (int32_t i = 0; i < A->n_inst && rc == JANUS_OK; i++) {
            int64_t n =
                pack(x, x->sbuf + at * x->d, partial + x->off[i] * x->d, mine, x->off[i], x->b[i]);
            if (n)
                rc = xfer_isend_link(x, x->sbuf + at * x->d, n, xfer_attn_rank(x, i),
                                     TAG(layer, PH_RETURN), XFER_DIR_RETURN, XFER_LINK_CROSS);
            at += n;
        }
        rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    rc = local_return(x, layer, partial);
    if (rc != JANUS_OK || !t->is_leader) return rc;
    const uint8_t *mine = need_of_node(x, k);
    if (x->scheme == XFER_SCHEME_2PC1) {
        int64_t at = 0;
        for (int32_t j = 0; j < N_a && rc == JANUS_OK; j++) {
            int64_t n = pack(x, x->sbuf + at * x->d, partial + x->node_off[j] * x->d, mine,
                             x->node_off[j], xfer_node_rows(x, j));
            if (n)
                rc = xfer_isend_link(x, x->sbuf + at * x->d, n,
                                     xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_RETURN),
                                     XFER_DIR_RETURN, XFER_LINK_CROSS);
            at += n;
        }
        rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    // 2PC2: every MoE leader sends each designated leader (not itself) its node's partial
    // rows of the attention nodes designated there, those its node needs; the designated
    // leader sums them in MoE-node order and sends each of its attention nodes its rows.
    int32_t D = JANUS_MIN(N_a, N_e);
    int64_t at = 0;
    for (int32_t k2 = 0; k2 < N_e && k < D && rc == JANUS_OK; k2++) {
        x->roff[k2] = at;
        if (k2 == k) continue;
        int64_t n = 0;
        for (int32_t j = k; j < N_a; j += N_e)
            n += n_masked(need_of_node(x, k2), x->node_off[j], xfer_node_rows(x, j));
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
            n += pack(x, x->sbuf + (sat + n) * x->d, partial + x->node_off[j] * x->d, mine,
                      x->node_off[j], xfer_node_rows(x, j));
        if (n)
            rc = xfer_isend_link(x, x->sbuf + sat * x->d, n, xfer_leader_rank(x, TOPO_ROLE_MOE, k2),
                                 TAG(layer, PH_RETURN_LD), XFER_DIR_RETURN, XFER_LINK_CROSS);
        sat += n;
    }
    rc2 = xfer_wait_all(x);
    if (rc == JANUS_OK) rc = rc2;
    if (rc != JANUS_OK || k >= D) return rc;
    // Sum into pack (the designated attention nodes' rows, packed by pack_off), node order.
    float *acc = x->pack + x->desig_off[k] * x->d;
    int64_t s_own = x->desig_off[k + 1] - x->desig_off[k];
    if (s_own) memset(acc, 0, (size_t)(s_own * x->d) * sizeof(float));
    for (int32_t k2 = 0; k2 < N_e; k2++) {
        int64_t c = 0;
        for (int32_t j = k; j < N_a; j += N_e) {
            float *dst = acc + x->pack_off[j] * x->d;
            int64_t r0 = x->node_off[j], rows = xfer_node_rows(x, j);
            if (k2 == k) {
                xfer_add_into(dst, partial + r0 * x->d, rows * x->d);
                continue;
            }
            unpack(x, dst, x->rbuf + (x->roff[k2] + c) * x->d, need_of_node(x, k2), r0, rows, 1);
            c += n_masked(need_of_node(x, k2), r0, rows);
        }
    }
    for (int32_t j = k; j < N_a && rc == JANUS_OK; j += N_e)
        if (xfer_node_rows(x, j))
            rc = xfer_isend_link(x, acc + x->pack_off[j] * x->d, xfer_node_rows(x, j),
                                 xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_RETURN_ATT),
                                 XFER_DIR_RETURN, XFER_LINK_CROSS);
    rc2 = xfer_wait_all(x);
    return rc != JANUS_OK ? rc : rc2;
}
