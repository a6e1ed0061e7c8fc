// linear(), linear_many(): every matrix product of the engine goes through here (linear.h).
// Products big enough to amortise a pool wake-up (~1 µs) are split by output rows across
// the pool, several products per run, with guided self-scheduling of row chunks. The int8
// numeric path (issue 13 item 2) quantises each distinct activation matrix of a run once,
// into scratch the context owns, before the rows are split.
// SPDX-License-Identifier: MIT
#include "engine/linear.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/pool.h"
#include "base/status.h"
#include "kernels/quant.h"

#include <stdatomic.h>
#include <string.h>

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
// Activation quantisation of one run is split across the pool from this many values on
// (below, the caller does it alone: a wake-up would cost more); rows per grab.
#define LINEAR_MIN_PARALLEL_QUANT 65536
#define LINEAR_QUANT_ROWS         8

struct linear_q8 {
    struct block_q8_act *buf; // (cap) blocks
    int64_t cap;
};

static const char *const path_names[LINEAR_PATH_COUNT] = {NULL, "exact", "int8"};

const char *linear_path_name(int path) {
    if (path == LINEAR_PATH_DEFAULT) path = LINEAR_PATH_DEFAULT_IS;
    return path > 0 && path < LINEAR_PATH_COUNT ? path_names[path] : NULL;
}

int linear_path_resolve(int path) {
    return path == LINEAR_PATH_DEFAULT ? LINEAR_PATH_DEFAULT_IS : path;
}

int linear_path_parse(const char *name) {
    for (int p = 1; name && p < LINEAR_PATH_COUNT; p++)
        if (!strcmp(name, path_names[p])) return p;
    return -1;
}

void linear_ctx_init(struct linear_ctx *c, const struct kern_ops *kern, int n_threads) {
    c->kern = kern ? kern : kern_best();
    c->n_threads = 1;
    c->pool = NULL;
    c->min_parallel = LINEAR_MIN_PARALLEL_MACS;
    c->path = LINEAR_PATH_DEFAULT_IS;
    c->q8 = mem_calloc(MEM_TAG_ENGINE, 1, sizeof *c->q8); // NULL: the int8 path is refused
    if (n_threads > 1) {
        if (pool_create(&c->pool, n_threads) == JANUS_OK)
            c->n_threads = n_threads;
        else
            LOG_WARN("could not start %d threads; running on one", n_threads);
    }
}

int linear_ctx_set_path(struct linear_ctx *c, int path) {
    if (path < 0 || path >= LINEAR_PATH_COUNT) return JANUS_EINVAL;
    c->path = linear_path_resolve(path);
    return JANUS_OK;
}

// Room for at least n blocks (contents not kept). JANUS_OK or JANUS_ENOMEM.
static int q8_grow(struct linear_q8 *q, int64_t n) {
    if (!q) return JANUS_ENOMEM;
    if (n <= q->cap) return JANUS_OK;
    struct block_q8_act *b = mem_alloc(MEM_TAG_ENGINE, (size_t)n * sizeof *b);
    if (!b) return JANUS_ENOMEM;
    mem_free(q->buf);
    q->buf = b;
    q->cap = n;
    return JANUS_OK;
}

int linear_reserve(const struct linear_ctx *c, int64_t n_values) {
    if (c->path != LINEAR_INT8 || !c->kern->quantize_act) return JANUS_OK;
    return q8_grow(c->q8, (n_values + QACT_BLOCK - 1) / QACT_BLOCK);
}

static int is_block_type(int t) { return t >= KERN_W_Q8_0 && t < KERN_W_COUNT; }

int linear_uses_q8(const struct linear_ctx *c, int wtype) {
    return c->path == LINEAR_INT8 && is_block_type(wtype) && c->kern->quantize_act &&
           c->kern->matmul_q8[wtype];
}

void linear_ctx_free(struct linear_ctx *c) {
    pool_destroy(&c->pool);
    c->n_threads = 1;
    if (c->q8) mem_free(c->q8->buf);
    mem_free(c->q8);
    c->q8 = NULL;
}

// One warning per weight type and process when the int8 path meets a type its table cannot
// compute in integers (those products take the exact path).
static void warn_fallback(const struct linear_ctx *c, int wtype) {
    static _Atomic uint32_t warned;
    const uint32_t bit = 1u << wtype;
    if (atomic_fetch_or(&warned, bit) & bit) return;
    const struct kern_wtype_info *ti = kern_wtype_info(wtype);
    LOG_WARN("kernel table %s has no int8 product for %s weights: they use the exact path",
             c->kern->name, ti ? ti->name : "?");
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
    // int8 path: op i's activation blocks for w and for wu (NULL: that product is exact)
    const struct block_q8_act *xq[LINEAR_MAX_OPS], *xqu[LINEAR_MAX_OPS];
};

