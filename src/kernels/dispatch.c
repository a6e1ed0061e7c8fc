// Kernel table selection (kernels.h): the AVX2/FMA/F16C table when the CPU has those
// features and the build has avx2.c compiled in, else the scalar reference.
// JANUS_KERNELS=ref in the environment forces the reference. The choice is cached in one
// atomic pointer (idempotent: every thread computes the same answer).
// SPDX-License-Identifier: MIT
#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// cpuid directly (gcc and clang both ship <cpuid.h>; clang 14's __builtin_cpu_supports
// does not know "f16c"). AVX state must also be enabled by the OS (OSXSAVE + XCR0).
static int cpu_has_avx2_fma_f16c(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, f16c = (c >> 29) & 1;
    if (!fma || !osxsave || !f16c) return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6) != 6) return 0; // XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1; // AVX2
#else
    return 0;
#endif
}

static const struct kern_ops *choose(void) {
    const char *e = getenv("JANUS_KERNELS");
    if (e && !strcmp(e, "ref")) return kern_ref();
    if (cpu_has_avx2_fma_f16c()) {
        const struct kern_ops *k = kern_avx2();
        if (k) return k;
    }
    return kern_ref();
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
