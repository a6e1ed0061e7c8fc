// janus trace -m MODEL -f TEXT -o TRACE: the routing of a model on a text, as a routing
// trace (issue 14 item 4; SPEC §6; docs/ROUTING.md). The text is windowed exactly as
// janus perplexity does it (text_windows.h: tokenized whole, windows of --ctx tokens every
// --stride tokens, each from an empty sequence with BOS first, one engine step each); the
// session's routing observer writes every MoE layer's top-k expert ids of every token of
// window c as block "step c layer L" (docs/FORMATS.md).
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "default_model.h"
#include "load_opts.h"
#include "opts.h"
#include "text_windows.h"

#include "place/trace.h"

#include <stdio.h>
#include <sys/stat.h>

#define CMD "trace"

// After a failure: removes the partial trace, but only a regular file (never a device or
// FIFO such as /dev/stdout given as the output).
static void remove_partial(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) remove(path);
}

// Routing observer -> trace writer. Blocks are numbered by window, not by the session's
// engine step (one window is one step, but the step counter does not restart per window).
struct trace_rec {
    struct trace_writer w;
    int64_t window;   // the window being evaluated (the block's step number)
    int64_t n_blocks; // blocks written
    int64_t n_tok;    // token rows written over all blocks
};

static void on_routing(void *user, int64_t step, int64_t layer, const int32_t *ids, int64_t n_tok,
                       int64_t k) {
    (void)step;
    struct trace_rec *r = user;
    if (trace_writer_append_block(&r->w, r->window, (int32_t)layer, ids, n_tok, (int32_t)k) ==
        JANUS_OK) {
        r->n_blocks++;
        r->n_tok += n_tok;
    }
}

int cmd_trace(int argc, char **argv) {
    const char *model_path = NULL, *text_path = NULL, *out_path = NULL;
    int64_t n_ctx = 512, stride = 0, max_chunks = 0, n_threads = 1;
    int32_t kv_type = 0, matmul = 0;
    struct load_opts lo;
    load_opts_init(&lo);
    const struct cli_opt opts[] = {
        CLI_OPT_STR("model", 'm', &model_path, "FILE",
                    "GGUF MoE model (default: the embedded default model)"),
        CLI_OPT_STR("file", 'f', &text_path, "TEXT", "the text (UTF-8), tokenized whole"),
        CLI_OPT_STR("output", 'o', &out_path, "FILE", "the routing trace to write"),
        CLI_OPT_I64("ctx", 'c', &n_ctx, 2, 1 << 20, "N", "window length in tokens (default 512)"),
        CLI_OPT_I64("stride", 0, &stride, 0, 1 << 30, "S",
                    "window c starts at token c*S (default 0: S = N, non-overlapping\n"
                    "windows, as janus perplexity)"),
        CLI_OPT_I64("chunks", 0, &max_chunks, 0, 1 << 30, "K",
                    "evaluate at most K windows, the first ones (default 0: all)"),
        CLI_OPT_I64("threads", 't', &n_threads, 1, 1024, "N", "worker threads (default 1)"),
        CLI_OPT_FN("kv-type", 0, cli_opt_kv_type, &kv_type, "T",
                   "KV cache storage: f32 (default), f16 or q8_0"),
        CLI_OPT_FN("matmul", 0, cli_opt_matmul, &matmul, CLI_MATMUL_ARG, CLI_MATMUL_HELP),
        CLI_OPT_TABLE(lo.table),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout,
                      "trace -m MODEL -f TEXT -o TRACE [--ctx N] [--chunks K] [--stride S]\n"
                      "  Evaluates the text in windows as janus perplexity does and writes the\n"
                      "  experts every token chose in every MoE layer as a routing trace: window\n"
                      "  c is block \"step c layer L\" (docs/ROUTING.md, docs/FORMATS.md).",
                      opts, NULL);
        return 0;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    char default_path[4096];
    if (!model_path) { // the embedded default model
        if (default_model_path(CMD, default_path, sizeof default_path)) return 1;
        model_path = default_path;
    }
    if (!text_path) return cli_error(CMD, "missing -f TEXT");
    if (!out_path) return cli_error(CMD, "missing -o TRACE");
    struct text_windows_params tp = {.model_path = model_path,
                                     .text_path = text_path,
                                     .n_ctx = n_ctx,
                                     .stride = stride,
                                     .max_windows = max_chunks,
                                     .n_threads = (int32_t)n_threads,
                                     .kv_type = kv_type,
                                     .matmul = matmul};
    if (load_opts_finish(&lo, CMD, &tp.io)) return 1;
    struct text_windows tw;
    struct trace_rec rec = {0};
    int ret = 1;
    if (text_windows_open(&tw, CMD, &tp)) goto out;
    if (tw.info.n_expert == 0) {
        cli_error(CMD, "%s has no experts (a dense model has no routing to trace)", model_path);
        goto out;
    }
    if (trace_writer_open(&rec.w, out_path) != JANUS_OK) {
        cli_error(CMD, "cannot write %s", out_path);
        goto out;
    }
    char line[1024];
    snprintf(line, sizeof line, "janus trace: model %s, text %s (%d tokens)", model_path, text_path,
             tw.n_tok);
    (void)!trace_writer_comment(&rec.w, line);
    snprintf(line, sizeof line,
             "ctx %lld, stride %lld, %lld windows; step c = window c: text tokens "
             "[c*%lld, c*%lld + %lld)%s",
             (long long)tw.n_ctx, (long long)tw.stride, (long long)tw.n_win, (long long)tw.stride,
             (long long)tw.stride, (long long)tw.n_ctx,
             tw.add_bos ? ", the first replaced by BOS" : "");
    (void)!trace_writer_comment(&rec.w, line);
    snprintf(line, sizeof line, "experts %lld, top-k %lld, MoE layers %lld..%lld",
             (long long)tw.info.n_expert, (long long)tw.info.n_expert_used,
             (long long)tw.info.n_layer_dense, (long long)tw.info.n_layer - 1);
    (void)!trace_writer_comment(&rec.w, line);
    janus_session_set_routing_fn(tw.session, on_routing, &rec);
    for (int64_t c = 0; c < tw.n_win; c++) {
        rec.window = c;
        int rc = text_windows_eval(&tw, c, NULL);
        if (rc != JANUS_OK) {
            cli_error(CMD, "window %lld: %s", (long long)c, janus_strerror(rc));
            goto out;
        }
        if (rec.w.status != JANUS_OK) break;
    }
    janus_session_set_routing_fn(tw.session, NULL, NULL);
    if (trace_writer_close(&rec.w) != JANUS_OK) {
        cli_error(CMD, "write to %s failed", out_path);
        remove_partial(out_path);
        goto out;
    }
    fprintf(stderr,
            "trace: %lld windows of %lld tokens (stride %lld) of %d text tokens, %lld blocks, "
            "%lld token rows -> %s\n",
            (long long)tw.n_win, (long long)tw.n_ctx, (long long)tw.stride, tw.n_tok,
            (long long)rec.n_blocks, (long long)rec.n_tok, out_path);
    ret = 0;
out:
    if (rec.w.f) { // failed after the output was created: leave no partial trace behind
        (void)!trace_writer_close(&rec.w);
        remove_partial(out_path);
    }
    text_windows_close(&tw);
    return ret;
}
