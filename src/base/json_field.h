// Strict typed getters over parsed cJSON documents: the one way src/ reads a number or a
// string field out of a JSON file (layouts, statistics, catalogue files). A field is
// accepted only if it has the right type, is finite, and lies in the caller's range.
// SPDX-License-Identifier: MIT
#ifndef JANUS_JSON_FIELD_H
#define JANUS_JSON_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct cJSON;

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

#endif // JANUS_JSON_FIELD_H
