// The data path of one step on either side of the deployment (step.h).
// Test hook: JANUS_FAULT_SCHEDULE="rank" corrupts that MoE rank's schedule before the
// digest check (worker_mpi.c reads it; the check is then on).
// SPDX-License-Identifier: MIT
#include "runtime/step.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "comm/comm.h"

#include <string.h>

// ---- selective dispatch (SPEC §4): routing everywhere, one schedule everywhere

int step_sel_route(struct xfer *xf, struct step_sel *s) {
    const struct topo *t = xf->t;
    int rc = xfer_route_exchange(xf, s->ids, s->w, s->ids_all, s->w_all);
    if (rc) return rc;
    s->in.routing = s->ids_all;
    s->in.n_tok = xf->n_rows;
    rc = actsched_run(s->ws, s->policy, &s->in, s->so);
    if (rc) {
        LOG_ERROR("%s instance %d: scheduler failed on layer %d: %s", topo_role_name(t->role),
                  t->inst, s->in.layer_id, janus_strerror(rc));
        return rc;
    }
    if (s->corrupt && xf->n_rows > 0) s->so->a_max++; // test hook: differs from the others'
    double t1 = clock_now_s();
    if (s->check) {
        rc = comm_check_equal_u64(t->comm, actsched_digest(s->so), "activation schedule digest");
        if (rc) return rc;
    }
    s->t_check_s = clock_now_s() - t1;
    xfer_sel_plan(xf, s->ids_all, s->w_all, s->so->assign);
    return JANUS_OK;
}

// Every rank, on a selective MoE layer before the exchange: an attention instance gates its
// own rows (x_own, n_own), then step_sel_route (with --check-schedule every rank compares
// its schedule's digest).
static int route_and_schedule(struct worker *w, int64_t l, const float *x_own, int64_t n_own) {
    double t0 = clock_now_s();
    int is_attn = w->topo.role == TOPO_ROLE_ATTN;
    if (is_attn && w->xf.n_rows > 0)
        moe_gate_rows(&w->model, &w->lin, l, x_own, n_own, w->gate_r, w->gate_scratch,
                      &w->rt_local);
    struct step_sel s = {.ids = is_attn ? w->rt_local.ids : NULL,
                         .w = is_attn ? w->rt_local.w : NULL,
                         .ids_all = w->rt.ids,
                         .w_all = w->rt.w,
                         .ws = &w->ws,
                         .so = &w->so,
                         .policy = (enum actsched_policy)w->p.policy,
                         .in = {.layer = &w->layout.layers[l],
                                .top_k = (int32_t)w->k,
                                .step = (int64_t)w->cur_step,
                                .layer_id = (int32_t)l,
                                .seed = w->p.seed},
                         .check = w->p.check_schedule,
                         .corrupt = w->fault_sched_rank == comm_world_rank()};
    int rc = step_sel_route(&w->xf, &s);
    if (rc) return rc;
    w->rt.n_tok = w->xf.n_rows;
    w->t_gate[l] += clock_now_s() - t0 - s.t_check_s;
    w->t_check[l] += s.t_check_s;
    return JANUS_OK;
}

// ---- attention side

int step_attn(struct worker *w, const struct batch *b, struct batch_result *res, float *lg_out) {
    for (int32_t k = 0; k < b->n_free; k++)
        attn_seq_free(&w->attn, b->free_seq[k]);
    for (int32_t k = 0; k < b->n_start; k++)
        attn_seq_free(&w->attn, b->start_seq[k]);
    int rc = attn_step_begin(&w->attn, b); // h = token_embd[token]
    if (rc) {
        LOG_ERROR("attention instance %d: step rejected its batch: %s", w->topo.inst,
                  janus_strerror(rc));
        return rc;
    }
    for (int64_t l = 0; l < w->n_layer; l++) {
        double t0 = clock_now_s();
        int is_moe = attn_layer_begin(&w->attn, l); // h += Attn(rms(h)); x = rms(h); dense FFN
        double t1 = clock_now_s();
        w->t_attn[l] += t1 - t0;
        if (!is_moe) continue;
        if (w->xf.mode == XFER_MODE_SELECTIVE) {
            rc = route_and_schedule(w, l, attn_x(&w->attn), b->n);
            if (rc) return rc;
            t1 = clock_now_s();
        }
        rc = xfer_attn_send(&w->xf, (int32_t)l, attn_x(&w->attn)); // x_i to the MoE side
        if (rc) return rc;
        double t2 = clock_now_s();
        attn_layer_shared(&w->attn, l); // shared expert(s), overlapping the exchange
        double t3 = clock_now_s();
        rc = xfer_attn_recv(&w->xf, (int32_t)l, w->moe_out); // this instance's rows of Σ
        if (rc) return rc;
        double t4 = clock_now_s();
        attn_layer_end(&w->attn, l, w->moe_out); // h += moe + shared
        double t5 = clock_now_s();
        w->t_attn[l] += (t3 - t2) + (t5 - t4);
        w->t_xchg[l] += (t2 - t1) + (t4 - t3);
    }
    attn_logits(&w->attn, w->logits);
    attn_step_end(&w->attn);
    res->n_sample = (int32_t)b->n_logits;
    for (int64_t r = 0, k = 0; r < b->n; r++) {
        if (!b->logits[r]) continue;
        const float *lg = w->logits + k * w->V;
        res->tokens[k] = sampler_sample_at(&w->smp, lg, &b->sample[k], b->pos[r]);
        k++;
    }
    if (lg_out && b->n_logits > 0)
        memcpy(lg_out, w->logits, (size_t)(b->n_logits * w->V) * sizeof(float));
    return JANUS_OK;
}

