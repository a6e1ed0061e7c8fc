// Shared pieces of the SIMD integer paths (qdot_avx2.c, qdot_avx512.c; issue 13 item 2):
// the packed-scale unpacking of Q4_K/Q5_K and Q3_K on 32-bit words (the values qdot.c's
// reference decodes one by one), and the weight-type facts the kernels switch on. Scalar and
// header-only so each SIMD file inlines it with its own code generation.
// SPDX-License-Identifier: MIT
#ifndef JANUS_QDOT_SIMD_H
#define JANUS_QDOT_SIMD_H

#include "kernels/kernels.h"
#include "kernels/quant.h"

#include <stdint.h>
#include <string.h>

// Q4_K/Q5_K: out[j] = 6-bit scale of sub-block j, out[8 + j] = its 6-bit min (j < 8).
static inline void qdot_k4_scales(uint8_t out[16], const uint8_t s[12]) {
    uint32_t u[3], o[4];
    memcpy(u, s, 12);
    o[0] = u[0] & 0x3f3f3f3fu;
    o[1] = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
    o[2] = u[1] & 0x3f3f3f3fu;
    o[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
    memcpy(out, o, 16);
}

// Q3_K: out[k] = 6-bit scale k of the 16 sub-blocks of 16 (the −32 is the caller's).
static inline void qdot_q3_scales(uint8_t out[16], const uint8_t s[12]) {
    uint32_t u[3], o[4];
    memcpy(u, s, 12);
    o[0] = (u[0] & 0x0f0f0f0fu) | (u[2] & 0x03030303u) << 4;
    o[1] = (u[1] & 0x0f0f0f0fu) | ((u[2] >> 2) & 0x03030303u) << 4;
    o[2] = ((u[0] >> 4) & 0x0f0f0f0fu) | ((u[2] >> 4) & 0x03030303u) << 4;
    o[3] = ((u[1] >> 4) & 0x0f0f0f0fu) | ((u[2] >> 6) & 0x03030303u) << 4;
    memcpy(out, o, 16);
}

// Values per weight block of the type (32 or 256) and its bytes.
static inline int qdot_block_elems(int type) {
    return type >= KERN_W_Q2_K && type <= KERN_W_Q6_K ? 256 : type == KERN_W_IQ4_XS ? 256 : 32;
}

#endif // JANUS_QDOT_SIMD_H
