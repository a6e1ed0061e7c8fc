// One rank of the MPI deployment (runtime/worker_mpi.h): its state, built at start-up and
// freed at the end. Internal to src/runtime: step.c runs the data path of one step on
// it, control.c the control plane, worker_stats.c the statistics, worker_mpi.c the
// collective start-up and the executor rank 0 hands to the controller. Everything the
// step loop touches is allocated here, at init (SPEC §3 "no malloc in the step loop").
// SPDX-License-Identifier: MIT
#ifndef JANUS_WORKER_H
#define JANUS_WORKER_H

#include "actsched/actsched.h"
#include "base/limits.h"
#include "comm/topo.h"
#include "comm/wake.h"
#include "comm/xfer.h"
#include "comm/xfer_cost.h"
#include "engine/attn.h"
#include "engine/batch.h"
#include "engine/linear.h"
#include "engine/moe.h"
#include "model/sampler.h"
#include "model/weights.h"
#include "place/layout.h"
#include "place/stats.h"
#include "runtime/exec.h"
#include "runtime/replace.h"
#include "runtime/worker_mpi.h"
#include "runtime/worker_stats.h"

#include <mpi.h>
#include <stdint.h>

// Values reduced per statistics collection: per-layer times (attention, exchange, gate,
// experts, check) and exchange counters (messages and bytes per mode, scheme, direction and
// link class, then exchanges per mode and scheme, then the routing exchange per link class).
#define WORKER_N_TIMES 5
#define WORKER_N_CTR                                                                               \
    (2 * XFER_N_MODES * XFER_N_SCHEMES * XFER_N_DIRS * XFER_N_LINKS +                              \
     XFER_N_MODES * XFER_N_SCHEMES + 2 * XFER_N_LINKS)

struct worker {
    struct exec base; // rank 0: the executor handed to the controller (worker_mpi.c)
    struct worker_mpi_params p;
    struct topo topo;
    struct model model;
    struct linear_ctx lin;
    struct xfer xf;
    struct xfer_cost cost;
    struct layout layout;
    int64_t d, V, n_layer, n_expert, k;
    int32_t model_ok, topo_ok, xf_ok;
    uint64_t share_bytes;  // tensor bytes of this rank's share (worker_load_share)
    long long rss_open_kb; // resident set size before the share was loaded (JANUS_PRINT_PSS)
    // attention side (step.c)
    struct attn attn;
    struct batch batch;      // rank != 0: this step's local batch, unpacked from the controller
    struct batch_result res; // rank != 0: its sampled tokens
    struct sampler smp;
    float *moe_out; // (max_rows, d) this instance's rows of Σ partials
    float *logits;  // (max_seqs, V) logits of the rows with logits, batch order
    // selective dispatch, attention side: its own rows' gate
    struct moe_routing rt_local;  // (max_rows) routing of this instance's rows
    float *gate_r, *gate_scratch; // (max_rows, n_expert) router logits; gate scratch
    // MoE side (step.c); rt, ws and so also on attention ranks under selective dispatch
    struct moe moe;
    struct moe_routing rt; // the step's routing (B rows)
    struct actsched_ws ws;
    struct actsched_output so;
    struct stats stats;
    uint8_t *run_here;      // (n_expert)
    uint8_t *held;          // (n_layer · n_expert) experts whose slabs this rank loaded
    float *x_all, *partial; // (n_attn * max_rows, d)
    float *single;          // selective: (n_attn * max_rows * k, d) unfolded expert outputs
    // measurements of this rank, per layer (worker_stats.c); seconds summed over steps
    double t_attn[LIMIT_MAX_LAYERS], t_xchg[LIMIT_MAX_LAYERS], t_gate[LIMIT_MAX_LAYERS],
        t_exp[LIMIT_MAX_LAYERS], t_check[LIMIT_MAX_LAYERS];
    int32_t a_max_last[LIMIT_MAX_LAYERS];
    uint64_t a_max_sum[LIMIT_MAX_LAYERS], act_sum, busy_steps; // busy: steps with B > 0
    // control plane (control.c)
    uint8_t *hdr; // (hdr_len) step-header broadcast buffer
    size_t hdr_len;
    struct wake wake; // the wake-up channel (comm/wake.h); polling when it is down
    int64_t hdr_ns;   // rank 0: when the last header was posted
    int hdr_busy;     // the last header was a step with rows (a next one may follow at once)
    uint8_t *pack;    // rank 0: (n_attn * pack_len) packed batches; others: (pack_len)
    size_t pack_len;
    uint64_t step_no, n_steps, scheme_steps[XFER_N_SCHEMES], step_ns;
    uint64_t pair_steps[XFER_N_MODES][XFER_N_SCHEMES]; // rank 0: steps per (mode, scheme)
    uint64_t cur_step;                                 // the step being run (every rank)
    struct exec_kv kv;                                 // rank 0: the KV-position mirror
    MPI_Request *req;                                  // rank 0: (n_attn)
    int failed, logits_written;
    struct worker_stats rep; // rank 0: scratch for the stats op (no allocation per call)
    // statistics reduction buffers (worker_stats.c): send / receive
    double red_t[2][WORKER_N_TIMES * LIMIT_MAX_LAYERS];      // per-layer times (MAX)
    uint64_t red_sum[2][WORKER_N_CTR + LIMIT_MAX_INSTANCES]; // counters, activations (SUM)
    uint64_t red_max[2][2 * LIMIT_MAX_LAYERS + 1];           // a_max, busy steps (MAX)
    int64_t fault_rank, fault_step, fault_sched_rank;
    struct replace_state rp; // a live re-placement under way (replace.c)
};

// Loads the model and the layout and fills base.info (every failure the user should see,
// reason in err). Collective agreement on the outcome is worker_mpi_start's.
JANUS_WUR int worker_setup_local(struct worker *w, char *err, size_t err_len);
// Loads this rank's share of the weights, after the topology exists (issue 12 item 2): an
// attention rank the non-expert tensors, a MoE rank the routers and exactly the expert slabs
// its layout places on it (replicas included). Reason in err (e.g. --mlock refused).
JANUS_WUR int worker_load_share(struct worker *w, char *err, size_t err_len);
// Role-specific buffers, after the topology exists.
JANUS_WUR int worker_setup_role(struct worker *w);
void worker_free(struct worker *w);

#endif // JANUS_WORKER_H
