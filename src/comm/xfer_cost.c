// Exchange cost model, calibration and the adaptive choice (xfer_cost.h, SPEC §4).
// The model is symmetric: the return path mirrors the dispatch (same messages and bytes,
// directions reversed, and an endpoint's cost is the max of its send and receive sides),
// so a layer's prediction is twice the dispatch prediction; under selective dispatch the
// return's rows are the fixed-order row units instead (return_units).
// SPDX-License-Identifier: MIT
#include "comm/xfer_cost.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "comm/comm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xfer_cost_default(struct xfer_cost *c) {
    for (int l = 0; l < XFER_N_LINKS; l++) {
        c->lat_s[l] = 1e-6;
        c->byte_s[l] = 1.0 / 5e9;
    }
}

// ---- prediction

// Endpoint cost: the larger of its send side and its receive side.
static double ep(const struct xfer_cost *c, int link, double ms, double bs, double mr, double br) {
    double s = ms * c->lat_s[link] + bs * c->byte_s[link];
    double r = mr * c->lat_s[link] + br * c->byte_s[link];
    return s > r ? s : r;
}

static int64_t attn_node_rows(const struct topo *t, const int32_t *b, int32_t j) {
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN];
    int64_t r = 0;
    for (int32_t p = A->node_first[j]; p < A->node_first[j + 1]; p++)
        r += b[A->member[p]];
    return r;
}

// Local gather onto (or scatter from) attention-node leaders.
static double phase_attn_local(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                               double rb) {
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN];
    double worst = 0;
    for (int32_t j = 0; j < A->n_node; j++) {
        int32_t first = A->node_first[j], n = A->node_first[j + 1] - first;
        if (n < 2) continue;
        int64_t others = attn_node_rows(t, b, j) - b[A->member[first]];
        worst = fmax(worst, ep(c, XFER_LINK_LOCAL, 0, 0, n - 1, (double)others * rb));
        for (int32_t p = first + 1; p < first + n; p++)
            worst = fmax(worst, ep(c, XFER_LINK_LOCAL, 1, b[A->member[p]] * rb, 0, 0));
    }
    return worst;
}

// Local multicast from (or reduce onto) MoE-node leaders: B rows per member.
static double phase_moe_local(const struct xfer_cost *c, const struct topo *t, int64_t B,
                              double rb) {
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    double worst = 0;
    for (int32_t k = 0; k < M->n_node; k++) {
        int32_t n = topo_node_n(t, TOPO_ROLE_MOE, k);
        if (n < 2) continue;
        worst = fmax(worst, ep(c, XFER_LINK_LOCAL, n - 1, (double)(n - 1) * B * rb, 0, 0));
        worst = fmax(worst, ep(c, XFER_LINK_LOCAL, 0, 0, 1, (double)B * rb));
    }
    return worst;
}

double xfer_cost_predict(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                         int64_t row_bytes, int32_t scheme) {
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN], *M = &t->side[TOPO_ROLE_MOE];
    int32_t n_a = A->n_inst, n_e = M->n_inst, N_a = A->n_node, N_e = M->n_node;
    double rb = (double)row_bytes;
    int64_t B = 0;
    for (int32_t i = 0; i < n_a; i++)
        B += b[i];
    double disp = 0;
    if (scheme == XFER_SCHEME_1PC) {
        // Every attention instance sends x_i to every MoE instance; each receives all B rows.
        double x = ep(c, XFER_LINK_CROSS, 0, 0, n_a, (double)B * rb);
        for (int32_t i = 0; i < n_a; i++)
            x = fmax(x, ep(c, XFER_LINK_CROSS, n_e, (double)n_e * b[i] * rb, 0, 0));
        disp = x;
    } else if (scheme == XFER_SCHEME_2PC1) {
        // Attention leaders send their node's rows to every MoE leader.
        double x = ep(c, XFER_LINK_CROSS, 0, 0, N_a, (double)B * rb);
        for (int32_t j = 0; j < N_a; j++)
            x = fmax(x,
                     ep(c, XFER_LINK_CROSS, N_e, (double)N_e * attn_node_rows(t, b, j) * rb, 0, 0));
        disp = phase_attn_local(c, t, b, rb) + x + phase_moe_local(c, t, B, rb);
    } else {
        // 2PC2: attention node j -> MoE node j mod N_e, then designated leaders -> others.
        int32_t D = N_a < N_e ? N_a : N_e;
        double x1 = 0, x2 = 0;
        for (int32_t j = 0; j < N_a; j++)
            x1 = fmax(x1, ep(c, XFER_LINK_CROSS, 1, attn_node_rows(t, b, j) * rb, 0, 0));
        for (int32_t k = 0; k < N_e; k++) {
            int64_t s = 0;
            int32_t cnt = 0;
            for (int32_t j = k; j < N_a; j += N_e, cnt++)
                s += attn_node_rows(t, b, j);
            x1 = fmax(x1, ep(c, XFER_LINK_CROSS, 0, 0, cnt, (double)s * rb));
            double send_m = k < D ? N_e - 1 : 0, recv_m = D - (k < D ? 1 : 0);
            x2 = fmax(
                x2, ep(c, XFER_LINK_CROSS, send_m, send_m * s * rb, recv_m, (double)(B - s) * rb));
        }
        disp = phase_attn_local(c, t, b, rb) + x1 + x2 + phase_moe_local(c, t, B, rb);
    }
    return 2 * disp;
}

