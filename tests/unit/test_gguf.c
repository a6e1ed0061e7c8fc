// Tests for the GGUF reader and writer (src/model/gguf.c): every fixture model and vocab
// file opens with the expected keys and tensors; typed getters; writer round trips (memory,
// file, streaming); truncation at every header offset and through the data; seeded byte
// flips; hand-crafted malicious headers each give the expected one-line error.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "kernels/types.h"
#include "model/gguf.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *k_models[] = {
    "deepseek2-v2-f32", "deepseek2-v2g-f32", "deepseek2-v3-f32", "deepseek2-v3g-f32",
    "llama-moe-bf16",   "llama-moe-f16",     "llama-moe-f32",    "llama-moe-q8_0",
    "qwen2moe-f32",     "qwen3moe-f32",
};

static void model_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/models/%s.gguf", test_fixtures_dir(), name);
}

static int str_is(struct gguf_str s, const char *c) {
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

// ---- fixtures

TEST(open_fixture_models) {
    for (size_t m = 0; m < JANUS_ARRAY_SIZE(k_models); m++) {
        char path[4096], err[512];
        model_path(path, sizeof path, k_models[m]);
        struct gguf g;
        int rc = gguf_open(&g, path, err, sizeof err);
        if (rc) TEST_FAIL_("%s: %s", k_models[m], err);
        ASSERT_EQ(g.version, 3);
        ASSERT_EQ(g.alignment, 32);
        struct gguf_str arch;
        ASSERT_OK(gguf_get_str(&g, "general.architecture", &arch, err, sizeof err));
        char key[128];
        snprintf(key, sizeof key, "%.*s.vocab_size", (int)arch.len, arch.ptr);
        uint32_t nv = 0;
        ASSERT_OK(gguf_get_u32(&g, key, &nv, err, sizeof err));
        ASSERT_EQ(nv, 768);
        snprintf(key, sizeof key, "%.*s.embedding_length", (int)arch.len, arch.ptr);
        uint32_t ne = 0;
        ASSERT_OK(gguf_get_u32(&g, key, &ne, err, sizeof err));
        ASSERT_EQ(ne, 64);
        const struct gguf_tensor *te = gguf_find_tensor(&g, "token_embd.weight");
        ASSERT(te != NULL);
        ASSERT_EQ(te->n_dims, 2);
        ASSERT_EQ(te->ne[0], 64);
        ASSERT_EQ(te->ne[1], 768);
        ASSERT(gguf_find_tensor(&g, "output.weight") != NULL);
        ASSERT(gguf_find_tensor(&g, "output_norm.weight") != NULL);
        ASSERT(gguf_find_tensor(&g, "no.such.tensor") == NULL);
        ASSERT(gguf_find_tensor(&g, "output") == NULL);         // prefix of a name
        ASSERT(gguf_find_tensor(&g, "output.weightx") == NULL); // extension of a name
        ASSERT(gguf_find_tensor(&g, "") == NULL);
        // every key and tensor is found at its own index by the sorted lookup
        for (int64_t i = 0; i < g.n_kv; i++) {
            char k[256];
            snprintf(k, sizeof k, "%.*s", (int)g.kv[i].key.len, g.kv[i].key.ptr);
            ASSERT_EQ(gguf_find_key(&g, k), i);
        }
        for (int64_t i = 0; i < g.n_tensors; i++) {
            char k[256];
            snprintf(k, sizeof k, "%.*s", (int)g.tensors[i].name.len, g.tensors[i].name.ptr);
            ASSERT(gguf_find_tensor(&g, k) == &g.tensors[i]);
        }
        ASSERT(gguf_find_key(&g, "no.such.key") < 0);
        // every tensor lies inside the map, after the data section start, aligned
        uint64_t end_max = 0;
        for (int64_t i = 0; i < g.n_tensors; i++) {
            const struct gguf_tensor *t = &g.tensors[i];
            ASSERT((const uint8_t *)t->data >= g.data);
            ASSERT((const uint8_t *)t->data + t->n_bytes <= g.map + g.size);
            ASSERT_EQ(t->offset % 32, 0);
            if (t->offset + t->n_bytes > end_max) end_max = t->offset + t->n_bytes;
        }
        ASSERT_EQ(g.data_offset + end_max, g.size);
        // file type matches the matrices' storage type
        uint32_t ft = 99;
        ASSERT_OK(gguf_get_u32(&g, "general.file_type", &ft, err, sizeof err));
        uint32_t want = ft == 0   ? GGML_TYPE_F32
                        : ft == 1 ? GGML_TYPE_F16
                        : ft == 7 ? GGML_TYPE_Q8_0
                                  : GGML_TYPE_BF16;
        ASSERT_EQ(te->type, want);
        gguf_close(&g);
        ASSERT(g.kv == NULL && g.map == NULL);
    }
}

TEST(open_vocab_files) {
    static const struct {
        const char *file;
        uint64_t n_tokens;
        uint64_t n_merges;
        uint32_t bos;
        const char *tok0;
    } k_vocab[] = {
        {"ggml-vocab-llama-spm", 32000, 0, 1, "<unk>"},
        {"ggml-vocab-gpt-2", 50257, 50000, 50256, "!"},
        {"ggml-vocab-deepseek-coder", 32256, 31757, 32013, "!"},
        {"ggml-vocab-deepseek-llm", 102400, 99757, 100000, "!"},
        {"ggml-vocab-janus-spm", 768, 0, 1, "<unk>"},
    };
    for (size_t v = 0; v < JANUS_ARRAY_SIZE(k_vocab); v++) {
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/tokenizer/%s.gguf", test_fixtures_dir(), k_vocab[v].file);
        struct gguf g;
        int rc = gguf_open(&g, path, err, sizeof err);
        if (rc) TEST_FAIL_("%s: %s", k_vocab[v].file, err);
        ASSERT_EQ(g.n_tensors, 0);
        enum gguf_type et;
        uint64_t n = 0;
        ASSERT_OK(gguf_get_arr(&g, "tokenizer.ggml.tokens", &et, &n, err, sizeof err));
        ASSERT_EQ(et, GGUF_TYPE_STRING);
        ASSERT_EQ(n, k_vocab[v].n_tokens);
        int64_t ki = gguf_find_key(&g, "tokenizer.ggml.tokens");
        ASSERT(ki >= 0);
        struct gguf_str t0 = gguf_arr_str(&g, ki, 0);
        if (!str_is(t0, k_vocab[v].tok0))
            TEST_FAIL_("%s: token 0 is '%.*s'", k_vocab[v].file, (int)t0.len, t0.ptr);
        // the last element is reachable and inside the map
        struct gguf_str tl = gguf_arr_str(&g, ki, n - 1);
        ASSERT((const uint8_t *)tl.ptr + tl.len <= g.map + g.size);
        if (k_vocab[v].n_merges) {
            ASSERT_OK(gguf_get_arr(&g, "tokenizer.ggml.merges", &et, &n, err, sizeof err));
            ASSERT_EQ(n, k_vocab[v].n_merges);
        } else {
            ASSERT_EQ(gguf_get_arr(&g, "tokenizer.ggml.merges", &et, &n, err, sizeof err),
                      JANUS_ENOTFOUND);
        }
        uint32_t bos = 0;
        ASSERT_OK(gguf_get_u32(&g, "tokenizer.ggml.bos_token_id", &bos, err, sizeof err));
        ASSERT_EQ(bos, k_vocab[v].bos);
        gguf_close(&g);
    }
}

TEST(typed_getters) {
    char path[4096], err[512];
    model_path(path, sizeof path, "deepseek2-v3-f32");
    struct gguf g;
    ASSERT_OK(gguf_open(&g, path, err, sizeof err));
    uint32_t u = 0;
    ASSERT_OK(gguf_get_u32(&g, "deepseek2.block_count", &u, err, sizeof err));
    ASSERT_EQ(u, 3);
    float f = 0;
    ASSERT_OK(gguf_get_f32(&g, "deepseek2.rope.freq_base", &f, err, sizeof err));
    ASSERT_EQ(f, 10000.0f);
    ASSERT_OK(gguf_get_f32(&g, "deepseek2.expert_weights_scale", &f, err, sizeof err));
    ASSERT_NEAR(f, 2.5, 0);
    int b = -1;
    ASSERT_OK(gguf_get_bool(&g, "deepseek2.expert_weights_norm", &b, err, sizeof err));
    ASSERT_EQ(b, 1);
    ASSERT_OK(gguf_get_bool(&g, "tokenizer.ggml.add_bos_token", &b, err, sizeof err));
    ASSERT_EQ(b, 1);
    struct gguf_str s;
    ASSERT_OK(gguf_get_str(&g, "tokenizer.ggml.model", &s, err, sizeof err));
    ASSERT(str_is(s, "llama"));
    // wrong types name the key and the found type
    ASSERT_EQ(gguf_get_u32(&g, "general.architecture", &u, err, sizeof err), JANUS_EFORMAT);
    ASSERT(strstr(err, "general.architecture") && strstr(err, "string"));
    ASSERT_EQ(gguf_get_f32(&g, "deepseek2.block_count", &f, err, sizeof err), JANUS_EFORMAT);
    ASSERT(strstr(err, "deepseek2.block_count"));
    ASSERT_EQ(gguf_get_bool(&g, "deepseek2.block_count", &b, err, sizeof err), JANUS_EFORMAT);
    ASSERT_EQ(gguf_get_str(&g, "deepseek2.block_count", &s, err, sizeof err), JANUS_EFORMAT);
    enum gguf_type et;
    uint64_t n;
    ASSERT_EQ(gguf_get_arr(&g, "deepseek2.block_count", &et, &n, err, sizeof err), JANUS_EFORMAT);
    ASSERT_EQ(gguf_get_u32(&g, "missing.key", &u, err, sizeof err), JANUS_ENOTFOUND);
    ASSERT(strstr(err, "missing.key"));
    // numeric arrays
    int64_t ks = gguf_find_key(&g, "tokenizer.ggml.scores");
    int64_t kt = gguf_find_key(&g, "tokenizer.ggml.token_type");
    ASSERT(ks >= 0 && kt >= 0);
    ASSERT_EQ(gguf_arr_f64(&g, ks, 0), 0.0);
    ASSERT_EQ(gguf_arr_f64(&g, ks, 260), -1.0); // score −(id − 259)
    ASSERT_EQ(gguf_arr_i64(&g, kt, 0), 2);      // <unk>: UNKNOWN
    ASSERT_EQ(gguf_arr_i64(&g, kt, 1), 3);      // <s>: CONTROL
    ASSERT_EQ(gguf_arr_i64(&g, kt, 3), 6);      // <0x00>: BYTE
    ASSERT_EQ(gguf_arr_i64(&g, kt, 300), 1);
    ASSERT_EQ(gguf_arr_f64(&g, kt, 300), 1.0);
    ASSERT_EQ(gguf_arr_i64(&g, ks, 260), -1);
    gguf_close(&g);
}

TEST(open_errors) {
    char err[512];
    struct gguf g;
    ASSERT_EQ(gguf_open(&g, "/nonexistent/x.gguf", err, sizeof err), JANUS_ENOTFOUND);
    ASSERT(strstr(err, "/nonexistent/x.gguf"));
    ASSERT(gguf_open(&g, test_tmpdir(), err, sizeof err) < 0);
    char path[512];
    snprintf(path, sizeof path, "%s/empty.gguf", test_tmpdir());
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    fclose(f);
    ASSERT_EQ(gguf_open(&g, path, err, sizeof err), JANUS_EFORMAT);
    ASSERT(strstr(err, "empty"));
    gguf_close(&g); // closing a failed (zeroed) handle is a no-op
}

TEST(type_table) {
    ASSERT_EQ(ggml_type_block_bytes(GGML_TYPE_F32), 4);
    ASSERT_EQ(ggml_type_block_bytes(GGML_TYPE_F16), 2);
    ASSERT_EQ(ggml_type_block_bytes(GGML_TYPE_BF16), 2);
    ASSERT_EQ(ggml_type_block_bytes(GGML_TYPE_Q8_0), 34);
    ASSERT_EQ(ggml_type_block_elems(GGML_TYPE_Q8_0), 32);
    ASSERT_EQ(ggml_type_block_bytes(GGML_TYPE_Q4_K), 144); // computable since issue 13
    ASSERT_EQ(ggml_type_block_elems(GGML_TYPE_Q4_K), 256);
    ASSERT_EQ(ggml_type_block_bytes(GGML_TYPE_IQ4_XS), 136);
    ASSERT_EQ(ggml_type_block_elems(GGML_TYPE_Q4_0), 32);
    ASSERT_EQ(ggml_type_block_bytes(GGML_TYPE_IQ2_XXS), 0); // iq2_xxs: known, not computable
    ASSERT_EQ(ggml_type_block_bytes(15), 0);                // q8_K: not a weight type
    ASSERT_EQ(ggml_type_block_bytes(34), 0);                // tq1_0
    ASSERT_STR_EQ(ggml_type_name(GGML_TYPE_IQ2_XXS), "iq2_xxs");
    ASSERT_STR_EQ(ggml_type_name(12), "q4_K");
    ASSERT_STR_EQ(ggml_type_name(30), "bf16");
    int64_t be;
    size_t bb;
    ASSERT(ggml_type_layout(12, &be, &bb));
    ASSERT_EQ(be, 256);
    ASSERT_EQ(bb, 144);
    ASSERT(ggml_type_layout(14, &be, &bb));
    ASSERT_EQ(bb, 210); // q6_K
    ASSERT(ggml_type_layout(2, &be, &bb));
    ASSERT_EQ(bb, 18);                       // q4_0
    ASSERT(!ggml_type_layout(4, &be, &bb));  // q4_2: removed
    ASSERT(!ggml_type_layout(99, &be, &bb)); // unknown
    int64_t ne[2] = {64, 3};
    ASSERT_EQ(gguf_tensor_bytes(2, ne, GGML_TYPE_Q8_0), 2 * 34 * 3);
    ne[0] = 33;
    ASSERT_EQ(gguf_tensor_bytes(2, ne, GGML_TYPE_Q8_0), 0);
}

// ---- writer

// Builds a small model-like file with every kind of key and tensor type.
static int build_sample(struct gguf_writer *w, float *f32_data, uint16_t *f16_data,
                        struct block_q8_0 *q8, uint8_t *iq2) {
    const char *strs[] = {"a", "", "ü▁x", "<0x00>"};
    float fa[3] = {1.5f, -2.0f, 0.25f};
    int32_t ia[4] = {-1, 0, 7, 2147483647};
    int rc = gguf_writer_add_str(w, "general.architecture", "llama");
    if (!rc) rc = gguf_writer_add_u32(w, "llama.block_count", 7);
    if (!rc) rc = gguf_writer_add_f32(w, "llama.rope.freq_base", 10000.0f);
    if (!rc) rc = gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", 1);
    if (!rc) rc = gguf_writer_add_u64(w, "x.u64", 123456789012ull);
    if (!rc) rc = gguf_writer_add_i32(w, "x.i32", -5);
    if (!rc) rc = gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", strs, 4);
    if (!rc) rc = gguf_writer_add_arr_f32(w, "tokenizer.ggml.scores", fa, 3);
    if (!rc) rc = gguf_writer_add_arr_i32(w, "tokenizer.ggml.token_type", ia, 4);
    if (!rc) rc = gguf_writer_add_arr_i32(w, "empty.array", ia, 0);
    for (int i = 0; i < 96; i++)
        f32_data[i] = (float)i * 0.5f - 3.0f;
    types_f32_to_f16_row(f16_data, f32_data, 96);
    q8_0_quantize_row(q8, f32_data, 96);
    for (int i = 0; i < 66; i++)
        iq2[i] = (uint8_t)(i * 7);
    int64_t ne1[1] = {5}, ne2[2] = {32, 3}, ne3[3] = {16, 2, 3}, ne4[1] = {256};
    if (!rc) rc = gguf_writer_add_tensor(w, "norm.weight", 1, ne1, GGML_TYPE_F32, f32_data, 20);
    if (!rc) rc = gguf_writer_add_tensor(w, "m.f16", 3, ne3, GGML_TYPE_F16, f16_data, 192);
    if (!rc) rc = gguf_writer_add_tensor(w, "m.q8", 2, ne2, GGML_TYPE_Q8_0, q8, 102);
    if (!rc) rc = gguf_writer_add_tensor(w, "m.iq2", 1, ne4, GGML_TYPE_IQ2_XXS, iq2, 66);
    return rc;
}

static void check_sample(const struct gguf *g, const float *f32_data, const uint16_t *f16_data,
                         const struct block_q8_0 *q8, const uint8_t *iq2) {
    char err[256];
    ASSERT_EQ(g->version, 3);
    ASSERT_EQ(g->n_kv, 10);
    ASSERT_EQ(g->n_tensors, 4);
    ASSERT_EQ(g->data_offset % 32, 0);
    uint32_t u;
    ASSERT_OK(gguf_get_u32(g, "llama.block_count", &u, err, sizeof err));
    ASSERT_EQ(u, 7);
    ASSERT_EQ(gguf_get_u32(g, "x.u64", &u, err, sizeof err), JANUS_EFORMAT); // > u32 max
    ASSERT_EQ(gguf_get_u32(g, "x.i32", &u, err, sizeof err), JANUS_EFORMAT); // negative
    float f;
    ASSERT_OK(gguf_get_f32(g, "llama.rope.freq_base", &f, err, sizeof err));
    ASSERT_EQ(f, 10000.0f);
    int b;
    ASSERT_OK(gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, err, sizeof err));
    ASSERT_EQ(b, 1);
    int64_t k = gguf_find_key(g, "tokenizer.ggml.tokens");
    ASSERT(k >= 0);
    ASSERT(str_is(gguf_arr_str(g, k, 0), "a"));
    ASSERT(str_is(gguf_arr_str(g, k, 1), ""));
    ASSERT(str_is(gguf_arr_str(g, k, 2), "ü▁x"));
    ASSERT(str_is(gguf_arr_str(g, k, 3), "<0x00>"));
    k = gguf_find_key(g, "tokenizer.ggml.scores");
    ASSERT_EQ(gguf_arr_f64(g, k, 2), 0.25);
    k = gguf_find_key(g, "tokenizer.ggml.token_type");
    ASSERT_EQ(gguf_arr_i64(g, k, 0), -1);
    ASSERT_EQ(gguf_arr_i64(g, k, 3), 2147483647);
    enum gguf_type et;
    uint64_t n = 9;
    ASSERT_OK(gguf_get_arr(g, "empty.array", &et, &n, err, sizeof err));
    ASSERT_EQ(n, 0);
    const struct gguf_tensor *t = gguf_find_tensor(g, "norm.weight");
    ASSERT(t && t->n_dims == 1 && t->ne[0] == 5 && t->ne[1] == 1 && t->n_bytes == 20);
    ASSERT_MEM_EQ(t->data, f32_data, 20);
    t = gguf_find_tensor(g, "m.f16");
    ASSERT(t && t->n_dims == 3 && t->ne[2] == 3 && t->type == GGML_TYPE_F16);
    ASSERT_MEM_EQ(t->data, f16_data, 192);
    t = gguf_find_tensor(g, "m.q8");
    ASSERT(t && t->type == GGML_TYPE_Q8_0 && t->n_bytes == 102);
    ASSERT_MEM_EQ(t->data, q8, 102);
    t = gguf_find_tensor(g, "m.iq2");
    ASSERT(t && t->type == GGML_TYPE_IQ2_XXS && t->n_bytes == 66);
    ASSERT_MEM_EQ(t->data, iq2, 66);
    ASSERT_EQ(ggml_type_block_bytes(t->type), 0); // engine reports "unsupported type iq2_xxs"
    for (int64_t i = 0; i < g->n_tensors; i++)
        ASSERT_EQ(g->tensors[i].offset % 32, 0);
}

