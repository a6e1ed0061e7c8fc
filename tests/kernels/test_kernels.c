// Kernel tests: every SIMD kernel (AVX2, AVX-512) against the scalar reference (kern_ref, the
// specification) on random shapes, odd sizes and every weight type, with normalized-MSE and max-abs
// tolerances; matmul results must also be bit-identical for any row partition [r0, r1) and
// any n_tok (a token's output does not depend on the other tokens of the call), which is
// what makes the gate thread-count independent (SPEC §3). A double-precision oracle on the
// unquantized weights bounds each type's quantization error. The block-quantized types of the
// exact path (issue 13 item 1) run on random valid blocks: SIMD vs reference and vs a double
// oracle on the decoded weights, the same invariances, and unit-vector products that must
// return each decoded weight (quant_dequantize_row's value) exactly.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include <stddef.h>
#include <stdlib.h>

#include "base/base.h"
#include "base/rng.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/types.h"

// ---- helpers

// SIMD_TEST(name) { body using k } runs the body once per SIMD table this build and CPU can
// run (avx2, avx512), each checked against the reference; an unavailable one is reported.
static void for_each_simd(void (*fn)(const struct kern_ops *)) {
    static const char *const names[] = {"avx2", "avx512"};
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(names); i++) {
        const struct kern_ops *k = kern_by_name(names[i]);
        if (!k) {
            printf("  (no %s table on this build/CPU: skipped)\n", names[i]);
            continue;
        }
        fn(k);
        if (test_current_failed) {
            printf("  (failed with the %s table)\n", names[i]);
            return;
        }
    }
}
#define SIMD_TEST(name)                                                                            \
    static void name##_with(const struct kern_ops *k);                                             \
    TEST(name) { for_each_simd(name##_with); }                                                     \
    static void name##_with(const struct kern_ops *k)

static const char *wtype_name(int t) { return kern_wtype_info(t)->name; }

static size_t wtype_row_bytes(int t, int64_t n_in) {
    if (t == KERN_W_F32) return (size_t)n_in * 4;
    if (t == KERN_W_Q8_0) return (size_t)(n_in / 32) * sizeof(struct block_q8_0);
    return (size_t)n_in * 2;
}

// Encodes n_out rows of n_in F32 values w into storage of type t (caller frees), and
// writes the exactly-widened F32 values back into wq (what the kernels compute with).
static void *encode_weights(int t, const float *w, float *wq, int64_t n_out, int64_t n_in) {
    size_t rb = wtype_row_bytes(t, n_in);
    char *buf = malloc(rb * (size_t)n_out + 64);
    for (int64_t r = 0; r < n_out; r++) {
        const float *src = w + r * n_in;
        float *dq = wq + r * n_in;
        void *dst = buf + rb * (size_t)r;
        switch (t) {
        case KERN_W_F32:
            memcpy(dst, src, rb);
            memcpy(dq, src, rb);
            break;
        case KERN_W_F16:
            types_f32_to_f16_row(dst, src, n_in);
            types_f16_to_f32_row(dq, dst, n_in);
            break;
        case KERN_W_BF16:
            types_f32_to_bf16_row(dst, src, n_in);
            types_bf16_to_f32_row(dq, dst, n_in);
            break;
        default:
            q8_0_quantize_row(dst, src, n_in);
            q8_0_dequantize_row(dq, dst, n_in);
            break;
        }
    }
    return buf;
}

static void fill_normal(struct rng *g, float *x, int64_t n, double scale) {
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(rng_normal(g) * scale);
}

struct cmp {
    double nmse;    // Σ(a-b)² / Σb²
    double max_abs; // max |a-b|
    double max_rel; // max |a-b| / bound_i (bound given per element)
};

// Compares a to b over n elements; bound[i] (optional) scales the per-element error.
static struct cmp compare(const float *a, const float *b, const double *bound, int64_t n) {
    struct cmp c = {0, 0, 0};
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d) d = INFINITY;
        num += d * d;
        den += (double)b[i] * b[i];
        if (d > c.max_abs) c.max_abs = d;
        if (bound) {
            double rel = d / (bound[i] > 0 ? bound[i] : 1e-30);
            if (rel > c.max_rel) c.max_rel = rel;
        }
    }
    c.nmse = den > 0 ? num / den : num;
    return c;
}

// ---- matmul

