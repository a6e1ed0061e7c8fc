// Tests of the embeddable C API (include/janus.h), written as an embedder would: only
// janus.h (+ base/mem.h for the allocation-failure hook and byte counters, model/gguf.h to
// write a model without a tokenizer). Greedy through
// the API reproduces every fixture's .greedy ids; janus_generate prints what `janus
// generate` prints (greedy and seeded sampling); errors give the documented codes and
// leave state unchanged; sessions and sequences are independent; every allocation failure
// during open/create/generate is reported as JANUS_ENOMEM and leaks nothing.
// SPDX-License-Identifier: MIT
#include "janus.h"

#include "base/mem.h"
#include "model/gguf.h"
#include "../test.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_GREEDY 8

static const char *const k_models[] = {
    "llama-moe-f32",     "llama-moe-f16",     "llama-moe-bf16",   "llama-moe-q8_0",
    "qwen2moe-f32",      "deepseek2-v2-f32",  "deepseek2-v3-f32", "qwen3moe-f32",
    "deepseek2-v2g-f32", "deepseek2-v3g-f32",
};

static void model_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/models/%s.gguf", test_fixtures_dir(), name);
}

static int64_t live_bytes(void) {
    int64_t sum = 0;
    for (int t = 0; t < MEM_TAG_COUNT; t++)
        sum += mem_live_bytes((enum mem_tag)t);
    return sum;
}

static janus_model_t *open_or_null(const char *name) {
    char path[512], err[512];
    model_path(path, sizeof path, name);
    janus_model_t *m = NULL;
    if (janus_model_open(path, NULL, &m, err, sizeof err) != JANUS_OK) {
        fprintf(stderr, "open %s: %s\n", path, err);
        return NULL;
    }
    return m;
}

// Collects generated text.
struct text {
    char buf[4096];
    size_t len;
    int n_calls, stop_after; // stop_after > 0: return 1 on that call
};

static int on_piece(void *user, const char *p, size_t len) {
    struct text *t = user;
    if (t->len + len < sizeof t->buf) {
        memcpy(t->buf + t->len, p, len);
        t->len += len;
        t->buf[t->len] = 0;
    }
    t->n_calls++;
    return t->stop_after > 0 && t->n_calls >= t->stop_after;
}

