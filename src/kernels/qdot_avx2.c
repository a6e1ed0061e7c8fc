// The integer path with AVX2 (issue 13 item 2; kernels.h matmul_q8 and quantize_act,
// reference qdot.c and quant_act_row). Weights are unpacked per 128 values (4 activation
// blocks, 8 halves of 16) and transposed within 128-bit lanes so that 32-bit lane l of the
// 4 vectors holds one half. Levels of at most 6 bits are unsigned (u = v + off): maddubs
// pairs stay below 2^15 even added two at a time, and the half's sum starts at −off·Σxq; the
// 8-bit levels of Q8_0 and IQ4 stay signed and use the sign trick (|v| · sign(xq, v), pairs
// at most 2·128·127 < 2^15), so int16 never saturates. One convert, one multiply and one
// FMA per 8 halves (one more FMA for min terms). Each y[t][r] is one fixed chain and one
// fixed horizontal sum: independent of [r0, r1), the token count and the thread count.
// SPDX-License-Identifier: MIT
#include "kernels/qdot.h"

#include <stddef.h>

#include "kernels/quant.h"

#if defined(JANUS_NO_AVX2)
const kern_matmul_q8_fn *qdot_avx2_matmul_q8(void) { return NULL; }
void qdot_avx2_quantize_act(struct block_q8_act *y, const float *x, int64_t n) {
    quant_act_row(y, x, n);
}
#else

#include <immintrin.h>

#include "kernels/mm_order.h"
#include "kernels/qdot_simd.h"
#include "kernels/types.h"

#define QA_INLINE      static inline __attribute__((always_inline))
#define QA_PREFETCH    512
#define QA_PREFETCH_L2 2048
#define QA_MAX_TB      2   // tokens per register block (4 rows x 2 tokens accumulators)
#define QA_SCRATCH     512 // prepared groups on the stack (x tokens); beyond: the reference

// quant_act_row's bits: d = max|x| / 127 (NaN ignored), q = nearest-even(x · (1/d)) clamped to
// ±127 (NaN: 0), and the two half sums.
void qdot_avx2_quantize_act(struct block_q8_act *y, const float *x, int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / QACT_BLOCK; b++, x += QACT_BLOCK) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            m = _mm256_max_ps(_mm256_andnot_ps(sign, v[k]), m); // NaN lanes keep m
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h);
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const __m256 idv = _mm256_set1_ps(id), lo = _mm256_set1_ps(-127.0f),
                     hi = _mm256_set1_ps(127.0f);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            const __m256 s = _mm256_mul_ps(v[k], idv);
            const __m256 ok = _mm256_cmp_ps(s, s, _CMP_ORD_Q);
            const __m256 c = _mm256_min_ps(_mm256_max_ps(s, lo), hi);
            const __m256 r = _mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q[k] = _mm256_cvtps_epi32(_mm256_and_ps(r, ok));
        }
        const __m256i s01 = _mm256_add_epi32(q[0], q[1]), s23 = _mm256_add_epi32(q[2], q[3]);
        __m128i a = _mm_add_epi32(_mm256_castsi256_si128(s01), _mm256_extracti128_si256(s01, 1));
        __m128i c = _mm_add_epi32(_mm256_castsi256_si128(s23), _mm256_extracti128_si256(s23, 1));
        a = _mm_hadd_epi32(a, c); // [a0+a1, a2+a3, c0+c1, c2+c3]
        a = _mm_hadd_epi32(a, a); // [Σa, Σc, ...]
        const __m256i p16 = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
        // The packs work within 128-bit lanes: restore the value order q0..q31.
        const __m256i ord = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16, p16b),
                                                        _mm256_set_epi32(7, 3, 6, 2, 5, 1, 4, 0));
        _mm256_storeu_si256((__m256i *)y[b].qs, ord);
        y[b].d = d;
        y[b].sum[0] = (int16_t)_mm_cvtsi128_si32(a);
        y[b].sum[1] = (int16_t)_mm_extract_epi32(a, 1);
    }
}

// One prepared activation group (128 values of one token) in the lane order.
struct qa_x {
    __m256i x[4];
    __m256i init; // −off·S of each half
    __m256 dx;    // block scale of each half
    __m256 xs;    // dx·S of each half
};
struct qa_w {
    __m256i t[4];
    __m256 ws, wm;
};

