// The options that janus plan, janus sweep and janus simulate share (model, hardware,
// catalogue, latency coefficients, statistics, a_max table cache and Monte Carlo knobs),
// parsed once here so the three commands accept and check them the same way (SPEC §7, §8).
// Errors are one line on stderr ("janus <cmd>: ..."), as everywhere in cli/.
// SPDX-License-Identifier: MIT
#ifndef JANUS_PLAN_OPTS_H
#define JANUS_PLAN_OPTS_H

#include "opts.h"
#include "sim/planner.h"

#include <stdint.h>

struct plan_opts {
    const char *model, *model_file, *hw, *data_dir; // borrowed from argv
    const char *stats_path;                         // --stats F, NULL: synthetic statistics
    double context;                                 // --context; < 0 until plan_opts_finish
    int64_t max_gpus, seed, samples;                // samples 0: the planner's default
    int no_cache;
    struct latency_coef coef;
    char cache_dir[4096];     // storage for planner_options.cache_dir
    struct cli_opt table[12]; // the shared options, writing into this struct: splice it into
                              // a command's table with CLI_OPT_TABLE(po.table)
};

// Defaults: 64 GPUs, seed 1, default samples, default coefficients, no model or hardware;
// fills po->table.
void plan_opts_default(struct plan_opts *po);

// After parsing: checks that --model (or --model-file) and --hw were given, defaults the
// context to the ShareGPT-like mean, fills *o (planner_default_options plus the shared
// options; o->cache_dir points into po) and loads --stats. The statistics stay in static
// storage until exit, so they outlive the planner on every return path. Returns 0, or the
// exit status (2 usage, 1 unreadable statistics) after printing the error.
int plan_opts_finish(struct plan_opts *po, const char *cmd, struct planner_options *o);

// Prints one stderr line per system: its a_max table size and whether it was built or cached.
void plan_opts_print_tables(const struct planner *pl);

#endif // JANUS_PLAN_OPTS_H
