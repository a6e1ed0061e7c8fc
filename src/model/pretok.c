// Pre-tokenizer table (pretok.h): the tokenizer.ggml.pre names llama.cpp c392e5094 accepts,
// their split classes and per-name settings, and each class's PCRE2 patterns. The patterns
// follow llama.cpp src/llama-vocab.cpp (llm_tokenizer_bpe) as its splitter src/unicode.cpp
// (unicode_regex_split) runs them; docs/internals/vocab.md lists every rewrite and why it
// gives the same splits. Issue 12 item 5.
// SPDX-License-Identifier: MIT
#include "model/pretok.h"

#include "base/base.h"

#include <stdio.h>
#include <string.h>

// Non-ASCII characters are written as \x{..} (immune to editors' Unicode normalisation).
// Classes that llama.cpp matches with std::wregex exclude whitespace, because llama.cpp
// replaces every non-ASCII whitespace character by \v before matching those patterns.

#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_CJK          "(?:(?!\\s)[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}])++"

static const char *const re_gpt2[] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const re_default[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
    NULL,
};
static const char *const re_deepseek_coder[] = {
    "[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}", NULL,
};
static const char *const re_deepseek_llm[] = {
    "[\\r\\n]",
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"
    "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"
    "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}"
    "\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}"
    "\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}"
    "\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}"
    "\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
    "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}"
    "\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}"
    "\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}"
    "\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}"
    "\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}"
    "\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
    "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}"
    "\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}"
    "\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}"
    "\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]++",
    "\\s?(?:(?!\\s)[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}"
    "\\x{3000}-\\x{3002}])++",
    "\\s+$",
    RE_CJK,
    "\\p{N}+",
    NULL,
};
static const char *const re_llama3[] = {
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const re_qwen2[] = {
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};

// GPT-2's pattern as llama.cpp writes it (its hand-written splitter runs this exact string)
#define RE_GPT2_LLAMA                                                                              \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"

static const char *const re_falcon[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|`]+",
    RE_GPT2_LLAMA,
    "[0-9][0-9][0-9]",
    NULL,
};
static const char *const re_starcoder[] = {
    "\\p{N}",
    RE_GPT2_LLAMA,
    NULL,
};
// llama.cpp runs this through its collapsed-category std::regex, where \p{S} on ASCII is
// only $ + < = > ^ ` | (its table omits ~). So ~ counts as "not L/P/S" in the optional
// prefix and never as a symbol in the punctuation run; written out below. The punctuation
// run is possessive: [\r\n]* after it always matches, so it is never backtracked into.
static const char *const re_deepseek_v3[] = {
    "\\p{N}{1,3}",
    "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]++",
    "[!-/:-@\\[-`{-~][A-Za-z]+|(?:~|[^\\r\\n\\p{L}\\p{P}\\p{S}])?[\\p{L}\\p{M}]+"
    "| ?(?:(?!~)[\\p{P}\\p{S}])++[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
// ( | ) are literal members of the class in llama.cpp's pattern.
#define RE_BLOOM " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"
static const char *const re_bloom[] = {
    RE_BLOOM,
    NULL,
};
static const char *const re_viking[] = {
    RE_BLOOM,
    "\\p{N}",
    NULL,
};
// llama.cpp's rewrite of Mistral's case-splitting pattern replaces \p{Lu}* \p{Ll}+ by
// ((?=[\p{L}])([^a-z]))* ((?=[\p{L}])([^A-Z]))+: "a letter other than a-z" / "other than
// A-Z" (a non-ASCII letter is both). [^\P{L}a-z] is the same set as one class, which PCRE2
// repeats without a backtracking frame per character (1 MB runs stay fast).
static const char *const re_tekken[] = {
    "[^\\r\\n\\p{L}\\p{N}]?[^\\P{L}a-z]*[^\\P{L}A-Z]+"
    "|[^\\r\\n\\p{L}\\p{N}]?[^\\P{L}a-z]+[^\\P{L}A-Z]*"
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const re_chameleon[] = {
    "<sentinel:[0-9]+>",
    "IMGIMG(?:A|B|C|D|E|F|G|H|I){1,4}Z",
    "[\\t\\n]|    |  ",
    "\\p{N}",
    "[\\p{P}!-/:-@\\[-`{-~]",
    RE_GPT2_LLAMA,
    NULL,
};

static const struct {
    const char *name;
    const char *const *re;
} classes[VOCAB_PRE_COUNT] = {
    [VOCAB_PRE_GPT2] = {"gpt-2", re_gpt2},
    [VOCAB_PRE_DEFAULT] = {"default", re_default},
    [VOCAB_PRE_DEEPSEEK_CODER] = {"deepseek-coder", re_deepseek_coder},
    [VOCAB_PRE_DEEPSEEK_LLM] = {"deepseek-llm", re_deepseek_llm},
    [VOCAB_PRE_DEEPSEEK_V3] = {"deepseek-v3", re_deepseek_v3},
    [VOCAB_PRE_LLAMA3] = {"llama3", re_llama3},
    [VOCAB_PRE_QWEN2] = {"qwen2", re_qwen2},
    [VOCAB_PRE_FALCON] = {"falcon", re_falcon},
    [VOCAB_PRE_STARCODER] = {"starcoder", re_starcoder},
    [VOCAB_PRE_BLOOM] = {"bloom", re_bloom},
    [VOCAB_PRE_VIKING] = {"viking", re_viking},
    [VOCAB_PRE_TEKKEN] = {"tekken", re_tekken},
    [VOCAB_PRE_CHAMELEON] = {"chameleon", re_chameleon},
};

#define IGN  PRETOK_IGNORE_MERGES
#define BOS  PRETOK_ADD_BOS
#define KEEP PRETOK_NO_CLEAN_SPACES

// llama.cpp c392e5094 llama_vocab::impl::load, in its order (fixtures/tokenizer/pre/README §3).
static const struct pretok_name names[] = {
    {"default", VOCAB_PRE_DEFAULT, 0},
    {"llama3", VOCAB_PRE_LLAMA3, IGN | BOS},
    {"llama-v3", VOCAB_PRE_LLAMA3, IGN | BOS},
    {"llama-bpe", VOCAB_PRE_LLAMA3, IGN | BOS},
    {"falcon3", VOCAB_PRE_LLAMA3, IGN | BOS},
    {"deepseek-llm", VOCAB_PRE_DEEPSEEK_LLM, KEEP},
    {"deepseek-coder", VOCAB_PRE_DEEPSEEK_CODER, KEEP},
    {"deepseek-v3", VOCAB_PRE_DEEPSEEK_V3, KEEP},
    {"falcon", VOCAB_PRE_FALCON, 0},
    {"mpt", VOCAB_PRE_GPT2, 0},
    {"starcoder", VOCAB_PRE_STARCODER, 0},
    {"gpt-2", VOCAB_PRE_GPT2, 0},
    {"phi-2", VOCAB_PRE_GPT2, 0},
    {"jina-es", VOCAB_PRE_GPT2, 0},
    {"jina-de", VOCAB_PRE_GPT2, 0},
    {"gigachat", VOCAB_PRE_GPT2, 0},
    {"jina-v1-en", VOCAB_PRE_GPT2, 0},
    {"jina-v2-es", VOCAB_PRE_GPT2, PRETOK_MASK_LSTRIP},
    {"jina-v2-de", VOCAB_PRE_GPT2, PRETOK_MASK_LSTRIP},
    {"jina-v2-code", VOCAB_PRE_GPT2, PRETOK_MASK_LSTRIP},
    {"roberta-bpe", VOCAB_PRE_GPT2, 0},
    {"refact", VOCAB_PRE_STARCODER, 0},
    {"command-r", VOCAB_PRE_STARCODER, KEEP},
    {"qwen2", VOCAB_PRE_QWEN2, KEEP},
    {"deepseek-r1-qwen", VOCAB_PRE_QWEN2, KEEP},
    {"stablelm2", VOCAB_PRE_QWEN2, 0},
    {"olmo", VOCAB_PRE_GPT2, 0},
    {"dbrx", VOCAB_PRE_LLAMA3, 0},
    {"smaug-bpe", VOCAB_PRE_LLAMA3, 0},
    {"poro-chat", VOCAB_PRE_BLOOM, KEEP},
    {"chatglm-bpe", VOCAB_PRE_LLAMA3, PRETOK_NO_DEFAULT_BOS},
    {"viking", VOCAB_PRE_VIKING, KEEP},
    {"jais", VOCAB_PRE_GPT2, 0},
    {"tekken", VOCAB_PRE_TEKKEN, KEEP | IGN | BOS},
    {"smollm", VOCAB_PRE_STARCODER, KEEP},
    {"codeshell", VOCAB_PRE_STARCODER, 0},
    {"bloom", VOCAB_PRE_BLOOM, 0},
    {"gpt3-finnish", VOCAB_PRE_BLOOM, 0},
    {"exaone", VOCAB_PRE_STARCODER, 0},
    {"chameleon", VOCAB_PRE_CHAMELEON, BOS | KEEP},
    {"minerva-7b", VOCAB_PRE_STARCODER, 0},
    {"megrez", VOCAB_PRE_QWEN2, 0},
};

const struct pretok_name *pretok_names(size_t *n) {
    *n = JANUS_ARRAY_SIZE(names);
    return names;
}

const struct pretok_name *pretok_find(const char *name, size_t len) {
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(names); i++)
        if (strlen(names[i].name) == len && !memcmp(names[i].name, name, len)) return &names[i];
    return NULL;
}

const char *const *pretok_regexes(enum vocab_pre pre) {
    if (pre <= VOCAB_PRE_NONE || pre >= VOCAB_PRE_COUNT) return NULL;
    return classes[pre].re;
}

const char *pretok_class_name(enum vocab_pre pre) {
    if (pre == VOCAB_PRE_NONE) return "none";
    if (pre < VOCAB_PRE_NONE || pre >= VOCAB_PRE_COUNT) return "?";
    return classes[pre].name;
}

void pretok_list(char *buf, size_t cap) {
    size_t off = 0;
    if (!cap) return;
    buf[0] = 0;
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(names) && off < cap; i++) {
        int k = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", names[i].name);
        if (k < 0) break;
        off += (size_t)k;
    }
}
