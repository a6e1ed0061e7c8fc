// AVX-512 (F/BW/VL) matrix products for F32/F16/BF16/Q8_0 weights. dispatch.c builds the
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

static const kern_matmul_fn k512_matmul[KERN_W_COUNT] = {
    [KERN_W_F32] = k512_matmul_f32,
    [KERN_W_F16] = k512_matmul_f16,
    [KERN_W_BF16] = k512_matmul_bf16,
    [KERN_W_Q8_0] = k512_matmul_q8_0,
};

const kern_matmul_fn *kern_avx512_matmul(void) { return k512_matmul; }

#endif // JANUS_NO_AVX2 || JANUS_NO_AVX512
