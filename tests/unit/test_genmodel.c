// Tests for gen-model (src/model/genmodel.c, cli/cmd_gen_model.c): with default dimensions
// and the fixture vocabulary, every architecture reproduces its fixture's keys, values,
// tensor names, shapes and types; every arch × type (olmoe and deepseek2 --mla-split with
// YaRN keys included) opens; same seed -> byte-identical,
// different seed -> different; init statistics; the F16/BF16/Q8_0 files hold the F32
// file's values converted; built-in vocabulary; invalid parameters/flags -> one-line errors.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/status.h"
#include "kernels/quant.h"
#include "kernels/types.h"
#include "model/genmodel.h"
#include "model/gguf.h"
#include "model/weights.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void tmp_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", test_tmpdir(), name);
}

static void vocab_path(char *out, size_t n) {
    snprintf(out, n, "%s/tokenizer/ggml-vocab-janus-spm.gguf", test_fixtures_dir());
}

static int gen(const struct genmodel_params *p, const char *path) {
    char err[512];
    int rc = genmodel_write(p, path, err, sizeof err);
    if (rc) fprintf(stderr, "  genmodel_write: %s\n", err);
    return rc;
}

// Compares two files' keys (name, type, value bytes; general.name skipped) and tensor infos.
static void same_layout(const char *a_path, const char *b_path) {
    struct gguf a, b;
    char err[512];
    if (gguf_open(&a, a_path, err, sizeof err)) TEST_FAIL_("%s", err);
    if (gguf_open(&b, b_path, err, sizeof err)) {
        gguf_close(&a);
        TEST_FAIL_("%s", err);
    }
    if (a.n_kv != b.n_kv)
        TEST_FAIL_("%s: %lld keys, %s: %lld", a_path, (long long)a.n_kv, b_path, (long long)b.n_kv);
    for (int64_t i = 0; i < a.n_kv; i++) {
        const struct gguf_kv *x = &a.kv[i], *y = &b.kv[i];
        if (x->key.len != y->key.len || memcmp(x->key.ptr, y->key.ptr, x->key.len) ||
            x->type != y->type)
            TEST_FAIL_("key %lld: '%.*s' vs '%.*s'", (long long)i, (int)x->key.len, x->key.ptr,
                       (int)y->key.len, y->key.ptr);
        if (x->key.len == 12 && !memcmp(x->key.ptr, "general.name", 12)) continue;
        // value bytes: up to the next key (or the tensor infos) in each file
        const uint8_t *xe =
            i + 1 < a.n_kv ? (const uint8_t *)a.kv[i + 1].key.ptr - 8
                           : (a.n_tensors ? (const uint8_t *)a.tensors[0].name.ptr - 8 : x->data);
        const uint8_t *ye =
            i + 1 < b.n_kv ? (const uint8_t *)b.kv[i + 1].key.ptr - 8
                           : (b.n_tensors ? (const uint8_t *)b.tensors[0].name.ptr - 8 : y->data);
        if (xe - x->data != ye - y->data || memcmp(x->data, y->data, (size_t)(xe - x->data)))
            TEST_FAIL_("key '%.*s': values differ", (int)x->key.len, x->key.ptr);
    }
    if (a.n_tensors != b.n_tensors)
        TEST_FAIL_("%lld tensors vs %lld", (long long)a.n_tensors, (long long)b.n_tensors);
    for (int64_t i = 0; i < a.n_tensors; i++) {
        const struct gguf_tensor *x = &a.tensors[i], *y = &b.tensors[i];
        if (x->name.len != y->name.len || memcmp(x->name.ptr, y->name.ptr, x->name.len) ||
            x->n_dims != y->n_dims || memcmp(x->ne, y->ne, sizeof x->ne) || x->type != y->type ||
            x->offset != y->offset)
            TEST_FAIL_("tensor %lld: '%.*s' %u-d {%lld,%lld,%lld} %s vs '%.*s' %u-d "
                       "{%lld,%lld,%lld} %s",
                       (long long)i, (int)x->name.len, x->name.ptr, x->n_dims, (long long)x->ne[0],
                       (long long)x->ne[1], (long long)x->ne[2], ggml_type_name(x->type),
                       (int)y->name.len, y->name.ptr, y->n_dims, (long long)y->ne[0],
                       (long long)y->ne[1], (long long)y->ne[2], ggml_type_name(y->type));
    }
    gguf_close(&a);
    gguf_close(&b);
}

static const struct {
    enum genmodel_arch arch;
    int v3;
    int groups;
    uint32_t type;
    const char *fixture;
} k_cases[] = {
    {GENMODEL_ARCH_LLAMA, 0, 0, GGML_TYPE_F32, "llama-moe-f32"},
    {GENMODEL_ARCH_LLAMA, 0, 0, GGML_TYPE_F16, "llama-moe-f16"},
    {GENMODEL_ARCH_LLAMA, 0, 0, GGML_TYPE_BF16, "llama-moe-bf16"},
    {GENMODEL_ARCH_LLAMA, 0, 0, GGML_TYPE_Q8_0, "llama-moe-q8_0"},
    {GENMODEL_ARCH_QWEN2MOE, 0, 0, GGML_TYPE_F32, "qwen2moe-f32"},
    {GENMODEL_ARCH_QWEN3MOE, 0, 0, GGML_TYPE_F32, "qwen3moe-f32"},
    {GENMODEL_ARCH_DEEPSEEK2, 0, 0, GGML_TYPE_F32, "deepseek2-v2-f32"},
    {GENMODEL_ARCH_DEEPSEEK2, 1, 0, GGML_TYPE_F32, "deepseek2-v3-f32"},
    {GENMODEL_ARCH_DEEPSEEK2, 0, 1, GGML_TYPE_F32, "deepseek2-v2g-f32"},
    {GENMODEL_ARCH_DEEPSEEK2, 1, 1, GGML_TYPE_F32, "deepseek2-v3g-f32"},
};

TEST(matches_fixture_layout) {
    char vocab[4096];
    vocab_path(vocab, sizeof vocab);
    for (size_t c = 0; c < sizeof k_cases / sizeof k_cases[0]; c++) {
        struct genmodel_params p;
        genmodel_default_params(&p, k_cases[c].arch);
        if (k_cases[c].v3) genmodel_params_v3(&p);
        if (k_cases[c].groups) {
            p.n_group = 4;
            p.n_group_used = 2;
        }
        p.type = k_cases[c].type;
        p.vocab_path = vocab;
        char out[512], fix[4096];
        tmp_path(out, sizeof out, "layout.gguf");
        snprintf(fix, sizeof fix, "%s/models/%s.gguf", test_fixtures_dir(), k_cases[c].fixture);
        ASSERT_OK(gen(&p, out));
        same_layout(out, fix);
        if (test_current_failed) TEST_FAIL_("case %s", k_cases[c].fixture);
    }
}

