// Statistics of the MPI deployment: collection, text, exec_stats, files (worker_stats.h).
// SPDX-License-Identifier: MIT
#include "runtime/worker_stats.h"

#include "actsched/actsched.h"
#include "base/log.h"
#include "base/status.h"
#include "comm/comm.h"
#include "comm/wire.h"
#include "runtime/control.h"
#include "runtime/worker.h"

#include <string.h>

int worker_stats_collect(struct worker *w, struct worker_stats *r) {
    int32_t L = (int32_t)w->n_layer, n_e = w->p.n_moe;
    double *dmax = w->red_t[0], *dout = w->red_t[1];
    uint64_t *usum = w->red_sum[0], *uout = w->red_sum[1];
    uint64_t *umax = w->red_max[0], *umout = w->red_max[1];
    const double *t[WORKER_N_TIMES] = {w->t_attn, w->t_xchg, w->t_gate, w->t_exp, w->t_check};
    for (int k = 0; k < WORKER_N_TIMES; k++)
        memcpy(dmax + k * L, t[k], (size_t)L * sizeof(double));
    int n = 0;
    const struct xfer_counters *c = &w->xf.ctr;
    for (int m = 0; m < XFER_N_MODES; m++)
        for (int s = 0; s < XFER_N_SCHEMES; s++)
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int k = 0; k < XFER_N_LINKS; k++) {
                    usum[n++] = c->msgs[m][s][d][k];
                    usum[n++] = c->bytes[m][s][d][k];
                }
    for (int m = 0; m < XFER_N_MODES; m++)
        for (int s = 0; s < XFER_N_SCHEMES; s++)
            usum[n++] = c->exchanges[m][s];
    for (int k = 0; k < XFER_N_LINKS; k++) {
        usum[n++] = c->route_msgs[k];
        usum[n++] = c->route_bytes[k];
    }
    JANUS_ASSERT(n == WORKER_N_CTR);
    for (int32_t g = 0; g < n_e; g++)
        usum[WORKER_N_CTR + g] =
            w->topo.role == TOPO_ROLE_MOE && w->topo.inst == g ? w->act_sum : 0;
    for (int32_t l = 0; l < L; l++) {
        umax[l] = (uint64_t)w->a_max_last[l];
        umax[L + l] = w->a_max_sum[l];
    }
    umax[2 * L] = w->busy_steps;
    COMM_TRY(MPI_Reduce(dmax, dout, WORKER_N_TIMES * L, MPI_DOUBLE, MPI_MAX, 0, w->topo.comm));
    COMM_TRY(MPI_Reduce(usum, uout, WORKER_N_CTR + n_e, MPI_UINT64_T, MPI_SUM, 0, w->topo.comm));
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
    r->dispatch = w->p.dispatch;
    r->sums = w->p.sums;
    r->n_steps = w->n_steps;
    r->busy_steps = umout[2 * L];
    r->step_ns_total = w->step_ns;
    memcpy(r->scheme_steps, w->scheme_steps, sizeof r->scheme_steps);
    memcpy(r->pair_steps, w->pair_steps, sizeof r->pair_steps);
    double *out[WORKER_N_TIMES] = {r->attn_s, r->xchg_s, r->gate_s, r->expert_s, r->check_s};
    for (int k = 0; k < WORKER_N_TIMES; k++)
        memcpy(out[k], dout + k * L, (size_t)L * sizeof(double));
    for (int32_t l = 0; l < L; l++) {
        r->is_moe[l] = hparams_layer_is_moe(&w->model.hp, l);
        r->a_max_last[l] = (int32_t)umout[l];
        r->a_max_sum[l] = umout[L + l];
    }
    n = 0;
    for (int m = 0; m < XFER_N_MODES; m++)
        for (int s = 0; s < XFER_N_SCHEMES; s++)
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int k = 0; k < XFER_N_LINKS; k++) {
                    r->ctr.msgs[m][s][d][k] = uout[n++];
                    r->ctr.bytes[m][s][d][k] = uout[n++];
                }
    for (int m = 0; m < XFER_N_MODES; m++)
        for (int s = 0; s < XFER_N_SCHEMES; s++)
            r->ctr.exchanges[m][s] = uout[n++];
    for (int k = 0; k < XFER_N_LINKS; k++) {
        r->ctr.route_msgs[k] = uout[n++];
        r->ctr.route_bytes[k] = uout[n++];
    }
    for (int32_t g = 0; g < n_e; g++)
        r->activated_sum[g] = uout[WORKER_N_CTR + g];
    r->cost = w->cost;
    return JANUS_OK;
}

