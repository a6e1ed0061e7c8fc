// Paged KV cache (engine/kvcache.h): reservation, page ownership, exhaustion, free,
// kvcache_check catching corruption.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "engine/kvcache.h"

TEST(kvcache_reserve_free_check) {
    struct kvcache kv;
    struct kvcache_params p = {
        .n_layer = 2, .n_k = 3, .n_v = 2, .n_seq = 3, .max_ctx = 10, .page_size = 4, .n_pages = 5};
    ASSERT_OK(kvcache_init(&kv, &p));
    ASSERT_OK(kvcache_check(&kv));
    ASSERT_OK(kvcache_seq_reserve(&kv, 0, 5)); // 2 pages
    ASSERT_OK(kvcache_seq_reserve(&kv, 1, 4)); // 1 page
    ASSERT_EQ(kv.n_free, 2);
    ASSERT_OK(kvcache_check(&kv));
    ASSERT_EQ(kvcache_pages_needed(&kv, 0, 8), 0); // 2 pages cover 8 positions
    ASSERT_EQ(kvcache_pages_needed(&kv, 0, 9), 1);
    ASSERT_EQ(kvcache_pages_needed(&kv, 2, 9), 3);
    ASSERT_EQ(kvcache_pages_needed(&kv, 2, 13), -1);          // > 3 pages per sequence
    ASSERT_EQ(kvcache_seq_reserve(&kv, 2, 13), JANUS_ELIMIT); // > 3 pages per sequence
    ASSERT_EQ(kvcache_seq_reserve(&kv, 2, 9), JANUS_ELIMIT);  // 3 pages, 2 free
    ASSERT_EQ(kv.n_free, 2);                                  // nothing taken
    ASSERT_EQ(kvcache_seq_reserve(&kv, 3, 1), JANUS_EINVAL);
    // rows of different (seq, pos, layer) never alias
    float *a = kvcache_k(&kv, 0, 0, 4), *b = kvcache_k(&kv, 0, 1, 0), *c = kvcache_k(&kv, 1, 0, 4);
    ASSERT(a != b && a != c && b != c);
    a[0] = 1.0f;
    b[0] = 2.0f;
    c[0] = 3.0f;
    ASSERT_EQ(kvcache_k(&kv, 0, 0, 4)[0], 1.0f);
    kvcache_seq_set_len(&kv, 0, 5);
    ASSERT_EQ(kvcache_seq_len(&kv, 0), 5);
    kvcache_seq_free(&kv, 0);
    ASSERT_EQ(kvcache_seq_len(&kv, 0), 0);
    ASSERT_EQ(kv.n_free, 4);
    ASSERT_OK(kvcache_check(&kv));
    ASSERT_OK(kvcache_seq_reserve(&kv, 2, 9)); // now fits
    ASSERT_OK(kvcache_check(&kv));
    // corruption: a page owned twice
    const int32_t saved = kv.seq_pages[1 * kv.max_pages_seq + 0];
    kv.seq_pages[1 * kv.max_pages_seq + 0] = kv.seq_pages[2 * kv.max_pages_seq + 0];
    ASSERT_EQ(kvcache_check(&kv), JANUS_EINVAL);
    kv.seq_pages[1 * kv.max_pages_seq + 0] = saved;
    ASSERT_OK(kvcache_check(&kv));
    // corruption: a leaked page (owner cleared but not on the free stack)
    kv.page_owner[saved] = -1;
    ASSERT_EQ(kvcache_check(&kv), JANUS_EINVAL);
    kvcache_free(&kv);
}

TEST(kvcache_bad_params) {
    struct kvcache kv;
    struct kvcache_params p = {.n_layer = 0, .n_k = 3, .n_seq = 1, .max_ctx = 4};
    ASSERT_EQ(kvcache_init(&kv, &p), JANUS_EINVAL);
    p.n_layer = 1;
    p.max_ctx = 0;
    ASSERT_EQ(kvcache_init(&kv, &p), JANUS_EINVAL);
}
