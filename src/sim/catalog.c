// Catalogue helpers (catalog.h): data-dir lookup, bounded JSON read, typed getters.
// Every JSON read is bounded; errors name the file and the field.
// SPDX-License-Identifier: MIT
#include "sim/catalog.h"

#include "base/mem.h"
#include "base/status.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int catalog_data_dir(char *out, size_t cap) {
    char probe[4096];
    const char *env = getenv("JANUS_DATA_DIR");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return JANUS_OK;
    }
    if (is_dir("data/hw")) {
        snprintf(out, cap, "data");
        return JANUS_OK;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            if (snprintf(probe, sizeof probe, "%s/../data/hw", exe) >= (int)sizeof probe)
                return JANUS_ENOTFOUND;
            if (is_dir(probe)) {
                snprintf(out, cap, "%s/../data", exe);
                return JANUS_OK;
            }
            if (snprintf(probe, sizeof probe, "%s/../../data/hw", exe) >= (int)sizeof probe)
                return JANUS_ENOTFOUND;
            if (is_dir(probe)) {
                snprintf(out, cap, "%s/../../data", exe);
                return JANUS_OK;
            }
        }
    }
    return JANUS_ENOTFOUND;
}

int catalog_read_json(const char *path, struct cJSON **out, char *err, size_t errlen) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? JANUS_ENOTFOUND : JANUS_EIO;
    }
    char *buf = mem_alloc(MEM_TAG_SIM, CATALOG_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return JANUS_ENOMEM;
    }
    size_t n = fread(buf, 1, CATALOG_MAX_FILE + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        mem_free(buf);
        snprintf(err, errlen, "%s: read error", path);
        return JANUS_EIO;
    }
    if (n > CATALOG_MAX_FILE) {
        mem_free(buf);
        snprintf(err, errlen, "%s: larger than %d bytes", path, CATALOG_MAX_FILE);
        return JANUS_ELIMIT;
    }
    cJSON *j = cJSON_ParseWithLength(buf, n);
    mem_free(buf);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        snprintf(err, errlen, "%s: not a JSON object", path);
        return JANUS_EFORMAT;
    }
    *out = j;
    return JANUS_OK;
}

static int get_num(const cJSON *obj, const char *path, const char *key, double lo, double hi,
                   int want_int, double *out, int required, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (!required) return JANUS_OK;
        snprintf(err, errlen, "%s: missing field \"%s\"", path, key);
        return JANUS_EFORMAT;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        snprintf(err, errlen, "%s: field \"%s\" must be a number", path, key);
        return JANUS_EFORMAT;
    }
    double x = v->valuedouble;
    if (want_int && x != floor(x)) {
        snprintf(err, errlen, "%s: field \"%s\" must be an integer (got %g)", path, key, x);
        return JANUS_EFORMAT;
    }
    if (x < lo || x > hi) {
        snprintf(err, errlen, "%s: field \"%s\" = %g out of range [%g, %g]", path, key, x, lo, hi);
        return JANUS_EFORMAT;
    }
    *out = x;
    return JANUS_OK;
}

int catalog_num(const cJSON *obj, const char *path, const char *key, double lo, double hi,
                int want_int, double *out, char *err, size_t errlen) {
    return get_num(obj, path, key, lo, hi, want_int, out, 1, err, errlen);
}

int catalog_num_opt(const cJSON *obj, const char *path, const char *key, double lo, double hi,
                    int want_int, double *out, char *err, size_t errlen) {
    return get_num(obj, path, key, lo, hi, want_int, out, 0, err, errlen);
}

int catalog_str(const cJSON *obj, const char *path, const char *key, char *out, size_t cap,
                char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        snprintf(err, errlen, "%s: missing field \"%s\"", path, key);
        return JANUS_EFORMAT;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        snprintf(err, errlen, "%s: field \"%s\" must be a string", path, key);
        return JANUS_EFORMAT;
    }
    if (strlen(v->valuestring) >= cap) {
        snprintf(err, errlen, "%s: field \"%s\" longer than %zu bytes", path, key, cap - 1);
        return JANUS_ELIMIT;
    }
    snprintf(out, cap, "%s", v->valuestring);
    return JANUS_OK;
}

int catalog_valid_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 31) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return 0;
    }
    return 1;
}
