// Bounded byte buffer (buf.h).
// Appends past the cap fail with JANUS_ELIMIT and leave the buffer unchanged.
// SPDX-License-Identifier: MIT
#include "base/buf.h"

#include "base/mem.h"
#include "base/status.h"

#include <stdio.h>
#include <string.h>

void buf_init(struct buf *b, size_t max) {
    memset(b, 0, sizeof *b);
    b->max = max;
}

void buf_free(struct buf *b) {
    mem_free(b->data);
    size_t max = b->max;
    buf_init(b, max);
}

void buf_reset(struct buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

static int reserve(struct buf *b, size_t extra) {
    if (extra > b->max || b->len > b->max - extra) return JANUS_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap_alloc) return JANUS_OK;
    size_t cap = b->cap_alloc ? b->cap_alloc : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1) cap = b->max + 1;
    char *d = mem_realloc(MEM_TAG_MISC, b->data, cap);
    if (!d) return JANUS_ENOMEM;
    b->data = d;
    b->cap_alloc = cap;
    return JANUS_OK;
}

int buf_append(struct buf *b, const void *data, size_t n) {
    int rc = reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return JANUS_OK;
}

int buf_vappendf(struct buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return JANUS_EINVAL;
    int rc = reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return JANUS_OK;
}

int buf_appendf(struct buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *buf_take(struct buf *b, size_t *len) {
    char *d = b->data;
    if (len) *len = b->len;
    size_t max = b->max;
    buf_init(b, max);
    return d;
}
