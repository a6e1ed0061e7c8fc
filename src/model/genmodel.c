// Random-weight GGUF model generation (genmodel.h): a tensor plan per architecture in the
// fixtures' order and shapes (fixtures README §3), keys in the fixtures' order, a built-in
// SentencePiece-style vocabulary (or one copied from a GGUF), and streamed, chunked weight
// generation: N(0,1) by Marsaglia's polar method from each tensor's own rng stream, scaled,
// converted to the storage type (types.h) and passed to the writer chunk by chunk.
// SPDX-License-Identifier: MIT
#include "model/genmodel.h"
#include "model/arch.h"
#include "model/gguf_keys.h"

#include "base/bytes.h"
#include "base/file.h"
#include "base/json_field.h"
#include "base/limits.h"
#include "base/mem.h"
#include "base/pool.h"
#include "base/rng.h"
#include "base/status.h"
#include "kernels/quant.h"
#include "kernels/types.h"
#include "model/gguf.h"
#include "model/weights.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- names and defaults

static const char *const k_arch_names[] = {"llama", "qwen2moe", "qwen3moe", "deepseek2", "olmoe"};

const char *genmodel_arch_name(enum genmodel_arch arch) {
    return (unsigned)arch < JANUS_ARRAY_SIZE(k_arch_names) ? k_arch_names[arch] : "unknown";
}

int genmodel_arch_parse(const char *s, enum genmodel_arch *out) {
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(k_arch_names); i++) {
        if (s && !strcmp(s, k_arch_names[i])) {
            *out = (enum genmodel_arch)i;
            return 0;
        }
    }
    return -1;
}

// --type names, their ggml type and mix, and the llama_ftype written as general.file_type
// (uniform K-quants as the nearest llama ftype, *_S).
static const struct {
    const char *name;
    uint32_t type;
    enum genmodel_mix mix;
    uint32_t ftype;
} k_types[] = {
    {"f32", GGML_TYPE_F32, GENMODEL_MIX_UNIFORM, 0},
    {"f16", GGML_TYPE_F16, GENMODEL_MIX_UNIFORM, 1},
    {"bf16", GGML_TYPE_BF16, GENMODEL_MIX_UNIFORM, 32},
    {"q8_0", GGML_TYPE_Q8_0, GENMODEL_MIX_UNIFORM, 7},
    {"q4_0", GGML_TYPE_Q4_0, GENMODEL_MIX_UNIFORM, 2},
    {"q4_1", GGML_TYPE_Q4_1, GENMODEL_MIX_UNIFORM, 3},
    {"q5_0", GGML_TYPE_Q5_0, GENMODEL_MIX_UNIFORM, 8},
    {"q5_1", GGML_TYPE_Q5_1, GENMODEL_MIX_UNIFORM, 9},
    {"q2_k", GGML_TYPE_Q2_K, GENMODEL_MIX_UNIFORM, 10},
    {"q3_k", GGML_TYPE_Q3_K, GENMODEL_MIX_UNIFORM, 11},
    {"q4_k", GGML_TYPE_Q4_K, GENMODEL_MIX_UNIFORM, 14},
    {"q5_k", GGML_TYPE_Q5_K, GENMODEL_MIX_UNIFORM, 16},
    {"q6_k", GGML_TYPE_Q6_K, GENMODEL_MIX_UNIFORM, 18},
    {"iq4_nl", GGML_TYPE_IQ4_NL, GENMODEL_MIX_UNIFORM, 25},
    {"iq4_xs", GGML_TYPE_IQ4_XS, GENMODEL_MIX_UNIFORM, 30},
    {"q3_k_m", GGML_TYPE_Q3_K, GENMODEL_MIX_Q3_K_M, 12},
    {"q4_k_m", GGML_TYPE_Q4_K, GENMODEL_MIX_Q4_K_M, 15},
    {"q5_k_m", GGML_TYPE_Q5_K, GENMODEL_MIX_Q5_K_M, 17},
};

static int type_index(uint32_t type, enum genmodel_mix mix) {
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(k_types); i++)
        if (k_types[i].type == type && k_types[i].mix == mix) return (int)i;
    return -1;
}

int genmodel_type_parse(const char *s, uint32_t *type, enum genmodel_mix *mix) {
    for (size_t i = 0; s && i < JANUS_ARRAY_SIZE(k_types); i++)
        if (!strcmp(s, k_types[i].name)) {
            *type = k_types[i].type;
            *mix = k_types[i].mix;
            return 0;
        }
    return -1;
}

const char *genmodel_type_name(uint32_t type, enum genmodel_mix mix) {
    const int i = type_index(type, mix);
    return i < 0 ? NULL : k_types[i].name;
}

void genmodel_default_params(struct genmodel_params *p, enum genmodel_arch arch) {
    memset(p, 0, sizeof *p);
    p->arch = arch;
    p->type = GGML_TYPE_F32;
    p->seed = 1234;
    p->n_embd = 64;
    p->n_layer = 2;
    p->n_head = 4;
    p->n_head_kv = 2;
    p->head_dim = arch == GENMODEL_ARCH_QWEN3MOE ? 16 : 0; // 0: n_embd/n_head
    p->n_expert = 8;
    p->n_expert_used = 2;
    p->gating = GENMODEL_GATING_SOFTMAX;
    p->weights_scale = 1.0f;
    p->context = 2048;
    p->rope_base = 10000.0f;
    p->rms_eps = 1e-5f;
    switch (arch) {
    case GENMODEL_ARCH_LLAMA: p->n_ff_exp = 128; break;
    case GENMODEL_ARCH_QWEN2MOE:
        p->n_expert_used = 4;
        p->n_ff_exp = 64;
        p->n_ff = 128;
        p->n_expert_shared = 1;
        break;
    case GENMODEL_ARCH_QWEN3MOE:
        p->n_ff_exp = 64;
        p->n_ff = 128;
        p->rope_base = 1000000.0f;
        p->rms_eps = 1e-6f;
        break;
    case GENMODEL_ARCH_DEEPSEEK2:
        p->n_layer = 3;
        p->n_head_kv = 4;
        p->head_dim = 0;
        p->n_expert = 16;
        p->n_expert_used = 4;
        p->n_ff_exp = 32;
        p->n_ff = 192;
        p->n_expert_shared = 2;
        p->n_dense_lead = 1;
        p->q_lora = 32;
        p->kv_lora = 32;
        p->qk_nope = 16;
        p->qk_rope = 8;
        p->v_head = 16;
        p->weights_scale = 2.0f;
        p->norm_topk = 0;
        p->yarn_log_mul = 0.1f;
        break;
    case GENMODEL_ARCH_OLMOE:
        p->n_head_kv = 4; // llama.cpp's olmoe sizes attn_k_norm by n_embd: no GQA
        p->n_ff_exp = 64;
        break;
    }
}

void genmodel_params_v3(struct genmodel_params *p) {
    if (p->arch != GENMODEL_ARCH_DEEPSEEK2) return;
    p->gating = GENMODEL_GATING_SIGMOID;
    p->norm_topk = 1;
    p->weights_scale = 2.5f;
    p->n_expert_shared = 1;
}

