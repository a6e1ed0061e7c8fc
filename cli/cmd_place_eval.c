// janus place-eval: Monte Carlo a_max of a layout under each scheduler policy, per batch
// size (SPEC §6 "a placement is judged by the a_max it yields"). For every MoE layer of the
// trace, batches of B tokens are drawn uniformly with replacement from that layer's tokens
// (common random numbers: every policy sees the same batches); mean a_max is reported.
// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "actsched/actsched.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "cli.h"
#include "place/layout.h"
#include "place/trace.h"

static void help(void) {
    printf("usage: janus place-eval --layout FILE --routing FILE [options]\n"
           "  --batches LIST    batch sizes (default 1,8,32,64,128,256,512)\n"
           "  --samples N       batches sampled per (layer, batch size) (default 200)\n"
           "  --seed N          sampling seed (default 1)\n"
           "Prints mean a_max (over layers and samples) per batch size and policy.\n");
}

int cmd_place_eval(int argc, char **argv) {
    const char *cmd = argv[0];
    if (cli_wants_help(argc, argv)) {
        help();
        return 0;
    }
    const char *layout_path = NULL, *routing_path = NULL;
    int32_t batches[64] = {1, 8, 32, 64, 128, 256, 512};
    int nb = 7;
    int64_t samples = 200, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return cli_error(cmd, "option %s needs a value (or is unknown)", a);
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "--layout")) layout_path = v;
        else if (!strcmp(a, "--routing")) routing_path = v;
        else if (!strcmp(a, "--samples")) bad = cli_parse_i64(v, 1, 1000000, &samples);
        else if (!strcmp(a, "--seed")) bad = cli_parse_i64(v, 0, INT64_MAX, &seed);
        else if (!strcmp(a, "--batches")) {
            nb = cli_parse_ids(v, batches, 64);
            bad = nb < 1;
            for (int j = 0; j < nb && !bad; j++) bad = batches[j] < 1 || batches[j] > 65536;
        } else
            return cli_error(cmd, "unknown option %s (see --help)", a);
        if (bad) return cli_error(cmd, "invalid value '%s' for %s", v, a);
    }
    if (!layout_path || !routing_path) return cli_error(cmd, "need --layout FILE and --routing FILE");
    char err[256] = "";
    struct layout l;
    int rc = layout_load_json(&l, layout_path, err, sizeof err);
    if (rc) return cli_error(cmd, "%s: %s", layout_path, err[0] ? err : janus_strerror(rc));
    struct trace t = {0};
    rc = trace_load(&t, routing_path, err, sizeof err);
    if (rc) {
        layout_free(&l);
        return cli_error(cmd, "%s: %s", routing_path, err[0] ? err : janus_strerror(rc));
    }
    int ret = 0;
    int32_t bmax = 1;
    for (int j = 0; j < nb; j++) bmax = batches[j] > bmax ? batches[j] : bmax;
    struct actsched_limits lim = {bmax, l.n_experts, l.n_instances, t.top_k ? t.top_k : 1};
    struct actsched_ws ws = {0};
    struct actsched_output out = {0};
    int32_t *ids = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)bmax * lim.max_top_k);
    int64_t *pool_n = mem_calloc(MEM_TAG_SCHED, (size_t)l.n_layers, sizeof(int64_t));
    if (!ids || !pool_n || actsched_init(&ws, &lim) || actsched_output_init(&out, &lim)) {
        ret = cli_error(cmd, "out of memory");
        goto done;
    }
    if (t.max_expert >= l.n_experts) {
        ret = cli_error(cmd, "%s: expert id %d but the layout has %d experts", routing_path,
                        t.max_expert, l.n_experts);
        goto done;
    }
    // Per layer, the trace's tokens (as (block, token) positions counted per layer).
    for (int64_t i = 0; i < t.n_blocks; i++) {
        int32_t ly = t.blocks[i].layer;
        if (ly >= l.n_layers || l.layers[ly].n_experts == 0) {
            ret = cli_error(cmd, "trace layer %d is not a MoE layer of the layout", ly);
            goto done;
        }
        pool_n[ly] += t.blocks[i].n_tok;
    }
    printf("# place-eval: layout %s, routing %s, %lld samples per (layer, batch)\n", layout_path,
           routing_path, (long long)samples);
    printf("%8s", "batch");
    for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++)
        printf(" %14s", actsched_policy_name((enum actsched_policy)p));
    printf("\n");
    for (int j = 0; j < nb; j++) {
        int32_t B = batches[j];
        double sum[ACTSCHED_POLICY_COUNT] = {0};
        int64_t cnt = 0;
        for (int32_t ly = 0; ly < l.n_layers; ly++) {
            if (!pool_n[ly]) continue;
            struct rng r;
            rng_init3(&r, (uint64_t)seed, (uint64_t)B, (uint64_t)ly);
            for (int64_t s = 0; s < samples; s++) {
                for (int32_t b = 0; b < B; b++) {
                    // Token index within this layer's pool -> (block, token).
                    int64_t x = (int64_t)(rng_u64(&r) % (uint64_t)pool_n[ly]);
                    for (int64_t i = 0; i < t.n_blocks; i++) {
                        if (t.blocks[i].layer != ly) continue;
                        if (x < t.blocks[i].n_tok) {
                            memcpy(ids + (size_t)b * t.top_k,
                                   trace_block_ids(&t, i) + x * t.top_k,
                                   sizeof(int32_t) * (size_t)t.top_k);
                            break;
                        }
                        x -= t.blocks[i].n_tok;
                    }
                }
                for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++) {
                    struct actsched_input in = {&l.layers[ly], ids, B, t.top_k, s, ly,
                                                (uint64_t)seed};
                    rc = actsched_run(&ws, (enum actsched_policy)p, &in, &out);
                    if (rc) {
                        ret = cli_error(cmd, "scheduler failed: %s", janus_strerror(rc));
                        goto done;
                    }
                    sum[p] += out.a_max;
                }
                cnt++;
            }
        }
        printf("%8d", B);
        for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++) printf(" %14.3f", cnt ? sum[p] / cnt : 0.0);
        printf("\n");
    }
done:
    mem_free(ids);
    mem_free(pool_n);
    actsched_free(&ws);
    actsched_output_free(&out);
    trace_free(&t);
    layout_free(&l);
    return ret;
}
