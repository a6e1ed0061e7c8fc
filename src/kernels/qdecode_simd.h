// SIMD block decoders of the exact path (issue 13 item 1) shared by avx2.c and avx512.c:
// each turns one ggml block (quant.h) into the F32 values quant_dequantize_row gives, bit for
// bit. The integer parts (nibbles, high bits, IQ4 table lookup via pshufb) are unpacked 16
// at a time in 128-bit registers; the includer defines struct qd_emit and qd_put16(e, off,
// q, dl, ml), which takes the 16 values fmsub(q, dl, ml) = q·dl − ml of columns
// [off, off + 16) of the block (stores or FMAs them) with its own vector width; each
// decoder hands them over in increasing column order. Every scale
// product (d·sc, dmin·m) and q·dl is exact in F32, so the single rounding of the fused
// subtraction equals ggml's (mul, then add or subtract). Include after qd_put16 only;
// a struct qd_emit must have a member float *dst (the chunk-buffer case, qd_run_*).
// SPDX-License-Identifier: MIT
#ifndef JANUS_QDECODE_SIMD_H
#define JANUS_QDECODE_SIMD_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"

#define QD_INLINE static inline __attribute__((always_inline))

QD_INLINE float qd_f16(uint16_t h) { return _cvtsh_ss(h); }

QD_INLINE __m128i qd_lo4(__m128i v) { return _mm_and_si128(v, _mm_set1_epi8(0x0F)); }
QD_INLINE __m128i qd_hi4(__m128i v) {
    return _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
}
QD_INLINE __m128i qd_load16(const uint8_t *p) { return _mm_loadu_si128((const __m128i *)p); }

// Byte l (< 16) = 0xFF where bit l of bits is set, else 0.
QD_INLINE __m128i qd_bits16(uint32_t bits) {
    const __m128i v =
        _mm_shuffle_epi8(_mm_cvtsi32_si128((int)bits),
                         _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    const __m128i m = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    return _mm_cmpeq_epi8(_mm_and_si128(v, m), m);
}

// Bits [s, s + n) of each byte moved to [4, 4 + n), the rest zero (n = 1 or 2, s + n <= 8).
// A 16-bit shift by |s - 4| keeps each byte's field inside its byte.
QD_INLINE __m128i qd_field_to4(__m128i v, int s, int n) {
    const __m128i m = _mm_set1_epi8((char)(((1 << n) - 1) << 4));
    if (s < 4) return _mm_and_si128(_mm_slli_epi16(v, 4 - s), m);
    if (s > 4) return _mm_and_si128(_mm_srli_epi16(v, s - 4), m);
    return _mm_and_si128(v, m);
}

// ---- one block each (e: where its 32 or 256 values go, column 0 = the first)

QD_INLINE void qd_q4_0(const struct qd_emit *e, const struct block_q4_0 *b) {
    const float d = qd_f16(b->d);
    const __m128i v = qd_load16(b->qs), k8 = _mm_set1_epi8(8);
    qd_put16(e, 0, _mm_sub_epi8(qd_lo4(v), k8), d, 0.0f);
    qd_put16(e, 16, _mm_sub_epi8(qd_hi4(v), k8), d, 0.0f);
}

// x·d + m (ggml) = fmsub(x, d, −m): x·d is exact, so one rounding either way.
QD_INLINE void qd_q4_1(const struct qd_emit *e, const struct block_q4_1 *b) {
    const float d = qd_f16(b->d), m = qd_f16(b->m);
    const __m128i v = qd_load16(b->qs);
    qd_put16(e, 0, qd_lo4(v), d, -m);
    qd_put16(e, 16, qd_hi4(v), d, -m);
}

QD_INLINE void qd_q5_0(const struct qd_emit *e, const struct block_q5_0 *b) {
    const float d = qd_f16(b->d);
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    const __m128i v = qd_load16(b->qs), k16 = _mm_set1_epi8(16), b5 = _mm_set1_epi8(0x10);
    const __m128i h0 = _mm_and_si128(qd_bits16(qh & 0xFFFF), b5);
    const __m128i h1 = _mm_and_si128(qd_bits16(qh >> 16), b5);
    qd_put16(e, 0, _mm_sub_epi8(_mm_or_si128(qd_lo4(v), h0), k16), d, 0.0f);
    qd_put16(e, 16, _mm_sub_epi8(_mm_or_si128(qd_hi4(v), h1), k16), d, 0.0f);
}

QD_INLINE void qd_q5_1(const struct qd_emit *e, const struct block_q5_1 *b) {
    const float d = qd_f16(b->d), m = qd_f16(b->m);
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    const __m128i v = qd_load16(b->qs), b5 = _mm_set1_epi8(0x10);
    const __m128i h0 = _mm_and_si128(qd_bits16(qh & 0xFFFF), b5);
    const __m128i h1 = _mm_and_si128(qd_bits16(qh >> 16), b5);
    qd_put16(e, 0, _mm_or_si128(qd_lo4(v), h0), d, -m);
    qd_put16(e, 16, _mm_or_si128(qd_hi4(v), h1), d, -m);
}

// Value v: bits 2j of qs[32h + 16s + l] (v = 128h + 32j + 16s + l), scale byte v/16.
QD_INLINE void qd_q2_K(const struct qd_emit *e, const struct block_q2_K *b) {
    const float d = qd_f16(b->d), dmin = qd_f16(b->dmin);
    const __m128i k3 = _mm_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        const __m128i q[2] = {qd_load16(b->qs + 32 * h), qd_load16(b->qs + 32 * h + 16)};
        for (int j = 0; j < 4; j++)
            for (int s = 0; s < 2; s++) {
                const int g = 8 * h + 2 * j + s;
                const uint8_t sc = b->scales[g];
                const __m128i qq = _mm_and_si128(_mm_srli_epi16(q[s], 2 * j), k3);
                qd_put16(e, 16 * g, qq, d * (float)(sc & 0xF), dmin * (float)(sc >> 4));
            }
    }
}

