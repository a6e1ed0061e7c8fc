// Golden tests (fixtures README §1, §6): every fixture model × its 3 sequences, last-position
// logits within tolerance of the float64 reference (F32/F16/BF16 1e-3, Q8_0 1e-1), same
// argmax, and the 8 greedy ids (prefill, then feed back 7 one token at a time). Also: the
// sequences of a model run together in one batch (prefill chunks mixed with decode tokens
// of other sequences) give the same results; incremental decoding equals one-shot prefill;
// malformed models give errors naming the problem.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/status.h"
#include "engine/stepper.h"
#include "model/genmodel.h"
#include "model/gguf.h"
#include "model/sampler.h"
#include "model/weights.h"

#include <stdlib.h>

#define MAX_TOK  64
#define N_GREEDY 8

struct fixture_seq {
    int32_t tokens[MAX_TOK];
    int n_tokens;
    int32_t greedy[N_GREEDY];
    float *logits; // (V) reference
    int64_t n_vocab;
};

// Loads reference sequence n of model name. Returns 0 or -1.
static int load_seq(const char *name, int n, int64_t n_vocab, struct fixture_seq *s) {
    char path[512];
    const char *dir = test_fixtures_dir();
    snprintf(path, sizeof path, "%s/reference/%s.%d.tokens", dir, name, n);
    s->n_tokens = test_read_ints(path, s->tokens, MAX_TOK);
    snprintf(path, sizeof path, "%s/reference/%s.%d.greedy", dir, name, n);
    if (s->n_tokens < 1 || test_read_ints(path, s->greedy, N_GREEDY) != N_GREEDY) return -1;
    s->logits = malloc((size_t)n_vocab * sizeof(float));
    s->n_vocab = n_vocab;
    snprintf(path, sizeof path, "%s/reference/%s.%d.logits", dir, name, n);
    if (!s->logits || test_read_floats(path, s->logits, n_vocab) != n_vocab) return -1;
    return 0;
}

static int open_model(const char *name, struct model *m) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), name);
    int rc = model_load(m, path, err, sizeof err);
    if (rc != JANUS_OK) fprintf(stderr, "model_load %s: %s\n", path, err);
    return rc;
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double mx = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= mx)) mx = d; // NaN propagates as "large"
    }
    return mx;
}

// One-shot prefill of tokens as seq 0 of a fresh stepper: last-position logits into out.
static int run_oneshot_k(const struct model *m, const int32_t *tok, int n, float *out,
                         const struct kern_ops *kern) {
    struct stepper st;
    struct stepper_params sp = {
        .max_tokens = n, .n_seq = 1, .max_ctx = n, .max_logits = 1, .kern = kern};
    struct batch b;
    int rc = stepper_init(&st, m, &sp);
    if (rc != JANUS_OK) return rc;
    rc = batch_init(&b, n);
    for (int i = 0; rc == JANUS_OK && i < n; i++)
        rc = batch_add(&b, tok[i], 0, i, i == n - 1);
    if (rc == JANUS_OK) rc = stepper_step(&st, &b);
    if (rc == JANUS_OK)
        memcpy(out, stepper_logits(&st, NULL), (size_t)m->hp.n_vocab * sizeof(float));
    batch_free(&b);
    stepper_free(&st);
    return rc;
}

static int run_oneshot(const struct model *m, const int32_t *tok, int n, float *out) {
    return run_oneshot_k(m, tok, n, out, NULL);
}

