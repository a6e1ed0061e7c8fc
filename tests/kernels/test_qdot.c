// Tests of the integer path (issue 13 item 2; kernels/qdot.c, qdot_avx2.c, qdot_avx512.c):
// the reference integer path against the exact path within the activation-rounding bound
// (|Δ| <= Σ|w|·dx/2 per block, so a wrong offset, scale or min fails), every SIMD table's
// matmul_q8 against the reference (integer parts exact: only the float order differs),
// bit-identity of each table across row splits and token counts, and quantize_act's bits.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "kernels/kernels.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"
#include "kernels/types.h"

#include <stdlib.h>

static const int qtypes[] = {KERN_W_Q8_0, KERN_W_Q4_0, KERN_W_Q4_1,   KERN_W_Q5_0,
                             KERN_W_Q5_1, KERN_W_Q2_K, KERN_W_Q3_K,   KERN_W_Q4_K,
                             KERN_W_Q5_K, KERN_W_Q6_K, KERN_W_IQ4_NL, KERN_W_IQ4_XS};
#define N_QTYPES ((int)(sizeof qtypes / sizeof qtypes[0]))

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float frnd(void) { return (float)(rnd() % 200001) / 100000.0f - 1.0f; } // [-1, 1]

// Byte offsets of the F16 scale fields of a block (d, and m/dmin where the type has one).
static void scale_offsets(int type, int *od, int *om) {
    *om = -1;
    switch (type) {
    case KERN_W_Q4_1:
    case KERN_W_Q5_1:
    case KERN_W_Q4_K:
    case KERN_W_Q5_K: *od = 0, *om = 2; return;
    case KERN_W_Q2_K: *od = 80, *om = 82; return;
    case KERN_W_Q3_K: *od = 108; return;
    case KERN_W_Q6_K: *od = 208; return;
    default: *od = 0; return; // Q8_0, Q4_0, Q5_0, IQ4_NL, IQ4_XS
    }
}

// rows x n_in weights of the type: random bytes (every bit pattern is a valid block) with
// finite F16 scales of varied size. Caller frees.
static uint8_t *make_weights(int type, int64_t rows, int64_t n_in) {
    const struct kern_wtype_info *inf = kern_wtype_info(type);
    const size_t bytes = kern_row_bytes(type, n_in) * (size_t)rows;
    uint8_t *w = malloc(bytes);
    for (size_t i = 0; i < bytes; i++)
        w[i] = (uint8_t)rnd();
    int od, om;
    scale_offsets(type, &od, &om);
    for (size_t o = 0; o < bytes; o += (size_t)inf->block_bytes) {
        const uint16_t d = fp32_to_fp16((0.2f + (float)(rnd() % 1000) / 1000.0f) * 0.01f);
        const uint16_t m = fp32_to_fp16(frnd() * 0.02f);
        memcpy(w + o + od, &d, 2);
        if (om >= 0) memcpy(w + o + om, &m, 2);
    }
    return w;
}

// n values with varied block magnitudes (one block all zero, one with a single spike).
static void make_acts(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const int64_t b = i / 32;
        const float mag = b % 7 == 3 ? 0.0f : (b % 5 == 1 ? 30.0f : 1.0f + (float)(b % 3));
        x[i] = frnd() * mag;
    }
    if (n > 64) x[40] = 55.0f;
}

// Σ |w_i · x_i| per (r, t), w exactly dequantised, x the dequantised activation blocks.
static void abs_products(float *mag, int type, const uint8_t *w, const struct block_q8_act *xq,
                         int64_t n_in, int64_t n_tok, int64_t rows) {
    float *wr = malloc((size_t)n_in * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        quant_dequantize_row(type, wr, w + (size_t)r * kern_row_bytes(type, n_in), n_in);
        for (int64_t t = 0; t < n_tok; t++) {
            double s = 0;
            for (int64_t i = 0; i < n_in; i++) {
                const struct block_q8_act *a = xq + t * (n_in / 32) + i / 32;
                s += fabs((double)wr[i] * a->d * a->qs[i % 32]);
            }
            mag[t * rows + r] = (float)s;
        }
    }
    free(wr);
}