TEST(writer_roundtrip) {
    float f32_data[96];
    uint16_t f16_data[96];
    struct block_q8_0 q8[3];
    uint8_t iq2[66];
    struct gguf_writer *w = gguf_writer_create();
    ASSERT(w != NULL);
    ASSERT_OK(build_sample(w, f32_data, f16_data, q8, iq2));
    void *mem = NULL;
    size_t len = 0;
    ASSERT_OK(gguf_writer_write_memory(w, &mem, &len));
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/rt.gguf", test_tmpdir());
    ASSERT_OK(gguf_writer_write(w, path));
    gguf_writer_destroy(&w);
    ASSERT(w == NULL);

    struct gguf g;
    int rc = gguf_open_memory(&g, mem, len, err, sizeof err);
    if (rc) TEST_FAIL_("%s", err);
    check_sample(&g, f32_data, f16_data, q8, iq2);
    if (test_current_failed) return;
    gguf_close(&g);
    rc = gguf_open(&g, path, err, sizeof err);
    if (rc) TEST_FAIL_("%s", err);
    check_sample(&g, f32_data, f16_data, q8, iq2);
    ASSERT_EQ(g.size, len);
    ASSERT_MEM_EQ(g.map, mem, len);

    // copy_kv reproduces every key byte for byte; streaming gives the identical file
    struct gguf_writer *w2 = gguf_writer_create();
    for (int64_t i = 0; i < g.n_kv; i++)
        ASSERT_OK(gguf_writer_copy_kv(w2, &g, i));
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        char name[LIMIT_GGUF_MAX_NAME + 1];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        ASSERT_OK(gguf_writer_add_tensor_info(w2, name, t->n_dims, t->ne, t->type));
    }
    char path2[512];
    snprintf(path2, sizeof path2, "%s/rt2.gguf", test_tmpdir());
    ASSERT_OK(gguf_writer_stream_begin(w2, path2));
    ASSERT_EQ(gguf_writer_add_u32(w2, "late.key", 1), JANUS_EINVAL); // no keys after begin
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const uint8_t *p = g.tensors[i].data;
        size_t n = g.tensors[i].n_bytes;
        ASSERT_OK(gguf_writer_stream_data(w2, p, n / 2)); // in two chunks
        ASSERT_OK(gguf_writer_stream_data(w2, p + n / 2, n - n / 2));
    }
    ASSERT_EQ(gguf_writer_stream_data(w2, "x", 1), JANUS_EINVAL); // more than declared
    ASSERT_EQ(gguf_writer_stream_end(w2), JANUS_EINVAL);          // failed stream
    struct stat st;
    ASSERT(stat(path2, &st) != 0); // partial file removed
    gguf_writer_destroy(&w2);
    // again, correctly
    w2 = gguf_writer_create();
    for (int64_t i = 0; i < g.n_kv; i++)
        ASSERT_OK(gguf_writer_copy_kv(w2, &g, i));
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        char name[LIMIT_GGUF_MAX_NAME + 1];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        ASSERT_OK(gguf_writer_add_tensor_info(w2, name, t->n_dims, t->ne, t->type));
    }
    ASSERT_OK(gguf_writer_stream_begin(w2, path2));
    for (int64_t i = 0; i < g.n_tensors; i++)
        ASSERT_OK(gguf_writer_stream_data(w2, g.tensors[i].data, g.tensors[i].n_bytes));
    ASSERT_OK(gguf_writer_stream_end(w2));
    gguf_writer_destroy(&w2);
    size_t len2 = 0;
    uint8_t *b2 = test_read_file(path2, &len2);
    ASSERT(b2 != NULL);
    ASSERT_EQ(len2, len);
    ASSERT_MEM_EQ(b2, mem, len);
    free(b2);
    gguf_close(&g);
    mem_free(mem);
}

