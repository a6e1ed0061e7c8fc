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

void quant_quantize_row(int type, void *y, const float *x, int64_t n) {
    // Stub until the round-to-nearest quantisers land (helper qmodel): F32/F16/BF16/Q8_0
    // only; other types are zero blocks.
    switch (type) {
    case KERN_W_F32: memcpy(y, x, (size_t)n * sizeof(float)); return;
    case KERN_W_F16: types_f32_to_f16_row(y, x, n); return;
    case KERN_W_BF16: types_f32_to_bf16_row(y, x, n); return;
    case KERN_W_Q8_0: q8_0_quantize_row(y, x, n); return;
    default: memset(y, 0, kern_row_bytes(type, n)); return;
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
