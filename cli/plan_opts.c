// The options shared by janus plan, sweep and simulate (plan_opts.h): parsing, the checks
// that follow it, and the planner_options they produce (SPEC §7, §8).
// SPDX-License-Identifier: MIT
#include "plan_opts.h"

#include "cli.h"

#include "base/base.h"
#include "base/status.h"
#include "place/stats.h"
#include "sim/workload.h"

#include <stdio.h>
#include <string.h>

// --coef NAME=VALUE -> latency_coef_set. 0 ok, else the error was printed.
static int set_coef(void *target, const char *v, const char *cmd) {
    struct plan_opts *po = target;
    char name[64];
    const char *eq = strchr(v, '=');
    double x;
    if (!eq || eq - v >= (int)sizeof name || cli_parse_f64(eq + 1, -1e18, 1e18, &x))
        return cli_error(cmd, "bad --coef '%s' (NAME=VALUE)", v);
    snprintf(name, sizeof name, "%.*s", (int)(eq - v), v);
    if (latency_coef_set(&po->coef, name, x))
        return cli_error(cmd, "unknown coefficient '%s'", name);
    return 0;
}

void plan_opts_default(struct plan_opts *po) {
    memset(po, 0, sizeof *po);
    po->context = -1;
    po->max_gpus = 64;
    po->seed = 1;
    latency_coef_default(&po->coef);
    const struct cli_opt t[] = {
        CLI_OPT_STR("model", 0, &po->model, "M",
                    "deepseek-v2 deepseek-v3 qwen3-235b-a22b qwen3-30b-a3b mixtral-8x7b\n"
                    "scaled-ds-1 scaled-ds-2 janus-moe-kjv (data/models/M.json)"),
        CLI_OPT_STR("model-file", 0, &po->model_file, "F",
                    "a model shape JSON file instead of --model"),
        CLI_OPT_STR("hw", 0, &po->hw, "H", "h100 h200 a100 b200 cpu-local (data/hw/H.json)"),
        CLI_OPT_F64("context", 0, &po->context, 0, 1e7, "S",
                    "average decode context in tokens (default: ShareGPT-like mean, 620)"),
        CLI_OPT_I64("max-gpus", 0, &po->max_gpus, 1, 1024, "G", "cluster size (default 64)"),
        CLI_OPT_I64("seed", 0, &po->seed, 0, 9e18, "N",
                    "statistics / Monte Carlo seed (default 1)"),
        CLI_OPT_I64("samples", 0, &po->samples, 1, 10000, "N",
                    "Monte Carlo batches per table entry (default 8)"),
        CLI_OPT_FLAG("no-cache", 0, &po->no_cache, "do not read or write the a_max table cache"),
        CLI_OPT_FN("coef", 0, set_coef, po, "N=V",
                   "override a latency-model coefficient (docs/PLANNER.md §3.2), repeatable"),
        CLI_OPT_STR("data-dir", 0, &po->data_dir, "D",
                    "catalogue directory (default: $JANUS_DATA_DIR, ./data, <exe>/../data)"),
        CLI_OPT_STR("stats", 0, &po->stats_path, "F",
                    "measured expert statistics (janus-stats JSON, e.g. from janus place\n"
                    "--save-stats) instead of the synthetic ones; E must match the model"),
    };
    _Static_assert(JANUS_ARRAY_SIZE(t) < JANUS_ARRAY_SIZE(po->table), "room for the end mark");
    memcpy(po->table, t, sizeof t);
    po->table[JANUS_ARRAY_SIZE(t)] = (struct cli_opt)CLI_OPT_END;
}

int plan_opts_finish(struct plan_opts *po, const char *cmd, struct planner_options *o) {
    if (!po->model && !po->model_file)
        return 2 * cli_error(cmd, "--model is required (see --help)");
    if (!po->hw) return 2 * cli_error(cmd, "--hw is required (see --help)");
    if (po->context < 0) {
        struct workload_lengths wl;
        workload_sharegpt(&wl);
        po->context = workload_mean_context(&wl);
    }
    planner_default_options(o);
    o->max_gpus = (int)po->max_gpus;
    o->seed = (uint64_t)po->seed;
    o->samples = (int)po->samples;
    int have_cache =
        !po->no_cache && amax_cache_dir(po->cache_dir, sizeof po->cache_dir) == JANUS_OK;
    o->cache_dir = have_cache ? po->cache_dir : NULL;
    // Static storage: the statistics stay reachable until exit on every return path.
    static struct stats ext_stats;
    if (po->stats_path) {
        char serr[JANUS_ERR_LEN];
        if (stats_load_json(&ext_stats, po->stats_path, serr, sizeof serr))
            return cli_error(cmd, "%s: %s", po->stats_path, serr);
        o->stats = &ext_stats;
    }
    return 0;
}

void plan_opts_print_tables(const struct planner *pl) {
    for (int k = 0; k < BASELINES_COUNT; k++)
        fprintf(stderr, "a_max table %-16s %3d configurations, %s in %.2f s\n", pl->sys[k].name,
                pl->tab[k].n_cfg, pl->from_cache[k] ? "loaded from cache" : "built",
                pl->build_s[k]);
}
