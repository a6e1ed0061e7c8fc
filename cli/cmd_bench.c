// janus bench: decode and prompt throughput of the monolithic engine per batch size, the
// weight bytes really read per step (non-expert weights once + the distinct activated
// experts of every MoE layer), achieved GB/s, and the machine's measured memory bandwidth
// (read-only streaming and STREAM triad; fractions are against the read figure), SPEC §9.
// `--moe-layer` times one MoE layer against the number of distinct activated experts at a
// fixed batch and against the batch at a fixed number of experts, with linear fits (SPEC §1:
// latency ≈ β·a + c). Numbers go to docs/PERFORMANCE.md; nothing here asserts a speed.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "load_opts.h"
#include "opts.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/pool.h"
#include "base/rng.h"
#include "base/status.h"
#include "engine/stepper.h"
#include "kernels/kernels.h"
#include "kernels/membw.h"
#include "kernels/peak.h"
#include "model/sampler.h"

#define CMD                  "bench"
#define BENCH_MAX_BATCHES    16
#define BENCH_MAX_LAYERS     1024
#define BENCH_MAX_REPS       64
#define BENCH_BW_PASSES      3    // bandwidth passes before each decode round (median)
#define BENCH_SLOW_FRAC      0.25 // batch-1 weight reads below this fraction of the test: warn
#define BENCH_SLOW_MIN_BYTES (128.0 * 1048576) // ... when a step reads at least this much
#define BENCH_PEAK_S         0.2 // seconds per pass of each arithmetic-peak test (peak.h)

struct bench_opts {
    const char *model;
    int32_t batches[BENCH_MAX_BATCHES];
    int n_batches;
    int64_t threads, prompt, gen, membw_mb, reps, seed, experts, layer;
    int json, moe_layer;
    struct load_opts lo;
    struct fmap_opts io; // from lo
    int32_t kv_type;     // enum kern_kvtype
    int32_t matmul;      // enum linear_path (0: the default)
};

static const char *const synopsis =
    "bench -m MODEL [--batch 1,4,16,64] [--threads N] [--prompt P] [--gen G]\n"
    "                   [--json] [--membw-mb MB] [--reps R] [--seed S]\n                   "
    "[--kv-type T] [--matmul P]\n"
    "       janus bench --moe-layer -m MODEL --batch B [--experts A] [--layer L]\n"
    "                   [--threads N] [--reps R] [--json] [--matmul P]\n"
    "\n"
    "Decode benchmark of the monolithic engine on MODEL: for each batch size B, B\n"
    "sequences are prefilled with P random tokens each (prompt tokens/s), then G decode\n"
    "steps of B tokens run with greedy sampling (decode tokens/s), in R rounds each\n"
    "right after 3 passes of the memory-bandwidth tests (read-only AVX2 streaming and\n"
    "STREAM triad). Weight bytes per token = (non-expert weights + distinct activated\n"
    "experts' weights, summed over the MoE layers) per step / B. Each round's rate is\n"
    "divided by the read bandwidth measured next to it (of_bw: median over rounds);\n"
    "the bandwidth-bound limit for B counts the expected distinct experts\n"
    "E·(1-(1-k/E)^B) per MoE layer. moe_ms: time per step in the MoE side (gate and\n"
    "experts); the rest of the step is attention, norms and the output head.\n";

