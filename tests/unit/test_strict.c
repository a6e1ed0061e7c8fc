// Strict model validation (issue 12 items 4 and 7; docs/GGUF.md "What we refuse"): every
// case starts from a valid gen-model model, rewrites its metadata or tensors with the GGUF
// writer, and checks that model_load refuses it with a status and a one-line message naming
// the key or tensor and what was expected. The valid neighbours of each rule (head_count_kv
// = 1, per-block arrays, tied output, dense llama, deepseek2 without q_lora or shared
// experts, one expert group) must keep loading, as must every fixture model; the quantized
// fixtures must fail only on their (unsupported) tensor types.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/status.h"
#include "model/genmodel.h"
#include "model/gguf.h"
#include "model/vocab.h"
#include "model/weights.h"

#include <dirent.h>
#include <stdlib.h>

// ---- base models (gen-model defaults = the fixtures' dimensions)

enum base { B_LLAMA, B_QWEN2, B_QWEN3, B_DS2, B_DS3, B_COUNT };

static uint8_t *base_buf[B_COUNT];
static size_t base_len[B_COUNT];

static void gen_params(enum base b, struct genmodel_params *p) {
    static const enum genmodel_arch arch[B_COUNT] = {
        GENMODEL_ARCH_LLAMA, GENMODEL_ARCH_QWEN2MOE, GENMODEL_ARCH_QWEN3MOE,
        GENMODEL_ARCH_DEEPSEEK2, GENMODEL_ARCH_DEEPSEEK2};
    genmodel_default_params(p, arch[b]);
    p->n_vocab = 300;
    if (b == B_DS3) genmodel_params_v3(p);
}

// Writes a gen-model model into a malloc'd buffer.
static uint8_t *gen(const struct genmodel_params *p, const char *tag, size_t *len) {
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/strict-%s.gguf", test_tmpdir(), tag);
    if (genmodel_write(p, path, err, sizeof err) != JANUS_OK) {
        fprintf(stderr, "genmodel %s: %s\n", tag, err);
        return NULL;
    }
    uint8_t *buf = test_read_file(path, len);
    remove(path);
    return buf;
}

static const uint8_t *base(enum base b, size_t *len) {
    if (!base_buf[b]) {
        struct genmodel_params p;
        gen_params(b, &p);
        char tag[16];
        snprintf(tag, sizeof tag, "base%d", (int)b);
        base_buf[b] = gen(&p, tag, &base_len[b]);
        JANUS_ASSERT(base_buf[b] != NULL);
    }
    *len = base_len[b];
    return base_buf[b];
}

// ---- edits

enum op {
    OP_END = 0,
    OP_U32,      // set key (replaced in place, else appended) to u32 u
    OP_I32,      // set key to i32 u (signed)
    OP_F32,      // set key to f32 f
    OP_ARR,      // set key to an i32 array arr[0..n)
    OP_ARR_F32,  // set key to an f32 array (values arr[i])
    OP_DROP_KEY, // remove key
    OP_DROP,     // remove tensors whose name starts with `name`
    OP_ADD,      // append an F32 tensor `name` of shape ne[0..nd) (zeros)
    OP_ADD_F16,  // same, stored F16
    OP_RETYPE16, // rewrite tensor `name` (F32) as F16 of the same shape
};

struct mod {
    enum op op;
    const char *name; // key or tensor (prefix for OP_DROP)
    int64_t u;
    float f;
    int nd;
    int64_t ne[3];
    int32_t arr[4];
    int n;
};

#define MAX_MODS 6

static const struct mod *find_key_mod(const struct mod *mods, const char *key) {
    for (int i = 0; i < MAX_MODS && mods[i].op != OP_END; i++)
        if (mods[i].op >= OP_U32 && mods[i].op <= OP_DROP_KEY && !strcmp(mods[i].name, key))
            return &mods[i];
    return NULL;
}

static int add_key(struct gguf_writer *w, const struct mod *m) {
    switch (m->op) {
    case OP_U32: return gguf_writer_add_u32(w, m->name, (uint32_t)m->u);
    case OP_I32: return gguf_writer_add_i32(w, m->name, (int32_t)m->u);
    case OP_F32: return gguf_writer_add_f32(w, m->name, m->f);
    case OP_ARR: return gguf_writer_add_arr_i32(w, m->name, m->arr, (uint64_t)m->n);
    case OP_ARR_F32: {
        float v[4];
        for (int i = 0; i < m->n; i++)
            v[i] = (float)m->arr[i];
        return gguf_writer_add_arr_f32(w, m->name, v, (uint64_t)m->n);
    }
    default: return JANUS_OK; // OP_DROP_KEY
    }
}

static int dropped(const struct mod *mods, const char *name) {
    for (int i = 0; i < MAX_MODS && mods[i].op != OP_END; i++)
        if (mods[i].op == OP_DROP && !strncmp(name, mods[i].name, strlen(mods[i].name))) return 1;
    return 0;
}