// Runs `janus generate ARGS` and returns its stdout (exit status in *status).
static void run_cli(const char *args, char *out, size_t cap, int *status) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' generate %s 2>/dev/null", test_janus_bin(), args);
    FILE *f = popen(cmd, "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = 0;
    int st = f ? pclose(f) : -1;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// ---- model

TEST(model_info) {
    janus_model_t *m = open_or_null("llama-moe-f32");
    ASSERT(m != NULL);
    struct janus_model_info in;
    ASSERT_OK(janus_model_info(m, &in));
    ASSERT_STR_EQ(in.arch, "llama");
    ASSERT_EQ(in.n_vocab, 768);
    ASSERT_EQ(in.n_embd, 64);
    ASSERT_EQ(in.n_layer, 2);
    ASSERT_EQ(in.n_head, 4);
    ASSERT_EQ(in.n_head_kv, 2);
    ASSERT_EQ(in.n_expert, 8);
    ASSERT_EQ(in.n_expert_used, 2);
    ASSERT_EQ(in.n_expert_shared, 0);
    ASSERT_EQ(in.n_layer_dense, 0);
    ASSERT_EQ(in.n_ctx_train, 2048);
    ASSERT_EQ(in.has_vocab, 1);
    ASSERT_EQ(in.token_bos, 1);
    ASSERT_EQ(in.token_eos, 2);
    ASSERT(in.n_bytes > 0 && in.n_bytes < 2088160);
    ASSERT(in.name != NULL);
    ASSERT_EQ(janus_model_info(m, NULL), JANUS_EINVAL);
    ASSERT_EQ(janus_model_info(NULL, &in), JANUS_EINVAL);
    janus_model_close(&m);
    ASSERT(m == NULL);
    janus_model_close(&m); // no-op
    janus_model_close(NULL);

    m = open_or_null("deepseek2-v2-f32");
    ASSERT(m != NULL);
    ASSERT_OK(janus_model_info(m, &in));
    ASSERT_STR_EQ(in.arch, "deepseek2");
    ASSERT_EQ(in.n_layer, 3);
    ASSERT_EQ(in.n_expert, 16);
    ASSERT_EQ(in.n_expert_used, 4);
    ASSERT_EQ(in.n_expert_shared, 2);
    ASSERT_EQ(in.n_layer_dense, 1);
    janus_model_close(&m);
}

TEST(model_open_errors) {
    char path[512], err[512];
    janus_model_t *const sentinel = (janus_model_t *)&path; // must stay untouched
    janus_model_t *m = sentinel;
    ASSERT_EQ(janus_model_open("/nonexistent/x.gguf", NULL, &m, err, sizeof err), JANUS_ENOTFOUND);
    ASSERT(m == sentinel);
    ASSERT(strstr(err, "/nonexistent/x.gguf") != NULL);
    ASSERT(strchr(err, '\n') == NULL);

    snprintf(path, sizeof path, "%s/reference/llama-moe-f32.1.tokens", test_fixtures_dir());
    ASSERT_EQ(janus_model_open(path, NULL, &m, err, sizeof err), JANUS_EFORMAT);
    ASSERT(m == sentinel);
    ASSERT(strstr(err, path) == err);
    ASSERT(strstr(err, "GGUF") != NULL);

    // a vocab-only GGUF has no weights
    snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-janus-spm.gguf", test_fixtures_dir());
    int rc = janus_model_open(path, NULL, &m, err, sizeof err);
    ASSERT(rc < 0);
    ASSERT(m == sentinel);
    ASSERT(strstr(err, path) == err);

    ASSERT_EQ(janus_model_open(NULL, NULL, &m, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "NULL") != NULL);
    model_path(path, sizeof path, "llama-moe-f32");
    ASSERT_EQ(janus_model_open(path, NULL, NULL, err, sizeof err), JANUS_EINVAL);
    // err may be NULL or tiny
    ASSERT_EQ(janus_model_open("/nonexistent/x.gguf", NULL, &m, NULL, 0), JANUS_ENOTFOUND);
    char tiny[4];
    ASSERT_EQ(janus_model_open("/nonexistent/x.gguf", NULL, &m, tiny, sizeof tiny),
              JANUS_ENOTFOUND);
    ASSERT_EQ(strlen(tiny), 3);
    ASSERT(m == sentinel);

    // success clears err; require_vocab is satisfied by the fixtures
    struct janus_model_params mp = janus_model_default_params();
    mp.require_vocab = 1;
    m = NULL;
    ASSERT_OK(janus_model_open(path, &mp, &m, err, sizeof err));
    ASSERT_STR_EQ(err, "");
    janus_model_close(&m);

    ASSERT_STR_EQ(janus_strerror(JANUS_ELIMIT), "limit exceeded");
    ASSERT_STR_EQ(janus_strerror(JANUS_ENOTFOUND), "not found");
    ASSERT_STR_EQ(janus_strerror(12345), "unknown error");
}

// ---- tokenizer

TEST(tokenize) {
    janus_model_t *m = open_or_null("llama-moe-f32");
    ASSERT(m != NULL);
    // fixtures README §2 (llama.cpp's tokenization)
    static const int32_t want[] = {1,   384, 536, 682, 388, 272, 681, 484, 658, 701, 556, 398,
                                   693, 683, 521, 265, 275, 678, 711, 690, 354, 692, 697};
    const char *text = "The quick brown fox jumps over the lazy dog.";
    int32_t ids[64];
    int n = janus_tokenize(m, text, strlen(text), 1, 0, ids, 64);
    ASSERT_EQ(n, (int)(sizeof want / sizeof want[0]));
    ASSERT_MEM_EQ(ids, want, sizeof want);
    ASSERT_EQ(janus_tokenize(m, text, strlen(text), 0, 0, ids, 64), n - 1);
    ASSERT_EQ(ids[0], 384);
    ASSERT_EQ(janus_tokenize(m, text, strlen(text), 1, 0, ids, n - 1), JANUS_ELIMIT);
    ASSERT_EQ(janus_tokenize(m, text, strlen(text), 1, 0, NULL, 0), JANUS_ELIMIT);
    // parse_special turns "</s>" into EOS
    ASSERT_EQ(janus_tokenize(m, "</s>", 4, 0, 1, ids, 64), 1);
    ASSERT_EQ(ids[0], 2);
    ASSERT(janus_tokenize(m, "</s>", 4, 0, 0, ids, 64) > 1);
    // empty text: BOS only; len + 3 always suffices (every byte its own token here)
    ASSERT_EQ(janus_tokenize(m, NULL, 0, 1, 0, ids, 64), 1);
    const char bytes[] = "\x01\x02\xff\xfe";
    ASSERT(janus_tokenize(m, bytes, 4, 1, 0, ids, 4 + 3) > 0);
    ASSERT_EQ(janus_tokenize(m, NULL, 3, 1, 0, ids, 64), JANUS_EINVAL);
    ASSERT_EQ(janus_tokenize(m, text, 3, 1, 0, NULL, 5), JANUS_EINVAL);
    ASSERT_EQ(janus_tokenize(m, text, 3, 1, 0, ids, -1), JANUS_EINVAL);
    ASSERT_EQ(janus_tokenize(NULL, text, 3, 1, 0, ids, 64), JANUS_EINVAL);

    char piece[16];
    ASSERT_EQ(janus_token_to_piece(m, 384, 0, piece, sizeof piece), 4);
    ASSERT_MEM_EQ(piece, " The", 4);
    ASSERT_EQ(janus_token_to_piece(m, 1, 0, piece, sizeof piece), 0);       // BOS: no text
    ASSERT_EQ(janus_token_to_piece(m, 3 + 'A', 0, piece, sizeof piece), 1); // <0x41>
    ASSERT_EQ(piece[0], 'A');
    ASSERT_EQ(janus_token_to_piece(m, 384, 0, piece, 3), JANUS_ELIMIT);
    ASSERT_EQ(janus_token_to_piece(m, 768, 0, piece, sizeof piece), JANUS_EINVAL);
    ASSERT_EQ(janus_token_to_piece(m, -1, 0, piece, sizeof piece), JANUS_EINVAL);
    ASSERT_EQ(janus_token_to_piece(m, 384, 0, NULL, 4), JANUS_EINVAL);
    ASSERT_EQ(janus_token_to_piece(NULL, 384, 0, piece, 4), JANUS_EINVAL);
    janus_model_close(&m);
}

// ---- greedy decoding against the fixtures

// Prefills seq with the fixture prompt and checks the 8 greedy ids, feeding each back.
static int greedy_check_in(const char *fix, janus_session_t *s, int32_t seq, const char *name,
                           int n_ref) {
    char path[512];
    int32_t prompt[64], want[N_GREEDY];
    snprintf(path, sizeof path, "%s/reference/%s.%d.tokens", fix, name, n_ref);
    const int n = test_read_ints(path, prompt, 64);
    snprintf(path, sizeof path, "%s/reference/%s.%d.greedy", fix, name, n_ref);
    if (n < 1 || test_read_ints(path, want, N_GREEDY) != N_GREEDY) return -100;
    const float *logits = NULL;
    int rc = janus_session_decode(s, seq, prompt, n, &logits);
    if (rc != JANUS_OK) return rc;
    for (int i = 0; i < N_GREEDY; i++) {
        int32_t id = -1;
        rc = janus_session_sample(s, seq, NULL, &id);
        if (rc != JANUS_OK) return rc;
        if (id != want[i]) {
            fprintf(stderr, "%s.%d: step %d: got %d, want %d\n", name, n_ref, i, id, want[i]);
            return -200 - i;
        }
        if (i + 1 < N_GREEDY && (rc = janus_session_decode(s, seq, &id, 1, NULL)) != JANUS_OK)
            return rc;
    }
    return janus_seq_length(s, seq) == n + N_GREEDY - 1 ? 0 : -300;
}

static int greedy_check(janus_session_t *s, int32_t seq, const char *name, int n_ref) {
    return greedy_check_in(test_fixtures_dir(), s, seq, name, n_ref);
}

TEST(greedy_matches_fixtures) {
    for (size_t i = 0; i < sizeof k_models / sizeof k_models[0]; i++) {
        janus_model_t *m = open_or_null(k_models[i]);
        ASSERT(m != NULL);
        // n_batch 3 splits every prompt into several engine steps
        struct janus_session_params sp = janus_session_default_params();
        sp.n_seq = 3;
        sp.n_ctx = 64;
        sp.n_batch = i % 2 ? 3 : 512;
        janus_session_t *s = NULL;
        ASSERT_OK(janus_session_create(m, &sp, &s));
        for (int r = 1; r <= 3; r++) {
            int rc = greedy_check(s, r - 1, k_models[i], r);
            if (rc != 0) TEST_FAIL_("%s.%d: %d", k_models[i], r, rc);
        }
        // reset and rerun on a reused slot
        ASSERT_OK(janus_seq_reset(s, 0));
        ASSERT_EQ(janus_seq_length(s, 0), 0);
        ASSERT_EQ(greedy_check(s, 0, k_models[i], 2), 0);
        janus_session_destroy(&s);
        ASSERT(s == NULL);
        janus_model_close(&m);
    }
}

// KV cache types through the API: the default is F32; a Q8_0 session decodes the fixture
// prompt to logits close to (but not bit-equal with) the F32 session's, an F16 one too.
TEST(session_kv_types) {
    ASSERT_EQ(janus_session_default_params().kv_type, JANUS_KV_F32);
    ASSERT_STR_EQ(janus_kv_type_name(JANUS_KV_F32), "f32");
    ASSERT_STR_EQ(janus_kv_type_name(JANUS_KV_F16), "f16");
    ASSERT_STR_EQ(janus_kv_type_name(JANUS_KV_Q8_0), "q8_0");
    ASSERT(janus_kv_type_name(3) == NULL);
    janus_model_t *m = open_or_null("deepseek2-v2-f32");
    ASSERT(m != NULL);
    static const int32_t toks[] = {1, 384, 263, 274, 322, 341, 300, 290};
    float lg[3][768];
    for (int t = 0; t < 3; t++) {
        struct janus_session_params sp = janus_session_default_params();
        sp.n_ctx = 16;
        sp.kv_type = t;
        janus_session_t *s = NULL;
        ASSERT_OK(janus_session_create(m, &sp, &s));
        const float *out = NULL;
        ASSERT_OK(janus_session_decode(s, 0, toks, 8, &out));
        memcpy(lg[t], out, sizeof lg[t]);
        janus_session_destroy(&s);
    }
    double d16 = 0, d8 = 0;
    for (int v = 0; v < 768; v++) {
        d16 = fmax(d16, fabs((double)lg[1][v] - lg[0][v]));
        d8 = fmax(d8, fabs((double)lg[2][v] - lg[0][v]));
    }
    ASSERT(d16 > 0 && d16 < 5e-3);
    ASSERT(d8 > 0 && d8 < 0.15);
    janus_model_close(&m);
}

TEST(sessions_independent) {
    janus_model_t *m = open_or_null("qwen2moe-f32");
    ASSERT(m != NULL);
    janus_session_t *a = NULL, *b = NULL;
    ASSERT_OK(janus_session_create(m, NULL, &a));
    ASSERT_OK(janus_session_create(m, NULL, &b));
    // interleave: a runs sequence 1 while b runs 3, then a 3 after a reset
    ASSERT_EQ(greedy_check(a, 0, "qwen2moe-f32", 1), 0);
    ASSERT_EQ(greedy_check(b, 0, "qwen2moe-f32", 3), 0);
    int32_t tok = 5;
    ASSERT_OK(janus_session_decode(b, 0, &tok, 1, NULL)); // b moves on; a must not notice
    ASSERT_OK(janus_seq_reset(a, 0));
    ASSERT_EQ(greedy_check(a, 0, "qwen2moe-f32", 3), 0);
    janus_session_destroy(&b);
    // a survives b's destruction
    ASSERT_OK(janus_seq_reset(a, 0));
    ASSERT_EQ(greedy_check(a, 0, "qwen2moe-f32", 2), 0);
    janus_session_destroy(&a);
    janus_session_destroy(&a); // no-op
    janus_session_destroy(NULL);
    janus_model_close(&m);
}

// janus_session_decode_all (issue 14: janus perplexity): row i equals the logits of
// decoding tokens[0..i] one step at a time; the last row equals janus_session_decode's; a
// session without all_logits refuses it; steps split by n_batch give the same rows.
TEST(decode_all_rows) {
    janus_model_t *m = open_or_null("deepseek2-v2-f32");
    ASSERT(m != NULL);
    struct janus_model_info info;
    ASSERT_OK(janus_model_info(m, &info));
    const int64_t V = info.n_vocab;
    enum { N = 9 };
    const int32_t toks[N] = {1, 17, 4, 99, 23, 5, 61, 8, 42};
    for (int n_batch = N; n_batch >= 4; n_batch -= 5) { // 9: one step; 4: three steps
        struct janus_session_params sp = janus_session_default_params();
        sp.n_ctx = 64;
        sp.n_batch = n_batch;
        sp.all_logits = 1;
        janus_session_t *s = NULL, *ref = NULL;
        ASSERT_OK(janus_session_create(m, &sp, &s));
        sp.all_logits = 0;
        ASSERT_OK(janus_session_create(m, &sp, &ref));
        float *all = malloc((size_t)N * (size_t)V * sizeof(float));
        ASSERT(all != NULL);
        ASSERT_OK(janus_session_decode_all(s, 0, toks, N, all));
        ASSERT_EQ(janus_session_decode_all(ref, 0, toks, N, all), JANUS_EINVAL);
        double worst = 0.0;
        for (int i = 0; i < N; i++) {
            const float *lg = NULL;
            ASSERT_OK(janus_session_decode(ref, 0, &toks[i], 1, &lg));
            for (int64_t v = 0; v < V; v++) {
                double d = fabs((double)all[(size_t)i * (size_t)V + (size_t)v] - lg[v]);
                if (d > worst) worst = d;
            }
        }
        const float *last = NULL;
        ASSERT_OK(janus_seq_reset(s, 0));
        ASSERT_OK(janus_session_decode(s, 0, toks, N, &last));
        ASSERT(memcmp(last, all + (size_t)(N - 1) * (size_t)V, (size_t)V * sizeof(float)) == 0);
        printf("    n_batch %d: max |row - token-by-token| = %.3g\n", n_batch, worst);
        ASSERT(worst <= 1e-5);
        free(all);
        janus_session_destroy(&s);
        janus_session_destroy(&ref);
    }
    janus_model_close(&m);
}

// Two sequences of one session, decoded token by token in alternation.
TEST(sequences_interleaved) {
    janus_model_t *m = open_or_null("deepseek2-v3-f32");
    ASSERT(m != NULL);
    struct janus_session_params sp = janus_session_default_params();
    sp.n_seq = 2;
    janus_session_t *s = NULL;
    ASSERT_OK(janus_session_create(m, &sp, &s));
    int32_t p[2][64], want[2][N_GREEDY];
    int n[2];
    for (int k = 0; k < 2; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/reference/deepseek2-v3-f32.%d.tokens", test_fixtures_dir(),
                 k + 1);
        n[k] = test_read_ints(path, p[k], 64);
        snprintf(path, sizeof path, "%s/reference/deepseek2-v3-f32.%d.greedy", test_fixtures_dir(),
                 k + 1);
        ASSERT_EQ(test_read_ints(path, want[k], N_GREEDY), N_GREEDY);
        ASSERT(n[k] > 2);
    }
    for (int i = 0; i < n[1]; i++) // one token at a time in alternation
        for (int k = 0; k < 2; k++)
            if (i < n[k]) ASSERT_OK(janus_session_decode(s, k, &p[k][i], 1, NULL));
    for (int i = 0; i < N_GREEDY; i++)
        for (int k = 1; k >= 0; k--) {
            int32_t id;
            ASSERT_OK(janus_session_sample(s, k, NULL, &id));
            ASSERT_EQ(id, want[k][i]);
            ASSERT_OK(janus_session_decode(s, k, &id, 1, NULL));
        }
    janus_session_destroy(&s);
    janus_model_close(&m);
}

