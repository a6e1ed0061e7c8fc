// Windows over a tokenized text, shared by janus perplexity and janus trace (issue 14
// items 2 and 4): the text is read and tokenized whole (BOS added as the model says) and
// cut into windows of n_ctx tokens starting every `stride` tokens; each window is
// evaluated in one engine step from an empty sequence, its first token replaced by BOS
// when the tokenizer adds one (llama-perplexity's method). Thin shell over include/janus.h.
// SPDX-License-Identifier: MIT
#ifndef JANUS_TEXT_WINDOWS_H
#define JANUS_TEXT_WINDOWS_H

#include <stdint.h>

#include "base/fmap.h"
#include "janus.h"

struct text_windows_params {
    const char *model_path, *text_path;
    int64_t n_ctx;       // window length in tokens (>= 2)
    int64_t stride;      // first token of window c is c * stride (0: n_ctx, non-overlapping)
    int64_t max_windows; // evaluate at most this many (0: all that fit)
    int32_t n_threads, kv_type, matmul;
    int32_t all_logits; // 1: text_windows_eval can write every position's logits
    struct fmap_opts io;
};

struct text_windows {
    janus_model_t *model;
    janus_session_t *session;
    struct janus_model_info info;
    int32_t *tok;   // (n_tok) the whole text's tokens
    int32_t n_tok;  // tokens of the text, BOS included
    int32_t *win;   // (n_ctx) the window being evaluated, BOS substituted
    int64_t n_ctx;  // window length
    int64_t stride; // window start step
    int64_t n_win;  // windows to evaluate (>= 1 after a successful open)
    int add_bos;    // 1: the first token of every window is replaced by BOS
};

// Reads and tokenizes the text, opens the model and a session of one sequence with n_ctx
// positions and an n_ctx-token batch (one window = one engine step). 0 on success; else 1
// after printing one line "janus <cmd>: ..." (unreadable or empty text, model errors,
// n_ctx over the model's context length, fewer tokens than one window). tw is left
// closable (text_windows_close) either way.
int text_windows_open(struct text_windows *tw, const char *cmd,
                      const struct text_windows_params *p);
// Evaluates window c (0 <= c < n_win) from an empty sequence: tw->win holds its tokens
// afterwards. logits: NULL, or (n_ctx, n_vocab) floats for every position (needs
// all_logits). Returns a janus_status.
JANUS_WUR int text_windows_eval(struct text_windows *tw, int64_t c, float *logits);
// Frees everything; safe on a zeroed or failed-open struct.
void text_windows_close(struct text_windows *tw);

#endif // JANUS_TEXT_WINDOWS_H
