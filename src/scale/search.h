// SLO-aware deployment search (SPEC §7) for one system (its mechanisms in struct latency_system,
// its allowed shapes in struct search_space) and one a_max table: the steady batch by Little's
// law, the capacity within the SLO, and the (n_attn, n_moe) with the fewest GPUs that meets the
// SLO. Pure and deterministic.
// SPDX-License-Identifier: MIT
//  - steady batch by Little's law, B = rate * TPOT(B): bisection for the smallest B in
//    (0, B_max] whose throughput B / TPOT(B) reaches the rate; B_max from attention memory
//    (weights + KV cache of B_max requests at context S). If B_max cannot sustain the rate
//    the configuration is infeasible;
//  - capacity within the SLO: the largest B <= B_max with TPOT(B) <= SLO (bisection), its
//    rate B / TPOT and that rate per GPU (tpg_capacity);
//  - search: every (n_attn, n_moe) allowed by the space with n_moe in the table (the table
//    holds only configurations whose slots hold every expert), n_attn + n_moe <= max_gpus;
//    keep the feasible one (TPOT <= SLO at the steady batch, memory fits) with the fewest
//    GPUs, ties to the lower TPOT, then to the lower n_moe.
#ifndef JANUS_SCALE_SEARCH_H
#define JANUS_SCALE_SEARCH_H

#include "base/base.h"
#include "scale/amax.h"
#include "scale/latency.h"

struct search_space {
    int colocated;        // one pool: n_attn == n_moe == n, n from sizes[]
    const int32_t *sizes; // (n_sizes) allowed device counts when colocated, ascending
    int n_sizes;
    int unit_attn;        // n_attn must be a multiple of this (>= 1)
    int unit_moe;         // n_moe must be a multiple of this (>= 1)
    double balance_ratio; // > 0: require max/min(attention stage, MoE stage) <= ratio
};

struct search_params {
    double slo_s;   // TPOT SLO, seconds
    double rate;    // demanded decode throughput, output tokens/s (> 0)
    double context; // average context length S, tokens
    int max_gpus;   // cluster size
};

struct search_point {
    int feasible;
    int n_attn, n_moe, n_gpus;
    int slots;                   // C of the MoE instances (colocated: per device)
    double b_max;                // memory bound on the batch
    double batch, tpot;          // steady batch at the demanded rate and its TPOT (s)
    double tpg;                  // rate / n_gpus
    double batch_cap, tpot_cap;  // largest batch within the SLO and its TPOT
    double rate_cap;             // batch_cap / tpot_cap
    double tpg_capacity;         // rate_cap / n_gpus
    struct latency_breakdown br; // at the steady batch
    const char *why;             // static reason when infeasible
};

// Evaluates one configuration (n_moe must be in tab). Never fails on infeasibility:
// out->feasible says it; returns an error only for invalid arguments.
JANUS_WUR int search_eval(const struct latency_model *lm, const struct latency_system *sys,
                          const struct search_space *space, const struct amax_table *tab,
                          const struct search_params *p, int n_attn, int n_moe,
                          struct search_point *out);

// The search. out->feasible = 0 when nothing fits; then out describes the configuration
// with the largest rate capacity (or zeros when none has memory for one request).
JANUS_WUR int search_plan(const struct latency_model *lm, const struct latency_system *sys,
                          const struct search_space *space, const struct amax_table *tab,
                          const struct search_params *p, struct search_point *out);

// Over every allowed configuration: the one with the highest B / TPOT(B) / GPUs at the
// fixed batch B (B <= its memory bound, TPOT(B) <= SLO, balanced if required). The
// point's batch/tpot are at B, tpg is that throughput per GPU. out->feasible = 0 if none.
JANUS_WUR int search_best_at_batch(const struct latency_model *lm, const struct latency_system *sys,
                                   const struct search_space *space, const struct amax_table *tab,
                                   const struct search_params *p, double batch,
                                   struct search_point *out);
// Over every allowed configuration: the highest capacity TPG within the SLO (the point's
// batch/tpot are the capacity batch and its TPOT). out->feasible = 0 if none.
JANUS_WUR int search_best_capacity(const struct latency_model *lm, const struct latency_system *sys,
                                   const struct search_space *space, const struct amax_table *tab,
                                   const struct search_params *p, struct search_point *out);

// Memory bound on the batch of a configuration (requests of context S).
double search_b_max(const struct latency_model *lm, const struct search_space *space, int n_attn,
                    int slots, double context);

#endif // JANUS_SCALE_SEARCH_H
