// What real downloads carry (issue 12 item 6): deepseek2 files with the split attn_k_b /
// attn_v_b hold kv_b's values in llama.cpp's layout and load with the *_mla keys; the
// rope.scaling.* keys are read as llama.cpp reads them (linear, YaRN with deepseek2's
// mscale); olmoe loads; bad combinations are refused with the key or tensor named. The
// numbers against the float64 reference: tests/golden/test_reference.py.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "model/genmodel.h"
#include "model/gguf.h"
#include "model/weights.h"

#include <math.h>
#include <stdlib.h>

static void gen(const struct genmodel_params *p, const char *tag, char *path, size_t n) {
    char err[256];
    snprintf(path, n, "%s/a12-%s.gguf", test_tmpdir(), tag);
    int rc = genmodel_write(p, path, err, sizeof err);
    if (rc) fprintf(stderr, "genmodel_write %s: %s\n", tag, err);
    ASSERT_OK(rc);
}

static const struct gguf_tensor *tensor(const struct gguf *g, const char *name) {
    const struct gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) test_fail(__FILE__, __LINE__, "missing tensor %s", name);
    return t;
}

// attn_k_b[h][r][d] = attn_kv_b[h·(nope+v) + d][r] and attn_v_b[h][j][r] =
// attn_kv_b[h·(nope+v) + nope + j][r], bit for bit (F32), for the same seed.
TEST(split_holds_kv_b_values) {
    struct genmodel_params p;
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    char a[512], b[512], err[256];
    gen(&p, "kvb", a, sizeof a);
    p.mla_split = 1;
    gen(&p, "split", b, sizeof b);
    struct gguf ga, gb;
    ASSERT_OK(gguf_open(&ga, a, err, sizeof err));
    ASSERT_OK(gguf_open(&gb, b, err, sizeof err));
    const int64_t H = p.n_head, R = p.kv_lora, nope = p.qk_nope, dv = p.v_head, W = nope + dv;
    int64_t checked = 0;
    for (int il = 0; il < p.n_layer; il++) {
        char n1[64], n2[64], n3[64];
        snprintf(n1, sizeof n1, "blk.%d.attn_kv_b.weight", il);
        snprintf(n2, sizeof n2, "blk.%d.attn_k_b.weight", il);
        snprintf(n3, sizeof n3, "blk.%d.attn_v_b.weight", il);
        ASSERT(gguf_find_tensor(&gb, n1) == NULL);
        const struct gguf_tensor *kvb = tensor(&ga, n1), *kb = tensor(&gb, n2),
                                 *vb = tensor(&gb, n3);
        ASSERT(kvb && kb && vb);
        ASSERT(kb->n_dims == 3 && kb->ne[0] == nope && kb->ne[1] == R && kb->ne[2] == H);
        ASSERT(vb->n_dims == 3 && vb->ne[0] == R && vb->ne[1] == dv && vb->ne[2] == H);
        const float *x = kvb->data, *k = kb->data, *v = vb->data;
        for (int64_t h = 0; h < H; h++)
            for (int64_t r = 0; r < R; r++) {
                for (int64_t d = 0; d < nope; d++, checked++)
                    ASSERT(k[(h * R + r) * nope + d] == x[(h * W + d) * R + r]);
                for (int64_t j = 0; j < dv; j++, checked++)
                    ASSERT(v[(h * dv + j) * R + r] == x[(h * W + nope + j) * R + r]);
            }
    }
    ASSERT_EQ(checked, p.n_layer * H * R * W);
    gguf_close(&ga);
    gguf_close(&gb);
    // the split file reads with the converter's keys: latent widths under key_length, the
    // per-head ones under *_mla, head_count_kv 1
    struct model m;
    ASSERT_OK(model_load(&m, b, err, sizeof err));
    ASSERT(m.hp.mla_split);
    ASSERT_EQ(m.hp.head_dim_k, nope + p.qk_rope);
    ASSERT_EQ(m.hp.head_dim_v, dv);
    ASSERT_EQ(m.hp.n_head_kv, 1);
    ASSERT(m.layers[0].wkv_b.data == NULL && m.layers[0].wk_b.mat.data &&
           m.layers[0].wv_b.n_mat == H);
    model_free(&m);
}

