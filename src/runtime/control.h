// The control plane of the MPI deployment (SPEC §3, docs/PROTOCOL.md), on topo.comm: the
// step header (an MPI_Bcast from rank 0 of a fixed-size wire message: STEP, STATS or STOP),
// each attention instance's local batch shipped packed to the rows in use (batch_pack) and
// validated on arrival, sampled tokens (and logits on logits steps) back to rank 0; the
// loop every rank but the controller runs; failures (a failed step makes the executor
// unusable; a failure on a worker rank aborts the job, so no rank hangs).
// Test hook: JANUS_FAULT_DIE="rank:step" makes that world rank kill itself (SIGKILL) when
// that step's header arrives (tests/mpi/test_run.py: the job must fail with a report).
// SPDX-License-Identifier: MIT
#ifndef JANUS_CONTROL_H
#define JANUS_CONTROL_H

#include "base/base.h"
#include "runtime/worker.h"

#include <stdint.h>

// Writes an empty header of type (WIRE_TYPE_STATS / _STOP) for the current step.
void control_make_header(struct worker *w, uint16_t type);
// The header broadcast (every rank; collective on topo.comm).
JANUS_WUR int control_bcast_header(struct worker *w);

// Rank 0: runs one step of the deployment (exec_ops.step / step_logits contract, exec.h).
JANUS_WUR int control_step(struct worker *w, const struct batch *batches,
                           struct batch_result *results, float *logits);

// Every rank but 0: runs steps until a STOP header. Any failure aborts the job.
void control_worker_loop(struct worker *w);

// Rank 0: tells every rank to leave its loop (STOP), or aborts the job after a failure.
void control_stop(struct worker *w);

#endif // JANUS_CONTROL_H
