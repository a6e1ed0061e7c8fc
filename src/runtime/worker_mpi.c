// The MPI deployment (worker_mpi.h; SPEC §2, §3): setup on every rank, the attention-side
// and MoE-side step, the worker loop, and the executor (exec.h) rank 0 hands to the
// controller. Control plane on topo.comm: the step header is an MPI_Bcast from rank 0 of a
// fixed-size wire message (STEP, STATS or STOP); local batches go rank 0 -> attention
// instance as struct exec_batch bytes (validated with exec_batch_check on arrival), results
// come back as struct exec_result bytes (+ logits on logits steps). Data plane: comm/xfer.
// Test hooks: JANUS_FAULT_DIE="rank:step" makes that world rank kill itself (SIGKILL) when
// that step's header arrives; JANUS_FAULT_SCHEDULE="rank" corrupts that MoE rank's schedule
// before the digest check (tests/mpi/test_run.py: the job must fail with a report, not hang).
// SPDX-License-Identifier: MIT
#include "runtime/worker_mpi.h"

#include "actsched/actsched.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "comm/comm.h"
#include "comm/topo.h"
#include "comm/wire.h"
#include "engine/attn.h"
#include "engine/batch.h"
#include "engine/linear.h"
#include "engine/moe.h"
#include "model/sampler.h"
#include "model/weights.h"
#include "place/layout.h"
#include "place/stats.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define TAG_BATCH  20001
#define TAG_RESULT 20002
#define TAG_LOGITS 20003
#define L_MAX      EXEC_STATS_MAX_LAYERS

struct wrk {
    struct exec base; // rank 0: the executor handed to the controller
    struct worker_mpi_params p;
    struct topo topo;
    struct model model;
    struct linear_ctx lin;
    struct xfer xf;
    struct xfer_cost cost;
    struct layout layout;
    int64_t d, V, n_layer, n_expert, k;
    int32_t model_ok, topo_ok, xf_ok;
    // attention side
    struct attn attn;
    struct batch batch;
    struct sampler smp;
    float *moe_out;        // (max_rows, d)
    float *logits;         // (max_seqs, V) rows with logits, batch order
    float *lg_out;         // (max_seqs, V) rank != 0: logits by sample index for a logits step
    struct exec_batch *eb; // rank != 0: received batch
    struct exec_result res;
    // MoE side
    struct moe moe;
    struct moe_routing rt;
    struct actsched_ws ws;
    struct actsched_output so;
    struct stats stats;
    uint8_t *run_here;      // (n_expert)
    float *x_all, *partial; // (n_attn * max_rows, d)
    // measurements (this rank)
    double t_attn[L_MAX], t_xchg[L_MAX], t_gate[L_MAX], t_exp[L_MAX], t_check[L_MAX];
    int32_t a_max_last[L_MAX];
    uint64_t a_max_sum[L_MAX], act_sum, busy_steps; // busy: steps with B > 0 (MoE side)
    // controller (rank 0)
    uint8_t *hdr; // (hdr_len) step-header broadcast buffer
    size_t hdr_len;
    uint64_t step_no, n_steps, scheme_steps[XFER_N_SCHEMES], step_ns;
    int32_t *kv_len;  // (n_attn * max_seqs) positions held per slot (mirror for checks)
    MPI_Request *req; // (n_attn)
    int failed, logits_written;
    struct worker_mpi_report rep; // mpi_stats scratch (no allocation per stats call)
    int64_t fault_rank, fault_step, fault_sched_rank;
};

void worker_mpi_default_params(struct worker_mpi_params *p) {
    memset(p, 0, sizeof *p);
    p->parent = MPI_COMM_WORLD;
    p->n_attn = p->n_moe = 1;
    p->policy = ACTSCHED_POLICY_GREEDY;
    p->comm = WORKER_COMM_AUTO;
    p->node_size = 1;
    p->calibrate = 1;
    p->check_schedule = 1;
    p->n_threads = 1;
    p->max_seqs = 32;
    p->max_rows = 256;
}

static double now_s(void) { return clock_now_s(); }

// ---- setup and teardown

static void wrk_free(struct wrk *w) {
    attn_free(&w->attn);
    batch_free(&w->batch);
    sampler_free(&w->smp);
    moe_free(&w->moe);
    moe_routing_free(&w->rt);
    linear_ctx_free(&w->lin);
    actsched_free(&w->ws);
    actsched_output_free(&w->so);
    stats_free(&w->stats);
    layout_free(&w->layout);
    if (w->xf_ok) xfer_free(&w->xf);
    if (w->topo_ok) topo_free(&w->topo);
    if (w->model_ok) model_free(&w->model);
    mem_free(w->moe_out);
    mem_free(w->logits);
    mem_free(w->lg_out);
    mem_free(w->eb);
    mem_free(w->run_here);
    mem_free(w->x_all);
    mem_free(w->partial);
    mem_free(w->hdr);
    mem_free(w->kv_len);
    mem_free(w->req);
    mem_free(w);
}

