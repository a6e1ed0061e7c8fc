// Tests for src/kernels/types.c: F16 and BF16 conversions (exhaustive over all 65536 bit
// patterns, round-to-nearest-even ties, overflow, subnormals, NaN) and the Q8_0 block
// quantiser (ggml reference rules; matches the fixture file llama-moe-q8_0 bit for bit);
// the round-to-nearest quantiser of every block type (kernels/quant.c, issue 13 item 3):
// dequantise(quantise(x)) within a bound derived from each format, quantise -> dequantise
// -> quantise gives the same bytes, and the RMS error per type.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/rng.h"
#include "kernels/quant.h"
#include "kernels/types.h"
#include "model/gguf.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

TEST(fp16_exhaustive_roundtrip) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = fp16_to_fp32((uint16_t)h);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            ASSERT(f != f);
            ASSERT_EQ(fp32_to_fp16(f) & 0x7e00, 0x7e00); // stays a (quiet) NaN
            continue;
        }
        if (fp32_to_fp16(f) != h) TEST_FAIL_("half 0x%04x -> %g -> 0x%04x", h, f, fp32_to_fp16(f));
    }
    ASSERT_EQ(fp16_to_fp32(0x3c00), 1.0f);
    ASSERT_EQ(fp16_to_fp32(0xc000), -2.0f);
    ASSERT_EQ(fp16_to_fp32(0x0001), 5.9604644775390625e-8f); // smallest subnormal 2^-24
    ASSERT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
}

TEST(fp16_rounding) {
    // ties to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 -> 1 (even)
    ASSERT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
    ASSERT_EQ(fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02); // halfway above odd -> up
    ASSERT_EQ(fp32_to_fp16(nextafterf(1.0f + 0x1p-11f, 2.0f)), 0x3c01);
    ASSERT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
    ASSERT_EQ(fp32_to_fp16(65519.0f), 0x7bff);
    ASSERT_EQ(fp32_to_fp16(65520.0f), 0x7c00); // rounds to inf
    ASSERT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
    ASSERT_EQ(fp32_to_fp16(from_bits(0x7f800000u)), 0x7c00);
    ASSERT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);           // half of the smallest: tie -> 0
    ASSERT_EQ(fp32_to_fp16(nextafterf(0x1p-25f, 1)), 1); // just above -> smallest subnormal
    ASSERT_EQ(fp32_to_fp16(3 * 0x1p-25f), 0x0002);       // 1.5 ulp tie -> even (2)
    ASSERT_EQ(fp32_to_fp16(-0.0f), 0x8000);
    // random values: the result is the nearest half (checked against neighbours)
    struct rng r;
    rng_init(&r, 7);
    for (int i = 0; i < 100000; i++) {
        float x = (float)((rng_uniform(&r) - 0.5) * 2 * pow(2.0, (double)rng_below(&r, 40) - 24));
        uint16_t h = fp32_to_fp16(x);
        double d = fabs((double)fp16_to_fp32(h) - x);
        double dn = fabs((double)fp16_to_fp32((uint16_t)(h + 1)) - x);
        double dp = (h & 0x7fff) ? fabs((double)fp16_to_fp32((uint16_t)(h - 1)) - x) : 1e30;
        if (d > dn || d > dp) TEST_FAIL_("%g -> 0x%04x not nearest", x, h);
    }
}

TEST(bf16_conversions) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bf16_to_fp32((uint16_t)h);
        if (f != f) continue;
        ASSERT_EQ(fp32_to_bf16(f), h);
    }
    ASSERT_EQ(fp32_to_bf16(from_bits(0x3f808000u)), 0x3f80); // tie, even stays
    ASSERT_EQ(fp32_to_bf16(from_bits(0x3f818000u)), 0x3f82); // tie, odd rounds up
    ASSERT_EQ(fp32_to_bf16(from_bits(0x3f808001u)), 0x3f81);
    ASSERT_EQ(fp32_to_bf16(from_bits(0x7f7fffffu)), 0x7f80); // FLT_MAX rounds to inf
    uint16_t n = fp32_to_bf16(from_bits(0x7f800001u));       // NaN with low payload
    ASSERT(bf16_to_fp32(n) != bf16_to_fp32(n));
    ASSERT_EQ(to_bits(bf16_to_fp32(0x4049)), 0x40490000u);
}