// ---- argument errors leave state unchanged

// Decodes toks on a fresh session of m with the given numeric path; logits into lg (V).
static int decode_path(janus_model_t *m, int32_t matmul, const int32_t *toks, int n, float *lg,
                       int V) {
    struct janus_session_params sp = janus_session_default_params();
    sp.n_ctx = 16;
    sp.matmul = matmul;
    janus_session_t *s = NULL;
    int rc = janus_session_create(m, &sp, &s);
    const float *out = NULL;
    if (rc == JANUS_OK) rc = janus_session_decode(s, 0, toks, n, &out);
    if (rc == JANUS_OK) memcpy(lg, out, (size_t)V * sizeof(float));
    janus_session_destroy(&s);
    return rc;
}

// Numeric paths (issue 13 item 2): names, the default, F32 weights bit-identical on both
// paths, Q8_0 weights within the int8 path's error (docs/GGUF.md) with the same argmax, and
// JANUS_MATMUL_DEFAULT equal to the path it names.
TEST(session_matmul_paths) {
    ASSERT_EQ(janus_session_default_params().matmul, JANUS_MATMUL_DEFAULT);
    ASSERT_STR_EQ(janus_matmul_name(JANUS_MATMUL_EXACT), "exact");
    ASSERT_STR_EQ(janus_matmul_name(JANUS_MATMUL_INT8), "int8");
    const char *def = janus_matmul_name(JANUS_MATMUL_DEFAULT);
    ASSERT(def && (!strcmp(def, "exact") || !strcmp(def, "int8")));
    ASSERT(janus_matmul_name(3) == NULL && janus_matmul_name(-1) == NULL);
    static const int32_t toks[] = {1, 384, 263, 274, 322, 341, 300, 290};
    static const char *const names[] = {"llama-moe-f32", "llama-moe-q8_0"};
    for (int k = 0; k < 2; k++) {
        janus_model_t *m = open_or_null(names[k]);
        ASSERT(m != NULL);
        static float lg[3][768];
        for (int p = 0; p < 3; p++)
            ASSERT_OK(decode_path(m, p, toks, 8, lg[p], 768));
        janus_model_close(&m);
        const int def_p = !strcmp(def, "exact") ? JANUS_MATMUL_EXACT : JANUS_MATMUL_INT8;
        ASSERT(!memcmp(lg[0], lg[def_p], sizeof lg[0]));
        double d = 0;
        int a_ex = 0, a_i8 = 0;
        for (int v = 0; v < 768; v++) {
            d = fmax(d, fabs((double)lg[JANUS_MATMUL_INT8][v] - lg[JANUS_MATMUL_EXACT][v]));
            if (lg[JANUS_MATMUL_EXACT][v] > lg[JANUS_MATMUL_EXACT][a_ex]) a_ex = v;
            if (lg[JANUS_MATMUL_INT8][v] > lg[JANUS_MATMUL_INT8][a_i8]) a_i8 = v;
        }
        if (k == 0) ASSERT(d == 0); // F32 weights: always the exact product
        ASSERT_LT(d, 0.2);
        ASSERT_EQ(a_i8, a_ex);
    }
}

