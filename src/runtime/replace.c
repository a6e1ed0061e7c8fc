// Live re-placement of the MPI deployment (replace.h).
// SPDX-License-Identifier: MIT
#include "runtime/replace.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "comm/comm.h"
#include "place/drift.h"
#include "runtime/control.h"
#include "runtime/worker.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TAG_REPLACE_STATS 20004
// The releaser starts this long after the switch.
#define REPLACE_RELEASE_DELAY_NS (50 * 1000000LL)
// Largest statistics message MoE instance 0 may send (raw doubles; checked against the
// model's layers and experts on arrival).
#define REPLACE_MAX_STATS_BYTES (256u << 20)

// ---- the layout on the wire

void replace_layout_to_ints(const struct layout *l, int32_t *ints) {
    const int32_t n = l->n_instances, C = l->n_slots;
    int32_t *p = ints;
    for (int32_t i = 0; i < l->n_layers; i++) {
        const struct layout_layer *ly = &l->layers[i];
        *p++ = ly->n_experts > 0;
        for (int32_t g = 0; g < n; g++) {
            int32_t k = ly->n_experts > 0 ? layout_instance_experts(ly, g, p) : 0;
            for (; k < C; k++)
                p[k] = -1;
            p += C;
        }
    }
}

int replace_layout_from_ints(struct layout *out, const struct wire_replace *r, const int32_t *ints,
                             const uint8_t *is_moe, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    if (layout_init(out, r->n_layers, r->n_instances, r->n_slots, r->n_experts) != JANUS_OK)
        return status_errf(err, err_len, JANUS_EPROTO, "bad layout shape");
    const size_t per = (size_t)r->n_instances * (size_t)r->n_slots;
    const int32_t *p = ints;
    int rc = JANUS_OK;
    for (int32_t i = 0; i < r->n_layers && rc == JANUS_OK; i++, p += 1 + per) {
        if (p[0] != 0 && p[0] != 1) {
            rc = status_errf(err, err_len, JANUS_EPROTO, "layer %d: kind %d (0 or 1)", i, p[0]);
        } else if (p[0] != is_moe[i]) {
            rc = status_errf(err, err_len, JANUS_EPROTO, "layer %d is %s in the model", i,
                             is_moe[i] ? "MoE" : "dense");
        } else if (p[0] == 1) {
            char why[JANUS_ERR_LEN];
            if (layout_set_layer_slots(out, i, p + 1, NULL, why, sizeof why) != JANUS_OK)
                rc = status_errf(err, err_len, JANUS_EPROTO, "layer %d: %s", i, why);
        }
    }
    if (rc == JANUS_OK && layout_check(out, err, err_len) != JANUS_OK) rc = JANUS_EPROTO;
    if (rc == JANUS_OK && layout_digest(out) != r->digest)
        rc = status_errf(err, err_len, JANUS_EPROTO,
                         "the layout's digest differs from the controller's");
    if (rc) layout_free(out);
    return rc;
}

// ---- one rank's side