// Checks one model against its 3 reference sequences.
static void check_model(const char *name, double tol) {
    struct model m;
    ASSERT_OK(open_model(name, &m));
    const int64_t V = m.hp.n_vocab;
    float *lg = malloc((size_t)V * sizeof(float));
    ASSERT(lg);
    for (int n = 1; n <= 3; n++) {
        struct fixture_seq s;
        ASSERT_EQ(load_seq(name, n, V, &s), 0);
        // logits and argmax (one-shot prefill)
        ASSERT_OK(run_oneshot(&m, s.tokens, s.n_tokens, lg));
        const double d = max_abs_diff(lg, s.logits, V);
        fprintf(stderr, "  %s.%d max|dlogit| = %.3g (tol %g)\n", name, n, d, tol);
        ASSERT_LE(d, tol);
        ASSERT_EQ(sampler_greedy(lg, V), sampler_greedy(s.logits, V));
        // greedy: prefill, then 7 single-token steps feeding back the argmax
        struct stepper st;
        struct stepper_params sp = {.max_tokens = s.n_tokens,
                                    .n_seq = 1,
                                    .max_ctx = s.n_tokens + N_GREEDY,
                                    .max_logits = 1};
        struct batch b;
        ASSERT_OK(stepper_init(&st, &m, &sp));
        ASSERT_OK(batch_init(&b, s.n_tokens));
        for (int i = 0; i < s.n_tokens; i++)
            ASSERT_OK(batch_add(&b, s.tokens[i], 0, i, i == s.n_tokens - 1));
        ASSERT_OK(stepper_step(&st, &b));
        int32_t got[N_GREEDY];
        for (int g = 0; g < N_GREEDY; g++) {
            got[g] = sampler_greedy(stepper_logits(&st, NULL), V);
            if (g == N_GREEDY - 1) break; // the 8th id is not fed back
            batch_clear(&b);
            ASSERT_OK(batch_add(&b, got[g], 0, s.n_tokens + g, 1));
            ASSERT_OK(stepper_step(&st, &b));
        }
        ASSERT_OK(kvcache_check(&st.attn.kv));
        for (int g = 0; g < N_GREEDY; g++)
            ASSERT_EQ(got[g], s.greedy[g]);
        batch_free(&b);
        stepper_free(&st);
        free(s.logits);
    }
    free(lg);
    model_free(&m);
}

TEST(golden_llama_moe_f32) { check_model("llama-moe-f32", 1e-3); }
TEST(golden_llama_moe_f16) { check_model("llama-moe-f16", 1e-3); }
TEST(golden_llama_moe_bf16) { check_model("llama-moe-bf16", 1e-3); }
TEST(golden_llama_moe_q8_0) { check_model("llama-moe-q8_0", 1e-1); }
TEST(golden_qwen2moe_f32) { check_model("qwen2moe-f32", 1e-3); }
TEST(golden_deepseek2_v2_f32) { check_model("deepseek2-v2-f32", 1e-3); }
TEST(golden_deepseek2_v3_f32) { check_model("deepseek2-v3-f32", 1e-3); }
TEST(golden_qwen3moe_f32) { check_model("qwen3moe-f32", 1e-3); }
TEST(golden_deepseek2_v2g_f32) { check_model("deepseek2-v2g-f32", 1e-3); }
TEST(golden_deepseek2_v3g_f32) { check_model("deepseek2-v3g-f32", 1e-3); }

// Every kernel table this CPU runs (the reference, AVX2, AVX-512; the tests above use
// kern_best()) meets the same tolerances on every fixture.
TEST(golden_every_kernel_table_all_models) {
    static const char *const names[] = {"llama-moe-f32",    "llama-moe-f16", "llama-moe-bf16",
                                        "llama-moe-q8_0",   "qwen2moe-f32",  "deepseek2-v2-f32",
                                        "deepseek2-v3-f32", "qwen3moe-f32",  "deepseek2-v2g-f32",
                                        "deepseek2-v3g-f32"};
    static const char *const tables[] = {"ref", "avx2", "avx512"};
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(tables); k++) {
        const struct kern_ops *kt = kern_by_name(tables[k]);
        if (!kt) {
            printf("  (no %s table on this build/CPU: skipped)\n", tables[k]);
            continue;
        }
        for (size_t i = 0; i < JANUS_ARRAY_SIZE(names); i++) {
            struct model m;
            ASSERT_OK(open_model(names[i], &m));
            const int64_t V = m.hp.n_vocab;
            float *lg = malloc((size_t)V * sizeof(float));
            ASSERT(lg);
            double worst = 0;
            for (int n = 1; n <= 3; n++) {
                struct fixture_seq s;
                ASSERT_EQ(load_seq(names[i], n, V, &s), 0);
                ASSERT_OK(run_oneshot_k(&m, s.tokens, s.n_tokens, lg, kt));
                const double d = max_abs_diff(lg, s.logits, V);
                worst = d > worst ? d : worst;
                ASSERT_LE(d, strstr(names[i], "q8_0") ? 1e-1 : 1e-3);
                ASSERT_EQ(sampler_greedy(lg, V), s.greedy[0]);
                free(s.logits);
            }
            printf("  %-6s %-18s max |dlogit| %.3g\n", kt->name, names[i], worst);
            free(lg);
            model_free(&m);
        }
    }
}