TEST(session_errors) {
    janus_model_t *m = open_or_null("llama-moe-f32");
    ASSERT(m != NULL);
    janus_session_t *const sentinel = (janus_session_t *)&m;
    janus_session_t *s = sentinel;
    struct janus_session_params bad[9];
    for (int i = 0; i < 9; i++)
        bad[i] = janus_session_default_params();
    bad[0].n_seq = 0;
    bad[1].n_ctx = 0;
    bad[2].n_batch = 0;
    bad[3].n_threads = 0;
    bad[4].n_ctx = (1 << 20) + 1;
    bad[5].kv_type = 3; // no such KV type
    bad[6].kv_type = -1;
    bad[7].matmul = 3; // no such numeric path
    bad[8].matmul = -1;
    for (int i = 0; i < 9; i++)
        ASSERT_EQ(janus_session_create(m, &bad[i], &s), JANUS_EINVAL);
    ASSERT_EQ(janus_session_create(NULL, NULL, &s), JANUS_EINVAL);
    ASSERT_EQ(janus_session_create(m, NULL, NULL), JANUS_EINVAL);
    ASSERT(s == sentinel);

    struct janus_session_params sp = janus_session_default_params();
    sp.n_ctx = 9;
    sp.n_batch = 4;
    ASSERT_OK(janus_session_create(m, &sp, &s));
    int32_t id = 99;
    ASSERT_EQ(janus_session_sample(s, 0, NULL, &id), JANUS_EINVAL); // no logits yet
    ASSERT_EQ(id, 99);
    const int32_t toks[9] = {1, 384, 263, 274, 322, 341, 5, 6, 7};
    const float *lg = NULL;
    ASSERT_OK(janus_session_decode(s, 0, toks, 6, &lg)); // two engine steps (n_batch 4)
    ASSERT(lg != NULL);
    float first = lg[0], last = lg[767];
    const float *lg2 = lg;
    ASSERT_EQ(janus_session_decode(s, 0, toks, 4, &lg2), JANUS_ELIMIT); // 6 + 4 > 9
    ASSERT_EQ(janus_session_decode(s, 1, toks, 1, &lg2), JANUS_EINVAL);
    ASSERT_EQ(janus_session_decode(s, -1, toks, 1, &lg2), JANUS_EINVAL);
    ASSERT_EQ(janus_session_decode(s, 0, toks, 0, &lg2), JANUS_EINVAL);
    ASSERT_EQ(janus_session_decode(s, 0, NULL, 1, &lg2), JANUS_EINVAL);
    const int32_t oob[2] = {5, 768};
    ASSERT_EQ(janus_session_decode(s, 0, oob, 2, &lg2), JANUS_EINVAL);
    ASSERT_EQ(janus_session_decode(NULL, 0, toks, 1, &lg2), JANUS_EINVAL);
    ASSERT(lg2 == lg);
    ASSERT_EQ(janus_seq_length(s, 0), 6);
    ASSERT(lg[0] == first && lg[767] == last);
    // state still good: the fixture's first greedy id of prompt llama-moe .1
    ASSERT_OK(janus_session_sample(s, 0, NULL, &id));
    int32_t want[N_GREEDY];
    char path[512];
    snprintf(path, sizeof path, "%s/reference/llama-moe-f32.1.greedy", test_fixtures_dir());
    ASSERT_EQ(test_read_ints(path, want, N_GREEDY), N_GREEDY);
    int32_t ref[16];
    snprintf(path, sizeof path, "%s/reference/llama-moe-f32.1.tokens", test_fixtures_dir());
    ASSERT_EQ(test_read_ints(path, ref, 16), 6);
    ASSERT_MEM_EQ(ref, toks, sizeof ref[0] * 6);
    ASSERT_EQ(id, want[0]);
    // exactly at the limit
    ASSERT_OK(janus_session_decode(s, 0, toks + 6, 3, NULL));
    ASSERT_EQ(janus_seq_length(s, 0), 9);
    ASSERT_EQ(janus_session_decode(s, 0, toks, 1, NULL), JANUS_ELIMIT);

    struct janus_sampling_params bp = janus_sampling_default_params();
    bp.top_p = 0.0f;
    ASSERT_EQ(janus_session_sample(s, 0, &bp, &id), JANUS_EINVAL);
    bp = janus_sampling_default_params();
    bp.top_p = 1.5f;
    ASSERT_EQ(janus_session_sample(s, 0, &bp, &id), JANUS_EINVAL);
    bp = janus_sampling_default_params();
    bp.top_k = -1;
    ASSERT_EQ(janus_session_sample(s, 0, &bp, &id), JANUS_EINVAL);
    bp = janus_sampling_default_params();
    bp.temperature = NAN;
    ASSERT_EQ(janus_session_sample(s, 0, &bp, &id), JANUS_EINVAL);
    ASSERT_EQ(janus_session_sample(s, 0, NULL, NULL), JANUS_EINVAL);
    ASSERT_EQ(janus_session_sample(s, 1, NULL, &id), JANUS_EINVAL);
    ASSERT_EQ(janus_seq_length(s, 1), JANUS_EINVAL);
    ASSERT_EQ(janus_seq_length(NULL, 0), JANUS_EINVAL);
    ASSERT_EQ(janus_seq_reset(s, 1), JANUS_EINVAL);
    ASSERT_EQ(janus_seq_reset(NULL, 0), JANUS_EINVAL);

    // generate: every argument error is caught before anything runs
    ASSERT_OK(janus_seq_reset(s, 0));
    ASSERT_OK(janus_session_decode(s, 0, toks, 3, NULL));
    struct text t = {0};
    int32_t ng = -7;
    ASSERT_EQ(janus_generate(s, 0, "The server an", NULL, 4, on_piece, &t, &ng), JANUS_ELIMIT);
    ASSERT_EQ(janus_generate(s, 1, "x", NULL, 1, on_piece, &t, &ng), JANUS_EINVAL);
    ASSERT_EQ(janus_generate(s, 0, NULL, NULL, 1, on_piece, &t, &ng), JANUS_EINVAL);
    ASSERT_EQ(janus_generate(s, 0, "x", NULL, -1, on_piece, &t, &ng), JANUS_EINVAL);
    ASSERT_EQ(janus_generate(s, 0, "x", &bp, 1, on_piece, &t, &ng), JANUS_EINVAL);
    ASSERT_EQ(ng, -7);
    ASSERT_EQ(t.n_calls, 0);
    ASSERT_EQ(janus_seq_length(s, 0), 3);
    ASSERT_OK(janus_generate(s, 0, "x", NULL, 0, on_piece, &t, &ng)); // checks only
    ASSERT_EQ(ng, 0);
    ASSERT_EQ(janus_seq_length(s, 0), 3);
    janus_session_destroy(&s);
    janus_model_close(&m);
}

