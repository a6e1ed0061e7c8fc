// RoPE with frequency scaling (kernels.h kern_rope_scaling; issue 12 item 6): the identity
// scaling gives exactly the unscaled bits; the reference rope_apply over a scaled angle
// table gives kern_rope_ext's bits and every SIMD table agrees within float rounding; the
// YaRN ramp extrapolates below corr_lo, interpolates above corr_hi and mixes between; the
// magnitude scales the rotated pairs.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/base.h"
#include "base/rng.h"
#include "kernels/kernels.h"

#include <stdlib.h>

static void fill(struct rng *g, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)rng_normal(g);
}

TEST(identity_scaling_is_unscaled_bitwise) {
    const struct kern_rope_scaling id = kern_rope_scaling_none();
    for (int neox = 0; neox < 2; neox++)
        for (int64_t pos = 0; pos < 3000; pos += 37) {
            float c1[64], s1[64], c2[64], s2[64];
            kern_rope_angles(c1, s1, 64, pos, 10000.0f, neox);
            kern_rope_angles_ext(c2, s2, 64, pos, 10000.0f, neox, &id);
            ASSERT_MEM_EQ(c1, c2, sizeof c1);
            ASSERT_MEM_EQ(s1, s2, sizeof s1);
        }
}

TEST(scaled_tables_match_the_specification) {
    struct rng g;
    rng_init(&g, 12);
    const char *const simd[] = {"avx2", "avx512"};
    for (int it = 0; it < 60; it++) {
        const int neox = it % 2;
        const int64_t head_dim = 2 * (1 + rng_below(&g, 40));
        const int64_t n_rot = 2 * (1 + rng_below(&g, (uint32_t)(head_dim / 2)));
        const int64_t n_head = 1 + rng_below(&g, 4), pos = rng_below(&g, 20000);
        struct kern_rope_scaling rs = {.freq_scale = 1.0 / (1 + rng_below(&g, 64)),
                                       .ext_factor = it % 3 ? 1.0 : 0.0,
                                       .corr_lo = rng_below(&g, 4),
                                       .mscale = 0.5 + rng_below(&g, 100) / 100.0};
        rs.corr_hi = rs.corr_lo + rng_below(&g, (uint32_t)n_rot);
        const int64_t n = n_head * head_dim;
        float *x = malloc(sizeof(float) * (size_t)n), *spec = malloc(sizeof(float) * (size_t)n);
        float *y = malloc(sizeof(float) * (size_t)n);
        float *cs = malloc(sizeof(float) * (size_t)n_rot),
              *sn = malloc(sizeof(float) * (size_t)n_rot);
        fill(&g, x, n);
        memcpy(spec, x, sizeof(float) * (size_t)n);
        kern_rope_ext(spec, n_head, head_dim, n_rot, pos, 10000.0f, neox, &rs);
        kern_rope_angles_ext(cs, sn, n_rot, pos, 10000.0f, neox, &rs);
        memcpy(y, x, sizeof(float) * (size_t)n);
        kern_ref()->rope_apply(y, n_head, head_dim, n_rot, cs, sn, neox);
        ASSERT_MEM_EQ(y, spec, sizeof(float) * (size_t)n);
        for (size_t t = 0; t < JANUS_ARRAY_SIZE(simd); t++) {
            const struct kern_ops *k = kern_by_name(simd[t]);
            if (!k) continue;
            memcpy(y, x, sizeof(float) * (size_t)n);
            k->rope_apply(y, n_head, head_dim, n_rot, cs, sn, neox);
            for (int64_t i = 0; i < n; i++)
                ASSERT_LE(fabs((double)y[i] - spec[i]), 4e-7 * (fabs(spec[i]) + rs.mscale));
        }
        free(x), free(spec), free(y), free(cs), free(sn);
    }
}

// One pair (NEOX, n_rot 16): the angle of pair i from its cosine and sine.
static double angle_of(int64_t i, int64_t pos, const struct kern_rope_scaling *rs) {
    float cs[8], sn[8];
    kern_rope_angles_ext(cs, sn, 16, pos, 10000.0f, 1, rs);
    return atan2((double)sn[i], (double)cs[i]);
}

TEST(yarn_ramp_and_magnitude) {
    const struct kern_rope_scaling rs = {
        .freq_scale = 0.25, .ext_factor = 1.0, .corr_lo = 2.0, .corr_hi = 5.0, .mscale = 1.5};
    const int64_t pos = 1;
    for (int64_t i = 0; i < 8; i++) {
        const double te = pow(10000.0, -2.0 * (double)i / 16.0), ti = 0.25 * te;
        const double y = fmin(1.0, fmax(0.0, ((double)i - 2.0) / 3.0));
        const double want = ti * y + te * (1.0 - y); // extrapolated below 2, interpolated above 5
        ASSERT_NEAR(angle_of(i, pos, &rs), want, 1e-6);
        float cs[8], sn[8];
        kern_rope_angles_ext(cs, sn, 16, pos, 10000.0f, 1, &rs);
        ASSERT_NEAR(hypot(cs[i], sn[i]), 1.5, 1e-6);
    }
    // linear (ext 0): every pair interpolated, unit magnitude
    const struct kern_rope_scaling lin = {.freq_scale = 0.25, .mscale = 1.0};
    for (int64_t i = 0; i < 8; i++)
        ASSERT_NEAR(angle_of(i, pos, &lin), 0.25 * pow(10000.0, -2.0 * (double)i / 16.0), 1e-6);
}
