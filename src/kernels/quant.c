// Block-quantized weight formats (quant.h): the type table, the exact decoders and the
// activation quantiser of the integer path. Each decoder follows ggml's
// dequantize_row_<type> operation by operation (products and differences as separate
// statements, so no compiler may fuse them into an FMA): the F32 values equal those of
// llama-quantize's F32 copies bit for bit (fixtures/quant README §4, §6).
// SPDX-License-Identifier: MIT
#include "kernels/quant.h"

#include "kernels/types.h"

#include <math.h>
#include <string.h>

const int8_t quant_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                       1,    13,   25,  38,  53,  69,  89,  113};

static const struct kern_wtype_info k_info[KERN_W_COUNT] = {
    [KERN_W_F32] = {"f32", 1, 4},
    [KERN_W_F16] = {"f16", 1, 2},
    [KERN_W_BF16] = {"bf16", 1, 2},
    [KERN_W_Q8_0] = {"q8_0", 32, 34},
    [KERN_W_Q4_0] = {"q4_0", QK4_0, sizeof(struct block_q4_0)},
    [KERN_W_Q4_1] = {"q4_1", QK4_0, sizeof(struct block_q4_1)},
    [KERN_W_Q5_0] = {"q5_0", QK4_0, sizeof(struct block_q5_0)},
    [KERN_W_Q5_1] = {"q5_1", QK4_0, sizeof(struct block_q5_1)},
    [KERN_W_Q2_K] = {"q2_K", QK_K, sizeof(struct block_q2_K)},
    [KERN_W_Q3_K] = {"q3_K", QK_K, sizeof(struct block_q3_K)},
    [KERN_W_Q4_K] = {"q4_K", QK_K, sizeof(struct block_q4_K)},
    [KERN_W_Q5_K] = {"q5_K", QK_K, sizeof(struct block_q5_K)},
    [KERN_W_Q6_K] = {"q6_K", QK_K, sizeof(struct block_q6_K)},
    [KERN_W_IQ4_NL] = {"iq4_nl", QK4_0, sizeof(struct block_iq4_nl)},
    [KERN_W_IQ4_XS] = {"iq4_xs", QK_K, sizeof(struct block_iq4_xs)},
};

const struct kern_wtype_info *kern_wtype_info(int type) {
    return type >= 0 && type < KERN_W_COUNT ? &k_info[type] : NULL;
}

size_t kern_row_bytes(int type, int64_t n) {
    const struct kern_wtype_info *t = kern_wtype_info(type);
    return t ? (size_t)(n / t->block_elems) * (size_t)t->block_bytes : 0;
}

// ---- exact decoders, one block each

static void deq_q4_0(float *y, const struct block_q4_0 *b) {
    const float d = fp16_to_fp32(b->d);
    for (int j = 0; j < QK4_0 / 2; j++) {
        const int x0 = (b->qs[j] & 0x0f) - 8, x1 = (b->qs[j] >> 4) - 8;
        y[j] = (float)x0 * d;
        y[j + QK4_0 / 2] = (float)x1 * d;
    }
}

static void deq_q4_1(float *y, const struct block_q4_1 *b) {
    const float d = fp16_to_fp32(b->d), m = fp16_to_fp32(b->m);
    for (int j = 0; j < QK4_0 / 2; j++) {
        const float v0 = (float)(b->qs[j] & 0x0f) * d, v1 = (float)(b->qs[j] >> 4) * d;
        y[j] = v0 + m;
        y[j + QK4_0 / 2] = v1 + m;
    }
}

static void deq_q5_0(float *y, const struct block_q5_0 *b) {
    const float d = fp16_to_fp32(b->d);
    uint32_t qh;
    memcpy(&qh, b->qh, sizeof qh);
    for (int j = 0; j < QK4_0 / 2; j++) {
        const uint32_t h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
        const int x0 = (int)((b->qs[j] & 0x0fu) | h0) - 16, x1 = (int)((b->qs[j] >> 4) | h1) - 16;
        y[j] = (float)x0 * d;
        y[j + QK4_0 / 2] = (float)x1 * d;
    }
}

