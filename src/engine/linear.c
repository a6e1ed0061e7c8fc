// linear(): every matrix product of the engine goes through here (linear.h). Products big
// enough to amortise a pool wake-up (~1 µs) are split by output rows across the pool.
// SPDX-License-Identifier: MIT
#include "engine/linear.h"

#include "base/log.h"
#include "base/pool.h"
#include "base/status.h"

#include <stdatomic.h>

// Default min_parallel: below this many multiply-adds a product runs on the caller (tiny
// fixture layers, the router): waking the pool would cost more than the work. Tests set
// min_parallel to 0 to thread everything.
#define LINEAR_MIN_PARALLEL_MACS 32768
// Row-split granularity: the AVX2 matmul blocks 4 rows, so parts are multiples of 4.
#define LINEAR_ROW_UNIT 4

void linear_ctx_init(struct linear_ctx *c, const struct kern_ops *kern, int n_threads) {
    c->kern = kern ? kern : kern_best();
    c->n_threads = 1;
    c->pool = NULL;
    c->min_parallel = LINEAR_MIN_PARALLEL_MACS;
    if (n_threads > 1) {
        if (pool_create(&c->pool, n_threads) == JANUS_OK)
            c->n_threads = n_threads;
        else
            LOG_WARN("could not start %d threads; running on one", n_threads);
    }
}

void linear_ctx_free(struct linear_ctx *c) {
    pool_destroy(&c->pool);
    c->n_threads = 1;
}

// Rows are handed out in chunks from an atomic counter rather than split statically: on a
// shared machine a descheduled worker then costs only its current chunk, and the others
// take the rest. Which thread computes a chunk does not change its values.
struct linear_job {
    kern_matmul_fn fn;
    float *y;
    int64_t ldy;
    const void *w;
    const float *x;
    int64_t n_in, n_tok, n_out;
    int64_t chunk;        // rows per chunk (multiple of LINEAR_ROW_UNIT)
    _Atomic int64_t next; // next chunk to hand out
};

static void linear_worker(void *vjob, int ith, int nth) {
    struct linear_job *j = vjob;
    (void)ith, (void)nth;
    for (;;) {
        const int64_t lo = atomic_fetch_add(&j->next, 1) * j->chunk;
        if (lo >= j->n_out) break;
        const int64_t hi = JANUS_MIN(lo + j->chunk, j->n_out);
        j->fn(j->y, j->ldy, j->w, j->x, j->n_in, j->n_tok, lo, hi);
    }
}

void linear(const struct linear_ctx *c, float *y, int64_t ldy, const struct wview *w,
            const float *x, int64_t n_tok) {
    JANUS_ASSERT(w->data && ldy >= w->n_out);
    if (n_tok <= 0 || w->n_out <= 0) return;
    kern_matmul_fn fn = c->kern->matmul[w->type];
    if (!c->pool || w->n_out < 2 * LINEAR_ROW_UNIT ||
        w->n_out * w->n_in * n_tok < c->min_parallel) {
        fn(y, ldy, w->data, x, w->n_in, n_tok, 0, w->n_out);
        return;
    }
    // About 8 chunks per thread: small enough to rebalance, large enough to stream.
    const int64_t per = (w->n_out + 8 * c->n_threads - 1) / (8 * c->n_threads);
    struct linear_job job = {.fn = fn,
                             .y = y,
                             .ldy = ldy,
                             .w = w->data,
                             .x = x,
                             .n_in = w->n_in,
                             .n_tok = n_tok,
                             .n_out = w->n_out,
                             .chunk =
                                 (per + LINEAR_ROW_UNIT - 1) / LINEAR_ROW_UNIT * LINEAR_ROW_UNIT};
    atomic_init(&job.next, 0);
    pool_run_dynamic(c->pool, linear_worker, &job);
}