// In-lane 4x4 transpose of 32-bit words: with n[m] = block m of the group, lane 4L + m of
// the result holds half L of block m (half index 2m + L of the group).
QA_INLINE void transpose4(__m256i t[4], const __m256i n[4]) {
    const __m256i a = _mm256_unpacklo_epi32(n[0], n[1]), b = _mm256_unpackhi_epi32(n[0], n[1]);
    const __m256i c = _mm256_unpacklo_epi32(n[2], n[3]), d = _mm256_unpackhi_epi32(n[2], n[3]);
    t[0] = _mm256_unpacklo_epi64(a, c);
    t[1] = _mm256_unpackhi_epi64(a, c);
    t[2] = _mm256_unpacklo_epi64(b, d);
    t[3] = _mm256_unpackhi_epi64(b, d);
}
// 8 per-half values (half order 2m + L) to lane order, and 4 per-block values (lanes 0..3).
QA_INLINE __m256 halves_to_lanes(__m256 h) {
    return _mm256_permutevar8x32_ps(h, _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0));
}
QA_INLINE __m256 blocks_to_lanes(__m128 b) { return _mm256_set_m128(b, b); }

QA_INLINE int qa_signed(int type) {
    return type == KERN_W_Q8_0 || type == KERN_W_IQ4_NL || type == KERN_W_IQ4_XS;
}
QA_INLINE int qa_off(int type) {
    switch (type) {
    case KERN_W_Q4_0: return 8;
    case KERN_W_Q5_0: return 16;
    case KERN_W_Q6_K: return 32;
    case KERN_W_Q3_K: return 4;
    default: return 0;
    }
}
QA_INLINE int qa_has_min(int type) {
    return type == KERN_W_Q4_1 || type == KERN_W_Q5_1 || type == KERN_W_Q2_K ||
           type == KERN_W_Q4_K || type == KERN_W_Q5_K;
}
QA_INLINE int qa_is_k(int type) {
    return (type >= KERN_W_Q2_K && type <= KERN_W_Q6_K) || type == KERN_W_IQ4_XS;
}
QA_INLINE int qa_block_bytes(int type) {
    switch (type) {
    case KERN_W_Q8_0: return 34;
    case KERN_W_Q4_0:
    case KERN_W_IQ4_NL: return 18;
    case KERN_W_Q4_1: return 20;
    case KERN_W_Q5_0: return 22;
    case KERN_W_Q5_1: return 24;
    case KERN_W_Q2_K: return 84;
    case KERN_W_Q3_K: return 110;
    case KERN_W_Q4_K: return 144;
    case KERN_W_Q5_K: return 176;
    case KERN_W_Q6_K: return 210;
    default: return 136;
    }
}

// 16 bytes q to [low nibbles | high nibbles] (values 0..15, 16..31 of a 32-value block).
QA_INLINE __m256i nib32(const uint8_t *q) {
    const __m128i v = _mm_loadu_si128((const __m128i *)q), m = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}
// Bytes 0x10 where bit i of the 32-bit word h is set (i = byte index), else 0.
QA_INLINE __m256i bits_to_bytes(uint32_t h, int val) {
    const __m256i b = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)h),
        _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL, 0x0101010101010101LL, 0));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit),
                            _mm256_set1_epi8((char)val));
}
// Bytes val where byte & mask is non-zero.
QA_INLINE __m256i test_bytes(__m256i v, int mask, int val) {
    const __m256i m = _mm256_set1_epi8((char)mask);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, m), m),
                            _mm256_set1_epi8((char)val));
}
// F16 to F32 (exact, F16C): one value; 4 values at p + k·stride as per-block lanes.
QA_INLINE float h2f(uint16_t h) { return _cvtsh_ss(h); }
QA_INLINE __m256 f16x4(const uint8_t *p, int stride) {
    uint16_t h[4];
    for (int k = 0; k < 4; k++)
        memcpy(&h[k], p + stride * k, 2);
    const __m128i v =
        _mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3], 0, 0, 0, 0);
    return blocks_to_lanes(_mm_cvtph_ps(v));
}