// The loader and the releaser run beside the steps at the lowest priority (nice 19 for this
// thread only, Linux): a step's threads go first when the cores are busy.
static void background_priority(void) {
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

static void *loader_main(void *arg) {
    struct worker *w = arg;
    struct replace_state *rp = &w->rp;
    background_priority();
    // Test hook: JANUS_REPLACE_LOAD_DELAY_MS=N makes every MoE rank's loading take N ms more
    // (tests/e2e/test_serve_replace.sh: a second command while one is loading; steps go on).
    const char *delay = getenv("JANUS_REPLACE_LOAD_DELAY_MS");
    if (delay) clock_sleep_ns((int64_t)strtoll(delay, NULL, 10) * 1000000);
    int rc = model_load_experts(&w->model, rp->load_mask, &rp->load_bytes, rp->why, sizeof rp->why);
    if (rc != JANUS_OK)
        LOG_ERROR("re-placement: MoE instance %d cannot load its new share: %s", w->topo.inst,
                  rp->why);
    rp->state = rc == JANUS_OK ? REPLACE_READY : REPLACE_FAILED;
    return NULL;
}

static void *releaser_main(void *arg) {
    struct worker *w = arg;
    background_priority();
    // After the switch step and a few more (their cores are what this would take), in short
    // bursts (model_drop_experts paces itself).
    clock_sleep_ns(REPLACE_RELEASE_DELAY_NS);
    model_drop_experts(&w->model, w->rp.release_mask);
    return NULL;
}

// Waits for the releaser of the previous re-placement (before another loads, and at the end).
static void join_releaser(struct worker *w) {
    struct replace_state *rp = &w->rp;
    if (rp->releaser_started) pthread_join(rp->releaser, NULL);
    rp->releaser_started = 0;
    mem_free(rp->release_mask);
    rp->release_mask = NULL;
}

// Joins the loader (if any), hands what is no longer needed to the releaser thread (switched:
// the slabs no longer held; dropped: those loaded for nothing), and frees the pending state.
// Only cheap work here: the next step waits for it.
static void finish(struct worker *w, int switched) {
    struct replace_state *rp = &w->rp;
    if (rp->loader_started) pthread_join(rp->loader, NULL);
    rp->loader_started = 0;
    if (w->topo.role == TOPO_ROLE_MOE && rp->held_next) {
        join_releaser(w);
        const size_t n = (size_t)(w->n_layer * w->n_expert);
        uint8_t *drop = mem_calloc(MEM_TAG_MODEL, n, 1);
        for (size_t i = 0; drop && i < n; i++)
            drop[i] = switched ? (uint8_t)(w->held[i] && !rp->held_next[i]) : rp->load_mask[i];
        if (switched) {
            mem_free(w->held);
            w->held = rp->held_next; // the steps check every expert they run against it
            rp->held_next = NULL;
        }
        rp->release_mask = drop;
        if (drop && pthread_create(&rp->releaser, NULL, releaser_main, w) == 0)
            rp->releaser_started = 1;
        else if (drop)
            model_drop_experts(&w->model, drop); // no thread: here, then
    }
    if (switched) {
        layout_free(&w->layout);
        w->layout = rp->next; // moved
        memset(&rp->next, 0, sizeof rp->next);
    }
    layout_free(&rp->next);
    mem_free(rp->held_next);
    mem_free(rp->load_mask);
    rp->held_next = rp->load_mask = NULL;
    rp->active = 0;
}

static void join_planner(struct worker *w);

void replace_free(struct worker *w) {
    join_planner(w);
    if (w->rp.active || w->rp.loader_started) finish(w, 0);
    join_releaser(w);
}

// Every rank after the LOAD header and the layout broadcast: checks the layout and starts
// loading (MoE), or is ready at once (attention). Failures only mark this rank FAILED.
static void prepare(struct worker *w, const struct wire_replace *r, const int32_t *ints) {
    struct replace_state *rp = &w->rp;
    rp->active = 1;
    rp->why[0] = 0;
    rp->load_bytes = 0;
    rp->state = REPLACE_FAILED;
    const struct layout *cur = &w->layout;
    uint8_t is_moe[LIMIT_MAX_LAYERS];
    for (int64_t l = 0; l < w->n_layer; l++)
        is_moe[l] = (uint8_t)hparams_layer_is_moe(&w->model.hp, l);
    if (r->n_layers != cur->n_layers || r->n_instances != cur->n_instances ||
        r->n_slots != cur->n_slots || r->n_experts != cur->n_experts) {
        snprintf(rp->why, sizeof rp->why, "the new layout's shape differs from the current one");
    } else if (replace_layout_from_ints(&rp->next, r, ints, is_moe, rp->why, sizeof rp->why) ==
               JANUS_OK) {
        rp->state = REPLACE_LOADING;
    }
    if (rp->state == REPLACE_FAILED) {
        LOG_ERROR("re-placement: rank %d refuses the new layout: %s", w->topo.rank, rp->why);
        return;
    }
    if (w->topo.role != TOPO_ROLE_MOE) {
        rp->state = REPLACE_READY; // attention ranks only need the layout (selective dispatch)
        return;
    }
    join_releaser(w); // the previous re-placement's releaser touches the model's counters
    const size_t n = (size_t)(w->n_layer * w->n_expert);
    rp->held_next = mem_calloc(MEM_TAG_MODEL, n, 1);
    rp->load_mask = mem_calloc(MEM_TAG_MODEL, n, 1);
    if (!rp->held_next || !rp->load_mask) {
        snprintf(rp->why, sizeof rp->why, "out of memory");
        rp->state = REPLACE_FAILED;
        return;
    }
    for (int64_t l = 0; l < w->n_layer; l++) {
        const struct layout_layer *ly = &rp->next.layers[l];
        for (int32_t e = 0; e < ly->n_experts; e++)
            if (layout_replica_id(ly, e, w->topo.inst) >= 0) {
                size_t i = (size_t)(l * w->n_expert + e);
                rp->held_next[i] = 1;
                rp->load_mask[i] = !w->held[i];
            }
    }
    if (pthread_create(&rp->loader, NULL, loader_main, w) != 0) {
        snprintf(rp->why, sizeof rp->why, "cannot start the loader thread");
        rp->state = REPLACE_FAILED;
        return;
    }
    rp->loader_started = 1;
}

// LOAD on every rank (rank 0 passes the ints it sent; the others receive them).
static int on_load(struct worker *w, const struct wire_replace *r, int32_t *ints_in) {
    int32_t *ints = ints_in;
    if (!ints) ints = mem_alloc(MEM_TAG_COMM, (size_t)r->n_ints * sizeof *ints);
    // The broadcast is collective: a rank without memory still takes part (into a scratch
    // buffer it cannot have: then the job cannot stay consistent).
    if (!ints) {
        LOG_ERROR("re-placement: out of memory for the layout (%u values)", r->n_ints);
        comm_abort(4);
    }
    int rc = JANUS_MPI_CALL(MPI_Bcast(ints, (int)r->n_ints, MPI_INT32_T, 0, w->topo.comm));
    if (rc == JANUS_OK) {
        if (w->rp.active) {
            LOG_ERROR("re-placement: a LOAD while one is under way; dropping both");
            finish(w, 0);
            w->rp.active = 1;
            w->rp.state = REPLACE_FAILED;
        } else {
            prepare(w, r, ints);
        }
    }
    if (ints != ints_in) mem_free(ints);
    return rc;
}

// POLL on every rank: one allreduce of the states; all ready: the digest is compared once
// more and every rank switches; any failed: every rank drops it. *state_out: the outcome
// (REPLACE_READY = switched, _FAILED = dropped, _LOADING = still loading).
static int on_poll(struct worker *w, int *state_out, uint64_t *bytes_out) {
    struct replace_state *rp = &w->rp;
    int mine = rp->active ? rp->state : REPLACE_FAILED, all = REPLACE_FAILED;
    COMM_TRY(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, w->topo.comm));
    *state_out = all;
    if (all == REPLACE_LOADING) return JANUS_OK;
    uint64_t bytes = 0, mybytes = 0;
    if (all == REPLACE_READY) {
        int rc = comm_check_equal_u64(w->topo.comm, layout_digest(&rp->next),
                                      "re-placement layout digest");
        if (rc == JANUS_ECOMM) return rc;
        if (rc != JANUS_OK) {
            *state_out = all = REPLACE_FAILED;
        } else {
            if (rp->loader_started) pthread_join(rp->loader, NULL);
            rp->loader_started = 0;
            mybytes = rp->load_bytes;
            COMM_TRY(MPI_Allreduce(&mybytes, &bytes, 1, MPI_UINT64_T, MPI_SUM, w->topo.comm));
        }
    }
    if (bytes_out) *bytes_out = bytes;
    finish(w, all == REPLACE_READY);
    return JANUS_OK;
}

