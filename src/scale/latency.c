// Roofline latency model (latency.h, SPEC §7 and §4).
// Pure: plain data in and out, no allocation or I/O.
// SPDX-License-Identifier: MIT
#include "scale/latency.h"

#include "base/limits.h"
#include "base/status.h"
#include "scale/shape.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void latency_coef_default(struct latency_coef *c) {
    // Decode GEMMs have few rows; grouped/batched GEMM kernels reach about half of the
    // tensor-core peak at these shapes (assumption, the same for every system).
    c->eff_flops = 0.5;
    // Streaming reads reach ~80-90% of HBM peak (STREAM-like copies on H100 reach ~2.9 of
    // 3.35 TB/s); 0.8 also covers imperfect overlap of weight and KV reads.
    c->eff_mem = 0.8;
    // Large messages over NVLink/InfiniBand reach ~80% of the line rate.
    c->eff_net = 0.8;
    // Kernel launches per layer (norm, projections, attention, residual: ~8 kernels at
    // ~2 us each, CUDA graphs assumed).
    c->attn_fixed_s = 15e-6;
    c->moe_fixed_s = 10e-6;
    // The publication's activation-scheduler kernel: < 20 us at small batches and < 90 us
    // at batch 4096; 15 us + 18 ns/token reproduces both ends.
    c->sched_fixed_s = 15e-6;
    c->sched_per_token_s = 18e-9;
    // Sampling, step header, host-side bookkeeping per step.
    c->step_fixed_s = 0.5e-3;
    c->act_bytes = 2.0; // BF16 hidden states on the wire
    // CUDA context, allocator fragmentation; activation and communication buffers.
    c->mem_reserve_frac = 0.08;
    c->mem_buffer_bytes = 4e9;
    // SGLang-style EPLB keeps a few redundant experts; one extra slot per device.
    c->mono_redundant_slots = 1;
    // MegaScale-Infer's ping-pong pipeline with two micro-batches, and its rule that only
    // configurations whose attention and expert stages are balanced are used.
    c->micro_batches = 2;
    c->balance_ratio = 1.5;
    // SPEC §4: 2PC funnels a node's bytes through its leader, i.e. through one NIC.
    // Multi-rail striping (NCCL PXN-like) would use up to devices_per_node NICs.
    // 0: take the hardware entry's leader_rails. h100/h200 follow the publication's testbed
    // (one 400 Gb/s NIC per GPU, a node's leader transfers striped over its 8 rails);
    // --coef leader_rails=1 is SPEC §4's single-leader funnel.
    c->leader_rails = 0;
    // SPEC §7's additive expert term: weight streaming and token FLOPs do not overlap.
    // 1 gives the pure roofline max() (streaming hides the FLOPs; see the CPU validation).
    c->moe_overlap = 0;
    c->m2n_per_instance = 0;
    // The monolithic baseline's calibration (docs/PLANNER.md 5.1): its roofline, run under the
    // DeepSeek-V2 paper's deployment (8 x H800, FP8 weights, 6-bit KV), against the paper's
    // measured "exceeding 50K tokens per second". 1 is the idealised roofline (upper bound).
    c->mono_slowdown = LATENCY_MONO_SLOWDOWN;
    c->dispatch = LATENCY_DISPATCH_AUTO; // the runtime's default (--dispatch auto)
}

// clang-format off
#define COEFS(X)                                                                                   \
    X(eff_flops) X(eff_mem) X(eff_net) X(attn_fixed_s) X(moe_fixed_s) X(sched_fixed_s)             \
    X(sched_per_token_s) X(step_fixed_s) X(act_bytes) X(mem_reserve_frac) X(mem_buffer_bytes)      \
    X(balance_ratio) X(leader_rails) X(moe_overlap) X(m2n_per_instance) X(mono_slowdown)
// clang-format on

