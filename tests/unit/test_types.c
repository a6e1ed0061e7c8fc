// Tests for src/kernels/types.c: F16 and BF16 conversions (exhaustive over all 65536 bit
// patterns, round-to-nearest-even ties, overflow, subnormals, NaN) and the Q8_0 block
// quantiser (ggml reference rules; matches the fixture file llama-moe-q8_0 bit for bit).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/rng.h"
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