// The invariances of every table's matmul for weights wt of type t, given its full-range
// result y_all (n_tok rows of ldy): three row pieces give the same bits, each token alone gives
// its bits inside the batch, a partial range leaves the other rows alone. Returns the failures.
static int check_invariance(const struct kern_ops *k, int t, const void *wt, const float *x,
                            int64_t n_out, int64_t n_in, int64_t n_tok, int64_t ldy,
                            const float *y_avx, struct rng *g) {
    float *y_part = malloc(sizeof(float) * n_tok * ldy);
    float *y_one = malloc(sizeof(float) * ldy);
    int fails = 0;
    // Partition invariance: three random pieces give bit-identical rows.
    int64_t a = rng_below(g, (uint32_t)n_out + 1), b = rng_below(g, (uint32_t)n_out + 1);
    if (a > b) {
        int64_t s = a;
        a = b;
        b = s;
    }
    k->matmul[t](y_part, ldy, wt, x, n_in, n_tok, b, n_out);
    k->matmul[t](y_part, ldy, wt, x, n_in, n_tok, 0, a);
    k->matmul[t](y_part, ldy, wt, x, n_in, n_tok, a, b);
    for (int64_t tt = 0; tt < n_tok; tt++)
        if (memcmp(y_part + tt * ldy, y_avx + tt * ldy, sizeof(float) * n_out) != 0) {
            test_fail(__FILE__, __LINE__, "%s: rows split [0,%lld)[%lld,%lld)[%lld,%lld) differ",
                      wtype_name(t), (long long)a, (long long)a, (long long)b, (long long)b,
                      (long long)n_out);
            fails++;
            break;
        }
    // Token invariance: each token alone gives the same bits as inside the batch.
    for (int64_t tt = 0; tt < n_tok; tt++) {
        k->matmul[t](y_one, ldy, wt, x + tt * n_in, n_in, 1, 0, n_out);
        if (memcmp(y_one, y_avx + tt * ldy, sizeof(float) * n_out) != 0) {
            test_fail(__FILE__, __LINE__, "%s: token %lld alone differs from batch of %lld",
                      wtype_name(t), (long long)tt, (long long)n_tok);
            fails++;
            break;
        }
    }
    // A partial range leaves the other rows alone.
    if (n_out >= 3) {
        for (int64_t i = 0; i < n_tok * ldy; i++)
            y_part[i] = NAN;
        k->matmul[t](y_part, ldy, wt, x, n_in, n_tok, 1, n_out - 1);
        for (int64_t tt = 0; tt < n_tok; tt++) {
            if (!isnan(y_part[tt * ldy]) || !isnan(y_part[tt * ldy + n_out - 1]) ||
                memcmp(y_part + tt * ldy + 1, y_avx + tt * ldy + 1, sizeof(float) * (n_out - 2))) {
                test_fail(__FILE__, __LINE__, "%s: partial range [1,%lld) wrong", wtype_name(t),
                          (long long)(n_out - 1));
                fails++;
                break;
            }
        }
    }
    free(y_part), free(y_one);
    return fails;
}

// One random case: the SIMD table vs reference over the full row range, vs the double oracle, and
// partition / n_tok invariance. Returns 0 on success (failures reported via test_fail).
static int check_matmul_case(const struct kern_ops *k, int t, int64_t n_out, int64_t n_in,
                             int64_t n_tok, struct rng *g) {
    const int64_t ldy = n_out + (int64_t)rng_below(g, 3);
    float *w = malloc(sizeof(float) * n_out * n_in);
    float *wq = malloc(sizeof(float) * n_out * n_in);
    float *x = malloc(sizeof(float) * n_tok * n_in);
    float *y_ref = malloc(sizeof(float) * n_tok * ldy);
    float *y_avx = malloc(sizeof(float) * n_tok * ldy);
    double *bound = malloc(sizeof(double) * n_tok * ldy);
    double q_num = 0, q_den = 0; // quantization error vs Σ_i (w_i x_i)² (see below)
    fill_normal(g, w, n_out * n_in, 0.5);
    fill_normal(g, x, n_tok * n_in, 1.0);
    void *wt = encode_weights(t, w, wq, n_out, n_in);
    int fails = 0;

    for (int64_t i = 0; i < n_tok * ldy; i++)
        y_ref[i] = y_avx[i] = NAN;
    kern_ref()->matmul[t](y_ref, ldy, wt, x, n_in, n_tok, 0, n_out);
    k->matmul[t](y_avx, ldy, wt, x, n_in, n_tok, 0, n_out);

    // Per-element bound from the error analysis of a length-n dot product in F32:
    // |computed − exact| ≤ γ_n Σ|w x| for either summation order, γ_n ≈ n·2⁻²⁴, so the
    // difference of two such results is within 2γ_n Σ|w x|. Plus the oracle values.
    for (int64_t tt = 0; tt < n_tok; tt++) {
        for (int64_t r = 0; r < n_out; r++) {
            double s_abs = 0, s_orig = 0, s_sq = 0;
            for (int64_t i = 0; i < n_in; i++) {
                double p = (double)w[r * n_in + i] * x[tt * n_in + i];
                s_abs += fabs((double)wq[r * n_in + i] * x[tt * n_in + i]);
                s_orig += p;
                s_sq += p * p;
            }
            bound[tt * ldy + r] = 2.0 * (double)(n_in + 2) * 0x1p-24 * s_abs + 1e-30;
            double e = (double)y_avx[tt * ldy + r] - s_orig;
            q_num += e * e;
            q_den += s_sq;
        }
    }
    // Compare only the rows written ([0, n_out) of each token row).
    // Quantization error Σ(y − Σ w x)² / ΣΣ(w x)²: for independent rounding errors this is
    // the mean squared relative error of the stored weights (≈ u²/3 for a unit roundoff u),
    // stable even when a dot product cancels.
    const double worst_nmse_orig = q_den > 0 ? q_num / q_den : 0;
    double worst_rel = 0, nmse_num = 0, nmse_den = 0;
    for (int64_t tt = 0; tt < n_tok; tt++) {
        struct cmp c = compare(y_avx + tt * ldy, y_ref + tt * ldy, bound + tt * ldy, n_out);
        worst_rel = fmax(worst_rel, c.max_rel);
        for (int64_t r = 0; r < n_out; r++) {
            double d = (double)y_avx[tt * ldy + r] - y_ref[tt * ldy + r];
            nmse_num += d * d;
            nmse_den += (double)y_ref[tt * ldy + r] * y_ref[tt * ldy + r];
        }
        for (int64_t r = n_out; r < ldy; r++)
            if (!isnan(y_avx[tt * ldy + r])) {
                test_fail(__FILE__, __LINE__, "%s: wrote outside [0, n_out) at t=%lld r=%lld",
                          wtype_name(t), (long long)tt, (long long)r);
                fails++;
            }
    }
    // Tolerances. vs reference: same widened weights, only the summation order differs;
    // the per-element bound above is the max-abs check, the NMSE (over the whole case, so a
    // single cancelling dot product cannot dominate) the typical one.
    const double worst_nmse = nmse_den > 0 ? nmse_num / nmse_den : nmse_num;
    const double nmse_tol = n_tok * n_out >= 16 ? 1e-9 : 1e-6;
    // vs the unquantized oracle: the storage type's own rounding error dominates.
    // u = 2⁻²⁴ (F32: accumulation only), 2⁻¹¹ (F16), 2⁻⁸ (BF16); Q8_0 ≈ (max/127)²/12.
    const double orig_tol[] = {1e-10, 1e-6, 5e-5, 2e-4};
    if (worst_rel > 1.0 || worst_nmse > nmse_tol || worst_nmse_orig > orig_tol[t]) {
        test_fail(__FILE__, __LINE__,
                  "%s n_out=%lld n_in=%lld n_tok=%lld: max err/bound %.3g, nmse vs ref %.3g "
                  "(tol %.1g), nmse vs unquantized %.3g (tol %.1g)",
                  wtype_name(t), (long long)n_out, (long long)n_in, (long long)n_tok, worst_rel,
                  worst_nmse, nmse_tol, worst_nmse_orig, orig_tol[t]);
        fails++;
    }

    fails += check_invariance(k, t, wt, x, n_out, n_in, n_tok, ldy, y_avx, g);
    free(w), free(wq), free(x), free(y_ref), free(y_avx), free(bound), free(wt);
    return fails;
}

