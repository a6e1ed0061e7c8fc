// The one entry point for every matrix product of the engine: y = W·x for n_tok rows.
// All layers call linear(), so parallelising the kernels (a thread pool splitting output
// rows) happens in this one place (kernels helper). Each output element's value is
// independent of the row split (kernels.h), so results do not depend on the thread count.
// SPDX-License-Identifier: MIT
#ifndef JANUS_LINEAR_H
#define JANUS_LINEAR_H

#include "kernels/kernels.h"
#include "model/weights.h"

#include <stdint.h>

struct pool;

// Execution context shared by the attention and MoE sides of one process.
struct linear_ctx {
    const struct kern_ops *kern; // kernel table (kern_best() or kern_ref())
    int n_threads;               // threads actually used (1 = serial)
    struct pool *pool;           // thread pool (owned), NULL = run on the calling thread
    int64_t min_parallel;        // products under this many multiply-adds run on the caller
};

// Fills c for n_threads threads with kern (NULL: kern_best()). With n_threads > 1 it
// creates the thread pool once (base/pool.h); if that fails it logs a warning and runs
// serially (results are the same: they do not depend on the thread count).
void linear_ctx_init(struct linear_ctx *c, const struct kern_ops *kern, int n_threads);
// Stops the pool. NULL-safe and idempotent; c is serial afterwards.
void linear_ctx_free(struct linear_ctx *c);

// y (n_tok, ldy) columns [0, w->n_out) = x (n_tok, w->n_in) · Wᵀ. ldy >= w->n_out.
// With a pool the output rows are handed to the threads in chunks (multiples of 4 rows) from
// an atomic counter; each element is computed by exactly one thread with the same code, so
// y is bit-identical for every thread count and every assignment of chunks.
// No allocation. Not thread-safe per ctx (one caller at a time).
void linear(const struct linear_ctx *c, float *y, int64_t ldy, const struct wview *w,
            const float *x, int64_t n_tok);

// One product of a linear_many() call: y (n_tok, ldy) = x (n_tok, w->n_in) · Wᵀ. With wu
// set it is a gated pair sharing x: y = silu(x·Wᵀ) ⊙ (x·Wuᵀ) (SwiGLU), u (n_tok, ldy) is
// scratch for x·Wuᵀ and wu->n_out == w->n_out.
struct linear_op {
    float *y;
    int64_t ldy;
    const struct wview *w;
    const float *x;
    int64_t n_tok;
    const struct wview *wu; // NULL: plain product
    float *u;
};

#define LINEAR_MAX_OPS 64

// Runs n_ops <= LINEAR_MAX_OPS independent products as one pool run (row chunks of every
// product from one counter), so many small products — the experts of an MoE layer — cost
// one wake-up and one barrier instead of one each, and the threads stream without gaps.
// Every y element is bit-identical to what linear() (plus kern->swiglu for a pair) gives.
void linear_many(const struct linear_ctx *c, const struct linear_op *ops, int n_ops);

#endif // JANUS_LINEAR_H