// The 16 6-bit scales of a Q3_K block (ggml's kmask unpacking, byte by byte).
QD_INLINE void qd_q3_K_scales(int8_t *sc, const uint8_t *s) {
    for (int k = 0; k < 4; k++) {
        sc[k] = (int8_t)((s[k] & 0xF) | ((s[8 + k] & 3) << 4));
        sc[k + 4] = (int8_t)((s[k + 4] & 0xF) | (((s[8 + k] >> 2) & 3) << 4));
        sc[k + 8] = (int8_t)((s[k] >> 4) | (((s[8 + k] >> 4) & 3) << 4));
        sc[k + 12] = (int8_t)((s[k + 4] >> 4) | (((s[8 + k] >> 6) & 3) << 4));
    }
}

// Value v = 128h + 32j + 16s + l: ((qs[32h + 16s + l] >> 2j) & 3) − (bit 4h + j of
// hmask[16s + l] ? 0 : 4), times d·(scale[v/16] − 32).
QD_INLINE void qd_q3_K(const struct qd_emit *e, const struct block_q3_K *b) {
    const float d = qd_f16(b->d);
    int8_t sc[16];
    qd_q3_K_scales(sc, b->scales);
    const __m128i k3 = _mm_set1_epi8(3), k4 = _mm_set1_epi8(4), zero = _mm_setzero_si128();
    const __m128i hm[2] = {qd_load16(b->hmask), qd_load16(b->hmask + 16)};
    for (int h = 0; h < 2; h++) {
        const __m128i q[2] = {qd_load16(b->qs + 32 * h), qd_load16(b->qs + 32 * h + 16)};
        for (int j = 0; j < 4; j++) {
            const __m128i bit = _mm_set1_epi8((char)(1 << (4 * h + j)));
            for (int s = 0; s < 2; s++) {
                const int g = 8 * h + 2 * j + s;
                const __m128i lo = _mm_and_si128(_mm_srli_epi16(q[s], 2 * j), k3);
                const __m128i unset = _mm_cmpeq_epi8(_mm_and_si128(hm[s], bit), zero);
                qd_put16(e, 16 * g, _mm_sub_epi8(lo, _mm_and_si128(unset, k4)),
                         d * (float)(sc[g] - 32), 0.0f);
            }
        }
    }
}