SIMD_TEST(matmul_random_shapes_every_type) {
    struct rng g;
    rng_init(&g, 42);
    for (int t = 0; t <= KERN_W_Q8_0; t++) {
        for (int it = 0; it < 60; it++) {
            int64_t n_out = 1 + rng_below(&g, 37);
            int64_t n_in = t == KERN_W_Q8_0 ? 32 * (1 + rng_below(&g, 12)) : 1 + rng_below(&g, 300);
            int64_t n_tok = 1 + rng_below(&g, 17);
            if (check_matmul_case(k, t, n_out, n_in, n_tok, &g)) return;
        }
    }
}

SIMD_TEST(matmul_edge_shapes) {
    struct rng g;
    rng_init(&g, 7);
    // n_in around the 8-lane chunk and 32-value block boundaries; one row; one token;
    // token counts around the 3- and 6-token blockings; model-like rows.
    const int64_t n_ins[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1024};
    for (int t = 0; t <= KERN_W_Q8_0; t++) {
        for (size_t i = 0; i < JANUS_ARRAY_SIZE(n_ins); i++) {
            int64_t n_in = n_ins[i];
            if (t == KERN_W_Q8_0 && n_in % 32) continue;
            for (int64_t n_tok = 1; n_tok <= 13; n_tok++)
                if (check_matmul_case(k, t, 1 + (int64_t)(n_tok % 5), n_in, n_tok, &g)) return;
        }
        if (check_matmul_case(k, t, 67, 1024, 17, &g)) return;
        if (check_matmul_case(k, t, 9, 2048, 64, &g)) return;
    }
}

SIMD_TEST(matmul_zero_rows_or_tokens) {
    float w[64] = {0}, x[32] = {0}, y[4] = {5, 5, 5, 5};
    for (int t = 0; t < KERN_W_COUNT; t++) {
        k->matmul[t](y, 4, w, x, 32, 0, 0, 1); // no tokens
        k->matmul[t](y, 4, w, x, 32, 1, 1, 1); // empty row range
    }
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(y[i], 5);
}

// ---- block-quantized types, exact path (issue 13 item 1)

static const int quant_types[] = {KERN_W_Q4_0, KERN_W_Q4_1,   KERN_W_Q5_0,  KERN_W_Q5_1,
                                  KERN_W_Q2_K, KERN_W_Q3_K,   KERN_W_Q4_K,  KERN_W_Q5_K,
                                  KERN_W_Q6_K, KERN_W_IQ4_NL, KERN_W_IQ4_XS};

// Byte offsets of the F16 fields (d, and dmin/m where the type has one; -1: none) of a block.
static void f16_fields(int t, int *o1, int *o2) {
    *o2 = -1;
    switch (t) {
    case KERN_W_Q4_1:
        *o1 = offsetof(struct block_q4_1, d), *o2 = offsetof(struct block_q4_1, m);
        break;
    case KERN_W_Q5_1:
        *o1 = offsetof(struct block_q5_1, d), *o2 = offsetof(struct block_q5_1, m);
        break;
    case KERN_W_Q2_K:
        *o1 = offsetof(struct block_q2_K, d), *o2 = offsetof(struct block_q2_K, dmin);
        break;
    case KERN_W_Q3_K: *o1 = offsetof(struct block_q3_K, d); break;
    case KERN_W_Q4_K:
        *o1 = offsetof(struct block_q4_K, d), *o2 = offsetof(struct block_q4_K, dmin);
        break;
    case KERN_W_Q5_K:
        *o1 = offsetof(struct block_q5_K, d), *o2 = offsetof(struct block_q5_K, dmin);
        break;
    case KERN_W_Q6_K: *o1 = offsetof(struct block_q6_K, d); break;
    default: *o1 = 0; break; // Q4_0, Q5_0, IQ4_NL, IQ4_XS: d first
    }
}

