// Hyper-parameter loading and validation (hparams.h). Defaults follow current llama.cpp
// (llama-model.cpp): key_length/value_length default to n_embd/n_head, rope dimension to
// head_dim, expert widths to feed_forward_length-derived values; group keys are optional
// (deepseek2 only) and validated (n_expert % G == 0, 0 < Gu < G, G < n_expert). Strict
// (issue 12 item 4): check() refuses values that make no sense for the architecture, each
// message naming the key, its value and what was expected (docs/GGUF.md "What we refuse").
// SPDX-License-Identifier: MIT
#include "model/hparams.h"
#include "model/gguf_keys.h"

#include "base/limits.h"
#include "base/status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct hp_reader {
    const struct gguf *g;
    const struct arch_info *a;
    char *err;
    size_t err_len;
};

// The full name of key k ("llama.block_count") as a value, so a message can name several
// keys: KEY(k) is valid until the end of the enclosing full expression.
struct key_name {
    char s[128];
};
static struct key_name key_name(const struct arch_info *a, enum gguf_key k) {
    struct key_name n;
    gguf_key(n.s, sizeof n.s, a->name, k);
    return n;
}
#define KEYA(a, k) (key_name((a), (k)).s)
#define KEY(k)     KEYA(r->a, k)

// The status of a gguf_get_* lookup of key: JANUS_OK (found), 1 (absent and optional: use
// the default), JANUS_EFORMAT (absent but required; r->err names the key) or the lookup's
// own error.
static int lookup_status(struct hp_reader *r, const char *key, int rc, int required) {
    if (rc != JANUS_ENOTFOUND) return rc;
    if (!required) return 1;
    return status_errf(r->err, r->err_len, JANUS_EFORMAT, "missing key %s", key);
}

static int range_err(struct hp_reader *r, const char *key, int64_t v, int64_t lo, int64_t hi) {
    return status_errf(r->err, r->err_len, JANUS_ELIMIT, "key %s = %lld out of range [%lld, %lld]",
                       key, (long long)v, (long long)lo, (long long)hi);
}

// Required/optional u32 with range check. Returns status; absent optional → *out = def
// (not range-checked: callers validate derived defaults themselves).
static int get_u(struct hp_reader *r, enum gguf_key k, int required, int64_t def, int64_t lo,
                 int64_t hi, int64_t *out) {
    char key[128];
    gguf_key(key, sizeof key, r->a->name, k);
    uint32_t v = 0;
    int rc = lookup_status(r, key, gguf_get_u32(r->g, key, &v, r->err, r->err_len), required);
    if (rc == 1) {
        *out = def;
        return JANUS_OK;
    }
    if (rc) return rc;
    if ((int64_t)v < lo || (int64_t)v > hi) return range_err(r, key, v, lo, hi);
    *out = v;
    return JANUS_OK;
}

static int is_int_type(enum gguf_type t) {
    return (t >= GGUF_TYPE_UINT8 && t <= GGUF_TYPE_INT32) || t == GGUF_TYPE_UINT64 ||
           t == GGUF_TYPE_INT64;
}

// A key llama.cpp reads with get_key_or_arr (head_count, head_count_kv,
// feed_forward_length): a scalar, or an array of one integer per block. The array must have
// block_count elements (llama.cpp's rule) and, because every block of this engine has the
// same shapes, one value throughout (JANUS_EUNSUPPORTED otherwise).
static int get_u_per_block(struct hp_reader *r, enum gguf_key k, int required, int64_t def,
                           int64_t lo, int64_t hi, int64_t n_layer, int64_t *out) {
    char key[128];
    gguf_key(key, sizeof key, r->a->name, k);
    const int64_t idx = gguf_find_key(r->g, key);
    if (idx < 0 || r->g->kv[idx].type != GGUF_TYPE_ARRAY)
        return get_u(r, k, required, def, lo, hi, out);
    const struct gguf_kv *kv = &r->g->kv[idx];
    if (!is_int_type(kv->arr_type))
        return status_errf(r->err, r->err_len, JANUS_EFORMAT,
                           "key %s: array of %s, expected an integer or one integer per block", key,
                           gguf_type_name(kv->arr_type));
    if (kv->arr_n != (uint64_t)n_layer)
        return status_errf(r->err, r->err_len, JANUS_EFORMAT,
                           "key %s: array of %llu values, expected one per block (%s = %lld)", key,
                           (unsigned long long)kv->arr_n, KEY(GGUF_KEY_BLOCK_COUNT),
                           (long long)n_layer);
    const int64_t v0 = gguf_arr_i64(r->g, idx, 0);
    for (uint64_t i = 1; i < kv->arr_n; i++) {
        const int64_t v = gguf_arr_i64(r->g, idx, i);
        if (v != v0)
            return status_errf(r->err, r->err_len, JANUS_EUNSUPPORTED,
                               "key %s: per-block values differ (block 0: %lld, block %llu: "
                               "%lld); only one value for every block is supported",
                               key, (long long)v0, (unsigned long long)i, (long long)v);
    }
    if (v0 < lo || v0 > hi) return range_err(r, key, v0, lo, hi);
    *out = v0;
    return JANUS_OK;
}

