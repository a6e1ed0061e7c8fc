// Arithmetic peaks for `janus bench` (issue 13 targets: batched decode is held against the
// lower of its bandwidth bound and its compute bound). Each peak is the multiply-add rate of
// the instruction a numeric path's matrix products use, on registers only (16 independent
// accumulator chains (ymm: 12), no loads), over pool's threads, best of several timed passes — the
// way membw.h measures the read bandwidth:
//   f32   — F32 FMA (AVX-512 16 lanes, AVX2 8 lanes, or scalar), the exact path;
//   int8  — u8·s8 dot into int32: AVX-512 VNNI vpdpbusd (64 MACs), AVX-VNNI (32), or AVX2
//           vpmaddubsw + vpmaddwd + vpaddd (32 per three instructions), the integer path.
// Not for the serving path. SPDX-License-Identifier: MIT
#ifndef JANUS_PEAK_H
#define JANUS_PEAK_H

#include "base/base.h"
#include "base/pool.h"

enum peak_kind { PEAK_F32_FMA = 0, PEAK_INT8_DOT = 1 };

struct peak_result {
    double macs_per_s; // multiply-adds per second, all threads (best pass)
    const char *isa;   // the instruction measured ("avx512-fma", "avx512-vnni", ...)
};

// The peak of kind with at most the kernel level `level` (kernels.h kern_level: 0 ref,
// 1 avx2, 2 avx512) and what this CPU supports; seconds: length of each of the 3 passes.
int peak_measure(struct pool *pool, enum peak_kind kind, int level, double seconds,
                 struct peak_result *out) JANUS_WUR;

#endif // JANUS_PEAK_H
