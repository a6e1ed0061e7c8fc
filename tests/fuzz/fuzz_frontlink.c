// libFuzzer target for the front <-> controller protocol decoder (requests/frontlink.h):
// arbitrary bytes are decoded message by message; every decoded message of a known type
// is re-encoded and decoded again, and must round-trip. No input may crash or leak.
// SPDX-License-Identifier: MIT
#include "requests/frontlink.h"

#include "base/base.h"
#include "base/status.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_all(const uint8_t *data, size_t size);

// The first byte picks a mode: odd = raw stream; even = data[1] is a message type and the
// rest its payload, wrapped in a valid header (so payload decoding is reached at once).
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    if (data[0] & 1) {
        decode_all(data + 1, size - 1);
        return 0;
    }
    static uint8_t tmp[FRONTLINK_HEADER_BYTES + 65536];
    size_t plen = size - 2 > 65536 ? 65536 : size - 2;
    uint32_t v[3] = {FRONTLINK_MAGIC, FRONTLINK_VERSION | (uint32_t)(data[1] % 12) << 16,
                     (uint32_t)plen};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            tmp[4 * i + k] = (uint8_t)(v[i] >> (8 * k));
    memcpy(tmp + FRONTLINK_HEADER_BYTES, data + 2, plen);
    decode_all(tmp, FRONTLINK_HEADER_BYTES + plen);
    return 0;
}

static void decode_all(const uint8_t *data, size_t size) {
    size_t off = 0;
    while (off < size) {
        struct frontlink_msg m;
        size_t used = 0;
        char err[256];
        int rc = frontlink_decode(data + off, size - off, &m, &used, err, sizeof err);
        if (rc != JANUS_OK) break;
        JANUS_ASSERT(used >= FRONTLINK_HEADER_BYTES && used <= size - off);
        off += used;
        struct buf b;
        buf_init(&b, FRONTLINK_HEADER_BYTES + FRONTLINK_MAX_PAYLOAD);
        if (frontlink_encode(&b, &m) == JANUS_OK) {
            struct frontlink_msg m2;
            size_t used2;
            JANUS_ASSERT(frontlink_decode((const uint8_t *)b.data, b.len, &m2, &used2, err,
                                          sizeof err) == JANUS_OK);
            JANUS_ASSERT(used2 == b.len && m2.type == m.type);
            if (m.type == FRONTLINK_SUBMIT) {
                JANUS_ASSERT(m2.u.submit.n_prompt == m.u.submit.n_prompt);
                JANUS_ASSERT(!memcmp(m2.u.submit.prompt, m.u.submit.prompt,
                                     (size_t)m.u.submit.n_prompt * 4));
            }
            if (m.type == FRONTLINK_TOKEN) JANUS_ASSERT(m2.u.token.token == m.u.token.token);
            frontlink_msg_free(&m2);
        }
        buf_free(&b);
        frontlink_msg_free(&m);
    }
}