// Rows [lo, hi) of op: the product (or the pair and its SwiGLU, token row by token row),
// from the int8 blocks xq / xqu where given.
static void many_rows(const struct kern_ops *K, const struct linear_op *op,
                      const struct block_q8_act *xq, const struct block_q8_act *xqu, int64_t lo,
                      int64_t hi) {
    const struct wview *w = op->w, *wu = op->wu;
    if (xq)
        K->matmul_q8[w->type](op->y, op->ldy, w->data, xq, w->n_in, op->n_tok, lo, hi);
    else
        K->matmul[w->type](op->y, op->ldy, w->data, op->x, w->n_in, op->n_tok, lo, hi);
    if (!wu) return;
    if (xqu)
        K->matmul_q8[wu->type](op->u, op->ldy, wu->data, xqu, wu->n_in, op->n_tok, lo, hi);
    else
        K->matmul[wu->type](op->u, op->ldy, wu->data, op->x, wu->n_in, op->n_tok, lo, hi);
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
            many_rows(j->kern, op, j->xq[i], j->xqu[i], (u - j->first[i]) * LINEAR_ROW_UNIT,
                      JANUS_MIN((stop - j->first[i]) * LINEAR_ROW_UNIT, op->w->n_out));
            u = stop;
        }
    }
}

// The distinct activation matrices of one run on the int8 path and where their blocks go.
struct quant_job {
    const struct kern_ops *kern;
    int n;                                  // matrices
    const float *x[LINEAR_MAX_OPS];         // (n_tok[i], n_in[i]) F32
    struct block_q8_act *q[LINEAR_MAX_OPS]; // (n_tok[i], n_in[i] / 32) blocks
    int64_t n_in[LINEAR_MAX_OPS];
    int64_t first[LINEAR_MAX_OPS + 1]; // first row of matrix i in the run's row count
    _Atomic int64_t next;
};

static void quant_worker(void *vjob, int ith, int nth) {
    struct quant_job *j = vjob;
    (void)ith, (void)nth;
    const int64_t total = j->first[j->n];
    int i = 0;
    for (;;) {
        int64_t r = atomic_fetch_add(&j->next, LINEAR_QUANT_ROWS);
        if (r >= total) return;
        const int64_t end = JANUS_MIN(r + LINEAR_QUANT_ROWS, total);
        for (; r < end; r++) {
            while (r >= j->first[i + 1])
                i++;
            while (r < j->first[i])
                i--;
            const int64_t t = r - j->first[i], n_in = j->n_in[i];
            j->kern->quantize_act(j->q[i] + t * (n_in / QACT_BLOCK), j->x[i] + t * n_in, n_in);
        }
    }
}

// The int8 path of a run: for every product it applies to, points job->xq / xqu at the
// blocks of its activations, quantising each distinct matrix (same x, n_in, n_tok) once.
// Products whose weight type the table cannot compute in integers stay exact (warned once);
// all stay exact if the scratch cannot grow (warned).
static void many_quantise(const struct linear_ctx *c, const struct linear_op *ops, int n_ops,
                          struct many_job *job) {
    struct quant_job qj = {.kern = c->kern};
    int which[LINEAR_MAX_OPS];   // op -> matrix, -1: exact
    int64_t off[LINEAR_MAX_OPS]; // matrix -> its first block in the scratch
    int64_t blocks = 0;
    for (int i = 0; i < n_ops; i++) {
        const struct linear_op *op = &ops[i];
        which[i] = -1;
        int q = 0;
        for (int k = 0; k < 2; k++) {
            const struct wview *w = k ? op->wu : op->w;
            if (!w || !is_block_type(w->type) || op->n_tok == 0) continue;
            if (linear_uses_q8(c, w->type))
                q = 1;
            else
                warn_fallback(c, w->type);
        }
        if (!q) continue;
        const int64_t n_in = op->w->n_in;
        JANUS_ASSERT(n_in % QACT_BLOCK == 0);
        for (int m = 0; m < qj.n && which[i] < 0; m++)
            if (qj.x[m] == op->x && qj.n_in[m] == n_in &&
                qj.first[m + 1] - qj.first[m] == op->n_tok)
                which[i] = m;
        if (which[i] >= 0) continue;
        which[i] = qj.n;
        qj.x[qj.n] = op->x;
        qj.n_in[qj.n] = n_in;
        off[qj.n] = blocks;
        qj.first[qj.n + 1] = qj.first[qj.n] + op->n_tok;
        blocks += op->n_tok * (n_in / QACT_BLOCK);
        qj.n++;
    }
    if (qj.n == 0) return;
    if (q8_grow(c->q8, blocks) != JANUS_OK) {
        LOG_WARN("no memory for %lld int8 activation blocks: this product uses the exact path",
                 (long long)blocks);
        return;
    }
    for (int m = 0; m < qj.n; m++)
        qj.q[m] = c->q8->buf + off[m];
    atomic_init(&qj.next, 0);
    if (c->pool && qj.first[qj.n] > LINEAR_QUANT_ROWS &&
        blocks * QACT_BLOCK >= LINEAR_MIN_PARALLEL_QUANT)
        pool_run_dynamic(c->pool, quant_worker, &qj);
    else
        quant_worker(&qj, 0, 1);
    for (int i = 0; i < n_ops; i++) {
        if (which[i] < 0) continue;
        const struct block_q8_act *xq = qj.q[which[i]];
        job->xq[i] = linear_uses_q8(c, ops[i].w->type) ? xq : NULL;
        job->xqu[i] = ops[i].wu && linear_uses_q8(c, ops[i].wu->type) ? xq : NULL;
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
    if (c->path == LINEAR_INT8) many_quantise(c, ops, n_ops, &job);
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
