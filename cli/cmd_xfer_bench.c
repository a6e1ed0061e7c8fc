// janus xfer-bench: the attention <-> MoE exchange of one MoE layer measured alone (no model,
// no expert compute) beside the calibrated cost model's prediction and the adaptive choice
// (issue 18 item 3; SPEC §4, docs/PROTOCOL.md "Measured exchange"). Runs under mpirun with
// n_a + n_e ranks (`mpirun -n 2 janus xfer-bench --attn 1 --moe 1`): per batch size B and
// scheme, R repetitions of I layer exchanges, median time per layer (slowest rank), then one
// checked exchange per cell (exact values). Prints numbers; asserts no speed.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "opts.h"

#include "base/clock.h"
#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "comm/topo.h"
#include "comm/xfer.h"
#include "comm/xfer_cost.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD           "xfer-bench"
#define XB_MAX_BATCH  16
#define XB_MAX_REPS   64
#define XB_WARMUP     3
#define XB_AUTO_BYTES (8.0 * 1048576) // default iterations: about this many dispatch bytes

struct xb_opts {
    int64_t n_attn, n_moe, node_size, d, reps, iters;
    int32_t batches[XB_MAX_BATCH];
    int n_batches;
    const char *schemes, *comm_cost;
    int no_calibrate;
};

static const char *const synopsis =
    "xfer-bench --attn N --moe M [--node-size K] [--batch LIST] [--comm LIST] [--d D]\n"
    "                   [--reps R] [--iters I] [--comm-cost SPEC] [--no-calibrate]\n"
    "       (under mpirun with N+M ranks, e.g. mpirun -n 2 janus xfer-bench --attn 1 --moe 1)\n"
    "\n"
    "Times the exchange of one MoE layer (dispatch of B rows of D floats to every MoE\n"
    "instance and the return of the summed partial rows) with no compute in between, per\n"
    "batch size and scheme: R repetitions of I exchanges each, median seconds per layer of\n"
    "the slowest rank. Beside it the cost model's prediction from the start-up calibration\n"
    "(the worker's ping-pong, then --comm-cost overrides) and, per B, the scheme the\n"
    "adaptive choice picks with its regret against the best measured scheme. Each cell ends\n"
    "with one exchange of exact values that every rank checks (check=ok, else exit 1).\n"
    "Lines: 'xfer B= scheme= measured_us= min_us= pred_us= err_pct= iters=' and\n"
    "'choice B= chosen= best= regret_pct= check='.\n";

