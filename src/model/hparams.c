// Hyper-parameter loading and validation (hparams.h). Defaults follow current llama.cpp
// (llama-model.cpp): key_length/value_length default to n_embd/n_head, rope dimension to
// head_dim, expert widths to feed_forward_length-derived values; group keys are optional
// and validated (n_expert % G == 0, 0 < Gu < G, G < n_expert).
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

// The status of a gguf_get_* lookup of key: JANUS_OK (found), 1 (absent and optional: use
// the default), JANUS_EFORMAT (absent but required; r->err names the key) or the lookup's
// own error.
static int lookup_status(struct hp_reader *r, const char *key, int rc, int required) {
    if (rc != JANUS_ENOTFOUND) return rc;
    if (!required) return 1;
    return status_errf(r->err, r->err_len, JANUS_EFORMAT, "missing key %s", key);
}

// Required/optional u32 with range check. Returns status; absent optional → *out = def.
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
    if ((int64_t)v < lo || (int64_t)v > hi)
        return status_errf(r->err, r->err_len, JANUS_ELIMIT,
                           "key %s = %u out of range [%lld, %lld]", key, v, (long long)lo,
                           (long long)hi);
    *out = v;
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

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != JANUS_OK) return rc_;                                                           \
    } while (0)

static int bad(struct hp_reader *r, int code, const char *msg) {
    return status_errf(r->err, r->err_len, code, "%s", msg);
}

