// GGUF v2/v3 reader over a file's bytes (base/fmap.h: mmap or read; or a caller's buffer) and a v3
// writer (gguf.h). The reader validates everything before use: magic, version, counts and lengths
// against the bytes left and limits.h, value and tensor types, n_dims, ne (>= 1, product fits
// int64), block divisibility, alignment (power of two <= LIMIT_GGUF_MAX_ALIGNMENT), tensor
// offsets (aligned, inside the file, non-overlapping) and duplicate keys / tensor names.
// Errors are one line naming the key or tensor. Host must be little-endian (as the files).
// SPDX-License-Identifier: MIT
#include "model/gguf.h"
#include "model/gguf_keys.h"

#include "base/buf.h"
#include "base/bytes.h"
#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian files by direct loads: big-endian hosts are not supported"
#endif

#define GGUF_MAGIC             "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_KEY           65535 // the spec bounds keys to 2^16-1 bytes

// ---- ggml types

struct type_info {
    const char *name;
    int64_t blck; // elements per block; 0 = removed / unknown
    size_t size;  // bytes per block
};

// Standard ggml block layouts (ggml-common.h), by on-disk type number.
static const struct type_info k_types[] = {
    [0] = {"f32", 1, 4},         [1] = {"f16", 1, 2},         [2] = {"q4_0", 32, 18},
    [3] = {"q4_1", 32, 20},      [4] = {"q4_2", 0, 0},        [5] = {"q4_3", 0, 0},
    [6] = {"q5_0", 32, 22},      [7] = {"q5_1", 32, 24},      [8] = {"q8_0", 32, 34},
    [9] = {"q8_1", 32, 36},      [10] = {"q2_K", 256, 84},    [11] = {"q3_K", 256, 110},
    [12] = {"q4_K", 256, 144},   [13] = {"q5_K", 256, 176},   [14] = {"q6_K", 256, 210},
    [15] = {"q8_K", 256, 292},   [16] = {"iq2_xxs", 256, 66}, [17] = {"iq2_xs", 256, 74},
    [18] = {"iq3_xxs", 256, 98}, [19] = {"iq1_s", 256, 50},   [20] = {"iq4_nl", 32, 18},
    [21] = {"iq3_s", 256, 110},  [22] = {"iq2_s", 256, 82},   [23] = {"iq4_xs", 256, 136},
    [24] = {"i8", 1, 1},         [25] = {"i16", 1, 2},        [26] = {"i32", 1, 4},
    [27] = {"i64", 1, 8},        [28] = {"f64", 1, 8},        [29] = {"iq1_m", 256, 56},
    [30] = {"bf16", 1, 2},       [31] = {"q4_0_4_4", 0, 0},   [32] = {"q4_0_4_8", 0, 0},
    [33] = {"q4_0_8_8", 0, 0},   [34] = {"tq1_0", 256, 54},   [35] = {"tq2_0", 256, 66},
    [36] = {"iq4_nl_4_4", 0, 0}, [37] = {"iq4_nl_4_8", 0, 0}, [38] = {"iq4_nl_8_8", 0, 0},
    [39] = {"mxfp4", 32, 17},
};

int ggml_type_layout(uint32_t type, int64_t *block_elems, size_t *block_bytes) {
    if (type >= JANUS_ARRAY_SIZE(k_types) || k_types[type].blck == 0) return 0;
    if (block_elems) *block_elems = k_types[type].blck;
    if (block_bytes) *block_bytes = k_types[type].size;
    return 1;
}

// The types the engine computes with (model/weights.c weights_kern_type).
static int type_computable(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q5_1:
    case GGML_TYPE_Q2_K:
    case GGML_TYPE_Q3_K:
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K:
    case GGML_TYPE_Q6_K:
    case GGML_TYPE_IQ4_NL:
    case GGML_TYPE_IQ4_XS: return 1;
    default: return 0;
    }
}

size_t ggml_type_block_bytes(uint32_t type) {
    return type_computable(type) ? k_types[type].size : 0;
}

int64_t ggml_type_block_elems(uint32_t type) {
    return type_computable(type) ? k_types[type].blck : 0;
}

const char *ggml_type_name(uint32_t type) {
    static const char *const k_unknown[] = {"type#40", "type#41", "type#42", "type#43"};
    if (type < JANUS_ARRAY_SIZE(k_types) && k_types[type].name) return k_types[type].name;
    if (type >= 40 && type < 44) return k_unknown[type - 40];
    return "unknown type";
}

const char *gguf_type_name(enum gguf_type t) {
    switch (t) {
    case GGUF_TYPE_UINT8: return "u8";
    case GGUF_TYPE_INT8: return "i8";
    case GGUF_TYPE_UINT16: return "u16";
    case GGUF_TYPE_INT16: return "i16";
    case GGUF_TYPE_UINT32: return "u32";
    case GGUF_TYPE_INT32: return "i32";
    case GGUF_TYPE_FLOAT32: return "f32";
    case GGUF_TYPE_BOOL: return "bool";
    case GGUF_TYPE_STRING: return "string";
    case GGUF_TYPE_ARRAY: return "array";
    case GGUF_TYPE_UINT64: return "u64";
    case GGUF_TYPE_INT64: return "i64";
    case GGUF_TYPE_FLOAT64: return "f64";
    }
    return "invalid";
}

// Bytes of one scalar value; 0 for STRING/ARRAY/invalid.
static size_t scalar_size(uint32_t t) {
    switch (t) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64: return 8;
    }
    return 0;
}

static int valid_value_type(uint32_t t) { return t <= GGUF_TYPE_FLOAT64; }

size_t gguf_tensor_bytes(uint32_t n_dims, const int64_t *ne, uint32_t type) {
    int64_t blck;
    size_t bsz;
    if (!ggml_type_layout(type, &blck, &bsz) || n_dims < 1 || n_dims > LIMIT_GGUF_MAX_DIMS)
        return 0;
    int64_t n = 1;
    for (uint32_t i = 0; i < n_dims; i++) {
        if (ne[i] < 1 || n > INT64_MAX / ne[i]) return 0;
        n *= ne[i];
    }
    if (ne[0] % blck != 0) return 0;
    uint64_t nb = (uint64_t)(n / blck);
    if (nb > SIZE_MAX / bsz) return 0;
    return (size_t)nb * bsz;
}

// ---- reader

struct parser {
    const uint8_t *p; // file start
    size_t size;
    size_t pos;
    char *err;
    size_t err_len;
};

// Writes a printable, bounded copy of a file string into out (for messages).
static const char *show(char *out, size_t out_len, const char *s, uint64_t len) {
    size_t n = 0;
    uint64_t lim = len > 80 ? 80 : len;
    for (uint64_t i = 0; i < lim && n + 5 < out_len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'') {
            out[n++] = (char)c;
        } else {
            n += (size_t)snprintf(out + n, out_len - n, "\\x%02x", c);
        }
    }
    if (lim < len && n + 4 < out_len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n < out_len ? n : out_len - 1] = 0;
    return out;
}

static int need(struct parser *ps, uint64_t n) { return n <= ps->size - ps->pos; }

static uint32_t rd_u32(struct parser *ps) {
    uint32_t v = bytes_get_u32(ps->p + ps->pos);
    ps->pos += 4;
    return v;
}

static uint64_t rd_u64(struct parser *ps) {
    uint64_t v = bytes_get_u64(ps->p + ps->pos);
    ps->pos += 8;
    return v;
}

