// Architecture table and GGUF name formatting (arch.h).
// Pure constant tables; no allocation.
// SPDX-License-Identifier: MIT
#include "model/arch.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const struct arch_info arch_table[ARCH_COUNT] = {
    [ARCH_LLAMA] = {.id = ARCH_LLAMA,
                    .name = "llama",
                    .rope_neox = 0,
                    .shared = ARCH_SHARED_NONE,
                    .topk_norm_always = 1},
    [ARCH_QWEN2MOE] = {.id = ARCH_QWEN2MOE,
                       .name = "qwen2moe",
                       .rope_neox = 1,
                       .qkv_bias = 1,
                       .shared = ARCH_SHARED_SIGMOID},
    [ARCH_QWEN3MOE] = {.id = ARCH_QWEN3MOE,
                       .name = "qwen3moe",
                       .rope_neox = 1,
                       .qk_norm = 1,
                       .shared = ARCH_SHARED_NONE,
                       .topk_norm_always = 1},
    [ARCH_DEEPSEEK2] = {.id = ARCH_DEEPSEEK2,
                        .name = "deepseek2",
                        .rope_neox = 0,
                        .mla = 1,
                        .shared = ARCH_SHARED_PLAIN,
                        .gating_keys = 1},
    [ARCH_OLMOE] = {.id = ARCH_OLMOE,
                    .name = "olmoe",
                    .rope_neox = 1,
                    .qk_norm_full = 1,
                    .shared = ARCH_SHARED_NONE},
};

const struct arch_info *arch_find(const char *name, size_t n) {
    for (int i = 0; i < ARCH_COUNT; i++) {
        const char *an = arch_table[i].name;
        if (strlen(an) == n && memcmp(an, name, n) == 0) return &arch_table[i];
    }
    return NULL;
}

const struct arch_info *arch_get(enum arch_id id) {
    if ((int)id < 0 || id >= ARCH_COUNT) return NULL;
    return &arch_table[id];
}

// "%d" is the layer index.
static const char *const tensor_fmt[ARCH_T_COUNT] = {
    [ARCH_T_TOKEN_EMBD] = "token_embd.weight",
    [ARCH_T_OUTPUT_NORM] = "output_norm.weight",
    [ARCH_T_OUTPUT] = "output.weight",
    [ARCH_T_ATTN_NORM] = "blk.%d.attn_norm.weight",
    [ARCH_T_ATTN_Q] = "blk.%d.attn_q.weight",
    [ARCH_T_ATTN_K] = "blk.%d.attn_k.weight",
    [ARCH_T_ATTN_V] = "blk.%d.attn_v.weight",
    [ARCH_T_ATTN_OUT] = "blk.%d.attn_output.weight",
    [ARCH_T_ATTN_Q_BIAS] = "blk.%d.attn_q.bias",
    [ARCH_T_ATTN_K_BIAS] = "blk.%d.attn_k.bias",
    [ARCH_T_ATTN_V_BIAS] = "blk.%d.attn_v.bias",
    [ARCH_T_ATTN_Q_NORM] = "blk.%d.attn_q_norm.weight",
    [ARCH_T_ATTN_K_NORM] = "blk.%d.attn_k_norm.weight",
    [ARCH_T_ATTN_Q_A] = "blk.%d.attn_q_a.weight",
    [ARCH_T_ATTN_Q_A_NORM] = "blk.%d.attn_q_a_norm.weight",
    [ARCH_T_ATTN_Q_B] = "blk.%d.attn_q_b.weight",
    [ARCH_T_ATTN_KV_A_MQA] = "blk.%d.attn_kv_a_mqa.weight",
    [ARCH_T_ATTN_KV_A_NORM] = "blk.%d.attn_kv_a_norm.weight",
    [ARCH_T_ATTN_KV_B] = "blk.%d.attn_kv_b.weight",
    [ARCH_T_ATTN_K_B] = "blk.%d.attn_k_b.weight",
    [ARCH_T_ATTN_V_B] = "blk.%d.attn_v_b.weight",
    [ARCH_T_FFN_NORM] = "blk.%d.ffn_norm.weight",
    [ARCH_T_FFN_GATE] = "blk.%d.ffn_gate.weight",
    [ARCH_T_FFN_UP] = "blk.%d.ffn_up.weight",
    [ARCH_T_FFN_DOWN] = "blk.%d.ffn_down.weight",
    [ARCH_T_FFN_GATE_INP] = "blk.%d.ffn_gate_inp.weight",
    [ARCH_T_FFN_GATE_EXPS] = "blk.%d.ffn_gate_exps.weight",
    [ARCH_T_FFN_UP_EXPS] = "blk.%d.ffn_up_exps.weight",
    [ARCH_T_FFN_DOWN_EXPS] = "blk.%d.ffn_down_exps.weight",
    [ARCH_T_EXP_PROBS_B] = "blk.%d.exp_probs_b.bias",
    [ARCH_T_FFN_GATE_INP_SHEXP] = "blk.%d.ffn_gate_inp_shexp.weight",
    [ARCH_T_FFN_GATE_SHEXP] = "blk.%d.ffn_gate_shexp.weight",
    [ARCH_T_FFN_UP_SHEXP] = "blk.%d.ffn_up_shexp.weight",
    [ARCH_T_FFN_DOWN_SHEXP] = "blk.%d.ffn_down_shexp.weight",
};