TEST(every_arch_and_type_deterministic) {
    static const uint32_t types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0};
    for (int a = 0; a < 6; a++) { // 5: deepseek2 with --mla-split and YaRN keys
        for (int t = 0; t < 4; t++) {
            struct genmodel_params p;
            genmodel_default_params(&p, a == 5 ? GENMODEL_ARCH_DEEPSEEK2 : (enum genmodel_arch)a);
            if (a == 5) {
                if (t == 3) continue; // q8_0: attn_k_b's ne[0] = qk_nope 16 is not a block
                p.mla_split = 1;
                p.rope_scaling = GENMODEL_ROPE_YARN;
                p.rope_factor = 40.0f;
            }
            p.type = types[t];
            p.seed = 99;
            char p1[512], p2[512], p3[512];
            tmp_path(p1, sizeof p1, "d1.gguf");
            tmp_path(p2, sizeof p2, "d2.gguf");
            tmp_path(p3, sizeof p3, "d3.gguf");
            ASSERT_OK(gen(&p, p1));
            ASSERT_OK(gen(&p, p2));
            p.seed = 100;
            ASSERT_OK(gen(&p, p3));
            size_t n1, n2, n3;
            uint8_t *b1 = test_read_file(p1, &n1), *b2 = test_read_file(p2, &n2),
                    *b3 = test_read_file(p3, &n3);
            ASSERT(b1 && b2 && b3);
            ASSERT_EQ(n1, n2);
            ASSERT_MEM_EQ(b1, b2, n1);
            ASSERT_EQ(n1, n3); // same layout
            ASSERT(memcmp(b1, b3, n1) != 0);
            struct gguf g;
            char err[512];
            int rc = gguf_open_memory(&g, b1, n1, err, sizeof err);
            if (rc) TEST_FAIL_("%s", err);
            const struct gguf_tensor *te = gguf_find_tensor(&g, "token_embd.weight");
            ASSERT(te && te->type == types[t]);
            const struct gguf_tensor *tn = gguf_find_tensor(&g, "blk.0.attn_norm.weight");
            ASSERT(tn && tn->type == GGML_TYPE_F32);
            const struct gguf_tensor *tr = gguf_find_tensor(&g, "blk.1.ffn_gate_inp.weight");
            ASSERT(tr && tr->type == GGML_TYPE_F32);
            uint32_t ft = 99;
            ASSERT_OK(gguf_get_u32(&g, "general.file_type", &ft, err, sizeof err));
            ASSERT_EQ(ft, t == 0 ? 0 : t == 1 ? 1 : t == 2 ? 32 : 7);
            gguf_close(&g);
            free(b1);
            free(b2);
            free(b3);
        }
    }
}

static double tensor_value(const struct gguf_tensor *t, int64_t i) {
    switch (t->type) {
    case GGML_TYPE_F32: return ((const float *)t->data)[i];
    case GGML_TYPE_F16: return fp16_to_fp32(((const uint16_t *)t->data)[i]);
    case GGML_TYPE_BF16: return bf16_to_fp32(((const uint16_t *)t->data)[i]);
    }
    const struct block_q8_0 *q = (const struct block_q8_0 *)t->data + i / 32;
    return fp16_to_fp32(q->d) * q->qs[i % 32];
}

static void moments(const struct gguf_tensor *t, double *mean, double *std) {
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = tensor_value(t, i);
        s += v;
        s2 += v * v;
    }
    *mean = s / (double)n;
    *std = sqrt(s2 / (double)n - *mean * *mean);
}

TEST(init_statistics) {
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_QWEN2MOE);
    char out[512], err[512];
    tmp_path(out, sizeof out, "stats.gguf");
    ASSERT_OK(gen(&p, out));
    struct gguf g;
    ASSERT_OK(gguf_open(&g, out, err, sizeof err));
    static const struct {
        const char *name;
        double mean, std;
    } k[] = {
        {"token_embd.weight", 0, 1},
        {"blk.0.attn_q.weight", 0, 0.125},          // 1/sqrt(64)
        {"blk.0.ffn_down_exps.weight", 0, 0.125},   // fan-in n_ff_exp = 64
        {"blk.0.ffn_down_shexp.weight", 0, 0.0884}, // fan-in 128
        {"blk.0.ffn_gate_inp.weight", 0, 0.125},
        {"blk.0.attn_norm.weight", 1, 0.1},
        {"blk.0.attn_q.bias", 0, 0.02},
        {"output.weight", 0, 0.125},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const struct gguf_tensor *t = gguf_find_tensor(&g, k[i].name);
        ASSERT(t != NULL);
        double m, s;
        moments(t, &m, &s);
        int64_t n = t->ne[0] * t->ne[1] * t->ne[2];
        double tol = 5 * k[i].std / sqrt((double)n) + 1e-9;
        if (fabs(m - k[i].mean) > tol || fabs(s / k[i].std - 1) > 8 / sqrt((double)n) + 0.02)
            TEST_FAIL_("%s: mean %g std %g, want %g / %g", k[i].name, m, s, k[i].mean, k[i].std);
    }
    gguf_close(&g);
}

// One seed -> one set of F32 values; the other types hold them converted.
TEST(types_hold_converted_f32_values) {
    static const uint32_t types[] = {GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0};
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    char f32p[512], err[512];
    tmp_path(f32p, sizeof f32p, "conv_f32.gguf");
    ASSERT_OK(gen(&p, f32p));
    struct gguf a;
    ASSERT_OK(gguf_open(&a, f32p, err, sizeof err));
    for (int t = 0; t < 3; t++) {
        p.type = types[t];
        char op[512];
        tmp_path(op, sizeof op, "conv_x.gguf");
        ASSERT_OK(gen(&p, op));
        struct gguf b;
        ASSERT_OK(gguf_open(&b, op, err, sizeof err));
        ASSERT_EQ(a.n_tensors, b.n_tensors);
        for (int64_t i = 0; i < a.n_tensors; i++) {
            const struct gguf_tensor *x = &a.tensors[i], *y = &b.tensors[i];
            const float *xf = x->data;
            int64_t n = (int64_t)(x->n_bytes / 4);
            if (y->type == GGML_TYPE_F32) {
                ASSERT_MEM_EQ(x->data, y->data, x->n_bytes);
            } else if (y->type == GGML_TYPE_Q8_0) {
                for (int64_t k = 0; k < n / 32; k++) {
                    struct block_q8_0 q;
                    q8_0_quantize_row(&q, xf + 32 * k, 32);
                    ASSERT_MEM_EQ(&q, (const struct block_q8_0 *)y->data + k, sizeof q);
                }
            } else {
                const uint16_t *h = y->data;
                for (int64_t k = 0; k < n; k++)
                    ASSERT_EQ(h[k],
                              y->type == GGML_TYPE_F16 ? fp32_to_fp16(xf[k]) : fp32_to_bf16(xf[k]));
            }
        }
        gguf_close(&b);
    }
    gguf_close(&a);
}

// ---- quantized types (issue 13 item 4)

// The shared quant fixtures' base models (fixtures/quant/README.md §2: the gen-model commands
// llama-quantize's inputs were made with).
static void quant_base(struct genmodel_params *p, enum genmodel_arch arch) {
    genmodel_default_params(p, arch);
    p->n_embd = 256;
    p->n_ff_exp = 256;
    p->n_expert = 3;
    p->n_expert_used = 2;
    p->n_vocab = 843;
    p->n_head_kv = 1;
    if (arch == GENMODEL_ARCH_LLAMA) p->seed = 11;
    if (arch == GENMODEL_ARCH_QWEN2MOE) {
        p->seed = 12;
        p->n_ff = 256;
    }
    if (arch == GENMODEL_ARCH_DEEPSEEK2) {
        p->seed = 13;
        p->n_layer = 2;
        p->n_ff = 256;
        p->q_lora = 256;
        p->kv_lora = 256;
        p->v_head = 64;
        p->n_expert_shared = 1;
        p->n_head_kv = p->n_head;
    }
}