uint32_t genmodel_crc32(const char *s) {
    uint32_t c = 0xffffffffu;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        c ^= *q;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

// ---- validation

// llama/qwen2moe: head_dim 0 means n_embd/n_head (the only value those archs allow).
static int64_t head_dim(const struct genmodel_params *p) {
    if (p->head_dim == 0 && p->n_head > 0) return p->n_embd / p->n_head;
    return p->head_dim;
}

#define GEN_MAX_DIM (1 << 20) // any single dimension (n_embd, widths, ranks)

// olmoe, deepseek2 --mla-split and the RoPE scaling keys (issue 12 item 6).
static int check_issue12(const struct genmodel_params *p, char *err, size_t err_len) {
    const int ds = p->arch == GENMODEL_ARCH_DEEPSEEK2;
    if (p->arch == GENMODEL_ARCH_OLMOE && p->n_head_kv != p->n_head)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--n-head-kv %lld must equal --n-head %lld for olmoe (llama.cpp "
                           "sizes attn_k_norm by n_embd)",
                           (long long)p->n_head_kv, (long long)p->n_head);
    if (p->mla_split != 0 && (!ds || p->mla_split != 1))
        return status_errf(err, err_len, JANUS_EINVAL, "--mla-split applies to deepseek2 only");
    if (!ds && p->yarn_log_mul != 0.0f)
        return status_errf(err, err_len, JANUS_EINVAL, "--yarn-log-mul applies to deepseek2 only");
    if (!(p->yarn_log_mul >= 0.0f) || !isfinite(p->yarn_log_mul))
        return status_errf(err, err_len, JANUS_EINVAL, "--yarn-log-mul must be >= 0");
    if ((unsigned)p->rope_scaling > GENMODEL_ROPE_YARN)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--rope-scaling must be none, linear or yarn");
    if (p->rope_scaling == GENMODEL_ROPE_NONE) {
        if (p->rope_factor != 0.0f || p->rope_orig_ctx || p->yarn_beta_fast != 0.0f ||
            p->yarn_beta_slow != 0.0f)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--rope-factor/--rope-orig-ctx/--yarn-beta-* need --rope-scaling");
        return JANUS_OK;
    }
    if (!(p->rope_factor > 0.0f) || !isfinite(p->rope_factor))
        return status_errf(err, err_len, JANUS_EINVAL, "--rope-scaling needs --rope-factor > 0");
    if (p->rope_scaling == GENMODEL_ROPE_LINEAR &&
        (p->rope_orig_ctx || p->yarn_beta_fast != 0.0f || p->yarn_beta_slow != 0.0f))
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--rope-orig-ctx/--yarn-beta-* apply to --rope-scaling yarn only");
    if (p->rope_orig_ctx < 0 || p->rope_orig_ctx > LIMIT_MAX_CONTEXT)
        return status_errf(err, err_len, JANUS_EINVAL, "--rope-orig-ctx out of range");
    if (p->yarn_beta_fast < 0.0f || p->yarn_beta_slow < 0.0f || !isfinite(p->yarn_beta_fast) ||
        !isfinite(p->yarn_beta_slow))
        return status_errf(err, err_len, JANUS_EINVAL, "--yarn-beta-fast/slow must be > 0");
    return JANUS_OK;
}

int genmodel_check(const struct genmodel_params *p, char *err, size_t err_len) {
    if (p->vocab_path && p->tokenizer_json)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--vocab and --tokenizer-json are alternatives: give one");
    const int ds = p->arch == GENMODEL_ARCH_DEEPSEEK2;
#define RANGE(field, flag, lo, hi)                                                                 \
    do {                                                                                           \
        if (p->field < (lo) || p->field > (hi))                                                    \
            return status_errf(err, err_len, JANUS_EINVAL, "%s %lld out of range [%lld, %lld]",    \
                               flag, (long long)p->field, (long long)(lo), (long long)(hi));       \
    } while (0)
    if ((unsigned)p->arch >= JANUS_ARRAY_SIZE(k_arch_names))
        return status_errf(err, err_len, JANUS_EINVAL, "unknown architecture %d", (int)p->arch);
    if (type_index(p->type, p->mix) < 0)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--type %s (mix %d) not supported (" GENMODEL_TYPE_NAMES ")",
                           ggml_type_name(p->type), (int)p->mix);
    RANGE(n_embd, "--n-embd", 1, GEN_MAX_DIM);
    RANGE(n_layer, "--n-layer", 1, LIMIT_MAX_LAYERS);
    RANGE(n_head, "--n-head", 1, 4096);
    RANGE(n_head_kv, "--n-head-kv", 1, p->n_head);
    RANGE(n_expert, "--n-expert", 1, LIMIT_MAX_EXPERTS);
    RANGE(n_expert_used, "--n-expert-used", 1, JANUS_MIN(p->n_expert, LIMIT_MAX_EXPERT_USED));
    RANGE(n_ff_exp, "--n-ff-exp", 1, GEN_MAX_DIM);
    RANGE(context, "--context", 1, LIMIT_MAX_CONTEXT);
    if (p->n_vocab != 0) RANGE(n_vocab, "--n-vocab", 259, LIMIT_MAX_VOCAB);
    RANGE(n_threads, "--threads", 0, POOL_MAX_THREADS);
    if (!(p->rope_base > 0.0f) || !isfinite(p->rope_base))
        return status_errf(err, err_len, JANUS_EINVAL, "--rope-base must be a positive number");
    if (!(p->rms_eps > 0.0f) || !isfinite(p->rms_eps))
        return status_errf(err, err_len, JANUS_EINVAL, "--rms-eps must be a positive number");
    if (p->n_head % p->n_head_kv != 0)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--n-head %lld is not a multiple of --n-head-kv %lld",
                           (long long)p->n_head, (long long)p->n_head_kv);
    if (!ds) {
        if (p->arch == GENMODEL_ARCH_QWEN3MOE) {
            RANGE(head_dim, "--head-dim", 2, GEN_MAX_DIM);
        } else {
            if (p->n_embd % p->n_head != 0)
                return status_errf(err, err_len, JANUS_EINVAL,
                                   "--n-embd %lld is not a multiple of --n-head %lld",
                                   (long long)p->n_embd, (long long)p->n_head);
            if (p->head_dim != 0 && p->head_dim != p->n_embd / p->n_head)
                return status_errf(
                    err, err_len, JANUS_EINVAL,
                    "--head-dim %lld must equal n_embd/n_head = %lld for %s (only qwen3moe "
                    "has a free head_dim)",
                    (long long)p->head_dim, (long long)(p->n_embd / p->n_head),
                    genmodel_arch_name(p->arch));
        }
        if (head_dim(p) % 2 != 0)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "head_dim %lld must be even (RoPE pairs)", (long long)head_dim(p));
        if (p->n_head * head_dim(p) > GEN_MAX_DIM)
            return status_errf(err, err_len, JANUS_EINVAL, "n_head * head_dim too large");
    }
    if ((p->arch == GENMODEL_ARCH_LLAMA || p->arch == GENMODEL_ARCH_OLMOE) && p->n_ff != 0)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--n-ff: %s has no dense or shared FFN (use --n-ff-exp)",
                           genmodel_arch_name(p->arch));
    if (p->arch == GENMODEL_ARCH_QWEN2MOE || p->arch == GENMODEL_ARCH_QWEN3MOE)
        RANGE(n_ff, "--n-ff", 1, GEN_MAX_DIM);
    if (p->arch == GENMODEL_ARCH_QWEN2MOE && p->n_expert_shared != 1)
        return status_errf(
            err, err_len, JANUS_EINVAL,
            "--n-expert-shared %lld: qwen2moe has exactly one shared expert (width --n-ff)",
            (long long)p->n_expert_shared);
    if ((p->arch == GENMODEL_ARCH_LLAMA || p->arch == GENMODEL_ARCH_QWEN3MOE ||
         p->arch == GENMODEL_ARCH_OLMOE) &&
        p->n_expert_shared != 0)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "--n-expert-shared: %s has no shared experts",
                           genmodel_arch_name(p->arch));
    if (!ds) {
        if (p->n_dense_lead || p->q_lora || p->kv_lora || p->qk_nope || p->qk_rope || p->v_head)
            return status_errf(
                err, err_len, JANUS_EINVAL,
                "--n-dense-lead/--q-lora/--kv-lora/--qk-nope/--qk-rope/--v-head apply "
                "to deepseek2 only");
        if (p->gating != GENMODEL_GATING_SOFTMAX)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--gating applies to deepseek2 only (%s uses "
                               "softmax)",
                               genmodel_arch_name(p->arch));
        if (p->n_group || p->n_group_used)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--expert-groups applies to deepseek2 only");
        if (p->weights_scale != 1.0f || p->norm_topk)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--weights-scale/--norm-topk apply to deepseek2 only");
    } else {
        if (p->n_head_kv != p->n_head)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--n-head-kv %lld must equal --n-head %lld for deepseek2 (MLA)",
                               (long long)p->n_head_kv, (long long)p->n_head);
        if (p->head_dim != 0)
            return status_errf(
                err, err_len, JANUS_EINVAL,
                "--head-dim does not apply to deepseek2 (use --qk-nope/--qk-rope/--v-head)");
        RANGE(q_lora, "--q-lora", 0, GEN_MAX_DIM); // 0: no q compression (attn_q)
        RANGE(kv_lora, "--kv-lora", 1, GEN_MAX_DIM);
        RANGE(qk_nope, "--qk-nope", 1, GEN_MAX_DIM);
        RANGE(qk_rope, "--qk-rope", 2, GEN_MAX_DIM);
        RANGE(v_head, "--v-head", 1, GEN_MAX_DIM);
        if (p->qk_rope % 2 != 0)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--qk-rope %lld must be even (RoPE pairs)", (long long)p->qk_rope);
        RANGE(n_dense_lead, "--n-dense-lead", 0, p->n_layer - 1);
        if (p->n_dense_lead > 0) RANGE(n_ff, "--n-ff", 1, GEN_MAX_DIM);
        RANGE(n_expert_shared, "--n-expert-shared", 0, 64);
        if (p->gating != GENMODEL_GATING_SOFTMAX && p->gating != GENMODEL_GATING_SIGMOID)
            return status_errf(err, err_len, JANUS_EINVAL, "--gating must be softmax or sigmoid");
        if (!(p->weights_scale > 0.0f) || !isfinite(p->weights_scale))
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--weights-scale must be a positive number");
        if (p->norm_topk != 0 && p->norm_topk != 1)
            return status_errf(err, err_len, JANUS_EINVAL, "--norm-topk must be 0 or 1");
        if (p->n_group_used && !p->n_group)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "--expert-groups-used needs --expert-groups");
        if (p->n_group) {
            if (p->n_group < 2 || p->n_group >= p->n_expert || p->n_expert % p->n_group != 0)
                return status_errf(
                    err, err_len, JANUS_EINVAL,
                    "--expert-groups %lld must divide --n-expert %lld and lie in [2, "
                    "n_expert)",
                    (long long)p->n_group, (long long)p->n_expert);
            if (p->n_group_used < 1 || p->n_group_used >= p->n_group)
                return status_errf(err, err_len, JANUS_EINVAL,
                                   "--expert-groups-used %lld must lie in [1, %lld)",
                                   (long long)p->n_group_used, (long long)p->n_group);
            if (p->n_expert_used > p->n_group_used * (p->n_expert / p->n_group))
                return status_errf(
                    err, err_len, JANUS_EINVAL,
                    "--n-expert-used %lld exceeds the %lld experts of the kept groups",
                    (long long)p->n_expert_used,
                    (long long)(p->n_group_used * (p->n_expert / p->n_group)));
        }
    }
