// cJSON helpers (json.h): bounded parse with clear errors, string encoding.
// SPDX-License-Identifier: MIT
#include "http/json.h"

#include "base/buf.h"
#include "base/status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// Depth of the raw text's brackets, outside strings: checked before cJSON recurses.
static int text_depth_ok(const char *t, size_t len, int max_depth) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = t[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max_depth) return 0;
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    return 1;
}

int json_parse(const char *text, size_t len, size_t max_len, int max_depth, cJSON **out, char *err,
               size_t err_len) {
    *out = NULL;
    if (len > max_len) {
        return status_errf(err, err_len, JANUS_ELIMIT, "body of %zu bytes exceeds the limit of %zu",
                           len, max_len);
    }
    if (!text_depth_ok(text, len, max_depth)) {
        return status_errf(err, err_len, JANUS_ELIMIT, "JSON nesting deeper than %d levels",
                           max_depth);
    }
    if (len == 0) {
        return status_errf(err, err_len, JANUS_EFORMAT, "empty body: expected a JSON object");
    }
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!v) {
        // (cJSON_GetErrorPtr is process-global, so not used: we report the length only)
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        return status_errf(err, err_len, JANUS_EFORMAT, "malformed JSON near byte %zu", at);
    }
    for (size_t i = end ? (size_t)(end - text) : len; i < len; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t' && text[i]) {
            cJSON_Delete(v);
            return status_errf(err, err_len, JANUS_EFORMAT,
                               "malformed JSON: unexpected data after the value at byte %zu", i);
        }
    if (json_depth(v) > max_depth) {
        cJSON_Delete(v);
        return status_errf(err, err_len, JANUS_ELIMIT, "JSON nesting deeper than %d levels",
                           max_depth);
    }
    *out = v;
    return JANUS_OK;
}

int json_depth(const cJSON *v) {
    if (!v) return 0;
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) return 1;
    int d = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
        int k = json_depth(c);
        if (cJSON_IsArray(c) || cJSON_IsObject(c)) d = k > d ? k : d;
    }
    return 1 + d;
}

// Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid.
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t k;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0)
        k = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        k = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        k = 4, min = 0x10000;
    else
        return 0;
    if (k > n) return 0;
    unsigned cp = c & (0xFF >> (k + 1));
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

int json_append_str(struct buf *out, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    int rc = buf_append(out, "\"", 1);
    size_t i = 0;
    while (rc == JANUS_OK && i < len) {
        unsigned c = p[i];
        if (c == '"')
            rc = buf_append(out, "\\\"", 2), i++;
        else if (c == '\\')
            rc = buf_append(out, "\\\\", 2), i++;
        else if (c == '\n')
            rc = buf_append(out, "\\n", 2), i++;
        else if (c == '\r')
            rc = buf_append(out, "\\r", 2), i++;
        else if (c == '\t')
            rc = buf_append(out, "\\t", 2), i++;
        else if (c < 0x20 || c == 0x7F)
            rc = buf_appendf(out, "\\u%04x", c), i++;
        else {
            size_t k = utf8_seq(p + i, len - i);
            if (k == 0) {
                rc = buf_append(out, "\xEF\xBF\xBD", 3);
                i++;
            } else {
                rc = buf_append(out, p + i, k);
                i += k;
            }
        }
    }
    if (rc == JANUS_OK) rc = buf_append(out, "\"", 1);
    return rc;
}

cJSON *json_string(const char *s, size_t len) {
    struct buf b;
    buf_init(&b, len * 6 + 16);
    cJSON *item = NULL;
    if (json_append_str(&b, s, len) == JANUS_OK && buf_append(&b, "", 1) == JANUS_OK)
        item = cJSON_CreateRaw(b.data);
    buf_free(&b);
    return item;
}
