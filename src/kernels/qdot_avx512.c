// The integer path with AVX-512 VNNI (issue 13 item 2; kernels.h matmul_q8, reference
// qdot.c). Compiled with -mavx512vnni: dispatch.c calls it only when cpuid has AVX512_VNNI.
// Weights are unpacked per 256 values (8 activation blocks, 16 halves of 16) to unsigned
// levels u = v + off (off a per-type constant) and transposed within 128-bit lanes so that
// 32-bit lane l of the 4 vectors holds one half: 4 vpdpbusd accumulate that half's Σ u·xq
// (started at −off·Σxq, so the lane is the exact Σ v·xq), then one convert, one multiply by
// (weight scale · activation scale) and one FMA per 16 halves; min terms are one more FMA
// against the prepared dx·S of each half. The activations are prepared once per call (same
// transpose). Each y[t][r] is one fixed chain over the row and one fixed horizontal sum: it
// does not depend on [r0, r1), the token count or the thread count.
// SPDX-License-Identifier: MIT
#include "kernels/qdot.h"

#include <stddef.h>

#if defined(JANUS_NO_AVX2) || defined(JANUS_NO_AVX512)
const kern_matmul_q8_fn *qdot_avx512_matmul_q8(void) { return NULL; }
#else

#include <immintrin.h>

#include "kernels/mm_order.h"
#include "kernels/qdot_simd.h"
#include "kernels/types.h"

#define QI_INLINE      static inline __attribute__((always_inline))
// A 16-bit shift count in each 16-bit lane of a 64-bit lane (for srlv/sllv_epi16).
#define C16(c)         ((long long)(c)*0x0001000100010001LL)
#define QI_PREFETCH    512
#define QI_PREFETCH_L2 2048
#define QI_MAX_TB      4   // tokens per register block (4 rows x 4 tokens accumulators)
#define QI_WIDE_TB     16  // tokens per pass over the weights (accumulators in L1 beyond 4)
#define QI_SCRATCH     256 // prepared chunks on the stack (x tokens); beyond: the reference

// One prepared activation chunk (256 values of one token) in the lane order.
struct qi_x {
    __m512i x[4]; // transposed int8 activations
    __m512i init; // −off·S of each half
    __m512 dx;    // the block scale of each half
    __m512 xs;    // dx·S of each half (min terms)
};

// One unpacked weight chunk of a row.
struct qi_w {
    __m512i t[4];
    __m512 ws, wm; // F32 scale of each half's integer sum, of its activation sum
};

// In-lane 4x4 transpose of 32-bit words: t[j] 128-bit lane L, word m = n[m] lane L, word j.
// With n[m] = blocks 2m, 2m+1 (32 bytes each), lane 4L + m of t holds half 4m + L.
QI_INLINE void transpose4(__m512i t[4], const __m512i n[4]) {
    const __m512i a = _mm512_unpacklo_epi32(n[0], n[1]), b = _mm512_unpackhi_epi32(n[0], n[1]);
    const __m512i c = _mm512_unpacklo_epi32(n[2], n[3]), d = _mm512_unpackhi_epi32(n[2], n[3]);
    t[0] = _mm512_unpacklo_epi64(a, c);
    t[1] = _mm512_unpackhi_epi64(a, c);
    t[2] = _mm512_unpacklo_epi64(b, d);
    t[3] = _mm512_unpackhi_epi64(b, d);
}

// 16 values in half order (h = 2·block + half) to the lane order (lane 4L + m: half 4m + L).
QI_INLINE __m512 halves_to_lanes(__m512 h) {
    const __m512i idx = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    return _mm512_permutexvar_ps(idx, h);
}
// 8 values in block order (lanes 0..7 of b) to the lane order (lane 4L + m: block 2m + L/2).
QI_INLINE __m512 blocks_to_lanes(__m512 b) {
    const __m512i idx = _mm512_set_epi32(7, 5, 3, 1, 7, 5, 3, 1, 6, 4, 2, 0, 6, 4, 2, 0);
    return _mm512_permutexvar_ps(idx, b);
}

