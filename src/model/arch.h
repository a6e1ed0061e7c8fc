// Per-architecture table: the GGUF names (hyper-parameter keys and tensor names, as current
// llama.cpp converters write them) and the structural features of each supported MoE
// architecture: llama with experts (Mixtral), qwen2moe, qwen3moe, deepseek2 (SPEC §9;
// fixtures README §3, §9.1) and olmoe (issue 12 item 6). Pure data and name formatting; no
// allocation. SPDX-License-Identifier: MIT
#ifndef JANUS_ARCH_H
#define JANUS_ARCH_H

#include <stddef.h>

enum arch_id {
    ARCH_LLAMA = 0,     // "llama" (+ expert_count: Mixtral-style MoE; without: dense llama)
    ARCH_QWEN2MOE = 1,  // "qwen2moe"
    ARCH_QWEN3MOE = 2,  // "qwen3moe"
    ARCH_DEEPSEEK2 = 3, // "deepseek2" (MLA)
    ARCH_OLMOE = 4,     // "olmoe" (OLMoE: q/k RMSNorm over the whole projection)
    ARCH_COUNT
};

// How the shared expert(s) of a MoE layer combine with the routed output.
enum arch_shared {
    ARCH_SHARED_NONE = 0,    // llama, qwen3moe
    ARCH_SHARED_SIGMOID = 1, // qwen2moe: sigmoid(ffn_gate_inp_shexp · x) · FFN_sh(x)
    ARCH_SHARED_PLAIN = 2,   // deepseek2: FFN_sh(x), width n_expert_shared · n_ff_exp
};

struct arch_info {
    enum arch_id id;
    const char *name;        // general.architecture value
    int rope_neox;           // 1: NEOX pairs (i, i+n_rot/2); 0: NORM pairs (2i, 2i+1)
    int qkv_bias;            // attn_{q,k,v}.bias present (qwen2moe)
    int qk_norm;             // per-head attn_{q,k}_norm before RoPE (qwen3moe)
    int qk_norm_full;        // attn_{q,k}_norm over the whole q / k projection (olmoe)
    int mla;                 // multi-head latent attention (deepseek2)
    enum arch_shared shared; // shared expert kind
    int topk_norm_always;    // top-k weights always renormalised (llama, qwen3moe)
    int gating_keys;         // reads expert_gating_func / weights_norm / weights_scale / groups
};

// Returns the table entry for an architecture name (not NUL-terminated: n bytes), or NULL.
const struct arch_info *arch_find(const char *name, size_t n);
const struct arch_info *arch_get(enum arch_id id);