// Reads a length-prefixed string, checking the length against max and the bytes left.
// what: description for messages ("key #3", "key 'x' array element 7", ...).
static int rd_str(struct parser *ps, struct gguf_str *out, uint64_t max, const char *what) {
    if (!need(ps, 8))
        return status_errf(
            ps->err, ps->err_len, JANUS_EFORMAT,
            "truncated file: %s: string length at offset %zu needs 8 bytes (file size %zu)", what,
            ps->pos, ps->size);
    size_t at = ps->pos;
    uint64_t len = rd_u64(ps);
    if (len > max)
        return status_errf(ps->err, ps->err_len, JANUS_ELIMIT,
                           "%s: string length %llu at offset %zu exceeds the limit %llu", what,
                           (unsigned long long)len, at, (unsigned long long)max);
    if (!need(ps, len))
        return status_errf(
            ps->err, ps->err_len, JANUS_EFORMAT,
            "truncated file: %s: string of %llu bytes at offset %zu extends past end of "
            "file (size %zu)",
            what, (unsigned long long)len, ps->pos, ps->size);
    out->ptr = (const char *)(ps->p + ps->pos);
    out->len = len;
    ps->pos += len;
    return JANUS_OK;
}

static int str_cmp(const struct gguf_str *a, const struct gguf_str *b) {
    uint64_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->ptr, b->ptr, n) : 0;
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

// qsort context-free comparators over index arrays: the items carry their own pointers.
struct name_ix {
    struct gguf_str name;
    int64_t i;
};

static int cmp_name_ix(const void *a, const void *b) {
    const struct name_ix *x = a, *y = b;
    int c = str_cmp(&x->name, &y->name);
    if (c) return c;
    return (x->i > y->i) - (x->i < y->i);
}

// The entries' indices in name order (for binary-search lookups); NULL if out of memory.
static int64_t *sorted_order(const struct name_ix *ix, uint64_t n) {
    int64_t *o = mem_calloc(MEM_TAG_MODEL, n, sizeof *o);
    if (o)
        for (uint64_t i = 0; i < n; i++)
            o[i] = ix[i].i;
    return o;
}

struct off_ix {
    uint64_t off;
    uint64_t end;
    int64_t i;
};

static int cmp_off_ix(const void *a, const void *b) {
    const struct off_ix *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

// Pass 1 over one value: validates and records it; counts string-array elements.
static int parse_value(struct parser *ps, struct gguf_kv *kv, const char *kname,
                       uint64_t *n_str_elems) {
    char what[512];
    if (!need(ps, 4))
        return status_errf(
            ps->err, ps->err_len, JANUS_EFORMAT,
            "truncated file: key '%s': value type at offset %zu extends past end of file "
            "(size %zu)",
            kname, ps->pos, ps->size);
    uint32_t t = rd_u32(ps);
    if (!valid_value_type(t))
        return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                           "key '%s': invalid value type %u (expected 0..12)", kname, t);
    kv->type = (enum gguf_type)t;
    if (t == GGUF_TYPE_STRING) {
        struct gguf_str s;
        kv->data = ps->p + ps->pos;
        snprintf(what, sizeof what, "key '%s' value", kname);
        return rd_str(ps, &s, LIMIT_GGUF_MAX_STRING, what);
    }
    if (t != GGUF_TYPE_ARRAY) {
        size_t sz = scalar_size(t);
        if (!need(ps, sz))
            return status_errf(
                ps->err, ps->err_len, JANUS_EFORMAT,
                "truncated file: key '%s': %s value at offset %zu extends past end of file "
                "(size %zu)",
                kname, gguf_type_name(kv->type), ps->pos, ps->size);
        kv->data = ps->p + ps->pos;
        if (t == GGUF_TYPE_BOOL && kv->data[0] > 1)
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "key '%s': bool value %u (expected 0 or 1)", kname, kv->data[0]);
        ps->pos += sz;
        return JANUS_OK;
    }
    if (!need(ps, 12))
        return status_errf(
            ps->err, ps->err_len, JANUS_EFORMAT,
            "truncated file: key '%s': array header at offset %zu extends past end of file "
            "(size %zu)",
            kname, ps->pos, ps->size);
    uint32_t at = rd_u32(ps);
    uint64_t n = rd_u64(ps);
    if (at == GGUF_TYPE_ARRAY)
        return status_errf(ps->err, ps->err_len, JANUS_EUNSUPPORTED,
                           "key '%s': nested arrays are not supported", kname);
    if (!valid_value_type(at))
        return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                           "key '%s': invalid array element type %u (expected 0..12)", kname, at);
    if (n > LIMIT_GGUF_MAX_ARRAY)
        return status_errf(ps->err, ps->err_len, JANUS_ELIMIT,
                           "key '%s': array of %llu elements exceeds the limit %u", kname,
                           (unsigned long long)n, (unsigned)LIMIT_GGUF_MAX_ARRAY);
    kv->arr_type = (enum gguf_type)at;
    kv->arr_n = n;
    kv->data = ps->p + ps->pos;
    if (at == GGUF_TYPE_STRING) {
        // each element needs at least its 8-byte length
        if (n > (ps->size - ps->pos) / 8)
            return status_errf(
                ps->err, ps->err_len, JANUS_EFORMAT,
                "truncated file: key '%s': array of %llu strings at offset %zu needs at "
                "least %llu bytes (file size %zu)",
                kname, (unsigned long long)n, ps->pos, (unsigned long long)n * 8, ps->size);
        for (uint64_t i = 0; i < n; i++) {
            // fast path: the element fits; otherwise re-read it with a descriptive name
            if (need(ps, 8)) {
                uint64_t len = bytes_get_u64(ps->p + ps->pos);
                if (len <= LIMIT_GGUF_MAX_STRING && need(ps, 8 + len)) {
                    ps->pos += 8 + (size_t)len;
                    continue;
                }
            }
            struct gguf_str s;
            snprintf(what, sizeof what, "key '%s' element %llu", kname, (unsigned long long)i);
            int rc = rd_str(ps, &s, LIMIT_GGUF_MAX_STRING, what);
            if (rc) return rc;
        }
        *n_str_elems += n;
        return JANUS_OK;
    }
    size_t sz = scalar_size(at);
    if (n > (ps->size - ps->pos) / sz)
        return status_errf(
            ps->err, ps->err_len, JANUS_EFORMAT,
            "truncated file: key '%s': array of %llu %s at offset %zu extends past end of "
            "file (size %zu)",
            kname, (unsigned long long)n, gguf_type_name(kv->arr_type), ps->pos, ps->size);
    if (at == GGUF_TYPE_BOOL) {
        for (uint64_t i = 0; i < n; i++)
            if (kv->data[i] > 1)
                return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                                   "key '%s': bool array element %llu is %u (expected 0 or 1)",
                                   kname, (unsigned long long)i, kv->data[i]);
    }
    ps->pos += (size_t)(n * sz);
    return JANUS_OK;
}