// F16 to F32 (exact, F16C), one value and 8 values at p + k·stride (lanes 0..7).
QI_INLINE float h2f(uint16_t h) { return _cvtsh_ss(h); }
QI_INLINE __m512 f16x8(const uint8_t *p, int stride) {
    uint16_t h[8];
    for (int k = 0; k < 8; k++)
        memcpy(&h[k], p + stride * k, 2);
    const __m128i v = _mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3],
                                     (short)h[4], (short)h[5], (short)h[6], (short)h[7]);
    return _mm512_castps256_ps512(_mm256_cvtph_ps(v));
}

// The constant offset of the unsigned levels (u = v + off).
QI_INLINE int type_off(int type) {
    switch (type) {
    case KERN_W_Q8_0:
    case KERN_W_IQ4_NL:
    case KERN_W_IQ4_XS: return 128;
    case KERN_W_Q4_0: return 8;
    case KERN_W_Q5_0: return 16;
    case KERN_W_Q6_K: return 32;
    case KERN_W_Q3_K: return 4;
    default: return 0; // Q4_1, Q5_1, Q2_K, Q4_K, Q5_K: unsigned levels and a min term
    }
}
QI_INLINE int type_has_min(int type) {
    return type == KERN_W_Q4_1 || type == KERN_W_Q5_1 || type == KERN_W_Q2_K ||
           type == KERN_W_Q4_K || type == KERN_W_Q5_K;
}
QI_INLINE int type_block_bytes(int type) {
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
    default: return 136; // IQ4_XS
    }
}
QI_INLINE int type_is_k(int type) {
    return (type >= KERN_W_Q2_K && type <= KERN_W_Q6_K) || type == KERN_W_IQ4_XS;
}

// [lo nibbles of q (16 bytes) | high nibbles of q] for blocks a and b: the 32-value layout
// of Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL/IQ4_XS (value i < 16: low nibble of q[i]; i + 16: high).
QI_INLINE __m512i nibbles_2x16(const uint8_t *qa, const uint8_t *qb) {
    const __m512i v = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qa))),
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qb)), 1);
    const __m512i sh =
        _mm512_set_epi64(C16(4), C16(4), C16(0), C16(0), C16(4), C16(4), C16(0), C16(0));
    return _mm512_and_si512(_mm512_srlv_epi16(v, sh), _mm512_set1_epi8(0x0f));
}

// The 16 per-half F32 values d·s[h] (s: 16 signed bytes in half order) in lane order.
QI_INLINE __m512 scales16(const int8_t *s, float d) {
    const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)s)));
    return halves_to_lanes(_mm512_mul_ps(f, _mm512_set1_ps(d)));
}

