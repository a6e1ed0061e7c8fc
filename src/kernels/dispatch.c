// Kernel table selection (kernels.h): the AVX2/FMA/F16C table when the CPU has those
// features and the build has avx2.c compiled in, else the scalar reference.
// JANUS_KERNELS=ref in the environment forces the reference. The choice is cached in one
// atomic pointer (idempotent: every thread computes the same answer).
// SPDX-License-Identifier: MIT
#include "kernels/kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int cpu_has_avx2_fma_f16c(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
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
