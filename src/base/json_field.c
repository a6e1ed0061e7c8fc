// Strict cJSON field getters (json_field.h): type, finiteness and range checked; errors name
// the file and the field.
// SPDX-License-Identifier: MIT
#include "base/json_field.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "base/status.h"

int json_field_int(const struct cJSON *item, int64_t lo, int64_t hi, int64_t *out) {
    if (!item || !cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi) return 0;
    *out = (int64_t)v;
    return 1;
}

int json_field_num(const cJSON *obj, const char *path, const char *key, double lo, double hi,
                   int want_int, int required, double *out, char *err, size_t err_len) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (!required) return JANUS_OK;
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: missing field \"%s\"", path, key);
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: field \"%s\" must be a number", path,
                           key);
    double x = v->valuedouble;
    if (want_int && x != floor(x))
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: field \"%s\" must be an integer (got %g)", path, key, x);
    if (x < lo || x > hi)
        return status_errf(err, err_len, JANUS_EFORMAT,
                           "%s: field \"%s\" = %g out of range [%g, %g]", path, key, x, lo, hi);
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