// Unpacks 256 values (nblk <= 8 blocks of 32 for the 32-value types; 1 super-block for the
// K-quants and IQ4_XS) starting at block pointer p.
QI_INLINE void unpack(int type, const uint8_t *p, struct qi_w *o) {
    __m512i n[4];
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    switch (type) {
    case KERN_W_Q8_0: {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const uint8_t *a = p + 68 * k, *b = a + 34;
            n[k] = _mm512_xor_si512(
                _mm512_inserti64x4(
                    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(a + 2))),
                    _mm256_loadu_si256((const __m256i *)(b + 2)), 1),
                _mm512_set1_epi8((char)0x80));
        }
        o->ws = blocks_to_lanes(f16x8(p, 34));
        break;
    }
    case KERN_W_Q4_0:
    case KERN_W_Q4_1:
    case KERN_W_Q5_0:
    case KERN_W_Q5_1:
    case KERN_W_IQ4_NL: {
        const int bb = type_block_bytes(type);
        const int qs = type == KERN_W_Q4_1   ? 4
                       : type == KERN_W_Q5_0 ? 6
                       : type == KERN_W_Q5_1 ? 8
                                             : 2;
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const uint8_t *a = p + 2 * k * bb, *b = a + bb;
            n[k] = nibbles_2x16(a + qs, b + qs);
            if (type == KERN_W_Q5_0 || type == KERN_W_Q5_1) {
                const int qh = type == KERN_W_Q5_0 ? 2 : 4;
                uint32_t ha, hb;
                memcpy(&ha, a + qh, 4);
                memcpy(&hb, b + qh, 4);
                n[k] = _mm512_mask_add_epi8(n[k], (__mmask64)ha | (__mmask64)hb << 32, n[k],
                                            _mm512_set1_epi8(16));
            }
            if (type == KERN_W_IQ4_NL) {
                const __m512i lut = _mm512_broadcast_i32x4(
                    _mm_set_epi8((char)241, (char)217, (char)197, (char)181, (char)166, (char)153,
                                 (char)141, (char)129, 118, 106, 93, 79, 63, 45, 24, 1));
                n[k] = _mm512_shuffle_epi8(lut, n[k]);
            }
        }
        o->ws = blocks_to_lanes(f16x8(p, bb));
        if (type == KERN_W_Q4_1 || type == KERN_W_Q5_1) o->wm = blocks_to_lanes(f16x8(p + 2, bb));
        break;
    }
    case KERN_W_IQ4_XS: {
        const struct block_iq4_xs *x = (const struct block_iq4_xs *)p;
        const __m512i lut = _mm512_broadcast_i32x4(
            _mm_set_epi8((char)241, (char)217, (char)197, (char)181, (char)166, (char)153,
                         (char)141, (char)129, 118, 106, 93, 79, 63, 45, 24, 1));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            n[k] = _mm512_shuffle_epi8(lut, nibbles_2x16(x->qs + 32 * k, x->qs + 32 * k + 16));
        float d[8];
        const float dd = h2f(x->d);
        for (int j = 0; j < 8; j++) {
            const int ls = ((x->scales_l[j / 2] >> (4 * (j % 2))) & 0xF) |
                           (((x->scales_h >> (2 * j)) & 3) << 4);
            d[j] = dd * (float)(ls - 32);
        }
        o->ws = blocks_to_lanes(_mm512_castps256_ps512(_mm256_loadu_ps(d)));
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
        const __m512i sh =
            _mm512_set_epi64(C16(4), C16(4), C16(4), C16(4), C16(0), C16(0), C16(0), C16(0));
        __m512i hb = _mm512_setzero_si512();
        if (qh) hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const __m512i q =
                _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * k)));
            n[k] = _mm512_and_si512(_mm512_srlv_epi16(q, sh), m4);
            if (qh) {
                const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * k))),
                                                       _mm256_set1_epi8((char)(2 << (2 * k))), 1);
                n[k] = _mm512_mask_add_epi8(n[k], _mm512_test_epi8_mask(hb, bit), n[k],
                                            _mm512_set1_epi8(16));
            }
        }
        uint8_t s[16];
        qdot_k4_scales(s, sc);
        const __m512 f =
            _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)s)));
        const __m512 dm = _mm512_mul_ps(
            f, _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(h2f(hd))),
                                                   _mm256_castps_pd(_mm256_set1_ps(-h2f(hm))), 1)));
        o->ws = blocks_to_lanes(dm);
        o->wm = blocks_to_lanes(_mm512_shuffle_f32x4(dm, dm, 0xee));
        break;
    }
    case KERN_W_Q6_K: {
        const struct block_q6_K *x = (const struct block_q6_K *)p;
        for (int g = 0; g < 2; g++) {
            const __m512i l = _mm512_loadu_si512(x->ql + 64 * g);
            const __m512i h =
                _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qh + 32 * g)));
            const __m512i m30 = _mm512_set1_epi8(0x30);
            const __m512i h0 = _mm512_and_si512(
                _mm512_sllv_epi16(h, _mm512_set_epi64(C16(2), C16(2), C16(2), C16(2), C16(4),
                                                      C16(4), C16(4), C16(4))),
                m30);
            const __m512i h1 = _mm512_and_si512(
                _mm512_srlv_epi16(h, _mm512_set_epi64(C16(2), C16(2), C16(2), C16(2), C16(0),
                                                      C16(0), C16(0), C16(0))),
                m30);
            n[2 * g] = _mm512_or_si512(_mm512_and_si512(l, m4), h0);
            n[2 * g + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), h1);
        }
        o->ws = scales16(x->scales, h2f(x->d));
        break;
    }
    case KERN_W_Q3_K: {
        const struct block_q3_K *x = (const struct block_q3_K *)p;
        const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x->hmask));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) { // blocks 2k, 2k+1: 128-group k/2, shifts 2·(2k%4) and +2
            const __m512i q =
                _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qs + 32 * (k / 2))));
            const int s0 = 2 * ((2 * k) % 4);
            n[k] = _mm512_and_si512(
                _mm512_srlv_epi16(q, _mm512_set_epi64(C16(s0 + 2), C16(s0 + 2), C16(s0 + 2),
                                                      C16(s0 + 2), C16(s0), C16(s0), C16(s0),
                                                      C16(s0))),
                _mm512_set1_epi8(3));
            const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * k))),
                                                   _mm256_set1_epi8((char)(2 << (2 * k))), 1);
            n[k] = _mm512_mask_add_epi8(n[k], _mm512_test_epi8_mask(hm, bit), n[k],
                                        _mm512_set1_epi8(4));
        }
        uint8_t s[16];
        int8_t si[16];
        qdot_q3_scales(s, x->scales);
        for (int k = 0; k < 16; k++)
            si[k] = (int8_t)(s[k] - 32);
        o->ws = scales16(si, h2f(x->d));
        break;
    }
    default: { // KERN_W_Q2_K
        const struct block_q2_K *x = (const struct block_q2_K *)p;
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const __m512i q =
                _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qs + 32 * (k / 2))));
            const int s0 = 2 * ((2 * k) % 4);
            n[k] = _mm512_and_si512(
                _mm512_srlv_epi16(q, _mm512_set_epi64(C16(s0 + 2), C16(s0 + 2), C16(s0 + 2),
                                                      C16(s0 + 2), C16(s0), C16(s0), C16(s0),
                                                      C16(s0))),
                _mm512_set1_epi8(3));
        }
        const __m512i s = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x->scales));
        const __m512 sc = _mm512_cvtepi32_ps(_mm512_and_si512(s, _mm512_set1_epi32(15)));
        const __m512 mn = _mm512_cvtepi32_ps(_mm512_srli_epi32(s, 4));
        o->ws = halves_to_lanes(_mm512_mul_ps(sc, _mm512_set1_ps(h2f(x->d))));
        o->wm = halves_to_lanes(_mm512_mul_ps(mn, _mm512_set1_ps(-h2f(x->dmin))));
        break;
    }
    }
    transpose4(o->t, n);
}

