// Arithmetic peaks (peak.h): register-only multiply-add loops, one function per instruction,
// compiled for their ISA with target attributes (so this file needs no -m flags and nothing
// runs before the cpuid check in pick()). Each loop runs 16 (ymm: 12) independent accumulator
// chains (enough to cover the FMA/dot latency on two ports) for a fixed count, and the threads of
// the pool repeat it until the pass has lasted `seconds`. SPDX-License-Identifier: MIT
#include "kernels/peak.h"

#include "base/clock.h"
#include "base/status.h"

#include <stdatomic.h>
#include <stdint.h>

#if defined(__x86_64__) && !defined(JANUS_NO_AVX2)
#include <cpuid.h>
#include <immintrin.h>
#define PEAK_X86 1
#endif

#define PEAK_ITERS      4096 // loop trips per call
#define PEAK_CHAINS     16   // zmm / scalar accumulators
#define PEAK_CHAINS_YMM 12   // AVX2 has 16 ymm registers: 12 chains plus the operands
#define PEAK_PASSES     3

// One call: PEAK_ITERS trips of PEAK_CHAINS multiply-adds of one vector each; returns a
// value that depends on every chain (so the loop is not optimised away).
typedef float (*peak_loop_fn)(float seed);

static float loop_scalar(float seed) {
    float acc[PEAK_CHAINS];
    for (int c = 0; c < PEAK_CHAINS; c++)
        acc[c] = seed + (float)c;
    const float a = 0.999f, b = 1e-3f;
    for (int i = 0; i < PEAK_ITERS; i++)
#pragma GCC unroll 16
        for (int c = 0; c < PEAK_CHAINS; c++)
            acc[c] = acc[c] * a + b;
    float s = 0;
    for (int c = 0; c < PEAK_CHAINS; c++)
        s += acc[c];
    return s;
}

#ifdef PEAK_X86
#define PEAK_TARGET(t) __attribute__((target(t), noinline))

PEAK_TARGET("avx512f") static float loop_avx512_fma(float seed) {
    __m512 acc[PEAK_CHAINS];
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
#pragma GCC unroll 16
    for (int c = 0; c < PEAK_CHAINS; c++)
        acc[c] = _mm512_set1_ps(seed + (float)c);
    for (int i = 0; i < PEAK_ITERS; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < PEAK_CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], a, b);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[8])); // keep the loop's trip count
    }
    __m512 s = acc[0];
#pragma GCC unroll 16
    for (int c = 1; c < PEAK_CHAINS; c++)
        s = _mm512_add_ps(s, acc[c]);
    return _mm512_reduce_add_ps(s);
}

PEAK_TARGET("avx2,fma") static float loop_avx2_fma(float seed) {
    __m256 acc[PEAK_CHAINS_YMM];
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
#pragma GCC unroll 12
    for (int c = 0; c < PEAK_CHAINS_YMM; c++)
        acc[c] = _mm256_set1_ps(seed + (float)c);
    for (int i = 0; i < PEAK_ITERS; i++) {
#pragma GCC unroll 12
        for (int c = 0; c < PEAK_CHAINS_YMM; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], a, b);
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[6]));
    }
    __m256 s = acc[0];
#pragma GCC unroll 12
    for (int c = 1; c < PEAK_CHAINS_YMM; c++)
        s = _mm256_add_ps(s, acc[c]);
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0] + o[7];
}

PEAK_TARGET("avx512f,avx512bw,avx512vnni") static float loop_avx512_vnni(float seed) {
    __m512i acc[PEAK_CHAINS];
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8((char)-2);
#pragma GCC unroll 16
    for (int c = 0; c < PEAK_CHAINS; c++)
        acc[c] = _mm512_set1_epi32((int)seed + c);
    for (int i = 0; i < PEAK_ITERS; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < PEAK_CHAINS; c++)
            acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[8]));
    }
    __m512i s = acc[0];
#pragma GCC unroll 16
    for (int c = 1; c < PEAK_CHAINS; c++)
        s = _mm512_add_epi32(s, acc[c]);
    return (float)_mm512_reduce_add_epi32(s);
}

PEAK_TARGET("avx2,avxvnni") static float loop_avx_vnni(float seed) {
    __m256i acc[PEAK_CHAINS_YMM];
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8((char)-2);
#pragma GCC unroll 12
    for (int c = 0; c < PEAK_CHAINS_YMM; c++)
        acc[c] = _mm256_set1_epi32((int)seed + c);
    for (int i = 0; i < PEAK_ITERS; i++) {
#pragma GCC unroll 12
        for (int c = 0; c < PEAK_CHAINS_YMM; c++)
            acc[c] = _mm256_dpbusd_avx_epi32(acc[c], a, b);
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[6]));
    }
    __m256i s = acc[0];