// A finite F16 scale: mostly model-like, also any finite bit pattern, the extremes (±65504,
// the smallest subnormals) and zero.
static uint16_t random_scale(struct rng *g) {
    const uint32_t k = rng_below(g, 20);
    const uint16_t sign = (uint16_t)(rng_below(g, 4) == 0 ? 0x8000 : 0);
    if (k < 10) return fp32_to_fp16((float)(fabs(rng_normal(g)) * 0.02)) | sign;
    if (k < 14) {
        uint16_t h = (uint16_t)rng_u64(g);
        return (h & 0x7C00) == 0x7C00 ? (uint16_t)(h & ~0x4000) : h; // no inf / NaN
    }
    if (k < 16) return 0x7BFF | sign;                              // 65504
    if (k < 18) return (uint16_t)(1 + rng_below(g, 0x3FF)) | sign; // subnormal
    return sign;                                                   // ±0
}

// n_out rows of n_in values (a multiple of the block size) of random valid blocks of type t:
// random quant bytes, scales from random_scale, 1 block in 20 all zero. Caller frees.
static void *random_blocks(int t, int64_t n_out, int64_t n_in, struct rng *g) {
    const struct kern_wtype_info *in = kern_wtype_info(t);
    const int64_t nb = n_out * (n_in / in->block_elems);
    uint8_t *buf = malloc((size_t)(nb * in->block_bytes) + 64);
    int o1, o2;
    f16_fields(t, &o1, &o2);
    for (int64_t k = 0; k < nb; k++) {
        uint8_t *b = buf + k * in->block_bytes;
        for (int i = 0; i < in->block_bytes; i++)
            b[i] = (uint8_t)rng_u64(g);
        if (rng_below(g, 20) == 0) {
            memset(b, 0, (size_t)in->block_bytes);
            continue;
        }
        uint16_t h = random_scale(g);
        memcpy(b + o1, &h, 2);
        if (o2 >= 0) {
            h = random_scale(g);
            memcpy(b + o2, &h, 2);
        }
    }
    return buf;
}

// The decoded weights (quant_dequantize_row, the specification) of n_out rows. Caller frees.
static float *decode_rows(int t, const void *wt, int64_t n_out, int64_t n_in) {
    float *wq = malloc(sizeof(float) * n_out * n_in);
    const size_t rb = kern_row_bytes(t, n_in);
    for (int64_t r = 0; r < n_out; r++)
        quant_dequantize_row(t, wq + r * n_in, (const char *)wt + rb * r, n_in);
    return wq;
}

// One random case of a block type: the SIMD table vs the reference and vs a double oracle
// on the decoded weights, each within the F32 dot-product error bound for the sum length
// (γ_n Σ|w x| per result, twice that between two F32 results), then the invariances.
static int check_quant_case(const struct kern_ops *k, int t, int64_t n_out, int64_t n_in,
                            int64_t n_tok, struct rng *g) {
    const int64_t ldy = n_out + (int64_t)rng_below(g, 3);
    void *wt = random_blocks(t, n_out, n_in, g);
    float *wq = decode_rows(t, wt, n_out, n_in);
    float *x = malloc(sizeof(float) * n_tok * n_in);
    float *y_ref = malloc(sizeof(float) * n_tok * ldy), *y = malloc(sizeof(float) * n_tok * ldy);
    fill_normal(g, x, n_tok * n_in, 1.0);
    for (int64_t i = 0; i < n_tok * ldy; i++)
        y_ref[i] = y[i] = NAN;
    kern_ref()->matmul[t](y_ref, ldy, wt, x, n_in, n_tok, 0, n_out);
    k->matmul[t](y, ldy, wt, x, n_in, n_tok, 0, n_out);
    int fails = 0;
    for (int64_t tt = 0; tt < n_tok && !fails; tt++) {
        for (int64_t r = 0; r < n_out && !fails; r++) {
            double s_abs = 0, exact = 0;
            for (int64_t i = 0; i < n_in; i++) {
                const double p = (double)wq[r * n_in + i] * x[tt * n_in + i];
                s_abs += fabs(p), exact += p;
            }
            const double gam = (double)(n_in + 2) * 0x1p-24 * s_abs;
            const double v = y[tt * ldy + r], vr = y_ref[tt * ldy + r];
            if (!(fabs(v - exact) <= gam) || !(fabs(v - vr) <= 2 * gam)) {
                test_fail(__FILE__, __LINE__,
                          "%s n_out=%lld n_in=%lld n_tok=%lld t=%lld r=%lld: simd %.9g ref %.9g "
                          "exact %.9g (bound %.3g)",
                          wtype_name(t), (long long)n_out, (long long)n_in, (long long)n_tok,
                          (long long)tt, (long long)r, v, vr, exact, gam);
                fails++;
            }
        }
        for (int64_t r = n_out; r < ldy; r++)
            if (!isnan(y[tt * ldy + r])) {
                test_fail(__FILE__, __LINE__, "%s: wrote outside [0, n_out) at t=%lld r=%lld",
                          wtype_name(t), (long long)tt, (long long)r);
                fails++;
            }
    }
    if (!fails) fails += check_invariance(k, t, wt, x, n_out, n_in, n_tok, ldy, y, g);
    free(wt), free(wq), free(x), free(y_ref), free(y);
    return fails;
}