TEST(writer_rejects_bad_input) {
    struct gguf_writer *w = gguf_writer_create();
    float x[64] = {0};
    int64_t ne[2] = {32, 2};
    ASSERT_OK(gguf_writer_add_u32(w, "a", 1));
    ASSERT_EQ(gguf_writer_add_u32(w, "a", 2), JANUS_EINVAL); // duplicate key
    ASSERT_EQ(gguf_writer_add_u32(w, "", 2), JANUS_EINVAL);  // empty key
    ASSERT_EQ(gguf_writer_add_str(w, "s", NULL), JANUS_EINVAL);
    ASSERT_OK(gguf_writer_add_tensor(w, "t", 2, ne, GGML_TYPE_F32, x, sizeof x));
    ASSERT_EQ(gguf_writer_add_tensor(w, "t", 2, ne, GGML_TYPE_F32, x, 256), JANUS_EINVAL);
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", 2, ne, GGML_TYPE_F32, x, 100), JANUS_EINVAL);
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", 5, ne, GGML_TYPE_F32, x, 256), JANUS_EINVAL);
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", 2, ne, 4, x, 256), JANUS_EINVAL); // removed type
    int64_t bad[2] = {33, 1};
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", 2, bad, GGML_TYPE_Q8_0, x, 34), JANUS_EINVAL);
    bad[0] = 0;
    ASSERT_EQ(gguf_writer_add_tensor(w, "u", 2, bad, GGML_TYPE_F32, x, 0), JANUS_EINVAL);
    ASSERT_OK(gguf_writer_add_tensor_info(w, "v", 2, ne, GGML_TYPE_F32));
    void *mem;
    size_t len;
    ASSERT_EQ(gguf_writer_write_memory(w, &mem, &len), JANUS_EINVAL); // v has no data
    gguf_writer_destroy(&w);
    gguf_writer_destroy(&w); // idempotent on NULL
}

