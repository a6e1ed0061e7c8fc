// Tokenizer implementation (vocab.h): load/validate, special-token partition, SentencePiece
// BPE (priority queue over a linked list of symbols, llama.cpp's algorithm), byte-level BPE
// with a PCRE2 pre-tokenizer and interned merge strings, pieces and the streaming
// detokenizer. Hash tables are open addressing. See docs/internals/vocab.md. SPEC §3.
// SPDX-License-Identifier: MIT
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/vocab.h"
#include "model/gguf_keys.h"

#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/pretok.h"

#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

// ---- small helpers

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; // FNV-1a, then a final mix
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static uint64_t hash_pair(int32_t a, int32_t b) {
    uint64_t h = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint32_t next_pow2(uint64_t n) {
    uint64_t c = 16;
    while (c < n)
        c <<= 1;
    return (uint32_t)c;
}

// Length of the valid UTF-8 sequence (RFC 3629: no overlongs, surrogates or > U+10FFFF)
// starting at s (n bytes available): 1..4, or 0 if invalid. *incomplete = 1 when the n
// bytes are a valid but truncated prefix of a sequence.
static int utf8_seq_len(const uint8_t *s, size_t n, int *incomplete) {
    *incomplete = 0;
    uint8_t b = s[0];
    if (b < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) {
            *incomplete = 1;
            return 0;
        }
        uint8_t lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
        if (s[i] < lo_i || s[i] > hi_i) return 0;
    }
    return len;
}

static int utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// Decodes one code point of valid UTF-8 (caller guarantees validity); returns its length.
static int utf8_decode(const uint8_t *s, uint32_t *cp) {
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] < 0xE0) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (s[0] < 0xF0) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
          ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

// llama.cpp's unicode_len_utf8: sequence length from the lead byte's high nibble only.
static size_t utf8_lead_len(uint8_t b) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[b >> 4];
}

// ---- string table (text -> id)

static const char *str_ptr(const struct vocab *v, int32_t id, size_t *len) {
    *len = v->str_off[id + 1] - v->str_off[id];
    return v->text + v->str_off[id];
}

static int32_t str_find(const struct vocab *v, const char *s, size_t n) {
    uint32_t mask = v->str_hash_cap - 1;
    for (uint32_t i = (uint32_t)hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        int32_t id = v->str_hash[i];
        if (id < 0) return -1;
        size_t len;
        const char *p = str_ptr(v, id, &len);
        if (len == n && memcmp(p, s, n) == 0) return id;
    }
}

// Builder state for the string table while loading (text grows; offsets grow).
struct strtab {
    char *text;
    size_t text_len, text_cap;
    uint32_t *off; // (cap + 1)
    int32_t n, cap;
};

static int strtab_reserve_text(struct strtab *t, size_t extra) {
    if (t->text_len + extra <= t->text_cap) return JANUS_OK;
    size_t cap = t->text_cap ? t->text_cap : 4096;
    while (cap < t->text_len + extra)
        cap *= 2;
    if (cap > UINT32_MAX) return JANUS_ELIMIT;
    char *p = mem_realloc(MEM_TAG_MODEL, t->text, cap);
    if (!p) return JANUS_ENOMEM;
    t->text = p;
    t->text_cap = cap;
    return JANUS_OK;
}

// Appends string s as id t->n (no hashing). The table has room for cap strings.
static int strtab_push(struct strtab *t, const char *s, size_t n) {
    JANUS_ASSERT(t->n < t->cap);
    int rc = strtab_reserve_text(t, n);
    if (rc) return rc;
    memcpy(t->text + t->text_len, s, n);
    t->off[t->n] = (uint32_t)t->text_len;
    t->text_len += n;
    t->off[t->n + 1] = (uint32_t)t->text_len;
    t->n++;
    return JANUS_OK;
}

// ---- GPT-2 byte <-> unicode mapping

static void byte_map_init(struct vocab *v) {
    int n = 0;
    for (int i = 0; i < 324; i++)
        v->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        uint16_t cp = printable ? (uint16_t)b : (uint16_t)(256 + n++);
        v->byte_cp[b] = cp;
        v->cp_byte[cp] = (int16_t)b;
    }
}

// ---- pre-tokenizer regexes (patterns and names: model/pretok.c)

const char *vocab_pre_name(enum vocab_pre pre) { return pretok_class_name(pre); }

static void *re_malloc(size_t n, void *data) {
    (void)data;
    return mem_alloc(MEM_TAG_MODEL, n);
}
static void re_free(void *p, void *data) {
    (void)data;
    mem_free(p);
}

static int re_compile_all(struct vocab *v, const char *const *pats, char *err, size_t err_len) {
    v->re_gctx = pcre2_general_context_create(re_malloc, re_free, NULL);
    if (!v->re_gctx)
        return status_errf(err, err_len, JANUS_ENOMEM, "out of memory (pcre2 context)");
    pcre2_compile_context *cctx = pcre2_compile_context_create(v->re_gctx);
    if (!cctx) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory (pcre2 context)");
    int rc = JANUS_OK;
    for (int i = 0; pats[i]; i++) {
        JANUS_ASSERT(i < (int)JANUS_ARRAY_SIZE(v->re));
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *code =
            pcre2_compile((PCRE2_SPTR)pats[i], PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, cctx);
        if (!code && ec == PCRE2_ERROR_HEAP_FAILED) {
            rc = status_errf(err, err_len, JANUS_ENOMEM,
                             "out of memory compiling the pre-tokenizer");
            break;
        }
        if (!code) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            rc = status_errf(err, err_len, JANUS_EUNSUPPORTED,
                             "pre-tokenizer '%s': regex %d does not compile at offset %zu: %s",
                             vocab_pre_name(v->pre), i, (size_t)eo, (const char *)msg);
            break;
        }
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); // optional speed-up
        v->re[v->n_re++] = code;
    }
    pcre2_compile_context_free(cctx);
    return rc;
}

// ---- init

static int find_token_id(const struct vocab *v, const char *s) {
    int32_t id = str_find(v, s, strlen(s));
    return id >= 0 && id < v->n_tokens ? id : -1;
}

