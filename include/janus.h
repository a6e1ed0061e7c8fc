// The embeddable C API of Janus-C (llama.h / uv.h style): open a GGUF MoE model, tokenize,
// run the monolithic engine over a session's KV cache, sample, or generate text with a
// callback per piece. The only header with janus_ names; self-contained (C11 + libc).
// Conventions: fallible functions return int status, JANUS_OK (0) or a negative
// enum janus_status; on failure out-parameters are untouched and no state has changed.
// Handles are opaque; x_close / x_destroy take &handle and set it to NULL. Docs/API.md
// ("Embedding") has a walk-through; examples/simple.c is a complete program. SPEC §9, §10.
// SPDX-License-Identifier: MIT
#ifndef JANUS_H
#define JANUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef JANUS_WUR
#if defined(__GNUC__) || defined(__clang__)
#define JANUS_WUR __attribute__((warn_unused_result))
#else
#define JANUS_WUR
#endif
#endif // JANUS_WUR

// ---- status codes
// A copy of src/base/status.h, which the library uses internally (an installed header
// cannot include src/). Both share the include guard, so a translation unit sees exactly
// one definition; src/api/janus.c checks at compile time that the values agree.
#ifndef JANUS_STATUS_H
#define JANUS_STATUS_H
enum janus_status {
    JANUS_OK = 0,
    JANUS_ENOMEM = -1,        // allocation failed
    JANUS_EINVAL = -2,        // invalid argument (caller error)
    JANUS_EFORMAT = -3,       // malformed input file or document
    JANUS_EPROTO = -4,        // malformed wire message or protocol violation
    JANUS_ELIMIT = -5,        // input exceeds a hard limit or a capacity given by the caller
    JANUS_EIO = -6,           // operating-system I/O error
    JANUS_ECOMM = -7,         // transport (MPI/socket) failure
    JANUS_EAGAIN = -8,        // incomplete; try again with more input
    JANUS_ECANCELED = -9,     // operation canceled
    JANUS_EUNSUPPORTED = -10, // valid but not supported (type, architecture, feature)
    JANUS_ENOTFOUND = -11,    // named item (key, tensor, file) does not exist
};

// Size of an error-message buffer (`char err[JANUS_ERR_LEN]`, passed as err, sizeof err).
#define JANUS_ERR_LEN 512

// A static, human-readable description of a status code (never NULL; unknown codes get a
// generic text). Thread-safe.
const char *janus_strerror(int status);
#endif // JANUS_STATUS_H

// ---- handles
typedef struct janus_model janus_model_t;     // a loaded GGUF model and its tokenizer
typedef struct janus_session janus_session_t; // KV cache + scratch for up to n_seq sequences

// ---- model
struct janus_model_params {
    int require_vocab; // 1: fail with the tokenizer's error if the GGUF has no usable
                       // tokenizer; 0 (default): open anyway, janus_tokenize and friends
                       // then return JANUS_EUNSUPPORTED (running out of memory while
                       // loading the tokenizer fails the open either way)
    int vocab_only;    // 1: read only the tokenizer (vocab-only GGUF files work; the weights
                       // are neither checked nor mapped; implies require_vocab): sessions
                       // then fail with JANUS_EUNSUPPORTED and janus_model_info gives only
                       // n_vocab, has_vocab and the special tokens. 0 (default): the
                       // whole model
    int32_t mmap;      // how the weights are held: JANUS_MMAP_DEFAULT (0, the measured
                       // default, now JANUS_MMAP_OFF; docs/PERFORMANCE.md); JANUS_MMAP_ON (1)
                       // a shared read-only mapping of the file (pages shared with the page
                       // cache and other processes);
                       // JANUS_MMAP_OFF (2) read with pread into anonymous memory (2 MiB
                       // aligned, transparent huge pages where available). Outputs are
                       // bit-identical in every mode.
    int32_t mlock;     // 1: lock the weights in memory; the open fails with JANUS_ELIMIT (the
                       // message names RLIMIT_MEMLOCK) when the system refuses. 0 (default): no
    int32_t progress;  // 1: a progress line (bytes, rate) on stderr while the weights load,
                       // when stderr is a terminal. 0 (default): silent
};
#define JANUS_MMAP_DEFAULT 0
#define JANUS_MMAP_ON      1
#define JANUS_MMAP_OFF     2

// Largest text janus_tokenize accepts, in bytes.
#define JANUS_MAX_TEXT (64u << 20)
struct janus_model_params janus_model_default_params(void);

