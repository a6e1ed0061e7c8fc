// AVX2/FMA/F16C kernel table (kernels.h), tested against the scalar reference (ref.c) by
// tests/kernels/test_kernels.c. Activations and accumulation are F32 for every weight type
// (F16/BF16/Q8_0 weights are widened to F32 in registers), so results stay within the
// golden 1e-3 tolerance; F16/Q8_0 KV caches are widened exactly in registers too. Matmul
// register-blocks 4 rows x 3 tokens: each weight row is streamed from memory once per call whatever
// n_tok (SPEC §1: an expert costs one read of its weights per step); the 4 rows are 4 long streams
// (mm_order.h). Every output y[t][r] is one fixed chain of 8-lane FMAs over the row followed by a
// fixed horizontal sum, so its value depends only on row r and token t — not on [r0, r1), the
// blocking, n_tok or the thread count. Pure: no allocation, no I/O. SPDX-License-Identifier: MIT
#include "kernels/kernels.h"

#include <stddef.h>

#ifdef JANUS_NO_AVX2
const struct kern_ops *kern_avx2(void) { return NULL; }
#else

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/mm_order.h"
#include "kernels/types.h"

// Where qdecode_simd.h's decoders put 16 decoded weights q·dl − ml (int8 → F32 and q·dl are
// exact), as two 8-lane halves: stored at dst + off (acc NULL), or FMA'd at once into
// acc[a][b] for the TB tokens (the fused path, q_fused) — the same two FMAs, in column
// order, as the chunk buffer's loop.
struct qd_emit {
    float *dst;
    __m256 (*acc)[3];
    const float *const *xs;
    int a, TB;
    int64_t col;
};
static inline __attribute__((always_inline)) void qd_put16(const struct qd_emit *e, int off,
                                                           __m128i q, float dl, float ml) {
    const __m256 d = _mm256_set1_ps(dl), m = _mm256_set1_ps(ml);
    const __m256 w0 = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d, m);
    const __m256 w1 =
        _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), d, m);
    if (!e->acc) {
        _mm256_storeu_ps(e->dst + off, w0);
        _mm256_storeu_ps(e->dst + off + 8, w1);
        return;
    }
    for (int b = 0; b < e->TB; b++) {
        const float *xb = e->xs[b] + e->col + off;
        e->acc[e->a][b] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb), e->acc[e->a][b]);
        e->acc[e->a][b] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + 8), e->acc[e->a][b]);
    }
}
#include "kernels/qdecode_simd.h"

#define AVX2_INLINE         static inline __attribute__((always_inline))
// Software prefetch distance (bytes ahead in each weight row). With 4 rows streamed at once
// the hardware prefetcher alone left 20-40 % of the bandwidth unused here (docs/PERFORMANCE.md).
// Prefetching past a row's end is harmless (a hint; the next rows follow in memory).
#define AVX2_PREFETCH       512
// and a second level into L2 further ahead (as avx512.c; docs/PERFORMANCE.md, "Prefetch").
#define AVX2_PREFETCH_L2    2048
#define JANUS_MIN_I64(a, b) ((a) < (b) ? (a) : (b))
#define JANUS_MAX_I64(a, b) ((a) > (b) ? (a) : (b))

// ---- helpers

AVX2_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

// The 8 horizontal sums of v[0..7] in one vector (lane t = sum of v[t]), each with hsum8's
// tree: (i, i+4), then (i, i+2), then (0, 1) — shuffles move whole partial sums.
AVX2_INLINE __m256 hsum8_x8(const __m256 *v) {
    __m256 u[4], x[2];
    // u[k], 128-bit lane 0: v[2k] lanes i + (i+4); lane 1: the same of v[2k+1].
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        u[k] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * k], v[2 * k + 1], 0x20),
                             _mm256_permute2f128_ps(v[2 * k], v[2 * k + 1], 0x31));
        // x[k], lane 0: pairs (0,2), (1,3) of v[4k] and v[4k+2]; lane 1: of v[4k+1], v[4k+3].
#pragma GCC unroll 2
    for (int k = 0; k < 2; k++)
        x[k] = _mm256_add_ps(_mm256_shuffle_ps(u[2 * k], u[2 * k + 1], 0x44),
                             _mm256_shuffle_ps(u[2 * k], u[2 * k + 1], 0xee));
    // lane 0: v0, v2, v4, v6; lane 1: v1, v3, v5, v7
    const __m256 r =
        _mm256_add_ps(_mm256_shuffle_ps(x[0], x[1], 0x88), _mm256_shuffle_ps(x[0], x[1], 0xdd));
    return _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Lanes [0, n) set (n in 0..8), for masked loads of row tails.
