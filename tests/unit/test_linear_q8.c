// The int8 numeric path of engine/linear.c (issue 13 item 2), against kernel tables built
// here so it does not depend on which integer kernels exist: linear() hands matmul_q8 the
// activation blocks quant_act_row gives, quantises each distinct activation matrix once per
// run (a gate/up pair and products sharing x reuse one copy), is bit-identical for any thread
// count, allocates nothing once reserved, and falls back to the exact product (bit for bit)
// where the table has no integer product for the weight type. Path names and the default.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "engine/linear.h"
#include "kernels/quant.h"
#include "kernels/types.h"

#include <stdatomic.h>
#include <stdlib.h>

static _Atomic int64_t g_quant_rows; // rows quantize_act was called on

static void counting_quantize_act(struct block_q8_act *y, const float *x, int64_t n) {
    atomic_fetch_add(&g_quant_rows, 1);
    quant_act_row(y, x, n);
}

// A plain scalar integer product for Q8_0 weights: per block d_w·d_x·Σ q_w·q_x, blocks
// summed in order (the test's own definition; the real kernels are tests/kernels').
static void test_matmul_q8_0(float *y, int64_t ldy, const void *w, const struct block_q8_act *xq,
                             int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1) {
    const int64_t nb = n_in / QACT_BLOCK;
    const struct block_q8_0 *W = w;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = r0; r < r1; r++) {
            float s = 0;
            for (int64_t b = 0; b < nb; b++) {
                const struct block_q8_0 *wb = &W[r * nb + b];
                const struct block_q8_act *xb = &xq[t * nb + b];
                int32_t acc = 0;
                for (int i = 0; i < QACT_BLOCK; i++)
                    acc += (int32_t)wb->qs[i] * xb->qs[i];
                s += fp16_to_fp32(wb->d) * xb->d * (float)acc;
            }
            y[t * ldy + r] = s;
        }
}

// kern_ref() with the integer path of this file (q8: with or without matmul_q8 for Q8_0).
static struct kern_ops table(int q8) {
    struct kern_ops k = *kern_ref();
    k.name = q8 ? "test-int8" : "test-no-int8";
    for (int t = 0; t < KERN_W_COUNT; t++)
        k.matmul_q8[t] = NULL;
    k.quantize_act = counting_quantize_act;
    if (q8) k.matmul_q8[KERN_W_Q8_0] = test_matmul_q8_0;
    return k;
}

struct qmat {
    struct wview w;
    struct block_q8_0 *blocks;
    float *f32; // the same values as F32 weights (another view)
    struct wview wf;
};

static void qmat_make(struct qmat *m, struct rng *g, int64_t n_out, int64_t n_in) {
    m->blocks = mem_alloc(MEM_TAG_MISC, (size_t)(n_out * n_in / 32) * sizeof *m->blocks);
    m->f32 = mem_alloc(MEM_TAG_MISC, (size_t)(n_out * n_in) * sizeof(float));
    for (int64_t i = 0; i < n_out * n_in; i++)
        m->f32[i] = (float)rng_normal(g);
    for (int64_t r = 0; r < n_out; r++)
        q8_0_quantize_row(m->blocks + r * (n_in / 32), m->f32 + r * n_in, n_in);
    m->w = (struct wview){m->blocks, KERN_W_Q8_0, n_in, n_out, (size_t)(n_in / 32) * 34};
    m->wf = (struct wview){m->f32, KERN_W_F32, n_in, n_out, (size_t)n_in * 4};
}

static void qmat_free(struct qmat *m) {
    mem_free(m->blocks);
    mem_free(m->f32);
}

