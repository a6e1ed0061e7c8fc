// Tests for model/pretok (issue 12 items 5 and 7): every tokenizer.ggml.pre name llama.cpp
// c392e5094 accepts, checked against fixtures/tokenizer/pre/ (the GPT-2 vocabulary with the
// pre value rewritten; 87 strings; add_special = parse_special = false; exact ids), the
// per-name settings (ignore_merges on a vocabulary built here, add_bos defaults) and the
// error for an unknown name.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/pretok.h"
#include "model/vocab.h"

#include <dirent.h>
#include <stdlib.h>

#define SEP "\n__ggml_vocab_test__\n"

// Loads vocabulary g with tokenizer.ggml.pre replaced by pre (every other key copied as is);
// pre == NULL drops the key. Returns the vocab_load status.
static int load_with_pre(const struct gguf *g, const char *pre, struct vocab *v, char *err,
                         size_t err_len) {
    struct gguf_writer *w = gguf_writer_create();
    if (!w) return JANUS_ENOMEM;
    int rc = JANUS_OK;
    for (int64_t i = 0; i < g->n_kv && !rc; i++) {
        const struct gguf_str *k = &g->kv[i].key;
        if (k->len == 18 && !memcmp(k->ptr, "tokenizer.ggml.pre", 18)) continue;
        rc = gguf_writer_copy_kv(w, g, i);
    }
    if (!rc && pre) rc = gguf_writer_add_str(w, "tokenizer.ggml.pre", pre);
    void *buf = NULL;
    size_t len = 0;
    if (!rc) rc = gguf_writer_write_memory(w, &buf, &len);
    gguf_writer_destroy(&w);
    if (rc) return rc;
    struct gguf g2;
    rc = gguf_open_memory(&g2, buf, len, err, err_len);
    if (!rc) {
        rc = vocab_load(v, &g2, err, err_len);
        gguf_close(&g2);
    }
    mem_free(buf);
    return rc;
}

