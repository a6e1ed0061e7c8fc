// Weight binding (weights.h): every tensor the architecture needs is looked up by name and
// checked for shape and type; the model keeps zero-copy views into the GGUF map. Strict
// (issue 12 item 4): a tensor the binding did not use is refused, with the reason (block
// beyond block_count, not an architecture tensor, or a key that says it is unused).
// SPDX-License-Identifier: MIT
#include "model/weights.h"
#include "model/gguf_keys.h"

#include "base/clock.h"
#include "base/mem.h"
#include "base/status.h"
#include "kernels/quant.h"
#include "kernels/types.h"

#include <stdio.h>
#include <string.h>

int weights_kern_type(uint32_t t) {
    switch (t) {
    case GGML_TYPE_F32: return KERN_W_F32;
    case GGML_TYPE_F16: return KERN_W_F16;
    case GGML_TYPE_BF16: return KERN_W_BF16;
    case GGML_TYPE_Q8_0: return KERN_W_Q8_0;
    case GGML_TYPE_Q4_0: return KERN_W_Q4_0;
    case GGML_TYPE_Q4_1: return KERN_W_Q4_1;
    case GGML_TYPE_Q5_0: return KERN_W_Q5_0;
    case GGML_TYPE_Q5_1: return KERN_W_Q5_1;
    case GGML_TYPE_Q2_K: return KERN_W_Q2_K;
    case GGML_TYPE_Q3_K: return KERN_W_Q3_K;
    case GGML_TYPE_Q4_K: return KERN_W_Q4_K;
    case GGML_TYPE_Q5_K: return KERN_W_Q5_K;
    case GGML_TYPE_Q6_K: return KERN_W_Q6_K;
    case GGML_TYPE_IQ4_NL: return KERN_W_IQ4_NL;
    case GGML_TYPE_IQ4_XS: return KERN_W_IQ4_XS;
    default: return -1;
    }
}

uint32_t weights_ggml_type(int kt) {
    static const uint32_t k[KERN_W_COUNT] = {
        [KERN_W_F32] = GGML_TYPE_F32,       [KERN_W_F16] = GGML_TYPE_F16,
        [KERN_W_BF16] = GGML_TYPE_BF16,     [KERN_W_Q8_0] = GGML_TYPE_Q8_0,
        [KERN_W_Q4_0] = GGML_TYPE_Q4_0,     [KERN_W_Q4_1] = GGML_TYPE_Q4_1,
        [KERN_W_Q5_0] = GGML_TYPE_Q5_0,     [KERN_W_Q5_1] = GGML_TYPE_Q5_1,
        [KERN_W_Q2_K] = GGML_TYPE_Q2_K,     [KERN_W_Q3_K] = GGML_TYPE_Q3_K,
        [KERN_W_Q4_K] = GGML_TYPE_Q4_K,     [KERN_W_Q5_K] = GGML_TYPE_Q5_K,
        [KERN_W_Q6_K] = GGML_TYPE_Q6_K,     [KERN_W_IQ4_NL] = GGML_TYPE_IQ4_NL,
        [KERN_W_IQ4_XS] = GGML_TYPE_IQ4_XS,
    };
    JANUS_ASSERT(kt >= 0 && kt < KERN_W_COUNT);
    return k[kt];
}

const char *weights_computable_list(char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = 0;
    for (int t = 0; t < KERN_W_COUNT && o < cap; t++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", t ? ", " : "", kern_wtype_info(t)->name);
    return buf;
}

struct wview wview3_mat(const struct wview3 *w, int64_t e) {
    JANUS_ASSERT(e >= 0 && e < w->n_mat);
    struct wview v = w->mat;
    v.data = (const uint8_t *)w->mat.data + (size_t)e * w->mat_bytes;
    return v;
}

struct wview wview_rows(const struct wview *w, int64_t r0, int64_t n) {
    JANUS_ASSERT(r0 >= 0 && n >= 0 && r0 + n <= w->n_out);
    struct wview v = *w;
    v.data = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
    v.n_out = n;
    return v;
}

void wview_row_f32(const struct wview *w, int64_t r, float *out) {
    JANUS_ASSERT(r >= 0 && r < w->n_out);
    JANUS_ASSERT(w->type >= 0 && w->type < KERN_W_COUNT);
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    if (w->type == KERN_W_F32)
        memcpy(out, row, (size_t)w->n_in * sizeof(float));
    else
        quant_dequantize_row((int)w->type, out, row, w->n_in);
}

// ---- binding

struct binder {
    struct model *m;
    char *err;
    size_t err_len;
    uint8_t *used; // (n_tensors) 1 once a tensor is bound by name
    // The first unsupported-type error, reported only once every tensor's name and shape
    // passed: a quantized file with a structural error reports the structural error.
    int type_rc;
    char type_err[JANUS_ERR_LEN];
};

// Appends gt to the model's list of bound tensors (what model_load_share walks).
static int record_bound(struct binder *b, const struct gguf_tensor *gt, enum arch_tensor t,
                        int il) {
    struct model *m = b->m;
    if (m->n_bound == m->bound_cap) {
        int64_t cap = m->bound_cap ? 2 * m->bound_cap : 64;
        struct model_tensor *nb = mem_realloc(MEM_TAG_MODEL, m->bound, (size_t)cap * sizeof *nb);
        if (!nb) return status_errf(b->err, b->err_len, JANUS_ENOMEM, "out of memory");
        m->bound = nb;
        m->bound_cap = cap;
    }
    m->bound[m->n_bound++] = (struct model_tensor){gt, (int16_t)t, (int16_t)il};
    return JANUS_OK;
}

static void fmt_shape(char *buf, size_t n, int nd, const int64_t *ne) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "{");
    for (int i = 0; i < nd && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? ", " : "", (long long)ne[i]);
    if (off < n) snprintf(buf + off, n - off, "}");
}