TEST(q8_0_blocks) {
    float x[64], y[64];
    struct block_q8_0 q[2];
    for (int i = 0; i < 64; i++)
        x[i] = (float)(i - 20) * 0.37f;
    q8_0_quantize_row(q, x, 64);
    q8_0_dequantize_row(y, q, 64);
    for (int b = 0; b < 2; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++)
            amax = fmaxf(amax, fabsf(x[b * 32 + i]));
        ASSERT_EQ(q[b].d, fp32_to_fp16(amax / 127.0f));
        int has127 = 0;
        for (int i = 0; i < 32; i++)
            has127 |= q[b].qs[i] == 127 || q[b].qs[i] == -127;
        ASSERT(has127);
        for (int i = 0; i < 32; i++)
            ASSERT_NEAR(y[b * 32 + i], x[b * 32 + i], amax / 127.0 * 0.51);
    }
    // all-zero block: d = 0, q = 0
    float z[32] = {0};
    q8_0_quantize_row(q, z, 32);
    ASSERT_EQ(q[0].d, 0);
    for (int i = 0; i < 32; i++)
        ASSERT_EQ(q[0].qs[i], 0);
    // halves round away from zero: x = 0.5 d exactly
    float h[32] = {0};
    h[0] = 127.0f;
    h[1] = 0.5f;
    h[2] = -0.5f;
    q8_0_quantize_row(q, h, 32);
    ASSERT_EQ(q[0].qs[0], 127);
    ASSERT_EQ(q[0].qs[1], 1);
    ASSERT_EQ(q[0].qs[2], -1);
}

// The fixtures' F16/BF16/Q8_0 llama models hold the F32 model's weights converted with the
// same rules: our conversions must reproduce them bit for bit.
TEST(matches_fixture_conversions) {
    static const char *k_files[] = {"llama-moe-f32", "llama-moe-f16", "llama-moe-bf16",
                                    "llama-moe-q8_0"};
    struct gguf g[4];
    char path[4096], err[512];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), k_files[i]);
        int rc = gguf_open(&g[i], path, err, sizeof err);
        if (rc) TEST_FAIL_("%s", err);
    }
    int64_t n_checked = 0;
    for (int64_t t = 0; t < g[0].n_tensors; t++) {
        const float *x = g[0].tensors[t].data;
        int64_t n = (int64_t)(g[0].tensors[t].n_bytes / 4);
        for (int k = 1; k < 4; k++) {
            const struct gguf_tensor *tk = &g[k].tensors[t];
            ASSERT(tk->name.len == g[0].tensors[t].name.len);
            if (tk->type == GGML_TYPE_F16 || tk->type == GGML_TYPE_BF16) {
                const uint16_t *h = tk->data;
                for (int64_t i = 0; i < n; i++) {
                    uint16_t want =
                        tk->type == GGML_TYPE_F16 ? fp32_to_fp16(x[i]) : fp32_to_bf16(x[i]);
                    if (h[i] != want)
                        TEST_FAIL_("%s tensor %lld element %lld", k_files[k], (long long)t,
                                   (long long)i);
                }
                n_checked += n;
            } else if (tk->type == GGML_TYPE_Q8_0) {
                const struct block_q8_0 *q = tk->data;
                for (int64_t b = 0; b < n / 32; b++) {
                    struct block_q8_0 y;
                    q8_0_quantize_row(&y, x + b * 32, 32);
                    if (memcmp(&y, &q[b], sizeof y))
                        TEST_FAIL_("q8_0 tensor %lld block %lld", (long long)t, (long long)b);
                }
                n_checked += n;
            }
        }
    }
    ASSERT_LT(500000, n_checked);
    for (int i = 0; i < 4; i++)
        gguf_close(&g[i]);
}

TEST(rows) {
    float x[5] = {1.0f, -2.5f, 0.0f, 65504.0f, 1e-7f}, y[5];
    uint16_t h[5];
    types_f32_to_f16_row(h, x, 5);
    types_f16_to_f32_row(y, h, 5);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(y[i], x[i]);
    types_f32_to_bf16_row(h, x, 5);
    types_bf16_to_f32_row(y, h, 5);
    ASSERT_EQ(y[1], -2.5f);
    ASSERT_EQ(h[0], fp32_to_bf16(1.0f));
}

// ---- quant_quantize_row (issue 13 item 3): every block type's round-to-nearest quantiser

