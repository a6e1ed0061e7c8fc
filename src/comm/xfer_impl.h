// Internal to src/comm/xfer*.c: the exchange's phases and tags, counting at the send sites,
// and the point-to-point helpers shared by the broadcast (xfer.c) and the selective
// (xfer_sel.c) dispatch modes (SPEC §4; docs/PROTOCOL.md).
// SPDX-License-Identifier: MIT
#ifndef JANUS_COMM_XFER_IMPL_H
#define JANUS_COMM_XFER_IMPL_H

#include "base/limits.h"
#include "base/status.h"
#include "comm/comm.h"
#include "comm/xfer.h"

// Phases of one layer's exchange; tags stay below 8 * LIMIT_MAX_LAYERS <= MPI_TAG_UB (>= 32767).
enum {
    PH_DISPATCH = 1,    // attention -> MoE (1PC), attention leader -> MoE leader (2PC)
    PH_DISPATCH_LD = 2, // 2PC2: designated MoE leader -> other MoE leaders
    PH_RETURN = 3,      // MoE -> attention (1PC), MoE leader -> attention leader (2PC1)
    PH_RETURN_ATT = 4,  // 2PC2: designated MoE leader -> attention leader
    PH_RETURN_LD = 5,   // 2PC2: MoE leader -> designated MoE leader
    PH_SEL_LOCAL = 6,   // selective 2PC: MoE leader -> member (its rows)
    PH_SEL_LOCAL_R = 7, // selective 2PC: MoE member -> leader (its partial rows)
};
#define TAG(layer, ph) ((int)(layer)*8 + (ph))
_Static_assert(LIMIT_MAX_LAYERS * 8 <= 32767, "tags fit the smallest MPI_TAG_UB");

static inline void xfer_count(struct xfer *x, int dir, int link, uint64_t msgs, uint64_t bytes) {
    x->ctr.msgs[x->mode][x->scheme][dir][link] += msgs;
    x->ctr.bytes[x->mode][x->scheme][dir][link] += bytes;
}

static inline size_t xfer_row_bytes(const struct xfer *x) { return (size_t)x->d * sizeof(float); }

// A point-to-point send of rows on topo.comm, counted on link.
static inline int xfer_isend_link(struct xfer *x, const float *buf, int64_t rows, int dest, int tag,
                                  int dir, int link) {
    JANUS_ASSERT(x->n_req < x->n_req_cap);
    xfer_count(x, dir, link, 1, (uint64_t)rows * xfer_row_bytes(x));
    return JANUS_MPI_CALL(
        MPI_Isend(buf, (int)(rows * x->d), MPI_FLOAT, dest, tag, x->t->comm, &x->req[x->n_req++]));
}

static inline int xfer_irecv(struct xfer *x, float *buf, int64_t rows, int src, int tag) {
    JANUS_ASSERT(x->n_req < x->n_req_cap);
    return JANUS_MPI_CALL(
        MPI_Irecv(buf, (int)(rows * x->d), MPI_FLOAT, src, tag, x->t->comm, &x->req[x->n_req++]));
}

static inline int xfer_wait_all(struct xfer *x) {
    int n = x->n_req;
    x->n_req = 0;
    if (n == 0) return JANUS_OK;
    return JANUS_MPI_CALL(MPI_Waitall(n, x->req, MPI_STATUSES_IGNORE));
}

static inline void xfer_add_into(float *dst, const float *src, int64_t n) {
    for (int64_t k = 0; k < n; k++)
        dst[k] += src[k];
}

static inline int32_t xfer_attn_rank(const struct xfer *x, int32_t i) {
    return x->t->side[TOPO_ROLE_ATTN].rank[i];
}

static inline int32_t xfer_moe_rank(const struct xfer *x, int32_t g) {
    return x->t->side[TOPO_ROLE_MOE].rank[g];
}

static inline int32_t xfer_leader_rank(const struct xfer *x, int role, int32_t node) {
    return x->t->side[role].rank[topo_leader(x->t, role, node)];
}

static inline int64_t xfer_node_rows(const struct xfer *x, int32_t j) {
    return x->node_off[j + 1] - x->node_off[j];
}

// Shared phases of xfer.c that the selective mode reuses.
// 2PC: gathers this attention node's x onto its leader (local; counted as in broadcast);
// *payload is the node's rows on the leader (xi itself on a node of one).
JANUS_WUR int xfer_attn_gather(struct xfer *x, const float *xi, const float **payload);
// 2PC: the attention leader holds the node's summed rows in x->stage; hands each member its
// rows (local Scatterv).
JANUS_WUR int xfer_attn_scatter(struct xfer *x, float *out);

// Selective-mode bodies of the four exchange calls (xfer_sel.c).
JANUS_WUR int xfer_sel_attn_send(struct xfer *x, int32_t layer, const float *xi);
JANUS_WUR int xfer_sel_attn_recv(struct xfer *x, int32_t layer, float *out);
JANUS_WUR int xfer_sel_moe_recv(struct xfer *x, int32_t layer, float *x_all);
JANUS_WUR int xfer_sel_moe_send(struct xfer *x, int32_t layer, float *partial, float *single);
void xfer_sel_free(struct xfer *x);

#endif // JANUS_COMM_XFER_IMPL_H