// Parses argv into *o; with want_help, prints the help instead. 0 ok, else 1 (error printed).
static int parse_args(int argc, char **argv, struct bench_opts *o, int want_help) {
    *o = (struct bench_opts){.prompt = 32,
                             .gen = 30,
                             .membw_mb = 1024,
                             .reps = 5,
                             .seed = 1,
                             .experts = -1,
                             .layer = -1};
    load_opts_init(&o->lo);
    struct cli_list batches = {o->batches, BENCH_MAX_BATCHES, 0};
    const struct cli_opt opts[] = {
        CLI_OPT_STR("model", 'm', &o->model, "FILE",
                    "GGUF model (gen-model makes large ones; scripts/bench.sh)"),
        CLI_OPT_LIST("batch", 0, &batches, 1, 4096, "LIST",
                     "batch sizes (default 1,4,16,64); with --moe-layer one size"),
        CLI_OPT_I64("threads", 0, &o->threads, 1, POOL_MAX_THREADS, "N",
                    "threads (default: online CPUs)"),
        CLI_OPT_I64("prompt", 0, &o->prompt, 1, 65536, "P",
                    "prompt tokens per sequence (default 32)"),
        CLI_OPT_I64("gen", 0, &o->gen, 1, 65536, "G",
                    "timed decode steps in all (default 30; + one warm-up step)"),
        CLI_OPT_FLAG("json", 0, &o->json,
                     "one JSON object per line (per batch size / curve point)"),
        CLI_OPT_I64("membw-mb", 0, &o->membw_mb, 0, 1 << 20, "MB",
                    "bandwidth test buffer (default 1024; 0 skips the test)"),
        CLI_OPT_I64("reps", 0, &o->reps, 1, BENCH_MAX_REPS, "R",
                    "rounds / repetitions for medians (default 5)"),
        CLI_OPT_I64("seed", 0, &o->seed, 0, 9e18, "S", "prompt tokens / routing seed (default 1)"),
        CLI_OPT_FN("kv-type", 0, cli_opt_kv_type, &o->kv_type, "T",
                   "KV cache storage: f32 (default), f16 or q8_0"),
        CLI_OPT_FN("matmul", 0, cli_opt_matmul, &o->matmul, CLI_MATMUL_ARG,
                   CLI_MATMUL_HELP "\n(the compute bound is measured on the same path)"),
        CLI_OPT_FLAG("moe-layer", 0, &o->moe_layer, "MoE-layer latency curves instead of decode"),
        CLI_OPT_I64("experts", 0, &o->experts, 1, 1 << 20, "A",
                    "--moe-layer: activated experts of the batch curve (default k)"),
        CLI_OPT_I64("layer", 0, &o->layer, 0, BENCH_MAX_LAYERS - 1, "L",
                    "--moe-layer: which layer (default: first MoE layer)"),
        CLI_OPT_TABLE(o->lo.table),
        CLI_OPT_END};
    if (want_help) {
        cli_opts_help(stdout, synopsis, opts,
                      "\nJANUS_KERNELS=ref|avx2|avx512 picks a kernel table (default: the best "
                      "this CPU runs).\n");
        return 0;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    const int batch_given = batches.n > 0;
    o->n_batches = batches.n;
    if (!batch_given) {
        const int32_t def[] = {1, 4, 16, 64};
        memcpy(o->batches, def, sizeof def);
        o->n_batches = 4;
    }
    if (!o->model) return cli_error(CMD, "-m MODEL is required (janus bench --help)");
    if (load_opts_finish(&o->lo, CMD, &o->io)) return 1;
    if (o->moe_layer && (!batch_given || o->n_batches != 1))
        return cli_error(CMD, "--moe-layer needs exactly one --batch B");
    return 0;
}

// ---- JSON lines (--json): cJSON objects, each number as printed with its old format

// Adds key: v rounded as fmt prints it (so the value is the one the text shows).
static void json_num(cJSON *o, const char *key, const char *fmt, double v) {
    char b[64];
    snprintf(b, sizeof b, fmt, v);
    cJSON_AddNumberToObject(o, key, strtod(b, NULL));
}

// Prints o on one line and frees it.
static void json_line(cJSON *o) {
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s) printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

// {"curve": curve, k1: v1, k2: v2, "latency_ms": t·1e3[, "gb_s": gb_s when >= 0]}
static cJSON *curve_point(const char *curve, const char *k1, double v1, const char *k2, double v2,
                          double t, double gb_s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "curve", curve);
    json_num(o, k1, "%.0f", v1);
    json_num(o, k2, "%.0f", v2);
    json_num(o, "latency_ms", "%.4f", t * 1e3);
    if (gb_s >= 0) json_num(o, "gb_s", "%.4g", gb_s);
    return o;
}

// {"curve": curve, k: v, "fit_beta_ms", "fit_c_ms", "r2", "points"[, "gb_s_from_beta"]}
static cJSON *curve_fit(const char *curve, const char *k, double v, double beta, double c,
                        double r2, int n, double gb_s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "curve", curve);
    json_num(o, k, "%.0f", v);
    json_num(o, "fit_beta_ms", "%.5f", beta);
    json_num(o, "fit_c_ms", "%.5f", c);
    json_num(o, "r2", "%.5f", r2);
    json_num(o, "points", "%.0f", n);
    if (gb_s >= 0) json_num(o, "gb_s_from_beta", "%.4g", gb_s);
    return o;
}

// ---- shared helpers

// Reads one byte per 4 KiB of the mapped model so page faults are not timed.
static size_t wbytes(const struct wview *w) {
    return w->data ? (size_t)w->n_out * w->row_bytes : 0;
}
static size_t expert_bytes(const struct model_layer *L) {
    return L->is_moe ? L->gate_exps.mat_bytes + L->up_exps.mat_bytes + L->down_exps.mat_bytes : 0;
}

// Bytes of every weight read once per step whatever the batch: all tensors except the
// routed experts and the token embedding (only B rows of it are read, added by the caller;
// a tied output head reads the whole matrix and stays counted).
static double static_bytes(const struct model *m) {
    double b = (double)m->n_bytes_weights;
    for (int64_t l = 0; l < m->hp.n_layer; l++)
        b -= (double)m->layers[l].gate_exps.n_mat * (double)expert_bytes(&m->layers[l]);
    if (!m->output_tied) b -= (double)wbytes(&m->token_embd);
    return b;
}

static double wmacs(const struct wview *w) { return w->data ? (double)w->n_out * w->n_in : 0; }

// The non-expert matrices of a layer (absent ones have no data).
#define LAYER_N_MATS 15
static void layer_mats(const struct model_layer *L, const struct wview *v[LAYER_N_MATS]) {
    const struct wview *m[LAYER_N_MATS] = {&L->wq,         &L->wk,        &L->wv,        &L->wq_a,
                                           &L->wq_b,       &L->wkv_a_mqa, &L->wkv_b,     &L->wo,
                                           &L->ffn_gate,   &L->ffn_up,    &L->ffn_down,  &L->router,
                                           &L->gate_shexp, &L->up_shexp,  &L->down_shexp};
    memcpy(v, m, sizeof m);
}

// Multiply-adds per decode token: every non-expert matrix once plus k routed experts per
// MoE layer (attention over the cache is not counted: short contexts here).
static double macs_per_token(const struct model *m) {
    double s = wmacs(&m->output);
    for (int64_t l = 0; l < m->hp.n_layer; l++) {
        const struct model_layer *L = &m->layers[l];
        const struct wview *v[LAYER_N_MATS];
        layer_mats(L, v);
        for (size_t i = 0; i < LAYER_N_MATS; i++)
            s += wmacs(v[i]);
        if (L->is_moe)
            s += (double)m->hp.n_expert_used *
                 (wmacs(&L->gate_exps.mat) + wmacs(&L->up_exps.mat) + wmacs(&L->down_exps.mat));
    }
    return s;
}

