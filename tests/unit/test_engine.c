// Engine pieces on the fixture models: no allocation in the decode loop; the attention side
// and MoE side driven separately (two MoE contexts splitting the experts, partial sums
// added) equal the monolithic stepper; bad batches are rejected without effect; boundary
// cases of moe_experts (all tokens on one expert, experts with no tokens, empty batch);
// accuracy of the F16 / Q8_0 KV caches against F32 on every fixture model (issue 12 item 3);
// moe_experts_split folds in expert-id order (issue 16: the fixed-order return).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "engine/linear.h"
#include "engine/stepper.h"
#include "model/sampler.h"

#include <stdlib.h>

static int open_model(const char *name, struct model *m) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), name);
    int rc = model_load(m, path, err, sizeof err);
    if (rc) fprintf(stderr, "%s: %s\n", path, err);
    return rc;
}

static const int32_t prompt[6] = {1, 384, 263, 274, 322, 341};

static void check_no_malloc(const char *name, int n_threads) {
    struct model m;
    ASSERT_OK(open_model(name, &m));
    struct stepper st;
    struct stepper_params sp = {.max_tokens = 8, .n_seq = 2, .max_ctx = 32};
    ASSERT_OK(stepper_init(&st, &m, &sp));
    struct batch b;
    ASSERT_OK(batch_init(&b, 8));
    for (int i = 0; i < 6; i++)
        ASSERT_OK(batch_add(&b, prompt[i], 0, i, i == 5));
    ASSERT_OK(stepper_step(&st, &b));
    int32_t tok = sampler_greedy(stepper_logits(&st, NULL), m.hp.n_vocab);
    const uint64_t before = mem_alloc_count();
    for (int s = 0; s < 6; s++) { // decode seq 0 while prefilling seq 1 two tokens at a time
        batch_clear(&b);
        ASSERT_OK(batch_add(&b, tok, 0, 6 + s, 1));
        ASSERT_OK(batch_add(&b, prompt[(2 * s) % 6], 1, 2 * s, 0));
        ASSERT_OK(batch_add(&b, prompt[(2 * s + 1) % 6], 1, 2 * s + 1, 1));
        ASSERT_OK(stepper_step(&st, &b));
        tok = sampler_greedy(stepper_logits(&st, NULL), m.hp.n_vocab);
    }
    ASSERT_EQ(mem_alloc_count(), before);
    ASSERT_OK(kvcache_check(&st.attn.kv));
    batch_free(&b);
    stepper_free(&st);
    model_free(&m);
}

TEST(no_malloc_in_decode_llama) { check_no_malloc("llama-moe-f32", 1); }
TEST(no_malloc_in_decode_deepseek2) { check_no_malloc("deepseek2-v3g-f32", 1); }
TEST(no_malloc_in_decode_2_threads) { check_no_malloc("qwen2moe-f32", 2); }

// The thread count changes no bit of the logits (prefill of 6 + 2 decode steps).
TEST(threads_bit_identical) {
    static const char *const names[] = {"llama-moe-bf16", "qwen3moe-f32", "deepseek2-v2g-f32"};
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(names); k++) {
        struct model m;
        ASSERT_OK(open_model(names[k], &m));
        const int64_t V = m.hp.n_vocab;
        float *out[2];
        for (int t = 0; t < 2; t++) {
            struct stepper st;
            struct stepper_params sp = {
                .max_tokens = 6, .n_seq = 1, .max_ctx = 8, .n_threads = 1 + t};
            ASSERT_OK(stepper_init(&st, &m, &sp));
            st.lin.min_parallel = 0; // split even these tiny products across the pool
            struct batch b;
            ASSERT_OK(batch_init(&b, 6));
            for (int i = 0; i < 6; i++)
                ASSERT_OK(batch_add(&b, prompt[i], 0, i, 1));
            ASSERT_OK(stepper_step(&st, &b));
            for (int d = 0; d < 2; d++) {
                const int32_t tok = sampler_greedy(stepper_logits(&st, NULL) + 5 * V, V);
                batch_clear(&b);
                ASSERT_OK(batch_add(&b, tok, 0, 6 + d, 1));
                ASSERT_OK(stepper_step(&st, &b));
            }
            out[t] = malloc((size_t)V * sizeof(float));
            ASSERT(out[t]);
            memcpy(out[t], stepper_logits(&st, NULL), (size_t)V * sizeof(float));
            batch_free(&b);
            stepper_free(&st);
        }
        ASSERT_MEM_EQ(out[0], out[1], (size_t)V * sizeof(float));
        free(out[0]);
        free(out[1]);
        model_free(&m);
    }
}

