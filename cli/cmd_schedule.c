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
#include "sched_input.h"
#include "place/layout.h"
#include "place/stats.h"
#include "place/trace.h"

static void help(void) {
    printf("usage: janus schedule --layout FILE --routing FILE --policy P [options]\n"
           "  --policy P        greedy | optimal | random | round-robin | token-balanced | first\n"
           "  --json            print the full schedule of every block as JSON\n"
           "  --seed N          seed of the random policy (default 0)\n"
           "  --stats-out FILE  record the scheduled steps as expert statistics (janus-stats)\n"
           "  --decay D         per-step decay of those statistics, in (0, 1] (default 1)\n"
           "Prints one line per block: step S layer L a_max A\n");
}

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
    if (cli_wants_help(argc, argv)) {
        help();
        return 0;
    }
    const char *layout_path = NULL, *routing_path = NULL, *policy_name = NULL, *stats_out = NULL;
    int json = 0;
    int64_t seed = 0;
    double decay = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_error(cmd, "option %s needs a value (or is unknown)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--layout"))
            layout_path = v;
        else if (!strcmp(a, "--routing"))
            routing_path = v;
        else if (!strcmp(a, "--policy"))
            policy_name = v;
        else if (!strcmp(a, "--stats-out"))
            stats_out = v;
        else if (!strcmp(a, "--seed")) {
            if (cli_parse_i64(v, 0, INT64_MAX, &seed))
                return cli_error(cmd, "invalid --seed '%s'", v);
        } else if (!strcmp(a, "--decay")) {
            if (cli_parse_f64(v, 1e-9, 1, &decay)) return cli_error(cmd, "invalid --decay '%s'", v);
        } else
            return cli_error(cmd, "unknown option %s (see --help)", a);
    }
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