static int is_expert_kind(enum arch_tensor t) {
    return t == ARCH_T_FFN_GATE_INP || t == ARCH_T_FFN_GATE_EXPS || t == ARCH_T_FFN_UP_EXPS ||
           t == ARCH_T_FFN_DOWN_EXPS || t == ARCH_T_EXP_PROBS_B || t == ARCH_T_FFN_GATE_INP_SHEXP ||
           t == ARCH_T_FFN_GATE_SHEXP || t == ARCH_T_FFN_UP_SHEXP || t == ARCH_T_FFN_DOWN_SHEXP;
}

static int is_shexp_kind(enum arch_tensor t) {
    return t == ARCH_T_FFN_GATE_SHEXP || t == ARCH_T_FFN_UP_SHEXP || t == ARCH_T_FFN_DOWN_SHEXP;
}

// Which keys make block tensor t of block il required, for "missing tensor" messages.
static const char *why_needed(char *buf, size_t n, const struct hparams *hp, enum arch_tensor t,
                              int il) {
    const struct arch_info *a = hp->arch;
    char k1[128], k2[128];
    gguf_key(k1, sizeof k1, a->name, GGUF_KEY_EXPERT_COUNT);
    gguf_key(k2, sizeof k2, a->name, GGUF_KEY_LEADING_DENSE_BLOCK_COUNT);
    if (is_shexp_kind(t) && a->id == ARCH_DEEPSEEK2) {
        gguf_key(k1, sizeof k1, a->name, GGUF_KEY_EXPERT_SHARED_COUNT);
        snprintf(buf, n, "block %d is a MoE block and %s = %lld", il, k1,
                 (long long)hp->n_expert_shared);
    } else if (is_expert_kind(t) && hp->n_dense_lead > 0) {
        snprintf(buf, n, "block %d is a MoE block: %s = %lld", il, k2, (long long)hp->n_dense_lead);
    } else if (is_expert_kind(t)) {
        snprintf(buf, n, "block %d is a MoE block: %s = %lld%s", il, k1, (long long)hp->n_expert,
                 a->id == ARCH_DEEPSEEK2 ? ", no leading dense blocks" : "");
    } else if (t == ARCH_T_FFN_GATE || t == ARCH_T_FFN_UP || t == ARCH_T_FFN_DOWN) {
        if (hp->n_expert == 0)
            snprintf(buf, n, "%s is absent or 0: a dense model", k1);
        else
            snprintf(buf, n, "block %d is dense: %s = %lld", il, k2, (long long)hp->n_dense_lead);
    } else if (a->mla && (t == ARCH_T_ATTN_Q || t == ARCH_T_ATTN_Q_A || t == ARCH_T_ATTN_Q_A_NORM ||
                          t == ARCH_T_ATTN_Q_B)) {
        gguf_key(k1, sizeof k1, a->name, GGUF_KEY_ATTENTION_Q_LORA_RANK);
        if (hp->q_lora > 0)
            snprintf(buf, n, "%s = %lld", k1, (long long)hp->q_lora);
        else
            snprintf(buf, n, "%s is absent or 0", k1);
    } else {
        gguf_key(k1, sizeof k1, a->name, GGUF_KEY_BLOCK_COUNT);
        snprintf(buf, n, "%s = %lld: blocks 0..%lld must be present", k1, (long long)hp->n_layer,
                 (long long)hp->n_layer - 1);
    }
    return buf;
}

