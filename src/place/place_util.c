// Internal helpers of src/place (place_util.h): file reads/writes and strict JSON ints.
// Errors are written into the caller's buffer; reads are bounded by max_bytes.
// SPDX-License-Identifier: MIT
#include "place/place_util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/status.h"

void place_util_err(char *err, size_t err_cap, const char *fmt, ...) {
    if (!err || err_cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
}

int place_util_read_file(const char *path, size_t max_bytes, char **out, size_t *len, char *err,
                         size_t err_cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        place_util_err(err, err_cap, "cannot open %s: %s", path, strerror(errno));
        return JANUS_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = mem_alloc(MEM_TAG_SCHED, cap + 1);
    if (!buf) {
        fclose(f);
        return JANUS_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                mem_free(buf);
                fclose(f);
                place_util_err(err, err_cap, "%s is larger than %zu bytes", path, max_bytes);
                return JANUS_ELIMIT;
            }
            size_t ncap = cap * 2 > max_bytes ? max_bytes : cap * 2;
            char *nb = mem_realloc(MEM_TAG_SCHED, buf, ncap + 1);
            if (!nb) {
                mem_free(buf);
                fclose(f);
                return JANUS_ENOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        mem_free(buf);
        place_util_err(err, err_cap, "read error on %s", path);
        return JANUS_EIO;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return JANUS_OK;
}

int place_util_write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return JANUS_EIO;
    size_t w = fwrite(data, 1, len, f);
    int bad = (w != len) | (fclose(f) != 0);
    return bad ? JANUS_EIO : JANUS_OK;
}

int place_util_json_int(const struct cJSON *item, int64_t lo, int64_t hi, int64_t *out) {
    if (!item || !cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi) return 0;
    *out = (int64_t)v;
    return 1;
}