// Attention side + two MoE contexts, each running half of the experts (even / odd ids),
// partials summed: equals the monolithic stepper within 1e-5.
static void check_split(const char *name) {
    struct model m;
    ASSERT_OK(open_model(name, &m));
    const int64_t V = m.hp.n_vocab, E = m.hp.n_embd, X = m.hp.n_expert;
    struct stepper st;
    struct stepper_params sp = {.max_tokens = 6, .n_seq = 1, .max_ctx = 6};
    ASSERT_OK(stepper_init(&st, &m, &sp));
    struct batch b;
    ASSERT_OK(batch_init(&b, 6));
    for (int i = 0; i < 6; i++)
        ASSERT_OK(batch_add(&b, prompt[i], 0, i, 1));
    ASSERT_OK(stepper_step(&st, &b));
    float *ref = malloc((size_t)(6 * V) * sizeof(float));
    ASSERT(ref);
    memcpy(ref, stepper_logits(&st, NULL), (size_t)(6 * V) * sizeof(float));

    struct linear_ctx lin;
    linear_ctx_init(&lin, NULL, 1);
    struct attn a;
    struct attn_params ap = {.max_tokens = 6, .n_seq = 1, .max_ctx = 6};
    struct moe mo[2];
    struct moe_routing rt[2];
    ASSERT_OK(attn_init(&a, &m, &lin, &ap));
    uint8_t *here[2];
    float *part[2];
    for (int g = 0; g < 2; g++) {
        ASSERT_OK(moe_init(&mo[g], &m, &lin, 6));
        ASSERT_OK(moe_routing_init(&rt[g], &m, 6));
        here[g] = calloc((size_t)X, 1);
        part[g] = malloc((size_t)(6 * E) * sizeof(float));
        for (int64_t e = 0; e < X; e++)
            here[g][e] = (uint8_t)(e % 2 == g);
    }
    float *sum = malloc((size_t)(6 * E) * sizeof(float));
    float *lg = malloc((size_t)(6 * V) * sizeof(float));
    ASSERT_OK(attn_step_begin(&a, &b));
    for (int64_t l = 0; l < m.hp.n_layer; l++) {
        if (!attn_layer_begin(&a, l)) continue;
        // the "exchange": each MoE instance gets a copy of x
        for (int g = 0; g < 2; g++) {
            moe_gate(&mo[g], l, attn_x(&a), 6, &rt[g]);
            moe_experts(&mo[g], l, attn_x(&a), 6, &rt[g], here[g], part[g]);
        }
        ASSERT_MEM_EQ(rt[0].ids, rt[1].ids, 6 * rt[0].k * sizeof(int32_t)); // same routing
        ASSERT_MEM_EQ(rt[0].w, rt[1].w, 6 * rt[0].k * sizeof(float));
        attn_layer_shared(&a, l);
        for (int64_t i = 0; i < 6 * E; i++)
            sum[i] = part[0][i] + part[1][i];
        attn_layer_end(&a, l, sum);
    }
    attn_logits(&a, lg);
    attn_step_end(&a);
    double d = 0;
    for (int64_t i = 0; i < 6 * V; i++)
        d = fmax(d, fabs((double)lg[i] - ref[i]));
    fprintf(stderr, "  %s split vs monolithic: %.3g\n", name, d);
    ASSERT_LE(d, 1e-5);
    for (int g = 0; g < 2; g++) {
        moe_free(&mo[g]);
        moe_routing_free(&rt[g]);
        free(here[g]);
        free(part[g]);
    }
    free(sum);
    free(lg);
    free(ref);
    attn_free(&a);
    linear_ctx_free(&lin);
    batch_free(&b);
    stepper_free(&st);
    model_free(&m);
}

TEST(split_attn_moe_qwen2moe) { check_split("qwen2moe-f32"); }
TEST(split_attn_moe_deepseek2) { check_split("deepseek2-v2g-f32"); }

