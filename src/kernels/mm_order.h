// Row order of the SIMD matrix products (avx2.c, avx512.c): a range [r0, r1) is read as RB
// long sequential streams — block j holds rows r0 + j + a·stride (a < RB), a quarter of the
// range apart for RB = 4 — rather than RB adjacent short rows, which the hardware
// prefetchers follow poorly (docs/PERFORMANCE.md, "Row order"). Rows [rest, r1) are left
// over and run one at a time. Only the grouping changes, never an output's value.
// SPDX-License-Identifier: MIT
#ifndef JANUS_MM_ORDER_H
#define JANUS_MM_ORDER_H

#include <stdint.h>

struct mm_order {
    int64_t n_blocks; // blocks of RB rows: r0 + j + a·stride for j < n_blocks, a < RB
    int64_t stride;   // rows between the streams
    int64_t rest;     // first row not in a block
};

static inline struct mm_order mm_order_streams(int64_t r0, int64_t r1, int64_t rb) {
    const int64_t n = r1 > r0 ? r1 - r0 : 0, q = n / rb;
    return (struct mm_order){.n_blocks = q, .stride = q, .rest = r0 + q * rb};
}

#endif // JANUS_MM_ORDER_H