// A general.alignment key (any integer type, as the reader takes it) sets the alignment the writer
// lays the data out with, whatever its order among the tensors: written, reopened and copied
// (copy_kv) files hold the same bytes at offsets that are multiples of it (before the fix, 32 was
// used and the data read shifted).
TEST(writer_honours_alignment) {
    static const uint32_t aligns[] = {1, 2, 64, 4096};
    float x[48];
    for (int i = 0; i < 48; i++)
        x[i] = (float)i - 7.5f;
    int64_t ne_a[1] = {3}, ne_b[1] = {45};
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(aligns); k++) {
        for (int key_last = 0; key_last < 2; key_last++) {
            struct gguf_writer *w = gguf_writer_create();
            ASSERT_OK(gguf_writer_add_str(w, "general.architecture", "llama"));
            if (!key_last) ASSERT_OK(gguf_writer_add_u32(w, "general.alignment", aligns[k]));
            ASSERT_OK(gguf_writer_add_tensor(w, "a", 1, ne_a, GGML_TYPE_F32, x, 12));
            ASSERT_OK(gguf_writer_add_tensor(w, "b", 1, ne_b, GGML_TYPE_F32, x + 3, 180));
            if (key_last) ASSERT_OK(gguf_writer_add_u32(w, "general.alignment", aligns[k]));
            void *mem = NULL;
            size_t len = 0;
            ASSERT_OK(gguf_writer_write_memory(w, &mem, &len));
            gguf_writer_destroy(&w);
            char err[256];
            struct gguf g;
            int rc = gguf_open_memory(&g, mem, len, err, sizeof err);
            if (rc) TEST_FAIL_("alignment %u: %s", aligns[k], err);
            ASSERT_EQ(g.alignment, aligns[k]);
            ASSERT_EQ(g.data_offset % aligns[k], 0);
            ASSERT_EQ(g.tensors[1].offset % aligns[k], 0);
            ASSERT_MEM_EQ(g.tensors[0].data, x, 12);
            ASSERT_MEM_EQ(g.tensors[1].data, x + 3, 180);
            // copy every key (general.alignment included) and tensor: the same file
            struct gguf_writer *w2 = gguf_writer_create();
            for (int64_t i = 0; i < g.n_kv; i++)
                ASSERT_OK(gguf_writer_copy_kv(w2, &g, i));
            for (int64_t i = 0; i < g.n_tensors; i++) {
                const struct gguf_tensor *t = &g.tensors[i];
                char name[8];
                snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
                ASSERT_OK(gguf_writer_add_tensor(w2, name, t->n_dims, t->ne, t->type, t->data,
                                                 t->n_bytes));
            }
            void *mem2 = NULL;
            size_t len2 = 0;
            ASSERT_OK(gguf_writer_write_memory(w2, &mem2, &len2));
            gguf_writer_destroy(&w2);
            ASSERT_EQ(len2, len);
            ASSERT_MEM_EQ(mem2, mem, len);
            mem_free(mem2);
            gguf_close(&g);
            mem_free(mem);
        }
    }
    // a general.alignment the readers would refuse is refused by the writer too
    struct gguf_writer *w = gguf_writer_create();
    ASSERT_EQ(gguf_writer_add_u32(w, "general.alignment", 0), JANUS_EINVAL);
    ASSERT_EQ(gguf_writer_add_u32(w, "general.alignment", 48), JANUS_EINVAL);
    ASSERT_EQ(gguf_writer_add_u32(w, "general.alignment", 1u << 20), JANUS_EINVAL);
    ASSERT_EQ(gguf_writer_add_str(w, "general.alignment", "32"), JANUS_EINVAL);
    ASSERT_EQ(gguf_writer_add_i32(w, "general.alignment", -32), JANUS_EINVAL);
    ASSERT_EQ(gguf_writer_add_u64(w, "general.alignment", 1ull << 33), JANUS_EINVAL);
    ASSERT_OK(gguf_writer_add_u64(w, "general.alignment", 16)); // any integer type, as read
    gguf_writer_destroy(&w);
    w = gguf_writer_create();
    ASSERT_OK(gguf_writer_add_u32(w, "general.alignment", 16));
    gguf_writer_destroy(&w);
}