// Unpacks group g (values [128g, 128g + 128)) of the chunk at p (8 blocks of 32 or one
// super-block of 256).
QA_INLINE void unpack(int type, const uint8_t *p, int g, struct qa_w *o) {
    __m256i n[4];
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m128i lut_kv = _mm_loadu_si128((const __m128i *)quant_iq4nl_values);
    switch (type) {
    case KERN_W_Q8_0:
        for (int m = 0; m < 4; m++)
            n[m] = _mm256_loadu_si256((const __m256i *)(p + 34 * (4 * g + m) + 2));
        o->ws = f16x4(p + 34 * 4 * g, 34);
        break;
    case KERN_W_Q4_0:
    case KERN_W_Q4_1:
    case KERN_W_Q5_0:
    case KERN_W_Q5_1:
    case KERN_W_IQ4_NL: {
        const int bb = qa_block_bytes(type);
        const int qs = type == KERN_W_Q4_1   ? 4
                       : type == KERN_W_Q5_0 ? 6
                       : type == KERN_W_Q5_1 ? 8
                                             : 2;
        const uint8_t *b0 = p + bb * 4 * g;
        for (int m = 0; m < 4; m++) {
            const uint8_t *b = b0 + bb * m;
            n[m] = nib32(b + qs);
            if (type == KERN_W_Q5_0 || type == KERN_W_Q5_1) {
                uint32_t h;
                memcpy(&h, b + (type == KERN_W_Q5_0 ? 2 : 4), 4);
                n[m] = _mm256_or_si256(n[m], bits_to_bytes(h, 16));
            }
            if (type == KERN_W_IQ4_NL)
                n[m] = _mm256_shuffle_epi8(_mm256_set_m128i(lut_kv, lut_kv), n[m]);
        }
        o->ws = f16x4(b0, bb);
        if (type == KERN_W_Q4_1 || type == KERN_W_Q5_1) o->wm = f16x4(b0 + 2, bb);
        break;
    }
    case KERN_W_IQ4_XS: {
        const struct block_iq4_xs *x = (const struct block_iq4_xs *)p;
        for (int m = 0; m < 4; m++)
            n[m] = _mm256_shuffle_epi8(_mm256_set_m128i(lut_kv, lut_kv),
                                       nib32(x->qs + 16 * (4 * g + m)));
        float d[4];
        const float dd = h2f(x->d);
        for (int m = 0; m < 4; m++) {
            const int j = 4 * g + m;
            const int ls = ((x->scales_l[j / 2] >> (4 * (j % 2))) & 0xF) |
                           (((x->scales_h >> (2 * j)) & 3) << 4);
            d[m] = dd * (float)(ls - 32);
        }
        o->ws = blocks_to_lanes(_mm_loadu_ps(d));
        break;
    }
    case KERN_W_Q4_K:
    case KERN_W_Q5_K: {
        const uint8_t *sc, *qs, *qh = NULL;
        uint16_t hd, hm;
        memcpy(&hd, p, 2);
        memcpy(&hm, p + 2, 2);
        if (type == KERN_W_Q4_K) {
            const struct block_q4_K *x = (const struct block_q4_K *)p;
            sc = x->scales, qs = x->qs;
        } else {
            const struct block_q5_K *x = (const struct block_q5_K *)p;
            sc = x->scales, qs = x->qs, qh = x->qh;
        }
        const __m256i hb = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        for (int k = 0; k < 2; k++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * (2 * g + k)));
            n[2 * k] = _mm256_and_si256(q, m4);
            n[2 * k + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (qh) {
                const int j = 4 * g + 2 * k;
                n[2 * k] = _mm256_or_si256(n[2 * k], test_bytes(hb, 1 << j, 16));
                n[2 * k + 1] = _mm256_or_si256(n[2 * k + 1], test_bytes(hb, 2 << j, 16));
            }
        }
        uint8_t s[16];
        qdot_k4_scales(s, sc);
        uint32_t w4[2];
        memcpy(&w4[0], s + 4 * g, 4);
        memcpy(&w4[1], s + 8 + 4 * g, 4);
        const __m128 scf = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)w4[0])));
        const __m128 mnf = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)w4[1])));
        o->ws = blocks_to_lanes(_mm_mul_ps(scf, _mm_set1_ps(h2f(hd))));
        o->wm = blocks_to_lanes(_mm_mul_ps(mnf, _mm_set1_ps(-h2f(hm))));
        break;
    }
    case KERN_W_Q6_K: {
        const struct block_q6_K *x = (const struct block_q6_K *)p;
        const __m256i la = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * g));
        const __m256i lb = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * g + 32));
        const __m256i h = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * g));
        const __m256i m30 = _mm256_set1_epi8(0x30);
        n[0] = _mm256_or_si256(_mm256_and_si256(la, m4),
                               _mm256_and_si256(_mm256_slli_epi16(h, 4), m30));
        n[1] = _mm256_or_si256(_mm256_and_si256(lb, m4),
                               _mm256_and_si256(_mm256_slli_epi16(h, 2), m30));
        n[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4),
                               _mm256_and_si256(h, m30));
        n[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
        const __m256 f = _mm256_cvtepi32_ps(
            _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x->scales + 8 * g))));
        o->ws = halves_to_lanes(_mm256_mul_ps(f, _mm256_set1_ps(h2f(x->d))));
        break;
    }
    case KERN_W_Q3_K:
    case KERN_W_Q2_K: {
        const uint8_t *qs = type == KERN_W_Q3_K ? ((const struct block_q3_K *)p)->qs
                                                : ((const struct block_q2_K *)p)->qs;
        const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
        const __m256i m3 = _mm256_set1_epi8(3);
        n[0] = _mm256_and_si256(q, m3);
        n[1] = _mm256_and_si256(_mm256_srli_epi16(q, 2), m3);
        n[2] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m3);
        n[3] = _mm256_and_si256(_mm256_srli_epi16(q, 6), m3);
        if (type == KERN_W_Q3_K) {
            const struct block_q3_K *x = (const struct block_q3_K *)p;
            const __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
            for (int m = 0; m < 4; m++)
                n[m] = _mm256_or_si256(n[m], test_bytes(hm, 1 << (4 * g + m), 4));
            uint8_t s[16];
            qdot_q3_scales(s, x->scales);
            uint64_t s8;
            memcpy(&s8, s + 8 * g, 8);
            const __m256i si = _mm256_sub_epi32(
                _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)s8)), _mm256_set1_epi32(32));
            o->ws =
                halves_to_lanes(_mm256_mul_ps(_mm256_cvtepi32_ps(si), _mm256_set1_ps(h2f(x->d))));
        } else {
            const struct block_q2_K *x = (const struct block_q2_K *)p;
            const __m256i s =
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x->scales + 8 * g)));
            const __m256 sc = _mm256_cvtepi32_ps(_mm256_and_si256(s, _mm256_set1_epi32(15)));
            const __m256 mn = _mm256_cvtepi32_ps(_mm256_srli_epi32(s, 4));
            o->ws = halves_to_lanes(_mm256_mul_ps(sc, _mm256_set1_ps(h2f(x->d))));
            o->wm = halves_to_lanes(_mm256_mul_ps(mn, _mm256_set1_ps(-h2f(x->dmin))));
        }
        break;
    }
    default: break;
    }
    transpose4(o->t, n);
}

