// AVX-512 (F/BW/VL) matrix products for F32/F16/BF16/Q8_0 weights and the exact path of the
// block-quantized types (issue 13 item 1: Q4_0 ... IQ4_XS, qdecode_simd.h). dispatch.c builds the
// "avx512" table from these and the AVX2 vector ops (not where decode spends its time); this
// file is compiled with -mavx512*, so nothing in it runs before dispatch has checked cpuid.
// Same contract as avx2.c: F32 activations and accumulation; each y[t][r] is one fixed chain
// of 16-lane FMAs over the row plus a fixed horizontal sum, so it depends only on (r, t) —
// not on [r0, r1), the token count or the thread count. Blocks of 4 rows x up to 6 tokens
// (32 zmm registers) let one pass over the weights serve all of an expert's tokens at small
// batch (SPEC §1); the 4 rows are a quarter range apart: 4 long sequential streams.
// SPDX-License-Identifier: MIT
#include "kernels/kernels.h"

#include <stddef.h>

#if defined(JANUS_NO_AVX2) || defined(JANUS_NO_AVX512)
const kern_matmul_fn *kern_avx512_matmul(void) { return NULL; }
#else

#include <immintrin.h>

#include "kernels/mm_order.h"
#include "kernels/types.h"

// 16 decoded weights q·dl − ml (qdecode_simd.h's decoders; this file uses them only through
// qd_run_*, its own decoders are below): int8 → F32 is exact, and so is q·dl.
struct qd_emit {
    float *dst;
};
static inline __attribute__((always_inline)) void qd_put16(const struct qd_emit *e, int off,
                                                           __m128i q, float dl, float ml) {
    _mm512_storeu_ps(e->dst + off, _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)),
                                                   _mm512_set1_ps(dl), _mm512_set1_ps(ml)));
}
#include "kernels/qdecode_simd.h"

#define K512_INLINE      static inline __attribute__((always_inline))
// Software prefetch in each of the 4 row streams, two levels: into L1 512 B ahead and into
// L2 2 KiB ahead. The L2 requests keep more lines in flight while the core computes; at 4
// tokens per expert (batch 16) they raised decode from 78-80 % to 83-87 % of the (one-level)
// read figure (docs/PERFORMANCE.md, "How the kernels get there").
#define K512_PREFETCH    512
#define K512_PREFETCH_L2 2048
// Most tokens per register block (4 x 6 accumulators + 4 weight vectors + 1 activation).
#define K512_MAX_TB      6

// 16 consecutive F32/F16/BF16 weights of a row (at element i), widened to F32; lanes outside
// `m` are zero and not read. (Q8_0 has its own block loop: q8_half.)
K512_INLINE __m512 load_w16(int type, const char *row, int64_t i, __mmask16 m) {
    switch (type) {
    case KERN_W_F32: return _mm512_maskz_loadu_ps(m, (const float *)row + i);
    case KERN_W_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i));
    default: // KERN_W_BF16
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i)), 16));
    }
}

// Values [16h, 16h + 16) of a Q8_0 block times its scale d: q·d is exact in F32 (8 x 11 bits).
K512_INLINE __m512 q8_half(const struct block_q8_0 *b, int h, __m512 d) {
    const __m128i q = _mm_loadu_si128((const __m128i *)(b->qs + 16 * h));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d);
}

// Bytes of an F32/F16/BF16 row up to element i (for the prefetch address).
K512_INLINE int64_t row_offset(int type, int64_t i) { return type == KERN_W_F32 ? i * 4 : i * 2; }

// Horizontal sum of one accumulator with a fixed tree: a[i] = v[i] + v[i+8], b[i] = a[i] +
// a[i+4], c[i] = b[i] + b[i+2], c[0] + c[1]. hsum_n() reduces 16 accumulators at once with
// the same tree (float addition is commutative), so the bits do not depend on the path.
K512_INLINE float hsum16(__m512 v) {
    const __m256 a =
        _mm256_add_ps(_mm512_castps512_ps256(v),
                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}

// The 16 sums of v[0..15] in one vector, lane 4j + m holding the sum of v[j + 4m]: the
// steps of hsum16 on all 16 at once (shuffles move whole partial sums, adds pair the
// same lanes as hsum16 does).
K512_INLINE __m512 hsum_x16(const __m512 *v) {
    __m512 s[8], t[4], u[2];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) // lanes i < 8 of v[2k] | of v[2k+1]: v[i] + v[i+8]
        s[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xee));
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) // 128-bit block j: accumulator 4k + j, a[i] + a[i+4]
        t[k] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * k], s[2 * k + 1], 0x88),
                             _mm512_shuffle_f32x4(s[2 * k], s[2 * k + 1], 0xdd));
#pragma GCC unroll 2
    for (int k = 0; k < 2; k++) { // block j: (b[0]+b[2], b[1]+b[3]) of 8k + j, of 8k + 4 + j
        const __m512d a = _mm512_castps_pd(t[2 * k]), b = _mm512_castps_pd(t[2 * k + 1]);
        u[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    return _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], 0x88), _mm512_shuffle_ps(u[0], u[1], 0xdd));
}

// out[j] = hsum16(v[j]) for j < n (n <= 4 · K512_MAX_TB), 16 at a time when that is cheaper.
K512_INLINE void hsum_n(float *out, const __m512 *v, int n) {
#pragma GCC unroll 2
    for (int g = 0; g < n; g += 16) {
        const int m = n - g < 16 ? n - g : 16;
        if (m < 6) {
#pragma GCC unroll 6
            for (int j = 0; j < m; j++)
                out[g + j] = hsum16(v[g + j]);
            continue;
        }
        __m512 w[16];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            w[j] = j < m ? v[g + j] : _mm512_setzero_ps();
        float r[16];
        _mm512_storeu_ps(r, hsum_x16(w));
#pragma GCC unroll 16
        for (int j = 0; j < m; j++)
            out[g + j] = r[(j % 4) * 4 + j / 4];
    }
}

// acc[a][b] += (16 weights of row a at element i) · (x_b at i), lanes outside m zero.
K512_INLINE void fma16(int type, int RB, int TB, __m512 (*acc)[K512_MAX_TB],
                       const char *const *rows, const float *const *xs, int64_t i, __mmask16 m) {
    __m512 wv[4];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
        wv[a] = load_w16(type, rows[a], i, m);
#pragma GCC unroll 6
    for (int b = 0; b < TB; b++) {
        const __m512 xv =
            m == 0xffff ? _mm512_loadu_ps(xs[b] + i) : _mm512_maskz_loadu_ps(m, xs[b] + i);
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++)
            acc[a][b] = _mm512_fmadd_ps(wv[a], xv, acc[a][b]);
    }
}