static int parse_args(int argc, char **argv, struct xb_opts *o, int want_help) {
    *o = (struct xb_opts){.node_size = 0, .d = 2048, .reps = 5, .iters = 0, .schemes = NULL};
    struct cli_list batches = {o->batches, XB_MAX_BATCH, 0};
    const struct cli_opt opts[] = {
        CLI_OPT_I64("attn", 0, &o->n_attn, 1, LIMIT_MAX_INSTANCES, "N", "attention instances"),
        CLI_OPT_I64("moe", 0, &o->n_moe, 1, LIMIT_MAX_INSTANCES, "M", "MoE instances"),
        CLI_OPT_I64("node-size", 0, &o->node_size, 0, LIMIT_MAX_INSTANCES, "K",
                    "instances per emulated node; 0 (default) groups by real host"),
        CLI_OPT_LIST("batch", 0, &batches, 1, LIMIT_MAX_BATCH, "LIST",
                     "batch sizes B (default 1,4,16,64,256), split evenly over attention"),
        CLI_OPT_STR("comm", 0, &o->schemes, "LIST", "schemes (default 1pc,2pc1,2pc2)"),
        CLI_OPT_I64("d", 0, &o->d, 1, 1 << 20, "D", "floats per row, n_embd (default 2048)"),
        CLI_OPT_I64("reps", 0, &o->reps, 1, XB_MAX_REPS, "R",
                    "repetitions for the median (default 5)"),
        CLI_OPT_I64("iters", 0, &o->iters, 1, 1 << 20, "I",
                    "layer exchanges per repetition (default: ~8 MiB dispatched, 4..64)"),
        CLI_OPT_STR("comm-cost", 0, &o->comm_cost, "SPEC",
                    "cost overrides after calibration (cross_lat_us=..,cross_gbps=..)"),
        CLI_OPT_FLAG("no-calibrate", 0, &o->no_calibrate,
                     "skip the start-up ping-pong (defaults + --comm-cost)"),
        CLI_OPT_END};
    if (want_help) {
        cli_opts_help(stdout, synopsis, opts, NULL);
        return 0;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    o->n_batches = batches.n;
    if (!batches.n) {
        const int32_t def[] = {1, 4, 16, 64, 256};
        memcpy(o->batches, def, sizeof def);
        o->n_batches = 5;
    }
    if (!o->n_attn || !o->n_moe) return cli_error(CMD, "--attn N and --moe M are required");
    return 0;
}

// "1pc,2pc2" -> scheme list; 1 after printing the error.
static int parse_schemes(const char *s, int32_t *out, int *n) {
    *n = 0;
    if (!s) {
        for (int32_t k = 0; k < XFER_N_SCHEMES; k++)
            out[(*n)++] = k;
        return 0;
    }
    char buf[64];
    if (strlen(s) >= sizeof buf) return cli_error(CMD, "--comm: list too long");
    memcpy(buf, s, strlen(s) + 1);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int32_t v;
        int dup = 0;
        if (*n >= XFER_N_SCHEMES || xfer_scheme_parse(tok, &v) != JANUS_OK)
            return cli_error(CMD, "--comm: '%s' is not one of 1pc, 2pc1, 2pc2 (each once)", tok);
        for (int k = 0; k < *n; k++)
            dup |= out[k] == v;
        if (dup) return cli_error(CMD, "--comm: '%s' given twice", tok);
        out[(*n)++] = v;
    }
    return *n ? 0 : cli_error(CMD, "--comm: empty list");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float x_val(int32_t i, int64_t r, int64_t c) { return (float)((131 * i + 7 * r + c) % 97); }

// One layer exchange of this rank's role. x: attention input; xall/part: MoE buffers.
static int exchange(struct xfer *x, int32_t layer, const float *xi, float *out, float *xall,
                    float *part, int fill_part) {
    int rc;
    if (x->t->role == TOPO_ROLE_ATTN) {
        rc = xfer_attn_send(x, layer, xi);
        if (rc == JANUS_OK) rc = xfer_attn_recv(x, layer, out);
        return rc;
    }
    rc = xfer_moe_recv(x, layer, xall);
    if (rc == JANUS_OK && fill_part) memcpy(part, xall, (size_t)(x->n_rows * x->d) * sizeof *part);
    if (rc == JANUS_OK) rc = xfer_moe_send(x, layer, part);
    return rc;
}

// The checked exchange: MoE instances see exactly every instance's rows; attention instance
// i gets n_e times its rows (each MoE instance returns x itself). Returns wrong values here.
static int64_t checked(struct xfer *x, float *xi, float *out, float *xall, float *part, int *rc) {
    const struct topo *t = x->t;
    int64_t d = x->d, bad = 0;
    if (t->role == TOPO_ROLE_ATTN) {
        for (int64_t r = 0; r < x->b[t->inst]; r++)
            for (int64_t c = 0; c < d; c++)
                xi[r * d + c] = x_val(t->inst, r, c);
    }
    *rc = exchange(x, 1, xi, out, xall, part, 1);
    if (*rc != JANUS_OK) return 0;
    int32_t n_e = t->side[TOPO_ROLE_MOE].n_inst;
    if (t->role == TOPO_ROLE_ATTN) {
        for (int64_t r = 0; r < x->b[t->inst]; r++)
            for (int64_t c = 0; c < d; c++)
                bad += out[r * d + c] != (float)n_e * x_val(t->inst, r, c);
    } else {
        for (int32_t i = 0; i < t->side[TOPO_ROLE_ATTN].n_inst; i++)
            for (int64_t r = 0; r < x->b[i]; r++)
                for (int64_t c = 0; c < d; c++)
                    bad += xall[(x->off[i] + r) * d + c] != x_val(i, r, c);
    }
    return bad;
}

static int run(const struct xb_opts *o, const int32_t *schemes, int n_schemes, int me) {
    struct topo t;
    memset(&t, 0, sizeof t);
    int rc =
        topo_init(&t, MPI_COMM_WORLD, (int32_t)o->n_attn, (int32_t)o->n_moe, (int32_t)o->node_size);
    if (rc) return cli_error(CMD, "topology: %s", janus_strerror(rc));
    struct xfer_cost cost;
    xfer_cost_default(&cost);
    char err[JANUS_ERR_LEN] = "";
    if (!o->no_calibrate) rc = xfer_cost_calibrate(&cost, &t);
    if (rc == JANUS_OK && o->comm_cost)
        rc = xfer_cost_override(&cost, o->comm_cost, err, sizeof err);
    if (rc) {
        if (me == 0) cli_error(CMD, "cost model: %s", err[0] ? err : janus_strerror(rc));
        topo_free(&t);
        return 1;
    }
    int64_t max_b = 0, d = o->d;
    for (int k = 0; k < o->n_batches; k++)
        max_b = o->batches[k] > max_b ? o->batches[k] : max_b;
    int64_t max_local = (max_b + o->n_attn - 1) / o->n_attn;
    struct xfer x;
    rc = xfer_init(&x, &t, d, max_local);
    float *xi = NULL, *out = NULL, *xall = NULL, *part = NULL;
    if (rc == JANUS_OK) {
        xi = mem_calloc(MEM_TAG_COMM, (size_t)(max_local * d), sizeof *xi);
        out = mem_calloc(MEM_TAG_COMM, (size_t)(max_local * d), sizeof *out);
        xall = mem_calloc(MEM_TAG_COMM, (size_t)(max_b * d), sizeof *xall);
        part = mem_calloc(MEM_TAG_COMM, (size_t)(max_b * d), sizeof *part);
        if (!xi || !out || !xall || !part) rc = JANUS_ENOMEM;
    }
    int fail = rc != JANUS_OK, any = 0;
    if (fail) cli_error(CMD, "rank %d: buffers: %s", me, janus_strerror(rc));
    // Every rank learns of a failure here, so that none waits in the exchange alone.
    if (MPI_Allreduce(&fail, &any, 1, MPI_INT, MPI_MAX, t.comm) != MPI_SUCCESS || any) fail = 1;
    const struct topo_side *A = &t.side[TOPO_ROLE_ATTN], *M = &t.side[TOPO_ROLE_MOE];
    int64_t rb = d * (int64_t)sizeof(float);
    // The host of every rank (MPI_Get_processor_name), so a sweep can check its placement.
    char *names = NULL, host[MPI_MAX_PROCESSOR_NAME + 1] = "";
    int host_len = 0;
    if (!fail && MPI_Get_processor_name(host, &host_len) != MPI_SUCCESS) host[0] = 0;
    int have = 1; // rank 0 got its buffer (else nobody gathers)
    if (!fail && me == 0) {
        names = mem_calloc(MEM_TAG_COMM, (size_t)t.n_ranks, sizeof host);
        have = names != NULL;
    }
    if (!fail && MPI_Bcast(&have, 1, MPI_INT, 0, t.comm) != MPI_SUCCESS) fail = 1;
    if (!fail && have &&
        MPI_Gather(host, (int)sizeof host, MPI_CHAR, names, (int)sizeof host, MPI_CHAR, 0,
                   t.comm) != MPI_SUCCESS)
        fail = 1;
    if (me == 0 && !fail && names) {
        printf("# hosts:");
        for (int32_t r = 0; r < t.n_ranks; r++)
            printf(" %d=%s", r, names + (size_t)r * sizeof host);
        printf("\n");
    }
    if (me == 0) mem_free(names);
    if (me == 0 && !fail) {
        printf("# xfer-bench: %d attention (%d nodes) + %d MoE (%d nodes), node size %d, "
               "d %lld (%lld B/row), reps %lld\n",
               A->n_inst, A->n_node, M->n_inst, M->n_node, t.node_size, (long long)d, (long long)rb,
               (long long)o->reps);
        printf("calibration cross_lat_us=%.3f cross_gbps=%.3f local_lat_us=%.3f "
               "local_gbps=%.3f%s\n",
               cost.lat_s[XFER_LINK_CROSS] * 1e6, 1e-9 / cost.byte_s[XFER_LINK_CROSS],
               cost.lat_s[XFER_LINK_LOCAL] * 1e6, 1e-9 / cost.byte_s[XFER_LINK_LOCAL],
               o->no_calibrate ? " (not calibrated)" : "");
        fflush(stdout);
    }
    for (int k = 0; k < o->n_batches && !fail; k++) {
        struct wire_step st = {.n_attn = A->n_inst};
        int64_t B = o->batches[k];
        for (int32_t i = 0; i < A->n_inst; i++)
            st.b[i] = (int32_t)(B / A->n_inst + (i < B % A->n_inst));
        int64_t iters = o->iters;
        if (!iters) {
            iters = (int64_t)(XB_AUTO_BYTES / (double)(B * rb));
            iters = iters < 4 ? 4 : iters > 64 ? 64 : iters;
        }
        double med[XFER_N_SCHEMES] = {0}, lo[XFER_N_SCHEMES] = {0}, pred[XFER_N_SCHEMES];
        double samples[XFER_N_SCHEMES][XB_MAX_REPS];
        int32_t chosen = xfer_choose(&cost, &t, st.b, rb, pred);
        int64_t bad = 0;
        // Repetitions outermost, schemes inside: slow phases of a shared host hit all schemes.
        for (int64_t r = -1; r < o->reps && !fail; r++) {
            for (int s = 0; s < n_schemes && !fail; s++) {
                st.scheme = schemes[s];
                rc = xfer_step(&x, &st);
                int64_t n = r < 0 ? XB_WARMUP : iters;
                if (rc == JANUS_OK && MPI_Barrier(t.comm) != MPI_SUCCESS) rc = JANUS_ECOMM;
                double t0 = clock_now_s();
                for (int64_t it = 0; it < n && rc == JANUS_OK; it++)
                    rc = exchange(&x, (int32_t)(it % 4), xi, out, xall, part, 0);
                double el = clock_now_s() - t0, mx = 0;
                if (rc == JANUS_OK &&
                    MPI_Allreduce(&el, &mx, 1, MPI_DOUBLE, MPI_MAX, t.comm) != MPI_SUCCESS)
                    rc = JANUS_ECOMM;
                if (rc) {
                    cli_error(CMD, "rank %d: exchange failed: %s", me, janus_strerror(rc));
                    fail = 1;
                    break;
                }
                if (r >= 0) samples[schemes[s]][r] = mx / (double)n;
                if (r == o->reps - 1) bad += checked(&x, xi, out, xall, part, &rc);
                if (rc) fail = 1;
            }
        }
        if (fail) break;
        int64_t bad_all = 0;
        if (MPI_Allreduce(&bad, &bad_all, 1, MPI_INT64_T, MPI_SUM, t.comm) != MPI_SUCCESS) {
            fail = 1;
            break;
        }
        int32_t best = schemes[0];
        for (int s = 0; s < n_schemes; s++) {
            int32_t sc = schemes[s];
            qsort(samples[sc], (size_t)o->reps, sizeof(double), cmp_double);
            med[sc] = samples[sc][o->reps / 2];
            if (!(o->reps & 1)) med[sc] = 0.5 * (med[sc] + samples[sc][o->reps / 2 - 1]);
            lo[sc] = samples[sc][0];
            if (med[sc] < med[best]) best = sc;
        }
        if (me == 0) {
            for (int s = 0; s < n_schemes; s++) {
                int32_t sc = schemes[s];
                printf("xfer B=%lld scheme=%s measured_us=%.2f min_us=%.2f pred_us=%.2f "
                       "err_pct=%.1f iters=%lld\n",
                       (long long)B, xfer_scheme_name(sc), med[sc] * 1e6, lo[sc] * 1e6,
                       pred[sc] * 1e6, 100.0 * (pred[sc] - med[sc]) / med[sc], (long long)iters);
            }
            int chosen_timed = 0;
            for (int s = 0; s < n_schemes; s++)
                chosen_timed |= schemes[s] == chosen;
            if (chosen_timed)
                printf("choice B=%lld chosen=%s best=%s regret_pct=%.1f check=%s\n", (long long)B,
                       xfer_scheme_name(chosen), xfer_scheme_name(best),
                       100.0 * (med[chosen] - med[best]) / med[best], bad_all ? "FAIL" : "ok");
            else
                printf("choice B=%lld chosen=%s best=%s regret_pct=nan check=%s\n", (long long)B,
                       xfer_scheme_name(chosen), xfer_scheme_name(best), bad_all ? "FAIL" : "ok");
            fflush(stdout);
        }
        if (bad_all) {
            if (me == 0)
                cli_error(CMD, "B=%lld: %lld values wrong after the exchange", (long long)B,
                          (long long)bad_all);
            fail = 1;
        }
    }
    mem_free(xi);
    mem_free(out);
    mem_free(xall);
    mem_free(part);
    xfer_free(&x);
    topo_free(&t);
    return fail;
}

int cmd_xfer_bench(int argc, char **argv) {
    struct xb_opts o;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return parse_args(argc, argv, &o, 1);
    if (parse_args(argc, argv, &o, 0)) return 1;
    int32_t schemes[XFER_N_SCHEMES];
    int n_schemes = 0;
    if (parse_schemes(o.schemes, schemes, &n_schemes)) return 1;
    if (o.n_attn + o.n_moe > LIMIT_MAX_INSTANCES)
        return cli_error(CMD, "--attn + --moe must be at most %d", LIMIT_MAX_INSTANCES);
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return cli_error(CMD, "MPI_Init failed");
    int me = 0, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != o.n_attn + o.n_moe) {
        if (me == 0)
            cli_error(CMD, "needs --attn + --moe = %lld ranks, mpirun started %d",
                      (long long)(o.n_attn + o.n_moe), size);
        MPI_Finalize();
        return 1;
    }
    int fail = run(&o, schemes, n_schemes, me);
    int any = 0;
    MPI_Allreduce(&fail, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