// ---- robustness

// Opens a fresh allocation of exactly len bytes (so ASan sees any overread).
static int open_exact(const uint8_t *src, size_t len, char *err, size_t err_len) {
    uint8_t *p = malloc(len ? len : 1);
    if (!p) return JANUS_ENOMEM;
    memcpy(p, src, len);
    struct gguf g;
    int rc = gguf_open_memory(&g, p, len, err, err_len);
    if (rc == JANUS_OK) gguf_close(&g);
    free(p);
    return rc;
}

TEST(truncation_model) {
    char path[4096], err[512];
    model_path(path, sizeof path, "llama-moe-q8_0");
    size_t len;
    uint8_t *buf = test_read_file(path, &len);
    ASSERT(buf != NULL);
    struct gguf g;
    ASSERT_OK(gguf_open_memory(&g, buf, len, err, sizeof err));
    size_t hdr = g.data_offset;
    gguf_close(&g);
    ASSERT_EQ(open_exact(buf, len, err, sizeof err), JANUS_OK);
    // every offset in the header / kv / tensor-info region and the padding
    for (size_t n = 0; n <= hdr + 64; n++) {
        err[0] = 0;
        int rc = open_exact(buf, n, err, sizeof err);
        if (rc == JANUS_OK) TEST_FAIL_("truncation at %zu of %zu accepted", n, len);
        if (!err[0] || strchr(err, '\n')) TEST_FAIL_("truncation at %zu: bad message '%s'", n, err);
    }
    // a spread through the data: a tensor then extends past the end, named in the message
    for (size_t n = hdr + 65; n < len; n += 997) {
        int rc = open_exact(buf, n, err, sizeof err);
        if (rc != JANUS_EFORMAT || !strstr(err, "extends past end of file"))
            TEST_FAIL_("truncation at %zu: rc %d '%s'", n, rc, err);
    }
    ASSERT(open_exact(buf, len - 1, err, sizeof err) == JANUS_EFORMAT);
    ASSERT(strstr(err, "tensor 'output.weight'") != NULL);
    free(buf);
}

TEST(truncation_vocab) {
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-janus-spm.gguf", test_fixtures_dir());
    size_t len;
    uint8_t *buf = test_read_file(path, &len);
    ASSERT(buf != NULL);
    // the kv region runs to (at least) the last token-type/flag value near the end: every
    // truncation that cuts a value must fail
    size_t last_fail = 0;
    for (size_t n = 0; n < len; n++) {
        int rc = open_exact(buf, n, err, sizeof err);
        if (rc != JANUS_OK)
            last_fail = n;
        else if (n < len - 64)
            TEST_FAIL_("truncation at %zu of %zu accepted", n, len);
    }
    ASSERT(last_fail >= len - 64);
    free(buf);
}

