// The integer path's scalar reference (issue 13 item 2): y = x·Wᵀ with the activations
// quantised per block of 32 (struct block_q8_act), integer dot products inside each block and
// F32 across blocks, for Q8_0 and every block type of quant.h. qdot.c states the arithmetic
// per type (the specification qdot_avx2.c and qdot_avx512.c are tested against); ref.c's
// table takes these functions through QDOT_REF_MATMUL_Q8.
// SPDX-License-Identifier: MIT
#ifndef JANUS_QDOT_H
#define JANUS_QDOT_H

#include "kernels/kernels.h"

#include <stdint.h>

void qdot_ref_q8_0(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q4_0(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q4_1(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q5_0(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q5_1(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q2_K(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q3_K(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q4_K(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q5_K(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_q6_K(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_iq4_nl(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                     int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);
void qdot_ref_iq4_xs(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                     int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1);

// The reference table's matmul_q8 initialiser (ref.c: `.matmul_q8 = QDOT_REF_MATMUL_Q8,`).
#define QDOT_REF_MATMUL_Q8                                                                         \
    {                                                                                              \
        [KERN_W_Q8_0] = qdot_ref_q8_0, [KERN_W_Q4_0] = qdot_ref_q4_0,                              \
        [KERN_W_Q4_1] = qdot_ref_q4_1, [KERN_W_Q5_0] = qdot_ref_q5_0,                              \
        [KERN_W_Q5_1] = qdot_ref_q5_1, [KERN_W_Q2_K] = qdot_ref_q2_K,                              \
        [KERN_W_Q3_K] = qdot_ref_q3_K, [KERN_W_Q4_K] = qdot_ref_q4_K,                              \
        [KERN_W_Q5_K] = qdot_ref_q5_K, [KERN_W_Q6_K] = qdot_ref_q6_K,                              \
        [KERN_W_IQ4_NL] = qdot_ref_iq4_nl, [KERN_W_IQ4_XS] = qdot_ref_iq4_xs                       \
    }

// The SIMD integer paths for dispatch.c (NULL when compiled out): matmul_q8 tables (entries
// for the block types) and the activation quantiser (quant_act_row's bits).
const kern_matmul_q8_fn *qdot_avx2_matmul_q8(void);
const kern_matmul_q8_fn *qdot_avx512_matmul_q8(void); // needs AVX512_VNNI
void qdot_avx2_quantize_act(struct block_q8_act *y, const float *x, int64_t n);
// Whether this CPU and OS run AVX-512 (F/BW/VL) with VNNI (dispatch.c; cpuid 7.0 ECX bit 11).
int qdot_cpu_vnni(void);

#endif // JANUS_QDOT_H
