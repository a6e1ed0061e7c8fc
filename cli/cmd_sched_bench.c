// janus sched-bench: a_max and nanoseconds per call of every activation-scheduler policy
// (SPEC §5 budget) over a sweep of batch size, expert count, instance count, top-k and
// replication share. Each configuration: Zipf(1) expert popularity over a random
// permutation, replica counts by replicate_counts, placement by placement_janus (no
// co-activation), 16 routing batches sampled from the popularity; every call is timed
// alone (clock_now_ns, per-token rewrite included) and the median is printed. One thread.
// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actsched/actsched.h"
#include "base/clock.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "cli.h"
#include "opts.h"
#include "place/layout.h"
#include "place/place.h"
#include "place/trace.h"

#define N_INPUTS 16

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int cmd_sched_bench(int argc, char **argv) {
    const char *cmd = argv[0];
    int32_t batches[32] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
    int32_t experts[16] = {64, 128, 160, 256}, insts[16] = {4, 8, 16, 32}, topks[8] = {6, 8};
    int32_t repls[16] = {0, 12, 25, 50};
    struct cli_list lb = {batches, 32, 13}, le = {experts, 16, 4}, li = {insts, 16, 4},
                    lk = {topks, 8, 2}, lr = {repls, 16, 4};
    int64_t calls = 200, seed = 1;
    double zipf = 1.0;
    const struct cli_opt opts[] = {
        CLI_OPT_LIST("batches", 0, &lb, 1, 65536, "LIST",
                     "default 1,2,4,8,16,32,64,128,256,512,1024,2048,4096"),
        CLI_OPT_LIST("experts", 0, &le, 1, 1024, "LIST", "default 64,128,160,256"),
        CLI_OPT_LIST("instances", 0, &li, 1, 1024, "LIST", "default 4,8,16,32"),
        CLI_OPT_LIST("topk", 0, &lk, 1, 64, "LIST", "default 6,8"),
        CLI_OPT_LIST("repl", 0, &lr, 0, 10000, "LIST",
                     "extra slots in % of the expert count, default 0,12,25,50"),
        CLI_OPT_I64("calls", 0, &calls, 1, 100000000, "N",
                    "timed calls per (configuration, policy), default 200"),
        CLI_OPT_F64("zipf", 0, &zipf, 0, 10, "X", "popularity skew, default 1.0"),
        CLI_OPT_I64("seed", 0, &seed, 0, 9e18, "N", "default 1"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(
            stdout, "sched-bench [options]", opts,
            "Columns per policy: mean a_max over the 16 inputs and median ns per call.\n");
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 1;
    const int nb = lb.n, ne = le.n, ni = li.n, nk = lk.n, nr = lr.n;
    int32_t bmax = 1, emax = 1, nmax = 1, kmax = 1;
    for (int i = 0; i < nb; i++)
        bmax = batches[i] > bmax ? batches[i] : bmax;
    for (int i = 0; i < ne; i++)
        emax = experts[i] > emax ? experts[i] : emax;
    for (int i = 0; i < ni; i++)
        nmax = insts[i] > nmax ? insts[i] : nmax;
    for (int i = 0; i < nk; i++)
        kmax = topks[i] > kmax ? topks[i] : kmax;
    struct actsched_limits lim = {bmax, emax, nmax, kmax};
    struct actsched_ws ws = {0};
    struct actsched_output out = {0};
    int ret = 0;
    int32_t *ids = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * N_INPUTS * (size_t)bmax * kmax);
    int64_t *ns = mem_alloc(MEM_TAG_SCHED, sizeof(int64_t) * (size_t)calls);
    double *w = mem_alloc(MEM_TAG_SCHED, sizeof(double) * (size_t)emax);
    double *cdf = mem_alloc(MEM_TAG_SCHED, sizeof(double) * (size_t)emax);
    int32_t *counts = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)emax);
    int32_t *slots = NULL;
    if (!ids || !ns || !w || !cdf || !counts || actsched_init(&ws, &lim) ||
        actsched_output_init(&out, &lim)) {
        ret = cli_error(cmd, "out of memory");
        goto done;
    }
    printf("# sched-bench: zipf %.2f, %lld timed calls per cell, median ns per call (per-token "
           "rewrite included), mean a_max over %d inputs\n",
           zipf, (long long)calls, N_INPUTS);
    printf("%4s %4s %2s %4s %3s %5s", "E", "n", "k", "rep%", "C", "B");
    for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++)
        printf(" %16s", actsched_policy_name((enum actsched_policy)p));
    printf("\n");
    for (int ie = 0; ie < ne; ie++)
        for (int ik = 0; ik < nk; ik++) {
            int32_t E = experts[ie], k = topks[ik];
            if (k > E) continue;
            // Popularity: Zipf over a seeded permutation.
            struct rng r;
            rng_init3(&r, (uint64_t)seed, (uint64_t)E, (uint64_t)k);
            int32_t perm[1024];
            for (int32_t e = 0; e < E; e++)
                perm[e] = e;
            for (int32_t e = E - 1; e > 0; e--) {
                int32_t j = (int32_t)rng_below(&r, (uint32_t)(e + 1)), t = perm[e];
                perm[e] = perm[j];
                perm[j] = t;
            }
            for (int32_t e = 0; e < E; e++)
                w[perm[e]] = pow(e + 1.0, -zipf);
            if (trace_sample_tokens(&r, w, E, k, (int64_t)N_INPUTS * bmax, cdf, ids)) {
                ret = cli_error(cmd, "sampling failed");
                goto done;
            }
            for (int in_ = 0; in_ < ni; in_++)
                for (int ir = 0; ir < nr; ir++) {
                    int32_t n = insts[in_];
                    int32_t C =
                        (int32_t)((E * (100 + (int64_t)repls[ir]) + 100LL * n - 1) / (100LL * n));
                    if (C < 1) C = 1;
                    struct layout l;
                    if (layout_init(&l, 1, n, C, E)) {
                        ret = cli_error(cmd, "bad configuration E=%d n=%d C=%d", E, n, C);
                        goto done;
                    }
                    mem_free(slots);
                    slots = mem_alloc(MEM_TAG_SCHED, sizeof(int32_t) * (size_t)n * C);
                    char err[JANUS_ERR_LEN];
                    struct placement_input pin = {E, n, C, counts, w, NULL, NULL};
                    if (!slots || replicate_counts(E, w, NULL, n, C, counts, err, sizeof err) ||
                        placement_janus(&pin, slots, NULL, err, sizeof err) ||
                        layout_set_layer_slots(&l, 0, slots, NULL, err, sizeof err)) {
                        layout_free(&l);
                        ret = cli_error(cmd, "layout for E=%d n=%d C=%d failed", E, n, C);
                        goto done;
                    }
                    for (int ib = 0; ib < nb; ib++) {
                        int32_t B = batches[ib];
                        printf("%4d %4d %2d %4d %3d %5d", E, n, k, repls[ir], C, B);
                        for (int p = 0; p < ACTSCHED_POLICY_COUNT; p++) {
                            double amax = 0;
                            for (int x = 0; x < N_INPUTS; x++) {
                                struct actsched_input in = {
                                    &l.layers[0], ids + (size_t)x * bmax * k, B, k, x, 0, 1};
                                if (actsched_run(&ws, (enum actsched_policy)p, &in, &out)) {
                                    layout_free(&l);
                                    ret = cli_error(cmd, "scheduler failed");
                                    goto done;
                                }
                                amax += out.a_max;
                            }
                            for (int64_t c = 0; c < calls; c++) {
                                int x = (int)(c % N_INPUTS);
                                struct actsched_input in = {
                                    &l.layers[0], ids + (size_t)x * bmax * k, B, k, c, 0, 1};
                                int64_t t0 = clock_now_ns();
                                int rc = actsched_run(&ws, (enum actsched_policy)p, &in, &out);
                                ns[c] = clock_now_ns() - t0;
                                if (rc) {
                                    layout_free(&l);
                                    ret = cli_error(cmd, "scheduler failed");
                                    goto done;
                                }
                            }
                            qsort(ns, (size_t)calls, sizeof *ns, cmp_i64);
                            printf(" %6.2f %9lld", amax / N_INPUTS, (long long)ns[calls / 2]);
                        }
                        printf("\n");
                        fflush(stdout);
                    }
                    layout_free(&l);
                }
        }
done:
    mem_free(ids);
    mem_free(ns);
    mem_free(w);
    mem_free(cdf);
    mem_free(counts);
    mem_free(slots);
    actsched_free(&ws);
    actsched_output_free(&out);
    return ret;
}
