// Thin helpers over cJSON for request bodies (SPEC §10): a bounded parse (byte length and
// nesting depth checked) and typed field getters whose errors name the field and what was
// expected, in the words an OpenAI-style error message uses. Thread-safe (no shared state;
// cJSON's allocator hooks are left at their defaults).
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

// Typed getters for obj[key]. Each returns JANUS_OK with *out set, JANUS_ENOTFOUND when
// the key is absent or null (out untouched), or JANUS_EINVAL when present with the wrong
// type or out of range (err: "'key' must be ..."). obj must be an object.
JANUS_WUR int json_get_i64(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out,
                           char *err, size_t err_len);
JANUS_WUR int json_get_f64(const cJSON *obj, const char *key, double lo, double hi, double *out,
                           char *err, size_t err_len);
JANUS_WUR int json_get_bool(const cJSON *obj, const char *key, int *out, char *err, size_t err_len);
// *out points into obj (valid while obj lives); max_len bounds its byte length.
JANUS_WUR int json_get_str(const cJSON *obj, const char *key, size_t max_len, const char **out,
                           char *err, size_t err_len);
// Array or object members: *out is the item itself.
JANUS_WUR int json_get_array(const cJSON *obj, const char *key, const cJSON **out, char *err,
                             size_t err_len);
JANUS_WUR int json_get_object(const cJSON *obj, const char *key, const cJSON **out, char *err,
                              size_t err_len);

// Appends s as a JSON string literal (quotes and escapes; control characters as \u00XX;
// invalid UTF-8 bytes replaced by U+FFFD) to out. JANUS_ELIMIT if out's cap is reached.
struct buf;
JANUS_WUR int json_append_str(struct buf *out, const char *s, size_t len);
// A cJSON string item for s[0..len), encoded by json_append_str (so NUL bytes and invalid
// UTF-8 are written as above, which cJSON_CreateString cannot); NULL when out of memory.
// Add it to a cJSON document like any item.
cJSON *json_string(const char *s, size_t len);

#endif // JANUS_JSON_H
