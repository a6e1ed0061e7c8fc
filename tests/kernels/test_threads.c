// The threaded engine (engine/linear.c over base/pool): logits are bit-identical for 1, 2
// and 3 threads on fixture models of every architecture and weight type (every product
// threaded: min_parallel = 0), with every table the CPU runs (ref, avx2, avx512); and a decode
// step with a pool performs no allocation after warm-up (SPEC §3, §9).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include <stdlib.h>

#include "base/mem.h"
#include "engine/stepper.h"
#include "model/sampler.h"

static const int32_t prompt[6] = {1, 384, 263, 274, 322, 341};

static int open_model(const char *name, struct model *m) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), name);
    int rc = model_load(m, path, err, sizeof err);
    if (rc) fprintf(stderr, "%s: %s\n", path, err);
    return rc;
}

// Runs a 6-token prompt then 4 greedy decode steps with n_threads; copies every step's
// last-row logits into out (5 rows of V). Returns 0 on success.
static int run_model(const struct model *m, const struct kern_ops *k, int n_threads, float *out) {
    struct stepper st;
    struct stepper_params sp = {
        .max_tokens = 8, .n_seq = 1, .max_ctx = 16, .n_threads = n_threads, .kern = k};
    if (stepper_init(&st, m, &sp)) return 1;
    st.lin.min_parallel = 0;
    struct batch b;
    if (batch_init(&b, 8)) return 1;
    const int64_t V = m->hp.n_vocab;
    int rc = 0;
    for (int i = 0; i < 6; i++)
        rc |= batch_add(&b, prompt[i], 0, i, i == 5);
    for (int s = 0; s < 5 && !rc; s++) {
        rc = stepper_step(&st, &b);
        if (rc) break;
        const float *lg = stepper_logits(&st, NULL);
        memcpy(out + s * V, lg, (size_t)V * sizeof(float));
        int32_t tok = sampler_greedy(lg, V);
        batch_clear(&b);
        rc = batch_add(&b, tok, 0, 6 + s, 1);
    }
    batch_free(&b);
    stepper_free(&st);
    return rc;
}

static void check_thread_invariance(const char *name) {
    struct model m;
    ASSERT_OK(open_model(name, &m));
    const int64_t V = m.hp.n_vocab;
    float *a = malloc(sizeof(float) * 5 * V), *b = malloc(sizeof(float) * 5 * V);
    static const char *const names[] = {"ref", "avx2", "avx512"};
    for (int t = 0; t < 3; t++) {
        const struct kern_ops *k = kern_by_name(names[t]);
        if (!k) {
            printf("  (no %s table on this build/CPU: skipped)\n", names[t]);
            continue;
        }
        ASSERT_OK(run_model(&m, k, 1, a));
        for (int n = 2; n <= 3; n++) {
            memset(b, 0, sizeof(float) * 5 * V);
            ASSERT_OK(run_model(&m, k, n, b));
            if (memcmp(a, b, sizeof(float) * 5 * V) != 0)
                TEST_FAIL_("%s (%s): logits with %d threads differ from 1 thread", name, k->name,
                           n);
        }
    }
    free(a);
    free(b);
    model_free(&m);
}

TEST(threads_bit_identical_llama_f32) { check_thread_invariance("llama-moe-f32"); }
TEST(threads_bit_identical_llama_f16) { check_thread_invariance("llama-moe-f16"); }
TEST(threads_bit_identical_llama_bf16) { check_thread_invariance("llama-moe-bf16"); }
TEST(threads_bit_identical_llama_q8_0) { check_thread_invariance("llama-moe-q8_0"); }
TEST(threads_bit_identical_qwen2moe) { check_thread_invariance("qwen2moe-f32"); }
TEST(threads_bit_identical_deepseek2) { check_thread_invariance("deepseek2-v3g-f32"); }

TEST(threads_no_malloc_in_decode) {
    struct model m;
    ASSERT_OK(open_model("llama-moe-f16", &m));
    struct stepper st;
    struct stepper_params sp = {.max_tokens = 8, .n_seq = 1, .max_ctx = 32, .n_threads = 2};
    ASSERT_OK(stepper_init(&st, &m, &sp));
    ASSERT_EQ(st.lin.n_threads, 2);
    st.lin.min_parallel = 0;
    struct batch b;
    ASSERT_OK(batch_init(&b, 8));
    for (int i = 0; i < 6; i++)
        ASSERT_OK(batch_add(&b, prompt[i], 0, i, i == 5));
    ASSERT_OK(stepper_step(&st, &b));
    int32_t tok = sampler_greedy(stepper_logits(&st, NULL), m.hp.n_vocab);
    const uint64_t before = mem_alloc_count();
    for (int s = 0; s < 8; s++) {
        batch_clear(&b);
        ASSERT_OK(batch_add(&b, tok, 0, 6 + s, 1));
        ASSERT_OK(stepper_step(&st, &b));
        tok = sampler_greedy(stepper_logits(&st, NULL), m.hp.n_vocab);
    }
    ASSERT_EQ(mem_alloc_count(), before);
    batch_free(&b);
    stepper_free(&st);
    model_free(&m);
}