static float *randv(struct rng *g, int64_t n) {
    float *v = mem_alloc(MEM_TAG_MISC, (size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)rng_normal(g);
    return v;
}

TEST(path_names_and_default) {
    ASSERT_STR_EQ(linear_path_name(LINEAR_EXACT), "exact");
    ASSERT_STR_EQ(linear_path_name(LINEAR_INT8), "int8");
    ASSERT_STR_EQ(linear_path_name(LINEAR_PATH_DEFAULT), LINEAR_PATH_DEFAULT_NAME);
    ASSERT_STR_EQ(linear_path_name(LINEAR_PATH_DEFAULT_IS), LINEAR_PATH_DEFAULT_NAME);
    ASSERT(linear_path_name(LINEAR_PATH_COUNT) == NULL);
    ASSERT(linear_path_name(-1) == NULL);
    for (int p = 1; p < LINEAR_PATH_COUNT; p++)
        ASSERT_EQ(linear_path_parse(linear_path_name(p)), p);
    ASSERT_EQ(linear_path_parse("INT8"), -1);
    ASSERT_EQ(linear_path_parse("default"), -1);
    ASSERT_EQ(linear_path_parse(NULL), -1);
    ASSERT_EQ(linear_path_resolve(LINEAR_PATH_DEFAULT), LINEAR_PATH_DEFAULT_IS);
    ASSERT_EQ(linear_path_resolve(LINEAR_INT8), LINEAR_INT8);
    ASSERT_EQ(linear_path_resolve(LINEAR_EXACT), LINEAR_EXACT);
    struct linear_ctx c;
    linear_ctx_init(&c, kern_ref(), 1);
    ASSERT_EQ(c.path, LINEAR_PATH_DEFAULT_IS);
    ASSERT_EQ(linear_ctx_set_path(&c, LINEAR_INT8), JANUS_OK);
    ASSERT_EQ(c.path, LINEAR_INT8);
    ASSERT_EQ(linear_ctx_set_path(&c, 3), JANUS_EINVAL);
    ASSERT_EQ(linear_ctx_set_path(&c, -1), JANUS_EINVAL);
    ASSERT_EQ(c.path, LINEAR_INT8);
    ASSERT_EQ(linear_ctx_set_path(&c, LINEAR_PATH_DEFAULT), JANUS_OK);
    ASSERT_EQ(c.path, LINEAR_PATH_DEFAULT_IS);
    linear_ctx_free(&c);
}

// linear() on the int8 path equals matmul_q8 on quant_act_row's blocks of x, bit for bit,
// and differs from the exact product; F32 weights stay exact (nothing quantised).
TEST(int8_path_uses_quantised_activations) {
    struct rng g;
    rng_init(&g, 5);
    const int64_t n_in = 96, n_out = 37, n_tok = 5;
    struct qmat m;
    qmat_make(&m, &g, n_out, n_in);
    float *x = randv(&g, n_tok * n_in);
    float *y = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * n_out), sizeof(float));
    float *ref = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * n_out), sizeof(float));
    float *ex = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * n_out), sizeof(float));
    struct block_q8_act *xq = mem_alloc(MEM_TAG_MISC, (size_t)(n_tok * n_in / 32) * sizeof *xq);
    for (int64_t t = 0; t < n_tok; t++)
        quant_act_row(xq + t * (n_in / 32), x + t * n_in, n_in);
    test_matmul_q8_0(ref, n_out, m.blocks, xq, n_in, n_tok, 0, n_out);
    const struct kern_ops k = table(1);
    struct linear_ctx c;
    linear_ctx_init(&c, &k, 1);
    ASSERT_EQ(linear_ctx_set_path(&c, LINEAR_EXACT), JANUS_OK);
    linear(&c, ex, n_out, &m.w, x, n_tok);
    ASSERT_EQ(linear_ctx_set_path(&c, LINEAR_INT8), JANUS_OK);
    ASSERT(linear_uses_q8(&c, KERN_W_Q8_0));
    ASSERT(!linear_uses_q8(&c, KERN_W_F32) && !linear_uses_q8(&c, KERN_W_F16));
    ASSERT(!linear_uses_q8(&c, KERN_W_Q4_K)); // no integer product for it in this table
    atomic_store(&g_quant_rows, 0);
    linear(&c, y, n_out, &m.w, x, n_tok);
    ASSERT_EQ(atomic_load(&g_quant_rows), n_tok);
    ASSERT(!memcmp(y, ref, (size_t)(n_tok * n_out) * sizeof(float)));
    double d = 0;
    for (int64_t i = 0; i < n_tok * n_out; i++)
        d = fmax(d, fabs((double)y[i] - ex[i]));
    ASSERT(d > 0); // another computation than the exact path
    ASSERT_LT(d, 0.5);
    // F32 weights: exact, no activation quantised.
    float *yf = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * n_out), sizeof(float));
    float *yf_ref = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * n_out), sizeof(float));
    atomic_store(&g_quant_rows, 0);
    linear(&c, yf, n_out, &m.wf, x, n_tok);
    ASSERT_EQ(atomic_load(&g_quant_rows), 0);
    k.matmul[KERN_W_F32](yf_ref, n_out, m.f32, x, n_in, n_tok, 0, n_out);
    ASSERT(!memcmp(yf, yf_ref, (size_t)(n_tok * n_out) * sizeof(float)));
    linear_ctx_free(&c);
    mem_free(yf), mem_free(yf_ref), mem_free(xq), mem_free(x), mem_free(y), mem_free(ref);
    mem_free(ex);
    qmat_free(&m);
}