#pragma GCC unroll 12
    for (int c = 1; c < PEAK_CHAINS_YMM; c++)
        s = _mm256_add_epi32(s, acc[c]);
    int o[8];
    _mm256_storeu_si256((__m256i *)o, s);
    return (float)(o[0] + o[7]);
}

// AVX2 without VNNI: 32 u8·s8 products per vpmaddubsw (pairs into int16), vpmaddwd by ones
// (int32), vpaddd — the integer kernels' own sequence.
PEAK_TARGET("avx2") static float loop_avx2_int8(float seed) {
    __m256i acc[PEAK_CHAINS_YMM];
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8((char)-2);
    const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 12
    for (int c = 0; c < PEAK_CHAINS_YMM; c++)
        acc[c] = _mm256_set1_epi32((int)seed + c);
    for (int i = 0; i < PEAK_ITERS; i++) {
#pragma GCC unroll 12
        for (int c = 0; c < PEAK_CHAINS_YMM; c++)
            acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[6]));
    }
    __m256i s = acc[0];
#pragma GCC unroll 12
    for (int c = 1; c < PEAK_CHAINS_YMM; c++)
        s = _mm256_add_epi32(s, acc[c]);
    int o[8];
    _mm256_storeu_si256((__m256i *)o, s);
    return (float)(o[0] + o[7]);
}

// cpuid leaf 7: AVX512_VNNI is ECX bit 11; AVX-VNNI is subleaf 1 EAX bit 4.
static int has_avx512_vnni(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((c >> 11) & 1);
}
static int has_avx_vnni(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1);
}
#endif

// The loop for kind at kernel level <= level, its name and multiply-adds per call.
static peak_loop_fn pick(enum peak_kind kind, int level, const char **isa, double *macs) {
    const double calls = (double)PEAK_ITERS * PEAK_CHAINS,
                 calls_ymm = (double)PEAK_ITERS * PEAK_CHAINS_YMM;
#ifdef PEAK_X86
    if (kind == PEAK_F32_FMA && level >= 2)
        return *isa = "avx512-fma", *macs = calls * 16, loop_avx512_fma;
    if (kind == PEAK_F32_FMA && level >= 1)
        return *isa = "avx2-fma", *macs = calls_ymm * 8, loop_avx2_fma;
    if (kind == PEAK_INT8_DOT && level >= 2 && has_avx512_vnni())
        return *isa = "avx512-vnni", *macs = calls * 64, loop_avx512_vnni;
    if (kind == PEAK_INT8_DOT && level >= 1 && has_avx_vnni())
        return *isa = "avx-vnni", *macs = calls_ymm * 32, loop_avx_vnni;
    if (kind == PEAK_INT8_DOT && level >= 1)
        return *isa = "avx2-maddubs", *macs = calls_ymm * 32, loop_avx2_int8;
#else
    (void)level;
#endif
    *isa = kind == PEAK_F32_FMA ? "scalar-fma" : "scalar-int";
    *macs = calls;
    return loop_scalar;
}

struct peak_job {
    peak_loop_fn fn;
    double seconds;
    _Atomic int64_t calls;
    _Atomic int sink;
};

static void peak_worker(void *vctx, int ith, int nth) {
    (void)nth;
    struct peak_job *j = vctx;
    const double t0 = clock_now_s();
    int64_t n = 0;
    float s = 0;
    do {
        for (int k = 0; k < 8; k++, n++)
            s += j->fn((float)(ith + k));
    } while (clock_now_s() - t0 < j->seconds);
    atomic_fetch_add(&j->calls, n);
    atomic_fetch_add(&j->sink, (int)(s != s));
}

int peak_measure(struct pool *pool, enum peak_kind kind, int level, double seconds,
                 struct peak_result *out) {
    if (!out || seconds <= 0 || seconds > 10) return JANUS_EINVAL;
    double macs_per_call;
    struct peak_job j = {.fn = pick(kind, level, &out->isa, &macs_per_call), .seconds = seconds};
    out->macs_per_s = 0;
    for (int p = 0; p < PEAK_PASSES; p++) {
        atomic_store(&j.calls, 0);
        const double t0 = clock_now_s();
        if (pool)
            pool_run(pool, peak_worker, &j);
        else
            peak_worker(&j, 0, 1);
        const double t = clock_now_s() - t0;
        const double rate = (double)atomic_load(&j.calls) * macs_per_call / t;
        if (rate > out->macs_per_s) out->macs_per_s = rate;
    }
    return JANUS_OK;
}