TEST(bad_batches_rejected) {
    struct model m;
    ASSERT_OK(open_model("llama-moe-f32", &m));
    struct stepper st;
    struct stepper_params sp = {.max_tokens = 4, .n_seq = 2, .max_ctx = 4, .max_logits = 2};
    ASSERT_OK(stepper_init(&st, &m, &sp));
    struct batch b;
    ASSERT_OK(batch_init(&b, 8));
    ASSERT_OK(batch_add(&b, 1, 0, 1, 1)); // position 1 before 0
    ASSERT_EQ(stepper_step(&st, &b), JANUS_EINVAL);
    batch_clear(&b);
    ASSERT_OK(batch_add(&b, 768, 0, 0, 1)); // token out of range
    ASSERT_EQ(stepper_step(&st, &b), JANUS_EINVAL);
    batch_clear(&b);
    ASSERT_OK(batch_add(&b, 1, 2, 0, 1)); // seq slot out of range
    ASSERT_EQ(stepper_step(&st, &b), JANUS_EINVAL);
    batch_clear(&b);
    for (int i = 0; i < 5; i++)
        ASSERT_OK(batch_add(&b, 1, 0, i, 0)); // > max_tokens
    ASSERT_EQ(stepper_step(&st, &b), JANUS_EINVAL);
    batch_clear(&b);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(batch_add(&b, 1, i % 2, i / 2, 1)); // 3 logits > 2
    ASSERT_EQ(stepper_step(&st, &b), JANUS_ELIMIT);
    ASSERT_EQ(kvcache_seq_len(&st.attn.kv, 0), 0);
    // context full: 4 positions, then a 5th
    batch_clear(&b);
    for (int i = 0; i < 4; i++)
        ASSERT_OK(batch_add(&b, 1, 0, i, i == 3));
    ASSERT_OK(stepper_step(&st, &b));
    batch_clear(&b);
    ASSERT_OK(batch_add(&b, 1, 0, 4, 1));
    ASSERT_EQ(stepper_step(&st, &b), JANUS_ELIMIT);
    ASSERT_EQ(kvcache_seq_len(&st.attn.kv, 0), 4);
    // empty batch is fine
    batch_clear(&b);
    ASSERT_OK(stepper_step(&st, &b));
    ASSERT_OK(kvcache_check(&st.attn.kv));
    batch_free(&b);
    stepper_free(&st);
    model_free(&m);
}

// moe_experts boundary cases: all tokens on one expert; experts without tokens; n = 0;
// the grouped result equals a direct per-token computation.
TEST(moe_experts_grouping) {
    struct model m;
    ASSERT_OK(open_model("llama-moe-f32", &m));
    const int64_t E = m.hp.n_embd, k = m.hp.n_expert_used;
    struct linear_ctx lin;
    linear_ctx_init(&lin, kern_ref(), 1);
    struct moe mo;
    struct moe_routing rt;
    ASSERT_OK(moe_init(&mo, &m, &lin, 5));
    ASSERT_OK(moe_routing_init(&rt, &m, 5));
    float x[5 * 64], out[5 * 64], one[64];
    ASSERT_EQ(E, 64);
    for (int i = 0; i < 5 * 64; i++)
        x[i] = sinf((float)i * 0.37f);
    rt.n_tok = 5;
    for (int t = 0; t < 5; t++)
        for (int j = 0; j < k; j++) {
            rt.ids[t * k + j] = j == 0 ? 3 : 5 + (t % 2); // everyone on 3; 5/6 alternate
            rt.w[t * k + j] = 0.25f * (float)(j + 1);
        }
    moe_experts(&mo, 0, x, 5, &rt, NULL, out);
    // direct: one token at a time through the same routing
    struct moe_routing r1 = rt;
    for (int t = 0; t < 5; t++) {
        r1.n_tok = 1;
        r1.ids = rt.ids + t * k;
        r1.w = rt.w + t * k;
        moe_experts(&mo, 0, x + t * E, 1, &r1, NULL, one);
        for (int i = 0; i < E; i++)
            ASSERT_NEAR(out[t * E + i], one[i], 1e-6);
    }
    ASSERT_EQ(moe_n_active(&mo, &rt, NULL), 3);
    uint8_t none[8] = {0};
    moe_experts(&mo, 0, x, 5, &rt, none, out); // nothing runs here: all zero
    for (int i = 0; i < 5 * 64; i++)
        ASSERT_EQ(out[i], 0.0f);
    ASSERT_EQ(moe_n_active(&mo, &rt, none), 0);
    rt.n_tok = 0;
    moe_experts(&mo, 0, x, 0, &rt, NULL, out); // empty batch
    moe_routing_free(&rt);
    moe_free(&mo);
    linear_ctx_free(&lin);
    model_free(&m);
}