AVX2_INLINE __m256i tail_mask(int64_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
}

// exp(x) for 8 lanes: Cody-Waite range reduction and the Cephes degree-6 polynomial
// (max relative error ~2 ulp). Below -87.34 (where exp underflows to subnormals) returns 0;
// in (88.38, 88.72] saturates at exp(88.38) = 2.4e38; above ln(FLT_MAX) = 88.72 returns
// +inf like expf; NaN stays NaN.
AVX2_INLINE __m256 exp8(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365478515625f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 r2 = _mm256_mul_ps(r, r);
    p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY),
                         _mm256_cmp_ps(x, _mm256_set1_ps(88.72283935546875f), _CMP_GT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// ---- matmul: weight chunk loaders (8 consecutive weights of a row, widened to F32)

AVX2_INLINE __m256 load_w8(int type, const void *row, int64_t i) {
    switch (type) {
    case KERN_W_F32: return _mm256_loadu_ps((const float *)row + i);
    case KERN_W_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i)));
    default: // KERN_W_BF16 (Q8_0 has its own block loop)
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i))),
            16));
    }
}

// The last n_in % 8 weights of a row, zero-padded (F32/F16/BF16 only; Q8_0 has none).
AVX2_INLINE __m256 load_w_tail(int type, const void *row, int64_t i, int64_t rem) {
    if (type == KERN_W_F32) return _mm256_maskload_ps((const float *)row + i, tail_mask(rem));
    float t[8] = {0};
    const uint16_t *h = (const uint16_t *)row + i;
    for (int64_t j = 0; j < rem; j++)
        t[j] = type == KERN_W_F16 ? _cvtsh_ss(h[j]) : bf16_to_fp32(h[j]);
    return _mm256_loadu_ps(t);
}

AVX2_INLINE size_t row_bytes(int type, int64_t n_in) {
    switch (type) {
    case KERN_W_F32: return (size_t)n_in * 4;
    case KERN_W_F16:
    case KERN_W_BF16: return (size_t)n_in * 2;
    default: return (size_t)(n_in / TYPES_Q8_0_BLOCK) * sizeof(struct block_q8_0);
    }
}

// One block of RB rows (r..r+RB) x TB tokens (t..t+TB): RB*TB independent FMA chains,
// each acc = fma(w[i:i+8], x[i:i+8], acc) for i = 0, 8, 16, ... (F32/F16/BF16).
AVX2_INLINE void mm_block(int type, int RB, int TB, float *y, int64_t ldy, const char *w, size_t rb,
                          const float *x, int64_t n_in, int64_t r, int64_t S, int64_t t) {
    __m256 acc[4][3];
    const char *rows[4];
    const float *xs[3];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
        rows[a] = w + (size_t)(r + a * S) * rb;
#pragma GCC unroll 3
    for (int b = 0; b < TB; b++)
        xs[b] = x + (t + b) * n_in;
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            acc[a][b] = _mm256_setzero_ps();
    const int64_t n8 = n_in & ~(int64_t)7;
    for (int64_t i = 0; i < n8; i += 8) {
        __m256 xv[3];
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            xv[b] = _mm256_loadu_ps(xs[b] + i);
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            if ((i & 15) == 0) {
                const char *at = rows[a] + i * (type == KERN_W_F32 ? 4 : 2);
                _mm_prefetch(at + AVX2_PREFETCH, _MM_HINT_T0);
                _mm_prefetch(at + AVX2_PREFETCH_L2, _MM_HINT_T1);
            }
            __m256 wv = load_w8(type, rows[a], i);
#pragma GCC unroll 3
            for (int b = 0; b < TB; b++)
                acc[a][b] = _mm256_fmadd_ps(wv, xv[b], acc[a][b]);
        }
    }
    if (n8 < n_in) {
        const int64_t rem = n_in - n8;
        __m256 xv[3];
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            xv[b] = _mm256_maskload_ps(xs[b] + n8, tail_mask(rem));
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            __m256 wv = load_w_tail(type, rows[a], n8, rem);
#pragma GCC unroll 3
            for (int b = 0; b < TB; b++)
                acc[a][b] = _mm256_fmadd_ps(wv, xv[b], acc[a][b]);
        }
    }
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            y[(t + b) * ldy + r + a * S] = hsum8(acc[a][b]);
}

