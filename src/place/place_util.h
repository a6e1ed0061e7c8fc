// Internal helpers shared by the files of src/place (not part of the module's API):
// bounded whole-file reads, error-buffer formatting, strict cJSON integer getters.
// SPDX-License-Identifier: MIT
#ifndef JANUS_PLACE_UTIL_H
#define JANUS_PLACE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct cJSON;

// Formats a one-line message into err (if non-NULL and err_cap > 0).
void place_util_err(char *err, size_t err_cap, const char *fmt, ...) JANUS_PRINTF(3, 4);
// Reads a whole file (at most max_bytes) into a mem_alloc'd, NUL-terminated buffer.
// JANUS_OK (*out, *len set; caller mem_frees), JANUS_EIO (err says why), JANUS_ELIMIT,
// JANUS_ENOMEM.
JANUS_WUR int place_util_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                                   char *err, size_t err_cap);
// Writes len bytes to path (create/truncate). JANUS_OK or JANUS_EIO.
JANUS_WUR int place_util_write_file(const char *path, const char *data, size_t len);
// If item is a number that is an integer in [lo, hi], stores it and returns 1; else 0.
int place_util_json_int(const struct cJSON *item, int64_t lo, int64_t hi, int64_t *out);

#endif // JANUS_PLACE_UTIL_H