static int get_f(struct hp_reader *r, enum gguf_key k, int required, float def, float *out) {
    char key[128];
    gguf_key(key, sizeof key, r->a->name, k);
    float v = 0;
    int rc = lookup_status(r, key, gguf_get_f32(r->g, key, &v, r->err, r->err_len), required);
    if (rc == 1) {
        *out = def;
        return JANUS_OK;
    }
    if (rc) return rc;
    if (!isfinite(v))
        return status_errf(r->err, r->err_len, JANUS_EFORMAT, "key %s is not finite", key);
    *out = v;
    return JANUS_OK;
}

static int get_b(struct hp_reader *r, enum gguf_key k, int def, int *out) {
    char key[128];
    gguf_key(key, sizeof key, r->a->name, k);
    int rc = gguf_get_bool(r->g, key, out, r->err, r->err_len);
    if (rc == JANUS_ENOTFOUND) {
        *out = def;
        return JANUS_OK;
    }
    return rc;
}

static int has_key(struct hp_reader *r, enum gguf_key k) {
    return gguf_find_key(r->g, KEY(k)) >= 0;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != JANUS_OK) return rc_;                                                           \
    } while (0)

// Consistency of the values read: what makes no sense for the architecture (docs/GGUF.md
// "What we refuse"). Each message names the key, its value and what was expected.
static int check(struct hp_reader *r, struct hparams *hp) {
    const struct arch_info *a = r->a;
    char *err = r->err;
    const size_t err_len = r->err_len;
    if (!a->mla) {
        // llama.cpp's llama, qwen2moe and qwen3moe graphs assert n_embd_head_k ==
        // n_embd_head_v == n_rot: whole heads are rotated and values are as wide as keys.
        if (hp->head_dim_k != hp->head_dim_v)
            return status_errf(err, err_len, JANUS_EFORMAT,
                               "key %s = %lld: expected %s = %lld (%s heads have equal key "
                               "and value widths)",
                               KEY(GGUF_KEY_ATTENTION_VALUE_LENGTH), (long long)hp->head_dim_v,
                               KEY(GGUF_KEY_ATTENTION_KEY_LENGTH), (long long)hp->head_dim_k,
                               a->name);
        if (hp->n_rot != hp->head_dim_k)
            return status_errf(err, err_len, JANUS_EFORMAT,
                               "key %s = %lld: expected the head width %lld (%s rotates whole "
                               "heads)",
                               KEY(GGUF_KEY_ROPE_DIMENSION_COUNT), (long long)hp->n_rot,
                               (long long)hp->head_dim_k, a->name);
    } else {
        if (hp->n_rot < 2 || hp->n_rot >= hp->head_dim_k)
            return status_errf(err, err_len, JANUS_EFORMAT,
                               "key %s = %lld: expected the rotated part of the key head, in "
                               "[2, %s = %lld)",
                               KEY(GGUF_KEY_ROPE_DIMENSION_COUNT), (long long)hp->n_rot,
                               KEY(GGUF_KEY_ATTENTION_KEY_LENGTH), (long long)hp->head_dim_k);
    }

    // Widths. A MoE model needs expert widths; a dense layer needs feed_forward_length.
    const int has_dense = hp->n_expert == 0 || hp->n_dense_lead > 0;
    if (has_dense && hp->n_ff < 1)
        return status_errf(err, err_len, JANUS_EFORMAT, "key %s = %lld: expected > 0 (%s)",
                           KEY(GGUF_KEY_FEED_FORWARD_LENGTH), (long long)hp->n_ff,
                           hp->n_expert == 0 ? "dense model" : "width of the leading dense blocks");
    if (hp->n_expert > 0 && hp->n_ff_exp < 1)
        return status_errf(
            err, err_len, JANUS_EFORMAT, "expert width is 0: expected %s > 0 (or %s >= %s = %lld)",
            KEY(GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH), KEY(GGUF_KEY_FEED_FORWARD_LENGTH),
            KEY(GGUF_KEY_EXPERT_USED_COUNT), (long long)hp->n_expert_used);
    if (a->id == ARCH_LLAMA && hp->n_expert > 0 && hp->n_ff_exp != hp->n_ff)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expected %s = %lld (llama experts are "
                           "feed_forward_length wide)",
                           KEY(GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH), (long long)hp->n_ff_exp,
                           KEY(GGUF_KEY_FEED_FORWARD_LENGTH), (long long)hp->n_ff);
    if (a->shared == ARCH_SHARED_SIGMOID && hp->n_ff_shexp < 1)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "shared-expert width is 0: expected %s > 0 (or %s > 0; every %s "
                           "MoE block has a shared expert)",
                           KEY(GGUF_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH),
                           KEY(GGUF_KEY_FEED_FORWARD_LENGTH), a->name);
    if (hp->n_expert > 0 && hp->n_dense_lead >= hp->n_layer)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expected < %s = %lld (a MoE model needs a MoE block)",
                           KEY(GGUF_KEY_LEADING_DENSE_BLOCK_COUNT), (long long)hp->n_dense_lead,
                           KEY(GGUF_KEY_BLOCK_COUNT), (long long)hp->n_layer);
    if (a->gating_keys && !(hp->weights_scale > 0))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %g: expected > 0 (it multiplies the expert weights)",
                           KEY(GGUF_KEY_EXPERT_WEIGHTS_SCALE), (double)hp->weights_scale);

    // The tokenizer, when the file has one, has one token per embedding row (llama.cpp sizes
    // token_embd.weight from it).
    const char *tk = gguf_key_name(GGUF_KEY_TOKENIZER_GGML_TOKENS);
    const int64_t ti = gguf_find_key(r->g, tk);
    if (ti >= 0 && r->g->kv[ti].type == GGUF_TYPE_ARRAY &&
        r->g->kv[ti].arr_n != (uint64_t)hp->n_vocab)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s: %llu tokens, expected the model's vocabulary size %lld (%s, "
                           "else the rows of token_embd.weight)",
                           tk, (unsigned long long)r->g->kv[ti].arr_n, (long long)hp->n_vocab,
                           KEY(GGUF_KEY_VOCAB_SIZE));

    // Expert groups: deepseek2 only (llama.cpp reads them nowhere else, and they change which
    // experts are chosen). G = 0 or 1 and Gu = 0 mean no groups.
    const int g_set = has_key(r, GGUF_KEY_EXPERT_GROUP_COUNT);
    const int gu_set = has_key(r, GGUF_KEY_EXPERT_GROUP_USED_COUNT);
    if (!a->gating_keys) {
        if (g_set || gu_set)
            return status_errf(
                err, err_len, JANUS_EFORMAT,
                "key %s: expert groups are not part of %s (expected no %s key; "
                "only deepseek2 routes by groups)",
                KEY(g_set ? GGUF_KEY_EXPERT_GROUP_COUNT : GGUF_KEY_EXPERT_GROUP_USED_COUNT),
                a->name, g_set ? "expert_group_count" : "expert_group_used_count");
        return JANUS_OK;
    }
    TRY(get_u(r, GGUF_KEY_EXPERT_GROUP_COUNT, 0, 0, 0, LIMIT_MAX_EXPERTS, &hp->n_group));
    TRY(get_u(r, GGUF_KEY_EXPERT_GROUP_USED_COUNT, 0, 0, 0, LIMIT_MAX_EXPERTS, &hp->n_group_used));
    if (hp->n_group <= 1) {
        // One group (or none): all experts are kept; Gu may only say so.
        if (hp->n_group_used > hp->n_group)
            return status_errf(err, err_len, JANUS_EFORMAT,
                               "key %s = %lld: expected <= %s = %lld (cannot keep more groups "
                               "than exist)",
                               KEY(GGUF_KEY_EXPERT_GROUP_USED_COUNT), (long long)hp->n_group_used,
                               KEY(GGUF_KEY_EXPERT_GROUP_COUNT), (long long)hp->n_group);
        hp->n_group = 0;
        hp->n_group_used = 0;
        return JANUS_OK;
    }
    if (hp->n_expert % hp->n_group)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expert_count = %lld is not a multiple of "
                           "expert_group_count",
                           KEY(GGUF_KEY_EXPERT_GROUP_COUNT), (long long)hp->n_group,
                           (long long)hp->n_expert);
    if (!(hp->n_group_used > 0 && hp->n_group_used < hp->n_group))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expert_group_used_count must be in (0, "
                           "expert_group_count = %lld)",
                           KEY(GGUF_KEY_EXPERT_GROUP_USED_COUNT), (long long)hp->n_group_used,
                           (long long)hp->n_group);
    if (!(hp->n_group < hp->n_expert))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expert_group_count must be < expert_count = %lld",
                           KEY(GGUF_KEY_EXPERT_GROUP_COUNT), (long long)hp->n_group,
                           (long long)hp->n_expert);
    if (hp->n_expert_used > hp->n_group_used * (hp->n_expert / hp->n_group))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expert_used_count exceeds the %lld experts of the "
                           "kept groups",
                           KEY(GGUF_KEY_EXPERT_USED_COUNT), (long long)hp->n_expert_used,
                           (long long)(hp->n_group_used * (hp->n_expert / hp->n_group)));
    return JANUS_OK;
}