// STATS on MoE instance 0: its statistics to rank 0, raw (stats_layer_raw_get, every layer
// in order: a copy, no formatting, so the pause between two steps stays short).
static int send_stats(struct worker *w) {
    const size_t per = stats_layer_raw_count(w->stats.n_experts);
    const size_t n = per * (size_t)w->stats.n_layers;
    double *buf = n <= REPLACE_MAX_STATS_BYTES / sizeof(double)
                      ? mem_alloc(MEM_TAG_COMM, JANUS_MAX(n, 1) * sizeof *buf)
                      : NULL;
    for (int32_t l = 0; buf && l < w->stats.n_layers; l++)
        stats_layer_raw_get(&w->stats, l, buf + (size_t)l * per);
    // Without memory, an empty message: rank 0 then reports "no statistics".
    int rc = JANUS_MPI_CALL(MPI_Send(buf ? buf : (double[1]){0}, buf ? (int)n : 0, MPI_DOUBLE, 0,
                                     TAG_REPLACE_STATS, w->topo.comm));
    mem_free(buf);
    return rc;
}

int replace_on_header(struct worker *w, const struct wire_replace *r) {
    switch (r->phase) {
    case WIRE_REPLACE_STATS:
        if (w->topo.role == TOPO_ROLE_MOE && w->topo.inst == 0) return send_stats(w);
        return JANUS_OK;
    case WIRE_REPLACE_LOAD: return on_load(w, r, NULL);
    case WIRE_REPLACE_POLL: {
        int st;
        int rc = on_poll(w, &st, NULL);
        if (rc == JANUS_OK && st == REPLACE_READY && w->topo.role == TOPO_ROLE_MOE)
            LOG_DEBUG("re-placement: MoE instance %d switched before step %llu", w->topo.inst,
                      (unsigned long long)r->step);
        return rc;
    }
    case WIRE_REPLACE_ABORT:
        if (w->rp.active) finish(w, 0);
        return JANUS_OK;
    default: return JANUS_EPROTO;
    }
}

