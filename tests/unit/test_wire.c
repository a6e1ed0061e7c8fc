// Unit tests for comm/wire: header and step header round trips, and every rejection path
// (truncation, bad magic/version/type/length, counts and ranges out of limits).
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "base/bytes.h"
#include "comm/wire.h"

static struct wire_step sample_step(int32_t n) {
    struct wire_step s;
    memset(&s, 0, sizeof s);
    s.step = 0x0123456789abcdefULL;
    s.scheme = 2;
    s.flags = WIRE_STEP_LOGITS;
    s.n_attn = n;
    for (int32_t i = 0; i < n; i++)
        s.b[i] = (i * 7) % 5; // includes empty local batches
    return s;
}

TEST(wire_header_roundtrip) {
    struct wire_header h = {WIRE_MAGIC, WIRE_VERSION, WIRE_TYPE_RESULT, 17, 99, 1234567890123ULL};
    uint8_t buf[WIRE_HEADER_SIZE];
    wire_header_encode(&h, buf);
    ASSERT_EQ(buf[0], 'J');
    ASSERT_EQ(buf[3], 'S');
    struct wire_header g;
    ASSERT_OK(wire_header_decode(buf, sizeof buf, &g));
    ASSERT_EQ(g.type, WIRE_TYPE_RESULT);
    ASSERT_EQ(g.layer, 17);
    ASSERT_EQ(g.len, 99);
    ASSERT_EQ(g.step, 1234567890123ULL);
    ASSERT_EQ(wire_header_decode(buf, WIRE_HEADER_SIZE - 1, &g), JANUS_EAGAIN);
}

TEST(wire_header_rejects) {
    struct wire_header h = {WIRE_MAGIC, WIRE_VERSION, WIRE_TYPE_STEP, WIRE_LAYER_NONE, 0, 1};
    uint8_t buf[WIRE_HEADER_SIZE];
    struct wire_header g = {0};
    struct wire_header bad[] = {
        {WIRE_MAGIC ^ 1, WIRE_VERSION, WIRE_TYPE_STEP, -1, 0, 1},
        {WIRE_MAGIC, WIRE_VERSION + 1, WIRE_TYPE_STEP, -1, 0, 1},
        {WIRE_MAGIC, WIRE_VERSION, 0, -1, 0, 1},
        {WIRE_MAGIC, WIRE_VERSION, WIRE_TYPE_MAX + 1, -1, 0, 1},
        {WIRE_MAGIC, WIRE_VERSION, WIRE_TYPE_STEP, -2, 0, 1},
        {WIRE_MAGIC, WIRE_VERSION, WIRE_TYPE_STEP, LIMIT_MAX_LAYERS, 0, 1},
        {WIRE_MAGIC, WIRE_VERSION, WIRE_TYPE_STEP, -1, WIRE_MAX_PAYLOAD + 1, 1},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        wire_header_encode(&bad[k], buf);
        ASSERT_EQ(wire_header_decode(buf, sizeof buf, &g), JANUS_EPROTO);
        ASSERT_EQ(g.magic, 0); // untouched
    }
    wire_header_encode(&h, buf);
    ASSERT_OK(wire_header_decode(buf, sizeof buf, &g));
}

TEST(wire_step_roundtrip) {
    int32_t sizes[] = {1, 2, 7, LIMIT_MAX_INSTANCES};
    static uint8_t buf[8192];
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct wire_step s = sample_step(sizes[k]), t;
        memset(&t, 0xab, sizeof t);
        size_t n = 0;
        ASSERT_OK(wire_step_encode(&s, buf, sizeof buf, &n));
        ASSERT_EQ(n, wire_step_size(sizes[k]));
        ASSERT_OK(wire_step_decode(buf, n, sizes[k], &t));
        ASSERT_EQ(t.step, s.step);
        ASSERT_EQ(t.scheme, s.scheme);
        ASSERT_EQ(t.flags, s.flags);
        ASSERT_EQ(t.n_attn, s.n_attn);
        ASSERT_MEM_EQ(t.b, s.b, (size_t)s.n_attn * sizeof(int32_t));
        ASSERT_OK(wire_step_decode(buf, n, 0, &t)); // 0: any n_attn
        // Every truncation is incomplete, never a crash or a success.
        for (size_t cut = 0; cut < n; cut++)
            ASSERT_EQ(wire_step_decode(buf, cut, 0, &t), JANUS_EAGAIN);
    }
}

