// Unit tests for src/base/pool: every thread runs once per run with the right (ith, nth),
// writes are visible after pool_run, barriers order phases, the sleeping wake-up path
// works, pool_split partitions exactly, and runs allocate nothing.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include <stdatomic.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/pool.h"
#include "base/status.h"

struct count_ctx {
    _Atomic int calls[POOL_MAX_THREADS];
    _Atomic int bad_nth;
    int nth_expected;
    int64_t out[POOL_MAX_THREADS]; // plain writes, read by the caller after the run
};

static void count_fn(void *vctx, int ith, int nth) {
    struct count_ctx *c = vctx;
    if (nth != c->nth_expected || ith < 0 || ith >= nth)
        atomic_fetch_add(&c->bad_nth, 1);
    else {
        atomic_fetch_add(&c->calls[ith], 1);
        c->out[ith] += ith + 1;
    }
}

TEST(pool_runs_every_thread_once) {
    int sizes[] = {1, 2, 3, 4, 7};
    for (size_t s = 0; s < JANUS_ARRAY_SIZE(sizes); s++) {
        struct pool *p = NULL;
        ASSERT_OK(pool_create(&p, sizes[s]));
        ASSERT_EQ(pool_n_threads(p), sizes[s]);
        static struct count_ctx c;
        memset(&c, 0, sizeof c);
        c.nth_expected = sizes[s];
        int n_runs = 500;
        for (int r = 0; r < n_runs; r++)
            pool_run(p, count_fn, &c);
        ASSERT_EQ(atomic_load(&c.bad_nth), 0);
        for (int i = 0; i < sizes[s]; i++) {
            ASSERT_EQ(atomic_load(&c.calls[i]), n_runs);
            ASSERT_EQ(c.out[i], (int64_t)n_runs * (i + 1));
        }
        pool_destroy(&p);
        ASSERT(p == NULL);
    }
}

TEST(pool_null_and_bad_counts) {
    static struct count_ctx c;
    memset(&c, 0, sizeof c);
    c.nth_expected = 1;
    pool_run(NULL, count_fn, &c);
    ASSERT_EQ(atomic_load(&c.calls[0]), 1);
    ASSERT_EQ(pool_n_threads(NULL), 1);
    struct pool *p = (struct pool *)&c; // must stay untouched on error
    ASSERT_EQ(pool_create(&p, -1), JANUS_EINVAL);
    ASSERT_EQ(pool_create(&p, POOL_MAX_THREADS + 1), JANUS_EINVAL);
    ASSERT(p == (struct pool *)&c);
    p = NULL;
    ASSERT_OK(pool_create(&p, 0)); // online CPUs
    ASSERT_LE(1, pool_n_threads(p));
    pool_destroy(&p);
    pool_destroy(&p); // NULL-safe
    pool_destroy(NULL);
}

// Phase k: thread i writes v[k][i] = k * 100 + i; after the barrier every thread checks
// the whole row written by all threads.
#define BAR_PHASES 50
struct bar_ctx {
    struct pool *p;
    int v[BAR_PHASES][8];
    _Atomic int errors;
};

static void bar_fn(void *vctx, int ith, int nth) {
    struct bar_ctx *c = vctx;
    for (int k = 0; k < BAR_PHASES; k++) {
        c->v[k][ith] = k * 100 + ith;
        pool_barrier(c->p);
        for (int j = 0; j < nth; j++)
            if (c->v[k][j] != k * 100 + j) atomic_fetch_add(&c->errors, 1);
    }
}

TEST(pool_barrier_orders_phases) {
    for (int n = 1; n <= 4; n++) {
        struct bar_ctx c;
        memset(&c, 0, sizeof c);
        ASSERT_OK(pool_create(&c.p, n));
        for (int r = 0; r < 20; r++) {
            memset(c.v, 0xff, sizeof c.v);
            pool_run(c.p, bar_fn, &c);
        }
        ASSERT_EQ(atomic_load(&c.errors), 0);
        pool_destroy(&c.p);
    }
}

TEST(pool_wakes_sleeping_workers) {
    // Gaps longer than the spin window make workers (and the caller) go to sleep.
    struct pool *p = NULL;
    ASSERT_OK(pool_create(&p, 3));
    static struct count_ctx c;
    memset(&c, 0, sizeof c);
    c.nth_expected = 3;
    for (int r = 0; r < 6; r++) {
        clock_sleep_ns(1000000 + r * 300000);
        pool_run(p, count_fn, &c);
    }
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(atomic_load(&c.calls[i]), 6);
    pool_destroy(&p);
}

