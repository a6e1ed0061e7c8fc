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

void plan_opts_default(struct plan_opts *po) {
    memset(po, 0, sizeof *po);
    po->context = -1;
    po->max_gpus = 64;
    po->seed = 1;
    latency_coef_default(&po->coef);
}

// "NAME=VALUE" -> latency_coef_set. 0 ok, -1 after printing the error.
static int parse_coef(struct plan_opts *po, const char *cmd, const char *v) {
    char name[64];
    const char *eq = strchr(v, '=');
    double x;
    if (!eq || eq - v >= (int)sizeof name || cli_parse_f64(eq + 1, -1e18, 1e18, &x)) {
        cli_error(cmd, "bad --coef '%s' (NAME=VALUE)", v);
        return -1;
    }
    snprintf(name, sizeof name, "%.*s", (int)(eq - v), v);
    if (latency_coef_set(&po->coef, name, x)) {
        cli_error(cmd, "unknown coefficient '%s'", name);
        return -1;
    }
    return 0;
}

int plan_opts_parse(struct plan_opts *po, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (!strcmp(a, "--no-cache")) {
        po->no_cache = 1;
        return 1;
    }
    static const char *const with_value[] = {"--model",   "--model-file", "--hw",   "--data-dir",
                                             "--stats",   "--coef",       "--seed", "--samples",
                                             "--context", "--max-gpus"};
    int known = 0;
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(with_value) && !known; k++)
        known = !strcmp(a, with_value[k]);
    if (!known) return 0;
    if (*i + 1 >= argc) {
        cli_error(cmd, "%s needs a value", a);
        return -1;
    }
    const char *v = argv[++*i];
    const char *bad = NULL; // the expected form, when v is out of range
    if (!strcmp(a, "--model"))
        po->model = v;
    else if (!strcmp(a, "--model-file"))
        po->model_file = v;
    else if (!strcmp(a, "--hw"))
        po->hw = v;
    else if (!strcmp(a, "--data-dir"))
        po->data_dir = v;
    else if (!strcmp(a, "--stats"))
        po->stats_path = v;
    else if (!strcmp(a, "--coef"))
        return parse_coef(po, cmd, v) ? -1 : 1;
    else if (!strcmp(a, "--context"))
        bad = cli_parse_f64(v, 0, 1e7, &po->context) ? " (tokens >= 0)" : NULL;
    else if (!strcmp(a, "--max-gpus"))
        bad = cli_parse_i64(v, 1, 1024, &po->max_gpus) ? " (1..1024)" : NULL;
    else if (!strcmp(a, "--seed"))
        bad = cli_parse_i64(v, 0, INT64_MAX, &po->seed) ? "" : NULL;
    else if (!strcmp(a, "--samples"))
        bad = cli_parse_i64(v, 1, 10000, &po->samples) ? " (1..10000)" : NULL;
    if (bad) {
        cli_error(cmd, "bad %s '%s'%s", a, v, bad);
        return -1;
    }
    return 1;
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
        char serr[512];
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