TEST(wire_step_encode_rejects) {
    uint8_t buf[256];
    size_t n = 12345;
    struct wire_step s = sample_step(3);
    ASSERT_EQ(wire_step_encode(&s, buf, wire_step_size(3) - 1, &n), JANUS_ELIMIT);
    s.scheme = WIRE_N_SCHEMES;
    ASSERT_EQ(wire_step_encode(&s, buf, sizeof buf, &n), JANUS_EINVAL);
    s = sample_step(3);
    s.b[1] = -1;
    ASSERT_EQ(wire_step_encode(&s, buf, sizeof buf, &n), JANUS_EINVAL);
    s = sample_step(3);
    s.b[0] = LIMIT_MAX_BATCH;
    s.b[1] = 1; // Σ b_i one above the limit
    s.b[2] = 0;
    ASSERT_EQ(wire_step_encode(&s, buf, sizeof buf, &n), JANUS_EINVAL);
    s.b[1] = 0; // exactly at the limit
    ASSERT_OK(wire_step_encode(&s, buf, sizeof buf, &n));
    s = sample_step(3);
    s.flags = 0x80;
    ASSERT_EQ(wire_step_encode(&s, buf, sizeof buf, &n), JANUS_EINVAL);
    s = sample_step(0);
    ASSERT_EQ(wire_step_encode(&s, buf, sizeof buf, &n), JANUS_EINVAL);
}

// Encodes a valid message, corrupts the payload word at byte offset `at`, and decodes.
static int corrupt(size_t at, uint32_t v, int32_t expect) {
    uint8_t buf[256];
    size_t n = 0;
    struct wire_step s = sample_step(4), t;
    if (wire_step_encode(&s, buf, sizeof buf, &n) != JANUS_OK) return 999;
    bytes_put_u32(buf + at, v);
    memset(&t, 0, sizeof t);
    int rc = wire_step_decode(buf, n, expect, &t);
    if (rc != JANUS_OK && t.n_attn != 0) return 998; // s untouched on error
    return rc;
}

TEST(wire_step_decode_rejects) {
    const size_t P = WIRE_HEADER_SIZE;
    ASSERT_EQ(corrupt(P + 0, 3, 0), JANUS_EPROTO);    // scheme out of range
    ASSERT_EQ(corrupt(P + 4, 0x10, 0), JANUS_EPROTO); // unknown flag
    ASSERT_EQ(corrupt(P + 8, 0, 0), JANUS_EPROTO);    // n_attn 0
    ASSERT_EQ(corrupt(P + 8, 5, 0), JANUS_EPROTO);    // n_attn vs length
    ASSERT_EQ(corrupt(P + 8, LIMIT_MAX_INSTANCES + 1, 0), JANUS_ELIMIT);
    ASSERT_EQ(corrupt(P + 8, 0xffffffffu, 0), JANUS_EPROTO);  // negative
    ASSERT_EQ(corrupt(P + 12, 0xffffffffu, 0), JANUS_EPROTO); // b_0 = -1
    ASSERT_EQ(corrupt(P + 12, LIMIT_MAX_BATCH + 1, 0), JANUS_EPROTO);
    ASSERT_EQ(corrupt(12, 1000, 0), JANUS_EAGAIN);           // header len > bytes present
    ASSERT_EQ(corrupt(12, 5, 0), JANUS_EPROTO);              // trailing bytes
    ASSERT_EQ(corrupt(6, WIRE_TYPE_BATCH, 0), JANUS_EPROTO); // type (and version word) changed
    ASSERT_EQ(corrupt(8, 3, 0), JANUS_EPROTO);               // a STEP carries no layer
    ASSERT_EQ(corrupt(P + 0, 1, 3), JANUS_EPROTO);           // n_attn 4 but 3 expected
    ASSERT_EQ(corrupt(P + 0, 1, 4), JANUS_OK);
}

// ---- REPLACE (live re-placement)

static struct wire_replace sample_replace(void) {
    struct wire_replace r;
    memset(&r, 0, sizeof r);
    r.step = 4242;
    r.phase = WIRE_REPLACE_LOAD;
    r.n_layers = 4;
    r.n_instances = 2;
    r.n_slots = 5;
    r.n_experts = 8;
    r.digest = 0xfeedfacecafebeefULL;
    r.n_ints = (uint32_t)wire_replace_layout_ints(4, 2, 5);
    return r;
}

