// Block-quantized weight formats (issue 13): ggml's Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K, IQ4_NL and IQ4_XS blocks byte for byte (ggml-common.h layouts), their exact
// decoding (the F32 value ggml's dequantize_row_<type> produces: the specification every
// kernel is tested against), a round-to-nearest quantiser per type (gen-model), and the int8
// activation blocks of the integer path. Pure and scalar: no allocation, no I/O.
// SPDX-License-Identifier: MIT
#ifndef JANUS_QUANT_H
#define JANUS_QUANT_H

#include "kernels/kernels.h"

#include <stddef.h>
#include <stdint.h>

#define QK4_0        32  // values per Q4_0 / Q4_1 / Q5_0 / Q5_1 / IQ4_NL block
#define QK_K         256 // values per K-quant / IQ4_XS super-block
#define K_SCALE_SIZE 12

struct block_q4_0 {
    uint16_t d;            // F16 scale
    uint8_t qs[QK4_0 / 2]; // value i (< 16): low nibble of qs[i]; value i + 16: high nibble
};
struct block_q4_1 {
    uint16_t d, m;
    uint8_t qs[QK4_0 / 2];
};
struct block_q5_0 {
    uint16_t d;
    uint8_t qh[4]; // bit i: the fifth bit of value i
    uint8_t qs[QK4_0 / 2];
};
struct block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK4_0 / 2];
};
struct block_q2_K {
    uint8_t scales[QK_K / 16]; // low nibble scale, high nibble min, per sub-block of 16
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
};
struct block_q3_K {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[K_SCALE_SIZE]; // 16 packed 6-bit scales
    uint16_t d;
};
struct block_q4_K {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE]; // 8 6-bit scales and 8 6-bit mins, packed
    uint8_t qs[QK_K / 2];
};
struct block_q5_K {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
struct block_q6_K {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
struct block_iq4_nl {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
};
struct block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};
_Static_assert(sizeof(struct block_q4_0) == 18, "ggml block_q4_0");
_Static_assert(sizeof(struct block_q4_1) == 20, "ggml block_q4_1");
_Static_assert(sizeof(struct block_q5_0) == 22, "ggml block_q5_0");
_Static_assert(sizeof(struct block_q5_1) == 24, "ggml block_q5_1");
_Static_assert(sizeof(struct block_q2_K) == 84, "ggml block_q2_K");
_Static_assert(sizeof(struct block_q3_K) == 110, "ggml block_q3_K");
_Static_assert(sizeof(struct block_q4_K) == 144, "ggml block_q4_K");
_Static_assert(sizeof(struct block_q5_K) == 176, "ggml block_q5_K");
_Static_assert(sizeof(struct block_q6_K) == 210, "ggml block_q6_K");
_Static_assert(sizeof(struct block_iq4_nl) == 18, "ggml block_iq4_nl");
_Static_assert(sizeof(struct block_iq4_xs) == 136, "ggml block_iq4_xs");

// The 16 non-linear IQ4 values (ggml's kvalues_iq4nl).
extern const int8_t quant_iq4nl_values[16];

// Name ("f32", "q4_K", ... as ggml spells it), values per block and bytes per block of every
// enum kern_wtype (F32/F16/BF16: blocks of one value).
struct kern_wtype_info {
    const char *name;
    int block_elems;
    int block_bytes;
};
const struct kern_wtype_info *kern_wtype_info(int type); // NULL outside [0, KERN_W_COUNT)
// Bytes of a row of n values (n a multiple of the block size).
size_t kern_row_bytes(int type, int64_t n);

// Exact decode of n values (n a multiple of the block size) of any kern_wtype into F32: the
// value ggml's dequantize_row_<type> gives, bit for bit (same operations in the same order).
void quant_dequantize_row(int type, float *y, const void *x, int64_t n);
// Round-to-nearest quantiser (gen-model): per block (and sub-block) scales from the extremes,
// each value the nearest level. Not llama-quantize's search, but a valid block of the type.
void quant_quantize_row(int type, void *y, const float *x, int64_t n);

// ---- integer path (kernels.h: matmul_q8)
// Activations quantised per block of 32 for every quantized weight type: d = max|x| / 127,
// q = nearest-even(x / d) (|q| <= 127), plus the integer sums of each half (the min/offset
// terms of Q4_1, Q5_1, Q2_K, Q4_K, Q5_K). A row of n activations is n / 32 blocks.
#define QACT_BLOCK 32
struct block_q8_act {
    float d;
    int16_t sum[2]; // Σ qs[0..15], Σ qs[16..31]
    int8_t qs[QACT_BLOCK];
};
_Static_assert(sizeof(struct block_q8_act) == 40, "block_q8_act");
// n % 32 == 0. Scalar; every table's quantize_act gives these bits.
void quant_act_row(struct block_q8_act *y, const float *x, int64_t n);

#endif // JANUS_QUANT_H