static void deq_q5_1(float *y, const struct block_q5_1 *b) {
    const float d = fp16_to_fp32(b->d), m = fp16_to_fp32(b->m);
    uint32_t qh;
    memcpy(&qh, b->qh, sizeof qh);
    for (int j = 0; j < QK4_0 / 2; j++) {
        const uint32_t h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
        const float v0 = (float)((b->qs[j] & 0x0fu) | h0) * d;
        const float v1 = (float)((b->qs[j] >> 4) | h1) * d;
        y[j] = v0 + m;
        y[j + QK4_0 / 2] = v1 + m;
    }
}

static void deq_q2_K(float *y, const struct block_q2_K *b) {
    const float d = fp16_to_fp32(b->d), dmin = fp16_to_fp32(b->dmin);
    const uint8_t *q = b->qs;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                const uint8_t sc = b->scales[is++];
                const float dl = d * (float)(sc & 0xf), ml = dmin * (float)(sc >> 4);
                for (int l = 0; l < 16; l++) {
                    const float v = dl * (float)((q[l + 16 * half] >> shift) & 3);
                    *y++ = v - ml;
                }
            }
        }
        q += 32;
    }
}

static void deq_q3_K(float *y, const struct block_q3_K *b) {
    const uint32_t kmask1 = 0x03030303u, kmask2 = 0x0f0f0f0fu;
    uint32_t aux[4];
    memcpy(aux, b->scales, K_SCALE_SIZE);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    int8_t scales[16];
    memcpy(scales, aux, sizeof scales);
    const float d_all = fp16_to_fp32(b->d);
    const uint8_t *q = b->qs;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                const float dl = d_all * (float)(scales[is++] - 32);
                for (int l = 0; l < 16; l++) {
                    const int i = l + 16 * half;
                    const int v = ((q[i] >> shift) & 3) - ((b->hmask[i] & m) ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
            m = (uint8_t)(m << 1);
        }
        q += 32;
    }
}

// The 6-bit scale and min of sub-block j of a Q4_K / Q5_K block (ggml's get_scale_min_k4).
static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void deq_q4_K(float *y, const struct block_q4_K *b) {
    const float d = fp16_to_fp32(b->d), dmin = fp16_to_fp32(b->dmin);
    const uint8_t *q = b->qs;
    for (int j = 0; j < 8; j += 2) {
        uint8_t sc, m;
        scale_min_k4(j, b->scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        scale_min_k4(j + 1, b->scales, &sc, &m);
        const float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            const float v = d1 * (float)(q[l] & 0xf);
            *y++ = v - m1;
        }
        for (int l = 0; l < 32; l++) {
            const float v = d2 * (float)(q[l] >> 4);
            *y++ = v - m2;
        }
        q += 32;
    }
}

static void deq_q5_K(float *y, const struct block_q5_K *b) {
    const float d = fp16_to_fp32(b->d), dmin = fp16_to_fp32(b->dmin);
    const uint8_t *ql = b->qs;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 8; j += 2) {
        uint8_t sc, m;
        scale_min_k4(j, b->scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        scale_min_k4(j + 1, b->scales, &sc, &m);
        const float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            const float v = d1 * (float)((ql[l] & 0xf) + ((b->qh[l] & u1) ? 16 : 0));
            *y++ = v - m1;
        }
        for (int l = 0; l < 32; l++) {
            const float v = d2 * (float)((ql[l] >> 4) + ((b->qh[l] & u2) ? 16 : 0));
            *y++ = v - m2;
        }
        ql += 32;
        u1 = (uint8_t)(u1 << 2);
        u2 = (uint8_t)(u2 << 2);
    }
}