TEST(ref_integer_path_within_activation_rounding_of_exact) {
    const int64_t rows = 7, n_tok = 3;
    for (int k = 0; k < N_QTYPES; k++) {
        const int type = qtypes[k];
        const int64_t n_in = kern_wtype_info(type)->block_elems == 256 ? 512 : 352;
        uint8_t *w = make_weights(type, rows, n_in);
        float *x = malloc((size_t)(n_in * n_tok) * sizeof(float));
        struct block_q8_act *xq = malloc((size_t)(n_in / 32 * n_tok) * sizeof *xq);
        make_acts(x, n_in * n_tok);
        quant_act_row(xq, x, n_in * n_tok);
        float ye[7 * 3], yi[7 * 3], wr[512];
        kern_ref()->matmul[type](ye, rows, w, x, n_in, n_tok, 0, rows);
        kern_ref()->matmul_q8[type](yi, rows, w, xq, n_in, n_tok, 0, rows);
        double worst = 0;
        for (int64_t r = 0; r < rows; r++) {
            quant_dequantize_row(type, wr, w + (size_t)r * kern_row_bytes(type, n_in), n_in);
            for (int64_t t = 0; t < n_tok; t++) {
                double bound = 0, mag = 0;
                for (int64_t i = 0; i < n_in; i++) {
                    const float dx = xq[t * (n_in / 32) + i / 32].d;
                    bound += fabs((double)wr[i]) * dx / 2;
                    mag += fabs((double)wr[i] * x[t * n_in + i]);
                }
                const double tol = bound + 1e-5 * mag + 1e-30;
                const double err = fabs((double)yi[t * rows + r] - ye[t * rows + r]);
                if (err / tol > worst) worst = err / tol;
                if (err > tol)
                    TEST_FAIL_("%s r=%" PRId64 " t=%" PRId64 ": int %.9g exact %.9g bound %.3g",
                               kern_wtype_info(type)->name, r, t, yi[t * rows + r],
                               ye[t * rows + r], tol);
            }
        }
        // The bound is not vacuous: the error uses a real fraction of it somewhere.
        ASSERT(worst > 1e-3);
        free(w), free(x), free(xq);
    }
}

// A wrong min/offset term must not pass the bound: the exact path on weights whose F16 min
// field is changed differs from the integer path by more than the bound.
TEST(ref_integer_path_sees_scale_and_min) {
    const int64_t n_in = 256;
    const int types[] = {KERN_W_Q4_1, KERN_W_Q4_K, KERN_W_Q2_K, KERN_W_Q6_K};
    for (int k = 0; k < 4; k++) {
        const int type = types[k];
        uint8_t *w = make_weights(type, 1, n_in);
        float x[256], ya, yb;
        struct block_q8_act xq[8];
        for (int i = 0; i < 256; i++)
            x[i] = 0.5f + 0.5f * frnd() * frnd(); // positive: min terms do not cancel
        quant_act_row(xq, x, n_in);
        kern_ref()->matmul_q8[type](&ya, 1, w, xq, n_in, 1, 0, 1);
        int od, om;
        scale_offsets(type, &od, &om);
        uint16_t h;
        memcpy(&h, w + (om >= 0 ? om : od), 2);
        h = fp32_to_fp16(fp16_to_fp32(h) * 1.5f + 0.001f);
        memcpy(w + (om >= 0 ? om : od), &h, 2);
        kern_ref()->matmul_q8[type](&yb, 1, w, xq, n_in, 1, 0, 1);
        ASSERT(fabsf(ya - yb) > 1e-4f * (fabsf(ya) + fabsf(yb)));
        free(w);
    }
}

// Every SIMD table that this build and CPU have.
static const char *const simd_names[] = {"avx2", "avx512"};

TEST(simd_quantize_act_bits_equal_reference) {
    const int64_t n = 32 * 40;
    float x[32 * 40];
    make_acts(x, n);
    for (int i = 0; i < 32; i++) // block 5: halves and ties at the rounding boundary
        x[5 * 32 + i] = (float)(i - 16) * 0.5f + (i == 0 ? 0.0f : 0.0f);
    x[5 * 32 + 31] = 127.0f;
    for (int i = 0; i < 32; i++)
        x[6 * 32 + i] = -(float)i / 31.0f * 1e-20f; // tiny
    x[7 * 32 + 3] = NAN;
    x[8 * 32 + 2] = -1e30f;
    struct block_q8_act a[40], b[40];
    quant_act_row(a, x, n);
    ASSERT_EQ(kern_ref()->quantize_act == NULL, 0);
    int ran = 0;
    for (int s = 0; s < 2; s++) {
        const struct kern_ops *k = kern_by_name(simd_names[s]);
        if (!k) continue;
        ran++;
        ASSERT(k->quantize_act != NULL);
        memset(b, 0x55, sizeof b);
        k->quantize_act(b, x, n);
        for (int i = 0; i < 40; i++)
            if (memcmp(&a[i], &b[i], sizeof a[i]))
                TEST_FAIL_("%s: block %d differs (d %.9g vs %.9g)", k->name, i, a[i].d, b[i].d);
    }
    printf("  (%d SIMD tables)\n", ran);
}