// ---- the 3 sequences of a model in one batch, at different positions
//
// Sequence s joins at step s. While prefilling it contributes a chunk of 1 + (step+s) % 3
// prompt tokens; after its prompt it decodes one greedy token per step. So most steps mix
// prefill chunks of one sequence with decode tokens of others.
static void check_batched(const char *name) {
    struct model m;
    ASSERT_OK(open_model(name, &m));
    const int64_t V = m.hp.n_vocab;
    struct fixture_seq s[3];
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(load_seq(name, i + 1, V, &s[i]), 0);
    float *one = malloc((size_t)V * sizeof(float));
    ASSERT(one);
    struct stepper st;
    struct stepper_params sp = {
        .max_tokens = 3 * MAX_TOK, .n_seq = 3, .max_ctx = MAX_TOK + N_GREEDY};
    struct batch b;
    ASSERT_OK(stepper_init(&st, &m, &sp));
    ASSERT_OK(batch_init(&b, 3 * MAX_TOK));
    int done_prompt[3] = {0}, n_greedy[3] = {0}, n_mixed = 0;
    int32_t got[3][N_GREEDY];
    int rowseq[3 * MAX_TOK];
    for (int step = 0; step < 64; step++) {
        batch_clear(&b);
        int n_rows = 0, any = 0, has_prefill = 0, has_decode = 0;
        for (int q = 0; q < 3; q++) {
            if (step < q || n_greedy[q] == N_GREEDY) continue;
            any = 1;
            if (done_prompt[q] < s[q].n_tokens) {
                int chunk = 1 + (step + q) % 3;
                if (chunk > s[q].n_tokens - done_prompt[q]) chunk = s[q].n_tokens - done_prompt[q];
                for (int c = 0; c < chunk; c++) {
                    const int p = done_prompt[q] + c;
                    const int last = p == s[q].n_tokens - 1;
                    ASSERT_OK(batch_add(&b, s[q].tokens[p], q, p, last));
                    if (last) rowseq[n_rows++] = q;
                }
                done_prompt[q] += chunk;
                has_prefill = 1;
            } else {
                const int g = n_greedy[q] - 1; // feed back the last greedy id
                ASSERT_OK(batch_add(&b, got[q][g], q, s[q].n_tokens + g, 1));
                rowseq[n_rows++] = q;
                has_decode = 1;
            }
        }
        if (!any) break;
        n_mixed += has_prefill && has_decode;
        ASSERT_OK(stepper_step(&st, &b));
        ASSERT_OK(kvcache_check(&st.attn.kv));
        int64_t nl = 0;
        const float *lg = stepper_logits(&st, &nl);
        ASSERT_EQ(nl, n_rows);
        for (int r = 0; r < n_rows; r++) {
            const int q = rowseq[r];
            const float *row = lg + (int64_t)r * V;
            if (n_greedy[q] == 0) { // the prompt's last position
                ASSERT_LE(max_abs_diff(row, s[q].logits, V), 1e-3);
                ASSERT_OK(run_oneshot(&m, s[q].tokens, s[q].n_tokens, one));
                ASSERT_LE(max_abs_diff(row, one, V), 1e-4);
            }
            got[q][n_greedy[q]++] = sampler_greedy(row, V);
        }
    }
    ASSERT(n_mixed > 0); // the schedule really mixed prefill and decode
    for (int q = 0; q < 3; q++) {
        ASSERT_EQ(n_greedy[q], N_GREEDY);
        for (int g = 0; g < N_GREEDY; g++)
            ASSERT_EQ(got[q][g], s[q].greedy[g]);
        stepper_seq_free(&st, q);
    }
    ASSERT_OK(kvcache_check(&st.attn.kv));
    ASSERT_EQ(st.attn.kv.n_free, st.attn.kv.n_pages);
    batch_free(&b);
    stepper_free(&st);
    for (int i = 0; i < 3; i++)
        free(s[i].logits);
    free(one);
    model_free(&m);
}

TEST(batched_llama_moe_f32) { check_batched("llama-moe-f32"); }
TEST(batched_qwen2moe_f32) { check_batched("qwen2moe-f32"); }
TEST(batched_qwen3moe_f32) { check_batched("qwen3moe-f32"); }
TEST(batched_deepseek2_v3g_f32) { check_batched("deepseek2-v3g-f32"); }
TEST(batched_deepseek2_v2_f32) { check_batched("deepseek2-v2-f32"); }

