// Byte-level BPE pre-tokenizers: the table of every tokenizer.ggml.pre name llama.cpp
// c392e5094 accepts (42, aliases included), each mapped to its split class (the PCRE2
// regexes applied in sequence) and the per-name settings llama.cpp's vocabulary loader
// applies (ignore_merges, add_bos default, ...). Issue 12 item 5; docs/internals/vocab.md.
// Pure data: vocab.c compiles the regexes.
// SPDX-License-Identifier: MIT
#ifndef JANUS_MODEL_PRETOK_H
#define JANUS_MODEL_PRETOK_H

#include <stddef.h>

// Split classes: names of one class split text identically (llama.cpp picks its regex list
// by pre type, and several types share a list).
enum vocab_pre {
    VOCAB_PRE_NONE = 0, // SPM: no pre-tokenizer
    VOCAB_PRE_GPT2,
    VOCAB_PRE_DEFAULT,
    VOCAB_PRE_DEEPSEEK_CODER,
    VOCAB_PRE_DEEPSEEK_LLM,
    VOCAB_PRE_DEEPSEEK_V3,
    VOCAB_PRE_LLAMA3,
    VOCAB_PRE_QWEN2,
    VOCAB_PRE_FALCON,
    VOCAB_PRE_STARCODER,
    VOCAB_PRE_BLOOM,
    VOCAB_PRE_VIKING,
    VOCAB_PRE_TEKKEN,
    VOCAB_PRE_CHAMELEON,
    VOCAB_PRE_COUNT
};

// Per-name settings (llama.cpp llama_vocab::impl::load, the tokenizer_pre chain).
enum {
    PRETOK_IGNORE_MERGES = 1 << 0,   // a pre-token that is a whole token skips the merges
    PRETOK_ADD_BOS = 1 << 1,         // add_bos defaults to true (a GGUF add_bos_token wins)
    PRETOK_NO_CLEAN_SPACES = 1 << 2, // llama_detokenize's clean-up off (see vocab.md)
    PRETOK_NO_DEFAULT_BOS = 1 << 3,  // chatglm-bpe: no BOS unless bos_token_id is set
    PRETOK_MASK_LSTRIP = 1 << 4,     // jina-v2-*: llama.cpp marks "<mask>" lstrip (see vocab.md)
};

struct pretok_name {
    const char *name; // tokenizer.ggml.pre value
    enum vocab_pre pre;
    unsigned flags; // PRETOK_*
};

// The accepted names, in llama.cpp's order; *n receives the count.
const struct pretok_name *pretok_names(size_t *n);
// The entry for a name of len bytes, or NULL when llama.cpp c392e5094 does not accept it.
const struct pretok_name *pretok_find(const char *name, size_t len);
// NULL-terminated list (at most PRETOK_MAX_REGEX) of PCRE2 patterns of a class; NULL for
// VOCAB_PRE_NONE or an out-of-range value.
#define PRETOK_MAX_REGEX 6
const char *const *pretok_regexes(enum vocab_pre pre);
// Canonical name of a class ("gpt-2", "llama3", ...), "none" for NONE, "?" otherwise.
const char *pretok_class_name(enum vocab_pre pre);
// Writes every accepted name, ", "-separated, into buf (truncated to cap, NUL-terminated).
void pretok_list(char *buf, size_t cap);

#endif // JANUS_MODEL_PRETOK_H