// Prepares chunk c (values [256c, 256c + 256), nblk <= 8 blocks of it present) of a token.
static void prep_chunk(struct qi_x *o, const struct block_q8_act *a, int nblk, int off) {
    __m512i n[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        const __m256i lo = 2 * k < nblk ? _mm256_loadu_si256((const __m256i *)a[2 * k].qs)
                                        : _mm256_setzero_si256();
        const __m256i hi = 2 * k + 1 < nblk ? _mm256_loadu_si256((const __m256i *)a[2 * k + 1].qs)
                                            : _mm256_setzero_si256();
        n[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    transpose4(o->x, n);
    int32_t init[16];
    float dx[16], xs[16];
    for (int h = 0; h < 16; h++) {
        const int b = h / 2;
        const int s = b < nblk ? a[b].sum[h % 2] : 0;
        const float d = b < nblk ? a[b].d : 0.0f;
        init[h] = -off * s;
        dx[h] = d;
        xs[h] = d * (float)s;
    }
    o->init = _mm512_castps_si512(halves_to_lanes(_mm512_castsi512_ps(_mm512_loadu_si512(init))));
    o->dx = halves_to_lanes(_mm512_loadu_ps(dx));
    o->xs = halves_to_lanes(_mm512_loadu_ps(xs));
}

// Horizontal sum with a fixed tree (the bits depend only on v).
QI_INLINE float hsum16(__m512 v) {
    const __m256 a =
        _mm256_add_ps(_mm512_castps512_ps256(v),
                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}

// acc[a][b] += the chunk's terms for one unpacked row a and TB prepared tokens (x: token b's
// chunk at x + b·n_ch; the chunks are stored chunk-major, so n_ch is 1).
QI_INLINE void qi_terms(int type, int TB, __m512 *acc, const struct qi_w *o, const struct qi_x *x,
                        int64_t n_ch) {
#pragma GCC unroll 4
    for (int b = 0; b < TB; b++) {
        const struct qi_x *xb = x + b * n_ch;
        // Fresh loads for each row (folded into vpdpbusd): kept in registers across the 4
        // rows, the 4 tokens' chunks would push the accumulators out to the stack.
        __asm__("" : "+r"(xb));
        __m512i d = _mm512_dpbusd_epi32(xb->init, o->t[0], xb->x[0]);
        d = _mm512_dpbusd_epi32(d, o->t[1], xb->x[1]);
        d = _mm512_dpbusd_epi32(d, o->t[2], xb->x[2]);
        d = _mm512_dpbusd_epi32(d, o->t[3], xb->x[3]);
        acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(o->ws, xb->dx), acc[b]);
        if (type_has_min(type)) acc[b] = _mm512_fmadd_ps(o->wm, xb->xs, acc[b]);
    }
}

// RB rows (r + a·S) x TB prepared tokens (xp: n_ch x TB chunks, chunk-major: the tokens'
// chunks that one row chunk meets are contiguous).
QI_INLINE void qi_block(int type, int RB, int TB, float *y, int64_t ldy, const uint8_t *w,
                        size_t rb, const struct qi_x *xp, int64_t n_ch, int64_t n_in, int64_t r,
                        int64_t S, int64_t t) {
    __m512 acc[4][QI_MAX_TB];
    const uint8_t *rows[4];
    const int bb = type_block_bytes(type);
    const size_t cb = type_is_k(type) ? (size_t)bb : (size_t)bb * 8; // bytes per full chunk
    const int64_t nb32 = n_in / 32;
    // Full chunks; a 32-value type may end with a partial one (n_in % 256 != 0).
    const int64_t n_full = type_is_k(type) ? n_ch : nb32 / 8;
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++) {
        rows[a] = w + (size_t)(r + a * S) * rb;
#pragma GCC unroll 4
        for (int b = 0; b < TB; b++)
            acc[a][b] = _mm512_setzero_ps();
    }
    for (int64_t c = 0; c < n_full; c++) {
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            const uint8_t *p = rows[a] + c * cb;
#pragma GCC unroll 8
            for (size_t o = 0; o < cb; o += 64) { // every line of the chunk, two levels
                _mm_prefetch((const char *)p + o + QI_PREFETCH, _MM_HINT_T0);
                _mm_prefetch((const char *)p + o + QI_PREFETCH_L2, _MM_HINT_T1);
            }
            struct qi_w o;
            unpack(type, p, &o);
            qi_terms(type, TB, acc[a], &o, xp + c * TB, 1);
        }
    }
    if (n_full < n_ch) { // the zero-padded copy of the last partial chunk
        for (int a = 0; a < RB; a++) {
            uint8_t tmp[8 * 34] = {0};
            memcpy(tmp, rows[a] + n_full * cb, (size_t)(nb32 - 8 * n_full) * (size_t)bb);
            struct qi_w o;
            unpack(type, tmp, &o);
            qi_terms(type, TB, acc[a], &o, xp + n_full * TB, 1);
        }
    }
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 4
        for (int b = 0; b < TB; b++)
            y[(t + b) * ldy + r + a * S] = hsum16(acc[a][b]);
}