// ---- incremental decoding (one token per step) equals one-shot prefill
static void check_incremental(const char *name) {
    struct model m;
    ASSERT_OK(open_model(name, &m));
    const int64_t V = m.hp.n_vocab;
    struct fixture_seq s;
    ASSERT_EQ(load_seq(name, 3, V, &s), 0);
    float *one = malloc((size_t)V * sizeof(float));
    ASSERT(one);
    ASSERT_OK(run_oneshot(&m, s.tokens, s.n_tokens, one));
    struct stepper st;
    struct stepper_params sp = {.max_tokens = 1, .n_seq = 2, .max_ctx = s.n_tokens};
    struct batch b;
    ASSERT_OK(stepper_init(&st, &m, &sp));
    ASSERT_OK(batch_init(&b, 1));
    for (int i = 0; i < s.n_tokens; i++) {
        batch_clear(&b);
        ASSERT_OK(batch_add(&b, s.tokens[i], 1, i, 1));
        ASSERT_OK(stepper_step(&st, &b));
    }
    ASSERT_LE(max_abs_diff(stepper_logits(&st, NULL), one, V), 1e-4);
    batch_free(&b);
    stepper_free(&st);
    free(s.logits);
    free(one);
    model_free(&m);
}

TEST(incremental_llama_moe_q8_0) { check_incremental("llama-moe-q8_0"); }
TEST(incremental_qwen2moe_f32) { check_incremental("qwen2moe-f32"); }
TEST(incremental_qwen3moe_f32) { check_incremental("qwen3moe-f32"); }
TEST(incremental_deepseek2_v2g_f32) { check_incremental("deepseek2-v2g-f32"); }

// ---- malformed models

// Offset of the byte after tensor name `name` in the tensor-info section (the n_dims field).
static size_t find_tensor_info(const uint8_t *buf, size_t n, const char *name) {
    const size_t len = strlen(name);
    for (size_t i = 8; i + len + 4 < n; i++) {
        uint64_t l;
        memcpy(&l, buf + i - 8, 8);
        if (l == len && !memcmp(buf + i, name, len)) return i + len;
    }
    return 0;
}

TEST(malformed_truncated) {
    char path[512];
    snprintf(path, sizeof path, "%s/models/qwen2moe-f32.gguf", test_fixtures_dir());
    size_t n;
    uint8_t *buf = test_read_file(path, &n);
    ASSERT(buf);
    const size_t cuts[] = {0, 3, 8, 24, 100, 1000, 5000, n / 2, n - 1};
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(cuts); i++) {
        struct model m;
        char err[256] = "";
        int rc = model_load_memory(&m, buf, cuts[i], err, sizeof err);
        ASSERT(rc < 0);
        ASSERT(err[0] != 0);
    }
    // the whole file loads
    struct model m;
    char err[256];
    ASSERT_OK(model_load_memory(&m, buf, n, err, sizeof err));
    model_free(&m);
    free(buf);
}

TEST(malformed_shape_type_name) {
    char path[512];
    snprintf(path, sizeof path, "%s/models/llama-moe-f32.gguf", test_fixtures_dir());
    size_t n;
    uint8_t *orig = test_read_file(path, &n);
    ASSERT(orig);
    uint8_t *buf = malloc(n);
    ASSERT(buf);
    const size_t at = find_tensor_info(orig, n, "blk.0.attn_q.weight");
    ASSERT(at > 0);
    struct model m;
    char err[256];
    // 1. shape {64, 64} → {32, 128}: same byte size, wrong shape.
    memcpy(buf, orig, n);
    uint64_t ne0 = 32, ne1 = 128;
    memcpy(buf + at + 4, &ne0, 8);
    memcpy(buf + at + 12, &ne1, 8);
    ASSERT(model_load_memory(&m, buf, n, err, sizeof err) < 0);
    fprintf(stderr, "  shape: %s\n", err);
    ASSERT(strstr(err, "blk.0.attn_q.weight") && strstr(err, "{64, 64}") &&
           strstr(err, "{32, 128}"));
    // 2. type F32 → iq2_xxs (16, still refused; rows of 64 are not whole 256-value blocks):
    // refused, the type and the tensor named.
    memcpy(buf, orig, n);
    uint32_t t = GGML_TYPE_IQ2_XXS;
    memcpy(buf + at + 4 + 16, &t, 4);
    err[0] = 0;
    ASSERT(model_load_memory(&m, buf, n, err, sizeof err) < 0);
    fprintf(stderr, "  type: %s\n", err);
    ASSERT(strstr(err, "iq2_xxs") != NULL && strstr(err, "blk.0.attn_q.weight") != NULL);
    // 2b. type F32 → I32 (26, also 4 bytes per value): the reader accepts it, the engine
    // refuses it by name.
    memcpy(buf, orig, n);
    t = 26;
    memcpy(buf + at + 4 + 16, &t, 4);
    ASSERT(model_load_memory(&m, buf, n, err, sizeof err) < 0);
    fprintf(stderr, "  type: %s\n", err);
    ASSERT(strstr(err, "blk.0.attn_q.weight") && strstr(err, "unsupported type"));
    // 3. renamed tensor → missing, named.
    memcpy(buf, orig, n);
    buf[at - 8] = 'x'; // "blk.0.attn_x.weight"
    ASSERT(model_load_memory(&m, buf, n, err, sizeof err) < 0);
    fprintf(stderr, "  name: %s\n", err);
    ASSERT(strstr(err, "blk.0.attn_q.weight") != NULL);
    free(buf);
    free(orig);
}

