// What every endpoint shares (http_impl.h): OpenAI-shaped error replies, JSON replies
// printed by cJSON, the bounded body parse, and the bad-request counter. Below the
// endpoints and the server core (http.c), which only dispatch to them.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/mem.h"
#include "base/status.h"
#include "http/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int api_json_reply(struct api_reply *r, unsigned status, cJSON *doc) {
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    buf_reset(&r->body);
    int rc = text ? buf_append(&r->body, text, strlen(text)) : JANUS_ENOMEM;
    cJSON_free(text);
    r->status = status;
    r->resp = NULL;
    r->content_type = "application/json";
    return rc;
}

void api_error(struct api_reply *r, unsigned status, const char *type, const char *param,
               const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *doc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(doc, "error");
    if (e) {
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "type", type);
        cJSON_AddItemToObject(e, "param", param ? cJSON_CreateString(param) : cJSON_CreateNull());
        cJSON_AddItemToObject(e, "code", code ? cJSON_CreateString(code) : cJSON_CreateNull());
    }
    if (!e || api_json_reply(r, status, doc) != JANUS_OK) {
        if (!e) cJSON_Delete(doc);
        buf_reset(&r->body);
        (void)!buf_appendf(
            &r->body,
            "{\"error\":{\"message\":\"error\",\"type\":\"%s\",\"param\":null,\"code\":null}}",
            type);
    }
    r->status = status;
    r->resp = NULL;
    r->content_type = "application/json";
}

int api_parse_body(struct server *s, const char *body, size_t len, cJSON **req,
                   struct api_reply *r) {
    char err[JANUS_ERR_LEN];
    int rc = json_parse(body, len, s->p.max_body, s->p.max_depth, req, err, sizeof err);
    if (rc) {
        api_error(r, 400, "invalid_request_error", NULL,
                  rc == JANUS_ELIMIT ? "json_too_deep" : "invalid_json", "%s", err);
        return rc;
    }
    if (!cJSON_IsObject(*req)) {
        api_error(r, 400, "invalid_request_error", NULL, "invalid_json",
                  "the body must be a JSON object");
        return JANUS_EINVAL;
    }
    return JANUS_OK;
}

void api_count_bad(struct server *s, const struct api_reply *r) {
    if (r->status < 400 || r->status >= 500 || r->status == 429 || r->status == 499) return;
    pthread_mutex_lock(&s->f.mu);
    s->f.m.req_bad++;
    pthread_mutex_unlock(&s->f.mu);
}