static void print_ids(const char *label, const int32_t *ids, int n) {
    fprintf(stderr, "    %s (%d):", label, n);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

// Tokenizes every string of inp with v and compares with the lines of out. Returns the
// number of strings, and the number of mismatches in *n_bad.
static int check_strings(const struct vocab *v, const char *label, const char *inp, const char *out,
                         int *n_bad) {
    static int32_t got[65536], want[65536];
    int n = 0;
    *n_bad = 0;
    const char *p = inp, *q = out;
    for (;;) {
        const char *sep = strstr(p, SEP);
        if (!sep) break;
        size_t tlen = (size_t)(sep - p);
        const char *eol = strchr(q, '\n');
        if (!eol) {
            fprintf(stderr, "  %s: .out has fewer lines than strings.inp has strings\n", label);
            (*n_bad)++;
            break;
        }
        int nw = 0;
        for (const char *r = q; r < eol && nw < 65536;) {
            char *end;
            long x = strtol(r, &end, 10);
            if (end == r) break;
            want[nw++] = (int32_t)x;
            r = end;
        }
        int ng = vocab_tokenize(v, p, tlen, 0, 0, got, 65536);
        if (ng != nw || memcmp(got, want, sizeof(int32_t) * (size_t)(ng > 0 ? ng : 0)) != 0) {
            if (*n_bad < 3) {
                fprintf(stderr, "  %s string %d mismatch: \"%.*s\"\n", label, n + 1, (int)tlen, p);
                print_ids("expected", want, nw);
                if (ng >= 0)
                    print_ids("got     ", got, ng);
                else
                    fprintf(stderr, "    got status %d\n", ng);
            }
            (*n_bad)++;
        }
        n++;
        p = sep + strlen(SEP);
        q = eol + 1;
    }
    if (*q) {
        fprintf(stderr, "  %s: .out has more lines than strings.inp has strings\n", label);
        (*n_bad)++;
    }
    return n;
}

static int is_jina_v2(const char *name) { return !strncmp(name, "jina-v2-", 8); }

// Every accepted name against its vector file: 39 files, plus the three jina-v2 names, which
// llama.cpp cannot load with this vocabulary (no "<mask>") and which split as gpt-2.
TEST(pre_vectors_all_names) {
    char path[4096], err[JANUS_ERR_LEN];
    const char *fix = test_fixtures_dir();
    struct gguf g;
    snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-gpt-2.gguf", fix);
    ASSERT_OK(gguf_open(&g, path, err, sizeof err));
    snprintf(path, sizeof path, "%s/tokenizer/pre/strings.inp", fix);
    char *inp = test_read_file(path, NULL);
    ASSERT(inp != NULL);

    size_t n_names;
    const struct pretok_name *names = pretok_names(&n_names);
    ASSERT_EQ(n_names, 42u);
    int n_files = 0, n_matched = 0, n_strings = 0;
    for (size_t i = 0; i < n_names; i++) {
        const char *name = names[i].name;
        snprintf(path, sizeof path, "%s/tokenizer/pre/%s.out", fix,
                 is_jina_v2(name) ? "gpt-2" : name);
        char *out = test_read_file(path, NULL);
        if (!out) {
            fprintf(stderr, "  no vector file %s\n", path);
            test_current_failed = 1;
            continue;
        }
        n_files += !is_jina_v2(name);
        struct vocab v;
        int rc = load_with_pre(&g, name, &v, err, sizeof err);
        if (rc) {
            fprintf(stderr, "  pre '%s': load failed: %s\n", name, err);
            test_current_failed = 1;
            free(out);
            continue;
        }
        ASSERT_STR_EQ(v.pre_name, name);
        ASSERT_EQ(v.pre, names[i].pre);
        int n_bad;
        int n = check_strings(&v, name, inp, out, &n_bad);
        if (n != 87 || n_bad) {
            fprintf(stderr, "  pre '%s': %d of %d strings differ\n", name, n_bad, n);
            test_current_failed = 1;
        } else {
            n_matched++;
        }
        n_strings += n;
        vocab_free(&v);
        free(out);
    }
    fprintf(stderr, "  %d of %zu names match exactly (%d vector files, %d strings)\n", n_matched,
            n_names, n_files, n_strings);
    ASSERT_EQ(n_files, 39);
    ASSERT_EQ(n_matched, 42);

    // every vector file in the folder names an accepted pre (none is left untested)
    snprintf(path, sizeof path, "%s/tokenizer/pre", fix);
    DIR *dir = opendir(path);
    ASSERT(dir != NULL);
    int n_dir = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".out")) continue;
        if (!pretok_find(e->d_name, l - 4)) {
            fprintf(stderr, "  %s names no accepted pre\n", e->d_name);
            test_current_failed = 1;
        }
        n_dir++;
    }
    closedir(dir);
    ASSERT_EQ(n_dir, 39);
    free(inp);
    gguf_close(&g);
}

// An absent or empty pre uses gpt-2; an unknown one is refused with the full list.
TEST(pre_absent_empty_unknown) {
    char path[4096], err[JANUS_ERR_LEN];
    struct gguf g;
    snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-gpt-2.gguf", test_fixtures_dir());
    ASSERT_OK(gguf_open(&g, path, err, sizeof err));
    struct vocab v;
    ASSERT_OK(load_with_pre(&g, NULL, &v, err, sizeof err));
    ASSERT_EQ(v.pre, VOCAB_PRE_GPT2);
    vocab_free(&v);
    ASSERT_OK(load_with_pre(&g, "", &v, err, sizeof err));
    ASSERT_EQ(v.pre, VOCAB_PRE_GPT2);
    vocab_free(&v);
    static const char *const bad[] = {"no-such-pre", "GPT-2", "llama3 ", "jina-v2"};
    for (size_t b = 0; b < JANUS_ARRAY_SIZE(bad); b++) {
        err[0] = 0;
        ASSERT_EQ(load_with_pre(&g, bad[b], &v, err, sizeof err), JANUS_EUNSUPPORTED);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[b]);
        ASSERT(strstr(err, quoted) != NULL);
        size_t n_names;
        const struct pretok_name *names = pretok_names(&n_names);
        for (size_t i = 0; i < n_names; i++) {
            char item[64]; // each name appears as a whole list item
            snprintf(item, sizeof item, " %s%s", names[i].name, i + 1 < n_names ? "," : ")");
            if (!strstr(err, item)) {
                fprintf(stderr, "  error lacks '%s': %s\n", names[i].name, err);
                test_current_failed = 1;
            }
        }
    }
    gguf_close(&g);
}