// Round-robin default layout: replica q of expert e goes to instance (e + q) mod n, rounds
// q = 0, 1, ... while slots are free (no two replicas of e on one instance since q < n).
static int default_layout(struct wrk *w, char *err, size_t err_len) {
    int32_t n = w->p.n_moe, E = (int32_t)w->n_expert, C = w->p.n_slots;
    int rc = layout_init(&w->layout, (int32_t)w->n_layer, n, C, E);
    if (rc) return rc;
    int32_t *slots = mem_alloc(MEM_TAG_COMM, (size_t)n * C * sizeof(int32_t));
    int32_t *fill = mem_calloc(MEM_TAG_COMM, (size_t)n, sizeof(int32_t));
    if (!slots || !fill) rc = JANUS_ENOMEM;
    for (int32_t q = 0; rc == JANUS_OK && q < n; q++)
        for (int32_t e = 0; e < E; e++) {
            int32_t g = (e + q) % n;
            if (q == 0) JANUS_ASSERT(fill[g] < C); // n * C >= E checked by the caller
            if (fill[g] < C) slots[g * C + fill[g]++] = e;
        }
    for (int32_t g = 0; rc == JANUS_OK && g < n; g++)
        for (int32_t s = fill[g]; s < C; s++)
            slots[g * C + s] = -1;
    for (int32_t l = 0; rc == JANUS_OK && l < w->n_layer; l++)
        if (hparams_layer_is_moe(&w->model.hp, l))
            rc = layout_set_layer_slots(&w->layout, l, slots, NULL, err, err_len);
    mem_free(slots);
    mem_free(fill);
    return rc;
}

static int load_layout(struct wrk *w, char *err, size_t err_len) {
    const struct worker_mpi_params *p = &w->p;
    if (!p->layout_path) {
        if ((int64_t)p->n_slots * p->n_moe < w->n_expert) {
            snprintf(err, err_len,
                     "--slots %d x --moe %d holds fewer than the model's %lld experts", p->n_slots,
                     p->n_moe, (long long)w->n_expert);
            return JANUS_EINVAL;
        }
        return default_layout(w, err, err_len);
    }
    int rc = layout_load_json(&w->layout, p->layout_path, err, err_len);
    if (rc) return rc;
    const struct layout *ly = &w->layout;
    if (ly->n_instances != p->n_moe || ly->n_experts != w->n_expert || ly->n_layers != w->n_layer) {
        snprintf(err, err_len,
                 "layout %s is for %d MoE instances, %d experts, %d layers; the deployment has "
                 "%d, the model %lld experts and %lld layers",
                 p->layout_path, ly->n_instances, ly->n_experts, ly->n_layers, p->n_moe,
                 (long long)w->n_expert, (long long)w->n_layer);
        return JANUS_EINVAL;
    }
    for (int32_t l = 0; l < w->n_layer; l++)
        if ((ly->layers[l].n_experts > 0) != hparams_layer_is_moe(&w->model.hp, l)) {
            snprintf(err, err_len, "layout %s: layer %d is %s but the model's is %s",
                     p->layout_path, l, ly->layers[l].n_experts > 0 ? "MoE" : "dense",
                     hparams_layer_is_moe(&w->model.hp, l) ? "MoE" : "dense");
            return JANUS_EINVAL;
        }
    return JANUS_OK;
}

// Everything that can fail for a reason the user should see; collective agreement on the
// outcome happens in worker_mpi_start.
static int setup_local(struct wrk *w, char *err, size_t err_len) {
    const struct worker_mpi_params *p = &w->p;
    int rc = model_load(&w->model, p->model_path, err, err_len);
    if (rc) return rc;
    w->model_ok = 1;
    const struct hparams *hp = &w->model.hp;
    if (hp->n_expert < 1) {
        snprintf(err, err_len, "%s is a dense model; a disaggregated deployment needs experts",
                 p->model_path);
        return JANUS_EINVAL;
    }
    if (hp->n_layer > L_MAX) {
        snprintf(err, err_len, "%lld layers; the MPI executor supports at most %d",
                 (long long)hp->n_layer, L_MAX);
        return JANUS_EUNSUPPORTED;
    }
    w->d = hp->n_embd;
    w->V = hp->n_vocab;
    w->n_layer = hp->n_layer;
    w->n_expert = hp->n_expert;
    w->k = hp->n_expert_used;
    if (w->p.n_slots == 0)
        w->p.n_slots =
            p->n_moe == 1
                ? (int32_t)w->n_expert
                : (int32_t)JANUS_MIN(w->n_expert, (w->n_expert + p->n_moe - 1) / p->n_moe + 1);
    if (w->p.n_ctx == 0)
        w->p.n_ctx =
            hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? (int32_t)hp->n_ctx_train : 4096;
    rc = load_layout(w, err, err_len);
    if (rc) return rc;
    linear_ctx_init(&w->lin, NULL, p->n_threads > 0 ? p->n_threads : 1);
    struct exec_info *info = &w->base.info;
    info->n_attn = p->n_attn;
    info->n_moe = p->n_moe;
    info->n_layer = (int32_t)w->n_layer;
    info->n_vocab = (int32_t)w->V;
    info->n_ctx = w->p.n_ctx;
    info->max_seqs = p->max_seqs;
    info->kv_tokens = (int64_t)p->max_seqs * w->p.n_ctx;
    model_display_name(&w->model, p->model_path, info->model_name, sizeof info->model_name);
    return JANUS_OK;
}