// The largest error the format allows the quantiser for value i of block x (block_elems
// values), derived in quant.c's terms: A = max|x| of the block, per sub-block j its own
// extreme a_j, bottom lo_j and top hi_j.
//  Q4_0 / Q5_0: step d = A/8 (A/16); the extreme sits on level -8 (-16), the other side
//    reaches only +7d (+15d): error <= d.   IQ4_NL: d = A/127, the table's largest half gap
//    is 12d and its far side reaches 113d of 127d: error <= 14d.
//  Q4_1 / Q5_1: step (hi - lo)/Q (Q = 15, 31): half a step, plus the F16 rounding of the
//    minimum (down, <= |lo|·2^-10) and of the step (range·2^-11) at the top.
//  Q3_K / Q6_K / IQ4_XS: sub-block scale a_j/N (N = 4, 32, 127) quantised against
//    d = A/(N·S) (S = 32, 128, 32) and never rounded up past the extreme level:
//    error <= a_j/N + A/S (IQ4_XS: 14·a_j/127 + A/32, as IQ4_NL plus the scale step).
//  Q2_K / Q4_K / Q5_K: per sub-block the grid [bottom, bottom + Q·dl] with bottom within
//    one dmin step (<= A/Qs) above min(0, lo_j) and the top within Q·d <= R/Qs of hi_j
//    (R the largest sub-block range, Qs = 15, 63, 63): error <= max(half a step
//    range_j/(2Q) + R/(4·Q·Qs), A/Qs, R/Qs).
// Every bound gets 0.2 % for F16 rounding of the scales.
static double quant_bound(int type, const float *x, int i) {
    const struct kern_wtype_info *t = kern_wtype_info(type);
    double A = 0.0;
    for (int k = 0; k < t->block_elems; k++)
        A = fmax(A, fabs(x[k]));
    int sub = 0, N = 0, S = 0, Q = 0, Qs = 0;
    switch (type) {
    case KERN_W_Q4_0: return A / 8 * 1.002;
    case KERN_W_Q5_0: return A / 16 * 1.002;
    case KERN_W_IQ4_NL: return 14 * A / 127 * 1.002;
    case KERN_W_Q4_1:
    case KERN_W_Q5_1: {
        double lo = x[0], hi = x[0];
        for (int k = 0; k < t->block_elems; k++) {
            lo = fmin(lo, x[k]);
            hi = fmax(hi, x[k]);
        }
        Q = type == KERN_W_Q4_1 ? 15 : 31;
        return (hi - lo) / (2 * Q) * 1.002 + fabs(lo) / 1024 + (hi - lo) / 2048;
    }
    case KERN_W_Q3_K: sub = 16, N = 4, S = 32; break;
    case KERN_W_Q6_K: sub = 16, N = 32, S = 128; break;
    case KERN_W_IQ4_XS: sub = 32, N = 127, S = 32; break;
    case KERN_W_Q2_K: sub = 16, Q = 3, Qs = 15; break;
    case KERN_W_Q4_K: sub = 32, Q = 15, Qs = 63; break;
    case KERN_W_Q5_K: sub = 32, Q = 31, Qs = 63; break;
    default: return 0.0;
    }
    const int j = i / sub;
    if (N) {
        double aj = 0.0;
        for (int k = j * sub; k < (j + 1) * sub; k++)
            aj = fmax(aj, fabs(x[k]));
        return ((type == KERN_W_IQ4_XS ? 14 * aj / 127 : aj / N) + A / S) * 1.002;
    }
    double R = 0.0, rj = 0.0;
    for (int s = 0; s < QK_K / sub; s++) {
        double lo = 0.0, hi = x[s * sub];
        for (int k = s * sub; k < (s + 1) * sub; k++) {
            lo = fmin(lo, x[k]);
            hi = fmax(hi, x[k]);
        }
        R = fmax(R, hi - lo);
        if (s == j) rj = hi - lo;
    }
    return fmax(fmax(rj / (2 * Q) + R / (4.0 * Q * Qs), A / Qs), R / Qs) * 1.002;
}

// Test rows of 4 super-blocks (1024 values) of kind k: normal at scales 1, 0.02 (weights of
// a 2500-wide layer) and 40, uniform positive with an offset, all negative, one outlier, a
// zero super-block and a zero sub-block, constant blocks.
static void quant_test_row(float *x, int n, int k, struct rng *r) {
    for (int i = 0; i < n; i++) {
        const float g = (float)rng_normal(r), u = rng_uniform_f(r);
        switch (k) {
        case 0: x[i] = g; break;
        case 1: x[i] = 0.02f * g; break;
        case 2: x[i] = 40.0f * g; break;
        case 3: x[i] = 3.0f + u; break;
        case 4: x[i] = -0.5f - u; break;
        case 5: x[i] = i % 97 == 5 ? 20.0f : g; break;
        case 6: x[i] = i < 256 || (i >= 512 && i < 544) ? 0.0f : g; break;
        default: x[i] = i < 512 ? 0.7f : -0.7f; break;
        }
    }
}