static int parse(struct gguf *g, struct parser *ps) {
    char nm[400];
    if (ps->size < 4 || memcmp(ps->p, GGUF_MAGIC, 4) != 0)
        return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                           "not a GGUF file: bad magic (expected \"GGUF\")");
    ps->pos = 4;
    if (!need(ps, 4))
        return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                           "truncated file: header needs 24 bytes (file size %zu)", ps->size);
    uint32_t version = rd_u32(ps);
    if (version == 1)
        return status_errf(ps->err, ps->err_len, JANUS_EUNSUPPORTED,
                           "GGUF version 1 is not supported (expected 2 or 3)");
    if (version == 0x02000000u || version == 0x03000000u)
        return status_errf(ps->err, ps->err_len, JANUS_EUNSUPPORTED,
                           "big-endian GGUF files are not supported");
    if (version != 2 && version != 3)
        return status_errf(ps->err, ps->err_len, JANUS_EUNSUPPORTED,
                           "unknown GGUF version %u (expected 2 or 3)", version);
    if (!need(ps, 16))
        return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                           "truncated file: header needs 24 bytes (file size %zu)", ps->size);
    uint64_t n_tensors = rd_u64(ps);
    uint64_t n_kv = rd_u64(ps);
    if (n_kv > LIMIT_GGUF_MAX_KV)
        return status_errf(ps->err, ps->err_len, JANUS_ELIMIT,
                           "metadata key count %llu exceeds the limit %d", (unsigned long long)n_kv,
                           LIMIT_GGUF_MAX_KV);
    if (n_tensors > LIMIT_GGUF_MAX_TENSORS)
        return status_errf(ps->err, ps->err_len, JANUS_ELIMIT,
                           "tensor count %llu exceeds the limit %d", (unsigned long long)n_tensors,
                           LIMIT_GGUF_MAX_TENSORS);
    // minimum encodings: kv = key len (8) + type (4) + 1 value byte; tensor info = name len
    // (8) + n_dims (4) + ne (8) + type (4) + offset (8)
    uint64_t min_bytes = n_kv * 13 + n_tensors * 32;
    if (min_bytes > ps->size - ps->pos)
        return status_errf(
            ps->err, ps->err_len, JANUS_EFORMAT,
            "truncated file: %llu keys and %llu tensors need at least %llu bytes after the "
            "header (file size %zu)",
            (unsigned long long)n_kv, (unsigned long long)n_tensors, (unsigned long long)min_bytes,
            ps->size);
    g->version = version;
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    if (n_kv) {
        g->kv = mem_calloc(MEM_TAG_MODEL, n_kv, sizeof *g->kv);
        if (!g->kv)
            return status_errf(ps->err, ps->err_len, JANUS_ENOMEM, "out of memory for %llu keys",
                               (unsigned long long)n_kv);
    }
    if (n_tensors) {
        g->tensors = mem_calloc(MEM_TAG_MODEL, n_tensors, sizeof *g->tensors);
        if (!g->tensors)
            return status_errf(ps->err, ps->err_len, JANUS_ENOMEM, "out of memory for %llu tensors",
                               (unsigned long long)n_tensors);
    }

    // ---- key/value pairs
    uint64_t n_str_elems = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        struct gguf_kv *kv = &g->kv[i];
        char what[64];
        snprintf(what, sizeof what, "key #%llu name", (unsigned long long)i);
        int rc = rd_str(ps, &kv->key, GGUF_MAX_KEY, what);
        if (rc) return rc;
        if (kv->key.len == 0)
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT, "key #%llu: empty key name",
                               (unsigned long long)i);
        if (memchr(kv->key.ptr, 0, kv->key.len))
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "key '%s': name contains a NUL byte",
                               show(nm, sizeof nm, kv->key.ptr, kv->key.len));
        show(nm, sizeof nm, kv->key.ptr, kv->key.len);
        rc = parse_value(ps, kv, nm, &n_str_elems);
        if (rc) return rc;
    }
    // duplicate keys
    if (n_kv > 1) {
        struct name_ix *ix = mem_calloc(MEM_TAG_MODEL, n_kv, sizeof *ix);
        if (!ix) return status_errf(ps->err, ps->err_len, JANUS_ENOMEM, "out of memory");
        for (uint64_t i = 0; i < n_kv; i++)
            ix[i] = (struct name_ix){g->kv[i].key, (int64_t)i};
        qsort(ix, n_kv, sizeof *ix, cmp_name_ix);
        for (uint64_t i = 1; i < n_kv; i++) {
            if (str_cmp(&ix[i - 1].name, &ix[i].name) == 0) {
                int rc = status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                                     "duplicate key '%s' (entries #%lld and #%lld)",
                                     show(nm, sizeof nm, ix[i].name.ptr, ix[i].name.len),
                                     (long long)ix[i - 1].i, (long long)ix[i].i);
                mem_free(ix);
                return rc;
            }
        }
        g->key_sorted = sorted_order(ix, n_kv);
        mem_free(ix);
        if (!g->key_sorted) return status_errf(ps->err, ps->err_len, JANUS_ENOMEM, "out of memory");
    }
    // string-array index: element i's length prefix (elements were validated above)
    if (n_str_elems) {
        g->str_index = mem_calloc(MEM_TAG_MODEL, n_str_elems, sizeof *g->str_index);
        if (!g->str_index)
            return status_errf(ps->err, ps->err_len, JANUS_ENOMEM,
                               "out of memory for the string index");
        uint64_t k = 0;
        for (int64_t i = 0; i < g->n_kv; i++) {
            struct gguf_kv *kv = &g->kv[i];
            if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != GGUF_TYPE_STRING) continue;
            kv->elems = g->str_index + k;
            const uint8_t *q = kv->data;
            for (uint64_t j = 0; j < kv->arr_n; j++) {
                uint64_t len = bytes_get_u64(q);
                g->str_index[k++] = q;
                q += 8 + len;
            }
        }
    }
    // alignment
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = gguf_find_key(g, gguf_key_name(GGUF_KEY_GENERAL_ALIGNMENT));
    if (ai >= 0) {
        uint32_t a;
        char e2[JANUS_ERR_LEN];
        if (gguf_get_u32(g, gguf_key_name(GGUF_KEY_GENERAL_ALIGNMENT), &a, e2, sizeof e2) !=
            JANUS_OK)
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT, "key 'general.alignment': %s",
                               e2);
        if (a == 0 || (a & (a - 1)) != 0 || a > LIMIT_GGUF_MAX_ALIGNMENT)
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "key 'general.alignment': %u is not a power of two in 1..%d", a,
                               LIMIT_GGUF_MAX_ALIGNMENT);
        g->alignment = a;
    }

    // ---- tensor infos
    for (uint64_t i = 0; i < n_tensors; i++) {
        struct gguf_tensor *t = &g->tensors[i];
        char what[64];
        snprintf(what, sizeof what, "tensor #%llu name", (unsigned long long)i);
        int rc = rd_str(ps, &t->name, LIMIT_GGUF_MAX_NAME, what);
        if (rc) return rc;
        if (t->name.len == 0)
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT, "tensor #%llu: empty name",
                               (unsigned long long)i);
        show(nm, sizeof nm, t->name.ptr, t->name.len);
        if (memchr(t->name.ptr, 0, t->name.len))
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "tensor '%s': name contains a NUL byte", nm);
        if (!need(ps, 4))
            return status_errf(
                ps->err, ps->err_len, JANUS_EFORMAT,
                "truncated file: tensor '%s': n_dims at offset %zu extends past end of "
                "file (size %zu)",
                nm, ps->pos, ps->size);
        uint32_t n_dims = rd_u32(ps);
        if (n_dims < 1 || n_dims > LIMIT_GGUF_MAX_DIMS)
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "tensor '%s': n_dims %u (expected 1..%d)", nm, n_dims,
                               LIMIT_GGUF_MAX_DIMS);
        t->n_dims = n_dims;
        if (!need(ps, (uint64_t)n_dims * 8 + 12))
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "truncated file: tensor '%s': shape, type and offset at offset %zu "
                               "extend past end of file (size %zu)",
                               nm, ps->pos, ps->size);
        int64_t n_el = 1;
        for (int d = 0; d < 4; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < n_dims; d++) {
            uint64_t v = rd_u64(ps);
            if (v == 0 || v > (uint64_t)INT64_MAX)
                return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                                   "tensor '%s': ne[%u] = %llu (expected >= 1)", nm, d,
                                   (unsigned long long)v);
            if (n_el > INT64_MAX / (int64_t)v)
                return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                                   "tensor '%s': element count overflows (ne[%u] = %llu)", nm, d,
                                   (unsigned long long)v);
            t->ne[d] = (int64_t)v;
            n_el *= (int64_t)v;
        }
        t->type = rd_u32(ps);
        t->offset = rd_u64(ps);
        int64_t blck;
        size_t bsz;
        if (!ggml_type_layout(t->type, &blck, &bsz))
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "tensor '%s': unknown ggml type %u", nm, t->type);
        if (t->ne[0] % blck != 0)
            return status_errf(
                ps->err, ps->err_len, JANUS_EFORMAT,
                "tensor '%s': ne[0] = %lld is not a multiple of the %s block size %lld", nm,
                (long long)t->ne[0], ggml_type_name(t->type), (long long)blck);
        uint64_t nb = (uint64_t)(n_el / blck);
        if (nb > UINT64_MAX / bsz)
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "tensor '%s': byte size overflows", nm);
        t->n_bytes = nb * bsz;
        if (t->offset % g->alignment != 0)
            return status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                               "tensor '%s': offset %llu is not a multiple of the alignment %u", nm,
                               (unsigned long long)t->offset, g->alignment);
    }
    // duplicate tensor names
    if (n_tensors > 1) {
        struct name_ix *ix = mem_calloc(MEM_TAG_MODEL, n_tensors, sizeof *ix);
        if (!ix) return status_errf(ps->err, ps->err_len, JANUS_ENOMEM, "out of memory");
        for (uint64_t i = 0; i < n_tensors; i++)
            ix[i] = (struct name_ix){g->tensors[i].name, (int64_t)i};
        qsort(ix, n_tensors, sizeof *ix, cmp_name_ix);
        for (uint64_t i = 1; i < n_tensors; i++) {
            if (str_cmp(&ix[i - 1].name, &ix[i].name) == 0) {
                int rc = status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                                     "duplicate tensor name '%s' (#%lld and #%lld)",
                                     show(nm, sizeof nm, ix[i].name.ptr, ix[i].name.len),
                                     (long long)ix[i - 1].i, (long long)ix[i].i);
                mem_free(ix);
                return rc;
            }
        }
        g->tensor_sorted = sorted_order(ix, n_tensors);
        mem_free(ix);
        if (!g->tensor_sorted)
            return status_errf(ps->err, ps->err_len, JANUS_ENOMEM, "out of memory");
    }

    // ---- data section
    uint64_t data_off = ((uint64_t)ps->pos + g->alignment - 1) / g->alignment * g->alignment;
    g->data_offset = (size_t)data_off;
    if (n_tensors == 0) {
        g->data = data_off <= ps->size ? ps->p + data_off : NULL;
        return JANUS_OK;
    }
    if (data_off > ps->size)
        return status_errf(
            ps->err, ps->err_len, JANUS_EFORMAT,
            "truncated file: tensor data section starts at %llu, past end of file (size "
            "%zu)",
            (unsigned long long)data_off, ps->size);
    uint64_t data_size = ps->size - data_off;
    g->data = ps->p + data_off;
    struct off_ix *ox = mem_calloc(MEM_TAG_MODEL, n_tensors, sizeof *ox);
    if (!ox) return status_errf(ps->err, ps->err_len, JANUS_ENOMEM, "out of memory");
    int rc = JANUS_OK;
    for (uint64_t i = 0; i < n_tensors; i++) {
        struct gguf_tensor *t = &g->tensors[i];
        if (t->offset > data_size || t->n_bytes > data_size - t->offset) {
            show(nm, sizeof nm, t->name.ptr, t->name.len);
            rc = status_errf(ps->err, ps->err_len, JANUS_EFORMAT,
                             "tensor '%s': data [%llu, %llu) extends past end of file (size %zu)",
                             nm, (unsigned long long)(data_off + t->offset),
                             (unsigned long long)(data_off + t->offset + t->n_bytes), ps->size);
            goto done;
        }
        t->data = g->data + t->offset;
        ox[i] = (struct off_ix){t->offset, t->offset + t->n_bytes, (int64_t)i};
    }
    qsort(ox, n_tensors, sizeof *ox, cmp_off_ix);
    for (uint64_t i = 1; i < n_tensors; i++) {
        if (ox[i].off < ox[i - 1].end) {
            const struct gguf_tensor *a = &g->tensors[ox[i - 1].i], *b = &g->tensors[ox[i].i];
            char nm2[400];
            rc = status_errf(
                ps->err, ps->err_len, JANUS_EFORMAT,
                "tensor '%s': data [%llu, %llu) overlaps tensor '%s' [%llu, %llu)",
                show(nm, sizeof nm, b->name.ptr, b->name.len), (unsigned long long)b->offset,
                (unsigned long long)(b->offset + b->n_bytes),
                show(nm2, sizeof nm2, a->name.ptr, a->name.len), (unsigned long long)a->offset,
                (unsigned long long)(a->offset + a->n_bytes));
            goto done;
        }
    }
