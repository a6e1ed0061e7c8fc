// Kernel table selection (kernels.h): "avx512" (AVX-512 F/BW/VL matrix products over the
// AVX2 vector ops) when the CPU and OS support it, else "avx2" (AVX2/FMA/F16C), else the
// scalar reference; tables compiled out (JANUS_NO_AVX2) are never chosen. JANUS_KERNELS=
// ref|avx2|avx512 asks for one table by name (an unavailable one falls back, with the
// choice visible in kern_best()->name). The choice is cached in one atomic pointer
// (idempotent: every thread computes the same answer). The integer path (issue 13 item 2):
// the avx2 table gets qdot_avx2.c's matmul_q8 and quantize_act; the avx512 table those of
// qdot_avx512.c (VNNI) when cpuid has AVX512_VNNI, else the avx2 ones.
// SPDX-License-Identifier: MIT
#include "kernels/kernels.h"

#include "kernels/qdot.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// The tables' levels, in order of preference (kern_level()).
enum { LEVEL_REF = 0, LEVEL_AVX2 = 1, LEVEL_AVX512 = 2 };

// cpuid directly (gcc and clang both ship <cpuid.h>; clang 14's __builtin_cpu_supports
// does not know "f16c"). The register state must also be enabled by the OS (XCR0).
static int cpu_level(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return LEVEL_REF;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, f16c = (c >> 29) & 1;
    if (!fma || !osxsave || !f16c) return LEVEL_REF;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6) != 6) return LEVEL_REF; // XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 5) & 1)) return LEVEL_REF;
    const int avx512 = ((b >> 16) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1); // F, BW, VL
    if (avx512 && (xlo & 0xe6) == 0xe6) return LEVEL_AVX512;                  // + opmask, ZMM state
    return LEVEL_AVX2;
#else
    return LEVEL_REF;
#endif
}

// AVX512_VNNI (cpuid 7.0 ECX bit 11), on top of cpu_level() == LEVEL_AVX512.
int qdot_cpu_vnni(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a, b, c, d;
    if (cpu_level() < LEVEL_AVX512 || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (c >> 11) & 1;
#else
    return 0;
#endif
}

static struct kern_ops avx2_ops, avx512_ops;
static pthread_once_t avx2_once = PTHREAD_ONCE_INIT, avx512_once = PTHREAD_ONCE_INIT;

// avx2.c's table with the AVX2 integer path.
static void avx2_build(void) {
    const struct kern_ops *base = kern_avx2();
    const kern_matmul_q8_fn *q8 = qdot_avx2_matmul_q8();
    if (!base) return;
    avx2_ops = *base;
    for (int t = 0; q8 && t < KERN_W_COUNT; t++)
        if (q8[t]) avx2_ops.matmul_q8[t] = q8[t];
    if (q8) avx2_ops.quantize_act = qdot_avx2_quantize_act;
}

static const struct kern_ops *avx2_table(void) {
    pthread_once(&avx2_once, avx2_build);
    return avx2_ops.name ? &avx2_ops : NULL;
}

// The AVX2 table with avx512.c's matrix products and, with VNNI, qdot_avx512.c's integer path
// (built here: those files are compiled with AVX-512 code generation and must not run
// before the cpuid check).
static void avx512_build(void) {
    const struct kern_ops *base = avx2_table();
    const kern_matmul_fn *mm = kern_avx512_matmul();
    if (!base || !mm) return;
    avx512_ops = *base;
    avx512_ops.name = "avx512";
    for (int t = 0; t < KERN_W_COUNT; t++)
        avx512_ops.matmul[t] = mm[t];
    const kern_matmul_q8_fn *q8 = qdot_cpu_vnni() ? qdot_avx512_matmul_q8() : NULL;
    for (int t = 0; q8 && t < KERN_W_COUNT; t++)
        if (q8[t]) avx512_ops.matmul_q8[t] = q8[t];
}

static const struct kern_ops *table_at(int level) {
    switch (level) {
    case LEVEL_AVX512:
        pthread_once(&avx512_once, avx512_build);
        return avx512_ops.name ? &avx512_ops : NULL;
    case LEVEL_AVX2: return avx2_table();
    default: return kern_ref();
    }
}

const struct kern_ops *kern_by_name(const char *name) {
    static const char *const names[] = {"ref", "avx2", "avx512"};
    const int have = cpu_level();
    for (int l = 0; l < 3; l++)
        if (name && !strcmp(name, names[l])) return l <= have ? table_at(l) : NULL;
    return NULL;
}

int kern_level(const struct kern_ops *k) {
    if (!k || !strcmp(k->name, "ref")) return LEVEL_REF;
    return strcmp(k->name, "avx2") == 0 ? LEVEL_AVX2 : LEVEL_AVX512;
}

const struct kern_ops *kern_at_most(int level) {
    for (int l = level < cpu_level() ? level : cpu_level(); l > LEVEL_REF; l--) {
        const struct kern_ops *k = table_at(l);
        if (k) return k;
    }
    return kern_ref();
}

static const struct kern_ops *choose(void) {
    const char *e = getenv("JANUS_KERNELS");
    if (e && *e) {
        const struct kern_ops *k = kern_by_name(e);
        if (k) return k;
        // Unknown or unavailable name: the best this machine has (kern_best()->name tells).
    }
    return kern_at_most(LEVEL_AVX512);
}

const struct kern_ops *kern_best(void) {
    static _Atomic(const struct kern_ops *) cached = NULL;
    const struct kern_ops *k = atomic_load(&cached);
    if (!k) {
        k = choose();
        atomic_store(&cached, k);
    }
    return k;
}