int32_t xfer_choose(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                    int64_t row_bytes, double *cost_out) {
    int32_t best = 0;
    double best_cost = 0;
    for (int32_t s = 0; s < XFER_N_SCHEMES; s++) {
        double v = xfer_cost_predict(c, t, b, row_bytes, s);
        if (cost_out) cost_out[s] = v;
        if (s == 0 || v < best_cost) {
            best = s;
            best_cost = v;
        }
    }
    return best;
}

// ---- selective dispatch

double xfer_cost_need_prob(int32_t k, int32_t n_expert, int32_t share, int32_t n_e) {
    if (k < 1 || n_expert < 1 || n_e < 1 || share < 1) return share >= 1 ? 1.0 : 0.0;
    double E = n_expert, Eg = (double)n_expert * share / n_e, miss = 1;
    for (int32_t j = 0; j < k && miss > 0; j++)
        miss *= fmax(0.0, (E - Eg - j) / (E - j));
    return 1 - miss;
}

// Expected messages a sender of r rows sends to one receiver needing a row with prob q.
static double p_any(double q, int64_t r) { return r > 0 ? 1 - pow(1 - q, (double)r) : 0; }

// The routing exchange: every attention instance with rows sends k·8 bytes per row to every
// other rank; every rank receives from every such instance.
static double phase_route(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                          int32_t k) {
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN];
    double rk = 8.0 * k, worst = 0, senders = 0;
    int64_t B = 0;
    for (int32_t i = 0; i < A->n_inst; i++) {
        B += b[i];
        if (b[i] == 0) continue;
        senders++;
        int32_t local = topo_node_n(t, TOPO_ROLE_ATTN, A->node[i]) - 1;
        int32_t cross = t->n_ranks - 1 - local;
        worst = fmax(worst, ep(c, XFER_LINK_CROSS, cross, (double)cross * b[i] * rk, 0, 0) +
                                ep(c, XFER_LINK_LOCAL, local, (double)local * b[i] * rk, 0, 0));
    }
    return fmax(worst, ep(c, XFER_LINK_CROSS, 0, 0, senders, (double)B * rk));
}

// Selective 2PC within MoE nodes: the leader sends each member the rows it needs.
static double phase_moe_local_sel(const struct xfer_cost *c, const struct topo *t, int64_t B,
                                  double rb, double q) {
    const struct topo_side *M = &t->side[TOPO_ROLE_MOE];
    double worst = 0;
    for (int32_t kk = 0; kk < M->n_node; kk++) {
        int32_t n = topo_node_n(t, TOPO_ROLE_MOE, kk);
        if (n < 2) continue;
        worst = fmax(worst, ep(c, XFER_LINK_LOCAL, n - 1, (double)(n - 1) * B * q * rb, 0, 0));
        worst = fmax(worst, ep(c, XFER_LINK_LOCAL, 0, 0, 1, (double)B * q * rb));
    }
    return worst;
}

