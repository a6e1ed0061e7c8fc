// Memory-bandwidth measurement (membw.h). The read loop uses 256-bit integer loads (no FP
// assists whatever the bytes) when the CPU has AVX2 (chosen at run time; the function is
// compiled with a target attribute), else 64-bit loads. Each thread touches (first-touch)
// and then streams only its own slice, the same static partition every repetition.
// SPDX-License-Identifier: MIT
#include "kernels/membw.h"

#include <stdint.h>
#include <string.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/status.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MEMBW_X86 1
#endif

enum membw_phase { MEMBW_INIT, MEMBW_READ, MEMBW_TRIAD };

struct membw_ctx {
    enum membw_phase phase;
    int use_avx2;
    uint64_t *buf; // read buffer, n_words 64-bit words
    int64_t n_words;
    double *a, *b, *c; // triad arrays of n_elem doubles
    int64_t n_elem;
    uint64_t sink[POOL_MAX_THREADS]; // per-thread read sums (keeps the loads alive)
};

#ifdef MEMBW_X86
__attribute__((target("avx2"))) static uint64_t membw_read_avx2(const uint64_t *p, int64_t n) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(p + i)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(p + i + 4)));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(p + i + 8)));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(p + i + 12)));
    }
    s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, s0);
    uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < n; i++)
        s += p[i];
    return s;
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
        pool_split(c->n_words / 64, ith, nth, &lo, &hi);
        if (ith == nth - 1) hi = c->n_words / 64 + 1;
        hi = JANUS_MIN(hi * 64, c->n_words);
        lo *= 64;
#ifdef MEMBW_X86
        if (c->use_avx2) {
            c->sink[ith] += membw_read_avx2(c->buf + lo, hi - lo);
            break;
        }
#endif
        c->sink[ith] += membw_read_scalar(c->buf + lo, hi - lo);
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

int membw_measure(struct pool *pool, size_t read_bytes, int reps, struct membw_result *out) {
    if (read_bytes < ((size_t)1 << 20) || reps < 1 || reps > MEMBW_MAX_REPS) return JANUS_EINVAL;
    struct membw_ctx *c = mem_calloc(MEM_TAG_MISC, 1, sizeof *c);
    if (!c) return JANUS_ENOMEM;
    c->n_words = (int64_t)(read_bytes / 8);
    c->n_elem = (int64_t)(read_bytes / 3 / 8);
    // 64-byte alignment: over-allocate and round up.
    void *raw[4] = {
        mem_alloc(MEM_TAG_MISC, (size_t)c->n_words * 8 + 64),
        mem_alloc(MEM_TAG_MISC, (size_t)c->n_elem * 8 + 64),
        mem_alloc(MEM_TAG_MISC, (size_t)c->n_elem * 8 + 64),
        mem_alloc(MEM_TAG_MISC, (size_t)c->n_elem * 8 + 64),
    };
    int rc = JANUS_OK;
    if (!raw[0] || !raw[1] || !raw[2] || !raw[3]) {
        rc = JANUS_ENOMEM;
        goto done;
    }
    c->buf = (uint64_t *)(((uintptr_t)raw[0] + 63) & ~(uintptr_t)63);
    c->a = (double *)(((uintptr_t)raw[1] + 63) & ~(uintptr_t)63);
    c->b = (double *)(((uintptr_t)raw[2] + 63) & ~(uintptr_t)63);
    c->c = (double *)(((uintptr_t)raw[3] + 63) & ~(uintptr_t)63);
#ifdef MEMBW_X86
    __builtin_cpu_init();
    c->use_avx2 = __builtin_cpu_supports("avx2");
#endif
    c->phase = MEMBW_INIT;
    pool_run(pool, membw_worker, c);

    double rd[MEMBW_MAX_REPS], tr[MEMBW_MAX_REPS];
    c->phase = MEMBW_READ; // one untimed pass warms the TLB and the page tables
    pool_run(pool, membw_worker, c);
    for (int r = 0; r < reps; r++) {
        c->phase = MEMBW_READ;
        int64_t t0 = clock_now_ns();
        pool_run(pool, membw_worker, c);
        int64_t t1 = clock_now_ns();
        rd[r] = (double)c->n_words * 8.0 / (double)JANUS_MAX(t1 - t0, 1);
        c->phase = MEMBW_TRIAD;
        t0 = clock_now_ns();
        pool_run(pool, membw_worker, c);
        t1 = clock_now_ns();
        tr[r] = (double)c->n_elem * 24.0 / (double)JANUS_MAX(t1 - t0, 1);
    }
    // Fold the sums into a value the compiler cannot drop (it also checks the read ran).
    uint64_t sink = 0;
    for (int i = 0; i < POOL_MAX_THREADS; i++)
        sink += c->sink[i];
    JANUS_ASSERT(sink != 1); // never true for a buffer holding 0, 1, 2, ...
    memset(out, 0, sizeof *out);
    out->n_threads = pool_n_threads(pool);
    out->reps = reps;
    out->read_bytes = (size_t)c->n_words * 8;
    out->triad_bytes = (size_t)c->n_elem * 24;
    out->read_gb_s_min = membw_min(rd, reps);
    out->read_gb_s_max = membw_max(rd, reps);
    out->read_gb_s = membw_median(rd, reps);
    out->triad_gb_s_min = membw_min(tr, reps);
    out->triad_gb_s_max = membw_max(tr, reps);
    out->triad_gb_s = membw_median(tr, reps);
done:
    for (int i = 0; i < 4; i++)
        mem_free(raw[i]);
    mem_free(c);
    return rc;
}