static void deq_q6_K(float *y, const struct block_q6_K *b) {
    const float d = fp16_to_fp32(b->d);
    const uint8_t *ql = b->ql, *qh = b->qh;
    const int8_t *sc = b->scales;
    for (int n = 0; n < QK_K; n += 128) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = (int8_t)((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = (int8_t)((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            const float s1 = d * (float)sc[is + 0], s2 = d * (float)sc[is + 2];
            const float s3 = d * (float)sc[is + 4], s4 = d * (float)sc[is + 6];
            y[l + 0] = s1 * (float)q1;
            y[l + 32] = s2 * (float)q2;
            y[l + 64] = s3 * (float)q3;
            y[l + 96] = s4 * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

static void deq_iq4_nl(float *y, const struct block_iq4_nl *b) {
    const float d = fp16_to_fp32(b->d);
    for (int j = 0; j < QK4_0 / 2; j++) {
        y[j] = d * (float)quant_iq4nl_values[b->qs[j] & 0xf];
        y[j + QK4_0 / 2] = d * (float)quant_iq4nl_values[b->qs[j] >> 4];
    }
}

static void deq_iq4_xs(float *y, const struct block_iq4_xs *b) {
    const float d = fp16_to_fp32(b->d);
    const uint8_t *qs = b->qs;
    for (int ib = 0; ib < QK_K / 32; ib++) {
        const int ls =
            ((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b->scales_h >> 2 * ib) & 3) << 4);
        const float dl = d * (float)(ls - 32);
        for (int j = 0; j < 16; j++) {
            y[j] = dl * (float)quant_iq4nl_values[qs[j] & 0xf];
            y[j + 16] = dl * (float)quant_iq4nl_values[qs[j] >> 4];
        }
        y += 32;
        qs += 16;
    }
}

void quant_dequantize_row(int type, float *y, const void *x, int64_t n) {
    const struct kern_wtype_info *t = kern_wtype_info(type);
    if (!t) return;
    const uint8_t *p = x;
    switch (type) {
    case KERN_W_F32: memcpy(y, x, (size_t)n * sizeof(float)); return;
    case KERN_W_F16: types_f16_to_f32_row(y, x, n); return;
    case KERN_W_BF16: types_bf16_to_f32_row(y, x, n); return;
    case KERN_W_Q8_0: q8_0_dequantize_row(y, x, n); return;
    default: break;
    }
    for (int64_t i = 0; i < n / t->block_elems; i++, p += t->block_bytes, y += t->block_elems) {
        switch (type) {
        case KERN_W_Q4_0: deq_q4_0(y, (const void *)p); break;
        case KERN_W_Q4_1: deq_q4_1(y, (const void *)p); break;
        case KERN_W_Q5_0: deq_q5_0(y, (const void *)p); break;
        case KERN_W_Q5_1: deq_q5_1(y, (const void *)p); break;
        case KERN_W_Q2_K: deq_q2_K(y, (const void *)p); break;
        case KERN_W_Q3_K: deq_q3_K(y, (const void *)p); break;
        case KERN_W_Q4_K: deq_q4_K(y, (const void *)p); break;
        case KERN_W_Q5_K: deq_q5_K(y, (const void *)p); break;
        case KERN_W_Q6_K: deq_q6_K(y, (const void *)p); break;
        case KERN_W_IQ4_NL: deq_iq4_nl(y, (const void *)p); break;
        default: deq_iq4_xs(y, (const void *)p); break;
        }
    }
}

// ---- quantiser (gen-model)
//
// Round to nearest, scales from the extremes (quant.h). Per (sub-)block: symmetric types take
// the value of largest magnitude m and put it on the format's most negative level (-8, -16, -4,
// -32, or -127 of the IQ4 table), asymmetric ones map [min, max] onto [0, Q]. K-quants and
// IQ4_XS quantise their sub-block scales (and mins) against an F16 super-block scale the same
// way. Two rules make quantise -> dequantise -> quantise give the same bytes (while the F16
// super-block scales are normal numbers): a sub-block scale is never rounded so far up that its
// extreme value would leave the extreme level (the "cap" below), and offsets (mins) round down
// (the grid's bottom stays at or above the data's minimum, so the minimum lands on level 0).

// Nearest integer, halves to even (nearbyintf's result in the default rounding mode, without
// the libm call): adding 1.5·2^23 leaves the rounded integer in the low mantissa bits. |v| is
// clamped to 2^22 first (every caller clamps to far less afterwards). Plain comparisons, not
// fminf/fmaxf (libm calls without -ffast-math): a NaN input gives some level in range.
static inline int q_round(float v) {
    v = (v < -4194304.0f ? -4194304.0f : v > 4194304.0f ? 4194304.0f : v) + 12582912.0f;
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (int)u - 0x4b400000;
}

static inline int q_clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static inline float q_min(float a, float b) { return b < a ? b : a; }
static inline float q_max(float a, float b) { return b > a ? b : a; }

// Nearest F16 of v, and its value.
static inline float q_f16(float v, uint16_t *h) {
    *h = fp32_to_fp16(v);
    return fp16_to_fp32(*h);
}

// The largest F16 <= v (v finite).
static inline float q_f16_floor(float v, uint16_t *h) {
    uint16_t r = fp32_to_fp16(v);
    if (fp16_to_fp32(r) > v) r = (r & 0x8000u) ? (uint16_t)(r + 1) : (uint16_t)(r - 1);
    *h = r;
    return fp16_to_fp32(r);
}

// The value of largest magnitude (the first one on ties); 0 for an all-zero block.
static float q_extreme(const float *x, int n) {
    float m = 0.0f, a = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > a) {
            a = fabsf(x[i]);
            m = x[i];
        }
    return m;
}

// Index of the IQ4 table value nearest to v (ties to the lower one).
static inline int q_iq4_index(float v) {
    int k = 0;
    for (int i = 0; i < 15; i++)
        k += v > 0.5f * (float)(quant_iq4nl_values[i] + quant_iq4nl_values[i + 1]);
    return k;
}

// Sub-block scale l for ideal scale s against super-block scale d16: nearest integer in
// [lo, hi], capped so that the sub-block's extreme (n_lev·s) still rounds to the extreme level
// n_lev (|x / (d16·l)| >= n_lev - 0.49).
static int q_sub_scale(float s, float d16, int lo, int hi, float n_lev) {
    if (d16 == 0.0f) return 0;
    const float r = s / d16;
    int l = q_clamp(q_round(r), lo, hi);
    const int cap = (int)floorf(fabsf(r) * n_lev / (n_lev - 0.49f));
    if (l > cap) l = cap;
    if (l < -cap) l = -cap;
    return l;
}

static void qz_q4_0(struct block_q4_0 *b, const float *x) {
    const float d = q_f16(q_extreme(x, QK4_0) / -8.0f, &b->d), id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK4_0 / 2; j++) {
        const int q0 = q_clamp(q_round(x[j] * id), -8, 7) + 8;
        const int q1 = q_clamp(q_round(x[j + QK4_0 / 2] * id), -8, 7) + 8;
        b->qs[j] = (uint8_t)(q0 | q1 << 4);
    }
}

static void qz_q5_0(struct block_q5_0 *b, const float *x) {
    const float d = q_f16(q_extreme(x, QK4_0) / -16.0f, &b->d), id = d != 0.0f ? 1.0f / d : 0.0f;
    uint32_t qh = 0;
    for (int j = 0; j < QK4_0 / 2; j++) {
        const int q0 = q_clamp(q_round(x[j] * id), -16, 15) + 16;
        const int q1 = q_clamp(q_round(x[j + QK4_0 / 2] * id), -16, 15) + 16;
        b->qs[j] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
        qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + QK4_0 / 2);
    }
    memcpy(b->qh, &qh, sizeof qh);
}

// Q4_1 / Q5_1: value = d·q + m, q in [0, nq]; m the block minimum rounded down to F16.
static void qz_affine32(const float *x, int nq, uint16_t *hd, uint16_t *hm, int *q) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < QK4_0; i++) {
        lo = q_min(lo, x[i]);
        hi = q_max(hi, x[i]);
    }
    const float m = q_f16_floor(lo, hm);
    const float d = q_f16((hi - lo) / (float)nq, hd), id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < QK4_0; i++)
        q[i] = q_clamp(q_round((x[i] - m) * id), 0, nq);
}

