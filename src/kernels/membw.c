// Memory-bandwidth measurement (membw.h). The read loops use 256-bit integer loads (no FP
// assists whatever the bytes) when the CPU has AVX2 (chosen at run time; the functions are
// compiled with a target attribute), else 64-bit loads. The buffers are anonymous memory
// on 2 MiB huge pages where the kernel gives them (as the weights in --no-mmap mode), so the
// test is not slowed by TLB misses the decode does not have. The read figure of a pass is
// the best of several read patterns (issue 12: the decode once read 118 % of a single
// pattern, so one pattern is not a ceiling on every machine).
// SPDX-License-Identifier: MIT
#include "kernels/membw.h"

#include "kernels/kernels.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

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

#define MEMBW_HUGE ((size_t)2 << 20)

enum membw_phase { MEMBW_INIT, MEMBW_READ, MEMBW_TRIAD };

// The read patterns (membw.h MEMBW_N_PATTERNS): sub-streams per chunk, prefetch kind, and
// whether chunks come from the shared counter (else one static slice per thread).
struct membw_pattern {
    const char *name;
    int n_sub;   // interleaved sub-streams per chunk (1, 4 or 8)
    int hint;    // 0: none; 1: L1 512 B + L2 2 KiB ahead; 2: non-temporal (NTA) 1 KiB ahead
    int dynamic; // 1: 512 KiB chunks from a shared counter; 0: a static slice per thread
    int matvec;  // 1: each chunk is read by the decode's own kernel (below)
};
static const struct membw_pattern membw_patterns[MEMBW_N_PATTERNS] = {
    {"chunk4", 4, 1, 1, 0},     // the engine's access pattern: 4 weight rows at once
    {"chunk4-nta", 4, 2, 1, 0}, // same, non-temporal prefetch (no cache pollution)
    {"chunk8", 8, 1, 1, 0},     // more streams per core
    {"static1", 1, 0, 0, 0},    // one sequential stream per thread: the hardware prefetcher alone
    {"matvec", 0, 0, 1, 1},     // the best kernel table's F16 matrix-vector product, one token:
                                // the decode's own loads, prefetches and row order
};

// The matvec pattern reads a chunk as MEMBW_MV_ROWS F16 rows of MEMBW_MV_COLS values.
#define MEMBW_MV_COLS 4096
#define MEMBW_MV_ROWS (MEMBW_CHUNK_WORDS * 8 / (MEMBW_MV_COLS * 2))

struct membw_ctx {
    enum membw_phase phase;
    int pattern; // read phase: index into membw_patterns
    int use_avx2;
    uint64_t *buf; // read buffer, n_words 64-bit words
    int64_t n_words;
    double *a, *b, *c; // triad arrays of n_elem doubles
    int64_t n_elem;
    uint64_t sink[POOL_MAX_THREADS]; // per-thread read sums (keeps the loads alive)
    kern_matmul_fn mv;               // matvec pattern: the best table's F16 product
    float mv_x[MEMBW_MV_COLS];       // its input vector (zeros: no denormal results)
    _Atomic int64_t next_chunk;      // read phase: next chunk to hand out
};

#ifdef MEMBW_X86
// n_sub interleaved sub-streams (equal parts of the chunk) with the pattern's prefetch.
// Four is the access pattern of the matmul, which streams 4 weight rows at once; one
// sequential stream per core leaves bandwidth unused on some machines (docs/PERFORMANCE.md).
__attribute__((target("avx2"))) static uint64_t membw_read_avx2(const uint64_t *p, int64_t n,
                                                                int n_sub, int hint) {
    const int64_t q = (n / n_sub) & ~(int64_t)15; // words per sub-stream, multiple of 16
    __m256i acc[8];
    for (int j = 0; j < 8; j++)
        acc[j] = _mm256_setzero_si256();
    for (int64_t i = 0; i < q; i += 8) {
        for (int j = 0; j < n_sub; j++) {
            const uint64_t *s = p + j * q + i;
            if (hint == 1) {
                _mm_prefetch((const char *)s + MEMBW_PREFETCH, _MM_HINT_T0);
                _mm_prefetch((const char *)s + MEMBW_PREFETCH_L2, _MM_HINT_T1);
            } else if (hint == 2) {
                _mm_prefetch((const char *)s + 2 * MEMBW_PREFETCH, _MM_HINT_NTA);
            }
            acc[j] = _mm256_add_epi64(acc[j], _mm256_loadu_si256((const __m256i *)s));
            acc[j] = _mm256_add_epi64(acc[j], _mm256_loadu_si256((const __m256i *)(s + 4)));
        }
    }
    __m256i t = acc[0];
    for (int j = 1; j < 8; j++)
        t = _mm256_add_epi64(t, acc[j]);
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, t);
    uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (int64_t i = n_sub * q; i < n; i++)
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
    case MEMBW_READ: {
        const struct membw_pattern *pt = &membw_patterns[c->pattern];
        int64_t end = c->n_words;
        if (!pt->dynamic) { // static slice in 512 B units (32-byte aligned)
            pool_split(c->n_words / 64, ith, nth, &lo, &hi);
            lo *= 64;
            end = ith == nth - 1 ? c->n_words : hi * 64;
        }
        for (int first = 1;; first = 0) {
            if (pt->dynamic) {
                lo = atomic_fetch_add(&c->next_chunk, 1) * MEMBW_CHUNK_WORDS;
                if (lo >= c->n_words) break;
                hi = JANUS_MIN(lo + MEMBW_CHUNK_WORDS, c->n_words);
            } else {
                if (!first) break;
                hi = end;
                if (lo >= hi) break;
            }
            if (pt->matvec) {
                float y[MEMBW_MV_ROWS];
                c->mv(y, MEMBW_MV_ROWS, c->buf + lo, c->mv_x, MEMBW_MV_COLS, 1, 0,
                      (hi - lo) * 8 / (MEMBW_MV_COLS * 2));
                uint32_t bits;
                memcpy(&bits, &y[0], sizeof bits);
                c->sink[ith] += bits;
                continue;
            }
#ifdef MEMBW_X86
            if (c->use_avx2) {
                c->sink[ith] += membw_read_avx2(c->buf + lo, hi - lo, pt->n_sub, pt->hint);
                continue;
            }
#endif
            c->sink[ith] += membw_read_scalar(c->buf + lo, hi - lo);
        }
        break;
    }
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
    void *raw[4]; // mappings behind c.buf, c.a, c.b, c.c (2 MiB aligned)
    size_t raw_len[4];
};

