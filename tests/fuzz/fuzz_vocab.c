// libFuzzer target for model/vocab: tokenizes arbitrary bytes with the janus-spm (SPM) and
// gpt-2 (byte-level BPE) vocabularies from $JANUS_FIXTURES (default ../shared/fixtures), the
// latter once per pre-tokenizer split class (model/pretok.h, issue 12 item 5), and
// checks invariants: no crash, ids in range, the cap is honoured, decoding round-trips
// (SPM: exactly " " + text; BPE: exactly the text when it is valid UTF-8), and the streaming
// detokenizer always emits valid UTF-8, and vocab_tokenize_raw (chat safety) agrees with
// vocab_tokenize at its two extremes (no ranges / one range over all). If the fixtures are missing,
// a small SPM vocabulary built in memory is used instead. First input byte: flags (bit 0 SPM/BPE, 1
// add_special, 2 parse_special, 3-7 the BPE pre-tokenizer); the rest: the text.
// SPDX-License-Identifier: MIT
#include "base/status.h"
#include "base/mem.h"
#include "model/gguf.h"
#include "model/pretok.h"
#include "model/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vocab g_vocab[2];
static int g_n_vocab;
static int g_has_fixture_spm; // vocab 0 is janus-spm (round-trip check valid)
// gpt-2 with tokenizer.ggml.pre rewritten: one name per split class, plus dbrx (llama3's
// split without ignore_merges)
static struct vocab g_bpe[VOCAB_PRE_COUNT + 1];
static int g_n_bpe;

static void load_bpe_variants(const char *dir) {
    char path[4096], err[512];
    struct gguf g;
    snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-gpt-2.gguf", dir);
    if (gguf_open(&g, path, err, sizeof err)) return;
    size_t n;
    const struct pretok_name *names = pretok_names(&n);
    int seen[VOCAB_PRE_COUNT] = {0};
    for (size_t i = 0; i < n && g_n_bpe < (int)(sizeof g_bpe / sizeof g_bpe[0]); i++) {
        if (seen[names[i].pre] && strcmp(names[i].name, "dbrx")) continue;
        seen[names[i].pre] = 1;
        struct gguf_writer *w = gguf_writer_create();
        int rc = w ? 0 : -1;
        for (int64_t k = 0; k < g.n_kv && !rc; k++)
            if (g.kv[k].key.len != 18 || memcmp(g.kv[k].key.ptr, "tokenizer.ggml.pre", 18))
                rc = gguf_writer_copy_kv(w, &g, k);
        if (!rc) rc = gguf_writer_add_str(w, "tokenizer.ggml.pre", names[i].name);
        void *buf = NULL;
        size_t len = 0;
        if (!rc) rc = gguf_writer_write_memory(w, &buf, &len);
        gguf_writer_destroy(&w);
        struct gguf g2;
        if (!rc && !gguf_open_memory(&g2, buf, len, err, sizeof err)) {
            if (!vocab_load(&g_bpe[g_n_bpe], &g2, err, sizeof err)) g_n_bpe++;
            gguf_close(&g2);
        }
        mem_free(buf);
    }
    gguf_close(&g);
}

static void load_fixture(const char *dir, const char *name) {
    char path[4096], err[256];
    struct gguf g;
    snprintf(path, sizeof path, "%s/tokenizer/%s", dir, name);
    if (gguf_open(&g, path, err, sizeof err)) return;
    if (vocab_load(&g_vocab[g_n_vocab], &g, err, sizeof err) == JANUS_OK) g_n_vocab++;
    gguf_close(&g);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("JANUS_FIXTURES");
    load_fixture(dir ? dir : "../shared/fixtures", "ggml-vocab-janus-spm.gguf");
    g_has_fixture_spm = g_n_vocab == 1;
    load_fixture(dir ? dir : "../shared/fixtures", "ggml-vocab-gpt-2.gguf");
    load_bpe_variants(dir ? dir : "../shared/fixtures");
    if (g_n_vocab == 0) { // fallback: tiny SPM vocabulary with all 256 byte tokens
        static char names[256][8];
        static struct vocab_str toks[256 + 6];
        static int32_t types[256 + 6];
        const char *fixed[6] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "\xE2\x96\x81t", "he"};
        for (int i = 0; i < 6; i++) {
            toks[i].ptr = fixed[i];
            toks[i].len = strlen(fixed[i]);
            types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
        }
        for (int b = 0; b < 256; b++) {
            snprintf(names[b], sizeof names[b], "<0x%02X>", b);
            toks[6 + b].ptr = names[b];
            toks[6 + b].len = 6;
            types[6 + b] = 6;
        }
        struct vocab_desc d = {.model = "llama",
                               .n_tokens = 262,
                               .tokens = toks,
                               .token_types = types,
                               .bos = -1,
                               .eos = -1,
                               .unk = -1,
                               .pad = -1,
                               .add_bos = -1,
                               .add_eos = -1,
                               .add_space_prefix = -1};
        char err[256];
        if (vocab_init(&g_vocab[0], &d, err, sizeof err)) {
            fprintf(stderr, "fuzz_vocab: %s\n", err);
            abort();
        }
        g_n_vocab = 1;
    }
    return 0;
}

