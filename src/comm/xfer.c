// The attention <-> MoE exchange: 1PC, 2PC case 1, 2PC case 2 (xfer.h, SPEC §4).
// Buffers (floats): attention leader node_buf = largest attention node rows x d; attention
// stage = max(n_e x max_local, N_e x node rows) x d (1PC blocks per MoE instance, 2PC1 blocks
// per MoE node); MoE leader stage = N_e x max_rows x d (2PC2 blocks per MoE leader) and
// pack = max_rows x d. Every row order is node-major (topo.h). Tags: TAG(layer, phase).
// SPDX-License-Identifier: MIT
#include "comm/xfer.h"

#include "comm/xfer_impl.h"

#include "base/limits.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "comm/comm.h"

#include <limits.h>
#include <string.h>

static const char *const scheme_names[XFER_N_SCHEMES] = {"1pc", "2pc1", "2pc2"};

const char *xfer_scheme_name(int32_t scheme) {
    return scheme >= 0 && scheme < XFER_N_SCHEMES ? scheme_names[scheme] : "?";
}

int xfer_scheme_parse(const char *s, int32_t *out) {
    for (int32_t k = 0; k < XFER_N_SCHEMES; k++)
        if (s && !strcmp(s, scheme_names[k])) {
            *out = k;
            return JANUS_OK;
        }
    return JANUS_EINVAL;
}

static const char *const mode_names[XFER_N_MODES] = {"broadcast", "selective"};

const char *xfer_mode_name(int32_t mode) {
    return mode >= 0 && mode < XFER_N_MODES ? mode_names[mode] : "?";
}

int xfer_mode_parse(const char *s, int32_t *out) {
    for (int32_t k = 0; k < XFER_N_MODES; k++)
        if (s && !strcmp(s, mode_names[k])) {
            *out = k;
            return JANUS_OK;
        }
    return JANUS_EINVAL;
}

void xfer_counters_add(struct xfer_counters *dst, const struct xfer_counters *src) {
    for (int m = 0; m < XFER_N_MODES; m++)
        for (int s = 0; s < XFER_N_SCHEMES; s++) {
            dst->exchanges[m][s] += src->exchanges[m][s];
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int l = 0; l < XFER_N_LINKS; l++) {
                    dst->msgs[m][s][d][l] += src->msgs[m][s][d][l];
                    dst->bytes[m][s][d][l] += src->bytes[m][s][d][l];
                }
        }
    for (int l = 0; l < XFER_N_LINKS; l++) {
        dst->route_msgs[l] += src->route_msgs[l];
        dst->route_bytes[l] += src->route_bytes[l];
    }
}

// ---- init / free / step

void xfer_free(struct xfer *x) {
    xfer_sel_free(x);
    mem_free(x->b);
    mem_free(x->off);
    mem_free(x->node_off);
    mem_free(x->desig_off);
    mem_free(x->pack_off);
    mem_free(x->node_buf);
    mem_free(x->stage);
    mem_free(x->pack);
    mem_free(x->req);
    mem_free(x->counts);
    mem_free(x->displs);
    memset(x, 0, sizeof *x);
}

static int32_t max_node(const struct topo *t, int role) {
    int32_t m = 0;
    for (int32_t j = 0; j < t->side[role].n_node; j++)
        m = JANUS_MAX(m, topo_node_n(t, role, j));
    return m;
}

