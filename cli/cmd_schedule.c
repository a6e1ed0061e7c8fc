// janus schedule: runs one activation-scheduler policy over every block of a routing trace
// with a replica layout (SPEC §5) and prints "step S layer L a_max A" per block, or with
// --json the full assignment, per-instance counts and each token's physical replica.
// Optionally records the scheduled steps into expert statistics (--stats-out, SPEC §6).
// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "actsched/actsched.h"
#include "base/status.h"
#include "cli.h"
#include "opts.h"
#include "sched_input.h"
#include "place/layout.h"
#include "place/stats.h"
#include "place/trace.h"

static void print_json_block(const struct trace_block *b, const struct actsched_output *o,
                             int first) {
    printf("%s\n  {\"step\": %lld, \"layer\": %d, \"a_max\": %d, \"n_active\": %d, "
           "\"digest\": \"%016" PRIx64 "\",\n   \"inst_count\": [",
           first ? "" : ",", (long long)b->step, b->layer, o->a_max, o->n_active,
           actsched_digest(o));
    for (int32_t g = 0; g < o->n_instances; g++)
        printf("%s%d", g ? ", " : "", o->inst_count[g]);
    printf("],\n   \"assign\": [");
    for (int32_t i = 0; i < o->n_active; i++) {
        int32_t e = o->active[i];
        printf("%s[%d, %d, %d, %d]", i ? ", " : "", e, o->assign[e], o->assign_replica[e],
               o->active_tokens[i]);
    }
    printf("],\n   \"token_replica\": [");
    for (int64_t t = 0; t < o->n_tok; t++) {
        printf("%s[", t ? ", " : "");
        for (int32_t j = 0; j < o->top_k; j++)
            printf("%s%d", j ? ", " : "", o->token_replica[t * o->top_k + j]);
        printf("]");
    }
    printf("]}");
}

int cmd_schedule(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *layout_path = NULL, *routing_path = NULL, *policy_name = NULL, *stats_out = NULL;
    int json = 0;
    int64_t seed = 0;
    double decay = 1.0;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("layout", 0, &layout_path, "FILE", "replica layout (janus-layout JSON)"),
        CLI_OPT_STR("routing", 0, &routing_path, "FILE", "routing trace"),
        CLI_OPT_STR("policy", 0, &policy_name, "P",
                    "greedy | optimal | random | round-robin | token-balanced | first"),
        CLI_OPT_FLAG("json", 0, &json, "print the full schedule of every block as JSON"),
        CLI_OPT_I64("seed", 0, &seed, 0, 9e18, "N", "seed of the random policy (default 0)"),
        CLI_OPT_STR("stats-out", 0, &stats_out, "FILE",
                    "record the scheduled steps as expert statistics (janus-stats)"),
        CLI_OPT_F64("decay", 0, &decay, 1e-9, 1, "D",
                    "per-step decay of those statistics, in (0, 1] (default 1)"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout, "schedule --layout FILE --routing FILE --policy P [options]", opts,
                      "Prints one line per block: step S layer L a_max A\n");
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 1;
    if (!layout_path || !routing_path || !policy_name)
        return cli_error(cmd, "need --layout FILE, --routing FILE and --policy P");
    enum actsched_policy policy;
    if (actsched_policy_parse(policy_name, &policy))
        return cli_error(cmd,
                         "unknown policy '%s' (greedy, optimal, random, round-robin, "
                         "token-balanced, first)",
                         policy_name);
    struct layout l;
    struct trace t;
    if (sched_input_load(cmd, layout_path, routing_path, &l, &t)) return 1;
    int ret = 0;
    struct actsched_ws ws = {0};
    struct actsched_output out = {0};
    struct stats st = {0};
    int64_t max_tok = 1;
    for (int64_t i = 0; i < t.n_blocks; i++)
        if (t.blocks[i].n_tok > max_tok) max_tok = t.blocks[i].n_tok;
    struct actsched_limits lim = {max_tok, l.n_experts, l.n_instances, t.top_k ? t.top_k : 1};
    if (actsched_init(&ws, &lim) || actsched_output_init(&out, &lim)) {
        ret = cli_error(cmd, "out of memory");
        goto done;
    }
    if (stats_out && stats_init(&st, l.n_layers, l.n_experts, decay)) {
        ret = cli_error(cmd, "cannot allocate statistics");
        goto done;
    }
    if (json)
        printf("{\"format\": \"janus-schedule\", \"policy\": \"%s\", \"n_instances\": %d, "
               "\"slots\": %d, \"n_experts\": %d,\n \"blocks\": [",
               actsched_policy_name(policy), l.n_instances, l.n_slots, l.n_experts);
    for (int64_t i = 0; i < t.n_blocks; i++) {
        const struct trace_block *b = &t.blocks[i];
        if (b->layer >= l.n_layers || l.layers[b->layer].n_experts == 0) {
            ret = cli_error(cmd, "step %lld layer %d: the layout has no MoE layer %d",
                            (long long)b->step, b->layer, b->layer);
            goto done;
        }
        struct actsched_input in = {
            &l.layers[b->layer], trace_block_ids(&t, i), b->n_tok, t.top_k, b->step, b->layer,
            (uint64_t)seed};
        int rc = actsched_run(&ws, policy, &in, &out);
        if (rc) {
            ret = cli_error(cmd, "step %lld layer %d: %s (expert ids must be < %d)",
                            (long long)b->step, b->layer, janus_strerror(rc), l.n_experts);
            goto done;
        }
        if (stats_out && stats_record(&st, b->layer, out.active, out.n_active, out.active_tokens)) {
            ret = cli_error(cmd, "recording statistics failed");
            goto done;
        }
        if (json)
            print_json_block(b, &out, i == 0);
        else
            printf("step %lld layer %d a_max %d\n", (long long)b->step, b->layer, out.a_max);
    }
    if (json) printf("\n ]}\n");
    if (stats_out && stats_save_json(&st, stats_out))
        ret = cli_error(cmd, "cannot write %s", stats_out);
done:
    actsched_free(&ws);
    actsched_output_free(&out);
    stats_free(&st);
    trace_free(&t);
    layout_free(&l);
    return ret;
}