// --type q3_k_m / q4_k_m / q5_k_m give every tensor the type llama-quantize gave it in the
// shared quant fixtures (the same base models quantised by llama.cpp's llama-quantize), and
// uniform q6_k the types of its Q6_K files.
TEST(mixes_match_llama_quantize) {
    static const struct {
        enum genmodel_arch arch;
        const char *type, *fixture;
    } k[] = {{GENMODEL_ARCH_LLAMA, "q3_k_m", "llama-moe-q3_k_m"},
             {GENMODEL_ARCH_LLAMA, "q4_k_m", "llama-moe-q4_k_m"},
             {GENMODEL_ARCH_LLAMA, "q5_k_m", "llama-moe-q5_k_m"},
             {GENMODEL_ARCH_LLAMA, "q6_k", "llama-moe-q6_k"},
             {GENMODEL_ARCH_QWEN2MOE, "q4_k_m", "qwen2moe-q4_k_m"},
             {GENMODEL_ARCH_QWEN2MOE, "q5_k_m", "qwen2moe-q5_k_m"},
             {GENMODEL_ARCH_QWEN2MOE, "q6_k", "qwen2moe-q6_k"},
             {GENMODEL_ARCH_DEEPSEEK2, "q4_k_m", "deepseek2-v2-q4_k_m"},
             {GENMODEL_ARCH_DEEPSEEK2, "q5_k_m", "deepseek2-v2-q5_k_m"},
             {GENMODEL_ARCH_DEEPSEEK2, "q6_k", "deepseek2-v2-q6_k"}};
    for (size_t c = 0; c < sizeof k / sizeof k[0]; c++) {
        struct genmodel_params p;
        quant_base(&p, k[c].arch);
        ASSERT_OK(genmodel_type_parse(k[c].type, &p.type, &p.mix));
        char out[512], fix[4096], err[512];
        tmp_path(out, sizeof out, "mix.gguf");
        snprintf(fix, sizeof fix, "%s/quant/%s.gguf", test_fixtures_dir(), k[c].fixture);
        ASSERT_OK(gen(&p, out));
        struct gguf a, b;
        ASSERT_OK(gguf_open(&a, out, err, sizeof err));
        ASSERT_OK(gguf_open(&b, fix, err, sizeof err));
        ASSERT_EQ(a.n_tensors, b.n_tensors);
        int n_quant = 0;
        for (int64_t i = 0; i < b.n_tensors; i++) {
            const struct gguf_tensor *y = &b.tensors[i];
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)y->name.len, y->name.ptr);
            const struct gguf_tensor *x = gguf_find_tensor(&a, name);
            if (!x) TEST_FAIL_("%s: no tensor %s", k[c].fixture, name);
            if (x->type != y->type || x->n_bytes != y->n_bytes)
                TEST_FAIL_("%s (--type %s): tensor %s is %s (%llu bytes), llama-quantize: %s "
                           "(%llu bytes)",
                           k[c].fixture, k[c].type, name, ggml_type_name(x->type),
                           (unsigned long long)x->n_bytes, ggml_type_name(y->type),
                           (unsigned long long)y->n_bytes);
            n_quant += y->type != GGML_TYPE_F32;
        }
        ASSERT(n_quant >= 13);
        uint32_t fa = 0, fb = 1;
        ASSERT_OK(gguf_get_u32(&a, "general.file_type", &fa, err, sizeof err));
        ASSERT_OK(gguf_get_u32(&b, "general.file_type", &fb, err, sizeof err));
        ASSERT_EQ(fa, fb);
        gguf_close(&a);
        gguf_close(&b);
    }
}

// The rules the fixtures cannot show (3 experts, 2 layers): with 8 layers and 8 experts,
// q4_k_m gives attn_v and attn_k Q8_0, attn_output Q5_K, ffn_down_exps Q6_K on the
// use_more_bits layers 0, 3, 6, 7 and Q4_K elsewhere; q3_k_m: ffn_down_exps Q4_K (8 < 16
// layers), attn_output Q5_K; q5_k_m: attn_output stays Q5_K (its base).
TEST(mix_rules_eight_experts) {
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    p.n_embd = 256;
    p.n_ff_exp = 256;
    p.n_layer = 8;
    p.n_expert = 8;
    p.n_vocab = 300;
    char out[512], err[512], nm[64];
    tmp_path(out, sizeof out, "mix8.gguf");
    static const char *const mixes[] = {"q3_k_m", "q4_k_m", "q5_k_m"};
    for (int x = 0; x < 3; x++) {
        ASSERT_OK(genmodel_type_parse(mixes[x], &p.type, &p.mix));
        ASSERT_OK(gen(&p, out));
        struct gguf g;
        ASSERT_OK(gguf_open(&g, out, err, sizeof err));
        for (int il = 0; il < 8; il++) {
            const int more = il == 0 || il == 3 || il == 6 || il == 7;
            const struct {
                const char *t;
                uint32_t want;
            } k[] = {{"attn_v", GGML_TYPE_Q8_0},
                     {"attn_k", GGML_TYPE_Q8_0},
                     {"attn_q", p.type},
                     {"attn_output", GGML_TYPE_Q5_K},
                     {"ffn_down_exps", x == 0 ? GGML_TYPE_Q4_K
                                       : more ? GGML_TYPE_Q6_K
                                              : p.type},
                     {"ffn_up_exps", p.type}};
            for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
                snprintf(nm, sizeof nm, "blk.%d.%s.weight", il, k[i].t);
                const struct gguf_tensor *t = gguf_find_tensor(&g, nm);
                ASSERT(t != NULL);
                if (t->type != k[i].want)
                    TEST_FAIL_("%s: %s is %s, expected %s", mixes[x], nm, ggml_type_name(t->type),
                               ggml_type_name(k[i].want));
            }
        }
        const struct gguf_tensor *o = gguf_find_tensor(&g, "output.weight");
        ASSERT(o && o->type == GGML_TYPE_Q6_K);
        gguf_close(&g);
    }
}

// Every block type, uniform and mixed: each quantized tensor holds exactly
// quant_quantize_row of the F32 file's values (same seed), every other tensor the F32 bytes;
// the file loads. Rows of 256 and 512, so the K-quants apply.
TEST(block_types_hold_quantized_f32_values) {
    static const char *const types[] = {"q4_0",   "q4_1",   "q5_0",   "q5_1",  "q2_k",
                                        "q3_k",   "q4_k",   "q5_k",   "q6_k",  "iq4_nl",
                                        "iq4_xs", "q3_k_m", "q4_k_m", "q5_k_m"};
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_QWEN2MOE);
    p.n_embd = 256;
    p.n_ff_exp = 256;
    p.n_ff = 512;
    p.n_head_kv = 1;
    p.n_expert = 4;
    char f32p[512], err[512];
    tmp_path(f32p, sizeof f32p, "qz_f32.gguf");
    ASSERT_OK(gen(&p, f32p));
    struct gguf a;
    ASSERT_OK(gguf_open(&a, f32p, err, sizeof err));
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        ASSERT_OK(genmodel_type_parse(types[t], &p.type, &p.mix));
        char op[512];
        tmp_path(op, sizeof op, "qz_x.gguf");
        ASSERT_OK(gen(&p, op));
        struct gguf b;
        ASSERT_OK(gguf_open(&b, op, err, sizeof err));
        ASSERT_EQ(a.n_tensors, b.n_tensors);
        int n_base = 0;
        for (int64_t i = 0; i < a.n_tensors; i++) {
            const struct gguf_tensor *x = &a.tensors[i], *y = &b.tensors[i];
            if (y->type == GGML_TYPE_F32) {
                ASSERT_MEM_EQ(x->data, y->data, x->n_bytes);
                continue;
            }
            n_base += y->type == p.type;
            const int kt = weights_kern_type(y->type);
            ASSERT(kt >= 0);
            const int64_t n = (int64_t)(x->n_bytes / 4);
            ASSERT_EQ(y->n_bytes, kern_row_bytes(kt, n));
            uint8_t *q = malloc(y->n_bytes);
            ASSERT(q);
            quant_quantize_row(kt, q, x->data, n);
            if (memcmp(q, y->data, y->n_bytes) != 0)
                TEST_FAIL_("--type %s: tensor %.*s (%s) differs from quant_quantize_row", types[t],
                           (int)y->name.len, y->name.ptr, ggml_type_name(y->type));
            free(q);
        }
        ASSERT(n_base >= 10); // most matrices in the base type
        gguf_close(&b);
        struct model m;
        int rc = model_load(&m, op, err, sizeof err);
        if (rc) TEST_FAIL_("--type %s: %s", types[t], err);
        model_free(&m);
    }
    gguf_close(&a);
}