done:
    mem_free(ox);
    return rc;
}

static void free_tables(struct gguf *g) {
    mem_free(g->kv);
    mem_free(g->tensors);
    mem_free(g->str_index);
    mem_free(g->key_sorted);
    mem_free(g->tensor_sorted);
}

int gguf_open_memory(struct gguf *g, const void *buf, size_t size, char *err, size_t err_len) {
    memset(g, 0, sizeof *g);
    g->fd = -1;
    if (err && err_len) err[0] = 0;
    if (!buf && size) return JANUS_EINVAL;
    struct parser ps = {buf, size, 0, err, err_len};
    g->map = buf;
    g->size = size;
    int rc = parse(g, &ps);
    if (rc) {
        free_tables(g);
        memset(g, 0, sizeof *g);
        g->fd = -1;
    }
    return rc;
}

int gguf_open(struct gguf *g, const char *path, char *err, size_t err_len) {
    const struct fmap_opts o = {.mode = FMAP_MMAP};
    return gguf_open_ex(g, path, &o, err, err_len);
}

// Header bytes read first in read mode; grown 4x until the header parses within them.
// JANUS_GGUF_READ_PREFIX (bytes, tests) replaces it so small files exercise the growth.
#define GGUF_READ_PREFIX ((size_t)4 << 20)

static size_t read_prefix(void) {
    const char *s = getenv("JANUS_GGUF_READ_PREFIX");
    long long v = s ? strtoll(s, NULL, 10) : 0;
    return v >= 64 ? (size_t)v : GGUF_READ_PREFIX;
}