static double corr_dim(double n_rot, double ctx, double beta, double base) {
    return n_rot * log(ctx / (beta * 2.0 * M_PI)) / (2.0 * log(base));
}

// DeepSeek-V2-Lite's rope_scaling (factor 40, original 4096, mscale_all_dim 0.707 written as
// 0.0707): rotation magnitude 1 (llama.cpp cancels it), attention scale × (1 + 0.1·0.707·ln
// 40)², ramp between ggml's correction dims; linear and none; non-MLA YaRN magnitude.
TEST(rope_scaling_as_llama_cpp_reads_it) {
    struct genmodel_params p;
    char path[512], err[256];
    struct model m;
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    p.rope_scaling = GENMODEL_ROPE_YARN;
    p.rope_factor = 40.0f;
    p.rope_orig_ctx = 4096;
    p.yarn_log_mul = 0.0707f;
    gen(&p, "v2lite", path, sizeof path);
    ASSERT_OK(model_load(&m, path, err, sizeof err));
    const struct hparams *hp = &m.hp;
    ASSERT_EQ(hp->rope_scaling_type, HPARAMS_ROPE_SCALING_YARN);
    ASSERT(hp->rope_scaled);
    ASSERT_NEAR(hp->rope_scaling.freq_scale, 1.0 / 40.0, 1e-12);
    ASSERT_NEAR(hp->rope_scaling.ext_factor, 1.0, 0);
    ASSERT_NEAR(hp->rope_scaling.mscale, 1.0, 1e-12);
    ASSERT_NEAR(hp->yarn_log_mul, 0.707, 1e-6);
    const double ms = 1.0 + 0.1 * 0.707 * log(40.0);
    ASSERT_NEAR(hp->attn_scale_mul, ms * ms, 1e-5);
    const double lo = fmax(0.0, floor(corr_dim(8, 4096, 32, 10000)));
    const double hi = fmin(7.0, ceil(corr_dim(8, 4096, 1, 10000)));
    ASSERT_NEAR(hp->rope_scaling.corr_lo, lo, 0);
    ASSERT_NEAR(hp->rope_scaling.corr_hi, hi, 0);
    model_free(&m);
    // no yarn_log_multiplier (0): magnitude 1 + 0.1 ln f on the rotation, and llama.cpp's
    // deepseek2 scale multiplies by the same factor squared
    p.yarn_log_mul = 0.0f;
    gen(&p, "v2nolog", path, sizeof path);
    ASSERT_OK(model_load(&m, path, err, sizeof err));
    const double g = 1.0 + 0.1 * log(40.0);
    ASSERT_NEAR(m.hp.rope_scaling.mscale, g, 1e-6);
    ASSERT_NEAR(m.hp.attn_scale_mul, g * g, 1e-5);
    model_free(&m);
    // linear on qwen3moe: interpolation only, no magnitude, no ramp
    genmodel_default_params(&p, GENMODEL_ARCH_QWEN3MOE);
    p.rope_scaling = GENMODEL_ROPE_LINEAR;
    p.rope_factor = 4.0f;
    gen(&p, "linear", path, sizeof path);
    ASSERT_OK(model_load(&m, path, err, sizeof err));
    ASSERT_EQ(m.hp.rope_scaling_type, HPARAMS_ROPE_SCALING_LINEAR);
    ASSERT_NEAR(m.hp.rope_scaling.freq_scale, 0.25, 0);
    ASSERT_NEAR(m.hp.rope_scaling.ext_factor, 0.0, 0);
    ASSERT_NEAR(m.hp.rope_scaling.mscale, 1.0, 0);
    ASSERT_NEAR(m.hp.attn_scale_mul, 1.0, 0);
    model_free(&m);
    // YaRN on olmoe: the rotation carries 1 + 0.1 ln f; the attention scale is unchanged
    genmodel_default_params(&p, GENMODEL_ARCH_OLMOE);
    p.rope_scaling = GENMODEL_ROPE_YARN;
    p.rope_factor = 8.0f;
    p.yarn_beta_fast = 16.0f;
    gen(&p, "olmoe-yarn", path, sizeof path);
    ASSERT_OK(model_load(&m, path, err, sizeof err));
    ASSERT_NEAR(m.hp.rope_scaling.mscale, 1.0 + 0.1 * log(8.0), 1e-6);
    ASSERT_NEAR(m.hp.rope_scaling.corr_lo, fmax(0.0, floor(corr_dim(16, 2048, 16, 10000))), 0);
    ASSERT_NEAR(m.hp.attn_scale_mul, 1.0, 0);
    ASSERT(m.hp.arch->id == ARCH_OLMOE && m.hp.rope_neox && m.hp.weights_norm == 0);
    ASSERT(m.layers[1].q_norm && m.layers[1].k_norm && m.layers[1].is_moe);
    model_free(&m);
    // no keys: nothing scaled
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    gen(&p, "none", path, sizeof path);
    ASSERT_OK(model_load(&m, path, err, sizeof err));
    ASSERT(!m.hp.rope_scaled);
    model_free(&m);
}