// Expected row units a row comes back as when its experts run on `fan` groups (instances
// or nodes) under the fixed-order return (xfer.h xfer_sel_plan): one fold, plus one row for
// every slot after the leading run on slot 0's group; with k experts spread uniformly the
// first j + 1 share a group with probability fan^-j. (scale/latency.c has the planner's
// copy: the layers keep comm and scale apart.)
static double return_units(int32_t k, double fan) {
    if (!(fan > 1)) return 1;
    double u = k, p = 1;
    for (int32_t j = 1; j < k; j++) {
        p /= fan;
        u -= p;
    }
    return fmax(u, fan); // every group holding one of them sends one row at least
}

double xfer_cost_predict_mode(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                              int64_t row_bytes, int32_t scheme, int32_t mode, int32_t k,
                              int32_t n_expert) {
    if (mode != XFER_MODE_SELECTIVE) return xfer_cost_predict(c, t, b, row_bytes, scheme);
    const struct topo_side *A = &t->side[TOPO_ROLE_ATTN], *M = &t->side[TOPO_ROLE_MOE];
    int32_t n_a = A->n_inst, n_e = M->n_inst, N_a = A->n_node, N_e = M->n_node;
    double rb = (double)row_bytes;
    int64_t B = 0;
    for (int32_t i = 0; i < n_a; i++)
        B += b[i];
    if (B == 0) return 0;
    double q = xfer_cost_need_prob(k, n_expert, 1, n_e); // one instance
    // Per direction: `once` moves a row as itself both ways (the attention gather/scatter,
    // 2PC2's hop to and from the designated leader); `units` comes back as row units.
    double once = 0, units = 0;
    if (scheme == XFER_SCHEME_1PC) {
        double recv_m = 0, x = 0;
        for (int32_t i = 0; i < n_a; i++) {
            recv_m += p_any(q, b[i]);
            x = fmax(
                x, ep(c, XFER_LINK_CROSS, n_e * p_any(q, b[i]), (double)n_e * q * b[i] * rb, 0, 0));
        }
        units = fmax(x, ep(c, XFER_LINK_CROSS, 0, 0, recv_m, (double)B * q * rb));
    } else {
        double x1 = 0, x2 = 0;
        if (scheme == XFER_SCHEME_2PC1) {
            for (int32_t kk = 0; kk < N_e; kk++) {
                double qk =
                    xfer_cost_need_prob(k, n_expert, topo_node_n(t, TOPO_ROLE_MOE, kk), n_e);
                double recv_m = 0;
                for (int32_t j = 0; j < N_a; j++)
                    recv_m += p_any(qk, attn_node_rows(t, b, j));
                x1 = fmax(x1, ep(c, XFER_LINK_CROSS, 0, 0, recv_m, (double)B * qk * rb));
            }
            for (int32_t j = 0; j < N_a; j++) {
                int64_t R = attn_node_rows(t, b, j);
                double m = 0, rows = 0;
                for (int32_t kk = 0; kk < N_e; kk++) {
                    double qk =
                        xfer_cost_need_prob(k, n_expert, topo_node_n(t, TOPO_ROLE_MOE, kk), n_e);
                    m += p_any(qk, R);
                    rows += qk * R;
                }
                x1 = fmax(x1, ep(c, XFER_LINK_CROSS, m, rows * rb, 0, 0));
            }
        } else {
            int32_t D = N_a < N_e ? N_a : N_e;
            for (int32_t j = 0; j < N_a; j++)
                x1 = fmax(x1, ep(c, XFER_LINK_CROSS, 1, attn_node_rows(t, b, j) * rb, 0, 0));
            for (int32_t kk = 0; kk < N_e; kk++) {
                double qk =
                    xfer_cost_need_prob(k, n_expert, topo_node_n(t, TOPO_ROLE_MOE, kk), n_e);
                int64_t s = 0;
                int32_t cnt = 0;
                for (int32_t j = kk; j < N_a; j += N_e, cnt++)
                    s += attn_node_rows(t, b, j);
                x1 = fmax(x1, ep(c, XFER_LINK_CROSS, 0, 0, cnt, (double)s * rb));
                double send_m = 0, send_r = 0;
                for (int32_t k2 = 0; k2 < N_e && kk < D; k2++)
                    if (k2 != kk) {
                        double q2 = xfer_cost_need_prob(k, n_expert,
                                                        topo_node_n(t, TOPO_ROLE_MOE, k2), n_e);
                        send_m += p_any(q2, s);
                        send_r += q2 * s;
                    }
                double recv_m = D - (kk < D ? 1 : 0);
                x2 = fmax(x2, ep(c, XFER_LINK_CROSS, send_m, send_r * rb, recv_m,
                                 (double)(B - s) * qk * rb));
            }
        }
        once = phase_attn_local(c, t, b, rb) + (scheme == XFER_SCHEME_2PC2 ? x1 : 0);
        units = (scheme == XFER_SCHEME_2PC2 ? 0 : x1) + x2 + phase_moe_local_sel(c, t, B, rb, q);
    }
    // The return mirrors the dispatch, with the rows scaled from the fan-out to the row units
    // where units travel.
    double fan = 0;
    if (scheme == XFER_SCHEME_1PC)
        fan = n_e * q;
    else
        for (int32_t kk = 0; kk < N_e; kk++)
            fan += xfer_cost_need_prob(k, n_expert, topo_node_n(t, TOPO_ROLE_MOE, kk), n_e);
    double ret = return_units(k, fan) / fmax(fan, 1e-9);
    return phase_route(c, t, b, k) + 2 * once + units * (1 + ret);
}

