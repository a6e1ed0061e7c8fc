// Local batch (engine/batch.h): validation rules, packing to the rows in use (the MPI wire
// of a local batch) and back, malformed packed messages refused, merging batches with a
// sequence offset; the default round-robin layout (place/round_robin.h).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "engine/batch.h"
#include "place/round_robin.h"

#include <string.h>

static void fill(struct batch *b) {
    const struct sampler_params sp = {.temp = 0.5f, .top_k = 3, .top_p = 0.9f, .seed = 11};
    batch_clear(b);
    b->free_seq[b->n_free++] = 2;
    b->start_seq[b->n_start++] = 0;
    ASSERT_OK(batch_add(b, 5, 0, 0, 0));
    ASSERT_OK(batch_add_sampled(b, 6, 0, 1, &sp)); // a prefill chunk of slot 0, then a sample
    ASSERT_OK(batch_add(b, 7, 1, 4, 1));           // a decode row of slot 1 (greedy)
}

TEST(batch_check_rules) {
    struct batch b;
    char err[JANUS_ERR_LEN];
    ASSERT_OK(batch_init(&b, 8));
    fill(&b);
    ASSERT_EQ(b.n_logits, 2);
    ASSERT_OK(batch_check(&b, 4, 10, 16, err, sizeof err));
    ASSERT_EQ(batch_check(&b, 1, 10, 16, err, sizeof err), JANUS_EINVAL); // slot 1 >= 1
    ASSERT(strstr(err, "slot") != NULL);
    b.pos[1] = 2; // a gap inside the run of slot 0
    ASSERT_EQ(batch_check(&b, 4, 10, 16, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "consecutive") != NULL);
    b.pos[1] = 1;
    ASSERT_OK(batch_add(&b, 8, 0, 2, 0)); // slot 0 again after slot 1: two runs
    ASSERT_EQ(batch_check(&b, 4, 10, 16, err, sizeof err), JANUS_EINVAL);
    fill(&b);
    b.sample[0].top_p = 0; // sampling parameters out of range
    ASSERT_EQ(batch_check(&b, 4, 10, 16, err, sizeof err), JANUS_EINVAL);
    fill(&b);
    b.logits[0] = 1; // n_logits no longer matches the rows
    ASSERT_EQ(batch_check(&b, 4, 10, 16, err, sizeof err), JANUS_EINVAL);
    batch_free(&b);
}

TEST(batch_pack_round_trip_rows_in_use_only) {
    struct batch a, b;
    ASSERT_OK(batch_init(&a, 64));
    ASSERT_OK(batch_init(&b, 64));
    static uint8_t buf[1 << 14];
    size_t n_empty = 0, n3 = 0;
    batch_clear(&a);
    ASSERT_OK(batch_pack(&a, buf, sizeof buf, &n_empty));
    fill(&a);
    ASSERT_OK(batch_pack(&a, buf, sizeof buf, &n3));
    // Only the rows in use travel: 3 rows, 2 sampled, 2 slot changes over the empty batch.
    ASSERT_EQ(n3 - n_empty, 3 * 13 + 2 * sizeof(struct sampler_params) + 2 * 4);
    ASSERT(n3 < batch_pack_max(64));
    ASSERT_OK(batch_unpack(&b, buf, n3));
    ASSERT_EQ(b.n, 3);
    ASSERT_EQ(b.n_logits, 2);
    ASSERT_EQ(b.n_free, 1);
    ASSERT_EQ(b.free_seq[0], 2);
    ASSERT_EQ(b.start_seq[0], 0);
    ASSERT(!memcmp(a.token, b.token, 3 * sizeof *a.token));
    ASSERT(!memcmp(a.seq, b.seq, 3 * sizeof *a.seq));
    ASSERT(!memcmp(a.pos, b.pos, 3 * sizeof *a.pos));
    ASSERT(!memcmp(a.logits, b.logits, 3));
    ASSERT(!memcmp(a.sample, b.sample, 2 * sizeof *a.sample));
    // Malformed messages: a short one, one with a trailing byte, counts over the capacity.
    ASSERT_EQ(batch_unpack(&b, buf, n3 - 1), JANUS_EPROTO);
    ASSERT_EQ(b.n, 0);
    ASSERT_EQ(batch_unpack(&b, buf, n3 + 1), JANUS_EPROTO);
    ASSERT_EQ(batch_unpack(&b, buf, 7), JANUS_EPROTO);
    int64_t big = 65;
    memcpy(buf, &big, sizeof big);
    ASSERT_EQ(batch_unpack(&b, buf, n3), JANUS_EPROTO);
    ASSERT_EQ(batch_pack(&a, buf, n3 - 1, &n3), JANUS_ELIMIT); // does not fit
    batch_free(&a);
    batch_free(&b);
}

TEST(batch_append_offsets_sequences) {
    struct batch a, m;
    ASSERT_OK(batch_init(&a, 8));
    ASSERT_OK(batch_init(&m, 8));
    fill(&a);
    batch_clear(&m);
    ASSERT_OK(batch_append(&m, &a, 0));
    ASSERT_OK(batch_append(&m, &a, 4));
    ASSERT_EQ(m.n, 6);
    ASSERT_EQ(m.n_logits, 4);
    ASSERT_EQ(m.seq[3], 4);
    ASSERT_EQ(m.seq[5], 5);
    ASSERT_EQ(m.free_seq[1], 6);
    ASSERT_EQ(m.start_seq[1], 4);
    ASSERT_EQ(m.sample[2].top_k, 3);
    ASSERT_OK(batch_check(&m, 8, 10, 16, NULL, 0));
    ASSERT_EQ(batch_append(&m, &a, 0), JANUS_ELIMIT); // 9 rows > 8
    batch_free(&a);
    batch_free(&m);
}

TEST(round_robin_layout_places_every_expert_then_replicas) {
    struct layout l;
    const uint8_t is_moe[3] = {0, 1, 1};
    char err[JANUS_ERR_LEN];
    ASSERT_OK(round_robin_layout(&l, 3, is_moe, 3, 3, 5, err, sizeof err));
    ASSERT_OK(layout_check(&l, err, sizeof err));
    ASSERT_EQ(l.layers[0].n_experts, 0); // dense layer
    for (int32_t e = 0; e < 5; e++) {    // 9 slots for 5 experts: 4 get a second replica
        int32_t n = layout_n_replicas(&l.layers[1], e);
        ASSERT(n == 1 || n == 2);
        ASSERT_EQ(layout_replica_id(&l.layers[1], e, e % 3) >= 0, 1); // round 0: e mod n
    }
    layout_free(&l);
    ASSERT_EQ(round_robin_layout(&l, 3, is_moe, 2, 2, 5, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "--slots") != NULL);
}
