// Live re-placement of the MPI deployment (issue 16 item 2; SPEC §6, §7; docs/PROTOCOL.md
// "Live re-placement"): rank 0 gathers MoE instance 0's decayed expert statistics (every MoE
// instance schedules every token's routing, so each holds the deployment's), computes the Janus
// layout for them on a thread while the steps go on (place/drift.h; PLANNING) and broadcasts
// it between two steps once it is ready; every rank rebuilds and checks it (digest),
// MoE ranks load the slabs their new share adds on a background thread while steps go on;
// between steps rank 0 polls every rank (one allreduce) and when all are ready every rank
// switches before the same step, MoE ranks then releasing the slabs they no longer hold.
// Attention ranks switch too: selective dispatch schedules on every rank (runtime/step.c).
// Test hook: JANUS_REPLACE_LOAD_DELAY_MS=N delays every MoE rank's loading by N ms.
// SPDX-License-Identifier: MIT
#ifndef JANUS_RUNTIME_REPLACE_H
#define JANUS_RUNTIME_REPLACE_H

#include "base/base.h"
#include "comm/wire.h"
#include "place/layout.h"
#include "place/stats.h"
#include "runtime/exec.h"

#include <pthread.h>
#include <stdint.h>

enum { REPLACE_LOADING = 0, REPLACE_READY = 1, REPLACE_FAILED = -1 };

// One rank's re-placement under way (part of struct worker).
struct replace_state {
    int active;         // a LOAD arrived and neither a switch nor an abort followed
    struct layout next; // the new layout (valid while active)
    uint8_t *held_next; // MoE rank: (n_layer · n_expert) the slabs of its new share
    uint8_t *load_mask; // MoE rank: held_next minus what it holds (the loader's work)
    pthread_t loader;
    int loader_started;
    pthread_t releaser;    // MoE rank, after a switch or a drop: gives back the slabs no longer
    int releaser_started;  // held (madvise can take tens of ms: not between two steps)
    uint8_t *release_mask; // (n_layer · n_expert) the releaser's work, freed by it
    _Atomic int state;     // REPLACE_LOADING, _READY or _FAILED
    uint64_t load_bytes;   // what the loader loaded (read after the join)
    char why[JANUS_ERR_LEN];
    // rank 0: the figures of the re-placement under way (reported once it switched)
    struct exec_replace_report rep;
    // rank 0, PLANNING: the layout computed on a thread from the gathered statistics while
    // the steps go on (at DeepSeek-V2's scale it takes a good part of a second)
    int planning;            // a planner was started and its result not taken yet
    pthread_t planner;       // joined when plan_done is set (replace_poll) or at the end
    int planner_started;     // 0: it ran inline (no thread could be made)
    _Atomic int plan_done;   // set by the planner when plan_* below are final
    struct stats plan_stats; // the statistics (the planner's; freed by it)
    struct layout plan_next; // the result, when plan_rc == JANUS_OK
    int plan_rc;
    char plan_err[JANUS_ERR_LEN];
    double plan_min_gain;
    int plan_dry_run;
    int64_t plan_t0;  // when the re-placement began (clock_now_ns)
    int64_t plan_end; // when the planner finished
};

struct worker;

// The executor's replace_begin / replace_poll (exec.h) on rank 0.
JANUS_WUR int replace_begin(struct exec *e, double min_gain, int dry_run,
                            struct exec_replace_report *out, char *err, size_t err_len);
JANUS_WUR int replace_poll(struct exec *e, struct exec_replace_report *out);

// Every rank but 0: a REPLACE header arrived (the worker loop). JANUS_OK, or JANUS_ECOMM (a
// collective failed: the caller aborts the job). A bad layout only fails this re-placement.
JANUS_WUR int replace_on_header(struct worker *w, const struct wire_replace *r);

// Rebuilds a layout from its wire form (wire.h: per layer 1/0 then n_instances * n_slots
// slots) and checks it against the model's MoE layers (is_moe, n_layers entries) and digest.
// out must not be initialised (zeroed on failure). JANUS_OK or JANUS_EPROTO (err says why).
JANUS_WUR int replace_layout_from_ints(struct layout *out, const struct wire_replace *r,
                                       const int32_t *ints, const uint8_t *is_moe, char *err,
                                       size_t err_len);
// The wire form of l into ints (wire_replace_layout_ints(...) values).
void replace_layout_to_ints(const struct layout *l, int32_t *ints);

// Start-up, collective on topo.comm (every rank, after the topology exists): with
// p.layout_carry set, rank 0 reads that file; a valid layout of this deployment's shape
// replaces w->layout on every rank (broadcast in wire form, checked like a LOAD). A missing,
// unreadable or mismatched file leaves the layout as it is (rank 0 says why when the file
// exists). JANUS_OK, or JANUS_ECOMM (a collective failed).
JANUS_WUR int replace_carry_layout(struct worker *w);

// Frees what a re-placement under way holds (joins its loader). At worker teardown.
void replace_free(struct worker *w);

#endif // JANUS_RUNTIME_REPLACE_H
