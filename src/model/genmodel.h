// GGUF MoE models, random-weight or from exported values (weights_dir), in exactly the layout of
// the shared fixtures (fixtures README §3: same keys, tensor names, shapes and init scales), for
// the four architectures llama (Mixtral-style), qwen2moe, qwen3moe and deepseek2 (SPEC §9), and
// olmoe, deepseek2's split attn_k_b / attn_v_b and RoPE scaling keys (issue 12 item 6).
// Deterministic from the seed: chunk c (~1M values, whole rows) of tensor t draws from its
// own rng.h stream rng_init3(seed, crc32(name), c), so a file is byte-identical for equal
// parameters whatever the thread count.
// Tensors are streamed to disk: memory stays O(one chunk) however large the model.
// SPDX-License-Identifier: MIT
// Streaming uses the gguf writer's streaming mode. Matrices (2-D and stacked 3-D weights,
// token_embd and output included) are stored in the model type: F32/F16/BF16/Q8_0, a block
// type quantised round-to-nearest (kernels/quant.h; issue 13 item 3), uniform or with
// llama-quantize's _M mixing rules (docs/GGUF.md "gen-model types"); norms, routers, biases
// and exp_probs_b always in F32.
#ifndef JANUS_GENMODEL_H
#define JANUS_GENMODEL_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

enum genmodel_arch {
    GENMODEL_ARCH_LLAMA = 0,
    GENMODEL_ARCH_QWEN2MOE = 1,
    GENMODEL_ARCH_QWEN3MOE = 2,
    GENMODEL_ARCH_DEEPSEEK2 = 3,
    GENMODEL_ARCH_OLMOE = 4,
};

// rope.scaling.type written (NONE: no rope.scaling keys).
enum genmodel_rope_scaling {
    GENMODEL_ROPE_NONE = 0,
    GENMODEL_ROPE_LINEAR = 1,
    GENMODEL_ROPE_YARN = 2,
};

// Per-tensor type mix: uniform, or llama-quantize's Q3_K_M / Q4_K_M / Q5_K_M rules
// (llama_tensor_get_type) for the tensors gen-model writes.
enum genmodel_mix {
    GENMODEL_MIX_UNIFORM = 0,
    GENMODEL_MIX_Q3_K_M = 1,
    GENMODEL_MIX_Q4_K_M = 2,
    GENMODEL_MIX_Q5_K_M = 3,
};

// Values are the GGUF `expert_gating_func` numbers.
enum genmodel_gating { GENMODEL_GATING_SOFTMAX = 1, GENMODEL_GATING_SIGMOID = 2 };

// Every dimension. genmodel_default_params fills the fixture's values for the arch; a field
// that does not apply to the arch must keep its default (genmodel_check says which).
struct genmodel_params {
    enum genmodel_arch arch;
    uint32_t type;         // ggml type of the matrices: F32/F16/BF16/Q8_0 or a block type (gguf.h)
    enum genmodel_mix mix; // _M mixes: type is their base (Q3_K, Q4_K, Q5_K)
    uint64_t seed;
    const char *name;           // general.name; NULL: "janus-gen-<arch>-<type>"
    const char *vocab_path;     // copy tokenizer.ggml.* from this GGUF; NULL: built-in vocabulary
    const char *tokenizer_json; // or the tokenizer of this JSON (trained models; genmodel.c)
    const char *weights_dir;    // values of tensor NAME from WEIGHTS_DIR/NAME.f32 (raw
                                // little-endian F32, ggml order) instead of random ones
    int64_t n_vocab;            // built-in vocabulary size (truncated / padded); ignored with vocab
    int64_t n_embd, n_layer, n_head, n_head_kv;
    int64_t head_dim; // llama/qwen2moe: n_embd/n_head; qwen3moe: free (key_length)
    int64_t n_expert, n_expert_used;
    int64_t n_ff_exp;        // routed expert width (llama: written as feed_forward_length)
    int64_t n_ff;            // qwen2moe: shared expert width; qwen3moe: feed_forward_length
                             // (unused); deepseek2: leading dense layers' width; llama: 0
    int64_t n_expert_shared; // deepseek2: shared experts (width n_ff_exp each); qwen2moe: 1
    int64_t n_dense_lead;    // deepseek2: leading dense layers
    int64_t q_lora, kv_lora, qk_nope, qk_rope, v_head; // deepseek2 MLA
    enum genmodel_gating gating;                       // deepseek2 (others: softmax)
    int64_t n_group, n_group_used; // deepseek2 expert groups; 0 = none (no keys written)
    float weights_scale;           // deepseek2 expert_weights_scale
    int norm_topk;                 // deepseek2 expert_weights_norm (0/1)
    int mla_split;                 // deepseek2: kv_b written split as attn_k_b / attn_v_b (with the
                   // *_length_mla keys and head_count_kv 1) like current llama.cpp converters;
                   // the values are exactly those attn_kv_b would have for the same seed
    int64_t context;
    float rope_base;
    enum genmodel_rope_scaling rope_scaling;
    float rope_factor;     // rope.scaling.factor (needs rope_scaling; > 0)
    int64_t rope_orig_ctx; // yarn: rope.scaling.original_context_length (0: context)
    float yarn_beta_fast;  // yarn: rope.scaling.yarn_beta_fast (0: key not written)
    float yarn_beta_slow;  // yarn: rope.scaling.yarn_beta_slow (0: key not written)
    float yarn_log_mul;    // deepseek2: rope.scaling.yarn_log_multiplier as written (0.1)
    float rms_eps;
    int n_threads; // generation threads (0 or 1: the caller's thread only); the file's bytes
                   // do not depend on it
};

// Fills p with the fixture dimensions of arch, type F32, seed 1234, built-in vocabulary.
void genmodel_default_params(struct genmodel_params *p, enum genmodel_arch arch);
// For deepseek2: switches to the V3-style defaults (sigmoid gating, exp_probs_b,
// expert_weights_norm true, scale 2.5, one shared expert). No-op for other archs.
void genmodel_params_v3(struct genmodel_params *p);

// --type names: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs
// (uniform) and q3_k_m q4_k_m q5_k_m (mixes). Parse returns 0 (type and mix set) or -1;
// genmodel_type_name gives the name back ("q4_k_m"), NULL for an invalid pair.
#define GENMODEL_TYPE_NAMES                                                                        \
    "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, "         \
    "iq4_xs, q3_k_m, q4_k_m, q5_k_m"
int genmodel_type_parse(const char *s, uint32_t *type, enum genmodel_mix *mix);
const char *genmodel_type_name(uint32_t type, enum genmodel_mix mix);

// Name <-> enum ("llama", "qwen2moe", "qwen3moe", "deepseek2", "olmoe"). Parse returns 0 or -1.
const char *genmodel_arch_name(enum genmodel_arch arch);
int genmodel_arch_parse(const char *s, enum genmodel_arch *out);

// Checks every dimension for consistency and limits. JANUS_OK or JANUS_EINVAL with a
// one-line reason in err naming the flag (e.g. "--n-expert-used 9 exceeds --n-expert 8").
JANUS_WUR int genmodel_check(const struct genmodel_params *p, char *err, size_t err_len);

// Writes the model to path (streamed). On failure returns a negative status, writes a
// one-line reason into err and removes the partial file.
JANUS_WUR int genmodel_write(const struct genmodel_params *p, const char *path, char *err,
                             size_t err_len);

// CRC-32 (zlib polynomial) of a NUL-terminated string: the per-tensor stream id.
uint32_t genmodel_crc32(const char *s);

#endif // JANUS_GENMODEL_H