// Exercises every accessor on a successfully opened (possibly corrupted) file.
static void walk(const struct gguf *g) {
    char err[256];
    for (int64_t i = 0; i < g->n_kv; i++) {
        const struct gguf_kv *kv = &g->kv[i];
        char key[80];
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 79 ? kv->key.len : 79), kv->key.ptr);
        uint32_t u;
        float f;
        int b;
        struct gguf_str s;
        enum gguf_type et;
        uint64_t n;
        (void)!gguf_get_u32(g, key, &u, err, sizeof err);
        (void)!gguf_get_f32(g, key, &f, err, sizeof err);
        (void)!gguf_get_bool(g, key, &b, err, sizeof err);
        (void)!gguf_get_str(g, key, &s, err, sizeof err);
        (void)!gguf_get_arr(g, key, &et, &n, err, sizeof err);
        if (kv->type == GGUF_TYPE_ARRAY) {
            for (uint64_t j = 0; j < kv->arr_n; j++) {
                if (kv->arr_type == GGUF_TYPE_STRING) {
                    struct gguf_str e = gguf_arr_str(g, i, j);
                    if ((const uint8_t *)e.ptr + e.len > g->map + g->size) {
                        test_fail(__FILE__, __LINE__, "string element outside the map");
                        return;
                    }
                } else {
                    (void)gguf_arr_f64(g, i, j);
                    (void)gguf_arr_i64(g, i, j);
                }
            }
        }
    }
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct gguf_tensor *t = &g->tensors[i];
        if ((const uint8_t *)t->data + t->n_bytes > g->map + g->size) {
            test_fail(__FILE__, __LINE__, "tensor outside the map");
            return;
        }
        volatile uint8_t sink = 0;
        if (t->n_bytes) sink ^= ((const uint8_t *)t->data)[t->n_bytes - 1];
        (void)sink;
    }
}