static int build_pieces(struct vocab *v) {
    size_t cap = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        cap += (size_t)v->tok[i].len * 2 + 1;
    if (cap > UINT32_MAX) return JANUS_ELIMIT;
    v->pieces = mem_alloc(MEM_TAG_MODEL, cap ? cap : 1);
    if (!v->pieces) return JANUS_ENOMEM;
    size_t at = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        struct vocab_entry *e = &v->tok[i];
        const uint8_t *s = (const uint8_t *)v->text + e->off;
        char *out = v->pieces + at;
        size_t n = 0;
        switch (e->type) {
        case VOCAB_TOKEN_NORMAL:
            if (v->type == VOCAB_TYPE_SPM) {
                for (size_t j = 0; j < e->len;) {
                    if (j + 3 <= e->len && s[j] == 0xE2 && s[j + 1] == 0x96 && s[j + 2] == 0x81) {
                        out[n++] = ' ';
                        j += 3;
                    } else {
                        out[n++] = (char)s[j++];
                    }
                }
            } else {
                for (size_t j = 0; j < e->len;) {
                    int inc;
                    int l = utf8_seq_len(s + j, e->len - j, &inc);
                    uint32_t cp;
                    if (l == 0) { // not UTF-8: copy the byte unchanged
                        out[n++] = (char)s[j++];
                        continue;
                    }
                    utf8_decode(s + j, &cp);
                    if (cp < 324 && v->cp_byte[cp] >= 0) {
                        out[n++] = (char)v->cp_byte[cp];
                    } else { // outside the byte alphabet: keep the character
                        memcpy(out + n, s + j, (size_t)l);
                        n += (size_t)l;
                    }
                    j += (size_t)l;
                }
            }
            break;
        case VOCAB_TOKEN_BYTE: {
            // validated in vocab_init: "<0xHH>"
            unsigned hi = s[3], lo = s[4];
            hi = hi <= '9' ? hi - '0' : (hi | 0x20) - 'a' + 10;
            lo = lo <= '9' ? lo - '0' : (lo | 0x20) - 'a' + 10;
            out[n++] = (char)((hi << 4) | lo);
            break;
        }
        case VOCAB_TOKEN_CONTROL:
        case VOCAB_TOKEN_UNKNOWN:
        case VOCAB_TOKEN_USER_DEFINED:
            memcpy(out, s, e->len);
            n = e->len;
            break;
        default: // UNUSED, UNDEFINED: nothing (llama.cpp)
            break;
        }
        e->piece_off = (uint32_t)at;
        e->piece_len = (uint32_t)n;
        at += n;
        if ((int)n > v->max_token_len) v->max_token_len = (int)n;
    }
    return JANUS_OK;
}