// Q8_0, like the reference, sums each 32-value block unscaled and then applies the block
// scale: bs = Σ_j q[j]·x[j] (four 8-lane chunks), acc = fma(d, bs, acc). This costs 5 FMA
// per block per (row, token) instead of 4 multiplies + 4 FMA, and the (bs, acc) register
// pairs limit the block to RB·TB <= 6.
AVX2_INLINE void mm_block_q8(int RB, int TB, float *y, int64_t ldy, const char *w, size_t rb,
                             const float *x, int64_t n_in, int64_t r, int64_t S, int64_t t) {
    __m256 acc[4][3];
    const struct block_q8_0 *rows[4];
    const float *xs[3];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
        rows[a] = (const struct block_q8_0 *)(w + (size_t)(r + a * S) * rb);
#pragma GCC unroll 3
    for (int b = 0; b < TB; b++)
        xs[b] = x + (t + b) * n_in;
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            acc[a][b] = _mm256_setzero_ps();
    const int64_t nb = n_in / TYPES_Q8_0_BLOCK;
    for (int64_t k = 0; k < nb; k++) {
        __m256 bs[4][3];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
#pragma GCC unroll 4
            for (int a = 0; a < RB; a++) {
                if (j == 0) {
                    _mm_prefetch((const char *)&rows[a][k] + AVX2_PREFETCH, _MM_HINT_T0);
                    _mm_prefetch((const char *)&rows[a][k] + AVX2_PREFETCH_L2, _MM_HINT_T1);
                }
                __m128i q = _mm_loadl_epi64((const __m128i *)(rows[a][k].qs + 8 * j));
                __m256 qf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
#pragma GCC unroll 3
                for (int b = 0; b < TB; b++) {
                    __m256 xv = _mm256_loadu_ps(xs[b] + k * TYPES_Q8_0_BLOCK + 8 * j);
                    bs[a][b] = j == 0 ? _mm256_mul_ps(qf, xv) : _mm256_fmadd_ps(qf, xv, bs[a][b]);
                }
            }
        }
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            __m256 d = _mm256_set1_ps(_cvtsh_ss(rows[a][k].d));
#pragma GCC unroll 3
            for (int b = 0; b < TB; b++)
                acc[a][b] = _mm256_fmadd_ps(d, bs[a][b], acc[a][b]);
        }
    }
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            y[(t + b) * ldy + r + a * S] = hsum8(acc[a][b]);
}

AVX2_INLINE void mm_any(int type, int RB, int TB, float *y, int64_t ldy, const char *w, size_t rb,
                        const float *x, int64_t n_in, int64_t r, int64_t S, int64_t t) {
    if (type == KERN_W_Q8_0)
        mm_block_q8(RB, TB, y, ldy, w, rb, x, n_in, r, S, t);
    else
        mm_block(type, RB, TB, y, ldy, w, rb, x, n_in, r, S, t);
}

// All tokens for the RB rows r + a·S: token blocks of 3, then the 1-2 left over.
AVX2_INLINE void mm_rows(int type, int RB, float *y, int64_t ldy, const char *w, size_t rb,
                         const float *x, int64_t n_in, int64_t n_tok, int64_t r, int64_t S) {
    int64_t t = 0;
    for (; t + 3 <= n_tok; t += 3)
        mm_any(type, RB, 3, y, ldy, w, rb, x, n_in, r, S, t);
    if (n_tok - t == 2)
        mm_any(type, RB, 2, y, ldy, w, rb, x, n_in, r, S, t);
    else if (n_tok - t == 1)
        mm_any(type, RB, 1, y, ldy, w, rb, x, n_in, r, S, t);
}