// Tensor kinds. Names follow llama.cpp's LLM_TENSOR_NAMES ("blk.%d.<kind>.weight").
enum arch_tensor {
    ARCH_T_TOKEN_EMBD = 0, // token_embd.weight        {E, V}
    ARCH_T_OUTPUT_NORM,    // output_norm.weight       {E}
    ARCH_T_OUTPUT,         // output.weight            {E, V} (absent: tied to token_embd)
    ARCH_T_ATTN_NORM,      // blk.N.attn_norm.weight   {E}
    ARCH_T_ATTN_Q,         // blk.N.attn_q.weight      {E, H·hd}  (deepseek2 without q_lora: {E,
                           // H·(nope+rope)})
    ARCH_T_ATTN_K,         // blk.N.attn_k.weight      {E, Hkv·hd}
    ARCH_T_ATTN_V,         // blk.N.attn_v.weight      {E, Hkv·hd}
    ARCH_T_ATTN_OUT,       // blk.N.attn_output.weight {H·hd_v, E}
    ARCH_T_ATTN_Q_BIAS,    // blk.N.attn_q.bias        {H·hd}      qwen2moe
    ARCH_T_ATTN_K_BIAS,    // blk.N.attn_k.bias        {Hkv·hd}    qwen2moe
    ARCH_T_ATTN_V_BIAS,    // blk.N.attn_v.bias        {Hkv·hd}    qwen2moe
    ARCH_T_ATTN_Q_NORM,    // blk.N.attn_q_norm.weight {hd}        qwen3moe
    ARCH_T_ATTN_K_NORM,    // blk.N.attn_k_norm.weight {hd}        qwen3moe
    ARCH_T_ATTN_Q_A,       // blk.N.attn_q_a.weight      {E, q_lora}             deepseek2
    ARCH_T_ATTN_Q_A_NORM,  // blk.N.attn_q_a_norm.weight {q_lora}
    ARCH_T_ATTN_Q_B,       // blk.N.attn_q_b.weight      {q_lora, H·(nope+rope)}
    ARCH_T_ATTN_KV_A_MQA,  // blk.N.attn_kv_a_mqa.weight {E, kv_lora+rope}
    ARCH_T_ATTN_KV_A_NORM, // blk.N.attn_kv_a_norm.weight {kv_lora}
    ARCH_T_ATTN_KV_B,      // blk.N.attn_kv_b.weight     {kv_lora, H·(nope+v)}
    ARCH_T_ATTN_K_B,       // blk.N.attn_k_b.weight      {nope, kv_lora, H}  split kv_b (current
                           // converters): head h = kv_b's k-rows of h, transposed
    ARCH_T_ATTN_V_B,       // blk.N.attn_v_b.weight      {kv_lora, v, H}  kv_b's v-rows of h
    ARCH_T_FFN_NORM,       // blk.N.ffn_norm.weight    {E}
    ARCH_T_FFN_GATE,       // blk.N.ffn_gate.weight    {E, n_ff}   dense layers
    ARCH_T_FFN_UP,         // blk.N.ffn_up.weight      {E, n_ff}
    ARCH_T_FFN_DOWN,       // blk.N.ffn_down.weight    {n_ff, E}
    ARCH_T_FFN_GATE_INP,   // blk.N.ffn_gate_inp.weight {E, n_expert}   router
    ARCH_T_FFN_GATE_EXPS,  // blk.N.ffn_gate_exps.weight {E, n_ff_exp, n_expert}
    ARCH_T_FFN_UP_EXPS,    // blk.N.ffn_up_exps.weight   {E, n_ff_exp, n_expert}
    ARCH_T_FFN_DOWN_EXPS,  // blk.N.ffn_down_exps.weight {n_ff_exp, E, n_expert}
    ARCH_T_EXP_PROBS_B,    // blk.N.exp_probs_b.bias     {n_expert}  deepseek2 V3 selection bias
    ARCH_T_FFN_GATE_INP_SHEXP, // blk.N.ffn_gate_inp_shexp.weight {E}  qwen2moe shared gate
    ARCH_T_FFN_GATE_SHEXP,     // blk.N.ffn_gate_shexp.weight {E, n_ff_sh}
    ARCH_T_FFN_UP_SHEXP,       // blk.N.ffn_up_shexp.weight   {E, n_ff_sh}
    ARCH_T_FFN_DOWN_SHEXP,     // blk.N.ffn_down_shexp.weight {n_ff_sh, E}
    ARCH_T_COUNT
};

// Writes the tensor name for kind t (layer ignored for the global tensors) into buf.
// Returns buf.
const char *arch_tensor_name(char *buf, size_t n, enum arch_tensor t, int layer);

// ---- strict validation data (issue 12 item 4; docs/GGUF.md "What we refuse")
// The tensor kinds llama.cpp's converters write for architecture id (arch.c: one row of
// kinds per architecture). The loader refuses every tensor it does not bind; this set only
// decides how the refusal is worded ("no llama converter writes attn_q.bias" versus "present
// but <key> says it is not used").
int arch_tensor_allowed(enum arch_id id, enum arch_tensor t);
// Parses a tensor name (n bytes, not NUL-terminated) of the arch_tensor_name form: sets *t
// and *layer (-1 for the global tensors) and returns 1; returns 0 for any other name.
// Block numbers are decimal without sign or leading zeros ("blk.01." is not a name).
int arch_tensor_parse(const char *name, size_t n, enum arch_tensor *t, int *layer);
// The block number of a "blk.N." name (N < 2^31), or -1.
int arch_tensor_block(const char *name, size_t n);

#endif // JANUS_ARCH_H