// Applies mods to the GGUF in (n bytes); returns a mem_alloc'd file (NULL on failure).
static uint8_t *rewrite(const uint8_t *in, size_t n, const struct mod *mods, size_t *len) {
    struct gguf g;
    char err[256];
    if (gguf_open_memory(&g, in, n, err, sizeof err) != JANUS_OK) return NULL;
    struct gguf_writer *w = gguf_writer_create();
    int rc = w ? JANUS_OK : JANUS_ENOMEM;
    for (int64_t i = 0; i < g.n_kv && !rc; i++) {
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)g.kv[i].key.len, g.kv[i].key.ptr);
        const struct mod *m = find_key_mod(mods, key);
        rc = m ? add_key(w, m) : gguf_writer_copy_kv(w, &g, i);
    }
    for (int i = 0; i < MAX_MODS && mods[i].op != OP_END && !rc; i++)
        if (mods[i].op >= OP_U32 && mods[i].op < OP_DROP_KEY && gguf_find_key(&g, mods[i].name) < 0)
            rc = add_key(w, &mods[i]);
    uint16_t *half = NULL;
    for (int64_t i = 0; i < g.n_tensors && !rc; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (dropped(mods, name)) continue;
        int retype = 0;
        for (int k = 0; k < MAX_MODS && mods[k].op != OP_END; k++)
            retype |= mods[k].op == OP_RETYPE16 && !strcmp(mods[k].name, name);
        if (retype && t->type == GGML_TYPE_F32) {
            const size_t ne = (size_t)(t->n_bytes / 4);
            half = calloc(ne, 2); // zeros: F16 +0.0
            rc = half ? gguf_writer_add_tensor(w, name, t->n_dims, t->ne, GGML_TYPE_F16, half,
                                               ne * 2)
                      : JANUS_ENOMEM;
            free(half);
            half = NULL;
            continue;
        }
        rc =
            gguf_writer_add_tensor(w, name, t->n_dims, t->ne, t->type, t->data, (size_t)t->n_bytes);
    }
    for (int i = 0; i < MAX_MODS && mods[i].op != OP_END && !rc; i++) {
        if (mods[i].op != OP_ADD && mods[i].op != OP_ADD_F16) continue;
        const uint32_t type = mods[i].op == OP_ADD ? GGML_TYPE_F32 : GGML_TYPE_F16;
        int64_t ne[4] = {1, 1, 1, 1};
        for (int d = 0; d < mods[i].nd; d++)
            ne[d] = mods[i].ne[d];
        const size_t bytes = gguf_tensor_bytes((uint32_t)mods[i].nd, ne, type);
        void *z = calloc(1, bytes);
        rc = z ? gguf_writer_add_tensor(w, mods[i].name, (uint32_t)mods[i].nd, ne, type, z, bytes)
               : JANUS_ENOMEM;
        free(z);
    }
    void *out = NULL;
    if (!rc) rc = gguf_writer_write_memory(w, &out, len);
    if (rc) fprintf(stderr, "rewrite: writer status %d\n", rc);
    gguf_writer_destroy(&w);
    gguf_close(&g);
    return rc ? NULL : out;
}

static uint8_t *kept_buf;

static void release(struct model *m) {
    model_free(m);
    mem_free(kept_buf);
    kept_buf = NULL;
}

// Loads base b with mods; returns the status, err gets the message. With keep, a loaded
// model is handed to the caller (free it with release()).
static int load_modified(enum base b, const struct mod *mods, char *err, size_t err_len,
                         struct model *keep) {
    size_t n, len = 0;
    const uint8_t *in = base(b, &n);
    uint8_t *buf = rewrite(in, n, mods, &len);
    if (!buf) return status_errf(err, err_len, JANUS_EINVAL, "test rewrite failed");
    struct model m;
    err[0] = 0;
    int rc = model_load_memory(&m, buf, len, err, err_len);
    if (rc == JANUS_OK && keep) {
        JANUS_ASSERT(kept_buf == NULL);
        kept_buf = buf; // the model's views point into it: release() frees both
        *keep = m;
        return rc;
    }
    if (rc == JANUS_OK) model_free(&m);
    mem_free(buf);
    return rc;
}

// ---- the refusal cases

#define U(k, v)                                                                                    \
    { .op = OP_U32, .name = (k), .u = (v) }
#define I(k, v)                                                                                    \
    { .op = OP_I32, .name = (k), .u = (v) }
#define F(k, v)                                                                                    \
    { .op = OP_F32, .name = (k), .f = (v) }
#define DROPK(k)                                                                                   \
    { .op = OP_DROP_KEY, .name = (k) }
#define DROPT(t)                                                                                   \
    { .op = OP_DROP, .name = (t) }
#define ADD1(t, a)                                                                                 \
    {                                                                                              \
        .op = OP_ADD, .name = (t), .nd = 1, .ne = {(a) }                                           \
    }
#define ADD2(t, a, b)                                                                              \
    {                                                                                              \
        .op = OP_ADD, .name = (t), .nd = 2, .ne = {(a), (b) }                                      \
    }

struct strict_case {
    const char *what;
    enum base base;
    struct mod mods[MAX_MODS];
    int status;         // expected status
    const char *msg[3]; // substrings the message must contain
};