// Rows that are not whole 256-value super-blocks fall back as llama-quantize does (Q2_K, Q3_K,
// IQ4_XS -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0; F16 when not a multiple of 32
// either); the 32-value types refuse such rows, naming the tensor.
TEST(row_length_fallback) {
    static const struct {
        const char *type;
        uint32_t fb;
    } k[] = {{"q2_k", GGML_TYPE_IQ4_NL}, {"q3_k", GGML_TYPE_IQ4_NL}, {"iq4_xs", GGML_TYPE_IQ4_NL},
             {"q4_k", GGML_TYPE_Q5_0},   {"q5_k", GGML_TYPE_Q5_1},   {"q6_k", GGML_TYPE_Q8_0},
             {"q4_k_m", GGML_TYPE_Q5_0}};
    char out[512], err[512];
    tmp_path(out, sizeof out, "fb.gguf");
    for (size_t c = 0; c < sizeof k / sizeof k[0]; c++) {
        struct genmodel_params p;
        genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2); // widths 64, 32, 192
        p.mla_split = 1;                                      // attn_k_b rows: qk_nope = 16
        ASSERT_OK(genmodel_type_parse(k[c].type, &p.type, &p.mix));
        ASSERT_OK(gen(&p, out));
        struct gguf g;
        ASSERT_OK(gguf_open(&g, out, err, sizeof err));
        const struct gguf_tensor *q = gguf_find_tensor(&g, "blk.0.attn_q_a.weight");
        const struct gguf_tensor *kb = gguf_find_tensor(&g, "blk.0.attn_k_b.weight");
        const struct gguf_tensor *o = gguf_find_tensor(&g, "output.weight");
        ASSERT(q && kb && o);
        if (q->type != k[c].fb)
            TEST_FAIL_("--type %s: attn_q_a (rows of 64) is %s, expected %s", k[c].type,
                       ggml_type_name(q->type), ggml_type_name(k[c].fb));
        ASSERT_EQ(kb->type, GGML_TYPE_F16);
        // the _M mix makes output Q6_K, which falls back to Q8_0
        ASSERT_EQ(o->type, p.mix ? GGML_TYPE_Q8_0 : k[c].fb);
        gguf_close(&g);
        struct model m;
        int rc = model_load(&m, out, err, sizeof err);
        if (rc) TEST_FAIL_("--type %s: %s", k[c].type, err);
        model_free(&m);
    }
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    ASSERT_OK(genmodel_type_parse("q4_0", &p.type, &p.mix));
    p.n_ff_exp = 48;
    ASSERT_EQ(genmodel_write(&p, out, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "--type q4_0: tensor 'blk.0.ffn_down_exps.weight' has ne[0] = 48") &&
           strstr(err, "llama-quantize refuses it too"));
}

TEST(builtin_vocabulary) {
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    char out[512], err[512];
    tmp_path(out, sizeof out, "vocab.gguf");
    ASSERT_OK(gen(&p, out));
    struct gguf g;
    ASSERT_OK(gguf_open(&g, out, err, sizeof err));
    struct gguf_str s;
    ASSERT_OK(gguf_get_str(&g, "tokenizer.ggml.model", &s, err, sizeof err));
    ASSERT(s.len == 5 && !memcmp(s.ptr, "llama", 5));
    enum gguf_type et;
    uint64_t n = 0, ns = 0, nt = 0;
    ASSERT_OK(gguf_get_arr(&g, "tokenizer.ggml.tokens", &et, &n, err, sizeof err));
    ASSERT_OK(gguf_get_arr(&g, "tokenizer.ggml.scores", &et, &ns, err, sizeof err));
    ASSERT_EQ(et, GGUF_TYPE_FLOAT32);
    ASSERT_OK(gguf_get_arr(&g, "tokenizer.ggml.token_type", &et, &nt, err, sizeof err));
    ASSERT_EQ(et, GGUF_TYPE_INT32);
    ASSERT(n == ns && n == nt);
    ASSERT_LT(500, n); // specials + 256 bytes + a few hundred pieces
    uint32_t nv = 0, bos = 9, eos = 9, unk = 9;
    ASSERT_OK(gguf_get_u32(&g, "llama.vocab_size", &nv, err, sizeof err));
    ASSERT_EQ(nv, n);
    ASSERT_OK(gguf_get_u32(&g, "tokenizer.ggml.bos_token_id", &bos, err, sizeof err));
    ASSERT_OK(gguf_get_u32(&g, "tokenizer.ggml.eos_token_id", &eos, err, sizeof err));
    ASSERT_OK(gguf_get_u32(&g, "tokenizer.ggml.unknown_token_id", &unk, err, sizeof err));
    ASSERT(bos == 1 && eos == 2 && unk == 0);
    int b = 0;
    ASSERT_OK(gguf_get_bool(&g, "tokenizer.ggml.add_bos_token", &b, err, sizeof err));
    ASSERT_EQ(b, 1);
    ASSERT_EQ(gguf_find_tensor(&g, "token_embd.weight")->ne[1], (int64_t)n);
    int64_t kt = gguf_find_key(&g, "tokenizer.ggml.tokens");
    int64_t ky = gguf_find_key(&g, "tokenizer.ggml.token_type");
    struct gguf_str t0 = gguf_arr_str(&g, kt, 0), t3 = gguf_arr_str(&g, kt, 3);
    ASSERT(t0.len == 5 && !memcmp(t0.ptr, "<unk>", 5));
    ASSERT(t3.len == 6 && !memcmp(t3.ptr, "<0x00>", 6));
    ASSERT_EQ(gguf_arr_i64(&g, ky, 0), 2);
    ASSERT_EQ(gguf_arr_i64(&g, ky, 1), 3);
    ASSERT_EQ(gguf_arr_i64(&g, ky, 258), 6);
    ASSERT_EQ(gguf_arr_i64(&g, ky, 259), 1);
    // every multi-character piece's merge path exists: its prefix one character shorter
    // (UTF-8 aware: "▁" is 3 bytes) is a token too; no token appears twice
    int found_the = 0;
    for (uint64_t i = 259; i < n; i++) {
        struct gguf_str t = gguf_arr_str(&g, kt, i);
        if (t.len == 6 && !memcmp(t.ptr, "\xe2\x96\x81the", 6)) found_the = 1;
        for (uint64_t j = i + 1; j < n; j++) {
            struct gguf_str u = gguf_arr_str(&g, kt, j);
            if (t.len == u.len && !memcmp(t.ptr, u.ptr, t.len))
                TEST_FAIL_("duplicate token %llu", (unsigned long long)j);
        }
        if (t.len <= 4) continue; // "▁x" or a single character
        int ok = 0;
        for (uint64_t j = 259; j < n && !ok; j++) {
            struct gguf_str u = gguf_arr_str(&g, kt, j);
            ok = u.len == t.len - 1 && !memcmp(u.ptr, t.ptr, u.len);
        }
        if (!ok) TEST_FAIL_("piece %.*s has no prefix token", (int)t.len, t.ptr);
    }
    ASSERT(found_the);
    gguf_close(&g);
    // --n-vocab pads with unused tokens (type 5) or truncates
    p.n_vocab = 1000;
    ASSERT_OK(gen(&p, out));
    ASSERT_OK(gguf_open(&g, out, err, sizeof err));
    ASSERT_OK(gguf_get_arr(&g, "tokenizer.ggml.tokens", &et, &n, err, sizeof err));
    ASSERT_EQ(n, 1000);
    ASSERT_EQ(gguf_arr_i64(&g, gguf_find_key(&g, "tokenizer.ggml.token_type"), 999), 5);
    gguf_close(&g);
    p.n_vocab = 300;
    ASSERT_OK(gen(&p, out));
    ASSERT_OK(gguf_open(&g, out, err, sizeof err));
    ASSERT_EQ(gguf_find_tensor(&g, "output.weight")->ne[1], 300);
    gguf_close(&g);
}