static void flip_run(const char *path, uint64_t seed, int iters) {
    size_t len;
    uint8_t *buf = test_read_file(path, &len);
    if (!buf) {
        test_fail(__FILE__, __LINE__, "cannot read %s", path);
        return;
    }
    char err[512];
    struct gguf g;
    if (gguf_open_memory(&g, buf, len, err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        free(buf);
        return;
    }
    size_t hdr = g.data_offset < len ? g.data_offset : len;
    gguf_close(&g);
    struct rng r;
    rng_init(&r, seed);
    int n_ok = 0, n_err = 0;
    size_t pos[4];
    uint8_t old[4];
    for (int it = 0; it < iters && !test_current_failed; it++) {
        int nf = 1 + (int)rng_below(&r, 4);
        for (int k = 0; k < nf; k++) {
            // 90% of flips in the header region, the rest anywhere
            pos[k] =
                rng_below(&r, 10) < 9 ? rng_below(&r, (uint32_t)hdr) : (size_t)(rng_u64(&r) % len);
            old[k] = buf[pos[k]];
            uint32_t mode = rng_below(&r, 3);
            buf[pos[k]] = mode == 0   ? (uint8_t)(old[k] ^ (1u << rng_below(&r, 8)))
                          : mode == 1 ? (uint8_t)rng_below(&r, 256)
                                      : (uint8_t)(rng_below(&r, 2) ? 0xff : 0x00);
        }
        err[0] = 0;
        int rc = gguf_open_memory(&g, buf, len, err, sizeof err);
        if (rc == JANUS_OK) {
            walk(&g);
            gguf_close(&g);
            n_ok++;
        } else {
            if (!err[0]) test_fail(__FILE__, __LINE__, "error %d without a message", rc);
            n_err++;
        }
        for (int k = nf - 1; k >= 0; k--)
            buf[pos[k]] = old[k];
    }
    printf("    %s: %d flips accepted, %d rejected\n", path, n_ok, n_err);
    free(buf);
}

TEST(byte_flips) {
    char path[4096];
    model_path(path, sizeof path, "deepseek2-v3g-f32");
    flip_run(path, 42, 3000);
    model_path(path, sizeof path, "llama-moe-q8_0");
    flip_run(path, 43, 2000);
    snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-janus-spm.gguf", test_fixtures_dir());
    flip_run(path, 44, 2000);
}

TEST(alloc_failures) {
    // every allocation of an open fails cleanly in turn; nothing leaks
    char path[4096], err[512];
    model_path(path, sizeof path, "qwen3moe-f32");
    int64_t live = mem_live_bytes(MEM_TAG_MODEL);
    int opened = 0;
    for (uint64_t n = 1; n <= 32 && !opened; n++) {
        struct gguf g;
        mem_fail_after(n);
        int rc = gguf_open(&g, path, err, sizeof err);
        mem_fail_after(0);
        if (rc == JANUS_OK) {
            gguf_close(&g);
            ASSERT(n >= 6); // tables, string index, sorted indices and sort scratch allocate
            opened = 1;
            continue;
        }
        ASSERT_EQ(rc, JANUS_ENOMEM);
        ASSERT_EQ(mem_live_bytes(MEM_TAG_MODEL), live);
    }
    ASSERT(opened);
}

// ---- hand-crafted malicious files

struct bb {
    uint8_t p[4096];
    size_t n;
};

static void put(struct bb *b, const void *v, size_t n) {
    if (b->n + n <= sizeof b->p) memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void put_u32(struct bb *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct bb *b, uint64_t v) { put(b, &v, 8); }
static void put_str(struct bb *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void header(struct bb *b, uint64_t n_tensors, uint64_t n_kv) {
    b->n = 0;
    put(b, "GGUF", 4);
    put_u32(b, 3);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}
static void kv_u32(struct bb *b, const char *k, uint32_t v) {
    put_str(b, k);
    put_u32(b, GGUF_TYPE_UINT32);
    put_u32(b, v);
}
// tensor info with n_dims dims
static void tinfo(struct bb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                  uint32_t type, uint64_t off) {
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        put_u64(b, ne[i]);
    put_u32(b, type);
    put_u64(b, off);
}
static void pad_data(struct bb *b, size_t align, size_t data_bytes) {
    while (b->n % align)
        put(b, "", 1);
    for (size_t i = 0; i < data_bytes; i++)
        put(b, "\x11", 1);
}

#define EXPECT(b, want_rc, substr)                                                                 \
    do {                                                                                           \
        char err_[512] = {0};                                                                      \
        int rc_ = open_exact((b)->p, (b)->n, err_, sizeof err_);                                   \
        if (rc_ != (want_rc) || !strstr(err_, (substr)))                                           \
            TEST_FAIL_("expected rc %d and '%s', got rc %d: '%s'", (want_rc), (substr), rc_,       \
                       err_);                                                                      \
    } while (0)

TEST(malicious_headers) {
    struct bb b;
    uint64_t ne[4] = {32, 2, 1, 1};

    b.n = 0;
    put(&b, "GGUX", 4);
    put_u32(&b, 3);
    EXPECT(&b, JANUS_EFORMAT, "bad magic");
    b.n = 0;
    put(&b, "GGUF", 4);
    put_u32(&b, 1);
    EXPECT(&b, JANUS_EUNSUPPORTED, "version 1");
    b.n = 0;
    put(&b, "GGUF", 4);
    put_u32(&b, 0x03000000u);
    EXPECT(&b, JANUS_EUNSUPPORTED, "big-endian");
    b.n = 0;
    put(&b, "GGUF", 4);
    put_u32(&b, 7);
    EXPECT(&b, JANUS_EUNSUPPORTED, "version 7");

    header(&b, 0, 1ull << 40);
    EXPECT(&b, JANUS_ELIMIT, "key count");
    header(&b, 1ull << 40, 0);
    EXPECT(&b, JANUS_ELIMIT, "tensor count");
    header(&b, 0, 1000); // plausible count, tiny file
    EXPECT(&b, JANUS_EFORMAT, "truncated");

    header(&b, 0, 1); // huge key length
    put_u64(&b, 1ull << 62);
    put(&b, "abcdefghijklmnop", 16);
    EXPECT(&b, JANUS_ELIMIT, "string length");
    header(&b, 0, 1); // huge string value
    put_str(&b, "general.name");
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, 0xffffffffffffff00ull);
    EXPECT(&b, JANUS_ELIMIT, "general.name");
    header(&b, 0, 1); // string value past EOF
    put_str(&b, "general.name");
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, 1000);
    put(&b, "short", 5);
    EXPECT(&b, JANUS_EFORMAT, "extends past end of file");
    header(&b, 0, 1);
    put_str(&b, "k");
    put_u32(&b, 13);
    put_u32(&b, 0);
    EXPECT(&b, JANUS_EFORMAT, "invalid value type 13");
    header(&b, 0, 1); // huge array count
    put_str(&b, "tokenizer.ggml.scores");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_FLOAT32);
    put_u64(&b, 1ull << 60);
    EXPECT(&b, JANUS_ELIMIT, "tokenizer.ggml.scores");
    header(&b, 0, 1); // array within the limit, past EOF
    put_str(&b, "tokenizer.ggml.scores");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_FLOAT32);
    put_u64(&b, 1000);
    EXPECT(&b, JANUS_EFORMAT, "extends past end of file");
    header(&b, 0, 1); // string array count needing more than the file
    put_str(&b, "tokenizer.ggml.tokens");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, 1000000);
    put_str(&b, "a");
    EXPECT(&b, JANUS_EFORMAT, "tokenizer.ggml.tokens");
    header(&b, 0, 1);
    put_str(&b, "nested");
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u32(&b, GGUF_TYPE_ARRAY);
    put_u64(&b, 1);
    EXPECT(&b, JANUS_EUNSUPPORTED, "nested");
    header(&b, 0, 1);
    put_str(&b, "flag");
    put_u32(&b, GGUF_TYPE_BOOL);
    put(&b, "\x02", 1);
    EXPECT(&b, JANUS_EFORMAT, "bool value 2");
    header(&b, 0, 2);
    kv_u32(&b, "dup.key", 1);
    kv_u32(&b, "dup.key", 2);
    EXPECT(&b, JANUS_EFORMAT, "duplicate key 'dup.key'");
    header(&b, 0, 1);
    put_str(&b, "");
    put_u32(&b, GGUF_TYPE_UINT8);
    put(&b, "\x01", 1);
    EXPECT(&b, JANUS_EFORMAT, "empty key");

    // alignment
    static const uint32_t bad_align[] = {0, 3, 48, 1u << 20};
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(bad_align); i++) {
        header(&b, 0, 1);
        kv_u32(&b, "general.alignment", bad_align[i]);
        EXPECT(&b, JANUS_EFORMAT, "general.alignment");
    }
    header(&b, 0, 1);
    put_str(&b, "general.alignment");
    put_u32(&b, GGUF_TYPE_STRING);
    put_str(&b, "32");
    EXPECT(&b, JANUS_EFORMAT, "general.alignment");
    // a valid non-default alignment is honoured
    header(&b, 1, 1);
    kv_u32(&b, "general.alignment", 64);
    tinfo(&b, "w", 2, ne, GGML_TYPE_F32, 0);
    pad_data(&b, 64, 256);
    EXPECT(&b, JANUS_OK, "");
    {
        struct gguf g;
        char err[256];
        ASSERT_OK(gguf_open_memory(&g, b.p, b.n, err, sizeof err));
        ASSERT_EQ(g.alignment, 64);
        ASSERT_EQ(g.data_offset % 64, 0);
        gguf_close(&g);
    }

    // tensor infos
    uint64_t ne5[5] = {1, 1, 1, 1, 1};
    header(&b, 1, 0);
    tinfo(&b, "blk.0.ffn_up_exps.weight", 5, ne5, GGML_TYPE_F32, 0);
    pad_data(&b, 32, 64);
    EXPECT(&b, JANUS_EFORMAT, "tensor 'blk.0.ffn_up_exps.weight': n_dims 5");
    header(&b, 1, 0);
    tinfo(&b, "t", 0, ne, GGML_TYPE_F32, 0);
    pad_data(&b, 32, 64);
    EXPECT(&b, JANUS_EFORMAT, "n_dims 0");
    uint64_t ne0[2] = {32, 0};
    header(&b, 1, 0);
    tinfo(&b, "t", 2, ne0, GGML_TYPE_F32, 0);
    pad_data(&b, 32, 64);
    EXPECT(&b, JANUS_EFORMAT, "ne[1] = 0");
    uint64_t neneg[2] = {32, 1ull << 63};
    header(&b, 1, 0);
    tinfo(&b, "t", 2, neneg, GGML_TYPE_F32, 0);
    pad_data(&b, 32, 64);
    EXPECT(&b, JANUS_EFORMAT, "ne[1]");
    uint64_t neov[3] = {1ull << 32, 1ull << 32, 1};
    header(&b, 1, 0);
    tinfo(&b, "big", 3, neov, GGML_TYPE_F32, 0);
    pad_data(&b, 32, 64);
    EXPECT(&b, JANUS_EFORMAT, "overflow");
    uint64_t nebytes[2] = {1ull << 31, 1ull << 31}; // 2^62 elements: bytes overflow for f32
    header(&b, 1, 0);
    tinfo(&b, "big", 2, nebytes, GGML_TYPE_F32, 0);
    pad_data(&b, 32, 64);
    EXPECT(&b, JANUS_EFORMAT, "big");
    header(&b, 1, 0);
    tinfo(&b, "t", 2, ne, 99, 0);
    pad_data(&b, 32, 64);
    EXPECT(&b, JANUS_EFORMAT, "unknown ggml type 99");
    header(&b, 1, 0);
    tinfo(&b, "t", 2, ne, 4, 0); // q4_2: removed from ggml
    pad_data(&b, 32, 64);
    EXPECT(&b, JANUS_EFORMAT, "unknown ggml type 4");
    uint64_t ne33[2] = {33, 2};
    header(&b, 1, 0);
    tinfo(&b, "t", 2, ne33, GGML_TYPE_Q8_0, 0);
    pad_data(&b, 32, 128);
    EXPECT(&b, JANUS_EFORMAT, "not a multiple of the q8_0 block size 32");
    header(&b, 1, 0);
    tinfo(&b, "t", 2, ne, GGML_TYPE_F32, 16);
    pad_data(&b, 32, 512);
    EXPECT(&b, JANUS_EFORMAT, "offset 16 is not a multiple of the alignment 32");
    header(&b, 2, 0);
    tinfo(&b, "a", 2, ne, GGML_TYPE_F32, 0);   // [0, 256)
    tinfo(&b, "b", 2, ne, GGML_TYPE_F32, 224); // [224, 480)
    pad_data(&b, 32, 512);
    EXPECT(&b, JANUS_EFORMAT, "overlaps tensor 'a'");
    header(&b, 2, 0);
    tinfo(&b, "a", 2, ne, GGML_TYPE_F32, 256);
    tinfo(&b, "b", 2, ne, GGML_TYPE_F32, 0); // out of order but disjoint: fine
    pad_data(&b, 32, 512);
    EXPECT(&b, JANUS_OK, "");
    header(&b, 1, 0);
    tinfo(&b, "blk.0.ffn_up_exps.weight", 2, ne, GGML_TYPE_F32, 0);
    pad_data(&b, 32, 200);
    EXPECT(&b, JANUS_EFORMAT,
           "tensor 'blk.0.ffn_up_exps.weight': data [96, 352) extends past end of file "
           "(size 296)");
    header(&b, 1, 0);
    tinfo(&b, "t", 2, ne, GGML_TYPE_F32, 1ull << 63);
    pad_data(&b, 32, 256);
    EXPECT(&b, JANUS_EFORMAT, "extends past end of file");
    header(&b, 2, 0);
    tinfo(&b, "same", 2, ne, GGML_TYPE_F32, 0);
    tinfo(&b, "same", 2, ne, GGML_TYPE_F32, 256);
    pad_data(&b, 32, 512);
    EXPECT(&b, JANUS_EFORMAT, "duplicate tensor name 'same'");
    char longname[LIMIT_GGUF_MAX_NAME + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    header(&b, 1, 0);
    tinfo(&b, longname, 2, ne, GGML_TYPE_F32, 0);
    pad_data(&b, 32, 256);
    EXPECT(&b, JANUS_ELIMIT, "tensor #0 name");
    header(&b, 1, 0); // unsupported but known type: parses, sizes validated
    uint64_t nek[1] = {256};
    tinfo(&b, "q4k", 1, nek, 12, 0);
    pad_data(&b, 32, 144);
    EXPECT(&b, JANUS_OK, "");
    b.n -= 1; // one byte short of the q4_K block
    EXPECT(&b, JANUS_EFORMAT, "tensor 'q4k'");
    header(&b, 1, 0); // data section itself past EOF
    tinfo(&b, "t", 2, ne, GGML_TYPE_F32, 0);
    EXPECT(&b, JANUS_EFORMAT, "data section");
    // non-printable names are escaped in messages
    header(&b, 0, 2);
    kv_u32(&b, "a\x01\n", 1);
    kv_u32(&b, "a\x01\n", 1);
    EXPECT(&b, JANUS_EFORMAT, "'a\\x01\\x0a'");
}