// moe_experts_split: for every fold mask that is a prefix of each token's experts in
// increasing id (what the fixed-order return asks), folding the singles afterwards, in id
// order with the same axpy, gives moe_experts' bits; pairs not folded leave out alone.
TEST(moe_experts_split_fold_order) {
    struct model m;
    ASSERT_OK(open_model("qwen2moe-f32", &m));
    const int64_t E = m.hp.n_embd, k = m.hp.n_expert_used, X = m.hp.n_expert, T = 6;
    ASSERT(k >= 3 && k <= 8 && E <= 256);
    struct linear_ctx lin;
    linear_ctx_init(&lin, kern_best(), 1);
    struct moe mo;
    struct moe_routing rt;
    ASSERT_OK(moe_init(&mo, &m, &lin, T));
    ASSERT_OK(moe_routing_init(&rt, &m, T));
    float *x = mem_calloc(MEM_TAG_MISC, (size_t)(T * E), sizeof(float));
    float *ref = mem_calloc(MEM_TAG_MISC, (size_t)(T * E), sizeof(float));
    float *out = mem_calloc(MEM_TAG_MISC, (size_t)(T * E), sizeof(float));
    float *single = mem_calloc(MEM_TAG_MISC, (size_t)(T * k * E), sizeof(float));
    ASSERT(x && ref && out && single);
    struct rng r;
    rng_init3(&r, 5, 6, 7);
    for (int64_t i = 0; i < T * E; i++)
        x[i] = rng_uniform_f(&r) * 2 - 1;
    rt.n_tok = T;
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < k; j++) { // distinct ids, not sorted: (7t + 5j) mod X
            rt.ids[t * k + j] = (int32_t)((7 * t + 5 * j) % X);
            rt.w[t * k + j] = 0.1f + rng_uniform_f(&r);
        }
    moe_experts(&mo, 0, x, T, &rt, NULL, ref);
    int32_t ord[6 * 8]; // per token, its routing indices by increasing id (insertion sort)
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < k; j++) {
            int64_t i = j;
            for (; i > 0 && rt.ids[t * k + ord[t * k + i - 1]] > rt.ids[t * k + j]; i--)
                ord[t * k + i] = ord[t * k + i - 1];
            ord[t * k + i] = (int32_t)j;
        }
    for (int64_t p = 0; p <= k; p++) { // fold the first p experts (by id) of every token
        uint8_t fold[6 * 8] = {0};
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < p; j++)
                fold[t * k + ord[t * k + j]] = 1;
        moe_experts_split(&mo, 0, x, T, &rt, NULL, fold, out, single);
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = p; j < k; j++) {
                const int32_t q = ord[t * k + j];
                lin.kern->axpy(out + t * E, rt.w[t * k + q], single + (t * k + q) * E, E);
            }
        ASSERT_MEM_EQ(out, ref, (size_t)(T * E) * sizeof(float));
    }
    mem_free(x);
    mem_free(ref);
    mem_free(out);
    mem_free(single);
    moe_routing_free(&rt);
    moe_free(&mo);
    linear_ctx_free(&lin);
    model_free(&m);
}

// A sequence's logits do not depend on what else is in the batch: bit for bit (each
// output element is one dot product; experts are summed per token in expert-id order).
static void check_batch_invariance(const char *name) {
    struct model m;
    ASSERT_OK(open_model(name, &m));
    const int64_t V = m.hp.n_vocab;
    struct stepper a, b;
    struct stepper_params sp = {.max_tokens = 12, .n_seq = 2, .max_ctx = 8};
    ASSERT_OK(stepper_init(&a, &m, &sp));
    ASSERT_OK(stepper_init(&b, &m, &sp));
    struct batch ba, bb;
    ASSERT_OK(batch_init(&ba, 12));
    ASSERT_OK(batch_init(&bb, 12));
    // a: seq 0 alone. b: seq 1 (other tokens) interleaved around seq 0's tokens.
    for (int i = 0; i < 6; i++) {
        ASSERT_OK(batch_add(&ba, prompt[i], 0, i, i == 5));
        ASSERT_OK(batch_add(&bb, prompt[5 - i] + 7, 1, i, i == 5));
        ASSERT_OK(batch_add(&bb, prompt[i], 0, i, i == 5));
    }
    ASSERT_OK(stepper_step(&a, &ba));
    ASSERT_OK(stepper_step(&b, &bb));
    int64_t na, nb;
    const float *la = stepper_logits(&a, &na), *lb = stepper_logits(&b, &nb);
    ASSERT_EQ(na, 1);
    ASSERT_EQ(nb, 2);
    ASSERT_MEM_EQ(la, lb + V, (size_t)V * sizeof(float)); // seq 0's row is the second
    batch_free(&ba);
    batch_free(&bb);
    stepper_free(&a);
    stepper_free(&b);
    model_free(&m);
}

