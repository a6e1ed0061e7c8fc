// Tokenizer from GGUF metadata (tokenizer.ggml.*): SentencePiece-style BPE with scores and
// byte fallback (model "llama") and GPT-2 byte-level BPE with ranked merges and a PCRE2
// pre-tokenizer (model "gpt2"); encode, decode to pieces, streaming UTF-8-safe detokenizer.
// Behaviour follows llama.cpp (c392e5094 for the fixtures, master for the regexes); see
// docs/internals/vocab.md. A loaded vocab is immutable and owns all its memory (it does not
// reference the GGUF map); every const function is thread-safe. SPEC §3 (tokenization).
// SPDX-License-Identifier: MIT
#ifndef JANUS_VOCAB_H
#define JANUS_VOCAB_H

#include "base/base.h"
#include "model/pretok.h"

#include <stddef.h>
#include <stdint.h>

struct gguf;

// Longest accepted token / merge text in bytes, and longest text vocab_tokenize accepts.
#define VOCAB_MAX_TOKEN_LEN 65536
#define VOCAB_MAX_TEXT      (64u << 20)

enum vocab_type {
    VOCAB_TYPE_SPM = 1, // "llama": SentencePiece BPE over UTF-8 chars, scores, <0xXX> bytes
    VOCAB_TYPE_BPE = 2, // "gpt2": byte-level BPE, merges by rank, regex pre-tokenizer
};

// tokenizer.ggml.token_type values (on-disk numbering, llama.cpp's llama_token_type).
enum vocab_token_type {
    VOCAB_TOKEN_UNDEFINED = 0,
    VOCAB_TOKEN_NORMAL = 1,
    VOCAB_TOKEN_UNKNOWN = 2,
    VOCAB_TOKEN_CONTROL = 3,
    VOCAB_TOKEN_USER_DEFINED = 4,
    VOCAB_TOKEN_UNUSED = 5,
    VOCAB_TOKEN_BYTE = 6,
};

// A byte string (not NUL-terminated).
struct vocab_str {
    const char *ptr;
    size_t len;
};

// Everything a vocabulary is built from, independent of GGUF (vocab_init's input).
// Arrays are borrowed for the duration of vocab_init only; their contents are copied.
struct vocab_desc {
    const char *model;              // "llama" or "gpt2" (NUL-terminated)
    struct vocab_str pre;           // tokenizer.ggml.pre; ptr NULL when absent
    int64_t n_tokens;               // 1 .. LIMIT_MAX_VOCAB
    const struct vocab_str *tokens; // (n_tokens) token texts
    const float *scores;            // (n_tokens) or NULL (all 0)
    const int32_t *token_types;     // (n_tokens) enum vocab_token_type, or NULL (all NORMAL)
    int64_t n_merges;               // BPE only; 0 for SPM
    const struct vocab_str *merges; // (n_merges) "left right", rank = index
    // Special ids; -1 = absent (SPM then defaults to bos 1, eos 2, unk 0 when in range).
    int64_t bos, eos, unk, pad;
    // -1 = absent: add_bos defaults to true for SPM and llama3, else false; add_eos false;
    // add_space_prefix true for SPM (ignored for BPE).
    int add_bos, add_eos, add_space_prefix;
};

struct vocab_entry {
    uint32_t off; // text = vocab.text + off, (len) bytes
    uint32_t len;
    float score;
    int32_t type;       // enum vocab_token_type
    uint32_t piece_off; // decoded piece (special tokens: their text) = vocab.pieces + piece_off
    uint32_t piece_len;
};

struct vocab_merge {
    int32_t left, right; // string ids (tokens or interned strings); -1 = empty slot
    int32_t rank;
    int32_t result; // string id of left+right
};