void xfer_choose_pair(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                      int64_t row_bytes, int32_t k, int32_t n_expert, int32_t scheme_fixed,
                      int32_t mode_fixed, int32_t *scheme, int32_t *mode, double *cost_out) {
    double best_cost = 0, best_bc = 0;
    int first = 1;
    *scheme = scheme_fixed >= 0 ? scheme_fixed : 0;
    *mode = mode_fixed >= 0 ? mode_fixed : 0;
    for (int32_t m = 0; m < XFER_N_MODES; m++)
        for (int32_t s = 0; s < XFER_N_SCHEMES; s++) {
            int allowed = (scheme_fixed < 0 || s == scheme_fixed) &&
                          (mode_fixed < 0 || m == mode_fixed) &&
                          (m == XFER_MODE_BROADCAST || k >= 1);
            double v = xfer_cost_predict_mode(c, t, b, row_bytes, s, m, k, n_expert);
            // Equal predictions (an empty selective step moves nothing under every scheme)
            // go to the scheme broadcast would pick, so the scheme statistic stays meaningful.
            double bc = xfer_cost_predict(c, t, b, row_bytes, s);
            if (cost_out) cost_out[m * XFER_N_SCHEMES + s] = v;
            if (allowed && (first || v < best_cost || (v == best_cost && bc < best_bc))) {
                first = 0;
                best_cost = v;
                best_bc = bc;
                *scheme = s;
                *mode = m;
            }
        }
}

// ---- calibration

#define PP_SMALL      8
#define PP_BIG        (256 * 1024)
#define PP_REPS_SMALL 40
#define PP_REPS_BIG   8
#define PP_WARMUP     3

// Round-trip seconds of n bytes between ranks a (timing) and b: the fastest of reps round
// trips, so that scheduling noise on an oversubscribed host does not inflate the estimate.
static int pingpong(MPI_Comm comm, int me, int a, int b, char *buf, int n, int reps, double *rt) {
    int peer = me == a ? b : a;
    double best = 1e30;
    for (int r = 0; r < reps + PP_WARMUP; r++) {
        double t0 = clock_now_s();
        if (me == a) {
            COMM_TRY(MPI_Send(buf, n, MPI_CHAR, peer, 77, comm));
            COMM_TRY(MPI_Recv(buf, n, MPI_CHAR, peer, 77, comm, MPI_STATUS_IGNORE));
        } else {
            COMM_TRY(MPI_Recv(buf, n, MPI_CHAR, peer, 77, comm, MPI_STATUS_IGNORE));
            COMM_TRY(MPI_Send(buf, n, MPI_CHAR, peer, 77, comm));
        }
        double t = clock_now_s() - t0;
        if (r >= PP_WARMUP && t < best) best = t;
    }
    *rt = best;
    return JANUS_OK;
}

