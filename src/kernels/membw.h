// Memory-bandwidth measurement for `janus bench` (SPEC §9: decode is memory-bound, so every
// decode figure is reported as a fraction of what this machine can stream). Two tests, both
// multithreaded over a pool, several repetitions, median reported:
//   read  — the threads sum one large buffer (2 MiB huge pages where available) with 256-bit
//           loads in MEMBW_N_PATTERNS patterns: 512 KiB chunks from a shared counter read as
//           4 interleaved sub-streams with L1/L2 software prefetch (the matmul's access
//           pattern), the same with non-temporal prefetch, 8 sub-streams, and one static
//           sequential stream per thread, and the decode's own F16 matrix-vector kernel
//           (best kernel table, one token) over the buffer; a pass's read figure is its
//           fastest pattern, so it bounds what the decode's access pattern streams;
//   triad — STREAM triad a[i] = b[i] + s·c[i] on doubles (static partition), 24 bytes per element
//           (STREAM's convention: write-allocate traffic not counted).
// Buffers must exceed the last-level cache; membw_open allocates and touches them (mem.h)
// once, so a bench can re-measure next to each of its timings (membw_run) cheaply.
// Not for the serving path.
// SPDX-License-Identifier: MIT
#ifndef JANUS_MEMBW_H
#define JANUS_MEMBW_H

#include <stddef.h>

#include "base/base.h"
#include "base/pool.h"

#define MEMBW_MAX_REPS   64
#define MEMBW_N_PATTERNS 5

struct membw_result {
    int n_threads;
    int reps;
    size_t read_bytes;  // buffer size of the read test
    size_t triad_bytes; // bytes counted per triad pass (3 arrays)
    double read_gb_s;   // median over reps, 1e9 bytes/s
    double read_gb_s_min, read_gb_s_max;
    double triad_gb_s; // median over reps
    double triad_gb_s_min, triad_gb_s_max;
    double pattern_gb_s[MEMBW_N_PATTERNS]; // median over reps of each read pattern
    int best_pattern;                      // index of the largest pattern_gb_s
};

// Name of read pattern k ("chunk4", "chunk4-nta", "chunk8", "static1", "matvec").
const char *membw_pattern_name(int k);

// Buffers for the tests, run by the threads of pool (NULL: 1 thread); read_bytes as below.
struct membw;
int membw_open(struct membw **out, struct pool *pool, size_t read_bytes) JANUS_WUR;
// reps timed passes of each test (reps in [1, MEMBW_MAX_REPS]; a read pass times every
// pattern and counts the fastest); out: medians, min, max.
int membw_run(struct membw *b, int reps, struct membw_result *out) JANUS_WUR;
void membw_close(struct membw **b);

// membw_open + membw_run + membw_close: read and triad bandwidth with pool's threads.
// read_bytes: size of the read buffer (>= 1 MiB; several times the LLC for DRAM figures);
// the triad uses three arrays of read_bytes / 3 each. reps in [1, MEMBW_MAX_REPS].
// out: filled on success. Returns JANUS_OK, JANUS_EINVAL (bad sizes), JANUS_ENOMEM.
int membw_measure(struct pool *pool, size_t read_bytes, int reps,
                  struct membw_result *out) JANUS_WUR;

// Median of n values (n >= 1); v is reordered. Exposed for the benches and tests.
double membw_median(double *v, int n);

#endif // JANUS_MEMBW_H