static const struct strict_case k_cases[] = {
    // ---- tensor set against block_count
    {"block_count 1 in a two-block file",
     B_LLAMA,
     {U("llama.block_count", 1)},
     JANUS_EFORMAT,
     {"blk.1.", "llama.block_count = 1", "expected block_count = 2"}},
    {"block_count 3 in a two-block file",
     B_LLAMA,
     {U("llama.block_count", 3)},
     JANUS_ENOTFOUND,
     {"missing tensor blk.2.attn_norm.weight", "llama.block_count = 3"}},
    {"deepseek2 block_count 2 in a three-block file",
     B_DS2,
     {U("deepseek2.block_count", 2)},
     JANUS_EFORMAT,
     {"blk.2.", "deepseek2.block_count = 2", "expected block_count = 3"}},
    {"a block's tensor missing",
     B_LLAMA,
     {DROPT("blk.1.ffn_up_exps.weight")},
     JANUS_ENOTFOUND,
     {"missing tensor blk.1.ffn_up_exps.weight", "MoE block"}},
    {"a whole block missing",
     B_QWEN3,
     {DROPT("blk.1.")},
     JANUS_ENOTFOUND,
     {"missing tensor blk.1.attn_norm.weight", "qwen3moe.block_count = 2"}},
    {"a tensor of a block beyond block_count",
     B_QWEN2,
     {ADD1("blk.2.attn_norm.weight", 64)},
     JANUS_EFORMAT,
     {"blk.2.attn_norm.weight", "qwen2moe.block_count = 2"}},
    {"an unknown tensor of a block beyond block_count",
     B_LLAMA,
     {ADD1("blk.7.nextn.eh_proj.weight", 64)},
     JANUS_EFORMAT,
     {"blk.7.nextn.eh_proj.weight", "llama.block_count = 2"}},
    // ---- tensors no converter writes for the architecture
    {"llama with q bias",
     B_LLAMA,
     {ADD1("blk.0.attn_q.bias", 64)},
     JANUS_EFORMAT,
     {"blk.0.attn_q.bias", "no such tensor for llama"}},
    {"qwen3moe with a shared expert",
     B_QWEN3,
     {ADD2("blk.1.ffn_gate_shexp.weight", 64, 64)},
     JANUS_EFORMAT,
     {"blk.1.ffn_gate_shexp.weight", "for qwen3moe"}},
    {"deepseek2 with a qwen2moe shared-expert gate",
     B_DS2,
     {ADD1("blk.1.ffn_gate_inp_shexp.weight", 64)},
     JANUS_EFORMAT,
     {"blk.1.ffn_gate_inp_shexp.weight", "for deepseek2"}},
    {"qwen2moe with MLA tensors",
     B_QWEN2,
     {ADD2("blk.0.attn_kv_b.weight", 32, 64)},
     JANUS_EFORMAT,
     {"blk.0.attn_kv_b.weight", "for qwen2moe"}},
    {"unknown block tensor",
     B_LLAMA,
     {ADD1("blk.0.foo.weight", 64)},
     JANUS_EFORMAT,
     {"blk.0.foo.weight", "not a tensor name llama.cpp writes for llama"}},
    {"unknown global tensor",
     B_QWEN2,
     {ADD1("extra.weight", 64)},
     JANUS_EFORMAT,
     {"extra.weight", "not a tensor name"}},
    {"block number with a leading zero",
     B_LLAMA,
     {ADD1("blk.01.attn_norm.weight", 64)},
     JANUS_EFORMAT,
     {"blk.01.attn_norm.weight", "not a tensor name"}},
    {"llama3 rope frequency factors",
     B_LLAMA,
     {ADD1("rope_freqs.weight", 8)},
     JANUS_EUNSUPPORTED,
     {"rope_freqs.weight", "not supported"}},
    {"old per-expert Mixtral tensors beside the stacked ones",
     B_LLAMA,
     {ADD2("blk.0.ffn_gate.0.weight", 64, 128)},
     JANUS_EFORMAT,
     {"blk.0.ffn_gate.0.weight", "not a tensor name"}},
    // ---- architecture tensors the keys say are unused
    {"deepseek2 expert_shared_count 0 with shared-expert tensors",
     B_DS2,
     {U("deepseek2.expert_shared_count", 0)},
     JANUS_EFORMAT,
     {"blk.1.ffn_", "_shexp.weight", "deepseek2.expert_shared_count = 0"}},
    {"deepseek2 expert_shared_count absent with shared-expert tensors",
     B_DS2,
     {DROPK("deepseek2.expert_shared_count")},
     JANUS_EFORMAT,
     {"_shexp.weight", "deepseek2.expert_shared_count = 0", "expected > 0"}},
    {"deepseek2 expert_shared_count 1 with width-2 shared tensors",
     B_DS2,
     {U("deepseek2.expert_shared_count", 1)},
     JANUS_EFORMAT,
     {"blk.1.ffn_gate_shexp.weight", "{64, 32}", "{64, 64}"}},
    {"deepseek2 leading_dense_block_count 0 while block 0 is dense",
     B_DS2,
     {U("deepseek2.leading_dense_block_count", 0)},
     JANUS_ENOTFOUND,
     {"missing tensor blk.0.ffn_gate_inp.weight", "block 0 is a MoE block"}},
    {"deepseek2 leading_dense_block_count 2 while block 1 is MoE",
     B_DS2,
     {U("deepseek2.leading_dense_block_count", 2)},
     JANUS_ENOTFOUND,
     {"missing tensor blk.1.ffn_gate.weight", "deepseek2.leading_dense_block_count = 2"}},
    {"router in a dense block",
     B_DS2,
     {ADD2("blk.0.ffn_gate_inp.weight", 64, 16)},
     JANUS_EFORMAT,
     {"blk.0.ffn_gate_inp.weight", "block 0 is dense", "leading_dense_block_count = 1"}},
    {"selection bias in a dense block",
     B_DS3,
     {ADD1("blk.0.exp_probs_b.bias", 16)},
     JANUS_EFORMAT,
     {"blk.0.exp_probs_b.bias", "block 0 is dense"}},
    {"dense FFN in a MoE block",
     B_DS2,
     {ADD2("blk.2.ffn_up.weight", 64, 192)},
     JANUS_EFORMAT,
     {"blk.2.ffn_up.weight", "MoE block", "deepseek2.expert_count = 16"}},
    {"dense FFN in a llama MoE block",
     B_LLAMA,
     {ADD2("blk.0.ffn_gate.weight", 64, 128)},
     JANUS_EFORMAT,
     {"blk.0.ffn_gate.weight", "MoE block (llama.expert_count = 8)"}},
    {"expert tensors in a dense llama",
     B_LLAMA,
     {DROPK("llama.expert_count"), DROPK("llama.expert_used_count"),
      ADD2("blk.0.ffn_gate.weight", 64, 128), ADD2("blk.0.ffn_up.weight", 64, 128),
      ADD2("blk.0.ffn_down.weight", 128, 64)},
     JANUS_ENOTFOUND,
     {"missing tensor blk.1.ffn_gate.weight", "llama.expert_count is absent or 0"}},
    {"deepseek2 plain attn_q beside q_lora",
     B_DS2,
     {ADD2("blk.0.attn_q.weight", 64, 96)},
     JANUS_EFORMAT,
     {"blk.0.attn_q.weight", "deepseek2.attention.q_lora_rank = 32"}},
    {"deepseek2 q_lora_rank absent with attn_q_a",
     B_DS2,
     {DROPK("deepseek2.attention.q_lora_rank")},
     JANUS_ENOTFOUND,
     {"missing tensor blk.0.attn_q.weight", "q_lora_rank is absent or 0"}},
    {"deepseek2 q_lora_rank absent, attn_q present, attn_q_a left over",
     B_DS2,
     {DROPK("deepseek2.attention.q_lora_rank"), ADD2("blk.0.attn_q.weight", 64, 96),
      ADD2("blk.1.attn_q.weight", 64, 96), ADD2("blk.2.attn_q.weight", 64, 96)},
     JANUS_EFORMAT,
     {"blk.0.attn_q_a", "deepseek2.attention.q_lora_rank is absent or 0"}},
    {"selection bias in only one of two MoE blocks",
     B_DS3,
     {DROPT("blk.2.exp_probs_b.bias")},
     JANUS_EFORMAT,
     {"missing tensor blk.2.exp_probs_b.bias", "blk.1.exp_probs_b.bias is present", "1 of 2"}},
    // ---- shapes and types against the keys
    {"q_lora_rank disagrees with attn_q_a",
     B_DS2,
     {U("deepseek2.attention.q_lora_rank", 16)},
     JANUS_EFORMAT,
     {"blk.0.attn_q_a.weight", "{64, 16}", "{64, 32}"}},
    {"kv_lora_rank disagrees with attn_kv_a_mqa",
     B_DS2,
     {U("deepseek2.attention.kv_lora_rank", 24)},
     JANUS_EFORMAT,
     {"blk.0.attn_kv_a_mqa.weight", "{64, 32}", "{64, 40}"}},
    {"expert width disagrees with the experts",
     B_QWEN2,
     {U("qwen2moe.expert_feed_forward_length", 32)},
     JANUS_EFORMAT,
     {"blk.0.ffn_gate_exps.weight", "{64, 32, 8}", "{64, 64, 8}"}},
    {"vocab_size disagrees with token_embd and the tokenizer",
     B_LLAMA,
     {U("llama.vocab_size", 280)},
     JANUS_EFORMAT,
     {"tokenizer.ggml.tokens", "300 tokens", "280"}},
    {"norm stored as f16",
     B_QWEN3,
     {{.op = OP_RETYPE16, .name = "blk.1.attn_k_norm.weight"}},
     JANUS_EUNSUPPORTED,
     {"blk.1.attn_k_norm.weight", "expected type f32", "f16"}},
    // ---- hyper-parameters that make no sense for the architecture
    {"llama rope.dimension_count 0",
     B_LLAMA,
     {U("llama.rope.dimension_count", 0)},
     JANUS_EFORMAT,
     {"llama.rope.dimension_count = 0", "expected the head width 16"}},
    {"llama partial rope",
     B_LLAMA,
     {U("llama.rope.dimension_count", 8)},
     JANUS_EFORMAT,
     {"llama.rope.dimension_count = 8", "expected the head width 16"}},
    {"qwen2moe rope dims above the head width",
     B_QWEN2,
     {U("qwen2moe.rope.dimension_count", 32)},
     JANUS_ELIMIT,
     {"qwen2moe.rope.dimension_count = 32", "[0, 16]"}},
    {"odd rope dims",
     B_QWEN3,
     {U("qwen3moe.rope.dimension_count", 15)},
     JANUS_EFORMAT,
     {"qwen3moe.rope.dimension_count = 15", "even"}},
    {"deepseek2 rope dims = key_length (no nope part)",
     B_DS2,
     {U("deepseek2.rope.dimension_count", 24)},
     JANUS_EFORMAT,
     {"deepseek2.rope.dimension_count = 24", "deepseek2.attention.key_length = 24"}},
    {"deepseek2 rope dims 0",
     B_DS2,
     {U("deepseek2.rope.dimension_count", 0)},
     JANUS_EFORMAT,
     {"deepseek2.rope.dimension_count = 0", "[2, "}},
    {"value_length differs from key_length",
     B_QWEN3,
     {U("qwen3moe.attention.value_length", 32)},
     JANUS_EFORMAT,
     {"qwen3moe.attention.value_length = 32", "qwen3moe.attention.key_length = 16"}},
    {"head_count_kv not dividing head_count",
     B_LLAMA,
     {U("llama.attention.head_count_kv", 3)},
     JANUS_EFORMAT,
     {"llama.attention.head_count_kv = 3", "divisor of llama.attention.head_count = 4"}},
    {"head_count_kv above head_count",
     B_QWEN2,
     {U("qwen2moe.attention.head_count_kv", 8)},
     JANUS_EFORMAT,
     {"qwen2moe.attention.head_count_kv = 8", "divisor"}},
    {"head_count_kv 0",
     B_LLAMA,
     {U("llama.attention.head_count_kv", 0)},
     JANUS_ELIMIT,
     {"llama.attention.head_count_kv = 0", "out of range"}},
    {"head_count not dividing embedding_length",
     B_LLAMA,
     {U("llama.attention.head_count", 3), U("llama.attention.head_count_kv", 3)},
     JANUS_EFORMAT,
     {"llama.embedding_length = 64", "llama.attention.head_count = 3"}},
    {"head_count 0",
     B_LLAMA,
     {U("llama.attention.head_count", 0)},
     JANUS_ELIMIT,
     {"llama.attention.head_count = 0"}},
    {"embedding_length 0",
     B_QWEN3,
     {U("qwen3moe.embedding_length", 0)},
     JANUS_ELIMIT,
     {"qwen3moe.embedding_length = 0"}},
    {"block_count 0",
     B_LLAMA,
     {U("llama.block_count", 0)},
     JANUS_ELIMIT,
     {"llama.block_count = 0"}},
    {"block_count missing",
     B_LLAMA,
     {DROPK("llama.block_count")},
     JANUS_EFORMAT,
     {"missing key llama.block_count"}},
    {"context_length 0",
     B_LLAMA,
     {U("llama.context_length", 0)},
     JANUS_ELIMIT,
     {"llama.context_length = 0"}},
    {"vocab_size 0", B_LLAMA, {U("llama.vocab_size", 0)}, JANUS_ELIMIT, {"llama.vocab_size = 0"}},
    {"rms epsilon 0",
     B_LLAMA,
     {F("llama.attention.layer_norm_rms_epsilon", 0.0f)},
     JANUS_EFORMAT,
     {"llama.attention.layer_norm_rms_epsilon = 0", "(0, 1)"}},
    {"rms epsilon negative",
     B_QWEN2,
     {F("qwen2moe.attention.layer_norm_rms_epsilon", -1e-5f)},
     JANUS_EFORMAT,
     {"qwen2moe.attention.layer_norm_rms_epsilon", "(0, 1)"}},
    {"rms epsilon 2",
     B_DS2,
     {F("deepseek2.attention.layer_norm_rms_epsilon", 2.0f)},
     JANUS_EFORMAT,
     {"deepseek2.attention.layer_norm_rms_epsilon = 2", "(0, 1)"}},
    {"rms epsilon missing",
     B_QWEN3,
     {DROPK("qwen3moe.attention.layer_norm_rms_epsilon")},
     JANUS_EFORMAT,
     {"missing key qwen3moe.attention.layer_norm_rms_epsilon"}},
    {"rope base 0",
     B_LLAMA,
     {F("llama.rope.freq_base", 0.0f)},
     JANUS_EFORMAT,
     {"llama.rope.freq_base = 0", "> 0"}},
    {"rope base infinite",
     B_LLAMA,
     {F("llama.rope.freq_base", INFINITY)},
     JANUS_EFORMAT,
     {"llama.rope.freq_base", "not finite"}},
    {"feed_forward_length 0 on llama",
     B_LLAMA,
     {U("llama.feed_forward_length", 0)},
     JANUS_EFORMAT,
     {"expert width is 0", "llama.expert_feed_forward_length"}},
    {"llama expert width other than feed_forward_length",
     B_LLAMA,
     {U("llama.expert_feed_forward_length", 64)},
     JANUS_EFORMAT,
     {"llama.expert_feed_forward_length = 64", "llama.feed_forward_length = 128"}},
    {"qwen3moe expert width derived as 0",
     B_QWEN3,
     {DROPK("qwen3moe.expert_feed_forward_length"), U("qwen3moe.feed_forward_length", 1)},
     JANUS_EFORMAT,
     {"expert width is 0", "qwen3moe.expert_feed_forward_length"}},
    {"qwen2moe shared width 0",
     B_QWEN2,
     {DROPK("qwen2moe.expert_shared_feed_forward_length"), U("qwen2moe.feed_forward_length", 0)},
     JANUS_EFORMAT,
     {"shared-expert width is 0", "qwen2moe.expert_shared_feed_forward_length"}},
    {"deepseek2 dense width 0 with leading dense blocks",
     B_DS2,
     {U("deepseek2.feed_forward_length", 0)},
     JANUS_EFORMAT,
     {"deepseek2.feed_forward_length = 0", "leading dense blocks"}},
    {"deepseek2 leading_dense_block_count = block_count",
     B_DS2,
     {U("deepseek2.leading_dense_block_count", 3)},
     JANUS_EFORMAT,
     {"deepseek2.leading_dense_block_count = 3", "< deepseek2.block_count = 3"}},
    {"deepseek2 leading_dense_block_count > block_count",
     B_DS2,
     {U("deepseek2.leading_dense_block_count", 4)},
     JANUS_ELIMIT,
     {"deepseek2.leading_dense_block_count = 4", "[0, 3]"}},
    {"deepseek2 kv_lora_rank missing",
     B_DS2,
     {DROPK("deepseek2.attention.kv_lora_rank")},
     JANUS_EFORMAT,
     {"missing key deepseek2.attention.kv_lora_rank"}},
    {"deepseek2 expert width missing",
     B_DS2,
     {DROPK("deepseek2.expert_feed_forward_length")},
     JANUS_EFORMAT,
     {"missing key deepseek2.expert_feed_forward_length"}},
    // ---- experts and routing
    {"expert_used_count above expert_count",
     B_QWEN3,
     {U("qwen3moe.expert_used_count", 9)},
     JANUS_EFORMAT,
     {"qwen3moe.expert_used_count = 9", "expert_count = 8"}},
    {"expert_used_count 0",
     B_LLAMA,
     {U("llama.expert_used_count", 0)},
     JANUS_EFORMAT,
     {"llama.expert_used_count = 0", "[1, expert_count = 8]"}},
    {"expert_used_count missing",
     B_QWEN2,
     {DROPK("qwen2moe.expert_used_count")},
     JANUS_EFORMAT,
     {"missing key qwen2moe.expert_used_count"}},
    {"expert_used_count in a dense model",
     B_LLAMA,
     {DROPK("llama.expert_count")},
     JANUS_EFORMAT,
     {"llama.expert_used_count = 2", "dense model", "expected 0"}},
    {"qwen2moe without experts",
     B_QWEN2,
     {U("qwen2moe.expert_count", 0)},
     JANUS_EFORMAT,
     {"qwen2moe.expert_count", "expected > 0"}},
    {"expert_count over the limit",
     B_QWEN3,
     {U("qwen3moe.expert_count", 100000)},
     JANUS_ELIMIT,
     {"qwen3moe.expert_count = 100000"}},
    {"expert_group_count 1 with expert_group_used_count 2",
     B_DS2,
     {U("deepseek2.expert_group_count", 1), U("deepseek2.expert_group_used_count", 2)},
     JANUS_EFORMAT,
     {"deepseek2.expert_group_used_count = 2", "deepseek2.expert_group_count = 1"}},
    {"expert_group_used_count without expert_group_count",
     B_DS3,
     {U("deepseek2.expert_group_used_count", 1)},
     JANUS_EFORMAT,
     {"deepseek2.expert_group_used_count = 1", "deepseek2.expert_group_count = 0"}},
    {"expert_group_count not dividing expert_count",
     B_DS2,
     {U("deepseek2.expert_group_count", 3), U("deepseek2.expert_group_used_count", 1)},
     JANUS_EFORMAT,
     {"deepseek2.expert_group_count = 3", "not a multiple"}},
    {"all groups kept",
     B_DS2,
     {U("deepseek2.expert_group_count", 4), U("deepseek2.expert_group_used_count", 4)},
     JANUS_EFORMAT,
     {"deepseek2.expert_group_used_count = 4", "(0, expert_group_count = 4)"}},
    {"no group kept",
     B_DS3,
     {U("deepseek2.expert_group_count", 4), U("deepseek2.expert_group_used_count", 0)},
     JANUS_EFORMAT,
     {"deepseek2.expert_group_used_count = 0", "(0, expert_group_count = 4)"}},
    {"one expert per group",
     B_DS2,
     {U("deepseek2.expert_group_count", 16), U("deepseek2.expert_group_used_count", 8)},
     JANUS_EFORMAT,
     {"deepseek2.expert_group_count = 16", "< expert_count = 16"}},
    {"top-k above the kept groups' experts",
     B_DS2,
     {U("deepseek2.expert_group_count", 8), U("deepseek2.expert_group_used_count", 1)},
     JANUS_EFORMAT,
     {"deepseek2.expert_used_count = 4", "exceeds the 2 experts"}},
    {"expert groups on qwen3moe",
     B_QWEN3,
     {U("qwen3moe.expert_group_count", 2), U("qwen3moe.expert_group_used_count", 1)},
     JANUS_EFORMAT,
     {"qwen3moe.expert_group_count", "not part of qwen3moe"}},
    {"expert_group_used_count on llama",
     B_LLAMA,
     {U("llama.expert_group_used_count", 1)},
     JANUS_EFORMAT,
     {"llama.expert_group_used_count", "not part of llama"}},
    {"expert_weights_scale 0",
     B_DS2,
     {F("deepseek2.expert_weights_scale", 0.0f)},
     JANUS_EFORMAT,
     {"deepseek2.expert_weights_scale = 0", "> 0"}},
    {"expert_weights_scale negative",
     B_DS3,
     {F("deepseek2.expert_weights_scale", -2.5f)},
     JANUS_EFORMAT,
     {"deepseek2.expert_weights_scale = -2.5", "> 0"}},
    {"gating func 3 (softmax_weight)",
     B_DS2,
     {U("deepseek2.expert_gating_func", 3)},
     JANUS_EUNSUPPORTED,
     {"deepseek2.expert_gating_func = 3", "2 sigmoid"}},
    {"gating func 9",
     B_DS3,
     {U("deepseek2.expert_gating_func", 9)},
     JANUS_EFORMAT,
     {"deepseek2.expert_gating_func = 9", "unknown gating function"}},
    {"gating func negative",
     B_DS3,
     {I("deepseek2.expert_gating_func", -1)},
     JANUS_EFORMAT,
     {"deepseek2.expert_gating_func", "out of range"}},
    // ---- per-block arrays
    {"head_count array shorter than block_count",
     B_LLAMA,
     {{.op = OP_ARR, .name = "llama.attention.head_count", .arr = {4}, .n = 1}},
     JANUS_EFORMAT,
     {"llama.attention.head_count", "array of 1 values", "llama.block_count = 2"}},
    {"head_count_kv array with different values",
     B_LLAMA,
     {{.op = OP_ARR, .name = "llama.attention.head_count_kv", .arr = {2, 4}, .n = 2}},
     JANUS_EUNSUPPORTED,
     {"llama.attention.head_count_kv", "block 1: 4"}},
    {"feed_forward_length array of floats",
     B_QWEN2,
     {{.op = OP_ARR_F32, .name = "qwen2moe.feed_forward_length", .arr = {128, 128}, .n = 2}},
     JANUS_EFORMAT,
     {"qwen2moe.feed_forward_length", "array of f32"}},
    {"head_count array with a zero",
     B_QWEN3,
     {{.op = OP_ARR, .name = "qwen3moe.attention.head_count", .arr = {0, 0}, .n = 2}},
     JANUS_ELIMIT,
     {"qwen3moe.attention.head_count = 0"}},
};

