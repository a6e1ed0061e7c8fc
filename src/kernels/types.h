// Storage types the kernels compute with: IEEE half (F16), bfloat16 (BF16) and the ggml
// Q8_0 block (32 int8 values sharing one F16 scale). Conversions are exact where the format
// allows and round-to-nearest-even otherwise; Q8_0 quantisation follows ggml's reference
// (d = max|x|/127 stored as F16, q = round(x/d) with halves away from zero).
// Pure functions: no allocation, no I/O, thread-safe. Used by gen-model and the engine.
// SPDX-License-Identifier: MIT
#ifndef JANUS_TYPES_H
#define JANUS_TYPES_H

#include <stdint.h>

#define TYPES_Q8_0_BLOCK 32 // values per Q8_0 block

// One Q8_0 block: value i is fp16_to_fp32(d) * qs[i].
struct block_q8_0 {
    uint16_t d;                  // F16 scale
    int8_t qs[TYPES_Q8_0_BLOCK]; // quantised values
};
_Static_assert(sizeof(struct block_q8_0) == 34, "Q8_0 block must be 34 bytes (ggml layout)");

// F16 <-> F32. fp16_to_fp32 is exact (subnormals, inf and NaN included);
// fp32_to_fp16 rounds to nearest even, overflows to inf, keeps NaN a (quiet) NaN.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
// BF16 <-> F32: the upper 16 bits of the F32; fp32_to_bf16 rounds to nearest even and keeps
// NaN a (quiet) NaN.
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

// Quantise n values (n % 32 == 0) of x into n/32 blocks of y, and back.
void q8_0_quantize_row(struct block_q8_0 *y, const float *x, int64_t n);
void q8_0_dequantize_row(float *y, const struct block_q8_0 *x, int64_t n);

// Convert n values between F32 and F16/BF16 arrays.
void types_f32_to_f16_row(uint16_t *y, const float *x, int64_t n);
void types_f16_to_f32_row(float *y, const uint16_t *x, int64_t n);
void types_f32_to_bf16_row(uint16_t *y, const float *x, int64_t n);
void types_bf16_to_f32_row(float *y, const uint16_t *x, int64_t n);

#endif // JANUS_TYPES_H
