// Architecture table and GGUF name formatting (arch.h).
// Pure constant tables; no allocation.
// SPDX-License-Identifier: MIT
#include "model/arch.h"

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