int worker_stats_report(struct exec *e, struct worker_stats *r) {
    struct worker *w = (struct worker *)e;
    if (w->failed) return JANUS_ECOMM;
    control_make_header(w, WIRE_TYPE_STATS);
    if (control_bcast_header(w) != JANUS_OK || worker_stats_collect(w, r) != JANUS_OK) {
        w->failed = 1;
        return JANUS_ECOMM;
    }
    return JANUS_OK;
}

int worker_stats_exec(struct exec *e, struct exec_stats *out) {
    struct worker *w = (struct worker *)e;
    struct worker_stats *r = &w->rep;
    int rc = worker_stats_report(e, r);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    out->n_steps = w->n_steps;
    out->step_ns_total = w->step_ns;
    out->n_layer = r->n_layer;
    out->n_moe = r->n_moe;
    for (int32_t l = 0; l < r->n_layer; l++) {
        out->a_max_last[l] = r->a_max_last[l];
        out->a_max_sum[l] = r->a_max_sum[l];
    }
    for (int32_t g = 0; g < out->n_moe; g++)
        out->activated_sum[g] = r->activated_sum[g];
    for (int s = 0; s < XFER_N_SCHEMES; s++) {
        out->scheme_steps[s] = r->scheme_steps[s];
        for (int m = 0; m < XFER_N_MODES; m++) {
            out->mode_steps[m] += r->pair_steps[m][s];
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int k = 0; k < XFER_N_LINKS; k++) {
                    out->scheme_msgs[s] += r->ctr.msgs[m][s][d][k];
                    out->scheme_bytes[s] += r->ctr.bytes[m][s][d][k];
                    out->mode_msgs[m] += r->ctr.msgs[m][s][d][k];
                    out->mode_bytes[m] += r->ctr.bytes[m][s][d][k];
                }
        }
    }
    out->n_attn = w->p.n_attn;
    for (int32_t i = 0; i < out->n_attn; i++)
        out->kv_used_tokens[i] = exec_kv_used(&w->kv, i);
    return JANUS_OK;
}

void worker_stats_write_logits(struct worker *w, const float *lg) {
    if (!w->p.logits_out || w->logits_written) return;
    w->logits_written = 1;
    FILE *f = fopen(w->p.logits_out, "wb");
    int ok = f && fwrite(lg, sizeof(float), (size_t)w->V, f) == (size_t)w->V;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) LOG_ERROR("cannot write logits to %s", w->p.logits_out);
}

void worker_stats_save_experts(struct worker *w) {
    // Every MoE instance scheduled the same routing (gated itself under broadcast dispatch,
    // gathered under selective), so each holds the deployment's statistics.
    if (w->p.expert_stats_out && w->topo.role == TOPO_ROLE_MOE && w->topo.inst == 0 &&
        stats_save_json(&w->stats, w->p.expert_stats_out) != JANUS_OK)
        LOG_ERROR("cannot write expert statistics to %s", w->p.expert_stats_out);
}