TEST(batch_invariance_llama_q8_0) { check_batch_invariance("llama-moe-q8_0"); }
TEST(batch_invariance_qwen2moe) { check_batch_invariance("qwen2moe-f32"); }
TEST(batch_invariance_deepseek2) { check_batch_invariance("deepseek2-v3-f32"); }

// ---- KV cache types (issue 12 item 3): accuracy of F16 and Q8_0 against F32

// One fixture sequence under KV type kv_type: the prompt in one step, then 8 decode steps
// fed with `forced` (teacher forcing, NULL: its own greedy ids). Writes the 9 logit rows
// (prompt end + 8 steps) into lg (9·V) and the 8 greedy ids into ids.
static void run_kv(const struct model *m, int kv_type, const int32_t *toks, int n,
                   const int32_t *forced, float *lg, int32_t *ids) {
    const int64_t V = m->hp.n_vocab;
    struct stepper st;
    // The exact numeric path: the KV types' accuracy is measured against F32 arithmetic.
    struct stepper_params sp = {
        .max_tokens = n, .n_seq = 1, .max_ctx = n + 9, .kv_type = kv_type, .matmul = LINEAR_EXACT};
    ASSERT_OK(stepper_init(&st, m, &sp));
    struct batch b;
    ASSERT_OK(batch_init(&b, n));
    for (int i = 0; i < n; i++)
        ASSERT_OK(batch_add(&b, toks[i], 0, i, i == n - 1));
    for (int s = 0; s < 9; s++) {
        ASSERT_OK(stepper_step(&st, &b));
        memcpy(lg + s * V, stepper_logits(&st, NULL), (size_t)V * sizeof(float));
        if (s == 8) break;
        ids[s] = sampler_greedy(lg + s * V, V);
        batch_clear(&b);
        ASSERT_OK(batch_add(&b, forced ? forced[s] : ids[s], 0, n + s, 1));
    }
    batch_free(&b);
    stepper_free(&st);
}

// Every fixture model × its 3 sequences: max |Δlogit| against the F32 cache over the prompt's
// last position and 8 teacher-forced decode steps (the F32 run's greedy ids fed to both), and
// how many of the 8 free-running greedy ids equal F32's. Prints the table of
// docs/PERFORMANCE.md ("KV cache types"). Regression bounds, about 3x the largest values
// measured at 2026-12-06 (F16 1.6e-3, Q8_0 4.5e-2 against logits of magnitude ~4): F16
// keeps every greedy id (as measured), Q8_0 at least 22 of each model's 24 (24 measured).
TEST(kv_types_accuracy_vs_f32) {
    static const char *const names[] = {"llama-moe-f32",    "llama-moe-f16",    "llama-moe-bf16",
                                        "llama-moe-q8_0",   "qwen2moe-f32",     "qwen3moe-f32",
                                        "deepseek2-v2-f32", "deepseek2-v3-f32", "deepseek2-v2g-f32",
                                        "deepseek2-v3g-f32"};
    static const double bound[KERN_KV_COUNT] = {0, 5e-3, 0.15};
    printf("  %-18s %-5s %12s %12s %8s\n", "model", "kv", "max|dlogit|", "max|logit|", "greedy");
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(names); k++) {
        struct model m;
        ASSERT_OK(open_model(names[k], &m));
        const int64_t V = m.hp.n_vocab;
        float *ref = malloc((size_t)(9 * V) * sizeof(float));
        float *lg = malloc((size_t)(9 * V) * sizeof(float));
        double dmax[KERN_KV_COUNT] = {0}, lmax = 0;
        int agree[KERN_KV_COUNT] = {0};
        for (int n = 1; n <= 3; n++) {
            char path[512];
            int32_t toks[64], ids_ref[8], ids[8];
            snprintf(path, sizeof path, "%s/reference/%s.%d.tokens", test_fixtures_dir(), names[k],
                     n);
            const int nt = test_read_ints(path, toks, 64);
            ASSERT(nt > 0);
            run_kv(&m, KERN_KV_F32, toks, nt, NULL, ref, ids_ref);
            for (int64_t i = 0; i < 9 * V; i++)
                lmax = fabs(ref[i]) > lmax ? fabs(ref[i]) : lmax;
            for (int t = KERN_KV_F16; t < KERN_KV_COUNT; t++) {
                run_kv(&m, t, toks, nt, ids_ref, lg, ids); // teacher-forced: logits compare
                for (int64_t i = 0; i < 9 * V; i++) {
                    const double d = fabs((double)lg[i] - ref[i]);
                    dmax[t] = d > dmax[t] ? d : dmax[t];
                }
                run_kv(&m, t, toks, nt, NULL, lg, ids); // free-running greedy
                for (int s = 0; s < 8; s++)
                    agree[t] += ids[s] == ids_ref[s];
            }
        }
        for (int t = KERN_KV_F16; t < KERN_KV_COUNT; t++) {
            printf("  %-18s %-5s %12.3g %12.3g %5d/24\n", names[k], kern_kvtype_name(t), dmax[t],
                   lmax, agree[t]);
            ASSERT_LE(dmax[t], bound[t]);
        }
        ASSERT_EQ(agree[KERN_KV_F16], 24);
        ASSERT_LE(22, agree[KERN_KV_Q8_0]);
        free(ref);
        free(lg);
        model_free(&m);
    }
}

