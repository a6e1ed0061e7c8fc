// janus tokenize: loads the tokenizer of a GGUF (a full model or a vocab-only file) through
// include/janus.h and prints the token ids of a text, space separated, on one line; --pieces
// adds a second line with each token's decoded piece, quoted with C escapes. Errors: one line
// on stderr, exit 1 (usage errors exit 2). SPEC §10.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "opts.h"

#include "base/clock.h"
#include "base/file.h"
#include "base/mem.h"
#include "janus.h"

#include <stdio.h>
#include <string.h>

#define MAX_PIECE 65536 // janus_token_to_piece: no piece is longer

static void print_quoted(const char *s, size_t n) {
    putchar('\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\\' || c == '\'')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            printf("\\x%02x", c);
        else
            putchar(c); // UTF-8 bytes pass through (an incomplete sequence stays as bytes)
    }
    putchar('\'');
}

int cmd_tokenize(int argc, char **argv) {
    const char *cmd = argv[0];
    const char *model = NULL, *prompt = NULL, *file = NULL;
    int no_special = 0, parse_special = 0, pieces = 0;
    int64_t n_time = 0;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("model", 'm', &model, "PATH",
                    "GGUF file with tokenizer.ggml.* keys (vocab-only files work)"),
        CLI_OPT_STR("prompt", 'p', &prompt, "TEXT", "text to tokenize"),
        CLI_OPT_STR("file", 'f', &file, "PATH",
                    "read the text from a file instead (bytes as they are)"),
        CLI_OPT_FLAG("no-special", 0, &no_special,
                     "do not add BOS/EOS (default: as the model's add_bos/add_eos)"),
        CLI_OPT_FLAG("parse-special", 0, &parse_special,
                     "text like <s> becomes the special token (default: plain text)"),
        CLI_OPT_FLAG("pieces", 0, &pieces,
                     "also print each token's decoded piece on a second line"),
        {"time", 0, CLI_I64, &n_time, 1, 1000000, "N",
         "tokenize N times (default 1) and print load and tokenize\n"
         "times to stderr (benchmark; docs/internals/vocab.md)",
         .optional = 1},
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout,
                      "tokenize -m MODEL (-p TEXT | -f FILE) [--no-special] [--parse-special]\n"
                      "                      [--pieces] [--time [N]]",
                      opts, "output: the ids separated by spaces on one line\n");
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 2;
    if (!model) return 2 * cli_error(cmd, "-m MODEL is required (see --help)");
    if (!prompt == !file) return 2 * cli_error(cmd, "give exactly one of -p TEXT or -f FILE");

    char err[JANUS_ERR_LEN] = "";
    size_t len = 0;
    char *owned = NULL;
    const char *text = prompt;
    if (file) {
        if (file_read_all(file, JANUS_MAX_TEXT, &owned, &len, err, sizeof err) != JANUS_OK)
            return cli_error(cmd, "%s", err);
        text = owned;
    } else {
        len = strlen(prompt);
    }
    if (len > JANUS_MAX_TEXT) {
        mem_free(owned);
        return cli_error(cmd, "text is %zu bytes; the limit is %u", len, JANUS_MAX_TEXT);
    }

    double t_load = clock_now_s();
    janus_model_t *m = NULL;
    const struct janus_model_params mp = {.require_vocab = 1, .vocab_only = 1};
    if (janus_model_open(model, &mp, &m, err, sizeof err) != JANUS_OK) {
        mem_free(owned);
        return cli_error(cmd, "%s", err);
    }
    t_load = clock_now_s() - t_load;
    // Worst case: every input byte becomes U+FFFD (BPE) = 3 tokens, plus prefix, BOS, EOS.
    size_t cap = len * 3 + 4;
    int32_t *ids = cap <= (size_t)INT32_MAX ? mem_alloc(MEM_TAG_MISC, cap * sizeof *ids) : NULL;
    char *piece = mem_alloc(MEM_TAG_MISC, MAX_PIECE);
    double t_tok = clock_now_s();
    int n = JANUS_ENOMEM;
    for (int64_t r = 0; ids && piece && r < (n_time ? n_time : 1); r++)
        n = janus_tokenize(m, text, len, !no_special, parse_special, ids, (int32_t)cap);
    t_tok = (clock_now_s() - t_tok) / (double)(n_time ? n_time : 1);
    int ret = 0;
    if (n < 0) {
        ret = cli_error(cmd, "tokenize failed: %s", janus_strerror(n));
        goto out;
    }
    for (int i = 0; i < n; i++)
        printf(i ? " %d" : "%d", ids[i]);
    putchar('\n');
    if (pieces) {
        for (int i = 0; i < n; i++) {
            int pl = janus_token_to_piece(m, ids[i], 1, piece, MAX_PIECE);
            if (i) putchar(' ');
            print_quoted(piece, pl > 0 ? (size_t)pl : 0);
        }
        putchar('\n');
    }
    if (n_time)
        fprintf(
            stderr,
            "load %.1f ms; tokenize %zu bytes -> %d tokens: %.3f ms (%.2f MB/s, mean of %lld)\n",
            t_load * 1e3, len, n, t_tok * 1e3, t_tok > 0 ? (double)len / t_tok / 1e6 : 0.0,
            (long long)n_time);
    if (fflush(stdout) != 0 || ferror(stdout)) ret = cli_error(cmd, "error writing to stdout");
out:
    mem_free(piece);
    mem_free(ids);
    janus_model_close(&m);
    mem_free(owned);
    return ret;
}
