// The disaggregated deployment over MPI (SPEC §2, §3): every rank of the job calls
// worker_mpi_start. Rank 0 (controller + attention instance 0) gets an executor
// (runtime/exec.h) to drive from the controller loop; every other rank runs its worker loop
// (attention instance or MoE instance) until the executor is destroyed. Per step the
// controller broadcasts the step header, ships each attention instance its local batch,
// and the ranks run the layers: attention with a local KV cache, x to the MoE side
// (comm/xfer), shared expert while waiting, dense partial sums back; MoE instances gate
// the whole step, run the activation scheduler, run their assigned experts and record
// statistics. Protocol: docs/PROTOCOL.md.
// SPDX-License-Identifier: MIT
#ifndef JANUS_WORKER_MPI_H
#define JANUS_WORKER_MPI_H

#include "base/base.h"
#include "comm/xfer.h"
#include "comm/xfer_cost.h"
#include "runtime/exec.h"

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#define WORKER_COMM_AUTO (-1) // choose the scheme per step from the cost model

struct worker_mpi_params {
    const char *model_path;     // GGUF model (every rank maps it; each uses its part)
    MPI_Comm parent;            // the job: n_attn + n_moe ranks (MPI_COMM_WORLD or a split)
    int32_t n_attn, n_moe;      // instances
    int32_t n_slots;            // C (expert slots per MoE instance and layer); 0: default =
                                // E when n_moe == 1, else ceil(E / n_moe) + 1 (room for replicas)
    const char *layout_path;    // replica layout JSON; NULL: round-robin, replicas fill free slots
    int32_t policy;             // enum actsched_policy
    int32_t comm;               // enum xfer_scheme, or WORKER_COMM_AUTO
    const char *comm_cost;      // cost overrides "cross_lat_us=50,..." (xfer_cost.h); NULL: none
    int32_t node_size;          // emulated node size K; 0: real hosts (shared-memory split)
    const int32_t *host_labels; // tests: with node_size 0, these n_attn + n_moe host labels
                                // replace the shared-memory split (topo_init_hosts)
    int32_t calibrate;          // 1: ping-pong calibration at start-up; 0: defaults + overrides
    int32_t check_schedule;     // 1: every MoE layer compares the schedule digest (allreduce)
    int32_t n_threads;          // engine threads per rank (1 = serial)
    int32_t max_seqs;           // KV slots per attention instance (<= EXEC_MAX_SEQS)
    int32_t max_rows;           // rows per attention instance per step (the token budget)
    int32_t n_ctx;              // positions per sequence; 0: the model's, at most 4096
    uint64_t seed;              // seed of the random scheduler policy
    const char *expert_stats_out; // MoE instance 0: at shutdown, write the activation
                                  // statistics (janus-stats JSON, SPEC §6) here; NULL: none
    const char *logits_out;       // rank 0: file receiving the logits of the first sampled row
                                  // (`janus run --logits`); NULL: none
};

// Defaults: 1 + 1 instances, greedy, auto scheme, node size 1, calibration and schedule
// checks on, 1 thread, 32 seqs, 256 rows, model context, seed 0, MPI_COMM_WORLD.
void worker_mpi_default_params(struct worker_mpi_params *p);

// Collective on p->parent (same parameters on every rank). Loads the model, builds the
// topology, the layout (checked equal on every rank by digest), the exchange and, if
// asked, calibrates the cost model. Rank 0 of parent: returns JANUS_OK with *out set to
// the executor (destroying it ends every worker loop). Other ranks: run the worker loop
// and return JANUS_OK with *out NULL once the executor is destroyed. On a setup error every
// rank returns the same negative status with a one-line reason in err (the job stays
// consistent); a failure during the loop aborts the job (MPI_Abort), so no rank hangs.
JANUS_WUR int worker_mpi_start(const struct worker_mpi_params *p, struct exec **out, char *err,
                               size_t err_len);

// Measurements of a deployment since start (SPEC §3, §4), collected from every rank.
struct worker_mpi_report {
    int32_t n_layer, n_attn, n_moe, n_node_attn, n_node_moe, node_size, policy, comm;
    uint64_t n_steps;                      // steps run (controller's count)
    uint64_t step_ns_total;                // controller wall time inside steps
    uint64_t busy_steps;                   // steps with at least one token (B > 0)
    uint64_t scheme_steps[XFER_N_SCHEMES]; // steps per exchange scheme
    int32_t is_moe[EXEC_STATS_MAX_LAYERS]; // 1 for MoE layers
    // Seconds summed over steps, per layer; each the maximum over the ranks of the role.
    double attn_s[EXEC_STATS_MAX_LAYERS];      // attention side compute (attention, norms, dense
                                               // FFN, shared expert, residual)
    double xchg_s[EXEC_STATS_MAX_LAYERS];      // attention side time inside the exchange calls
    double gate_s[EXEC_STATS_MAX_LAYERS];      // MoE side gate + activation scheduler
    double expert_s[EXEC_STATS_MAX_LAYERS];    // MoE side routed experts
    double check_s[EXEC_STATS_MAX_LAYERS];     // MoE side schedule-digest allreduce
    int32_t a_max_last[EXEC_STATS_MAX_LAYERS]; // of the last step with tokens
    uint64_t a_max_sum[EXEC_STATS_MAX_LAYERS];
    uint64_t activated_sum[EXEC_STATS_MAX_MOE]; // Σ over steps and layers of a_g
    struct xfer_counters ctr;                   // summed over every rank
    struct xfer_cost cost;                      // the cost model in use
};

// Rank 0 only, on an executor from worker_mpi_start: collects the report (every rank takes
// part through the step-header broadcast). JANUS_OK or JANUS_ECOMM.
JANUS_WUR int worker_mpi_report(struct exec *e, struct worker_mpi_report *r);

// Writes the report as text: per-layer time breakdown (ms per step), a_max per layer,
// message counters per scheme and link class, the cost model.
void worker_mpi_report_print(const struct worker_mpi_report *r, FILE *f);

#endif // JANUS_WORKER_MPI_H