struct vocab {
    enum vocab_type type;
    enum vocab_pre pre;   // split class
    const char *pre_name; // accepted tokenizer.ggml.pre name (static string); NULL for SPM
    int32_t n_tokens;
    int32_t n_strings;         // n_tokens plus interned merge strings (BPE)
    struct vocab_entry *tok;   // (n_tokens)
    uint32_t *str_off;         // (n_strings + 1) start of string i in text; i's length = next - off
    char *text;                // all strings, concatenated
    char *pieces;              // decoded pieces, concatenated
    int32_t *str_hash;         // (str_hash_cap) string id or -1; text -> id
    uint32_t str_hash_cap;     // power of two
    struct vocab_merge *merge; // (merge_cap) open addressing on (left, right)
    uint32_t merge_cap;        // power of two, 0 for SPM
    int32_t n_merges;
    int32_t byte_token[256]; // SPM: id of <0xXX>; BPE: id of the mapped single char; -1 none
    uint16_t byte_cp[256];   // GPT-2 bytes_to_unicode: byte -> code point (< 324)
    int16_t cp_byte[324];    // inverse; -1 where no byte maps
    int32_t *special;        // (n_special) CONTROL/USER_DEFINED/UNKNOWN ids, longest text first
    int32_t n_special;
    uint8_t special_first[32];  // bitmap: first bytes of special texts (partition prefilter)
    uint64_t special_lens;      // bit L: a special text of L bytes exists (L < 64)
    int32_t bos, eos, unk, pad; // -1 = none
    int32_t eog[8];             // end-of-generation ids: eos + well-known end-of-turn texts
    int n_eog;
    int add_bos, add_eos, add_space_prefix;
    int ignore_merges; // llama3 family, tekken: a pre-token that is a token is emitted whole
    int32_t lstrip_id; // jina-v2-*: "<mask>", which absorbs the whitespace before it; -1 none
    int max_token_len;
    int n_re;                   // pre-tokenizer regexes, applied in sequence
    void *re[PRETOK_MAX_REGEX]; // pcre2_code_8 *
    void *re_gctx;              // pcre2_general_context_8 *
};

// Builds a vocabulary from plain arrays. Validates: model name, pre name (unknown ->
// JANUS_EUNSUPPORTED naming it), counts against limits, token lengths, duplicates, type
// values, NaN scores, special ids in range, merges of the form "a b". On error returns a
// negative status, writes one line into err, and leaves *v zeroed. vocab_free releases.
JANUS_WUR int vocab_init(struct vocab *v, const struct vocab_desc *d, char *err, size_t err_len);

// Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges,bos_token_id,eos_token_id,
// unknown_token_id,padding_token_id,add_bos_token,add_eos_token,add_space_prefix} from g and
// calls vocab_init. Array lengths of scores/token_type must equal tokens. The vocab does not
// reference g afterwards. Errors as vocab_init (missing keys: JANUS_ENOTFOUND/EFORMAT).
JANUS_WUR int vocab_load(struct vocab *v, const struct gguf *g, char *err, size_t err_len);

void vocab_free(struct vocab *v); // safe on a zeroed vocab; leaves it zeroed
// The end-of-sequence id of the vocabulary in the GGUF file at path, or -1 when the file
// cannot be read or has no usable vocabulary (callers then never stop on EOS).
int32_t vocab_file_eos(const char *path);

// Encodes len bytes of text (any bytes; need not be NUL-terminated or valid UTF-8).
// add_special: prepend BOS / append EOS as add_bos/add_eos say. parse_special: text equal
// to a CONTROL/UNKNOWN token's text becomes that token (USER_DEFINED tokens are always
// matched, as in llama.cpp / HF tokenizers). Writes at most cap ids to out.
// Returns the number of ids, or JANUS_ELIMIT if more than cap ids (out contents then
// unspecified) or len > VOCAB_MAX_TEXT, JANUS_ENOMEM, JANUS_EINVAL (bad arguments).
JANUS_WUR int vocab_tokenize(const struct vocab *v, const char *text, size_t len, int add_special,
                             int parse_special, int32_t *out, int cap);