// Blocks of 4 rows read as 4 streams (2 for Q8_0 with several tokens, see mm_block_q8; row
// order: mm_order.h), then the left-over rows one at a time.
AVX2_INLINE void mm_generic(int type, float *y, int64_t ldy, const void *w, const float *x,
                            int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {
    const size_t rb = row_bytes(type, n_in);
    const char *wc = (const char *)w;
    const int RB = type == KERN_W_Q8_0 && n_tok > 1 ? 2 : 4;
    const struct mm_order o = mm_order_streams(r0, r1, RB);
    for (int64_t j = 0; j < o.n_blocks; j++) {
        if (RB == 2)
            mm_rows(type, 2, y, ldy, wc, rb, x, n_in, n_tok, r0 + j, o.stride);
        else
            mm_rows(type, 4, y, ldy, wc, rb, x, n_in, n_tok, r0 + j, o.stride);
    }
    for (int64_t r = o.rest; r < r1; r++)
        mm_rows(type, 1, y, ldy, wc, rb, x, n_in, n_tok, r, 0);
}

static void avx2_matmul_f32(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                            int64_t n_tok, int64_t r0, int64_t r1) {
    mm_generic(KERN_W_F32, y, ldy, w, x, n_in, n_tok, r0, r1);
}
static void avx2_matmul_f16(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                            int64_t n_tok, int64_t r0, int64_t r1) {
    mm_generic(KERN_W_F16, y, ldy, w, x, n_in, n_tok, r0, r1);
}
static void avx2_matmul_bf16(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                             int64_t n_tok, int64_t r0, int64_t r1) {
    mm_generic(KERN_W_BF16, y, ldy, w, x, n_in, n_tok, r0, r1);
}
static void avx2_matmul_q8_0(float *y, int64_t ldy, const void *w, const float *x, int64_t n_in,
                             int64_t n_tok, int64_t r0, int64_t r1) {
    mm_generic(KERN_W_Q8_0, y, ldy, w, x, n_in, n_tok, r0, r1);
}

// ---- block-quantized types, exact path (issue 13 item 1)
// As avx512.c: a chunk of AVX2_QCH columns of the 4 (or 1) rows is decoded to F32 (the
// values quant_dequantize_row gives, qdecode_simd.h) into an L1 buffer, then each block of
// up to 3 tokens runs its FMAs over it; the accumulators of up to AVX2_QTG tokens wait in a
// stack buffer between chunks. Each y[t][r] is the F32 path's chain (one 8-lane FMA per 8
// columns in column order, then hsum8), whatever the chunking, grouping or row blocking.
#define AVX2_QCH 512 // columns decoded per pass (a multiple of 256)
#define AVX2_QTG 12  // tokens whose accumulators are kept per pass over the weights

AVX2_INLINE void q_fma(int RB, int TB, __m256 *accbuf, const float *wbuf, const float *const *xs,
                       int64_t c0, int64_t len, int first, int last, float *y, int64_t ldy,
                       int64_t r, int64_t S, int64_t t) {
    __m256 acc[4][3];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            acc[a][b] = first ? _mm256_setzero_ps() : accbuf[a * AVX2_QTG + b];
    for (int64_t i = 0; i < len; i += 8) {
        __m256 xv[3];
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            xv[b] = _mm256_loadu_ps(xs[b] + c0 + i);
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            const __m256 wv = _mm256_load_ps(wbuf + a * AVX2_QCH + i);
#pragma GCC unroll 3
            for (int b = 0; b < TB; b++)
                acc[a][b] = _mm256_fmadd_ps(wv, xv[b], acc[a][b]);
        }
    }
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++) {
            if (last)
                y[(t + b) * ldy + r + a * S] = hsum8(acc[a][b]);
            else
                accbuf[a * AVX2_QTG + b] = acc[a][b];
        }
}

static void q_fma_any(int RB, int TB, __m256 *accbuf, const float *wbuf, const float *const *xs,
                      int64_t c0, int64_t len, int first, int last, float *y, int64_t ldy,
                      int64_t r, int64_t S, int64_t t) {
    if (RB == 4) {
        if (TB == 3)
            q_fma(4, 3, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);
        else if (TB == 2)
            q_fma(4, 2, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);
        else
            q_fma(4, 1, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);
    } else {
        if (TB == 3)
            q_fma(1, 3, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);
        else if (TB == 2)
            q_fma(1, 2, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);
        else
            q_fma(1, 1, accbuf, wbuf, xs, c0, len, first, last, y, ldy, r, S, t);
    }
}