int xfer_init(struct xfer *x, const struct topo *t, int64_t d, int64_t max_local) {
    memset(x, 0, sizeof *x);
    if (d < 1 || max_local < 1) return JANUS_EINVAL;
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN], *M = &t->side[TOPO_ROLE_MOE];
    int64_t max_rows = A->n_inst * max_local;
    if (max_rows > LIMIT_MAX_BATCH || max_rows * d > INT_MAX) return JANUS_ELIMIT;
    x->t = t;
    x->d = d;
    x->max_local = max_local;
    x->max_rows = max_rows;
    int64_t node_rows = (int64_t)topo_node_n(t, t->role, t->node) * max_local; // attention only
    int64_t n_stage = 0, n_node_buf = 0, n_pack = 0;
    if (t->role == TOPO_ROLE_ATTN) {
        n_stage = M->n_inst * max_local;
        if (t->is_leader) {
            n_stage = JANUS_MAX(n_stage, M->n_node * node_rows);
            n_node_buf = node_rows;
        }
    } else if (t->is_leader) {
        n_stage = M->n_node * max_rows;
        n_pack = max_rows;
    }
    int32_t big = JANUS_MAX(max_node(t, TOPO_ROLE_ATTN), max_node(t, TOPO_ROLE_MOE));
    x->n_req_cap = 2 * (A->n_inst + M->n_inst) + 8;
    x->b = mem_calloc(MEM_TAG_COMM, (size_t)A->n_inst, sizeof *x->b);
    x->off = mem_calloc(MEM_TAG_COMM, (size_t)A->n_inst, sizeof *x->off);
    x->node_off = mem_calloc(MEM_TAG_COMM, (size_t)A->n_node + 1, sizeof *x->node_off);
    x->desig_off = mem_calloc(MEM_TAG_COMM, (size_t)M->n_node + 1, sizeof *x->desig_off);
    x->pack_off = mem_calloc(MEM_TAG_COMM, (size_t)A->n_node, sizeof *x->pack_off);
    x->req = mem_calloc(MEM_TAG_COMM, (size_t)x->n_req_cap, sizeof *x->req);
    x->counts = mem_calloc(MEM_TAG_COMM, (size_t)big, sizeof *x->counts);
    x->displs = mem_calloc(MEM_TAG_COMM, (size_t)big, sizeof *x->displs);
    if (n_stage) x->stage = mem_calloc(MEM_TAG_COMM, (size_t)(n_stage * d), sizeof(float));
    if (n_node_buf) x->node_buf = mem_calloc(MEM_TAG_COMM, (size_t)(n_node_buf * d), sizeof(float));
    if (n_pack) x->pack = mem_calloc(MEM_TAG_COMM, (size_t)(n_pack * d), sizeof(float));
    if (!x->b || !x->off || !x->node_off || !x->desig_off || !x->pack_off || !x->req ||
        !x->counts || !x->displs || (n_stage && !x->stage) || (n_node_buf && !x->node_buf) ||
        (n_pack && !x->pack)) {
        xfer_free(x);
        return JANUS_ENOMEM;
    }
    return JANUS_OK;
}

int xfer_step(struct xfer *x, const struct wire_step *st) {
    const struct topo *t = x->t;
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN];
    int32_t N_a = A->n_node, N_e = t->side[TOPO_ROLE_MOE].n_node;
    int32_t mode = (st->flags & WIRE_STEP_SELECTIVE) ? XFER_MODE_SELECTIVE : XFER_MODE_BROADCAST;
    if (st->n_attn != A->n_inst || st->scheme < 0 || st->scheme >= XFER_N_SCHEMES ||
        (mode == XFER_MODE_SELECTIVE && x->k < 1))
        return JANUS_EINVAL;
    for (int32_t i = 0; i < st->n_attn; i++)
        if (st->b[i] < 0 || st->b[i] > x->max_local) return JANUS_EINVAL;
    x->scheme = st->scheme;
    x->mode = mode;
    memcpy(x->b, st->b, (size_t)st->n_attn * sizeof *x->b);
    x->n_rows = topo_row_offsets(t, x->b, x->off, x->node_off);
    // 2PC2: attention node j is designated to MoE node j mod N_e; pack each MoE node's
    // group (its attention nodes in ascending j) one after another.
    int64_t row = 0;
    for (int32_t k = 0; k < N_e; k++) {
        x->desig_off[k] = row;
        for (int32_t j = k; j < N_a; j += N_e) {
            x->pack_off[j] = row - x->desig_off[k];
            row += x->node_off[j + 1] - x->node_off[j];
        }
    }
    x->desig_off[N_e] = row;
    return JANUS_OK;
}

