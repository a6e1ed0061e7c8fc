// The integer path's scalar reference (issue 13 item 2; kernels.h matmul_q8): the
// specification the AVX2 and AVX-512 VNNI versions are tested against. For each weight row r
// and token t, over the activation blocks b (32 values: xq = qs, dx = d, S0/S1 = sum[0]/[1]):
//   v_i: the weight's integer level (signed, offsets applied), D_h = Σ_{16 of half h} v_i·xq_i,
//   I = sc0·D0 + sc1·D1 (integers, exact in int32 and in F32: |I| < 2^24 for every type),
//   c_b = (d·dx)·(float)I  [+ (dm·dx)·(float)M,  M = mn0·S0 + mn1·S1]  (left term first),
//   y = (((0 + c_0) + c_1) + ...) in block order (F32, one chain per (r, t)).
// Per type (d, dm, sc, mn, v; F16 scales widened exactly):
//   Q8_0  d·(Σ q·xq)                 Q4_0 d·Σ(q−8)·xq       Q5_0 d·Σ(q−16)·xq
//   Q4_1  d·Σ q·xq + m·(S0+S1)       Q5_1 the same          IQ4_NL d·Σ kv[q]·xq
//   Q4_K / Q5_K per 32-sub-block j:  d·(sc_j·Σ q·xq) − dmin·(m_j·(S0+S1))  (dm = −dmin)
//   Q6_K  two 16-sub-blocks: d·(sc_a·Σ(q−32)·xq_a + sc_b·Σ(q−32)·xq_b)
//   Q3_K  d·((sc_a−32)·Σ v·xq_a + (sc_b−32)·Σ v·xq_b), v = low2 − (hbit ? 0 : 4)
//   Q2_K  d·(sc_a·Σ q·xq_a + sc_b·Σ q·xq_b) − dmin·(m_a·S0 + m_b·S1)
//   IQ4_XS per 32-sub-block: d·((ls−32)·Σ kv[q]·xq)
// Every output is one fixed chain per (r, t): independent of [r0, r1), n_tok and threads.
// SPDX-License-Identifier: MIT
#include "kernels/qdot.h"

#include "kernels/quant.h"
#include "kernels/types.h"

#include <string.h>

// One activation-aligned block (32 values) of a weight row, decoded to integers.
struct qblk {
    int8_t v[32]; // integer levels
    int sc[2];    // integer scale of each half (the same twice for 32-value scales)
    int mn[2];    // integer min of each half (has_min only)
    float d, dm;  // F32 scale of I, of M
    int has_min;  // whether the M term exists
};

// ggml's 6-bit scale/min unpacking of Q4_K/Q5_K (get_scale_min_k4).
static void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Q3_K's 16 6-bit scales (unpacked as ggml's dequantize_row_q3_K does), minus 32.
static int q3_scale(const uint8_t *s, int k) {
    const int lo = k < 8 ? s[k] & 0xF : s[k - 8] >> 4;
    const int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
    return (lo | hi << 4) - 32;
}