// Opens the GGUF file at path (mapped or read, params->mmap), checks every tensor, makes the
// weights resident and loads the tokenizer. params may be NULL (defaults).
// out: *model, a new handle owned by the caller (janus_model_close) — set only on success.
// err: if not NULL, receives a one-line reason on failure (naming the file, key or tensor),
// truncated to err_len; "" on success.
// Returns JANUS_OK; JANUS_EINVAL (path or model NULL); JANUS_ENOTFOUND / JANUS_EIO (cannot
// open or map the file); JANUS_EFORMAT (not GGUF, missing or misshapen tensor or key);
// JANUS_EUNSUPPORTED (architecture or tensor type); JANUS_ELIMIT; JANUS_ENOMEM.
// Thread-safe (different calls share nothing).
JANUS_WUR int janus_model_open(const char *path, const struct janus_model_params *params,
                               janus_model_t **model, char *err, size_t err_len);

// Closes *model (unmaps the file) and sets *model = NULL. NULL or *model NULL: no-op.
// Every session created on the model must have been destroyed first (checked: a live
// session is a bug and aborts with a message). Not thread-safe against other uses of it.
void janus_model_close(janus_model_t **model);

struct janus_model_info {
    const char *arch;        // general.architecture: "llama", "qwen2moe", "qwen3moe", "deepseek2"
    const char *name;        // general.name ("" when absent; truncated to 127 bytes)
    int64_t n_vocab;         // tokens (logit rows are n_vocab floats)
    int64_t n_ctx_train;     // context length the model was trained with (informational)
    int64_t n_embd;          // hidden size
    int64_t n_layer;         // transformer blocks
    int64_t n_head;          // query heads
    int64_t n_head_kv;       // key/value heads
    int64_t n_expert;        // routed experts per MoE layer (0: dense model)
    int64_t n_expert_used;   // experts chosen per token (top-k)
    int64_t n_expert_shared; // shared experts (0: none)
    int64_t n_layer_dense;   // leading dense layers (deepseek2); the others are MoE
    uint64_t n_bytes;        // bytes of all weight tensors
    int has_vocab;           // 1 if a tokenizer was loaded
    int32_t token_bos;       // -1 when absent or no tokenizer
    int32_t token_eos;       // -1 when absent or no tokenizer
};

// Fills *info (out). The strings are owned by the model and valid until janus_model_close.
// Returns JANUS_OK or JANUS_EINVAL (NULL argument). Thread-safe.
JANUS_WUR int janus_model_info(const janus_model_t *model, struct janus_model_info *info);

// ---- tokenizer (thread-safe: the model is immutable)
// Encodes len bytes of text (any bytes; need not be NUL-terminated). add_special: add BOS
// (and EOS) as the model's tokenizer says (SentencePiece models add BOS). parse_special:
// text equal to a control token's text (e.g. "</s>") becomes that token.
// out: tokens[0 .. return value), at most cap ids. A cap of len + 3 is always enough.
// Returns the number of tokens (>= 0); JANUS_ELIMIT when more than cap tokens would be
// produced (tokens[] contents then unspecified) or text is over JANUS_MAX_TEXT; JANUS_EINVAL (NULL
// model, NULL text with len > 0, NULL tokens with cap > 0, cap < 0); JANUS_EUNSUPPORTED (no
// tokenizer); JANUS_ENOMEM.
JANUS_WUR int janus_tokenize(const janus_model_t *model, const char *text, size_t len,
                             int add_special, int parse_special, int32_t *tokens, int32_t cap);

// Writes the bytes of token's text into buf (not NUL-terminated). A piece may be part of a
// UTF-8 sequence (byte tokens): concatenate pieces before displaying them, or use
// janus_generate, which does. Control tokens (BOS, EOS) give no bytes unless special is
// non-zero (then their text, e.g. "<s>").
// Returns the number of bytes (0 .. cap); JANUS_ELIMIT when cap is too small (nothing
// written; no piece is longer than 65536 bytes); JANUS_EINVAL (NULL model, NULL buf with
// cap > 0, token out of range); JANUS_EUNSUPPORTED (no tokenizer).
JANUS_WUR int janus_token_to_piece(const janus_model_t *model, int32_t token, int special,
                                   char *buf, size_t cap);

// ---- session
// Storage of a session's KV cache. F32 is exact (the default); F16 halves it and Q8_0
// (ggml's blocks: 32 int8 values per F16 scale, per head) stores 34 bytes per 32 values;
// attention reads the stored values widened to F32. Accuracy against F32 on the test
// models: docs/PERFORMANCE.md ("KV cache types").
enum janus_kv_type { JANUS_KV_F32 = 0, JANUS_KV_F16 = 1, JANUS_KV_Q8_0 = 2 };

// Numeric path of the matrix products with block-quantized weights (Q8_0, Q4_0 ... Q6_K,
// IQ4_NL, IQ4_XS; F32/F16/BF16 weights are always exact): EXACT keeps the activations in F32
// and decodes every weight exactly; INT8 quantises the activations per block of 32 to int8
// and takes integer dot products, as llama.cpp does (faster, not bit-equal to EXACT).
// JANUS_MATMUL_DEFAULT (0) is the library's default; accuracy and speed of each:
// docs/PERFORMANCE.md ("Numeric paths").
enum janus_matmul { JANUS_MATMUL_DEFAULT = 0, JANUS_MATMUL_EXACT = 1, JANUS_MATMUL_INT8 = 2 };