// Closing a model that a session still uses is a bug: it aborts instead of freeing.
TEST(model_close_with_live_session_aborts) {
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        janus_model_t *m = open_or_null("llama-moe-f32");
        janus_session_t *s = NULL;
        if (!m || janus_session_create(m, NULL, &s) != JANUS_OK) _exit(3);
        janus_model_close(&m);
        _exit(0);
    }
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
    ASSERT(!(WIFEXITED(st) && WEXITSTATUS(st) == 3));
}

// ---- generation

// janus_generate prints what `janus generate` prints (its stdout minus the final newline).
static void check_generate(const char *name, const char *prompt, int n, const char *extra,
                           const struct janus_sampling_params *sp) {
    char path[512], args[1024], cli[4096];
    model_path(path, sizeof path, name);
    snprintf(args, sizeof args, "-m '%s' -p '%s' -n %d %s", path, prompt, n, extra);
    int status;
    run_cli(args, cli, sizeof cli, &status);
    ASSERT_EQ(status, 0);
    size_t cl = strlen(cli);
    ASSERT(cl > 0 && cli[cl - 1] == '\n');
    cli[cl - 1] = 0;

    janus_model_t *m = open_or_null(name);
    ASSERT(m != NULL);
    janus_session_t *s = NULL;
    ASSERT_OK(janus_session_create(m, NULL, &s));
    struct text t = {0};
    int32_t ng = -1;
    ASSERT_OK(janus_generate(s, 0, prompt, sp, n, on_piece, &t, &ng));
    ASSERT_STR_EQ(t.buf, cli);
    ASSERT(ng >= 1 && ng <= n);
    int32_t ids[128];
    const int np = janus_tokenize(m, prompt, strlen(prompt), 1, 0, ids, 128);
    ASSERT(np > 0);
    ASSERT_EQ(janus_seq_length(s, 0), np + ng);
    janus_session_destroy(&s);
    janus_model_close(&m);
}

