// libFuzzer target for comm/wire: arbitrary bytes into the header and step decoders must
// never crash or read out of bounds (REPLACE's too); whatever decodes must re-encode to the same
// bytes. SPDX-License-Identifier: MIT
#include "base/base.h"
#include "base/status.h"
#include "comm/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct wire_header h;
    if (wire_header_decode(data, size, &h) == JANUS_OK) {
        uint8_t buf[WIRE_HEADER_SIZE];
        wire_header_encode(&h, buf);
        if (memcmp(buf, data, WIRE_HEADER_SIZE) != 0) abort();
    }
    static struct wire_step s;
    for (int32_t expect = 0; expect <= 2; expect++) {
        if (wire_step_decode(data, size, expect, &s) != JANUS_OK) continue;
        static uint8_t out[WIRE_HEADER_SIZE + 12 + 4 * LIMIT_MAX_INSTANCES];
        size_t n = 0;
        if (wire_step_encode(&s, out, sizeof out, &n) != JANUS_OK) abort();
        if (n != size || memcmp(out, data, n) != 0) abort();
    }
    struct wire_replace r;
    if (wire_replace_decode(data, size, &r) == JANUS_OK) {
        uint8_t out[WIRE_HEADER_SIZE + 32];
        size_t n = 0;
        if (wire_replace_encode(&r, out, sizeof out, &n) != JANUS_OK) abort();
        if (n > size || memcmp(out, data, n) != 0) abort();
    }
    return 0;
}
