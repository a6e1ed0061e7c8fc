// The attention <-> MoE exchange of one MoE layer (SPEC §3 steps 2 and 6, SPEC §4): 1PC,
// 2PC case 1 and 2PC case 2, dispatch (attention instance i's x_i, b_i x d, to every MoE
// instance, which ends with the whole step's x, B x d, in node-major order) and return
// (dense partial blocks, B x d per MoE instance, summed so that attention instance i gets
// exactly its b_i rows of Σ_g partial_g). Cross-node transfers are MPI_Isend/MPI_Irecv on
// topo.comm; local phases are collectives on topo.comm_node (Gatherv, Bcast, Reduce,
// Scatterv), counted as the logical point-to-point messages of SPEC §4. Counters are
// incremented at the send sites. Two dispatch modes (SPEC §4 "Selective dispatch"): broadcast
// (every MoE instance gets every row) and selective (every rank holds the step's routing and
// schedule, each row goes only to the MoE instances (2PC: nodes) that run one of its experts;
// xfer_sel.c). Phases and tags: docs/PROTOCOL.md.
// SPDX-License-Identifier: MIT
#ifndef JANUS_COMM_XFER_H
#define JANUS_COMM_XFER_H

#include "base/base.h"
#include "comm/topo.h"
#include "comm/wire.h"

#include <mpi.h>
#include <stdint.h>

// Explicit numbers: these travel in the step header (wire.h).
enum xfer_scheme { XFER_SCHEME_1PC = 0, XFER_SCHEME_2PC1 = 1, XFER_SCHEME_2PC2 = 2 };
#define XFER_N_SCHEMES 3
_Static_assert(XFER_N_SCHEMES == WIRE_N_SCHEMES, "wire and xfer agree on the scheme count");

// Dispatch modes; on the wire as the step header's WIRE_STEP_SELECTIVE flag.
enum xfer_mode { XFER_MODE_BROADCAST = 0, XFER_MODE_SELECTIVE = 1 };
#define XFER_N_MODES 2

enum xfer_link { XFER_LINK_CROSS = 0, XFER_LINK_LOCAL = 1 };
#define XFER_N_LINKS 2
enum xfer_dir { XFER_DIR_DISPATCH = 0, XFER_DIR_RETURN = 1 };
#define XFER_N_DIRS 2

// Messages and bytes this rank sent (point-to-point sends plus its logical share of the
// node collectives: a Gatherv/Reduce member sends 1 message, a Bcast/Scatterv root sends
// node size - 1), per dispatch mode, scheme, direction and link class. Monotonic since
// xfer_init. The selective routing exchange is counted in the selective dispatch counts and,
// once more, on its own in route_*.
struct xfer_counters {
    uint64_t msgs[XFER_N_MODES][XFER_N_SCHEMES][XFER_N_DIRS][XFER_N_LINKS];
    uint64_t bytes[XFER_N_MODES][XFER_N_SCHEMES][XFER_N_DIRS][XFER_N_LINKS];
    uint64_t exchanges[XFER_N_MODES][XFER_N_SCHEMES];             // layer exchanges taken part in
    uint64_t route_msgs[XFER_N_LINKS], route_bytes[XFER_N_LINKS]; // the routing exchange
};

// y[0..n) += a·x[0..n): the kernel the engine folds expert outputs with (kern_ops.axpy).
typedef void (*xfer_axpy_fn)(float *y, float a, const float *x, int64_t n);