#undef RANGE
    return check_issue12(p, err, err_len);
}

// ---- built-in vocabulary

// Common English words; every "▁" + prefix of each becomes a piece (so the SentencePiece
// BPE merge path to the whole word exists), plus single characters and byte fallback.
static const char *const k_words[] = {
    "the",    "and",     "of",       "to",        "a",       "in",      "is",        "it",
    "you",    "that",    "he",       "was",       "for",     "on",      "are",       "as",
    "with",   "his",     "they",     "I",         "at",      "be",      "this",      "have",
    "from",   "or",      "one",      "had",       "by",      "word",    "but",       "not",
    "what",   "all",     "were",     "we",        "when",    "your",    "can",       "said",
    "there",  "use",     "an",       "each",      "which",   "she",     "do",        "how",
    "their",  "if",      "will",     "up",        "other",   "about",   "out",       "many",
    "then",   "them",    "these",    "so",        "some",    "her",     "would",     "make",
    "like",   "him",     "into",     "time",      "has",     "look",    "two",       "more",
    "write",  "go",      "see",      "number",    "no",      "way",     "could",     "people",
    "my",     "than",    "first",    "water",     "been",    "call",    "who",       "oil",
    "its",    "now",     "find",     "long",      "down",    "day",     "did",       "get",
    "come",   "made",    "may",      "part",      "over",    "new",     "sound",     "take",
    "only",   "little",  "work",     "know",      "place",   "year",    "live",      "me",
    "back",   "give",    "most",     "very",      "after",   "thing",   "our",       "just",
    "name",   "good",    "sentence", "man",       "think",   "say",     "great",     "where",
    "help",   "through", "much",     "before",    "line",    "right",   "too",       "mean",
    "old",    "any",     "same",     "tell",      "boy",     "follow",  "came",      "want",
    "show",   "also",    "around",   "form",      "three",   "small",   "set",       "put",
    "end",    "does",    "another",  "well",      "large",   "must",    "big",       "even",
    "such",   "because", "turn",     "here",      "why",     "ask",     "went",      "men",
    "read",   "need",    "land",     "different", "home",    "us",      "move",      "try",
    "kind",   "hand",    "picture",  "again",     "change",  "off",     "play",      "spell",
    "air",    "away",    "animal",   "house",     "point",   "page",    "letter",    "mother",
    "answer", "found",   "study",    "still",     "learn",   "should",  "America",   "world",
    "The",    "In",      "It",       "This",      "We",      "model",   "server",    "expert",
    "token",  "layer",   "request",  "quick",     "brown",   "fox",     "jumps",     "lazy",
    "dog",    "data",    "system",   "memory",    "network", "compute", "attention", "batch",
    "scale",  "test",
};

struct vocab {
    char **tok;    // (n) owned strings
    float *score;  // (n)
    int32_t *type; // (n)
    int64_t n;
    int64_t bos, eos, unk; // special ids
    int add_bos, add_eos;
    char *chat_template; // tokenizer.chat_template (owned), NULL: none
};

static void vocab_free(struct vocab *v) {
    for (int64_t i = 0; i < v->n; i++)
        mem_free(v->tok[i]);
    mem_free(v->tok);
    mem_free(v->score);
    mem_free(v->type);
    mem_free(v->chat_template);
    memset(v, 0, sizeof *v);
}

static int cmp_piece(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);
    if (lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x, y);
}

#define SPM_SPACE "\xe2\x96\x81" // U+2581 "▁"

static int vocab_push(struct vocab *v, int64_t cap, const char *s, float score, int32_t type) {
    if (v->n >= cap) return JANUS_OK; // truncated to the requested size
    char *d = mem_strdup(MEM_TAG_MODEL, s);
    if (!d) return JANUS_ENOMEM;
    v->tok[v->n] = d;
    v->score[v->n] = score;
    v->type[v->n] = type;
    v->n++;
    return JANUS_OK;
}

// Builds the built-in vocabulary with n_want tokens (0: its natural size).
static int vocab_builtin(struct vocab *v, int64_t n_want) {
    memset(v, 0, sizeof *v);
    v->bos = 1;
    v->eos = 2;
    v->unk = 0;
    v->add_bos = 1;
    // pieces: "▁" + every prefix of every word, sorted by length then bytes, deduplicated
    size_t n_pieces_max = 0;
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(k_words); i++)
        n_pieces_max += strlen(k_words[i]);
    char **pieces = mem_calloc(MEM_TAG_MODEL, n_pieces_max, sizeof *pieces);
    if (!pieces) return JANUS_ENOMEM;
    size_t np = 0;
    int rc = JANUS_OK;
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(k_words) && !rc; i++) {
        size_t len = strlen(k_words[i]);
        for (size_t k = 1; k <= len; k++) {
            char buf[64];
            snprintf(buf, sizeof buf, SPM_SPACE "%.*s", (int)k, k_words[i]);
            pieces[np] = mem_strdup(MEM_TAG_MODEL, buf);
            if (!pieces[np]) {
                rc = JANUS_ENOMEM;
                break;
            }
            np++;
        }
    }
    if (!rc) qsort(pieces, np, sizeof *pieces, cmp_piece);
    size_t nu = 0;
    for (size_t i = 0; i < np; i++) {
        if (nu > 0 && !strcmp(pieces[nu - 1], pieces[i])) {
            mem_free(pieces[i]);
            continue;
        }
        pieces[nu++] = pieces[i];
    }
    np = nu;
    int64_t natural = 3 + 256 + (int64_t)np + 1 + 94;
    int64_t cap = n_want ? n_want : natural;
    v->tok = mem_calloc(MEM_TAG_MODEL, (size_t)cap, sizeof *v->tok);
    v->score = mem_calloc(MEM_TAG_MODEL, (size_t)cap, sizeof *v->score);
    v->type = mem_calloc(MEM_TAG_MODEL, (size_t)cap, sizeof *v->type);
    if (!v->tok || !v->score || !v->type) rc = JANUS_ENOMEM;
    // ids 0..2 specials, 3..258 byte tokens (llama.cpp token types: 1 normal, 2 unknown,
    // 3 control, 5 unused, 6 byte)
    if (!rc) rc = vocab_push(v, cap, "<unk>", 0.0f, 2);
    if (!rc) rc = vocab_push(v, cap, "<s>", 0.0f, 3);
    if (!rc) rc = vocab_push(v, cap, "</s>", 0.0f, 3);
    for (int b = 0; b < 256 && !rc; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        rc = vocab_push(v, cap, buf, 0.0f, 6);
    }
    // merged pieces in merge order (score −rank), then single characters
    float score = 0.0f;
    for (size_t i = 0; i < np && !rc; i++, score -= 1.0f)
        rc = vocab_push(v, cap, pieces[i], score, 1);
    if (!rc) rc = vocab_push(v, cap, SPM_SPACE, score, 1);
    score -= 1.0f;
    for (int c = 33; c < 127 && !rc; c++, score -= 1.0f) {
        char buf[2] = {(char)c, 0};
        rc = vocab_push(v, cap, buf, score, 1);
    }
    for (int64_t i = v->n; i < cap && !rc; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "<unused_%lld>", (long long)(i - natural));
        rc = vocab_push(v, cap, buf, -1e6f, 5);
    }
    for (size_t i = 0; i < np; i++)
        mem_free(pieces[i]);
    mem_free(pieces);
    if (rc) vocab_free(v);
    return rc;
}