static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t l = c < 0x80                   ? 1
                   : (c >= 0xC2 && c <= 0xDF) ? 2
                   : (c >= 0xE0 && c <= 0xEF) ? 3
                   : (c >= 0xF0 && c <= 0xF4) ? 4
                                              : 0;
        if (!l || i + l > n) return 0;
        for (size_t k = 1; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        if (l == 3 && c == 0xE0 && s[i + 1] < 0xA0) return 0;
        if (l == 3 && c == 0xED && s[i + 1] > 0x9F) return 0;
        if (l == 4 && c == 0xF0 && s[i + 1] < 0x90) return 0;
        if (l == 4 && c == 0xF4 && s[i + 1] > 0x8F) return 0;
        i += l;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    unsigned flags = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int which = (int)(flags & 1) % g_n_vocab;
    int add_special = !!(flags & 2), parse_special = !!(flags & 4);
    const struct vocab *v = &g_vocab[which];
    if (which == 1 && g_n_bpe > 0) v = &g_bpe[(flags >> 3) % (unsigned)g_n_bpe];

    int cap = (int)(len * 3 + 4);
    int32_t *ids = malloc(sizeof *ids * (size_t)cap);
    int n = vocab_tokenize(v, text, len, add_special, parse_special, ids, cap);
    if (n < 0) abort(); // the worst-case cap always suffices
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= v->n_tokens) abort();
    if (n > 0 &&
        vocab_tokenize(v, text, len, add_special, parse_special, ids, n - 1) != JANUS_ELIMIT)
        abort();
    // Chat safety (vocab_tokenize_raw): no ranges = parse_special; one range over the whole
    // text = no special parsing; ranges from the input's bytes: ids in range, no crash.
    {
        int32_t *r = malloc(sizeof *r * (size_t)cap);
        struct vocab_span whole = {0, len}, sp[4];
        size_t ns = 0, at = 0;
        for (size_t k = 0; k < len && k < 8 && ns < 4; k += 2) {
            size_t off = at + (unsigned char)text[k] % 8,
                   l = (unsigned char)text[k + 1 < len ? k + 1 : k] % 8;
            if (off > len || l > len - off) break;
            sp[ns++] = (struct vocab_span){off, l};
            at = off + l;
        }
        int a = vocab_tokenize(v, text, len, add_special, 1, ids, cap);
        int b = vocab_tokenize_raw(v, text, len, add_special, NULL, 0, r, cap);
        if (a != b || (a > 0 && memcmp(ids, r, sizeof *r * (size_t)a))) abort();
        a = vocab_tokenize(v, text, len, add_special, 0, ids, cap);
        b = vocab_tokenize_raw(v, text, len, add_special, &whole, 1, r, cap);
        if (a != b || (a > 0 && memcmp(ids, r, sizeof *r * (size_t)a))) abort();
        b = vocab_tokenize_raw(v, text, len, add_special, sp, ns, r, cap);
        if (b < 0) abort();
        for (int i = 0; i < b; i++)
            if (r[i] < 0 || r[i] >= v->n_tokens) abort();
        free(r);
    }
    n = vocab_tokenize(v, text, len, add_special, parse_special, ids, cap);

    // plain concatenation of pieces and the streaming detokenizer
    size_t max_out = vocab_detok_max_out(v);
    char *cat = malloc((size_t)n * (size_t)v->max_token_len + 16),
         *stream = malloc((size_t)n * max_out + max_out + 16);
    size_t m = 0, ms = 0;
    struct vocab_detok d = {0};
    for (int i = 0; i < n; i++) {
        size_t pl;
        const char *p = vocab_piece(v, ids[i], 0, &pl);
        if (!p || pl > (size_t)v->max_token_len) abort();
        memcpy(cat + m, p, pl);
        m += pl;
        int w = vocab_detok_push(v, &d, ids[i], 0, stream + ms, max_out);
        if (w < 0) abort();
        ms += (size_t)w;
    }
    const int dropped = vocab_detok_end(&d);
    if (dropped < 0 || dropped > 3) abort();
    if (!valid_utf8((const unsigned char *)stream, ms)) abort();
    if (valid_utf8((const unsigned char *)cat, m) &&
        (dropped != 0 || ms != m || memcmp(stream, cat, m) != 0))
        abort(); // valid input to the detokenizer passes through unchanged

    int specials_in_text =
        parse_special && (memmem(text, len, "<s>", 3) || memmem(text, len, "</s>", 4) ||
                          memmem(text, len, "<unk>", 5));
    if (which == 0 && g_has_fixture_spm && !specials_in_text && len > 0 &&
        valid_utf8(data + 1, len) && !memmem(text, len, "\xE2\x96\x81", 3)) {
        // SPM with byte fallback is lossless on valid UTF-8: " " + text. (U+2581 in the text
        // decodes to a space. Invalid UTF-8 is not round-tripped: as in llama.cpp, a symbol's
        // length comes from its lead byte, so a stray lead byte swallows the bytes of the
        // following escaped space, which then decode as bytes, not as a space.)
        if (m != len + 1 || cat[0] != ' ' || memcmp(cat + 1, text, len) != 0) abort();
    }
    if (which == 1 && !parse_special && valid_utf8(data + 1, len)) {
        // byte-level BPE is lossless on valid UTF-8
        if (m != len || memcmp(cat, text, len) != 0) abort();
    }
    free(cat);
    free(stream);
    free(ids);
    return 0;
}