// RB rows (r, r+S, r+2S, r+3S) x TB tokens (t..t+TB): RB·TB independent FMA chains.
K512_INLINE void mm_block(int type, int RB, int TB, float *y, int64_t ldy, const char *w, size_t rb,
                          const float *x, int64_t n_in, int64_t r, int64_t S, int64_t t) {
    __m512 acc[4][K512_MAX_TB];
    const char *rows[4];
    const float *xs[K512_MAX_TB];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
        rows[a] = w + (size_t)(r + a * S) * rb;
#pragma GCC unroll 6
    for (int b = 0; b < TB; b++)
        xs[b] = x + (t + b) * n_in;
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            acc[a][b] = _mm512_setzero_ps();
    const int64_t n16 = n_in & ~(int64_t)15;
    if (type == KERN_W_Q8_0) { // a block of 32 per pass: the scale is widened once
        for (int64_t i = 0; i < n16; i += 32) {
            __m512 lo[4], hi[4];
#pragma GCC unroll 4
            for (int a = 0; a < RB; a++) {
                const struct block_q8_0 *blk = (const struct block_q8_0 *)rows[a] + i / 32;
                _mm_prefetch((const char *)blk + K512_PREFETCH, _MM_HINT_T0);
                _mm_prefetch((const char *)blk + K512_PREFETCH_L2, _MM_HINT_T1);
                const __m512 d = _mm512_set1_ps(_cvtsh_ss(blk->d));
                lo[a] = q8_half(blk, 0, d);
                hi[a] = q8_half(blk, 1, d);
            }
#pragma GCC unroll 6
            for (int b = 0; b < TB; b++) {
                const __m512 xl = _mm512_loadu_ps(xs[b] + i), xh = _mm512_loadu_ps(xs[b] + i + 16);
#pragma GCC unroll 4
                for (int a = 0; a < RB; a++)
                    acc[a][b] = _mm512_fmadd_ps(hi[a], xh, _mm512_fmadd_ps(lo[a], xl, acc[a][b]));
            }
        }
    }
    // 64 bytes of each row per pass (32 values of F16/BF16, 16 of F32): one prefetch pair per
    // row per pass, no per-chunk test.
    const int64_t per = type == KERN_W_F32 ? 16 : 32;
    const int64_t n_main = type == KERN_W_Q8_0 ? 0 : n16 / per * per;
    for (int64_t i0 = 0; i0 < n_main; i0 += per) {
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            _mm_prefetch(rows[a] + row_offset(type, i0) + K512_PREFETCH, _MM_HINT_T0);
            _mm_prefetch(rows[a] + row_offset(type, i0) + K512_PREFETCH_L2, _MM_HINT_T1);
        }
#pragma GCC unroll 2
        for (int64_t i = i0; i < i0 + per; i += 16)
            fma16(type, RB, TB, acc, rows, xs, i, (__mmask16)0xffff);
    }
    for (int64_t i = n_main; type != KERN_W_Q8_0 && i < n16; i += 16) // a last 16 of F16/BF16
        fma16(type, RB, TB, acc, rows, xs, i, (__mmask16)0xffff);
    if (n16 < n_in) // F32/F16/BF16 only (Q8_0 rows are whole blocks)
        fma16(type, RB, TB, acc, rows, xs, n16, (__mmask16)((1u << (n_in - n16)) - 1));
    __m512 v[4 * K512_MAX_TB];
    float sum[4 * K512_MAX_TB];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            v[a * TB + b] = acc[a][b];
    hsum_n(sum, v, RB * TB);
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            y[(t + b) * ldy + r + a * S] = sum[a * TB + b];
}

// All tokens for the RB rows r + a·S: token blocks of at most 6, sizes balanced
// (7 tokens run as 4 + 3, not 6 + 1) so that no pass is mostly overhead.
K512_INLINE void mm_rows(int type, int RB, float *y, int64_t ldy, const char *w, size_t rb,
                         const float *x, int64_t n_in, int64_t n_tok, int64_t r, int64_t S) {
    const int64_t n_blk = (n_tok + K512_MAX_TB - 1) / K512_MAX_TB;
    int64_t t = 0;
    for (int64_t k = 0; k < n_blk; k++) {
        const int64_t tb = (n_tok - t) / (n_blk - k) + ((n_tok - t) % (n_blk - k) != 0);
        switch (tb) {
        case 6: mm_block(type, RB, 6, y, ldy, w, rb, x, n_in, r, S, t); break;
        case 5: mm_block(type, RB, 5, y, ldy, w, rb, x, n_in, r, S, t); break;
        case 4: mm_block(type, RB, 4, y, ldy, w, rb, x, n_in, r, S, t); break;
        case 3: mm_block(type, RB, 3, y, ldy, w, rb, x, n_in, r, S, t); break;
        case 2: mm_block(type, RB, 2, y, ldy, w, rb, x, n_in, r, S, t); break;
        default: mm_block(type, RB, 1, y, ldy, w, rb, x, n_in, r, S, t); break;
        }
        t += tb;
    }
}

