// janus place-eval: Monte Carlo a_max of a layout under each scheduler policy, per batch
// size (SPEC §6 "a placement is judged by the a_max it yields"). For every MoE layer of the
// trace, batches of B tokens are drawn from one random step block of that layer (or, with
// --sample pool, from all its tokens); common random numbers: every policy sees the same
// batches; mean a_max over layers and samples is reported.
// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "actsched/actsched.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "cli.h"
#include "opts.h"
#include "sched_input.h"
#include "place/layout.h"
#include "place/trace.h"

// --sample block|pool.
static int set_sample(void *target, const char *v, const char *cmd) {
    (void)cmd;
    if (strcmp(v, "block") && strcmp(v, "pool")) return -1;
    *(int *)target = !strcmp(v, "block");
    return 0;
}

int cmd_place_eval(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *layout_path = NULL, *routing_path = NULL;
    int32_t batches[64] = {1, 8, 32, 64, 128, 256, 512};
    struct cli_list bl = {batches, 64, 7};
    int64_t samples = 200, seed = 1;
    int by_block = 1, per_layer = 0;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("layout", 0, &layout_path, "FILE", "replica layout (janus-layout JSON)"),
        CLI_OPT_STR("routing", 0, &routing_path, "FILE", "routing trace"),
        CLI_OPT_LIST("batches", 0, &bl, 1, 65536, "LIST",
                     "batch sizes (default 1,8,32,64,128,256,512)"),
        CLI_OPT_I64("samples", 0, &samples, 1, 1000000, "N",
                    "batches sampled per (layer, batch size) (default 200)"),
        CLI_OPT_I64("seed", 0, &seed, 0, 9e18, "N", "sampling seed (default 1)"),
        CLI_OPT_FN("sample", 0, set_sample, &by_block, "M",
                   "block: B tokens of one random step block of the layer (keeps\n"
                   "that step's co-activation; default); pool: B tokens drawn\n"
                   "uniformly from all of the layer's tokens"),
        CLI_OPT_FLAG("per-layer", 0, &per_layer, "also print one row per (batch size, layer)"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout, "place-eval --layout FILE --routing FILE [options]", opts,
                      "Prints mean a_max (over layers and samples) per batch size and policy.\n");
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 1;
    const int nb = bl.n;
    if (!layout_path || !routing_path)
        return cli_error(cmd, "need --layout FILE and --routing FILE");
    struct layout l;
    struct trace t;
    if (sched_input_load(cmd, layout_path, routing_path, &l, &t)) return 1;
    int ret = 0;
    int32_t bmax = 1;
    for (int j = 0; j < nb; j++)
        bmax = batches[j] > bmax ? batches[j] : bmax;
    struct actsched_limits lim = {bmax, l.n_experts, l.n_instances, t.top_k ? t.top_k : 1};
    struct actsched_ws ws = {0};
    struct actsched_output out = {0};
    int32_t *ids = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)bmax * lim.max_top_k);
    int64_t *pool_n = mem_calloc(MEM_TAG_SCHED, (size_t)l.n_layers, sizeof(int64_t));
    int64_t *pool_off = NULL, *pool = NULL, *blk_n = NULL, *blk_off = NULL, *blk = NULL;
    int64_t *perm = NULL;
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
    // pool[pool_off[ly] + x] = global token index of the x-th token of layer ly.
    pool_off = mem_calloc(MEM_TAG_SCHED, (size_t)l.n_layers + 1, sizeof(int64_t));
    pool = mem_alloc(MEM_TAG_SCHED, sizeof(int64_t) * (size_t)(t.n_tok + 1));
    if (!pool_off || !pool) {
        ret = cli_error(cmd, "out of memory");
        goto done;
    }
    for (int32_t ly = 0; ly < l.n_layers; ly++)
        pool_off[ly + 1] = pool_off[ly] + pool_n[ly];
    // Non-empty blocks per layer (for --sample block), and a permutation scratch.
    blk_n = mem_calloc(MEM_TAG_SCHED, (size_t)l.n_layers, sizeof(int64_t));
    blk_off = mem_calloc(MEM_TAG_SCHED, (size_t)l.n_layers + 1, sizeof(int64_t));
    blk = mem_alloc(MEM_TAG_SCHED, sizeof(int64_t) * (size_t)(t.n_blocks + 1));
    int64_t max_blk = 1;
    for (int64_t i = 0; i < t.n_blocks; i++)
        if (t.blocks[i].n_tok > max_blk) max_blk = t.blocks[i].n_tok;
    perm = mem_alloc(MEM_TAG_SCHED, sizeof(int64_t) * (size_t)max_blk);
    if (!blk_n || !blk_off || !blk || !perm) {
        ret = cli_error(cmd, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < t.n_blocks; i++)
        blk_n[t.blocks[i].layer] += t.blocks[i].n_tok > 0;
    for (int32_t ly = 0; ly < l.n_layers; ly++)
        blk_off[ly + 1] = blk_off[ly] + blk_n[ly];
    for (int32_t ly = 0; ly < l.n_layers; ly++) {
        int64_t m = blk_off[ly];
        for (int64_t i = 0; i < t.n_blocks; i++)
            if (t.blocks[i].layer == ly && t.blocks[i].n_tok > 0) blk[m++] = i;
    }
    for (int32_t ly = 0; ly < l.n_layers; ly++) {
        int64_t m = pool_off[ly];
        for (int64_t i = 0; i < t.n_blocks; i++)
            if (t.blocks[i].layer == ly)
                for (int64_t x = 0; x < t.blocks[i].n_tok; x++)
                    pool[m++] = t.blocks[i].off + x;
    }
    printf("# place-eval: layout %s, routing %s, %lld samples per (layer, batch), sample=%s\n",
           layout_path, routing_path, (long long)samples, by_block ? "block" : "pool");
    printf("%8s", "batch");
    if (per_layer) printf(" %5s", "layer");
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
            double lsum[ACTSCHED_POLICY_COUNT] = {0};
            for (int64_t s = 0; s < samples; s++) {
                if (by_block) {
                    // One step's tokens keep that step's co-activation: pick a block of this
                    // layer, then B of its tokens (without replacement while they last).
                    int64_t bi = blk[blk_off[ly] + (int64_t)(rng_u64(&r) % (uint64_t)blk_n[ly])];
                    int64_t nt = t.blocks[bi].n_tok;
                    for (int64_t x = 0; x < nt; x++)
                        perm[x] = x;
                    for (int32_t b = 0; b < B; b++) {
                        int64_t x;
                        if (b < nt) { // partial Fisher-Yates
                            int64_t sw = b + (int64_t)(rng_u64(&r) % (uint64_t)(nt - b));
                            int64_t tmp = perm[b];
                            perm[b] = perm[sw];
                            perm[sw] = tmp;
                            x = perm[b];
                        } else {
                            x = (int64_t)(rng_u64(&r) % (uint64_t)nt);
                        }
                        memcpy(ids + (size_t)b * t.top_k, t.ids + (t.blocks[bi].off + x) * t.top_k,
                               sizeof(int32_t) * (size_t)t.top_k);
                    }
                } else {
                    for (int32_t b = 0; b < B; b++) {
                        int64_t x = (int64_t)(rng_u64(&r) % (uint64_t)pool_n[ly]);
                        memcpy(ids + (size_t)b * t.top_k, t.ids + pool[pool_off[ly] + x] * t.top_k,
                               sizeof(int32_t) * (size_t)t.top_k);
                    }
                }
                for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++) {
                    struct actsched_input in = {&l.layers[ly], ids, B, t.top_k, s, ly,
                                                (uint64_t)seed};
                    int rc = actsched_run(&ws, (enum actsched_policy)p, &in, &out);
                    if (rc) {
                        ret = cli_error(cmd, "scheduler failed: %s", janus_strerror(rc));
                        goto done;
                    }
                    sum[p] += out.a_max;
                    lsum[p] += out.a_max;
                }
                cnt++;
            }
            if (per_layer) {
                printf("%8d %5d", B, ly);
                for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++)
                    printf(" %14.3f", lsum[p] / (double)samples);
                printf("\n");
            }
        }
        printf("%8d", B);
        if (per_layer) printf(" %5s", "all");
        for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++)
            printf(" %14.3f", cnt ? sum[p] / cnt : 0.0);
        printf("\n");
    }
done:
    mem_free(ids);
    mem_free(pool_n);
    mem_free(pool_off);
    mem_free(pool);
    mem_free(blk_n);
    mem_free(blk_off);
    mem_free(blk);
    mem_free(perm);
    actsched_free(&ws);
    actsched_output_free(&out);
    trace_free(&t);
    layout_free(&l);
    return ret;
}
