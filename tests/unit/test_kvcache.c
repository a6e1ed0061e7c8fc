// Paged KV cache (engine/kvcache.h): reservation, page ownership, exhaustion, free,
// kvcache_check catching corruption; F32/F16/Q8_0 rows stored per segment (issue 12 item 3).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/rng.h"
#include "base/status.h"
#include "engine/kvcache.h"
#include "kernels/types.h"

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
    uint8_t *a = kvcache_k(&kv, 0, 0, 4), *b = kvcache_k(&kv, 0, 1, 0),
            *c = kvcache_k(&kv, 1, 0, 4);
    ASSERT(a != b && a != c && b != c);
    const float xa[3] = {1, 1, 1}, xb[3] = {2, 2, 2}, xc[3] = {3, 3, 3};
    kvcache_store_k(&kv, 0, 0, 4, xa);
    kvcache_store_k(&kv, 0, 1, 0, xb);
    kvcache_store_k(&kv, 1, 0, 4, xc);
    float y[3];
    kvcache_load_k(&kv, 0, 0, 4, y);
    ASSERT_MEM_EQ(y, xa, sizeof y);
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

// Every type: a row of n_k values in segments of k_seg is stored segment by segment
// (segment h at byte h·kern_kv_bytes(type, k_seg) of the row, each its own F16 vector or
// Q8_0 blocks), rows of different (layer, seq, pos) do not overlap, and loading gives the
// exactly widened stored values (F32: the input bits).
TEST(kvcache_types_rows) {
    struct rng g;
    rng_init(&g, 3);
    const int64_t seg = 20, n_k = 3 * seg, n_v = 2 * 24; // 2 value heads of 24
    for (int type = 0; type < KERN_KV_COUNT; type++) {
        struct kvcache kv;
        struct kvcache_params p = {.n_layer = 2,
                                   .n_k = n_k,
                                   .n_v = n_v,
                                   .k_seg = seg,
                                   .v_seg = 24,
                                   .type = type,
                                   .n_seq = 2,
                                   .max_ctx = 9,
                                   .page_size = 4};
        ASSERT_OK(kvcache_init(&kv, &p));
        ASSERT_EQ(kv.k_row, 3 * kern_kv_bytes(type, seg));
        ASSERT_EQ(kv.v_row, 2 * kern_kv_bytes(type, 24));
        ASSERT_EQ(kvcache_bytes_per_pos(&kv), 2 * (kv.k_row + kv.v_row));
        ASSERT_OK(kvcache_seq_reserve(&kv, 0, 9));
        ASSERT_OK(kvcache_seq_reserve(&kv, 1, 9));
        static float xk[2][2][9][60], xv[2][2][9][48];
        for (int l = 0; l < 2; l++)
            for (int s = 0; s < 2; s++)
                for (int pos = 0; pos < 9; pos++) {
                    for (int i = 0; i < n_k; i++)
                        xk[l][s][pos][i] = (float)rng_normal(&g) * (i < seg ? 50.0f : 1.0f);
                    for (int i = 0; i < n_v; i++)
                        xv[l][s][pos][i] = (float)rng_normal(&g);
                    kvcache_store_k(&kv, l, s, pos, xk[l][s][pos]);
                    kvcache_store_v(&kv, l, s, pos, xv[l][s][pos]);
                }
        for (int l = 0; l < 2; l++)
            for (int s = 0; s < 2; s++)
                for (int pos = 0; pos < 9; pos++) {
                    float yk[60], yv[48], want[60];
                    kvcache_load_k(&kv, l, s, pos, yk);
                    kvcache_load_v(&kv, l, s, pos, yv);
                    for (int h = 0; h < 3; h++) { // segment h, quantised alone
                        uint8_t tmp[128];
                        kern_kv_store(type, tmp, xk[l][s][pos] + h * seg, seg);
                        ASSERT_MEM_EQ(kvcache_k(&kv, l, s, pos) + h * kern_kv_bytes(type, seg), tmp,
                                      (size_t)kern_kv_bytes(type, seg));
                        kern_kv_load(type, want + h * seg, tmp, seg);
                    }
                    ASSERT_MEM_EQ(yk, want, sizeof(float) * (size_t)n_k);
                    if (type == KERN_KV_F32) ASSERT_MEM_EQ(yv, xv[l][s][pos], sizeof yv);
                    for (int i = 0; i < n_v; i++) // F16: 2^-11 relative; Q8_0: a step of 1/127 amax
                        ASSERT_LE(fabs((double)yv[i] - xv[l][s][pos][i]), type == KERN_KV_F32 ? 0
                                                                          : type == KERN_KV_F16
                                                                              ? 1e-3
                                                                              : 0.05);
                }
        kvcache_free(&kv);
    }
    // F16 halves and Q8_0 (34 bytes per 32 values) cut the bytes per position.
    struct kvcache a, b;
    struct kvcache_params p = {.n_layer = 4,
                               .n_k = 256,
                               .n_v = 256,
                               .k_seg = 128,
                               .v_seg = 128,
                               .n_seq = 1,
                               .max_ctx = 16};
    ASSERT_OK(kvcache_init(&a, &p));
    p.type = KERN_KV_Q8_0;
    ASSERT_OK(kvcache_init(&b, &p));
    ASSERT_EQ(kvcache_bytes_per_pos(&a), 4 * 2 * 256 * 4);
    ASSERT_EQ(kvcache_bytes_per_pos(&b), 4 * 2 * 8 * 34);
    kvcache_free(&a);
    kvcache_free(&b);
}

TEST(kvcache_types_bad_params) {
    struct kvcache kv;
    struct kvcache_params p = {.n_layer = 1, .n_k = 6, .n_v = 6, .n_seq = 1, .max_ctx = 4};
    p.type = KERN_KV_COUNT;
    ASSERT_EQ(kvcache_init(&kv, &p), JANUS_EINVAL);
    p.type = -1;
    ASSERT_EQ(kvcache_init(&kv, &p), JANUS_EINVAL);
    p.type = KERN_KV_Q8_0;
    p.k_seg = 4; // does not divide n_k
    ASSERT_EQ(kvcache_init(&kv, &p), JANUS_EINVAL);
    p.k_seg = 3, p.v_seg = 5;
    ASSERT_EQ(kvcache_init(&kv, &p), JANUS_EINVAL);
    p.v_seg = 2;
    ASSERT_OK(kvcache_init(&kv, &p));
    ASSERT_EQ(kv.k_row, 2 * 34); // two 3-value segments, one (partial) Q8_0 block each
    kvcache_free(&kv);
}
