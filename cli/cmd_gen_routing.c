// janus gen-routing: writes a seeded synthetic routing trace (Zipf skew, co-activation
// groups, drift) in the text format of docs/FORMATS.md (SPEC §6; trace_generate).
// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "base/status.h"
#include "cli.h"
#include "place/trace.h"

static void help(void) {
    printf("usage: janus gen-routing -o FILE [options]\n"
           "  --experts E       logical experts per layer (default 64)\n"
           "  --top-k K         experts per token (default 6)\n"
           "  --layers L        MoE layers per step, written as layers 0..L-1 (default 1)\n"
           "  --steps S         steps (default 100)\n"
           "  --batch B         tokens per step (default 64)\n"
           "  --zipf X          popularity skew exponent, 0 = uniform (default 1.0)\n"
           "  --group-size G    co-activation group size, 0 = none (default 0)\n"
           "  --p-group P       probability a choice comes from the token's group (default 0.5)\n"
           "  --hot-groups H    groups active per step (default 2)\n"
           "  --drift D         popularity rank shift per step (default 0)\n"
           "  --model-seed N    the synthetic model: expert popularity order (default 1)\n"
           "  --seed N          sampling of steps and tokens (default 1); same model-seed with\n"
           "                    different seeds gives train/test traces of one model\n");
}

int cmd_gen_routing(int argc, char **argv) {
    const char *cmd = argv[0];
    if (cli_wants_help(argc, argv)) {
        help();
        return 0;
    }
    struct trace_gen_params p;
    trace_gen_default_params(&p);
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return cli_error(cmd, "option %s needs a value (or is unknown)", a);
        const char *v = argv[++i];
        int64_t x = 0;
        double d = 0;
        int bad = 0;
        if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            out = v;
        else if (!strcmp(a, "--experts"))
            bad = cli_parse_i64(v, 1, 1 << 20, &x), p.n_experts = (int32_t)x;
        else if (!strcmp(a, "--top-k"))
            bad = cli_parse_i64(v, 1, 1 << 20, &x), p.top_k = (int32_t)x;
        else if (!strcmp(a, "--layers"))
            bad = cli_parse_i64(v, 1, 1 << 20, &x), p.n_layers = (int32_t)x;
        else if (!strcmp(a, "--steps"))
            bad = cli_parse_i64(v, 0, INT32_MAX, &x), p.n_steps = x;
        else if (!strcmp(a, "--batch"))
            bad = cli_parse_i64(v, 0, INT32_MAX, &x), p.batch = x;
        else if (!strcmp(a, "--group-size"))
            bad = cli_parse_i64(v, 0, 1 << 20, &x), p.group_size = (int32_t)x;
        else if (!strcmp(a, "--hot-groups"))
            bad = cli_parse_i64(v, 0, 1 << 20, &x), p.hot_groups = (int32_t)x;
        else if (!strcmp(a, "--seed"))
            bad = cli_parse_i64(v, 0, INT64_MAX, &x), p.seed = (uint64_t)x;
        else if (!strcmp(a, "--model-seed"))
            bad = cli_parse_i64(v, 0, INT64_MAX, &x), p.model_seed = (uint64_t)x;
        else if (!strcmp(a, "--zipf"))
            bad = cli_parse_f64(v, 0, 10, &d), p.zipf = d;
        else if (!strcmp(a, "--p-group"))
            bad = cli_parse_f64(v, 0, 1, &d), p.p_group = d;
        else if (!strcmp(a, "--drift"))
            bad = cli_parse_f64(v, 0, 1e6, &d), p.drift = d;
        else
            return cli_error(cmd, "unknown option %s (see --help)", a);
        if (bad) return cli_error(cmd, "invalid value '%s' for %s", v, a);
    }
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