// Offset of the value of metadata key `key` (after its u32 type field).
static size_t find_kv_value(const uint8_t *buf, size_t n, const char *key) {
    const size_t at = find_tensor_info(buf, n, key); // same "u64 length + bytes" layout
    return at ? at + 4 : 0;
}

TEST(malformed_expert_groups) {
    char path[512];
    snprintf(path, sizeof path, "%s/models/deepseek2-v3g-f32.gguf", test_fixtures_dir());
    size_t n;
    uint8_t *orig = test_read_file(path, &n);
    ASSERT(orig);
    const size_t g = find_kv_value(orig, n, "deepseek2.expert_group_count");
    const size_t gu = find_kv_value(orig, n, "deepseek2.expert_group_used_count");
    ASSERT(g > 0 && gu > 0);
    uint32_t v;
    memcpy(&v, orig + g, 4);
    ASSERT_EQ(v, 4);
    struct model m;
    char err[256];
    struct {
        size_t at;
        uint32_t val;
        const char *msg;
    } cases[] = {{g, 3, "multiple of expert_group_count"},
                 {gu, 4, "expert_group_used_count"},
                 {gu, 0, "expert_group_used_count"},
                 {g, 16, "expert_group_count must be < expert_count"}};
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(cases); i++) {
        memcpy(orig + cases[i].at, &cases[i].val, 4);
        ASSERT(model_load_memory(&m, orig, n, err, sizeof err) < 0);
        fprintf(stderr, "  groups: %s\n", err);
        ASSERT(strstr(err, cases[i].msg) != NULL);
        const uint32_t good = cases[i].at == g ? 4 : 2;
        memcpy(orig + cases[i].at, &good, 4);
    }
    ASSERT_OK(model_load_memory(&m, orig, n, err, sizeof err));
    ASSERT_EQ(m.hp.n_group, 4);
    ASSERT_EQ(m.hp.n_group_used, 2);
    ASSERT_EQ(m.hp.has_exp_probs_b, 1);
    model_free(&m);
    free(orig);
}

// A copy of the GGUF file in (n bytes) without tensor `drop`, written with the GGUF writer
// into a mem_alloc'd buffer. NULL on failure.
static uint8_t *copy_without_tensor(const uint8_t *in, size_t n, const char *drop, size_t *len) {
    struct gguf g;
    char err[256];
    if (gguf_open_memory(&g, in, n, err, sizeof err) != JANUS_OK) return NULL;
    struct gguf_writer *w = gguf_writer_create();
    int rc = w ? JANUS_OK : JANUS_ENOMEM;
    for (int64_t i = 0; i < g.n_kv && !rc; i++)
        rc = gguf_writer_copy_kv(w, &g, i);
    for (int64_t i = 0; i < g.n_tensors && !rc; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (strcmp(name, drop) != 0)
            rc = gguf_writer_add_tensor(w, name, t->n_dims, t->ne, t->type, t->data,
                                        (size_t)t->n_bytes);
    }
    void *out = NULL;
    if (!rc) rc = gguf_writer_write_memory(w, &out, len);
    gguf_writer_destroy(&w);
    gguf_close(&g);
    return rc ? NULL : out;
}

