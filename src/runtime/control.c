// The control plane of the MPI deployment (control.h).
// SPDX-License-Identifier: MIT
#include "runtime/control.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "comm/comm.h"
#include "comm/wire.h"
#include "runtime/step.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define TAG_BATCH  20001
#define TAG_RESULT 20002
#define TAG_LOGITS 20003

// ---- the step header

void control_make_header(struct worker *w, uint16_t type) {
    memset(w->hdr, 0, w->hdr_len);
    struct wire_header h = {WIRE_MAGIC, WIRE_VERSION, type, WIRE_LAYER_NONE, 0, w->step_no};
    wire_header_encode(&h, w->hdr);
}

// Nonblocking on every rank (blocking and nonblocking collectives do not match): the
// controller waits at once; a worker tests the request, busily for HDR_SPIN_NS after a step
// with rows (back-to-back steps arrive within it), then blocks in poll() on the wake-up
// channel (comm/wake.h) for at most HDR_WAIT_MS at a time, testing again after each return.
// After an idle header (a heartbeat step with no rows, STATS) it blocks at once. Without the
// channel (its set-up failed, JANUS_WAKE=off) it polls as before: HDR_SLEEP_NS naps.
//
// No lost wake-up. Rank 0 sends a wake-up byte (wake_signal) with every header unless the
// previous header had rows and this one left less than HDR_SPIN_NS / 2 after rank 0 began
// to post that one (rank 0 reads the clock before posting the previous header and after
// posting this one, so a preempted rank 0 errs towards sending).
// (1) Headers without a byte: a worker blocks only after its spin window, which starts when
// it posts its receive, after the previous header arrived, so after rank 0 began to post
// that one; and the test that lets it block is made after the window ended (the clock is
// read first), however long the worker was off the CPU. A header that left within
// HDR_SPIN_NS / 2 of the previous one is therefore found by that test, with half a window
// of slack for the delivery. After a header without rows the worker may block at once,
// and the next header always comes with a byte.
// (2) Headers with a byte: rank 0 writes it after posting the broadcast. A byte stays in the
// socket until read, and poll() reports it whether it came before or during the call, so a
// worker never blocks while a byte sent for its header lies unread.
// (3) Nor does it read that byte too early: every rank takes part in every step (each MoE
// layer's exchange reaches every rank) and every statistics reduction, so rank 0 posts
// header k+1 only after every worker received header k; the byte of header k+1 can only be
// read in the wait for header k+1 (or, harmlessly, in a later one, if the worker caught
// header k+1 while spinning). Having read it, the worker spins a full window, testing.
// So a worker sleeps through a header only if its delivery takes longer than half a window
// (a stalled host); whatever goes wrong, even a byte lost with a broken connection, a wait
// costs at most HDR_WAIT_MS more, never a hang: the channel is a hint, MPI the truth.
#define HDR_SPIN_NS  2000000
#define HDR_SLEEP_NS 200000
#define HDR_WAIT_MS  200
#define HDR_GONE_NS  1000000000 // after rank 0 closed the channel: the last header's grace

// Whether the header in w->hdr lets the workers block at once (no rows: heartbeat, STATS).
static int header_busy(const struct worker *w) {
    struct wire_header h;
    struct wire_step st;
    if (wire_header_decode(w->hdr, w->hdr_len, &h) != JANUS_OK || h.type != WIRE_TYPE_STEP ||
        wire_step_decode(w->hdr, WIRE_HEADER_SIZE + h.len, w->p.n_attn, &st) != JANUS_OK)
        return 0;
    for (int32_t i = 0; i < st.n_attn; i++)
        if (st.b[i] > 0) return 1;
    return 0;
}

// Rank 0 closed the wake-up channel: it ended (a normal end closes only after every rank
// left its loop) or died. A header it sent just before still counts; then this rank ends.
static int controller_gone(struct worker *w, MPI_Request *req) {
    int64_t t0 = clock_now_ns();
    while (clock_now_ns() - t0 < HDR_GONE_NS) {
        int done = 0;
        COMM_TRY(MPI_Test(req, &done, MPI_STATUS_IGNORE));
        if (done) return JANUS_OK;
        clock_sleep_ns(HDR_SLEEP_NS);
    }
    LOG_ERROR("worker: the controller (rank 0) closed the wake-up channel: it is gone; ending");
    _exit(4);
}