int gguf_open_ex(struct gguf *g, const char *path, const struct fmap_opts *o, char *err,
                 size_t err_len) {
    memset(g, 0, sizeof *g);
    g->fd = -1;
    if (err && err_len) err[0] = 0;
    struct fmap fm;
    int rc = fmap_open(&fm, path, o, err, err_len);
    if (rc) return rc;
    char e2[JANUS_ERR_LEN] = {0};
    if (fm.mode == FMAP_MMAP) {
        rc = gguf_open_memory(g, fm.base, fm.size, e2, sizeof e2);
    } else {
        // Read mode: the parser reads only header bytes, all before data_offset. Parse over
        // a prefix read so far (the rest of the buffer reads as zeros); the parse holds when
        // it succeeds with its data section starting inside the prefix, else read more.
        size_t have = JANUS_MIN(fm.size, read_prefix());
        for (;;) {
            rc = fmap_fetch(&fm, have, err, err_len);
            if (rc) {
                fmap_close(&fm);
                return rc;
            }
            rc = gguf_open_memory(g, fm.base, fm.size, e2, sizeof e2);
            if ((rc == JANUS_OK && g->data_offset <= have) || have == fm.size) break;
            if (rc == JANUS_OK) gguf_close(g); // a header longer than the prefix
            have = fm.size / 4 < have ? fm.size : have * 4;
        }
        // Tensor bytes of the prefix go back: the share a caller loads is read again.
        if (rc == JANUS_OK && have > g->data_offset)
            fmap_drop(&fm, g->data_offset, have - g->data_offset);
    }
    if (rc) {
        status_errf(err, err_len, rc, "%s: %s", path, e2);
        fmap_close(&fm);
        return rc;
    }
    g->fm = fm;
    g->fd = fm.fd;
    return JANUS_OK;
}

int gguf_load_ranges(struct gguf *g, struct fmap_range *r, int64_t n, const struct fmap_opts *o,
                     char *err, size_t err_len) {
    if (!g->fm.region) return JANUS_OK; // a caller's buffer: already in memory
    return fmap_load(&g->fm, r, n, g->data_offset, o, err, err_len);
}

void gguf_close(struct gguf *g) {
    if (!g) return;
    free_tables(g);
    if (g->fm.region) fmap_close(&g->fm);
    memset(g, 0, sizeof *g);
    g->fd = -1;
}

// ---- lookup and getters

_Static_assert(offsetof(struct gguf_kv, key) == 0, "find_sorted reads the name at offset 0");
_Static_assert(offsetof(struct gguf_tensor, name) == 0, "find_sorted reads the name at offset 0");

// Binary search over names in sorted order; linear scan when there is no order (n <= 1).
static int64_t find_sorted(const int64_t *order, int64_t n, const void *items, size_t stride,
                           const char *name) {
    struct gguf_str want = {name, strlen(name)};
    const uint8_t *base = items;
    if (!order) {
        for (int64_t i = 0; i < n; i++)
            if (str_cmp((const struct gguf_str *)(base + (size_t)i * stride), &want) == 0) return i;
        return -1;
    }
    int64_t lo = 0, hi = n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = str_cmp((const struct gguf_str *)(base + (size_t)order[mid] * stride), &want);
        if (c == 0) return order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int64_t gguf_find_key(const struct gguf *g, const char *key) {
    if (!g->kv || !key) return -1;
    return find_sorted(g->key_sorted, g->n_kv, g->kv, sizeof *g->kv, key);
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf *g, const char *name) {
    if (!g->tensors || !name) return NULL;
    int64_t i = find_sorted(g->tensor_sorted, g->n_tensors, g->tensors, sizeof *g->tensors, name);
    return i < 0 ? NULL : &g->tensors[i];
}

// Reads an integer of type t at p as signed (ok_s) or unsigned; returns 0 if not integer.
static int read_int(uint32_t t, const uint8_t *p, int64_t *s, uint64_t *u, int *is_signed) {
    *is_signed =
        t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
    switch (t) {
    case GGUF_TYPE_UINT8: *u = p[0]; return 1;
    case GGUF_TYPE_INT8: *s = (int8_t)p[0]; return 1;
    case GGUF_TYPE_UINT16: *u = bytes_get_u16(p); return 1;
    case GGUF_TYPE_INT16: *s = (int16_t)bytes_get_u16(p); return 1;
    case GGUF_TYPE_UINT32: *u = bytes_get_u32(p); return 1;
    case GGUF_TYPE_INT32: *s = bytes_get_i32(p); return 1;
    case GGUF_TYPE_UINT64: *u = bytes_get_u64(p); return 1;
    case GGUF_TYPE_INT64: *s = bytes_get_i64(p); return 1;
    }
    return 0;
}

static const struct gguf_kv *get_kv(const struct gguf *g, const char *key, char *err,
                                    size_t err_len) {
    int64_t i = gguf_find_key(g, key);
    if (i < 0) {
        status_errf(err, err_len, JANUS_ENOTFOUND, "key '%s' not found", key);
        return NULL;
    }
    return &g->kv[i];
}

int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out, char *err, size_t err_len) {
    const struct gguf_kv *kv = get_kv(g, key, err, err_len);
    if (!kv) return JANUS_ENOTFOUND;
    int64_t s = 0;
    uint64_t u = 0;
    int sg = 0;
    if (!read_int(kv->type, kv->data, &s, &u, &sg))
        return status_errf(err, err_len, JANUS_EFORMAT, "key '%s': expected an integer, found %s",
                           key, gguf_type_name(kv->type));
    if (sg ? (s < 0 || s > (int64_t)UINT32_MAX) : u > UINT32_MAX)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "key '%s': value %s%llu out of range for u32", key,
                           sg && s < 0 ? "-" : "",
                           sg ? (unsigned long long)(s < 0 ? -(s + 1) + 1ull : (uint64_t)s)
                              : (unsigned long long)u);
    *out = (uint32_t)(sg ? (uint64_t)s : u);
    return JANUS_OK;
}

int gguf_get_f32(const struct gguf *g, const char *key, float *out, char *err, size_t err_len) {
    const struct gguf_kv *kv = get_kv(g, key, err, err_len);
    if (!kv) return JANUS_ENOTFOUND;
    if (kv->type == GGUF_TYPE_FLOAT32) {
        *out = bytes_get_f32(kv->data);
        return JANUS_OK;
    }
    if (kv->type == GGUF_TYPE_FLOAT64) {
        double d = bytes_get_f64(kv->data);
        if (d == d && (d > 3.4028234663852886e38 || d < -3.4028234663852886e38))
            return status_errf(err, err_len, JANUS_EFORMAT,
                               "key '%s': f64 value %g out of f32 range", key, d);
        *out = (float)d;
        return JANUS_OK;
    }
    return status_errf(err, err_len, JANUS_EFORMAT, "key '%s': expected f32 or f64, found %s", key,
                       gguf_type_name(kv->type));
}

int gguf_get_bool(const struct gguf *g, const char *key, int *out, char *err, size_t err_len) {
    const struct gguf_kv *kv = get_kv(g, key, err, err_len);
    if (!kv) return JANUS_ENOTFOUND;
    if (kv->type != GGUF_TYPE_BOOL)
        return status_errf(err, err_len, JANUS_EFORMAT, "key '%s': expected bool, found %s", key,
                           gguf_type_name(kv->type));
    *out = kv->data[0] != 0;
    return JANUS_OK;
}

