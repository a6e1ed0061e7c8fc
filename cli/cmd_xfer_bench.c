// janus xfer-bench: the attention <-> MoE exchange of one MoE layer measured alone (no model,
// no expert compute) beside the calibrated cost model's prediction and the adaptive choice
// (issue 18 item 3; SPEC §4, docs/PROTOCOL.md "Measured exchange"). Runs under mpirun with
// n_a + n_e ranks (`mpirun -n 2 janus xfer-bench --attn 1 --moe 1`): per batch size B,
// dispatch mode and scheme, R repetitions of I layer exchanges, median time per layer
// (slowest rank), then one checked exchange per cell (exact values, counted bytes). Selective
// cells run the worker's own selective layer (step_sel_route: routing exchange, schedule on
// the round-robin layout, plan) on synthetic uniform routing. Prints numbers; asserts no speed.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "opts.h"

#include "actsched/actsched.h"
#include "base/clock.h"
#include "base/limits.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "comm/topo.h"
#include "comm/xfer.h"
#include "comm/xfer_cost.h"
#include "place/layout.h"
#include "place/round_robin.h"
#include "runtime/step.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD           "xfer-bench"
#define XB_MAX_BATCH  16
#define XB_MAX_REPS   64
#define XB_WARMUP     3
#define XB_AUTO_BYTES (8.0 * 1048576) // default iterations: about this many dispatch bytes
#define XB_N_ROUTES   4               // synthetic routings per B, used in turn

struct xb_opts {
    int64_t n_attn, n_moe, node_size, d, reps, iters, n_expert, top_k, seed;
    int32_t batches[XB_MAX_BATCH];
    int n_batches;
    const char *schemes, *comm_cost;
    int no_calibrate;
    int32_t modes; // bit m: dispatch mode m (enum xfer_mode) is timed
};

static const char *const synopsis =
    "xfer-bench --attn N --moe M [--node-size K] [--batch LIST] [--comm LIST] [--d D]\n"
    "                   [--dispatch broadcast|selective|both] [--experts E] [--top-k K]\n"
    "                   [--seed S] [--reps R] [--iters I] [--comm-cost SPEC] [--no-calibrate]\n"
    "       (under mpirun with N+M ranks, e.g. mpirun -n 2 janus xfer-bench --attn 1 --moe 1)\n"
    "\n"
    "Times the exchange of one MoE layer with no compute in between, per batch size, dispatch\n"
    "mode and scheme: R repetitions of I exchanges each, median seconds per layer of the\n"
    "slowest rank. Broadcast: B rows of D floats to every MoE instance and the summed partial\n"
    "rows back. Selective: per layer the worker's routing exchange, activation schedule\n"
    "(greedy, round-robin layout with the default slots) and plan, then only the rows each\n"
    "instance needs, and back each row's fixed-order row units (return_rows per row: the\n"
    "fold of its leading experts plus one row per later expert; comm/xfer.h); routing is\n"
    "synthetic: per row K distinct experts of E drawn uniformly,\n"
    "seeded, the same on every rank (4 routings per B, used in turn). Beside each time the\n"
    "cost model's prediction from the start-up calibration (the worker's ping-pong, then\n"
    "--comm-cost overrides), per mode the scheme the adaptive choice picks and, with both\n"
    "modes, the (scheme, mode) pair, each with its regret against the best measured. Each\n"
    "cell ends with one exchange of exact values that every rank checks (check=ok, else exit\n"
    "1); its bytes (all ranks, both directions, routing included) are printed.\n"
    "Lines: 'xfer B= scheme= mode= measured_us= min_us= pred_us= err_pct= iters= route_us=\n"
    "bytes= cross_bytes= fanout= fanout_model= return_rows=', 'choice B= mode= chosen= best=\n"
    "regret_pct= check=' and 'pair B= chosen=SCHEME/MODE best= regret_pct= check='.\n";