// One run of several products: x quantised once for a gate/up pair plus a third product on
// the same x, once for another matrix x2; the same bits with 1 and 3 threads; nothing
// allocated after linear_reserve; pair outputs = silu(gate) ⊙ up of the single products.
TEST(int8_quantises_each_distinct_matrix_once) {
    struct rng g;
    rng_init(&g, 9);
    const int64_t n_in = 64, F = 45, n_tok = 7;
    struct qmat wg, wu, w3, w4;
    qmat_make(&wg, &g, F, n_in);
    qmat_make(&wu, &g, F, n_in);
    qmat_make(&w3, &g, 19, n_in);
    qmat_make(&w4, &g, 23, n_in);
    float *x = randv(&g, n_tok * n_in), *x2 = randv(&g, n_tok * n_in);
    const struct kern_ops k = table(1);
    float *out[2][5];
    for (int run = 0; run < 2; run++) {
        struct linear_ctx c;
        linear_ctx_init(&c, &k, run == 0 ? 1 : 3);
        c.min_parallel = 0;
        ASSERT_EQ(linear_ctx_set_path(&c, LINEAR_INT8), JANUS_OK);
        ASSERT_EQ(linear_reserve(&c, 2 * n_tok * n_in), JANUS_OK);
        for (int i = 0; i < 5; i++)
            out[run][i] = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * F), sizeof(float));
        const struct linear_op ops[3] = {
            {.y = out[run][0],
             .ldy = F,
             .w = &wg.w,
             .x = x,
             .n_tok = n_tok,
             .wu = &wu.w,
             .u = out[run][1]},
            {.y = out[run][2], .ldy = 19, .w = &w3.w, .x = x, .n_tok = n_tok},
            {.y = out[run][3], .ldy = 23, .w = &w4.w, .x = x2, .n_tok = n_tok}};
        atomic_store(&g_quant_rows, 0);
        const uint64_t allocs = mem_alloc_count();
        linear_many(&c, ops, 3);
        ASSERT_EQ(mem_alloc_count(), allocs);
        ASSERT_EQ(atomic_load(&g_quant_rows), 2 * n_tok);
        // The gate of the pair, alone: silu(gate) ⊙ up must equal the pair's output.
        linear(&c, out[run][4], F, &wg.w, x, n_tok);
        float *up = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * F), sizeof(float));
        linear(&c, up, F, &wu.w, x, n_tok);
        for (int64_t t = 0; t < n_tok; t++)
            k.swiglu(out[run][4] + t * F, out[run][4] + t * F, up + t * F, F);
        ASSERT(!memcmp(out[run][4], out[run][0], (size_t)(n_tok * F) * sizeof(float)));
        mem_free(up);
        linear_ctx_free(&c);
    }
    ASSERT(!memcmp(out[0][0], out[1][0], (size_t)(n_tok * F) * sizeof(float)));
    ASSERT(!memcmp(out[0][2], out[1][2], (size_t)(n_tok * 19) * sizeof(float)));
    ASSERT(!memcmp(out[0][3], out[1][3], (size_t)(n_tok * 23) * sizeof(float)));
    for (int run = 0; run < 2; run++)
        for (int i = 0; i < 5; i++)
            mem_free(out[run][i]);
    mem_free(x), mem_free(x2);
    qmat_free(&wg), qmat_free(&wu), qmat_free(&w3), qmat_free(&w4);
}