K512_INLINE void mm_generic(int type, float *y, int64_t ldy, const void *w, const float *x,
                            int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {
    if (n_tok <= 0 || r1 <= r0) return;
    const size_t rb = type == KERN_W_F32 ? (size_t)n_in * 4
                      : type == KERN_W_Q8_0
                          ? (size_t)(n_in / TYPES_Q8_0_BLOCK) * sizeof(struct block_q8_0)
                          : (size_t)n_in * 2;
    struct mm_order o = mm_order_streams(r0, r1, 4);
    for (int64_t j = 0; j < o.n_blocks; j++)
        mm_rows(type, 4, y, ldy, (const char *)w, rb, x, n_in, n_tok, r0 + j, o.stride);
    for (int64_t r = o.rest; r < r1; r++)
        mm_rows(type, 1, y, ldy, (const char *)w, rb, x, n_in, n_tok, r, 0);
}

static void k512_matmul_f32(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                            int64_t n_tok, int64_t r0, int64_t r1) {
    mm_generic(KERN_W_F32, y, ldy, w, x, n_in, n_tok, r0, r1);
}
static void k512_matmul_f16(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                            int64_t n_tok, int64_t r0, int64_t r1) {
    mm_generic(KERN_W_F16, y, ldy, w, x, n_in, n_tok, r0, r1);
}
static void k512_matmul_bf16(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                             int64_t n_tok, int64_t r0, int64_t r1) {
    mm_generic(KERN_W_BF16, y, ldy, w, x, n_in, n_tok, r0, r1);
}
static void k512_matmul_q8_0(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                             int64_t n_tok, int64_t r0, int64_t r1) {
    mm_generic(KERN_W_Q8_0, y, ldy, w, x, n_in, n_tok, r0, r1);
}

// ---- block-quantized types, exact path (issue 13 item 1)
// Faster AVX-512 decoders for the commonest types (the others use qdecode_simd.h's). 4-bit
// codes: a table of the 16 possible weights of a (sub-)block, T[q] = fmsub(q, dl, ml) —
// the same single rounding as qd_put16 — is built once and indexed with vpermps (which
// reads the low 4 bits of each 32-bit index, so the high nibble needs only a shift).
// Each decoder hands its 16-value vectors, in column order, to k512_out: stored to a chunk
// buffer, or (at most 3-4 tokens, q_fused) FMA'd at once into the accumulators of its row —
// the same FMA per 16 columns in the same order either way.

// Where a decoded vector goes: dst + off (acc NULL), or acc[a][b] += w · x_b[col + off].
struct k512_emit {
    float *dst;
    __m512 (*acc)[K512_MAX_TB];
    const float *const *xs;
    int a, TB;
    int64_t col;
};
K512_INLINE void k512_out(const struct k512_emit *e, int off, __m512 w) {
    if (!e->acc) {
        _mm512_storeu_ps(e->dst + off, w);
        return;
    }
#pragma GCC unroll 6
    for (int b = 0; b < e->TB; b++)
        e->acc[e->a][b] =
            _mm512_fmadd_ps(w, _mm512_loadu_ps(e->xs[b] + e->col + off), e->acc[e->a][b]);
}

K512_INLINE __m512 k512_iota(void) {
    return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
// The 16 bytes at p zero-extended to 32-bit lanes.
K512_INLINE __m512i k512_u8(const uint8_t *p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}
// T[q] for the 4-bit codes in bits [s, s + 4) of each lane of idx, to column off.
K512_INLINE void k512_lut16(const struct k512_emit *e, int off, __m512i idx, int s, __m512 T) {
    k512_out(e, off, _mm512_permutexvar_ps(s ? _mm512_srli_epi32(idx, s) : idx, T));
}

K512_INLINE void k512_blk_q4_0(const struct block_q4_0 *b, const struct k512_emit *e) {
    const __m512 c = _mm512_sub_ps(k512_iota(), _mm512_set1_ps(8.0f)); // q − 8
    const __m512 T = _mm512_mul_ps(c, _mm512_set1_ps(qd_f16(b->d)));
    const __m512i i0 = k512_u8(b->qs);
    k512_lut16(e, 0, i0, 0, T);
    k512_lut16(e, 16, i0, 4, T);
}

K512_INLINE void k512_blk_q4_1(const struct block_q4_1 *b, const struct k512_emit *e) {
    const __m512 T =
        _mm512_fmsub_ps(k512_iota(), _mm512_set1_ps(qd_f16(b->d)), _mm512_set1_ps(-qd_f16(b->m)));
    const __m512i i0 = k512_u8(b->qs);
    k512_lut16(e, 0, i0, 0, T);
    k512_lut16(e, 16, i0, 4, T);
}

K512_INLINE __m512 k512_iq4_values(void) {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)quant_iq4nl_values)));
}

K512_INLINE void k512_blk_iq4_nl(const struct block_iq4_nl *b, const struct k512_emit *e) {
    const __m512 T = _mm512_mul_ps(k512_iq4_values(), _mm512_set1_ps(qd_f16(b->d)));
    const __m512i i0 = k512_u8(b->qs);
    k512_lut16(e, 0, i0, 0, T);
    k512_lut16(e, 16, i0, 4, T);
}

K512_INLINE void k512_blk_iq4_xs(const struct block_iq4_xs *b, const struct k512_emit *e) {
    const __m512 kv = k512_iq4_values();
    const float d = qd_f16(b->d);
#pragma GCC unroll 8
    for (int ib = 0; ib < QK_K / 32; ib++) {
        const int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                       (((b->scales_h >> (2 * ib)) & 3) << 4);
        const __m512 T = _mm512_mul_ps(kv, _mm512_set1_ps(d * (float)(ls - 32)));
        const __m512i i0 = k512_u8(b->qs + 16 * ib);
        k512_lut16(e, 32 * ib, i0, 0, T);
        k512_lut16(e, 32 * ib + 16, i0, 4, T);
    }
}

// The 8 scales and 8 mins of a Q4_K/Q5_K block (get_scale_min_k4) times d and dmin: four
// 32-bit words hold sc[0..3], sc[4..7], m[0..3], m[4..7] (bytes), widened 8 at a time.
K512_INLINE void k512_k4_scales(float *dl, float *ml, const uint8_t *s, float d, float dmin) {
    uint32_t u[3];
    memcpy(u, s, 12);
    const uint32_t sc_lo = u[0] & 0x3f3f3f3f, m_lo = u[1] & 0x3f3f3f3f;
    const uint32_t sc_hi = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
    const __m128i v = _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)m_lo, (int)m_hi);
    _mm256_storeu_ps(dl,
                     _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)), _mm256_set1_ps(d)));
    _mm256_storeu_ps(ml,
                     _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8))),
                                   _mm256_set1_ps(dmin)));
}