// The tokenizer of an exported model (--tokenizer-json; scripts/train/export.py writes it):
// {"model": "llama", "tokens": [..], "scores": [..], "token_types": [..], "bos": 1, "eos": 2,
//  "unk": 0, "add_bos": true, "add_eos": false, "chat_template": "..." (optional)}.
static int vocab_from_json(struct vocab *v, const char *path, char *err, size_t err_len) {
    memset(v, 0, sizeof *v);
    char *text = NULL, e[JANUS_ERR_LEN];
    size_t len = 0;
    int rc = file_read_all(path, (size_t)1 << 30, &text, &len, e, sizeof e);
    if (rc) return status_errf(err, err_len, rc, "--tokenizer-json: %s", e);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    mem_free(text);
    if (!doc || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: not a JSON object", path);
    }
    const cJSON *toks = NULL, *scores = NULL, *types = NULL;
    const char *model = NULL, *tmpl = NULL;
    int64_t ids[3] = {1, 2, 0};
    static const char *const id_keys[3] = {"bos", "eos", "unk"};
    v->add_bos = 1;
    rc = json_field_strref(doc, "model", 64, &model, e, sizeof e);
    if (!rc && strcmp(model, "llama") != 0)
        rc = status_errf(e, sizeof e, JANUS_EINVAL, "'model' must be \"llama\" (SentencePiece)");
    if (!rc) rc = json_field_array(doc, "tokens", &toks, e, sizeof e);
    if (!rc) rc = json_field_array(doc, "scores", &scores, e, sizeof e);
    if (!rc) rc = json_field_array(doc, "token_types", &types, e, sizeof e);
    const int n = rc ? 0 : cJSON_GetArraySize(toks);
    if (!rc && (n < 3 || n > LIMIT_MAX_VOCAB || cJSON_GetArraySize(scores) != n ||
                cJSON_GetArraySize(types) != n))
        rc = status_errf(e, sizeof e, JANUS_EINVAL,
                         "'tokens' (%d), 'scores' and 'token_types' must have one entry per "
                         "token (3 to %d)",
                         n, LIMIT_MAX_VOCAB);
    for (int k = 0; k < 3 && !rc; k++) {
        int r = json_field_i64(doc, id_keys[k], 0, n - 1, &ids[k], e, sizeof e);
        if (r != JANUS_ENOTFOUND) rc = r;
    }
    if (!rc) {
        int r = json_field_bool(doc, "add_bos", &v->add_bos, e, sizeof e);
        if (r != JANUS_ENOTFOUND) rc = r;
    }
    if (!rc) {
        int r = json_field_bool(doc, "add_eos", &v->add_eos, e, sizeof e);
        if (r != JANUS_ENOTFOUND) rc = r;
    }
    if (!rc) {
        int r = json_field_strref(doc, "chat_template", 1 << 20, &tmpl, e, sizeof e);
        if (r != JANUS_ENOTFOUND) rc = r;
    }
    if (!rc) {
        v->tok = mem_calloc(MEM_TAG_MODEL, (size_t)n, sizeof *v->tok);
        v->score = mem_calloc(MEM_TAG_MODEL, (size_t)n, sizeof *v->score);
        v->type = mem_calloc(MEM_TAG_MODEL, (size_t)n, sizeof *v->type);
        v->chat_template = tmpl ? mem_strdup(MEM_TAG_MODEL, tmpl) : NULL;
        if (!v->tok || !v->score || !v->type || (tmpl && !v->chat_template))
            rc = status_errf(e, sizeof e, JANUS_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n && !rc; i++) {
        const cJSON *t = cJSON_GetArrayItem(toks, i), *sc = cJSON_GetArrayItem(scores, i);
        int64_t ty = 0;
        if (!cJSON_IsString(t) || !t->valuestring[0] || strlen(t->valuestring) > 65536 ||
            !cJSON_IsNumber(sc) || !isfinite(sc->valuedouble) ||
            !json_field_int(cJSON_GetArrayItem(types, i), 1, 6, &ty)) {
            rc = status_errf(e, sizeof e, JANUS_EINVAL,
                             "token %d: needs a non-empty string, a finite score and a type "
                             "in 1..6",
                             i);
            break;
        }
        if (!(v->tok[i] = mem_strdup(MEM_TAG_MODEL, t->valuestring))) {
            rc = status_errf(e, sizeof e, JANUS_ENOMEM, "out of memory");
            break;
        }
        v->n = i + 1;
        v->score[i] = (float)sc->valuedouble;
        v->type[i] = (int32_t)ty;
    }
    v->bos = ids[0];
    v->eos = ids[1];
    v->unk = ids[2];
    cJSON_Delete(doc);
    if (rc) {
        vocab_free(v);
        return status_errf(err, err_len, rc, "%s: %s", path, e);
    }
    return JANUS_OK;
}

// ---- tensor plan

struct tplan {
    char name[96];
    uint32_t n_dims;
    int64_t ne[3];
    uint32_t type;
    int qz;       // 1: a weight matrix stored in the model type (assign_types picks it)
    float offset; // value = offset + std * N(0,1)
    float std;
    int split;                // 1: attn_k_b, 2: attn_v_b, values of kv_b (below); 0: plain
    char src[96];             // split: the attn_kv_b tensor whose stream gives the values
    int64_t nope, v_head, kv; // split: kv_b is {kv, H·(nope+v_head)}
};

struct plan {
    struct tplan *t;
    int64_t n, cap;
    int rc;
    char *err;
    size_t err_len;
};

static void plan_add(struct plan *pl, const char *name, uint32_t n_dims, int64_t ne0, int64_t ne1,
                     int64_t ne2, uint32_t type, int qz, float offset, float std) {
    if (pl->rc) return;
    if (pl->n == pl->cap) {
        int64_t cap = pl->cap ? pl->cap * 2 : 64;
        struct tplan *t = mem_realloc(MEM_TAG_MODEL, pl->t, (size_t)cap * sizeof *t);
        if (!t) {
            pl->rc = status_errf(pl->err, pl->err_len, JANUS_ENOMEM, "out of memory");
            return;
        }
        pl->t = t;
        pl->cap = cap;
    }
    struct tplan *t = &pl->t[pl->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->type = type;
    t->qz = qz;
    t->offset = offset;
    t->std = std;
    if (!qz && gguf_tensor_bytes(n_dims, t->ne, type) == 0) { // qz: checked by assign_types
        pl->rc =
            status_errf(pl->err, pl->err_len, JANUS_EINVAL, "tensor '%s': size too large", name);
        return;
    }
    pl->n++;
}

// Matrix {ne0 (fan-in), ne1[, ne2]} in the model type, std 1/sqrt(fan_in).
static void mat(struct plan *pl, const struct genmodel_params *p, const char *name, int64_t ne0,
                int64_t ne1, int64_t ne2) {
    plan_add(pl, name, ne2 ? 3 : 2, ne0, ne1, ne2 ? ne2 : 1, p->type, 1, 0.0f,
             (float)(1.0 / sqrt((double)ne0)));
}

static void vec(struct plan *pl, const char *name, int64_t n, float offset, float std) {
    plan_add(pl, name, 1, n, 1, 1, GGML_TYPE_F32, 0, offset, std);
}

// deepseek2 --mla-split: attn_k_b {nope, kv, H} and attn_v_b {kv, v, H} as current llama.cpp
// converters write them, holding exactly the values attn_kv_b {kv, H·(nope+v)} would have.
static void plan_split(struct plan *pl, const struct genmodel_params *p, int il) {
    char nm[96], src[96];
    arch_tensor_name(src, sizeof src, ARCH_T_ATTN_KV_B, il);
    const int64_t H = p->n_head;
    mat(pl, p, arch_tensor_name(nm, sizeof nm, ARCH_T_ATTN_K_B, il), p->qk_nope, p->kv_lora, H);
    mat(pl, p, arch_tensor_name(nm, sizeof nm, ARCH_T_ATTN_V_B, il), p->kv_lora, p->v_head, H);
    for (int k = 0; k < 2 && !pl->rc; k++) {
        struct tplan *t = &pl->t[pl->n - 2 + k];
        t->split = 1 + k;
        snprintf(t->src, sizeof t->src, "%s", src);
        t->nope = p->qk_nope;
        t->v_head = p->v_head;
        t->kv = p->kv_lora;
    }
}

static void build_plan(struct plan *pl, const struct genmodel_params *p, int64_t n_vocab) {
    const int64_t E = p->n_embd, H = p->n_head, Hkv = p->n_head_kv;
    char nm[96];
#define NAME(t) arch_tensor_name(nm, sizeof nm, t, (int)il)
    plan_add(pl, arch_tensor_name(nm, sizeof nm, ARCH_T_TOKEN_EMBD, 0), 2, E, n_vocab, 1, p->type,
             1, 0.0f, 1.0f);
    for (int64_t il = 0; il < p->n_layer; il++) {
        vec(pl, NAME(ARCH_T_ATTN_NORM), E, 1.0f, 0.1f);
        if (p->arch != GENMODEL_ARCH_DEEPSEEK2 && p->arch != GENMODEL_ARCH_OLMOE) {
            const int64_t hd = head_dim(p);
            mat(pl, p, NAME(ARCH_T_ATTN_Q), E, H * hd, 0);
            mat(pl, p, NAME(ARCH_T_ATTN_K), E, Hkv * hd, 0);
            mat(pl, p, NAME(ARCH_T_ATTN_V), E, Hkv * hd, 0);
            if (p->arch == GENMODEL_ARCH_QWEN2MOE) {
                vec(pl, NAME(ARCH_T_ATTN_Q_BIAS), H * hd, 0.0f, 0.02f);
                vec(pl, NAME(ARCH_T_ATTN_K_BIAS), Hkv * hd, 0.0f, 0.02f);
                vec(pl, NAME(ARCH_T_ATTN_V_BIAS), Hkv * hd, 0.0f, 0.02f);
            }
            if (p->arch == GENMODEL_ARCH_QWEN3MOE) {
                vec(pl, NAME(ARCH_T_ATTN_Q_NORM), hd, 1.0f, 0.5f);
                vec(pl, NAME(ARCH_T_ATTN_K_NORM), hd, 1.0f, 0.5f);
            }
            mat(pl, p, NAME(ARCH_T_ATTN_OUT), H * hd, E, 0);
        } else if (p->arch == GENMODEL_ARCH_OLMOE) {
            const int64_t hd = head_dim(p);
            mat(pl, p, NAME(ARCH_T_ATTN_Q), E, H * hd, 0);
            mat(pl, p, NAME(ARCH_T_ATTN_K), E, Hkv * hd, 0);
            mat(pl, p, NAME(ARCH_T_ATTN_V), E, Hkv * hd, 0);
            vec(pl, NAME(ARCH_T_ATTN_Q_NORM), H * hd, 1.0f, 0.5f);
            vec(pl, NAME(ARCH_T_ATTN_K_NORM), Hkv * hd, 1.0f, 0.5f);
            mat(pl, p, NAME(ARCH_T_ATTN_OUT), H * hd, E, 0);
        } else {
            if (p->q_lora > 0) vec(pl, NAME(ARCH_T_ATTN_Q_A_NORM), p->q_lora, 1.0f, 0.1f);
            vec(pl, NAME(ARCH_T_ATTN_KV_A_NORM), p->kv_lora, 1.0f, 0.1f);
            if (p->q_lora > 0) { // q compression (V2); without it attn_q (V2-Lite)
                mat(pl, p, NAME(ARCH_T_ATTN_Q_A), E, p->q_lora, 0);
                mat(pl, p, NAME(ARCH_T_ATTN_Q_B), p->q_lora, H * (p->qk_nope + p->qk_rope), 0);
            } else {
                mat(pl, p, NAME(ARCH_T_ATTN_Q), E, H * (p->qk_nope + p->qk_rope), 0);
            }
            mat(pl, p, NAME(ARCH_T_ATTN_KV_A_MQA), E, p->kv_lora + p->qk_rope, 0);
            if (p->mla_split)
                plan_split(pl, p, (int)il);
            else
                mat(pl, p, NAME(ARCH_T_ATTN_KV_B), p->kv_lora, H * (p->qk_nope + p->v_head), 0);
            mat(pl, p, NAME(ARCH_T_ATTN_OUT), H * p->v_head, E, 0);
        }
        vec(pl, NAME(ARCH_T_FFN_NORM), E, 1.0f, 0.1f);
        if (p->arch == GENMODEL_ARCH_DEEPSEEK2 && il < p->n_dense_lead) {
            mat(pl, p, NAME(ARCH_T_FFN_GATE), E, p->n_ff, 0);
            mat(pl, p, NAME(ARCH_T_FFN_UP), E, p->n_ff, 0);
            mat(pl, p, NAME(ARCH_T_FFN_DOWN), p->n_ff, E, 0);
            continue;
        }
        plan_add(pl, NAME(ARCH_T_FFN_GATE_INP), 2, E, p->n_expert, 1, GGML_TYPE_F32, 0, 0.0f,
                 (float)(1.0 / sqrt((double)E)));
        if (p->arch == GENMODEL_ARCH_DEEPSEEK2 && p->gating == GENMODEL_GATING_SIGMOID)
            vec(pl, NAME(ARCH_T_EXP_PROBS_B), p->n_expert, 0.0f, 0.1f);
        mat(pl, p, NAME(ARCH_T_FFN_GATE_EXPS), E, p->n_ff_exp, p->n_expert);
        mat(pl, p, NAME(ARCH_T_FFN_UP_EXPS), E, p->n_ff_exp, p->n_expert);
        mat(pl, p, NAME(ARCH_T_FFN_DOWN_EXPS), p->n_ff_exp, E, p->n_expert);
        if (p->arch == GENMODEL_ARCH_QWEN2MOE) {
            vec(pl, NAME(ARCH_T_FFN_GATE_INP_SHEXP), E, 0.0f, (float)(1.0 / sqrt((double)E)));
            mat(pl, p, NAME(ARCH_T_FFN_GATE_SHEXP), E, p->n_ff, 0);
            mat(pl, p, NAME(ARCH_T_FFN_UP_SHEXP), E, p->n_ff, 0);
            mat(pl, p, NAME(ARCH_T_FFN_DOWN_SHEXP), p->n_ff, E, 0);
        }
        if (p->arch == GENMODEL_ARCH_DEEPSEEK2 && p->n_expert_shared > 0) {
            int64_t w = p->n_ff_exp * p->n_expert_shared;
            mat(pl, p, NAME(ARCH_T_FFN_GATE_SHEXP), E, w, 0);
            mat(pl, p, NAME(ARCH_T_FFN_UP_SHEXP), E, w, 0);
            mat(pl, p, NAME(ARCH_T_FFN_DOWN_SHEXP), w, E, 0);
        }
    }
#undef NAME
    vec(pl, arch_tensor_name(nm, sizeof nm, ARCH_T_OUTPUT_NORM, 0), E, 1.0f, 0.1f);
    plan_add(pl, arch_tensor_name(nm, sizeof nm, ARCH_T_OUTPUT, 0), 2, E, n_vocab, 1, p->type, 1,
             0.0f, (float)(1.0 / sqrt((double)E)));
}

// ---- per-tensor types (docs/GGUF.md "gen-model types")

// Block size of a ggml type (1 for F32/F16/BF16).
static int64_t blck(uint32_t type) {
    int64_t be = 1;
    (void)ggml_type_layout(type, &be, NULL);
    return be;
}

// llama-quantize's use_more_bits(i_layer, n_layers).
static int more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int block_of(const char *name) {
    int il = -1;
    if (sscanf(name, "blk.%d.", &il) != 1) il = -1;
    return il;
}

// llama-quantize's tensor order (its weight_name_comparer): by block (others first), then name.
static int cmp_llama_order(const void *a, const void *b) {
    const struct tplan *x = *(const struct tplan *const *)a, *y = *(const struct tplan *const *)b;
    const int lx = block_of(x->name), ly = block_of(y->name);
    if (lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x->name, y->name);
}

// The counters llama_tensor_get_type keeps while it walks the tensors in its order.
struct mix_state {
    int n_attn_v, i_attn_v; // attn_v / attn_qkv / attn_kv_b tensors; attn_v seen so far
    int i_ffn_down;         // ffn_down* seen so far
};

// The type llama_tensor_get_type (llama.cpp src/llama-quant.cpp; the fixtures' llama-quantize
// agrees on all 10 K-quant files, test_genmodel) gives tensor `name` for ftype Q3_K_M /
// Q4_K_M / Q5_K_M, for the tensors gen-model writes: output Q6_K; attn_v Q5_K (Q3_K_M, its first
// two) or Q6_K (Q4_K_M, Q5_K_M on the use_more_bits layers), Q8_0 with 8 experts; attn_k Q8_0 with
// 8 experts; ffn_down* Q5_K (Q3_K_M, layers < n/16) else Q4_K (Q3_K_M), Q6_K on use_more_bits
// layers (Q4_K_M, Q5_K_M); attn_output Q4_K (Q3_K_M), Q5_K with 8 experts (Q3_K_M, Q4_K_M);
// everything else the base.
static uint32_t mix_type(const struct genmodel_params *p, const struct tplan *t,
                         struct mix_state *ms) {
    const char *name = t->name;
    const enum genmodel_mix f = p->mix;
    uint32_t nt = p->type;
    if (!strcmp(name, "output.weight"))
        return t->ne[0] % blck(nt) ? GGML_TYPE_Q8_0 : GGML_TYPE_Q6_K;
    if (!strcmp(name, "token_embd.weight")) return nt;
    if (strstr(name, "attn_v.weight")) {
        if (f == GENMODEL_MIX_Q3_K_M)
            nt = ms->i_attn_v < 2 ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K;
        else if (more_bits(ms->i_attn_v, ms->n_attn_v))
            nt = GGML_TYPE_Q6_K;
        if (p->n_expert == 8) nt = GGML_TYPE_Q8_0;
        ms->i_attn_v++;
    } else if (strstr(name, "attn_k.weight")) {
        if (p->n_expert == 8) nt = GGML_TYPE_Q8_0;
    } else if (strstr(name, "ffn_down")) {
        // the layer: parsed from the name with experts, else the running count of ffn_down*
        const int i = p->n_expert > 1 ? block_of(name) : ms->i_ffn_down;
        const int n = (int)p->n_layer;
        if (f == GENMODEL_MIX_Q3_K_M)
            nt = i < n / 16 ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K; // (Q3_K only for falcon)
        else if (more_bits(i, n))
            nt = GGML_TYPE_Q6_K;
        ms->i_ffn_down++;
    } else if (strstr(name, "attn_output.weight")) {
        if (p->n_expert == 8) {
            if (f != GENMODEL_MIX_Q5_K_M) nt = GGML_TYPE_Q5_K;
        } else if (f == GENMODEL_MIX_Q3_K_M) {
            nt = GGML_TYPE_Q4_K;
        }
    }
    return nt;
}

// Every weight matrix's type: the model type (uniform) or the mix's, then llama-quantize's
// fallback for a row length that is not a multiple of the block: Q2_K, Q3_K, IQ4_XS ->
// IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and F16 where that does not fit either.
// The 32-value types (Q4_0 … Q8_0, IQ4_NL) have no fallback: as llama-quantize, refused.
static int assign_types(struct plan *pl, const struct genmodel_params *p) {
    const struct tplan **ord = mem_alloc(MEM_TAG_MODEL, (size_t)JANUS_MAX(pl->n, 1) * sizeof *ord);
    if (!ord) return status_errf(pl->err, pl->err_len, JANUS_ENOMEM, "out of memory");
    struct mix_state ms = {0};
    for (int64_t i = 0; i < pl->n; i++) {
        ord[i] = &pl->t[i];
        const char *nm = pl->t[i].name;
        ms.n_attn_v += strstr(nm, "attn_v.weight") || strstr(nm, "attn_qkv.weight") ||
                       strstr(nm, "attn_kv_b.weight");
    }
    qsort(ord, (size_t)pl->n, sizeof *ord, cmp_llama_order);
    int rc = JANUS_OK;
    for (int64_t i = 0; i < pl->n && !rc; i++) {
        struct tplan *t = (struct tplan *)ord[i];
        if (!t->qz) continue;
        uint32_t nt = p->mix == GENMODEL_MIX_UNIFORM ? p->type : mix_type(p, t, &ms);
        if (t->ne[0] % blck(nt)) {
            switch (nt) {
            case GGML_TYPE_Q2_K:
            case GGML_TYPE_Q3_K:
            case GGML_TYPE_IQ4_XS: nt = GGML_TYPE_IQ4_NL; break;
            case GGML_TYPE_Q4_K: nt = GGML_TYPE_Q5_0; break;
            case GGML_TYPE_Q5_K: nt = GGML_TYPE_Q5_1; break;
            case GGML_TYPE_Q6_K: nt = GGML_TYPE_Q8_0; break;
            default:
                rc = status_errf(pl->err, pl->err_len, JANUS_EINVAL,
                                 "--type %s: tensor '%s' has ne[0] = %lld, not a multiple of "
                                 "the %s block (%lld values); llama-quantize refuses it too",
                                 genmodel_type_name(p->type, p->mix), t->name, (long long)t->ne[0],
                                 ggml_type_name(nt), (long long)blck(nt));
                continue;
            }
            if (t->ne[0] % blck(nt)) nt = GGML_TYPE_F16;
        }
        t->type = nt;
        if (gguf_tensor_bytes(t->n_dims, t->ne, nt) == 0)
            rc = status_errf(pl->err, pl->err_len, JANUS_EINVAL, "tensor '%s': size too large",
                             t->name);
    }
    mem_free(ord);
    return rc;
}

// ---- keys

static uint32_t file_type(const struct genmodel_params *p) {
    const int i = type_index(p->type, p->mix);
    return i < 0 ? 0 : k_types[i].ftype;
}

struct keyw {
    struct gguf_writer *w;
    const char *arch;
    int rc;
    const char *bad; // key that failed
};

static void ku32(struct keyw *k, enum gguf_key name, int64_t v) {
    if (k->rc) return;
    char key[128];
    gguf_key(key, sizeof key, k->arch, name);
    k->rc = gguf_writer_add_u32(k->w, key, (uint32_t)v);
    if (k->rc) k->bad = gguf_key_name(name);
}

static void kf32(struct keyw *k, enum gguf_key name, float v) {
    if (k->rc) return;
    char key[128];
    gguf_key(key, sizeof key, k->arch, name);
    k->rc = gguf_writer_add_f32(k->w, key, v);
    if (k->rc) k->bad = gguf_key_name(name);
}

// rope.scaling.* (none: no keys).
static void write_rope_scaling(struct keyw *k, const struct genmodel_params *p) {
    if (p->rope_scaling == GENMODEL_ROPE_NONE || k->rc) return;
    char key[128];
    gguf_key(key, sizeof key, k->arch, GGUF_KEY_ROPE_SCALING_TYPE);
    k->rc =
        gguf_writer_add_str(k->w, key, p->rope_scaling == GENMODEL_ROPE_YARN ? "yarn" : "linear");
    if (k->rc) k->bad = gguf_key_name(GGUF_KEY_ROPE_SCALING_TYPE);
    kf32(k, GGUF_KEY_ROPE_SCALING_FACTOR, p->rope_factor);
    if (p->rope_scaling != GENMODEL_ROPE_YARN) return;
    ku32(k, GGUF_KEY_ROPE_SCALING_ORIGINAL_CONTEXT_LENGTH,
         p->rope_orig_ctx ? p->rope_orig_ctx : p->context);
    if (p->yarn_beta_fast != 0.0f) kf32(k, GGUF_KEY_ROPE_SCALING_YARN_BETA_FAST, p->yarn_beta_fast);
    if (p->yarn_beta_slow != 0.0f) kf32(k, GGUF_KEY_ROPE_SCALING_YARN_BETA_SLOW, p->yarn_beta_slow);
}

static int write_keys(struct gguf_writer *w, const struct genmodel_params *p, int64_t n_vocab) {
    struct keyw k = {w, genmodel_arch_name(p->arch), JANUS_OK, NULL};
    char name[128];
    if (p->name)
        snprintf(name, sizeof name, "%s", p->name);
    else
        snprintf(name, sizeof name, "janus-gen-%s-%s", k.arch,
                 p->mix ? genmodel_type_name(p->type, p->mix) : ggml_type_name(p->type));
    k.rc = gguf_writer_add_str(w, gguf_key_name(GGUF_KEY_GENERAL_ARCHITECTURE), k.arch);
    if (!k.rc) k.rc = gguf_writer_add_str(w, gguf_key_name(GGUF_KEY_GENERAL_NAME), name);
    if (!k.rc)
        k.rc = gguf_writer_add_u32(w, gguf_key_name(GGUF_KEY_GENERAL_FILE_TYPE), file_type(p));
    ku32(&k, GGUF_KEY_VOCAB_SIZE, n_vocab);
    ku32(&k, GGUF_KEY_CONTEXT_LENGTH, p->context);
    ku32(&k, GGUF_KEY_EMBEDDING_LENGTH, p->n_embd);
    ku32(&k, GGUF_KEY_BLOCK_COUNT, p->n_layer);
    ku32(&k, GGUF_KEY_ATTENTION_HEAD_COUNT, p->n_head);
    kf32(&k, GGUF_KEY_ROPE_FREQ_BASE, p->rope_base);
    kf32(&k, GGUF_KEY_ATTENTION_LAYER_NORM_RMS_EPSILON, p->rms_eps);
    ku32(&k, GGUF_KEY_EXPERT_COUNT, p->n_expert);
    ku32(&k, GGUF_KEY_EXPERT_USED_COUNT, p->n_expert_used);
    write_rope_scaling(&k, p);
    switch (p->arch) {
    case GENMODEL_ARCH_LLAMA:
        ku32(&k, GGUF_KEY_FEED_FORWARD_LENGTH, p->n_ff_exp);
        ku32(&k, GGUF_KEY_ATTENTION_HEAD_COUNT_KV, p->n_head_kv);
        ku32(&k, GGUF_KEY_ROPE_DIMENSION_COUNT, head_dim(p));
        break;
    case GENMODEL_ARCH_OLMOE:
        ku32(&k, GGUF_KEY_FEED_FORWARD_LENGTH, p->n_ff_exp);
        ku32(&k, GGUF_KEY_ATTENTION_HEAD_COUNT_KV, p->n_head_kv);
        ku32(&k, GGUF_KEY_ROPE_DIMENSION_COUNT, head_dim(p));
        break;
    case GENMODEL_ARCH_QWEN2MOE:
        ku32(&k, GGUF_KEY_FEED_FORWARD_LENGTH, p->n_ff);
        ku32(&k, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, p->n_ff_exp);
        ku32(&k, GGUF_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH, p->n_ff);
        ku32(&k, GGUF_KEY_ATTENTION_HEAD_COUNT_KV, p->n_head_kv);
        ku32(&k, GGUF_KEY_ROPE_DIMENSION_COUNT, head_dim(p));
        break;
    case GENMODEL_ARCH_QWEN3MOE:
        ku32(&k, GGUF_KEY_FEED_FORWARD_LENGTH, p->n_ff);
        ku32(&k, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, p->n_ff_exp);
        ku32(&k, GGUF_KEY_ATTENTION_HEAD_COUNT_KV, p->n_head_kv);
        ku32(&k, GGUF_KEY_ATTENTION_KEY_LENGTH, head_dim(p));
        ku32(&k, GGUF_KEY_ATTENTION_VALUE_LENGTH, head_dim(p));
        ku32(&k, GGUF_KEY_ROPE_DIMENSION_COUNT, head_dim(p));
        break;
    case GENMODEL_ARCH_DEEPSEEK2:
        ku32(&k, GGUF_KEY_FEED_FORWARD_LENGTH, p->n_ff);
        ku32(&k, GGUF_KEY_ATTENTION_HEAD_COUNT_KV, p->mla_split ? 1 : p->n_head_kv);
        ku32(&k, GGUF_KEY_LEADING_DENSE_BLOCK_COUNT, p->n_dense_lead);
        if (p->q_lora > 0) ku32(&k, GGUF_KEY_ATTENTION_Q_LORA_RANK, p->q_lora);
        ku32(&k, GGUF_KEY_ATTENTION_KV_LORA_RANK, p->kv_lora);
        if (p->mla_split) { // current converters: latent widths, per-head ones in *_mla
            ku32(&k, GGUF_KEY_ATTENTION_KEY_LENGTH, p->kv_lora + p->qk_rope);
            ku32(&k, GGUF_KEY_ATTENTION_VALUE_LENGTH, p->kv_lora);
            ku32(&k, GGUF_KEY_ATTENTION_KEY_LENGTH_MLA, p->qk_nope + p->qk_rope);
            ku32(&k, GGUF_KEY_ATTENTION_VALUE_LENGTH_MLA, p->v_head);
        } else {
            ku32(&k, GGUF_KEY_ATTENTION_KEY_LENGTH, p->qk_nope + p->qk_rope);
            ku32(&k, GGUF_KEY_ATTENTION_VALUE_LENGTH, p->v_head);
        }
        ku32(&k, GGUF_KEY_ROPE_DIMENSION_COUNT, p->qk_rope);
        ku32(&k, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, p->n_ff_exp);
        ku32(&k, GGUF_KEY_EXPERT_SHARED_COUNT, p->n_expert_shared);
        kf32(&k, GGUF_KEY_EXPERT_WEIGHTS_SCALE, p->weights_scale);
        if (!k.rc) {
            char key[128];
            gguf_key(key, sizeof key, k.arch, GGUF_KEY_EXPERT_WEIGHTS_NORM);
            k.rc = gguf_writer_add_bool(w, key, p->norm_topk);
        }
        ku32(&k, GGUF_KEY_EXPERT_GATING_FUNC, p->gating);
        kf32(&k, GGUF_KEY_ROPE_SCALING_YARN_LOG_MULTIPLIER, p->yarn_log_mul);
        if (p->n_group) {
            ku32(&k, GGUF_KEY_EXPERT_GROUP_COUNT, p->n_group);
            ku32(&k, GGUF_KEY_EXPERT_GROUP_USED_COUNT, p->n_group_used);
        }
        break;
    }
    return k.rc;
}

static int write_vocab_keys(struct gguf_writer *w, const struct vocab *v) {
    int rc = gguf_writer_add_str(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_MODEL), "llama");
    if (!rc)
        rc = gguf_writer_add_arr_str(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_TOKENS),
                                     (const char **)v->tok, (uint64_t)v->n);
    if (!rc)
        rc = gguf_writer_add_arr_f32(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_SCORES), v->score,
                                     (uint64_t)v->n);
    if (!rc)
        rc = gguf_writer_add_arr_i32(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_TOKEN_TYPE), v->type,
                                     (uint64_t)v->n);
    if (!rc)
        rc = gguf_writer_add_u32(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_BOS_TOKEN_ID),
                                 (uint32_t)v->bos);
    if (!rc)
        rc = gguf_writer_add_u32(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_EOS_TOKEN_ID),
                                 (uint32_t)v->eos);
    if (!rc)
        rc = gguf_writer_add_u32(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_UNKNOWN_TOKEN_ID),
                                 (uint32_t)v->unk);
    if (!rc)
        rc = gguf_writer_add_bool(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_ADD_BOS_TOKEN),
                                  v->add_bos);
    if (!rc)
        rc = gguf_writer_add_bool(w, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_ADD_EOS_TOKEN),
                                  v->add_eos);
    if (!rc && v->chat_template)
        rc = gguf_writer_add_str(w, gguf_key_name(GGUF_KEY_TOKENIZER_CHAT_TEMPLATE),
                                 v->chat_template);
    return rc;
}

