// Statistics of the MPI deployment (SPEC §3, §4, §6): per-layer time breakdown, a_max,
// activation counts and exchange counters, collected from every rank on request (a STATS
// step header, collective on the job), printed as text (`--stats-out`, `janus run
// --stats`), turned into the executor's exec_stats; plus the files a deployment writes:
// the expert activation statistics (janus-stats JSON) and the first sampled row's logits.
// Arrays are sized by base/limits.h, the one ceiling of a deployment.
// SPDX-License-Identifier: MIT
#ifndef JANUS_WORKER_STATS_H
#define JANUS_WORKER_STATS_H

#include "base/base.h"
#include "base/limits.h"
#include "comm/xfer.h"
#include "comm/xfer_cost.h"
#include "runtime/exec.h"

#include <stdint.h>
#include <stdio.h>

// Measurements of a deployment since start, collected from every rank.
struct worker_stats {
    int32_t n_layer, n_attn, n_moe, n_node_attn, n_node_moe, node_size, policy, comm;
    int32_t dispatch;                      // enum xfer_mode, or WORKER_DISPATCH_AUTO (-1)
    int32_t sums;                          // enum worker_sums
    uint64_t n_steps;                      // steps run (controller's count)
    uint64_t step_ns_total;                // controller wall time inside steps
    uint64_t busy_steps;                   // steps with at least one token (B > 0)
    uint64_t scheme_steps[XFER_N_SCHEMES]; // steps per exchange scheme
    uint64_t pair_steps[XFER_N_MODES][XFER_N_SCHEMES]; // steps per (dispatch mode, scheme)
    int32_t is_moe[LIMIT_MAX_LAYERS];                  // 1 for MoE layers
    // Seconds summed over steps, per layer; each the maximum over the ranks of the role.
    double attn_s[LIMIT_MAX_LAYERS];      // attention side compute (attention, norms, dense FFN,
                                          // shared expert, residual)
    double xchg_s[LIMIT_MAX_LAYERS];      // attention side time inside the exchange calls
    double gate_s[LIMIT_MAX_LAYERS];      // MoE side gate + activation scheduler
    double expert_s[LIMIT_MAX_LAYERS];    // MoE side routed experts
    double check_s[LIMIT_MAX_LAYERS];     // MoE side schedule-digest allreduce (when checked)
    int32_t a_max_last[LIMIT_MAX_LAYERS]; // of the last step with tokens
    uint64_t a_max_sum[LIMIT_MAX_LAYERS];
    uint64_t activated_sum[LIMIT_MAX_INSTANCES]; // Σ over steps and layers of a_g
    struct xfer_counters ctr;                    // summed over every rank
    struct xfer_cost cost;                       // the cost model in use
};

// Rank 0 only, on an executor from worker_mpi_start: collects the statistics (every rank
// takes part through the step-header broadcast). JANUS_OK or JANUS_ECOMM.
JANUS_WUR int worker_stats_report(struct exec *e, struct worker_stats *r);

// Writes the statistics as text: per-layer time breakdown (ms per step), a_max per layer,
// message counters per scheme and link class (broadcast rows as before; a SCHEME+sel row
// per scheme once selective dispatch ran, then the routing exchange alone), the cost model.
void worker_stats_print(const struct worker_stats *r, FILE *f);

// ---- inside src/runtime (the rank's state is runtime/worker.h)

struct worker;

// The collective part, on every rank after a STATS header; r is filled on rank 0 (NULL
// elsewhere).
JANUS_WUR int worker_stats_collect(struct worker *w, struct worker_stats *r);
// The executor's stats op (exec.h) on rank 0.
JANUS_WUR int worker_stats_exec(struct exec *e, struct exec_stats *out);
// Rank 0: writes the first V logits of lg to p.logits_out, once per deployment.
void worker_stats_write_logits(struct worker *w, const float *lg);
// At shutdown: MoE instance 0 writes the activation statistics to p.expert_stats_out.
void worker_stats_save_experts(struct worker *w);

#endif // JANUS_WORKER_STATS_H