// ---- across relaunches

// Rank 0: writes w->layout to p.layout_carry (a temporary file renamed over it).
static void save_carry(struct worker *w) {
    char tmp[4096];
    if (!w->p.layout_carry ||
        snprintf(tmp, sizeof tmp, "%s.tmp", w->p.layout_carry) >= (int)sizeof tmp)
        return;
    if (layout_save_json(&w->layout, tmp) != JANUS_OK || rename(tmp, w->p.layout_carry) != 0) {
        LOG_WARN("re-placement: cannot keep the layout in %s: a relaunched job will start from "
                 "its configured layout",
                 w->p.layout_carry);
        (void)remove(tmp);
    }
}

int replace_carry_layout(struct worker *w) {
    if (!w->p.layout_carry) return JANUS_OK;
    const struct layout *cur = &w->layout;
    // The header of a LOAD: the shape, digest and size (0 values: nothing to carry).
    int64_t hdr[7] = {0};
    int32_t *ints = NULL;
    if (w->topo.rank == 0) {
        struct layout got;
        char why[JANUS_ERR_LEN] = "";
        FILE *f = fopen(w->p.layout_carry, "r");
        if (f) {
            fclose(f);
            if (layout_load_json(&got, w->p.layout_carry, why, sizeof why) != JANUS_OK) {
                LOG_WARN("re-placement: ignoring the carried layout %s: %s", w->p.layout_carry,
                         why);
            } else if (got.n_layers != cur->n_layers || got.n_instances != cur->n_instances ||
                       got.n_slots != cur->n_slots || got.n_experts != cur->n_experts) {
                LOG_WARN("re-placement: ignoring the carried layout %s: it is for another shape",
                         w->p.layout_carry);
                layout_free(&got);
            } else {
                hdr[0] = got.n_layers;
                hdr[1] = got.n_instances;
                hdr[2] = got.n_slots;
                hdr[3] = got.n_experts;
                hdr[4] = (int64_t)layout_digest(&got);
                hdr[5] =
                    (int64_t)wire_replace_layout_ints(got.n_layers, got.n_instances, got.n_slots);
                ints = mem_alloc(MEM_TAG_COMM, (size_t)hdr[5] * sizeof *ints);
                if (ints)
                    replace_layout_to_ints(&got, ints);
                else
                    hdr[5] = 0;
                layout_free(&got);
            }
        }
    }
    COMM_TRY(MPI_Bcast(hdr, 7, MPI_INT64_T, 0, w->topo.comm));
    if (hdr[5] == 0) return JANUS_OK;
    if (!ints) ints = mem_alloc(MEM_TAG_COMM, (size_t)hdr[5] * sizeof *ints);
    if (!ints) comm_abort(6); // the broadcast below cannot be joined without it
    int rc = JANUS_MPI_CALL(MPI_Bcast(ints, (int)hdr[5], MPI_INT32_T, 0, w->topo.comm));
    if (rc == JANUS_OK) {
        struct wire_replace r = {.phase = WIRE_REPLACE_LOAD,
                                 .n_layers = (int32_t)hdr[0],
                                 .n_instances = (int32_t)hdr[1],
                                 .n_slots = (int32_t)hdr[2],
                                 .n_experts = (int32_t)hdr[3],
                                 .digest = (uint64_t)hdr[4],
                                 .n_ints = (uint32_t)hdr[5]};
        uint8_t is_moe[LIMIT_MAX_LAYERS];
        for (int64_t l = 0; l < w->n_layer; l++)
            is_moe[l] = (uint8_t)hparams_layer_is_moe(&w->model.hp, l);
        struct layout got;
        char why[JANUS_ERR_LEN];
        // A layout that fails here on one rank fails on all (same bytes, same checks); the
        // start-up's digest comparison catches anything else.
        if (replace_layout_from_ints(&got, &r, ints, is_moe, why, sizeof why) == JANUS_OK) {
            layout_free(&w->layout);
            w->layout = got;
            if (w->topo.rank == 0)
                LOG_WARN("re-placement: starting from the layout carried over from the previous "
                         "job (%s)",
                         w->p.layout_carry);
        } else if (w->topo.rank == 0) {
            LOG_WARN("re-placement: ignoring the carried layout: %s", why);
        }
    }
    mem_free(ints);
    return rc;
}