static int wait_header(struct worker *w, MPI_Request *req) {
    int64_t t0 = clock_now_ns();
    int64_t spin = w->wake.live && !w->hdr_busy ? 0 : HDR_SPIN_NS;
    for (;;) {
        // The clock first: the test that decides to block comes after the window ended,
        // even if this rank lost the CPU in between.
        int late = clock_now_ns() - t0 > spin, done = 0;
        COMM_TRY(MPI_Test(req, &done, MPI_STATUS_IGNORE));
        if (done) return JANUS_OK;
        if (!late) continue;
        if (!w->wake.live) {
            clock_sleep_ns(HDR_SLEEP_NS);
            continue;
        }
        enum wake_event ev = wake_wait(&w->wake, HDR_WAIT_MS);
        if (ev == WAKE_CLOSED) return controller_gone(w, req);
        if (ev == WAKE_TIMEOUT) {
            COMM_TRY(MPI_Test(req, &done, MPI_STATUS_IGNORE));
            if (done) LOG_DEBUG("a header found after a poll timeout: a late wake-up");
            if (done) return JANUS_OK;
        }
        if (ev == WAKE_WOKEN) {
            t0 = clock_now_ns();
            spin = HDR_SPIN_NS;
        }
    }
}

int control_bcast_header(struct worker *w) {
    MPI_Request req;
    int64_t before = clock_now_ns(); // the workers receive the header after this
    COMM_TRY(MPI_Ibcast(w->hdr, (int)w->hdr_len, MPI_BYTE, 0, w->topo.comm, &req));
    int rc;
    if (w->topo.rank == 0) {
        // The header left before now: measured from the previous one's `before`.
        if (!w->hdr_busy || clock_now_ns() - w->hdr_ns > HDR_SPIN_NS / 2) wake_signal(&w->wake);
        w->hdr_ns = before;
        rc = JANUS_MPI_CALL(MPI_Wait(&req, MPI_STATUS_IGNORE));
    } else {
        rc = wait_header(w, &req);
    }
    // The same bytes on every rank now. A REPLACE header between two steps with rows keeps the
    // flag: the workers go on spinning after it, so the next step does not wait for their
    // wake-up (the argument above holds: the window starts after this header arrived).
    struct wire_header h;
    int replace = rc == JANUS_OK && wire_header_decode(w->hdr, w->hdr_len, &h) == JANUS_OK &&
                  h.type == WIRE_TYPE_REPLACE;
    if (!replace) w->hdr_busy = rc == JANUS_OK && header_busy(w);
    return rc;
}

// ---- rank 0: one step

// Receives attention instance i's tokens (and logits into lg when wanted).
static int recv_result(struct worker *w, int32_t i, const struct batch *b, struct batch_result *r,
                       float *lg) {
    int src = w->topo.side[TOPO_ROLE_ATTN].rank[i], count = 0;
    MPI_Status st;
    COMM_TRY(MPI_Recv(r, 1 + LIMIT_MAX_SEQS, MPI_INT32_T, src, TAG_RESULT, w->topo.comm, &st));
    COMM_TRY(MPI_Get_count(&st, MPI_INT32_T, &count));
    if (count != 1 + b->n_logits || r->n_sample != b->n_logits) return JANUS_EPROTO;
    if (lg && b->n_logits > 0)
        COMM_TRY(MPI_Recv(lg, (int)(b->n_logits * w->V), MPI_FLOAT, src, TAG_LOGITS, w->topo.comm,
                          MPI_STATUS_IGNORE));
    return JANUS_OK;
}