// All tokens for the RB rows r + a·S of a block-quantized type.
static void q_rows(const struct qd_type *qt, int RB, float *y, int64_t ldy, const char *w,
                   size_t rb, const float *x, int64_t n_in, int64_t n_tok, int64_t r, int64_t S) {
    float wbuf[4 * AVX2_QCH] __attribute__((aligned(32)));
    __m256 accbuf[4 * AVX2_QTG];
    const char *rows[4];
    for (int a = 0; a < RB; a++)
        rows[a] = w + (size_t)(r + a * S) * rb;
    for (int64_t t0 = 0; t0 < n_tok; t0 += AVX2_QTG) {
        const int64_t ng = JANUS_MIN_I64(n_tok - t0, AVX2_QTG);
        for (int64_t c0 = 0; c0 < n_in; c0 += AVX2_QCH) {
            const int64_t len = JANUS_MIN_I64(n_in - c0, AVX2_QCH);
            const int64_t k0 = c0 / qt->elems, nb = len / qt->elems;
            const size_t b0 = (size_t)k0 * qt->bytes, b1 = (size_t)(k0 + nb) * qt->bytes;
            for (int a = 0; a < RB; a++) {
                for (size_t o = b0; o < b1; o += 64) {
                    _mm_prefetch(rows[a] + o + AVX2_PREFETCH, _MM_HINT_T0);
                    _mm_prefetch(rows[a] + o + AVX2_PREFETCH_L2, _MM_HINT_T1);
                }
                qt->run(wbuf + a * AVX2_QCH, rows[a], k0, nb);
            }
            const int first = c0 == 0, last = c0 + len >= n_in;
            for (int64_t t = t0; t < t0 + ng; t += 3) { // blocks of 3, then the 1-2 left
                const int tb = (int)JANUS_MIN_I64(3, t0 + ng - t);
                const float *xs[3];
                for (int b = 0; b < tb; b++)
                    xs[b] = x + (t + b) * n_in;
                q_fma_any(RB, tb, accbuf + (t - t0), wbuf, xs, c0, len, first, last, y, ldy, r, S,
                          t);
            }
        }
    }
}

// One block of a block type to e (qdecode_simd.h's decoder).
AVX2_INLINE void q_blk(int type, const char *blk, const struct qd_emit *e) {
    switch (type) {
    case KERN_W_Q4_0: qd_q4_0(e, (const struct block_q4_0 *)blk); break;
    case KERN_W_Q4_1: qd_q4_1(e, (const struct block_q4_1 *)blk); break;
    case KERN_W_Q5_0: qd_q5_0(e, (const struct block_q5_0 *)blk); break;
    case KERN_W_Q5_1: qd_q5_1(e, (const struct block_q5_1 *)blk); break;
    case KERN_W_Q2_K: qd_q2_K(e, (const struct block_q2_K *)blk); break;
    case KERN_W_Q3_K: qd_q3_K(e, (const struct block_q3_K *)blk); break;
    case KERN_W_Q4_K: qd_q4_K(e, (const struct block_q4_K *)blk); break;
    case KERN_W_Q5_K: qd_q5_K(e, (const struct block_q5_K *)blk); break;
    case KERN_W_Q6_K: qd_q6_K(e, (const struct block_q6_K *)blk); break;
    case KERN_W_IQ4_NL: qd_iq4_nl(e, (const struct block_iq4_nl *)blk); break;
    default: qd_iq4_xs(e, (const struct block_iq4_xs *)blk); break;
    }
}

// Most tokens of the fused path (16 ymm registers: beyond, the chunk buffer is faster).
#define AVX2_FUSED_TB 2

// At most AVX2_FUSED_TB tokens: each block of the RB rows decoded in registers and FMA'd at
// once (qd_put16) into the RB x TB accumulators, then hsum8 — the chunk buffer's chain.
AVX2_INLINE void q_fused(int type, int RB, int TB, float *y, int64_t ldy, const char *w, size_t rb,
                         const float *x, int64_t n_in, int64_t r, int64_t S) {
    const struct qd_type *qt = &qd_types[type];
    const int elems = qt->elems, bytes = qt->bytes, every = bytes >= 64 ? 1 : 4;
    __m256 acc[4][3];
    const char *rows[4];
    const float *xs[3];
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
        rows[a] = w + (size_t)(r + a * S) * rb;
#pragma GCC unroll 3
    for (int b = 0; b < TB; b++)
        xs[b] = x + b * n_in;
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            acc[a][b] = _mm256_setzero_ps();
    const int64_t nb = n_in / elems;
    for (int64_t k = 0; k < nb; k++) {
#pragma GCC unroll 4
        for (int a = 0; a < RB; a++) {
            const char *blk = rows[a] + (size_t)k * bytes;
            if (k % every == 0)
                for (int o = 0; o < bytes * every; o += 64) {
                    _mm_prefetch(blk + o + AVX2_PREFETCH, _MM_HINT_T0);
                    _mm_prefetch(blk + o + AVX2_PREFETCH_L2, _MM_HINT_T1);
                }
            const struct qd_emit e = {.acc = acc, .xs = xs, .a = a, .TB = TB, .col = k * elems};
            q_blk(type, blk, &e);
        }
    }
#pragma GCC unroll 4
    for (int a = 0; a < RB; a++)
#pragma GCC unroll 3
        for (int b = 0; b < TB; b++)
            y[b * ldy + r + a * S] = hsum8(acc[a][b]);
}

