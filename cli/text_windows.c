// Windows over a tokenized text (text_windows.h): read, tokenize whole, cut into windows,
// evaluate each from an empty sequence with BOS first — the part of llama-perplexity's
// method that janus perplexity and janus trace share (issue 14 items 2 and 4).
// SPDX-License-Identifier: MIT
#include "text_windows.h"

#include "cli.h"

#include "base/file.h"
#include "base/mem.h"

#include <string.h>

int text_windows_open(struct text_windows *tw, const char *cmd,
                      const struct text_windows_params *p) {
    memset(tw, 0, sizeof *tw);
    tw->n_ctx = p->n_ctx;
    tw->stride = p->stride > 0 ? p->stride : p->n_ctx;
    char err[JANUS_ERR_LEN];
    char *text = NULL;
    size_t len = 0;
    int ret = 1;
    if (file_read_all(p->text_path, JANUS_MAX_TEXT, &text, &len, err, sizeof err) != JANUS_OK)
        return cli_error(cmd, "%s", err);
    if (len == 0) {
        cli_error(cmd, "%s: empty text", p->text_path);
        goto out;
    }
    const struct janus_model_params mp = {.mmap = p->io.mode, .mlock = p->io.lock, .progress = 0};
    if (janus_model_open(p->model_path, &mp, &tw->model, err, sizeof err) != JANUS_OK) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    if (janus_model_info(tw->model, &tw->info) != JANUS_OK) {
        cli_error(cmd, "%s: no model information", p->model_path);
        goto out;
    }
    if (tw->n_ctx > tw->info.n_ctx_train) {
        cli_error(cmd, "--ctx %lld exceeds the model's context length %lld", (long long)tw->n_ctx,
                  (long long)tw->info.n_ctx_train);
        goto out;
    }
    const int32_t cap = (int32_t)(len + 3);
    tw->tok = mem_alloc(MEM_TAG_MISC, (size_t)cap * sizeof *tw->tok);
    tw->win = mem_alloc(MEM_TAG_MISC, (size_t)tw->n_ctx * sizeof *tw->win);
    if (!tw->tok || !tw->win) {
        cli_error(cmd, "out of memory");
        goto out;
    }
    tw->n_tok = janus_tokenize(tw->model, text, len, 1, 0, tw->tok, cap);
    if (tw->n_tok < 0) {
        cli_error(cmd, "%s: cannot tokenize (%s)", p->text_path, janus_strerror(tw->n_tok));
        goto out;
    }
    tw->n_win = tw->n_tok >= tw->n_ctx ? (tw->n_tok - tw->n_ctx) / tw->stride + 1 : 0;
    if (p->max_windows > 0 && p->max_windows < tw->n_win) tw->n_win = p->max_windows;
    if (tw->n_win < 1) {
        cli_error(cmd, "%s: %d tokens, fewer than one window of %lld (use a smaller --ctx)",
                  p->text_path, tw->n_tok, (long long)tw->n_ctx);
        goto out;
    }
    const struct janus_session_params sp = {.n_seq = 1,
                                            .n_ctx = (int32_t)tw->n_ctx,
                                            .n_batch = (int32_t)tw->n_ctx,
                                            .n_threads = p->n_threads,
                                            .kv_type = p->kv_type,
                                            .matmul = p->matmul,
                                            .all_logits = p->all_logits};
    int rc = janus_session_create(tw->model, &sp, &tw->session);
    if (rc != JANUS_OK) {
        cli_error(cmd, "cannot create a session: %s", janus_strerror(rc));
        goto out;
    }
    // Windows start with BOS when the tokenizer adds one (as llama-perplexity does).
    int32_t probe[4];
    tw->add_bos = tw->info.token_bos >= 0 &&
                  janus_tokenize(tw->model, "", 0, 1, 0, probe, 4) >= 1 &&
                  probe[0] == tw->info.token_bos;
    ret = 0;
out:
    mem_free(text);
    return ret;
}

int text_windows_eval(struct text_windows *tw, int64_t c, float *logits) {
    if (c < 0 || c >= tw->n_win) return JANUS_EINVAL;
    memcpy(tw->win, tw->tok + c * tw->stride, (size_t)tw->n_ctx * sizeof *tw->win);
    if (tw->add_bos) tw->win[0] = tw->info.token_bos;
    int rc = janus_seq_reset(tw->session, 0);
    if (rc != JANUS_OK) return rc;
    if (logits)
        return janus_session_decode_all(tw->session, 0, tw->win, (int32_t)tw->n_ctx, logits);
    return janus_session_decode(tw->session, 0, tw->win, (int32_t)tw->n_ctx, NULL);
}

void text_windows_close(struct text_windows *tw) {
    janus_session_destroy(&tw->session);
    janus_model_close(&tw->model);
    mem_free(tw->tok);
    mem_free(tw->win);
    memset(tw, 0, sizeof *tw);
}