// Prepares group c (values [128c, 128c + 128), nblk <= 4 blocks present) of a token.
static void prep_group(struct qa_x *o, const struct block_q8_act *a, int nblk, int off) {
    __m256i n[4];
    for (int m = 0; m < 4; m++)
        n[m] = m < nblk ? _mm256_loadu_si256((const __m256i *)a[m].qs) : _mm256_setzero_si256();
    transpose4(o->x, n);
    int32_t init[8];
    float dx[8], xs[8];
    for (int h = 0; h < 8; h++) {
        const int b = h / 2;
        const int s = b < nblk ? a[b].sum[h % 2] : 0;
        const float d = b < nblk ? a[b].d : 0.0f;
        init[h] = -off * s;
        dx[h] = d;
        xs[h] = d * (float)s;
    }
    o->init = _mm256_castps_si256(
        halves_to_lanes(_mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)init))));
    o->dx = halves_to_lanes(_mm256_loadu_ps(dx));
    o->xs = halves_to_lanes(_mm256_loadu_ps(xs));
}

QA_INLINE float hsum8(__m256 v) {
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}

// The exact integer sum of each half (lane order) of one weight group and one token group.
QA_INLINE __m256i half_sums(int type, const struct qa_w *o, const __m256i *abs_t,
                            const struct qa_x *x) {
    const __m256i ones = _mm256_set1_epi16(1);
    if (qa_signed(type)) {
        __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            s = _mm256_add_epi32(
                s, _mm256_madd_epi16(
                       _mm256_maddubs_epi16(abs_t[j], _mm256_sign_epi8(x->x[j], o->t[j])), ones));
        return s;
    }
    const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(o->t[0], x->x[0]),
                                         _mm256_maddubs_epi16(o->t[1], x->x[1]));
    const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(o->t[2], x->x[2]),
                                         _mm256_maddubs_epi16(o->t[3], x->x[3]));
    return _mm256_add_epi32(
        x->init, _mm256_add_epi32(_mm256_madd_epi16(p01, ones), _mm256_madd_epi16(p23, ones)));
}