SIMD_TEST(matmul_quant_random_vs_ref) {
    struct rng g;
    rng_init(&g, 1313);
    for (size_t q = 0; q < JANUS_ARRAY_SIZE(quant_types); q++) {
        const int t = quant_types[q], be = kern_wtype_info(t)->block_elems;
        for (int it = 0; it < 24; it++) {
            const int64_t n_out = 1 + rng_below(&g, 37);
            const int64_t n_in = be * (1 + (int64_t)rng_below(&g, be == 32 ? 40 : 5));
            const int64_t n_tok = 1 + rng_below(&g, 20);
            if (check_quant_case(k, t, n_out, n_in, n_tok, &g)) {
                printf("  (type %s, case %d)\n", wtype_name(t), it);
                return;
            }
        }
        // Every token count 1..20 (token blocks and groups), several decoded chunks, rows
        // around the 4-stream blocking; then many tokens (several token groups).
        for (int64_t n_tok = 1; n_tok <= 20; n_tok++)
            if (check_quant_case(k, t, 1 + n_tok % 9, be == 32 ? 1088 : 1280, n_tok, &g)) return;
        if (check_quant_case(k, t, 13, 1536, 53, &g)) return;
    }
}

// Exactness of the unpacking, independent of the summation order: the product with the unit
// vectors e_i (n_in tokens in one call, and single-token calls) is each decoded weight.
SIMD_TEST(matmul_quant_unit_vectors_give_decoded_weights) {
    struct rng g;
    rng_init(&g, 1314);
    for (size_t q = 0; q < JANUS_ARRAY_SIZE(quant_types); q++) {
        const int t = quant_types[q], be = kern_wtype_info(t)->block_elems;
        for (int it = 0; it < 6; it++) {
            const int64_t n_out = 1 + rng_below(&g, 6);
            const int64_t n_in = it == 0 ? be : be * (1 + (int64_t)rng_below(&g, 1024 / be));
            void *wt = random_blocks(t, n_out, n_in, &g);
            float *wq = decode_rows(t, wt, n_out, n_in);
            float *e = calloc((size_t)(n_in * n_in), sizeof(float));
            float *y = malloc(sizeof(float) * n_in * n_out);
            for (int64_t i = 0; i < n_in; i++)
                e[i * n_in + i] = 1.0f;
            k->matmul[t](y, n_out, wt, e, n_in, n_in, 0, n_out);
            int bad = 0;
            for (int64_t i = 0; i < n_in && !bad; i++)
                for (int64_t r = 0; r < n_out && !bad; r++)
                    if (y[i * n_out + r] != wq[r * n_in + i]) {
                        test_fail(__FILE__, __LINE__,
                                  "%s n_in=%lld: weight (%lld, %lld) %.9g, "
                                  "decoded %.9g",
                                  wtype_name(t), (long long)n_in, (long long)r, (long long)i,
                                  y[i * n_out + r], wq[r * n_in + i]);
                        bad = 1;
                    }
            for (int j = 0; j < 8 && !bad; j++) {
                const int64_t i = rng_below(&g, (uint32_t)n_in);
                k->matmul[t](y, n_out, wt, e + i * n_in, n_in, 1, 0, n_out);
                for (int64_t r = 0; r < n_out && !bad; r++)
                    if (y[r] != wq[r * n_in + i]) {
                        test_fail(__FILE__, __LINE__,
                                  "%s one token: weight (%lld, %lld) %.9g, "
                                  "decoded %.9g",
                                  wtype_name(t), (long long)r, (long long)i, y[r],
                                  wq[r * n_in + i]);
                        bad = 1;
                    }
            }
            free(wt), free(wq), free(e), free(y);
            if (bad) return;
        }
    }
}

// ---- vector ops

SIMD_TEST(dot_axpy_vs_ref) {
    const struct kern_ops *r = kern_ref();
    struct rng g;
    rng_init(&g, 3);
    for (int it = 0; it < 200; it++) {
        int64_t n = it < 40 ? it : 1 + rng_below(&g, 3000);
        float *a = malloc(sizeof(float) * (n + 1)), *b = malloc(sizeof(float) * (n + 1));
        float *y1 = malloc(sizeof(float) * (n + 1)), *y2 = malloc(sizeof(float) * (n + 1));
        fill_normal(&g, a, n, 1.0);
        fill_normal(&g, b, n, 1.0);
        fill_normal(&g, y1, n, 1.0);
        memcpy(y2, y1, sizeof(float) * n);
        double s_abs = 0;
        for (int64_t i = 0; i < n; i++)
            s_abs += fabs((double)a[i] * b[i]);
        float d1 = k->dot(a, b, n), d2 = r->dot(a, b, n);
        ASSERT_LE(fabs((double)d1 - d2), 2.0 * (n + 2) * 0x1p-24 * s_abs + 1e-30);
        float alpha = (float)rng_normal(&g);
        k->axpy(y1, alpha, a, n);
        r->axpy(y2, alpha, a, n);
        for (int64_t i = 0; i < n; i++)
            ASSERT_LE(fabs((double)y1[i] - y2[i]),
                      4 * 0x1p-24 * (fabs(y2[i]) + fabs(alpha * a[i])));
        free(a), free(b), free(y1), free(y2);
    }
}