TEST(wire_replace_roundtrip) {
    ASSERT_EQ(wire_replace_layout_ints(4, 2, 5), 4 * (1 + 10));
    ASSERT_EQ(wire_replace_layout_ints(0, 2, 5), 0);
    ASSERT_EQ(wire_replace_layout_ints(4, LIMIT_MAX_INSTANCES + 1, 5), 0);
    struct wire_replace r = sample_replace(), g;
    uint8_t buf[128];
    size_t n = 0;
    ASSERT_OK(wire_replace_encode(&r, buf, sizeof buf, &n));
    ASSERT_EQ(n, wire_replace_size());
    // A header buffer sized for STEP may be longer: the bytes after the message are ignored.
    ASSERT_OK(wire_replace_decode(buf, sizeof buf, &g));
    ASSERT_EQ(g.step, 4242);
    ASSERT_EQ(g.phase, WIRE_REPLACE_LOAD);
    ASSERT_EQ(g.n_slots, 5);
    ASSERT_EQ(g.digest, 0xfeedfacecafebeefULL);
    ASSERT_EQ(g.n_ints, 44);
    memset(&r, 0, sizeof r);
    r.phase = WIRE_REPLACE_POLL;
    r.step = 7;
    ASSERT_OK(wire_replace_encode(&r, buf, sizeof buf, &n));
    ASSERT_OK(wire_replace_decode(buf, n, &g));
    ASSERT_EQ(g.phase, WIRE_REPLACE_POLL);
    ASSERT_EQ(g.step, 7);
    ASSERT_EQ(wire_replace_encode(&r, buf, wire_replace_size() - 1, &n), JANUS_ELIMIT);
}

TEST(wire_replace_rejects) {
    uint8_t buf[128], good[128];
    size_t n = 0;
    struct wire_replace r = sample_replace(), g;
    struct wire_replace bad = r;
    bad.n_ints++;
    ASSERT_EQ(wire_replace_encode(&bad, buf, sizeof buf, &n), JANUS_EINVAL);
    bad = r;
    bad.phase = 9;
    ASSERT_EQ(wire_replace_encode(&bad, buf, sizeof buf, &n), JANUS_EINVAL);
    bad = r;
    bad.phase = WIRE_REPLACE_POLL; // POLL carries no layout
    ASSERT_EQ(wire_replace_encode(&bad, buf, sizeof buf, &n), JANUS_EINVAL);
    ASSERT_OK(wire_replace_encode(&r, good, sizeof good, &n));
    const size_t P = WIRE_HEADER_SIZE;
    struct {
        size_t off;
        uint32_t v;
        int want;
    } cases[] = {
        {P + 0, 0, JANUS_EPROTO},                                 // phase 0
        {P + 0, WIRE_REPLACE_PHASE_MAX + 1, JANUS_EPROTO},        // unknown phase
        {P + 4, LIMIT_MAX_LAYERS + 1, JANUS_EPROTO},              // layers over the limit
        {P + 8, 0, JANUS_EPROTO},                                 // no instances
        {P + 12, 0xffffffffu, JANUS_EPROTO},                      // negative slots
        {P + 16, LIMIT_MAX_EXPERTS + 1, JANUS_EPROTO},            // experts over the limit
        {P + 28, 45, JANUS_EPROTO},                               // ints not matching the shape
        {12, 31, JANUS_EPROTO},                                   // payload length
        {6, WIRE_TYPE_STEP | (WIRE_VERSION << 16), JANUS_EPROTO}, // not a REPLACE
        {8, 2, JANUS_EPROTO},                                     // a REPLACE carries no layer
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(buf, good, n);
        if (cases[k].off == 6) {
            bytes_put_u16(buf + 4, WIRE_VERSION);
            bytes_put_u16(buf + 6, WIRE_TYPE_STEP);
        } else {
            bytes_put_u32(buf + cases[k].off, cases[k].v);
        }
        memset(&g, 0, sizeof g);
        ASSERT_EQ(wire_replace_decode(buf, n, &g), cases[k].want);
        ASSERT_EQ(g.phase, 0); // untouched
    }
    ASSERT_EQ(wire_replace_decode(good, n - 1, &g), JANUS_EAGAIN);
    ASSERT_EQ(wire_replace_decode(good, 10, &g), JANUS_EAGAIN);
}
