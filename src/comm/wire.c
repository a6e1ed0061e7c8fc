// Wire header and step header encode/decode with bounds checks (wire.h, SPEC §3).
// Layout (little-endian): header = magic u32 @0, version u16 @4, type u16 @6, layer i32 @8,
// len u32 @12, step u64 @16; STEP payload = scheme i32 @0, flags u32 @4, n_attn i32 @8,
// b[n_attn] i32 @12; REPLACE payload = phase u32 @0, n_layers i32 @4, n_instances i32 @8,
// n_slots i32 @12, n_experts i32 @16, digest u64 @20, n_ints u32 @28.
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

#define REPLACE_PAYLOAD 32

size_t wire_replace_size(void) { return WIRE_HEADER_SIZE + REPLACE_PAYLOAD; }

uint64_t wire_replace_layout_ints(int32_t n_layers, int32_t n_instances, int32_t n_slots) {
    if (n_layers < 1 || n_layers > LIMIT_MAX_LAYERS || n_instances < 1 ||
        n_instances > LIMIT_MAX_INSTANCES || n_slots < 1 || n_slots > LIMIT_MAX_SLOTS)
        return 0;
    return (uint64_t)n_layers * (1 + (uint64_t)n_instances * (uint64_t)n_slots);
}

static int replace_check(const struct wire_replace *r) {
    if (r->phase < 1 || r->phase > WIRE_REPLACE_PHASE_MAX) return JANUS_EINVAL;
    if (r->phase != WIRE_REPLACE_LOAD)
        return r->n_layers || r->n_instances || r->n_slots || r->n_experts || r->digest || r->n_ints
                   ? JANUS_EINVAL
                   : JANUS_OK;
    uint64_t want = wire_replace_layout_ints(r->n_layers, r->n_instances, r->n_slots);
    if (want == 0 || r->n_experts < 1 || r->n_experts > LIMIT_MAX_EXPERTS || r->n_ints != want ||
        want > WIRE_MAX_PAYLOAD / 4)
        return JANUS_EINVAL;
    return JANUS_OK;
}

int wire_replace_encode(const struct wire_replace *r, uint8_t *out, size_t cap, size_t *n_out) {
    if (replace_check(r) != JANUS_OK) return JANUS_EINVAL;
    size_t n = wire_replace_size();
    if (cap < n) return JANUS_ELIMIT;
    struct wire_header h = {WIRE_MAGIC,      WIRE_VERSION,    WIRE_TYPE_REPLACE,
                            WIRE_LAYER_NONE, REPLACE_PAYLOAD, r->step};
    wire_header_encode(&h, out);
    uint8_t *p = out + WIRE_HEADER_SIZE;
    bytes_put_u32(p + 0, r->phase);
    bytes_put_u32(p + 4, (uint32_t)r->n_layers);
    bytes_put_u32(p + 8, (uint32_t)r->n_instances);
    bytes_put_u32(p + 12, (uint32_t)r->n_slots);
    bytes_put_u32(p + 16, (uint32_t)r->n_experts);
    bytes_put_u64(p + 20, r->digest);
    bytes_put_u32(p + 28, r->n_ints);
    *n_out = n;
    return JANUS_OK;
}

int wire_replace_decode(const uint8_t *in, size_t n, struct wire_replace *r) {
    struct wire_header h;
    int rc = wire_header_decode(in, n, &h);
    if (rc != JANUS_OK) return rc;
    if (h.type != WIRE_TYPE_REPLACE || h.layer != WIRE_LAYER_NONE) return JANUS_EPROTO;
    if (h.len != REPLACE_PAYLOAD) return JANUS_EPROTO;
    if (n < WIRE_HEADER_SIZE + (size_t)h.len) return JANUS_EAGAIN;
    const uint8_t *p = in + WIRE_HEADER_SIZE;
    struct wire_replace t;
    t.step = h.step;
    t.phase = bytes_get_u32(p + 0);
    t.n_layers = (int32_t)bytes_get_u32(p + 4);
    t.n_instances = (int32_t)bytes_get_u32(p + 8);
    t.n_slots = (int32_t)bytes_get_u32(p + 12);
    t.n_experts = (int32_t)bytes_get_u32(p + 16);
    t.digest = bytes_get_u64(p + 20);
    t.n_ints = bytes_get_u32(p + 28);
    if (replace_check(&t) != JANUS_OK) return JANUS_EPROTO;
    *r = t;
    return JANUS_OK;
}
