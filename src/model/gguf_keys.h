// GGUF metadata key names: the one table of every key src/ reads or writes (docs/GGUF.md).
// A file-wide key ("general.name", "tokenizer.ggml.tokens") is used as is; a
// per-architecture key is "<arch>.<suffix>" ("qwen3moe.block_count"), built by gguf_key().
// Enum names are the key names upper-cased, '.' -> '_', so a reader can grep either.
// SPDX-License-Identifier: MIT
#ifndef JANUS_MODEL_GGUF_KEYS_H
#define JANUS_MODEL_GGUF_KEYS_H

#include <stddef.h>

enum gguf_key {
    // file-wide
    GGUF_KEY_GENERAL_ARCHITECTURE,
    GGUF_KEY_GENERAL_NAME,
    GGUF_KEY_GENERAL_FILE_TYPE,
    GGUF_KEY_GENERAL_ALIGNMENT,
    GGUF_KEY_TOKENIZER_GGML_MODEL,
    GGUF_KEY_TOKENIZER_GGML_PRE,
    GGUF_KEY_TOKENIZER_GGML_TOKENS,
    GGUF_KEY_TOKENIZER_GGML_SCORES,
    GGUF_KEY_TOKENIZER_GGML_TOKEN_TYPE,
    GGUF_KEY_TOKENIZER_GGML_MERGES,
    GGUF_KEY_TOKENIZER_GGML_BOS_TOKEN_ID,
    GGUF_KEY_TOKENIZER_GGML_EOS_TOKEN_ID,
    GGUF_KEY_TOKENIZER_GGML_UNKNOWN_TOKEN_ID,
    GGUF_KEY_TOKENIZER_GGML_PADDING_TOKEN_ID,
    GGUF_KEY_TOKENIZER_GGML_ADD_BOS_TOKEN,
    GGUF_KEY_TOKENIZER_GGML_ADD_EOS_TOKEN,
    GGUF_KEY_TOKENIZER_GGML_ADD_SPACE_PREFIX,
    GGUF_KEY_TOKENIZER_CHAT_TEMPLATE,
    // per-architecture: "<arch>." + name
    GGUF_KEY_ARCH_FIRST,
    GGUF_KEY_VOCAB_SIZE = GGUF_KEY_ARCH_FIRST,
    GGUF_KEY_CONTEXT_LENGTH,
    GGUF_KEY_EMBEDDING_LENGTH,
    GGUF_KEY_BLOCK_COUNT,
    GGUF_KEY_FEED_FORWARD_LENGTH,
    GGUF_KEY_LEADING_DENSE_BLOCK_COUNT,
    GGUF_KEY_ATTENTION_HEAD_COUNT,
    GGUF_KEY_ATTENTION_HEAD_COUNT_KV,
    GGUF_KEY_ATTENTION_KEY_LENGTH,
    GGUF_KEY_ATTENTION_VALUE_LENGTH,
    GGUF_KEY_ATTENTION_Q_LORA_RANK,
    GGUF_KEY_ATTENTION_KV_LORA_RANK,
    GGUF_KEY_ATTENTION_LAYER_NORM_RMS_EPSILON,
    GGUF_KEY_ROPE_DIMENSION_COUNT,
    GGUF_KEY_ROPE_FREQ_BASE,
    GGUF_KEY_ROPE_SCALING_TYPE,
    GGUF_KEY_ROPE_SCALING_FACTOR,
    GGUF_KEY_ROPE_SCALING_YARN_LOG_MULTIPLIER,
    GGUF_KEY_EXPERT_COUNT,
    GGUF_KEY_EXPERT_USED_COUNT,
    GGUF_KEY_EXPERT_FEED_FORWARD_LENGTH,
    GGUF_KEY_EXPERT_SHARED_FEED_FORWARD_LENGTH,
    GGUF_KEY_EXPERT_SHARED_COUNT,
    GGUF_KEY_EXPERT_WEIGHTS_SCALE,
    GGUF_KEY_EXPERT_WEIGHTS_NORM,
    GGUF_KEY_EXPERT_GATING_FUNC,
    GGUF_KEY_EXPERT_GROUP_COUNT,
    GGUF_KEY_EXPERT_GROUP_USED_COUNT,
    GGUF_KEY_COUNT
};

// The table entry: the full name of a file-wide key, the suffix after "<arch>." of a
// per-architecture key.
const char *gguf_key_name(enum gguf_key k);
// The full name of k for architecture arch (ignored for file-wide keys) in buf (n bytes,
// truncated to fit). Returns buf.
const char *gguf_key(char *buf, size_t n, const char *arch, enum gguf_key k);

#endif // JANUS_MODEL_GGUF_KEYS_H