static int opt_dispatch(void *target, const char *v, const char *cmd) {
    int32_t m;
    if (!strcmp(v, "both"))
        *(int32_t *)target = (1 << XFER_MODE_BROADCAST) | (1 << XFER_MODE_SELECTIVE);
    else if (xfer_mode_parse(v, &m) == JANUS_OK)
        *(int32_t *)target = 1 << m;
    else
        return cli_error(cmd, "--dispatch: unknown '%s' (broadcast, selective, both)", v);
    return 0;
}

static int parse_args(int argc, char **argv, struct xb_opts *o, int want_help) {
    *o = (struct xb_opts){.node_size = 0,
                          .d = 2048,
                          .reps = 5,
                          .iters = 0,
                          .n_expert = 32,
                          .top_k = 4,
                          .seed = 1,
                          .schemes = NULL,
                          .modes = (1 << XFER_MODE_BROADCAST) | (1 << XFER_MODE_SELECTIVE)};
    struct cli_list batches = {o->batches, XB_MAX_BATCH, 0};
    const struct cli_opt opts[] = {
        CLI_OPT_I64("attn", 0, &o->n_attn, 1, LIMIT_MAX_INSTANCES, "N", "attention instances"),
        CLI_OPT_I64("moe", 0, &o->n_moe, 1, LIMIT_MAX_INSTANCES, "M", "MoE instances"),
        CLI_OPT_I64("node-size", 0, &o->node_size, 0, LIMIT_MAX_INSTANCES, "K",
                    "instances per emulated node; 0 (default) groups by real host"),
        CLI_OPT_LIST("batch", 0, &batches, 1, LIMIT_MAX_BATCH, "LIST",
                     "batch sizes B (default 1,4,16,64,256), split evenly over attention"),
        CLI_OPT_STR("comm", 0, &o->schemes, "LIST", "schemes (default 1pc,2pc1,2pc2)"),
        CLI_OPT_FN("dispatch", 0, opt_dispatch, &o->modes, "D",
                   "dispatch modes timed: broadcast, selective or both (default)"),
        CLI_OPT_I64("experts", 0, &o->n_expert, 1, LIMIT_MAX_EXPERTS, "E",
                    "selective: experts per layer (default 32)"),
        CLI_OPT_I64("top-k", 0, &o->top_k, 1, LIMIT_MAX_EXPERT_USED, "K",
                    "selective: experts per row (default 4)"),
        CLI_OPT_I64("seed", 0, &o->seed, 0, 9e18, "S", "selective: routing seed (default 1)"),
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
    if (o->top_k > o->n_expert)
        return cli_error(CMD, "--top-k %lld exceeds --experts %lld", (long long)o->top_k,
                         (long long)o->n_expert);
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

// Median of n samples (sorted in place).
static double median(double *v, int64_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n & 1 ? v[n / 2] : 0.5 * (v[n / 2] + v[n / 2 - 1]);
}

static float x_val(int32_t i, int64_t r, int64_t c) { return (float)((131 * i + 7 * r + c) % 97); }

// Selective dispatch: the synthetic routings and what the worker holds to schedule them.
struct xb_sel {
    int32_t k, E;
    uint64_t seed;
    int64_t max_b;
    struct layout ly; // the round-robin default layout, one MoE layer
    struct actsched_ws ws;
    struct actsched_output so;
    int32_t *ids;     // (XB_N_ROUTES, max_b, k) routings of the current B
    float *w;         // (XB_N_ROUTES, max_b, k) their weights
    int32_t *ids_all; // (max_b, k) the step's routing after the routing exchange
    float *w_all;
    int32_t *perm; // (E) scratch
};

static void sel_free(struct xb_sel *s) {
    layout_free(&s->ly);
    actsched_free(&s->ws);
    actsched_output_free(&s->so);
    mem_free(s->ids);
    mem_free(s->w);
    mem_free(s->ids_all);
    mem_free(s->w_all);
    mem_free(s->perm);
}

static int sel_init(struct xb_sel *s, const struct xb_opts *o, int64_t max_b, char *err,
                    size_t err_len) {
    memset(s, 0, sizeof *s);
    s->k = (int32_t)o->top_k;
    s->E = (int32_t)o->n_expert;
    s->seed = (uint64_t)o->seed;
    s->max_b = max_b;
    const uint8_t is_moe = 1;
    int32_t n_e = (int32_t)o->n_moe;
    int rc = round_robin_layout(&s->ly, 1, &is_moe, n_e, round_robin_default_slots(s->E, n_e), s->E,
                                err, err_len);
    if (rc) return rc;
    struct actsched_limits lim = {max_b, s->E, n_e, s->k};
    rc = actsched_init(&s->ws, &lim);
    if (!rc) rc = actsched_output_init(&s->so, &lim);
    size_t n = (size_t)(max_b * s->k);
    s->ids = mem_calloc(MEM_TAG_COMM, XB_N_ROUTES * n, sizeof *s->ids);
    s->w = mem_calloc(MEM_TAG_COMM, XB_N_ROUTES * n, sizeof *s->w);
    s->ids_all = mem_calloc(MEM_TAG_COMM, n, sizeof *s->ids_all);
    s->w_all = mem_calloc(MEM_TAG_COMM, n, sizeof *s->w_all);
    s->perm = mem_calloc(MEM_TAG_COMM, (size_t)s->E, sizeof *s->perm);
    if (!rc && (!s->ids || !s->w || !s->ids_all || !s->w_all || !s->perm)) rc = JANUS_ENOMEM;
    if (rc) snprintf(err, err_len, "selective set-up: %s", janus_strerror(rc));
    return rc;
}

// The XB_N_ROUTES routings of a step of B rows (node-major order), the same on every rank:
// per row k distinct experts of E, uniformly (a partial Fisher-Yates shuffle from the
// identity), weights uniform in [0, 1); stream (seed, B, routing).
static void sel_routings(struct xb_sel *s, int64_t B) {
    for (int32_t q = 0; q < XB_N_ROUTES; q++) {
        struct rng r;
        rng_init3(&r, s->seed, (uint64_t)B, (uint64_t)q);
        for (int32_t e = 0; e < s->E; e++)
            s->perm[e] = e;
        int32_t *ids = s->ids + (size_t)q * (size_t)(s->max_b * s->k);
        float *w = s->w + (size_t)q * (size_t)(s->max_b * s->k);
        for (int64_t t = 0; t < B; t++)
            for (int32_t j = 0; j < s->k; j++) {
                int32_t p = j + (int32_t)rng_below(&r, (uint32_t)(s->E - j)), tmp = s->perm[j];
                s->perm[j] = s->perm[p];
                s->perm[p] = tmp;
                ids[t * s->k + j] = s->perm[j];
                w[t * s->k + j] = rng_uniform_f(&r);
            }
    }
}

// The selective part of a layer before its exchange, as in the worker: routing q of this
// attention instance's rows to every rank, the schedule, the plan. Adds its seconds to *t.
static int sel_route(struct xfer *x, struct xb_sel *s, int32_t q, int64_t step, double *t) {
    const struct topo *tp = x->t;
    int is_attn = tp->role == TOPO_ROLE_ATTN;
    size_t mine =
        (size_t)q * (size_t)(s->max_b * s->k) + (is_attn ? (size_t)(x->off[tp->inst] * s->k) : 0);
    struct step_sel ss = {.ids = is_attn ? s->ids + mine : NULL,
                          .w = is_attn ? s->w + mine : NULL,
                          .ids_all = s->ids_all,
                          .w_all = s->w_all,
                          .ws = &s->ws,
                          .so = &s->so,
                          .policy = ACTSCHED_POLICY_GREEDY,
                          .in = {.layer = &s->ly.layers[0],
                                 .top_k = s->k,
                                 .step = step,
                                 .layer_id = 0,
                                 .seed = s->seed}};
    double t0 = clock_now_s();
    int rc = step_sel_route(x, &ss);
    *t += clock_now_s() - t0;
    return rc;
}

// 1 if MoE instance g runs an expert of row r of the current schedule.
static int row_need(const struct xb_sel *s, int64_t r, int32_t g) {
    const int32_t *ids = s->ids_all + r * s->k, *assign = s->so.assign;
    for (int32_t j = 0; j < s->k; j++)
        if (assign[ids[j]] == g) return 1;
    return 0;
}

// Row r's experts in increasing id (routing indices into ord), from the routing itself.
static void row_order(const struct xb_sel *s, int64_t r, int32_t *ord) {
    const int32_t *ids = s->ids_all + r * s->k;
    for (int32_t j = 0; j < s->k; j++) {
        int32_t i = j;
        for (; i > 0 && ids[ord[i - 1]] > ids[j]; i--)
            ord[i] = ord[i - 1];
        ord[i] = j;
    }
}

// One layer exchange of this rank's role. x: attention input; xall/part/single: MoE buffers.
static int exchange(struct xfer *x, int32_t layer, const float *xi, float *out, float *xall,
                    float *part, float *single, int fill_part) {
    int rc;
    if (x->t->role == TOPO_ROLE_ATTN) {
        rc = xfer_attn_send(x, layer, xi);
        if (rc == JANUS_OK) rc = xfer_attn_recv(x, layer, out);
        return rc;
    }
    rc = xfer_moe_recv(x, layer, xall);
    if (rc == JANUS_OK && fill_part) memcpy(part, xall, (size_t)(x->n_rows * x->d) * sizeof *part);
    if (rc == JANUS_OK) rc = xfer_moe_send(x, layer, part, single);
    return rc;
}

// The checked exchange. Broadcast: MoE instances see exactly every instance's rows and
// return them; attention instance i gets n_e times its rows. Selective (s != NULL): every
// rank holds exactly the generated routing after the routing exchange; each MoE instance
// sees exactly the rows of its experts (from the schedule, not from xfer's plan) and, as
// "expert output", returns the row itself for each of its experts (folded where the plan
// says, apart otherwise); attention gets, bit for bit, the row folded with every weight of
// its routing in increasing expert id. Returns the wrong values here.
static int64_t checked(struct xfer *x, struct xb_sel *s, float *xi, float *out, float *xall,
                       float *part, float *single, int *rc) {
    const struct topo *t = x->t;
    int64_t d = x->d, bad = 0, B = x->n_rows;
    int32_t n_e = t->side[TOPO_ROLE_MOE].n_inst, g = t->inst;
    if (t->role == TOPO_ROLE_ATTN) {
        for (int64_t r = 0; r < x->b[t->inst]; r++)
            for (int64_t c = 0; c < d; c++)
                xi[r * d + c] = x_val(t->inst, r, c);
    }
    if (!s) {
        *rc = exchange(x, 1, xi, out, xall, part, NULL, 1);
    } else {
        double dummy = 0;
        *rc = sel_route(x, s, 0, 0, &dummy);
        if (*rc != JANUS_OK) return 0;
        bad += memcmp(s->ids_all, s->ids, (size_t)(B * s->k) * sizeof *s->ids) != 0;
        bad += memcmp(s->w_all, s->w, (size_t)(B * s->k) * sizeof *s->w) != 0;
        if (t->role == TOPO_ROLE_ATTN) {
            *rc = xfer_attn_send(x, 1, xi);
            if (*rc == JANUS_OK) *rc = xfer_attn_recv(x, 1, out);
        } else {
            *rc = xfer_moe_recv(x, 1, xall);
            if (*rc != JANUS_OK) return 0;
            for (int32_t i = 0; i < t->side[TOPO_ROLE_ATTN].n_inst; i++)
                for (int64_t r = 0; r < x->b[i]; r++) {
                    int64_t row = x->off[i] + r;
                    int need = row_need(s, row, g);
                    for (int64_t c = 0; c < d; c++) {
                        bad += need && xall[row * d + c] != x_val(i, r, c);
                        part[row * d + c] = 0.0f;
                    }
                    int32_t ord[LIMIT_MAX_EXPERT_USED];
                    row_order(s, row, ord);
                    for (int32_t j = 0; j < s->k && need; j++) {
                        int32_t q = ord[j];
                        if (s->so.assign[s->ids_all[row * s->k + q]] != g) continue;
                        const float *y = xall + row * d;
                        if (x->fold[row * s->k + q])
                            x->axpy(part + row * d, s->w_all[row * s->k + q], y, d);
                        else
                            memcpy(single + (row * s->k + q) * d, y, (size_t)d * sizeof *y);
                    }
                }
            *rc = xfer_moe_send(x, 1, part, single);
        }
    }
    if (*rc != JANUS_OK) return 0;
    if (t->role == TOPO_ROLE_ATTN) {
        float *want = mem_calloc(MEM_TAG_COMM, (size_t)d, sizeof *want);
        if (!want) {
            *rc = JANUS_ENOMEM;
            return 0;
        }
        for (int64_t r = 0; r < x->b[t->inst]; r++) {
            int64_t row = x->off[t->inst] + r;
            for (int64_t c = 0; c < d; c++)
                want[c] = s ? 0.0f : (float)n_e * x_val(t->inst, r, c);
            if (s) {
                int32_t ord[LIMIT_MAX_EXPERT_USED];
                row_order(s, row, ord);
                for (int32_t j = 0; j < s->k; j++)
                    x->axpy(want, s->w_all[row * s->k + ord[j]], xi + r * d, d);
            }
            for (int64_t c = 0; c < d; c++)
                bad += out[r * d + c] != want[c];
        }
        mem_free(want);
    } else if (!s) {
        for (int32_t i = 0; i < t->side[TOPO_ROLE_ATTN].n_inst; i++)
            for (int64_t r = 0; r < x->b[i]; r++)
                for (int64_t c = 0; c < d; c++)
                    bad += xall[(x->off[i] + r) * d + c] != x_val(i, r, c);
    }
    return bad;
}

// Bytes this rank sent in (mode, scheme) so far: [0] all, [1] cross-node.
static void sent_bytes(const struct xfer *x, int32_t m, int32_t sc, uint64_t out[2]) {
    out[0] = out[1] = 0;
    for (int dir = 0; dir < XFER_N_DIRS; dir++)
        for (int l = 0; l < XFER_N_LINKS; l++) {
            out[0] += x->ctr.bytes[m][sc][dir][l];
            if (l == XFER_LINK_CROSS) out[1] += x->ctr.bytes[m][sc][dir][l];
        }
}

// Per B: the cells' results (mode, scheme).
struct xb_cells {
    double samples[XFER_N_MODES][XFER_N_SCHEMES][XB_MAX_REPS];
    double rsamples[XFER_N_MODES][XFER_N_SCHEMES][XB_MAX_REPS]; // selective route part
    double med[XFER_N_MODES][XFER_N_SCHEMES], lo[XFER_N_MODES][XFER_N_SCHEMES];
    double route[XFER_N_MODES][XFER_N_SCHEMES];
    double pred[XFER_N_MODES][XFER_N_SCHEMES];
    double fanout[XFER_N_MODES][XFER_N_SCHEMES];
    double ret_rows[XFER_N_MODES][XFER_N_SCHEMES];   // rows back per row (1PC count)
    uint64_t bytes[XFER_N_MODES][XFER_N_SCHEMES][2]; // this rank's, then the job's sum
    int64_t bad[XFER_N_MODES];                       // this rank's, then the job's sum
};

static int64_t auto_iters(const struct xb_opts *o, int64_t B, int64_t rb) {
    if (o->iters) return o->iters;
    int64_t iters = (int64_t)(XB_AUTO_BYTES / (double)(B * rb));
    return iters < 4 ? 4 : iters > 64 ? 64 : iters;
}

// Prints the cells of one B and the choices (rank 0).
static void report(const struct xb_opts *o, const struct topo *t, const struct xfer_cost *cost,
                   const struct wire_step *st, int64_t B, int64_t rb, const int32_t *schemes,
                   int n_schemes, struct xb_cells *c) {
    int32_t n_e = t->side[TOPO_ROLE_MOE].n_inst, k = (int32_t)o->top_k, E = (int32_t)o->n_expert;
    double q_model = xfer_cost_need_prob(k, E, 1, n_e) * n_e;
    int32_t bm = -1, bs = -1; // best measured pair
    for (int32_t m = 0; m < XFER_N_MODES; m++) {
        if (!(o->modes >> m & 1)) continue;
        int32_t best = schemes[0];
        for (int s = 0; s < n_schemes; s++) {
            int32_t sc = schemes[s];
            double meas = c->med[m][sc], pred = c->pred[m][sc];
            printf("xfer B=%lld scheme=%s mode=%s measured_us=%.2f min_us=%.2f pred_us=%.2f "
                   "err_pct=%.1f iters=%lld route_us=%.2f bytes=%llu cross_bytes=%llu "
                   "fanout=%.3f fanout_model=%.3f return_rows=%.3f\n",
                   (long long)B, xfer_scheme_name(sc), xfer_mode_name(m), meas * 1e6,
                   c->lo[m][sc] * 1e6, pred * 1e6, 100.0 * (pred - meas) / meas,
                   (long long)auto_iters(o, B, rb), c->route[m][sc] * 1e6,
                   (unsigned long long)c->bytes[m][sc][0], (unsigned long long)c->bytes[m][sc][1],
                   c->fanout[m][sc], m == XFER_MODE_SELECTIVE ? q_model : (double)n_e,
                   c->ret_rows[m][sc]);
            if (meas < c->med[m][best]) best = sc;
            if (bm < 0 || meas < c->med[bm][bs]) bm = m, bs = sc;
        }
        int32_t chosen, cm;
        xfer_choose_pair(cost, t, st->b, rb, k, E, -1, m, &chosen, &cm, NULL);
        int chosen_timed = 0;
        for (int s = 0; s < n_schemes; s++)
            chosen_timed |= schemes[s] == chosen;
        printf("choice B=%lld mode=%s chosen=%s best=%s ", (long long)B, xfer_mode_name(m),
               xfer_scheme_name(chosen), xfer_scheme_name(best));
        if (chosen_timed)
            printf("regret_pct=%.1f",
                   100.0 * (c->med[m][chosen] - c->med[m][best]) / c->med[m][best]);
        else
            printf("regret_pct=nan");
        printf(" check=%s\n", c->bad[m] ? "FAIL" : "ok");
    }
    if (o->modes == ((1 << XFER_MODE_BROADCAST) | (1 << XFER_MODE_SELECTIVE))) {
        int32_t cs, cm;
        xfer_choose_pair(cost, t, st->b, rb, k, E, -1, -1, &cs, &cm, NULL);
        int chosen_timed = 0;
        for (int s = 0; s < n_schemes; s++)
            chosen_timed |= schemes[s] == cs;
        printf("pair B=%lld chosen=%s/%s best=%s/%s ", (long long)B, xfer_scheme_name(cs),
               xfer_mode_name(cm), xfer_scheme_name(bs), xfer_mode_name(bm));
        if (chosen_timed)
            printf("regret_pct=%.1f", 100.0 * (c->med[cm][cs] - c->med[bm][bs]) / c->med[bm][bs]);
        else
            printf("regret_pct=nan");
        printf(" check=%s\n", c->bad[0] || c->bad[1] ? "FAIL" : "ok");
    }
    fflush(stdout);
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
    int sel_on = o->modes >> XFER_MODE_SELECTIVE & 1;
    struct xfer x;
    struct xb_sel sel;
    memset(&sel, 0, sizeof sel);
    rc = xfer_init(&x, &t, d, max_local);
    int x_ok = rc == JANUS_OK;
    if (rc == JANUS_OK && sel_on) {
        rc = xfer_sel_init(&x, (int32_t)o->top_k, kern_best()->axpy);
        if (rc == JANUS_OK) rc = sel_init(&sel, o, max_local * o->n_attn, err, sizeof err);
    }
    float *xi = NULL, *out = NULL, *xall = NULL, *part = NULL, *single = NULL;
    struct xb_cells *cells = NULL;
    if (rc == JANUS_OK) {
        xi = mem_calloc(MEM_TAG_COMM, (size_t)(max_local * d), sizeof *xi);
        out = mem_calloc(MEM_TAG_COMM, (size_t)(max_local * d), sizeof *out);
        xall = mem_calloc(MEM_TAG_COMM, (size_t)(max_b * d), sizeof *xall);
        part = mem_calloc(MEM_TAG_COMM, (size_t)(max_b * d), sizeof *part);
        if (sel_on)
            single = mem_calloc(MEM_TAG_COMM, (size_t)(max_b * o->top_k * d), sizeof *single);
        cells = mem_calloc(MEM_TAG_COMM, 1, sizeof *cells);
        if (!xi || !out || !xall || !part || !cells || (sel_on && !single)) rc = JANUS_ENOMEM;
    }
    int fail = rc != JANUS_OK, any = 0;
    if (fail) cli_error(CMD, "rank %d: set-up: %s", me, err[0] ? err : janus_strerror(rc));
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
        if (sel_on)
            printf("# selective: %lld experts, top-%lld uniform (seed %lld), round-robin layout, "
                   "%d slots, greedy schedule\n",
                   (long long)o->n_expert, (long long)o->top_k, (long long)o->seed, sel.ly.n_slots);
        printf("calibration cross_lat_us=%.3f cross_gbps=%.3f local_lat_us=%.3f "
               "local_gbps=%.3f%s\n",
               cost.lat_s[XFER_LINK_CROSS] * 1e6, 1e-9 / cost.byte_s[XFER_LINK_CROSS],
               cost.lat_s[XFER_LINK_LOCAL] * 1e6, 1e-9 / cost.byte_s[XFER_LINK_LOCAL],
               o->no_calibrate ? " (not calibrated)" : "");
        fflush(stdout);
    }
    for (int kb = 0; kb < o->n_batches && !fail; kb++) {
        struct wire_step st = {.n_attn = A->n_inst};
        int64_t B = o->batches[kb];
        for (int32_t i = 0; i < A->n_inst; i++)
            st.b[i] = (int32_t)(B / A->n_inst + (i < B % A->n_inst));
        int64_t iters = auto_iters(o, B, rb);
        memset(cells, 0, sizeof *cells);
        int32_t cs, cm;
        xfer_choose_pair(&cost, &t, st.b, rb, (int32_t)o->top_k, (int32_t)o->n_expert, -1, -1, &cs,
                         &cm, &cells->pred[0][0]);
        if (sel_on) sel_routings(&sel, B);
        // Repetitions outermost, modes and schemes inside: slow phases of a shared host hit
        // every cell.
        for (int64_t r = -1; r < o->reps && !fail; r++) {
            for (int32_t m = 0; m < XFER_N_MODES && !fail; m++) {
                if (!(o->modes >> m & 1)) continue;
                for (int s = 0; s < n_schemes && !fail; s++) {
                    int32_t sc = schemes[s];
                    st.scheme = sc;
                    st.flags = m == XFER_MODE_SELECTIVE ? WIRE_STEP_SELECTIVE : 0;
                    rc = xfer_step(&x, &st);
                    int64_t n = r < 0 ? XB_WARMUP : iters;
                    if (rc == JANUS_OK && MPI_Barrier(t.comm) != MPI_SUCCESS) rc = JANUS_ECOMM;
                    double t_route = 0, t0 = clock_now_s();
                    for (int64_t it = 0; it < n && rc == JANUS_OK; it++) {
                        int32_t layer = (int32_t)(it % XB_N_ROUTES);
                        if (m == XFER_MODE_SELECTIVE) rc = sel_route(&x, &sel, layer, it, &t_route);
                        if (rc == JANUS_OK)
                            rc = exchange(&x, layer, xi, out, xall, part, single, 0);
                    }
                    double el[2] = {clock_now_s() - t0, t_route}, mx[2] = {0, 0};
                    if (rc == JANUS_OK &&
                        MPI_Allreduce(el, mx, 2, MPI_DOUBLE, MPI_MAX, t.comm) != MPI_SUCCESS)
                        rc = JANUS_ECOMM;
                    if (rc) {
                        cli_error(CMD, "rank %d: exchange failed: %s", me, janus_strerror(rc));
                        fail = 1;
                        break;
                    }
                    if (r >= 0) {
                        cells->samples[m][sc][r] = mx[0] / (double)n;
                        cells->rsamples[m][sc][r] = mx[1] / (double)n;
                    }
                    if (r == o->reps - 1) {
                        uint64_t b0[2], b1[2];
                        sent_bytes(&x, m, sc, b0);
                        cells->bad[m] += checked(&x, m == XFER_MODE_SELECTIVE ? &sel : NULL, xi,
                                                 out, xall, part, single, &rc);
                        sent_bytes(&x, m, sc, b1);
                        cells->bytes[m][sc][0] = b1[0] - b0[0];
                        cells->bytes[m][sc][1] = b1[1] - b0[1];
                        cells->fanout[m][sc] = m == XFER_MODE_SELECTIVE
                                                   ? (double)xfer_sel_fanout(&x, 0) / (double)B
                                                   : (double)M->n_inst;
                        cells->ret_rows[m][sc] =
                            m == XFER_MODE_SELECTIVE
                                ? (double)xfer_sel_return_rows(&x, 0) / (double)B
                                : (double)M->n_inst;
                    }
                    if (rc) fail = 1;
                }
            }
        }
        if (fail) break;
        uint64_t bytes_all[XFER_N_MODES][XFER_N_SCHEMES][2];
        int64_t bad_all[XFER_N_MODES];
        if (MPI_Allreduce(cells->bytes, bytes_all, XFER_N_MODES * XFER_N_SCHEMES * 2, MPI_UINT64_T,
                          MPI_SUM, t.comm) != MPI_SUCCESS ||
            MPI_Allreduce(cells->bad, bad_all, XFER_N_MODES, MPI_INT64_T, MPI_SUM, t.comm) !=
                MPI_SUCCESS) {
            fail = 1;
            break;
        }
        memcpy(cells->bytes, bytes_all, sizeof bytes_all);
        memcpy(cells->bad, bad_all, sizeof bad_all);
        for (int32_t m = 0; m < XFER_N_MODES; m++)
            for (int s = 0; s < n_schemes && (o->modes >> m & 1); s++) {
                int32_t sc = schemes[s];
                cells->med[m][sc] = median(cells->samples[m][sc], o->reps);
                cells->lo[m][sc] = cells->samples[m][sc][0]; // sorted by median()
                cells->route[m][sc] = median(cells->rsamples[m][sc], o->reps);
            }
        if (me == 0) report(o, &t, &cost, &st, B, rb, schemes, n_schemes, cells);
        int64_t bad = bad_all[0] + bad_all[1];
        if (bad) {
            if (me == 0)
                cli_error(CMD, "B=%lld: %lld values wrong after the exchange", (long long)B,
                          (long long)bad);
            fail = 1;
        }
    }
    mem_free(xi);
    mem_free(out);
    mem_free(xall);
    mem_free(part);
    mem_free(single);
    mem_free(cells);
    sel_free(&sel);
    if (x_ok) xfer_free(&x);
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
