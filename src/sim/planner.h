// The planner front door (SPEC §7, §8): one model on one hardware profile, the four
// systems of baselines.h, their Monte Carlo a_max tables (built once per model, layout
// policy and seed, then cached, see sim/mc.h) and the search for each system. Used by
// `janus plan`, `janus sweep` and the simulator. planner_init is the only slow part
// (the tables); planner_plan is a pure search.
// SPDX-License-Identifier: MIT
#ifndef JANUS_SIM_PLANNER_H
#define JANUS_SIM_PLANNER_H

#include "base/base.h"
#include "scale/amax.h"
#include "scale/latency.h"
#include "scale/search.h"
#include "sim/baseline_systems.h"
#include "sim/hw.h"
#include "sim/mc.h"
#include "sim/models.h"

struct planner_options {
    int max_gpus;                     // cluster size covered by the tables
    uint64_t seed;                    // statistics and Monte Carlo seed
    const char *cache_dir;            // NULL: no file cache
    enum actsched_policy janus_sched; // Janus's scheduler (greedy, the publication's)
    int samples;                      // Monte Carlo samples (0: default)
    unsigned systems;                 // bit mask of baselines_kind to build (0: all)
    const struct stats *stats;        // measured statistics (borrowed), NULL: synthetic
};

struct planner {
    struct models_shape model;
    struct hw_profile hw;
    struct latency_model lm;
    struct planner_options opt;
    struct mc_params mc; // shared Monte Carlo parameters
    struct baselines_system sys[BASELINES_COUNT];
    struct amax_table tab[BASELINES_COUNT]; // n_cfg == 0: not built / never fits
    int built[BASELINES_COUNT];
    char why_empty[BASELINES_COUNT][96]; // reason when a table has no configuration
    int from_cache[BASELINES_COUNT];
    double build_s[BASELINES_COUNT];
};

void planner_default_options(struct planner_options *o);
// Copies model and hw, derives the latency model and builds (or loads) the tables.
JANUS_WUR int planner_init(struct planner *pl, const struct models_shape *m,
                           const struct hw_profile *hw, const struct latency_coef *c,
                           const struct planner_options *o, char *err, size_t err_len);
void planner_free(struct planner *pl);
// search_best_at_batch / search_best_capacity for one system (see search.h).
JANUS_WUR int planner_best_at_batch(const struct planner *pl, enum baselines_kind kind,
                                    const struct search_params *p, double batch,
                                    struct search_point *out);
JANUS_WUR int planner_best_capacity(const struct planner *pl, enum baselines_kind kind,
                                    const struct search_params *p, struct search_point *out);
// Loads the catalogue entries (model_id or, when model_file is set, that file; hw_id) from
// data_dir (NULL: catalog_data_dir) and calls planner_init.
JANUS_WUR int planner_load(struct planner *pl, const char *data_dir, const char *model_id,
                           const char *model_file, const char *hw_id, const struct latency_coef *c,
                           const struct planner_options *o, char *err, size_t err_len);
// JSON object of one plan: n_gpus, n_attn, n_moe, batch, tpot_ms, tpg, tpg_capacity,
// feasible, slots, b_max, amax_per_layer, tmax_per_layer, scheme, reason (when infeasible).
// Returns a cJSON object (caller deletes) or NULL on ENOMEM.
// With pl and kind given, also "amax_layers": the a_max of every MoE layer (layer l of the
// MoE layers uses the table's layer profile l mod n_prof) at the point's batch.
struct cJSON *planner_point_json(const struct planner *pl, enum baselines_kind kind,
                                 const struct search_point *pt);
// a_max of MoE layer `layer` (0-based among MoE layers) at the point; -1 if unknown.
double planner_layer_amax(const struct planner *pl, enum baselines_kind kind,
                          const struct search_point *pt, int layer);
// Name of an exchange scheme ("1pc", "2pc1", "2pc2", "a2a", "m2n-expert", "a2a-disagg").
const char *planner_scheme_name(int scheme);
// Best deployment of one system for the load (p->max_gpus <= opt.max_gpus).
JANUS_WUR int planner_plan(const struct planner *pl, enum baselines_kind kind,
                           const struct search_params *p, struct search_point *out);

#endif // JANUS_SIM_PLANNER_H