// Longer contexts than the fixtures' (≤ 20 positions): 240 random prompt tokens, then 32
// decode steps. max |Δlogit| against F32 over the teacher-forced steps (F32's greedy ids fed
// to both) and the free-running greedy ids equal to F32's before the first difference.
// Printed for docs/PERFORMANCE.md; bounds ~3x the values measured at 2026-12-06.
static void long_ctx_run(const struct model *m, int kv_type, const int32_t *toks, int n, int steps,
                         const int32_t *forced, float *lg, int32_t *ids) {
    const int64_t V = m->hp.n_vocab;
    struct stepper st;
    struct stepper_params sp = {
        .max_tokens = n, .n_seq = 1, .max_ctx = n + steps + 1, .kv_type = kv_type};
    ASSERT_OK(stepper_init(&st, m, &sp));
    struct batch b;
    ASSERT_OK(batch_init(&b, n));
    for (int i = 0; i < n; i++)
        ASSERT_OK(batch_add(&b, toks[i], 0, i, i == n - 1));
    for (int s = 0; s < steps; s++) {
        ASSERT_OK(stepper_step(&st, &b));
        memcpy(lg + s * V, stepper_logits(&st, NULL), (size_t)V * sizeof(float));
        ids[s] = sampler_greedy(lg + s * V, V);
        batch_clear(&b);
        ASSERT_OK(batch_add(&b, forced ? forced[s] : ids[s], 0, n + s, 1));
    }
    batch_free(&b);
    stepper_free(&st);
}

TEST(kv_types_long_context) {
    static const char *const names[] = {"llama-moe-f32", "qwen3moe-f32", "deepseek2-v2-f32"};
    static const double bound[KERN_KV_COUNT] = {0, 2e-3, 5e-2};
    enum { N = 240, S = 32 };
    struct rng g;
    rng_init(&g, 12);
    int32_t toks[N];
    for (int i = 0; i < N; i++)
        toks[i] = i == 0 ? 1 : 3 + (int32_t)rng_below(&g, 765);
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(names); k++) {
        struct model m;
        ASSERT_OK(open_model(names[k], &m));
        const int64_t V = m.hp.n_vocab;
        float *ref = malloc((size_t)(S * V) * sizeof(float));
        float *lg = malloc((size_t)(S * V) * sizeof(float));
        int32_t ids_ref[S], ids[S];
        long_ctx_run(&m, KERN_KV_F32, toks, N, S, NULL, ref, ids_ref);
        for (int t = KERN_KV_F16; t < KERN_KV_COUNT; t++) {
            long_ctx_run(&m, t, toks, N, S, ids_ref, lg, ids);
            double d = 0;
            for (int64_t i = 0; i < S * V; i++)
                d = fmax(d, fabs((double)lg[i] - ref[i]));
            long_ctx_run(&m, t, toks, N, S, NULL, lg, ids);
            int same = 0;
            while (same < S && ids[same] == ids_ref[same])
                same++;
            printf("  %-18s %-5s 240+32 positions: max|dlogit| %.3g, greedy %d/%d before the first "
                   "difference\n",
                   names[k], kern_kvtype_name(t), d, same, S);
            ASSERT_LE(d, bound[t]);
        }
        free(ref);
        free(lg);
        model_free(&m);
    }
}