void worker_stats_print(const struct worker_stats *r, FILE *f) {
    double n = r->n_steps > 0 ? (double)r->n_steps : 1;
    fprintf(f,
            "deployment: %d attention (%d nodes) + %d MoE (%d nodes), node size %d, %s, comm %s, "
            "dispatch %s, sums %s\n",
            r->n_attn, r->n_node_attn, r->n_moe, r->n_node_moe, r->node_size,
            actsched_policy_name((enum actsched_policy)r->policy),
            r->comm < 0 ? "auto" : xfer_scheme_name(r->comm),
            r->dispatch < 0 ? "auto" : xfer_mode_name(r->dispatch),
            r->sums == WORKER_SUMS_GROUPED ? "grouped" : "fixed");
    fprintf(f, "steps: %llu (1pc %llu, 2pc1 %llu, 2pc2 %llu)\n", (unsigned long long)r->n_steps,
            (unsigned long long)r->scheme_steps[0], (unsigned long long)r->scheme_steps[1],
            (unsigned long long)r->scheme_steps[2]);
    uint64_t per_mode[XFER_N_MODES] = {0, 0};
    for (int m = 0; m < XFER_N_MODES; m++)
        for (int s = 0; s < XFER_N_SCHEMES; s++)
            per_mode[m] += r->pair_steps[m][s];
    fprintf(f, "dispatch steps: broadcast %llu, selective %llu\n",
            (unsigned long long)per_mode[XFER_MODE_BROADCAST],
            (unsigned long long)per_mode[XFER_MODE_SELECTIVE]);
    fprintf(
        f,
        "step time: %.3f ms mean over %llu steps (controller wall time; %llu steps with tokens)\n",
        1e-6 * (double)r->step_ns_total / n, (unsigned long long)r->n_steps,
        (unsigned long long)r->busy_steps);
    fprintf(f, "per layer, ms per step (max over ranks of the role; exchange = attention-side time "
               "inside the exchange, MoE compute included):\n");
    fprintf(f, "%5s %5s %10s %10s %12s %10s %8s %8s %9s\n", "layer", "kind", "attention",
            "exchange", "gate+sched", "experts", "check", "a_max", "mean a_max");
    fprintf(
        f,
        "  (check: schedule-digest allreduce among MoE instances, every rank on selective steps, 0 "
        "unless --check-schedule; "
        "a_max: last step with tokens; mean over steps with tokens)\n");
    for (int32_t l = 0; l < r->n_layer; l++)
        fprintf(f, "%5d %5s %10.3f %10.3f %12.3f %10.3f %8.3f %8d %9.2f\n", l,
                r->is_moe[l] ? "moe" : "dense", 1e3 * r->attn_s[l] / n, 1e3 * r->xchg_s[l] / n,
                1e3 * r->gate_s[l] / n, 1e3 * r->expert_s[l] / n, 1e3 * r->check_s[l] / n,
                r->a_max_last[l],
                (double)r->a_max_sum[l] / (r->busy_steps > 0 ? (double)r->busy_steps : 1));
    fprintf(f, "messages (summed over ranks, both directions):\n");
    fprintf(f, "%6s %12s %14s %12s %14s\n", "scheme", "cross msgs", "cross bytes", "local msgs",
            "local bytes");
    for (int m = 0; m < XFER_N_MODES; m++)
        for (int s = 0; s < XFER_N_SCHEMES; s++) {
            uint64_t mm[2] = {0, 0}, b[2] = {0, 0};
            for (int d = 0; d < XFER_N_DIRS; d++)
                for (int k = 0; k < XFER_N_LINKS; k++) {
                    mm[k] += r->ctr.msgs[m][s][d][k];
                    b[k] += r->ctr.bytes[m][s][d][k];
                }
            // Broadcast rows always, as before selective dispatch existed (their scheme column
            // is the bare name); a selective row, named SCHEME+sel, once that mode ran.
            if (m == XFER_MODE_SELECTIVE && r->ctr.exchanges[m][s] == 0) continue;
            char name[16];
            snprintf(name, sizeof name, "%s%s", xfer_scheme_name(s),
                     m == XFER_MODE_SELECTIVE ? "+sel" : "");
            fprintf(f, "%6s %12llu %14llu %12llu %14llu\n", name, (unsigned long long)mm[0],
                    (unsigned long long)b[0], (unsigned long long)mm[1], (unsigned long long)b[1]);
        }
    if (r->ctr.route_msgs[0] + r->ctr.route_msgs[1] > 0)
        fprintf(f,
                "routing exchange (in the +sel rows): cross %llu msgs %llu bytes, local %llu "
                "msgs %llu bytes\n",
                (unsigned long long)r->ctr.route_msgs[0], (unsigned long long)r->ctr.route_bytes[0],
                (unsigned long long)r->ctr.route_msgs[1],
                (unsigned long long)r->ctr.route_bytes[1]);
    fprintf(f, "cost model: cross %.2f us + %.3f GB/s, local %.2f us + %.3f GB/s\n",
            1e6 * r->cost.lat_s[XFER_LINK_CROSS], 1e-9 / r->cost.byte_s[XFER_LINK_CROSS],
            1e6 * r->cost.lat_s[XFER_LINK_LOCAL], 1e-9 / r->cost.byte_s[XFER_LINK_LOCAL]);
}