static void qz_q4_1(struct block_q4_1 *b, const float *x) {
    int q[QK4_0];
    qz_affine32(x, 15, &b->d, &b->m, q);
    for (int j = 0; j < QK4_0 / 2; j++)
        b->qs[j] = (uint8_t)(q[j] | q[j + QK4_0 / 2] << 4);
}

static void qz_q5_1(struct block_q5_1 *b, const float *x) {
    int q[QK4_0];
    qz_affine32(x, 31, &b->d, &b->m, q);
    uint32_t qh = 0;
    for (int j = 0; j < QK4_0 / 2; j++) {
        const int q0 = q[j], q1 = q[j + QK4_0 / 2];
        b->qs[j] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
        qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + QK4_0 / 2);
    }
    memcpy(b->qh, &qh, sizeof qh);
}

static void qz_iq4_nl(struct block_iq4_nl *b, const float *x) {
    const float d = q_f16(q_extreme(x, QK4_0) / -127.0f, &b->d), id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK4_0 / 2; j++)
        b->qs[j] = (uint8_t)(q_iq4_index(x[j] * id) | q_iq4_index(x[j + QK4_0 / 2] * id) << 4);
}

// Symmetric super-block (Q3_K, Q6_K, IQ4_XS): n_sub sub-blocks of sub values; sub-block scale
// s_j = m_j / -n_lev, super-block scale d = s_max / -s_lev (s_max the s_j of largest
// magnitude), sub-block scales l_j in [-s_lev, s_lev - 1]. Writes d's F16 and every l_j.
static float qz_sym_scales(const float *x, int n_sub, int sub, float n_lev, int s_lev, uint16_t *hd,
                           int *l) {
    float s[QK_K / 16], smax = 0.0f;
    for (int j = 0; j < n_sub; j++) {
        s[j] = q_extreme(x + j * sub, sub) / -n_lev;
        if (fabsf(s[j]) > fabsf(smax)) smax = s[j];
    }
    const float d = q_f16(smax / (float)-s_lev, hd);
    for (int j = 0; j < n_sub; j++)
        l[j] = q_sub_scale(s[j], d, -s_lev, s_lev - 1, n_lev);
    return d;
}