void membw_close(struct membw **bp) {
    if (!bp || !*bp) return;
    for (int i = 0; i < 4; i++)
        if ((*bp)->raw[i]) munmap((*bp)->raw[i], (*bp)->raw_len[i]);
    mem_free(*bp);
    *bp = NULL;
}

// len bytes of anonymous memory, 2 MiB aligned, advised onto huge pages. NULL on failure.
static void *huge_alloc(size_t len, size_t *mapped) {
    len = (len + MEMBW_HUGE - 1) / MEMBW_HUGE * MEMBW_HUGE;
    uint8_t *r =
        mmap(NULL, len + MEMBW_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) return NULL;
    uint8_t *al = (uint8_t *)(((uintptr_t)r + MEMBW_HUGE - 1) & ~(uintptr_t)(MEMBW_HUGE - 1));
    if (al > r) munmap(r, (size_t)(al - r));
    if (r + len + MEMBW_HUGE > al + len)
        munmap(al + len, (size_t)(r + len + MEMBW_HUGE - (al + len)));
#ifdef MADV_HUGEPAGE
    (void)madvise(al, len, MADV_HUGEPAGE);
#endif
    *mapped = len;
    return al;
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
    b->raw[0] = huge_alloc((size_t)c->n_words * 8, &b->raw_len[0]);
    for (int i = 1; i < 4; i++)
        b->raw[i] = huge_alloc((size_t)c->n_elem * 8, &b->raw_len[i]);
    if (!b->raw[0] || !b->raw[1] || !b->raw[2] || !b->raw[3]) {
        membw_close(&b);
        return JANUS_ENOMEM;
    }
    c->buf = b->raw[0];
    c->a = b->raw[1];
    c->b = b->raw[2];
    c->c = b->raw[3];
#ifdef MEMBW_X86
    __builtin_cpu_init();
    c->use_avx2 = __builtin_cpu_supports("avx2");
#endif
    c->mv = kern_best()->matmul[KERN_W_F16];
    c->phase = MEMBW_INIT;
    pool_run(pool, membw_worker, c);
    c->phase = MEMBW_READ; // one untimed pass warms the TLB and the page tables
    c->pattern = 0;
    atomic_store(&c->next_chunk, 0);
    pool_run(pool, membw_worker, c);
    *out = b;
    return JANUS_OK;
}

int membw_run(struct membw *b, int reps, struct membw_result *out) {
    if (!b || reps < 1 || reps > MEMBW_MAX_REPS) return JANUS_EINVAL;
    struct membw_ctx *c = &b->c;
    double rd[MEMBW_MAX_REPS], tr[MEMBW_MAX_REPS], pat[MEMBW_N_PATTERNS][MEMBW_MAX_REPS];
    for (int r = 0; r < reps; r++) {
        c->phase = MEMBW_READ;
        rd[r] = 0;
        for (int k = 0; k < MEMBW_N_PATTERNS; k++) { // the pass's figure: its best pattern
            c->pattern = k;
            atomic_store(&c->next_chunk, 0);
            int64_t t0 = clock_now_ns();
            pool_run(b->pool, membw_worker, c);
            int64_t t1 = clock_now_ns();
            pat[k][r] = (double)c->n_words * 8.0 / (double)JANUS_MAX(t1 - t0, 1);
            rd[r] = JANUS_MAX(rd[r], pat[k][r]);
        }
        c->phase = MEMBW_TRIAD;
        int64_t t0 = clock_now_ns();
        pool_run(b->pool, membw_worker, c);
        int64_t t1 = clock_now_ns();
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
    for (int k = 0; k < MEMBW_N_PATTERNS; k++) {
        out->pattern_gb_s[k] = membw_median(pat[k], reps);
        if (out->pattern_gb_s[k] > out->pattern_gb_s[out->best_pattern]) out->best_pattern = k;
    }
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

const char *membw_pattern_name(int k) {
    return k >= 0 && k < MEMBW_N_PATTERNS ? membw_patterns[k].name : "?";
}