TEST(generate_matches_cli) {
    check_generate("llama-moe-f32", "The server", 24, "", NULL);
    check_generate("qwen2moe-f32", "Hello world", 16, "", NULL);
    check_generate("deepseek2-v2g-f32", "The quick brown fox", 16, "", NULL);
    struct janus_sampling_params sp = {.temperature = 0.9f, .top_k = 40, .top_p = 0.95f, .seed = 7};
    check_generate("llama-moe-q8_0", "Once upon a time", 20,
                   "--temp 0.9 --top-k 40 --top-p 0.95 --seed 7", &sp);
}

TEST(generate_cancel_and_continue) {
    janus_model_t *m = open_or_null("llama-moe-f32");
    ASSERT(m != NULL);
    janus_session_t *s = NULL;
    ASSERT_OK(janus_session_create(m, NULL, &s));
    struct text full = {0}, part = {.stop_after = 2};
    ASSERT_OK(janus_generate(s, 0, "The server", NULL, 24, on_piece, &full, NULL));
    ASSERT_OK(janus_seq_reset(s, 0));
    int32_t ng = -1;
    ASSERT_EQ(janus_generate(s, 0, "The server", NULL, 24, on_piece, &part, &ng), JANUS_ECANCELED);
    ASSERT_EQ(part.n_calls, 2);
    ASSERT(ng >= 2 && ng < 24);
    ASSERT(part.len < full.len && memcmp(part.buf, full.buf, part.len) == 0);
    // the sequence holds the prompt and every generated token
    int32_t ids[32];
    const int np = janus_tokenize(m, "The server", 10, 1, 0, ids, 32);
    ASSERT_EQ(janus_seq_length(s, 0), np + ng);
    // continuing: text appended without a second BOS
    const int32_t len0 = janus_seq_length(s, 0);
    const int np2 = janus_tokenize(m, " and", 4, 0, 0, ids, 32);
    ASSERT(np2 > 0);
    struct text more = {0};
    ASSERT_OK(janus_generate(s, 0, " and", NULL, 4, on_piece, &more, &ng));
    ASSERT_EQ(ng, 4);
    ASSERT_EQ(janus_seq_length(s, 0), len0 + np2 + 4);
    // 6 tokens, then an empty prompt continues with 18 more: the same text as 24 at once
    ASSERT_OK(janus_seq_reset(s, 0));
    struct text split = {0};
    ASSERT_OK(janus_generate(s, 0, "The server", NULL, 6, on_piece, &split, &ng));
    ASSERT_EQ(ng, 6);
    ASSERT_OK(janus_generate(s, 0, "", NULL, 18, on_piece, &split, &ng));
    ASSERT_EQ(ng, 18);
    ASSERT_STR_EQ(split.buf, full.buf);
    janus_session_destroy(&s);
    janus_model_close(&m);
}

