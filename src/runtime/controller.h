// The controller loop (SPEC §2): connects to the front's socket, announces the deployment
// (READY), then loops — receive SUBMIT/CANCEL/SHUTDOWN, drive the batcher, run one step on
// the executor, send TOKEN/FINISH (and ERROR for refused requests), send STATS
// periodically; live re-placements (REPLACE, the drift policy; REPLACED back). When idle it runs an
// empty heartbeat step every heartbeat_ms, so the front can prove the whole deployment completed a
// step recently (/health readiness). Single-threaded. Not collective: under MPI only the controller
// rank runs it; the executor broadcasts each step to the other ranks. SPDX-License-Identifier: MIT
#ifndef JANUS_CTL_H
#define JANUS_CTL_H

#include "base/base.h"
#include "base/fdwatch.h"
#include "place/drift.h"
#include "runtime/exec.h"
#include "requests/batcher.h"

#include <stdint.h>

struct ctl_params {
    const char *socket_path;    // the front's listening socket
    int32_t token_budget;       // rows per instance per step (0: BATCHER_DEFAULT_TOKEN_BUDGET)
    int32_t max_waiting;        // waiting-queue bound (0: BATCHER_DEFAULT_MAX_WAITING; <0: none)
    int32_t eos_token;          // -1: none
    int32_t heartbeat_ms;       // idle heartbeat step period (0: 1000)
    int32_t stats_ms;           // STATS period (0: 500)
    int32_t connect_timeout_ms; // how long to retry connecting (0: 10000)
    int32_t step_delay_ms;      // testing: sleep this long before every step (0: none), so that
                                // end-to-end tests can disconnect or kill mid-request reliably
    // Lifeline (issue 16 item 1), NULL: none. Once connected, ctl_run starts it on the front's
    // socket (base/fdwatch.h): when the front goes and the process has not ended
    // CTL_FRONT_GONE_GRACE_MS later (its step, or the executor's teardown, is stuck on a
    // stalled rank), it ends with _exit(4), which makes mpirun end the other ranks. The
    // caller stops it (fdwatch_stop) once the executor is destroyed, even after an error.
    struct fdwatch *lifeline;
    // Fault reports from other threads of this process (NULL: none): once connected, ctl_run
    // calls watch_start(watch_cookie, report, r) and, before it returns, watch_stop; report(r,
    // why) may then be called from any thread and sends why to the front as the job's ERROR
    // (id 0): e.g. rank 0 naming a host whose link went down while its step waits for it.
    int (*watch_start)(void *cookie, void (*report)(void *r, const char *why), void *r);
    void (*watch_stop)(void *cookie);
    void *watch_cookie;
    // Live re-placement (issue 16 item 2): REPLACE from the front, or the drift policy
    // (drift.threshold > 0: off by default). While one is loading, the controller asks the
    // ranks every replace_poll_ms (0: 20) between steps whether they are ready to switch.
    struct drift_policy drift;
    int32_t replace_poll_ms;
    // Measurement (scripts/measure-replace.sh), NULL: none. A file that gets one line per step:
    // "step rows ns" (the controller's step number, batch rows over every instance, the step's
    // wall time); "replace-begin STEP" when a re-placement's layout went out before step STEP,
    // "replace STEP" when it switched before step STEP.
    const char *step_log;
};

#define CTL_FRONT_GONE_GRACE_MS 5000

// Fills p with the defaults above (socket_path NULL, eos -1).
void ctl_default_params(struct ctl_params *p);

// Runs the controller until the front sends SHUTDOWN or disconnects (JANUS_OK), or the
// executor fails (JANUS_ECOMM after telling the front: ERROR for the job and FINISH(error)
// for every running request). JANUS_EIO if the front's socket cannot be reached,
// JANUS_EINVAL for bad parameters (reason in err). The executor stays owned by the caller.
JANUS_WUR int ctl_run(struct exec *e, const struct ctl_params *p, char *err, size_t err_len);

#endif // JANUS_CTL_H
