// Strict typed getters over parsed cJSON documents: the one way src/ reads a field out of
// JSON, whether a file (layouts, statistics, catalogue files: errors name the file) or a
// request body (SPEC §10: errors in the words of an OpenAI-style message). A field is
// accepted only if it has the right type, is finite, and lies in the caller's range.
// SPDX-License-Identifier: MIT
#ifndef JANUS_JSON_FIELD_H
#define JANUS_JSON_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct cJSON;

// ---- files: a missing field is an error (when required); errors name path and key --------

// If item is a number that is an integer in [lo, hi], stores it and returns 1; else 0.
int json_field_int(const struct cJSON *item, int64_t lo, int64_t hi, int64_t *out);

// Field key of obj as a number in [lo, hi] (an integer when want_int). A missing field is
// an error when required, else leaves *out untouched. Errors (JANUS_EFORMAT) name the file
// (path) and the field.
JANUS_WUR int json_field_num(const struct cJSON *obj, const char *path, const char *key, double lo,
                             double hi, int want_int, int required, double *out, char *err,
                             size_t err_len);
// Required string field of at most cap-1 bytes, copied into out. JANUS_EFORMAT or
// JANUS_ELIMIT (too long), the message naming path and key.
JANUS_WUR int json_field_str(const struct cJSON *obj, const char *path, const char *key, char *out,
                             size_t cap, char *err, size_t err_len);

// ---- request bodies: optional fields --------------------------------------------------------
// Each returns JANUS_OK with *out set, JANUS_ENOTFOUND when the key is absent or null (out
// untouched), or JANUS_EINVAL when present with the wrong type or out of range (err:
// "'key' must be ..."). obj must be an object.
JANUS_WUR int json_field_i64(const struct cJSON *obj, const char *key, int64_t lo, int64_t hi,
                             int64_t *out, char *err, size_t err_len);
JANUS_WUR int json_field_f64(const struct cJSON *obj, const char *key, double lo, double hi,
                             double *out, char *err, size_t err_len);
JANUS_WUR int json_field_bool(const struct cJSON *obj, const char *key, int *out, char *err,
                              size_t err_len);
// *out points into obj (valid while obj lives); max_len bounds its byte length.
JANUS_WUR int json_field_strref(const struct cJSON *obj, const char *key, size_t max_len,
                                const char **out, char *err, size_t err_len);
// Array or object members: *out is the item itself.
JANUS_WUR int json_field_array(const struct cJSON *obj, const char *key, const struct cJSON **out,
                               char *err, size_t err_len);
JANUS_WUR int json_field_object(const struct cJSON *obj, const char *key, const struct cJSON **out,
                                char *err, size_t err_len);

#endif // JANUS_JSON_FIELD_H