// Seeded sampling is reproducible per sequence and restarts after reset.
TEST(sampling_streams) {
    janus_model_t *m = open_or_null("llama-moe-f32");
    ASSERT(m != NULL);
    struct janus_session_params spp = janus_session_default_params();
    spp.n_seq = 2;
    janus_session_t *s = NULL;
    ASSERT_OK(janus_session_create(m, &spp, &s));
    struct janus_sampling_params sp = {.temperature = 1.5f, .top_k = 0, .top_p = 1.0f, .seed = 11};
    int32_t a[16], b[16];
    const int32_t bos = 1;
    ASSERT_OK(janus_session_decode(s, 0, &bos, 1, NULL));
    ASSERT_OK(janus_session_decode(s, 1, &bos, 1, NULL));
    for (int i = 0; i < 16; i++) { // same logits, same seed: same draws on both sequences
        ASSERT_OK(janus_session_sample(s, 0, &sp, &a[i]));
        ASSERT_OK(janus_session_sample(s, 1, &sp, &b[i]));
        ASSERT_EQ(a[i], b[i]);
    }
    int distinct = 0;
    for (int i = 1; i < 16; i++)
        distinct += a[i] != a[0];
    ASSERT(distinct > 0); // the stream advances (temperature 1.5 over 768 tokens)
    ASSERT_OK(janus_seq_reset(s, 1));
    ASSERT_OK(janus_session_decode(s, 1, &bos, 1, NULL));
    for (int i = 0; i < 16; i++) {
        ASSERT_OK(janus_session_sample(s, 1, &sp, &b[i]));
        ASSERT_EQ(a[i], b[i]); // restarted from the seed
    }
    janus_session_destroy(&s);
    janus_model_close(&m);
}

// Two threads, one session each, on one shared model.
struct thread_arg {
    janus_model_t *m;
    const char *fix; // test_fixtures_dir() is not thread-safe: resolved before the threads
    int n_ref, rc;
};

static void *thread_main(void *p) {
    struct thread_arg *a = p;
    janus_session_t *s = NULL;
    a->rc = janus_session_create(a->m, NULL, &s);
    for (int rep = 0; rep < 3 && a->rc == 0; rep++) {
        a->rc = greedy_check_in(a->fix, s, 0, "llama-moe-f16", a->n_ref);
        if (a->rc == 0) a->rc = janus_seq_reset(s, 0);
    }
    janus_session_destroy(&s);
    return NULL;
}