int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out, char *err,
                 size_t err_len) {
    const struct gguf_kv *kv = get_kv(g, key, err, err_len);
    if (!kv) return JANUS_ENOTFOUND;
    if (kv->type != GGUF_TYPE_STRING)
        return status_errf(err, err_len, JANUS_EFORMAT, "key '%s': expected string, found %s", key,
                           gguf_type_name(kv->type));
    uint64_t len = bytes_get_u64(kv->data);
    out->ptr = (const char *)kv->data + 8;
    out->len = len;
    return JANUS_OK;
}

int gguf_get_arr(const struct gguf *g, const char *key, enum gguf_type *elem_type, uint64_t *n,
                 char *err, size_t err_len) {
    const struct gguf_kv *kv = get_kv(g, key, err, err_len);
    if (!kv) return JANUS_ENOTFOUND;
    if (kv->type != GGUF_TYPE_ARRAY)
        return status_errf(err, err_len, JANUS_EFORMAT, "key '%s': expected array, found %s", key,
                           gguf_type_name(kv->type));
    *elem_type = kv->arr_type;
    *n = kv->arr_n;
    return JANUS_OK;
}

struct gguf_str gguf_arr_str(const struct gguf *g, int64_t kv_index, uint64_t i) {
    JANUS_ASSERT(kv_index >= 0 && kv_index < g->n_kv);
    const struct gguf_kv *kv = &g->kv[kv_index];
    JANUS_ASSERT(kv->type == GGUF_TYPE_ARRAY && kv->arr_type == GGUF_TYPE_STRING);
    JANUS_ASSERT(i < kv->arr_n);
    uint64_t len = bytes_get_u64(kv->elems[i]);
    return (struct gguf_str){(const char *)kv->elems[i] + 8, len};
}

double gguf_arr_f64(const struct gguf *g, int64_t kv_index, uint64_t i) {
    JANUS_ASSERT(kv_index >= 0 && kv_index < g->n_kv);
    const struct gguf_kv *kv = &g->kv[kv_index];
    JANUS_ASSERT(kv->type == GGUF_TYPE_ARRAY && i < kv->arr_n);
    const uint8_t *p = kv->data + i * scalar_size(kv->arr_type);
    if (kv->arr_type == GGUF_TYPE_FLOAT32) {
        return bytes_get_f32(p);
    }
    if (kv->arr_type == GGUF_TYPE_FLOAT64) {
        return bytes_get_f64(p);
    }
    if (kv->arr_type == GGUF_TYPE_BOOL) return p[0];
    int64_t s = 0;
    uint64_t u = 0;
    int sg = 0;
    JANUS_ASSERT(read_int(kv->arr_type, p, &s, &u, &sg));
    return sg ? (double)s : (double)u;
}

int64_t gguf_arr_i64(const struct gguf *g, int64_t kv_index, uint64_t i) {
    JANUS_ASSERT(kv_index >= 0 && kv_index < g->n_kv);
    const struct gguf_kv *kv = &g->kv[kv_index];
    JANUS_ASSERT(kv->type == GGUF_TYPE_ARRAY && i < kv->arr_n);
    const uint8_t *p = kv->data + i * scalar_size(kv->arr_type);
    if (kv->arr_type == GGUF_TYPE_FLOAT32 || kv->arr_type == GGUF_TYPE_FLOAT64) {
        double d = gguf_arr_f64(g, kv_index, i);
        if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)) return 0;
        return (int64_t)d;
    }
    if (kv->arr_type == GGUF_TYPE_BOOL) return p[0];
    int64_t s = 0;
    uint64_t u = 0;
    int sg = 0;
    JANUS_ASSERT(read_int(kv->arr_type, p, &s, &u, &sg));
    return sg ? s : (u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u);
}

// ---- writer

struct wtensor {
    char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;
    size_t n_bytes;
    void *data; // owned copy, or NULL (streaming)
};

struct gguf_writer {
    struct buf kv; // serialised key/value pairs
    char **keys;   // (n_kv) for duplicate checks
    int64_t n_kv;
    int64_t cap_kv;
    struct wtensor *t; // (n_t)
    int64_t n_t;
    int64_t cap_t;
    uint32_t align; // data alignment: 32, or the general.alignment key's value
    // streaming state
    FILE *f;
    char *path;
    int64_t cur;     // tensor being streamed
    size_t cur_done; // bytes of it written
    int failed;
    int may_unlink; // the output is (or will be) a regular file we may remove on failure
};

#define WRITER_MAX_HEADER ((size_t)1 << 31)

struct gguf_writer *gguf_writer_create(void) {
    struct gguf_writer *w = mem_calloc(MEM_TAG_MODEL, 1, sizeof *w);
    if (!w) return NULL;
    buf_init(&w->kv, WRITER_MAX_HEADER);
    w->align = GGUF_DEFAULT_ALIGNMENT;
    return w;
}

// Ends a stream after a failure: closes the file and removes it, unless the path is not a
// regular file (e.g. /dev/null): a device or FIFO is never unlinked.
static void stream_abort(struct gguf_writer *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    if (w->path && w->may_unlink) unlink(w->path);
    mem_free(w->path);
    w->path = NULL;
    w->failed = 0;
}

void gguf_writer_destroy(struct gguf_writer **pw) {
    struct gguf_writer *w = *pw;
    if (!w) return;
    buf_free(&w->kv);
    for (int64_t i = 0; i < w->n_kv; i++)
        mem_free(w->keys[i]);
    mem_free(w->keys);
    for (int64_t i = 0; i < w->n_t; i++) {
        mem_free(w->t[i].name);
        mem_free(w->t[i].data);
    }
    mem_free(w->t);
    if (w->f) stream_abort(w);
    mem_free(w->path);
    mem_free(w);
    *pw = NULL;
}

static int w_u32(struct buf *b, uint32_t v) {
    uint8_t t[4];
    bytes_put_u32(t, v);
    return buf_append(b, t, 4);
}

static int w_u64(struct buf *b, uint64_t v) {
    uint8_t t[8];
    bytes_put_u64(t, v);
    return buf_append(b, t, 8);
}

static int w_str(struct buf *b, const char *s, size_t n) {
    int rc = w_u64(b, n);
    return rc ? rc : buf_append(b, s, n);
}

// Starts a key: checks the name and uniqueness, records it, writes name and type.
static int w_key(struct gguf_writer *w, const char *key, enum gguf_type type) {
    if (!w || !key || w->f) return JANUS_EINVAL;
    size_t n = strlen(key);
    if (n == 0 || n > GGUF_MAX_KEY) return JANUS_EINVAL;
    if (w->n_kv >= LIMIT_GGUF_MAX_KV) return JANUS_ELIMIT;
    for (int64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return JANUS_EINVAL;
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        char **k = mem_realloc(MEM_TAG_MODEL, w->keys, (size_t)cap * sizeof *k);
        if (!k) return JANUS_ENOMEM;
        w->keys = k;
        w->cap_kv = cap;
    }
    char *dup = mem_strdup(MEM_TAG_MODEL, key);
    if (!dup) return JANUS_ENOMEM;
    size_t mark = w->kv.len;
    int rc = w_str(&w->kv, key, n);
    if (!rc) rc = w_u32(&w->kv, (uint32_t)type);
    if (rc) {
        w->kv.len = mark;
        mem_free(dup);
        return rc;
    }
    w->keys[w->n_kv++] = dup;
    return JANUS_OK;
}