const char *arch_tensor_name(char *buf, size_t n, enum arch_tensor t, int layer) {
    const char *f = ((int)t >= 0 && t < ARCH_T_COUNT) ? tensor_fmt[t] : "?";
    if (strchr(f, '%'))
        snprintf(buf, n, "blk.%d.%s", layer, f + strlen("blk.%d."));
    else
        snprintf(buf, n, "%s", f);
    return buf;
}

// ---- strict validation data: the tensor kinds each architecture's converter writes
// (llama.cpp src/llama-arch.cpp LLM_TENSOR_NAMES, convert_hf_to_gguf.py). One row per
// architecture; a kind added to enum arch_tensor is allowed only where its row names it.

#define K(t) (UINT64_C(1) << (t))
// Every architecture: embeddings, head, per-block norms and the attention output.
#define K_COMMON                                                                                   \
    (K(ARCH_T_TOKEN_EMBD) | K(ARCH_T_OUTPUT_NORM) | K(ARCH_T_OUTPUT) | K(ARCH_T_ATTN_NORM) |       \
     K(ARCH_T_ATTN_OUT) | K(ARCH_T_FFN_NORM))
#define K_QKV      (K(ARCH_T_ATTN_Q) | K(ARCH_T_ATTN_K) | K(ARCH_T_ATTN_V))
#define K_QKV_BIAS (K(ARCH_T_ATTN_Q_BIAS) | K(ARCH_T_ATTN_K_BIAS) | K(ARCH_T_ATTN_V_BIAS))
#define K_MLA                                                                                      \
    (K(ARCH_T_ATTN_Q) | K(ARCH_T_ATTN_Q_A) | K(ARCH_T_ATTN_Q_A_NORM) | K(ARCH_T_ATTN_Q_B) |        \
     K(ARCH_T_ATTN_KV_A_MQA) | K(ARCH_T_ATTN_KV_A_NORM) | K(ARCH_T_ATTN_KV_B) |                    \
     K(ARCH_T_ATTN_K_B) | K(ARCH_T_ATTN_V_B))
#define K_DENSE (K(ARCH_T_FFN_GATE) | K(ARCH_T_FFN_UP) | K(ARCH_T_FFN_DOWN))
#define K_EXPS                                                                                     \
    (K(ARCH_T_FFN_GATE_INP) | K(ARCH_T_FFN_GATE_EXPS) | K(ARCH_T_FFN_UP_EXPS) |                    \
     K(ARCH_T_FFN_DOWN_EXPS))
#define K_SHEXP (K(ARCH_T_FFN_GATE_SHEXP) | K(ARCH_T_FFN_UP_SHEXP) | K(ARCH_T_FFN_DOWN_SHEXP))

_Static_assert(ARCH_T_COUNT <= 64, "arch_tensor_kinds holds one bit per tensor kind");

static const uint64_t arch_tensor_kinds[ARCH_COUNT] = {
    // dense llama and Mixtral-style MoE
    [ARCH_LLAMA] = K_COMMON | K_QKV | K_DENSE | K_EXPS,
    [ARCH_QWEN2MOE] =
        K_COMMON | K_QKV | K_QKV_BIAS | K_EXPS | K(ARCH_T_FFN_GATE_INP_SHEXP) | K_SHEXP,
    [ARCH_QWEN3MOE] = K_COMMON | K_QKV | K(ARCH_T_ATTN_Q_NORM) | K(ARCH_T_ATTN_K_NORM) | K_EXPS,
    [ARCH_DEEPSEEK2] = K_COMMON | K_MLA | K_DENSE | K_EXPS | K(ARCH_T_EXP_PROBS_B) | K_SHEXP,
    // olmoe: q/k norms over the whole projection (llama.cpp llama_model_olmoe)
    [ARCH_OLMOE] = K_COMMON | K_QKV | K(ARCH_T_ATTN_Q_NORM) | K(ARCH_T_ATTN_K_NORM) | K_EXPS,
};

int arch_tensor_allowed(enum arch_id id, enum arch_tensor t) {
    if ((int)id < 0 || id >= ARCH_COUNT || (int)t < 0 || t >= ARCH_T_COUNT) return 0;
    return (arch_tensor_kinds[id] >> t) & 1;
}

int arch_tensor_block(const char *name, size_t n) {
    if (n < 6 || memcmp(name, "blk.", 4) != 0) return -1;
    size_t i = 4;
    if (name[i] < '0' || name[i] > '9' || (name[i] == '0' && i + 1 < n && name[i + 1] != '.'))
        return -1;
    long long v = 0;
    for (; i < n && name[i] >= '0' && name[i] <= '9'; i++) {
        v = v * 10 + (name[i] - '0');
        if (v > INT32_MAX) return -1;
    }
    if (i >= n || name[i] != '.') return -1;
    return (int)v;
}

int arch_tensor_parse(const char *name, size_t n, enum arch_tensor *t, int *layer) {
    int il = arch_tensor_block(name, n);
    const char *rest = name;
    size_t rn = n;
    if (il >= 0) {
        const char *dot = memchr(name + 4, '.', n - 4);
        rest = dot + 1;
        rn = n - (size_t)(rest - name);
    }
    for (int k = 0; k < ARCH_T_COUNT; k++) {
        const char *f = tensor_fmt[k];
        const int per_block = strchr(f, '%') != NULL;
        if (per_block != (il >= 0)) continue;
        if (per_block) f += strlen("blk.%d.");
        if (strlen(f) == rn && memcmp(f, rest, rn) == 0) {
            *t = (enum arch_tensor)k;
            *layer = il;
            return 1;
        }
    }
    return 0;
}
