// What every endpoint shares (http_impl.h): OpenAI-shaped error replies, JSON replies
// printed by cJSON, the bounded body parse, the bad-request counter and the tokenization of
// a rendered chat (content never parsed for special tokens). Below the
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

int api_tokenize_chat(struct server *s, const char *text, size_t len, const struct vocab_span *raw,
                      size_t n_raw, int32_t **out, int32_t *n_out, struct api_reply *r) {
    int32_t cap = (int32_t)JANUS_MIN((int64_t)s->f.ready.n_ctx + 1, (int64_t)FRONTLINK_MAX_PROMPT);
    int32_t *ids = mem_alloc(MEM_TAG_SERVER, (size_t)cap * sizeof *ids);
    if (!ids) {
        api_error(r, 500, "server_error", NULL, NULL, "out of memory");
        return JANUS_ENOMEM;
    }
    int n = vocab_tokenize_raw(&s->vocab, text, len, 1, raw, n_raw, ids, cap);
    if (n < 0) {
        mem_free(ids);
        if (n == JANUS_ELIMIT)
            api_error(r, 400, "invalid_request_error", "messages", "context_length_exceeded",
                      "the conversation is longer than the context (%u tokens)", s->f.ready.n_ctx);
        else
            api_error(r, 400, "invalid_request_error", "messages", NULL,
                      "cannot tokenize the conversation: %s", janus_strerror(n));
        return n == JANUS_ELIMIT ? JANUS_ELIMIT : JANUS_EINVAL;
    }
    *out = ids;
    *n_out = n;
    return JANUS_OK;
}