// ---- issue 12 item 6: what current converters write

// A one-line format error whose message names the key(s) itself.
static int bad12(struct hp_reader *r, const char *msg) {
    return status_errf(r->err, r->err_len, JANUS_EFORMAT, "%s.%s", r->a->name, msg);
}

// deepseek2 written by current llama.cpp converters: attention.key_length_mla /
// value_length_mla carry the per-head widths (qk_nope+qk_rope, v_head) and key_length /
// value_length the latent widths (kv_lora+rope, kv_lora); kv_b is split into attn_k_b /
// attn_v_b. Legacy files have neither key and the per-head widths under key_length.
static int load_mla_lengths(struct hp_reader *r, struct hparams *hp) {
    int64_t k_mla = 0, v_mla = 0;
    TRY(get_u(r, GGUF_KEY_ATTENTION_KEY_LENGTH_MLA, 0, 0, 1, 1 << 16, &k_mla));
    TRY(get_u(r, GGUF_KEY_ATTENTION_VALUE_LENGTH_MLA, 0, 0, 1, 1 << 16, &v_mla));
    if (!k_mla && !v_mla) return JANUS_OK;
    char key[128];
    if (!k_mla || !v_mla)
        return status_errf(r->err, r->err_len, JANUS_EFORMAT,
                           "missing key %s (attention.key_length_mla and value_length_mla "
                           "come together)",
                           gguf_key(key, sizeof key, r->a->name,
                                    k_mla ? GGUF_KEY_ATTENTION_VALUE_LENGTH_MLA
                                          : GGUF_KEY_ATTENTION_KEY_LENGTH_MLA));
    hp->mla_split = 1;
    hp->head_dim_k = k_mla;
    hp->head_dim_v = v_mla;
    return JANUS_OK;
}