TEST(invalid_params) {
    static const struct {
        enum genmodel_arch arch;
        const char *field;
        int64_t value;
        const char *msg;
    } k[] = {
        {GENMODEL_ARCH_LLAMA, "n_expert_used", 9, "--n-expert-used"},
        {GENMODEL_ARCH_LLAMA, "n_head_kv", 3, "--n-head-kv"},
        {GENMODEL_ARCH_LLAMA, "head_dim", 8, "--head-dim 8 must equal"},
        {GENMODEL_ARCH_LLAMA, "n_ff", 64, "llama has no dense"},
        {GENMODEL_ARCH_LLAMA, "n_layer", 0, "--n-layer"},
        {GENMODEL_ARCH_LLAMA, "q_lora", 8, "deepseek2 only"},
        {GENMODEL_ARCH_QWEN2MOE, "n_expert_shared", 2, "exactly one shared expert"},
        {GENMODEL_ARCH_QWEN3MOE, "head_dim", 7, "must be even"},
        {GENMODEL_ARCH_LLAMA, "n_embd", 76, "head_dim 19 must be even"}, // 76/4 = 19
        {GENMODEL_ARCH_LLAMA, "n_embd", 66, "not a multiple of --n-head"},
        {GENMODEL_ARCH_DEEPSEEK2, "n_head_kv", 2, "must equal --n-head"},
        {GENMODEL_ARCH_DEEPSEEK2, "qk_rope", 7, "--qk-rope 7 must be even"},
        {GENMODEL_ARCH_DEEPSEEK2, "n_dense_lead", 3, "--n-dense-lead"},
        {GENMODEL_ARCH_DEEPSEEK2, "n_group", 3, "--expert-groups 3 must divide"},
        {GENMODEL_ARCH_DEEPSEEK2, "n_group_used", 1, "needs --expert-groups"},
        {GENMODEL_ARCH_DEEPSEEK2, "n_vocab", 100, "--n-vocab"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        struct genmodel_params p;
        genmodel_default_params(&p, k[i].arch);
        int64_t *f = !strcmp(k[i].field, "n_expert_used")     ? &p.n_expert_used
                     : !strcmp(k[i].field, "n_head_kv")       ? &p.n_head_kv
                     : !strcmp(k[i].field, "head_dim")        ? &p.head_dim
                     : !strcmp(k[i].field, "n_ff")            ? &p.n_ff
                     : !strcmp(k[i].field, "n_layer")         ? &p.n_layer
                     : !strcmp(k[i].field, "n_embd")          ? &p.n_embd
                     : !strcmp(k[i].field, "q_lora")          ? &p.q_lora
                     : !strcmp(k[i].field, "n_expert_shared") ? &p.n_expert_shared
                     : !strcmp(k[i].field, "qk_rope")         ? &p.qk_rope
                     : !strcmp(k[i].field, "n_dense_lead")    ? &p.n_dense_lead
                     : !strcmp(k[i].field, "n_group")         ? &p.n_group
                     : !strcmp(k[i].field, "n_group_used")    ? &p.n_group_used
                                                              : &p.n_vocab;
        *f = k[i].value;
        char err[512] = {0};
        int rc = genmodel_check(&p, err, sizeof err);
        if (rc != JANUS_EINVAL || !strstr(err, k[i].msg) || strchr(err, '\n'))
            TEST_FAIL_("%s=%lld: rc %d '%s' (want '%s')", k[i].field, (long long)k[i].value, rc,
                       err, k[i].msg);
    }
    // Q8_0 with a matrix whose input dim is not a multiple of 32 names the tensor
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    p.type = GGML_TYPE_Q8_0;
    p.n_ff_exp = 48;
    char out[512], err[512];
    tmp_path(out, sizeof out, "bad.gguf");
    ASSERT_EQ(genmodel_write(&p, out, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "blk.0.ffn_down_exps.weight") && strstr(err, "48"));
    struct stat st;
    ASSERT(stat(out, &st) != 0); // nothing written
    // unwritable path: error, no crash
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    ASSERT(genmodel_write(&p, "/nonexistent-dir/x.gguf", err, sizeof err) < 0);
    ASSERT(strstr(err, "/nonexistent-dir/x.gguf"));
    // a --vocab file without tokens
    p.vocab_path = "/nonexistent-dir/v.gguf";
    ASSERT(genmodel_write(&p, out, err, sizeof err) < 0);
    ASSERT(strstr(err, "--vocab"));
}

// Runs the CLI; returns the exit status and the first line of its combined output.
static int run_cli(const char *args, char *line, size_t n) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s gen-model %s 2>&1", test_janus_bin(), args);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    line[0] = 0;
    int n_lines = 0;
    char buf[1024];
    while (fgets(buf, sizeof buf, f)) {
        if (n_lines++ == 0) snprintf(line, n, "%s", buf);
    }
    int st = pclose(f);
    if (n_lines > 1 && !strstr(args, "--help")) return 1000 + n_lines; // must be one line
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cli_flags) {
    struct stat st;
    if (stat(test_janus_bin(), &st) != 0) TEST_FAIL_("janus binary %s not found", test_janus_bin());
    char line[1024], args[1024], out[512];
    tmp_path(out, sizeof out, "cli.gguf");
    static const struct {
        const char *args;
        const char *msg;
    } bad[] = {
        {"-o x.gguf", "--arch is required"},
        {"--arch mixtral -o x.gguf", "unknown --arch 'mixtral'"},
        {"--arch llama", "-o FILE is required"},
        {"--arch llama --type iq2_xxs -o x.gguf", "--type must be"},
        {"--arch llama --type q4_K_M -o x.gguf", "--type must be"},
        {"--arch llama --n-embd abc -o x.gguf", "--n-embd: 'abc'"},
        {"--arch llama --n-embd -5 -o x.gguf", "--n-embd"},
        {"--arch llama --bogus 1 -o x.gguf", "unknown option '--bogus'"},
        {"--arch llama --n-expert-used 16 -o x.gguf", "--n-expert-used 16"},
        {"--arch llama --gating sigmoid -o x.gguf", "deepseek2 only"},
        {"--arch deepseek2 --gating relu -o x.gguf", "softmax or sigmoid"},
        {"--arch deepseek2 --norm-topk 2 -o x.gguf", "--norm-topk"},
        {"--arch deepseek2 --expert-groups 4 --expert-groups-used 4 -o x.gguf",
         "--expert-groups-used 4"},
        {"--arch llama --seed", "missing value"},
        {"--arch llama --weights-scale 2 -o x.gguf", "deepseek2 only"},
        {"--arch olmoe --n-head-kv 2 -o x.gguf", "--n-head-kv 2 must equal"},
        {"--arch olmoe --n-ff 64 -o x.gguf", "olmoe has no dense"},
        {"--arch llama --mla-split -o x.gguf", "--mla-split applies to deepseek2"},
        {"--arch llama --rope-scaling ntk -o x.gguf", "--rope-scaling must be"},
        {"--arch llama --rope-scaling yarn -o x.gguf", "--rope-factor"},
        {"--arch llama --rope-factor 4 -o x.gguf", "need --rope-scaling"},
        {"--arch qwen3moe --yarn-log-mul 0.1 -o x.gguf", "deepseek2 only"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run_cli(bad[i].args, line, sizeof line);
        if (rc != 1 || !strstr(line, bad[i].msg) || strncmp(line, "janus gen-model: ", 17))
            TEST_FAIL_("'%s': exit %d, '%s' (want '%s')", bad[i].args, rc, line, bad[i].msg);
    }
    ASSERT(stat("x.gguf", &st) != 0);
    ASSERT_EQ(run_cli("--help", line, sizeof line), 0);
    ASSERT(strstr(line, "usage: janus gen-model"));
    // a valid V3-style grouped deepseek2 in q8_0 with several flags
    snprintf(args, sizeof args,
             "--arch deepseek2 --gating sigmoid --expert-groups 4 --expert-groups-used 2 "
             "--n-expert 16 --n-expert-used 4 --n-layer 2 --n-embd 128 --q-lora 64 --kv-lora 64 "
             "--qk-nope 32 --qk-rope 16 --v-head 32 --n-ff 256 --type q8_0 --seed 5 "
             "--context 4096 --rope-base 50000 --weights-scale 1.5 -o %s",
             out);
    ASSERT_EQ(run_cli(args, line, sizeof line), 0);
    ASSERT(strstr(line, "wrote"));
    struct gguf g;
    char err[512];
    ASSERT_OK(gguf_open(&g, out, err, sizeof err));
    uint32_t u = 0;
    float f = 0;
    int b = 0;
    ASSERT_OK(gguf_get_u32(&g, "deepseek2.expert_group_count", &u, err, sizeof err));
    ASSERT_EQ(u, 4);
    ASSERT_OK(gguf_get_u32(&g, "deepseek2.expert_gating_func", &u, err, sizeof err));
    ASSERT_EQ(u, 2);
    ASSERT_OK(gguf_get_u32(&g, "deepseek2.attention.key_length", &u, err, sizeof err));
    ASSERT_EQ(u, 48);
    ASSERT_OK(gguf_get_u32(&g, "deepseek2.context_length", &u, err, sizeof err));
    ASSERT_EQ(u, 4096);
    ASSERT_OK(gguf_get_f32(&g, "deepseek2.expert_weights_scale", &f, err, sizeof err));
    ASSERT_EQ(f, 1.5f);
    ASSERT_OK(gguf_get_f32(&g, "deepseek2.rope.freq_base", &f, err, sizeof err));
    ASSERT_EQ(f, 50000.0f);
    ASSERT_OK(gguf_get_bool(&g, "deepseek2.expert_weights_norm", &b, err, sizeof err));
    ASSERT_EQ(b, 1);
    ASSERT(gguf_find_tensor(&g, "blk.1.exp_probs_b.bias") != NULL);
    ASSERT(gguf_find_tensor(&g, "blk.0.ffn_gate.weight") != NULL);
    const struct gguf_tensor *t = gguf_find_tensor(&g, "blk.1.attn_q_b.weight");
    ASSERT(t && t->ne[0] == 64 && t->ne[1] == 4 * 48 && t->type == GGML_TYPE_Q8_0);
    t = gguf_find_tensor(&g, "blk.1.ffn_up_shexp.weight");
    ASSERT(t && t->ne[1] == 32); // one shared expert of n_ff_exp 32
    gguf_close(&g);
}

// janus info on a generated model: the numbers it prints equal the file's own sums.
TEST(cli_info) {
    char out[512], cmd[2048], line[1024];
    tmp_path(out, sizeof out, "info.gguf");
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_QWEN3MOE);
    p.type = GGML_TYPE_Q8_0;
    ASSERT_OK(gen(&p, out));
    struct gguf g;
    char err[512];
    ASSERT_OK(gguf_open(&g, out, err, sizeof err));
    uint64_t total = 0, expert = 0;
    int64_t n_q8 = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        total += g.tensors[i].n_bytes;
        n_q8 += g.tensors[i].type == GGML_TYPE_Q8_0;
        if (memmem(g.tensors[i].name.ptr, g.tensors[i].name.len, "_exps", 5))
            expert += g.tensors[i].n_bytes;
    }
    int64_t n_tensors = g.n_tensors;
    gguf_close(&g);
    snprintf(cmd, sizeof cmd, "%s info -m %s --tensors", test_janus_bin(), out);
    FILE *f = popen(cmd, "r");
    ASSERT(f != NULL);
    int seen = 0;
    char want[256];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "architecture:  qwen3moe")) seen |= 1;
        snprintf(want, sizeof want, "tensors:       %lld, %llu bytes", (long long)n_tensors,
                 (unsigned long long)total);
        if (strstr(line, want)) seen |= 2;
        snprintf(want, sizeof want, "expert bytes:      %llu", (unsigned long long)expert);
        if (strstr(line, want)) seen |= 4;
        snprintf(want, sizeof want, "non-expert bytes:  %llu",
                 (unsigned long long)(total - expert));
        if (strstr(line, want)) seen |= 8;
        if (strstr(line, "experts:           8, top-2 per token")) seen |= 16;
        snprintf(want, sizeof want, "q8_0     %6lld tensors", (long long)n_q8);
        if (strstr(line, want)) seen |= 32;
        if (strstr(line, "qwen3moe.attention.key_length") && strstr(line, " 16")) seen |= 64;
        if (strstr(line, "blk.1.ffn_down_exps.weight") && strstr(line, "{64, 64, 8}")) seen |= 128;
        if (strstr(line, "file type:     7 (mostly Q8_0)")) seen |= 256;
    }
    ASSERT_EQ(pclose(f), 0);
    ASSERT_EQ(seen, 511);
    // errors: one line, exit 1
    snprintf(cmd, sizeof cmd, "%s info -m %s/no-such.gguf 2>&1", test_janus_bin(), test_tmpdir());
    f = popen(cmd, "r");
    ASSERT(f != NULL);
    int n_lines = 0;
    while (fgets(line, sizeof line, f))
        n_lines++;
    int st = pclose(f);
    ASSERT_EQ(n_lines, 1);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