K512_INLINE void k512_blk_q4_K(const struct block_q4_K *b, const struct k512_emit *e) {
    const __m512 iota = k512_iota();
    float dl[8], ml[8];
    k512_k4_scales(dl, ml, b->scales, qd_f16(b->d), qd_f16(b->dmin));
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        const __m512 T1 =
            _mm512_fmsub_ps(iota, _mm512_set1_ps(dl[2 * g]), _mm512_set1_ps(ml[2 * g]));
        const __m512 T2 =
            _mm512_fmsub_ps(iota, _mm512_set1_ps(dl[2 * g + 1]), _mm512_set1_ps(ml[2 * g + 1]));
        const __m512i i0 = k512_u8(b->qs + 32 * g), i1 = k512_u8(b->qs + 32 * g + 16);
        k512_lut16(e, 64 * g, i0, 0, T1);
        k512_lut16(e, 64 * g + 16, i1, 0, T1);
        k512_lut16(e, 64 * g + 32, i0, 4, T2);
        k512_lut16(e, 64 * g + 48, i1, 4, T2);
    }
}

// Q4_K for the RB rows of a fused pass: the groups of 64 values row by row inside each
// group (not block by block), so the RB accumulator chains advance together.
K512_INLINE void k512_blk_q4_K_rows(int RB, const char *const *blk, const struct k512_emit *e) {
    const __m512 iota = k512_iota();
    float dl[4][8], ml[4][8];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++) {
        const struct block_q4_K *b = (const struct block_q4_K *)blk[a];
        k512_k4_scales(dl[a], ml[a], b->scales, qd_f16(b->d), qd_f16(b->dmin));
    }
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++)
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            const struct block_q4_K *b = (const struct block_q4_K *)blk[a];
            const __m512 T1 =
                _mm512_fmsub_ps(iota, _mm512_set1_ps(dl[a][2 * g]), _mm512_set1_ps(ml[a][2 * g]));
            const __m512 T2 = _mm512_fmsub_ps(iota, _mm512_set1_ps(dl[a][2 * g + 1]),
                                              _mm512_set1_ps(ml[a][2 * g + 1]));
            const __m512i i0 = k512_u8(b->qs + 32 * g), i1 = k512_u8(b->qs + 32 * g + 16);
            k512_lut16(&e[a], 64 * g, i0, 0, T1);
            k512_lut16(&e[a], 64 * g + 16, i1, 0, T1);
            k512_lut16(&e[a], 64 * g + 32, i0, 4, T2);
            k512_lut16(&e[a], 64 * g + 48, i1, 4, T2);
        }
}

// Q6_K with 512-bit byte operations: a half block's 128 codes in two registers (values
// 0..63: low nibbles of ql[0..63] with qh bits 0-1 / 2-3; values 64..127: high nibbles with
// bits 4-5 / 6-7), staged as int8 and widened 16 at a time; d·sc·q is exact.
K512_INLINE void k512_stage_q6_K(const struct block_q6_K *b, int8_t *q, float *dl, float *ml) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i k32 = _mm512_set1_epi8(32);
    const __m512i sl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    _mm512_storeu_ps(dl, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                           _mm_loadu_si128((const __m128i *)b->scales))),
                                       _mm512_set1_ps(qd_f16(b->d))));
    _mm512_storeu_ps(ml, _mm512_setzero_ps());
#pragma GCC unroll 2
    for (int n = 0; n < 2; n++) {
        const __m512i a = _mm512_loadu_si512((const void *)(b->ql + 64 * n));
        const __m512i h =
            _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * n)));
        const __m512i lo = _mm512_or_si512(_mm512_and_si512(a, m4),
                                           _mm512_and_si512(_mm512_sllv_epi16(h, sl), m30));
        const __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(a, 4), m4),
                                           _mm512_and_si512(_mm512_srlv_epi16(h, sr), m30));
        _mm512_store_si512((void *)(q + 128 * n), _mm512_sub_epi8(lo, k32));
        _mm512_store_si512((void *)(q + 128 * n + 64), _mm512_sub_epi8(hi, k32));
    }
}

// Q2_K: a 16-entry table with period 4 per group of 16 (T[q] = dl·(q & 3) − ml), indexed by
// the byte shifted right by 2j (bits above the code only select another copy).
K512_INLINE void k512_blk_q2_K(const struct block_q2_K *b, const struct k512_emit *e) {
    const __m512 iota3 = _mm512_setr_ps(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    float dl[16], ml[16];
    const __m512i sc = k512_u8(b->scales);
    _mm512_storeu_ps(dl,
                     _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(0xF))),
                                   _mm512_set1_ps(qd_f16(b->d))));
    _mm512_storeu_ps(ml, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4)),
                                       _mm512_set1_ps(qd_f16(b->dmin))));
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const __m512i i[2] = {k512_u8(b->qs + 32 * h), k512_u8(b->qs + 32 * h + 16)};
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
#pragma GCC unroll 2
            for (int s = 0; s < 2; s++) {
                const int g = 8 * h + 2 * j + s;
                const __m512 T =
                    _mm512_fmsub_ps(iota3, _mm512_set1_ps(dl[g]), _mm512_set1_ps(ml[g]));
                k512_lut16(e, 16 * g, i[s], 2 * j, T);
            }
    }
}

// Q5_0 / Q5_1: two tables (codes 0..15, 16..31); lanes whose fifth bit (a mask bit of qh)
// is set take the second one (merge-masked vpermps).
K512_INLINE void k512_q5_32(const struct k512_emit *e, const uint8_t *qs, const uint8_t *qhp,
                            __m512 T0, __m512 T1) {
    uint32_t qh;
    memcpy(&qh, qhp, 4);
    const __m512i i0 = k512_u8(qs), i1 = _mm512_srli_epi32(i0, 4);
    k512_out(e, 0,
             _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(i0, T0), (__mmask16)(qh & 0xFFFF), i0,
                                        T1));
    k512_out(
        e, 16,
        _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(i1, T0), (__mmask16)(qh >> 16), i1, T1));
}
K512_INLINE void k512_blk_q5_0(const struct block_q5_0 *b, const struct k512_emit *e) {
    const __m512 d = _mm512_set1_ps(qd_f16(b->d)), iota = k512_iota();
    k512_q5_32(e, b->qs, b->qh, _mm512_mul_ps(_mm512_sub_ps(iota, _mm512_set1_ps(16.0f)), d),
               _mm512_mul_ps(iota, d));
}
K512_INLINE void k512_blk_q5_1(const struct block_q5_1 *b, const struct k512_emit *e) {
    const __m512 d = _mm512_set1_ps(qd_f16(b->d)), m = _mm512_set1_ps(-qd_f16(b->m));
    const __m512 iota = k512_iota();
    k512_q5_32(e, b->qs, b->qh, _mm512_fmsub_ps(iota, d, m),
               _mm512_fmsub_ps(_mm512_add_ps(iota, _mm512_set1_ps(16.0f)), d, m));
}