static void slow_worker_fn(void *vctx, int ith, int nth) {
    // Threads other than the caller take longer than the spin window, so the caller sleeps.
    struct count_ctx *c = vctx;
    if (ith != 0) clock_sleep_ns(1500000);
    count_fn(c, ith, nth);
}

TEST(pool_caller_sleeps_for_slow_workers) {
    struct pool *p = NULL;
    ASSERT_OK(pool_create(&p, 2));
    static struct count_ctx c;
    memset(&c, 0, sizeof c);
    c.nth_expected = 2;
    for (int r = 0; r < 4; r++)
        pool_run(p, slow_worker_fn, &c);
    ASSERT_EQ(c.out[1], 4 * 2); // visible after each run returned
    ASSERT_EQ(atomic_load(&c.calls[1]), 4);
    pool_destroy(&p);
}

TEST(pool_runs_do_not_allocate) {
    struct pool *p = NULL;
    ASSERT_OK(pool_create(&p, 2));
    static struct count_ctx c;
    memset(&c, 0, sizeof c);
    c.nth_expected = 2;
    uint64_t before = mem_alloc_count();
    for (int r = 0; r < 100; r++)
        pool_run(p, count_fn, &c);
    ASSERT_EQ(mem_alloc_count(), before);
    pool_destroy(&p);
}

TEST(pool_split_partitions_exactly) {
    int64_t ns[] = {0, 1, 2, 7, 64, 1000, 1023};
    for (size_t a = 0; a < JANUS_ARRAY_SIZE(ns); a++) {
        for (int nth = 1; nth <= 9; nth++) {
            int64_t expect = 0, min_len = ns[a], max_len = 0;
            for (int ith = 0; ith < nth; ith++) {
                int64_t lo, hi;
                pool_split(ns[a], ith, nth, &lo, &hi);
                ASSERT_EQ(lo, expect);
                ASSERT_LE(lo, hi);
                expect = hi;
                min_len = JANUS_MIN(min_len, hi - lo);
                max_len = JANUS_MAX(max_len, hi - lo);
            }
            ASSERT_EQ(expect, ns[a]);
            ASSERT_LE(max_len - min_len, 1);
        }
    }
}

// Dynamic runs: items handed out from an atomic counter; each item done exactly once per run
// whichever threads join; the context lives on the caller's stack for one run only, so a
// late worker touching a finished run would be a use-after-scope under ASan/TSan.
struct dyn_ctx {
    _Atomic int next;
    int n_items;
    _Atomic int done[64];
    _Atomic int participants;
};

static void dyn_fn(void *vctx, int ith, int nth) {
    struct dyn_ctx *c = vctx;
    (void)ith, (void)nth;
    atomic_fetch_add(&c->participants, 1);
    for (int i; (i = atomic_fetch_add(&c->next, 1)) < c->n_items;)
        atomic_fetch_add(&c->done[i], 1);
}

static int dyn_round(struct pool *p, int n_items) {
    struct dyn_ctx c;
    memset(&c, 0, sizeof c);
    c.n_items = n_items;
    pool_run_dynamic(p, dyn_fn, &c);
    const int np = atomic_load(&c.participants);
    int bad = np < 1 || np > pool_n_threads(p);
    for (int i = 0; i < n_items; i++)
        bad |= atomic_load(&c.done[i]) != 1;
    return bad;
}

TEST(pool_dynamic_each_item_once) {
    for (int n = 1; n <= 4; n++) {
        struct pool *p = NULL;
        ASSERT_OK(pool_create(&p, n));
        for (int r = 0; r < 2000; r++) {
            if (dyn_round(p, r % 65)) TEST_FAIL_("round %d with %d threads", r, n);
            if (r % 500 == 499) clock_sleep_ns(1000000); // let workers fall asleep
        }
        // Mixed with static runs and barriers.
        static struct count_ctx c;
        memset(&c, 0, sizeof c);
        c.nth_expected = n;
        for (int r = 0; r < 200; r++) {
            pool_run(p, count_fn, &c);
            ASSERT_EQ(dyn_round(p, 33), 0);
        }
        for (int i = 0; i < n; i++)
            ASSERT_EQ(atomic_load(&c.calls[i]), 200);
        uint64_t before = mem_alloc_count();
        ASSERT_EQ(dyn_round(p, 10), 0);
        ASSERT_EQ(mem_alloc_count(), before);
        pool_destroy(&p);
    }
    ASSERT_EQ(dyn_round(NULL, 5), 0);
}
