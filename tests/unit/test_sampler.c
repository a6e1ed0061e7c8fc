// Sampler (model/sampler.h): greedy ties, determinism by seed, top-k / top-p support,
// temperature distribution.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "model/sampler.h"

TEST(sampler_greedy_ties_lowest) {
    const float l[5] = {1, 3, 2, 3, 3};
    ASSERT_EQ(sampler_greedy(l, 5), 1);
    struct sampler s;
    struct sampler_params p = {.temp = 0, .top_p = 1, .seed = 1};
    ASSERT_OK(sampler_init(&s, 5, &p));
    ASSERT_EQ(sampler_sample(&s, l), 1);
    sampler_free(&s);
}

TEST(sampler_seed_deterministic_and_topk_support) {
    float l[100];
    for (int i = 0; i < 100; i++)
        l[i] = (float)((i * 37) % 100) / 20.0f;
    struct sampler a, b;
    struct sampler_params p = {.temp = 1.0f, .top_k = 5, .top_p = 1, .seed = 7};
    ASSERT_OK(sampler_init(&a, 100, &p));
    ASSERT_OK(sampler_init(&b, 100, &p));
    // top 5 logits: values 99/20 .. 95/20 at ids with (i*37)%100 in 95..99
    for (int t = 0; t < 200; t++) {
        const int32_t x = sampler_sample(&a, l), y = sampler_sample(&b, l);
        ASSERT_EQ(x, y);
        ASSERT((x * 37) % 100 >= 95);
    }
    sampler_free(&a);
    sampler_free(&b);
}

TEST(sampler_top_p_and_temperature) {
    // probabilities at T=1: softmax(log(0.5), log(0.3), log(0.2))
    const float l[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    struct sampler s;
    struct sampler_params p = {.temp = 1.0f, .top_p = 0.75f, .seed = 3};
    ASSERT_OK(sampler_init(&s, 3, &p));
    int cnt[3] = {0};
    for (int t = 0; t < 4000; t++)
        cnt[sampler_sample(&s, l)]++;
    ASSERT_EQ(cnt[2], 0); // 0.5 + 0.3 >= 0.75: id 2 is cut
    ASSERT_NEAR((double)cnt[0] / 4000, 0.5 / 0.8, 0.04);
    sampler_free(&s);
    p.top_p = 1.0f; // full distribution
    ASSERT_OK(sampler_init(&s, 3, &p));
    int c2 = 0;
    for (int t = 0; t < 4000; t++)
        c2 += sampler_sample(&s, l) == 2;
    ASSERT_NEAR((double)c2 / 4000, 0.2, 0.03);
    sampler_free(&s);
    // large top-k path (qsort) agrees on support
    float big[300];
    for (int i = 0; i < 300; i++)
        big[i] = i == 123 ? 50.0f : 0.0f;
    struct sampler_params q = {.temp = 0.5f, .top_k = 200, .top_p = 1, .seed = 9};
    ASSERT_OK(sampler_init(&s, 300, &q));
    ASSERT_EQ(sampler_sample(&s, big), 123);
    sampler_free(&s);
}

TEST(sampler_bad_params) {
    struct sampler s;
    struct sampler_params p = {.temp = 1, .top_p = 0, .seed = 1};
    ASSERT(sampler_init(&s, 10, &p) < 0);
    p.top_p = 1;
    p.top_k = -1;
    ASSERT(sampler_init(&s, 10, &p) < 0);
}