// RB rows x TB tokens (4 < TB <= QI_WIDE_TB): each row chunk is unpacked once for all TB
// tokens, the accumulators live in L1 (one load and store per token and chunk instead of an
// unpack per 4 tokens). Same operations per (r, t) as qi_block: the same bits.
QI_INLINE void qi_block_wide(int type, int RB, int TB, float *y, int64_t ldy, const uint8_t *w,
                             size_t rb, const struct qi_x *xp, int64_t n_ch, int64_t n_in,
                             int64_t r, int64_t S, int64_t t) {
    __m512 acc[4][QI_WIDE_TB];
    const uint8_t *rows[4];
    const int bb = type_block_bytes(type);
    const size_t cb = type_is_k(type) ? (size_t)bb : (size_t)bb * 8;
    const int64_t nb32 = n_in / 32;
    const int64_t n_full = type_is_k(type) ? n_ch : nb32 / 8;
    for (int a = 0; a < RB; a++) {
        rows[a] = w + (size_t)(r + a * S) * rb;
        for (int b = 0; b < TB; b++)
            acc[a][b] = _mm512_setzero_ps();
    }
    for (int64_t c = 0; c <= n_full; c++) {
        if (c == n_full && n_full == n_ch) break;
        for (int a = 0; a < RB; a++) {
            struct qi_w o;
            if (c < n_full) {
                const uint8_t *p = rows[a] + c * cb;
#pragma GCC unroll 8
                for (size_t f = 0; f < cb; f += 64) {
                    _mm_prefetch((const char *)p + f + QI_PREFETCH, _MM_HINT_T0);
                    _mm_prefetch((const char *)p + f + QI_PREFETCH_L2, _MM_HINT_T1);
                }
                unpack(type, p, &o);
            } else { // the zero-padded copy of the last partial chunk
                uint8_t tmp[8 * 34] = {0};
                memcpy(tmp, rows[a] + n_full * cb, (size_t)(nb32 - 8 * n_full) * (size_t)bb);
                unpack(type, tmp, &o);
            }
            int b = 0;
            for (; b + 4 <= TB; b += 4)
                qi_terms(type, 4, acc[a] + b, &o, xp + c * TB + b, 1);
            switch (TB - b) {
            case 3: qi_terms(type, 3, acc[a] + b, &o, xp + c * TB + b, 1); break;
            case 2: qi_terms(type, 2, acc[a] + b, &o, xp + c * TB + b, 1); break;
            case 1: qi_terms(type, 1, acc[a] + b, &o, xp + c * TB + b, 1); break;
            default: break;
            }
        }
    }
    for (int a = 0; a < RB; a++)
        for (int b = 0; b < TB; b++)
            y[(t + b) * ldy + r + a * S] = hsum16(acc[a][b]);
}

