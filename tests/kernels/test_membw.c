// Tests for src/kernels/membw: argument checks, median, and a small run with 1 and 2
// threads that must report positive, ordered figures (no timing thresholds: the machine is
// shared; the numbers themselves belong in docs/PERFORMANCE.md).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/pool.h"
#include "base/status.h"
#include "kernels/membw.h"

TEST(membw_median_odd_even) {
    double a[] = {5, 1, 3};
    ASSERT_EQ(membw_median(a, 3), 3);
    double b[] = {4, 1, 3, 2};
    ASSERT_NEAR(membw_median(b, 4), 2.5, 0);
    double c[] = {7};
    ASSERT_EQ(membw_median(c, 1), 7);
}

TEST(membw_rejects_bad_arguments) {
    struct membw_result r;
    ASSERT_EQ(membw_measure(NULL, 1000, 3, &r), JANUS_EINVAL);
    ASSERT_EQ(membw_measure(NULL, 8 << 20, 0, &r), JANUS_EINVAL);
    ASSERT_EQ(membw_measure(NULL, 8 << 20, MEMBW_MAX_REPS + 1, &r), JANUS_EINVAL);
}

TEST(membw_small_run_reports_sane_figures) {
    for (int n = 1; n <= 2; n++) {
        struct pool *p = NULL;
        ASSERT_OK(pool_create(&p, n));
        struct membw_result r;
        ASSERT_OK(membw_measure(p, (8u << 20) + 24, 3, &r));
        ASSERT_EQ(r.n_threads, n);
        ASSERT_EQ(r.reps, 3);
        ASSERT_EQ(r.read_bytes, (8u << 20) + 24);
        ASSERT_LT(0, r.read_gb_s_min);
        ASSERT_LE(r.read_gb_s_min, r.read_gb_s);
        ASSERT_LE(r.read_gb_s, r.read_gb_s_max);
        ASSERT_LT(0, r.triad_gb_s_min);
        ASSERT_LE(r.triad_gb_s_min, r.triad_gb_s);
        ASSERT_LE(r.triad_gb_s, r.triad_gb_s_max);
        ASSERT(isfinite(r.read_gb_s_max) && isfinite(r.triad_gb_s_max));
        pool_destroy(&p);
    }
}
