// The MPI deployment's start-up and executor (worker_mpi.h): the collective start on every
// rank (each step of setup agreed by all ranks, so a failure is reported, never a hang),
// then the worker loop (control.c) or, on rank 0, the executor handed to the controller.
// SPDX-License-Identifier: MIT
#include "runtime/worker_mpi.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "comm/comm.h"
#include "comm/wire.h"
#include "runtime/control.h"
#include "runtime/worker.h"

#include <stdlib.h>
#include <string.h>

void worker_mpi_default_params(struct worker_mpi_params *p) {
    memset(p, 0, sizeof *p);
    p->parent = MPI_COMM_WORLD;
    p->n_attn = p->n_moe = 1;
    p->policy = ACTSCHED_POLICY_GREEDY;
    p->comm = WORKER_COMM_AUTO;
    p->dispatch = WORKER_DISPATCH_AUTO;
    p->node_size = 1;
    p->calibrate = 1;
    p->check_schedule = 0;
    p->n_threads = 1;
    p->max_seqs = 32;
    p->max_rows = 256;
}

static int mpi_step(struct exec *e, const struct batch *b, struct batch_result *r) {
    return control_step((struct worker *)e, b, r, NULL);
}

static int mpi_step_logits(struct exec *e, const struct batch *b, struct batch_result *r,
                           float *logits) {
    return control_step((struct worker *)e, b, r, logits);
}

static void mpi_destroy(struct exec *e) {
    struct worker *w = (struct worker *)e;
    control_stop(w);
    worker_free(w);
}

static const struct exec_ops mpi_ops = {
    .step = mpi_step,
    .step_logits = mpi_step_logits,
    .stats = worker_stats_exec,
    .destroy = mpi_destroy,
    .replace_begin = replace_begin,
    .replace_poll = replace_poll,
};

