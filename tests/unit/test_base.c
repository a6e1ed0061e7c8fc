// Unit tests for src/base: buf bounds, arena alignment, rng determinism, mem counters.
// Each test runs in its own process (tests/test.h).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/hash.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"

TEST(buf_bounded) {
    struct buf b;
    buf_init(&b, 8);
    ASSERT_OK(buf_append(&b, "abcd", 4));
    ASSERT_EQ(buf_append(&b, "efghi", 5), JANUS_ELIMIT);
    ASSERT_EQ(b.len, 4);
    ASSERT_OK(buf_appendf(&b, "%d", 1234));
    ASSERT_STR_EQ(b.data, "abcd1234");
    ASSERT_EQ(buf_appendf(&b, "x"), JANUS_ELIMIT);
    size_t n;
    char *d = buf_take(&b, &n);
    ASSERT_EQ(n, 8);
    ASSERT(b.data == NULL);
    mem_free(d);
}

TEST(arena_aligned_and_bounded) {
    struct arena a;
    ASSERT_OK(arena_init(&a, MEM_TAG_MISC, 1000));
    void *p = arena_alloc(&a, 3);
    void *q = arena_alloc(&a, 100);
    ASSERT(p && q);
    ASSERT_EQ((uintptr_t)p % 64, 0);
    ASSERT_EQ((uintptr_t)q % 64, 0);
    ASSERT(arena_alloc(&a, 100000) == NULL);
    arena_reset(&a);
    ASSERT(arena_alloc(&a, 1024) != NULL);
    arena_free(&a);
}

TEST(rng_deterministic) {
    struct rng a, b;
    rng_init3(&a, 1, 2, 3);
    rng_init3(&b, 1, 2, 3);
    for (int i = 0; i < 100; i++)
        ASSERT_EQ(rng_u64(&a), rng_u64(&b));
    rng_init3(&b, 1, 2, 4);
    ASSERT_NE(rng_u64(&a), rng_u64(&b));
    for (int i = 0; i < 1000; i++)
        ASSERT_LT(rng_below(&a, 7), 7);
}

TEST(mem_counts_and_fault_injection) {
    int64_t before = mem_live_bytes(MEM_TAG_SIM);
    void *p = mem_alloc(MEM_TAG_SIM, 100);
    ASSERT(p);
    ASSERT_EQ(mem_live_bytes(MEM_TAG_SIM) - before, 100);
    mem_free(p);
    ASSERT_EQ(mem_live_bytes(MEM_TAG_SIM), before);
    mem_fail_after(2);
    void *a = mem_alloc(MEM_TAG_SIM, 1);
    void *b = mem_alloc(MEM_TAG_SIM, 1);
    ASSERT(a != NULL);
    ASSERT(b == NULL);
    mem_free(a);
    ASSERT_NE(hash_fnv1a(HASH_FNV_INIT, "a", 1), hash_fnv1a(HASH_FNV_INIT, "b", 1));
}
