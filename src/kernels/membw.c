// Memory-bandwidth measurement (membw.h). The read loop uses 256-bit integer loads (no FP
// assists whatever the bytes) when the CPU has AVX2 (chosen at run time; the function is
// compiled with a target attribute), else 64-bit loads. Each thread touches (first-touch)
// and then streams only its own slice, the same static partition every repetition.
// SPDX-License-Identifier: MIT
#include "kernels/membw.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/status.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MEMBW_X86 1
#endif

// The read pattern that measured fastest here (docs/PERFORMANCE.md, "The read test"), so
// the read figure is the most we could stream: threads take 512 KiB chunks from a shared
// counter (neighbouring chunks in flight at once, like the engine's row chunks) and read
// each as 4 sub-streams with software prefetch into L1 512 B ahead and into L2 2 KiB
// ahead. Static halves of the buffer per thread or one prefetch level were 5-10 % slower;
// other chunk sizes, distances, 8 sub-streams or 512-bit loads were no faster.
#define MEMBW_PREFETCH    512
#define MEMBW_PREFETCH_L2 2048
#define MEMBW_CHUNK_WORDS 65536 // 512 KiB

enum membw_phase { MEMBW_INIT, MEMBW_READ, MEMBW_TRIAD };

struct membw_ctx {
    enum membw_phase phase;
    int use_avx2;
    uint64_t *buf; // read buffer, n_words 64-bit words
    int64_t n_words;
    double *a, *b, *c; // triad arrays of n_elem doubles
    int64_t n_elem;
    uint64_t sink[POOL_MAX_THREADS]; // per-thread read sums (keeps the loads alive)
    _Atomic int64_t next_chunk;      // read phase: next chunk to hand out
};

#ifdef MEMBW_X86
// Four interleaved sub-streams (the quarters of the chunk) with software prefetch: the
// access pattern of the matmul, which streams 4 weight rows at once. One sequential stream
// per core leaves bandwidth unused on this class of machine (docs/PERFORMANCE.md).
__attribute__((target("avx2"))) static uint64_t membw_read_avx2(const uint64_t *p, int64_t n) {
    const int64_t q = (n / 4) & ~(int64_t)15; // words per sub-stream, multiple of 16
    const uint64_t *s[4] = {p, p + q, p + 2 * q, p + 3 * q};
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < q; i += 8) {
        for (int j = 0; j < 4; j++) {
            _mm_prefetch((const char *)(s[j] + i) + MEMBW_PREFETCH, _MM_HINT_T0);
            _mm_prefetch((const char *)(s[j] + i) + MEMBW_PREFETCH_L2, _MM_HINT_T1);
        }
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(s[0] + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(s[1] + i)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(s[2] + i)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(s[3] + i)));
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(s[0] + i + 4)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(s[1] + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(s[2] + i + 4)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(s[3] + i + 4)));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, a0);
    uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (int64_t i = 4 * q; i < n; i++)
        sum += p[i];
    return sum;
}
#endif

static uint64_t membw_read_scalar(const uint64_t *p, int64_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    for (; i < n; i++)
        s0 += p[i];
    return s0 + s1 + s2 + s3;
}

static void membw_worker(void *vctx, int ith, int nth) {
    struct membw_ctx *c = vctx;
    int64_t lo, hi;
    switch (c->phase) {
    case MEMBW_INIT:
        // Slices in units of 64 words (512 B) keep every slice 32-byte aligned.
        pool_split(c->n_words / 64, ith, nth, &lo, &hi);
        if (ith == nth - 1) hi = c->n_words / 64 + 1;
        for (int64_t i = lo * 64; i < JANUS_MIN(hi * 64, c->n_words); i++)
            c->buf[i] = (uint64_t)i;
        pool_split(c->n_elem, ith, nth, &lo, &hi);
        for (int64_t i = lo; i < hi; i++) {
            c->a[i] = 0.0;
            c->b[i] = 1.0;
            c->c[i] = 2.0;
        }
        break;
    case MEMBW_READ:
        for (;;) {
            lo = atomic_fetch_add(&c->next_chunk, 1) * MEMBW_CHUNK_WORDS;
            if (lo >= c->n_words) break;
            hi = JANUS_MIN(lo + MEMBW_CHUNK_WORDS, c->n_words);
#ifdef MEMBW_X86
            if (c->use_avx2) {
                c->sink[ith] += membw_read_avx2(c->buf + lo, hi - lo);
                continue;
            }
#endif
            c->sink[ith] += membw_read_scalar(c->buf + lo, hi - lo);
        }
        break;
    case MEMBW_TRIAD: {
        pool_split(c->n_elem, ith, nth, &lo, &hi);
        double *restrict a = c->a;
        const double *restrict b = c->b, *restrict cc = c->c;
        const double s = 3.0;
        for (int64_t i = lo; i < hi; i++)
            a[i] = b[i] + s * cc[i];
        break;
    }
    }
}

