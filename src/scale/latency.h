// Per-step latency model of a deployment (SPEC §7, our roofline form with the token term). Every
// coefficient lives in struct latency_coef (defaults in latency_coef_default, each with the
// assumption it encodes); the per-operation coefficients are derived from a model shape and a
// hardware profile in latency_model_init. The baselines (sim/baseline_systems.c) share this code
// and differ only in the mechanism flags of struct latency_system. Pure. SPDX-License-Identifier:
// MIT latency_step() evaluates one (system, n_attn, n_moe, B, S) point:
//   per MoE layer  T = T_attn + max(T_shared, T_comm + T_moe)   (shared-expert overlap)
//   T_attn = max(FLOPs/peak, (weights + KV(b, S))/bandwidth) + c_a,  b = B / n_attn
//   T_moe  = beta * a_max(n_moe, B) + gamma * t_max(n_moe, B) + c_e (+ gate, scheduler)
//   T_comm = the cost model of SPEC §4 for the system's exchange scheme
// TPOT = sum over layers + output head.
#ifndef JANUS_SCALE_LATENCY_H
#define JANUS_SCALE_LATENCY_H

#include "base/base.h"
#include "scale/amax.h"
#include "scale/shape.h"

// The monolithic baseline's calibrated slowdown (docs/PLANNER.md 5.1, the default of
// latency_coef.mono_slowdown).
#define LATENCY_MONO_SLOWDOWN 1.1828

// All coefficients of the model. Defaults and their justification: latency_coef_default.
struct latency_coef {
    double eff_flops;         // achieved fraction of peak dense FLOP/s in decode GEMMs
    double eff_mem;           // achieved fraction of memory bandwidth streaming weights/KV
    double eff_net;           // achieved fraction of link bandwidth for large messages
    double attn_fixed_s;      // c_a: per-layer fixed cost on an attention instance
    double moe_fixed_s;       // c_e: per-MoE-layer fixed cost on an MoE instance
    double sched_fixed_s;     // activation scheduler per layer, fixed part (Janus only)
    double sched_per_token_s; // activation scheduler per layer, per token (Janus only)
    double step_fixed_s;      // per step: sampling, step header, host overhead
    double act_bytes;         // bytes per hidden-state element on the wire (BF16)
    double mem_reserve_frac;  // device memory not usable for weights/KV (runtime, fragments)
    double mem_buffer_bytes;  // per-device activation/communication buffers
    int mono_redundant_slots; // extra expert slots per device in the monolithic baseline
    int micro_batches;        // ping-pong micro-batches (MegaScale-Infer-like)
    double balance_ratio;     // MegaScale-Infer-like: keep configs with max/min stage <= this
    double leader_rails;      // NICs a node leader's cross-node 2PC transfer can stripe over;
                              // 0: the hardware entry's leader_rails (h100/h200: 8)
    double moe_overlap;       // 0: T = beta*a + gamma*t (SPEC §7); 1: max(beta*a, gamma*t)
    double m2n_per_instance;  // MegaScale-Infer-like: 0 one message per activated expert
                              // (SPEC §8), 1 one message per destination MoE instance
    double mono_slowdown;     // monolithic baseline: TPOT = mono_slowdown x its roofline TPOT
                              // (calibrated, docs/PLANNER.md 5.1); 1: the idealised roofline
    int dispatch;             // Janus's dispatch mode (enum latency_dispatch): auto (per step,
                              // the cheaper exchange, as the runtime), broadcast or selective
};

// Janus's dispatch modes (SPEC §4, PROTOCOL.md "Selective dispatch"). The values of the
// `dispatch` coefficient.
enum latency_dispatch {
    LATENCY_DISPATCH_AUTO = 0,
    LATENCY_DISPATCH_BROADCAST = 1,
    LATENCY_DISPATCH_SELECTIVE = 2,
};

void latency_coef_default(struct latency_coef *c);
// Sets one coefficient by its field name (e.g. "eff_mem", "leader_rails"); JANUS_OK or
// JANUS_EINVAL (unknown name). Values are range-checked by latency_model_init.
JANUS_WUR int latency_coef_set(struct latency_coef *c, const char *name, double value);
// Writes "name=value" lines of every coefficient (for reports). Returns bytes written
// (snprintf semantics).
int latency_coef_format(const struct latency_coef *c, char *out, size_t cap);

// Derived per-operation coefficients for one (model, hardware, coefficients).
struct latency_model {
    struct latency_coef coef;
    double peak, bw;             // effective FLOP/s and bytes/s (after efficiencies)
    double intra_bw, inter_bw;   // effective link bytes/s
    double intra_lat, inter_lat; // per message seconds
    int dpn;                     // devices per node
    double rails;                // NICs a 2PC leader transfer stripes over (resolved)
    int n_layers, n_moe_layers, n_dense_layers;
    int n_experts, top_k, d_model;
    double row_bytes;       // one token's hidden state on the wire
    double attn_w_bytes;    // attention weights per layer
    double dense_w_bytes;   // dense FFN weights per dense layer
    double shared_w_bytes;  // shared experts per MoE layer
    double router_w_bytes;  // gate weights per MoE layer
    double expert_w_bytes;  // one routed expert
    double head_w_bytes;    // output head
    double nonexpert_bytes; // everything an attention instance holds
    double kv_bytes_token;  // KV bytes per token of context, all layers
    double kv_bytes_token_layer;
    double beta;                      // seconds per activated expert (weights / bandwidth)
    double gamma;                     // seconds per routed token-expert pair (FLOPs / peak)
    double device_mem;                // usable bytes per device (after reserve and buffers)
    const struct models_shape *shape; // borrowed
};