static int is_hex(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int merge_insert(struct vocab *v, int32_t l, int32_t r, int32_t rank, int32_t res) {
    uint32_t mask = v->merge_cap - 1;
    for (uint32_t i = (uint32_t)hash_pair(l, r) & mask;; i = (i + 1) & mask) {
        struct vocab_merge *m = &v->merge[i];
        if (m->left < 0) {
            m->left = l;
            m->right = r;
            m->rank = rank;
            m->result = res;
            return 1;
        }
        if (m->left == l && m->right == r) return 0; // duplicate: the first (lowest rank) wins
    }
}

static const struct vocab_merge *merge_find(const struct vocab *v, int32_t l, int32_t r) {
    uint32_t mask = v->merge_cap - 1;
    for (uint32_t i = (uint32_t)hash_pair(l, r) & mask;; i = (i + 1) & mask) {
        const struct vocab_merge *m = &v->merge[i];
        if (m->left < 0) return NULL;
        if (m->left == l && m->right == r) return m;
    }
}

// Interns s (hash table sized for every string up front). Returns its id or a negative status.
static int32_t intern(struct vocab *v, struct strtab *t, const char *s, size_t n) {
    uint32_t mask = v->str_hash_cap - 1;
    uint32_t i = (uint32_t)hash_bytes(s, n) & mask;
    for (;; i = (i + 1) & mask) {
        int32_t id = v->str_hash[i];
        if (id < 0) break;
        size_t len = t->off[id + 1] - t->off[id];
        if (len == n && memcmp(t->text + t->off[id], s, n) == 0) return id;
    }
    int rc = strtab_push(t, s, n);
    if (rc) return rc;
    v->str_hash[i] = t->n - 1;
    return t->n - 1;
}

static int cmp_special(const struct vocab *v, int32_t a, int32_t b) {
    if (v->tok[a].len != v->tok[b].len) return v->tok[a].len > v->tok[b].len ? -1 : 1;
    return a < b ? -1 : (a > b);
}

int vocab_init(struct vocab *v, const struct vocab_desc *d, char *err, size_t err_len) {
    memset(v, 0, sizeof *v);
    if (!d || !d->model) return status_errf(err, err_len, JANUS_EINVAL, "vocab: no description");
    struct vocab tmp = {0};
    struct strtab t = {0};
    char emptybuf[32];
    int rc = JANUS_OK;
    const char *const *pats = NULL;
    unsigned pre_flags = 0; // PRETOK_*

    if (!strcmp(d->model, "llama")) {
        tmp.type = VOCAB_TYPE_SPM;
        tmp.pre = VOCAB_PRE_NONE;
    } else if (!strcmp(d->model, "gpt2")) {
        tmp.type = VOCAB_TYPE_BPE;
        // our default when tokenizer.ggml.pre is absent or empty (docs/internals/vocab.md)
        tmp.pre = VOCAB_PRE_GPT2;
        tmp.pre_name = "gpt-2";
        if (d->pre.ptr && d->pre.len > 0) {
            const struct pretok_name *pn = pretok_find(d->pre.ptr, d->pre.len);
            if (!pn) {
                char list[1024];
                pretok_list(list, sizeof list);
                return status_errf(err, err_len, JANUS_EUNSUPPORTED,
                                   "tokenizer.ggml.pre '%.*s' is not supported (supported: %s)",
                                   (int)JANUS_MIN(d->pre.len, 64), d->pre.ptr, list);
            }
            tmp.pre = pn->pre;
            tmp.pre_name = pn->name;
            pre_flags = pn->flags;
        }
        pats = pretok_regexes(tmp.pre);
    } else {
        return status_errf(err, err_len, JANUS_EUNSUPPORTED,
                           "tokenizer.ggml.model '%.64s' is not supported (supported: llama, gpt2)",
                           d->model);
    }
    if (d->n_tokens < 1 || d->n_tokens > LIMIT_MAX_VOCAB)
        return status_errf(err, err_len, d->n_tokens < 1 ? JANUS_EFORMAT : JANUS_ELIMIT,
                           "tokenizer.ggml.tokens: %lld tokens (must be 1..%d)",
                           (long long)d->n_tokens, LIMIT_MAX_VOCAB);
    if (!d->tokens) return status_errf(err, err_len, JANUS_EINVAL, "vocab: tokens array missing");
    if (tmp.type == VOCAB_TYPE_BPE &&
        (d->n_merges < 0 || d->n_merges > LIMIT_GGUF_MAX_ARRAY || (d->n_merges > 0 && !d->merges)))
        return status_errf(err, err_len, JANUS_ELIMIT, "tokenizer.ggml.merges: bad count %lld",
                           (long long)d->n_merges);
    int64_t n_merges = tmp.type == VOCAB_TYPE_BPE ? d->n_merges : 0;

    tmp.n_tokens = (int32_t)d->n_tokens;
    int64_t max_strings = d->n_tokens + 3 * n_merges;
    t.cap = (int32_t)max_strings;
    t.off = mem_calloc(MEM_TAG_MODEL, (size_t)max_strings + 1, sizeof *t.off);
    tmp.tok = mem_calloc(MEM_TAG_MODEL, (size_t)d->n_tokens, sizeof *tmp.tok);
    tmp.str_hash_cap = next_pow2((uint64_t)max_strings * 2);
    tmp.str_hash = mem_alloc(MEM_TAG_MODEL, (size_t)tmp.str_hash_cap * sizeof *tmp.str_hash);
    if (!t.off || !tmp.tok || !tmp.str_hash) {
        rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory loading %lld tokens",
                         (long long)d->n_tokens);
        goto fail;
    }
    memset(tmp.str_hash, 0xff, (size_t)tmp.str_hash_cap * sizeof *tmp.str_hash);

    // tokens
    for (int32_t i = 0; i < tmp.n_tokens; i++) {
        const char *s = d->tokens[i].ptr;
        size_t n = d->tokens[i].len;
        if (n > VOCAB_MAX_TOKEN_LEN) {
            rc = status_errf(err, err_len, JANUS_ELIMIT, "token %d is %zu bytes (limit %d)", i, n,
                             VOCAB_MAX_TOKEN_LEN);
            goto fail;
        }
        if (n == 0) { // as llama.cpp: an empty token gets a placeholder text
            n = (size_t)snprintf(emptybuf, sizeof emptybuf, "[EMPTY_%d]", i);
            s = emptybuf;
        } else if (!s) {
            rc = status_errf(err, err_len, JANUS_EINVAL, "token %d has no text", i);
            goto fail;
        }
        int32_t id = intern(&tmp, &t, s, n);
        if (id < 0) {
            rc = status_errf(err, err_len, id, "token table too large at token %d", i);
            goto fail;
        }
        if (id != i) {
            rc = status_errf(err, err_len, JANUS_EFORMAT,
                             "duplicate token in vocabulary: '%.*s' has ids %d and %d",
                             (int)JANUS_MIN(n, 64), s, id, i);
            goto fail;
        }
        struct vocab_entry *e = &tmp.tok[i];
        e->off = t.off[i];
        e->len = (uint32_t)n;
        e->score = d->scores ? d->scores[i] : 0.0f;
        if (isnan(e->score)) {
            rc = status_errf(err, err_len, JANUS_EFORMAT, "tokenizer.ggml.scores[%d] is NaN", i);
            goto fail;
        }
        e->type = d->token_types ? d->token_types[i] : VOCAB_TOKEN_NORMAL;
        if (e->type < VOCAB_TOKEN_UNDEFINED || e->type > VOCAB_TOKEN_BYTE) {
            rc = status_errf(err, err_len, JANUS_EFORMAT,
                             "tokenizer.ggml.token_type[%d] = %d (must be 0..6)", i, e->type);
            goto fail;
        }
        if (e->type == VOCAB_TOKEN_BYTE) {
            const uint8_t *b = (const uint8_t *)s;
            if (n != 6 || memcmp(b, "<0x", 3) || !is_hex(b[3]) || !is_hex(b[4]) || b[5] != '>') {
                rc = status_errf(err, err_len, JANUS_EFORMAT,
                                 "token %d has type BYTE but text '%.*s' is not <0xHH>", i,
                                 (int)JANUS_MIN(n, 64), s);
                goto fail;
            }
        }
    }

    // merges (BPE): "left right" split at the first space after the first byte, as llama.cpp
    if (n_merges > 0) {
        tmp.merge_cap = next_pow2((uint64_t)n_merges * 2);
        tmp.merge = mem_alloc(MEM_TAG_MODEL, (size_t)tmp.merge_cap * sizeof *tmp.merge);
        if (!tmp.merge) {
            rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory for %lld merges",
                             (long long)n_merges);
            goto fail;
        }
        memset(tmp.merge, 0xff, (size_t)tmp.merge_cap * sizeof *tmp.merge);
        for (int64_t i = 0; i < n_merges; i++) {
            const char *s = d->merges[i].ptr;
            size_t n = d->merges[i].len;
            const char *sp = n > 1 && s ? memchr(s + 1, ' ', n - 1) : NULL;
            if (!sp || n > VOCAB_MAX_TOKEN_LEN) {
                rc = status_errf(
                    err, err_len, JANUS_EFORMAT,
                    "tokenizer.ggml.merges[%lld] = '%.*s' is not of the form 'left right'",
                    (long long)i, s ? (int)JANUS_MIN(n, 64) : 0, s ? s : "");
                goto fail;
            }
            size_t nl = (size_t)(sp - s), nr = n - nl - 1;
            int32_t l = intern(&tmp, &t, s, nl);
            int32_t r = l >= 0 ? intern(&tmp, &t, sp + 1, nr) : l;
            // result = left + right: build it in the text buffer's tail, then intern
            int32_t res = r;
            if (r >= 0) {
                char stackbuf[256];
                char *cat =
                    nl + nr <= sizeof stackbuf ? stackbuf : mem_alloc(MEM_TAG_MODEL, nl + nr);
                if (!cat) {
                    res = JANUS_ENOMEM;
                } else {
                    memcpy(cat, s, nl);
                    memcpy(cat + nl, sp + 1, nr);
                    res = intern(&tmp, &t, cat, nl + nr);
                    if (cat != stackbuf) mem_free(cat);
                }
            }
            if (res < 0) {
                rc = status_errf(err, err_len, res, "merge table too large at merge %lld",
                                 (long long)i);
                goto fail;
            }
            if (merge_insert(&tmp, l, r, (int32_t)i, res)) tmp.n_merges++;
        }
    }
    tmp.n_strings = t.n;
    tmp.text = t.text ? t.text : mem_alloc(MEM_TAG_MODEL, 1);
    tmp.str_off = t.off;
    t.text = NULL;
    t.off = NULL;
    if (!tmp.text) {
        rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
        goto fail;
    }

    // special ids and flags
    int64_t ids[4] = {d->bos, d->eos, d->unk, d->pad};
    static const char *const id_names[4] = {"bos_token_id", "eos_token_id", "unknown_token_id",
                                            "padding_token_id"};
    int64_t spm_default[4] = {1, 2, 0, -1};
    for (int k = 0; k < 4; k++) {
        if (ids[k] < 0 && tmp.type == VOCAB_TYPE_SPM && spm_default[k] < tmp.n_tokens)
            ids[k] = spm_default[k];
        else if (ids[k] >= tmp.n_tokens) {
            rc = status_errf(err, err_len, JANUS_EFORMAT,
                             "tokenizer.ggml.%s = %lld is out of range (%d tokens)", id_names[k],
                             (long long)ids[k], tmp.n_tokens);
            goto fail;
        }
        if (ids[k] < -1) ids[k] = -1;
    }
    tmp.bos = (int32_t)ids[0];
    tmp.eos = (int32_t)ids[1];
    tmp.unk = (int32_t)ids[2];
    tmp.pad = (int32_t)ids[3];
    tmp.add_bos = d->add_bos >= 0 ? !!d->add_bos
                                  : (tmp.type == VOCAB_TYPE_SPM || (pre_flags & PRETOK_ADD_BOS));
    tmp.add_eos = d->add_eos >= 0 ? !!d->add_eos : 0;
    tmp.add_space_prefix =
        tmp.type == VOCAB_TYPE_SPM && (d->add_space_prefix >= 0 ? !!d->add_space_prefix : 1);
    tmp.ignore_merges = !!(pre_flags & PRETOK_IGNORE_MERGES);
    if (tmp.add_bos && tmp.bos < 0) {
        rc = status_errf(err, err_len, JANUS_EFORMAT,
                         "tokenizer.ggml.add_bos_token is true, but bos_token_id is not set");
        goto fail;
    }
    if (tmp.add_eos && tmp.eos < 0) {
        rc = status_errf(err, err_len, JANUS_EFORMAT,
                         "tokenizer.ggml.add_eos_token is true, but eos_token_id is not set");
        goto fail;
    }

    // jina-v2-*: llama.cpp gives "<mask>" the lstrip attribute (absent here: no token has it)
    tmp.lstrip_id = (pre_flags & PRETOK_MASK_LSTRIP) ? find_token_id(&tmp, "<mask>") : -1;

    // end-of-generation ids (llama.cpp's text list)
    static const char *const eog_texts[] = {
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<|endoftext|>",
        "<end_of_turn>",
        "<|end_of_text|>",
        "<EOT>",
        "<\xEF\xBD\x9C"
        "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    };
    if (tmp.eos >= 0) tmp.eog[tmp.n_eog++] = tmp.eos;
    for (size_t k = 0; k < JANUS_ARRAY_SIZE(eog_texts); k++) {
        int32_t id = find_token_id(&tmp, eog_texts[k]);
        if (id < 0 || id == tmp.eos || tmp.n_eog >= (int)JANUS_ARRAY_SIZE(tmp.eog)) continue;
        tmp.eog[tmp.n_eog++] = id;
    }

    // byte tokens
    byte_map_init(&tmp);
    for (int b = 0; b < 256; b++) {
        char buf[8];
        tmp.byte_token[b] = -1;
        if (tmp.type == VOCAB_TYPE_SPM) {
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            tmp.byte_token[b] = find_token_id(&tmp, buf);
            if (tmp.byte_token[b] < 0) {
                buf[0] = (char)b;
                tmp.byte_token[b] =
                    str_find(&tmp, buf, 1) < tmp.n_tokens ? str_find(&tmp, buf, 1) : -1;
            }
        } else {
            int n = utf8_encode(tmp.byte_cp[b], buf);
            int32_t id = str_find(&tmp, buf, (size_t)n);
            tmp.byte_token[b] = id < tmp.n_tokens ? id : -1;
        }
    }

    // special tokens: longest text first (then lowest id), as llama.cpp's cache
    for (int32_t i = 0; i < tmp.n_tokens; i++) {
        int ty = tmp.tok[i].type;
        if (ty == VOCAB_TOKEN_CONTROL || ty == VOCAB_TOKEN_USER_DEFINED ||
            ty == VOCAB_TOKEN_UNKNOWN)
            tmp.n_special++;
    }
    if (tmp.n_special) {
        tmp.special = mem_alloc(MEM_TAG_MODEL, (size_t)tmp.n_special * sizeof *tmp.special);
        if (!tmp.special) {
            rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
            goto fail;
        }
        int32_t k = 0;
        for (int32_t i = 0; i < tmp.n_tokens; i++) {
            int ty = tmp.tok[i].type;
            if (ty == VOCAB_TOKEN_CONTROL || ty == VOCAB_TOKEN_USER_DEFINED ||
                ty == VOCAB_TOKEN_UNKNOWN) {
                // insertion sort (special tokens are few)
                int32_t j = k++;
                while (j > 0 && cmp_special(&tmp, i, tmp.special[j - 1]) < 0) {
                    tmp.special[j] = tmp.special[j - 1];
                    j--;
                }
                tmp.special[j] = i;
            }
        }
    }

    for (int32_t k = 0; k < tmp.n_special; k++) {
        const struct vocab_entry *e = &tmp.tok[tmp.special[k]];
        uint8_t c = (uint8_t)tmp.text[e->off];
        tmp.special_first[c >> 3] |= (uint8_t)(1u << (c & 7));
        if (e->len < 64) tmp.special_lens |= 1ull << e->len;
    }

    rc = build_pieces(&tmp);
    if (rc) {
        rc = status_errf(err, err_len, rc, "out of memory building token pieces");
        goto fail;
    }
    if (pats) {
        rc = re_compile_all(&tmp, pats, err, err_len);
        if (rc) goto fail;
    }
    *v = tmp;
    return JANUS_OK;

fail:
    mem_free(t.text);
    mem_free(t.off);
    vocab_free(&tmp);
    return rc;
}

