// Replication, placement and the EPLB baseline (SPEC §6): from per-expert statistics to
// per-instance slot contents (then a layout via layout_set_layer_slots). Pure functions
// of their inputs (deterministic, no I/O). They run at planning time, so they may
// allocate scratch memory (released before returning); none keeps state between calls.
// Implemented in replicate.c (replicate_*), placement.c (placement_*), eplb.c (eplb_*).
// SPDX-License-Identifier: MIT
#ifndef JANUS_PLACE_H
#define JANUS_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "place/layout.h"
#include "place/stats.h"

// ---- replicate.c
// Replica counts (SPEC §6): one replica per expert, then the remaining n*C - E slots one
// at a time to the expert with the largest load[e] / R(e), capped at R(e) <= n; ties go
// to the largest tie[e] / R(e), then to the lowest expert id. Slots left when every
// expert has n replicas stay empty. load: (E) non-negative, finite (c(e) in the
// publication). tie: (E) or NULL, non-negative (t(e): at large batches c(e) saturates —
// every expert fires every step — and token counts still tell experts apart).
// counts: out (E).
// JANUS_OK; JANUS_EINVAL (n*C < E, a size out of range, a negative/NaN load; err says
// which; counts untouched).
JANUS_WUR int replicate_counts(int32_t n_experts, const double *load, const double *tie,
                               int32_t n_instances, int32_t n_slots, int32_t *counts, char *err,
                               size_t err_len);

// ---- placement.c
struct placement_input {
    int32_t n_experts;     // E
    int32_t n_instances;   // n
    int32_t n_slots;       // C
    const int32_t *counts; // (E) replicas per expert, 1 <= R(e) <= n, sum <= n*C
    const double *load;    // (E) activation load c(e); per-replica load = load / R(e)
    const double *tok;     // (E) token load t(e), tie-breaks; NULL = zeros
    const double *coact;   // (E, E) symmetric co-activation a(e,e') (diagonal ignored); NULL = 0
};

struct placement_report {
    int32_t n_swaps;  // bounded swaps made because no instance could take a replica
    double max_coact; // objective: max over instances of sum of a(e,e') over pairs on it
    double max_load;  // max over instances of the sum of per-replica loads on it
};

// The publication's co-activation greedy (SPEC §6): replicas in descending per-replica
// load (ties: larger per-replica token load, then lower expert id); each goes to the
// instance with a free slot and no replica of that expert that adds the least
// co-activation with the experts already there (ties: lower per-replica load sum, then
// lower token load sum, then lower instance id). If no instance qualifies, one bounded
// swap moves a replica from a full instance lacking the expert to an instance with a free
// slot to make room (the cheapest such move, by the same cost). Never puts two replicas of
// one expert on one instance.
// slots: out (n*C): slots[g*C + s] = expert or -1 (empty), each instance's experts
// ascending then -1s. rep: out, may be NULL.
// JANUS_OK; JANUS_EINVAL (bad sizes or counts; err says which); JANUS_ENOMEM.
JANUS_WUR int placement_janus(const struct placement_input *in, int32_t *slots,
                              struct placement_report *rep, char *err, size_t err_len);

// Objective value of a slot assignment: max over instances of the sum of coact over
// distinct expert pairs on it (coact (E,E) as above; NULL gives 0).
double placement_max_coact(const int32_t *slots, int32_t n_instances, int32_t n_slots,
                           int32_t n_experts, const double *coact);

// ---- eplb.c
// DeepSeek's EPLB (deepseek-ai/EPLB eplb.py, rebalance_experts), one layer, reproduced as
// published: float32 loads, replicate by largest load/count (first max wins), balanced
// packing in descending weight (stable order on ties; the lightest pack with room, first
// wins). It can put two replicas of one expert on one GPU; eplb_count_duplicates says how
// many times it did.
enum eplb_policy {
    EPLB_POLICY_AUTO = 0,         // hierarchical if n_groups % n_nodes == 0, else global
    EPLB_POLICY_HIERARCHICAL = 1, // groups -> nodes, replicate within nodes, pack to GPUs
    EPLB_POLICY_GLOBAL = 2,       // hierarchical with 1 group and 1 node
};

struct eplb_params {
    int32_t n_phys;   // physical experts (slots) in total, multiple of n_gpus, >= E
    int32_t n_groups; // expert groups (E % n_groups == 0); ignored by GLOBAL
    int32_t n_nodes;  // nodes (n_groups % n_nodes == 0, n_gpus % n_nodes == 0 for hierarchical)
    int32_t n_gpus;   // devices = MoE instances
    enum eplb_policy policy;
};

// weight: (E) loads (token counts). Outputs (any but phy2log may be NULL):
// phy2log (n_phys): logical expert of each physical slot; GPU g owns slots
// [g*n_phys/n_gpus, (g+1)*n_phys/n_gpus); phyrank (n_phys): replica rank of that slot;
// logcnt (E): replicas per expert.
// JANUS_OK; JANUS_EINVAL (a divisibility condition fails or a size/weight is invalid: err
// says which); JANUS_ENOMEM. Outputs untouched on failure.
JANUS_WUR int eplb_rebalance(const float *weight, int32_t n_experts, const struct eplb_params *p,
                             int32_t *phy2log, int32_t *phyrank, int32_t *logcnt, char *err,
                             size_t err_len);
// Number of slots holding an expert that an earlier slot of the same GPU already holds.
int32_t eplb_count_duplicates(const int32_t *phy2log, int32_t n_phys, int32_t n_gpus);

// ---- whole layouts from statistics (placement.c)
enum placement_policy {
    PLACEMENT_POLICY_JANUS = 0, // replicate_counts on c(e) + placement_janus with a(e,e')
    PLACEMENT_POLICY_EPLB = 1,  // eplb_rebalance on t(e) (float32), duplicates merged
};

struct placement_build_report {
    int32_t n_layers_placed; // MoE layers with statistics that were placed
    int32_t n_swaps;         // janus: bounded swaps over all layers
    int32_t n_duplicates;    // eplb: duplicate replicas merged over all layers
    double max_coact;        // max over layers of the placement objective (janus)
};

// Builds a layout with n instances and C slots for every layer of s that has at least one
// recorded step (layers without statistics stay dense). eplb may be NULL for JANUS;
// its n_phys and n_gpus are overridden with n*C and n. l must not be initialised; on
// failure it is zeroed. JANUS_OK, JANUS_EINVAL (err says why), JANUS_ENOMEM.
JANUS_WUR int placement_build_layout(struct layout *l, const struct stats *s, int32_t n_instances,
                                     int32_t n_slots, enum placement_policy policy,
                                     const struct eplb_params *eplb,
                                     struct placement_build_report *rep, char *err, size_t err_len);

#endif // JANUS_PLACE_H
