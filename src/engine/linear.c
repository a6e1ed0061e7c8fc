// linear(), linear_many(): every matrix product of the engine goes through here (linear.h).
// Products big enough to amortise a pool wake-up (~1 µs) are split by output rows across
// the pool, several products per run, with guided self-scheduling of row chunks.
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
// Row-split granularity: the SIMD matmuls block 4 rows, so chunks are multiples of 4.
#define LINEAR_ROW_UNIT 4
// Guided self-scheduling: a grab takes 1/(LINEAR_GUIDE·threads) of the rows left in the run,
// between LINEAR_MIN_UNITS and LINEAR_MAX_UNITS row units. Long chunks early mean long
// sequential streams for the prefetchers (docs/PERFORMANCE.md); short ones at the end let
// the threads finish together; the cap bounds what a descheduled thread holds up.
#define LINEAR_GUIDE     2
#define LINEAR_MIN_UNITS 8
#define LINEAR_MAX_UNITS 128

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

// Rows are handed out in chunks from one atomic cursor over the row units of every product
// of the run, rather than split statically: on a shared machine a descheduled worker then
// costs only its current chunk, and the others take the rest. Which thread computes a
// chunk does not change its values.
struct many_job {
    const struct kern_ops *kern;
    const struct linear_op *ops;
    int n_ops;
    int n_threads;
    int64_t first[LINEAR_MAX_OPS + 1]; // first row unit of op i; first[n_ops] = total
    _Atomic int64_t next;              // first row unit not handed out yet
};

// Rows [lo, hi) of op: the product (or the pair and its SwiGLU, token row by token row).
static void many_rows(const struct kern_ops *K, const struct linear_op *op, int64_t lo,
                      int64_t hi) {
    K->matmul[op->w->type](op->y, op->ldy, op->w->data, op->x, op->w->n_in, op->n_tok, lo, hi);
    if (!op->wu) return;
    K->matmul[op->wu->type](op->u, op->ldy, op->wu->data, op->x, op->wu->n_in, op->n_tok, lo, hi);
    for (int64_t t = 0; t < op->n_tok; t++) {
        float *g = op->y + t * op->ldy + lo;
        K->swiglu(g, g, op->u + t * op->ldy + lo, hi - lo);
    }
}

// Takes the next chunk: [*lo, *lo + n) in row units, n = 0 when the run is done.
static int64_t many_grab(struct many_job *j, int64_t *lo) {
    const int64_t total = j->first[j->n_ops];
    int64_t cur = atomic_load_explicit(&j->next, memory_order_relaxed);
    for (;;) {
        const int64_t left = total - cur;
        if (left <= 0) return 0;
        int64_t n = left / ((int64_t)LINEAR_GUIDE * j->n_threads);
        n = JANUS_MIN(JANUS_MIN(JANUS_MAX(n, LINEAR_MIN_UNITS), LINEAR_MAX_UNITS), left);
        if (atomic_compare_exchange_weak(&j->next, &cur, cur + n)) {
            *lo = cur;
            return n;
        }
    }
}

static void many_worker(void *vjob, int ith, int nth) {
    struct many_job *j = vjob;
    (void)ith, (void)nth;
    int i = 0; // chunks come in increasing order: the op index only grows
    int64_t u, n;
    while ((n = many_grab(j, &u)) > 0) {
        for (const int64_t end = u + n; u < end;) { // a chunk may span several products
            while (u >= j->first[i + 1])
                i++;
            const int64_t stop = JANUS_MIN(end, j->first[i + 1]);
            const struct linear_op *op = &j->ops[i];
            many_rows(j->kern, op, (u - j->first[i]) * LINEAR_ROW_UNIT,
                      JANUS_MIN((stop - j->first[i]) * LINEAR_ROW_UNIT, op->w->n_out));
            u = stop;
        }
    }
}

void linear_many(const struct linear_ctx *c, const struct linear_op *ops, int n_ops) {
    JANUS_ASSERT(n_ops >= 0 && n_ops <= LINEAR_MAX_OPS);
    struct many_job job = {.kern = c->kern, .ops = ops, .n_ops = n_ops, .n_threads = c->n_threads};
    int64_t macs = 0;
    job.first[0] = 0;
    for (int i = 0; i < n_ops; i++) {
        const struct linear_op *op = &ops[i];
        JANUS_ASSERT(op->w->data && op->ldy >= op->w->n_out && op->n_tok >= 0);
        JANUS_ASSERT(!op->wu || (op->u && op->wu->data && op->wu->n_out == op->w->n_out &&
                                 op->wu->n_in == op->w->n_in));
        const int64_t n_out = op->n_tok > 0 ? op->w->n_out : 0;
        job.first[i + 1] = job.first[i] + (n_out + LINEAR_ROW_UNIT - 1) / LINEAR_ROW_UNIT;
        macs += n_out * op->w->n_in * op->n_tok * (op->wu ? 2 : 1);
    }
    if (job.first[n_ops] == 0) return;
    atomic_init(&job.next, 0);
    if (!c->pool || job.first[n_ops] < 2 || macs < c->min_parallel)
        many_worker(&job, 0, 1);
    else
        pool_run_dynamic(c->pool, many_worker, &job);
}

void linear(const struct linear_ctx *c, float *y, int64_t ldy, const struct wview *w,
            const float *x, int64_t n_tok) {
    const struct linear_op op = {.y = y, .ldy = ldy, .w = w, .x = x, .n_tok = n_tok};
    linear_many(c, &op, 1);
}