// ggml's get_scale_min_k4: scale and min j (< 8) of a Q4_K/Q5_K block, 6 bits each.
QD_INLINE void qd_k4_scale(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Group g (64 values): low nibbles of qs[32g..] with scale/min 2g, high nibbles with 2g + 1;
// value d·sc·q − dmin·m as ggml (d1 = d·sc, m1 = dmin·m, d1·q − m1).
QD_INLINE void qd_q4_K(const struct qd_emit *e, const struct block_q4_K *b) {
    const float d = qd_f16(b->d), dmin = qd_f16(b->dmin);
    for (int g = 0; g < 4; g++) {
        int sc1, m1, sc2, m2;
        qd_k4_scale(2 * g, b->scales, &sc1, &m1);
        qd_k4_scale(2 * g + 1, b->scales, &sc2, &m2);
        const float d1 = d * (float)sc1, n1 = dmin * (float)m1;
        const float d2 = d * (float)sc2, n2 = dmin * (float)m2;
        const __m128i v0 = qd_load16(b->qs + 32 * g), v1 = qd_load16(b->qs + 32 * g + 16);
        qd_put16(e, 64 * g, qd_lo4(v0), d1, n1);
        qd_put16(e, 64 * g + 16, qd_lo4(v1), d1, n1);
        qd_put16(e, 64 * g + 32, qd_hi4(v0), d2, n2);
        qd_put16(e, 64 * g + 48, qd_hi4(v1), d2, n2);
    }
}

// As Q4_K, plus the fifth bit: bit 2g (low nibbles) / 2g + 1 (high) of qh[l].
QD_INLINE void qd_q5_K(const struct qd_emit *e, const struct block_q5_K *b) {
    const float d = qd_f16(b->d), dmin = qd_f16(b->dmin);
    const __m128i h[2] = {qd_load16(b->qh), qd_load16(b->qh + 16)};
    for (int g = 0; g < 4; g++) {
        int sc1, m1, sc2, m2;
        qd_k4_scale(2 * g, b->scales, &sc1, &m1);
        qd_k4_scale(2 * g + 1, b->scales, &sc2, &m2);
        const float d1 = d * (float)sc1, n1 = dmin * (float)m1;
        const float d2 = d * (float)sc2, n2 = dmin * (float)m2;
        const __m128i v0 = qd_load16(b->qs + 32 * g), v1 = qd_load16(b->qs + 32 * g + 16);
        qd_put16(e, 64 * g, _mm_or_si128(qd_lo4(v0), qd_field_to4(h[0], 2 * g, 1)), d1, n1);
        qd_put16(e, 64 * g + 16, _mm_or_si128(qd_lo4(v1), qd_field_to4(h[1], 2 * g, 1)), d1, n1);
        qd_put16(e, 64 * g + 32, _mm_or_si128(qd_hi4(v0), qd_field_to4(h[0], 2 * g + 1, 1)), d2,
                 n2);
        qd_put16(e, 64 * g + 48, _mm_or_si128(qd_hi4(v1), qd_field_to4(h[1], 2 * g + 1, 1)), d2,
                 n2);
    }
}

// Half n (128 values), l < 32: values l, l+32, l+64, l+96 from the nibbles of ql[l],
// ql[l+32] and the 2-bit fields 0, 2, 4, 6 of qh[l], minus 32; scale v/16; d·sc·q exact.
QD_INLINE void qd_q6_K(const struct qd_emit *e, const struct block_q6_K *b) {
    const float d = qd_f16(b->d);
    const __m128i k32 = _mm_set1_epi8(32);
    for (int n = 0; n < 2; n++) {
        const uint8_t *ql = b->ql + 64 * n, *qh = b->qh + 32 * n;
        const int8_t *sc = b->scales + 8 * n;
        __m128i q[4][2]; // q[f][s]: field f (values 32f + 16s + l of the half)
        for (int s = 0; s < 2; s++) {
            const __m128i a = qd_load16(ql + 16 * s), c = qd_load16(ql + 32 + 16 * s);
            const __m128i hh = qd_load16(qh + 16 * s);
            q[0][s] = _mm_or_si128(qd_lo4(a), qd_field_to4(hh, 0, 2));
            q[1][s] = _mm_or_si128(qd_lo4(c), qd_field_to4(hh, 2, 2));
            q[2][s] = _mm_or_si128(qd_hi4(a), qd_field_to4(hh, 4, 2));
            q[3][s] = _mm_or_si128(qd_hi4(c), qd_field_to4(hh, 6, 2));
        }
        for (int f = 0; f < 4; f++)
            for (int s = 0; s < 2; s++)
                qd_put16(e, 128 * n + 32 * f + 16 * s, _mm_sub_epi8(q[f][s], k32),
                         d * (float)sc[2 * f + s], 0.0f);
    }
}

QD_INLINE void qd_iq4_nl(const struct qd_emit *e, const struct block_iq4_nl *b) {
    const float d = qd_f16(b->d);
    const __m128i tbl = _mm_loadu_si128((const __m128i *)quant_iq4nl_values);
    const __m128i v = qd_load16(b->qs);
    qd_put16(e, 0, _mm_shuffle_epi8(tbl, qd_lo4(v)), d, 0.0f);
    qd_put16(e, 16, _mm_shuffle_epi8(tbl, qd_hi4(v)), d, 0.0f);
}

// Sub-block ib (32 values): 6-bit scale ls from scales_l / scales_h, dl = d·(ls − 32).
QD_INLINE void qd_iq4_xs(const struct qd_emit *e, const struct block_iq4_xs *b) {
    const float d = qd_f16(b->d);
    const __m128i tbl = _mm_loadu_si128((const __m128i *)quant_iq4nl_values);
    for (int ib = 0; ib < QK_K / 32; ib++) {
        const int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                       (((b->scales_h >> (2 * ib)) & 3) << 4);
        const float dl = d * (float)(ls - 32);
        const __m128i v = qd_load16(b->qs + 16 * ib);
        qd_put16(e, 32 * ib, _mm_shuffle_epi8(tbl, qd_lo4(v)), dl, 0.0f);
        qd_put16(e, 32 * ib + 16, _mm_shuffle_epi8(tbl, qd_hi4(v)), dl, 0.0f);
    }
}

// ---- a run of blocks: nb blocks from block k0 of a row, to dst (nb · block values)

typedef void (*qd_run_fn)(float *dst, const char *row, int64_t k0, int64_t nb);

#define QD_RUN(NAME, BLOCK, ELEMS)                                                                 \
    static void qd_run_##NAME(float *dst, const char *row, int64_t k0, int64_t nb) {               \
        const struct BLOCK *b = (const struct BLOCK *)row + k0;                                    \
        for (int64_t k = 0; k < nb; k++) {                                                         \
            const struct qd_emit e = {.dst = dst + k * (ELEMS)};                                   \
            qd_##NAME(&e, b + k);                                                                  \
        }                                                                                          \
    }
