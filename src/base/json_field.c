// Strict cJSON field getters (json_field.h): type, finiteness and range checked by one
// number check; file getters name the file and the field, request getters the field.
// SPDX-License-Identifier: MIT
#include "base/json_field.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "base/status.h"

// What is wrong with a number field, if anything.
enum num_fault { NUM_OK, NUM_NOT_NUMBER, NUM_NOT_INT, NUM_RANGE };

static enum num_fault num_check(const cJSON *v, int want_int, double lo, double hi, double *out) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return NUM_NOT_NUMBER;
    double x = v->valuedouble;
    *out = x;
    if (want_int && x != floor(x)) return NUM_NOT_INT;
    if (x < lo || x > hi) return NUM_RANGE;
    return NUM_OK;
}

int json_field_int(const struct cJSON *item, int64_t lo, int64_t hi, int64_t *out) {
    double x;
    if (!item || num_check(item, 1, (double)lo, (double)hi, &x) != NUM_OK) return 0;
    *out = (int64_t)x;
    return 1;
}

int json_field_num(const cJSON *obj, const char *path, const char *key, double lo, double hi,
                   int want_int, int required, double *out, char *err, size_t err_len) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (!required) return JANUS_OK;
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: missing field \"%s\"", path, key);
    }
    double x = 0;
    switch (num_check(v, want_int, lo, hi, &x)) {
    case NUM_NOT_NUMBER:
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: field \"%s\" must be a number", path,
                           key);
    case NUM_NOT_INT:
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: field \"%s\" must be an integer (got %g)", path, key, x);
    case NUM_RANGE:
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: field \"%s\" = %g out of range [%g, %g]", path, key, x, lo, hi);
    case NUM_OK: break;
    }
    *out = x;
    return JANUS_OK;
}

int json_field_str(const cJSON *obj, const char *path, const char *key, char *out, size_t cap,
                   char *err, size_t err_len) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return status_errf(err, err_len, JANUS_EFORMAT, "%s: missing field \"%s\"", path, key);
    if (!cJSON_IsString(v) || !v->valuestring)
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: field \"%s\" must be a string", path,
                           key);
    size_t n = strlen(v->valuestring);
    if (n >= cap)
        return status_errf(err, err_len, JANUS_ELIMIT, "%s: field \"%s\" longer than %zu bytes",
                           path, key, cap - 1);
    memcpy(out, v->valuestring, n + 1);
    return JANUS_OK;
}

// A request field: absent and null are the same (not given).
static const cJSON *given(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

int json_field_i64(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   char *err, size_t err_len) {
    const cJSON *v = given(obj, key);
    if (!v) return JANUS_ENOTFOUND;
    double x = 0;
    switch (num_check(v, 1, (double)lo, (double)hi, &x)) {
    case NUM_NOT_NUMBER:
    case NUM_NOT_INT:
        return status_errf(err, err_len, JANUS_EINVAL, "'%s' must be an integer", key);
    case NUM_RANGE:
        return status_errf(err, err_len, JANUS_EINVAL,
                           "'%s' must be between %lld and %lld (got %.17g)", key, (long long)lo,
                           (long long)hi, x);
    case NUM_OK: break;
    }
    *out = (int64_t)x;
    return JANUS_OK;
}

int json_field_f64(const cJSON *obj, const char *key, double lo, double hi, double *out, char *err,
                   size_t err_len) {
    const cJSON *v = given(obj, key);
    if (!v) return JANUS_ENOTFOUND;
    double x = 0;
    switch (num_check(v, 0, lo, hi, &x)) {
    case NUM_NOT_NUMBER:
    case NUM_NOT_INT: return status_errf(err, err_len, JANUS_EINVAL, "'%s' must be a number", key);
    case NUM_RANGE:
        return status_errf(err, err_len, JANUS_EINVAL, "'%s' must be between %g and %g (got %g)",
                           key, lo, hi, x);
    case NUM_OK: break;
    }
    *out = x;
    return JANUS_OK;
}

int json_field_bool(const cJSON *obj, const char *key, int *out, char *err, size_t err_len) {
    const cJSON *v = given(obj, key);
    if (!v) return JANUS_ENOTFOUND;
    if (!cJSON_IsBool(v))
        return status_errf(err, err_len, JANUS_EINVAL, "'%s' must be a boolean", key);
    *out = cJSON_IsTrue(v);
    return JANUS_OK;
}

int json_field_strref(const cJSON *obj, const char *key, size_t max_len, const char **out,
                      char *err, size_t err_len) {
    const cJSON *v = given(obj, key);
    if (!v) return JANUS_ENOTFOUND;
    if (!cJSON_IsString(v) || !v->valuestring)
        return status_errf(err, err_len, JANUS_EINVAL, "'%s' must be a string", key);
    if (strlen(v->valuestring) > max_len)
        return status_errf(err, err_len, JANUS_EINVAL, "'%s' is longer than %zu bytes", key,
                           max_len);
    *out = v->valuestring;
    return JANUS_OK;
}

// Array or object member: the same lookup, a different type test and word.
static int container(const cJSON *obj, const char *key, int want_array, const cJSON **out,
                     char *err, size_t err_len) {
    const cJSON *v = given(obj, key);
    if (!v) return JANUS_ENOTFOUND;
    if (want_array ? !cJSON_IsArray(v) : !cJSON_IsObject(v))
        return status_errf(err, err_len, JANUS_EINVAL, "'%s' must be an %s", key,
                           want_array ? "array" : "object");
    *out = v;
    return JANUS_OK;
}

int json_field_array(const cJSON *obj, const char *key, const cJSON **out, char *err,
                     size_t err_len) {
    return container(obj, key, 1, out, err, err_len);
}

int json_field_object(const cJSON *obj, const char *key, const cJSON **out, char *err,
                      size_t err_len) {
    return container(obj, key, 0, out, err, err_len);
}