QI_INLINE void qi_rows(int type, int RB, int TB, float *y, int64_t ldy, const uint8_t *w, size_t rb,
                       const struct qi_x *xp, int64_t n_ch, int64_t n_in, int64_t r, int64_t S,
                       int64_t t) {
    switch (TB) {
    case 4: qi_block(type, RB, 4, y, ldy, w, rb, xp, n_ch, n_in, r, S, t); break;
    case 3: qi_block(type, RB, 3, y, ldy, w, rb, xp, n_ch, n_in, r, S, t); break;
    case 2: qi_block(type, RB, 2, y, ldy, w, rb, xp, n_ch, n_in, r, S, t); break;
    default: qi_block(type, RB, 1, y, ldy, w, rb, xp, n_ch, n_in, r, S, t); break;
    }
}

QI_INLINE void qi_generic(int type, kern_matmul_q8_fn ref, float *y, int64_t ldy, const void *w,
                          const struct block_q8_act *xq, int64_t n_in, int64_t n_tok, int64_t r0,
                          int64_t r1) {
    if (n_tok <= 0 || r1 <= r0) return;
    const int64_t nb32 = n_in / 32, n_ch = (nb32 + 7) / 8;
    if (n_ch > QI_SCRATCH) { // rows too long for the stack scratch: the reference
        ref(y, ldy, w, xq, n_in, n_tok, r0, r1);
        return;
    }
    struct qi_x xp[QI_SCRATCH];
    const int64_t tb_cap = QI_SCRATCH / n_ch < QI_WIDE_TB ? QI_SCRATCH / n_ch : QI_WIDE_TB;
    const size_t rb = kern_row_bytes(type, n_in);
    const int off = type_off(type);
    const struct mm_order o = mm_order_streams(r0, r1, 4);
    // Token blocks of at most tb_cap (up to QI_WIDE_TB), sizes balanced (17 tokens: 9 + 8).
    const int64_t n_blk = (n_tok + tb_cap - 1) / tb_cap;
    for (int64_t k = 0, t = 0; k < n_blk; k++) {
        const int64_t tb = (n_tok - t) / (n_blk - k) + ((n_tok - t) % (n_blk - k) != 0);
        for (int64_t b = 0; b < tb; b++)
            for (int64_t c = 0; c < n_ch; c++) {
                const int nblk = nb32 - 8 * c >= 8 ? 8 : (int)(nb32 - 8 * c);
                prep_chunk(&xp[c * tb + b], xq + (t + b) * nb32 + 8 * c, nblk, off);
            }
        for (int64_t j = 0; j < o.n_blocks; j++) {
            if (tb > QI_MAX_TB)
                qi_block_wide(type, 4, (int)tb, y, ldy, w, rb, xp, n_ch, n_in, r0 + j, o.stride, t);
            else
                qi_rows(type, 4, (int)tb, y, ldy, w, rb, xp, n_ch, n_in, r0 + j, o.stride, t);
        }
        for (int64_t r = o.rest; r < r1; r++) {
            if (tb > QI_MAX_TB)
                qi_block_wide(type, 1, (int)tb, y, ldy, w, rb, xp, n_ch, n_in, r, 0, t);
            else
                qi_rows(type, 1, (int)tb, y, ldy, w, rb, xp, n_ch, n_in, r, 0, t);
        }
        t += tb;
    }
}