int xfer_cost_pingpong(MPI_Comm comm, int a, int b, double *lat_s, double *byte_s) {
    int me;
    COMM_TRY(MPI_Comm_rank(comm, &me));
    double v[2] = {0, 0};
    int rc = JANUS_OK;
    if (me == a || me == b) {
        char *buf = mem_calloc(MEM_TAG_COMM, PP_BIG, 1);
        if (!buf) return JANUS_ENOMEM;
        double rt_small = 0, rt_big = 0;
        rc = pingpong(comm, me, a, b, buf, PP_SMALL, PP_REPS_SMALL, &rt_small);
        if (rc == JANUS_OK) rc = pingpong(comm, me, a, b, buf, PP_BIG, PP_REPS_BIG, &rt_big);
        mem_free(buf);
        if (rc != JANUS_OK) return rc;
        v[0] = rt_small / 2;
        v[1] = (rt_big / 2 - v[0]) / PP_BIG;
        if (!(v[1] > 1e-13)) v[1] = 1e-13; // noise on an idle-yielding host; keep it positive
    }
    COMM_TRY(MPI_Bcast(v, 2, MPI_DOUBLE, a, comm));
    *lat_s = v[0];
    *byte_s = v[1];
    return JANUS_OK;
}

int xfer_cost_calibrate(struct xfer_cost *out, const struct topo *t) {
    struct xfer_cost c;
    xfer_cost_default(&c);
    int a = t->side[TOPO_ROLE_ATTN].rank[0], b = t->side[TOPO_ROLE_MOE].rank[0];
    int rc =
        xfer_cost_pingpong(t->comm, a, b, &c.lat_s[XFER_LINK_CROSS], &c.byte_s[XFER_LINK_CROSS]);
    // Local pair: the first node (attention nodes, then MoE nodes) with two members.
    int la = -1, lb = -1;
    for (int role = 0; role < TOPO_N_ROLES && la < 0; role++) {
        const struct topo_side *s = &t->side[role];
        for (int32_t j = 0; j < s->n_node && la < 0; j++)
            if (topo_node_n(t, role, j) >= 2) {
                la = s->rank[s->member[s->node_first[j]]];
                lb = s->rank[s->member[s->node_first[j] + 1]];
            }
    }
    if (rc == JANUS_OK && la >= 0) {
        rc = xfer_cost_pingpong(t->comm, la, lb, &c.lat_s[XFER_LINK_LOCAL],
                                &c.byte_s[XFER_LINK_LOCAL]);
    } else {
        c.lat_s[XFER_LINK_LOCAL] = c.lat_s[XFER_LINK_CROSS];
        c.byte_s[XFER_LINK_LOCAL] = c.byte_s[XFER_LINK_CROSS];
    }
    if (rc == JANUS_OK) *out = c;
    return rc;
}

// ---- overrides

int xfer_cost_override(struct xfer_cost *c, const char *spec, char *err, size_t err_len) {
    struct xfer_cost r = *c;
    const char *p = spec ? spec : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[128];
        if (n == 0 || n >= sizeof item)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--comm-cost: malformed item near '%.40s'", p);
        memcpy(item, p, n);
        item[n] = 0;
        char *eq = strchr(item, '=');
        if (!eq)
            return status_errf(err, err_len, JANUS_EINVAL, "--comm-cost: '%s' is not key=value",
                               item);
        *eq = 0;
        char *vend = NULL;
        double v = strtod(eq + 1, &vend);
        int is_lat = strstr(item, "_lat_us") != NULL;
        if (!*(eq + 1) || *vend || !isfinite(v) || v < 0 || (!is_lat && v <= 0))
            return status_errf(err, err_len, JANUS_EINVAL, "--comm-cost: bad value '%s' for %s",
                               eq + 1, item);
        if (!strcmp(item, "cross_lat_us"))
            r.lat_s[XFER_LINK_CROSS] = v * 1e-6;
        else if (!strcmp(item, "local_lat_us"))
            r.lat_s[XFER_LINK_LOCAL] = v * 1e-6;
        else if (!strcmp(item, "cross_gbps"))
            r.byte_s[XFER_LINK_CROSS] = 1.0 / (v * 1e9);
        else if (!strcmp(item, "local_gbps"))
            r.byte_s[XFER_LINK_LOCAL] = 1.0 / (v * 1e9);
        else
            return status_errf(
                err, err_len, JANUS_EINVAL,
                "--comm-cost: unknown key '%s' (cross_lat_us, cross_gbps, local_lat_us, "
                "local_gbps)",
                item);
        p = end ? end + 1 : p + n;
    }
    *c = r;
    return JANUS_OK;
}