// Looks up tensor kind t of layer il with the expected shape (nd dims). f32_only: 1-D norms,
// biases and the like must be F32. Returns JANUS_OK with *out set, JANUS_ENOTFOUND (err
// written) when absent, or another error. A tensor of a type the engine cannot compute is
// JANUS_OK with *out = NULL and the error kept in b->type_err (see struct binder).
static int bind(struct binder *b, enum arch_tensor t, int il, int nd, const int64_t *ne,
                int f32_only, const struct gguf_tensor **out) {
    char name[96];
    arch_tensor_name(name, sizeof name, t, il);
    const struct gguf_tensor *gt = gguf_find_tensor(&b->m->gguf, name);
    if (!gt && il >= 0) {
        char why[320];
        return status_errf(b->err, b->err_len, JANUS_ENOTFOUND, "missing tensor %s (%s)", name,
                           why_needed(why, sizeof why, &b->m->hp, t, il));
    }
    if (!gt) return status_errf(b->err, b->err_len, JANUS_ENOTFOUND, "missing tensor %s", name);
    b->used[gt - b->m->gguf.tensors] = 1;
    int64_t want[4] = {1, 1, 1, 1};
    for (int i = 0; i < nd; i++)
        want[i] = ne[i];
    int ok = 1;
    for (int i = 0; i < 4; i++)
        if (gt->ne[i] != want[i]) ok = 0;
    if (!ok) {
        char ws[96], gs[96];
        fmt_shape(ws, sizeof ws, nd, want);
        int gnd = (int)(gt->n_dims < 1 ? 1 : gt->n_dims > 4 ? 4 : gt->n_dims);
        fmt_shape(gs, sizeof gs, gnd, gt->ne);
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "tensor %s: expected shape %s, got %s", name, ws, gs);
    }
    int kt = weights_kern_type(gt->type);
    if (kt < 0 || (f32_only && kt != KERN_W_F32)) {
        if (!b->type_rc) {
            char list[256];
            if (kt < 0)
                b->type_rc = status_errf(b->type_err, sizeof b->type_err, JANUS_EUNSUPPORTED,
                                         "tensor %s: unsupported type %s (computable: %s; "
                                         "docs/GGUF.md \"Tensor types\")",
                                         name, ggml_type_name(gt->type),
                                         weights_computable_list(list, sizeof list));
            else
                b->type_rc = status_errf(b->type_err, sizeof b->type_err, JANUS_EUNSUPPORTED,
                                         "tensor %s: expected type f32, got %s", name,
                                         ggml_type_name(gt->type));
        }
        *out = NULL;
        return JANUS_OK;
    }
    const struct kern_wtype_info *ti = kern_wtype_info(kt);
    if (ne[0] % ti->block_elems)
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "tensor %s: %s row length %lld is not a multiple of its block size %d",
                           name, ti->name, (long long)ne[0], ti->block_elems);
    size_t need = kern_row_bytes(kt, want[0]) * (size_t)want[1] * (size_t)want[2] * (size_t)want[3];
    if (gt->n_bytes < need || !gt->data)
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "tensor %s: %llu data bytes, expected %zu", name,
                           (unsigned long long)gt->n_bytes, need);
    // Views are read as float / uint16_t arrays (every block type starts with or holds uint16_t
    // fields and has an even size, so 2-byte alignment of the tensor aligns every block): the
    // data must be naturally aligned (a file with general.alignment 1 could place it anywhere).
    const uintptr_t align = kt == KERN_W_F32 ? 4 : 2;
    if ((uintptr_t)gt->data % align)
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "tensor %s: data not aligned to %u bytes", name, (unsigned)align);
    b->m->n_bytes_weights += need;
    *out = gt;
    return record_bound(b, gt, t, il);
}

static int bind_vec(struct binder *b, enum arch_tensor t, int il, int64_t n, const float **out) {
    const struct gguf_tensor *gt;
    int rc = bind(b, t, il, 1, &n, 1, &gt);
    if (rc == JANUS_OK) *out = gt ? gt->data : NULL;
    return rc;
}

// Optional vector: absent → *out = NULL, JANUS_OK.
static int bind_vec_opt(struct binder *b, enum arch_tensor t, int il, int64_t n,
                        const float **out) {
    int rc = bind_vec(b, t, il, n, out);
    if (rc == JANUS_ENOTFOUND) {
        *out = NULL;
        b->err[0] = 0;
        return JANUS_OK;
    }
    return rc;
}

static int bind_mat(struct binder *b, enum arch_tensor t, int il, int64_t n_in, int64_t n_out,
                    struct wview *out) {
    const struct gguf_tensor *gt;
    const int64_t ne[2] = {n_in, n_out};
    int rc = bind(b, t, il, 2, ne, 0, &gt);
    if (rc != JANUS_OK || !gt) return rc;
    out->data = gt->data;
    out->type = (enum kern_wtype)weights_kern_type(gt->type);
    out->n_in = n_in;
    out->n_out = n_out;
    out->row_bytes = kern_row_bytes(out->type, n_in);
    return JANUS_OK;
}

