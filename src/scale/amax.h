// a_max(n_e, B) tables (SPEC §7): the expected maximum number of activated experts on any MoE
// instance (a_max) and the expected maximum routed tokens on any instance (t_max), per
// MoE-instance count n_e and deployment batch B, built by Monte Carlo over the real replication,
// placement and activation-scheduler code, made monotone in B, with the analytical
// balls-into-bins bound beside each entry. The table is plain data: the search (search.h) and
// the latency model (latency.h) only read it.
// SPDX-License-Identifier: MIT
// The builder, which drives place/ and actsched/, lives in sim/mc.c so that scale/ depends only
// on base.
// Cache: amax_save/amax_load write and read a text file keyed by a digest of everything
// the table depends on (model shape, slots, scheduler, placement, statistics, seed).
#ifndef JANUS_SCALE_AMAX_H
#define JANUS_SCALE_AMAX_H

#include "base/base.h"
#include "base/limits.h"

#include <stddef.h>
#include <stdint.h>

#define AMAX_MAX_CFG  LIMIT_MAX_INSTANCES // n_e configurations in one table (one per n_e)
#define AMAX_MAX_B    64                  // batch grid points
#define AMAX_MAX_PROF 64                  // layer profiles

struct amax_table {
    int n_cfg;        // configurations
    int32_t *n_e;     // (n_cfg) MoE instances, strictly ascending
    int32_t *slots;   // (n_cfg) expert slots per instance per layer (C)
    int n_b;          // batch grid points
    int32_t *b_grid;  // (n_b) ascending batch sizes, b_grid[0] >= 1
    float *amax;      // (n_cfg * n_b) E[a_max], monotone non-decreasing in B
    float *tmax;      // (n_cfg * n_b) E[max routed token-expert pairs on one instance]
    float *bound;     // (n_cfg * n_b) analytic upper bound on a_max
    float *active;    // (n_b) E[distinct activated experts in a batch of B tokens]
    float *fanout;    // (n_cfg * n_b) E[distinct MoE instances serving one token's k experts]
                      // under the table's scheduler (selective dispatch); 0: not measured
    int n_prof;       // layer profiles averaged into amax (1: one profile)
    float *amax_prof; // (n_prof * n_cfg * n_b) a_max of each profile; NULL when n_prof <= 1
    int n_experts;    // E
    int top_k;        // k
    uint64_t key;     // digest of the inputs (cache key); 0 for hand-built tables
};

// Allocates arrays for n_cfg x n_b (zeroed). Free with amax_free.
JANUS_WUR int amax_alloc(struct amax_table *t, int n_cfg, int n_b);
void amax_free(struct amax_table *t);
// Adds per-profile a_max storage for n_prof profiles (n_prof >= 2; zeroed).
JANUS_WUR int amax_alloc_profiles(struct amax_table *t, int n_prof);
// Interpolated a_max of one layer profile (the mean when the table has one profile).
double amax_lookup_profile(const struct amax_table *t, int prof, int n_e, double batch);
// Index of configuration n_e, or -1.
int amax_find(const struct amax_table *t, int n_e);
// Interpolated E[a_max] and E[t_max] at (n_e, B) for B > 0: linear in B between grid
// points; below the grid scaled toward (0, 0); above it a_max holds and t_max grows
// linearly with B. Returns JANUS_OK or JANUS_ENOTFOUND (n_e not in the table).
JANUS_WUR int amax_lookup(const struct amax_table *t, int n_e, double batch, double *amax,
                          double *tmax);
// Interpolated analytic bound at (n_e, B); -1 when n_e is not in the table.
double amax_bound_at(const struct amax_table *t, int n_e, double batch);
// Expected distinct activated experts among B tokens (interpolated like a_max).
double amax_active(const struct amax_table *t, double batch);
// Expected distinct MoE instances one token's k experts run on, at (n_e, B): the measured
// mean (interpolated in B, held outside the grid) or, when the table has none (hand-built
// tables, n_e not in the table), amax_fanout_uniform. Always in [1, min(k, n_e)].
double amax_fanout(const struct amax_table *t, int n_e, double batch);
// The closed form under uniform routing without replicas: k distinct experts of E spread
// evenly over n_e instances (E/n_e each); an instance is needed with probability
// q = 1 - prod_{j<k} (E - E/n_e - j) / (E - j), so the fan-out is n_e * q.
double amax_fanout_uniform(int n_experts, int top_k, int n_e);
// Makes amax (and tmax) of each configuration non-decreasing in B (running maximum).
void amax_make_monotone(struct amax_table *t);

// Analytical bound for one layout: hosts[g*cap .. g*cap+cnt[g]-1] are the logical experts
// instance g holds (each replica counts as a possible activation), p[e] the per-token
// activation probability of expert e (sums to k). E[a_g] <= sum_{e on g} 1-(1-p_e)^B and
// a_max <= max_g E[a_g] + sqrt(2 max_g E[a_g] ln n_e) + 1, capped by the slot count.
double amax_bound(const float *p, int n_experts, const int32_t *hosts, const int32_t *cnt, int cap,
                  int n_inst, double batch);

// Writes/reads a table as text. Load returns JANUS_ENOTFOUND when the file is absent and
// JANUS_EFORMAT when it is malformed or its key differs from want_key.
JANUS_WUR int amax_save(const struct amax_table *t, const char *path);
JANUS_WUR int amax_load(struct amax_table *t, const char *path, uint64_t want_key);

// Cache directory: $JANUS_CACHE_DIR, else $XDG_CACHE_HOME/janus, else $HOME/.cache/janus.
JANUS_WUR int amax_cache_dir(char *out, size_t cap);

#endif // JANUS_SCALE_AMAX_H