int latency_coef_set(struct latency_coef *c, const char *name, double v) {
#define SET(f)                                                                                     \
    if (!strcmp(name, #f)) {                                                                       \
        c->f = v;                                                                                  \
        return JANUS_OK;                                                                           \
    }
    COEFS(SET)
#undef SET
    if (!strcmp(name, "mono_redundant_slots") && v >= 0 && v <= 4096 && v == floor(v)) {
        c->mono_redundant_slots = (int)v;
        return JANUS_OK;
    }
    if (!strcmp(name, "dispatch") && v >= 0 && v <= 2 && v == floor(v)) {
        c->dispatch = (int)v;
        return JANUS_OK;
    }
    if (!strcmp(name, "micro_batches") && v >= 1 && v <= 64 && v == floor(v)) {
        c->micro_batches = (int)v;
        return JANUS_OK;
    }
    return JANUS_EINVAL;
}

int latency_coef_format(const struct latency_coef *c, char *out, size_t cap) {
    size_t used = 0;
    int n;
#define FMT(f)                                                                                     \
    n = snprintf(out + (used < cap ? used : cap), used < cap ? cap - used : 0, "%s=%.9g\n", #f,    \
                 c->f);                                                                            \
    used += n > 0 ? (size_t)n : 0;
    COEFS(FMT)
#undef FMT
    n = snprintf(out + (used < cap ? used : cap), used < cap ? cap - used : 0,
                 "mono_redundant_slots=%d\nmicro_batches=%d\ndispatch=%d\n",
                 c->mono_redundant_slots, c->micro_batches, c->dispatch);
    used += n > 0 ? (size_t)n : 0;
    return (int)used;
}

int latency_model_init(struct latency_model *lm, const struct models_shape *m,
                       const struct hw_profile *hw, const struct latency_coef *c) {
    if (!lm || !m || !hw || !c) return JANUS_EINVAL;
    if (c->eff_flops <= 0 || c->eff_flops > 1 || c->eff_mem <= 0 || c->eff_mem > 1 ||
        c->eff_net <= 0 || c->eff_net > 1 || c->micro_batches < 1 || c->act_bytes <= 0 ||
        c->leader_rails < 0 || c->moe_overlap < 0 || !(c->mono_slowdown >= 1) || c->dispatch < 0 ||
        c->dispatch > 2 || c->moe_overlap > 1 || c->mem_reserve_frac < 0 ||
        c->mem_reserve_frac >= 1 || c->balance_ratio < 1)
        return JANUS_EINVAL;
    struct latency_model z = {0};
    *lm = z;
    lm->coef = *c;
    lm->shape = m;
    lm->peak = hw->peak_flops * c->eff_flops;
    lm->bw = hw->mem_bw * c->eff_mem;
    lm->intra_bw = hw->intra_bw * c->eff_net;
    lm->inter_bw = hw->inter_bw * c->eff_net;
    lm->intra_lat = hw->intra_lat;
    lm->inter_lat = hw->inter_lat;
    lm->dpn = hw->devices_per_node;
    lm->rails =
        c->leader_rails > 0 ? c->leader_rails : (hw->leader_rails > 0 ? hw->leader_rails : 1);
    if (lm->rails > lm->dpn) lm->rails = lm->dpn;
    lm->n_layers = m->n_layers;
    lm->n_dense_layers = m->n_dense_layers;
    lm->n_moe_layers = shape_moe_layers(m);
    lm->n_experts = m->n_experts;
    lm->top_k = m->top_k;
    lm->d_model = m->d_model;
    double bpw = m->bytes_per_weight;
    lm->row_bytes = m->d_model * c->act_bytes;
    lm->attn_w_bytes = shape_attn_params(m) * bpw;
    lm->dense_w_bytes = shape_dense_ffn_params(m) * bpw;
    lm->shared_w_bytes = shape_shared_params(m) * bpw;
    lm->router_w_bytes = shape_router_params(m) * bpw;
    lm->expert_w_bytes = shape_expert_params(m) * bpw;
    lm->head_w_bytes = (double)m->vocab * m->d_model * bpw;
    lm->nonexpert_bytes = (shape_total_params(m) - shape_routed_params(m)) * bpw;
    lm->kv_bytes_token_layer = shape_kv_bytes_token_layer(m);
    lm->kv_bytes_token = lm->kv_bytes_token_layer * m->n_layers;
    lm->beta = lm->expert_w_bytes / lm->bw;
    lm->gamma = 2.0 * shape_expert_params(m) / lm->peak;
    lm->device_mem = hw->mem_bytes * (1.0 - c->mem_reserve_frac) - c->mem_buffer_bytes;
    if (lm->device_mem <= 0) return JANUS_EINVAL;
    return JANUS_OK;
}

static double roof(const struct latency_model *lm, double flops, double bytes) {
    double a = flops / lm->peak, b = bytes / lm->bw;
    return a > b ? a : b;
}

// Attention side of one layer for b tokens at context S.
static double attn_layer(const struct latency_model *lm, double b, double ctx, int dense,
                         int gate_here) {
    if (b <= 0) return lm->coef.attn_fixed_s;
    const struct models_shape *m = lm->shape;
    double flops = b * shape_attn_flops(m, ctx);
    double bytes = lm->attn_w_bytes + b * ctx * lm->kv_bytes_token_layer;
    if (dense) {
        flops += b * 2.0 * shape_dense_ffn_params(m);
        bytes += lm->dense_w_bytes;
    } else if (gate_here) {
        flops += b * 2.0 * shape_router_params(m);
        bytes += lm->router_w_bytes;
    }
    return roof(lm, flops, bytes) + lm->coef.attn_fixed_s;
}

static double shared_layer(const struct latency_model *lm, double b) {
    if (lm->shared_w_bytes <= 0 || b <= 0) return 0;
    return roof(lm, b * 2.0 * shape_shared_params(lm->shape), lm->shared_w_bytes);
}

static double moe_layer(const struct latency_model *lm, double amax, double tmax, double batch,
                        int gate_here) {
    double ta = lm->beta * amax, tt = lm->gamma * tmax;
    double t = ta + tt - lm->coef.moe_overlap * (ta < tt ? ta : tt) + lm->coef.moe_fixed_s;
    if (gate_here) {
        t += roof(lm, batch * 2.0 * shape_router_params(lm->shape), lm->router_w_bytes);
        t += lm->coef.sched_fixed_s + lm->coef.sched_per_token_s * batch;
    }
    return t;
}

static double head_step(const struct latency_model *lm, double b) {
    return roof(lm, b * 2.0 * lm->head_w_bytes / lm->shape->bytes_per_weight, lm->head_w_bytes) +
           lm->coef.step_fixed_s;
}

static double xfer(double msgs, double bytes, double lat, double bw) {
    return msgs * lat + bytes / bw;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

static double comm_1pc(const struct latency_model *lm, int na, int ne, double B, double L,
                       double W) {
    double b = B / na, row = lm->row_bytes;
    double send = xfer(ne, ne * b * row, L, W), recv = xfer(na, B * row, L, W);
    return 2.0 * fmax(send, recv);
}

static double comm_2pc(const struct latency_model *lm, int which, int na, int ne, double B,
                       double L, double W) {
    int dpn = lm->dpn;
    int a_loc = na < dpn ? na : dpn, e_loc = ne < dpn ? ne : dpn;
    int Na = ceil_div(na, dpn), Ne = ceil_div(ne, dpn);
    double b = B / na, row = lm->row_bytes, Li = lm->intra_lat, Wi = lm->intra_bw;
    double gather = a_loc > 1 ? xfer(a_loc - 1, (a_loc - 1) * b * row, Li, Wi) : 0;
    // Local multicast of the whole step's rows from the MoE leader: a pipelined tree,
    // log2(e_loc) message latencies plus one pass of the bytes.
    double mcast = e_loc > 1 ? xfer(ceil(log2((double)e_loc)), B * row, Li, Wi) : 0;
    double pay = a_loc * b * row; // one attention node's payload
    // Leader-to-leader transfers may stripe over up to leader_rails NICs of the node.
    if (W == lm->inter_bw) W *= lm->rails; // only cross-node links have several rails
    double cross;
    if (which == 1) {
        cross = fmax(xfer(Ne, Ne * pay, L, W), xfer(Na, B * row, L, W));
    } else {
        int per = Na >= Ne ? ceil_div(Na, Ne) : 1; // attention nodes per designated leader
        int des = Na < Ne ? Na : Ne;               // designated MoE leaders
        double c1 = fmax(xfer(1, pay, L, W), xfer(per, per * pay, L, W));
        double c2 = 0;
        if (Ne > 1) c2 = fmax(xfer(Ne - 1, (Ne - 1) * per * pay, L, W), xfer(des, B * row, L, W));
        cross = c1 + c2;
    }
    return 2.0 * (gather + cross + mcast);
}

double latency_comm_layer(const struct latency_model *lm, enum latency_comm scheme, int na, int ne,
                          double B, double active, int *chosen) {
    if (chosen) *chosen = (int)scheme;
    if (B <= 0) return 0;
    int same_host = na + ne <= lm->dpn;
    double L = same_host ? lm->intra_lat : lm->inter_lat;
    double W = same_host ? lm->intra_bw : lm->inter_bw;
    double row = lm->row_bytes, k = lm->top_k;
    switch (scheme) {
    case LATENCY_COMM_1PC: return comm_1pc(lm, na, ne, B, L, W);
    case LATENCY_COMM_2PC1: return comm_2pc(lm, 1, na, ne, B, L, W);
    case LATENCY_COMM_2PC2: return comm_2pc(lm, 2, na, ne, B, L, W);
    case LATENCY_COMM_ADAPTIVE: {
        double c[3] = {comm_1pc(lm, na, ne, B, L, W), comm_2pc(lm, 1, na, ne, B, L, W),
                       comm_2pc(lm, 2, na, ne, B, L, W)};
        int best = 0;
        for (int i = 1; i < 3; i++)
            if (c[i] < c[best]) best = i;
        if (chosen) *chosen = best; // LATENCY_COMM_1PC + best
        return c[best];
    }
    case LATENCY_COMM_A2A_COLO: {
        int n = ne;
        if (n <= 1) return 0;
        double b = B / n;
        double dt = n * (1.0 - pow(1.0 - 1.0 / n, k));        // distinct devices per token
        double ndst = (n - 1) * (1.0 - pow(1.0 - dt / n, b)); // peers with traffic
        int local = (n < lm->dpn ? n : lm->dpn) - 1;
        double f_in = (double)local / (n - 1), f_out = 1.0 - f_in;
        double bytes = b * dt * row * (n - 1) / n; // remote copies
        double ti = xfer(ndst * f_in, bytes * f_in, lm->intra_lat, lm->intra_bw);
        double tx = f_out > 0 ? xfer(ndst * f_out, bytes * f_out, lm->inter_lat, lm->inter_bw) : 0;
        return 2.0 * fmax(ti, tx);
    }
    case LATENCY_COMM_A2A_DISAGG: {
        double b = B / na;
        double dt = ne * (1.0 - pow(1.0 - 1.0 / ne, k));
        double p_pair = 1.0 - pow(1.0 - dt / ne, b); // attention instance i sends to g
        double send = xfer(ne * p_pair, b * dt * row, L, W);
        double recv = xfer(na * p_pair, B * dt / ne * row, L, W);
        return 2.0 * fmax(send, recv);
    }
    case LATENCY_COMM_M2N_EXPERT: {
        double b = B / na;
        double msgs = active, rmsgs = na * active / ne;
        if (lm->coef.m2n_per_instance > 0) { // one message per destination instance
            double dt = ne * (1.0 - pow(1.0 - 1.0 / ne, k));
            double p_pair = 1.0 - pow(1.0 - dt / ne, b);
            msgs = ne * p_pair;
            rmsgs = na * p_pair;
        }
        double send = xfer(msgs, b * k * row, L, W);
        double recv = xfer(rmsgs, B * k / ne * row, L, W);
        return 2.0 * fmax(send, recv);
    }
    }
    return 0;
}

// ---- selective dispatch ---------------------------------------------------------------------

// Probability that at least one of n independent rows needs a destination needed with
// probability q per row.
static double p_any(double q, double n) {
    if (q <= 0 || n <= 0) return 0;
    if (q >= 1) return 1;
    return 1.0 - pow(1.0 - q, n);
}

// Probability that a node of e_loc of the n_e MoE instances is needed by one token whose
// experts run on `fan` distinct instances, spread uniformly over the instances (the
// placement does not know the nodes): 1 - C(n_e - e_loc, D)/C(n_e, D), linear in D between
// integers.
static double q_node(double fan, int ne, int e_loc) {
    if (e_loc >= ne) return 1;
    int d0 = (int)floor(fan);
    double w = fan - d0, miss0 = 1, miss1;
    for (int j = 0; j < d0; j++) {
        double f = (double)(ne - e_loc - j) / (double)(ne - j);
        miss0 *= f > 0 ? f : 0;
    }
    double f1 = (double)(ne - e_loc - d0) / (double)(ne - d0);
    miss1 = miss0 * (f1 > 0 ? f1 : 0);
    double miss = (1 - w) * miss0 + w * miss1;
    return 1.0 - miss;
}

// Rows one row comes back as when its experts run on `fan` groups (instances, or nodes
// under 2PC) under the runtime's fixed-order return (comm/xfer.h): the fold of its leading
// experts on slot 0's group plus one row per later expert; the first j + 1 of k experts
// spread uniformly over fan groups share one with probability fan^-j. One group: 1.
double latency_return_units(int k, double fan) {
    if (!(fan > 1)) return 1;
    double u = k, p = 1;
    for (int j = 1; j < k; j++) {
        p /= fan;
        u -= p;
    }
    return fmax(u, fan); // every group holding one of them sends one row at least
}

// Selective 1PC: the dispatch (q: probability an instance needs a row), then the return,
// the same messages with the row units instead of the fan-out's rows.
static double sel_1pc(const struct latency_model *lm, int na, int ne, double B, double L, double W,
                      double q) {
    double b = B / na, row = lm->row_bytes;
    double ret = latency_return_units(lm->top_k, ne * q) / (ne * q);
    double send = xfer(ne * p_any(q, b), ne * q * b * row, L, W);
    double recv = xfer(na * p_any(q, b), B * q * row, L, W);
    double send_r = xfer(ne * p_any(q, b), ret * ne * q * b * row, L, W);
    double recv_r = xfer(na * p_any(q, b), ret * B * q * row, L, W);
    return fmax(send, recv) + fmax(send_r, recv_r);
}

static double sel_2pc(const struct latency_model *lm, int which, int na, int ne, double B, double L,
                      double W, double fan) {
    int dpn = lm->dpn;
    int a_loc = na < dpn ? na : dpn, e_loc = ne < dpn ? ne : dpn;
    int Na = ceil_div(na, dpn), Ne = ceil_div(ne, dpn);
    double b = B / na, row = lm->row_bytes, Li = lm->intra_lat, Wi = lm->intra_bw;
    double q = fan / ne, qK = q_node(fan, ne, e_loc);
    double gather = a_loc > 1 ? xfer(a_loc - 1, (a_loc - 1) * b * row, Li, Wi) : 0;
    // The MoE leader forwards to each member only the rows it needs (point to point).
    double local = e_loc > 1 ? xfer(e_loc - 1, (e_loc - 1) * q * B * row, Li, Wi) : 0;
    double rows_node = a_loc * b, pay = rows_node * row;
    if (W == lm->inter_bw) W *= lm->rails;
    // The return's rows per dispatched row: the MoE node's row units (fixed-order return)
    // where the dispatch had the node's need.
    double ret = latency_return_units(lm->top_k, Ne * qK) / fmax(Ne * qK, 1e-12);
    double cross, cross_r;
    if (which == 1) {
        cross = fmax(xfer(Ne * p_any(qK, rows_node), Ne * qK * pay, L, W),
                     xfer(Na * p_any(qK, rows_node), B * qK * row, L, W));
        cross_r = fmax(xfer(Ne * p_any(qK, rows_node), ret * Ne * qK * pay, L, W),
                       xfer(Na * p_any(qK, rows_node), ret * B * qK * row, L, W));
    } else {
        int per = Na >= Ne ? ceil_div(Na, Ne) : 1;
        int des = Na < Ne ? Na : Ne;
        double c1 = fmax(xfer(1, pay, L, W), xfer(per, per * pay, L, W)); // all rows, as broadcast
        double c2 = 0, c2_r = 0;
        if (Ne > 1) {
            c2 = fmax(xfer((Ne - 1) * p_any(qK, per * rows_node), (Ne - 1) * qK * per * pay, L, W),
                      xfer(des * p_any(qK, rows_node), B * qK * row, L, W));
            c2_r = fmax(
                xfer((Ne - 1) * p_any(qK, per * rows_node), ret * (Ne - 1) * qK * per * pay, L, W),
                xfer(des * p_any(qK, rows_node), ret * B * qK * row, L, W));
        }
        cross = c1 + c2;
        cross_r = c1 + c2_r; // the designated leaders send each attention node its final rows
    }
    return 2.0 * gather + cross + cross_r + local * (1 + ret);
}

double latency_route_layer(const struct latency_model *lm, int na, int ne, double B) {
    if (B <= 0 || na < 1 || ne < 1) return 0;
    int n = na + ne, same_host = n <= lm->dpn;
    double per = lm->top_k * 8.0, b = B / na;
    double L = same_host ? lm->intra_lat : lm->inter_lat;
    double W = same_host ? lm->intra_bw : lm->inter_bw;
    // An attention instance's node peers: the other ranks of its node (all of them when
    // the deployment fits one node, else the attention instances beside it).
    int n_loc = same_host ? n - 1 : (na < lm->dpn ? na : lm->dpn) - 1, n_rem = n - 1 - n_loc;
    double send = fmax(xfer(n_loc, n_loc * b * per, lm->intra_lat, lm->intra_bw),
                       n_rem > 0 ? xfer(n_rem, n_rem * b * per, L, W) : 0);
    double recv = xfer(na, B * per, L, W); // an MoE rank: one message from each attention instance
    return fmax(send, recv);
}

double latency_comm_sel(const struct latency_model *lm, enum latency_comm scheme, int na, int ne,
                        double B, double fan) {
    if (B <= 0) return 0;
    int same_host = na + ne <= lm->dpn;
    double L = same_host ? lm->intra_lat : lm->inter_lat;
    double W = same_host ? lm->intra_bw : lm->inter_bw;
    double cap = lm->top_k < ne ? lm->top_k : ne;
    double f = fan < 1 ? 1 : (fan > cap ? cap : fan);
    double t;
    switch (scheme) {
    case LATENCY_COMM_2PC1: t = sel_2pc(lm, 1, na, ne, B, L, W, f); break;
    case LATENCY_COMM_2PC2: t = sel_2pc(lm, 2, na, ne, B, L, W, f); break;
    default: t = sel_1pc(lm, na, ne, B, L, W, f / ne); break;
    }
    return t + latency_route_layer(lm, na, ne, B);
}

// The cheapest (scheme, mode) among the allowed schemes (mask over 1PC, 2PC1, 2PC2) and
// modes; broadcast before selective and 1PC before 2PC on ties, as the runtime.
static double choose(const struct latency_model *lm, int dispatch, unsigned mask, int na, int ne,
                     double B, double fan, int *scheme, int *mode) {
    double best = INFINITY;
    int bs = LATENCY_COMM_1PC, bm = 0;
    for (int m = 0; m < 2; m++) {
        if (m == 0 && dispatch == LATENCY_DISPATCH_SELECTIVE) continue;
        if (m == 1 && dispatch == LATENCY_DISPATCH_BROADCAST) continue;
        for (int s = LATENCY_COMM_1PC; s <= LATENCY_COMM_2PC2; s++) {
            if (!(mask & (1u << s))) continue;
            double v = m ? latency_comm_sel(lm, (enum latency_comm)s, na, ne, B, fan)
                         : latency_comm_layer(lm, (enum latency_comm)s, na, ne, B, 0, NULL);
            if (v < best) {
                best = v;
                bs = s;
                bm = m;
            }
        }
    }
    if (scheme) *scheme = bs;
    if (mode) *mode = bm;
    return B > 0 ? best : 0;
}

double latency_comm_choose(const struct latency_model *lm, int dispatch, int na, int ne, double B,
                           double fan, int *scheme, int *mode) {
    return choose(lm, dispatch, 7u, na, ne, B, fan, scheme, mode);
}

double latency_dispatch_bytes(const struct latency_model *lm, int selective, int na, int ne,
                              double B, double fan) {
    if (B <= 0) return 0;
    if (!selective) return 2 * B * ne * lm->row_bytes;
    return B * (fan + latency_return_units(lm->top_k, fan)) * lm->row_bytes +
           B * lm->top_k * 8.0 * (na + ne - 1);
}

int latency_step(const struct latency_model *lm, const struct latency_system *sys,
                 const struct amax_table *tab, int n_attn, int n_moe, double batch, double context,
                 struct latency_breakdown *out) {
    struct latency_breakdown br = {0};
    if (!lm || !sys || !tab || n_attn < 1 || n_moe < 1 || !(batch > 0) || context < 0 ||
        !isfinite(batch))
        return JANUS_EINVAL;
    if (sys->colocated && n_attn != n_moe) return JANUS_EINVAL;
    int M = sys->micro_batches < 1 ? 1 : sys->micro_batches;
    int gate_moe = sys->gate_on_moe;
    double B = batch, Bm = batch / M;
    double amax, tmax;
    int rc = amax_lookup(tab, n_moe, Bm, &amax, &tmax);
    if (rc) return rc;
    br.amax = amax;
    br.tmax = tmax;
    double b = B / n_attn, bm = Bm / n_attn;
    double ta_dense = attn_layer(lm, bm, context, 1, !gate_moe);
    double ta = attn_layer(lm, bm, context, 0, !gate_moe);
    double tsh = shared_layer(lm, bm);
    double tm = moe_layer(lm, amax, tmax, Bm, gate_moe);
    double act = amax_active(tab, bm);
    int chosen = (int)sys->comm;
    double tc;
    if (gate_moe && sys->comm <= LATENCY_COMM_ADAPTIVE) {
        // Janus: the exchange is chosen per step among the allowed schemes and both dispatch
        // modes, by exchange time, as the runtime's xfer_choose_pair.
        unsigned mask = sys->comm == LATENCY_COMM_ADAPTIVE ? 7u : 1u << sys->comm;
        double fan = amax_fanout(tab, n_moe, Bm);
        int mode = 0;
        tc = choose(lm, lm->coef.dispatch, mask, n_attn, n_moe, Bm, fan, &chosen, &mode);
        br.mode = mode;
        br.fanout = fan;
        if (mode) {
            // Selective: the gate runs on the attention instance (b rows), the scheduler on
            // every rank on the step's routing, between the routing exchange and the dispatch.
            ta = attn_layer(lm, bm, context, 0, 1);
            tm = moe_layer(lm, amax, tmax, Bm, 0) + lm->coef.sched_fixed_s +
                 lm->coef.sched_per_token_s * Bm;
            br.route = latency_route_layer(lm, n_attn, n_moe, Bm);
        }
    } else {
        tc = latency_comm_layer(lm, sys->comm, n_attn, n_moe, Bm, act, &chosen);
    }
    br.scheme = chosen;
    int Lm = lm->n_moe_layers, Ld = lm->n_dense_layers;
    double layers;
    if (sys->colocated || M == 1) {
        // Colocated (same device): attention, then dispatch (shared experts may overlap it),
        // routed experts, combine; only communication can hide the shared experts.
        // Disaggregated without pipelining: the shared experts overlap exchange + experts.
        double layer =
            sys->colocated ? ta + fmax(tsh, tc / 2) + tm + tc / 2 : ta + fmax(tsh, tc + tm);
        layers = Lm * layer + Ld * ta_dense;
        br.attn = Lm * ta + Ld * ta_dense;
        br.moe = Lm * tm;
        br.comm = Lm * tc;
        br.shared = Lm * tsh;
        br.attn_stage = ta + tsh;
        br.moe_stage = tm + tc;
    } else {
        // Ping-pong: M micro-batches alternate between the pools; per layer the slower
        // stage runs M times, plus one fill of the faster stage per step.
        double sa = ta + tsh, sm = tc + tm;
        layers = Lm * M * fmax(sa, sm) + fmin(sa, sm) + Ld * M * ta_dense;
        br.attn = Lm * M * ta + Ld * M * ta_dense;
        br.moe = Lm * M * tm;
        br.comm = Lm * M * tc;
        br.shared = Lm * M * tsh;
        br.attn_stage = sa;
        br.moe_stage = sm;
    }
    br.head = head_step(lm, b);
    br.tpot = layers + br.head;
    br.route *= Lm * M;
    if (sys->colocated && lm->coef.mono_slowdown != 1) {
        // The calibrated monolithic baseline: its whole step is slower than its roofline by
        // the measured factor (docs/PLANNER.md 5.1).
        double s = lm->coef.mono_slowdown;
        br.tpot *= s;
        br.attn *= s;
        br.moe *= s;
        br.comm *= s;
        br.shared *= s;
        br.head *= s;
        br.attn_stage *= s;
        br.moe_stage *= s;
    }
    if (out) *out = br;
    return JANUS_OK;
}

int latency_moe_slots(const struct latency_model *lm) {
    double per_slot = lm->expert_w_bytes * lm->n_moe_layers;
    double avail = lm->device_mem - lm->router_w_bytes * lm->n_moe_layers;
    if (avail <= 0 || per_slot <= 0) return 0;
    double c = floor(avail / per_slot);
    return c > LIMIT_MAX_SLOTS ? LIMIT_MAX_SLOTS : (int)c;
}

double latency_attn_capacity(const struct latency_model *lm, double context) {
    double free_b = lm->device_mem - lm->nonexpert_bytes;
    if (free_b <= 0) return 0;
    double ctx = context < 1 ? 1 : context;
    return free_b / (ctx * lm->kv_bytes_token);
}

double latency_colo_capacity(const struct latency_model *lm, int slots, double context) {
    double free_b = lm->device_mem - lm->nonexpert_bytes -
                    (double)slots * lm->expert_w_bytes * lm->n_moe_layers;
    if (free_b <= 0) return 0;
    double ctx = context < 1 ? 1 : context;
    return free_b / (ctx * lm->kv_bytes_token);
}
