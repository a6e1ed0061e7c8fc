// Monte Carlo a_max tables (SPEC §7) built with the real statistics, replication,
// placement and activation-scheduler code of place/ and actsched/, unchanged (steps below).
// mc_build is deterministic in its parameters. mc_build_cached adds a file cache keyed by
// a digest of every input (amax.h format), and reports the build time.
// SPDX-License-Identifier: MIT
// The steps:
//  1. statistics: a synthetic routing trace (place/trace.h generator: Zipf popularity,
//     co-activation groups) recorded into place/stats.h counts, one MoE layer profile;
//  2. per MoE-instance count n_e with C slots: replica counts + placement (the system's
//     policy: Janus co-activation greedy or EPLB) into a place/layout.h layout;
//  3. per sample: B_max tokens drawn from the statistics' token distribution
//     (trace_sample_tokens); every grid batch B uses the first B tokens (common random
//     numbers across B and n_e); the scheduler policy runs on them and a_max and the
//     busiest instance's token-expert pairs are recorded;
//  4. means over samples, made monotone in B; the analytic bound beside each entry.
#ifndef JANUS_SIM_MC_H
#define JANUS_SIM_MC_H

#include "actsched/actsched.h"
#include "base/base.h"
#include "place/place.h"
#include "place/stats.h"
#include "scale/amax.h"

struct mc_params {
    int32_t n_experts, top_k;
    double zipf;        // popularity skew of the synthetic statistics (Zipf exponent)
    int32_t group_size; // co-activation groups of the synthetic statistics
    double p_group;     // probability a choice comes from the token's group
    int32_t hot_groups; // groups active in one warm-up step
    int64_t warm_steps; // steps of the warm-up trace that fill the statistics
    int64_t warm_batch; // tokens per warm-up step
    enum placement_policy placement;
    enum actsched_policy sched;
    int32_t samples; // Monte Carlo batches per grid point
    int32_t n_prof;  // layer profiles: synthetic statistics per profile (different hot
                     // experts, same skew); MoE layer l uses profile l mod n_prof
    int32_t n_b;     // grid points
    int32_t b_grid[AMAX_MAX_B];
    uint64_t seed;
    // Optional measured statistics (janus-stats, borrowed): when set they replace the
    // synthetic warm-up trace. The tables use all MoE layers merged into one profile; the
    // whole-model layout (mc_layout) uses them per layer when the layer counts match.
    const struct stats *stats;
};

// Defaults (docs/PLANNER.md): zipf 0.3 (hottest expert ~3x the mean load), groups of 8,
// p_group 0.3, 4 hot groups, 256 warm-up steps of 256 tokens, 8 samples, 4 layer
// profiles, grid 1..16384.
void mc_default_params(struct mc_params *p, int32_t n_experts, int32_t top_k);
// Digest of every input of a table (the cache key).
uint64_t mc_key(const struct mc_params *p, const int32_t *n_e, const int32_t *slots, int n_cfg);
// Builds the table for configurations (n_e[i], slots[i]), n_e ascending, n_e*slots >= E.
JANUS_WUR int mc_build(struct amax_table *out, const struct mc_params *p, const int32_t *n_e,
                       const int32_t *slots, int n_cfg, char *err, size_t err_len);
// Same through the cache: cache_dir NULL disables the file cache. tag names the file
// (e.g. "deepseek-v2-janus"). *from_cache and *build_s (seconds spent) may be NULL.
JANUS_WUR int mc_build_cached(struct amax_table *out, const struct mc_params *p, const int32_t *n_e,
                              const int32_t *slots, int n_cfg, const char *cache_dir,
                              const char *tag, int *from_cache, double *build_s, char *err,
                              size_t err_len);

// The whole-model replica layout for one configuration, from the same statistics as the
// tables (every MoE layer records the same warm-up trace; the n_dense leading layers stay
// dense): the planner's "replica counts and placement for the chosen n_e". *out must not
// be initialised; free it with layout_free. rep may be NULL.
JANUS_WUR int mc_layout(struct layout *out, const struct mc_params *p, int32_t n_layers,
                        int32_t n_dense, int32_t n_e, int32_t slots,
                        struct placement_build_report *rep, char *err, size_t err_len);

#endif // JANUS_SIM_MC_H