// Bit or 2-bit field moved per 256-bit half: ((v << l) >> r) & mask in 16-bit lanes, where
// l / r hold the (per-half) shift counts; a field never leaves its byte (see qd_field_to4).
K512_INLINE __m512i k512_move(__m512i v, int l0, int r0, int l1, int r1, int mask) {
    const __m512i L =
        _mm512_inserti64x4(_mm512_set1_epi16((short)l0), _mm256_set1_epi16((short)l1), 1);
    const __m512i R =
        _mm512_inserti64x4(_mm512_set1_epi16((short)r0), _mm256_set1_epi16((short)r1), 1);
    return _mm512_and_si512(_mm512_srlv_epi16(_mm512_sllv_epi16(v, L), R),
                            _mm512_set1_epi8((char)mask));
}
// Counts that move bit s to bit t: (l, r).
#define K512_LR(s, t) ((s) < (t) ? (t) - (s) : 0), ((s) > (t) ? (s) - (t) : 0)

// The 16 int8 codes q[16g..] times dl[g] minus ml[g] (q·dl exact; with ml = +0 the value
// q·dl, zero signs included) to column 16g of a staged block.
K512_INLINE void k512_emit16(const struct k512_emit *e, const int8_t *q, const float *dl,
                             const float *ml, int g) {
    k512_out(e, 16 * g,
             _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                 _mm_load_si128((const __m128i *)(q + 16 * g)))),
                             _mm512_set1_ps(dl[g]), _mm512_set1_ps(ml[g])));
}

// Q5_K: 64 bytes of qs (groups 2p, 2p + 1) with qh broadcast to both halves; the fifth bits
// 4p, 4p + 2 (low nibbles) and 4p + 1, 4p + 3 (high) moved to bit 4.
K512_INLINE void k512_stage_q5_K(const struct block_q5_K *b, int8_t *q, float *dl, float *ml) {
    float d8[8], m8[8];
    k512_k4_scales(d8, m8, b->scales, qd_f16(b->d), qd_f16(b->dmin));
    const __m512i two = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    _mm512_storeu_ps(dl, _mm512_permutexvar_ps(two, _mm512_castps256_ps512(_mm256_loadu_ps(d8))));
    _mm512_storeu_ps(ml, _mm512_permutexvar_ps(two, _mm512_castps256_ps512(_mm256_loadu_ps(m8))));
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->qh));
#pragma GCC unroll 2
    for (int p = 0; p < 2; p++) {
        const __m512i a = _mm512_loadu_si512((const void *)(b->qs + 64 * p));
        const __m512i lo = _mm512_or_si512(
            _mm512_and_si512(a, m4), k512_move(h, K512_LR(4 * p, 4), K512_LR(4 * p + 2, 4), 0x10));
        const __m512i hi =
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(a, 4), m4),
                            k512_move(h, K512_LR(4 * p + 1, 4), K512_LR(4 * p + 3, 4), 0x10));
        int8_t *o = q + 128 * p;
        _mm256_store_si256((__m256i *)o, _mm512_castsi512_si256(lo));
        _mm256_store_si256((__m256i *)(o + 32), _mm512_castsi512_si256(hi));
        _mm256_store_si256((__m256i *)(o + 64), _mm512_extracti64x4_epi64(lo, 1));
        _mm256_store_si256((__m256i *)(o + 96), _mm512_extracti64x4_epi64(hi, 1));
    }
}

// Q3_K: for shift 2j the 64 bytes of qs give values 32j.. (h = 0) and 128 + 32j.. (h = 1);
// the high bit j / 4 + j of hmask (broadcast) adds 4 to code − 4. Scales: ggml's kmask
// unpacking on 32-bit words, then sc − 32.
K512_INLINE void k512_stage_q3_K(const struct block_q3_K *b, int8_t *q, float *dl, float *ml) {
    uint32_t u[3];
    memcpy(u, b->scales, 12);
    const __m128i aux =
        _mm_setr_epi32((int)((u[0] & 0x0f0f0f0f) | ((u[2] & 0x03030303) << 4)),
                       (int)((u[1] & 0x0f0f0f0f) | (((u[2] >> 2) & 0x03030303) << 4)),
                       (int)(((u[0] >> 4) & 0x0f0f0f0f) | (((u[2] >> 4) & 0x03030303) << 4)),
                       (int)(((u[1] >> 4) & 0x0f0f0f0f) | (((u[2] >> 6) & 0x03030303) << 4)));
    _mm512_storeu_ps(ml, _mm512_setzero_ps());
    _mm512_storeu_ps(dl, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(
                                           _mm512_cvtepu8_epi32(aux), _mm512_set1_epi32(32))),
                                       _mm512_set1_ps(qd_f16(b->d))));
    const __m512i a = _mm512_loadu_si512((const void *)b->qs);
    const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->hmask));
    const __m512i k3 = _mm512_set1_epi8(3), k4 = _mm512_set1_epi8(4);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const __m512i lo = _mm512_and_si512(_mm512_srli_epi16(a, 2 * j), k3);
        const __m512i hb = k512_move(h, K512_LR(j, 2), K512_LR(4 + j, 2), 0x04);
        const __m512i v = _mm512_sub_epi8(_mm512_add_epi8(lo, hb), k4);
        _mm256_store_si256((__m256i *)(q + 32 * j), _mm512_castsi512_si256(v));
        _mm256_store_si256((__m256i *)(q + 128 + 32 * j), _mm512_extracti64x4_epi64(v, 1));
    }
}

// The staged types (Q6_K, Q5_K, Q3_K): int8 codes q[256] and dl, ml per 16 values.
K512_INLINE void k512_stage(int type, const char *blk, int8_t *q, float *dl, float *ml) {
    if (type == KERN_W_Q6_K)
        k512_stage_q6_K((const struct block_q6_K *)blk, q, dl, ml);
    else if (type == KERN_W_Q5_K)
        k512_stage_q5_K((const struct block_q5_K *)blk, q, dl, ml);
    else
        k512_stage_q3_K((const struct block_q3_K *)blk, q, dl, ml);
}
K512_INLINE int k512_staged(int type) {
    return type == KERN_W_Q6_K || type == KERN_W_Q5_K || type == KERN_W_Q3_K;
}

