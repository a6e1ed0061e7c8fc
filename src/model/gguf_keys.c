// The GGUF metadata key table (gguf_keys.h).
// SPDX-License-Identifier: MIT
#include "model/gguf_keys.h"

#include "base/base.h"

#include <stdio.h>

static const char *const names[GGUF_KEY_COUNT] = {
    [GGUF_KEY_GENERAL_ARCHITECTURE] = "general.architecture",
    [GGUF_KEY_GENERAL_NAME] = "general.name",
    [GGUF_KEY_GENERAL_FILE_TYPE] = "general.file_type",
    [GGUF_KEY_GENERAL_ALIGNMENT] = "general.alignment",
    [GGUF_KEY_TOKENIZER_GGML_MODEL] = "tokenizer.ggml.model",
    [GGUF_KEY_TOKENIZER_GGML_PRE] = "tokenizer.ggml.pre",
    [GGUF_KEY_TOKENIZER_GGML_TOKENS] = "tokenizer.ggml.tokens",
    [GGUF_KEY_TOKENIZER_GGML_SCORES] = "tokenizer.ggml.scores",
    [GGUF_KEY_TOKENIZER_GGML_TOKEN_TYPE] = "tokenizer.ggml.token_type",
    [GGUF_KEY_TOKENIZER_GGML_MERGES] = "tokenizer.ggml.merges",
    [GGUF_KEY_TOKENIZER_GGML_BOS_TOKEN_ID] = "tokenizer.ggml.bos_token_id",
    [GGUF_KEY_TOKENIZER_GGML_EOS_TOKEN_ID] = "tokenizer.ggml.eos_token_id",
    [GGUF_KEY_TOKENIZER_GGML_UNKNOWN_TOKEN_ID] = "tokenizer.ggml.unknown_token_id",
    [GGUF_KEY_TOKENIZER_GGML_PADDING_TOKEN_ID] = "tokenizer.ggml.padding_token_id",
    [GGUF_KEY_TOKENIZER_GGML_ADD_BOS_TOKEN] = "tokenizer.ggml.add_bos_token",
    [GGUF_KEY_TOKENIZER_GGML_ADD_EOS_TOKEN] = "tokenizer.ggml.add_eos_token",
    [GGUF_KEY_TOKENIZER_GGML_ADD_SPACE_PREFIX] = "tokenizer.ggml.add_space_prefix",
    [GGUF_KEY_TOKENIZER_CHAT_TEMPLATE] = "tokenizer.chat_template",
    [GGUF_KEY_VOCAB_SIZE] = "vocab_size",
    [GGUF_KEY_CONTEXT_LENGTH] = "context_length",
    [GGUF_KEY_EMBEDDING_LENGTH] = "embedding_length",
    [GGUF_KEY_BLOCK_COUNT] = "block_count",
    [GGUF_KEY_FEED_FORWARD_LENGTH] = "feed_forward_length",
    [GGUF_KEY_LEADING_DENSE_BLOCK_COUNT] = "leading_dense_block_count",
    [GGUF_KEY_ATTENTION_HEAD_COUNT] = "attention.head_count",
    [GGUF_KEY_ATTENTION_HEAD_COUNT_KV] = "attention.head_count_kv",
    [GGUF_KEY_ATTENTION_KEY_LENGTH] = "attention.key_length",
    [GGUF_KEY_ATTENTION_VALUE_LENGTH] = "attention.value_length",
    [GGUF_KEY_ATTENTION_KEY_LENGTH_MLA] = "attention.key_length_mla",
    [GGUF_KEY_ATTENTION_VALUE_LENGTH_MLA] = "attention.value_length_mla",
    [GGUF_KEY_ATTENTION_Q_LORA_RANK] = "attention.q_lora_rank",
    [GGUF_KEY_ATTENTION_KV_LORA_RANK] = "attention.kv_lora_rank",
    [GGUF_KEY_ATTENTION_LAYER_NORM_RMS_EPSILON] = "attention.layer_norm_rms_epsilon",
    [GGUF_KEY_ROPE_DIMENSION_COUNT] = "rope.dimension_count",
    [GGUF_KEY_ROPE_FREQ_BASE] = "rope.freq_base",
    [GGUF_KEY_ROPE_SCALING_TYPE] = "rope.scaling.type",
    [GGUF_KEY_ROPE_SCALING_FACTOR] = "rope.scaling.factor",
    [GGUF_KEY_ROPE_SCALING_YARN_LOG_MULTIPLIER] = "rope.scaling.yarn_log_multiplier",
    [GGUF_KEY_ROPE_SCALING_ATTN_FACTOR] = "rope.scaling.attn_factor",
    [GGUF_KEY_ROPE_SCALING_ORIGINAL_CONTEXT_LENGTH] = "rope.scaling.original_context_length",
    [GGUF_KEY_ROPE_SCALING_YARN_EXT_FACTOR] = "rope.scaling.yarn_ext_factor",
    [GGUF_KEY_ROPE_SCALING_YARN_ATTN_FACTOR] = "rope.scaling.yarn_attn_factor",
    [GGUF_KEY_ROPE_SCALING_YARN_BETA_FAST] = "rope.scaling.yarn_beta_fast",
    [GGUF_KEY_ROPE_SCALING_YARN_BETA_SLOW] = "rope.scaling.yarn_beta_slow",
    [GGUF_KEY_EXPERT_COUNT] = "expert_count",
    [GGUF_KEY_EXPERT_USED_COUNT] = "expert_used_count",
    [GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH] = "expert_feed_forward_length",
    [GGUF_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH] = "expert_shared_feed_forward_length",
    [GGUF_KEY_EXPERT_SHARED_COUNT] = "expert_shared_count",
    [GGUF_KEY_EXPERT_WEIGHTS_SCALE] = "expert_weights_scale",
    [GGUF_KEY_EXPERT_WEIGHTS_NORM] = "expert_weights_norm",
    [GGUF_KEY_EXPERT_GATING_FUNC] = "expert_gating_func",
    [GGUF_KEY_EXPERT_GROUP_COUNT] = "expert_group_count",
    [GGUF_KEY_EXPERT_GROUP_USED_COUNT] = "expert_group_used_count",
};

const char *gguf_key_name(enum gguf_key k) {
    JANUS_ASSERT((int)k >= 0 && k < GGUF_KEY_COUNT && names[k]);
    return names[k];
}

const char *gguf_key(char *buf, size_t n, const char *arch, enum gguf_key k) {
    if (k >= GGUF_KEY_ARCH_FIRST)
        snprintf(buf, n, "%s.%s", arch, gguf_key_name(k));
    else
        snprintf(buf, n, "%s", gguf_key_name(k));
    return buf;
}
