// Catalogue helpers (catalog.h): data-dir lookup and bounded JSON read (base/file.h).
// SPDX-License-Identifier: MIT
#include "sim/catalog.h"

#include "base/file.h"
#include "base/mem.h"
#include "base/status.h"

#include <cJSON.h>
#include <errno.h>
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

int catalog_read_json(const char *path, struct cJSON **out, char *err, size_t err_len) {
    *out = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return status_errf(err, err_len, JANUS_ENOTFOUND, "%s: %s", path, strerror(errno));
    char *buf;
    size_t n;
    int rc = file_read_all(path, CATALOG_MAX_FILE, &buf, &n, err, err_len);
    if (rc) return rc;
    cJSON *j = cJSON_ParseWithLength(buf, n);
    mem_free(buf);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return status_errf(err, err_len, JANUS_EFORMAT, "%s: not a JSON object", path);
    }
    *out = j;
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