QD_RUN(q4_0, block_q4_0, QK4_0)
QD_RUN(q4_1, block_q4_1, QK4_0)
QD_RUN(q5_0, block_q5_0, QK4_0)
QD_RUN(q5_1, block_q5_1, QK4_0)
QD_RUN(q2_K, block_q2_K, QK_K)
QD_RUN(q3_K, block_q3_K, QK_K)
QD_RUN(q4_K, block_q4_K, QK_K)
QD_RUN(q5_K, block_q5_K, QK_K)
QD_RUN(q6_K, block_q6_K, QK_K)
QD_RUN(iq4_nl, block_iq4_nl, QK4_0)
QD_RUN(iq4_xs, block_iq4_xs, QK_K)
#undef QD_RUN

// The decoder, values and bytes per block of each block type of the exact path (NULL run
// for the types avx2.c / avx512.c compute another way).
struct qd_type {
    qd_run_fn run;
    int elems, bytes;
};
static const struct qd_type qd_types[KERN_W_COUNT] = {
    [KERN_W_Q4_0] = {qd_run_q4_0, QK4_0, sizeof(struct block_q4_0)},
    [KERN_W_Q4_1] = {qd_run_q4_1, QK4_0, sizeof(struct block_q4_1)},
    [KERN_W_Q5_0] = {qd_run_q5_0, QK4_0, sizeof(struct block_q5_0)},
    [KERN_W_Q5_1] = {qd_run_q5_1, QK4_0, sizeof(struct block_q5_1)},
    [KERN_W_Q2_K] = {qd_run_q2_K, QK_K, sizeof(struct block_q2_K)},
    [KERN_W_Q3_K] = {qd_run_q3_K, QK_K, sizeof(struct block_q3_K)},
    [KERN_W_Q4_K] = {qd_run_q4_K, QK_K, sizeof(struct block_q4_K)},
    [KERN_W_Q5_K] = {qd_run_q5_K, QK_K, sizeof(struct block_q5_K)},
    [KERN_W_Q6_K] = {qd_run_q6_K, QK_K, sizeof(struct block_q6_K)},
    [KERN_W_IQ4_NL] = {qd_run_iq4_nl, QK4_0, sizeof(struct block_iq4_nl)},
    [KERN_W_IQ4_XS] = {qd_run_iq4_xs, QK_K, sizeof(struct block_iq4_xs)},
};

#endif // JANUS_QDECODE_SIMD_H
