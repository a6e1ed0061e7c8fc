// Activation scheduler (SPEC §5): for one MoE layer of one step, given the routing
// (top-k logical experts per token) and the layer's replica layout, choose for every
// activated logical expert the one instance that runs it, so that a_max (the largest
// number of distinct experts on any instance) is small; then rewrite each token's choice
// into a physical replica id. Pure and deterministic: the same input gives the same output
// bytes on every MoE instance. No allocation and no I/O after actsched_init.
// SPDX-License-Identifier: MIT
#ifndef JANUS_ACTSCHED_H
#define JANUS_ACTSCHED_H

#include <stdint.h>

#include "base/base.h"
#include "place/layout.h"

// ---- policies
// Values are stable (written in JSON/CSV outputs and CLI flags); append only.
enum actsched_policy {
    ACTSCHED_POLICY_GREEDY = 0,         // the publication's greedy, SPEC §5 tie-breaking
    ACTSCHED_POLICY_OPTIMAL = 1,        // exact min a_max (unit-load semi-matching)
    ACTSCHED_POLICY_RANDOM = 2,         // uniform replica, rng seeded by (seed, step, layer)
    ACTSCHED_POLICY_ROUND_ROBIN = 3,    // replica (step + e) mod R(e)
    ACTSCHED_POLICY_TOKEN_BALANCED = 4, // experts by descending tokens -> host with fewest tokens
    ACTSCHED_POLICY_FIRST = 5,          // lowest-id host
    ACTSCHED_POLICY_COUNT = 6,
};

// Name used by the CLI and outputs: "greedy", "optimal", "random", "round-robin",
// "token-balanced", "first". Returns "?" for an out-of-range value.
const char *actsched_policy_name(enum actsched_policy p);
// Parses a policy name (exactly the names above). JANUS_OK, or JANUS_EINVAL (out untouched).
JANUS_WUR int actsched_policy_parse(const char *name, enum actsched_policy *out);

// ---- sizes fixed at init
// Maxima the workspace and outputs are sized for; every actsched_run must stay inside.
struct actsched_limits {
    int64_t max_tokens;    // tokens per call (B), >= 1, <= LIMIT_MAX_BATCH
    int32_t max_experts;   // logical experts per layer (E), >= 1, <= LIMIT_MAX_EXPERTS
    int32_t max_instances; // MoE instances (n), >= 1, <= LIMIT_MAX_INSTANCES
    int32_t max_top_k;     // experts per token (k), >= 1, <= LIMIT_MAX_EXPERT_USED
};

// Scratch memory of the scheduler; fields are internal (see actsched_impl.h for their
// meaning). Zero-initialised `struct actsched_ws ws = {0};` is a valid empty state for
// actsched_free. Not thread-safe: one workspace per thread.
struct actsched_ws {
    struct actsched_limits lim;
    int32_t *mark;     // (4, max_experts) per-expert (token, choice) counts, 4 partial histograms
    int32_t *order;    // (max_experts) scratch ordering of activated experts
    uint64_t *keys;    // (max_experts) sort keys (token-balanced)
    int32_t *load;     // (max_instances) experts assigned so far per instance
    int64_t *tok_load; // (max_instances) tokens assigned so far (token-balanced)
    int32_t *queue;    // (max_instances) BFS queue (optimal)
    int32_t *parent_e; // (max_instances) BFS: expert through which an instance was reached
    int32_t *parent_j; // (max_instances) BFS: that expert's host-list index of the instance
    int32_t *seen;     // (max_instances) BFS visit stamps
    int32_t *head;     // (max_instances) optimal: first expert of each instance's list
    int32_t *next_e;   // (max_experts) optimal: next expert on the same instance, -1 at end
    int32_t *prev_e;   // (max_experts) optimal: previous expert on the same instance
    int32_t *bucket;   // (max_instances + 2) counting-sort buckets by replica count
};