// ---- rank 0

static int bcast_replace(struct worker *w, const struct wire_replace *r) {
    size_t n = 0;
    memset(w->hdr, 0, w->hdr_len);
    if (wire_replace_encode(r, w->hdr, w->hdr_len, &n) != JANUS_OK) return JANUS_EINVAL;
    return control_bcast_header(w);
}

// Receives MoE instance 0's statistics into *s (not initialised; zeroed on failure): the
// count must be the model's, every value finite and non-negative.
static int recv_stats(struct worker *w, struct stats *s, char *err, size_t err_len) {
    memset(s, 0, sizeof *s);
    MPI_Status st;
    int n = 0, src = w->topo.side[TOPO_ROLE_MOE].rank[0];
    COMM_TRY(MPI_Probe(src, TAG_REPLACE_STATS, w->topo.comm, &st));
    COMM_TRY(MPI_Get_count(&st, MPI_DOUBLE, &n));
    double *buf = mem_alloc(MEM_TAG_COMM, (size_t)JANUS_MAX(n, 1) * sizeof *buf);
    if (!buf) return JANUS_ECOMM; // the message must be received: the job cannot go on
    int rc = JANUS_MPI_CALL(
        MPI_Recv(buf, n, MPI_DOUBLE, src, TAG_REPLACE_STATS, w->topo.comm, MPI_STATUS_IGNORE));
    if (rc == JANUS_OK) {
        const int32_t L = (int32_t)w->n_layer, E = (int32_t)w->n_expert;
        const size_t per = stats_layer_raw_count(E);
        if (n <= 0 || (size_t)n != per * (size_t)L) {
            rc = status_errf(err, err_len, JANUS_EINVAL,
                             "no usable statistics from the MoE ranks (%d values for %d layers "
                             "of %d experts)",
                             n, L, E);
        } else if (stats_init(s, L, E, 1.0) != JANUS_OK) {
            rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
        } else {
            for (int32_t l = 0; l < L && rc == JANUS_OK; l++)
                if (stats_layer_raw_set(s, l, buf + (size_t)l * per) != JANUS_OK)
                    rc = status_errf(err, err_len, JANUS_EINVAL,
                                     "malformed statistics from MoE instance 0 (layer %d)", l);
            if (rc) stats_free(s);
        }
    }
    mem_free(buf);
    return rc;
}