SIMD_TEST(rmsnorm_vs_ref) {
    const struct kern_ops *r = kern_ref();
    struct rng g;
    rng_init(&g, 4);
    for (int it = 0; it < 100; it++) {
        int64_t n = 1 + rng_below(&g, it < 30 ? 33 : 5000);
        float *x = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * n);
        float *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
        fill_normal(&g, x, n, 3.0);
        fill_normal(&g, w, n, 1.0);
        r->rmsnorm(y2, x, w, n, 1e-5f);
        k->rmsnorm(y1, x, w, n, 1e-5f);
        struct cmp c = compare(y1, y2, NULL, n);
        ASSERT_LT(c.nmse, 1e-11);
        k->rmsnorm(x, x, w, n, 1e-5f); // in place
        ASSERT_MEM_EQ(x, y1, sizeof(float) * n);
        free(x), free(w), free(y1), free(y2);
    }
}

SIMD_TEST(softmax_vs_ref) {
    const struct kern_ops *r = kern_ref();
    struct rng g;
    rng_init(&g, 5);
    for (int it = 0; it < 200; it++) {
        int64_t n = 1 + rng_below(&g, it < 40 ? 20 : 3000);
        double scale = it % 4 == 0 ? 30.0 : (it % 4 == 1 ? 0.01 : 3.0);
        float *x1 = malloc(sizeof(float) * n), *x2 = malloc(sizeof(float) * n);
        fill_normal(&g, x1, n, scale);
        if (n > 1 && it % 7 == 0) x1[0] = x1[n - 1] + 200.0f; // underflow of the rest
        if (n > 1 && it % 5 == 0) x1[1 + rng_below(&g, (uint32_t)n - 1)] = -INFINITY; // masked
        memcpy(x2, x1, sizeof(float) * n);
        r->softmax(x2, n);
        k->softmax(x1, n);
        // exp within a few ulp, plus the normalizer's summation-order error (~√n ulp).
        const double rel = 0x1p-23 * (4.0 + 2.0 * sqrt((double)n));
        double sum = 0;
        for (int64_t i = 0; i < n; i++) {
            ASSERT_LE(fabs((double)x1[i] - x2[i]), rel * x2[i] + 1e-30);
            sum += x1[i];
        }
        ASSERT_NEAR(sum, 1.0, 1e-5);
        free(x1), free(x2);
    }
}

SIMD_TEST(swiglu_vs_ref) {
    const struct kern_ops *r = kern_ref();
    struct rng g;
    rng_init(&g, 6);
    for (int it = 0; it < 100; it++) {
        int64_t n = 1 + rng_below(&g, it < 30 ? 25 : 4000);
        float *gt = malloc(sizeof(float) * n), *u = malloc(sizeof(float) * n);
        float *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
        fill_normal(&g, gt, n, it % 3 == 0 ? 40.0 : 2.0);
        fill_normal(&g, u, n, 1.0);
        r->swiglu(y2, gt, u, n);
        k->swiglu(y1, gt, u, n);
        for (int64_t i = 0; i < n; i++)
            ASSERT_LE(fabs((double)y1[i] - y2[i]), 1e-6 * fabs(y2[i]) + 1e-30);
        k->swiglu(gt, gt, u, n); // y aliases g
        ASSERT_MEM_EQ(gt, y1, sizeof(float) * n);
        free(gt), free(u), free(y1), free(y2);
    }
}

// ---- attention over a paged cache, RoPE

// A random paged cache in KV type `type` (kernels.h) and the same cache as F32 holding the
// dequantised vectors: n_pages·page_size rows of d_k values, rows `stride` bytes apart
// (>= the vector's bytes, even), pages shuffled. attn_case_free releases it.
struct attn_case {
    int64_t d_k, d_v, page_size, n_kv, n_pages;
    int latent;
    uint8_t *kp, *vp; // stored in the type
    float *kf, *vf;   // dequantised, F32 rows of d_k
    int32_t *pages;
    struct kern_kv kv, kvf; // the typed cache and its F32 twin
};