struct xfer {
    const struct topo *t; // borrowed; outlives the xfer
    int64_t d;            // floats per row (n_embd)
    int64_t max_local;    // most rows of one attention instance in one step
    int64_t max_rows;     // most rows of a step: n_a * max_local
    // The current step (xfer_step).
    int32_t scheme;     // enum xfer_scheme
    int32_t *b;         // (n_a) rows of each attention instance
    int64_t *off;       // (n_a) first row of each attention instance, node-major order
    int64_t *node_off;  // (N_a + 1) first row of each attention node
    int64_t *desig_off; // (N_e + 1) 2PC2: first packed row designated to each MoE node
    int64_t *pack_off;  // (N_a) 2PC2: row of attention node j within its designated pack
    int64_t n_rows;     // B
    // Buffers sized at init for the worst step.
    float *node_buf;  // attention leader: (max node rows x d) gathered x of the node
    float *stage;     // receive staging (sizes in xfer.c)
    float *pack;      // MoE leader: (max_rows x d) packed rows for 2PC2
    MPI_Request *req; // (n_req_cap)
    int n_req, n_req_cap;
    int *counts, *displs; // (largest node) Gatherv/Scatterv arguments
    int state;            // attention side: 1 between xfer_attn_send and xfer_attn_recv
    struct xfer_counters ctr;
    // Selective dispatch (xfer_sel_init; xfer_sel.c).
    int32_t mode;           // enum xfer_mode of the current step
    int32_t k;              // experts per token; 0: selective mode not set up
    uint8_t *need;          // (n_e, max_rows) 1: MoE instance g runs an expert of row t
    uint8_t *need_node;     // (N_e, max_rows) 1: some instance of MoE node k needs row t
    int32_t *route;         // (max_rows, 2k) routing on the wire: ids, then weight bits
    int *rcounts, *rdispls; // (n_ranks) Allgatherv arguments
    float *sbuf, *rbuf;     // (sel_rows x d) packed rows to send / received
    int64_t sel_rows;       // rows of sbuf and rbuf
    int64_t *roff;          // (n_ranks + 1) row offsets of the pending receives in rbuf
    // The fixed-order return of selective steps (xfer_sel_plan; PROTOCOL.md "Selective
    // dispatch"): slot j of row t is its j-th smallest expert id.
    const float *w_all; // borrowed: the layer's routing weights (B x k)
    int32_t *slot;      // (max_rows, k) routing index of slot j
    int32_t *slot_inst; // (max_rows, k) MoE instance running slot j
    uint8_t *pfx_inst;  // (max_rows) leading slots on slot 0's instance
    uint8_t *pfx_node;  // (max_rows) leading slots on slot 0's MoE node
    uint8_t *fold;      // MoE rank: (max_rows, k) by routing index: folded into the partial
    float *usingle;     // attention rank: (its rows x k, d) received single rows
    xfer_axpy_fn axpy;  // y += a·x, the engine's own (so every fold has the same bits)
};

// Not collective. Sizes the buffers for d floats per row and at most max_local rows per
// attention instance per step. Returns JANUS_OK, JANUS_EINVAL (d < 1, max_local < 1),
// JANUS_ELIMIT (a message would exceed INT_MAX elements) or JANUS_ENOMEM (*x zeroed).
JANUS_WUR int xfer_init(struct xfer *x, const struct topo *t, int64_t d, int64_t max_local);

// Frees the buffers. No request may be pending (after JANUS_ECOMM the job is aborted).
void xfer_free(struct xfer *x);

// Not collective, but every rank must call it with the same step header before the step's
// exchanges. Sets scheme, mode and row offsets. Returns JANUS_EINVAL if st->n_attn != n_a, a
// b_i exceeds max_local, the scheme is out of range, or the step is selective without
// xfer_sel_init (the previous step stays set).
JANUS_WUR int xfer_step(struct xfer *x, const struct wire_step *st);

// Attention side, collective over the job for one layer (every rank of both roles takes
// part in the layer's exchange). Starts the dispatch of xi (b_i x d floats of this
// instance; must stay unchanged until xfer_attn_recv returns) and pre-posts the return
// receives, so the caller can compute the shared expert meanwhile. An attention leader of a
// 2PC step blocks in the node gather. 0 <= layer < LIMIT_MAX_LAYERS.
// Returns JANUS_OK or JANUS_ECOMM (the job must be aborted).
JANUS_WUR int xfer_attn_send(struct xfer *x, int32_t layer, const float *xi);

// Attention side: completes the layer's exchange; out (b_i x d) receives this instance's
// rows of Σ_g partial_g. Returns JANUS_OK or JANUS_ECOMM.
JANUS_WUR int xfer_attn_recv(struct xfer *x, int32_t layer, float *out);

// MoE side, collective over the job for one layer: x_all (B x d, node-major order of
// attention instances: rows of instance i start at x->off[i]) receives the whole step's x.
// Returns JANUS_OK or JANUS_ECOMM.
JANUS_WUR int xfer_moe_recv(struct xfer *x, int32_t layer, float *x_all);

