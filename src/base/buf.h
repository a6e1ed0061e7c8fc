// Bounded growable byte buffer (curl dynbuf): buf_init cannot fail; appends beyond the cap
// fail with JANUS_ELIMIT and leave the buffer unchanged; buf_take hands ownership out.
// Always NUL-terminated after a successful append, so text can be used as a C string.
// SPDX-License-Identifier: MIT
#ifndef JANUS_BUF_H
#define JANUS_BUF_H

#include "base/base.h"

#include <stdarg.h>

struct buf {
    char *data; // (cap_alloc) bytes, or NULL while empty
    size_t len;
    size_t cap_alloc;
    size_t max; // hard cap on len
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); // len = 0, keeps memory
JANUS_WUR int buf_append(struct buf *b, const void *data, size_t n);
JANUS_WUR int buf_appendf(struct buf *b, const char *fmt, ...) JANUS_PRINTF(2, 3);
JANUS_WUR int buf_vappendf(struct buf *b, const char *fmt, va_list ap);
// Returns the data (caller frees with mem_free) and leaves b empty; NULL if empty.
char *buf_take(struct buf *b, size_t *len);

#endif // JANUS_BUF_H