// The table: every name once, each class has patterns, the flags llama.cpp sets.
TEST(pre_table) {
    size_t n;
    const struct pretok_name *names = pretok_names(&n);
    int n_ign = 0, n_bos = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT(pretok_find(names[i].name, strlen(names[i].name)) == &names[i]);
        const char *const *re = pretok_regexes(names[i].pre);
        ASSERT(re != NULL && re[0] != NULL);
        int k = 0;
        while (re[k])
            k++;
        ASSERT_LE(k, PRETOK_MAX_REGEX);
        n_ign += !!(names[i].flags & PRETOK_IGNORE_MERGES);
        n_bos += !!(names[i].flags & PRETOK_ADD_BOS);
    }
    ASSERT_EQ(n_ign, 5); // llama3, llama-v3, llama-bpe, falcon3, tekken
    ASSERT_EQ(n_bos, 6); // the same and chameleon
    ASSERT(pretok_regexes(VOCAB_PRE_NONE) == NULL);
    ASSERT(pretok_regexes(VOCAB_PRE_COUNT) == NULL);
    ASSERT_STR_EQ(pretok_class_name(VOCAB_PRE_DEEPSEEK_V3), "deepseek-v3");
    ASSERT_STR_EQ(vocab_pre_name(VOCAB_PRE_NONE), "none");
}

// ignore_merges, on a vocabulary where it matters: "abc" is a token, but the merges only
// reach "ab" + "c" (there is no merge "ab c"). With ignore_merges the pre-token "abc" is one
// token; without, BPE gives ab, c. Written as a GGUF and loaded like a real file.
static int load_small(const char *pre, int add_bos, int with_bos_id, struct vocab *v, char *err,
                      size_t err_len) {
    const char *toks[] = {"<s>", "a", "b", "c", "ab", "bc", "abc", "Ġ", "Ġabc"};
    const char *merges[] = {"a b", "b c", "Ġ a"};
    struct gguf_writer *w = gguf_writer_create();
    if (!w) return JANUS_ENOMEM;
    int rc = gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2");
    if (!rc && pre) rc = gguf_writer_add_str(w, "tokenizer.ggml.pre", pre);
    if (!rc) rc = gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 9);
    if (!rc) rc = gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", merges, 3);
    if (!rc && with_bos_id) rc = gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 0);
    if (!rc && add_bos >= 0) rc = gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", add_bos);
    void *buf = NULL;
    size_t len = 0;
    if (!rc) rc = gguf_writer_write_memory(w, &buf, &len);
    gguf_writer_destroy(&w);
    if (rc) return rc;
    struct gguf g;
    rc = gguf_open_memory(&g, buf, len, err, err_len);
    if (!rc) {
        rc = vocab_load(v, &g, err, err_len);
        gguf_close(&g);
    }
    mem_free(buf);
    return rc;
}