static void attn_case_make(struct attn_case *c, struct rng *g, int it, int type) {
    c->latent = it % 3 == 2; // GQA-like (separate V, d_v = d_k) or latent (v = k, d_v < d_k)
    c->d_k = 1 + rng_below(g, it < 20 ? 20 : 200);
    c->d_v = c->latent ? 1 + rng_below(g, (uint32_t)c->d_k) : c->d_k;
    c->page_size = 1 + rng_below(g, 16), c->n_kv = 1 + rng_below(g, 150);
    c->n_pages = (c->n_kv + c->page_size - 1) / c->page_size + 3;
    const int64_t n_rows = c->n_pages * c->page_size, d = c->d_k;
    const int64_t stride = kern_kv_bytes(type, d) + (type == KERN_KV_F32 ? 4 : 2) * rng_below(g, 4);
    c->kp = malloc((size_t)(stride * n_rows)), c->vp = malloc((size_t)(stride * n_rows));
    c->kf = malloc(sizeof(float) * n_rows * d), c->vf = malloc(sizeof(float) * n_rows * d);
    float *x = malloc(sizeof(float) * d);
    for (int64_t r = 0; r < n_rows; r++) {
        for (int w = 0; w < 2; w++) {
            fill_normal(g, x, d, 1.0);
            uint8_t *dst = (w ? c->vp : c->kp) + r * stride;
            kern_kv_store(type, dst, x, d);
            kern_kv_load(type, (w ? c->vf : c->kf) + r * d, dst, d);
        }
    }
    free(x);
    c->pages = malloc(sizeof(int32_t) * c->n_pages);
    for (int64_t p = 0; p < c->n_pages; p++)
        c->pages[p] = (int32_t)p;
    for (int64_t p = c->n_pages - 1; p > 0; p--) { // pages out of order, as in the pool
        int64_t j = rng_below(g, (uint32_t)p + 1);
        int32_t t = c->pages[p];
        c->pages[p] = c->pages[j];
        c->pages[j] = t;
    }
    c->kv = (struct kern_kv){.k = c->kp,
                             .v = c->latent ? c->kp : c->vp,
                             .pages = c->pages,
                             .page_size = c->page_size,
                             .k_row = stride,
                             .v_row = stride,
                             .type = type};
    c->kvf = (struct kern_kv){.k = c->kf,
                              .v = c->latent ? c->kf : c->vf,
                              .pages = c->pages,
                              .page_size = c->page_size,
                              .k_row = d * (int64_t)sizeof(float),
                              .v_row = d * (int64_t)sizeof(float),
                              .type = KERN_KV_F32};
}

static void attn_case_free(struct attn_case *c) {
    free(c->kp), free(c->vp), free(c->kf), free(c->vf), free(c->pages);
}

// Every SIMD table against the reference for every KV type, and each table over an F16/Q8_0
// cache bit-identical to itself over the F32 cache of the dequantised vectors (its loads
// widen exactly: only the arithmetic order may differ from the reference, never the values).
SIMD_TEST(attn_paged_vs_ref) {
    const struct kern_ops *r = kern_ref();
    for (int type = 0; type < KERN_KV_COUNT; type++) {
        struct rng g;
        rng_init(&g, 8 + (uint64_t)type);
        for (int it = 0; it < 60; it++) {
            struct attn_case c;
            attn_case_make(&c, &g, it, type);
            const int64_t d_k = c.d_k, d_v = c.d_v, n_kv = c.n_kv;
            float *q = malloc(sizeof(float) * d_k), *o1 = malloc(sizeof(float) * d_v);
            float *o2 = malloc(sizeof(float) * d_v), *o3 = malloc(sizeof(float) * d_v);
            float *s1 = malloc(sizeof(float) * n_kv), *s2 = malloc(sizeof(float) * n_kv);
            float *s3 = malloc(sizeof(float) * n_kv);
            fill_normal(&g, q, d_k, it % 4 == 0 ? 4.0 : 1.0);
            const float scale = 1.0f / sqrtf((float)d_k);
            r->attn(o2, s2, q, &c.kv, n_kv, d_k, d_v, scale);
            k->attn(o1, s1, q, &c.kv, n_kv, d_k, d_v, scale);
            // Each output is a convex combination of values: compare against Σ p_j |v_j|.
            for (int64_t i = 0; i < d_v; i++) {
                double mag = 0;
                for (int64_t j = 0; j < n_kv; j++)
                    mag += s2[j] * fabs(((const float *)kern_kv_v(&c.kvf, j))[i]);
                ASSERT_LE(fabs((double)o1[i] - o2[i]),
                          1e-5 * (mag + 1e-30) * (1 + sqrt((double)n_kv)));
            }
            for (int64_t j = 0; j < n_kv; j++)
                ASSERT_LE(fabs((double)s1[j] - s2[j]), 1e-5 * s2[j] + 1e-7);
            if (type != KERN_KV_F32) {
                k->attn(o3, s3, q, &c.kvf, n_kv, d_k, d_v, scale);
                ASSERT_MEM_EQ(o3, o1, sizeof(float) * d_v);
                ASSERT_MEM_EQ(s3, s1, sizeof(float) * n_kv);
            }
            attn_case_free(&c);
            free(q), free(o1), free(o2), free(o3), free(s1), free(s2), free(s3);
            if (test_current_failed) {
                printf("  (failed with KV type %s, case %d)\n", kern_kvtype_name(type), it);
                return;
            }
        }
    }
}

// The specification of the F16/Q8_0 caches: the reference over a typed cache gives exactly
// the bits of the reference over the F32 cache of its dequantised vectors.
TEST(attn_kv_types_ref_equals_dequantised_f32) {
    const struct kern_ops *r = kern_ref();
    for (int type = KERN_KV_F16; type < KERN_KV_COUNT; type++) {
        struct rng g;
        rng_init(&g, 18 + (uint64_t)type);
        for (int it = 0; it < 40; it++) {
            struct attn_case c;
            attn_case_make(&c, &g, it, type);
            float *q = malloc(sizeof(float) * c.d_k), *o1 = malloc(sizeof(float) * c.d_v);
            float *o2 = malloc(sizeof(float) * c.d_v), *s1 = malloc(sizeof(float) * c.n_kv);
            float *s2 = malloc(sizeof(float) * c.n_kv);
            fill_normal(&g, q, c.d_k, 1.0);
            r->attn(o1, s1, q, &c.kv, c.n_kv, c.d_k, c.d_v, 0.25f);
            r->attn(o2, s2, q, &c.kvf, c.n_kv, c.d_k, c.d_v, 0.25f);
            ASSERT_MEM_EQ(o1, o2, sizeof(float) * c.d_v);
            ASSERT_MEM_EQ(s1, s2, sizeof(float) * c.n_kv);
            attn_case_free(&c);
            free(q), free(o1), free(o2), free(s1), free(s2);
        }
    }
}