// A general.alignment key sets the alignment the file is written with (readers lay the data
// out by it): as the reader asks, an integer whose value is a power of two in
// 1..LIMIT_GGUF_MAX_ALIGNMENT. value: the little-endian scalar. Other keys pass.
static int w_alignment(struct gguf_writer *w, const char *key, enum gguf_type type,
                       const void *value) {
    if (strcmp(key, gguf_key_name(GGUF_KEY_GENERAL_ALIGNMENT)) != 0) return JANUS_OK;
    int64_t s = 0;
    uint64_t u = 0;
    int sg = 0;
    if (!value || !read_int(type, value, &s, &u, &sg)) return JANUS_EINVAL;
    uint64_t a = sg ? (s < 0 ? 0 : (uint64_t)s) : u;
    if (a == 0 || (a & (a - 1)) != 0 || a > LIMIT_GGUF_MAX_ALIGNMENT) return JANUS_EINVAL;
    w->align = (uint32_t)a;
    return JANUS_OK;
}

// Undo the last w_key after a failed value write.
static int w_undo(struct gguf_writer *w, size_t mark, int rc) {
    w->kv.len = mark;
    mem_free(w->keys[--w->n_kv]);
    return rc;
}

int gguf_writer_add_raw(struct gguf_writer *w, const char *key, enum gguf_type type,
                        enum gguf_type arr_type, const void *data, uint64_t n) {
    if (!w || !valid_value_type(type)) return JANUS_EINVAL;
    if (type == GGUF_TYPE_ARRAY &&
        (!valid_value_type(arr_type) || arr_type == GGUF_TYPE_ARRAY || n > LIMIT_GGUF_MAX_ARRAY))
        return JANUS_EINVAL;
    if (!data && (type != GGUF_TYPE_ARRAY || n)) return JANUS_EINVAL;
    if (key && w_alignment(w, key, type, data) != JANUS_OK) return JANUS_EINVAL;
    size_t mark = w->kv.len;
    int rc = w_key(w, key, type);
    if (rc) return rc;
    if (type == GGUF_TYPE_STRING) {
        const char *s = data;
        size_t len = strlen(s);
        rc = len > LIMIT_GGUF_MAX_STRING ? JANUS_ELIMIT : w_str(&w->kv, s, len);
    } else if (type != GGUF_TYPE_ARRAY) {
        rc = buf_append(&w->kv, data, scalar_size(type));
    } else {
        rc = w_u32(&w->kv, (uint32_t)arr_type);
        if (!rc) rc = w_u64(&w->kv, n);
        if (!rc && arr_type == GGUF_TYPE_STRING) {
            const char *const *v = data;
            for (uint64_t i = 0; i < n && !rc; i++) {
                size_t len = strlen(v[i]);
                rc = len > LIMIT_GGUF_MAX_STRING ? JANUS_ELIMIT : w_str(&w->kv, v[i], len);
            }
        } else if (!rc && n) {
            size_t sz = scalar_size(arr_type);
            rc = n > WRITER_MAX_HEADER / sz ? JANUS_ELIMIT
                                            : buf_append(&w->kv, data, (size_t)n * sz);
        }
    }
    return rc ? w_undo(w, mark, rc) : JANUS_OK;
}

int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v) {
    return gguf_writer_add_raw(w, key, GGUF_TYPE_UINT32, GGUF_TYPE_UINT8, &v, 0);
}

int gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v) {
    return gguf_writer_add_raw(w, key, GGUF_TYPE_UINT64, GGUF_TYPE_UINT8, &v, 0);
}

int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v) {
    return gguf_writer_add_raw(w, key, GGUF_TYPE_INT32, GGUF_TYPE_UINT8, &v, 0);
}

int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v) {
    return gguf_writer_add_raw(w, key, GGUF_TYPE_FLOAT32, GGUF_TYPE_UINT8, &v, 0);
}

int gguf_writer_add_bool(struct gguf_writer *w, const char *key, int v) {
    uint8_t b = v ? 1 : 0;
    return gguf_writer_add_raw(w, key, GGUF_TYPE_BOOL, GGUF_TYPE_UINT8, &b, 0);
}

int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *v) {
    if (!v) return JANUS_EINVAL;
    return gguf_writer_add_raw(w, key, GGUF_TYPE_STRING, GGUF_TYPE_UINT8, v, 0);
}

int gguf_writer_add_arr_str(struct gguf_writer *w, const char *key, const char **v, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (!v[i]) return JANUS_EINVAL;
    return gguf_writer_add_raw(w, key, GGUF_TYPE_ARRAY, GGUF_TYPE_STRING, v, n);
}

int gguf_writer_add_arr_f32(struct gguf_writer *w, const char *key, const float *v, uint64_t n) {
    return gguf_writer_add_raw(w, key, GGUF_TYPE_ARRAY, GGUF_TYPE_FLOAT32, v, n);
}

int gguf_writer_add_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    return gguf_writer_add_raw(w, key, GGUF_TYPE_ARRAY, GGUF_TYPE_INT32, v, n);
}

int gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf *g, int64_t kv_index) {
    if (!w || !g || kv_index < 0 || kv_index >= g->n_kv) return JANUS_EINVAL;
    const struct gguf_kv *kv = &g->kv[kv_index];
    char key[GGUF_MAX_KEY + 1];
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = 0;
    if (w_alignment(w, key, kv->type, kv->data) != JANUS_OK) return JANUS_EINVAL;
    // Strings in the file are length-prefixed, not NUL-terminated: serialise directly.
    size_t mark = w->kv.len;
    int rc = w_key(w, key, kv->type);
    if (rc) return rc;
    size_t vlen;
    if (kv->type == GGUF_TYPE_STRING) {
        uint64_t len = bytes_get_u64(kv->data);
        vlen = 8 + (size_t)len;
    } else if (kv->type != GGUF_TYPE_ARRAY) {
        vlen = scalar_size(kv->type);
    } else if (kv->arr_type == GGUF_TYPE_STRING) {
        const uint8_t *q = kv->data;
        for (uint64_t i = 0; i < kv->arr_n; i++) {
            uint64_t len = bytes_get_u64(q);
            q += 8 + len;
        }
        vlen = (size_t)(q - kv->data);
    } else {
        vlen = (size_t)kv->arr_n * scalar_size(kv->arr_type);
    }
    if (kv->type == GGUF_TYPE_ARRAY) {
        rc = w_u32(&w->kv, (uint32_t)kv->arr_type);
        if (!rc) rc = w_u64(&w->kv, kv->arr_n);
    }
    if (!rc) rc = buf_append(&w->kv, kv->data, vlen);
    return rc ? w_undo(w, mark, rc) : JANUS_OK;
}