// ---- MoE side

int step_moe(struct worker *w, uint64_t step) {
    int64_t B = w->xf.n_rows;
    int32_t g = w->topo.inst;
    if (B > 0) w->busy_steps++;
    for (int64_t l = 0; l < w->n_layer; l++) {
        if (!hparams_layer_is_moe(&w->model.hp, l)) continue;
        double t0 = clock_now_s(), t1 = t0;
        int rc;
        if (w->xf.mode == XFER_MODE_SELECTIVE) {
            // The routing and the schedule first; then only the rows this instance needs.
            rc = route_and_schedule(w, l, NULL, 0);
            if (rc == JANUS_OK) rc = xfer_moe_recv(&w->xf, (int32_t)l, w->x_all);
            if (rc) return rc;
        } else {
            rc = xfer_moe_recv(&w->xf, (int32_t)l, w->x_all); // x of every instance, B × d
            if (rc) return rc;
            t0 = clock_now_s();
            moe_gate(&w->moe, l, w->x_all, B, &w->rt); // bit-identical on every MoE instance
            struct actsched_input in = {.layer = &w->layout.layers[l],
                                        .routing = w->rt.ids,
                                        .n_tok = B,
                                        .top_k = (int32_t)w->k,
                                        .step = (int64_t)step,
                                        .layer_id = (int32_t)l,
                                        .seed = w->p.seed};
            rc = actsched_run(&w->ws, (enum actsched_policy)w->p.policy, &in, &w->so);
            if (rc) {
                LOG_ERROR("MoE instance %d: scheduler failed on layer %lld: %s", g, (long long)l,
                          janus_strerror(rc));
                return rc;
            }
            t1 = clock_now_s();
            if (w->fault_sched_rank == comm_world_rank() && B > 0)
                w->so.a_max++; // test hook: this instance's schedule now differs from the others'
            if (w->p.check_schedule) {
                // Debug/test option: every MoE instance must have computed the same schedule
                // (SPEC §3, §5). The allreduce waits for the slowest MoE instance, so it is
                // timed apart.
                rc = comm_check_equal_u64(w->topo.comm_role, actsched_digest(&w->so),
                                          "activation schedule digest");
                if (rc) return rc;
            }
            w->t_gate[l] += t1 - t0;
        }
        double t2 = clock_now_s();
        if (w->xf.mode == XFER_MODE_BROADCAST) w->t_check[l] += t2 - t1;
        for (int64_t e = 0; e < w->n_expert; e++) {
            w->run_here[e] = w->so.assign[e] == g;
            // Only loaded slabs (worker_load_share): --no-mmap leaves the others zero.
            JANUS_ASSERT(!w->run_here[e] || w->held[l * w->n_expert + e]);
        }
        // Selective: the fold of each row's leading run here, the other outputs apart, so
        // that the sum comes out in expert-id order wherever the experts ran (xfer.h).
        int sel = w->xf.mode == XFER_MODE_SELECTIVE;
        moe_experts_split(&w->moe, l, w->x_all, B, &w->rt, w->run_here, sel ? w->xf.fold : NULL,
                          w->partial, sel ? w->single : NULL);
        double t3 = clock_now_s();
        w->t_exp[l] += t3 - t2;
        if (B > 0) {
            rc = stats_record(&w->stats, (int32_t)l, w->so.active, w->so.n_active,
                              w->so.active_tokens);
            if (rc) return rc;
            w->a_max_last[l] = w->so.a_max; // the last step with tokens
        }
        w->a_max_sum[l] += (uint64_t)w->so.a_max;
        w->act_sum += (uint64_t)(B > 0 ? w->so.inst_count[g] : 0);
        rc = xfer_moe_send(&w->xf, (int32_t)l, w->partial, w->single); // partial sums back
        if (rc) return rc;
    }
    return JANUS_OK;
}