// One block of each of RB rows (blk[a], to e[a]), the 16-value groups row by row inside each
// group so that the RB accumulator chains advance together (staged types and Q4_K).
K512_INLINE void k512_blk_rows(int type, int RB, const char *const *blk,
                               const struct k512_emit *e) {
    if (type == KERN_W_Q4_K) {
        k512_blk_q4_K_rows(RB, blk, e);
        return;
    }
    if (type == KERN_W_IQ4_XS) {
        const __m512 kv = k512_iq4_values();
#pragma GCC unroll 8
        for (int ib = 0; ib < QK_K / 32; ib++)
#pragma GCC unroll 4
            for (int a = 0; a < RB; a++) {
                const struct block_iq4_xs *b = (const struct block_iq4_xs *)blk[a];
                const int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                               (((b->scales_h >> (2 * ib)) & 3) << 4);
                const __m512 T = _mm512_mul_ps(kv, _mm512_set1_ps(qd_f16(b->d) * (float)(ls - 32)));
                const __m512i i0 = k512_u8(b->qs + 16 * ib);
                k512_lut16(&e[a], 32 * ib, i0, 0, T);
                k512_lut16(&e[a], 32 * ib + 16, i0, 4, T);
            }
        return;
    }
    int8_t q[4][QK_K] __attribute__((aligned(64)));
    float dl[4][16], ml[4][16];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
        k512_stage(type, blk[a], q[a], dl[a], ml[a]);
#pragma GCC unroll 16
    for (int g = 0; g < 16; g++)
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++)
            k512_emit16(&e[a], q[a], dl[a], ml[a], g);
}

// One block of a type with a k512_blk_ decoder (k512_has_blk(type)).
K512_INLINE int k512_has_blk(int type) { return type >= KERN_W_Q4_0 && type <= KERN_W_IQ4_XS; }
K512_INLINE void k512_blk(int type, const char *blk, const struct k512_emit *e) {
    if (k512_staged(type)) {
        k512_blk_rows(type, 1, &blk, e);
        return;
    }
    switch (type) {
    case KERN_W_Q4_0: k512_blk_q4_0((const struct block_q4_0 *)blk, e); break;
    case KERN_W_Q4_1: k512_blk_q4_1((const struct block_q4_1 *)blk, e); break;
    case KERN_W_IQ4_NL: k512_blk_iq4_nl((const struct block_iq4_nl *)blk, e); break;
    case KERN_W_IQ4_XS: k512_blk_iq4_xs((const struct block_iq4_xs *)blk, e); break;
    case KERN_W_Q4_K: k512_blk_q4_K((const struct block_q4_K *)blk, e); break;
    case KERN_W_Q5_0: k512_blk_q5_0((const struct block_q5_0 *)blk, e); break;
    case KERN_W_Q5_1: k512_blk_q5_1((const struct block_q5_1 *)blk, e); break;
    default: k512_blk_q2_K((const struct block_q2_K *)blk, e); break;
    }
}

#define K512_RUN(NAME, TYPE, BLOCK, ELEMS)                                                         \
    static void k512_run_##NAME(float *dst, const char *row, int64_t k0, int64_t nb) {             \
        for (int64_t k = 0; k < nb; k++) {                                                         \
            const struct k512_emit e = {.dst = dst + k * (ELEMS)};                                 \
            k512_blk(TYPE, row + (size_t)(k0 + k) * sizeof(struct BLOCK), &e);                     \
        }                                                                                          \
    }
K512_RUN(q4_0, KERN_W_Q4_0, block_q4_0, QK4_0)
K512_RUN(q4_1, KERN_W_Q4_1, block_q4_1, QK4_0)
K512_RUN(iq4_nl, KERN_W_IQ4_NL, block_iq4_nl, QK4_0)
K512_RUN(iq4_xs, KERN_W_IQ4_XS, block_iq4_xs, QK_K)
K512_RUN(q4_K, KERN_W_Q4_K, block_q4_K, QK_K)
K512_RUN(q6_K, KERN_W_Q6_K, block_q6_K, QK_K)
K512_RUN(q2_K, KERN_W_Q2_K, block_q2_K, QK_K)
K512_RUN(q5_0, KERN_W_Q5_0, block_q5_0, QK4_0)
K512_RUN(q5_1, KERN_W_Q5_1, block_q5_1, QK4_0)
K512_RUN(q5_K, KERN_W_Q5_K, block_q5_K, QK_K)
K512_RUN(q3_K, KERN_W_Q3_K, block_q3_K, QK_K)
#undef K512_RUN

// The decoder of each block type on this table.
static const struct qd_type k512_qtypes[KERN_W_COUNT] = {
    [KERN_W_Q4_0] = {k512_run_q4_0, QK4_0, sizeof(struct block_q4_0)},
    [KERN_W_Q4_1] = {k512_run_q4_1, QK4_0, sizeof(struct block_q4_1)},
    [KERN_W_Q5_0] = {k512_run_q5_0, QK4_0, sizeof(struct block_q5_0)},
    [KERN_W_Q5_1] = {k512_run_q5_1, QK4_0, sizeof(struct block_q5_1)},
    [KERN_W_Q2_K] = {k512_run_q2_K, QK_K, sizeof(struct block_q2_K)},
    [KERN_W_Q3_K] = {k512_run_q3_K, QK_K, sizeof(struct block_q3_K)},
    [KERN_W_Q4_K] = {k512_run_q4_K, QK_K, sizeof(struct block_q4_K)},
    [KERN_W_Q5_K] = {k512_run_q5_K, QK_K, sizeof(struct block_q5_K)},
    [KERN_W_Q6_K] = {k512_run_q6_K, QK_K, sizeof(struct block_q6_K)},
    [KERN_W_IQ4_NL] = {k512_run_iq4_nl, QK4_0, sizeof(struct block_iq4_nl)},
    [KERN_W_IQ4_XS] = {k512_run_iq4_xs, QK_K, sizeof(struct block_iq4_xs)},
};

// A chunk of K512_QCH columns of the 4 (or 1) rows is decoded to F32 (qdecode_simd.h: the
// values quant_dequantize_row gives) into an L1 buffer, then every token block of up to 6
// tokens runs its FMAs over the chunk; the accumulators of a group of up to K512_QTG tokens
// live in a stack buffer between chunks. The chain of each y[t][r] is the F32 path's (one
// 16-lane FMA per 16 columns, in column order, then hsum16's tree), whatever the chunking,
// the token grouping or the row blocking: its value depends only on (r, t).
#define K512_QCH 512 // columns decoded per pass (a multiple of 256)
#define K512_QTG 24  // tokens whose accumulators are kept per pass over the weights