// ---- weights

// Fills x[0..n) with offset + std * N(0,1): Marsaglia's polar method on two 32-bit
// uniforms per rng_u64 (no trigonometry; ~21% of pairs are rejected and redrawn).
static void fill_normal(float *x, int64_t n, struct rng *r, float offset, float std) {
    int64_t i = 0;
    while (i < n) {
        uint64_t u = rng_u64(r);
        float a = (float)(int32_t)(uint32_t)(u >> 32) * (1.0f / 2147483648.0f); // [-1, 1)
        float b = (float)(int32_t)(uint32_t)u * (1.0f / 2147483648.0f);
        float s = a * a + b * b;
        if (s >= 1.0f || s == 0.0f) continue;
        float f = std * sqrtf(-2.0f * logf(s) / s);
        x[i++] = offset + a * f;
        if (i < n) x[i++] = offset + b * f;
    }
}

// Converts n F32 values (whole rows) to ggml type `type` into xb (quant_quantize_row: F16/BF16
// conversions, Q8_0, the round-to-nearest block quantisers); returns the bytes.
static size_t convert_vals(uint32_t type, uint8_t *xb, const float *xf, int64_t n) {
    const int kt = weights_kern_type(type);
    JANUS_ASSERT(kt >= 0);
    quant_quantize_row(kt, xb, xf, n);
    return kern_row_bytes(kt, n);
}