// The planner: the Janus layout for the gathered statistics and its predictions, on a thread
// of its own (or inline). Reads w->layout, which only a switch changes (none can run now).
static void *planner_main(void *arg) {
    struct worker *w = arg;
    struct replace_state *rp = &w->rp;
    struct exec_replace_report *q = &rp->rep;
    rp->plan_rc = drift_build_layout(&rp->plan_next, &w->layout, &rp->plan_stats, rp->plan_err,
                                     sizeof rp->plan_err);
    if (rp->plan_rc == JANUS_OK) {
        q->amax_before = drift_layout_amax(&w->layout, &rp->plan_stats);
        q->amax_after = drift_layout_amax(&rp->plan_next, &rp->plan_stats);
        q->layers_changed = drift_layers_changed(&w->layout, &rp->plan_next);
        q->n_moe_layers = layout_n_moe_layers(&w->layout);
    }
    stats_free(&rp->plan_stats);
    rp->plan_end = clock_now_ns();
    atomic_store(&rp->plan_done, 1);
    return NULL;
}

// Waits for a planner still running (the end of the deployment) and drops its result.
static void join_planner(struct worker *w) {
    struct replace_state *rp = &w->rp;
    if (rp->planner_started) pthread_join(rp->planner, NULL);
    rp->planner_started = 0;
    if (rp->planning) layout_free(&rp->plan_next);
    rp->planning = 0;
}

int replace_begin(struct exec *e, double min_gain, int dry_run, struct exec_replace_report *out,
                  char *err, size_t err_len) {
    struct worker *w = (struct worker *)e;
    struct replace_state *rp = &w->rp;
    memset(out, 0, sizeof *out);
    if (w->failed) return JANUS_ECOMM;
    if (rp->active || rp->planning)
        return status_errf(err, err_len, JANUS_EAGAIN, "a re-placement is already under way");
    int64_t t0 = clock_now_ns();
    struct wire_replace r = {.step = w->step_no, .phase = WIRE_REPLACE_STATS};
    w->failed = 1; // until the collective parts are done
    if (bcast_replace(w, &r) != JANUS_OK) return JANUS_ECOMM;
    int rc = recv_stats(w, &rp->plan_stats, err, err_len);
    if (rc == JANUS_ECOMM) return rc;
    w->failed = 0;
    if (rc) return rc == JANUS_ENOMEM ? rc : JANUS_EINVAL;
    memset(&rp->rep, 0, sizeof rp->rep);
    memset(&rp->plan_next, 0, sizeof rp->plan_next);
    rp->plan_rc = JANUS_OK;
    rp->plan_err[0] = 0;
    rp->plan_min_gain = min_gain;
    rp->plan_dry_run = dry_run;
    rp->plan_t0 = t0;
    atomic_store(&rp->plan_done, 0);
    rp->planning = 1;
    rp->planner_started = pthread_create(&rp->planner, NULL, planner_main, w) == 0;
    if (!rp->planner_started) (void)planner_main(w); // no thread: here, then
    out->state = EXEC_REPLACE_PLANNING;
    out->plan_ms = 1e-6 * (double)(clock_now_ns() - t0);
    return JANUS_OK;
}