// olmoe (llama.cpp llm_build_olmoe): feed_forward_length is the expert width; q/k RMSNorm
// over the whole projection; softmax top-k weights neither renormalised nor scaled.
static int load_olmoe(struct hp_reader *r, struct hparams *hp) {
    TRY(get_u(r, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, 0, hp->n_ff, 1, INT32_MAX, &hp->n_ff_exp));
    if (hp->head_dim_k != hp->head_dim_v || hp->n_rot != hp->head_dim_k)
        return bad12(r, "attention.key_length, value_length and rope.dimension_count: "
                        "expected equal (olmoe)");
    if (hp->n_head * hp->head_dim_k != hp->n_embd)
        return bad12(r, "attention.head_count x key_length: expected embedding_length (olmoe)");
    return JANUS_OK;
}

// ggml's max(0, floor(corr_dim(beta_fast))) and min(n_dims-1, ceil(corr_dim(beta_slow))),
// corr_dim(beta) = n_dims · ln(n_ctx_orig / (2π·beta)) / (2 ln base).
static double yarn_corr_dim(double n_dims, double n_ctx_orig, double beta, double base) {
    return n_dims * log(n_ctx_orig / (beta * 2.0 * M_PI)) / (2.0 * log(base));
}

static double yarn_mscale(double scale, double m) {
    return scale <= 1.0 ? 1.0 : 0.1 * m * log(scale) + 1.0;
}

