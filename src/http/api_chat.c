// POST /v1/chat/completions (SPEC §10). The prompt is built from "messages" with the chat
// template the model's metadata (tokenizer.chat_template) names (model/chat_template.h:
// recognised by marker strings, no general Jinja engine; unrecognised templates get the
// documented default of docs/HTTP.md). Template text is tokenized with special-token
// parsing, so markers become their tokens; the messages' content never is (issue 15 item 4:
// no role or control tokens injected by a user), unless --chat-parse-special.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/json_field.h"
#include "base/mem.h"
#include "base/status.h"
#include "http/json.h"

#include <stdio.h>
#include <string.h>

// Appends a message's content (a string, or an array of {"type":"text","text":...} parts).
static int content(struct buf *b, const cJSON *m, char *err, size_t err_len) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!c) return JANUS_OK;
    if (cJSON_IsNull(c))
        return status_errf(err, err_len, JANUS_EINVAL,
                           "'content' is null (tool calls are not supported: send text)");
    if (cJSON_IsString(c)) return buf_append(b, c->valuestring, strlen(c->valuestring));
    if (!cJSON_IsArray(c))
        return status_errf(err, err_len, JANUS_EINVAL,
                           "'content' must be a string or an array of text parts");
    for (const cJSON *p = c->child; p; p = p->next) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsObject(p) || !cJSON_IsString(ty) || strcmp(ty->valuestring, "text") ||
            !cJSON_IsString(tx))
            return status_errf(
                err, err_len, JANUS_EINVAL,
                "only text content parts ({\"type\":\"text\",\"text\":...}) are supported");
        int rc = buf_append(b, tx->valuestring, strlen(tx->valuestring));
        if (rc) return rc;
    }
    return JANUS_OK;
}

int api_chat_render_spans(enum chat_template t, const cJSON *msgs, struct buf *b,
                          struct vocab_span **spans, size_t *n_spans, char *err, size_t err_len) {
    int n = cJSON_GetArraySize(msgs), n_turns = 0, n_user = 0, ns = 0;
    struct chat_turn *turns = mem_calloc(MEM_TAG_SERVER, (size_t)n + 1, sizeof *turns);
    size_t *ends = mem_calloc(MEM_TAG_SERVER, (size_t)n + 1, sizeof *ends);
    struct chat_span *cs = spans ? mem_calloc(MEM_TAG_SERVER, (size_t)n + 2, sizeof *cs) : NULL;
    if (spans) {
        *spans = NULL;
        *n_spans = 0;
    }
    struct buf sys, text; // system messages joined by "\n"; every turn's text, back to back
    buf_init(&sys, b->max);
    buf_init(&text, b->max);
    int rc = turns && ends && (cs || !spans) ? JANUS_OK : JANUS_ENOMEM;
    for (const cJSON *m = msgs->child; m && !rc; m = m->next) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
            rc = status_errf(err, err_len, JANUS_EINVAL,
                             "each message must be an object with a string 'role'");
        } else if (!strcmp(role->valuestring, "system") ||
                   !strcmp(role->valuestring, "developer")) {
            if (sys.len) rc = buf_append(&sys, "\n", 1);
            if (!rc) rc = content(&sys, m, err, err_len);
        } else if (strcmp(role->valuestring, "user") && strcmp(role->valuestring, "assistant")) {
            rc = status_errf(err, err_len, JANUS_EINVAL,
                             "unsupported role '%.32s' (system, developer, user, assistant)",
                             role->valuestring);
        } else {
            turns[n_turns].user = !strcmp(role->valuestring, "user");
            n_user += turns[n_turns].user;
            rc = content(&text, m, err, err_len);
            ends[n_turns++] = text.len;
        }
    }
    if (!rc && n_user == 0)
        rc = status_errf(err, err_len, JANUS_EINVAL, "'messages' needs at least one user message");
    for (int i = 0; i < n_turns && !rc; i++) { // the text is complete: point into it
        size_t start = i ? ends[i - 1] : 0;
        turns[i].text = text.data ? text.data + start : "";
        turns[i].len = ends[i] - start;
    }
    if (!rc) rc = chat_template_render(t, sys.data ? sys.data : "", turns, n_turns, b, cs, &ns);
    if (!rc && spans) {
        // The same ranges, as the tokenizer takes them (vocab_tokenize_raw).
        struct vocab_span *vs = mem_calloc(MEM_TAG_SERVER, (size_t)ns + 1, sizeof *vs);
        if (!vs) rc = JANUS_ENOMEM;
        for (int i = 0; vs && i < ns; i++)
            vs[i] = (struct vocab_span){cs[i].off, cs[i].len};
        *spans = vs;
        *n_spans = vs ? (size_t)ns : 0;
    }
    buf_free(&sys);
    buf_free(&text);
    mem_free(turns);
    mem_free(ends);
    mem_free(cs);
    if (rc == JANUS_ENOMEM) status_errf(err, err_len, rc, "out of memory");
    return rc == JANUS_EINVAL || rc == JANUS_OK || rc == JANUS_ENOMEM ? rc : JANUS_ELIMIT;
}

int api_chat_render(enum chat_template t, const cJSON *msgs, struct buf *b, char *err,
                    size_t err_len) {
    return api_chat_render_spans(t, msgs, b, NULL, NULL, err, err_len);
}

void api_chat(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
              struct api_reply *r) {
    char err[JANUS_ERR_LEN];
    cJSON *req = NULL;
    struct api_gen g;
    memset(&g, 0, sizeof g);
    struct buf text;
    buf_init(&text, s->p.max_body * 2 + 4096);
    struct vocab_span *spans = NULL; // where the messages' content lies in text
    size_t n_spans = 0;
    if (api_parse_body(s, body, len, &req, r)) goto out;
    if (api_parse_common(s, req, API_CHAT, &g, r)) goto out;
    const cJSON *msgs = NULL;
    int rc = json_field_array(req, "messages", &msgs, err, sizeof err);
    if (rc == JANUS_ENOTFOUND)
        rc = status_errf(err, sizeof err, JANUS_EINVAL, "'messages' is required");
    if (rc) {
        api_error(r, 400, "invalid_request_error", "messages", NULL, "%s", err);
        goto out;
    }
    rc = api_chat_render_spans(s->chat_template, msgs, &text, &spans, &n_spans, err, sizeof err);
    if (rc == JANUS_ENOMEM) {
        api_error(r, 500, "server_error", NULL, NULL, "out of memory");
        goto out;
    }
    if (rc == JANUS_EINVAL) {
        api_error(r, 400, "invalid_request_error", "messages", NULL, "%s", err);
        goto out;
    }
    if (rc) {
        api_error(r, 400, "invalid_request_error", "messages", "context_length_exceeded",
                  "the conversation is too long");
        goto out;
    }
    // Only the template's own markers are special tokens; the messages' text is plain
    // text unless --chat-parse-special (issue 15 item 4).
    if (api_tokenize_chat(s, text.data ? text.data : "", text.len, spans,
                          s->p.chat_parse_special ? 0 : n_spans, &g.prompt, &g.n_prompt, r))
        goto out;
    api_generate(s, conn, &g, r);
out:
    api_count_bad(s, r);
    mem_free(g.prompt);
    mem_free(spans);
    buf_free(&text);
    cJSON_Delete(req);
}