static void qz_q3_K(struct block_q3_K *b, const float *x) {
    int l[16];
    const float d = qz_sym_scales(x, 16, 16, 4.0f, 32, &b->d, l);
    memset(b->scales, 0, sizeof b->scales);
    memset(b->hmask, 0, sizeof b->hmask);
    memset(b->qs, 0, sizeof b->qs);
    for (int j = 0; j < 16; j++) { // 6-bit l + 32: low nibble in byte j % 8 (high nibble for
        const int u = l[j] + 32;   // j >= 8), top two bits in byte 8 + j % 4 at bit 2·(j / 4)
        b->scales[j % 8] |= (uint8_t)((u & 15) << (4 * (j / 8)));
        b->scales[8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
    }
    float idl[16];
    for (int j = 0; j < 16; j++) {
        const float dl = d * (float)l[j];
        idl[j] = dl != 0.0f ? 1.0f / dl : 0.0f;
    }
    for (int i = 0; i < QK_K; i++) {
        const int v = q_clamp(q_round(x[i] * idl[i / 16]), -4, 3); // dl = 0: level 0
        const int q = v + 4, h = i / 128, r = i % 128, j = r / 32, k = r % 32;
        b->qs[32 * h + k] |= (uint8_t)((q & 3) << (2 * j));
        b->hmask[k] |= (uint8_t)((q >> 2) << (4 * h + j));
    }
}

static void qz_q6_K(struct block_q6_K *b, const float *x) {
    int l[16];
    const float d = qz_sym_scales(x, 16, 16, 32.0f, 128, &b->d, l);
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int j = 0; j < 16; j++)
        b->scales[j] = (int8_t)l[j];
    float idl[16];
    for (int j = 0; j < 16; j++) {
        const float dl = d * (float)l[j];
        idl[j] = dl != 0.0f ? 1.0f / dl : 0.0f;
    }
    for (int i = 0; i < QK_K; i++) {
        const int q = q_clamp(q_round(x[i] * idl[i / 16]), -32, 31) + 32; // dl = 0: level 0
        const int h = i / 128, r = i % 128, part = r / 32, k = r % 32;
        b->ql[64 * h + k + 32 * (part & 1)] |= (uint8_t)((q & 15) << (4 * (part >> 1)));
        b->qh[32 * h + k] |= (uint8_t)((q >> 4) << (2 * part));
    }
}