struct janus_session_params {
    int32_t n_seq;      // independent sequences (KV cache slots), >= 1 (default 1)
    int32_t n_ctx;      // positions per sequence, >= 1 (default 2048); the KV cache holds
                        // n_seq · n_ctx positions, allocated at create
    int32_t n_batch;    // tokens per engine step, >= 1 (default 512); longer inputs to
                        // janus_session_decode are split into steps of n_batch
    int32_t n_threads;  // worker threads for the matrix products, >= 1 (default 1)
    int32_t kv_type;    // enum janus_kv_type of the KV cache (default JANUS_KV_F32)
    int32_t matmul;     // enum janus_matmul (default JANUS_MATMUL_DEFAULT)
    int32_t all_logits; // 1: every fed token can have logits (janus_session_decode_all; the
                        // session keeps n_batch · n_vocab floats for them); 0 (default): the
                        // last token's only
};
struct janus_session_params janus_session_default_params(void);
// "f32", "f16", "q8_0" (the names janus's --kv-type takes); NULL for an unknown type.
const char *janus_kv_type_name(int32_t kv_type);
// "exact", "int8" (the names janus's --matmul takes; JANUS_MATMUL_DEFAULT: the name of the
// path it stands for); NULL for an unknown value.
const char *janus_matmul_name(int32_t matmul);

// Creates a session on model (which must stay open until the session is destroyed). All
// memory (KV cache, activations, logits, samplers) is allocated here; decoding and sampling
// allocate nothing. params may be NULL (defaults).
// out: *session, owned by the caller (janus_session_destroy) — set only on success.
// Returns JANUS_OK; JANUS_EINVAL (NULL model or session, a field out of range, n_ctx or
// n_seq over the library's limits); JANUS_ENOMEM. Thread-safe with respect to other
// sessions on the same model.
JANUS_WUR int janus_session_create(janus_model_t *model, const struct janus_session_params *params,
                                   janus_session_t **session);

// Frees *session and sets *session = NULL. NULL or *session NULL: no-op.
void janus_session_destroy(janus_session_t **session);

// Feeds n_tokens tokens to sequence seq, at the positions that follow its current length,
// and computes the logits after the last one.
// out: *logits (may be NULL): n_vocab floats, owned by the session, valid until the next
// janus_session_decode / janus_generate / janus_seq_reset on the same seq or until destroy.
// Returns JANUS_OK; JANUS_EINVAL (NULL session or tokens, seq not in [0, n_seq),
// n_tokens < 1, a token not in [0, n_vocab)); JANUS_ELIMIT (the sequence would exceed
// n_ctx positions). On failure the sequence (KV cache, length, logits) is unchanged.
// A session is not thread-safe: use it from one thread at a time. Different sessions may
// run concurrently, also on the same model.
JANUS_WUR int janus_session_decode(janus_session_t *session, int32_t seq, const int32_t *tokens,
                                   int32_t n_tokens, const float **logits);

// Like janus_session_decode, and also writes the logits after every one of the n_tokens
// tokens: row i of out (n_tokens · n_vocab floats, the caller's) follows tokens[0..i]. Needs
// a session created with all_logits = 1 (else JANUS_EINVAL); other errors as
// janus_session_decode. On failure out's contents are unspecified.
JANUS_WUR int janus_session_decode_all(janus_session_t *session, int32_t seq, const int32_t *tokens,
                                       int32_t n_tokens, float *out);

struct janus_sampling_params {
    float temperature; // <= 0: greedy (argmax, ties to the lowest id) (default 0)
    int32_t top_k;     // keep the top_k most likely tokens; 0: all (default 0)
    float top_p;       // nucleus mass in (0, 1]; 1: off (default 1)
    uint64_t seed;     // seed of the sequence's random stream (default 42)
};
struct janus_sampling_params janus_sampling_default_params(void);

// Samples the next token of sequence seq from the logits of its last decode. Each sequence
// has its own random stream: it starts from params->seed at the first sample after create
// or janus_seq_reset, and restarts whenever params differ from the previous call's.
// Same seed and calls → same tokens. params may be NULL (greedy).
// out: *token, set only on success.
// Returns JANUS_OK; JANUS_EINVAL (NULL session or token, bad seq, top_k < 0, top_p not in
// (0, 1], NaN temperature, or no logits yet: the sequence was not decoded since create or
// reset). Does not feed the token back: call janus_session_decode with it.
JANUS_WUR int janus_session_sample(janus_session_t *session, int32_t seq,
                                   const struct janus_sampling_params *params, int32_t *token);