#define GEN_CHUNK ((int64_t)1 << 20) // elements per chunk (whole rows, at least one row)

// One tensor's chunks: chunk c holds rows [c*rows_per, ...) and draws from its own stream
// rng_init3(seed, crc32(name), c), so the bytes do not depend on the thread count.
struct gen_job {
    const struct genmodel_params *p;
    const struct tplan *t;
    const float *src; // the tensor's values (weights_dir), else NULL: random
    uint32_t crc;
    int64_t rows_per, n_rows;
    int64_t c0, n_chunks; // this round: chunks c0 .. c0+nth-1 (those < n_chunks)
    float **xf;           // (nth) per-thread F32 scratch
    uint8_t **xb;         // (nth) per-thread converted bytes
    size_t *bytes;        // (nth) bytes produced by thread ith this round (0: none)
};

static void gen_chunk(void *ctx, int ith, int nth) {
    struct gen_job *j = ctx;
    (void)nth;
    int64_t c = j->c0 + ith;
    j->bytes[ith] = 0;
    if (c >= j->n_chunks) return;
    const struct tplan *t = j->t;
    int64_t r0 = c * j->rows_per;
    int64_t n = JANUS_MIN(j->rows_per, j->n_rows - r0) * t->ne[0];
    struct rng r;
    rng_init3(&r, j->p->seed, j->crc, (uint64_t)c);
    float *xf = j->xf[ith];
    uint8_t *xb = j->xb[ith];
    if (j->src)
        memcpy(xf, j->src + r0 * t->ne[0], (size_t)n * sizeof(float));
    else
        fill_normal(xf, n, &r, t->offset, t->std);
    j->bytes[ith] = convert_vals(t->type, xb, xf, n);
}