void vocab_free(struct vocab *v) {
    if (!v) return;
    for (int i = 0; i < v->n_re; i++)
        pcre2_code_free((pcre2_code *)v->re[i]);
    if (v->re_gctx) pcre2_general_context_free((pcre2_general_context *)v->re_gctx);
    mem_free(v->tok);
    mem_free(v->str_off);
    mem_free(v->text);
    mem_free(v->pieces);
    mem_free(v->str_hash);
    mem_free(v->merge);
    mem_free(v->special);
    memset(v, 0, sizeof *v);
}

// ---- GGUF loading

static int load_str_array(const struct gguf *g, const char *key, struct vocab_str **out,
                          int64_t *n_out, int required, char *err, size_t err_len) {
    *out = NULL;
    *n_out = 0;
    int64_t ki = gguf_find_key(g, key);
    if (ki < 0) {
        if (!required) return JANUS_OK;
        return status_errf(err, err_len, JANUS_ENOTFOUND, "%s: key not found", key);
    }
    enum gguf_type et;
    uint64_t n;
    int rc = gguf_get_arr(g, key, &et, &n, err, err_len);
    if (rc) return rc;
    if (et != GGUF_TYPE_STRING)
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: expected an array of strings, got %s",
                           key, gguf_type_name(et));
    if (n > LIMIT_GGUF_MAX_ARRAY)
        return status_errf(err, err_len, JANUS_ELIMIT, "%s: %llu elements (limit %u)", key,
                           (unsigned long long)n, LIMIT_GGUF_MAX_ARRAY);
    struct vocab_str *a = mem_calloc(MEM_TAG_MODEL, n ? n : 1, sizeof *a);
    if (!a) return status_errf(err, err_len, JANUS_ENOMEM, "%s: out of memory", key);
    for (uint64_t i = 0; i < n; i++) {
        struct gguf_str s = gguf_arr_str(g, ki, i);
        a[i].ptr = s.ptr;
        a[i].len = (size_t)s.len;
    }
    *out = a;
    *n_out = (int64_t)n;
    return JANUS_OK;
}

static int load_opt_id(const struct gguf *g, const char *key, int64_t *out, char *err,
                       size_t err_len) {
    uint32_t u;
    *out = -1;
    int rc = gguf_get_u32(g, key, &u, err, err_len);
    if (rc == JANUS_ENOTFOUND) return JANUS_OK;
    if (rc) return rc;
    *out = u;
    return JANUS_OK;
}

static int load_opt_bool(const struct gguf *g, const char *key, int *out, char *err,
                         size_t err_len) {
    *out = -1;
    int b;
    int rc = gguf_get_bool(g, key, &b, err, err_len);
    if (rc == JANUS_ENOTFOUND) return JANUS_OK;
    if (rc) return rc;
    *out = !!b;
    return JANUS_OK;
}