// Allocates the workspace for the given maxima. JANUS_OK; JANUS_EINVAL if a limit is out
// of range; JANUS_ENOMEM. On failure *ws is left empty (safe to free).
JANUS_WUR int actsched_init(struct actsched_ws *ws, const struct actsched_limits *lim);
// Releases what actsched_init allocated; leaves *ws zeroed. Safe on a zeroed workspace.
void actsched_free(struct actsched_ws *ws);

// ---- one call
// Input of one (step, layer). Identical on every MoE instance.
struct actsched_input {
    const struct layout_layer *layer; // replica layout of this layer (not a dense layer)
    const int32_t *routing;           // (n_tok, top_k) logical expert of token t's j-th choice
    int64_t n_tok;                    // tokens in the step (B); 0 is a valid empty batch
    int32_t top_k;                    // choices per token (k)
    int64_t step;                     // step number (round-robin, random)
    int32_t layer_id;                 // model layer index (random)
    uint64_t seed;                    // deployment seed (random)
};

// Result of one call. Arrays are owned by the output (actsched_output_init) and are
// overwritten by the next actsched_run into this output. Only the first n_experts /
// n_instances / n_tok*top_k entries are meaningful.
struct actsched_output {
    int32_t n_experts;          // E of the layer scheduled
    int32_t n_instances;        // n of the layer scheduled
    int64_t n_tok;              // B
    int32_t top_k;              // k
    int32_t n_active;           // number of activated logical experts
    int32_t a_max;              // max over instances of inst_count (0 for an empty batch)
    int32_t *active;            // (n_active) activated logical experts, ascending
    int32_t *active_tokens;     // (n_active) (token, choice) pairs routed to each active expert
    int32_t *assign;            // (n_experts) instance running expert e, -1 if not activated
    int32_t *assign_replica;    // (n_experts) physical replica id serving e, -1 if not activated
    int32_t *inst_count;        // (n_instances) a_g: activated experts run by instance g
    int32_t *token_replica;     // (n_tok, top_k) physical replica id of each (token, choice)
    struct actsched_limits cap; // capacities the arrays were allocated for (output_init)
};

// Allocates output arrays for the given maxima. JANUS_OK, JANUS_EINVAL, JANUS_ENOMEM;
// on failure *out is left empty. actsched_output_free releases them (safe when zeroed).
JANUS_WUR int actsched_output_init(struct actsched_output *out, const struct actsched_limits *lim);
void actsched_output_free(struct actsched_output *out);

// Runs one policy on one (step, layer). No allocation, no I/O; thread-safe for distinct
// (ws, out) pairs. Deterministic: the result is a function of (policy, *in) only, in
// particular of in->step/layer_id/seed for random and round-robin.
// Returns JANUS_OK; JANUS_ELIMIT if n_tok, top_k, n_tok*top_k, E or n exceed the
// workspace's or the output's limits; JANUS_EINVAL if the layer is dense or malformed for the call
// (an activated expert with no replica), a routing id is outside [0, E), top_k < 1 with n_tok > 0,
// or policy is unknown. On error *out is unspecified (but still valid to reuse or free). Physical
// replica ids follow SPEC §5: instance * C + position of the expert among that instance's experts
// in ascending id order (layout_layer.replica).
JANUS_WUR int actsched_run(struct actsched_ws *ws, enum actsched_policy policy,
                           const struct actsched_input *in, struct actsched_output *out);

// Verifies an output against its input: every activated expert (exactly the experts in
// the routing) is assigned to an instance that holds a replica, inst_count and a_max
// agree with the assignment, and every token_replica entry is the replica of its expert on
// the assigned instance. JANUS_OK or JANUS_EINVAL; if err != NULL a one-line reason is
// written there (err_len bytes). Allocation-free; O(E + n + B*k + replicas). Tests and
// debug builds call it after every run.
JANUS_WUR int actsched_check(const struct actsched_input *in, const struct actsched_output *out,
                             char *err, size_t err_len);

// FNV-1a digest of the meaningful part of an output (sizes, a_max, active, assign,
// inst_count, token_replica), so MoE instances can compare schedules. Same value on every
// platform with the same int32 byte order.
uint64_t actsched_digest(const struct actsched_output *out);

#endif // JANUS_ACTSCHED_H