static int bind_mat3(struct binder *b, enum arch_tensor t, int il, int64_t n_in, int64_t n_out,
                     int64_t n_mat, struct wview3 *out) {
    const struct gguf_tensor *gt;
    const int64_t ne[3] = {n_in, n_out, n_mat};
    int rc = bind(b, t, il, 3, ne, 0, &gt);
    if (rc != JANUS_OK || !gt) return rc;
    out->mat.data = gt->data;
    out->mat.type = (enum kern_wtype)weights_kern_type(gt->type);
    out->mat.n_in = n_in;
    out->mat.n_out = n_out;
    out->mat.row_bytes = kern_row_bytes(out->mat.type, n_in);
    out->n_mat = n_mat;
    out->mat_bytes = out->mat.row_bytes * (size_t)n_out;
    return JANUS_OK;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != JANUS_OK) return rc_;                                                           \
    } while (0)

// deepseek2 kv_b: legacy files carry attn_kv_b {kv_lora, H·(nope+v)}; files of current
// converters (hp.mla_split) attn_k_b {nope, kv_lora, H} and attn_v_b {kv_lora, v, H}
// (llama.cpp llama_model_deepseek2::load_arch_tensors).
static int bind_mla_kv_b(struct binder *b, int il, struct model_layer *L) {
    const struct hparams *hp = &b->m->hp;
    const int64_t H = hp->n_head, R = hp->kv_lora, nope = hp->qk_nope, dv = hp->v_head;
    if (hp->mla_split) {
        TRY(bind_mat3(b, ARCH_T_ATTN_K_B, il, nope, R, H, &L->wk_b));
        return bind_mat3(b, ARCH_T_ATTN_V_B, il, R, dv, H, &L->wv_b);
    }
    int rc = bind_mat(b, ARCH_T_ATTN_KV_B, il, R, H * (nope + dv), &L->wkv_b);
    char name[96], kvb[96];
    if (rc == JANUS_ENOTFOUND &&
        gguf_find_tensor(&b->m->gguf, arch_tensor_name(name, sizeof name, ARCH_T_ATTN_K_B, il)))
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "missing tensor %s: %s is present, but the split form needs the "
                           "keys deepseek2.attention.key_length_mla and value_length_mla",
                           arch_tensor_name(kvb, sizeof kvb, ARCH_T_ATTN_KV_B, il), name);
    return rc;
}