static int check_case(const struct strict_case *c) {
    char err[JANUS_ERR_LEN];
    const int rc = load_modified(c->base, c->mods, err, sizeof err, NULL);
    int ok = rc == c->status && err[0] && !strchr(err, '\n');
    for (int i = 0; i < 3 && c->msg[i]; i++)
        ok = ok && strstr(err, c->msg[i]) != NULL;
    fprintf(stderr, "  %-58s %s: %s\n", c->what, ok ? "refused" : "WRONG", err);
    if (!ok) fprintf(stderr, "    expected status %d, got %d\n", c->status, rc);
    return ok;
}

TEST(strict_refusals_name_their_cause) {
    int bad = 0;
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(k_cases); i++)
        bad += !check_case(&k_cases[i]);
    ASSERT_EQ(bad, 0);
}

// The rewriter itself: with no edit the copy loads, so each refusal above is the edit's.
TEST(strict_unmodified_copies_load) {
    const struct mod none[MAX_MODS] = {{OP_END}};
    for (int b = 0; b < B_COUNT; b++) {
        char err[JANUS_ERR_LEN];
        int rc = load_modified((enum base)b, none, err, sizeof err, NULL);
        if (rc) fprintf(stderr, "base %d: %s\n", b, err);
        ASSERT_OK(rc);
    }
}