// A byte range [off, off + len) of a text.
struct vocab_span {
    size_t off, len;
};
// Chat safety (issue 15 item 4): vocab_tokenize with parse_special, except that CONTROL and
// UNKNOWN token texts overlapping one of the n_raw ranges raw[] (sorted by offset, disjoint,
// within the text: the messages' content in a rendered chat) are not tokens but plain text,
// as with parse_special = 0 (USER_DEFINED tokens match everywhere, as always). The text is
// otherwise tokenized as one piece, so plain text merges across range boundaries exactly as
// in vocab_tokenize of the whole text. Returns as vocab_tokenize; JANUS_EINVAL for ranges
// that are unsorted, overlap or leave the text.
JANUS_WUR int vocab_tokenize_raw(const struct vocab *v, const char *text, size_t len,
                                 int add_special, const struct vocab_span *raw, size_t n_raw,
                                 int32_t *out, int cap);

// The bytes token id decodes to: SPM "▁" -> " ", <0xXX> -> that byte; BPE reverse GPT-2 byte
// mapping. CONTROL/UNKNOWN tokens give their text if special, else nothing; UNUSED and
// UNDEFINED give nothing. A piece may be an incomplete UTF-8 sequence (byte tokens).
// Returns the length written (<= cap), JANUS_EINVAL for an id out of range, or JANUS_ELIMIT
// if cap is too small (nothing written).
JANUS_WUR int vocab_token_to_piece(const struct vocab *v, int32_t id, int special, char *buf,
                                   size_t cap);
// Zero-copy form: pointer to the piece (valid until vocab_free) and its length; NULL for an
// id out of range.
const char *vocab_piece(const struct vocab *v, int32_t id, int special, size_t *len);
// Raw token text as stored (e.g. "▁the", "<0x0A>", "Ġthe"); NULL for an id out of range.
const char *vocab_text(const struct vocab *v, int32_t id, size_t *len);
// True if generation should stop at id: the eos id, or a token whose text is one of the
// end-of-turn markers llama.cpp recognises (<|eot_id|>, <|im_end|>, <|end|>, <|endoftext|>,
// <end_of_turn>, <|end_of_text|>, <EOT>, <｜end▁of▁sentence｜>).
int vocab_is_eog(const struct vocab *v, int32_t id);
// Token id of exactly this text, or -1.
int32_t vocab_find(const struct vocab *v, const char *text, size_t len);
// Canonical name of a split class (pretok_class_name); v->pre_name is the name as given.
const char *vocab_pre_name(enum vocab_pre pre);

// ---- streaming detokenizer
// Turns a token stream into valid UTF-8: a sequence split across tokens is held back until
// complete; bytes that cannot start or continue a valid sequence become U+FFFD. A sequence
// still incomplete when the stream ends is dropped (vocab_detok_end), as llama.cpp's server
// does: a client or terminal never sees a partial character.
// struct vocab_detok d = {0} is a valid empty state.
struct vocab_detok {
    uint8_t pend[4];
    int n_pend;
};

// Appends token id's piece; writes the bytes that are now complete to out. Returns bytes
// written, or JANUS_ELIMIT when cap < vocab_detok_max_out(v) (nothing consumed), or
// JANUS_EINVAL for a bad id.
JANUS_WUR int vocab_detok_push(const struct vocab *v, struct vocab_detok *d, int32_t id,
                               int special, char *out, size_t cap);
// Ends the stream: drops an incomplete sequence still held back and resets d (reusable).
// Returns the number of bytes dropped (0 .. 3).
int vocab_detok_end(struct vocab_detok *d);
// Output space one vocab_detok_push may need: longest piece * 3 + 4 (worst case: every
// byte invalid becomes a 3-byte U+FFFD).
size_t vocab_detok_max_out(const struct vocab *v);

#endif // JANUS_VOCAB_H
