// The disaggregated deployment over MPI (SPEC §2, §3): every rank of the job calls
// worker_mpi_start. Rank 0 (controller + attention instance 0) gets an executor
// (runtime/exec.h) to drive from the controller loop; every other rank runs its worker loop
// (attention instance or MoE instance) until the executor is destroyed. Where things are:
// one step's data path, both sides (a token through layer ℓ): runtime/step.c; step header,
// batch shipping, worker loop, stop and failures: runtime/control.c; statistics and output
// files: runtime/worker_stats.c; a rank's state and setup: runtime/worker.c.
// Protocol: docs/PROTOCOL.md.
// SPDX-License-Identifier: MIT
#ifndef JANUS_WORKER_MPI_H
#define JANUS_WORKER_MPI_H

#include "base/base.h"
#include "base/fmap.h"
#include "runtime/exec.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#define WORKER_COMM_AUTO     (-1) // choose the scheme per step from the cost model
#define WORKER_DISPATCH_AUTO (-1) // choose the dispatch mode per step from the cost model

// How a token's expert outputs are summed (issue 16: replay needs the first).
enum worker_sums {
    WORKER_SUMS_FIXED = 0,   // in expert-id order wherever the experts ran, as the monolithic
                             // engine: with several MoE instances every step is selective
                             // (the dispatch that carries the order, comm/xfer.h)
    WORKER_SUMS_GROUPED = 1, // each MoE instance sums its own experts first; broadcast allowed;
                             // the last bits can depend on the layout, replica and batch
};
#define WORKER_STATS_DECAY                                                                         \
    0.999 // default per-step decay of the expert statistics (half-life
          // about 693 steps with tokens)

struct worker_mpi_params {
    const char *model_path;     // GGUF model (every rank opens it; each loads its share)
    struct fmap_opts io;        // memory mode, --mlock, progress line (base/fmap.h)
    MPI_Comm parent;            // the job: n_attn + n_moe ranks (MPI_COMM_WORLD or a split)
    int32_t n_attn, n_moe;      // instances
    int32_t n_slots;            // C (expert slots per MoE instance and layer); 0: default =
                                // E when n_moe == 1, else ceil(E / n_moe) + 1 (room for replicas)
    const char *layout_path;    // replica layout JSON; NULL: round-robin, replicas fill free slots
    int32_t policy;             // enum actsched_policy
    int32_t comm;               // enum xfer_scheme, or WORKER_COMM_AUTO
    int32_t dispatch;           // enum xfer_mode (broadcast, selective) or WORKER_DISPATCH_AUTO:
                                // the cost model picks the (scheme, mode) pair per step; a
                                // fixed comm or dispatch fixes that half only (SPEC §4)
    int32_t sums;               // enum worker_sums (default fixed: with n_moe > 1 the dispatch
                                // is selective; a forced broadcast is refused)
    const char *comm_cost;      // cost overrides "cross_lat_us=50,..." (xfer_cost.h); NULL: none
    int32_t node_size;          // emulated node size K; 0: real hosts (shared-memory split)
    const int32_t *host_labels; // tests: with node_size 0, these n_attn + n_moe host labels
                                // replace the shared-memory split (topo_init_hosts)
    int32_t calibrate;          // 1: ping-pong calibration at start-up; 0: defaults + overrides
    int32_t check_schedule;     // debug/test: 1 = every MoE layer compares the schedule digest
                                // across MoE instances (an allreduce per MoE layer); 0: off
    int32_t n_threads;          // engine threads per rank (1 = serial)
    int32_t max_seqs;           // KV slots per attention instance (<= LIMIT_MAX_SEQS)
    int32_t max_rows;           // rows per attention instance per step (the token budget)
    int32_t n_ctx;              // positions per sequence; 0: the model's, at most 4096
    int32_t kv_type;            // attention ranks' KV cache storage, enum kern_kvtype (0: F32)
    int32_t matmul;             // numeric path of quantized-weight products, enum linear_path
                                // (0: the default); every rank must have the same (checked)
    uint64_t seed;              // seed of the random scheduler policy
    const char *expert_stats_out; // MoE instance 0: at shutdown, write the activation
                                  // statistics (janus-stats JSON, SPEC §6) here; NULL: none
    int64_t stats_half_life;      // MoE ranks' expert statistics (place/stats.h) decay by half
                                  // over this many steps with tokens (live re-placement reads
                                  // them); 0: the decay WORKER_STATS_DECAY per step
    const char *layout_carry;     // live re-placement across relaunches (issue 16 item 2), NULL:
                                  // none. Rank 0 writes the layout there after every switch; at
                                  // start, if the file holds a valid layout of this
                                  // deployment's shape, rank 0 sends it to every rank and it
                                  // replaces layout_path's (or round-robin); else it is ignored
    const char *logits_out;       // rank 0: file receiving the logits of the first sampled row
                                  // (`janus run --logits`); NULL: none
};

// Defaults: 1 + 1 instances, greedy, auto scheme and dispatch, node size 1, calibration on,
// schedule check off, 1 thread, 32 seqs, 256 rows, model context, seed 0, MPI_COMM_WORLD.
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

// Rank 0 only (e from worker_mpi_start). Reports, through fn(cookie, why), every rank whose
// wake-up connection breaks: a host or link gone, named (comm/wake.h wake_watch_peers).
// JANUS_OK, or an error when the channel is off (nothing is watched then).
JANUS_WUR int worker_mpi_watch_peers(struct exec *e, void (*fn)(void *cookie, const char *why),
                                     void *cookie);
// Stops that watch (idempotent; exec_destroy does it too).
void worker_mpi_unwatch_peers(struct exec *e);

#endif // JANUS_WORKER_MPI_H