// ---- refusals: rewrite a generated file with keys / tensors changed

struct edit {
    const char *drop_key;    // key suffix to leave out ("" none)
    const char *str_key;     // key suffix to (re)write as a string
    const char *str_val;     // its value
    const char *drop_tensor; // tensor name suffix to leave out (every layer)
    const char *u32_key[2];  // key suffixes to rewrite as u32 (NULL none)
    uint32_t u32_val[2];
};

static int ends_with(const char *s, size_t n, const char *suf) {
    size_t m = strlen(suf);
    return m && n >= m && !memcmp(s + n - m, suf, m);
}

static void rewrite(const char *src, const char *dst, const struct edit *e) {
    struct gguf g;
    char err[256];
    ASSERT_OK(gguf_open(&g, src, err, sizeof err));
    struct gguf_writer *w = gguf_writer_create();
    ASSERT(w);
    for (int64_t i = 0; i < g.n_kv; i++) {
        const struct gguf_str *k = &g.kv[i].key;
        if (ends_with(k->ptr, k->len, e->drop_key) || ends_with(k->ptr, k->len, e->str_key))
            continue;
        int skip = 0;
        for (int j = 0; j < 2; j++)
            if (e->u32_key[j] && ends_with(k->ptr, k->len, e->u32_key[j])) skip = 1;
        if (skip) continue;
        ASSERT_OK(gguf_writer_copy_kv(w, &g, i));
    }
    for (int j = 0; j < 2; j++) {
        if (!e->u32_key[j]) continue;
        char key[128];
        snprintf(key, sizeof key, "deepseek2.%s", e->u32_key[j]);
        ASSERT_OK(gguf_writer_add_u32(w, key, e->u32_val[j]));
    }
    if (e->str_key[0]) {
        char key[128];
        snprintf(key, sizeof key, "deepseek2.%s", e->str_key);
        ASSERT_OK(gguf_writer_add_str(w, key, e->str_val));
    }
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        if (ends_with(t->name.ptr, t->name.len, e->drop_tensor)) continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        ASSERT_OK(gguf_writer_add_tensor(w, name, t->n_dims, t->ne, t->type, t->data,
                                         (size_t)t->n_bytes));
    }
    ASSERT_OK(gguf_writer_write(w, dst));
    gguf_writer_destroy(&w);
    gguf_close(&g);
}

static void refused(const char *src, const struct edit *e, int want_rc, const char *want) {
    char dst[512], err[512] = "";
    snprintf(dst, sizeof dst, "%s/a12-edited.gguf", test_tmpdir());
    rewrite(src, dst, e);
    struct model m;
    const int rc = model_load(&m, dst, err, sizeof err);
    fprintf(stderr, "  refused: %s\n", err);
    ASSERT_EQ(rc, want_rc);
    if (!strstr(err, want)) TEST_FAIL_("error '%s' does not name '%s'", err, want);
}

