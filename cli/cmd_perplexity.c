// janus perplexity -m MODEL -f TEXT [--ctx N] [--json]: llama-perplexity's method (issue 14
// item 2; the windows are text_windows.h, shared with janus trace). The text is tokenized
// whole (BOS added as the model says); it is cut into floor(tokens / N) non-overlapping windows of
// N tokens; each window is evaluated from an empty sequence with its first token replaced by BOS,
// and only its second half is scored: the logits at positions N/2 .. N-2 predict the tokens that
// follow them. ppl = exp(mean negative log-likelihood), computed in double precision.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "default_model.h"
#include "load_opts.h"
#include "opts.h"
#include "text_windows.h"

#include "base/mem.h"
#include "janus.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CMD "perplexity"

// Negative log-likelihood of token y under the logits row lg (log-sum-exp in double).
static double nll(const float *lg, int64_t V, int32_t y) {
    double mx = lg[0];
    for (int64_t v = 1; v < V; v++)
        if (lg[v] > mx) mx = lg[v];
    double sum = 0.0;
    for (int64_t v = 0; v < V; v++)
        sum += exp((double)lg[v] - mx);
    return log(sum) + mx - (double)lg[y];
}

int cmd_perplexity(int argc, char **argv) {
    const char *model_path = NULL, *text_path = NULL;
    int64_t n_ctx = 512, n_threads = 1, max_chunks = 0;
    int json = 0;
    int32_t kv_type = 0, matmul = 0;
    struct load_opts lo;
    load_opts_init(&lo);
    const struct cli_opt opts[] = {
        CLI_OPT_STR("model", 'm', &model_path, "FILE",
                    "GGUF model (default: the embedded default model)"),
        CLI_OPT_STR("file", 'f', &text_path, "TEXT", "the text (UTF-8), tokenized whole"),
        CLI_OPT_I64("ctx", 'c', &n_ctx, 4, 1 << 20, "N", "window length in tokens (default 512)"),
        CLI_OPT_I64("chunks", 0, &max_chunks, 0, 1 << 30, "K",
                    "evaluate at most K windows (default 0: all)"),
        CLI_OPT_I64("threads", 't', &n_threads, 1, 1024, "N", "worker threads (default 1)"),
        CLI_OPT_FN("kv-type", 0, cli_opt_kv_type, &kv_type, "T",
                   "KV cache storage: f32 (default), f16 or q8_0"),
        CLI_OPT_FN("matmul", 0, cli_opt_matmul, &matmul, CLI_MATMUL_ARG, CLI_MATMUL_HELP),
        CLI_OPT_FLAG("json", 0, &json,
                     "print one JSON object: ppl, nll, tokens (scored), text_tokens,\n"
                     "ctx, chunks, n_vocab"),
        CLI_OPT_TABLE(lo.table),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout,
                      "perplexity -m MODEL -f TEXT [--ctx N] [--json]\n"
                      "  llama-perplexity's method: non-overlapping windows of N tokens, each\n"
                      "  starting with BOS, the second half of each scored. Prints ppl = X.",
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
    if (n_ctx % 2) return cli_error(CMD, "--ctx %lld must be even", (long long)n_ctx);
    struct text_windows_params tp = {.model_path = model_path,
                                     .text_path = text_path,
                                     .n_ctx = n_ctx,
                                     .max_windows = max_chunks,
                                     .n_threads = (int32_t)n_threads,
                                     .kv_type = kv_type,
                                     .matmul = matmul,
                                     .all_logits = 1};
    if (load_opts_finish(&lo, CMD, &tp.io)) return 1;
    struct text_windows tw;
    float *lg = NULL;
    int ret = 1;
    if (text_windows_open(&tw, CMD, &tp)) goto out;
    const int64_t V = tw.info.n_vocab, n_chunk = tw.n_win;
    lg = mem_alloc(MEM_TAG_MISC, (size_t)n_ctx * (size_t)V * sizeof(float));
    if (!lg) {
        cli_error(CMD, "out of memory");
        goto out;
    }
    const int64_t first = n_ctx / 2;
    double sum = 0.0;
    int64_t count = 0;
    for (int64_t c = 0; c < n_chunk; c++) {
        int rc = text_windows_eval(&tw, c, lg);
        if (rc != JANUS_OK) {
            cli_error(CMD, "window %lld: %s", (long long)c, janus_strerror(rc));
            goto out;
        }
        const int32_t *w = tw.win; // tokens i + 1 >= 1 are the text's (only w[0] may be BOS)
        for (int64_t i = first; i < n_ctx - 1; i++)
            sum += nll(lg + (size_t)i * (size_t)V, V, w[i + 1]);
        count += n_ctx - 1 - first;
        if (!json) {
            fprintf(stderr, "[%lld]%.4f%s", (long long)c + 1, exp(sum / (double)count),
                    c + 1 == n_chunk ? "\n" : ",");
            fflush(stderr);
        }
    }
    const double mean = sum / (double)count;
    if (json)
        printf("{\"ppl\": %.6f, \"nll\": %.8f, \"tokens\": %lld, \"text_tokens\": %d, \"ctx\": "
               "%lld, \"chunks\": %lld, \"n_vocab\": %lld}\n",
               exp(mean), mean, (long long)count, tw.n_tok, (long long)n_ctx, (long long)n_chunk,
               (long long)V);
    else
        printf("ppl = %.4f\n", exp(mean));
    ret = 0;
out:
    text_windows_close(&tw);
    mem_free(lg);
    return ret;
}