TEST(quantize_roundtrip_bound_and_stable) {
    enum { N_ROW = 1024, N_KIND = 8 };
    static float x[N_ROW], y[N_ROW], y2[N_ROW];
    static uint8_t q[N_ROW * 2], q2[N_ROW * 2];
    struct rng r;
    for (int type = KERN_W_Q4_0; type < KERN_W_COUNT; type++) {
        const struct kern_wtype_info *t = kern_wtype_info(type);
        const size_t nb = kern_row_bytes(type, N_ROW);
        ASSERT(nb > 0 && nb <= sizeof q);
        double worst = 0.0; // largest error / bound
        for (int k = 0; k < N_KIND; k++) {
            rng_init3(&r, 13, (uint64_t)type, (uint64_t)k);
            quant_test_row(x, N_ROW, k, &r);
            memset(q, 0xa5, sizeof q); // every byte of every block must be written
            quant_quantize_row(type, q, x, N_ROW);
            memset(q2, 0x5a, sizeof q2);
            quant_quantize_row(type, q2, x, N_ROW);
            ASSERT_MEM_EQ(q, q2, nb);
            quant_dequantize_row(type, y, q, N_ROW);
            for (int i = 0; i < N_ROW; i++) {
                const int b0 = i - i % t->block_elems;
                const double bound = quant_bound(type, x + b0, i - b0);
                const double e = fabs((double)y[i] - (double)x[i]);
                if (!(e <= bound))
                    TEST_FAIL_("%s, row kind %d, value %d: %.9g -> %.9g, error %.3g > bound %.3g",
                               t->name, k, i, x[i], y[i], e, bound);
                if (bound > 0) worst = fmax(worst, e / bound);
            }
            // quantise -> dequantise -> quantise: the same blocks, the same values
            quant_quantize_row(type, q2, y, N_ROW);
            if (memcmp(q, q2, nb) != 0) {
                size_t b = 0;
                while (q[b] == q2[b])
                    b++;
                TEST_FAIL_("%s, row kind %d: requantising the dequantised row changed byte %zu "
                           "(block %zu)",
                           t->name, k, b, b / (size_t)t->block_bytes);
            }
            quant_dequantize_row(type, y2, q2, N_ROW);
            ASSERT_MEM_EQ(y, y2, sizeof y);
        }
        fprintf(stderr, "  %-7s worst error / bound %.3f\n", t->name, worst);
        ASSERT(worst > 0.2); // the bound is not vacuous: some value comes near it
    }
}

// The error of a normal row shrinks with the bits per value (sanity of the scale choices):
// RMS error relative to the RMS value, per type (a uniform step h gives h/sqrt(12); Q4_0 on a
// normal block of 32: h = max|x|/8 ~ 0.27 sigma, 0.08).
TEST(quantize_rms_error) {
    enum { N_ROW = 8192 };
    static float x[N_ROW], y[N_ROW];
    static uint8_t q[N_ROW * 2];
    struct rng r;
    rng_init(&r, 99);
    for (int i = 0; i < N_ROW; i++)
        x[i] = (float)rng_normal(&r);
    static const struct {
        int type;
        double max_rel; // RMS error / RMS value at most
    } k[] = {{KERN_W_Q2_K, 0.36},  {KERN_W_Q3_K, 0.19},    {KERN_W_Q4_0, 0.10},
             {KERN_W_Q4_1, 0.095}, {KERN_W_IQ4_NL, 0.095}, {KERN_W_IQ4_XS, 0.095},
             {KERN_W_Q4_K, 0.095}, {KERN_W_Q5_0, 0.052},   {KERN_W_Q5_1, 0.046},
             {KERN_W_Q5_K, 0.046}, {KERN_W_Q6_K, 0.023}}; // about 1.2x the measured values
    for (size_t t = 0; t < sizeof k / sizeof k[0]; t++) {
        quant_quantize_row(k[t].type, q, x, N_ROW);
        quant_dequantize_row(k[t].type, y, q, N_ROW);
        double se = 0.0, sx = 0.0;
        for (int i = 0; i < N_ROW; i++) {
            se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
            sx += (double)x[i] * x[i];
        }
        const double rel = sqrt(se / sx);
        fprintf(stderr, "  %-7s RMS error / RMS value %.4f\n", kern_wtype_info(k[t].type)->name,
                rel);
        ASSERT_LE(rel, k[t].max_rel);
    }
}
