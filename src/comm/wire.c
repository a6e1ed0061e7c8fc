// Wire header and step header encode/decode with bounds checks (wire.h, SPEC §3).
// Layout (little-endian): header = magic u32 @0, version u16 @4, type u16 @6, layer i32 @8,
// len u32 @12, step u64 @16; STEP payload = scheme i32 @0, flags u32 @4, n_attn i32 @8,
// b[n_attn] i32 @12.
// SPDX-License-Identifier: MIT
#include "comm/wire.h"

#include "base/bytes.h"
#include "base/status.h"

#include <string.h>

#define STEP_FIXED 12 // payload bytes before b[]

size_t wire_step_size(int32_t n_attn) {
    return WIRE_HEADER_SIZE + STEP_FIXED + 4 * (size_t)(n_attn > 0 ? n_attn : 0);
}

void wire_header_encode(const struct wire_header *h, uint8_t *out) {
    bytes_put_u32(out + 0, h->magic);
    bytes_put_u16(out + 4, h->version);
    bytes_put_u16(out + 6, h->type);
    bytes_put_u32(out + 8, (uint32_t)h->layer);
    bytes_put_u32(out + 12, h->len);
    bytes_put_u64(out + 16, h->step);
}

int wire_header_decode(const uint8_t *in, size_t n, struct wire_header *h) {
    if (n < WIRE_HEADER_SIZE) return JANUS_EAGAIN;
    struct wire_header t;
    t.magic = bytes_get_u32(in + 0);
    t.version = bytes_get_u16(in + 4);
    t.type = bytes_get_u16(in + 6);
    t.layer = (int32_t)bytes_get_u32(in + 8);
    t.len = bytes_get_u32(in + 12);
    t.step = bytes_get_u64(in + 16);
    if (t.magic != WIRE_MAGIC || t.version != WIRE_VERSION) return JANUS_EPROTO;
    if (t.type < 1 || t.type > WIRE_TYPE_MAX) return JANUS_EPROTO;
    if (t.layer < WIRE_LAYER_NONE || t.layer >= LIMIT_MAX_LAYERS) return JANUS_EPROTO;
    if (t.len > WIRE_MAX_PAYLOAD) return JANUS_EPROTO;
    *h = t;
    return JANUS_OK;
}

// Range checks shared by encode and decode. Returns JANUS_OK or JANUS_EINVAL.
static int step_check(const struct wire_step *s) {
    if (s->n_attn < 1 || s->n_attn > LIMIT_MAX_INSTANCES) return JANUS_EINVAL;
    if (s->scheme < 0 || s->scheme >= WIRE_N_SCHEMES) return JANUS_EINVAL;
    if (s->flags & ~WIRE_STEP_FLAGS_ALL) return JANUS_EINVAL;
    int64_t total = 0;
    for (int32_t i = 0; i < s->n_attn; i++) {
        if (s->b[i] < 0 || s->b[i] > LIMIT_MAX_BATCH) return JANUS_EINVAL;
        total += s->b[i];
    }
    if (total > LIMIT_MAX_BATCH) return JANUS_EINVAL;
    return JANUS_OK;
}

int wire_step_encode(const struct wire_step *s, uint8_t *out, size_t cap, size_t *n_out) {
    if (step_check(s) != JANUS_OK) return JANUS_EINVAL;
    size_t n = wire_step_size(s->n_attn);
    if (cap < n) return JANUS_ELIMIT;
    struct wire_header h = {
        WIRE_MAGIC, WIRE_VERSION, WIRE_TYPE_STEP, WIRE_LAYER_NONE, (uint32_t)(n - WIRE_HEADER_SIZE),
        s->step};
    wire_header_encode(&h, out);
    uint8_t *p = out + WIRE_HEADER_SIZE;
    bytes_put_u32(p + 0, (uint32_t)s->scheme);
    bytes_put_u32(p + 4, s->flags);
    bytes_put_u32(p + 8, (uint32_t)s->n_attn);
    for (int32_t i = 0; i < s->n_attn; i++)
        bytes_put_u32(p + STEP_FIXED + 4 * (size_t)i, (uint32_t)s->b[i]);
    *n_out = n;
    return JANUS_OK;
}

int wire_step_decode(const uint8_t *in, size_t n, int32_t expect_n_attn, struct wire_step *s) {
    struct wire_header h;
    int rc = wire_header_decode(in, n, &h);
    if (rc != JANUS_OK) return rc;
    if (h.type != WIRE_TYPE_STEP || h.layer != WIRE_LAYER_NONE) return JANUS_EPROTO;
    if (n < WIRE_HEADER_SIZE + (size_t)h.len) return JANUS_EAGAIN;
    if (n != WIRE_HEADER_SIZE + (size_t)h.len) return JANUS_EPROTO;
    if (h.len < STEP_FIXED) return JANUS_EPROTO;
    const uint8_t *p = in + WIRE_HEADER_SIZE;
    int32_t n_attn = (int32_t)bytes_get_u32(p + 8);
    if (n_attn < 1) return JANUS_EPROTO;
    if (n_attn > LIMIT_MAX_INSTANCES) return JANUS_ELIMIT;
    if ((size_t)h.len != STEP_FIXED + 4 * (size_t)n_attn) return JANUS_EPROTO;
    if (expect_n_attn > 0 && n_attn != expect_n_attn) return JANUS_EPROTO;
    // Decode into a temporary so that s stays untouched on error.
    struct wire_step t;
    t.step = h.step;
    t.scheme = (int32_t)bytes_get_u32(p + 0);
    t.flags = bytes_get_u32(p + 4);
    t.n_attn = n_attn;
    for (int32_t i = 0; i < n_attn; i++)
        t.b[i] = (int32_t)bytes_get_u32(p + STEP_FIXED + 4 * (size_t)i);
    if (step_check(&t) != JANUS_OK) return JANUS_EPROTO;
    memcpy(s, &t, offsetof(struct wire_step, b) + 4 * (size_t)n_attn);
    return JANUS_OK;
}