int worker_mpi_start(const struct worker_mpi_params *p, struct exec **out, char *err,
                     size_t err_len) {
    *out = NULL;
    int me = 0, size = 0;
    COMM_TRY(MPI_Comm_rank(p->parent, &me));
    COMM_TRY(MPI_Comm_size(p->parent, &size));
    if (p->n_attn < 1 || p->n_moe < 1 || p->n_attn > LIMIT_MAX_INSTANCES ||
        p->n_moe > LIMIT_MAX_INSTANCES || p->n_attn + p->n_moe != size || p->max_seqs < 1 ||
        p->max_seqs > LIMIT_MAX_SEQS || p->max_rows < 1 || p->max_rows > LIMIT_MAX_STEP_ROWS ||
        p->policy < 0 || p->policy >= ACTSCHED_POLICY_COUNT || p->comm < WORKER_COMM_AUTO ||
        p->comm >= XFER_N_SCHEMES || p->dispatch < WORKER_DISPATCH_AUTO ||
        p->dispatch >= XFER_N_MODES || p->node_size < 0 || p->n_slots < 0)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "bad deployment: %d attention + %d MoE instances on %d ranks (need "
                           "equal), max_seqs %d, max_rows %d, policy %d, comm %d, dispatch %d, "
                           "node size %d",
                           p->n_attn, p->n_moe, size, p->max_seqs, p->max_rows, p->policy, p->comm,
                           p->dispatch, p->node_size);
    if (p->sums != WORKER_SUMS_FIXED && p->sums != WORKER_SUMS_GROUPED)
        return status_errf(err, err_len, JANUS_EINVAL, "bad deployment: sums %d", p->sums);
    int fixed_sel = p->sums == WORKER_SUMS_FIXED && p->n_moe > 1;
    if (fixed_sel && p->dispatch == XFER_MODE_BROADCAST)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--dispatch broadcast with %d MoE instances sums a token's experts per "
                           "instance: pass --sums grouped to accept that (fixed-order sums need "
                           "selective dispatch)",
                           p->n_moe);
    struct worker *w = mem_calloc(MEM_TAG_ENGINE, 1, sizeof *w);
    if (!w) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    w->p = *p;
    if (fixed_sel) w->p.dispatch = XFER_MODE_SELECTIVE; // the cost model picks the scheme only
    w->fault_rank = w->fault_step = -1;
    const char *fsched = getenv("JANUS_FAULT_SCHEDULE");
    w->fault_sched_rank = fsched ? strtoll(fsched, NULL, 10) : -1;
    if (fsched) w->p.check_schedule = 1; // the hook exists to test the check
    const char *fault = getenv("JANUS_FAULT_DIE");
    if (fault) {
        char *end = NULL;
        w->fault_rank = strtoll(fault, &end, 10);
        w->fault_step = end && *end == ':' ? strtoll(end + 1, NULL, 10) : -1;
    }
    char local_err[JANUS_ERR_LEN] = "";
    int rc = worker_setup_local(w, local_err, sizeof local_err);
    // Agree on the outcome before any collective that needs a model (min over statuses).
    int worst = rc;
    COMM_TRY(MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, p->parent));
    if (worst == JANUS_OK) {
        // One kernel table for all ranks (the least capable host's): every MoE instance must
        // compute the gate bit-identically (SPEC §3), whatever CPUs the hosts have.
        int level = kern_level(w->lin.kern), lowest = level;
        COMM_TRY(MPI_Allreduce(&level, &lowest, 1, MPI_INT, MPI_MIN, p->parent));
        if (lowest != level) w->lin.kern = kern_at_most(lowest);
        snprintf(w->base.info.kernels, sizeof w->base.info.kernels, "%s", w->lin.kern->name);
        // One numeric path for all ranks (issue 13 item 2): the launchers pass the same
        // --matmul to every rank; a rank started otherwise (or a build with another default)
        // makes the start fail on every rank, never a silent mix.
        const char *path = linear_path_name(w->lin.path);
        snprintf(w->base.info.matmul, sizeof w->base.info.matmul, "%s", path);
        rc = comm_check_equal_u64(p->parent, (uint64_t)w->lin.path, "numeric path (--matmul)");
        if (rc)
            status_errf(local_err, sizeof local_err, JANUS_EINVAL,
                        "ranks disagree on the numeric path of quantized products: this rank "
                        "(%d) has --matmul %s, another rank not (give every rank the same)",
                        me, path);
        if (rc == JANUS_OK) {
            rc = p->node_size == 0 && p->host_labels
                     ? topo_init_hosts(&w->topo, p->parent, p->n_attn, p->n_moe, p->host_labels)
                     : topo_init(&w->topo, p->parent, p->n_attn, p->n_moe, p->node_size);
            w->topo_ok = rc == JANUS_OK;
            if (rc)
                status_errf(local_err, sizeof local_err, rc, "topology: %s", janus_strerror(rc));
        }
        if (rc == JANUS_OK) {
            log_set_identity(comm_world_rank(), w->topo.role == TOPO_ROLE_ATTN
                                                    ? (me == 0 ? "ctl+attn" : "attn")
                                                    : "moe");
            rc = replace_carry_layout(w); // a re-placed layout kept across a relaunch
            rc = comm_check_equal_u64(w->topo.comm, layout_digest(&w->layout),
                                      "replica layout digest");
            if (rc == JANUS_OK)
                rc = comm_check_equal_u64(w->topo.comm, w->model.n_bytes_weights,
                                          "model weight bytes");
            if (rc)
                status_errf(local_err, sizeof local_err, rc,
                            "ranks disagree on the model or layout");
        }
        if (rc == JANUS_OK) rc = worker_load_share(w, local_err, sizeof local_err);
        if (rc == JANUS_OK) {
            rc = worker_setup_role(w);
            if (rc)
                status_errf(local_err, sizeof local_err, rc, "rank %d: setup: %s", me,
                            janus_strerror(rc));
        }
        int rc2 = rc;
        COMM_TRY(MPI_Allreduce(&rc2, &worst, 1, MPI_INT, MPI_MIN, p->parent));
    }
    if (worst == JANUS_OK) {
        xfer_cost_default(&w->cost);
        if (p->calibrate) rc = xfer_cost_calibrate(&w->cost, &w->topo);
        if (rc == JANUS_OK && p->comm_cost)
            rc = xfer_cost_override(&w->cost, p->comm_cost, local_err, sizeof local_err);
        int rc2 = rc;
        COMM_TRY(MPI_Allreduce(&rc2, &worst, 1, MPI_INT, MPI_MIN, p->parent));
    }
    if (worst != JANUS_OK) {
        // Every rank returns the same status; the one with a reason reports it.
        if (rc != JANUS_OK)
            status_errf(err, err_len, worst, "%s", local_err[0] ? local_err : janus_strerror(rc));
        else
            status_errf(err, err_len, worst, "another rank failed to start (%s)",
                        janus_strerror(worst));
        worker_free(w);
        return worst;
    }
    // One buffer for every header the control plane broadcasts (STEP, STATS, REPLACE, STOP).
    w->hdr_len = JANUS_MAX(wire_step_size(p->n_attn), wire_replace_size());
    w->hdr = mem_calloc(MEM_TAG_COMM, w->hdr_len, 1);
    // Idle ranks block instead of polling (issue 15 item 7); without the channel they poll.
    if (!w->hdr || wake_open(&w->wake, w->topo.comm) != JANUS_OK) comm_abort(6);
    if (me != 0) {
        control_worker_loop(w);
        worker_stats_save_experts(w);
        worker_free(w);
        return JANUS_OK;
    }
    w->req = mem_calloc(MEM_TAG_COMM, (size_t)p->n_attn, sizeof(MPI_Request));
    if (!w->req || exec_kv_init(&w->kv, &w->base.info, p->max_rows) != JANUS_OK) comm_abort(6);
    w->base.ops = &mpi_ops;
    *out = &w->base;
    return JANUS_OK;
}

int worker_mpi_watch_peers(struct exec *e, void (*fn)(void *cookie, const char *why),
                           void *cookie) {
    return wake_watch_peers(&((struct worker *)e)->wake, fn, cookie);
}

void worker_mpi_unwatch_peers(struct exec *e) { wake_unwatch_peers(&((struct worker *)e)->wake); }