AVX2_INLINE void q_generic(int type, float *y, int64_t ldy, const void *w, const float *x,
                           int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {
    if (n_tok <= 0 || r1 <= r0) return;
    const struct qd_type *qt = &qd_types[type];
    const size_t rb = (size_t)(n_in / qt->elems) * (size_t)qt->bytes;
    const struct mm_order o = mm_order_streams(r0, r1, 4);
    if (n_tok <= AVX2_FUSED_TB) {
        for (int64_t j = 0; j < o.n_blocks; j++) {
            if (n_tok == 2)
                q_fused(type, 4, 2, y, ldy, (const char *)w, rb, x, n_in, r0 + j, o.stride);
            else
                q_fused(type, 4, 1, y, ldy, (const char *)w, rb, x, n_in, r0 + j, o.stride);
        }
        for (int64_t r = o.rest; r < r1; r++) {
            if (n_tok == 2)
                q_fused(type, 1, 2, y, ldy, (const char *)w, rb, x, n_in, r, 0);
            else
                q_fused(type, 1, 1, y, ldy, (const char *)w, rb, x, n_in, r, 0);
        }
        return;
    }
    for (int64_t j = 0; j < o.n_blocks; j++)
        q_rows(qt, 4, y, ldy, (const char *)w, rb, x, n_in, n_tok, r0 + j, o.stride);
    for (int64_t r = o.rest; r < r1; r++)
        q_rows(qt, 1, y, ldy, (const char *)w, rb, x, n_in, n_tok, r, 0);
}

#define Q_MATMUL(NAME, TYPE)                                                                       \
    static void avx2_matmul_##NAME(float *y, int64_t ldy, const void *w, const float *x,           \
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

// ---- vector ops

static float avx2_dot(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    if (i + 8 <= n) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        i += 8;
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum8(_mm256_add_ps(s0, s1));
}

static void avx2_axpy(float *y, float a, const float *x, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

static void avx2_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    const float ss = avx2_dot(x, x, n);
    const float scale = 1.0f / sqrtf(ss / (float)n + eps);
    const __m256 sv = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv),
                                              _mm256_loadu_ps(w + i)));
    for (; i < n; i++)
        y[i] = x[i] * scale * w[i];
}

static void avx2_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    __m256 mv = _mm256_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float mx = _mm_cvtss_f32(m4);
    for (; i < n; i++)
        if (x[i] > mx) mx = x[i];
    const __m256 mxv = _mm256_set1_ps(mx);
    __m256 sv = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mxv));
        _mm256_storeu_ps(x + i, e);
        sv = _mm256_add_ps(sv, e);
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), mxv));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(x + i, m, e);
        sv = _mm256_add_ps(sv, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum8(sv));
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++)
        x[i] *= _mm256_cvtss_f32(inv);
}

AVX2_INLINE __m256 swiglu8(__m256 g, __m256 u) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), u);
}

static void avx2_swiglu(float *y, const float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, swiglu8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m,
                            swiglu8(_mm256_maskload_ps(g + i, m), _mm256_maskload_ps(u + i, m)));
    }
}

// ---- attention over a paged KV cache

// Lanes [i, i+8) of a stored KV vector (kernels.h), widened exactly to F32 (Q8_0: d·q, the
// product kern_kv_load gives). i % 8 == 0, so a Q8_0 chunk never straddles two blocks.
AVX2_INLINE __m256 kv_load8(int type, const void *row, int64_t i) {
    switch (type) {
    case KERN_KV_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i)));
    case KERN_KV_Q8_0: {
        const struct block_q8_0 *b = (const struct block_q8_0 *)row + i / TYPES_Q8_0_BLOCK;
        const __m256 qf = _mm256_cvtepi32_ps(
            _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b->qs + i % TYPES_Q8_0_BLOCK))));
        return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(b->d)), qf);
    }
    default: return _mm256_loadu_ps((const float *)row + i);
    }
}