int vocab_load(struct vocab *v, const struct gguf *g, char *err, size_t err_len) {
    memset(v, 0, sizeof *v);
    struct vocab_desc d = {0};
    struct vocab_str *merges = NULL;
    struct vocab_str *tokens = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    char model[32];
    int rc;

    struct gguf_str s;
    rc = gguf_get_str(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_MODEL), &s, err, err_len);
    if (rc)
        return rc == JANUS_ENOTFOUND
                   ? status_errf(
                         err, err_len, rc,
                         "tokenizer.ggml.model: key not found (not a model with a vocabulary)")
                   : rc;
    snprintf(model, sizeof model, "%.*s", (int)JANUS_MIN(s.len, sizeof model - 1), s.ptr);
    if (s.len >= sizeof model || strlen(model) != s.len)
        return status_errf(err, err_len, JANUS_EUNSUPPORTED,
                           "tokenizer.ggml.model '%.*s' is not supported",
                           (int)JANUS_MIN(s.len, 64), s.ptr);
    d.model = model;
    struct gguf_str pre;
    rc = gguf_get_str(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_PRE), &pre, err, err_len);
    if (rc == JANUS_OK) {
        d.pre.ptr = pre.ptr;
        d.pre.len = (size_t)pre.len;
    } else if (rc != JANUS_ENOTFOUND) {
        return rc;
    }

    rc = load_str_array(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_TOKENS), &tokens, &d.n_tokens, 1,
                        err, err_len);
    if (rc) goto done;
    d.tokens = tokens;
    const char *num_keys[2] = {gguf_key_name(GGUF_KEY_TOKENIZER_GGML_SCORES),
                               gguf_key_name(GGUF_KEY_TOKENIZER_GGML_TOKEN_TYPE)};
    for (int k = 0; k < 2; k++) {
        int64_t ki = gguf_find_key(g, num_keys[k]);
        if (ki < 0) continue;
        enum gguf_type et;
        uint64_t n;
        rc = gguf_get_arr(g, num_keys[k], &et, &n, err, err_len);
        if (rc) goto done;
        int ok_type =
            k == 0 ? (et == GGUF_TYPE_FLOAT32 || et == GGUF_TYPE_FLOAT64 || et == GGUF_TYPE_INT32)
                   : (et == GGUF_TYPE_INT32 || et == GGUF_TYPE_UINT32 || et == GGUF_TYPE_INT8 ||
                      et == GGUF_TYPE_UINT8 || et == GGUF_TYPE_INT16 || et == GGUF_TYPE_UINT16);
        if (!ok_type) {
            rc = status_errf(err, err_len, JANUS_EFORMAT, "%s: unexpected element type %s",
                             num_keys[k], gguf_type_name(et));
            goto done;
        }
        if ((int64_t)n != d.n_tokens) {
            rc = status_errf(err, err_len, JANUS_EFORMAT,
                             "%s has %llu elements but tokenizer.ggml.tokens has %lld", num_keys[k],
                             (unsigned long long)n, (long long)d.n_tokens);
            goto done;
        }
        if (k == 0) {
            scores = mem_alloc(MEM_TAG_MODEL, (n ? n : 1) * sizeof *scores);
            if (!scores) goto nomem;
            for (uint64_t i = 0; i < n; i++)
                scores[i] = (float)gguf_arr_f64(g, ki, i);
            d.scores = scores;
        } else {
            types = mem_alloc(MEM_TAG_MODEL, (n ? n : 1) * sizeof *types);
            if (!types) goto nomem;
            for (uint64_t i = 0; i < n; i++) {
                int64_t x = gguf_arr_i64(g, ki, i);
                types[i] = x < -1 || x > 100 ? -1 : (int32_t)x; // range checked in vocab_init
            }
            d.token_types = types;
        }
    }
    if (!strcmp(model, "gpt2")) {
        rc = load_str_array(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_MERGES), &merges, &d.n_merges,
                            1, err, err_len);
        if (rc) goto done;
        d.merges = merges;
    }
    if ((rc = load_opt_id(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_BOS_TOKEN_ID), &d.bos, err,
                          err_len)) ||
        (rc = load_opt_id(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_EOS_TOKEN_ID), &d.eos, err,
                          err_len)) ||
        (rc = load_opt_id(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_UNKNOWN_TOKEN_ID), &d.unk, err,
                          err_len)) ||
        (rc = load_opt_id(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_PADDING_TOKEN_ID), &d.pad, err,
                          err_len)) ||
        (rc = load_opt_bool(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_ADD_BOS_TOKEN), &d.add_bos,
                            err, err_len)) ||
        (rc = load_opt_bool(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_ADD_EOS_TOKEN), &d.add_eos,
                            err, err_len)) ||
        (rc = load_opt_bool(g, gguf_key_name(GGUF_KEY_TOKENIZER_GGML_ADD_SPACE_PREFIX),
                            &d.add_space_prefix, err, err_len)))
        goto done;
    rc = vocab_init(v, &d, err, err_len);
    goto done;
nomem:
    rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory reading the vocabulary");
done:
    mem_free(tokens);
    mem_free(merges);
    mem_free(scores);
    mem_free(types);
    return rc;
}

// ---- lookups and pieces

int vocab_is_eog(const struct vocab *v, int32_t id) {
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) return 1;
    return 0;
}

int32_t vocab_find(const struct vocab *v, const char *text, size_t len) {
    if (!v->str_hash) return -1;
    int32_t id = str_find(v, text, len);
    return id < v->n_tokens ? id : -1;
}

const char *vocab_text(const struct vocab *v, int32_t id, size_t *len) {
    if (id < 0 || id >= v->n_tokens) return NULL;
    *len = v->tok[id].len;
    return v->text + v->tok[id].off;
}

const char *vocab_piece(const struct vocab *v, int32_t id, int special, size_t *len) {
    if (id < 0 || id >= v->n_tokens) return NULL;
    const struct vocab_entry *e = &v->tok[id];
    *len = e->piece_len;
    if (!special && (e->type == VOCAB_TOKEN_CONTROL || e->type == VOCAB_TOKEN_UNKNOWN)) *len = 0;
    return v->pieces + e->piece_off;
}

int vocab_token_to_piece(const struct vocab *v, int32_t id, int special, char *buf, size_t cap) {
    size_t n;
    const char *p = vocab_piece(v, id, special, &n);
    if (!p) return JANUS_EINVAL;
    if (n > cap) return JANUS_ELIMIT;
    memcpy(buf, p, n);
    return (int)n;
}

// ---- tokenize: shared output and scratch

struct out_buf {
    int32_t *ids;
    int n, cap;
    int overflow;
};

static void out_push(struct out_buf *o, int32_t id) {
    if (o->n >= o->cap) {
        o->overflow = 1;
        return;
    }
    o->ids[o->n++] = id;
}

struct sym {
    int32_t prev, next;
    uint32_t off, n; // bytes in the work buffer
    int32_t id;      // BPE: string id of the symbol's text, -1 if not interned
};

// A candidate merge of adjacent symbols left, right. It is stale once either symbol has
// changed: left cannot change while right lives (it only grows by absorbing right), and
// right only grows, so "both alive and left.n + right.n == size" is the exact check (for BPE
// it equals llama.cpp's string comparison).
struct bigram {
    union {
        float score;  // SPM: higher first
        int32_t rank; // BPE: lower first
    } k;
    int32_t left, right;
    uint32_t size; // byte length of left + right when pushed
    int32_t res;   // BPE: string id of the merged text
};