// The n values of tensor name from p->weights_dir/name.f32 (raw little-endian F32) into a new
// array (*out, mem_free). JANUS_EIO (missing), JANUS_EFORMAT (wrong size or not finite).
static int load_values(const struct genmodel_params *p, const char *name, int64_t n, float **out) {
    char path[4096];
    *out = NULL;
    if (snprintf(path, sizeof path, "%s/%s.f32", p->weights_dir, name) >= (int)sizeof path)
        return JANUS_ELIMIT;
    char *raw = NULL, e[JANUS_ERR_LEN];
    size_t len = 0;
    int rc = file_read_all(path, (size_t)n * 4 + 1, &raw, &len, e, sizeof e);
    if (rc) return rc == JANUS_ELIMIT ? JANUS_EFORMAT : rc;
    if (len != (size_t)n * 4) {
        mem_free(raw);
        return JANUS_EFORMAT;
    }
    float *x = mem_alloc(MEM_TAG_MODEL, (size_t)JANUS_MAX(n, 1) * sizeof(float));
    for (int64_t i = 0; x && i < n && !rc; i++)
        if (!isfinite(x[i] = bytes_get_f32((const uint8_t *)raw + 4 * i))) rc = JANUS_EFORMAT;
    mem_free(raw);
    if (!x) return JANUS_ENOMEM;
    if (rc) {
        mem_free(x);
        return rc;
    }
    *out = x;
    return JANUS_OK;
}