// RB rows (r + a·S) x TB prepared tokens (xp: TB x n_gr groups, token-major).
QA_INLINE void qa_block(int type, int RB, int TB, float *y, int64_t ldy, const uint8_t *w,
                        size_t rb, const struct qa_x *xp, int64_t n_gr, int64_t n_in, int64_t r,
                        int64_t S, int64_t t) {
    __m256 acc[4][QA_MAX_TB];
    const uint8_t *rows[4];
    const int bb = qa_block_bytes(type);
    const size_t cb = qa_is_k(type) ? (size_t)bb : (size_t)bb * 8; // bytes per 256 values
    const int64_t nb32 = n_in / 32;
    for (int a = 0; a < RB; a++) {
        rows[a] = w + (size_t)(r + a * S) * rb;
        for (int b = 0; b < TB; b++)
            acc[a][b] = _mm256_setzero_ps();
    }
    for (int64_t c = 0; c < n_gr; c++) {
        const int nblk = qa_is_k(type) || nb32 - 4 * c >= 4 ? 4 : (int)(nb32 - 4 * c);
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            const uint8_t *p = rows[a] + (c / 2) * cb;
            if (c % 2 == 0) {
#pragma GCC unroll 8
                for (size_t o = 0; o < cb; o += 64) { // every line of the chunk, two levels
                    _mm_prefetch((const char *)p + o + QA_PREFETCH, _MM_HINT_T0);
                    _mm_prefetch((const char *)p + o + QA_PREFETCH_L2, _MM_HINT_T1);
                }
            }
            struct qa_w o;
            if (nblk == 4) {
                unpack(type, p, (int)(c % 2), &o);
            } else { // a last partial group of a 32-value type: zero-padded copy
                uint8_t tmp[8 * 34] = {0};
                memcpy(tmp, p + (c % 2) * 4 * bb, (size_t)nblk * (size_t)bb);
                unpack(type, tmp, 0, &o);
            }
            __m256i abs_t[4];
            if (qa_signed(type))
                for (int j = 0; j < 4; j++)
                    abs_t[j] = _mm256_abs_epi8(o.t[j]);
#pragma GCC unroll 2
            for (int b = 0; b < TB; b++) {
                const struct qa_x *x = xp + b * n_gr + c;
                const __m256i d = half_sums(type, &o, abs_t, x);
                acc[a][b] =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(o.ws, x->dx), acc[a][b]);
                if (qa_has_min(type)) acc[a][b] = _mm256_fmadd_ps(o.wm, x->xs, acc[a][b]);
            }
        }
    }
    for (int a = 0; a < RB; a++)
        for (int b = 0; b < TB; b++)
            y[(t + b) * ldy + r + a * S] = hsum8(acc[a][b]);
}