// janus info on a file with a type janus cannot compute, and on a vocab-only file.
TEST(cli_info_unsupported_and_vocab) {
    char out[512], cmd[4096], line[1024];
    tmp_path(out, sizeof out, "iq2.gguf");
    struct gguf_writer *w = gguf_writer_create();
    uint8_t blk[66 * 2];
    memset(blk, 0, sizeof blk);
    int64_t ne[2] = {256, 2};
    ASSERT_OK(gguf_writer_add_str(w, "general.architecture", "llama"));
    ASSERT_OK(gguf_writer_add_tensor(w, "blk.0.ffn_up_exps.weight", 2, ne, GGML_TYPE_IQ2_XXS, blk,
                                     sizeof blk));
    ASSERT_OK(gguf_writer_write(w, out));
    gguf_writer_destroy(&w);
    snprintf(cmd, sizeof cmd, "%s info -m %s", test_janus_bin(), out);
    FILE *f = popen(cmd, "r");
    ASSERT(f != NULL);
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "iq2_xxs") && strstr(line, "132 bytes") &&
            strstr(line, "computable: no (refused at load)"))
            seen |= 1;
        if (strstr(line, "(computable types: f32, f16, bf16, q8_0, q4_0,")) seen |= 4;
        if (strstr(line, "vocab:         (no tokenizer.ggml.tokens)")) seen |= 2;
    }
    ASSERT_EQ(pclose(f), 0);
    ASSERT_EQ(seen, 7);
    // a llama-quantize file: every type present, computable, with its paths
    snprintf(cmd, sizeof cmd, "%s info -m %s/quant/llama-moe-q2_k.gguf", test_janus_bin(),
             test_fixtures_dir());
    f = popen(cmd, "r");
    ASSERT(f != NULL);
    seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "  f32 ") && strstr(line, " 7 tensors") &&
            strstr(line, "computable: yes, exact path\n"))
            seen |= 1;
        if (strstr(line, "  q2_K ") && strstr(line, " 9 tensors") &&
            strstr(line, "computable: yes, exact path and integer path"))
            seen |= 2;
        if (strstr(line, "  q3_K ") && strstr(line, " 4 tensors")) seen |= 4;
        if (strstr(line, "  q4_K ") && strstr(line, " 2 tensors")) seen |= 8;
        if (strstr(line, "  q6_K ") && strstr(line, " 1 tensors")) seen |= 16;
        if (strstr(line, "computable: no") || strstr(line, "computable types")) seen |= 32;
        if (strstr(line, "file type:") && strstr(line, "10 (mostly Q2_K)")) seen |= 64;
    }
    ASSERT_EQ(pclose(f), 0);
    ASSERT_EQ(seen, 1 | 2 | 4 | 8 | 16 | 64);
    snprintf(cmd, sizeof cmd, "%s info -m %s/tokenizer/ggml-vocab-deepseek-llm.gguf",
             test_janus_bin(), test_fixtures_dir());
    f = popen(cmd, "r");
    ASSERT(f != NULL);
    seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "102400 tokens") && strstr(line, "99757 merges")) seen |= 1;
        if (strstr(line, "tensors:       0, 0 bytes")) seen |= 2;
        if (strstr(line, "MoE")) seen |= 4;
    }
    ASSERT_EQ(pclose(f), 0);
    ASSERT_EQ(seen, 3);
}