int control_step(struct worker *w, const struct batch *batches, struct batch_result *results,
                 float *logits) {
    if (w->failed) return JANUS_ECOMM;
    const struct exec_info *info = &w->base.info;
    char why[JANUS_ERR_LEN];
    if (exec_kv_check(&w->kv, info, batches, why, sizeof why) != JANUS_OK) {
        LOG_WARN("batch refused: %s", why);
        return JANUS_EINVAL;
    }
    int64_t t0 = clock_now_ns();
    struct wire_step st;
    memset(&st, 0, offsetof(struct wire_step, b));
    st.step = w->step_no;
    st.n_attn = info->n_attn;
    for (int32_t i = 0; i < info->n_attn; i++)
        st.b[i] = (int32_t)batches[i].n;
    int want_logits = logits != NULL || (w->p.logits_out && !w->logits_written);
    st.flags = want_logits ? WIRE_STEP_LOGITS : 0;
    // The (scheme, mode) pair: fixed halves from --comm / --dispatch, the rest from the cost
    // model (SPEC §4). Selective needs xfer_sel_init (every dispatch but a forced broadcast).
    int32_t mode = XFER_MODE_BROADCAST;
    if (w->p.comm >= 0 && (w->p.dispatch >= 0 || w->xf.k < 1)) {
        st.scheme = w->p.comm;
        mode = w->p.dispatch >= 0 ? w->p.dispatch : XFER_MODE_BROADCAST;
    } else {
        xfer_choose_pair(
            &w->cost, &w->topo, st.b, w->d * (int64_t)sizeof(float), w->xf.k, (int32_t)w->n_expert,
            w->p.comm, w->xf.k < 1 ? XFER_MODE_BROADCAST : w->p.dispatch, &st.scheme, &mode, NULL);
    }
    if (mode == XFER_MODE_SELECTIVE) st.flags |= WIRE_STEP_SELECTIVE;
    w->cur_step = st.step;
    size_t n_hdr = 0;
    int rc = wire_step_encode(&st, w->hdr, w->hdr_len, &n_hdr);
    if (rc == JANUS_OK) rc = xfer_step(&w->xf, &st);
    if (rc) return rc;
    w->failed = 1; // until the step completes: a transport failure leaves the job unusable
    if (control_bcast_header(w) != JANUS_OK) return JANUS_ECOMM;
    for (int32_t i = 1; i < info->n_attn; i++) {
        uint8_t *buf = w->pack + (size_t)i * w->pack_len;
        size_t len = 0;
        if (batch_pack(&batches[i], buf, w->pack_len, &len) != JANUS_OK ||
            JANUS_MPI_CALL(MPI_Isend(buf, (int)len, MPI_BYTE, w->topo.side[TOPO_ROLE_ATTN].rank[i],
                                     TAG_BATCH, w->topo.comm, &w->req[i])) != JANUS_OK)
            return JANUS_ECOMM;
    }
    if (step_attn(w, &batches[0], &results[0], logits) != JANUS_OK) return JANUS_ECOMM;
    if (info->n_attn > 1 &&
        JANUS_MPI_CALL(MPI_Waitall(info->n_attn - 1, w->req + 1, MPI_STATUSES_IGNORE)) != JANUS_OK)
        return JANUS_ECOMM;
    if (batches[0].n_logits > 0) worker_stats_write_logits(w, w->logits);
    int64_t base = batches[0].n_logits;
    for (int32_t i = 1; i < info->n_attn; i++) {
        // Without a caller's buffer, rank 0's own logits buffer (already used) receives them.
        float *lg = !want_logits ? NULL : logits ? logits + base * w->V : w->logits;
        if (recv_result(w, i, &batches[i], &results[i], lg) != JANUS_OK) return JANUS_ECOMM;
        if (lg && batches[i].n_logits > 0) worker_stats_write_logits(w, lg);
        base += batches[i].n_logits;
    }
    w->failed = 0;
    exec_kv_commit(&w->kv, batches);
    w->step_no++;
    w->n_steps++;
    w->scheme_steps[st.scheme]++;
    w->pair_steps[mode][st.scheme]++;
    w->step_ns += (uint64_t)(clock_now_ns() - t0);
    return JANUS_OK;
}