static void qz_iq4_xs(struct block_iq4_xs *b, const float *x) {
    int l[8];
    const float d = qz_sym_scales(x, 8, 32, 127.0f, 32, &b->d, l);
    b->scales_h = 0;
    memset(b->scales_l, 0, sizeof b->scales_l);
    for (int j = 0; j < 8; j++) {
        const int u = l[j] + 32;
        b->scales_l[j / 2] |= (uint8_t)((u & 15) << (4 * (j % 2)));
        b->scales_h |= (uint16_t)((u >> 4) << (2 * j));
        const float dl = d * (float)l[j], idl = dl != 0.0f ? 1.0f / dl : 0.0f;
        for (int k = 0; k < 16; k++)
            b->qs[16 * j + k] = (uint8_t)(q_iq4_index(x[32 * j + k] * idl) |
                                          q_iq4_index(x[32 * j + k + 16] * idl) << 4);
    }
}

// Affine super-block (Q2_K, Q4_K, Q5_K): value = d·L_j·q - dmin·M_j, q in [0, nq], L_j and
// M_j in [0, s_lev]. Per sub-block: the offset mn_j = -min(0, min x) (never negative: M is
// unsigned); dmin = max mn_j / s_lev rounded down to F16, M_j = floor(mn_j / dmin) (the grid's
// bottom -dmin·M_j is at or above the minimum); then the scale that maps [bottom, max] onto
// [0, nq], quantised against d = max scale / s_lev. Writes d, dmin, L, M and every q.
static void qz_affine_K(const float *x, int n_sub, int sub, int nq, int s_lev, uint16_t *hd,
                        uint16_t *hdmin, int *L, int *M, uint8_t *q) {
    float lo[16], hi[16], sc[16], mn_max = 0.0f, sc_max = 0.0f;
    for (int j = 0; j < n_sub; j++) {
        const float *xs = x + j * sub;
        lo[j] = q_min(0.0f, xs[0]);
        hi[j] = xs[0];
        for (int i = 1; i < sub; i++) {
            lo[j] = q_min(lo[j], xs[i]);
            hi[j] = q_max(hi[j], xs[i]);
        }
        mn_max = q_max(mn_max, -lo[j]);
    }
    const float dmin = q_f16_floor(mn_max / (float)s_lev, hdmin);
    for (int j = 0; j < n_sub; j++) {
        M[j] = dmin > 0.0f ? (int)q_min((float)s_lev, floorf(-lo[j] / dmin)) : 0;
        const float ml = dmin * (float)M[j];
        sc[j] = q_max(0.0f, (hi[j] + ml) / (float)nq);
        sc_max = q_max(sc_max, sc[j]);
    }
    const float d = q_f16(sc_max / (float)s_lev, hd);
    for (int j = 0; j < n_sub; j++) {
        L[j] = q_sub_scale(sc[j], d, 0, s_lev, (float)nq);
        const float dl = d * (float)L[j], ml = dmin * (float)M[j];
        const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
        for (int i = j * sub; i < (j + 1) * sub; i++) // dl = 0: idl = 0, level 0
            q[i] = (uint8_t)q_clamp(q_round((x[i] + ml) * idl), 0, nq);
    }
}

static void qz_q2_K(struct block_q2_K *b, const float *x) {
    int L[16], M[16];
    uint8_t q[QK_K];
    qz_affine_K(x, 16, 16, 3, 15, &b->d, &b->dmin, L, M, q);
    for (int j = 0; j < 16; j++)
        b->scales[j] = (uint8_t)(L[j] | M[j] << 4);
    memset(b->qs, 0, sizeof b->qs);
    for (int i = 0; i < QK_K; i++) { // byte 32·(i / 128) + i % 32, bits 2·((i % 128) / 32)
        const int h = i / 128, r = i % 128;
        b->qs[32 * h + r % 32] |= (uint8_t)(q[i] << (2 * (r / 32)));
    }
}