// ---- helpers (the shared ones are in xfer_impl.h)

static int isend(struct xfer *x, const float *buf, int64_t rows, int dest, int tag, int dir) {
    return xfer_isend_link(x, buf, rows, dest, tag, dir, XFER_LINK_CROSS);
}

// Gatherv/Scatterv counts and displacements (floats) of this attention node's members,
// relative to the node's first row. Returns the node size.
static int32_t node_layout(struct xfer *x) {
    const struct topo *t = x->t;
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN];
    int32_t first = A->node_first[t->node], n = A->node_first[t->node + 1] - first;
    for (int32_t p = 0; p < n; p++) {
        int32_t i = A->member[first + p];
        x->counts[p] = (int)(x->b[i] * x->d);
        x->displs[p] = (int)((x->off[i] - x->node_off[t->node]) * x->d);
    }
    return n;
}

// ---- attention side

int xfer_attn_gather(struct xfer *x, const float *xi, const float **payload) {
    const struct topo *t = x->t;
    int64_t bi = x->b[t->inst];
    int32_t n_node = node_layout(x);
    *payload = xi;
    if (n_node == 1) return JANUS_OK;
    if (!t->is_leader)
        xfer_count(x, XFER_DIR_DISPATCH, XFER_LINK_LOCAL, 1, (uint64_t)bi * xfer_row_bytes(x));
    *payload = x->node_buf;
    return JANUS_MPI_CALL(MPI_Gatherv(xi, (int)(bi * x->d), MPI_FLOAT, x->node_buf, x->counts,
                                      x->displs, MPI_FLOAT, 0, t->comm_node));
}

int xfer_attn_send(struct xfer *x, int32_t layer, const float *xi) {
    const struct topo *t = x->t;
    JANUS_ASSERT(t->role == TOPO_ROLE_ATTN && x->state == 0 && x->n_req == 0);
    JANUS_ASSERT(layer >= 0 && layer < LIMIT_MAX_LAYERS);
    int32_t n_e = t->side[TOPO_ROLE_MOE].n_inst, N_e = t->side[TOPO_ROLE_MOE].n_node;
    int64_t bi = x->b[t->inst];
    int rc = JANUS_OK;
    x->state = 1;
    x->ctr.exchanges[x->mode][x->scheme]++;
    if (x->mode == XFER_MODE_SELECTIVE) return xfer_sel_attn_send(x, layer, xi);
    if (x->scheme == XFER_SCHEME_1PC) {
        for (int32_t g = 0; g < n_e && rc == JANUS_OK; g++)
            rc = xfer_irecv(x, x->stage + g * bi * x->d, bi, xfer_moe_rank(x, g),
                            TAG(layer, PH_RETURN));
        for (int32_t g = 0; g < n_e && rc == JANUS_OK; g++)
            rc = isend(x, xi, bi, xfer_moe_rank(x, g), TAG(layer, PH_DISPATCH), XFER_DIR_DISPATCH);
        return rc;
    }
    // 2PC phase 1: gather the node's x onto its leader (local).
    const float *payload = xi;
    int32_t j = t->node;
    int64_t rows = xfer_node_rows(x, j);
    rc = xfer_attn_gather(x, xi, &payload);
    if (rc != JANUS_OK || !t->is_leader) return rc;
    if (x->scheme == XFER_SCHEME_2PC1) {
        // Return: one block of the node's rows from each MoE leader. Dispatch: to each.
        for (int32_t k = 0; k < N_e && rc == JANUS_OK; k++)
            rc = xfer_irecv(x, x->stage + k * rows * x->d, rows,
                            xfer_leader_rank(x, TOPO_ROLE_MOE, k), TAG(layer, PH_RETURN));
        for (int32_t k = 0; k < N_e && rc == JANUS_OK; k++)
            rc = isend(x, payload, rows, xfer_leader_rank(x, TOPO_ROLE_MOE, k),
                       TAG(layer, PH_DISPATCH), XFER_DIR_DISPATCH);
        return rc;
    }
    // 2PC2: everything goes through the designated MoE node j mod N_e.
    int dest = xfer_leader_rank(x, TOPO_ROLE_MOE, j % N_e);
    rc = xfer_irecv(x, x->stage, rows, dest, TAG(layer, PH_RETURN_ATT));
    if (rc == JANUS_OK)
        rc = isend(x, payload, rows, dest, TAG(layer, PH_DISPATCH), XFER_DIR_DISPATCH);
    return rc;
}

