// libFuzzer target for the bounded JSON parse and getters (server/json.h): any bytes must
// parse or be refused cleanly; getters on whatever parsed must not crash; escaping any
// bytes must produce JSON that cJSON parses back.
// SPDX-License-Identifier: MIT
#include "server/json.h"

#include "base/buf.h"
#include "base/status.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    cJSON *v = NULL;
    if (json_parse((const char *)data, size, 1 << 16, 16, &v, err, sizeof err) == JANUS_OK) {
        JANUS_ASSERT(json_depth(v) <= 16);
        if (cJSON_IsObject(v)) {
            int64_t i;
            double f;
            int b;
            const char *s;
            const cJSON *a;
            const char *keys[] = {"max_tokens", "temperature", "stream",
                                  "prompt",     "messages",    "stop"};
            for (int k = 0; k < 6; k++) {
                (void)!json_get_i64(v, keys[k], -5, 5, &i, err, sizeof err);
                (void)!json_get_f64(v, keys[k], -1, 1, &f, err, sizeof err);
                (void)!json_get_bool(v, keys[k], &b, err, sizeof err);
                (void)!json_get_str(v, keys[k], 8, &s, err, sizeof err);
                (void)!json_get_array(v, keys[k], &a, err, sizeof err);
                (void)!json_get_object(v, keys[k], &a, err, sizeof err);
            }
        }
        cJSON_Delete(v);
    }
    struct buf out;
    buf_init(&out, 8 * size + 16);
    JANUS_ASSERT(json_append_str(&out, (const char *)data, size) == JANUS_OK);
    cJSON *back = cJSON_ParseWithLength(out.data, out.len);
    JANUS_ASSERT(back && cJSON_IsString(back));
    cJSON_Delete(back);
    buf_free(&out);
    return 0;
}