// Lanes [i, i+n) (n in 0..8) of a stored vector, the rest zero; reads nothing past them
// (Q8_0: nothing past lane i's block, which holds 32 values).
AVX2_INLINE __m256 kv_load_n(int type, const void *row, int64_t i, int64_t n) {
    if (n >= 8) return kv_load8(type, row, i);
    if (n <= 0) return _mm256_setzero_ps();
    const __m256i m = tail_mask(n);
    if (type == KERN_KV_F32) return _mm256_maskload_ps((const float *)row + i, m);
    if (type == KERN_KV_Q8_0) return _mm256_and_ps(kv_load8(type, row, i), _mm256_castsi256_ps(m));
    float t[8] = {0};
    const uint16_t *h = (const uint16_t *)row + i;
    for (int64_t j = 0; j < n; j++)
        t[j] = _cvtsh_ss(h[j]);
    return _mm256_loadu_ps(t);
}

// Positions are visited page by page (no division per position: at ~50 positions per head
// the per-position page arithmetic cost as much as the arithmetic of the head). type is a
// constant in each instance below, so the loads compile to the type's instructions.
AVX2_INLINE void attn_generic(int type, float *out, float *scores, const float *q,
                              const struct kern_kv *kv, int64_t n_kv, int64_t d_k, int64_t d_v,
                              float scale) {
    const int64_t P = kv->page_size;
    const char *kbase = kv->k, *vbase = kv->v;
    // Scores 8 positions at a time: one FMA chain per position, then the 8 sums by one
    // transposed reduction (the tree of hsum8 in every lane). Past the end the last row is
    // repeated and its extra sums dropped, so a position's score never depends on n_kv.
    int64_t pg = 0, off = 0; // page index and offset in it of the next position
    for (int64_t j0 = 0; j0 < n_kv; j0 += 8) {
        const char *rows[8];
        for (int t = 0; t < 8; t++) {
            if (j0 + t < n_kv) {
                rows[t] = kbase + ((int64_t)kv->pages[pg] * P + off) * kv->k_row;
                if (++off == P) off = 0, pg++;
            } else {
                rows[t] = rows[t - 1];
            }
        }
        __m256 acc[8];
#pragma GCC unroll 8
        for (int t = 0; t < 8; t++)
            acc[t] = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 8 <= d_k; i += 8) {
            const __m256 qv = _mm256_loadu_ps(q + i);
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++)
                acc[t] = _mm256_fmadd_ps(qv, kv_load8(type, rows[t], i), acc[t]);
        }
        if (i < d_k) {
            const __m256i m = tail_mask(d_k - i);
            const __m256 qv = _mm256_maskload_ps(q + i, m);
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++)
                acc[t] = _mm256_fmadd_ps(qv, kv_load_n(type, rows[t], i, d_k - i), acc[t]);
        }
        const __m256 sum = _mm256_mul_ps(hsum8_x8(acc), _mm256_set1_ps(scale));
        if (j0 + 8 <= n_kv) {
            _mm256_storeu_ps(scores + j0, sum);
        } else {
            float tmp[8];
            _mm256_storeu_ps(tmp, sum);
            memcpy(scores + j0, tmp, (size_t)(n_kv - j0) * sizeof(float));
        }
    }
    avx2_softmax(scores, n_kv);
    // out in slices of 32 lanes held in 4 accumulators; each slice walks every position.
    // A slice starts at a multiple of 32 values: one Q8_0 block, kern_kv_bytes(type, c) in.
    for (int64_t c = 0; c < d_v; c += 32) {
        const int64_t w = JANUS_MIN_I64(32, d_v - c);
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                         _mm256_setzero_ps()};
        __m256i m[4];
        for (int u = 0; u < 4; u++)
            m[u] = tail_mask(JANUS_MAX_I64(0, JANUS_MIN_I64(8, w - 8 * u)));
        for (int64_t j0 = 0; j0 < n_kv; j0 += P) {
            const char *v =
                vbase + (int64_t)kv->pages[j0 / P] * P * kv->v_row + kern_kv_bytes(type, c);
            const int64_t j1 = JANUS_MIN_I64(j0 + P, n_kv);
            if (w == 32) {
                for (int64_t j = j0; j < j1; j++, v += kv->v_row) {
                    const __m256 p = _mm256_set1_ps(scores[j]);
                    for (int u = 0; u < 4; u++)
                        acc[u] = _mm256_fmadd_ps(p, kv_load8(type, v, 8 * u), acc[u]);
                }
            } else {
                for (int64_t j = j0; j < j1; j++, v += kv->v_row) {
                    const __m256 p = _mm256_set1_ps(scores[j]);
                    for (int u = 0; u < 4; u++)
                        acc[u] = _mm256_fmadd_ps(p, kv_load_n(type, v, 8 * u, w - 8 * u), acc[u]);
                }
            }
        }
        for (int u = 0; u < 4; u++)
            _mm256_maskstore_ps(out + c + 8 * u, m[u], acc[u]);
    }
}

