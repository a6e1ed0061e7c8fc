// janus gen-routing: writes a seeded synthetic routing trace (Zipf skew, co-activation
// groups, drift) in the text format of docs/FORMATS.md (SPEC §6; trace_generate).
// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "base/status.h"
#include "cli.h"
#include "opts.h"
#include "place/trace.h"

int cmd_gen_routing(int argc, char **argv) {
    const char *cmd = argv[0];
    struct trace_gen_params p;
    trace_gen_default_params(&p);
    const char *out = NULL;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("output", 'o', &out, "FILE", "the trace to write (required)"),
        CLI_OPT_I32("experts", 0, &p.n_experts, 1, 1 << 20, "E",
                    "logical experts per layer (default 64)"),
        CLI_OPT_I32("top-k", 0, &p.top_k, 1, 1 << 20, "K", "experts per token (default 6)"),
        CLI_OPT_I32("layers", 0, &p.n_layers, 1, 1 << 20, "L",
                    "MoE layers per step, written as layers 0..L-1 (default 1)"),
        CLI_OPT_I64("steps", 0, &p.n_steps, 0, INT32_MAX, "S", "steps (default 100)"),
        CLI_OPT_I64("batch", 0, &p.batch, 0, INT32_MAX, "B", "tokens per step (default 64)"),
        CLI_OPT_F64("zipf", 0, &p.zipf, 0, 10, "X",
                    "popularity skew exponent, 0 = uniform (default 1.0)"),
        CLI_OPT_I32("group-size", 0, &p.group_size, 0, 1 << 20, "G",
                    "co-activation group size, 0 = none (default 0)"),
        CLI_OPT_F64("p-group", 0, &p.p_group, 0, 1, "P",
                    "probability a choice comes from the token's group (default 0.5)"),
        CLI_OPT_I32("hot-groups", 0, &p.hot_groups, 0, 1 << 20, "H",
                    "groups active per step (default 2)"),
        CLI_OPT_F64("drift", 0, &p.drift, 0, 1e6, "D",
                    "popularity rank shift per step (default 0)"),
        CLI_OPT_I64("model-seed", 0, &p.model_seed, 0, 9e18, "N",
                    "the synthetic model: expert popularity order (default 1)"),
        CLI_OPT_I64("seed", 0, &p.seed, 0, 9e18, "N",
                    "sampling of steps and tokens (default 1); same model-seed with\n"
                    "different seeds gives train/test traces of one model"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout, "gen-routing -o FILE [options]", opts, NULL);
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 1;
    if (!out) return cli_error(cmd, "missing -o FILE");
    struct trace t = {0};
    char err[256] = "";
    int rc = trace_generate(&t, &p, err, sizeof err);
    if (rc) return cli_error(cmd, "%s", err[0] ? err : janus_strerror(rc));
    rc = trace_save(&t, out);
    trace_free(&t);
    if (rc) return cli_error(cmd, "cannot write %s", out);
    return 0;
}