// Called after the gate of every MoE layer in every engine step of the session: the experts
// each of the step's n_tokens tokens chose, experts[t * top_k + j] (valid during the call).
// step counts the session's engine steps from 0 (a prompt of up to n_batch tokens is one).
typedef void (*janus_routing_fn)(void *user, int64_t step, int64_t layer, const int32_t *experts,
                                 int64_t n_tokens, int64_t top_k);

// Installs (fn non-NULL) or removes (fn NULL) the session's routing observer. NULL session:
// no-op. For routing traces (docs/FORMATS.md); the observer must not call into the session.
void janus_session_set_routing_fn(janus_session_t *session, janus_routing_fn fn, void *user);

// Number of positions sequence seq holds (0 after create or reset), or JANUS_EINVAL.
int32_t janus_seq_length(const janus_session_t *session, int32_t seq);

// Empties sequence seq: its KV pages go back to the pool, its logits are dropped and its
// random stream restarts. Returns JANUS_OK or JANUS_EINVAL (NULL session, bad seq).
JANUS_WUR int janus_seq_reset(janus_session_t *session, int32_t seq);

// ---- generation
// Called with each new piece of generated text: complete UTF-8 (a character split across
// tokens arrives whole; invalid bytes arrive as U+FFFD; a character still incomplete when
// generation ends is dropped). len >= 1; text is not
// NUL-terminated and valid only during the call. Return 0 to continue, non-zero to stop.
typedef int (*janus_piece_fn)(void *user, const char *text, size_t len);

// Generates text on sequence seq: tokenizes prompt (with BOS when the sequence is empty),
// appends it to the sequence, then samples and feeds back up to max_tokens tokens, calling
// on_piece for the text as it becomes complete. Stops after max_tokens tokens, at the
// model's EOS token (not emitted, not fed back), or when on_piece returns non-zero. Greedy
// with max_tokens = N emits the same text as `janus generate -m MODEL -p PROMPT -n N`.
// Afterwards the sequence holds the prompt and every generated token (EOS excepted), and
// its logits are those after the last token fed: call janus_generate again on the same seq
// to continue the text. An empty prompt continues from the sequence's logits (on an empty
// sequence the prompt is just BOS, where the tokenizer adds one). sampling may be NULL (greedy);
// on_piece may be NULL. out: *n_generated (may be NULL): tokens generated, EOS not counted. Returns
// JANUS_OK; JANUS_ECANCELED when on_piece stopped it (state as after a normal stop); JANUS_EINVAL
// (NULL session or prompt, bad seq, max_tokens < 0, bad sampling params, no prompt tokens and no
// logits to continue from); JANUS_EUNSUPPORTED (no tokenizer); JANUS_ELIMIT (length + prompt +
// max_tokens positions do not fit in n_ctx); JANUS_ENOMEM. These are all detected before anything
// runs: nothing is emitted and the sequence is unchanged. (Should the engine still fail midway, the
// sequence is restored to its state before the call, but pieces already passed to on_piece stay
// delivered.) max_tokens = 0: checks the arguments and returns JANUS_OK without running anything.
JANUS_WUR int janus_generate(janus_session_t *session, int32_t seq, const char *prompt,
                             const struct janus_sampling_params *sampling, int32_t max_tokens,
                             janus_piece_fn on_piece, void *user, int32_t *n_generated);

// Called for every token janus_generate_tokens samples, the stopping EOS included, with the
// text it completes: complete UTF-8 as for janus_piece_fn, len 0 when there is none (part of
// a character, a control token, a model without tokenizer). A character still incomplete
// after the last token is dropped, never delivered in part. text is valid only during the
// call. Return 0 to continue, non-zero to stop (the token is still fed back).
typedef int (*janus_token_fn)(void *user, int32_t token, const char *text, size_t len);

// janus_generate on token ids: the n_prompt ids of prompt (used exactly as given, no BOS
// added; n_prompt 0 continues from the sequence's logits) are appended to sequence seq,
// then up to max_tokens tokens are sampled and fed back, each passed to on_token. Stops as
// janus_generate does; ignore_eos non-zero makes EOS an ordinary token (counted, fed back,
// generation goes on). Works on a model without tokenizer (no text, no EOS). The sequence,
// out-parameter and status codes are as for janus_generate (JANUS_EINVAL also for an id not
// in [0, n_vocab)). janus_generate is this function after janus_tokenize: one loop.
JANUS_WUR int janus_generate_tokens(janus_session_t *session, int32_t seq, const int32_t *prompt,
                                    int32_t n_prompt, const struct janus_sampling_params *sampling,
                                    int32_t max_tokens, int ignore_eos, janus_token_fn on_token,
                                    void *user, int32_t *n_generated);

#ifdef __cplusplus
}
#endif

#endif // JANUS_H
