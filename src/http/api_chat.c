// POST /v1/chat/completions (SPEC §10). The prompt is built from "messages" with the chat
// template the model's metadata (tokenizer.chat_template) names, recognised by its marker
// strings — there is no general Jinja engine:
//   "<|im_start|>"            ChatML (Qwen):  <|im_start|>role\ncontent<|im_end|>\n ...
//   <|im_start|>assistant\n
//   "<<SYS>>" and "[INST]"    Llama-2:        [INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer
//   </s><s>[INST] ...
//   "[INST]"                  Mistral:        [INST] user [/INST]answer</s>[INST] ...
//   "<｜User｜>"              DeepSeek-V3:
//   sys<｜User｜>user<｜Assistant｜>answer<｜end▁of▁sentence｜>...<｜Assistant｜> "User: " +
//   "Assistant:"   DeepSeek-V2:    sys\n\nUser: user\n\nAssistant: answer<｜end▁of▁sentence｜>User:
//   ... otherwise (documented default, docs/HTTP.md): sys\n\nUser: user\n\nAssistant:
//   answer\n\nUser: ...\n\nAssistant:
// Template text is tokenized with special-token parsing, so markers become their tokens.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/mem.h"
#include "base/status.h"
#include "http/json.h"

#include <stdio.h>
#include <string.h>

char api_chat_template_kind(const char *t, size_t len) {
    if (!t || !len) return 0;
#define HAS(s) (memmem(t, len, s, strlen(s)) != NULL)
    if (HAS("<|im_start|>")) return 'c';
    if (HAS("[INST]")) return HAS("<<SYS>>") ? 'l' : 'm';
    if (HAS("<\xef\xbd\x9cUser\xef\xbd\x9c>")) return 'd';
    if (HAS("User: ") && HAS("Assistant:")) return 'D';
#undef HAS
    return 0;
}

// Appends a message's content (a string, or an array of {"type":"text","text":...} parts).
static int content(struct buf *b, const cJSON *m, char *err, size_t err_len) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!c || cJSON_IsNull(c)) return 0;
    if (cJSON_IsString(c)) return buf_append(b, c->valuestring, strlen(c->valuestring)) ? -2 : 0;
    if (!cJSON_IsArray(c)) {
        snprintf(err, err_len, "'content' must be a string or an array of text parts");
        return -1;
    }
    for (const cJSON *p = c->child; p; p = p->next) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsObject(p) || !cJSON_IsString(ty) || strcmp(ty->valuestring, "text") ||
            !cJSON_IsString(tx)) {
            snprintf(err, err_len,
                     "only text content parts ({\"type\":\"text\",\"text\":...}) are supported");
            return -1;
        }
        if (buf_append(b, tx->valuestring, strlen(tx->valuestring))) return -2;
    }
    return 0;
}

#define APPEND(...)                                                                                \
    do {                                                                                           \
        if (buf_appendf(b, __VA_ARGS__)) return -2;                                                \
    } while (0)