#define QI_FN(name, type, ref)                                                                     \
    static void name(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,          \
                     int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {                        \
        qi_generic(type, ref, y, ldy, w, xq, n_in, n_tok, r0, r1);                                 \
    }
QI_FN(qi_q8_0, KERN_W_Q8_0, qdot_ref_q8_0)
QI_FN(qi_q4_0, KERN_W_Q4_0, qdot_ref_q4_0)
QI_FN(qi_q4_1, KERN_W_Q4_1, qdot_ref_q4_1)
QI_FN(qi_q5_0, KERN_W_Q5_0, qdot_ref_q5_0)
QI_FN(qi_q5_1, KERN_W_Q5_1, qdot_ref_q5_1)
QI_FN(qi_q2_K, KERN_W_Q2_K, qdot_ref_q2_K)
QI_FN(qi_q3_K, KERN_W_Q3_K, qdot_ref_q3_K)
QI_FN(qi_q4_K, KERN_W_Q4_K, qdot_ref_q4_K)
QI_FN(qi_q5_K, KERN_W_Q5_K, qdot_ref_q5_K)
QI_FN(qi_q6_K, KERN_W_Q6_K, qdot_ref_q6_K)
QI_FN(qi_iq4_nl, KERN_W_IQ4_NL, qdot_ref_iq4_nl)
QI_FN(qi_iq4_xs, KERN_W_IQ4_XS, qdot_ref_iq4_xs)

static const kern_matmul_q8_fn qi_table[KERN_W_COUNT] = {
    [KERN_W_Q8_0] = qi_q8_0, [KERN_W_Q4_0] = qi_q4_0,     [KERN_W_Q4_1] = qi_q4_1,
    [KERN_W_Q5_0] = qi_q5_0, [KERN_W_Q5_1] = qi_q5_1,     [KERN_W_Q2_K] = qi_q2_K,
    [KERN_W_Q3_K] = qi_q3_K, [KERN_W_Q4_K] = qi_q4_K,     [KERN_W_Q5_K] = qi_q5_K,
    [KERN_W_Q6_K] = qi_q6_K, [KERN_W_IQ4_NL] = qi_iq4_nl, [KERN_W_IQ4_XS] = qi_iq4_xs,
};

const kern_matmul_q8_fn *qdot_avx512_matmul_q8(void) { return qi_table; }

#endif // JANUS_NO_AVX2 || JANUS_NO_AVX512
