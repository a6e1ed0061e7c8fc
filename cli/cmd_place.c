// janus place: replica counts and placement from expert statistics (SPEC §6): the
// co-activation greedy ("janus") or the EPLB baseline ("eplb"), written as a janus-layout
// JSON file. Statistics come from a janus-stats file or are computed from a routing trace.
// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/status.h"
#include "cli.h"
#include "place/layout.h"
#include "place/place.h"
#include "place/stats.h"
#include "place/trace.h"

static void help(void) {
    printf("usage: janus place (--stats FILE | --routing FILE) --instances N --slots C\n"
           "                   --policy janus|eplb -o layout.json [options]\n"
           "  --stats FILE        expert statistics (janus-stats JSON)\n"
           "  --routing FILE      or: compute statistics from a routing trace\n"
           "  --experts E         with --routing: number of experts (default: max id + 1)\n"
           "  --decay D           with --routing: per-step decay (default 1)\n"
           "  --save-stats FILE   with --routing: also write the statistics\n"
           "  --eplb-groups G     eplb: expert groups (hierarchical policy; default 1)\n"
           "  --eplb-nodes K      eplb: nodes (hierarchical when G %% K == 0 and K > 1;\n"
           "                      default 1 = global policy)\n");
}

static int stats_from_trace(struct stats *st, const char *path, int32_t E, double decay,
                            const char *cmd) {
    struct trace t = {0};
    char err[256] = "";
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
    if (cli_wants_help(argc, argv)) {
        help();
        return 0;
    }
    const char *stats_path = NULL, *routing = NULL, *out = NULL, *policy = NULL, *save = NULL;
    int64_t n = 0, C = 0, E = 0, groups = 1, nodes = 1;
    double decay = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return cli_error(cmd, "option %s needs a value (or is unknown)", a);
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "--stats"))
            stats_path = v;
        else if (!strcmp(a, "--routing"))
            routing = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            out = v;
        else if (!strcmp(a, "--policy"))
            policy = v;
        else if (!strcmp(a, "--save-stats"))
            save = v;
        else if (!strcmp(a, "--instances"))
            bad = cli_parse_i64(v, 1, 1024, &n);
        else if (!strcmp(a, "--slots"))
            bad = cli_parse_i64(v, 1, 4096, &C);
        else if (!strcmp(a, "--experts"))
            bad = cli_parse_i64(v, 1, 1024, &E);
        else if (!strcmp(a, "--eplb-groups"))
            bad = cli_parse_i64(v, 1, 1024, &groups);
        else if (!strcmp(a, "--eplb-nodes"))
            bad = cli_parse_i64(v, 1, 1024, &nodes);
        else if (!strcmp(a, "--decay"))
            bad = cli_parse_f64(v, 1e-9, 1, &decay);
        else
            return cli_error(cmd, "unknown option %s (see --help)", a);
        if (bad) return cli_error(cmd, "invalid value '%s' for %s", v, a);
    }
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
    char err[256] = "";
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