static int bind_layer(struct binder *b, int il) {
    struct model *m = b->m;
    const struct hparams *hp = &m->hp;
    const struct arch_info *a = hp->arch;
    struct model_layer *L = &m->layers[il];
    const int64_t E = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv;

    TRY(bind_vec(b, ARCH_T_ATTN_NORM, il, E, &L->attn_norm));
    if (a->mla) {
        const int64_t qk = hp->qk_nope + hp->qk_rope;
        if (hp->q_lora > 0) {
            TRY(bind_mat(b, ARCH_T_ATTN_Q_A, il, E, hp->q_lora, &L->wq_a));
            TRY(bind_vec(b, ARCH_T_ATTN_Q_A_NORM, il, hp->q_lora, &L->q_a_norm));
            TRY(bind_mat(b, ARCH_T_ATTN_Q_B, il, hp->q_lora, H * qk, &L->wq_b));
        } else {
            TRY(bind_mat(b, ARCH_T_ATTN_Q, il, E, H * qk, &L->wq));
        }
        TRY(bind_mat(b, ARCH_T_ATTN_KV_A_MQA, il, E, hp->kv_lora + hp->qk_rope, &L->wkv_a_mqa));
        TRY(bind_vec(b, ARCH_T_ATTN_KV_A_NORM, il, hp->kv_lora, &L->kv_a_norm));
        TRY(bind_mla_kv_b(b, il, L));
        TRY(bind_mat(b, ARCH_T_ATTN_OUT, il, H * hp->v_head, E, &L->wo));
    } else {
        const int64_t hd = hp->head_dim_k, hdv = hp->head_dim_v;
        TRY(bind_mat(b, ARCH_T_ATTN_Q, il, E, H * hd, &L->wq));
        TRY(bind_mat(b, ARCH_T_ATTN_K, il, E, Hkv * hd, &L->wk));
        TRY(bind_mat(b, ARCH_T_ATTN_V, il, E, Hkv * hdv, &L->wv));
        TRY(bind_mat(b, ARCH_T_ATTN_OUT, il, H * hdv, E, &L->wo));
        if (a->qkv_bias) {
            TRY(bind_vec(b, ARCH_T_ATTN_Q_BIAS, il, H * hd, &L->bq));
            TRY(bind_vec(b, ARCH_T_ATTN_K_BIAS, il, Hkv * hd, &L->bk));
            TRY(bind_vec(b, ARCH_T_ATTN_V_BIAS, il, Hkv * hdv, &L->bv));
        }
        if (a->qk_norm) {
            TRY(bind_vec(b, ARCH_T_ATTN_Q_NORM, il, hd, &L->q_norm));
            TRY(bind_vec(b, ARCH_T_ATTN_K_NORM, il, hd, &L->k_norm));
        }
        if (a->qk_norm_full) {
            TRY(bind_vec(b, ARCH_T_ATTN_Q_NORM, il, H * hd, &L->q_norm));
            TRY(bind_vec(b, ARCH_T_ATTN_K_NORM, il, Hkv * hd, &L->k_norm));
        }
    }
    TRY(bind_vec(b, ARCH_T_FFN_NORM, il, E, &L->ffn_norm));
    L->is_moe = hparams_layer_is_moe(hp, il);
    if (!L->is_moe) {
        TRY(bind_mat(b, ARCH_T_FFN_GATE, il, E, hp->n_ff, &L->ffn_gate));
        TRY(bind_mat(b, ARCH_T_FFN_UP, il, E, hp->n_ff, &L->ffn_up));
        TRY(bind_mat(b, ARCH_T_FFN_DOWN, il, hp->n_ff, E, &L->ffn_down));
        return JANUS_OK;
    }
    const int64_t X = hp->n_expert, F = hp->n_ff_exp;
    TRY(bind_mat(b, ARCH_T_FFN_GATE_INP, il, E, X, &L->router));
    TRY(bind_mat3(b, ARCH_T_FFN_GATE_EXPS, il, E, F, X, &L->gate_exps));
    TRY(bind_mat3(b, ARCH_T_FFN_UP_EXPS, il, E, F, X, &L->up_exps));
    TRY(bind_mat3(b, ARCH_T_FFN_DOWN_EXPS, il, F, E, X, &L->down_exps));
    if (a->gating_keys) TRY(bind_vec_opt(b, ARCH_T_EXP_PROBS_B, il, X, &L->exp_probs_b));
    if (hp->n_ff_shexp > 0) {
        const int64_t S = hp->n_ff_shexp;
        if (a->shared == ARCH_SHARED_SIGMOID)
            TRY(bind_vec(b, ARCH_T_FFN_GATE_INP_SHEXP, il, E, &L->gate_inp_shexp));
        TRY(bind_mat(b, ARCH_T_FFN_GATE_SHEXP, il, E, S, &L->gate_shexp));
        TRY(bind_mat(b, ARCH_T_FFN_UP_SHEXP, il, E, S, &L->up_shexp));
        TRY(bind_mat(b, ARCH_T_FFN_DOWN_SHEXP, il, S, E, &L->down_shexp));
    }
    return JANUS_OK;
}

// ---- strictness: every tensor of the file must have been bound