void control_stop(struct worker *w) {
    if (w->failed) {
        LOG_ERROR("the deployment failed; ending the MPI job");
        comm_abort(5);
    }
    control_make_header(w, WIRE_TYPE_STOP);
    if (control_bcast_header(w) != JANUS_OK) comm_abort(5);
}

// ---- every other rank

// One step on a non-controller rank, after the header arrived.
static int worker_step(struct worker *w, const struct wire_step *st) {
    int rc = xfer_step(&w->xf, st);
    if (rc) return rc;
    w->cur_step = st->step;
    if (w->topo.role == TOPO_ROLE_MOE) return step_moe(w, st->step);
    MPI_Status ms;
    int len = 0;
    COMM_TRY(MPI_Recv(w->pack, (int)w->pack_len, MPI_BYTE, 0, TAG_BATCH, w->topo.comm, &ms));
    COMM_TRY(MPI_Get_count(&ms, MPI_BYTE, &len));
    char why[JANUS_ERR_LEN] = "rows differ from the step header";
    if (batch_unpack(&w->batch, w->pack, (size_t)len) != JANUS_OK) {
        LOG_ERROR("attention instance %d: malformed batch message (%d bytes)", w->topo.inst, len);
        return JANUS_EPROTO;
    }
    if (exec_batch_check(&w->batch, &w->base.info, why, sizeof why) != JANUS_OK ||
        w->batch.n != st->b[w->topo.inst]) {
        LOG_ERROR("attention instance %d: malformed batch from the controller: %s", w->topo.inst,
                  why);
        return JANUS_EPROTO;
    }
    int logits = (st->flags & WIRE_STEP_LOGITS) != 0;
    rc = step_attn(w, &w->batch, &w->res, NULL);
    if (rc) return rc;
    COMM_TRY(MPI_Send(&w->res, 1 + w->res.n_sample, MPI_INT32_T, 0, TAG_RESULT, w->topo.comm));
    if (logits && w->batch.n_logits > 0)
        COMM_TRY(MPI_Send(w->logits, (int)(w->batch.n_logits * w->V), MPI_FLOAT, 0, TAG_LOGITS,
                          w->topo.comm));
    return JANUS_OK;
}

void control_worker_loop(struct worker *w) {
    for (;;) {
        int rc = control_bcast_header(w);
        struct wire_header h;
        if (rc == JANUS_OK) rc = wire_header_decode(w->hdr, w->hdr_len, &h);
        if (rc != JANUS_OK) {
            LOG_ERROR("worker: bad step header: %s", janus_strerror(rc));
            comm_abort(4);
        }
        if (h.type == WIRE_TYPE_STOP) return;
        if (h.type == WIRE_TYPE_STATS) {
            if (worker_stats_collect(w, NULL) != JANUS_OK) comm_abort(4);
            continue;
        }
        if (h.type == WIRE_TYPE_REPLACE) {
            struct wire_replace r;
            rc = wire_replace_decode(w->hdr, w->hdr_len, &r);
            if (rc == JANUS_OK) rc = replace_on_header(w, &r);
            if (rc != JANUS_OK) {
                LOG_ERROR("worker: re-placement header failed: %s", janus_strerror(rc));
                comm_abort(4);
            }
            continue;
        }
        struct wire_step st;
        rc = h.type == WIRE_TYPE_STEP
                 ? wire_step_decode(w->hdr, WIRE_HEADER_SIZE + h.len, w->p.n_attn, &st)
                 : JANUS_EPROTO;
        if (rc != JANUS_OK) {
            LOG_ERROR("worker: bad step header (type %u): %s", h.type, janus_strerror(rc));
            comm_abort(4);
        }
        if (w->fault_rank == comm_world_rank() && (int64_t)st.step == w->fault_step) {
            LOG_ERROR("JANUS_FAULT_DIE: rank %d dies at step %lld", comm_world_rank(),
                      (long long)st.step);
            raise(SIGKILL);
        }
        rc = worker_step(w, &st);
        if (rc != JANUS_OK) {
            LOG_ERROR("worker: step %llu failed: %s", (unsigned long long)st.step,
                      janus_strerror(rc));
            comm_abort(4);
        }
    }
}