JANUS_WUR int latency_model_init(struct latency_model *lm, const struct models_shape *m,
                                 const struct hw_profile *hw, const struct latency_coef *c);

// Exchange schemes. The first four are Janus's (SPEC §4); the rest model the baselines.
enum latency_comm {
    LATENCY_COMM_1PC = 0,
    LATENCY_COMM_2PC1,
    LATENCY_COMM_2PC2,
    LATENCY_COMM_ADAPTIVE,   // cheapest of the three, per step
    LATENCY_COMM_A2A_COLO,   // monolithic: expert-parallel all-to-all among co-located devices
    LATENCY_COMM_M2N_EXPERT, // gate on attention side, one message per activated expert
    LATENCY_COMM_A2A_DISAGG, // gate on attention side, all-to-all to MoE instances
};

// The mechanisms of one system.
struct latency_system {
    int colocated;   // attention and experts on the same devices (monolithic)
    int gate_on_moe; // gate + activation scheduler on MoE instances (Janus)
    enum latency_comm comm;
    int micro_batches; // 1, or ping-pong micro-batches
};

// One step's breakdown, seconds per step (summed over layers).
struct latency_breakdown {
    double tpot;
    double attn;                  // attention side incl. dense layers
    double moe;                   // routed experts incl. gate and scheduler
    double comm;                  // exchange (both directions)
    double shared;                // shared experts (overlapped part excluded from tpot)
    double head;                  // output head + per-step fixed
    double amax;                  // E[a_max] used per MoE layer
    double tmax;                  // E[t_max] used per MoE layer
    int scheme;                   // enum latency_comm actually used (adaptive resolved)
    int mode;                     // Janus: 0 broadcast, 1 selective (the step's choice)
    double fanout;                // Janus: expected MoE instances per token (selective)
    double route;                 // routing exchange per step (selective; inside comm)
    double attn_stage, moe_stage; // per-layer stage times (balance check)
};

// Evaluates TPOT at (n_attn, n_moe, batch, context) with a_max from tab (configuration
// n_moe must exist). colocated systems: n_attn == n_moe == devices. Returns JANUS_OK,
// JANUS_EINVAL (bad point) or JANUS_ENOTFOUND (n_moe not in the table).
JANUS_WUR int latency_step(const struct latency_model *lm, const struct latency_system *sys,
                           const struct amax_table *tab, int n_attn, int n_moe, double batch,
                           double context, struct latency_breakdown *out);

// Per-layer exchange time (both directions) for B tokens, b per attention instance.
double latency_comm_layer(const struct latency_model *lm, enum latency_comm scheme, int n_attn,
                          int n_moe, double batch, double active_experts, int *chosen);

// Selective dispatch, per layer and both directions, for one scheme (1PC, 2PC1 or 2PC2):
// every token's row goes only to the `fanout` instances (expected) that run one of its
// experts, and comes back only from them; plus the routing exchange (latency_route_layer).
double latency_comm_sel(const struct latency_model *lm, enum latency_comm scheme, int n_attn,
                        int n_moe, double batch, double fanout);
// The routing exchange of a selective layer: an allgather of B x k (id, weight) pairs
// (8 bytes each) among the n_attn + n_moe ranks; every attention instance sends its b x k to
// each other rank, every rank receives one message from each attention instance.
double latency_route_layer(const struct latency_model *lm, int n_attn, int n_moe, double batch);
// The per-step choice of Janus's exchange, as the runtime's xfer_choose_pair: the cheapest
// (scheme, mode) pair by exchange time; `dispatch` (enum latency_dispatch) may force the
// mode. Returns the per-layer exchange time; *scheme (LATENCY_COMM_1PC..2PC2) and *mode
// (0 broadcast, 1 selective) receive the choice (may be NULL).
double latency_comm_choose(const struct latency_model *lm, int dispatch, int n_attn, int n_moe,
                           double batch, double fanout, int *scheme, int *mode);
// Bytes one layer moves, both directions, summed over all links, under 1PC: broadcast
// B x n_moe rows each way; selective B x fanout rows out, B x latency_return_units(k, fanout)
// rows back (the fixed-order return) and the routing exchange's B x k x 8 bytes to each of
// the other n_attn + n_moe - 1 ranks.
double latency_dispatch_bytes(const struct latency_model *lm, int selective, int n_attn, int n_moe,
                              double batch, double fanout);
// Rows one row comes back as under the fixed-order return (comm/xfer.h xfer_sel_plan) when
// its k experts run on `fan` groups: max(fan, k - Σ_{j=1}^{k-1} fan^-j) (1 for fan <= 1).
double latency_return_units(int k, double fan);

// Memory: expert slots (per layer) an MoE-only device holds; requests of context S one
// attention instance can keep (0 if the weights alone do not fit); for co-located devices
// with `slots` expert slots per layer, the same.
int latency_moe_slots(const struct latency_model *lm);
double latency_attn_capacity(const struct latency_model *lm, double context);
double latency_colo_capacity(const struct latency_model *lm, int slots, double context);

#endif // JANUS_SCALE_LATENCY_H