TEST(pre_ignore_merges) {
    char err[JANUS_ERR_LEN];
    struct vocab v;
    int32_t ids[16];
    size_t n;
    const struct pretok_name *names = pretok_names(&n);
    int n_on = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT_OK(load_small(names[i].name, 0, 1, &v, err, sizeof err));
        int ign = !!(names[i].flags & PRETOK_IGNORE_MERGES);
        ASSERT_EQ(v.ignore_merges, ign);
        int k = vocab_tokenize(&v, "abc", 3, 0, 0, ids, 16);
        if (ign) {
            ASSERT_EQ(k, 1);
            ASSERT_EQ(ids[0], 6); // abc
            n_on++;
        } else {
            ASSERT_EQ(k, 2);
            ASSERT_EQ(ids[0], 4); // ab
            ASSERT_EQ(ids[1], 3); // c
        }
        // " abc" is one pre-token in every class: with ignore_merges it is the token "Ġabc";
        // without, "a b" (rank 0) merges first and "Ġ a" can no longer apply
        k = vocab_tokenize(&v, " abc", 4, 0, 0, ids, 16);
        if (ign) {
            ASSERT_EQ(k, 1);
            ASSERT_EQ(ids[0], 8);
        } else {
            ASSERT_EQ(k, 3);
            ASSERT_EQ(ids[0], 7); // Ġ
            ASSERT_EQ(ids[1], 4); // ab
            ASSERT_EQ(ids[2], 3); // c
        }
        vocab_free(&v);
    }
    ASSERT_EQ(n_on, 5);
    // two names of one split class that differ only by the flag: llama3 vs dbrx
    ASSERT_OK(load_small("llama3", 0, 1, &v, err, sizeof err));
    ASSERT_EQ(vocab_tokenize(&v, "abc abc", 7, 0, 0, ids, 16), 2);
    ASSERT_EQ(ids[0], 6);
    ASSERT_EQ(ids[1], 8);
    vocab_free(&v);
    ASSERT_OK(load_small("dbrx", 0, 1, &v, err, sizeof err));
    ASSERT_EQ(vocab_tokenize(&v, "abc abc", 7, 0, 0, ids, 16), 5);
    vocab_free(&v);
}

// add_bos: on by default for the llama3 family, tekken and chameleon (then a BOS id is
// required); a GGUF add_bos_token wins; chatglm-bpe and the others add none.
TEST(pre_add_bos_defaults) {
    char err[JANUS_ERR_LEN];
    struct vocab v;
    int32_t ids[16];
    size_t n;
    const struct pretok_name *names = pretok_names(&n);
    for (size_t i = 0; i < n; i++) {
        int def = !!(names[i].flags & PRETOK_ADD_BOS);
        ASSERT_OK(load_small(names[i].name, -1, 1, &v, err, sizeof err));
        ASSERT_EQ(v.add_bos, def);
        int k = vocab_tokenize(&v, "c", 1, 1, 0, ids, 16);
        ASSERT_EQ(k, 1 + def);
        if (def) ASSERT_EQ(ids[0], 0);
        vocab_free(&v);
        ASSERT_OK(load_small(names[i].name, 0, 1, &v, err, sizeof err)); // explicit false
        ASSERT_EQ(v.add_bos, 0);
        vocab_free(&v);
        ASSERT_OK(load_small(names[i].name, 1, 1, &v, err, sizeof err)); // explicit true
        ASSERT_EQ(v.add_bos, 1);
        vocab_free(&v);
        // default on but no bos_token_id: a clear error, as llama.cpp
        int rc = load_small(names[i].name, -1, 0, &v, err, sizeof err);
        if (def) {
            ASSERT_EQ(rc, JANUS_EFORMAT);
            ASSERT(strstr(err, "bos_token_id") != NULL);
        } else {
            ASSERT_OK(rc);
            ASSERT_EQ(v.bos, -1);
            vocab_free(&v);
        }
    }
}

