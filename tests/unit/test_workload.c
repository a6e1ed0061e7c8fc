// Tests for sim/workload: diurnal trace peak/mean, bursty gamma arrivals, ShareGPT-like
// lengths and mean context, trace-file parsing errors, determinism.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "sim/workload.h"

TEST(diurnal_peak_to_mean) {
    struct workload_diurnal_params p;
    workload_diurnal_default(&p);
    struct workload_trace t;
    ASSERT_OK(workload_diurnal(&t, &p));
    ASSERT_EQ(t.n, 24 * 60);
    ASSERT_NEAR(workload_trace_mean(&t), p.mean_rate, 1e-6 * p.mean_rate);
    ASSERT_NEAR(workload_trace_peak(&t) / workload_trace_mean(&t), 7.5, 0.05);
    for (int i = 0; i < t.n; i++)
        ASSERT(t.rate[i] > 0);
    // Night is quieter than afternoon.
    ASSERT_LT(t.rate[4 * 60], t.rate[16 * 60]);
    struct workload_trace u;
    ASSERT_OK(workload_diurnal(&u, &p));
    ASSERT_MEM_EQ(t.rate, u.rate, t.n * sizeof(double));
    workload_trace_free(&u);
    p.seed = 7;
    p.peak_to_mean = 4;
    ASSERT_OK(workload_diurnal(&u, &p));
    ASSERT_NEAR(workload_trace_peak(&u) / workload_trace_mean(&u), 4, 0.05);
    workload_trace_free(&u);
    workload_trace_free(&t);
    p.peak_to_mean = 0.5;
    ASSERT_EQ(workload_diurnal(&t, &p), JANUS_EINVAL);
}

TEST(bursty_gamma_arrivals) {
    struct workload_lengths l;
    workload_sharegpt(&l);
    struct workload_bursty_params p;
    workload_bursty_default(&p);
    p.hours = 12;
    struct workload_trace t;
    ASSERT_OK(workload_bursty(&t, &p, &l));
    double m = workload_trace_mean(&t);
    ASSERT_NEAR(m, p.mean_rate, 0.15 * p.mean_rate);
    double v = 0;
    for (int i = 0; i < t.n; i++)
        v += (t.rate[i] - m) * (t.rate[i] - m);
    double cv_bursty = sqrt(v / t.n) / m;
    workload_trace_free(&t);
    p.gamma_shape = 1; // Poisson arrivals
    ASSERT_OK(workload_bursty(&t, &p, &l));
    m = workload_trace_mean(&t);
    v = 0;
    for (int i = 0; i < t.n; i++)
        v += (t.rate[i] - m) * (t.rate[i] - m);
    ASSERT_LT(sqrt(v / t.n) / m, cv_bursty);
    workload_trace_free(&t);
}

TEST(gamma_mean_and_lengths) {
    struct rng r;
    rng_init(&r, 3);
    double s = 0;
    for (int i = 0; i < 200000; i++)
        s += workload_gamma(&r, 0.25);
    ASSERT_NEAR(s / 200000, 0.25, 0.01);
    struct workload_lengths l;
    workload_sharegpt(&l);
    double sum_out = 0, sum_ctx = 0;
    for (int i = 0; i < 400000; i++) {
        int in, out;
        workload_sample_lengths(&l, &r, &in, &out);
        ASSERT(in >= 1 && out >= 1);
        sum_out += out;
        sum_ctx += (double)out * (in + out / 2.0);
    }
    ASSERT_NEAR(sum_out / 400000, 338, 10);
    // The token-weighted mean context matches the closed form within sampling error.
    ASSERT_NEAR(sum_ctx / sum_out, workload_mean_context(&l), 0.05 * workload_mean_context(&l));
}

TEST(trace_file_parse) {
    struct workload_trace t;
    char err[200];
    const char *ok = "# time rate\n0 100\n90 300 # comment\n\n200 0\n";
    ASSERT_OK(workload_parse(&t, ok, strlen(ok), 60, 100, err, sizeof err));
    ASSERT_EQ(t.n, 4);
    ASSERT_NEAR(t.rate[0], 100, 0);
    ASSERT_NEAR(t.rate[1], 300, 0); // bin 60-120 s, mid 90 -> second point
    ASSERT_NEAR(t.rate[2], 300, 0);
    ASSERT_NEAR(t.rate[3], 0, 0);
    workload_trace_free(&t);
    const char *bad[] = {"0 100\n10 x\n", "0 100\n0 50\n", "5 -1\n", "", "1 2 3\n"};
    const char *want[] = {"line 2", "line 2", "line 1", "no points", "line 1"};
    for (int i = 0; i < 5; i++) {
        err[0] = 0;
        ASSERT_NE(workload_parse(&t, bad[i], strlen(bad[i]), 60, 100, err, sizeof err), JANUS_OK);
        ASSERT(strstr(err, want[i]) != NULL);
    }
    const char *longt = "0 1\n100000 1\n";
    ASSERT_EQ(workload_parse(&t, longt, strlen(longt), 60, 100, err, sizeof err), JANUS_ELIMIT);
    char path[600];
    snprintf(path, sizeof path, "%s/nope.txt", test_tmpdir());
    ASSERT_EQ(workload_load(&t, path, 60, 100, err, sizeof err), JANUS_EIO);
}