static void noop(void *ctx, int ith, int nth) { (void)ctx, (void)ith, (void)nth; }

// Compute roof: multiply-adds per second of the matmul kernel on the first expert's
// gate matrix (its first rows, ~1 MB: cache-resident) for n_tok tokens, over the pool.
static double compute_roof(const struct model *m, const struct linear_ctx *lin, int64_t n_tok) {
    const struct model_layer *L = NULL;
    for (int64_t l = 0; l < m->hp.n_layer && !L; l++)
        if (m->layers[l].is_moe) L = &m->layers[l];
    if (!L) return 0;
    struct wview w = wview3_mat(&L->gate_exps, 0);
    int64_t rows = JANUS_MAX((int64_t)((1u << 20) / w.row_bytes), 8);
    w = wview_rows(&w, 0, JANUS_MIN(rows, w.n_out));
    float *x = mem_alloc(MEM_TAG_MISC, (size_t)(n_tok * w.n_in) * sizeof(float));
    float *y = mem_alloc(MEM_TAG_MISC, (size_t)(n_tok * w.n_out) * sizeof(float));
    if (!x || !y) {
        mem_free(x), mem_free(y);
        return 0;
    }
    for (int64_t i = 0; i < n_tok * w.n_in; i++)
        x[i] = 0.01f * (float)(i % 97);
    double best = 0;
    for (int r = 0; r < 5; r++) {
        int64_t it = 0;
        pool_run(lin->pool, noop, NULL);
        double t0 = clock_now_s(), t;
        do {
            linear(lin, y, w.n_out, &w, x, n_tok);
            it++;
        } while ((t = clock_now_s() - t0) < 0.05);
        best = JANUS_MAX(best, (double)it * wmacs(&w) * (double)n_tok / t);
    }
    mem_free(x), mem_free(y);
    return best;
}

// Multiply-adds per decode token done by each instruction of the numeric path: block-quantized
// weights on the integer path (int8 != 0) use the int8 dot, everything else F32 FMA.
static void macs_by_path(const struct model *m, int int8, double *f32, double *i8) {
    *f32 = *i8 = 0;
    const double total = macs_per_token(m);
    for (int64_t l = 0; l < m->hp.n_layer; l++) {
        const struct model_layer *L = &m->layers[l];
        const struct wview *v[LAYER_N_MATS];
        layer_mats(L, v);
        for (size_t i = 0; i < LAYER_N_MATS; i++)
            if (int8 && v[i]->data && v[i]->type >= KERN_W_Q8_0) *i8 += wmacs(v[i]);
        const struct wview *e[] = {&L->gate_exps.mat, &L->up_exps.mat, &L->down_exps.mat};
        for (size_t i = 0; L->is_moe && i < JANUS_ARRAY_SIZE(e); i++)
            if (int8 && e[i]->type >= KERN_W_Q8_0) *i8 += (double)m->hp.n_expert_used * wmacs(e[i]);
    }
    if (int8 && m->output.type >= KERN_W_Q8_0) *i8 += wmacs(&m->output);
    *f32 = total - *i8;
}

// Tokens/s the arithmetic peaks allow (peak.h): each token's F32 and int8 multiply-adds at
// their instruction's peak.
static double peak_bound_tok_s(const struct model *m, int int8, const struct peak_result *pf,
                               const struct peak_result *pi) {
    double f32, i8;
    macs_by_path(m, int8, &f32, &i8);
    const double t = (pf->macs_per_s > 0 ? f32 / pf->macs_per_s : 0) +
                     (pi->macs_per_s > 0 ? i8 / pi->macs_per_s : 0);
    return t > 0 ? 1.0 / t : 0;
}

static double fit_linear(const double *x, const double *y, int n, double *beta, double *c) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
    }
    const double den = n * sxx - sx * sx;
    *beta = den != 0 ? (n * sxy - sx * sy) / den : 0;
    *c = (sy - *beta * sx) / n;
    double ss_res = 0, ss_tot = 0, my = sy / n;
    for (int i = 0; i < n; i++) {
        double r = y[i] - (*beta * x[i] + *c);
        ss_res += r * r;
        ss_tot += (y[i] - my) * (y[i] - my);
    }
    return ss_tot > 0 ? 1.0 - ss_res / ss_tot : 1.0;
}

// Loads every weight in the memory mode asked for (the load makes them resident: mapped
// pages populated, or read); *load_s: seconds it took.
static int open_model(const char *path, const struct fmap_opts *io, struct model *m,
                      double *load_s) {
    char err[JANUS_ERR_LEN];
    const double t0 = clock_now_s();
    int rc = model_load_ex(m, path, io, err, sizeof err);
    *load_s = clock_now_s() - t0;
    if (rc) return cli_error(CMD, "%s", err);
    if (m->hp.n_expert < 1) {
        model_free(m);
        return cli_error(CMD, "%s: not an MoE model (no experts)", path);
    }
    return 0;
}

// ---- decode benchmark

struct route_count {
    const struct model *m;
    int counting;
    double expert_bytes; // summed over counted steps and layers
    double distinct;     // distinct experts summed over counted (step, layer) pairs
    int64_t n_layer_steps;
    uint8_t *seen; // (n_expert)
};