static void avx2_attn(float *out, float *scores, const float *q, const struct kern_kv *kv,
                      int64_t n_kv, int64_t d_k, int64_t d_v, float scale) {
    switch (kv->type) {
    case KERN_KV_F16: attn_generic(KERN_KV_F16, out, scores, q, kv, n_kv, d_k, d_v, scale); break;
    case KERN_KV_Q8_0: attn_generic(KERN_KV_Q8_0, out, scores, q, kv, n_kv, d_k, d_v, scale); break;
    default: attn_generic(KERN_KV_F32, out, scores, q, kv, n_kv, d_k, d_v, scale); break;
    }
}

// ---- RoPE: the angles from a kern_rope_angles table, the rotations 8 lanes at a time

static void avx2_rope_apply(float *x, int64_t n_head, int64_t head_dim, int64_t n_rot,
                            const float *cs, const float *sn, int neox) {
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_head; h++) {
        float *xh = x + h * head_dim;
        int64_t i = 0;
        if (neox) {
            float *a = xh, *b = xh + half;
            for (; i + 8 <= half; i += 8) {
                __m256 av = _mm256_loadu_ps(a + i), bv = _mm256_loadu_ps(b + i);
                __m256 c = _mm256_loadu_ps(cs + i), s = _mm256_loadu_ps(sn + i);
                _mm256_storeu_ps(a + i, _mm256_fmsub_ps(av, c, _mm256_mul_ps(bv, s)));
                _mm256_storeu_ps(b + i, _mm256_fmadd_ps(av, s, _mm256_mul_ps(bv, c)));
            }
            for (; i < half; i++) {
                const float av = a[i], bv = b[i];
                a[i] = av * cs[i] - bv * sn[i];
                b[i] = av * sn[i] + bv * cs[i];
            }
        } else {
            for (; 2 * i + 8 <= n_rot; i += 4) { // 4 pairs = 8 lanes
                __m256 v = _mm256_loadu_ps(xh + 2 * i);
                __m256 sw = _mm256_permute_ps(v, 0xB1); // (b, a) per pair
                __m256 c = _mm256_loadu_ps(cs + 2 * i), s = _mm256_loadu_ps(sn + 2 * i);
                // even lanes a·c − b·s, odd lanes b·c + a·s
                _mm256_storeu_ps(xh + 2 * i, _mm256_fmaddsub_ps(v, c, _mm256_mul_ps(sw, s)));
            }
            for (; i < half; i++) {
                const float av = xh[2 * i], bv = xh[2 * i + 1];
                xh[2 * i] = av * cs[2 * i] - bv * sn[2 * i];
                xh[2 * i + 1] = av * sn[2 * i] + bv * cs[2 * i];
            }
        }
    }
}

static const struct kern_ops avx2_ops = {
    .name = "avx2",
    .matmul = {[KERN_W_F32] = avx2_matmul_f32,
               [KERN_W_F16] = avx2_matmul_f16,
               [KERN_W_BF16] = avx2_matmul_bf16,
               [KERN_W_Q8_0] = avx2_matmul_q8_0,
               [KERN_W_Q4_0] = avx2_matmul_q4_0,
               [KERN_W_Q4_1] = avx2_matmul_q4_1,
               [KERN_W_Q5_0] = avx2_matmul_q5_0,
               [KERN_W_Q5_1] = avx2_matmul_q5_1,
               [KERN_W_Q2_K] = avx2_matmul_q2_K,
               [KERN_W_Q3_K] = avx2_matmul_q3_K,
               [KERN_W_Q4_K] = avx2_matmul_q4_K,
               [KERN_W_Q5_K] = avx2_matmul_q5_K,
               [KERN_W_Q6_K] = avx2_matmul_q6_K,
               [KERN_W_IQ4_NL] = avx2_matmul_iq4_nl,
               [KERN_W_IQ4_XS] = avx2_matmul_iq4_xs},
    .rmsnorm = avx2_rmsnorm,
    .softmax = avx2_softmax,
    .swiglu = avx2_swiglu,
    .dot = avx2_dot,
    .axpy = avx2_axpy,
    .attn = avx2_attn,
    .rope_apply = avx2_rope_apply,
};

const struct kern_ops *kern_avx2(void) { return &avx2_ops; }

#endif // JANUS_NO_AVX2