// acc (RB x TB, stored at accbuf[a * K512_QTG + b]) over the columns [c0, c0 + len) of the
// decoded rows wbuf (RB x K512_QCH); first: start from zero; last: write y instead.
K512_INLINE void q_fma(int RB, int TB, __m512 *accbuf, const float *wbuf, const float *const *xs,
                       int64_t c0, int64_t len, int first, int last, float *y, int64_t ldy,
                       int64_t r, int64_t S, int64_t t) {
    __m512 acc[4][K512_MAX_TB];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            acc[a][b] = first ? _mm512_setzero_ps() : accbuf[a * K512_QTG + b];
    for (int64_t i = 0; i < len; i += 16) {
        __m512 wv[4];
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++)
            wv[a] = _mm512_load_ps(wbuf + a * K512_QCH + i);
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++) {
            const __m512 xv = _mm512_loadu_ps(xs[b] + c0 + i);
#pragma GCC unroll 4
            for (int a = 0; a < RB; a++)
                acc[a][b] = _mm512_fmadd_ps(wv[a], xv, acc[a][b]);
        }
    }
    if (!last) {
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
            for (int b = 0; b < TB; b++)
                accbuf[a * K512_QTG + b] = acc[a][b];
        return;
    }
    __m512 v[4 * K512_MAX_TB];
    float sum[4 * K512_MAX_TB];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            v[a * TB + b] = acc[a][b];
    hsum_n(sum, v, RB * TB);
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            y[(t + b) * ldy + r + a * S] = sum[a * TB + b];
}

#define Q_FMA_CASE(RB, TB)                                                                         \
    case TB:                                                                                       \
        q_fma(RB, TB, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);                    \
        break
static void q_fma_4(int TB, __m512 *accbuf, const float *wbuf, const float *const *xs, int64_t c0,
                    int64_t len, int first, int last, float *y, int64_t ldy, int64_t r, int64_t S,
                    int64_t t) {
    switch (TB) {
        Q_FMA_CASE(4, 6);
        Q_FMA_CASE(4, 5);
        Q_FMA_CASE(4, 4);
        Q_FMA_CASE(4, 3);
        Q_FMA_CASE(4, 2);
    default: q_fma(4, 1, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t); break;
    }
}
static void q_fma_1(int TB, __m512 *accbuf, const float *wbuf, const float *const *xs, int64_t c0,
                    int64_t len, int first, int last, float *y, int64_t ldy, int64_t r, int64_t S,
                    int64_t t) {
    switch (TB) {
        Q_FMA_CASE(1, 6);
        Q_FMA_CASE(1, 5);
        Q_FMA_CASE(1, 4);
        Q_FMA_CASE(1, 3);
        Q_FMA_CASE(1, 2);
    default: q_fma(1, 1, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t); break;
    }
}
#undef Q_FMA_CASE

// All tokens for the RB rows r + a·S of a block-quantized type.
static void q_rows(const struct qd_type *qt, int RB, float *y, int64_t ldy, const char *w,
                   size_t rb, const float *x, int64_t n_in, int64_t n_tok, int64_t r, int64_t S) {
    float wbuf[4 * K512_QCH] __attribute__((aligned(64)));
    __m512 accbuf[4 * K512_QTG];
    const char *rows[4];
    for (int a = 0; a < RB; a++)
        rows[a] = w + (size_t)(r + a * S) * rb;
    for (int64_t t0 = 0; t0 < n_tok; t0 += K512_QTG) {
        const int64_t ng = n_tok - t0 < K512_QTG ? n_tok - t0 : K512_QTG;
        const int64_t n_blk = (ng + K512_MAX_TB - 1) / K512_MAX_TB;
        for (int64_t c0 = 0; c0 < n_in; c0 += K512_QCH) {
            const int64_t len = n_in - c0 < K512_QCH ? n_in - c0 : K512_QCH;
            const int64_t k0 = c0 / qt->elems, nb = len / qt->elems;
            const size_t b0 = (size_t)k0 * qt->bytes, b1 = (size_t)(k0 + nb) * qt->bytes;
            for (int a = 0; a < RB; a++) {
                for (size_t o = b0; o < b1; o += 64) {
                    _mm_prefetch(rows[a] + o + K512_PREFETCH, _MM_HINT_T0);
                    _mm_prefetch(rows[a] + o + K512_PREFETCH_L2, _MM_HINT_T1);
                }
                qt->run(wbuf + a * K512_QCH, rows[a], k0, nb);
            }
            const int first = c0 == 0, last = c0 + len >= n_in;
            int64_t t = t0;
            for (int64_t k = 0; k < n_blk; k++) { // balanced blocks of <= 6 tokens
                const int64_t left = t0 + ng - t;
                const int tb = (int)(left / (n_blk - k) + (left % (n_blk - k) != 0));
                const float *xs[K512_MAX_TB];
                for (int b = 0; b < tb; b++)
                    xs[b] = x + (t + b) * n_in;
                __m512 *ab = accbuf + (t - t0);
                if (RB == 4)
                    q_fma_4(tb, ab, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);
                else
                    q_fma_1(tb, ab, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);
                t += tb;
            }
        }
    }
}

// Most tokens of the fused path: beyond, its accumulators, tables and staged codes spill
// and the chunk buffer is faster (measured: batch 4 ties for Q4_K, loses for Q6_K).
#define K512_FUSED_TB(type) (k512_staged(type) ? 3 : 4)