// ---- what stays valid

TEST(strict_accepts_valid_neighbours) {
    char err[JANUS_ERR_LEN];
    struct model m;
    // uniform per-block arrays (llama.cpp get_key_or_arr), as i32
    const struct mod arrays[MAX_MODS] = {
        {.op = OP_ARR, .name = "llama.attention.head_count", .arr = {4, 4}, .n = 2},
        {.op = OP_ARR, .name = "llama.attention.head_count_kv", .arr = {2, 2}, .n = 2},
        {.op = OP_ARR, .name = "llama.feed_forward_length", .arr = {128, 128}, .n = 2}};
    int rc = load_modified(B_LLAMA, arrays, err, sizeof err, &m);
    if (rc) fprintf(stderr, "arrays: %s\n", err);
    ASSERT_OK(rc);
    ASSERT_EQ(m.hp.n_head, 4);
    ASSERT_EQ(m.hp.n_head_kv, 2);
    ASSERT_EQ(m.hp.n_ff_exp, 128);
    release(&m);
    // one expert group (or G = 1, Gu = 1) means no groups
    const struct mod one_group[MAX_MODS] = {U("deepseek2.expert_group_count", 1),
                                            U("deepseek2.expert_group_used_count", 1)};
    rc = load_modified(B_DS3, one_group, err, sizeof err, &m);
    if (rc) fprintf(stderr, "one group: %s\n", err);
    ASSERT_OK(rc);
    ASSERT_EQ(m.hp.n_group, 0);
    release(&m);
    const struct mod g1[MAX_MODS] = {U("deepseek2.expert_group_count", 1)};
    ASSERT_OK(load_modified(B_DS2, g1, err, sizeof err, NULL));
    // gating func 0 is softmax (older DeepSeek-V2 files)
    const struct mod gf0[MAX_MODS] = {U("deepseek2.expert_gating_func", 0)};
    rc = load_modified(B_DS2, gf0, err, sizeof err, &m);
    ASSERT_OK(rc);
    ASSERT_EQ(m.hp.gating, HPARAMS_GATING_SOFTMAX);
    release(&m);
    // tied output head
    const struct mod tied[MAX_MODS] = {DROPT("output.weight")};
    rc = load_modified(B_QWEN3, tied, err, sizeof err, &m);
    ASSERT_OK(rc);
    ASSERT_EQ(m.output_tied, 1);
    release(&m);
    // deepseek2 without shared experts: count 0 and no shexp tensors
    const struct mod no_shared2[MAX_MODS] = {
        U("deepseek2.expert_shared_count", 0), U("deepseek2.block_count", 2),
        DROPT("blk.1.ffn_gate_shexp"),         DROPT("blk.1.ffn_up_shexp"),
        DROPT("blk.1.ffn_down_shexp"),         DROPT("blk.2.")};
    rc = load_modified(B_DS2, no_shared2, err, sizeof err, &m);
    if (rc) fprintf(stderr, "no shared: %s\n", err);
    ASSERT_OK(rc);
    ASSERT_EQ(m.hp.n_ff_shexp, 0);
    ASSERT_EQ(m.hp.n_layer, 2);
    ASSERT(m.layers[1].gate_shexp.data == NULL);
    release(&m);
    // deepseek2 without q_lora: a plain attn_q {E, H·(nope+rope)} in every block
    const struct mod no_qlora[MAX_MODS] = {DROPK("deepseek2.attention.q_lora_rank"),
                                           DROPT("blk.0.attn_q_"),
                                           DROPT("blk.1.attn_q_"),
                                           DROPT("blk.2.attn_q_"),
                                           ADD2("blk.0.attn_q.weight", 64, 96),
                                           ADD2("blk.1.attn_q.weight", 64, 96)};
    // (MAX_MODS edits: block 2 gets its attn_q from a second pass below)
    size_t n, len1 = 0, len2 = 0;
    const uint8_t *in = base(B_DS2, &n);
    uint8_t *mid = rewrite(in, n, no_qlora, &len1);
    ASSERT(mid);
    const struct mod add_q2[MAX_MODS] = {ADD2("blk.2.attn_q.weight", 64, 96)};
    uint8_t *fin = rewrite(mid, len1, add_q2, &len2);
    mem_free(mid);
    ASSERT(fin);
    rc = model_load_memory(&m, fin, len2, err, sizeof err);
    if (rc) fprintf(stderr, "no q_lora: %s\n", err);
    ASSERT_OK(rc);
    ASSERT_EQ(m.hp.q_lora, 0);
    ASSERT(m.layers[2].wq.data != NULL && m.layers[2].wq_a.data == NULL);
    model_free(&m);
    mem_free(fin);
}