struct scratch {
    char *buf; // work text
    size_t buf_cap;
    struct sym *sym;
    size_t sym_cap;
    struct bigram *heap;
    size_t heap_n, heap_cap;
    int spm; // comparison mode
};

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return JANUS_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = mem_realloc(MEM_TAG_MODEL, *p, c * elem);
    if (!q) return JANUS_ENOMEM;
    *p = q;
    *cap = c;
    return JANUS_OK;
}

// a before b in the queue?
static int bigram_before(const struct scratch *s, const struct bigram *a, const struct bigram *b) {
    if (s->spm) {
        if (a->k.score != b->k.score) return a->k.score > b->k.score;
    } else if (a->k.rank != b->k.rank) {
        return a->k.rank < b->k.rank;
    }
    return a->left < b->left;
}

static int heap_push(struct scratch *s, const struct bigram *b) {
    int rc = grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof *s->heap);
    if (rc) return rc;
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(s, b, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = *b;
    return JANUS_OK;
}

static struct bigram heap_pop(struct scratch *s) {
    struct bigram top = s->heap[0];
    struct bigram last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_before(s, &s->heap[c + 1], &s->heap[c])) c++;
        if (!bigram_before(s, &s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

// ---- SentencePiece BPE

static int spm_try_bigram(const struct vocab *v, struct scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return JANUS_OK;
    uint32_t n = s->sym[l].n + s->sym[r].n;
    int32_t id = str_find(v, s->buf + s->sym[l].off, n);
    if (id < 0) return JANUS_OK;
    struct bigram b = {.k.score = v->tok[id].score, .left = l, .right = r, .size = n};
    return heap_push(s, &b);
}

static void emit_byte_fallback(const struct vocab *v, struct out_buf *o, const uint8_t *p,
                               size_t n) {
    for (size_t j = 0; j < n; j++) {
        int32_t id = v->byte_token[p[j]];
        if (id < 0) id = v->unk;
        if (id >= 0) out_push(o, id);
    }
}

// Tokenizes s->buf[0..n) (already escaped: spaces -> U+2581).
static int spm_tokenize(const struct vocab *v, struct scratch *s, size_t n, struct out_buf *o) {
    if (n == 0) return JANUS_OK;
    int rc = grow((void **)&s->sym, &s->sym_cap, n, sizeof *s->sym);
    if (rc) return rc;
    int32_t n_sym = 0;
    for (size_t off = 0; off < n;) {
        size_t len = JANUS_MIN(utf8_lead_len((uint8_t)s->buf[off]), n - off);
        struct sym *y = &s->sym[n_sym];
        y->off = (uint32_t)off;
        y->n = (uint32_t)len;
        y->prev = n_sym - 1;
        off += len;
        y->next = off == n ? -1 : n_sym + 1;
        y->id = -1;
        n_sym++;
    }
    s->heap_n = 0;
    s->spm = 1;
    for (int32_t i = 1; i < n_sym; i++)
        if ((rc = spm_try_bigram(v, s, i - 1, i))) return rc;
    while (s->heap_n) {
        struct bigram b = heap_pop(s);
        struct sym *l = &s->sym[b.left], *r = &s->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = b.left;
        if ((rc = spm_try_bigram(v, s, l->prev, b.left))) return rc;
        if ((rc = spm_try_bigram(v, s, b.left, l->next))) return rc;
    }
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        struct sym *y = &s->sym[i];
        int32_t id = str_find(v, s->buf + y->off, y->n);
        if (id >= 0 && id < v->n_tokens)
            out_push(o, id);
        else
            emit_byte_fallback(v, o, (const uint8_t *)s->buf + y->off, y->n);
    }
    return JANUS_OK;
}

// ---- byte-level BPE

static int bpe_try_bigram(const struct vocab *v, struct scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return JANUS_OK;
    int32_t il = s->sym[l].id, ir = s->sym[r].id;
    if (il < 0 || ir < 0 || !v->merge_cap) return JANUS_OK;
    const struct vocab_merge *m = merge_find(v, il, ir);
    if (!m) return JANUS_OK;
    struct bigram b = {.k.rank = m->rank,
                       .left = l,
                       .right = r,
                       .size = s->sym[l].n + s->sym[r].n,
                       .res = m->result};
    return heap_push(s, &b);
}

// BPE over one pre-tokenized word, already byte-mapped, at s->buf[w0 .. w0+wn).
static int bpe_word(const struct vocab *v, struct scratch *s, size_t w0, size_t wn,
                    struct out_buf *o) {
    if (wn == 0) return JANUS_OK;
    const char *w = s->buf + w0;
    if (v->ignore_merges) {
        int32_t id = str_find(v, w, wn);
        if (id >= 0 && id < v->n_tokens) {
            out_push(o, id);
            return JANUS_OK;
        }
    }
    int rc = grow((void **)&s->sym, &s->sym_cap, wn, sizeof *s->sym);
    if (rc) return rc;
    int32_t n_sym = 0;
    for (size_t off = 0; off < wn;) {
        size_t len = JANUS_MIN(utf8_lead_len((uint8_t)w[off]), wn - off);
        struct sym *y = &s->sym[n_sym];
        y->off = (uint32_t)(w0 + off);
        y->n = (uint32_t)len;
        y->prev = n_sym - 1;
        off += len;
        y->next = off == wn ? -1 : n_sym + 1;
        y->id = str_find(v, w + (y->off - w0), len);
        n_sym++;
    }
    s->heap_n = 0;
    s->spm = 0;
    for (int32_t i = 1; i < n_sym; i++)
        if ((rc = bpe_try_bigram(v, s, i - 1, i))) return rc;
    while (s->heap_n) {
        struct bigram b = heap_pop(s);
        struct sym *l = &s->sym[b.left], *r = &s->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        l->id = b.res;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = b.left;
        if ((rc = bpe_try_bigram(v, s, l->prev, b.left))) return rc;
        if ((rc = bpe_try_bigram(v, s, b.left, l->next))) return rc;
    }
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        struct sym *y = &s->sym[i];
        if (y->id >= 0 && y->id < v->n_tokens) {
            out_push(o, y->id);
            continue;
        }
        // llama.cpp: each byte of the (mapped) text as a one-byte token, if there is one
        for (uint32_t j = 0; j < y->n; j++) {
            int32_t id = str_find(v, s->buf + y->off + j, 1);
            if (id >= 0 && id < v->n_tokens) out_push(o, id);
        }
    }
    return JANUS_OK;
}

struct span {
    size_t off, len;
};

struct spans {
    struct span *a;
    size_t n, cap;
};

static int spans_push(struct spans *sp, size_t off, size_t len) {
    int rc = grow((void **)&sp->a, &sp->cap, sp->n + 1, sizeof *sp->a);
    if (rc) return rc;
    sp->a[sp->n].off = off;
    sp->a[sp->n].len = len;
    sp->n++;
    return JANUS_OK;
}