// name with non-printable bytes escaped, cut at 80 bytes.
static const char *safe_name(char *buf, size_t cap, const struct gguf_str *s) {
    size_t o = 0;
    for (uint64_t i = 0; i < s->len && i < 80 && o + 5 < cap; i++) {
        const unsigned char c = (unsigned char)s->ptr[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    buf[o] = 0;
    return buf;
}

// Why tensor gt (not bound) is refused. max_block: the highest blk.N in the file.
static int explain_unused(struct binder *b, const struct gguf_tensor *gt, int max_block) {
    const struct hparams *hp = &b->m->hp;
    const struct arch_info *a = hp->arch;
    char name[400], k1[128], k2[128];
    safe_name(name, sizeof name, &gt->name);
    enum arch_tensor t;
    int il;
    if (!arch_tensor_parse(gt->name.ptr, gt->name.len, &t, &il)) {
        if (gt->name.len == strlen("rope_freqs.weight") &&
            !memcmp(gt->name.ptr, "rope_freqs.weight", gt->name.len))
            return status_errf(b->err, b->err_len, JANUS_EUNSUPPORTED,
                               "tensor %s: RoPE frequency factors (llama3-style rope scaling) are "
                               "not supported",
                               name);
        il = arch_tensor_block(gt->name.ptr, gt->name.len);
        if (il < 0 || il < hp->n_layer)
            return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                               "unexpected tensor %s: not a tensor name llama.cpp writes for %s",
                               name, a->name);
    }
    if (il >= hp->n_layer) {
        gguf_key(k1, sizeof k1, a->name, GGUF_KEY_BLOCK_COUNT);
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "unexpected tensor %s: block %d, but %s = %lld (the file has tensors "
                           "of blocks 0..%d; expected block_count = %d, or no block >= %lld)",
                           name, il, k1, (long long)hp->n_layer, max_block, max_block + 1,
                           (long long)hp->n_layer);
    }
    if (!arch_tensor_allowed(a->id, t))
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "unexpected tensor %s: llama.cpp's converters write no such tensor "
                           "for %s",
                           name, a->name);
    // An architecture tensor that this file's keys leave unused.
    const int moe_block = il >= 0 && hparams_layer_is_moe(hp, il);
    gguf_key(k1, sizeof k1, a->name, GGUF_KEY_EXPERT_COUNT);
    gguf_key(k2, sizeof k2, a->name, GGUF_KEY_LEADING_DENSE_BLOCK_COUNT);
    if (is_expert_kind(t) && hp->n_expert == 0)
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "unexpected tensor %s: expert tensor in a dense model (%s is absent "
                           "or 0; expected > 0 with expert tensors)",
                           name, k1);
    if (is_expert_kind(t) && !moe_block)
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "unexpected tensor %s: block %d is dense (%s = %lld); expected no "
                           "router or expert tensors there",
                           name, il, k2, (long long)hp->n_dense_lead);
    if ((t == ARCH_T_FFN_GATE || t == ARCH_T_FFN_UP || t == ARCH_T_FFN_DOWN) && moe_block) {
        char lead[160] = "";
        if (a->id == ARCH_DEEPSEEK2)
            snprintf(lead, sizeof lead, ", %s = %lld", k2, (long long)hp->n_dense_lead);
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "unexpected tensor %s: block %d is a MoE block (%s = %lld%s); expected "
                           "its FFN as ffn_*_exps, not a dense ffn",
                           name, il, k1, (long long)hp->n_expert, lead);
    }
    if (is_shexp_kind(t) && hp->n_ff_shexp == 0) {
        gguf_key(k1, sizeof k1, a->name, GGUF_KEY_EXPERT_SHARED_COUNT);
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "unexpected tensor %s: shared-expert tensor, but %s = %lld (expected "
                           "> 0 when shared-expert tensors are present)",
                           name, k1, (long long)hp->n_expert_shared);
    }
    gguf_key(k1, sizeof k1, a->name, GGUF_KEY_ATTENTION_Q_LORA_RANK);
    if (a->mla && t == ARCH_T_ATTN_Q && hp->q_lora > 0)
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "unexpected tensor %s: %s = %lld selects attn_q_a/attn_q_b; expected "
                           "no plain attn_q",
                           name, k1, (long long)hp->q_lora);
    if (a->mla && (t == ARCH_T_ATTN_Q_A || t == ARCH_T_ATTN_Q_A_NORM || t == ARCH_T_ATTN_Q_B) &&
        hp->q_lora == 0)
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "unexpected tensor %s: %s is absent or 0 (a plain attn_q); expected it "
                           "to be the rank of attn_q_a, or no attn_q_a/attn_q_b",
                           name, k1);
    return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                       "unexpected tensor %s: not used by this %s model (its keys select other "
                       "tensors)",
                       name, a->name);
}

static int check_unused(struct binder *b) {
    const struct gguf *g = &b->m->gguf;
    int max_block = -1;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const int il = arch_tensor_block(g->tensors[i].name.ptr, g->tensors[i].name.len);
        if (il > max_block) max_block = il;
    }
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!b->used[i]) return explain_unused(b, &g->tensors[i], max_block);
    return JANUS_OK;
}