TEST(sessions_in_threads) {
    janus_model_t *m = open_or_null("llama-moe-f16");
    ASSERT(m != NULL);
    char fix[512];
    snprintf(fix, sizeof fix, "%s", test_fixtures_dir());
    struct thread_arg a[2] = {{m, fix, 1, -1}, {m, fix, 3, -1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, thread_main, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_join(th[i], NULL), 0);
    ASSERT_EQ(a[0].rc, 0);
    ASSERT_EQ(a[1].rc, 0);
    janus_model_close(&m);
}

// A model whose GGUF lacks the tokenizer keys: decoding works, text functions say
// JANUS_EUNSUPPORTED, and require_vocab turns it into an open error.
TEST(model_without_vocab) {
    char src[512], path[512], err[512];
    model_path(src, sizeof src, "llama-moe-f32");
    snprintf(path, sizeof path, "%s/novocab.gguf", test_tmpdir());
    struct gguf g;
    ASSERT_OK(gguf_open(&g, src, err, sizeof err));
    struct gguf_writer *w = gguf_writer_create();
    ASSERT(w != NULL);
    int rc = JANUS_OK;
    for (int64_t i = 0; i < g.n_kv && rc == JANUS_OK; i++)
        if (g.kv[i].key.len < 10 || memcmp(g.kv[i].key.ptr, "tokenizer.", 10) != 0)
            rc = gguf_writer_copy_kv(w, &g, i);
    for (int64_t i = 0; i < g.n_tensors && rc == JANUS_OK; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        rc =
            gguf_writer_add_tensor(w, name, t->n_dims, t->ne, t->type, t->data, (size_t)t->n_bytes);
    }
    if (rc == JANUS_OK) rc = gguf_writer_write(w, path);
    gguf_writer_destroy(&w);
    gguf_close(&g);
    ASSERT_OK(rc);

    struct janus_model_params mp = janus_model_default_params();
    mp.require_vocab = 1;
    janus_model_t *m = NULL;
    ASSERT(janus_model_open(path, &mp, &m, err, sizeof err) < 0);
    ASSERT(m == NULL);
    ASSERT(strstr(err, path) == err && strstr(err, "tokenizer") != NULL);
    ASSERT_OK(janus_model_open(path, NULL, &m, err, sizeof err));
    struct janus_model_info in;
    ASSERT_OK(janus_model_info(m, &in));
    ASSERT_EQ(in.has_vocab, 0);
    ASSERT_EQ(in.token_bos, -1);
    ASSERT_EQ(in.token_eos, -1);
    int32_t ids[8];
    char piece[8];
    ASSERT_EQ(janus_tokenize(m, "hi", 2, 1, 0, ids, 8), JANUS_EUNSUPPORTED);
    ASSERT_EQ(janus_token_to_piece(m, 5, 0, piece, sizeof piece), JANUS_EUNSUPPORTED);
    janus_session_t *s = NULL;
    ASSERT_OK(janus_session_create(m, NULL, &s));
    ASSERT_EQ(janus_generate(s, 0, "hi", NULL, 4, on_piece, NULL, NULL), JANUS_EUNSUPPORTED);
    ASSERT_EQ(janus_seq_length(s, 0), 0);
    ASSERT_EQ(greedy_check(s, 0, "llama-moe-f32", 2), 0); // token ids need no tokenizer
    janus_session_destroy(&s);
    janus_model_close(&m);
}

// ---- allocation failures

// Fails the k-th allocation for k = 1, 2, ... over open → create → generate → destroy →
// close until a run completes untouched. Every failure must be JANUS_ENOMEM, leave the
// out-parameters and the sequence unchanged, and leak nothing.
TEST(alloc_failure_sweep) {
    char path[512], err[512];
    model_path(path, sizeof path, "deepseek2-v3g-f32");
    const int64_t base = live_bytes();
    int n_fail = 0;
    for (uint64_t k = 1; k < 100000; k++) {
        janus_model_t *m = NULL;
        janus_session_t *s = NULL;
        struct text t = {0};
        struct janus_session_params sp = janus_session_default_params();
        sp.n_ctx = 64;
        sp.n_batch = 4;
        mem_fail_after(k);
        int rc = janus_model_open(path, NULL, &m, err, sizeof err);
        int stage = 0;
        if (rc == JANUS_OK) stage = 1, rc = janus_session_create(m, &sp, &s);
        if (rc == JANUS_OK)
            stage = 2, rc = janus_generate(s, 0, "The server an", NULL, 6, on_piece, &t, NULL);
        mem_fail_after(0);
        if (rc == JANUS_OK) {
            ASSERT(t.len > 0);
            janus_session_destroy(&s);
            janus_model_close(&m);
            ASSERT_EQ(live_bytes(), base);
            ASSERT(n_fail > 10);
            return;
        }
        n_fail++;
        if (rc != JANUS_ENOMEM)
            TEST_FAIL_("k=%llu stage %d: status %d (%s)", (unsigned long long)k, stage, rc, err);
        if (stage == 0) ASSERT(m == NULL);
        if (stage == 0) ASSERT(strstr(err, path) != NULL || strstr(err, "memory") != NULL);
        if (stage == 1) ASSERT(s == NULL);
        if (stage == 2) {
            ASSERT_EQ(janus_seq_length(s, 0), 0);
            ASSERT_EQ(t.n_calls, 0);
        }
        janus_session_destroy(&s);
        janus_model_close(&m);
        if (live_bytes() != base)
            TEST_FAIL_("k=%llu stage %d: %lld bytes leaked", (unsigned long long)k, stage,
                       (long long)(live_bytes() - base));
    }
    TEST_FAIL_("never completed");
}