// Role-specific buffers (after the topology exists).
static int setup_role(struct wrk *w) {
    const struct worker_mpi_params *p = &w->p;
    int64_t B_max = (int64_t)p->n_attn * p->max_rows;
    int rc = xfer_init(&w->xf, &w->topo, w->d, p->max_rows);
    if (rc) return rc;
    w->xf_ok = 1;
    if (w->topo.role == TOPO_ROLE_ATTN) {
        struct attn_params ap = {
            .max_tokens = p->max_rows, .n_seq = p->max_seqs, .max_ctx = w->p.n_ctx};
        struct sampler_params sp = {.temp = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 0};
        rc = attn_init(&w->attn, &w->model, &w->lin, &ap);
        if (!rc) rc = batch_init(&w->batch, p->max_rows);
        if (!rc) rc = sampler_init(&w->smp, w->V, &sp);
        w->moe_out = mem_calloc(MEM_TAG_ENGINE, (size_t)(p->max_rows * w->d), sizeof(float));
        w->logits = mem_calloc(MEM_TAG_ENGINE, (size_t)(p->max_seqs * w->V), sizeof(float));
        w->lg_out = mem_calloc(MEM_TAG_ENGINE, (size_t)(p->max_seqs * w->V), sizeof(float));
        w->eb = mem_calloc(MEM_TAG_ENGINE, 1, sizeof *w->eb);
        if (!rc && (!w->moe_out || !w->logits || !w->lg_out || !w->eb)) rc = JANUS_ENOMEM;
        return rc;
    }
    struct actsched_limits lim = {.max_tokens = JANUS_MAX(B_max, 1),
                                  .max_experts = (int32_t)w->n_expert,
                                  .max_instances = p->n_moe,
                                  .max_top_k = (int32_t)w->k};
    rc = moe_init(&w->moe, &w->model, &w->lin, B_max);
    if (!rc) rc = moe_routing_init(&w->rt, &w->model, B_max);
    if (!rc) rc = actsched_init(&w->ws, &lim);
    if (!rc) rc = actsched_output_init(&w->so, &lim);
    if (!rc) rc = stats_init(&w->stats, (int32_t)w->n_layer, (int32_t)w->n_expert, 0.999);
    w->run_here = mem_calloc(MEM_TAG_ENGINE, (size_t)w->n_expert, 1);
    w->x_all = mem_calloc(MEM_TAG_ENGINE, (size_t)(B_max * w->d), sizeof(float));
    w->partial = mem_calloc(MEM_TAG_ENGINE, (size_t)(B_max * w->d), sizeof(float));
    if (!rc && (!w->run_here || !w->x_all || !w->partial)) rc = JANUS_ENOMEM;
    return rc;
}

// ---- the attention side of one step

static int attn_side_step(struct wrk *w, const struct exec_batch *b, struct exec_result *res,
                          float *lg_by_sample) {
    for (int32_t k = 0; k < b->n_free; k++)
        attn_seq_free(&w->attn, b->free_slots[k]);
    for (int32_t k = 0; k < b->n_start; k++)
        attn_seq_free(&w->attn, b->start_slots[k]);
    batch_clear(&w->batch);
    for (int32_t r = 0; r < b->n_rows; r++) {
        const struct exec_row *row = &b->rows[r];
        int rc = batch_add(&w->batch, row->token, row->slot, row->pos, row->i_sample >= 0);
        if (rc) return rc;
    }
    int rc = attn_step_begin(&w->attn, &w->batch);
    if (rc) {
        LOG_ERROR("attention instance %d: step rejected its batch: %s", w->topo.inst,
                  janus_strerror(rc));
        return rc;
    }
    for (int64_t l = 0; l < w->n_layer; l++) {
        double t0 = now_s();
        int is_moe = attn_layer_begin(&w->attn, l);
        double t1 = now_s();
        w->t_attn[l] += t1 - t0;
        if (!is_moe) continue;
        rc = xfer_attn_send(&w->xf, (int32_t)l, attn_x(&w->attn));
        if (rc) return rc;
        double t2 = now_s();
        attn_layer_shared(&w->attn, l); // overlaps the exchange
        double t3 = now_s();
        rc = xfer_attn_recv(&w->xf, (int32_t)l, w->moe_out);
        if (rc) return rc;
        double t4 = now_s();
        attn_layer_end(&w->attn, l, w->moe_out);
        double t5 = now_s();
        w->t_attn[l] += (t3 - t2) + (t5 - t4);
        w->t_xchg[l] += (t2 - t1) + (t4 - t3);
    }
    attn_logits(&w->attn, w->logits);
    attn_step_end(&w->attn);
    res->n_sample = b->n_sample;
    int64_t li = 0;
    for (int32_t r = 0; r < b->n_rows; r++) {
        const struct exec_row *row = &b->rows[r];
        if (row->i_sample < 0) continue;
        const float *lg = w->logits + li++ * w->V;
        const struct exec_sample *s = &b->samples[row->i_sample];
        int32_t tok;
        if (s->temperature <= 0.0f) {
            tok = sampler_greedy(lg, w->V);
        } else {
            w->smp.p.temp = s->temperature;
            w->smp.p.top_k = s->top_k;
            w->smp.p.top_p = s->top_p;
            w->smp.p.seed = s->seed;
            rng_init3(&w->smp.rng, s->seed, (uint64_t)row->pos, 0);
            tok = sampler_sample(&w->smp, lg);
        }
        res->tokens[row->i_sample] = tok;
        if (lg_by_sample)
            memcpy(lg_by_sample + (int64_t)row->i_sample * w->V, lg, (size_t)w->V * sizeof(float));
    }
    return JANUS_OK;
}

// ---- the MoE side of one step