// At most K512_FUSED_TB tokens: no chunk buffer; each block of the RB rows is decoded in registers
// and FMA'd at once (k512_out) into the RB x TB accumulators, then hsum_n — the same chain.
K512_INLINE void q_fused(int type, int RB, int TB, float *y, int64_t ldy, const char *w, size_t rb,
                         const float *x, int64_t n_in, int64_t r, int64_t S) {
    const struct qd_type *qt = &k512_qtypes[type];
    const int elems = qt->elems, bytes = qt->bytes, every = bytes >= 64 ? 1 : 4;
    __m512 acc[4][K512_MAX_TB];
    const char *rows[4];
    const float *xs[K512_MAX_TB];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
        rows[a] = w + (size_t)(r + a * S) * rb;
#pragma GCC unroll 6
    for (int b = 0; b < TB; b++)
        xs[b] = x + b * n_in;
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            acc[a][b] = _mm512_setzero_ps();
    const int64_t nb = n_in / elems;
    for (int64_t k = 0; k < nb; k++) {
        if (type == KERN_W_Q4_K || type == KERN_W_IQ4_XS || k512_staged(type)) {
            const char *blks[4];
            struct k512_emit es[4];
#pragma GCC unroll 4
            for (int a = 0; a < RB; a++) {
                blks[a] = rows[a] + (size_t)k * bytes;
                for (int o = 0; o < bytes; o += 64) {
                    _mm_prefetch(blks[a] + o + K512_PREFETCH, _MM_HINT_T0);
                    _mm_prefetch(blks[a] + o + K512_PREFETCH_L2, _MM_HINT_T1);
                }
                es[a] =
                    (struct k512_emit){.acc = acc, .xs = xs, .a = a, .TB = TB, .col = k * elems};
            }
            k512_blk_rows(type, RB, blks, es);
            continue;
        }
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            const char *blk = rows[a] + (size_t)k * bytes;
            if (k % every == 0)
                for (int o = 0; o < bytes * every; o += 64) {
                    _mm_prefetch(blk + o + K512_PREFETCH, _MM_HINT_T0);
                    _mm_prefetch(blk + o + K512_PREFETCH_L2, _MM_HINT_T1);
                }
            const struct k512_emit e = {.acc = acc, .xs = xs, .a = a, .TB = TB, .col = k * elems};
            k512_blk(type, blk, &e);
        }
    }
    __m512 v[4 * K512_MAX_TB];
    float sum[4 * K512_MAX_TB];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            v[a * TB + b] = acc[a][b];
    hsum_n(sum, v, RB * TB);
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 6
        for (int b = 0; b < TB; b++)
            y[b * ldy + r + a * S] = sum[a * TB + b];
}

K512_INLINE void q_fused_rows(int type, int RB, int TB, float *y, int64_t ldy, const char *w,
                              size_t rb, const float *x, int64_t n_in, int64_t r, int64_t S) {
    switch (TB) {
    case 4: q_fused(type, RB, 4, y, ldy, w, rb, x, n_in, r, S); break;
    case 3: q_fused(type, RB, 3, y, ldy, w, rb, x, n_in, r, S); break;
    case 2: q_fused(type, RB, 2, y, ldy, w, rb, x, n_in, r, S); break;
    default: q_fused(type, RB, 1, y, ldy, w, rb, x, n_in, r, S); break;
    }
}

K512_INLINE void q_generic(int type, float *y, int64_t ldy, const void *w, const float *x,
                           int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {
    if (n_tok <= 0 || r1 <= r0) return;
    const struct qd_type *qt = &k512_qtypes[type];
    const size_t rb = (size_t)(n_in / qt->elems) * (size_t)qt->bytes;
    const struct mm_order o = mm_order_streams(r0, r1, 4);
    if (k512_has_blk(type) && n_tok <= K512_FUSED_TB(type)) {
        for (int64_t j = 0; j < o.n_blocks; j++)
            q_fused_rows(type, 4, (int)n_tok, y, ldy, (const char *)w, rb, x, n_in, r0 + j,
                         o.stride);
        for (int64_t r = o.rest; r < r1; r++)
            q_fused_rows(type, 1, (int)n_tok, y, ldy, (const char *)w, rb, x, n_in, r, 0);
        return;
    }
    for (int64_t j = 0; j < o.n_blocks; j++)
        q_rows(qt, 4, y, ldy, (const char *)w, rb, x, n_in, n_tok, r0 + j, o.stride);
    for (int64_t r = o.rest; r < r1; r++)
        q_rows(qt, 1, y, ldy, (const char *)w, rb, x, n_in, n_tok, r, 0);
}

#define Q_MATMUL(NAME, TYPE)                                                                       \
    static void k512_matmul_##NAME(float *y, int64_t ldy, const void *w, const float *x,           \
                                   int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {          \
        q_generic(TYPE, y, ldy, w, x, n_in, n_tok, r0, r1);                                        \
    }
Q_MATMUL(q4_0, KERN_W_Q4_0)
Q_MATMUL(q4_1, KERN_W_Q4_1)
Q_MATMUL(q5_0, KERN_W_Q5_0)
Q_MATMUL(q5_1, KERN_W_Q5_1)
Q_MATMUL(q2_K, KERN_W_Q2_K)
Q_MATMUL(q3_K, KERN_W_Q3_K)
Q_MATMUL(q4_K, KERN_W_Q4_K)
Q_MATMUL(q5_K, KERN_W_Q5_K)
Q_MATMUL(q6_K, KERN_W_Q6_K)
Q_MATMUL(iq4_nl, KERN_W_IQ4_NL)
Q_MATMUL(iq4_xs, KERN_W_IQ4_XS)
#undef Q_MATMUL

static const kern_matmul_fn k512_matmul[KERN_W_COUNT] = {
    [KERN_W_F32] = k512_matmul_f32,       [KERN_W_F16] = k512_matmul_f16,
    [KERN_W_BF16] = k512_matmul_bf16,     [KERN_W_Q8_0] = k512_matmul_q8_0,
    [KERN_W_Q4_0] = k512_matmul_q4_0,     [KERN_W_Q4_1] = k512_matmul_q4_1,
    [KERN_W_Q5_0] = k512_matmul_q5_0,     [KERN_W_Q5_1] = k512_matmul_q5_1,
    [KERN_W_Q2_K] = k512_matmul_q2_K,     [KERN_W_Q3_K] = k512_matmul_q3_K,
    [KERN_W_Q4_K] = k512_matmul_q4_K,     [KERN_W_Q5_K] = k512_matmul_q5_K,
    [KERN_W_Q6_K] = k512_matmul_q6_K,     [KERN_W_IQ4_NL] = k512_matmul_iq4_nl,
    [KERN_W_IQ4_XS] = k512_matmul_iq4_xs,
};

const kern_matmul_fn *kern_avx512_matmul(void) { return k512_matmul; }

#endif // JANUS_NO_AVX2 || JANUS_NO_AVX512