// Splits text (valid UTF-8) with each regex in turn; matches and the gaps between them both
// become pieces (llama.cpp unicode_regex_split). Result in *cur.
static int bpe_split(const struct vocab *v, const char *text, size_t n, struct spans *cur,
                     struct spans *next, pcre2_match_data *md) {
    cur->n = 0;
    int rc = spans_push(cur, 0, n);
    if (rc) return rc;
    for (int r = 0; r < v->n_re; r++) {
        const pcre2_code *code = v->re[r];
        next->n = 0;
        for (size_t c = 0; c < cur->n; c++) {
            size_t c0 = cur->a[c].off, cn = cur->a[c].len;
            const PCRE2_SPTR subj = (PCRE2_SPTR)(text + c0);
            size_t start = 0, prev = 0;
            while (start <= cn) {
                int m = pcre2_match(code, subj, cn, start, PCRE2_NO_UTF_CHECK, md, NULL);
                if (m == PCRE2_ERROR_JIT_STACKLIMIT)       // long run: the interpreter keeps its
                    m = pcre2_match(code, subj, cn, start, // frames on the heap instead
                                    PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
                if (m == PCRE2_ERROR_NOMATCH) break;
                if (m == PCRE2_ERROR_NOMEMORY || m == PCRE2_ERROR_HEAP_FAILED) return JANUS_ENOMEM;
                if (m < 0) return JANUS_ELIMIT; // match/heap limit: pathological input
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                size_t ms = ov[0], me = ov[1];
                if (me == ms) { // empty match: skip one character
                    if (ms >= cn) break;
                    start = ms + JANUS_MIN(utf8_lead_len(subj[ms]), cn - ms);
                    continue;
                }
                if (ms > prev && (rc = spans_push(next, c0 + prev, ms - prev))) return rc;
                if ((rc = spans_push(next, c0 + ms, me - ms))) return rc;
                prev = start = me;
            }
            if (prev < cn && (rc = spans_push(next, c0 + prev, cn - prev))) return rc;
        }
        struct spans t = *cur;
        *cur = *next;
        *next = t;
    }
    return JANUS_OK;
}

// Tokenizes one raw-text fragment with byte-level BPE.
static int bpe_tokenize(const struct vocab *v, struct scratch *s, const char *raw, size_t n,
                        struct out_buf *o, pcre2_match_data *md) {
    if (n == 0) return JANUS_OK;
    // 1. invalid UTF-8 -> U+FFFD per byte (llama.cpp unicode_cpts_from_utf8)
    size_t clean_cap = n * 3;
    char *clean = mem_alloc(MEM_TAG_MODEL, clean_cap);
    struct spans cur = {0}, next = {0};
    int rc = clean ? JANUS_OK : JANUS_ENOMEM;
    size_t cn = 0;
    for (size_t i = 0; rc == JANUS_OK && i < n;) {
        int inc;
        int l = utf8_seq_len((const uint8_t *)raw + i, n - i, &inc);
        if (l == 0) {
            memcpy(clean + cn, "\xEF\xBF\xBD", 3);
            cn += 3;
            i++;
        } else {
            memcpy(clean + cn, raw + i, (size_t)l);
            cn += (size_t)l;
            i += (size_t)l;
        }
    }
    // 2. pre-tokenize
    if (rc == JANUS_OK) rc = bpe_split(v, clean, cn, &cur, &next, md);
    // 3. per word: byte-map into s->buf, then BPE
    for (size_t k = 0; rc == JANUS_OK && k < cur.n && !o->overflow; k++) {
        const uint8_t *w = (const uint8_t *)clean + cur.a[k].off;
        size_t wn = cur.a[k].len;
        rc = grow((void **)&s->buf, &s->buf_cap, wn * 2, 1);
        if (rc) break;
        size_t m = 0;
        for (size_t j = 0; j < wn; j++)
            m += (size_t)utf8_encode(v->byte_cp[w[j]], s->buf + m);
        rc = bpe_word(v, s, 0, m, o);
    }
    mem_free(cur.a);
    mem_free(next.a);
    mem_free(clean);
    return rc;
}

// ---- special-token partition

struct frag {
    int32_t id; // >= 0: a special token; -1: text [off, off+len)
    size_t off, len;
};

struct frags {
    struct frag *a;
    size_t n, cap;
};

static int frags_push(struct frags *f, int32_t id, size_t off, size_t len) {
    int rc = grow((void **)&f->a, &f->cap, f->n + 1, sizeof *f->a);
    if (rc) return rc;
    f->a[f->n].id = id;
    f->a[f->n].off = off;
    f->a[f->n].len = len;
    f->n++;
    return JANUS_OK;
}

// Splits the text fragments of *cur at every occurrence of each special token (longest
// first). CONTROL and UNKNOWN tokens only when parse_special; USER_DEFINED always.
// Prefilter: one scan marks (in seen, a bitmap over token ids) every special token that
// occurs in the text at all; only those run the per-token splitting below, which is
// llama.cpp's procedure (a token absent from the text cannot occur in any fragment of it).
// Texts of 64 bytes or more are not prefiltered (always marked).
static void partition_scan(const struct vocab *v, const char *text, size_t len, uint8_t *seen) {
    for (size_t pos = 0; pos < len; pos++) {
        uint8_t c = (uint8_t)text[pos];
        if (!(v->special_first[c >> 3] & (1u << (c & 7)))) continue;
        for (uint64_t m = v->special_lens; m; m &= m - 1) {
            size_t l = (size_t)__builtin_ctzll(m);
            if (l > len - pos) break;
            int32_t id = str_find(v, text + pos, l);
            if (id < 0 || id >= v->n_tokens) continue;
            int ty = v->tok[id].type;
            if (ty == VOCAB_TOKEN_CONTROL || ty == VOCAB_TOKEN_USER_DEFINED ||
                ty == VOCAB_TOKEN_UNKNOWN)
                seen[id >> 3] |= (uint8_t)(1u << (id & 7));
        }
    }
    for (int32_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        if (v->tok[id].len >= 64) seen[id >> 3] |= (uint8_t)(1u << (id & 7));
    }
}

// True if [off, off + n) overlaps one of raw[0..n_raw) (sorted by offset, disjoint).
static int overlaps_raw(const struct vocab_span *raw, size_t n_raw, size_t off, size_t n) {
    size_t lo = 0, hi = n_raw; // the first range that ends after off
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (raw[mid].off + raw[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n_raw && raw[lo].off < off + n;
}

// raw (n_raw ranges, may be NULL): a CONTROL/UNKNOWN text that overlaps one of them is not
// a token there (message content is plain text); elsewhere it is, with parse_special.
static int partition(const struct vocab *v, const char *text, size_t len, int parse_special,
                     const struct vocab_span *raw, size_t n_raw, struct frags *cur,
                     struct frags *next) {
    if (v->n_special == 0 || len == 0) return JANUS_OK;
    uint8_t *seen = mem_calloc(MEM_TAG_MODEL, (size_t)v->n_tokens / 8 + 1, 1);
    if (!seen) return JANUS_ENOMEM;
    partition_scan(v, text, len, seen);
    int rc = JANUS_OK;
    for (int32_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        const struct vocab_entry *e = &v->tok[id];
        if (!parse_special && e->type != VOCAB_TOKEN_USER_DEFINED) continue;
        if (!(seen[id >> 3] & (1u << (id & 7)))) continue;
        const char *tt = v->text + e->off;
        size_t tn = e->len;
        next->n = 0;
        for (size_t i = 0; i < cur->n; i++) {
            struct frag f = cur->a[i];
            if (f.id >= 0) {
                if ((rc = frags_push(next, f.id, 0, 0))) goto out;
                continue;
            }
            size_t pos = f.off, end = f.off + f.len, from = pos;
            while (from < end) {
                const char *hit = end - from >= tn ? memmem(text + from, end - from, tt, tn) : NULL;
                if (!hit) break;
                size_t h = (size_t)(hit - text), g = h;
                if (e->type != VOCAB_TOKEN_USER_DEFINED && overlaps_raw(raw, n_raw, h, tn)) {
                    from = h + 1; // inside message content: text; look further on
                    continue;
                }
                if (id == v->lstrip_id) // lstrip: the token absorbs the whitespace before it
                    while (g > pos && text[g - 1] && strchr(" \t\n\v\f\r", text[g - 1]))
                        g--;
                if (g > pos && (rc = frags_push(next, -1, pos, g - pos))) goto out;
                if ((rc = frags_push(next, id, 0, 0))) goto out;
                pos = from = h + tn;
            }
            if (pos < end && (rc = frags_push(next, -1, pos, end - pos))) goto out;
        }
        struct frags t = *cur;
        *cur = *next;
        *next = t;
    }
    mem_free(seen);
    return JANUS_OK;
out:
    mem_free(seen);
    return rc;
}

static int tokenize(const struct vocab *v, const char *text, size_t len, int add_special,
                    int parse_special, const struct vocab_span *raw, size_t n_raw, int32_t *out,
                    int cap) {
    if (!v || !v->tok || (!text && len) || (!out && cap > 0) || cap < 0) return JANUS_EINVAL;
    for (size_t i = 0; i < n_raw; i++) // sorted, disjoint, within the text
        if (raw[i].off > len || raw[i].len > len - raw[i].off ||
            (i && raw[i].off < raw[i - 1].off + raw[i - 1].len))
            return JANUS_EINVAL;
    if (len > VOCAB_MAX_TEXT) return JANUS_ELIMIT;
    struct out_buf o = {.ids = out, .n = 0, .cap = cap};
    struct frags cur = {0}, next = {0};
    struct scratch s = {0};
    pcre2_match_data *md = NULL;
    int rc = JANUS_OK;

    if (len > 0) {
        rc = frags_push(&cur, -1, 0, len);
        if (rc == JANUS_OK) rc = partition(v, text, len, parse_special, raw, n_raw, &cur, &next);
    }
    if (rc == JANUS_OK && v->type == VOCAB_TYPE_BPE) {
        md = pcre2_match_data_create(8, (pcre2_general_context *)v->re_gctx);
        if (!md) rc = JANUS_ENOMEM;
    }
    if (rc == JANUS_OK && add_special && v->add_bos) out_push(&o, v->bos);
    int prev_special = 1; // SPM: a space is prepended to the first text and after specials
    for (size_t i = 0; rc == JANUS_OK && i < cur.n && !o.overflow; i++) {
        struct frag f = cur.a[i];
        if (f.id >= 0) {
            out_push(&o, f.id);
            prev_special = 1;
            continue;
        }
        if (v->type == VOCAB_TYPE_SPM) {
            // escape: optional leading space, every ' ' -> U+2581 (3 bytes)
            rc = grow((void **)&s.buf, &s.buf_cap, (f.len + 1) * 3, 1);
            if (rc) break;
            size_t m = 0;
            if (v->add_space_prefix && prev_special) {
                memcpy(s.buf, "\xE2\x96\x81", 3);
                m = 3;
            }
            for (size_t j = 0; j < f.len; j++) {
                char c = text[f.off + j];
                if (c == ' ') {
                    memcpy(s.buf + m, "\xE2\x96\x81", 3);
                    m += 3;
                } else {
                    s.buf[m++] = c;
                }
            }
            rc = spm_tokenize(v, &s, m, &o);
        } else {
            rc = bpe_tokenize(v, &s, text + f.off, f.len, &o, md);
        }
        prev_special = 0;
    }
    if (rc == JANUS_OK && add_special && v->add_eos) out_push(&o, v->eos);
    if (md) pcre2_match_data_free(md);
    mem_free(cur.a);
    mem_free(next.a);
    mem_free(s.buf);
    mem_free(s.sym);
    mem_free(s.heap);
    if (rc) return rc;
    return o.overflow ? JANUS_ELIMIT : o.n;
}

int vocab_tokenize(const struct vocab *v, const char *text, size_t len, int add_special,
                   int parse_special, int32_t *out, int cap) {
    return tokenize(v, text, len, add_special, parse_special, NULL, 0, out, cap);
}

int vocab_tokenize_raw(const struct vocab *v, const char *text, size_t len, int add_special,
                       const struct vocab_span *raw, size_t n_raw, int32_t *out, int cap) {
    if (n_raw && !raw) return JANUS_EINVAL;
    return tokenize(v, text, len, add_special, 1, raw, n_raw, out, cap);
}

// ---- streaming detokenizer

size_t vocab_detok_max_out(const struct vocab *v) { return (size_t)v->max_token_len * 3 + 4 * 3; }

// Emits the complete sequences of the concatenation pend + p[0..n); keeps an incomplete
// tail (<= 3 bytes) in d->pend. Invalid bytes become U+FFFD, one per byte.
static size_t detok_feed(struct vocab_detok *d, const uint8_t *p, size_t n, char *out) {
    uint8_t pend[4];
    size_t hn = (size_t)d->n_pend, total = hn + n, w = 0, i = 0;
    memcpy(pend, d->pend, hn);
    d->n_pend = 0;
    while (i < total) {
        uint8_t win[4];
        size_t k = 0;
        for (; k < 4 && i + k < total; k++)
            win[k] = i + k < hn ? pend[i + k] : p[i + k - hn];
        int inc;
        int l = utf8_seq_len(win, k, &inc);
        if (l > 0) {
            memcpy(out + w, win, (size_t)l);
            w += (size_t)l;
            i += (size_t)l;
        } else if (inc) {
            memcpy(d->pend, win, k);
            d->n_pend = (int)k;
            break;
        } else {
            memcpy(out + w, "\xEF\xBF\xBD", 3);
            w += 3;
            i++;
        }
    }
    return w;
}

int vocab_detok_push(const struct vocab *v, struct vocab_detok *d, int32_t id, int special,
                     char *out, size_t cap) {
    size_t n;
    const char *p = vocab_piece(v, id, special, &n);
    if (!p) return JANUS_EINVAL;
    if (cap < vocab_detok_max_out(v)) return JANUS_ELIMIT;
    if (d->n_pend < 0 || d->n_pend > 3) d->n_pend = 0;
    return (int)detok_feed(d, (const uint8_t *)p, n, out);
}

int vocab_detok_end(struct vocab_detok *d) {
    const int n = d->n_pend > 0 ? d->n_pend : 0;
    d->n_pend = 0;
    return n;
}

int32_t vocab_file_eos(const char *path) {
    struct gguf g;
    char err[JANUS_ERR_LEN];
    if (gguf_open(&g, path, err, sizeof err) != JANUS_OK) return -1;
    struct vocab v = {0};
    int32_t eos = -1;
    if (vocab_load(&v, &g, err, sizeof err) == JANUS_OK) eos = v.eos;
    vocab_free(&v);
    gguf_close(&g);
    return eos;
}