// KV vector storage: F16 rounds like fp32_to_fp16; Q8_0 whole blocks are q8_0_quantize_row's
// bytes, a partial last block quantises its values alone (zero-padded: padding qs 0), and
// every value comes back within half a quantisation step d = amax/127 of its block plus
// the F16 rounding of d (|q| <= 127 times 2^-11 d).
TEST(kv_store_load_types) {
    struct rng g;
    rng_init(&g, 31);
    ASSERT_EQ(kern_kv_bytes(KERN_KV_F32, 5), 20);
    ASSERT_EQ(kern_kv_bytes(KERN_KV_F16, 5), 10);
    ASSERT_EQ(kern_kv_bytes(KERN_KV_Q8_0, 32), 34);
    ASSERT_EQ(kern_kv_bytes(KERN_KV_Q8_0, 33), 68);
    for (int t = 0; t < KERN_KV_COUNT; t++)
        ASSERT_EQ(kern_kvtype_parse(kern_kvtype_name(t)), t);
    ASSERT_EQ(kern_kvtype_parse("q4_0"), -1);
    ASSERT_EQ(kern_kvtype_parse("F16"), -1);
    ASSERT(kern_kvtype_name(KERN_KV_COUNT) == NULL);
    for (int it = 0; it < 200; it++) {
        const int64_t n = 1 + rng_below(&g, 150);
        float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
        uint8_t *buf =
            malloc((size_t)(kern_kv_bytes(KERN_KV_F32, n) + kern_kv_bytes(KERN_KV_Q8_0, n)));
        fill_normal(&g, x, n, it % 3 ? 1.0 : 100.0);
        kern_kv_store(KERN_KV_F16, buf, x, n);
        kern_kv_load(KERN_KV_F16, y, buf, n);
        for (int64_t i = 0; i < n; i++)
            ASSERT_EQ(y[i], fp16_to_fp32(fp32_to_fp16(x[i])));
        kern_kv_store(KERN_KV_Q8_0, buf, x, n);
        kern_kv_load(KERN_KV_Q8_0, y, buf, n);
        const struct block_q8_0 *b = (const struct block_q8_0 *)buf;
        for (int64_t b0 = 0; b0 < n; b0 += 32) {
            const int64_t m = n - b0 < 32 ? n - b0 : 32;
            float pad[32] = {0}, amax = 0;
            memcpy(pad, x + b0, sizeof(float) * (size_t)m);
            struct block_q8_0 want;
            q8_0_quantize_row(&want, pad, 32);
            ASSERT_MEM_EQ(&b[b0 / 32], &want, sizeof want);
            for (int64_t i = m; i < 32; i++)
                ASSERT_EQ(b[b0 / 32].qs[i], 0);
            for (int64_t i = 0; i < m; i++)
                amax = fabsf(pad[i]) > amax ? fabsf(pad[i]) : amax;
            for (int64_t i = 0; i < m; i++)
                ASSERT_LE(fabs((double)y[b0 + i] - x[b0 + i]), amax / 127.0 * 0.57 + 1e-30);
        }
        kern_kv_store(KERN_KV_F32, buf, x, n);
        kern_kv_load(KERN_KV_F32, y, buf, n);
        ASSERT_MEM_EQ(y, x, sizeof(float) * (size_t)n);
        free(x), free(y), free(buf);
    }
}

SIMD_TEST(rope_both_layouts_vs_ref) {
    struct rng g;
    rng_init(&g, 9);
    for (int it = 0; it < 80; it++) {
        const int neox = it % 2;
        const int64_t head_dim = 2 * (1 + rng_below(&g, it < 40 ? 12 : 100));
        const int64_t n_rot = 2 * (1 + rng_below(&g, (uint32_t)(head_dim / 2)));
        const int64_t n_head = 1 + rng_below(&g, 5), pos = rng_below(&g, 5000);
        const int64_t n = n_head * head_dim;
        float *x1 = malloc(sizeof(float) * n), *x2 = malloc(sizeof(float) * n);
        float *x3 = malloc(sizeof(float) * n);
        fill_normal(&g, x1, n, 1.0);
        memcpy(x2, x1, sizeof(float) * n);
        memcpy(x3, x1, sizeof(float) * n);
        float *cs = malloc(sizeof(float) * n_rot), *sn = malloc(sizeof(float) * n_rot);
        kern_rope_angles(cs, sn, n_rot, pos, 10000.0f, neox);
        kern_rope(x2, n_head, head_dim, n_rot, pos, 10000.0f, neox); // the specification
        k->rope_apply(x1, n_head, head_dim, n_rot, cs, sn, neox);
        for (int64_t i = 0; i < n; i++)
            ASSERT_LE(fabs((double)x1[i] - x2[i]), 4e-7 * (fabs(x2[i]) + 1));
        // The reference table with the angle table gives the specification's bits.
        kern_ref()->rope_apply(x3, n_head, head_dim, n_rot, cs, sn, neox);
        ASSERT_MEM_EQ(x3, x2, sizeof(float) * n);
        free(x1), free(x2), free(x3), free(cs), free(sn);
    }
}