static void on_routing(void *user, int64_t step, int64_t layer, const int32_t *ids, int64_t n_tok,
                       int64_t k) {
    (void)step;
    struct route_count *rc = user;
    if (!rc->counting) return;
    const int64_t X = rc->m->hp.n_expert;
    memset(rc->seen, 0, (size_t)X);
    int64_t d = 0;
    for (int64_t i = 0; i < n_tok * k; i++)
        if (ids[i] >= 0 && ids[i] < X && !rc->seen[ids[i]]) {
            rc->seen[ids[i]] = 1;
            d++;
        }
    rc->distinct += (double)d;
    rc->expert_bytes += (double)d * (double)expert_bytes(&rc->m->layers[layer]);
    rc->n_layer_steps++;
}

// Per batch size. Decode runs in R rounds of G/R steps, each right after BENCH_BW_PASSES
// passes of the bandwidth tests (their median): on a shared machine the bandwidth moves by tens of
// percent within minutes, so each round's rate is divided by the bandwidth measured next to it and
// the fractions are medians over rounds (paired ratios), not a ratio of two separate medians.
struct decode_result {
    double prompt_tok_s, decode_tok_s, step_ms, step_ms_median;
    double bytes_per_step, distinct_per_layer, expected_distinct;
    double read_gb_s, triad_gb_s;     // medians of the rounds' bandwidth passes (0: none)
    double frac_bw, frac_lo, frac_hi; // weight GB/s ÷ read GB/s: median, min, max over rounds
    double frac_bound;                // decode tok/s ÷ bandwidth-bound tok/s: median
    double moe_ms;                    // per step: MoE side (gate + experts), mean
    int rounds;
};

// Bytes every step reads whatever the routing, and the bandwidth-bound limit's bytes.
static double step_static_bytes(const struct model *m, int64_t B) {
    return static_bytes(m) + (double)B * (double)m->token_embd.row_bytes;
}
static double expected_step_bytes(const struct model *m, double expected_distinct) {
    double b = static_bytes(m);
    for (int64_t l = 0; l < m->hp.n_layer; l++)
        b += expected_distinct * (double)expert_bytes(&m->layers[l]);
    return b;
}

static int run_decode(const struct model *m, const struct bench_opts *o, int64_t B, int threads,
                      struct membw *bwm, struct decode_result *res) {
    const struct hparams *hp = &m->hp;
    const int64_t P = o->prompt, V = hp->n_vocab;
    const int R = (int)JANUS_MIN(o->reps, o->gen), G = (int)(o->gen / R); // rounds, steps each
    const int64_t chunk = JANUS_MAX(B, 256);                              // prefill tokens per step
    struct stepper st;
    struct stepper_params sp = {.max_tokens = chunk,
                                .n_seq = B,
                                .max_ctx = P + (int64_t)R * G + 1,
                                .max_logits = B,
                                .kv_type = o->kv_type,
                                .matmul = o->matmul,
                                .n_threads = threads};
    int rc = stepper_init(&st, m, &sp);
    if (rc)
        return cli_error(CMD, "engine init for batch %lld: %s", (long long)B, janus_strerror(rc));
    struct route_count cnt = {.m = m};
    cnt.seen = mem_calloc(MEM_TAG_MISC, (size_t)hp->n_expert, 1);
    struct batch b;
    int32_t *last = mem_calloc(MEM_TAG_MISC, (size_t)B, sizeof(int32_t));
    double *steps = mem_alloc(MEM_TAG_MISC, (size_t)(R * G) * sizeof(double));
    if (!cnt.seen || !last || !steps || batch_init(&b, chunk)) {
        stepper_free(&st);
        mem_free(cnt.seen);
        mem_free(last);
        mem_free(steps);
        return cli_error(CMD, "out of memory");
    }
    stepper_set_routing_cb(&st, on_routing, &cnt);
    struct rng g;
    rng_init3(&g, (uint64_t)o->seed, (uint64_t)B, 0);

    // Prompt: B·P tokens in steps of up to `chunk` tokens, sequence after sequence.
    double t0 = clock_now_s();
    int64_t seq = 0, pos = 0;
    while (seq < B && !rc) {
        batch_clear(&b);
        while (b.n < chunk && seq < B) {
            int is_last = pos == P - 1;
            rc = batch_add(&b, (int32_t)rng_below(&g, (uint32_t)V), (int32_t)seq, (int32_t)pos,
                           is_last);
            if (rc) break;
            if (++pos == P) seq++, pos = 0;
        }
        if (!rc) rc = stepper_step(&st, &b);
        if (!rc) { // greedy next token of every sequence finished in this step
            int64_t n_lg;
            const float *lg = stepper_logits(&st, &n_lg);
            for (int64_t i = 0, r = 0; i < b.n; i++)
                if (b.logits[i]) last[b.seq[i]] = sampler_greedy(lg + (r++) * V, V);
        }
    }
    double t1 = clock_now_s();
    res->prompt_tok_s = (double)(B * P) / (t1 - t0);

    // Decode: one warm-up step, then R rounds of (bandwidth pass, G timed steps).
    const double X = (double)hp->n_expert, k = (double)hp->n_expert_used;
    res->expected_distinct = X * (1.0 - pow(1.0 - k / X, (double)B));
    const double bound_bytes = expected_step_bytes(m, res->expected_distinct);
    double rd[BENCH_MAX_REPS], tr[BENCH_MAX_REPS], frac[BENCH_MAX_REPS], fbound[BENCH_MAX_REPS];
    double td = 0, moe_ns = 0;
    int64_t s = 0; // decode position offset
    for (int r = -1; r < R && !rc; r++) {
        if (r >= 0 && bwm) {
            struct membw_result bw;
            rc = membw_run(bwm, BENCH_BW_PASSES, &bw);
            rd[r] = bw.read_gb_s, tr[r] = bw.triad_gb_s;
        }
        const double eb0 = cnt.expert_bytes;
        const int64_t moe0 = st.moe_ns;
        double tround = 0;
        for (int i = 0; i < (r < 0 ? 1 : G) && !rc; i++, s++) {
            batch_clear(&b);
            for (int64_t q = 0; q < B && !rc; q++)
                rc = batch_add(&b, last[q], (int32_t)q, (int32_t)(P + s), 1);
            if (rc) break;
            cnt.counting = r >= 0;
            double a0 = clock_now_s();
            rc = stepper_step(&st, &b);
            if (rc) break;
            const float *lg = stepper_logits(&st, NULL);
            for (int64_t q = 0; q < B; q++)
                last[q] = sampler_greedy(lg + q * V, V);
            if (r >= 0) {
                const double dt = clock_now_s() - a0;
                steps[r * G + i] = dt;
                tround += dt;
            }
        }
        if (r < 0 || rc) continue;
        td += tround;
        moe_ns += (double)(st.moe_ns - moe0);
        const double bytes = (double)G * step_static_bytes(m, B) + (cnt.expert_bytes - eb0);
        if (bwm) {
            frac[r] = bytes / tround / 1e9 / rd[r];
            fbound[r] = ((double)(B * G) / tround) / ((double)B * rd[r] * 1e9 / bound_bytes);
        }
    }
    if (!rc) {
        res->rounds = R;
        res->decode_tok_s = (double)(B * R * G) / td;
        res->step_ms = td / (double)(R * G) * 1e3;
        res->step_ms_median = membw_median(steps, R * G) * 1e3;
        res->moe_ms = moe_ns / (double)(R * G) / 1e6;
        res->bytes_per_step = step_static_bytes(m, B) + cnt.expert_bytes / (double)(R * G);
        res->distinct_per_layer = cnt.n_layer_steps ? cnt.distinct / (double)cnt.n_layer_steps : 0;
        if (bwm) {
            res->read_gb_s = membw_median(rd, R);
            res->triad_gb_s = membw_median(tr, R);
            res->frac_bound = membw_median(fbound, R);
            res->frac_bw = membw_median(frac, R); // sorts frac: min/max after
            res->frac_lo = frac[0], res->frac_hi = frac[R - 1];
        }
    }
    batch_free(&b);
    mem_free(steps);
    mem_free(cnt.seen);
    mem_free(last);
    stepper_free(&st);
    if (rc)
        return cli_error(CMD, "step failed at batch %lld: %s", (long long)B, janus_strerror(rc));
    return 0;
}

