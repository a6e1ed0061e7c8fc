// janus schedule: runs one activation-scheduler policy over every block of a routing trace
// with a replica layout (SPEC §5) and prints "step S layer L a_max A" per block, or with
// --json the full assignment, per-instance counts and each token's physical replica.
// Optionally records the scheduled steps into expert statistics (--stats-out, SPEC §6).
// SPDX-License-Identifier: MIT
#include <cJSON.h>
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

// One block of the --json document: its schedule, per-instance counts, each active expert's
// [expert, instance, replica, tokens] and each token's physical replicas.
static cJSON *json_block(const struct trace_block *b, const struct actsched_output *o) {
    char digest[17];
    snprintf(digest, sizeof digest, "%016" PRIx64, actsched_digest(o));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "step", (double)b->step);
    cJSON_AddNumberToObject(j, "layer", b->layer);
    cJSON_AddNumberToObject(j, "a_max", o->a_max);
    cJSON_AddNumberToObject(j, "n_active", o->n_active);
    cJSON_AddStringToObject(j, "digest", digest);
    cJSON_AddItemToObject(j, "inst_count", cJSON_CreateIntArray(o->inst_count, o->n_instances));
    cJSON *assign = cJSON_AddArrayToObject(j, "assign");
    for (int32_t i = 0; i < o->n_active && assign; i++) {
        int32_t e = o->active[i];
        const int a[4] = {e, o->assign[e], o->assign_replica[e], o->active_tokens[i]};
        cJSON_AddItemToArray(assign, cJSON_CreateIntArray(a, 4));
    }
    cJSON *tr = cJSON_AddArrayToObject(j, "token_replica");
    for (int64_t t = 0; t < o->n_tok && tr; t++)
        cJSON_AddItemToArray(tr, cJSON_CreateIntArray(o->token_replica + t * o->top_k, o->top_k));
    return j;
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
    cJSON *doc = NULL, *blocks = NULL;
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
    if (json) {
        doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "format", "janus-schedule");
        cJSON_AddStringToObject(doc, "policy", actsched_policy_name(policy));
        cJSON_AddNumberToObject(doc, "n_instances", l.n_instances);
        cJSON_AddNumberToObject(doc, "slots", l.n_slots);
        cJSON_AddNumberToObject(doc, "n_experts", l.n_experts);
        blocks = cJSON_AddArrayToObject(doc, "blocks");
    }
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
            cJSON_AddItemToArray(blocks, json_block(b, &out));
        else
            printf("step %lld layer %d a_max %d\n", (long long)b->step, b->layer, out.a_max);
    }
    if (json) {
        char *text = cJSON_Print(doc);
        if (!text) {
            ret = cli_error(cmd, "out of memory");
            goto done;
        }
        printf("%s\n", text);
        cJSON_free(text);
    }
    if (stats_out && stats_save_json(&st, stats_out))
        ret = cli_error(cmd, "cannot write %s", stats_out);
done:
    cJSON_Delete(doc);
    actsched_free(&ws);
    actsched_output_free(&out);
    stats_free(&st);
    trace_free(&t);
    layout_free(&l);
    return ret;
}