// Q4_K / Q5_K 6-bit scale and min packing (the inverse of the decoder's scale_min_k4).
static void qz_pack_k4(uint8_t *s, const int *L, const int *M) {
    memset(s, 0, K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= (uint8_t)L[j];
            s[j + 4] |= (uint8_t)M[j];
        } else {
            s[j + 4] = (uint8_t)((L[j] & 15) | (M[j] & 15) << 4);
            s[j - 4] |= (uint8_t)((L[j] >> 4) << 6);
            s[j] |= (uint8_t)((M[j] >> 4) << 6);
        }
    }
}

static void qz_q4_K(struct block_q4_K *b, const float *x) {
    int L[8], M[8];
    uint8_t q[QK_K];
    qz_affine_K(x, 8, 32, 15, 63, &b->d, &b->dmin, L, M, q);
    qz_pack_k4(b->scales, L, M);
    for (int g = 0; g < 4; g++) // 64 values per 32 bytes: low nibbles first, then high
        for (int k = 0; k < 32; k++)
            b->qs[32 * g + k] = (uint8_t)(q[64 * g + k] | q[64 * g + 32 + k] << 4);
}

static void qz_q5_K(struct block_q5_K *b, const float *x) {
    int L[8], M[8];
    uint8_t q[QK_K];
    qz_affine_K(x, 8, 32, 31, 63, &b->d, &b->dmin, L, M, q);
    qz_pack_k4(b->scales, L, M);
    memset(b->qh, 0, sizeof b->qh);
    for (int g = 0; g < 4; g++)
        for (int k = 0; k < 32; k++) {
            const int q0 = q[64 * g + k], q1 = q[64 * g + 32 + k];
            b->qs[32 * g + k] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
            b->qh[k] |= (uint8_t)((q0 >> 4) << (2 * g) | (q1 >> 4) << (2 * g + 1));
        }
}

void quant_quantize_row(int type, void *y, const float *x, int64_t n) {
    const struct kern_wtype_info *t = kern_wtype_info(type);
    if (!t) return;
    switch (type) {
    case KERN_W_F32: memcpy(y, x, (size_t)n * sizeof(float)); return;
    case KERN_W_F16: types_f32_to_f16_row(y, x, n); return;
    case KERN_W_BF16: types_f32_to_bf16_row(y, x, n); return;
    case KERN_W_Q8_0: q8_0_quantize_row(y, x, n); return;
    default: break;
    }
    uint8_t *p = y;
    for (int64_t i = 0; i < n / t->block_elems; i++, p += t->block_bytes, x += t->block_elems) {
        switch (type) {
        case KERN_W_Q4_0: qz_q4_0((void *)p, x); break;
        case KERN_W_Q4_1: qz_q4_1((void *)p, x); break;
        case KERN_W_Q5_0: qz_q5_0((void *)p, x); break;
        case KERN_W_Q5_1: qz_q5_1((void *)p, x); break;
        case KERN_W_Q2_K: qz_q2_K((void *)p, x); break;
        case KERN_W_Q3_K: qz_q3_K((void *)p, x); break;
        case KERN_W_Q4_K: qz_q4_K((void *)p, x); break;
        case KERN_W_Q5_K: qz_q5_K((void *)p, x); break;
        case KERN_W_Q6_K: qz_q6_K((void *)p, x); break;
        case KERN_W_IQ4_NL: qz_iq4_nl((void *)p, x); break;
        default: qz_iq4_xs((void *)p, x); break;
        }
    }
}

// ---- integer path activations

void quant_act_row(struct block_q8_act *y, const float *x, int64_t n) {
    for (int64_t b = 0; b < n / QACT_BLOCK; b++, x += QACT_BLOCK) {
        float amax = 0.0f;
        for (int i = 0; i < QACT_BLOCK; i++) {
            const float a = fabsf(x[i]);
            if (a > amax) amax = a;
        }
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int s[2] = {0, 0};
        for (int i = 0; i < QACT_BLOCK; i++) {
            const float v = x[i] * id; // |v| <= 127 (+ 1 ulp); NaN counts as 0
            const int q = v == v ? (int)nearbyintf(fminf(fmaxf(v, -127.0f), 127.0f)) : 0;
            y[b].qs[i] = (int8_t)q;
            s[i / 16] += q;
        }
        y[b].d = d;
        y[b].sum[0] = (int16_t)s[0];
        y[b].sum[1] = (int16_t)s[1];
    }
}