static int cmd_decode(const struct bench_opts *o, int threads) {
    struct model m;
    double load_s = 0;
    if (open_model(o->model, &o->io, &m, &load_s)) return 1;
    const char *mode = fmap_mode_name(m.io.mode);
    struct membw *bwm = NULL;
    struct pool *bw_pool = NULL;
    if (o->membw_mb > 0) {
        int rc = pool_create(&bw_pool, threads);
        if (!rc) rc = membw_open(&bwm, bw_pool, (size_t)o->membw_mb << 20);
        if (rc) {
            pool_destroy(&bw_pool);
            model_free(&m);
            return cli_error(CMD, "bandwidth test: %s", janus_strerror(rc));
        }
    }
    const struct hparams *hp = &m.hp;
    double eb = 0;
    for (int64_t l = 0; l < hp->n_layer; l++)
        if (m.layers[l].is_moe) eb = (double)expert_bytes(&m.layers[l]);
    const char *kname = kern_best()->name;
    const int R = (int)JANUS_MIN(o->reps, o->gen);
    // The arithmetic peaks of both numeric paths, once (peak.h), with the decode's threads.
    struct peak_result pk_f32 = {0}, pk_int8 = {0};
    {
        struct pool *pp = NULL;
        if (threads > 1 && pool_create(&pp, threads)) pp = NULL;
        const int lvl = kern_level(kern_best());
        if (peak_measure(pp, PEAK_F32_FMA, lvl, BENCH_PEAK_S, &pk_f32) ||
            peak_measure(pp, PEAK_INT8_DOT, lvl, BENCH_PEAK_S, &pk_int8))
            pk_f32.macs_per_s = pk_int8.macs_per_s = 0;
        pool_destroy(&pp);
    }
    // Whether block-quantized weights take the int8 path (--matmul, else the default).
    const int int8 = linear_path_resolve(o->matmul) == LINEAR_INT8;
    if (!o->json) {
        printf("model %s: %.3f GB of weights, %lld layers, %lld experts top-%lld, expert %.1f MB, "
               "non-expert %.1f MB; kernels %s, %d threads, KV cache %s, matmul %s\n",
               o->model, (double)m.n_bytes_weights / 1e9, (long long)hp->n_layer,
               (long long)hp->n_expert, (long long)hp->n_expert_used, eb / 1e6,
               static_bytes(&m) / 1e6, kname, threads, kern_kvtype_name(o->kv_type),
               linear_path_name(o->matmul));
        printf("weights: memory mode %s%s, loaded in %.2f s (%.2f GB/s)\n", mode,
               m.io.lock ? " + mlock" : "", load_s,
               load_s > 0 ? (double)m.n_bytes_loaded / load_s / 1e9 : 0.0);
        printf("decode: %d rounds of %lld steps per batch size, each after %d bandwidth passes "
               "(%lld MB); of_bw and of_bound are medians of the rounds' paired ratios\n",
               R, (long long)(o->gen / R), BENCH_BW_PASSES, (long long)o->membw_mb);
        printf("arithmetic peaks (%d threads): %s %.1f GMAC/s, %s %.1f GMAC/s; peak_tok/s: "
               "the token rate they allow on the %s path; of_limit: decode ÷ min(bound, peak)\n",
               threads, pk_f32.isa, pk_f32.macs_per_s / 1e9, pk_int8.isa, pk_int8.macs_per_s / 1e9,
               linear_path_name(o->matmul));
        printf("%6s %12s %12s %9s %7s %10s %10s %8s %8s %9s %8s %12s %8s %10s %12s %10s %8s\n",
               "batch", "prompt_tok/s", "decode_tok/s", "step_ms", "moe_ms", "MB/token",
               "weight_GB/s", "read_GB/s", "triad", "of_bw", "experts", "bound_tok/s", "of_bound",
               "GMAC/s", "cbound_tok/s", "peak_tok/s", "of_limit");
    }
    for (int i = 0; i < o->n_batches; i++) {
        const int64_t B = o->batches[i];
        struct decode_result r = {0};
        if (run_decode(&m, o, B, threads, bwm, &r)) {
            membw_close(&bwm);
            pool_destroy(&bw_pool);
            model_free(&m);
            return 1;
        }
        const double bytes_tok = r.bytes_per_step / (double)B;
        const double gb_s = r.bytes_per_step * (r.decode_tok_s / (double)B) / 1e9;
        // Bandwidth-bound limit: static weights + expected distinct experts, read once a step.
        const double bound = r.read_gb_s > 0 ? (double)B * r.read_gb_s * 1e9 /
                                                   expected_step_bytes(&m, r.expected_distinct)
                                             : 0;
        // Compute-bound limit: the kernel's cache-resident multiply-add rate at this batch.
        double roof = 0;
        {
            struct linear_ctx lin;
            linear_ctx_init(&lin, NULL, threads);
            lin.min_parallel = 0;
            (void)!linear_ctx_set_path(&lin, o->matmul); // parsed: a valid path
            roof = compute_roof(&m, &lin, B);
            linear_ctx_free(&lin);
        }
        const double compute_bound = roof / macs_per_token(&m);
        const double pbound = peak_bound_tok_s(&m, int8, &pk_f32, &pk_int8);
        const double limit = bound > 0 && pbound > 0 ? JANUS_MIN(bound, pbound) : 0;
        const double of_limit = limit > 0 ? r.decode_tok_s / limit : 0;
        if (o->json) {
            cJSON *j = cJSON_CreateObject();
            json_num(j, "batch", "%.0f", (double)B);
            json_num(j, "decode_tok_s", "%.4g", r.decode_tok_s);
            json_num(j, "prompt_tok_s", "%.4g", r.prompt_tok_s);
            json_num(j, "weight_bytes_per_token", "%.6g", bytes_tok);
            json_num(j, "weight_gb_s", "%.4g", gb_s);
            json_num(j, "bandwidth_gb_s", "%.4g", r.read_gb_s);
            json_num(j, "triad_gb_s", "%.4g", r.triad_gb_s);
            json_num(j, "frac_of_bandwidth", "%.4f", r.frac_bw);
            json_num(j, "frac_of_bandwidth_min", "%.4f", r.frac_lo);
            json_num(j, "frac_of_bandwidth_max", "%.4f", r.frac_hi);
            json_num(j, "bound_tok_s", "%.4g", bound);
            json_num(j, "frac_of_bound", "%.4f", r.frac_bound);
            json_num(j, "rounds", "%.0f", r.rounds);
            json_num(j, "step_ms", "%.4g", r.step_ms);
            json_num(j, "step_ms_median", "%.4g", r.step_ms_median);
            json_num(j, "distinct_experts_per_layer", "%.3f", r.distinct_per_layer);
            json_num(j, "expected_distinct_experts", "%.3f", r.expected_distinct);
            json_num(j, "threads", "%.0f", threads);
            json_num(j, "prompt", "%.0f", (double)o->prompt);
            json_num(j, "gen", "%.0f", (double)(r.rounds * (o->gen / r.rounds)));
            cJSON_AddStringToObject(j, "kernels", kname);
            cJSON_AddStringToObject(j, "kv_type", kern_kvtype_name(o->kv_type));
            cJSON_AddStringToObject(j, "matmul", linear_path_name(o->matmul));
            json_num(j, "compute_gmacs", "%.4g", roof / 1e9);
            json_num(j, "compute_bound_tok_s", "%.4g", compute_bound);
            json_num(j, "macs_per_token", "%.6g", macs_per_token(&m));
            cJSON_AddStringToObject(j, "peak_f32_isa", pk_f32.isa);
            json_num(j, "peak_f32_gmac_s", "%.4g", pk_f32.macs_per_s / 1e9);
            cJSON_AddStringToObject(j, "peak_int8_isa", pk_int8.isa);
            json_num(j, "peak_int8_gmac_s", "%.4g", pk_int8.macs_per_s / 1e9);
            json_num(j, "peak_bound_tok_s", "%.4g", pbound);
            json_num(j, "limit_tok_s", "%.4g", limit);
            json_num(j, "frac_of_limit", "%.4f", of_limit);
            json_num(j, "moe_ms", "%.4g", r.moe_ms);
            json_num(j, "other_ms", "%.4g", r.step_ms - r.moe_ms);
            cJSON_AddStringToObject(j, "load_mode", mode);
            cJSON_AddBoolToObject(j, "mlock", m.io.lock != 0);
            json_num(j, "load_s", "%.4g", load_s);
            json_line(j);
        } else {
            printf("%6lld %12.1f %12.2f %9.2f %7.2f %10.2f %10.2f %8.2f %8.2f %8.1f%% %8.2f %12.2f "
                   "%7.1f%% %10.1f %12.2f %10.1f %7.1f%%\n",
                   (long long)B, r.prompt_tok_s, r.decode_tok_s, r.step_ms, r.moe_ms,
                   bytes_tok / 1e6, gb_s, r.read_gb_s, r.triad_gb_s, 100 * r.frac_bw,
                   r.distinct_per_layer, bound, 100 * r.frac_bound, roof / 1e9, compute_bound,
                   pbound, 100 * of_limit);
        }
        // Decode of a small batch is bound by reading the weights: far below the bandwidth
        // test means the weights are not where the test's memory is (page-cache reclaim,
        // a memory cgroup, a network file system): say so, and what to try.
        // Only where reading dominates the step: weights far beyond the caches, and a compute
        // limit well above the rate (small models are bound by per-step overheads instead).
        if (i == 0 && B <= 4 && r.bytes_per_step >= BENCH_SLOW_MIN_BYTES && r.read_gb_s > 0 &&
            r.frac_bw > 0 && r.frac_bw < BENCH_SLOW_FRAC && compute_bound > 2 * r.decode_tok_s)
            fprintf(stderr,
                    "janus bench: warning: batch %lld read the weights at %.2f GB/s, %.0f%% of the "
                    "%.2f GB/s bandwidth test (memory mode %s): the weights are being read from "
                    "somewhere slower than memory (page-cache reclaim, a memory cgroup, a network "
                    "file system?); try %s and/or --mlock\n",
                    (long long)B, gb_s, 100 * r.frac_bw, r.read_gb_s, mode,
                    m.io.mode == FMAP_MMAP ? "--no-mmap" : "--mmap");
        fflush(stdout);
    }
    membw_close(&bwm);
    pool_destroy(&bw_pool);
    model_free(&m);
    return 0;
}