// Block b (values [32b, 32b + 32)) of a row of the type.
static void decode(int type, const void *row, int64_t b, struct qblk *o) {
    o->has_min = 0;
    o->sc[0] = o->sc[1] = 1;
    switch (type) {
    case KERN_W_Q8_0: {
        const struct block_q8_0 *x = (const struct block_q8_0 *)row + b;
        memcpy(o->v, x->qs, 32);
        o->d = fp16_to_fp32(x->d);
        return;
    }
    case KERN_W_Q4_0:
    case KERN_W_Q4_1:
    case KERN_W_IQ4_NL: {
        const uint8_t *qs;
        if (type == KERN_W_Q4_1) {
            const struct block_q4_1 *x = (const struct block_q4_1 *)row + b;
            qs = x->qs, o->d = fp16_to_fp32(x->d), o->dm = fp16_to_fp32(x->m), o->has_min = 1;
            o->mn[0] = o->mn[1] = 1;
        } else { // Q4_0 and IQ4_NL share the layout
            const struct block_q4_0 *x = (const struct block_q4_0 *)row + b;
            qs = x->qs, o->d = fp16_to_fp32(x->d);
        }
        for (int i = 0; i < 16; i++) {
            const int lo = qs[i] & 0xF, hi = qs[i] >> 4;
            if (type == KERN_W_IQ4_NL) {
                o->v[i] = quant_iq4nl_values[lo], o->v[i + 16] = quant_iq4nl_values[hi];
            } else {
                const int off = type == KERN_W_Q4_0 ? 8 : 0;
                o->v[i] = (int8_t)(lo - off), o->v[i + 16] = (int8_t)(hi - off);
            }
        }
        return;
    }
    case KERN_W_Q5_0:
    case KERN_W_Q5_1: {
        const uint8_t *qs, *qhb;
        int off = 16;
        if (type == KERN_W_Q5_1) {
            const struct block_q5_1 *x = (const struct block_q5_1 *)row + b;
            qs = x->qs, qhb = x->qh, o->d = fp16_to_fp32(x->d), o->dm = fp16_to_fp32(x->m);
            o->has_min = 1, o->mn[0] = o->mn[1] = 1, off = 0;
        } else {
            const struct block_q5_0 *x = (const struct block_q5_0 *)row + b;
            qs = x->qs, qhb = x->qh, o->d = fp16_to_fp32(x->d);
        }
        const uint32_t qh = (uint32_t)qhb[0] | (uint32_t)qhb[1] << 8 | (uint32_t)qhb[2] << 16 |
                            (uint32_t)qhb[3] << 24;
        for (int i = 0; i < 16; i++) {
            o->v[i] = (int8_t)(((qs[i] & 0xF) | ((qh >> i) & 1) << 4) - off);
            o->v[i + 16] = (int8_t)(((qs[i] >> 4) | ((qh >> (i + 16)) & 1) << 4) - off);
        }
        return;
    }
    case KERN_W_Q2_K: {
        const struct block_q2_K *x = (const struct block_q2_K *)row + b / 8;
        const int j = (int)(b % 8), g = j / 4, sh = 2 * (j % 4); // 128-group, shift
        o->d = fp16_to_fp32(x->d), o->dm = -fp16_to_fp32(x->dmin), o->has_min = 1;
        for (int h = 0; h < 2; h++) {
            const int s = x->scales[8 * g + 2 * (j % 4) + h];
            o->sc[h] = s & 0xF, o->mn[h] = s >> 4;
            for (int l = 0; l < 16; l++)
                o->v[16 * h + l] = (int8_t)((x->qs[32 * g + 16 * h + l] >> sh) & 3);
        }
        return;
    }
    case KERN_W_Q3_K: {
        const struct block_q3_K *x = (const struct block_q3_K *)row + b / 8;
        const int j = (int)(b % 8), g = j / 4, sh = 2 * (j % 4);
        o->d = fp16_to_fp32(x->d);
        for (int h = 0; h < 2; h++) {
            o->sc[h] = q3_scale(x->scales, 8 * g + 2 * (j % 4) + h);
            for (int l = 0; l < 16; l++) {
                const int lo = (x->qs[32 * g + 16 * h + l] >> sh) & 3;
                const int hb = (x->hmask[16 * h + l] >> j) & 1;
                o->v[16 * h + l] = (int8_t)(lo - (hb ? 0 : 4));
            }
        }
        return;
    }
    case KERN_W_Q4_K:
    case KERN_W_Q5_K: {
        const int j = (int)(b % 8);
        const uint8_t *scales, *ql, *qh = NULL;
        if (type == KERN_W_Q4_K) {
            const struct block_q4_K *x = (const struct block_q4_K *)row + b / 8;
            scales = x->scales, ql = x->qs, o->d = fp16_to_fp32(x->d);
            o->dm = -fp16_to_fp32(x->dmin);
        } else {
            const struct block_q5_K *x = (const struct block_q5_K *)row + b / 8;
            scales = x->scales, ql = x->qs, qh = x->qh, o->d = fp16_to_fp32(x->d);
            o->dm = -fp16_to_fp32(x->dmin);
        }
        int sc, m;
        scale_min_k4(j, scales, &sc, &m);
        o->sc[0] = o->sc[1] = sc, o->mn[0] = o->mn[1] = m, o->has_min = 1;
        for (int l = 0; l < 32; l++) {
            const int q = ql[32 * (j / 2) + l];
            int v = j % 2 ? q >> 4 : q & 0xF;
            if (qh) v |= ((qh[l] >> j) & 1) << 4;
            o->v[l] = (int8_t)v;
        }
        return;
    }
    case KERN_W_Q6_K: {
        const struct block_q6_K *x = (const struct block_q6_K *)row + b / 8;
        const int j = (int)(b % 8), n = j / 4, k = j % 4; // 128-group, quarter of it
        const uint8_t *ql = x->ql + 64 * n + 32 * (k & 1), *qh = x->qh + 32 * n;
        o->d = fp16_to_fp32(x->d);
        o->sc[0] = x->scales[8 * n + 2 * k], o->sc[1] = x->scales[8 * n + 2 * k + 1];
        for (int l = 0; l < 32; l++) {
            const int lo = k < 2 ? ql[l] & 0xF : ql[l] >> 4;
            o->v[l] = (int8_t)((lo | ((qh[l] >> (2 * k)) & 3) << 4) - 32);
        }
        return;
    }
    default: { // KERN_W_IQ4_XS
        const struct block_iq4_xs *x = (const struct block_iq4_xs *)row + b / 8;
        const int j = (int)(b % 8);
        const int ls =
            ((x->scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((x->scales_h >> (2 * j)) & 3) << 4);
        o->d = fp16_to_fp32(x->d);
        o->sc[0] = o->sc[1] = ls - 32;
        for (int l = 0; l < 16; l++) {
            o->v[l] = quant_iq4nl_values[x->qs[16 * j + l] & 0xF];
            o->v[l + 16] = quant_iq4nl_values[x->qs[16 * j + l] >> 4];
        }
        return;
    }
    }
}

// The contribution c_b of one decoded block and one activation block (header comment).
static float block_term(const struct qblk *o, const struct block_q8_act *a) {
    int dh[2] = {0, 0};
    for (int i = 0; i < 32; i++)
        dh[i / 16] += o->v[i] * a->qs[i];
    const int32_t I = o->sc[0] * dh[0] + o->sc[1] * dh[1];
    float c = (o->d * a->d) * (float)I;
    if (o->has_min) {
        const int32_t M = o->mn[0] * a->sum[0] + o->mn[1] * a->sum[1];
        c += (o->dm * a->d) * (float)M;
    }
    return c;
}

static void qdot_ref(int type, float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                     int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {
    const size_t rb = kern_row_bytes(type, n_in);
    const int64_t nb = n_in / QACT_BLOCK;
    for (int64_t r = r0; r < r1; r++) {
        const char *row = (const char *)w + (size_t)r * rb;
        for (int64_t t = 0; t < n_tok; t++) {
            const struct block_q8_act *xt = xq + t * nb;
            float s = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                struct qblk o;
                decode(type, row, b, &o);
                s += block_term(&o, xt + b);
            }
            y[t * ldy + r] = s;
        }
    }
}

#define QDOT_REF_FN(name, type)                                                                    \
    void name(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq, int64_t n_in,   \
              int64_t n_tok, int64_t r0, int64_t r1) {                                             \
        qdot_ref(type, y, ldy, w, xq, n_in, n_tok, r0, r1);                                        \
    }
QDOT_REF_FN(qdot_ref_q8_0, KERN_W_Q8_0)
QDOT_REF_FN(qdot_ref_q4_0, KERN_W_Q4_0)
QDOT_REF_FN(qdot_ref_q4_1, KERN_W_Q4_1)
QDOT_REF_FN(qdot_ref_q5_0, KERN_W_Q5_0)
QDOT_REF_FN(qdot_ref_q5_1, KERN_W_Q5_1)
QDOT_REF_FN(qdot_ref_q2_K, KERN_W_Q2_K)
QDOT_REF_FN(qdot_ref_q3_K, KERN_W_Q3_K)
QDOT_REF_FN(qdot_ref_q4_K, KERN_W_Q4_K)
QDOT_REF_FN(qdot_ref_q5_K, KERN_W_Q5_K)
QDOT_REF_FN(qdot_ref_q6_K, KERN_W_Q6_K)
QDOT_REF_FN(qdot_ref_iq4_nl, KERN_W_IQ4_NL)
QDOT_REF_FN(qdot_ref_iq4_xs, KERN_W_IQ4_XS)