// Multi-chunk tensors: the bytes do not depend on the thread count.
TEST(threads_do_not_change_bytes) {
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    p.n_layer = 1;
    p.n_embd = 256;
    p.n_ff_exp = 1024; // 256 x 1024 x 8 = 2M values per expert tensor: 2 chunks
    p.type = GGML_TYPE_Q8_0;
    p.seed = 3;
    char p1[512], p2[512];
    tmp_path(p1, sizeof p1, "t1.gguf");
    tmp_path(p2, sizeof p2, "t3.gguf");
    p.n_threads = 1;
    ASSERT_OK(gen(&p, p1));
    p.n_threads = 3;
    ASSERT_OK(gen(&p, p2));
    size_t n1, n2;
    uint8_t *b1 = test_read_file(p1, &n1), *b2 = test_read_file(p2, &n2);
    ASSERT(b1 && b2);
    ASSERT_EQ(n1, n2);
    ASSERT_MEM_EQ(b1, b2, n1);
    { // the same for a quantized mix (chunks are quantised independently, whole rows each)
        struct genmodel_params q = p;
        ASSERT_OK(genmodel_type_parse("q4_k_m", &q.type, &q.mix));
        char q1[512], q2[512];
        tmp_path(q1, sizeof q1, "tq1.gguf");
        tmp_path(q2, sizeof q2, "tq3.gguf");
        q.n_threads = 1;
        ASSERT_OK(gen(&q, q1));
        q.n_threads = 3;
        ASSERT_OK(gen(&q, q2));
        size_t m1, m2;
        uint8_t *c1 = test_read_file(q1, &m1), *c2 = test_read_file(q2, &m2);
        ASSERT(c1 && c2);
        ASSERT_EQ(m1, m2);
        ASSERT_MEM_EQ(c1, c2, m1);
        free(c1);
        free(c2);
    }
    // the two chunks of one tensor are different draws (not a repeated stream)
    struct gguf g;
    char err[256];
    ASSERT_OK(gguf_open_memory(&g, b1, n1, err, sizeof err));
    const struct gguf_tensor *t = gguf_find_tensor(&g, "blk.0.ffn_up_exps.weight");
    ASSERT(t != NULL);
    ASSERT(memcmp(t->data, (const uint8_t *)t->data + t->n_bytes / 2, t->n_bytes / 2) != 0);
    gguf_close(&g);
    free(b1);
    free(b2);
    p.n_threads = 1000;
    ASSERT_EQ(genmodel_check(&p, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "--threads"));
}

// Every allocation of genmodel_write failing in turn: a clean error, no leak, no file left.
TEST(alloc_failures) {
    char vocab[4096], out[512], err[512];
    vocab_path(vocab, sizeof vocab);
    tmp_path(out, sizeof out, "fault.gguf");
    for (int builtin = 0; builtin < 2; builtin++) {
        struct genmodel_params p;
        genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
        p.vocab_path = builtin ? NULL : vocab;
        int64_t live = mem_live_bytes(MEM_TAG_MODEL);
        int ok = 0, n_fail = 0;
        for (uint64_t n = 1; n < 20000 && !ok; n += builtin ? 7 : 1) {
            mem_fail_after(n);
            int rc = genmodel_write(&p, out, err, sizeof err);
            mem_fail_after(0);
            struct stat st;
            if (rc == JANUS_OK) {
                ok = 1;
                unlink(out);
                break;
            }
            n_fail++;
            if (rc != JANUS_ENOMEM || !err[0] || stat(out, &st) == 0)
                TEST_FAIL_("fail at %llu: rc %d '%s' (file left: %d)", (unsigned long long)n, rc,
                           err, stat(out, &st) == 0);
            ASSERT_EQ(mem_live_bytes(MEM_TAG_MODEL), live);
        }
        printf("    %s vocabulary: %d failing allocations handled\n", builtin ? "built-in" : "file",
               n_fail);
        ASSERT(ok);
        ASSERT_LT(10, n_fail);
    }
}

// ---- values from files (--weights) and a JSON tokenizer (--tokenizer-json), issue 14

// Writes every tensor of the F32 model at path as dir/NAME.f32.
static void dump_tensors(const char *path, const char *dir) {
    struct gguf g;
    char err[512], fn[1024];
    if (gguf_open(&g, path, err, sizeof err)) TEST_FAIL_("%s", err);
    mkdir(dir, 0700);
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        ASSERT_EQ(t->type, GGML_TYPE_F32);
        snprintf(fn, sizeof fn, "%s/%.*s.f32", dir, (int)t->name.len, t->name.ptr);
        FILE *f = fopen(fn, "wb");
        ASSERT(f && fwrite(t->data, 1, t->n_bytes, f) == t->n_bytes);
        fclose(f);
    }
    gguf_close(&g);
}

// The tensor data sections of two files are the same bytes (and the same tensor list).
static void same_data(const char *a_path, const char *b_path) {
    same_layout(a_path, b_path);
    struct gguf a, b;
    char err[512];
    if (gguf_open(&a, a_path, err, sizeof err)) TEST_FAIL_("%s", err);
    if (gguf_open(&b, b_path, err, sizeof err)) TEST_FAIL_("%s", err);
    for (int64_t i = 0; i < a.n_tensors; i++)
        if (memcmp(a.tensors[i].data, b.tensors[i].data, a.tensors[i].n_bytes))
            TEST_FAIL_("tensor '%.*s' differs", (int)a.tensors[i].name.len, a.tensors[i].name.ptr);
    gguf_close(&a);
    gguf_close(&b);
}