// head_count_kv = 1 (multi-query attention) and a dense llama load.
TEST(strict_accepts_mqa_and_dense_llama) {
    struct genmodel_params p;
    gen_params(B_LLAMA, &p);
    p.n_head_kv = 1;
    size_t n;
    uint8_t *buf = gen(&p, "mqa", &n);
    ASSERT(buf);
    struct model m;
    char err[JANUS_ERR_LEN];
    int rc = model_load_memory(&m, buf, n, err, sizeof err);
    if (rc) fprintf(stderr, "mqa: %s\n", err);
    ASSERT_OK(rc);
    ASSERT_EQ(m.hp.n_head_kv, 1);
    model_free(&m);
    // dense llama: no expert keys, ffn_gate/up/down {E, n_ff} in every block
    struct mod dense[MAX_MODS] = {DROPK("llama.expert_count"), DROPK("llama.expert_used_count"),
                                  DROPT("blk.0.ffn_gate_"), DROPT("blk.0.ffn_up_"),
                                  DROPT("blk.0.ffn_down_")};
    size_t l1, l2, l3;
    uint8_t *s1 = rewrite(buf, n, dense, &l1);
    ASSERT(s1);
    const struct mod s2m[MAX_MODS] = {DROPT("blk.1.ffn_gate_"), DROPT("blk.1.ffn_up_"),
                                      DROPT("blk.1.ffn_down_")};
    uint8_t *s2 = rewrite(s1, l1, s2m, &l2);
    ASSERT(s2);
    const struct mod s3m[MAX_MODS] = {
        ADD2("blk.0.ffn_gate.weight", 64, 128), ADD2("blk.0.ffn_up.weight", 64, 128),
        ADD2("blk.0.ffn_down.weight", 128, 64), ADD2("blk.1.ffn_gate.weight", 64, 128),
        ADD2("blk.1.ffn_up.weight", 64, 128),   ADD2("blk.1.ffn_down.weight", 128, 64)};
    uint8_t *s3 = rewrite(s2, l2, s3m, &l3);
    ASSERT(s3);
    rc = model_load_memory(&m, s3, l3, err, sizeof err);
    if (rc) fprintf(stderr, "dense llama: %s\n", err);
    ASSERT_OK(rc);
    ASSERT_EQ(m.hp.n_expert, 0);
    ASSERT_EQ(m.layers[1].is_moe, 0);
    ASSERT(m.layers[1].ffn_down.data != NULL);
    model_free(&m);
    // a dense llama with a leftover router is refused
    const struct mod router[MAX_MODS] = {ADD2("blk.1.ffn_gate_inp.weight", 64, 8)};
    size_t l4;
    uint8_t *s4 = rewrite(s3, l3, router, &l4);
    ASSERT(s4);
    rc = model_load_memory(&m, s4, l4, err, sizeof err);
    fprintf(stderr, "  dense llama + router: %s\n", err);
    ASSERT_EQ(rc, JANUS_EFORMAT);
    ASSERT(strstr(err, "blk.1.ffn_gate_inp.weight") && strstr(err, "dense model"));
    mem_free(s1);
    mem_free(s2);
    mem_free(s3);
    mem_free(s4);
    free(buf);
}