// MoE side: returns this instance's dense partial block (B x d, same row order; rows the
// instance did not touch are zero). partial is used as the reduction buffer on node
// leaders under 2PC and holds the node sum afterwards. Selective steps: partial holds the
// rows' folds (moe_experts_split with the plan's fold mask) and single (B·k rows of d, by routing
// index; NULL under broadcast) the outputs of the other experts run here; both are
// overwritten on MoE leaders. Returns JANUS_OK or JANUS_ECOMM.
JANUS_WUR int xfer_moe_send(struct xfer *x, int32_t layer, float *partial, float *single);

// ---- selective dispatch (xfer_sel.c)
// A selective layer, on every rank: xfer_route_exchange (the step's routing everywhere), the
// scheduler (the same on every rank), xfer_sel_plan (who needs which row), then the usual
// xfer_attn_send / xfer_attn_recv and xfer_moe_recv / xfer_moe_send, which move only the
// rows the plan names. On the MoE side x_all keeps its B x d layout; rows this instance does
// not need are left as they were. An empty step (B = 0) moves nothing.

// Not collective. Sets up selective dispatch for k experts per token
// (1 <= k <= LIMIT_MAX_EXPERT_USED); axpy: the engine's kernel (kern_ops.axpy), which the
// fixed-order return folds with on attention ranks and MoE leaders.
// JANUS_OK, JANUS_EINVAL or JANUS_ENOMEM (x unchanged but for what it had).
JANUS_WUR int xfer_sel_init(struct xfer *x, int32_t k, xfer_axpy_fn axpy);

// Collective over the job (one MPI_Allgatherv on topo.comm), selective steps only: attention
// instance i gives the routing of its b_i rows (ids, w: b_i x k; MoE ranks pass NULL); every
// rank receives the step's routing (B x k, node-major order) in ids_all and w_all.
// Counted as its logical point-to-point messages: an attention instance with b_i > 0 sends
// b_i·k·8 bytes to each of the other n_a + n_e − 1 ranks (local within its node, else
// cross-node). Returns JANUS_OK or JANUS_ECOMM.
JANUS_WUR int xfer_route_exchange(struct xfer *x, const int32_t *ids, const float *w,
                                  int32_t *ids_all, float *w_all);

// Pure, on every rank after the scheduler: assign (n_expert entries, the instance running
// each logical expert, -1 none; actsched_output.assign), ids_all and w_all (B x k; w_all is
// borrowed until the layer's exchange ends) give who needs which row (need[g][t] = 1 iff
// some expert of row t runs on MoE instance g) and the fixed-order return: each row's
// expert outputs are summed in expert-id order whatever the grouping, as the monolithic
// engine sums them. The instance running a row's smallest id folds its leading run of
// experts into the partial (x->fold on MoE ranks, for moe_experts_split); every later expert's
// output travels as its own row and is folded in order where its turn comes (the MoE
// leader for its node's run under 2PC, else the attention side). So the sum does not
// depend on the layout, the replica chosen or what else shares the batch.
void xfer_sel_plan(struct xfer *x, const int32_t *ids_all, const float *w_all,
                   const int32_t *assign);

// Pure: rows of the current plan, Σ_t (distinct instances needing t) (per_node 0) or
// Σ_t (distinct MoE nodes needing t) (per_node 1).
int64_t xfer_sel_fanout(const struct xfer *x, int per_node);

// Pure: rows the current plan returns from the MoE side: Σ_t of the row units (one fold
// plus one row per expert after the leading run) that MoE instances (per_node 0: 1PC) or
// MoE nodes (per_node 1: 2PC1) send back for row t.
int64_t xfer_sel_return_rows(const struct xfer *x, int per_node);

// Not collective. Adds src to dst (to aggregate counters after an allreduce or between ranks).
void xfer_counters_add(struct xfer_counters *dst, const struct xfer_counters *src);

// "1pc", "2pc1", "2pc2"; xfer_scheme_parse also accepts those names (JANUS_EINVAL else).
const char *xfer_scheme_name(int32_t scheme);
JANUS_WUR int xfer_scheme_parse(const char *s, int32_t *out);
// "broadcast", "selective"; xfer_mode_parse also accepts those names (JANUS_EINVAL else).
const char *xfer_mode_name(int32_t mode);
JANUS_WUR int xfer_mode_parse(const char *s, int32_t *out);

#endif // JANUS_COMM_XFER_H