// deepseek-v3 runs through llama.cpp's collapsed-category regex, whose ASCII \p{S} is
// $ + < = > ^ ` | without ~ (no vector string has a ~). So "!~" is two pre-tokens there but
// one for gpt-2, while "!$" is one pre-token for both. Seen through a merge "! ~".
TEST(pre_deepseek_v3_tilde) {
    // "\xC3\x83" and "\xC2\xA9" are GPT-2's images of the bytes of U+00E9 (C3 A9)
    const char *toks[] = {"!", "~", "$", "!~", "!$", "\xC3\x83", "\xC2\xA9", "~\xC3\x83"};
    const char *merges[] = {"! ~", "! $", "~ \xC3\x83"};
    static const struct {
        const char *pre, *text;
        int n;
        int32_t ids[2];
    } cases[] = {
        {"deepseek-v3", "!~", 2, {0, 1}},
        {"gpt-2", "!~", 1, {3}},
        {"deepseek-v3", "!$", 1, {4}},
        {"gpt-2", "!$", 1, {4}},
        // ~ may lead a non-ASCII letter run, as [^\r\n\p{L}\p{P}\p{S}]? there: "~é" is one
        // pre-token (~Ã ©); were ~ a symbol, "~" and "é" would be two (~ Ã ©)
        {"deepseek-v3", "~\xC3\xA9", 2, {7, 6}},
    };
    char err[JANUS_ERR_LEN];
    for (size_t c = 0; c < JANUS_ARRAY_SIZE(cases); c++) {
        struct gguf_writer *w = gguf_writer_create();
        ASSERT(w != NULL);
        ASSERT_OK(gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2"));
        ASSERT_OK(gguf_writer_add_str(w, "tokenizer.ggml.pre", cases[c].pre));
        ASSERT_OK(gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 8));
        ASSERT_OK(gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", merges, 3));
        void *buf;
        size_t len;
        ASSERT_OK(gguf_writer_write_memory(w, &buf, &len));
        gguf_writer_destroy(&w);
        struct gguf g;
        struct vocab v;
        ASSERT_OK(gguf_open_memory(&g, buf, len, err, sizeof err));
        ASSERT_OK(vocab_load(&v, &g, err, sizeof err));
        int32_t ids[8];
        int n = vocab_tokenize(&v, cases[c].text, strlen(cases[c].text), 0, 0, ids, 8);
        if (n != cases[c].n || memcmp(ids, cases[c].ids, sizeof(int32_t) * (size_t)n)) {
            fprintf(stderr, "  %s \"%s\": got %d ids, first %d\n", cases[c].pre, cases[c].text, n,
                    n > 0 ? ids[0] : -1);
            test_current_failed = 1;
        }
        vocab_free(&v);
        gguf_close(&g);
        mem_free(buf);
    }
}

// 256 KB runs of one character class under every split class: no JIT stack or heap-limit
// failure (vocab.c falls back to the interpreter), and every byte is covered. The vocabulary
// is the 256 GPT-2 byte characters without merges, so the time goes to the regexes.
TEST(pre_long_runs) {
    static char bytes[256][3];
    struct vocab_str toks[256];
    for (int b = 0, extra = 0; b < 256; b++) {
        int self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        unsigned cp = self ? (unsigned)b : 256u + (unsigned)extra++;
        if (cp < 0x80) {
            bytes[b][0] = (char)cp;
            toks[b].len = 1;
        } else {
            bytes[b][0] = (char)(0xC0 | (cp >> 6));
            bytes[b][1] = (char)(0x80 | (cp & 0x3F));
            toks[b].len = 2;
        }
        toks[b].ptr = bytes[b];
    }
    static const struct vocab_str merges[] = {{"a b", 3}};
    struct vocab_desc d = {.model = "gpt2",
                           .n_tokens = 256,
                           .tokens = toks,
                           .n_merges = 1,
                           .merges = merges,
                           .bos = -1,
                           .eos = -1,
                           .unk = -1,
                           .pad = -1,
                           .add_bos = 0,
                           .add_eos = -1,
                           .add_space_prefix = -1};
    size_t n = 1 << 18; // far beyond what PCRE2's default 32 KB JIT stack holds
    char *text = malloc(n);
    int32_t *ids = malloc(sizeof(int32_t) * n);
    ASSERT(text && ids);
    static const char *const fills[] = {"a", "A", "aA", "!", " ", "7", "~", "\xE4\xB8\x80"};
    size_t n_names;
    const struct pretok_name *names = pretok_names(&n_names);
    int seen[VOCAB_PRE_COUNT] = {0};
    char err[JANUS_ERR_LEN];
    for (size_t i = 0; i < n_names; i++) {
        if (seen[names[i].pre]++) continue;
        struct vocab v;
        d.pre.ptr = names[i].name;
        d.pre.len = strlen(names[i].name);
        int rc = vocab_init(&v, &d, err, sizeof err);
        if (rc) fprintf(stderr, "  %s: %s\n", names[i].name, err);
        ASSERT_OK(rc);
        for (size_t f = 0; f < JANUS_ARRAY_SIZE(fills); f++) {
            size_t fl = strlen(fills[f]), len = n - n % fl;
            for (size_t k = 0; k < len; k += fl)
                memcpy(text + k, fills[f], fl);
            int m = vocab_tokenize(&v, text, len, 0, 0, ids, (int)n);
            if (m != (int)len) {
                fprintf(stderr, "  %s, run of \"%s\": %d (want %zu)\n", names[i].name, fills[f], m,
                        len);
                test_current_failed = 1;
            }
        }
        vocab_free(&v);
    }
    free(text);
    free(ids);
}

// jina-v2-*: llama.cpp gives "<mask>" the lstrip attribute, so with parse_special the
// whitespace before it joins the token. Other names keep it; so do other special tokens.
TEST(pre_jina_v2_mask_lstrip) {
    const char *toks[] = {"a", "\xC4\xA0", "<mask>", "<s>", "\xC4\x8A", "\xC4\x89"}; // Ġ Ċ ĉ
    const char *merges[] = {"a a"};
    int32_t types[] = {1, 1, 3, 3, 1, 1};
    static const struct {
        const char *pre, *text;
        int n;
        int32_t ids[4];
    } cases[] = {
        {"jina-v2-es", "a <mask>", 2, {0, 2}},
        {"jina-v2-de", "a \t\n <mask>a", 3, {0, 2, 0}},
        {"jina-v2-code", " <mask>", 1, {2}},
        {"jina-v2-es", "a <s>", 3, {0, 1, 3}}, // only <mask> strips
        {"gpt-2", "a <mask>", 3, {0, 1, 2}},
        {"jina-v1-en", "a <mask>", 3, {0, 1, 2}},
    };
    char err[JANUS_ERR_LEN];
    for (size_t c = 0; c < JANUS_ARRAY_SIZE(cases); c++) {
        struct gguf_writer *w = gguf_writer_create();
        ASSERT(w != NULL);
        ASSERT_OK(gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2"));
        ASSERT_OK(gguf_writer_add_str(w, "tokenizer.ggml.pre", cases[c].pre));
        ASSERT_OK(gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, 6));
        ASSERT_OK(gguf_writer_add_arr_i32(w, "tokenizer.ggml.token_type", types, 6));
        ASSERT_OK(gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", merges, 1));
        void *buf;
        size_t len;
        ASSERT_OK(gguf_writer_write_memory(w, &buf, &len));
        gguf_writer_destroy(&w);
        struct gguf g;
        struct vocab v;
        ASSERT_OK(gguf_open_memory(&g, buf, len, err, sizeof err));
        ASSERT_OK(vocab_load(&v, &g, err, sizeof err));
        int32_t ids[16];
        int n = vocab_tokenize(&v, cases[c].text, strlen(cases[c].text), 0, 1, ids, 16);
        if (n != cases[c].n || memcmp(ids, cases[c].ids, sizeof(int32_t) * (size_t)n)) {
            fprintf(stderr, "  %s \"%s\": got %d ids:", cases[c].pre, cases[c].text, n);
            for (int i = 0; i < n; i++)
                fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
            test_current_failed = 1;
        }
        vocab_free(&v);
        gguf_close(&g);
        mem_free(buf);
    }
}
