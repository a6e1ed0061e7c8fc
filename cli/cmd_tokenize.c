// janus tokenize: loads the tokenizer of a GGUF (a full model or a vocab-only file) and
// prints the token ids of a text, space separated, on one line; --pieces adds a second line
// with each token's decoded piece, quoted with C escapes. Errors: one line on stderr, exit 1
// (usage errors exit 2). SPEC §10.
// SPDX-License-Identifier: MIT
#include "cli.h"

#include "base/clock.h"
#include "base/mem.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: janus tokenize -m MODEL (-p TEXT | -f FILE) [--no-special] [--parse-special]\n"
            "                      [--pieces] [--time [N]]\n"
            "  -m, --model PATH     GGUF file with tokenizer.ggml.* keys (vocab-only files work)\n"
            "  -p, --prompt TEXT    text to tokenize\n"
            "  -f, --file PATH      read the text from a file instead (bytes as they are)\n"
            "  --no-special         do not add BOS/EOS (default: as the model's add_bos/add_eos)\n"
            "  --parse-special      text like <s> becomes the special token (default: plain text)\n"
            "  --pieces             also print each token's decoded piece on a second line\n"
            "  --time N             tokenize N times (default 1) and print load and tokenize\n"
            "                       times to stderr (benchmark; docs/internals/vocab.md)\n"
            "output: the ids separated by spaces on one line\n");
}

static char *read_file(const char *path, size_t *len, char *err, size_t err_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot open %s", path);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = mem_alloc(MEM_TAG_MISC, cap);
    while (buf) {
        if (n == cap) {
            if (cap >= VOCAB_MAX_TEXT) {
                snprintf(err, err_len, "%s is larger than %u bytes", path, VOCAB_MAX_TEXT);
                mem_free(buf);
                buf = NULL;
                break;
            }
            char *nb = mem_realloc(MEM_TAG_MISC, buf, cap * 2);
            if (!nb) {
                mem_free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    if (!buf && !err[0]) snprintf(err, err_len, "out of memory reading %s", path);
    if (buf && ferror(f)) {
        snprintf(err, err_len, "read error on %s", path);
        mem_free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

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
    int add_special = 1, parse_special = 0, pieces = 0;
    int64_t n_time = 0;
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!has_val) return 2 * cli_error(cmd, "%s needs a value", a);
            model = argv[++i];
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!has_val) return 2 * cli_error(cmd, "%s needs a value", a);
            prompt = argv[++i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!has_val) return 2 * cli_error(cmd, "%s needs a value", a);
            file = argv[++i];
        } else if (!strcmp(a, "--no-special")) {
            add_special = 0;
        } else if (!strcmp(a, "--parse-special")) {
            parse_special = 1;
        } else if (!strcmp(a, "--pieces")) {
            pieces = 1;
        } else if (!strcmp(a, "--time")) {
            n_time = 1;
            if (has_val && cli_parse_i64(argv[i + 1], 1, 1000000, &n_time) == 0) i++;
        } else {
            return 2 * cli_error(cmd, "unknown option '%s' (see --help)", a);
        }
    }
    if (!model) return 2 * cli_error(cmd, "-m MODEL is required (see --help)");
    if (!prompt == !file) return 2 * cli_error(cmd, "give exactly one of -p TEXT or -f FILE");

    char err[512] = "";
    size_t len = 0;
    char *owned = NULL;
    const char *text = prompt;
    if (file) {
        owned = read_file(file, &len, err, sizeof err);
        if (!owned) return cli_error(cmd, "%s", err);
        text = owned;
    } else {
        len = strlen(prompt);
    }
    if (len > VOCAB_MAX_TEXT) {
        mem_free(owned);
        return cli_error(cmd, "text is %zu bytes; the limit is %u", len, VOCAB_MAX_TEXT);
    }

    struct gguf g;
    struct vocab v;
    double t_load = clock_now_s();
    int rc = gguf_open(&g, model, err, sizeof err);
    if (rc) {
        mem_free(owned);
        if (err[0]) return cli_error(cmd, "%s", err); // names the file already
        return cli_error(cmd, "%s: %s", model, janus_strerror(rc));
    }
    rc = vocab_load(&v, &g, err, sizeof err);
    gguf_close(&g); // the vocab owns copies of everything it needs
    if (rc) {
        mem_free(owned);
        return cli_error(cmd, "%s: %s", model, err[0] ? err : janus_strerror(rc));
    }

    t_load = clock_now_s() - t_load;
    // Worst case: every input byte becomes U+FFFD (BPE) = 3 tokens, plus prefix, BOS, EOS.
    size_t cap = len * 3 + 4;
    int32_t *ids = cap <= (size_t)INT32_MAX ? mem_alloc(MEM_TAG_MISC, cap * sizeof *ids) : NULL;
    double t_tok = clock_now_s();
    int n = JANUS_ENOMEM;
    for (int64_t r = 0; ids && r < (n_time ? n_time : 1); r++)
        n = vocab_tokenize(&v, text, len, add_special, parse_special, ids, (int)cap);
    t_tok = (clock_now_s() - t_tok) / (double)(n_time ? n_time : 1);
    if (n < 0) {
        mem_free(ids);
        vocab_free(&v);
        mem_free(owned);
        return cli_error(cmd, "tokenize failed: %s", janus_strerror(n));
    }
    for (int i = 0; i < n; i++)
        printf(i ? " %d" : "%d", ids[i]);
    putchar('\n');
    if (pieces) {
        for (int i = 0; i < n; i++) {
            size_t pl;
            const char *p = vocab_piece(&v, ids[i], 1, &pl);
            if (i) putchar(' ');
            print_quoted(p, pl);
        }
        putchar('\n');
    }
    if (n_time)
        fprintf(
            stderr,
            "load %.1f ms; tokenize %zu bytes -> %d tokens: %.3f ms (%.2f MB/s, mean of %lld)\n",
            t_load * 1e3, len, n, t_tok * 1e3, t_tok > 0 ? (double)len / t_tok / 1e6 : 0.0,
            (long long)n_time);
    int out_err = fflush(stdout) != 0 || ferror(stdout);
    mem_free(ids);
    vocab_free(&v);
    mem_free(owned);
    if (out_err) return cli_error(cmd, "error writing to stdout");
    return 0;
}