// One SIMD table against the reference integer path and against itself split up.
static void simd_vs_ref(const struct kern_ops *k, int type, int64_t rows, int64_t n_in,
                        int64_t n_tok) {
    uint8_t *w = make_weights(type, rows, n_in);
    const int64_t nb = n_in / 32;
    float *x = malloc((size_t)(n_in * n_tok) * sizeof(float));
    struct block_q8_act *xq = malloc((size_t)(nb * n_tok) * sizeof *xq);
    make_acts(x, n_in * n_tok);
    quant_act_row(xq, x, n_in * n_tok);
    const size_t ny = (size_t)(rows * n_tok);
    float *yr = malloc(ny * 4), *ys = malloc(ny * 4), *yp = malloc(ny * 4), *mag = malloc(ny * 4);
    kern_ref()->matmul_q8[type](yr, rows, w, xq, n_in, n_tok, 0, rows);
    k->matmul_q8[type](ys, rows, w, xq, n_in, n_tok, 0, rows);
    abs_products(mag, type, w, xq, n_in, n_tok, rows);
    for (size_t i = 0; i < ny; i++) {
        const double tol = (double)(nb + 16) * 1.2e-7 * mag[i] + 1e-30;
        if (!(fabs((double)ys[i] - yr[i]) <= tol)) {
            test_fail(__FILE__, __LINE__,
                      "%s %s rows %" PRId64 " n_in %" PRId64 " tok %" PRId64
                      " [%zu]: %.9g vs ref %.9g (tol %.3g)",
                      k->name, kern_wtype_info(type)->name, rows, n_in, n_tok, i, ys[i], yr[i],
                      tol);
            goto out;
        }
    }
    // Bit-identity: odd row splits, each token alone, and tokens in two uneven batches.
    memset(yp, 0, ny * 4);
    for (int64_t r0 = 0; r0 < rows;) {
        const int64_t r1 = r0 + 1 + (r0 * 7 + 3) % 6 < rows ? r0 + 1 + (r0 * 7 + 3) % 6 : rows;
        for (int64_t t = 0; t < n_tok; t++)
            k->matmul_q8[type](yp + t * rows, rows, w, xq + t * nb, n_in, 1, r0, r1);
        r0 = r1;
    }
    if (memcmp(yp, ys, ny * 4)) {
        test_fail(__FILE__, __LINE__, "%s %s: split rows / single tokens not bit-identical",
                  k->name, kern_wtype_info(type)->name);
        goto out;
    }
    memset(yp, 0, ny * 4);
    const int64_t t1 = n_tok / 3;
    k->matmul_q8[type](yp, rows, w, xq, n_in, t1, 0, rows);
    k->matmul_q8[type](yp + t1 * rows, rows, w, xq + t1 * nb, n_in, n_tok - t1, 0, rows);
    if (memcmp(yp, ys, ny * 4))
        test_fail(__FILE__, __LINE__, "%s %s: token batches not bit-identical", k->name,
                  kern_wtype_info(type)->name);
out:
    free(w), free(x), free(xq), free(yr), free(ys), free(yp), free(mag);
}

TEST(simd_matmul_q8_vs_ref_and_bit_identical) {
    int ran = 0;
    for (int s = 0; s < 2; s++) {
        const struct kern_ops *k = kern_by_name(simd_names[s]);
        if (!k) continue;
        for (int j = 0; j < N_QTYPES; j++) {
            const int type = qtypes[j];
            if (!k->matmul_q8[type])
                TEST_FAIL_("%s: no matmul_q8 for %s", k->name, kern_wtype_info(type)->name);
            const int big = kern_wtype_info(type)->block_elems == 256;
            simd_vs_ref(k, type, 13, big ? 768 : 352, 9);
            simd_vs_ref(k, type, 4, big ? 256 : 32, 1);
            simd_vs_ref(k, type, 9, big ? 512 : 288, 17);
            if (test_current_failed) return;
            ran++;
        }
    }
    printf("  (%d table x type cases)\n", ran);
}

TEST(every_table_has_the_integer_path) {
    const struct kern_ops *best = kern_best();
    ASSERT(best->quantize_act != NULL);
    for (int j = 0; j < N_QTYPES; j++) {
        ASSERT(kern_ref()->matmul_q8[qtypes[j]] != NULL);
        ASSERT(best->matmul_q8[qtypes[j]] != NULL);
    }
    ASSERT(kern_ref()->matmul_q8[KERN_W_F32] == NULL);
    ASSERT(kern_ref()->matmul_q8[KERN_W_F16] == NULL);
}