// Large enough for the pool to split the quantisation itself: the same bits as one thread.
TEST(int8_parallel_quantisation_same_bits) {
    struct rng g;
    rng_init(&g, 13);
    const int64_t n_in = 1024, n_out = 64, n_tok = 80; // 81920 values >= the parallel cut
    struct qmat m;
    qmat_make(&m, &g, n_out, n_in);
    float *x = randv(&g, n_tok * n_in);
    const struct kern_ops k = table(1);
    float *y[2];
    for (int run = 0; run < 2; run++) {
        struct linear_ctx c;
        linear_ctx_init(&c, &k, run == 0 ? 1 : 2);
        c.min_parallel = 0;
        ASSERT_EQ(linear_ctx_set_path(&c, LINEAR_INT8), JANUS_OK);
        y[run] = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * n_out), sizeof(float));
        atomic_store(&g_quant_rows, 0);
        linear(&c, y[run], n_out, &m.w, x, n_tok);
        ASSERT_EQ(atomic_load(&g_quant_rows), n_tok);
        linear_ctx_free(&c);
    }
    ASSERT(!memcmp(y[0], y[1], (size_t)(n_tok * n_out) * sizeof(float)));
    mem_free(y[0]), mem_free(y[1]), mem_free(x);
    qmat_free(&m);
}

// A table without an integer product for the weight type: the int8 path computes it
// exactly, bit for bit (and warns once), quantising nothing.
TEST(int8_without_matmul_q8_falls_back_to_exact) {
    struct rng g;
    rng_init(&g, 17);
    const int64_t n_in = 128, n_out = 29, n_tok = 6;
    struct qmat m;
    qmat_make(&m, &g, n_out, n_in);
    float *x = randv(&g, n_tok * n_in);
    float *y = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * n_out), sizeof(float));
    float *ex = mem_calloc(MEM_TAG_MISC, (size_t)(n_tok * n_out), sizeof(float));
    const struct kern_ops k = table(0);
    struct linear_ctx c;
    linear_ctx_init(&c, &k, 2);
    c.min_parallel = 0;
    linear(&c, ex, n_out, &m.w, x, n_tok);
    ASSERT_EQ(linear_ctx_set_path(&c, LINEAR_INT8), JANUS_OK);
    ASSERT(!linear_uses_q8(&c, KERN_W_Q8_0));
    atomic_store(&g_quant_rows, 0);
    for (int rep = 0; rep < 2; rep++) { // the second call: no second warning (not checked)
        linear(&c, y, n_out, &m.w, x, n_tok);
        ASSERT(!memcmp(y, ex, (size_t)(n_tok * n_out) * sizeof(float)));
    }
    ASSERT_EQ(atomic_load(&g_quant_rows), 0);
    // A table without quantize_act at all: the same.
    struct kern_ops k2 = table(1);
    k2.quantize_act = NULL;
    c.kern = &k2;
    ASSERT(!linear_uses_q8(&c, KERN_W_Q8_0));
    memset(y, 0, (size_t)(n_tok * n_out) * sizeof(float));
    linear(&c, y, n_out, &m.w, x, n_tok);
    ASSERT(!memcmp(y, ex, (size_t)(n_tok * n_out) * sizeof(float)));
    linear_ctx_free(&c);
    mem_free(x), mem_free(y), mem_free(ex);
    qmat_free(&m);
}
