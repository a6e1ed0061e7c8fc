// F16 / BF16 conversions and the Q8_0 block quantiser (types.h). Scalar and portable: the
// rounding is done with integer bit operations (plus one float add for F16 subnormals),
// so results do not depend on the compiler's floating-point flags.
// SPDX-License-Identifier: MIT
#include "kernels/types.h"

#include <math.h>
#include <string.h>

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

// ---- F16

float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        // zero or subnormal: mant * 2^-24, exact in F32
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round-to-nearest-even (F. Giesen's float_to_half_fast3_rtne construction).
uint16_t fp32_to_fp16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    u &= 0x7fffffffu;
    if (u >= 0x7f800000u) { // inf or NaN
        uint16_t nan = (u > 0x7f800000u) ? (uint16_t)(0x200 | ((u >> 13) & 0x3ff)) : 0;
        return (uint16_t)(sign | 0x7c00 | nan);
    }
    if (u >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); // >= 65520 rounds to inf
    if (u < 0x38800000u) {
        // result is subnormal or zero: let the FPU round by adding 0.5f, whose ulp is 2^-24
        float v = f32_from_bits(u) + 0.5f;
        return (uint16_t)(sign | (uint16_t)(f32_bits(v) - 0x3f000000u));
    }
    uint32_t odd = (u >> 13) & 1;
    u += ((uint32_t)(15 - 127) << 23) + 0xfffu + odd;
    return (uint16_t)(sign | (uint16_t)(u >> 13));
}

// ---- BF16

float bf16_to_fp32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t fp32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

// ---- rows

void types_f32_to_f16_row(uint16_t *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fp32_to_fp16(x[i]);
}

void types_f16_to_f32_row(float *y, const uint16_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fp16_to_fp32(x[i]);
}

void types_f32_to_bf16_row(uint16_t *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = fp32_to_bf16(x[i]);
}

void types_bf16_to_f32_row(float *y, const uint16_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = bf16_to_fp32(x[i]);
}

// ---- Q8_0

void q8_0_quantize_row(struct block_q8_0 *y, const float *x, int64_t n) {
    int64_t nb = n / TYPES_Q8_0_BLOCK;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * TYPES_Q8_0_BLOCK;
        float amax = 0.0f;
        for (int i = 0; i < TYPES_Q8_0_BLOCK; i++) {
            float a = fabsf(xb[i]);
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int i = 0; i < TYPES_Q8_0_BLOCK; i++) {
            float q = roundf(xb[i] * id); // halves away from zero; |q| <= 127
            y[b].qs[i] = (int8_t)q;
        }
    }
}

void q8_0_dequantize_row(float *y, const struct block_q8_0 *x, int64_t n) {
    int64_t nb = n / TYPES_Q8_0_BLOCK;
    for (int64_t b = 0; b < nb; b++) {
        float d = fp16_to_fp32(x[b].d);
        for (int i = 0; i < TYPES_Q8_0_BLOCK; i++)
            y[b * TYPES_Q8_0_BLOCK + i] = d * (float)x[b].qs[i];
    }
}
