// Bounded whole-file read and atomic (temp + rename) whole-file write (file.h).
// SPDX-License-Identifier: MIT
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/status.h"

int file_read_all(const char *path, size_t max_bytes, char **buf, size_t *len, char *err,
                  size_t err_len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return status_errf(err, err_len, JANUS_EIO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = max_bytes < 65536 ? max_bytes : 65536, n = 0;
    char *b = mem_alloc(MEM_TAG_MISC, cap + 1);
    int rc = JANUS_OK;
    if (!b) rc = status_errf(err, err_len, JANUS_ENOMEM, "%s: out of memory", path);
    while (rc == JANUS_OK) {
        if (n == cap) {
            // Full: one more byte tells "exactly max_bytes" from "larger".
            if (cap >= max_bytes) {
                if (fgetc(f) != EOF)
                    rc = status_errf(err, err_len, JANUS_ELIMIT, "%s is larger than %zu bytes",
                                     path, max_bytes);
                break;
            }
            size_t ncap = cap > max_bytes / 2 ? max_bytes : cap * 2;
            char *nb = mem_realloc(MEM_TAG_MISC, b, ncap + 1);
            if (!nb) {
                rc = status_errf(err, err_len, JANUS_ENOMEM, "%s: out of memory", path);
                break;
            }
            b = nb;
            cap = ncap;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (rc == JANUS_OK && ferror(f))
        rc = status_errf(err, err_len, JANUS_EIO, "read error on %s", path);
    fclose(f);
    if (rc != JANUS_OK) {
        mem_free(b);
        return rc;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return JANUS_OK;
}

int file_write_all(const char *path, const void *data, size_t len, char *err, size_t err_len) {
    static atomic_uint seq;
    char tmp[4096];
    int k = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
                     atomic_fetch_add(&seq, 1u));
    if (k < 0 || (size_t)k >= sizeof tmp)
        return status_errf(err, err_len, JANUS_EIO, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return status_errf(err, err_len, JANUS_EIO, "cannot create %s: %s", tmp, strerror(errno));
    const char *p = data;
    size_t left = len;
    int e = 0;
    while (left > 0 && !e) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            e = w < 0 ? errno : EIO;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        return status_errf(err, err_len, JANUS_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return JANUS_OK;
}
