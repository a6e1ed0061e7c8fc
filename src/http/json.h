// Thin helpers over cJSON for request bodies (SPEC §10): a bounded parse (byte length and
// nesting depth checked) and string encoding; the typed field getters are base/json_field.h.
// Thread-safe (no shared state; cJSON's allocator hooks are left at their defaults).
// SPDX-License-Identifier: MIT
#ifndef JANUS_JSON_H
#define JANUS_JSON_H

#include "base/base.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEFAULT_MAX_DEPTH 32

// Parses exactly len bytes (no NUL needed) as one JSON value, with nothing but whitespace
// after it. JANUS_OK with *out (free with cJSON_Delete); JANUS_ELIMIT if len > max_len or
// nesting deeper than max_depth; JANUS_EFORMAT if malformed (err says where);
// JANUS_ENOMEM. *out is NULL on failure.
JANUS_WUR int json_parse(const char *text, size_t len, size_t max_len, int max_depth, cJSON **out,
                         char *err, size_t err_len);

// Nesting depth of a parsed value (a scalar is 1, [] is 1, [[1]] is 2).
int json_depth(const cJSON *v);

// Appends s as a JSON string literal (quotes and escapes; control characters as \u00XX;
// invalid UTF-8 bytes replaced by U+FFFD) to out. JANUS_ELIMIT if out's cap is reached.
struct buf;
JANUS_WUR int json_append_str(struct buf *out, const char *s, size_t len);
// A cJSON string item for s[0..len), encoded by json_append_str (so NUL bytes and invalid
// UTF-8 are written as above, which cJSON_CreateString cannot); NULL when out of memory.
// Add it to a cJSON document like any item.
cJSON *json_string(const char *s, size_t len);

#endif // JANUS_JSON_H
