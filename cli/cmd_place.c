// janus place: replica counts and placement from expert statistics (SPEC §6): the
// co-activation greedy ("janus") or the EPLB baseline ("eplb"), written as a janus-layout
// JSON file. Statistics come from a janus-stats file or are computed from a routing trace.
// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/status.h"
#include "cli.h"
#include "opts.h"
#include "place/layout.h"
#include "place/place.h"
#include "place/stats.h"
#include "place/trace.h"

static int stats_from_trace(struct stats *st, const char *path, int32_t E, double decay,
                            const char *cmd) {
    struct trace t = {0};
    char err[JANUS_ERR_LEN] = "";
    int rc = trace_load(&t, path, err, sizeof err);
    if (rc) return cli_error(cmd, "%s: %s", path, err[0] ? err : janus_strerror(rc));
    if (E <= 0) E = t.max_expert + 1;
    if (E <= 0 || t.max_expert >= E) {
        trace_free(&t);
        return cli_error(cmd, "%s: expert ids reach %d but --experts is %d", path, t.max_expert, E);
    }
    int32_t L = trace_max_layer(&t) + 1;
    if (stats_init(st, L, E, decay)) {
        trace_free(&t);
        return cli_error(cmd, "cannot allocate statistics (%d layers, %d experts)", L, E);
    }
    for (int64_t i = 0; i < t.n_blocks; i++)
        if (stats_record_routing(st, t.blocks[i].layer, trace_block_ids(&t, i), t.blocks[i].n_tok,
                                 t.top_k)) {
            trace_free(&t);
            stats_free(st);
            return cli_error(cmd, "%s: block %lld could not be recorded", path, (long long)i);
        }
    trace_free(&t);
    return 0;
}

int cmd_place(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *stats_path = NULL, *routing = NULL, *out = NULL, *policy = NULL, *save = NULL;
    int64_t n = 0, C = 0, E = 0, groups = 1, nodes = 1;
    double decay = 1.0;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("stats", 0, &stats_path, "FILE", "expert statistics (janus-stats JSON)"),
        CLI_OPT_STR("routing", 0, &routing, "FILE", "or: compute statistics from a routing trace"),
        CLI_OPT_I64("instances", 0, &n, 1, 1024, "N", "MoE instances"),
        CLI_OPT_I64("slots", 0, &C, 1, 4096, "C", "expert slots per instance"),
        CLI_OPT_STR("policy", 0, &policy, "P", "janus | eplb"),
        CLI_OPT_STR("output", 'o', &out, "FILE", "the layout to write (janus-layout JSON)"),
        CLI_OPT_I64("experts", 0, &E, 1, 1024, "E",
                    "with --routing: number of experts (default: max id + 1)"),
        CLI_OPT_F64("decay", 0, &decay, 1e-9, 1, "D", "with --routing: per-step decay (default 1)"),
        CLI_OPT_STR("save-stats", 0, &save, "FILE", "with --routing: also write the statistics"),
        CLI_OPT_I64("eplb-groups", 0, &groups, 1, 1024, "G",
                    "eplb: expert groups (hierarchical policy; default 1)"),
        CLI_OPT_I64("eplb-nodes", 0, &nodes, 1, 1024, "K",
                    "eplb: nodes (hierarchical when G % K == 0 and K > 1;\n"
                    "default 1 = global policy)"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout,
                      "place (--stats FILE | --routing FILE) --instances N --slots C\n"
                      "                   --policy janus|eplb -o layout.json [options]",
                      opts, NULL);
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 1;
    if (!!stats_path == !!routing)
        return cli_error(cmd, "need exactly one of --stats or --routing");
    if (!n || !C || !out || !policy)
        return cli_error(cmd, "need --instances N, --slots C, --policy janus|eplb and -o FILE");
    enum placement_policy pol;
    if (!strcmp(policy, "janus"))
        pol = PLACEMENT_POLICY_JANUS;
    else if (!strcmp(policy, "eplb"))
        pol = PLACEMENT_POLICY_EPLB;
    else
        return cli_error(cmd, "unknown policy '%s' (janus or eplb)", policy);
    struct stats st = {0};
    char err[JANUS_ERR_LEN] = "";
    if (stats_path) {
        int rc = stats_load_json(&st, stats_path, err, sizeof err);
        if (rc) return cli_error(cmd, "%s: %s", stats_path, err[0] ? err : janus_strerror(rc));
    } else {
        if (stats_from_trace(&st, routing, (int32_t)E, decay, cmd)) return 1;
        if (save && stats_save_json(&st, save)) {
            stats_free(&st);
            return cli_error(cmd, "cannot write %s", save);
        }
    }
    struct eplb_params ep = {0, (int32_t)groups, (int32_t)nodes, (int32_t)n,
                             nodes > 1 ? EPLB_POLICY_HIERARCHICAL : EPLB_POLICY_GLOBAL};
    struct layout l;
    struct placement_build_report rep;
    int rc =
        placement_build_layout(&l, &st, (int32_t)n, (int32_t)C, pol, &ep, &rep, err, sizeof err);
    stats_free(&st);
    if (rc) return cli_error(cmd, "%s", err[0] ? err : janus_strerror(rc));
    rc = layout_save_json(&l, out);
    if (rc) {
        layout_free(&l);
        return cli_error(cmd, "cannot write %s", out);
    }
    if (pol == PLACEMENT_POLICY_JANUS)
        fprintf(stderr, "place: janus, %d MoE layers, %d bounded swaps, max co-activation %.6g\n",
                rep.n_layers_placed, rep.n_swaps, rep.max_coact);
    else
        fprintf(stderr,
                "place: eplb (%s), %d MoE layers, %d duplicate replicas (same expert twice on one "
                "instance) merged, their slots left unused\n",
                ep.policy == EPLB_POLICY_HIERARCHICAL ? "hierarchical" : "global",
                rep.n_layers_placed, rep.n_duplicates);
    layout_free(&l);
    return 0;
}
