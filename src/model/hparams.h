// Model hyper-parameters read from GGUF metadata for one architecture (arch.h), with the
// defaults and validation of current llama.cpp (llama-model.cpp load_hparams; fixtures
// README §3 key table, §9.1). Every field is checked against limits.h and for internal
// consistency before any tensor is looked at. SPEC §9.
// SPDX-License-Identifier: MIT
#ifndef JANUS_HPARAMS_H
#define JANUS_HPARAMS_H

#include "base/base.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/gguf.h"

#include <stdint.h>

// RoPE frequency scaling ({arch}.rope.scaling.type; absent means linear, as llama.cpp).
enum hparams_rope_scaling {
    HPARAMS_ROPE_SCALING_NONE = 0,
    HPARAMS_ROPE_SCALING_LINEAR = 1,
    HPARAMS_ROPE_SCALING_YARN = 2,
};

// Expert gating function ({arch}.expert_gating_func; llama-hparams.h numbering).
enum hparams_gating {
    HPARAMS_GATING_SOFTMAX = 1, // p = softmax(r) over all experts (0 / absent means this)
    HPARAMS_GATING_SIGMOID = 2, // p = sigmoid(r)
};

struct hparams {
    const struct arch_info *arch;
    int64_t n_vocab;     // token count ({arch}.vocab_size, else token_embd ne[1])
    int64_t n_ctx_train; // {arch}.context_length (informational)
    int64_t n_embd;      // E: hidden size
    int64_t n_layer;     // blocks
    int64_t n_head;      // H: query heads
    int64_t n_head_kv;   // Hkv: key/value heads (GQA: H % Hkv == 0)
    int64_t head_dim_k;  // per-head key/query width: attention.key_length, default E/H
                         // (deepseek2: qk_nope + qk_rope)
    int64_t head_dim_v;  // per-head value width: attention.value_length, default E/H
    int64_t n_rot;       // rope.dimension_count (default head_dim_k); deepseek2: qk_rope
    float rope_base;     // rope.freq_base (default 10000)
    int rope_neox;       // 1 NEOX, 0 NORM (from the architecture)
    float rms_eps;       // attention.layer_norm_rms_epsilon
    int64_t n_ff;        // feed_forward_length: dense FFN width (llama: per-expert width)

    // ---- MoE
    int64_t n_expert;        // expert_count (0: dense model)
    int64_t n_expert_used;   // k: expert_used_count
    int64_t n_ff_exp;        // routed expert width (expert_feed_forward_length, see .c)
    int64_t n_ff_shexp;      // total shared-FFN width (qwen2moe: expert_shared_feed_forward_length;
                             // deepseek2: n_expert_shared · n_ff_exp; 0: none)
    int64_t n_expert_shared; // deepseek2 expert_shared_count (qwen2moe: 1)
    int64_t n_dense_lead;    // deepseek2 leading_dense_block_count: layers < this are dense
    enum hparams_gating gating; // softmax or sigmoid
    int weights_norm;           // renormalise the chosen k weights to sum 1
    float weights_scale;        // multiply the weights (expert_weights_scale, default 1)
    int has_exp_probs_b;        // layers carry exp_probs_b (set by weights.c from the tensors)
    int64_t n_group;            // G: expert_group_count (0 or 1: no groups)
    int64_t n_group_used;       // Gu: expert_group_used_count

    // ---- deepseek2 MLA
    int64_t q_lora;  // attention.q_lora_rank (0: plain attn_q)
    int64_t kv_lora; // attention.kv_lora_rank
    int64_t qk_nope; // head_dim_k - n_rot
    int64_t qk_rope; // n_rot
    int64_t v_head;  // head_dim_v
    int mla_split;   // attention.key_length_mla / value_length_mla present: the current
                     // converters' attn_k_b / attn_v_b instead of attn_kv_b (then key_length
                     // / value_length are the latent widths kv_lora+rope / kv_lora)

    // ---- RoPE scaling (llama.cpp's reading of the rope.scaling.* keys; issue 12 item 6)
    enum hparams_rope_scaling rope_scaling_type;
    float rope_factor;      // rope.scaling.factor (absent / 0: 1)
    int64_t rope_orig_ctx;  // rope.scaling.original_context_length (default context_length)
    float yarn_ext_factor;  // rope.scaling.yarn_ext_factor (absent: 1 for YaRN, else 0)
    float yarn_attn_factor; // rope.scaling.yarn_attn_factor (default 1; replaced under YaRN)
    float yarn_beta_fast;   // rope.scaling.yarn_beta_fast (default 32)
    float yarn_beta_slow;   // rope.scaling.yarn_beta_slow (default 1)
    float yarn_log_mul;     // deepseek2 rope.scaling.yarn_log_multiplier / 0.1 (mscale_all_dim)
    float rope_attn_factor; // rope.scaling.attn_factor (default 1)
    int rope_scaled;        // 0: the angles are the unscaled ones (rope_scaling is the identity)
    struct kern_rope_scaling rope_scaling; // what kern_rope_angles_ext applies
    float attn_scale_mul; // deepseek2: mscale² multiplying 1/sqrt(key width) (1 without YaRN)
};

// Reads and validates the hyper-parameters of g. On failure returns JANUS_EFORMAT /
// JANUS_EUNSUPPORTED / JANUS_ELIMIT with a one-line reason naming the key, its value and
// what was expected in err; *hp is then unspecified. n_vocab falls back to the token_embd
// tensor when the key is absent. head_count, head_count_kv and feed_forward_length may be
// arrays of one value per block (llama.cpp get_key_or_arr) if every block has the same
// value. The rules are listed in docs/GGUF.md "What we refuse".
JANUS_WUR int hparams_load(struct hparams *hp, const struct gguf *g, char *err, size_t err_len);

// True if layer il has a router and routed experts.
static inline int hparams_layer_is_moe(const struct hparams *hp, int64_t il) {
    return hp->n_expert > 0 && il >= hp->n_dense_lead;
}

#endif // JANUS_HPARAMS_H