QA_INLINE void qa_generic(int type, kern_matmul_q8_fn ref, float *y, int64_t ldy, const void *w,
                          const struct block_q8_act *xq, int64_t n_in, int64_t n_tok, int64_t r0,
                          int64_t r1) {
    if (n_tok <= 0 || r1 <= r0) return;
    const int64_t nb32 = n_in / 32, n_gr = (nb32 + 3) / 4;
    if (n_gr > QA_SCRATCH) {
        ref(y, ldy, w, xq, n_in, n_tok, r0, r1);
        return;
    }
    struct qa_x xp[QA_SCRATCH];
    const int64_t tb_cap = QA_SCRATCH / n_gr < QA_MAX_TB ? QA_SCRATCH / n_gr : QA_MAX_TB;
    const size_t rb = kern_row_bytes(type, n_in);
    const int off = qa_off(type);
    const struct mm_order o = mm_order_streams(r0, r1, 4);
    const int64_t n_blk = (n_tok + tb_cap - 1) / tb_cap;
    for (int64_t k = 0, t = 0; k < n_blk; k++) {
        const int64_t tb = (n_tok - t) / (n_blk - k) + ((n_tok - t) % (n_blk - k) != 0);
        for (int64_t b = 0; b < tb; b++)
            for (int64_t c = 0; c < n_gr; c++) {
                const int nblk = nb32 - 4 * c >= 4 ? 4 : (int)(nb32 - 4 * c);
                prep_group(&xp[b * n_gr + c], xq + (t + b) * nb32 + 4 * c, nblk, off);
            }
        for (int64_t j = 0; j < o.n_blocks; j++) {
            if (tb == 2)
                qa_block(type, 4, 2, y, ldy, w, rb, xp, n_gr, n_in, r0 + j, o.stride, t);
            else
                qa_block(type, 4, 1, y, ldy, w, rb, xp, n_gr, n_in, r0 + j, o.stride, t);
        }
        for (int64_t r = o.rest; r < r1; r++) {
            if (tb == 2)
                qa_block(type, 1, 2, y, ldy, w, rb, xp, n_gr, n_in, r, 0, t);
            else
                qa_block(type, 1, 1, y, ldy, w, rb, xp, n_gr, n_in, r, 0, t);
        }
        t += tb;
    }
}

#define QA_FN(name, type, ref)                                                                     \
    static void name(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,          \
                     int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {                        \
        qa_generic(type, ref, y, ldy, w, xq, n_in, n_tok, r0, r1);                                 \
    }
QA_FN(qa_q8_0, KERN_W_Q8_0, qdot_ref_q8_0)
QA_FN(qa_q4_0, KERN_W_Q4_0, qdot_ref_q4_0)
QA_FN(qa_q4_1, KERN_W_Q4_1, qdot_ref_q4_1)
QA_FN(qa_q5_0, KERN_W_Q5_0, qdot_ref_q5_0)
QA_FN(qa_q5_1, KERN_W_Q5_1, qdot_ref_q5_1)
QA_FN(qa_q2_K, KERN_W_Q2_K, qdot_ref_q2_K)
QA_FN(qa_q3_K, KERN_W_Q3_K, qdot_ref_q3_K)
QA_FN(qa_q4_K, KERN_W_Q4_K, qdot_ref_q4_K)
QA_FN(qa_q5_K, KERN_W_Q5_K, qdot_ref_q5_K)
QA_FN(qa_q6_K, KERN_W_Q6_K, qdot_ref_q6_K)
QA_FN(qa_iq4_nl, KERN_W_IQ4_NL, qdot_ref_iq4_nl)
QA_FN(qa_iq4_xs, KERN_W_IQ4_XS, qdot_ref_iq4_xs)

static const kern_matmul_q8_fn qa_table[KERN_W_COUNT] = {
    [KERN_W_Q8_0] = qa_q8_0, [KERN_W_Q4_0] = qa_q4_0,     [KERN_W_Q4_1] = qa_q4_1,
    [KERN_W_Q5_0] = qa_q5_0, [KERN_W_Q5_1] = qa_q5_1,     [KERN_W_Q2_K] = qa_q2_K,
    [KERN_W_Q3_K] = qa_q3_K, [KERN_W_Q4_K] = qa_q4_K,     [KERN_W_Q5_K] = qa_q5_K,
    [KERN_W_Q6_K] = qa_q6_K, [KERN_W_IQ4_NL] = qa_iq4_nl, [KERN_W_IQ4_XS] = qa_iq4_xs,
};

const kern_matmul_q8_fn *qdot_avx2_matmul_q8(void) { return qa_table; }

#endif // JANUS_NO_AVX2