int api_chat_render(char kind, const cJSON *msgs, struct buf *b, char *err, size_t err_len) {
    int n_user = 0;
    struct buf sys;
    buf_init(&sys, b->max);
    int rc = 0;
    // The system message(s) first, concatenated.
    for (const cJSON *m = msgs->child; m && !rc; m = m->next) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
            snprintf(err, err_len, "each message must be an object with a string 'role'");
            rc = -1;
        } else if (!strcmp(role->valuestring, "system") ||
                   !strcmp(role->valuestring, "developer")) {
            if (sys.len && buf_append(&sys, "\n", 1)) rc = -2;
            if (!rc) rc = content(&sys, m, err, err_len);
        } else if (strcmp(role->valuestring, "user") && strcmp(role->valuestring, "assistant")) {
            snprintf(err, err_len, "unsupported role '%.32s' (system, developer, user, assistant)",
                     role->valuestring);
            rc = -1;
        } else {
            n_user += !strcmp(role->valuestring, "user");
        }
    }
    if (!rc && n_user == 0) {
        snprintf(err, err_len, "'messages' needs at least one user message");
        rc = -1;
    }
    const char *sy = sys.data ? sys.data : "";
    int first_user = 1;
    if (!rc && kind == 'c' && sys.len)
        rc = buf_appendf(b, "<|im_start|>system\n%s<|im_end|>\n", sy) ? -2 : 0;
    if (!rc && (kind == 'd' || kind == 'D') && sys.len)
        rc = buf_appendf(b, kind == 'D' ? "%s\n\n" : "%s", sy) ? -2 : 0;
    if (!rc && kind == 0 && sys.len) rc = buf_appendf(b, "%s\n\n", sy) ? -2 : 0;
    for (const cJSON *m = msgs->child; m && !rc; m = m->next) {
        const char *role = cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring;
        int user = !strcmp(role, "user");
        if (!user && strcmp(role, "assistant")) continue; // system: done above
        struct buf c;
        buf_init(&c, b->max);
        rc = content(&c, m, err, err_len);
        const char *ct = c.data ? c.data : "";
        if (!rc) switch (kind) {
            case 'c':
                rc = buf_appendf(b, "<|im_start|>%s\n%s<|im_end|>\n", role, ct) ? -2 : 0;
                break;
            case 'l':
                if (user && first_user && sys.len)
                    rc = buf_appendf(b, "[INST] <<SYS>>\n%s\n<</SYS>>\n\n%s [/INST]", sy, ct) ? -2
                                                                                              : 0;
                else if (user)
                    rc =
                        buf_appendf(b, "%s[INST] %s [/INST]", first_user ? "" : "<s>", ct) ? -2 : 0;
                else
                    rc = buf_appendf(b, " %s </s>", ct) ? -2 : 0;
                break;
            case 'm':
                if (user)
                    rc = buf_appendf(b, "[INST] %s%s%s [/INST]", first_user && sys.len ? sy : "",
                                     first_user && sys.len ? "\n\n" : "", ct)
                             ? -2
                             : 0;
                else
                    rc = buf_appendf(b, "%s</s>", ct) ? -2 : 0;
                break;
            case 'd':
                rc = buf_appendf(b,
                                 user ? "<\xef\xbd\x9cUser\xef\xbd\x9c>%s"
                                      : "<\xef\xbd\x9c"
                                        "Assistant\xef\xbd\x9c>%s<\xef\xbd\x9c"
                                        "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                 ct)
                         ? -2
                         : 0;
                break;
            case 'D':
                rc = buf_appendf(b,
                                 user ? "User: %s\n\n"
                                      : "Assistant: %s<\xef\xbd\x9c"
                                        "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                 ct)
                         ? -2
                         : 0;
                break;
            default:
                rc = buf_appendf(b, user ? "User: %s\n\n" : "Assistant: %s\n\n", ct) ? -2 : 0;
                break;
            }
        if (user) first_user = 0;
        buf_free(&c);
    }
    if (!rc) switch (kind) {
        case 'c': rc = buf_appendf(b, "<|im_start|>assistant\n") ? -2 : 0; break;
        case 'd':
            rc = buf_appendf(b, "<\xef\xbd\x9c"
                                "Assistant\xef\xbd\x9c>")
                     ? -2
                     : 0;
            break;
        case 'D': rc = buf_appendf(b, "Assistant:") ? -2 : 0; break;
        case 'l':
        case 'm': break;
        default: rc = buf_appendf(b, "Assistant:") ? -2 : 0; break;
        }
    buf_free(&sys);
    return rc;
}

void api_chat(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
              struct api_reply *r) {
    char err[256];
    cJSON *req = NULL;
    struct api_gen g;
    memset(&g, 0, sizeof g);
    struct buf text;
    buf_init(&text, s->p.max_body * 2 + 4096);
    if (api_parse_body(s, body, len, &req, r)) goto out;
    if (api_parse_common(s, req, API_CHAT, &g, r)) goto out;
    const cJSON *msgs = NULL;
    int rc = json_get_array(req, "messages", &msgs, err, sizeof err);
    if (rc == JANUS_ENOTFOUND) snprintf(err, sizeof err, "'messages' is required");
    if (rc) {
        api_error(r, 400, "invalid_request_error", "messages", NULL, "%s", err);
        goto out;
    }
    rc = api_chat_render(s->chat_template_kind, msgs, &text, err, sizeof err);
    if (rc == -1) {
        api_error(r, 400, "invalid_request_error", "messages", NULL, "%s", err);
        goto out;
    }
    if (rc) {
        api_error(r, 400, "invalid_request_error", "messages", "context_length_exceeded",
                  "the conversation is too long");
        goto out;
    }
    if (api_tokenize(s, text.data ? text.data : "", text.len, 1, &g.prompt, &g.n_prompt, r))
        goto out;
    api_generate(s, conn, &g, r);
out:
    api_count_bad(s, r);
    mem_free(g.prompt);
    buf_free(&text);
    cJSON_Delete(req);
}