// Every fixture model loads, the 21 quantized fixtures (llama-quantize's Q4_0 … IQ4_XS files)
// included; a file with a type still refused names it with the computable list; vocab-only
// files stay vocabularies.
TEST(strict_fixtures) {
    static const char *const models[] = {
        "llama-moe-f32",     "llama-moe-f16",    "llama-moe-bf16",   "llama-moe-q8_0",
        "qwen2moe-f32",      "qwen3moe-f32",     "deepseek2-v2-f32", "deepseek2-v3-f32",
        "deepseek2-v2g-f32", "deepseek2-v3g-f32"};
    char path[1024], err[JANUS_ERR_LEN];
    struct model m;
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(models); i++) {
        snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), models[i]);
        int rc = model_load(&m, path, err, sizeof err);
        if (rc) fprintf(stderr, "%s: %s\n", models[i], err);
        ASSERT_OK(rc);
        model_free(&m);
    }
    snprintf(path, sizeof path, "%s/quant", test_fixtures_dir());
    DIR *d = opendir(path);
    ASSERT(d);
    int n_quant = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0) continue;
        snprintf(path, sizeof path, "%s/quant/%s", test_fixtures_dir(), e->d_name);
        int rc = model_load(&m, path, err, sizeof err);
        if (rc) fprintf(stderr, "%s: status %d: %s\n", e->d_name, rc, err);
        ASSERT_OK(rc);
        model_free(&m);
        n_quant++;
    }
    closedir(d);
    ASSERT_EQ(n_quant, 21);
    // A quantized fixture with one tensor's type rewritten to iq2_xxs (same block size and
    // fewer bytes than q4_K, so the reader accepts it): refused only for that type, by name.
    snprintf(path, sizeof path, "%s/quant/llama-moe-q4_k_m.gguf", test_fixtures_dir());
    size_t n = 0;
    uint8_t *buf = test_read_file(path, &n);
    ASSERT(buf);
    static const char name[] = "blk.1.ffn_up_exps.weight";
    uint8_t *at = memmem(buf, n, name, sizeof name - 1);
    ASSERT(at != NULL);
    uint32_t nd, ty;
    memcpy(&nd, at + sizeof name - 1, 4);
    ASSERT_EQ(nd, 3);
    memcpy(&ty, at + sizeof name - 1 + 4 + 8 * nd, 4);
    ASSERT_EQ(ty, GGML_TYPE_Q4_K);
    ty = GGML_TYPE_IQ2_XXS;
    memcpy(at + sizeof name - 1 + 4 + 8 * nd, &ty, 4);
    ASSERT_EQ(model_load_memory(&m, buf, n, err, sizeof err), JANUS_EUNSUPPORTED);
    fprintf(stderr, "  %s\n", err);
    ASSERT(strstr(err, "tensor blk.1.ffn_up_exps.weight: unsupported type iq2_xxs") != NULL);
    ASSERT(strstr(err, "computable: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, "
                       "q4_K, q5_K, q6_K, iq4_nl, iq4_xs") != NULL);
    free(buf);
    static const char *const vocabs[] = {"llama-spm", "gpt-2", "deepseek-coder", "deepseek-llm",
                                         "janus-spm"};
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(vocabs); i++) {
        snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-%s.gguf", test_fixtures_dir(),
                 vocabs[i]);
        struct gguf g;
        ASSERT_OK(gguf_open(&g, path, err, sizeof err));
        struct vocab v;
        int rc = vocab_load(&v, &g, err, sizeof err);
        if (rc) fprintf(stderr, "%s: %s\n", vocabs[i], err);
        ASSERT_OK(rc);
        vocab_free(&v);
        gguf_close(&g);
        // as a model it is refused with a one-line reason, not crashed on
        ASSERT(model_load(&m, path, err, sizeof err) < 0);
        ASSERT(err[0] && !strchr(err, '\n'));
    }
}