static int add_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                      uint32_t type, const void *data, size_t n_bytes, int with_data) {
    if (!w || !name || !ne || w->f) return JANUS_EINVAL;
    size_t len = strlen(name);
    if (len == 0 || len > LIMIT_GGUF_MAX_NAME) return JANUS_EINVAL;
    size_t want = gguf_tensor_bytes(n_dims, ne, type);
    if (want == 0) return JANUS_EINVAL;
    if (with_data && (n_bytes != want || !data)) return JANUS_EINVAL;
    if (w->n_t >= LIMIT_GGUF_MAX_TENSORS) return JANUS_ELIMIT;
    for (int64_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return JANUS_EINVAL;
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? w->cap_t * 2 : 64;
        struct wtensor *t = mem_realloc(MEM_TAG_MODEL, w->t, (size_t)cap * sizeof *t);
        if (!t) return JANUS_ENOMEM;
        w->t = t;
        w->cap_t = cap;
    }
    struct wtensor t = {0};
    t.name = mem_strdup(MEM_TAG_MODEL, name);
    if (!t.name) return JANUS_ENOMEM;
    if (with_data) {
        t.data = mem_alloc(MEM_TAG_MODEL, want);
        if (!t.data) {
            mem_free(t.name);
            return JANUS_ENOMEM;
        }
        memcpy(t.data, data, want);
    }
    t.n_dims = n_dims;
    for (int d = 0; d < 4; d++)
        t.ne[d] = d < (int)n_dims ? ne[d] : 1;
    t.type = type;
    t.n_bytes = want;
    w->t[w->n_t++] = t;
    return JANUS_OK;
}

int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims,
                           const int64_t *ne, uint32_t type, const void *data, size_t n_bytes) {
    return add_tensor(w, name, n_dims, ne, type, data, n_bytes, 1);
}

int gguf_writer_add_tensor_info(struct gguf_writer *w, const char *name, uint32_t n_dims,
                                const int64_t *ne, uint32_t type) {
    return add_tensor(w, name, n_dims, ne, type, NULL, 0, 0);
}

// Zero bytes that take n up to a multiple of the writer's alignment.
static size_t w_pad(const struct gguf_writer *w, uint64_t n) {
    return (size_t)((w->align - n % w->align) % w->align);
}

// Appends n zero bytes.
static int buf_zeros(struct buf *b, size_t n) {
    static const uint8_t zeros[256];
    int rc = JANUS_OK;
    for (size_t k; n > 0 && !rc; n -= k) {
        k = n < sizeof zeros ? n : sizeof zeros;
        rc = buf_append(b, zeros, k);
    }
    return rc;
}

// Header + kv + tensor infos + padding to the data section. Each tensor's offset is the
// padded sum of the ones before it (so a general.alignment key may come in any order).
static int build_header(const struct gguf_writer *w, struct buf *h) {
    int rc = buf_append(h, GGUF_MAGIC, 4);
    if (!rc) rc = w_u32(h, 3);
    if (!rc) rc = w_u64(h, (uint64_t)w->n_t);
    if (!rc) rc = w_u64(h, (uint64_t)w->n_kv);
    if (!rc && w->kv.len) rc = buf_append(h, w->kv.data, w->kv.len);
    uint64_t offset = 0;
    for (int64_t i = 0; i < w->n_t && !rc; i++) {
        const struct wtensor *t = &w->t[i];
        rc = w_str(h, t->name, strlen(t->name));
        if (!rc) rc = w_u32(h, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims && !rc; d++)
            rc = w_u64(h, (uint64_t)t->ne[d]);
        if (!rc) rc = w_u32(h, t->type);
        if (!rc) rc = w_u64(h, offset);
        offset += t->n_bytes + w_pad(w, t->n_bytes);
    }
    if (!rc) rc = buf_zeros(h, w_pad(w, h->len));
    return rc;
}

int gguf_writer_write_memory(struct gguf_writer *w, void **out, size_t *len) {
    if (!w || w->f) return JANUS_EINVAL;
    for (int64_t i = 0; i < w->n_t; i++)
        if (!w->t[i].data) return JANUS_EINVAL;
    struct buf h;
    buf_init(&h, SIZE_MAX / 2);
    int rc = build_header(w, &h);
    for (int64_t i = 0; i < w->n_t && !rc; i++) {
        rc = buf_append(&h, w->t[i].data, w->t[i].n_bytes);
        if (!rc) rc = buf_zeros(&h, w_pad(w, w->t[i].n_bytes));
    }
    if (rc) {
        buf_free(&h);
        return rc;
    }
    *out = buf_take(&h, len);
    return JANUS_OK;
}

static int write_all(FILE *f, const void *p, size_t n) {
    return n == 0 || fwrite(p, 1, n, f) == n ? JANUS_OK : JANUS_EIO;
}

int gguf_writer_write(struct gguf_writer *w, const char *path) {
    if (!w || !path || w->f) return JANUS_EINVAL;
    for (int64_t i = 0; i < w->n_t; i++)
        if (!w->t[i].data) return JANUS_EINVAL;
    int rc = gguf_writer_stream_begin(w, path);
    for (int64_t i = 0; i < w->n_t && !rc; i++)
        rc = gguf_writer_stream_data(w, w->t[i].data, w->t[i].n_bytes);
    if (rc) {
        if (w->f) stream_abort(w);
        return rc;
    }
    return gguf_writer_stream_end(w);
}

int gguf_writer_stream_begin(struct gguf_writer *w, const char *path) {
    if (!w || !path || w->f) return JANUS_EINVAL;
    struct buf h;
    buf_init(&h, SIZE_MAX / 2);
    int rc = build_header(w, &h);
    if (rc) {
        buf_free(&h);
        return rc;
    }
    w->path = mem_strdup(MEM_TAG_MODEL, path);
    if (!w->path) {
        buf_free(&h);
        return JANUS_ENOMEM;
    }
    struct stat st;
    w->may_unlink = lstat(path, &st) != 0 ? errno == ENOENT : S_ISREG(st.st_mode);
    w->f = fopen(path, "wb");
    if (!w->f) {
        buf_free(&h);
        mem_free(w->path);
        w->path = NULL;
        return JANUS_EIO;
    }
    rc = write_all(w->f, h.data, h.len);
    buf_free(&h);
    w->cur = 0;
    w->cur_done = 0;
    w->failed = rc != 0;
    return rc;
}

int gguf_writer_stream_data(struct gguf_writer *w, const void *data, size_t n) {
    if (!w || !w->f || w->failed) return JANUS_EINVAL;
    static const uint8_t zeros[LIMIT_GGUF_MAX_ALIGNMENT];
    const uint8_t *p = data;
    while (n > 0) {
        if (w->cur >= w->n_t) {
            w->failed = 1;
            return JANUS_EINVAL; // more bytes than declared
        }
        struct wtensor *t = &w->t[w->cur];
        size_t take = t->n_bytes - w->cur_done;
        if (take > n) take = n;
        if (write_all(w->f, p, take)) {
            w->failed = 1;
            return JANUS_EIO;
        }
        p += take;
        n -= take;
        w->cur_done += take;
        if (w->cur_done == t->n_bytes) {
            if (write_all(w->f, zeros, w_pad(w, t->n_bytes))) {
                w->failed = 1;
                return JANUS_EIO;
            }
            w->cur++;
            w->cur_done = 0;
        }
    }
    return JANUS_OK;
}

int gguf_writer_stream_end(struct gguf_writer *w) {
    if (!w || !w->f) return JANUS_EINVAL;
    int rc = w->failed || w->cur != w->n_t ? JANUS_EINVAL : JANUS_OK;
    if (rc) {
        stream_abort(w);
        return rc;
    }
    FILE *f = w->f;
    w->f = NULL;
    if (fclose(f) != 0) {
        rc = JANUS_EIO;
        stream_abort(w);
        return rc;
    }
    mem_free(w->path);
    w->path = NULL;
    w->failed = 0;
    return JANUS_OK;
}