// ---- MoE-layer curves

struct moe_bench {
    const struct model *m;
    struct moe mo;
    struct moe_routing rt;
    float *x, *out;
    uint64_t *flush; // eviction buffer
    size_t flush_words;
    int64_t layer;
    struct rng g;
};

// Streams a buffer larger than the last-level cache so the next timed run reads its
// experts from memory, as decode does (a step reads far more than the LLC holds).
static uint64_t evict(struct moe_bench *mb) {
    uint64_t s = 0;
    for (size_t i = 0; i < mb->flush_words; i += 8)
        s += mb->flush[i];
    return s;
}

// Routing of B tokens over exactly `a` distinct experts (a random subset): assignment i
// of the B·k goes to subset[i % a], so every chosen expert gets B·k/a rows (repeats within
// a token when a < k keep the work per token constant). Returns a (capped at B·k and E).
static int64_t make_routing(struct moe_bench *mb, int64_t B, int64_t a) {
    const int64_t X = mb->m->hp.n_expert, k = mb->m->hp.n_expert_used;
    int32_t perm[4096];
    for (int64_t e = 0; e < X; e++)
        perm[e] = (int32_t)e;
    for (int64_t e = X - 1; e > 0; e--) {
        int64_t j = rng_below(&mb->g, (uint32_t)(e + 1));
        int32_t t = perm[e];
        perm[e] = perm[j];
        perm[j] = t;
    }
    a = JANUS_MIN(a, JANUS_MIN(X, B * k));
    for (int64_t i = 0; i < B * k; i++) {
        mb->rt.ids[i] = perm[i % a];
        mb->rt.w[i] = 1.0f / (float)k;
    }
    mb->rt.n_tok = B;
    return a;
}

