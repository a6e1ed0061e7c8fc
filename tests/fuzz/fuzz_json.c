// libFuzzer target for the bounded JSON parse (http/json.h) and the request getters
// (base/json_field.h): any bytes must parse or be refused cleanly; getters on whatever
// parsed must not crash; a parsed object goes through the request option parser and, with
// "messages", every chat template (http_impl.h), which must either accept it or fill an
// OpenAI error; escaping any bytes must produce JSON that cJSON parses back.
// SPDX-License-Identifier: MIT
#include "http/json.h"
#include "http/http_impl.h"

#include "base/buf.h"
#include "base/json_field.h"
#include "base/status.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
                (void)!json_field_i64(v, keys[k], -5, 5, &i, err, sizeof err);
                (void)!json_field_f64(v, keys[k], -1, 1, &f, err, sizeof err);
                (void)!json_field_bool(v, keys[k], &b, err, sizeof err);
                (void)!json_field_strref(v, keys[k], 8, &s, err, sizeof err);
                (void)!json_field_array(v, keys[k], &a, err, sizeof err);
                (void)!json_field_object(v, keys[k], &a, err, sizeof err);
            }
        }
        if (cJSON_IsObject(v)) {
            static struct server srv;
            static int init;
            if (!init) {
                pthread_mutex_init(&srv.f.mu, NULL);
                srv.f.ready.n_vocab = 768;
                srv.f.ready.n_ctx = 2048;
                srv.f.ready.kv_tokens = 1 << 16;
                snprintf(srv.f.model_name, sizeof srv.f.model_name, "m");
                init = 1;
            }
            for (int kind = 0; kind < 2; kind++) {
                struct api_gen g;
                struct api_reply r;
                memset(&r, 0, sizeof r);
                buf_init(&r.body, 1 << 16);
                int rc = api_parse_common(&srv, v, (enum api_kind)kind, &g, &r);
                JANUS_ASSERT(rc == 0 || (r.status >= 400 && r.body.len > 0));
                buf_free(&r.body);
            }
            const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(v, "messages");
            if (cJSON_IsArray(msgs)) {
                for (int k = 0; k < CHAT_TEMPLATE_COUNT; k++) {
                    struct buf t;
                    buf_init(&t, 1 << 16);
                    int rc = api_chat_render((enum chat_template)k, msgs, &t, err, sizeof err);
                    JANUS_ASSERT(rc == JANUS_OK || rc == JANUS_EINVAL || rc == JANUS_ELIMIT);
                    buf_free(&t);
                }
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