// attn_k_b / attn_v_b of --mla-split: regenerates attn_kv_b {kv, H·(nope+v)} in F32 exactly as
// stream_tensor would (same streams and chunks; one layer's kv_b in memory), then writes
// head h's k-rows transposed ({nope, kv} per head) or its v-rows ({kv, v} per head).
static int stream_split(struct gguf_writer *w, const struct genmodel_params *p,
                        const struct tplan *t) {
    const int64_t R = t->kv, W = t->nope + t->v_head, H = t->ne[2];
    const int64_t n_rows = H * W, rows_per = R >= GEN_CHUNK ? 1 : GEN_CHUNK / R;
    float *kvb = mem_alloc(MEM_TAG_MODEL, (size_t)(n_rows * R) * sizeof(float));
    float *row = mem_alloc(MEM_TAG_MODEL, (size_t)JANUS_MAX(t->ne[0], 1) * sizeof(float));
    uint8_t *xb = mem_alloc(MEM_TAG_MODEL, (size_t)JANUS_MAX(t->ne[0], 1) * sizeof(float));
    int rc = kvb && row && xb ? JANUS_OK : JANUS_ENOMEM;
    const uint32_t crc = genmodel_crc32(t->src);
    const float std = (float)(1.0 / sqrt((double)R));
    if (!rc && p->weights_dir) {
        float *src = NULL;
        rc = load_values(p, t->src, n_rows * R, &src);
        if (!rc) memcpy(kvb, src, (size_t)(n_rows * R) * sizeof(float));
        mem_free(src);
    }
    for (int64_t c = 0; !rc && !p->weights_dir && c * rows_per < n_rows; c++) {
        struct rng r;
        rng_init3(&r, p->seed, crc, (uint64_t)c);
        const int64_t r0 = c * rows_per, n = JANUS_MIN(rows_per, n_rows - r0) * R;
        fill_normal(kvb + r0 * R, n, &r, 0.0f, std);
    }
    for (int64_t h = 0; !rc && h < H; h++) {
        for (int64_t o = 0; !rc && o < t->ne[1]; o++) { // output row o of head h's matrix
            if (t->split == 1) {                        // k_b[h][r][d] = kv_b[h·W + d][r]
                for (int64_t d = 0; d < t->nope; d++)
                    row[d] = kvb[(h * W + d) * R + o];
            } else { // v_b[h][j][r] = kv_b[h·W + nope + j][r]
                memcpy(row, kvb + (h * W + t->nope + o) * R, (size_t)R * sizeof(float));
            }
            rc = gguf_writer_stream_data(w, xb, convert_vals(t->type, xb, row, t->ne[0]));
        }
    }
    mem_free(kvb);
    mem_free(row);
    mem_free(xb);
    return rc;
}

static int stream_tensor(struct gguf_writer *w, struct pool *pool, struct gen_job *j,
                         const struct tplan *t) {
    if (t->split) return stream_split(w, j->p, t);
    const int nth = pool_n_threads(pool);
    j->t = t;
    j->crc = genmodel_crc32(t->name);
    j->n_rows = t->ne[1] * t->ne[2];
    j->rows_per = t->ne[0] >= GEN_CHUNK ? 1 : GEN_CHUNK / t->ne[0];
    j->n_chunks = (j->n_rows + j->rows_per - 1) / j->rows_per;
    float *src = NULL;
    int rc = JANUS_OK;
    if (j->p->weights_dir) rc = load_values(j->p, t->name, j->n_rows * t->ne[0], &src);
    j->src = src;
    for (j->c0 = 0; !rc && j->c0 < j->n_chunks; j->c0 += nth) {
        pool_run(pool, gen_chunk, j);
        for (int i = 0; i < nth && !rc; i++)
            if (j->bytes[i]) rc = gguf_writer_stream_data(w, j->xb[i], j->bytes[i]);
    }
    j->src = NULL;
    mem_free(src);
    return rc;
}

int genmodel_write(const struct genmodel_params *p, const char *path, char *err, size_t err_len) {
    if (err && err_len) err[0] = 0;
    int rc = genmodel_check(p, err, err_len);
    if (rc) return rc;
    struct gguf_writer *w = gguf_writer_create();
    if (!w) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    struct plan pl = {0};
    pl.err = err;
    pl.err_len = err_len;
    float **xf = NULL;
    uint8_t **xb = NULL;
    size_t *chunk_bytes = NULL;
    struct pool *pool = NULL;
    int nth = 1;
    int64_t n_vocab = 0;

    // vocabulary first: its size is vocab_size and the embedding/output rows
    struct vocab v = {0};
    struct gguf vg;
    int have_vg = 0;
    if (p->vocab_path) {
        char e2[JANUS_ERR_LEN];
        rc = gguf_open(&vg, p->vocab_path, e2, sizeof e2);
        if (rc) {
            status_errf(err, err_len, rc, "--vocab: %s", e2);
            goto done;
        }
        have_vg = 1;
        enum gguf_type et;
        uint64_t n;
        rc = gguf_get_arr(&vg, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_TOKENS), &et, &n, e2,
                          sizeof e2);
        if (rc || et != GGUF_TYPE_STRING || n == 0 || n > LIMIT_MAX_VOCAB) {
            rc =
                status_errf(err, err_len, JANUS_EFORMAT,
                            "--vocab %s: needs a non-empty string array tokenizer.ggml.tokens (%s)",
                            p->vocab_path, rc ? e2 : "wrong type or size");
            goto done;
        }
        n_vocab = (int64_t)n;
    } else {
        rc = p->tokenizer_json ? vocab_from_json(&v, p->tokenizer_json, err, err_len)
                               : vocab_builtin(&v, p->n_vocab);
        if (rc && p->tokenizer_json) goto done;
        if (rc) {
            status_errf(err, err_len, rc, "out of memory building the vocabulary");
            goto done;
        }
        n_vocab = v.n;
    }
    rc = write_keys(w, p, n_vocab);
    if (!rc && have_vg) {
        for (int64_t i = 0; i < vg.n_kv && !rc; i++) {
            const struct gguf_str *k = &vg.kv[i].key;
            if (k->len > 15 && !memcmp(k->ptr, "tokenizer.ggml.", 15))
                rc = gguf_writer_copy_kv(w, &vg, i);
        }
    } else if (!rc) {
        rc = write_vocab_keys(w, &v);
    }
    if (rc) {
        status_errf(err, err_len, rc, "writing metadata: %s", janus_strerror(rc));
        goto done;
    }
    build_plan(&pl, p, n_vocab);
    if (!pl.rc) pl.rc = assign_types(&pl, p);
    if (pl.rc) {
        rc = pl.rc;
        goto done;
    }
    for (int64_t i = 0; i < pl.n && !rc; i++) {
        const struct tplan *t = &pl.t[i];
        rc = gguf_writer_add_tensor_info(w, t->name, t->n_dims, t->ne, t->type);
        if (rc) status_errf(err, err_len, rc, "tensor '%s': %s", t->name, janus_strerror(rc));
    }
    if (rc) goto done;
    int64_t max_row = 1;
    for (int64_t i = 0; i < pl.n; i++)
        max_row = JANUS_MAX(max_row, pl.t[i].ne[0]);
    int64_t buf_n = JANUS_MAX(max_row, GEN_CHUNK);
    if (p->n_threads > 1) {
        rc = pool_create(&pool, p->n_threads);
        if (rc) {
            status_errf(err, err_len, rc, "cannot start %d threads (%s)", p->n_threads,
                        janus_strerror(rc));
            goto done;
        }
    }
    nth = pool_n_threads(pool);
    xf = mem_calloc(MEM_TAG_MODEL, (size_t)nth, sizeof *xf);
    xb = mem_calloc(MEM_TAG_MODEL, (size_t)nth, sizeof *xb);
    chunk_bytes = mem_calloc(MEM_TAG_MODEL, (size_t)nth, sizeof *chunk_bytes);
    if (!xf || !xb || !chunk_bytes) {
        rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nth; i++) {
        xf[i] = mem_alloc(MEM_TAG_MODEL, (size_t)buf_n * sizeof(float));
        xb[i] = mem_alloc(MEM_TAG_MODEL, (size_t)buf_n * sizeof(float));
        if (!xf[i] || !xb[i]) {
            rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
            goto done;
        }
    }
    struct gen_job job = {.p = p, .xf = xf, .xb = xb, .bytes = chunk_bytes};
    rc = gguf_writer_stream_begin(w, path);
    if (rc) {
        status_errf(err, err_len, rc, "%s: cannot write (%s)", path, janus_strerror(rc));
        goto done;
    }
    for (int64_t i = 0; i < pl.n && !rc; i++) {
        rc = stream_tensor(w, pool, &job, &pl.t[i]);
        const struct tplan *t = &pl.t[i];
        if (rc && p->weights_dir && (rc == JANUS_EIO || rc == JANUS_EFORMAT))
            status_errf(err, err_len, rc,
                        "--weights %s: tensor '%s' needs %s/%s.f32 with %lld finite "
                        "little-endian F32 values (%s)",
                        p->weights_dir, t->name, p->weights_dir, t->split ? t->src : t->name,
                        (long long)(t->split ? t->ne[2] * (t->nope + t->v_head) * t->kv
                                             : t->ne[0] * t->ne[1] * t->ne[2]),
                        rc == JANUS_EIO ? "missing or unreadable" : "wrong size or not finite");
        else if (rc)
            status_errf(err, err_len, rc, "%s: writing tensor '%s' failed (%s)", path, t->name,
                        janus_strerror(rc));
    }
    if (!rc) {
        rc = gguf_writer_stream_end(w);
        if (rc)
            status_errf(err, err_len, rc, "%s: finishing the file failed (%s)", path,
                        janus_strerror(rc));
    }
done:
    gguf_writer_destroy(&w); // removes a partial file
    if (have_vg) gguf_close(&vg);
    vocab_free(&v);
    mem_free(pl.t);
    for (int i = 0; xf && i < nth; i++)
        mem_free(xf[i]);
    for (int i = 0; xb && i < nth; i++)
        mem_free(xb[i]);
    mem_free(xf);
    mem_free(xb);
    mem_free(chunk_bytes);
    pool_destroy(&pool);
    return rc;
}