static int moe_side_step(struct wrk *w, const struct wire_step *st) {
    int64_t B = w->xf.n_rows;
    int32_t g = w->topo.inst;
    if (B > 0) w->busy_steps++;
    for (int64_t l = 0; l < w->n_layer; l++) {
        if (!hparams_layer_is_moe(&w->model.hp, l)) continue;
        int rc = xfer_moe_recv(&w->xf, (int32_t)l, w->x_all);
        if (rc) return rc;
        double t0 = now_s();
        moe_gate(&w->moe, l, w->x_all, B, &w->rt);
        struct actsched_input in = {.layer = &w->layout.layers[l],
                                    .routing = w->rt.ids,
                                    .n_tok = B,
                                    .top_k = (int32_t)w->k,
                                    .step = (int64_t)st->step,
                                    .layer_id = (int32_t)l,
                                    .seed = w->p.seed};
        rc = actsched_run(&w->ws, (enum actsched_policy)w->p.policy, &in, &w->so);
        if (rc) {
            LOG_ERROR("MoE instance %d: scheduler failed on layer %lld: %s", g, (long long)l,
                      janus_strerror(rc));
            return rc;
        }
        double t1 = now_s();
        if (w->fault_sched_rank == comm_world_rank() && B > 0)
            w->so.a_max++; // test hook: this instance's schedule now differs from the others'
        if (w->p.check_schedule) {
            // Every MoE instance must have computed the same schedule (SPEC §3, §5). The
            // allreduce waits for the slowest MoE instance, so it is timed apart.
            rc = comm_check_equal_u64(w->topo.comm_role, actsched_digest(&w->so),
                                      "activation schedule digest");
            if (rc) return rc;
        }
        double t2 = now_s();
        for (int64_t e = 0; e < w->n_expert; e++)
            w->run_here[e] = w->so.assign[e] == g;
        moe_experts(&w->moe, l, w->x_all, B, &w->rt, w->run_here, w->partial);
        double t3 = now_s();
        w->t_gate[l] += t1 - t0;
        w->t_check[l] += t2 - t1;
        w->t_exp[l] += t3 - t2;
        if (B > 0) {
            rc = stats_record(&w->stats, (int32_t)l, w->so.active, w->so.n_active,
                              w->so.active_tokens);
            if (rc) return rc;
        }
        if (B > 0) w->a_max_last[l] = w->so.a_max; // the last step with tokens
        w->a_max_sum[l] += (uint64_t)w->so.a_max;
        w->act_sum += (uint64_t)(B > 0 ? w->so.inst_count[g] : 0);
        rc = xfer_moe_send(&w->xf, (int32_t)l, w->partial);
        if (rc) return rc;
    }
    return JANUS_OK;
}

// ---- statistics collection (collective on topo.comm, entered via a STATS header)

#define N_CTR (2 * XFER_N_SCHEMES * XFER_N_DIRS * XFER_N_LINKS + XFER_N_SCHEMES)

static int collect(struct wrk *w, struct worker_mpi_report *r) {
    int32_t L = (int32_t)w->n_layer, n_e = w->p.n_moe;
    double dmax[5 * L_MAX], dout[5 * L_MAX];
    for (int32_t l = 0; l < L; l++) {
        dmax[l] = w->t_attn[l];
        dmax[L + l] = w->t_xchg[l];
        dmax[2 * L + l] = w->t_gate[l];
        dmax[3 * L + l] = w->t_exp[l];
        dmax[4 * L + l] = w->t_check[l];
    }
    uint64_t usum[N_CTR + EXEC_STATS_MAX_MOE], uout[N_CTR + EXEC_STATS_MAX_MOE];
    uint64_t umax[2 * L_MAX + 1], umout[2 * L_MAX + 1];
    int n = 0;
    for (int s = 0; s < XFER_N_SCHEMES; s++)
        for (int d = 0; d < XFER_N_DIRS; d++)
            for (int k = 0; k < XFER_N_LINKS; k++) {
                usum[n++] = w->xf.ctr.msgs[s][d][k];
                usum[n++] = w->xf.ctr.bytes[s][d][k];
            }
    for (int s = 0; s < XFER_N_SCHEMES; s++)
        usum[n++] = w->xf.ctr.exchanges[s];
    for (int32_t g = 0; g < n_e; g++)
        usum[N_CTR + g] = w->topo.role == TOPO_ROLE_MOE && w->topo.inst == g ? w->act_sum : 0;
    for (int32_t l = 0; l < L; l++) {
        umax[l] = (uint64_t)w->a_max_last[l];
        umax[L + l] = w->a_max_sum[l];
    }
    umax[2 * L] = w->busy_steps;
    COMM_TRY(MPI_Reduce(dmax, dout, 5 * L, MPI_DOUBLE, MPI_MAX, 0, w->topo.comm));
    COMM_TRY(MPI_Reduce(usum, uout, N_CTR + n_e, MPI_UINT64_T, MPI_SUM, 0, w->topo.comm));
    COMM_TRY(MPI_Reduce(umax, umout, 2 * L + 1, MPI_UINT64_T, MPI_MAX, 0, w->topo.comm));
    if (!r) return JANUS_OK;
    memset(r, 0, sizeof *r);
    r->n_layer = L;
    r->n_attn = w->p.n_attn;
    r->n_moe = n_e;
    r->n_node_attn = w->topo.side[TOPO_ROLE_ATTN].n_node;
    r->n_node_moe = w->topo.side[TOPO_ROLE_MOE].n_node;
    r->node_size = w->p.node_size;
    r->policy = w->p.policy;
    r->comm = w->p.comm;
    r->n_steps = w->n_steps;
    r->busy_steps = umout[2 * L];
    r->step_ns_total = w->step_ns;
    memcpy(r->scheme_steps, w->scheme_steps, sizeof r->scheme_steps);
    for (int32_t l = 0; l < L; l++) {
        r->is_moe[l] = hparams_layer_is_moe(&w->model.hp, l);
        r->attn_s[l] = dout[l];
        r->xchg_s[l] = dout[L + l];
        r->gate_s[l] = dout[2 * L + l];
        r->expert_s[l] = dout[3 * L + l];
        r->check_s[l] = dout[4 * L + l];
        r->a_max_last[l] = (int32_t)umout[l];
        r->a_max_sum[l] = umout[L + l];
    }
    n = 0;
    for (int s = 0; s < XFER_N_SCHEMES; s++)
        for (int d = 0; d < XFER_N_DIRS; d++)
            for (int k = 0; k < XFER_N_LINKS; k++) {
                r->ctr.msgs[s][d][k] = uout[n++];
                r->ctr.bytes[s][d][k] = uout[n++];
            }
    for (int s = 0; s < XFER_N_SCHEMES; s++)
        r->ctr.exchanges[s] = uout[n++];
    for (int32_t g = 0; g < n_e && g < EXEC_STATS_MAX_MOE; g++)
        r->activated_sum[g] = uout[N_CTR + g];
    r->cost = w->cost;
    return JANUS_OK;
}