// Without output.weight the head is tied to token_embd.
TEST(tied_output_head) {
    char path[512];
    snprintf(path, sizeof path, "%s/models/llama-moe-f32.gguf", test_fixtures_dir());
    size_t n0, n;
    uint8_t *orig = test_read_file(path, &n0);
    ASSERT(orig);
    uint8_t *buf = copy_without_tensor(orig, n0, "output.weight", &n);
    free(orig);
    ASSERT(buf);
    struct model m;
    char err[256];
    ASSERT_OK(model_load_memory(&m, buf, n, err, sizeof err));
    ASSERT_EQ(m.output_tied, 1);
    ASSERT(m.output.data == m.token_embd.data);
    const int32_t tok[4] = {1, 384, 263, 274};
    struct stepper st;
    struct stepper_params sp = {
        .max_tokens = 4, .n_seq = 1, .max_ctx = 4, .max_logits = 1, .kern = kern_ref()};
    struct batch b;
    ASSERT_OK(stepper_init(&st, &m, &sp));
    ASSERT_OK(batch_init(&b, 4));
    for (int i = 0; i < 4; i++)
        ASSERT_OK(batch_add(&b, tok[i], 0, i, i == 3));
    ASSERT_OK(stepper_step(&st, &b));
    // logits[v] = token_embd[v] · rms(h_last, output_norm), recomputed in double
    const int64_t E = m.hp.n_embd;
    const float *h = st.attn.h + 3 * E, *te = m.token_embd.data;
    double ss = 0;
    for (int64_t i = 0; i < E; i++)
        ss += (double)h[i] * h[i];
    const double sc = 1.0 / sqrt(ss / (double)E + m.hp.rms_eps);
    const float *lg = stepper_logits(&st, NULL);
    for (int64_t v = 0; v < m.hp.n_vocab; v += 37) {
        double d = 0;
        for (int64_t i = 0; i < E; i++)
            d += (double)te[v * E + i] * h[i] * sc * m.output_norm[i];
        ASSERT_NEAR(lg[v], d, 1e-4);
    }
    batch_free(&b);
    stepper_free(&st);
    model_free(&m);
    mem_free(buf);
}

// ---- gen-model models of every architecture and weight type load and run

static void run_genmodel(struct genmodel_params *p, const char *tag) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/gen-%s.gguf", test_tmpdir(), tag);
    int rc = genmodel_write(p, path, err, sizeof err);
    if (rc) fprintf(stderr, "genmodel_write %s: %s\n", tag, err);
    ASSERT_OK(rc);
    struct model m;
    rc = model_load(&m, path, err, sizeof err);
    if (rc) fprintf(stderr, "model_load %s: %s\n", tag, err);
    ASSERT_OK(rc);
    const int64_t V = m.hp.n_vocab;
    const int32_t tok[7] = {1, 5, 17, 3, 9, 2, 11};
    float *one = malloc((size_t)V * sizeof(float));
    ASSERT(one);
    ASSERT_OK(run_oneshot(&m, tok, 7, one));
    for (int64_t i = 0; i < V; i++)
        ASSERT(isfinite(one[i]));
    // incremental equals one-shot here too
    struct stepper st;
    struct stepper_params sp = {.max_tokens = 4, .n_seq = 1, .max_ctx = 7};
    struct batch b;
    ASSERT_OK(stepper_init(&st, &m, &sp));
    ASSERT_OK(batch_init(&b, 4));
    for (int i = 0; i < 7;) { // chunks of 4 and 3
        batch_clear(&b);
        for (int c = 0; c < 4 && i < 7; c++, i++)
            ASSERT_OK(batch_add(&b, tok[i], 0, i, i == 6));
        ASSERT_OK(stepper_step(&st, &b));
    }
    const double d = max_abs_diff(stepper_logits(&st, NULL), one, V);
    fprintf(stderr, "  gen %s: chunked vs one-shot %.3g\n", tag, d);
    ASSERT_LE(d, 1e-4);
    batch_free(&b);
    stepper_free(&st);
    free(one);
    model_free(&m);
}