int xfer_attn_scatter(struct xfer *x, float *out) {
    const struct topo *t = x->t;
    int64_t bi = x->b[t->inst];
    int64_t rows = xfer_node_rows(x, t->node);
    int32_t n_node = node_layout(x);
    if (n_node == 1) {
        if (bi) memcpy(out, x->stage, (size_t)(bi * x->d) * sizeof(float));
        return JANUS_OK;
    }
    if (t->is_leader)
        xfer_count(x, XFER_DIR_RETURN, XFER_LINK_LOCAL, (uint64_t)n_node - 1,
                   (uint64_t)(rows - bi) * xfer_row_bytes(x));
    return JANUS_MPI_CALL(MPI_Scatterv(x->stage, x->counts, x->displs, MPI_FLOAT, out,
                                       (int)(bi * x->d), MPI_FLOAT, 0, t->comm_node));
}

int xfer_attn_recv(struct xfer *x, int32_t layer, float *out) {
    const struct topo *t = x->t;
    JANUS_ASSERT(t->role == TOPO_ROLE_ATTN && x->state == 1);
    x->state = 0;
    if (x->mode == XFER_MODE_SELECTIVE) return xfer_sel_attn_recv(x, layer, out);
    int32_t n_e = t->side[TOPO_ROLE_MOE].n_inst, N_e = t->side[TOPO_ROLE_MOE].n_node;
    int64_t bi = x->b[t->inst];
    int rc = xfer_wait_all(x);
    if (rc != JANUS_OK) return rc;
    if (x->scheme == XFER_SCHEME_1PC) {
        int64_t n = bi * x->d;
        if (n) memcpy(out, x->stage, (size_t)n * sizeof(float));
        for (int32_t g = 1; g < n_e; g++)
            xfer_add_into(out, x->stage + g * n, n);
        return JANUS_OK;
    }
    // 2PC: the leader holds the node's rows (summed over MoE nodes under 2PC1) in stage.
    int64_t rows = xfer_node_rows(x, t->node);
    if (t->is_leader && x->scheme == XFER_SCHEME_2PC1)
        for (int32_t k = 1; k < N_e; k++)
            xfer_add_into(x->stage, x->stage + k * rows * x->d, rows * x->d);
    return xfer_attn_scatter(x, out);
}

// ---- MoE side

// Multicast of the whole x from the MoE node's leader (local).
static int moe_bcast(struct xfer *x, float *x_all) {
    const struct topo *t = x->t;
    int32_t n_node = topo_node_n(t, TOPO_ROLE_MOE, t->node);
    if (n_node == 1) return JANUS_OK;
    if (t->is_leader)
        xfer_count(x, XFER_DIR_DISPATCH, XFER_LINK_LOCAL, (uint64_t)n_node - 1,
                   (uint64_t)(n_node - 1) * (uint64_t)x->n_rows * xfer_row_bytes(x));
    return JANUS_MPI_CALL(MPI_Bcast(x_all, (int)(x->n_rows * x->d), MPI_FLOAT, 0, t->comm_node));
}