// rope.scaling.*: type (absent: linear; "none", "linear", "yarn"), factor, the YaRN keys,
// and (deepseek2) yarn_log_multiplier, read and combined as llama.cpp does (llama-context
// cparams, ggml rope_yarn, llm_build_deepseek2's kq_scale); values in double.
static int load_rope_scaling(struct hp_reader *r, struct hparams *hp) {
    char key[128];
    gguf_key(key, sizeof key, r->a->name, GGUF_KEY_ROPE_SCALING_TYPE);
    struct gguf_str st;
    int rc = gguf_get_str(r->g, key, &st, r->err, r->err_len);
    hp->rope_scaling_type = HPARAMS_ROPE_SCALING_LINEAR;
    if (rc == JANUS_OK) {
        if (st.len == 4 && !memcmp(st.ptr, "none", 4))
            hp->rope_scaling_type = HPARAMS_ROPE_SCALING_NONE;
        else if (st.len == 4 && !memcmp(st.ptr, "yarn", 4))
            hp->rope_scaling_type = HPARAMS_ROPE_SCALING_YARN;
        else if (!(st.len == 6 && !memcmp(st.ptr, "linear", 6)))
            return status_errf(r->err, r->err_len, JANUS_EUNSUPPORTED,
                               "key %s = '%.*s' unsupported (none, linear, yarn)", key,
                               (int)(st.len > 32 ? 32 : st.len), st.ptr);
    } else if (rc != JANUS_ENOTFOUND) {
        return rc;
    }
    TRY(get_f(r, GGUF_KEY_ROPE_SCALING_FACTOR, 0, 0.0f, &hp->rope_factor));
    if (hp->rope_factor == 0.0f) hp->rope_factor = 1.0f;
    if (!(hp->rope_factor > 0.0f)) return bad12(r, "rope.scaling.factor: expected > 0");
    TRY(get_u(r, GGUF_KEY_ROPE_SCALING_ORIGINAL_CONTEXT_LENGTH, 0, hp->n_ctx_train, 0, INT32_MAX,
              &hp->rope_orig_ctx));
    if (hp->rope_orig_ctx == 0) hp->rope_orig_ctx = hp->n_ctx_train;
    TRY(get_f(r, GGUF_KEY_ROPE_SCALING_YARN_EXT_FACTOR, 0, -1.0f, &hp->yarn_ext_factor));
    TRY(get_f(r, GGUF_KEY_ROPE_SCALING_YARN_ATTN_FACTOR, 0, 1.0f, &hp->yarn_attn_factor));
    TRY(get_f(r, GGUF_KEY_ROPE_SCALING_YARN_BETA_FAST, 0, 32.0f, &hp->yarn_beta_fast));
    TRY(get_f(r, GGUF_KEY_ROPE_SCALING_YARN_BETA_SLOW, 0, 1.0f, &hp->yarn_beta_slow));
    TRY(get_f(r, GGUF_KEY_ROPE_SCALING_ATTN_FACTOR, 0, 1.0f, &hp->rope_attn_factor));
    hp->yarn_log_mul = 0.0f;
    if (r->a->mla) { // llama.cpp reads it for deepseek2 and undoes the converter's 0.1
        TRY(get_f(r, GGUF_KEY_ROPE_SCALING_YARN_LOG_MULTIPLIER, 0, 0.0f, &hp->yarn_log_mul));
        hp->yarn_log_mul /= 0.1f;
    }
    const double fs =
        hp->rope_scaling_type == HPARAMS_ROPE_SCALING_NONE ? 1.0 : 1.0 / hp->rope_factor;
    const double f = 1.0 / fs;
    if (hp->yarn_ext_factor < 0.0f)
        hp->yarn_ext_factor = hp->rope_scaling_type == HPARAMS_ROPE_SCALING_YARN ? 1.0f : 0.0f;
    const double ext = hp->yarn_ext_factor, lm = hp->yarn_log_mul;
    // llama.cpp: cparams.yarn_attn_factor, then ggml's rope multiplies it back by
    // 1 + 0.1 ln(1/freq_scale) when ext != 0 (the two cancel; computed without them here).
    double attn_ctx = hp->yarn_attn_factor, mag = hp->yarn_attn_factor;
    if (ext != 0.0) {
        double pre = yarn_mscale(f, 1.0);
        if (lm != 0.0) {
            const double ms = (r->a->mla && lm != 1.0) ? lm : 1.0;
            pre = yarn_mscale(f, ms) / yarn_mscale(f, lm);
        }
        attn_ctx = pre / (1.0 + 0.1 * log(f));
        mag = pre;
    }
    attn_ctx *= hp->rope_attn_factor;
    mag *= hp->rope_attn_factor;
    struct kern_rope_scaling *rs = &hp->rope_scaling;
    *rs = kern_rope_scaling_none();
    rs->freq_scale = fs;
    rs->ext_factor = ext;
    rs->mscale = mag;
    if (ext != 0.0) {
        if (!(hp->yarn_beta_fast > 0.0f) || !(hp->yarn_beta_slow > 0.0f))
            return bad12(r, "rope.scaling.yarn_beta_fast / yarn_beta_slow: expected > 0");
        if (hp->rope_orig_ctx < 1)
            return bad12(r, "rope.scaling.original_context_length (or context_length): "
                            "expected > 0 for YaRN");
        const double nd = (double)hp->n_rot, oc = (double)hp->rope_orig_ctx;
        const double lo = floor(yarn_corr_dim(nd, oc, hp->yarn_beta_fast, hp->rope_base));
        const double hi = ceil(yarn_corr_dim(nd, oc, hp->yarn_beta_slow, hp->rope_base));
        rs->corr_lo = lo > 0.0 ? lo : 0.0;
        rs->corr_hi = hi < nd - 1.0 ? hi : nd - 1.0;
    }
    hp->rope_scaled = !(fs == 1.0 && ext == 0.0 && mag == 1.0);
    // deepseek2's kq_scale: (attn_factor_org · (1 + 0.1·log_mul·ln f))² / sqrt(key width)
    hp->attn_scale_mul = 1.0f;
    if (r->a->mla) {
        const double org = attn_ctx * (1.0 + 0.1 * log(f));
        const double m = org * (1.0 + 0.1 * lm * log(f));
        hp->attn_scale_mul = (float)(m * m);
    }
    if (!isfinite(mag) || !(mag > 0.0) || !isfinite(hp->attn_scale_mul) ||
        !(hp->attn_scale_mul > 0.0f) || !isfinite(rs->corr_lo) || !isfinite(rs->corr_hi))
        return bad12(r, "rope.scaling.*: the values give a non-finite or non-positive RoPE "
                        "magnitude or scale");
    return JANUS_OK;
}