// ---- control plane

// The step-header broadcast. Nonblocking on every rank (blocking and nonblocking
// collectives do not match): the controller waits at once; a worker polls, first busily
// for HDR_SPIN_NS (back-to-back steps arrive within it), then with short sleeps, so an idle
// deployment (a server between requests) does not keep every core busy.
#define HDR_SPIN_NS  2000000
#define HDR_SLEEP_NS 200000
static int bcast_header(struct wrk *w) {
    MPI_Request req;
    COMM_TRY(MPI_Ibcast(w->hdr, (int)w->hdr_len, MPI_BYTE, 0, w->topo.comm, &req));
    if (w->topo.rank == 0) return JANUS_MPI_CALL(MPI_Wait(&req, MPI_STATUS_IGNORE));
    int64_t t0 = clock_now_ns();
    for (;;) {
        int done = 0;
        COMM_TRY(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
        if (done) return JANUS_OK;
        if (clock_now_ns() - t0 > HDR_SPIN_NS) clock_sleep_ns(HDR_SLEEP_NS);
    }
}

static void make_header(struct wrk *w, uint16_t type) {
    memset(w->hdr, 0, w->hdr_len);
    struct wire_header h = {WIRE_MAGIC, WIRE_VERSION, type, WIRE_LAYER_NONE, 0, w->step_no};
    wire_header_encode(&h, w->hdr);
}

// One step on a non-controller rank, after the header arrived.
static int worker_step(struct wrk *w, const struct wire_step *st) {
    int rc = xfer_step(&w->xf, st);
    if (rc) return rc;
    if (w->topo.role == TOPO_ROLE_MOE) return moe_side_step(w, st);
    COMM_TRY(MPI_Recv(w->eb, (int)sizeof *w->eb, MPI_BYTE, 0, TAG_BATCH, w->topo.comm,
                      MPI_STATUS_IGNORE));
    char why[256] = "rows differ from the step header";
    if (exec_batch_check(w->eb, &w->base.info, why, sizeof why) != JANUS_OK ||
        w->eb->n_rows != st->b[w->topo.inst]) {
        LOG_ERROR("attention instance %d: malformed batch from the controller: %s", w->topo.inst,
                  why);
        return JANUS_EPROTO;
    }
    int logits = (st->flags & WIRE_STEP_LOGITS) != 0;
    rc = attn_side_step(w, w->eb, &w->res, logits ? w->lg_out : NULL);
    if (rc) return rc;
    COMM_TRY(MPI_Send(&w->res, (int)sizeof w->res, MPI_BYTE, 0, TAG_RESULT, w->topo.comm));
    if (logits && w->eb->n_sample > 0)
        COMM_TRY(MPI_Send(w->lg_out, (int)(w->eb->n_sample * w->V), MPI_FLOAT, 0, TAG_LOGITS,
                          w->topo.comm));
    return JANUS_OK;
}

// The loop of every rank but the controller. Returns at STOP; any failure aborts the job.
static void worker_loop(struct wrk *w) {
    for (;;) {
        int rc = bcast_header(w);
        struct wire_header h;
        if (rc == JANUS_OK) rc = wire_header_decode(w->hdr, w->hdr_len, &h);
        if (rc != JANUS_OK) {
            LOG_ERROR("worker: bad step header: %s", janus_strerror(rc));
            comm_abort(4);
        }
        if (h.type == WIRE_TYPE_STOP) return;
        if (h.type == WIRE_TYPE_STATS) {
            if (collect(w, NULL) != JANUS_OK) comm_abort(4);
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

// ---- the executor (rank 0)

static int validate(struct wrk *w, const struct exec_batch *batches) {
    const struct exec_info *info = &w->base.info;
    int32_t ms = info->max_seqs;
    for (int32_t i = 0; i < info->n_attn; i++) {
        char why[256] = "more rows than the per-step budget";
        const struct exec_batch *b = &batches[i];
        if (exec_batch_check(b, info, why, sizeof why) != JANUS_OK || b->n_rows > w->p.max_rows) {
            LOG_WARN("attention instance %d: batch refused: %s", i, why);
            return JANUS_EINVAL;
        }
        for (int32_t r = 0; r < b->n_rows; r++) {
            if (b->rows[r].pos >= info->n_ctx) return JANUS_EINVAL;
            if (r > 0 && b->rows[r - 1].slot == b->rows[r].slot) continue;
            int32_t slot = b->rows[r].slot, held = w->kv_len[i * ms + slot];
            for (int32_t k = 0; k < b->n_free; k++)
                held = b->free_slots[k] == slot ? 0 : held;
            for (int32_t k = 0; k < b->n_start; k++)
                held = b->start_slots[k] == slot ? 0 : held;
            if (b->rows[r].pos != held) return JANUS_EINVAL; // a gap or a rewrite
        }
    }
    return JANUS_OK;
}

static int run_step(struct wrk *w, const struct exec_batch *batches, struct exec_result *results,
                    float *logits) {
    if (w->failed) return JANUS_ECOMM;
    int rc = validate(w, batches);
    if (rc) return rc;
    const struct exec_info *info = &w->base.info;
    int64_t t0 = clock_now_ns();
    struct wire_step st;
    memset(&st, 0, offsetof(struct wire_step, b));
    st.step = w->step_no;
    st.n_attn = info->n_attn;
    for (int32_t i = 0; i < info->n_attn; i++)
        st.b[i] = batches[i].n_rows;
    float *cap = NULL; // logits of rank 0's samples, when wanted
    int want_logits = logits != NULL || (w->p.logits_out && !w->logits_written);
    st.flags = want_logits ? WIRE_STEP_LOGITS : 0;
    st.scheme = w->p.comm >= 0
                    ? w->p.comm
                    : xfer_choose(&w->cost, &w->topo, st.b, w->d * (int64_t)sizeof(float), NULL);
    size_t n_hdr = 0;
    rc = wire_step_encode(&st, w->hdr, w->hdr_len, &n_hdr);
    if (rc == JANUS_OK) rc = xfer_step(&w->xf, &st);
    if (rc) return rc;
    w->failed = 1; // until the step completes: a transport failure leaves the job unusable
    rc = bcast_header(w);
    for (int32_t i = 1; i < info->n_attn && rc == JANUS_OK; i++)
        rc =
            JANUS_MPI_CALL(MPI_Isend(&batches[i], (int)sizeof batches[i], MPI_BYTE,
                                     w->topo.side[0].rank[i], TAG_BATCH, w->topo.comm, &w->req[i]));
    if (rc) return JANUS_ECOMM;
    if (want_logits) cap = w->lg_out;
    rc = attn_side_step(w, &batches[0], &results[0], cap);
    if (rc) return JANUS_ECOMM;
    if (info->n_attn > 1 &&
        JANUS_MPI_CALL(MPI_Waitall(info->n_attn - 1, w->req + 1, MPI_STATUSES_IGNORE)) != JANUS_OK)
        return JANUS_ECOMM;
    int64_t V = w->V, base = batches[0].n_sample;
    if (logits && batches[0].n_sample)
        memcpy(logits, cap, (size_t)(batches[0].n_sample * V) * sizeof(float));
    if (w->p.logits_out && !w->logits_written && batches[0].n_sample > 0) {
        FILE *f = fopen(w->p.logits_out, "wb");
        if (f) {
            w->logits_written = fwrite(cap, sizeof(float), (size_t)V, f) == (size_t)V;
            fclose(f);
        }
        if (!w->logits_written) LOG_ERROR("cannot write logits to %s", w->p.logits_out);
        w->logits_written = 1;
    }
    for (int32_t i = 1; i < info->n_attn; i++) {
        int src = w->topo.side[TOPO_ROLE_ATTN].rank[i];
        if (JANUS_MPI_CALL(MPI_Recv(&results[i], (int)sizeof results[i], MPI_BYTE, src, TAG_RESULT,
                                    w->topo.comm, MPI_STATUS_IGNORE)) != JANUS_OK)
            return JANUS_ECOMM;
        if (results[i].n_sample != batches[i].n_sample) return JANUS_ECOMM;
        if (want_logits && batches[i].n_sample > 0) {
            float *dst = logits ? logits + base * V : w->lg_out;
            if (JANUS_MPI_CALL(MPI_Recv(dst, (int)(batches[i].n_sample * V), MPI_FLOAT, src,
                                        TAG_LOGITS, w->topo.comm, MPI_STATUS_IGNORE)) != JANUS_OK)
                return JANUS_ECOMM;
            if (w->p.logits_out && !w->logits_written) {
                FILE *f = fopen(w->p.logits_out, "wb");
                if (f) {
                    if (fwrite(dst, sizeof(float), (size_t)V, f) != (size_t)V)
                        LOG_ERROR("short write");
                    fclose(f);
                }
                w->logits_written = 1;
            }
        }
        base += batches[i].n_sample;
    }
    w->failed = 0;
    // KV mirror: frees and starts, then each row's position.
    int32_t ms = info->max_seqs;
    for (int32_t i = 0; i < info->n_attn; i++) {
        const struct exec_batch *b = &batches[i];
        for (int32_t k = 0; k < b->n_free; k++)
            w->kv_len[i * ms + b->free_slots[k]] = 0;
        for (int32_t k = 0; k < b->n_start; k++)
            w->kv_len[i * ms + b->start_slots[k]] = 0;
        for (int32_t r = 0; r < b->n_rows; r++)
            w->kv_len[i * ms + b->rows[r].slot] = b->rows[r].pos + 1;
    }
    w->step_no++;
    w->n_steps++;
    w->scheme_steps[st.scheme]++;
    w->step_ns += (uint64_t)(clock_now_ns() - t0);
    return JANUS_OK;
}

static int mpi_step(struct exec *e, const struct exec_batch *b, struct exec_result *r) {
    return run_step((struct wrk *)e, b, r, NULL);
}

static int mpi_step_logits(struct exec *e, const struct exec_batch *b, struct exec_result *r,
                           float *logits) {
    return run_step((struct wrk *)e, b, r, logits);
}

int worker_mpi_report(struct exec *e, struct worker_mpi_report *r) {
    struct wrk *w = (struct wrk *)e;
    if (w->failed) return JANUS_ECOMM;
    make_header(w, WIRE_TYPE_STATS);
    if (bcast_header(w) != JANUS_OK || collect(w, r) != JANUS_OK) {
        w->failed = 1;
        return JANUS_ECOMM;
    }
    return JANUS_OK;
}

static int mpi_stats(struct exec *e, struct exec_stats *out) {
    struct wrk *w = (struct wrk *)e;
    struct worker_mpi_report *r = &w->rep;
    int rc = worker_mpi_report(e, r);
    if (rc == JANUS_OK) {
        memset(out, 0, sizeof *out);
        out->n_steps = w->n_steps;
        out->step_ns_total = w->step_ns;
        out->n_layer = r->n_layer;
        out->n_moe = JANUS_MIN(r->n_moe, EXEC_STATS_MAX_MOE);
        for (int32_t l = 0; l < r->n_layer; l++) {
            out->a_max_last[l] = r->a_max_last[l];
            out->a_max_sum[l] = r->a_max_sum[l];
        }
        for (int32_t g = 0; g < out->n_moe; g++)
            out->activated_sum[g] = r->activated_sum[g];
        for (int s = 0; s < XFER_N_SCHEMES; s++) {
            out->scheme_steps[s] = r->scheme_steps[s];
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int k = 0; k < XFER_N_LINKS; k++) {
                    out->scheme_msgs[s] += r->ctr.msgs[s][d][k];
                    out->scheme_bytes[s] += r->ctr.bytes[s][d][k];
                }
        }
        out->n_attn = JANUS_MIN(w->p.n_attn, EXEC_STATS_MAX_ATTN);
        for (int32_t i = 0; i < out->n_attn; i++) {
            int64_t used = 0;
            for (int32_t s = 0; s < w->p.max_seqs; s++)
                used += w->kv_len[i * w->p.max_seqs + s];
            out->kv_used_tokens[i] = used;
        }
    }
    return rc;
}

static void mpi_destroy(struct exec *e) {
    struct wrk *w = (struct wrk *)e;
    if (w->failed) {
        LOG_ERROR("the deployment failed; ending the MPI job");
        comm_abort(5);
    }
    make_header(w, WIRE_TYPE_STOP);
    if (bcast_header(w) != JANUS_OK) comm_abort(5);
    wrk_free(w);
}

static const struct exec_ops mpi_ops = {
    .step = mpi_step,
    .step_logits = mpi_step_logits,
    .stats = mpi_stats,
    .destroy = mpi_destroy,
};

// ---- start

int worker_mpi_start(const struct worker_mpi_params *p, struct exec **out, char *err,
                     size_t err_len) {
    *out = NULL;
    int me = 0, size = 0;
    COMM_TRY(MPI_Comm_rank(p->parent, &me));
    COMM_TRY(MPI_Comm_size(p->parent, &size));
    if (p->n_attn < 1 || p->n_moe < 1 || p->n_attn > EXEC_STATS_MAX_ATTN ||
        p->n_moe > EXEC_STATS_MAX_MOE || p->n_attn + p->n_moe != size || p->max_seqs < 1 ||
        p->max_seqs > EXEC_MAX_SEQS || p->max_rows < 1 || p->max_rows > EXEC_MAX_ROWS ||
        p->policy < 0 || p->policy >= ACTSCHED_POLICY_COUNT || p->comm < WORKER_COMM_AUTO ||
        p->comm >= XFER_N_SCHEMES || p->node_size < 0 || p->n_slots < 0) {
        snprintf(err, err_len,
                 "bad deployment: %d attention + %d MoE instances on %d ranks (need equal), "
                 "max_seqs %d, max_rows %d, policy %d, comm %d, node size %d",
                 p->n_attn, p->n_moe, size, p->max_seqs, p->max_rows, p->policy, p->comm,
                 p->node_size);
        return JANUS_EINVAL;
    }
    struct wrk *w = mem_calloc(MEM_TAG_ENGINE, 1, sizeof *w);
    if (!w) return JANUS_ENOMEM;
    w->p = *p;
    w->fault_rank = w->fault_step = -1;
    const char *fsched = getenv("JANUS_FAULT_SCHEDULE");
    w->fault_sched_rank = fsched ? strtoll(fsched, NULL, 10) : -1;
    const char *fault = getenv("JANUS_FAULT_DIE");
    if (fault) {
        char *end = NULL;
        w->fault_rank = strtoll(fault, &end, 10);
        w->fault_step = end && *end == ':' ? strtoll(end + 1, NULL, 10) : -1;
    }
    char local_err[512] = "";
    int rc = setup_local(w, local_err, sizeof local_err);
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
        rc = p->node_size == 0 && p->host_labels
                 ? topo_init_hosts(&w->topo, p->parent, p->n_attn, p->n_moe, p->host_labels)
                 : topo_init(&w->topo, p->parent, p->n_attn, p->n_moe, p->node_size);
        w->topo_ok = rc == JANUS_OK;
        if (rc) snprintf(local_err, sizeof local_err, "topology: %s", janus_strerror(rc));
        if (rc == JANUS_OK) {
            log_set_identity(comm_world_rank(), w->topo.role == TOPO_ROLE_ATTN
                                                    ? (me == 0 ? "ctl+attn" : "attn")
                                                    : "moe");
            rc = comm_check_equal_u64(w->topo.comm, layout_digest(&w->layout),
                                      "replica layout digest");
            if (rc == JANUS_OK)
                rc = comm_check_equal_u64(w->topo.comm, w->model.n_bytes_weights,
                                          "model weight bytes");
            if (rc) snprintf(local_err, sizeof local_err, "ranks disagree on the model or layout");
        }
        if (rc == JANUS_OK) {
            rc = setup_role(w);
            if (rc)
                snprintf(local_err, sizeof local_err, "rank %d: setup: %s", me, janus_strerror(rc));
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
            snprintf(err, err_len, "%s", local_err[0] ? local_err : janus_strerror(rc));
        else
            snprintf(err, err_len, "another rank failed to start (%s)", janus_strerror(worst));
        wrk_free(w);
        return worst;
    }
    w->hdr_len = wire_step_size(p->n_attn);
    w->hdr = mem_calloc(MEM_TAG_COMM, w->hdr_len, 1);
    if (!w->hdr) comm_abort(6);
    if (me != 0) {
        worker_loop(w);
        // Every MoE instance gated the same tokens, so each holds the deployment's statistics.
        if (w->p.expert_stats_out && w->topo.role == TOPO_ROLE_MOE && w->topo.inst == 0 &&
            stats_save_json(&w->stats, w->p.expert_stats_out) != JANUS_OK)
            LOG_ERROR("cannot write expert statistics to %s", w->p.expert_stats_out);
        wrk_free(w);
        return JANUS_OK;
    }
    w->kv_len = mem_calloc(MEM_TAG_ENGINE, (size_t)p->n_attn * p->max_seqs, sizeof(int32_t));
    w->req = mem_calloc(MEM_TAG_COMM, (size_t)p->n_attn, sizeof(MPI_Request));
    if (!w->kv_len || !w->req) comm_abort(6);
    w->base.ops = &mpi_ops;
    *out = &w->base;
    return JANUS_OK;
}

// ---- report text

void worker_mpi_report_print(const struct worker_mpi_report *r, FILE *f) {
    double n = r->n_steps > 0 ? (double)r->n_steps : 1;
    fprintf(f,
            "deployment: %d attention (%d nodes) + %d MoE (%d nodes), node size %d, %s, comm %s\n",
            r->n_attn, r->n_node_attn, r->n_moe, r->n_node_moe, r->node_size,
            actsched_policy_name((enum actsched_policy)r->policy),
            r->comm < 0 ? "auto" : xfer_scheme_name(r->comm));
    fprintf(f, "steps: %llu (1pc %llu, 2pc1 %llu, 2pc2 %llu)\n", (unsigned long long)r->n_steps,
            (unsigned long long)r->scheme_steps[0], (unsigned long long)r->scheme_steps[1],
            (unsigned long long)r->scheme_steps[2]);
    fprintf(
        f,
        "step time: %.3f ms mean over %llu steps (controller wall time; %llu steps with tokens)\n",
        1e-6 * (double)r->step_ns_total / n, (unsigned long long)r->n_steps,
        (unsigned long long)r->busy_steps);
    fprintf(f, "per layer, ms per step (max over ranks of the role; exchange = attention-side time "
               "inside the exchange, MoE compute included):\n");
    fprintf(f, "%5s %5s %10s %10s %12s %10s %8s %8s %9s\n", "layer", "kind", "attention",
            "exchange", "gate+sched", "experts", "check", "a_max", "mean a_max");
    fprintf(f, "  (check: schedule-digest allreduce among MoE instances; a_max: last step with "
               "tokens; mean over steps with tokens)\n");
    for (int32_t l = 0; l < r->n_layer; l++)
        fprintf(f, "%5d %5s %10.3f %10.3f %12.3f %10.3f %8.3f %8d %9.2f\n", l,
                r->is_moe[l] ? "moe" : "dense", 1e3 * r->attn_s[l] / n, 1e3 * r->xchg_s[l] / n,
                1e3 * r->gate_s[l] / n, 1e3 * r->expert_s[l] / n, 1e3 * r->check_s[l] / n,
                r->a_max_last[l],
                (double)r->a_max_sum[l] / (r->busy_steps > 0 ? (double)r->busy_steps : 1));
    fprintf(f, "messages (summed over ranks, both directions):\n");
    fprintf(f, "%6s %12s %14s %12s %14s\n", "scheme", "cross msgs", "cross bytes", "local msgs",
            "local bytes");
    for (int s = 0; s < XFER_N_SCHEMES; s++) {
        uint64_t m[2] = {0, 0}, b[2] = {0, 0};
        for (int d = 0; d < XFER_N_DIRS; d++)
            for (int k = 0; k < XFER_N_LINKS; k++) {
                m[k] += r->ctr.msgs[s][d][k];
                b[k] += r->ctr.bytes[s][d][k];
            }
        fprintf(f, "%6s %12llu %14llu %12llu %14llu\n", xfer_scheme_name(s),
                (unsigned long long)m[0], (unsigned long long)b[0], (unsigned long long)m[1],
                (unsigned long long)b[1]);
    }
    fprintf(f, "cost model: cross %.2f us + %.3f GB/s, local %.2f us + %.3f GB/s\n",
            1e6 * r->cost.lat_s[XFER_LINK_CROSS], 1e-9 / r->cost.byte_s[XFER_LINK_CROSS],
            1e6 * r->cost.lat_s[XFER_LINK_LOCAL], 1e-9 / r->cost.byte_s[XFER_LINK_LOCAL]);
}
