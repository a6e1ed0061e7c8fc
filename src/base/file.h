// Whole-file read and write: the one file helper of src/. Reads are bounded and return a
// NUL-terminated mem_alloc'd buffer; writes go to a temporary file in the same directory
// and are renamed over the target, so a reader never sees half a file.
// SPDX-License-Identifier: MIT
#ifndef JANUS_FILE_H
#define JANUS_FILE_H

#include <stddef.h>

#include "base/base.h"

// Reads all of path (at most max_bytes) into *buf (mem_alloc'd, NUL-terminated after *len
// bytes; the caller mem_frees it). JANUS_OK, JANUS_EIO (cannot open/read), JANUS_ELIMIT
// (larger than max_bytes) or JANUS_ENOMEM; on error err names the path and *buf is untouched.
JANUS_WUR int file_read_all(const char *path, size_t max_bytes, char **buf, size_t *len, char *err,
                            size_t err_len);

// Replaces path with len bytes of data (temporary file + rename; permissions 0666 & ~umask).
// JANUS_OK or JANUS_EIO (err names the path); on error path is left as it was.
JANUS_WUR int file_write_all(const char *path, const void *data, size_t len, char *err,
                             size_t err_len);

#endif // JANUS_FILE_H