static int bind_all(struct binder *b) {
    struct model *m = b->m;
    struct hparams *hp = &m->hp;
    TRY(bind_mat(b, ARCH_T_TOKEN_EMBD, -1, hp->n_embd, hp->n_vocab, &m->token_embd));
    TRY(bind_vec(b, ARCH_T_OUTPUT_NORM, -1, hp->n_embd, &m->output_norm));
    int rc = bind_mat(b, ARCH_T_OUTPUT, -1, hp->n_embd, hp->n_vocab, &m->output);
    if (rc == JANUS_ENOTFOUND) {
        m->output = m->token_embd;
        m->output_tied = 1;
        b->err[0] = 0;
    } else if (rc != JANUS_OK) {
        return rc;
    }
    m->layers = mem_calloc(MEM_TAG_MODEL, (size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return status_errf(b->err, b->err_len, JANUS_ENOMEM, "out of memory");
    int n_bias = 0, n_moe = 0, with = -1, without = -1;
    for (int il = 0; il < hp->n_layer; il++) {
        TRY(bind_layer(b, il));
        if (m->layers[il].is_moe) {
            n_moe++;
            n_bias += m->layers[il].exp_probs_b != NULL;
            if (m->layers[il].exp_probs_b && with < 0) with = il;
            if (!m->layers[il].exp_probs_b && without < 0) without = il;
        }
    }
    TRY(check_unused(b));
    if (b->type_rc) return status_errf(b->err, b->err_len, b->type_rc, "%s", b->type_err);
    if (n_bias != 0 && n_bias != n_moe) {
        char have[96], miss[96];
        arch_tensor_name(have, sizeof have, ARCH_T_EXP_PROBS_B, with);
        arch_tensor_name(miss, sizeof miss, ARCH_T_EXP_PROBS_B, without);
        return status_errf(b->err, b->err_len, JANUS_EFORMAT,
                           "missing tensor %s: %s is present, and the selection bias is in every "
                           "MoE block or in none (found in %d of %d MoE blocks)",
                           miss, have, n_bias, n_moe);
    }
    hp->has_exp_probs_b = n_bias > 0;
    return JANUS_OK;
}

static int finish_load(struct model *m, char *err, size_t err_len) {
    struct binder b = {.m = m, .err = err, .err_len = err_len};
    int rc = hparams_load(&m->hp, &m->gguf, err, err_len);
    if (rc == JANUS_OK) {
        b.used =
            mem_calloc(MEM_TAG_MODEL, (size_t)(m->gguf.n_tensors > 0 ? m->gguf.n_tensors : 1), 1);
        rc = b.used ? bind_all(&b) : status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
        mem_free(b.used);
    }
    if (rc != JANUS_OK) {
        model_free(m);
        return rc;
    }
    return JANUS_OK;
}

int model_open(struct model *m, const char *path, const struct fmap_opts *io, char *err,
               size_t err_len) {
    char tmp[256];
    if (!err || !err_len) {
        err = tmp;
        err_len = sizeof tmp;
    }
    err[0] = 0;
    memset(m, 0, sizeof *m);
    int rc = gguf_open_ex(&m->gguf, path, io, err, err_len);
    if (rc != JANUS_OK) {
        memset(m, 0, sizeof *m);
        return rc;
    }
    if (io) m->io = *io;
    m->io.mode = m->gguf.fm.mode;
    return finish_load(m, err, err_len);
}

// ---- loading shares (issue 12 item 2)

static int is_slab_kind(int k) { // a stacked routed-expert tensor: loaded slab by slab
    return k == ARCH_T_FFN_GATE_EXPS || k == ARCH_T_FFN_UP_EXPS || k == ARCH_T_FFN_DOWN_EXPS;
}

static int is_router_kind(int k) { return k == ARCH_T_FFN_GATE_INP || k == ARCH_T_EXP_PROBS_B; }

// Writes every byte range (file offsets) of share sh into out (when non-NULL); returns how
// many there are.
static int64_t share_ranges(const struct model *m, const struct model_share *sh,
                            struct fmap_range *out) {
    const struct model_share all = {.dense = 1, .router = 1, .all_experts = 1};
    if (!sh) sh = &all;
    const uint8_t *base = m->gguf.map;
    const int64_t X = m->hp.n_expert;
    int64_t n = 0;
    for (int64_t i = 0; i < m->n_bound; i++) {
        const struct model_tensor *bt = &m->bound[i];
        const uint64_t off = (uint64_t)((const uint8_t *)bt->t->data - base);
        if (!is_slab_kind(bt->kind)) {
            if (is_router_kind(bt->kind) ? sh->router : sh->dense) {
                if (out) out[n] = (struct fmap_range){off, bt->t->n_bytes};
                n++;
            }
            continue;
        }
        const uint64_t slab = bt->t->n_bytes / (uint64_t)bt->t->ne[2];
        for (int64_t e = 0; e < bt->t->ne[2]; e++) {
            if (!sh->all_experts && !(sh->experts && e < X && sh->experts[bt->layer * X + e]))
                continue;
            if (out) out[n] = (struct fmap_range){off + (uint64_t)e * slab, slab};
            n++;
        }
    }
    return n;
}

uint64_t model_share_bytes(const struct model *m, const struct model_share *sh) {
    int64_t n = share_ranges(m, sh, NULL);
    struct fmap_range *r = mem_alloc(MEM_TAG_MODEL, (size_t)JANUS_MAX(n, 1) * sizeof *r);
    if (!r) return 0;
    share_ranges(m, sh, r);
    uint64_t total = 0;
    for (int64_t i = 0; i < n; i++)
        total += r[i].len;
    mem_free(r);
    return total;
}

int model_load_share(struct model *m, const struct model_share *sh, char *err, size_t err_len) {
    int64_t n = share_ranges(m, sh, NULL);
    struct fmap_range *r = mem_alloc(MEM_TAG_MODEL, (size_t)JANUS_MAX(n, 1) * sizeof *r);
    if (!r) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    share_ranges(m, sh, r);
    uint64_t total = 0;
    for (int64_t i = 0; i < n; i++)
        total += r[i].len;
    int rc = gguf_load_ranges(&m->gguf, r, n, &m->io, err, err_len);
    mem_free(r);
    if (rc == JANUS_OK) m->n_bytes_loaded += total;
    return rc;
}

#define MODEL_LOAD_BATCH (256u << 10)

int model_load_experts(struct model *m, const uint8_t *mask, uint64_t *bytes, char *err,
                       size_t err_len) {
    const struct model_share sh = {.experts = mask};
    int64_t n = share_ranges(m, &sh, NULL);
    struct fmap_range *r = mem_alloc(MEM_TAG_MODEL, (size_t)JANUS_MAX(n, 1) * sizeof *r);
    if (!r) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    share_ranges(m, &sh, r);
    uint64_t total = 0;
    int rc = JANUS_OK;
    // Paced for a thread beside running steps: batches of about MODEL_LOAD_BATCH bytes, 1 ms
    // of sleep between them, so that the steps keep the cores.
    for (int64_t i = 0, j; i < n && rc == JANUS_OK; i = j) {
        uint64_t batch = 0;
        for (j = i; j < n && (j == i || batch + r[j].len <= MODEL_LOAD_BATCH); j++)
            batch += r[j].len;
        if (m->gguf.fm.region)
            rc = fmap_load(&m->gguf.fm, r + i, j - i, UINT64_MAX, &m->io, err, err_len);
        total += batch;
        if (j < n) clock_sleep_ns(1000000);
    }
    mem_free(r);
    if (rc == JANUS_OK) m->n_bytes_loaded += total;
    if (bytes) *bytes = rc == JANUS_OK ? total : 0;
    return rc;
}

void model_drop_experts(struct model *m, const uint8_t *mask) {
    const struct model_share sh = {.experts = mask};
    int64_t n = share_ranges(m, &sh, NULL);
    struct fmap_range *r = mem_alloc(MEM_TAG_MODEL, (size_t)JANUS_MAX(n, 1) * sizeof *r);
    if (!r || !m->gguf.fm.region) {
        mem_free(r);
        return;
    }
    share_ranges(m, &sh, r);
    uint64_t total = 0;
    int calls = 0;
    // Neighbouring slabs of one tensor come in order: one call per run of them (fewer
    // madvise calls, and the pages they share are given back too).
    for (int64_t i = 0, j; i < n; i = j) {
        uint64_t end = r[i].off + r[i].len;
        for (j = i + 1; j < n && r[j].off == end; j++)
            end += r[j].len;
        fmap_release(&m->gguf.fm, r[i].off, end - r[i].off);
        total += end - r[i].off;
        if (++calls % 16 == 0) clock_sleep_ns(1000000); // paced: beside running steps
    }
    m->n_bytes_loaded -= JANUS_MIN(total, m->n_bytes_loaded);
    mem_free(r);
}

int model_load_ex(struct model *m, const char *path, const struct fmap_opts *io, char *err,
                  size_t err_len) {
    char tmp[256];
    if (!err || !err_len) {
        err = tmp;
        err_len = sizeof tmp;
    }
    int rc = model_open(m, path, io, err, err_len);
    if (rc != JANUS_OK) return rc;
    rc = model_load_share(m, NULL, err, err_len);
    if (rc != JANUS_OK) model_free(m);
    return rc;
}

int model_load(struct model *m, const char *path, char *err, size_t err_len) {
    return model_load_ex(m, path, NULL, err, err_len);
}

int model_load_memory(struct model *m, const void *buf, size_t size, char *err, size_t err_len) {
    char tmp[256];
    if (!err || !err_len) {
        err = tmp;
        err_len = sizeof tmp;
    }
    err[0] = 0;
    memset(m, 0, sizeof *m);
    int rc = gguf_open_memory(&m->gguf, buf, size, err, err_len);
    if (rc != JANUS_OK) {
        memset(m, 0, sizeof *m);
        return rc;
    }
    return finish_load(m, err, err_len);
}

void model_free(struct model *m) {
    mem_free(m->layers);
    mem_free(m->bound);
    if (m->gguf.map) gguf_close(&m->gguf); // a zeroed struct is not an open file
    memset(m, 0, sizeof *m);
}

void model_display_name(const struct model *m, const char *path, char *out, size_t cap) {
    struct gguf_str name = {0};
    char err[JANUS_ERR_LEN];
    if (gguf_get_str(&m->gguf, gguf_key_name(GGUF_KEY_GENERAL_NAME), &name, err, sizeof err) ==
            JANUS_OK &&
        name.len > 0) {
        snprintf(out, cap, "%.*s", (int)JANUS_MIN(name.len, (uint64_t)cap - 1), name.ptr);
        return;
    }
    const char *base = strrchr(path, '/');
    snprintf(out, cap, "%s", base ? base + 1 : path);
}