// Real hyper-parameters pass: the vocab-only llama.cpp files of LLaMA-2 7B (llama-spm) and
// DeepSeek-LLM 7B (deepseek-llm, arch llama) carry the models' keys (head_count 32,
// rope.dimension_count 128, rms eps 1e-5/1e-6, ...). With vocab_size added (they have no
// tensors to take it from) hparams_load accepts them.
TEST(strict_accepts_real_llama_metadata) {
    static const char *const vocabs[] = {"llama-spm", "deepseek-llm"};
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(vocabs); i++) {
        char path[1024], err[JANUS_ERR_LEN];
        snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-%s.gguf", test_fixtures_dir(),
                 vocabs[i]);
        size_t n, len;
        uint8_t *in = test_read_file(path, &n);
        ASSERT(in);
        struct gguf g;
        ASSERT_OK(gguf_open_memory(&g, in, n, err, sizeof err));
        enum gguf_type et;
        uint64_t n_tok = 0;
        ASSERT_OK(gguf_get_arr(&g, "tokenizer.ggml.tokens", &et, &n_tok, err, sizeof err));
        gguf_close(&g);
        const struct mod add_vocab[MAX_MODS] = {U("llama.vocab_size", (int64_t)n_tok)};
        uint8_t *buf = rewrite(in, n, add_vocab, &len);
        free(in);
        ASSERT(buf);
        ASSERT_OK(gguf_open_memory(&g, buf, len, err, sizeof err));
        struct hparams hp;
        int rc = hparams_load(&hp, &g, err, sizeof err);
        if (rc) fprintf(stderr, "%s: %s\n", vocabs[i], err);
        ASSERT_OK(rc);
        ASSERT_EQ(hp.n_head, 32);
        ASSERT_EQ(hp.n_rot, 128);
        ASSERT_EQ(hp.n_vocab, (int64_t)n_tok);
        gguf_close(&g);
        mem_free(buf);
    }
}

// The architecture table: every architecture allows the common tensors, and a name parses
// back to its kind and block.
TEST(strict_arch_table) {
    for (int a = 0; a < ARCH_COUNT; a++) {
        ASSERT(arch_tensor_allowed((enum arch_id)a, ARCH_T_TOKEN_EMBD));
        ASSERT(arch_tensor_allowed((enum arch_id)a, ARCH_T_ATTN_NORM));
        ASSERT(arch_tensor_allowed((enum arch_id)a, ARCH_T_FFN_GATE_EXPS));
    }
    ASSERT(!arch_tensor_allowed(ARCH_LLAMA, ARCH_T_ATTN_Q_BIAS));
    ASSERT(!arch_tensor_allowed(ARCH_QWEN3MOE, ARCH_T_FFN_GATE_SHEXP));
    ASSERT(arch_tensor_allowed(ARCH_DEEPSEEK2, ARCH_T_EXP_PROBS_B));
    for (int t = 0; t < ARCH_T_COUNT; t++) {
        char buf[96];
        for (int il = 0; il < 1000; il += 37) {
            arch_tensor_name(buf, sizeof buf, (enum arch_tensor)t, il);
            enum arch_tensor pt;
            int pl;
            ASSERT(arch_tensor_parse(buf, strlen(buf), &pt, &pl));
            ASSERT_EQ(pt, t);
            if (pl >= 0) ASSERT_EQ(pl, il);
        }
    }
    enum arch_tensor pt;
    int pl;
    ASSERT(!arch_tensor_parse("blk.-1.attn_norm.weight", 23, &pt, &pl));
    ASSERT(!arch_tensor_parse("blk.00.attn_norm.weight", 23, &pt, &pl));
    ASSERT(!arch_tensor_parse("blk.0.attn_norm.weightx", 23, &pt, &pl));
    ASSERT(!arch_tensor_parse("blk.99999999999.attn_norm.weight", 32, &pt, &pl));
    ASSERT(arch_tensor_parse("blk.0.attn_norm.weight", 22, &pt, &pl) && pl == 0);
    ASSERT_EQ(arch_tensor_block("blk.12.x", 8), 12);
    ASSERT_EQ(arch_tensor_block("blk.x.y", 7), -1);
}