TEST(genmodel_every_arch_and_type) {
    static const uint32_t types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0};
    static const char *const tnames[] = {"f32", "f16", "bf16", "q8_0"};
    for (int a = GENMODEL_ARCH_LLAMA; a <= GENMODEL_ARCH_OLMOE; a++) {
        for (size_t t = 0; t < JANUS_ARRAY_SIZE(types); t++) {
            struct genmodel_params p;
            genmodel_default_params(&p, (enum genmodel_arch)a);
            p.type = types[t];
            p.seed = 7 + (uint64_t)a;
            char tag[64];
            snprintf(tag, sizeof tag, "%s-%s", genmodel_arch_name((enum genmodel_arch)a),
                     tnames[t]);
            run_genmodel(&p, tag);
            if (test_current_failed) return;
        }
    }
    // deepseek2 V3-style with expert groups
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    genmodel_params_v3(&p);
    p.n_group = 4;
    p.n_group_used = 2;
    run_genmodel(&p, "deepseek2-v3g");
    // qwen3moe with head_dim != n_embd / n_head and 4:1 GQA
    genmodel_default_params(&p, GENMODEL_ARCH_QWEN3MOE);
    p.head_dim = 32;
    p.n_head = 8;
    p.n_head_kv = 2;
    run_genmodel(&p, "qwen3moe-hd32");
    // deepseek2 with no leading dense layer (gen-model has no q_lora = 0 variant)
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    p.n_dense_lead = 0;
    run_genmodel(&p, "deepseek2-nodense");
    // issue 12 item 6: deepseek2 as current converters write it (attn_k_b / attn_v_b) with
    // DeepSeek-V2-Lite's YaRN settings, and olmoe with YaRN
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    p.mla_split = 1;
    p.type = GGML_TYPE_F16;
    p.rope_scaling = GENMODEL_ROPE_YARN;
    p.rope_factor = 40.0f;
    p.rope_orig_ctx = 4;
    p.yarn_log_mul = 0.0707f;
    run_genmodel(&p, "deepseek2-split-yarn");
    genmodel_default_params(&p, GENMODEL_ARCH_OLMOE);
    p.rope_scaling = GENMODEL_ROPE_YARN;
    p.rope_factor = 8.0f;
    p.rope_orig_ctx = 4;
    run_genmodel(&p, "olmoe-yarn");
}

// Tiny KV pages (2 positions) and a pool just big enough: the page tables are exercised on
// every position, results equal the default layout, and one more position is refused.
TEST(kv_small_pages) {
    struct model m;
    ASSERT_OK(open_model("deepseek2-v2-f32", &m));
    const int64_t V = m.hp.n_vocab;
    struct fixture_seq s[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(load_seq("deepseek2-v2-f32", i + 2, V, &s[i]), 0);
    struct stepper st;
    const int64_t pages = (s[0].n_tokens + 1) / 2 + (s[1].n_tokens + 1) / 2;
    struct stepper_params sp = {.max_tokens = 2 * MAX_TOK,
                                .n_seq = 2,
                                .max_ctx = MAX_TOK,
                                .page_size = 2,
                                .n_pages = pages};
    struct batch b;
    ASSERT_OK(stepper_init(&st, &m, &sp));
    ASSERT_OK(batch_init(&b, 2 * MAX_TOK));
    for (int q = 0; q < 2; q++) // both prompts in one step
        for (int i = 0; i < s[q].n_tokens; i++)
            ASSERT_OK(batch_add(&b, s[q].tokens[i], q, i, i == s[q].n_tokens - 1));
    ASSERT_OK(stepper_step(&st, &b));
    ASSERT_OK(kvcache_check(&st.attn.kv));
    ASSERT_EQ(st.attn.kv.n_free, 0);
    const float *lg = stepper_logits(&st, NULL);
    for (int q = 0; q < 2; q++)
        ASSERT_LE(max_abs_diff(lg + q * V, s[q].logits, V), 1e-3);
    // an odd-length sequence still has room in its last page; the other is full
    const int odd = s[0].n_tokens % 2 ? 0 : (s[1].n_tokens % 2 ? 1 : -1);
    for (int q = 0; q < 2; q++) {
        batch_clear(&b);
        ASSERT_OK(batch_add(&b, s[q].greedy[0], q, s[q].n_tokens, 1));
        if (q == odd)
            ASSERT_OK(stepper_step(&st, &b));
        else
            ASSERT_EQ(stepper_step(&st, &b), JANUS_ELIMIT);
    }
    ASSERT_OK(kvcache_check(&st.attn.kv));
    batch_free(&b);
    stepper_free(&st);
    for (int i = 0; i < 2; i++)
        free(s[i].logits);
    model_free(&m);
}
