// The one entry point for every matrix product of the engine: y = W·x for n_tok rows.
// All layers call linear(), so parallelising the kernels (a thread pool splitting output
// rows) happens in this one place (kernels helper). Each output element's value is
// independent of the row split (kernels.h), so results do not depend on the thread count.
// SPDX-License-Identifier: MIT
#ifndef JANUS_LINEAR_H
#define JANUS_LINEAR_H

#include "base/base.h"
#include "kernels/kernels.h"
#include "model/weights.h"

#include <stdint.h>

struct pool;

// The numeric path of products with block-quantized weights (issue 13 item 2; F32, F16 and
// BF16 weights always take the exact path):
//   LINEAR_EXACT  F32 activations, every weight decoded exactly (kern_ops.matmul);
//   LINEAR_INT8   activations quantised per block of 32 to int8 (kern_ops.quantize_act,
//                 struct block_q8_act), integer dot products inside each block
//                 (kern_ops.matmul_q8), as llama.cpp's CPU backend computes.
// 0 (LINEAR_PATH_DEFAULT) in a parameter struct stands for LINEAR_PATH_DEFAULT_IS, the one
// default every command, the C API and every MPI rank resolve it to. Accuracy of each and
// the rules: docs/PERFORMANCE.md, "Numeric paths".
enum linear_path { LINEAR_PATH_DEFAULT = 0, LINEAR_EXACT = 1, LINEAR_INT8 = 2, LINEAR_PATH_COUNT };
#define LINEAR_PATH_DEFAULT_IS   LINEAR_INT8
#define LINEAR_PATH_DEFAULT_NAME "int8" // its name, for help texts (test_engine checks it)

// "exact", "int8" (LINEAR_PATH_DEFAULT: the default's name); NULL outside the enum.
const char *linear_path_name(int path);
// The path called name ("exact", "int8"), or -1.
int linear_path_parse(const char *name);
// LINEAR_PATH_DEFAULT_IS for LINEAR_PATH_DEFAULT, else path itself.
int linear_path_resolve(int path);

struct linear_q8; // the int8 path's activation scratch (linear.c)

// Execution context shared by the attention and MoE sides of one process.
struct linear_ctx {
    const struct kern_ops *kern; // kernel table (kern_best() or kern_ref())
    int n_threads;               // threads actually used (1 = serial)
    struct pool *pool;           // thread pool (owned), NULL = run on the calling thread
    int64_t min_parallel;        // products under this many multiply-adds run on the caller
    int path;                    // LINEAR_EXACT or LINEAR_INT8 (never the 0 placeholder)
    struct linear_q8 *q8;        // owned; int8 activation blocks, grown as needed (mutable
                                 // scratch behind a const ctx: one caller at a time)
};

// Fills c for n_threads threads with kern (NULL: kern_best()) on the default numeric path.
// With n_threads > 1 it creates the thread pool once (base/pool.h); if that fails it logs a
// warning and runs serially (results are the same: they do not depend on the thread count).
void linear_ctx_init(struct linear_ctx *c, const struct kern_ops *kern, int n_threads);
// Selects the numeric path (enum linear_path; LINEAR_PATH_DEFAULT: the default). Set it
// before the engine contexts reserve their scratch (attn_init, moe_init). JANUS_OK, or
// JANUS_EINVAL for a value outside the enum (c unchanged).
JANUS_WUR int linear_ctx_set_path(struct linear_ctx *c, int path);
// On the int8 path: makes room for n_values activations quantised at once (the largest sum
// of distinct activation matrices of one linear_many call), so steps allocate nothing.
// No-op on the exact path. JANUS_OK or JANUS_ENOMEM.
JANUS_WUR int linear_reserve(const struct linear_ctx *c, int64_t n_values);
// Whether a product with weights of type wtype runs on the integer path under c: the int8
// path, a block-quantized type and a table with matmul_q8 for it and quantize_act. A table
// without them computes those products exactly (one warning per type and process).
int linear_uses_q8(const struct linear_ctx *c, int wtype);
// Stops the pool and frees the scratch. NULL-safe and idempotent; c is serial afterwards.
void linear_ctx_free(struct linear_ctx *c);

// y (n_tok, ldy) columns [0, w->n_out) = x (n_tok, w->n_in) · Wᵀ. ldy >= w->n_out.
// On the int8 path (linear_uses_q8) x is quantised once per call, before the rows are split,
// and every chunk runs kern->matmul_q8 on those blocks.
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
// On the int8 path each distinct activation matrix (same x, n_in and n_tok) of the run is
// quantised once, before the pool splits rows (a gate/up pair, or q/k/v, share one copy).
void linear_many(const struct linear_ctx *c, const struct linear_op *ops, int n_ops);

#endif // JANUS_LINEAR_H