int xfer_moe_recv(struct xfer *x, int32_t layer, float *x_all) {
    const struct topo *t = x->t;
    JANUS_ASSERT(t->role == TOPO_ROLE_MOE && x->n_req == 0);
    JANUS_ASSERT(layer >= 0 && layer < LIMIT_MAX_LAYERS);
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN];
    int32_t N_a = A->n_node, N_e = t->side[TOPO_ROLE_MOE].n_node, k = t->node;
    int rc = JANUS_OK;
    x->ctr.exchanges[x->mode][x->scheme]++;
    if (x->mode == XFER_MODE_SELECTIVE) return xfer_sel_moe_recv(x, layer, x_all);
    if (x->scheme == XFER_SCHEME_1PC) {
        for (int32_t i = 0; i < A->n_inst && rc == JANUS_OK; i++)
            rc = xfer_irecv(x, x_all + x->off[i] * x->d, x->b[i], xfer_attn_rank(x, i),
                            TAG(layer, PH_DISPATCH));
        int rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    if (t->is_leader && x->scheme == XFER_SCHEME_2PC1) {
        for (int32_t j = 0; j < N_a && rc == JANUS_OK; j++)
            rc = xfer_irecv(x, x_all + x->node_off[j] * x->d, xfer_node_rows(x, j),
                            xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_DISPATCH));
        int rc2 = xfer_wait_all(x);
        if (rc == JANUS_OK) rc = rc2;
    } else if (t->is_leader) { // 2PC2
        int32_t D = JANUS_MIN(N_a, N_e);
        // Phase 2: a designated leader receives its attention nodes' payloads.
        for (int32_t j = k; j < N_a && rc == JANUS_OK; j += N_e)
            rc = xfer_irecv(x, x_all + x->node_off[j] * x->d, xfer_node_rows(x, j),
                            xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_DISPATCH));
        int rc2 = xfer_wait_all(x);
        if (rc == JANUS_OK) rc = rc2;
        // Phase 3: designated leaders complete the picture among MoE leaders.
        for (int32_t k2 = 0; k2 < D && rc == JANUS_OK; k2++) {
            if (k2 == k) continue;
            int64_t s = x->desig_off[k2 + 1] - x->desig_off[k2];
            rc = xfer_irecv(x, x->stage + x->desig_off[k2] * x->d, s,
                            xfer_leader_rank(x, TOPO_ROLE_MOE, k2), TAG(layer, PH_DISPATCH_LD));
        }
        if (k < D && rc == JANUS_OK) {
            float *p = x->pack + x->desig_off[k] * x->d;
            for (int32_t j = k; j < N_a; j += N_e)
                memcpy(p + x->pack_off[j] * x->d, x_all + x->node_off[j] * x->d,
                       (size_t)(xfer_node_rows(x, j) * x->d) * sizeof(float));
            int64_t s = x->desig_off[k + 1] - x->desig_off[k];
            for (int32_t k2 = 0; k2 < N_e && rc == JANUS_OK; k2++)
                if (k2 != k)
                    rc = isend(x, p, s, xfer_leader_rank(x, TOPO_ROLE_MOE, k2),
                               TAG(layer, PH_DISPATCH_LD), XFER_DIR_DISPATCH);
        }
        rc2 = xfer_wait_all(x);
        if (rc == JANUS_OK) rc = rc2;
        for (int32_t k2 = 0; k2 < D && rc == JANUS_OK; k2++) {
            if (k2 == k) continue;
            const float *p = x->stage + x->desig_off[k2] * x->d;
            for (int32_t j = k2; j < N_a; j += N_e)
                memcpy(x_all + x->node_off[j] * x->d, p + x->pack_off[j] * x->d,
                       (size_t)(xfer_node_rows(x, j) * x->d) * sizeof(float));
        }
    }
    if (rc != JANUS_OK) return rc;
    return moe_bcast(x, x_all);
}