TEST(version2_accepted) {
    // v2 has the v3 layout (64-bit counts); only the version field differs
    char path[4096], err[512];
    model_path(path, sizeof path, "qwen2moe-f32");
    size_t len;
    uint8_t *buf = test_read_file(path, &len);
    ASSERT(buf != NULL);
    uint32_t v2 = 2;
    memcpy(buf + 4, &v2, 4);
    struct gguf g;
    int rc = gguf_open_memory(&g, buf, len, err, sizeof err);
    if (rc) TEST_FAIL_("%s", err);
    ASSERT_EQ(g.version, 2);
    ASSERT_EQ(g.n_tensors, 37);
    gguf_close(&g);
    free(buf);
}

TEST(writer_failure_paths) {
    float x[32] = {0};
    int64_t ne[1] = {32};
    struct gguf_writer *w = gguf_writer_create();
    ASSERT_OK(gguf_writer_add_tensor(w, "t", 1, ne, GGML_TYPE_F32, x, sizeof x));
    // unwritable path: clean error (no crash, nothing left open)
    ASSERT_EQ(gguf_writer_write(w, "/nonexistent-dir/x.gguf"), JANUS_EIO);
    // the writer stays usable
    char path[512];
    snprintf(path, sizeof path, "%s/ok.gguf", test_tmpdir());
    ASSERT_OK(gguf_writer_write(w, path));
    gguf_writer_destroy(&w);
    // a failed stream removes a regular file it created...
    w = gguf_writer_create();
    ASSERT_OK(gguf_writer_add_tensor_info(w, "t", 1, ne, GGML_TYPE_F32));
    snprintf(path, sizeof path, "%s/partial.gguf", test_tmpdir());
    ASSERT_OK(gguf_writer_stream_begin(w, path));
    ASSERT_OK(gguf_writer_stream_data(w, x, 64)); // half the tensor
    ASSERT_EQ(gguf_writer_stream_end(w), JANUS_EINVAL);
    struct stat st;
    ASSERT(stat(path, &st) != 0);
    // ...but never unlinks a path that is not a regular file (device, FIFO, symlink)
    char target[512], link[512];
    snprintf(target, sizeof target, "%s/target.gguf", test_tmpdir());
    snprintf(link, sizeof link, "%s/link.gguf", test_tmpdir());
    FILE *f = fopen(target, "wb");
    ASSERT(f != NULL);
    fclose(f);
    ASSERT_EQ(symlink(target, link), 0);
    ASSERT_OK(gguf_writer_stream_begin(w, link));
    ASSERT_OK(gguf_writer_stream_data(w, x, 64));
    gguf_writer_destroy(&w); // aborts the stream
    ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
}