static double time_layer(struct moe_bench *mb, int64_t B, int64_t a, int reps, int64_t *a_out) {
    double t[BENCH_MAX_REPS];
    for (int r = 0; r < reps; r++) {
        *a_out = make_routing(mb, B, a);
        (void)evict(mb);
        pool_run(mb->mo.lin->pool, noop, NULL); // wake the workers, as in a running step
        double t0 = clock_now_s();
        moe_experts(&mb->mo, mb->layer, mb->x, B, &mb->rt, NULL, mb->out);
        t[r] = clock_now_s() - t0;
    }
    return membw_median(t, reps);
}

static int cmd_moe_layer(const struct bench_opts *o, int threads) {
    struct model m;
    double load_s = 0;
    if (open_model(o->model, &o->io, &m, &load_s)) return 1;
    const struct hparams *hp = &m.hp;
    const int64_t X = hp->n_expert, k = hp->n_expert_used, E = hp->n_embd;
    const int64_t B = o->batches[0];
    int64_t layer = o->layer;
    if (layer < 0)
        for (int64_t l = 0; l < hp->n_layer && layer < 0; l++)
            if (m.layers[l].is_moe) layer = l;
    if (layer >= hp->n_layer || !m.layers[layer].is_moe || X > 4096) {
        model_free(&m);
        return cli_error(CMD, "--layer %lld is not an MoE layer of this model", (long long)layer);
    }
    const int64_t a_fixed = o->experts > 0 ? JANUS_MIN(o->experts, X) : k;
    const int64_t batch_curve[] = {1, 2, 4, 8, 16, 32, 64};
    const int64_t max_tok = JANUS_MAX(B, 64);
    struct linear_ctx lin;
    linear_ctx_init(&lin, NULL, threads);
    (void)!linear_ctx_set_path(&lin, o->matmul); // parsed: a valid path
    struct moe_bench mb = {.m = &m, .layer = layer};
    rng_init(&mb.g, (uint64_t)o->seed);
    mb.flush_words = (size_t)64 << 20; // 512 MiB
    int rc = moe_init(&mb.mo, &m, &lin, max_tok);
    if (!rc) rc = moe_routing_init(&mb.rt, &m, max_tok);
    mb.x = mem_alloc(MEM_TAG_MISC, (size_t)(max_tok * E) * sizeof(float));
    mb.out = mem_alloc(MEM_TAG_MISC, (size_t)(max_tok * E) * sizeof(float));
    mb.flush = mem_calloc(MEM_TAG_MISC, mb.flush_words, sizeof(uint64_t));
    if (rc || !mb.x || !mb.out || !mb.flush) {
        rc = cli_error(CMD, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < max_tok * E; i++)
        mb.x[i] = (float)rng_normal(&mb.g);
    const double eb = (double)expert_bytes(&m.layers[layer]);
    {
        double xs[4096], ys[4096];
        int n = 0;
        if (!o->json)
            printf("MoE layer %lld of %s: expert %.1f MB, kernels %s, matmul %s, %d threads, "
                   "median of %lld, memory mode %s%s\n"
                   "curve 1: latency vs distinct activated experts a, batch %lld\n%8s %12s %10s\n",
                   (long long)layer, o->model, eb / 1e6, kern_best()->name,
                   linear_path_name(o->matmul), threads, (long long)o->reps,
                   fmap_mode_name(m.io.mode), m.io.lock ? " + mlock" : "", (long long)B, "experts",
                   "latency_ms", "GB/s");
        for (int64_t a = 1; a <= X; a++) {
            int64_t a_real;
            double t = time_layer(&mb, B, a, (int)o->reps, &a_real);
            if (a_real != a) break; // B·k < a: cannot activate more experts
            xs[n] = (double)a, ys[n] = t * 1e3, n++;
            if (o->json)
                json_line(curve_point("experts", "batch", (double)B, "experts", (double)a, t,
                                      (double)a * eb / t / 1e9));
            else
                printf("%8lld %12.3f %10.2f\n", (long long)a, t * 1e3, (double)a * eb / t / 1e9);
            fflush(stdout);
        }
        double beta, c, r2 = fit_linear(xs, ys, n, &beta, &c);
        if (o->json)
            json_line(curve_fit("experts", "batch", (double)B, beta, c, r2, n,
                                beta > 0 ? eb / (beta * 1e-3) / 1e9 : 0));
        else
            printf("fit: latency = %.4f ms * a + %.4f ms, R^2 = %.4f (%d points); β ⇒ %.2f GB/s "
                   "per expert read\n",
                   beta, c, r2, n, beta > 0 ? eb / (beta * 1e-3) / 1e9 : 0);
        n = 0;
        if (!o->json)
            printf("curve 2: latency vs batch, %lld activated experts\n%8s %12s %12s\n",
                   (long long)a_fixed, "batch", "latency_ms", "us/token");
        for (size_t i = 0; i < JANUS_ARRAY_SIZE(batch_curve); i++) {
            const int64_t bb = batch_curve[i];
            if (bb > max_tok || bb * k < a_fixed) continue;
            int64_t a_real;
            double t = time_layer(&mb, bb, a_fixed, (int)o->reps, &a_real);
            xs[n] = (double)bb, ys[n] = t * 1e3, n++;
            if (o->json)
                json_line(
                    curve_point("batch", "experts", (double)a_real, "batch", (double)bb, t, -1));
            else
                printf("%8lld %12.3f %12.1f\n", (long long)bb, t * 1e3, t * 1e6 / (double)bb);
            fflush(stdout);
        }
        r2 = fit_linear(xs, ys, n, &beta, &c);
        if (o->json)
            json_line(curve_fit("batch", "experts", (double)a_fixed, beta, c, r2, n, -1));
        else
            printf("fit: latency = %.4f ms * batch + %.4f ms, R^2 = %.4f (%d points)\n", beta, c,
                   r2, n);
    }
    rc = 0;
done:
    mem_free(mb.x);
    mem_free(mb.out);
    mem_free(mb.flush);
    moe_routing_free(&mb.rt);
    moe_free(&mb.mo);
    linear_ctx_free(&lin);
    model_free(&m);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    struct bench_opts o;
    const int help = cli_wants_help(argc, argv);
    if (parse_args(argc, argv, &o, help) || help) return help ? 0 : 1;
    int threads = (int)o.threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : (int)JANUS_MIN(n, POOL_MAX_THREADS);
    }
    return o.moe_layer ? cmd_moe_layer(&o, threads) : cmd_decode(&o, threads);
}