int xfer_moe_send(struct xfer *x, int32_t layer, float *partial, float *single) {
    const struct topo *t = x->t;
    JANUS_ASSERT(t->role == TOPO_ROLE_MOE && x->n_req == 0);
    JANUS_ASSERT(layer >= 0 && layer < LIMIT_MAX_LAYERS);
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN];
    int32_t N_a = A->n_node, N_e = t->side[TOPO_ROLE_MOE].n_node, k = t->node;
    int rc = JANUS_OK;
    if (x->mode == XFER_MODE_SELECTIVE) return xfer_sel_moe_send(x, layer, partial, single);
    if (x->scheme == XFER_SCHEME_1PC) {
        for (int32_t i = 0; i < A->n_inst && rc == JANUS_OK; i++)
            rc = isend(x, partial + x->off[i] * x->d, x->b[i], xfer_attn_rank(x, i),
                       TAG(layer, PH_RETURN), XFER_DIR_RETURN);
        int rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    // 2PC phase 1: sum the node's partials onto its leader (local reduce).
    int32_t n_node = topo_node_n(t, TOPO_ROLE_MOE, k);
    int n = (int)(x->n_rows * x->d);
    if (n_node > 1) {
        if (t->is_leader) {
            rc = JANUS_MPI_CALL(
                MPI_Reduce(MPI_IN_PLACE, partial, n, MPI_FLOAT, MPI_SUM, 0, t->comm_node));
        } else {
            xfer_count(x, XFER_DIR_RETURN, XFER_LINK_LOCAL, 1,
                       (uint64_t)x->n_rows * xfer_row_bytes(x));
            rc = JANUS_MPI_CALL(MPI_Reduce(partial, NULL, n, MPI_FLOAT, MPI_SUM, 0, t->comm_node));
        }
    }
    if (rc != JANUS_OK || !t->is_leader) return rc;
    if (x->scheme == XFER_SCHEME_2PC1) {
        for (int32_t j = 0; j < N_a && rc == JANUS_OK; j++)
            rc = isend(x, partial + x->node_off[j] * x->d, xfer_node_rows(x, j),
                       xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_RETURN),
                       XFER_DIR_RETURN);
        int rc2 = xfer_wait_all(x);
        return rc != JANUS_OK ? rc : rc2;
    }
    // 2PC2 phase 2: every MoE leader sends each designated leader its node's rows of the
    // attention nodes designated there; the designated leader sums them in MoE-node order.
    int32_t D = JANUS_MIN(N_a, N_e);
    int64_t s_own = k < D ? x->desig_off[k + 1] - x->desig_off[k] : 0;
    if (k < D)
        for (int32_t k2 = 0; k2 < N_e && rc == JANUS_OK; k2++)
            if (k2 != k)
                rc = xfer_irecv(x, x->stage + k2 * s_own * x->d, s_own,
                                xfer_leader_rank(x, TOPO_ROLE_MOE, k2), TAG(layer, PH_RETURN_LD));
    for (int32_t k2 = 0; k2 < D && rc == JANUS_OK; k2++) {
        float *p = k2 == k ? x->stage + k * s_own * x->d : x->pack + x->desig_off[k2] * x->d;
        for (int32_t j = k2; j < N_a; j += N_e)
            memcpy(p + x->pack_off[j] * x->d, partial + x->node_off[j] * x->d,
                   (size_t)(xfer_node_rows(x, j) * x->d) * sizeof(float));
        if (k2 != k)
            rc = isend(x, p, x->desig_off[k2 + 1] - x->desig_off[k2],
                       xfer_leader_rank(x, TOPO_ROLE_MOE, k2), TAG(layer, PH_RETURN_LD),
                       XFER_DIR_RETURN);
    }
    int rc2 = xfer_wait_all(x);
    if (rc == JANUS_OK) rc = rc2;
    if (rc != JANUS_OK || k >= D) return rc;
    // Phase 3: the designated leader sums and sends each of its attention nodes its rows.
    for (int32_t k2 = 1; k2 < N_e; k2++)
        xfer_add_into(x->stage, x->stage + k2 * s_own * x->d, s_own * x->d);
    for (int32_t j = k; j < N_a && rc == JANUS_OK; j += N_e)
        rc = isend(x, x->stage + x->pack_off[j] * x->d, xfer_node_rows(x, j),
                   xfer_leader_rank(x, TOPO_ROLE_ATTN, j), TAG(layer, PH_RETURN_ATT),
                   XFER_DIR_RETURN);
    rc2 = xfer_wait_all(x);
    return rc != JANUS_OK ? rc : rc2;
}