double membw_median(double *v, int n) {
    JANUS_ASSERT(n >= 1);
    for (int i = 1; i < n; i++) // insertion sort: n is small
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double membw_min(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = JANUS_MIN(m, v[i]);
    return m;
}

static double membw_max(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = JANUS_MAX(m, v[i]);
    return m;
}

struct membw {
    struct pool *pool;
    struct membw_ctx c;
    void *raw[4]; // allocations behind c.buf, c.a, c.b, c.c
};

void membw_close(struct membw **bp) {
    if (!bp || !*bp) return;
    for (int i = 0; i < 4; i++)
        mem_free((*bp)->raw[i]);
    mem_free(*bp);
    *bp = NULL;
}

int membw_open(struct membw **out, struct pool *pool, size_t read_bytes) {
    *out = NULL;
    if (read_bytes < ((size_t)1 << 20)) return JANUS_EINVAL;
    struct membw *b = mem_calloc(MEM_TAG_MISC, 1, sizeof *b);
    if (!b) return JANUS_ENOMEM;
    struct membw_ctx *c = &b->c;
    b->pool = pool;
    c->n_words = (int64_t)(read_bytes / 8);
    c->n_elem = (int64_t)(read_bytes / 3 / 8);
    // 64-byte alignment: over-allocate and round up.
    b->raw[0] = mem_alloc(MEM_TAG_MISC, (size_t)c->n_words * 8 + 64);
    for (int i = 1; i < 4; i++)
        b->raw[i] = mem_alloc(MEM_TAG_MISC, (size_t)c->n_elem * 8 + 64);
    if (!b->raw[0] || !b->raw[1] || !b->raw[2] || !b->raw[3]) {
        membw_close(&b);
        return JANUS_ENOMEM;
    }
    c->buf = (uint64_t *)(((uintptr_t)b->raw[0] + 63) & ~(uintptr_t)63);
    c->a = (double *)(((uintptr_t)b->raw[1] + 63) & ~(uintptr_t)63);
    c->b = (double *)(((uintptr_t)b->raw[2] + 63) & ~(uintptr_t)63);
    c->c = (double *)(((uintptr_t)b->raw[3] + 63) & ~(uintptr_t)63);
#ifdef MEMBW_X86
    __builtin_cpu_init();
    c->use_avx2 = __builtin_cpu_supports("avx2");
#endif
    c->phase = MEMBW_INIT;
    pool_run(pool, membw_worker, c);
    c->phase = MEMBW_READ; // one untimed pass warms the TLB and the page tables
    atomic_store(&c->next_chunk, 0);
    pool_run(pool, membw_worker, c);
    *out = b;
    return JANUS_OK;
}

int membw_run(struct membw *b, int reps, struct membw_result *out) {
    if (!b || reps < 1 || reps > MEMBW_MAX_REPS) return JANUS_EINVAL;
    struct membw_ctx *c = &b->c;
    double rd[MEMBW_MAX_REPS], tr[MEMBW_MAX_REPS];
    for (int r = 0; r < reps; r++) {
        c->phase = MEMBW_READ;
        atomic_store(&c->next_chunk, 0);
        int64_t t0 = clock_now_ns();
        pool_run(b->pool, membw_worker, c);
        int64_t t1 = clock_now_ns();
        rd[r] = (double)c->n_words * 8.0 / (double)JANUS_MAX(t1 - t0, 1);
        c->phase = MEMBW_TRIAD;
        t0 = clock_now_ns();
        pool_run(b->pool, membw_worker, c);
        t1 = clock_now_ns();
        tr[r] = (double)c->n_elem * 24.0 / (double)JANUS_MAX(t1 - t0, 1);
    }
    // Fold the sums into a value the compiler cannot drop (it also checks the read ran).
    uint64_t sink = 0;
    for (int i = 0; i < POOL_MAX_THREADS; i++)
        sink += c->sink[i];
    JANUS_ASSERT(sink != 1); // never true for a buffer holding 0, 1, 2, ...
    memset(out, 0, sizeof *out);
    out->n_threads = pool_n_threads(b->pool);
    out->reps = reps;
    out->read_bytes = (size_t)c->n_words * 8;
    out->triad_bytes = (size_t)c->n_elem * 24;
    out->read_gb_s_min = membw_min(rd, reps);
    out->read_gb_s_max = membw_max(rd, reps);
    out->read_gb_s = membw_median(rd, reps);
    out->triad_gb_s_min = membw_min(tr, reps);
    out->triad_gb_s_max = membw_max(tr, reps);
    out->triad_gb_s = membw_median(tr, reps);
    return JANUS_OK;
}

int membw_measure(struct pool *pool, size_t read_bytes, int reps, struct membw_result *out) {
    if (reps < 1 || reps > MEMBW_MAX_REPS) return JANUS_EINVAL;
    struct membw *b;
    int rc = membw_open(&b, pool, read_bytes);
    if (rc == JANUS_OK) rc = membw_run(b, reps, out);
    membw_close(&b);
    return rc;
}