TEST(bad_files_refused_naming_the_cause) {
    struct genmodel_params p;
    char split[512], plain[512];
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    gen(&p, "r-plain", plain, sizeof plain);
    p.mla_split = 1;
    gen(&p, "r-split", split, sizeof split);
    // one of the two *_mla keys
    refused(
        split,
        &(struct edit){.drop_key = "attention.value_length_mla", .str_key = "", .drop_tensor = ""},
        JANUS_EFORMAT, "deepseek2.attention.value_length_mla");
    // split tensors without the keys (per-head widths under key_length as in legacy files):
    // kv_b is expected, and the error says why
    struct edit e = {.drop_key = "attention.key_length_mla",
                     .str_key = "",
                     .drop_tensor = "",
                     .u32_key = {"attention.key_length", "attention.value_length"},
                     .u32_val = {(uint32_t)(p.qk_nope + p.qk_rope), (uint32_t)p.v_head}};
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/a12-nokey.gguf", test_tmpdir());
    rewrite(split, tmp, &e);
    refused(
        tmp,
        &(struct edit){.drop_key = "attention.value_length_mla", .str_key = "", .drop_tensor = ""},
        JANUS_EFORMAT, "blk.0.attn_kv_b.weight");
    // the keys but no attn_v_b
    refused(split, &(struct edit){.drop_key = "", .str_key = "", .drop_tensor = "attn_v_b.weight"},
            JANUS_ENOTFOUND, "blk.0.attn_v_b.weight");
    // a scaling type llama.cpp has but we do not compute
    refused(plain,
            &(struct edit){.drop_key = "",
                           .str_key = "rope.scaling.type",
                           .str_val = "longrope",
                           .drop_tensor = ""},
            JANUS_EUNSUPPORTED, "deepseek2.rope.scaling.type");
    // YaRN without any context length for the correction dims
    struct genmodel_params q;
    genmodel_default_params(&q, GENMODEL_ARCH_DEEPSEEK2);
    q.rope_scaling = GENMODEL_ROPE_YARN;
    q.rope_factor = 4.0f;
    char y[512];
    gen(&q, "r-yarn", y, sizeof y);
    snprintf(tmp, sizeof tmp, "%s/a12-noorig.gguf", test_tmpdir());
    rewrite(y, tmp,
            &(struct edit){.drop_key = "rope.scaling.original_context_length",
                           .str_key = "",
                           .drop_tensor = ""});
    refused(tmp, &(struct edit){.drop_key = "context_length", .str_key = "", .drop_tensor = ""},
            JANUS_EFORMAT, "original_context_length");
}

TEST(genmodel_checks_new_flags) {
    struct genmodel_params p;
    char err[256];
    genmodel_default_params(&p, GENMODEL_ARCH_OLMOE);
    p.n_head_kv = 2;
    ASSERT_EQ(genmodel_check(&p, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "--n-head-kv"));
    genmodel_default_params(&p, GENMODEL_ARCH_LLAMA);
    p.mla_split = 1;
    ASSERT_EQ(genmodel_check(&p, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "--mla-split"));
    genmodel_default_params(&p, GENMODEL_ARCH_QWEN3MOE);
    p.rope_factor = 4.0f;
    ASSERT_EQ(genmodel_check(&p, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "--rope-scaling"));
    p.rope_scaling = GENMODEL_ROPE_LINEAR;
    p.rope_orig_ctx = 64;
    ASSERT_EQ(genmodel_check(&p, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "yarn only"));
    genmodel_default_params(&p, GENMODEL_ARCH_QWEN3MOE);
    p.yarn_log_mul = 0.1f;
    ASSERT_EQ(genmodel_check(&p, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "--yarn-log-mul"));
    genmodel_default_params(&p, GENMODEL_ARCH_DEEPSEEK2);
    p.rope_scaling = GENMODEL_ROPE_YARN;
    ASSERT_EQ(genmodel_check(&p, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "--rope-factor"));
    p.rope_factor = 40.0f;
    p.mla_split = 1;
    ASSERT_OK(genmodel_check(&p, err, sizeof err));
}