int hparams_load(struct hparams *hp, const struct gguf *g, char *err, size_t err_len) {
    char tmp[1];
    if (!err) {
        err = tmp;
        err_len = sizeof tmp;
    }
    memset(hp, 0, sizeof *hp);
    struct gguf_str an;
    int rc = gguf_get_str(g, gguf_key_name(GGUF_KEY_GENERAL_ARCHITECTURE), &an, err, err_len);
    if (rc == JANUS_ENOTFOUND)
        return status_errf(err, err_len, JANUS_EFORMAT, "missing key general.architecture");
    if (rc != JANUS_OK) return rc;
    const struct arch_info *a = arch_find(an.ptr, an.len);
    if (!a)
        return status_errf(err, err_len, JANUS_EUNSUPPORTED,
                           "unsupported architecture '%.*s' (supported: llama, qwen2moe, "
                           "qwen3moe, deepseek2, olmoe)",
                           (int)(an.len > 64 ? 64 : an.len), an.ptr);
    struct hp_reader r = {g, a, err, err_len};
    hp->arch = a;
    hp->rope_neox = a->rope_neox;

    const int64_t big = INT32_MAX;
    TRY(get_u(&r, GGUF_KEY_CONTEXT_LENGTH, 0, 0, 1, big, &hp->n_ctx_train));
    TRY(get_u(&r, GGUF_KEY_EMBEDDING_LENGTH, 1, 0, 1, 1 << 20, &hp->n_embd));
    TRY(get_u(&r, GGUF_KEY_BLOCK_COUNT, 1, 0, 1, LIMIT_MAX_LAYERS, &hp->n_layer));
    const int64_t L = hp->n_layer;
    TRY(get_u_per_block(&r, GGUF_KEY_ATTENTION_HEAD_COUNT, 1, 0, 1, 1 << 14, L, &hp->n_head));
    TRY(get_u_per_block(&r, GGUF_KEY_ATTENTION_HEAD_COUNT_KV, 0, hp->n_head, 1, 1 << 14, L,
                        &hp->n_head_kv));
    if (hp->n_head_kv > hp->n_head || hp->n_head % hp->n_head_kv)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expected a divisor of %s = %lld (each key/value head "
                           "serves a whole group of query heads)",
                           KEYA(a, GGUF_KEY_ATTENTION_HEAD_COUNT_KV), (long long)hp->n_head_kv,
                           KEYA(a, GGUF_KEY_ATTENTION_HEAD_COUNT), (long long)hp->n_head);
    const int64_t hd_def = hp->n_embd % hp->n_head ? 0 : hp->n_embd / hp->n_head;
    TRY(get_u(&r, GGUF_KEY_ATTENTION_KEY_LENGTH, 0, hd_def, 1, 1 << 16, &hp->head_dim_k));
    TRY(get_u(&r, GGUF_KEY_ATTENTION_VALUE_LENGTH, 0, hd_def, 1, 1 << 16, &hp->head_dim_v));
    if (hp->head_dim_k == 0 || hp->head_dim_v == 0)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld is not a multiple of %s = %lld, and %s is absent "
                           "(expected the head width n_embd/n_head to be whole, or the key)",
                           KEYA(a, GGUF_KEY_EMBEDDING_LENGTH), (long long)hp->n_embd,
                           KEYA(a, GGUF_KEY_ATTENTION_HEAD_COUNT), (long long)hp->n_head,
                           KEYA(a, hp->head_dim_k == 0 ? GGUF_KEY_ATTENTION_KEY_LENGTH
                                                       : GGUF_KEY_ATTENTION_VALUE_LENGTH));
    TRY(get_u(&r, GGUF_KEY_ROPE_DIMENSION_COUNT, 0, hp->head_dim_k, 0, hp->head_dim_k, &hp->n_rot));
    if (hp->n_rot % 2)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expected an even number (RoPE rotates pairs)",
                           KEYA(a, GGUF_KEY_ROPE_DIMENSION_COUNT), (long long)hp->n_rot);
    TRY(get_f(&r, GGUF_KEY_ROPE_FREQ_BASE, 0, 10000.0f, &hp->rope_base));
    if (!(hp->rope_base > 0))
        return status_errf(err, err_len, JANUS_EFORMAT, "key %s = %g: expected > 0",
                           KEYA(a, GGUF_KEY_ROPE_FREQ_BASE), (double)hp->rope_base);
    TRY(load_rope_scaling(&r, hp));
    TRY(get_f(&r, GGUF_KEY_ATTENTION_LAYER_NORM_RMS_EPSILON, 1, 0, &hp->rms_eps));
    if (!(hp->rms_eps > 0 && hp->rms_eps < 1))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %g: expected a small positive number in (0, 1)",
                           KEYA(a, GGUF_KEY_ATTENTION_LAYER_NORM_RMS_EPSILON), (double)hp->rms_eps);
    TRY(get_u_per_block(&r, GGUF_KEY_FEED_FORWARD_LENGTH, a->id != ARCH_QWEN3MOE, 0, 0, big, L,
                        &hp->n_ff));
    TRY(get_u(&r, GGUF_KEY_VOCAB_SIZE, 0, 0, 1, LIMIT_MAX_VOCAB, &hp->n_vocab));
    if (hp->n_vocab == 0) {
        const struct gguf_tensor *te = gguf_find_tensor(g, "token_embd.weight");
        if (!te)
            return status_errf(err, err_len, JANUS_EFORMAT, "missing tensor token_embd.weight");
        if (te->ne[1] < 1 || te->ne[1] > LIMIT_MAX_VOCAB)
            return status_errf(err, err_len, JANUS_ELIMIT,
                               "tensor token_embd.weight: %lld rows (the vocabulary size) out of "
                               "range [1, %d]",
                               (long long)te->ne[1], LIMIT_MAX_VOCAB);
        hp->n_vocab = te->ne[1];
    }

    // ---- MoE
    TRY(get_u(&r, GGUF_KEY_EXPERT_COUNT, 0, 0, 0, LIMIT_MAX_EXPERTS, &hp->n_expert));
    TRY(get_u(&r, GGUF_KEY_EXPERT_USED_COUNT, hp->n_expert > 0, 0, 0, LIMIT_MAX_EXPERT_USED,
              &hp->n_expert_used));
    if (a->id != ARCH_LLAMA && hp->n_expert == 0)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s is missing or 0: expected > 0 (only MoE %s models exist)",
                           KEYA(a, GGUF_KEY_EXPERT_COUNT), a->name);
    if (hp->n_expert > 0 && (hp->n_expert_used < 1 || hp->n_expert_used > hp->n_expert))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld: expert_used_count must be in [1, expert_count = %lld]",
                           KEYA(a, GGUF_KEY_EXPERT_USED_COUNT), (long long)hp->n_expert_used,
                           (long long)hp->n_expert);
    if (hp->n_expert == 0 && hp->n_expert_used != 0)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key %s = %lld in a dense model (%s absent or 0): expected 0",
                           KEYA(a, GGUF_KEY_EXPERT_USED_COUNT), (long long)hp->n_expert_used,
                           KEYA(a, GGUF_KEY_EXPERT_COUNT));
    hp->gating = HPARAMS_GATING_SOFTMAX;
    hp->weights_scale = 1.0f;
    hp->weights_norm = a->topk_norm_always;
    const int64_t used = hp->n_expert_used > 0 ? hp->n_expert_used : 1;
    switch (a->id) {
    case ARCH_LLAMA:
        TRY(get_u(&r, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, 0, hp->n_ff, 1, big, &hp->n_ff_exp));
        break;
    case ARCH_QWEN2MOE:
        TRY(get_u(&r, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, 0, hp->n_ff / used, 1, big,
                  &hp->n_ff_exp));
        TRY(get_u(&r, GGUF_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH, 0, hp->n_ff, 1, big,
                  &hp->n_ff_shexp));
        hp->n_expert_shared = 1;
        break;
    case ARCH_OLMOE: TRY(load_olmoe(&r, hp)); break;
    case ARCH_QWEN3MOE:
        TRY(get_u(&r, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, 0, hp->n_ff / used, 1, big,
                  &hp->n_ff_exp));
        break;
    case ARCH_DEEPSEEK2: {
        TRY(get_u(&r, GGUF_KEY_LEADING_DENSE_BLOCK_COUNT, 0, 0, 0, hp->n_layer, &hp->n_dense_lead));
        TRY(get_u(&r, GGUF_KEY_ATTENTION_Q_LORA_RANK, 0, 0, 0, 1 << 16, &hp->q_lora));
        TRY(get_u(&r, GGUF_KEY_ATTENTION_KV_LORA_RANK, 1, 0, 1, 1 << 16, &hp->kv_lora));
        TRY(load_mla_lengths(&r, hp));
        TRY(get_u(&r, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, 1, 0, 1, big, &hp->n_ff_exp));
        TRY(get_u(&r, GGUF_KEY_EXPERT_SHARED_COUNT, 0, 0, 0, LIMIT_MAX_EXPERTS,
                  &hp->n_expert_shared));
        hp->n_ff_shexp = hp->n_expert_shared * hp->n_ff_exp;
        TRY(get_f(&r, GGUF_KEY_EXPERT_WEIGHTS_SCALE, 0, 1.0f, &hp->weights_scale));
        TRY(get_b(&r, GGUF_KEY_EXPERT_WEIGHTS_NORM, 0, &hp->weights_norm));
        int64_t gf = 0;
        TRY(get_u(&r, GGUF_KEY_EXPERT_GATING_FUNC, 0, 0, 0, big, &gf));
        if (gf == 0 || gf == HPARAMS_GATING_SOFTMAX)
            hp->gating = HPARAMS_GATING_SOFTMAX;
        else if (gf == HPARAMS_GATING_SIGMOID)
            hp->gating = HPARAMS_GATING_SIGMOID;
        else
            return status_errf(err, err_len, gf == 3 ? JANUS_EUNSUPPORTED : JANUS_EFORMAT,
                               "key %s = %lld: %s (expected 0 or 1 softmax, 2 sigmoid)",
                               KEYA(a, GGUF_KEY_EXPERT_GATING_FUNC), (long long)gf,
                               gf == 3 ? "softmax_weight gating is not used by deepseek2"
                                       : "unknown gating function");
        hp->qk_rope = hp->n_rot;
        hp->qk_nope = hp->head_dim_k - hp->n_rot;
        hp->v_head = hp->head_dim_v;
        break;
    }
    default: break;
    }
    TRY(check(&r, hp));
    if (err_len) err[0] = 0;
    return JANUS_OK;
}