TEST(weights_from_files_round_trip) {
    // A random model's tensors written out and read back give the same file, also for
    // --mla-split (kv_b's values from its file, split as the random path splits them) and
    // in Q8_0 (converted as the random path converts them); q_lora 0 writes attn_q.
    char a0[512], a1[512], b0[512], b1[512], dir[512], aq[512], bq[512];
    tmp_path(a0, sizeof a0, "rt-a0.gguf");
    tmp_path(a1, sizeof a1, "rt-a1.gguf");
    tmp_path(b0, sizeof b0, "rt-b0.gguf");
    tmp_path(b1, sizeof b1, "rt-b1.gguf");
    tmp_path(aq, sizeof aq, "rt-aq.gguf");
    tmp_path(bq, sizeof bq, "rt-bq.gguf");
    tmp_path(dir, sizeof dir, "rt-tensors");
    for (int q_lora = 0; q_lora < 2; q_lora++) {
        struct genmodel_params p;
        genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
        if (!q_lora) p.q_lora = 0;
        p.seed = 77;
        ASSERT_EQ(gen(&p, a0), JANUS_OK);
        p.mla_split = 1;
        ASSERT_EQ(gen(&p, a1), JANUS_OK);
        p.mla_split = 0;
        p.type = GGML_TYPE_Q8_0;
        ASSERT_EQ(gen(&p, aq), JANUS_OK);
        p.type = GGML_TYPE_F32;
        dump_tensors(a0, dir);
        p.weights_dir = dir;
        p.seed = 1; // ignored: the values come from the files
        ASSERT_EQ(gen(&p, b0), JANUS_OK);
        p.mla_split = 1;
        ASSERT_EQ(gen(&p, b1), JANUS_OK);
        p.mla_split = 0;
        p.type = GGML_TYPE_Q8_0;
        ASSERT_EQ(gen(&p, bq), JANUS_OK);
        same_data(a0, b0);
        same_data(a1, b1);
        same_data(aq, bq);
        struct gguf g;
        char err[512];
        ASSERT_EQ(gguf_open(&g, b0, err, sizeof err), JANUS_OK);
        int has_q = 0;
        for (int64_t i = 0; i < g.n_tensors; i++)
            has_q |= g.tensors[i].name.len == 19 &&
                     !memcmp(g.tensors[i].name.ptr, "blk.0.attn_q.weight", 19);
        gguf_close(&g);
        ASSERT_EQ(has_q, !q_lora);
    }
}

TEST(weights_from_files_errors) {
    char a[512], dir[512], out[512], fn[1024], err[512];
    tmp_path(a, sizeof a, "we-a.gguf");
    tmp_path(out, sizeof out, "we-out.gguf");
    tmp_path(dir, sizeof dir, "we-tensors");
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    ASSERT_EQ(gen(&p, a), JANUS_OK);
    dump_tensors(a, dir);
    p.weights_dir = dir;
    struct stat st;
    // missing
    snprintf(fn, sizeof fn, "%s/blk.1.ffn_up_exps.weight.f32", dir);
    ASSERT_EQ(unlink(fn), 0);
    ASSERT_EQ(genmodel_write(&p, out, err, sizeof err), JANUS_EIO);
    ASSERT(strstr(err, "blk.1.ffn_up_exps.weight") && strstr(err, "missing"));
    ASSERT(stat(out, &st) != 0);
    // one value short
    dump_tensors(a, dir);
    ASSERT_EQ(truncate(fn, (off_t)(p.n_embd * p.n_ff_exp * p.n_expert * 4 - 4)), 0);
    ASSERT_EQ(genmodel_write(&p, out, err, sizeof err), JANUS_EFORMAT);
    ASSERT(strstr(err, "blk.1.ffn_up_exps.weight") && strstr(err, "wrong size"));
    // not finite
    dump_tensors(a, dir);
    snprintf(fn, sizeof fn, "%s/output_norm.weight.f32", dir);
    FILE *f = fopen(fn, "r+b");
    const uint8_t nan_le[4] = {0x00, 0x00, 0xc0, 0x7f};
    ASSERT(f && fwrite(nan_le, 1, 4, f) == 4);
    fclose(f);
    ASSERT_EQ(genmodel_write(&p, out, err, sizeof err), JANUS_EFORMAT);
    ASSERT(strstr(err, "output_norm.weight") && strstr(err, "not finite"));
    ASSERT(stat(out, &st) != 0);
}

TEST(tokenizer_json) {
    char js[512], out[512], err[512];
    tmp_path(js, sizeof js, "tok.json");
    tmp_path(out, sizeof out, "tok.gguf");
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    p.tokenizer_json = js;
    static const struct {
        const char *json;
        int rc;
        const char *msg;
    } k[] = {
        {"{\"model\":\"llama\",\"tokens\":[\"<unk>\",\"<s>\",\"</s>\",\"\\u2581a\"],"
         "\"scores\":[0,0,0,-1.5],\"token_types\":[2,3,3,1],\"bos\":1,\"eos\":2,\"unk\":0,"
         "\"add_bos\":true,\"add_eos\":false,\"chat_template\":\"{{ messages }}<|im_start|>\"}",
         JANUS_OK, NULL},
        {"[1]", JANUS_EFORMAT, "not a JSON object"},
        {"{\"model\":\"gpt2\",\"tokens\":[],\"scores\":[],\"token_types\":[]}", JANUS_EINVAL,
         "must be \"llama\""},
        {"{\"model\":\"llama\",\"tokens\":[\"a\",\"b\",\"c\"],\"scores\":[0,0],"
         "\"token_types\":[1,1,1]}",
         JANUS_EINVAL, "one entry per token"},
        {"{\"model\":\"llama\",\"tokens\":[\"a\",\"b\",\"c\"],\"scores\":[0,0,0],"
         "\"token_types\":[1,1,9]}",
         JANUS_EINVAL, "token 2"},
        {"{\"model\":\"llama\",\"tokens\":[\"a\",\"b\",\"c\"],\"scores\":[0,0,0],"
         "\"token_types\":[1,1,1],\"eos\":3}",
         JANUS_EINVAL, "eos"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        FILE *f = fopen(js, "w");
        ASSERT(f && fputs(k[i].json, f) >= 0);
        fclose(f);
        int rc = genmodel_write(&p, out, err, sizeof err);
        if (rc != k[i].rc || (k[i].msg && !strstr(err, k[i].msg)))
            TEST_FAIL_("case %zu: rc %d '%s'", i, rc, err);
    }
    // the valid one: 4 tokens, the chat template and the special ids as given
    FILE *f = fopen(js, "w");
    ASSERT(f && fputs(k[0].json, f) >= 0);
    fclose(f);
    ASSERT_EQ(genmodel_write(&p, out, err, sizeof err), JANUS_OK);
    struct gguf g;
    ASSERT_EQ(gguf_open(&g, out, err, sizeof err), JANUS_OK);
    struct gguf_str t = {0};
    ASSERT_EQ(gguf_get_str(&g, "tokenizer.chat_template", &t, err, sizeof err), JANUS_OK);
    ASSERT(t.len == 26 && !memcmp(t.ptr, "{{ messages }}<|im_start|>", 26));
    enum gguf_type et;
    uint64_t n = 0;
    ASSERT_EQ(gguf_get_arr(&g, "tokenizer.ggml.tokens", &et, &n, err, sizeof err), JANUS_OK);
    ASSERT_EQ(n, 4);
    gguf_close(&g);
    p.vocab_path = out;
    ASSERT_EQ(genmodel_write(&p, out, err, sizeof err), JANUS_EINVAL); // both given
}