// ---- issue 12 item 6: what current converters write

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
        return bad(r, JANUS_EFORMAT,
                   "olmoe requires key_length == value_length == rope.dimension_count");
    if (hp->n_head * hp->head_dim_k != hp->n_embd)
        return bad(r, JANUS_EFORMAT, "olmoe requires head_count * key_length == embedding_length");
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
    if (!(hp->rope_factor > 0.0f)) return bad(r, JANUS_EFORMAT, "rope.scaling.factor must be > 0");
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
            return bad(r, JANUS_EFORMAT,
                       "rope.scaling.yarn_beta_fast and yarn_beta_slow must be > 0");
        if (hp->rope_orig_ctx < 1)
            return bad(r, JANUS_EFORMAT,
                       "YaRN needs rope.scaling.original_context_length or context_length");
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
        return bad(r, JANUS_EFORMAT,
                   "rope.scaling.* values give a non-finite or non-positive RoPE magnitude");
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
    TRY(get_u(&r, GGUF_KEY_CONTEXT_LENGTH, 0, 0, 0, big, &hp->n_ctx_train));
    TRY(get_u(&r, GGUF_KEY_EMBEDDING_LENGTH, 1, 0, 1, 1 << 20, &hp->n_embd));
    TRY(get_u(&r, GGUF_KEY_BLOCK_COUNT, 1, 0, 1, LIMIT_MAX_LAYERS, &hp->n_layer));
    TRY(get_u(&r, GGUF_KEY_ATTENTION_HEAD_COUNT, 1, 0, 1, 1 << 14, &hp->n_head));
    TRY(get_u(&r, GGUF_KEY_ATTENTION_HEAD_COUNT_KV, 0, hp->n_head, 1, 1 << 14, &hp->n_head_kv));
    if (hp->n_head % hp->n_head_kv)
        return bad(&r, JANUS_EFORMAT, "attention.head_count is not a multiple of head_count_kv");
    const int64_t hd_def = hp->n_embd % hp->n_head ? 0 : hp->n_embd / hp->n_head;
    TRY(get_u(&r, GGUF_KEY_ATTENTION_KEY_LENGTH, 0, hd_def, 1, 1 << 16, &hp->head_dim_k));
    TRY(get_u(&r, GGUF_KEY_ATTENTION_VALUE_LENGTH, 0, hd_def, 1, 1 << 16, &hp->head_dim_v));
    if (hp->head_dim_k == 0 || hp->head_dim_v == 0)
        return bad(&r, JANUS_EFORMAT,
                   "embedding_length is not a multiple of head_count and "
                   "attention.key_length is absent");
    TRY(get_u(&r, GGUF_KEY_ROPE_DIMENSION_COUNT, 0, hp->head_dim_k, 0, hp->head_dim_k, &hp->n_rot));
    if (hp->n_rot % 2) return bad(&r, JANUS_EFORMAT, "rope.dimension_count is odd");
    TRY(get_f(&r, GGUF_KEY_ROPE_FREQ_BASE, 0, 10000.0f, &hp->rope_base));
    if (!(hp->rope_base > 0)) return bad(&r, JANUS_EFORMAT, "rope.freq_base must be > 0");
    TRY(load_rope_scaling(&r, hp));
    TRY(get_f(&r, GGUF_KEY_ATTENTION_LAYER_NORM_RMS_EPSILON, 1, 0, &hp->rms_eps));
    if (!(hp->rms_eps > 0)) return bad(&r, JANUS_EFORMAT, "layer_norm_rms_epsilon must be > 0");
    TRY(get_u(&r, GGUF_KEY_FEED_FORWARD_LENGTH, a->id != ARCH_QWEN3MOE, 0, 0, big, &hp->n_ff));
    TRY(get_u(&r, GGUF_KEY_VOCAB_SIZE, 0, 0, 0, LIMIT_MAX_VOCAB, &hp->n_vocab));
    if (hp->n_vocab == 0) {
        const struct gguf_tensor *te = gguf_find_tensor(g, "token_embd.weight");
        if (!te) return bad(&r, JANUS_EFORMAT, "missing tensor token_embd.weight");
        if (te->ne[1] < 1 || te->ne[1] > LIMIT_MAX_VOCAB)
            return bad(&r, JANUS_ELIMIT, "token_embd.weight: vocabulary size out of range");
        hp->n_vocab = te->ne[1];
    }

    // ---- MoE
    TRY(get_u(&r, GGUF_KEY_EXPERT_COUNT, 0, 0, 0, LIMIT_MAX_EXPERTS, &hp->n_expert));
    TRY(get_u(&r, GGUF_KEY_EXPERT_USED_COUNT, hp->n_expert > 0, 0, 0, LIMIT_MAX_EXPERT_USED,
              &hp->n_expert_used));
    if (a->id != ARCH_LLAMA && hp->n_expert == 0)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: expert_count is missing or 0 (only MoE models are supported)",
                           a->name);
    if (hp->n_expert > 0 && (hp->n_expert_used < 1 || hp->n_expert_used > hp->n_expert))
        return bad(&r, JANUS_EFORMAT, "expert_used_count must be in [1, expert_count]");
    hp->gating = HPARAMS_GATING_SOFTMAX;
    hp->weights_scale = 1.0f;
    hp->weights_norm = a->topk_norm_always;
    switch (a->id) {
    case ARCH_LLAMA:
        TRY(get_u(&r, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, 0, hp->n_ff, 1, big, &hp->n_ff_exp));
        break;
    case ARCH_QWEN2MOE:
        TRY(get_u(&r, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, 0, hp->n_ff / hp->n_expert_used, 1, big,
                  &hp->n_ff_exp));
        TRY(get_u(&r, GGUF_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH, 0, hp->n_ff, 1, big,
                  &hp->n_ff_shexp));
        hp->n_expert_shared = 1;
        break;
    case ARCH_OLMOE: TRY(load_olmoe(&r, hp)); break;
    case ARCH_QWEN3MOE:
        TRY(get_u(&r, GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH, 0, hp->n_ff / hp->n_expert_used, 1, big,
                  &hp->n_ff_exp));
        if (hp->head_dim_k != hp->head_dim_v || hp->n_rot != hp->head_dim_k)
            return bad(&r, JANUS_EFORMAT,
                       "qwen3moe requires key_length == value_length == "
                       "rope.dimension_count");
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
        TRY(get_u(&r, GGUF_KEY_EXPERT_GATING_FUNC, 0, 0, 0, 16, &gf));
        if (gf == 0 || gf == HPARAMS_GATING_SOFTMAX)
            hp->gating = HPARAMS_GATING_SOFTMAX;
        else if (gf == HPARAMS_GATING_SIGMOID)
            hp->gating = HPARAMS_GATING_SIGMOID;
        else
            return status_errf(err, err_len, JANUS_EUNSUPPORTED,
                               "deepseek2.expert_gating_func = %lld unsupported (1 softmax, "
                               "2 sigmoid)",
                               (long long)gf);
        if (hp->n_rot < 2 || hp->n_rot >= hp->head_dim_k)
            return bad(&r, JANUS_EFORMAT,
                       "deepseek2: rope.dimension_count must be in "
                       "[2, key_length)");
        hp->qk_rope = hp->n_rot;
        hp->qk_nope = hp->head_dim_k - hp->n_rot;
        hp->v_head = hp->head_dim_v;
        if (hp->n_dense_lead > 0 && hp->n_ff < 1)
            return bad(&r, JANUS_EFORMAT,
                       "deepseek2: feed_forward_length must be > 0 for "
                       "leading dense layers");
        break;
    }
    default: break;
    }
    if (hp->n_expert == 0 && hp->n_ff < 1)
        return bad(&r, JANUS_EFORMAT, "feed_forward_length must be > 0");

    // Expert groups (read for every architecture; optional; llama.cpp validation).
    TRY(get_u(&r, GGUF_KEY_EXPERT_GROUP_COUNT, 0, 0, 0, LIMIT_MAX_EXPERTS, &hp->n_group));
    TRY(get_u(&r, GGUF_KEY_EXPERT_GROUP_USED_COUNT, 0, 0, 0, LIMIT_MAX_EXPERTS, &hp->n_group_used));
    if (hp->n_group > 1) {
        if (hp->n_expert % hp->n_group)
            return bad(&r, JANUS_EFORMAT, "expert_count is not a multiple of expert_group_count");
        if (!(hp->n_group_used > 0 && hp->n_group_used < hp->n_group))
            return bad(&r, JANUS_EFORMAT,
                       "expert_group_used_count must be in "
                       "(0, expert_group_count)");
        if (!(hp->n_group < hp->n_expert))
            return bad(&r, JANUS_EFORMAT, "expert_group_count must be < expert_count");
        if (hp->n_expert_used > hp->n_group_used * (hp->n_expert / hp->n_group))
            return bad(&r, JANUS_EFORMAT,
                       "expert_used_count exceeds the experts of the kept "
                       "groups");
    } else {
        hp->n_group = 0;
        hp->n_group_used = 0;
    }
    if (err_len) err[0] = 0;
    return JANUS_OK;
}