// The planner is done (rank 0, between two steps): UNCHANGED, FAILED, or the layout to every
// rank and LOADING.
static int plan_apply(struct worker *w, struct exec_replace_report *out) {
    struct replace_state *rp = &w->rp;
    if (rp->planner_started) pthread_join(rp->planner, NULL);
    rp->planner_started = 0;
    rp->planning = 0;
    *out = rp->rep;
    out->plan_ms = 1e-6 * (double)(rp->plan_end - rp->plan_t0);
    if (rp->plan_rc != JANUS_OK) {
        out->state = EXEC_REPLACE_FAILED;
        out->refused = rp->plan_rc != JANUS_ENOMEM;
        snprintf(out->why, sizeof out->why, "%s",
                 rp->plan_err[0] ? rp->plan_err : janus_strerror(rp->plan_rc));
        layout_free(&rp->plan_next);
        return JANUS_OK;
    }
    double gain =
        out->amax_before > 0 ? (out->amax_before - out->amax_after) / out->amax_before : 0;
    if (rp->plan_dry_run || out->layers_changed == 0 ||
        (rp->plan_min_gain > 0 && gain < rp->plan_min_gain)) {
        out->state = EXEC_REPLACE_UNCHANGED;
        snprintf(out->why, sizeof out->why, "%s",
                 rp->plan_dry_run           ? "dry run: nothing switched"
                 : out->layers_changed == 0 ? "the statistics give the current layout"
                                            : "the predicted gain is below the threshold");
        layout_free(&rp->plan_next);
        return JANUS_OK;
    }
    struct layout *next = &rp->plan_next;
    struct wire_replace r = {.step = w->step_no, .phase = WIRE_REPLACE_LOAD};
    r.n_layers = next->n_layers;
    r.n_instances = next->n_instances;
    r.n_slots = next->n_slots;
    r.n_experts = next->n_experts;
    r.digest = layout_digest(next);
    r.n_ints = (uint32_t)wire_replace_layout_ints(next->n_layers, next->n_instances, next->n_slots);
    int32_t *ints = mem_alloc(MEM_TAG_COMM, (size_t)r.n_ints * sizeof *ints);
    if (!ints) {
        layout_free(next);
        out->state = EXEC_REPLACE_FAILED;
        snprintf(out->why, sizeof out->why, "out of memory");
        return JANUS_OK;
    }
    replace_layout_to_ints(next, ints);
    layout_free(next);
    w->failed = 1;
    if (bcast_replace(w, &r) != JANUS_OK || on_load(w, &r, ints) != JANUS_OK) {
        mem_free(ints);
        return JANUS_ECOMM;
    }
    w->failed = 0;
    mem_free(ints);
    out->state = EXEC_REPLACE_LOADING;
    rp->rep = *out;
    return JANUS_OK;
}

int replace_poll(struct exec *e, struct exec_replace_report *out) {
    struct worker *w = (struct worker *)e;
    if (w->failed) return JANUS_ECOMM;
    if (w->rp.planning) {
        if (atomic_load(&w->rp.plan_done)) return plan_apply(w, out);
        memset(out, 0, sizeof *out); // the planner writes rp.rep meanwhile
        out->state = EXEC_REPLACE_PLANNING;
        out->plan_ms = 1e-6 * (double)(clock_now_ns() - w->rp.plan_t0);
        return JANUS_OK;
    }
    *out = w->rp.rep;
    if (!w->rp.active) {
        out->state = EXEC_REPLACE_FAILED;
        snprintf(out->why, sizeof out->why, "no re-placement under way");
        return JANUS_OK;
    }
    struct wire_replace r = {.step = w->step_no, .phase = WIRE_REPLACE_POLL};
    char why[JANUS_ERR_LEN];
    snprintf(why, sizeof why, "%s", w->rp.why);
    int st = REPLACE_LOADING;
    uint64_t bytes = 0;
    w->failed = 1;
    if (bcast_replace(w, &r) != JANUS_OK || on_poll(w, &st, &bytes) != JANUS_OK) return JANUS_ECOMM;
    w->failed = 0;
    if (st == REPLACE_LOADING) return JANUS_OK;
    if (st == REPLACE_READY) {
        out->state = EXEC_REPLACE_SWITCHED;
        out->switch_step = w->step_no;
        save_carry(w);
        out->load_bytes = bytes;
        return JANUS_OK;
    }
    out->state = EXEC_REPLACE_FAILED;
    snprintf(out->why, sizeof out->why, "%s",
             why[0] ? why : "a rank refused or could not load the new layout (see its log)");
    return JANUS_OK;
}
