// POST /v1/completions, and the generation machinery shared with /v1/chat/completions
// (SPEC §10): request options (max_tokens, temperature, top_p, top_k, seed, stop strings
// and stop token ids, stream, stream_options.include_usage, ignore_eos), submission to the
// deployment, token -> text through the streaming detokenizer, stop strings matched on the
// text (held back while they could still match), and the two response forms: one JSON
// object with usage and finish_reason, or Server-Sent Events ending in "data: [DONE]".
// A client that goes away (socket hang-up seen while waiting, or a failed write) cancels
// its request in the deployment, which frees its KV slot at once.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/clock.h"
#include "base/json_field.h"
#include "base/mem.h"
#include "base/status.h"
#include "http/json.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#define MAX_STOP_STR_LEN 256
#define SSE_BUF_MAX      (1u << 20)

// ---- options

static int stop_strings(const cJSON *req, struct api_gen *g, struct api_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "stop");
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsString(v)) {
        if (!v->valuestring[0]) return 0;
        if (strlen(v->valuestring) > MAX_STOP_STR_LEN) goto bad;
        g->stop_str[g->n_stop_str++] = v->valuestring;
        return 0;
    }
    if (!cJSON_IsArray(v)) goto bad;
    for (const cJSON *e = v->child; e; e = e->next) {
        if (!cJSON_IsString(e) || strlen(e->valuestring) > MAX_STOP_STR_LEN) goto bad;
        if (!e->valuestring[0]) continue;
        if (g->n_stop_str >= (int)JANUS_ARRAY_SIZE(g->stop_str)) {
            api_error(r, 400, "invalid_request_error", "stop", NULL,
                      "'stop' has more than %d strings", (int)JANUS_ARRAY_SIZE(g->stop_str));
            return JANUS_EINVAL;
        }
        g->stop_str[g->n_stop_str++] = e->valuestring;
    }
    return 0;
bad:
    api_error(r, 400, "invalid_request_error", "stop", NULL,
              "'stop' must be a string or an array of strings of at most %d bytes",
              MAX_STOP_STR_LEN);
    return JANUS_EINVAL;
}

int api_parse_common(struct server *s, const cJSON *req, enum api_kind kind, struct api_gen *g,
                     struct api_reply *r) {
    char err[JANUS_ERR_LEN];
    memset(g, 0, sizeof *g);
    g->kind = kind;
    pthread_mutex_lock(&s->f.mu);
    struct frontlink_ready rd = s->f.ready;
    char name[FRONTLINK_MAX_NAME + 1];
    snprintf(name, sizeof name, "%s", s->f.model_name);
    pthread_mutex_unlock(&s->f.mu);
    int rc;
#define BAD(param)                                                                                 \
    do {                                                                                           \
        api_error(r, 400, "invalid_request_error", param, NULL, "%s", err);                        \
        return JANUS_EINVAL;                                                                       \
    } while (0)
    const char *model = NULL;
    rc = json_field_strref(req, "model", 1024, &model, err, sizeof err);
    if (rc == JANUS_EINVAL) BAD("model");
    if (model && strcmp(model, name) != 0) {
        api_error(r, 404, "invalid_request_error", "model", "model_not_found",
                  "The model '%s' does not exist; this server serves '%s'", model, name);
        return JANUS_ENOTFOUND;
    }
    int64_t limit = s->p.max_tokens > 0 ? s->p.max_tokens : (int64_t)rd.n_ctx;
    int64_t mt = kind == API_COMPLETION ? 16 : -1;
    rc = json_field_i64(req, kind == API_CHAT ? "max_completion_tokens" : "max_tokens", 1, limit,
                        &mt, err, sizeof err);
    if (rc == JANUS_ENOTFOUND && kind == API_CHAT)
        rc = json_field_i64(req, "max_tokens", 1, limit, &mt, err, sizeof err);
    if (rc == JANUS_EINVAL) BAD("max_tokens");
    g->max_tokens = (int32_t)mt; // -1: chat default, resolved once the prompt is known
    double temp = 1.0, top_p = 1.0;
    int64_t top_k = 0, seed = -1, n = 1;
    if (json_field_f64(req, "temperature", 0, 2, &temp, err, sizeof err) == JANUS_EINVAL)
        BAD("temperature");
    if (json_field_f64(req, "top_p", 1e-9, 1, &top_p, err, sizeof err) == JANUS_EINVAL)
        BAD("top_p");
    if (json_field_i64(req, "top_k", -1, rd.n_vocab, &top_k, err, sizeof err) == JANUS_EINVAL)
        BAD("top_k");
    if (json_field_i64(req, "seed", INT64_MIN, INT64_MAX, &seed, err, sizeof err) == JANUS_EINVAL)
        BAD("seed");
    if (json_field_i64(req, "n", 1, 1, &n, err, sizeof err) == JANUS_EINVAL) {
        api_error(r, 400, "invalid_request_error", "n", NULL, "only n = 1 is supported");
        return JANUS_EINVAL;
    }
    int flag = 0;
    if (json_field_bool(req, "echo", &flag, err, sizeof err) == JANUS_EINVAL) BAD("echo");
    if (flag) {
        api_error(r, 400, "invalid_request_error", "echo", NULL, "'echo' is not supported");
        return JANUS_EINVAL;
    }
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(req, "logprobs");
    if (lp && !cJSON_IsNull(lp) && !cJSON_IsFalse(lp) &&
        !(cJSON_IsNumber(lp) && lp->valuedouble == 0)) {
        api_error(r, 400, "invalid_request_error", "logprobs", NULL, "'logprobs' is not supported");
        return JANUS_EINVAL;
    }
    g->sampling.temperature = (float)temp;
    g->sampling.top_p = (float)top_p;
    g->sampling.top_k = top_k < 0 ? 0 : (int32_t)top_k;
    g->sampling.seed = seed >= 0 || seed < -1 ? (uint64_t)seed : (uint64_t)clock_now_ns();
    int ignore_eos = 0;
    if (json_field_bool(req, "ignore_eos", &ignore_eos, err, sizeof err) == JANUS_EINVAL)
        BAD("ignore_eos");
    if (ignore_eos) g->flags |= FRONTLINK_FLAG_IGNORE_EOS;
    if ((rc = stop_strings(req, g, r)) != JANUS_OK) return rc;
    const cJSON *ids = NULL;
    if (json_field_array(req, "stop_token_ids", &ids, err, sizeof err) == JANUS_EINVAL)
        BAD("stop_token_ids");
    for (const cJSON *e = ids ? ids->child : NULL; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= rd.n_vocab ||
            e->valuedouble != (double)(int32_t)e->valuedouble ||
            g->n_stop_ids >= FRONTLINK_MAX_STOP) {
            api_error(r, 400, "invalid_request_error", "stop_token_ids", NULL,
                      "'stop_token_ids' must be at most %d token ids below %u", FRONTLINK_MAX_STOP,
                      rd.n_vocab);
            return JANUS_EINVAL;
        }
        g->stop_ids[g->n_stop_ids++] = (int32_t)e->valuedouble;
    }
    if (json_field_bool(req, "stream", &g->stream, err, sizeof err) == JANUS_EINVAL) BAD("stream");
    const cJSON *so = NULL;
    if (json_field_object(req, "stream_options", &so, err, sizeof err) == JANUS_EINVAL)
        BAD("stream_options");
    if (so) {
        if (!g->stream) {
            api_error(r, 400, "invalid_request_error", "stream_options", NULL,
                      "'stream_options' is only allowed with 'stream': true");
            return JANUS_EINVAL;
        }
        if (json_field_bool(so, "include_usage", &g->include_usage, err, sizeof err) ==
            JANUS_EINVAL)
            BAD("stream_options.include_usage");
    }
#undef BAD
    return 0;
}

int api_tokenize(struct server *s, const char *text, size_t len, int parse_special, int32_t **out,
                 int32_t *n_out, struct api_reply *r) {
    int32_t cap = (int32_t)JANUS_MIN((int64_t)s->f.ready.n_ctx + 1, (int64_t)FRONTLINK_MAX_PROMPT);
    int32_t *ids = mem_alloc(MEM_TAG_SERVER, (size_t)cap * sizeof *ids);
    if (!ids) {
        api_error(r, 500, "server_error", NULL, NULL, "out of memory");
        return JANUS_ENOMEM;
    }
    int n = vocab_tokenize(&s->vocab, text, len, 1, parse_special, ids, cap);
    if (n == JANUS_ELIMIT) {
        mem_free(ids);
        api_error(r, 400, "invalid_request_error", "prompt", "context_length_exceeded",
                  "the prompt is longer than the context (%u tokens)", s->f.ready.n_ctx);
        return JANUS_ELIMIT;
    }
    if (n < 0) {
        mem_free(ids);
        api_error(r, 400, "invalid_request_error", "prompt", NULL, "cannot tokenize the prompt: %s",
                  janus_strerror(n));
        return JANUS_EINVAL;
    }
    *out = ids;
    *n_out = n;
    return 0;
}

// ---- text assembly and stop strings

struct textgen {
    struct vocab_detok det;
    struct buf text; // generated text so far (stop string and after removed once hit)
    size_t emitted;  // bytes of text already sent (streaming)
    int32_t n_used;  // tokens consumed
    int stop_hit;    // a stop string matched
    char *piece;     // (piece_cap) detokenizer scratch
    size_t piece_cap;
};

static int textgen_init(struct textgen *t, const struct vocab *v) {
    memset(t, 0, sizeof *t);
    buf_init(&t->text, 64u << 20);
    t->piece_cap = vocab_detok_max_out(v);
    t->piece = mem_alloc(MEM_TAG_SERVER, t->piece_cap);
    return t->piece ? 0 : -1;
}

static void textgen_free(struct textgen *t) {
    buf_free(&t->text);
    mem_free(t->piece);
}

long api_stop_find(const struct api_gen *g, const char *text, size_t len, size_t from) {
    long best = -1;
    for (int k = 0; k < g->n_stop_str; k++) {
        size_t sl = strlen(g->stop_str[k]);
        if (sl > len) continue;
        for (size_t i = from; i + sl <= len; i++)
            if (!memcmp(text + i, g->stop_str[k], sl)) {
                if (best < 0 || (long)i < best) best = (long)i;
                break;
            }
    }
    return best;
}

size_t api_stop_holdback(const struct api_gen *g, const char *text, size_t len, size_t from) {
    size_t hold = 0;
    for (int k = 0; k < g->n_stop_str; k++) {
        size_t sl = strlen(g->stop_str[k]);
        for (size_t p = sl - 1; p > hold; p--) {
            if (p > len - from) continue;
            if (!memcmp(text + len - p, g->stop_str[k], p)) {
                hold = p;
                break;
            }
        }
    }
    return hold;
}

// Feeds tokens[t->n_used..n) into the text; on a stop string match truncates the text there
// and sets stop_hit. final: the request ended, flush the detokenizer.
static void textgen_feed(struct textgen *t, const struct vocab *v, const struct api_gen *g,
                         const int32_t *tokens, int32_t n, int final) {
    size_t scan_from = t->text.len;
    for (; t->n_used < n && !t->stop_hit; t->n_used++) {
        int nb = vocab_detok_push(v, &t->det, tokens[t->n_used], 0, t->piece, t->piece_cap);
        if (nb > 0 && buf_append(&t->text, t->piece, (size_t)nb) != JANUS_OK) break;
    }
    if (final && !t->stop_hit) {
        int nb = vocab_detok_flush(&t->det, t->piece, t->piece_cap);
        if (nb > 0) (void)!buf_append(&t->text, t->piece, (size_t)nb);
    }
    if (g->n_stop_str && !t->stop_hit) {
        size_t longest = 0;
        for (int k = 0; k < g->n_stop_str; k++)
            longest = JANUS_MAX(longest, strlen(g->stop_str[k]));
        size_t from = scan_from > longest ? scan_from - longest : 0;
        from = JANUS_MAX(from, t->emitted > longest ? t->emitted - longest : 0);
        long at = api_stop_find(g, t->text.data ? t->text.data : "", t->text.len, from);
        if (at >= 0 && (size_t)at >= t->emitted) {
            t->text.len = (size_t)at;
            if (t->text.data) t->text.data[at] = 0;
            t->stop_hit = 1;
        }
    }
}

// Bytes of text that can be sent now.
static size_t textgen_safe(const struct textgen *t, const struct api_gen *g, int final) {
    if (final || t->stop_hit || !g->n_stop_str) return t->text.len;
    size_t h = api_stop_holdback(g, t->text.data, t->text.len, t->emitted);
    return t->text.len - h > t->emitted ? t->text.len - h : t->emitted;
}

// ---- response bodies

static const char *reason_str(uint32_t reason, int stop_hit) {
    if (stop_hit) return "stop";
    return reason == FRONTLINK_REASON_LENGTH ? "length" : "stop";
}

static void map_error(struct api_reply *r, int code, const char *msg) {
    switch (code) {
    case FRONTLINK_ERR_QUEUE_FULL:
        api_error(r, 429, "rate_limit_error", NULL, "rate_limit_exceeded", "%s", msg);
        break;
    case FRONTLINK_ERR_INVALID:
        api_error(r, 400, "invalid_request_error", NULL, NULL, "%s", msg);
        break;
    case FRONTLINK_ERR_TOO_LONG:
        api_error(r, 400, "invalid_request_error", "max_tokens", "context_length_exceeded", "%s",
                  msg);
        break;
    case FRONTLINK_ERR_JOB:
        api_error(r, 503, "service_unavailable", NULL, "deployment_failed", "%s", msg);
        break;
    case FRONTLINK_ERR_SHUTDOWN: // issue 15 item 6
        api_error(r, 503, "service_unavailable", NULL, "shutting_down", "%s", msg);
        break;
    default: api_error(r, 500, "server_error", NULL, NULL, "%s", msg); break;
    }
}

static cJSON *usage_json(int32_t np, int32_t nc) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", np);
    cJSON_AddNumberToObject(u, "completion_tokens", nc);
    cJSON_AddNumberToObject(u, "total_tokens", (double)np + nc);
    return u;
}

// A response object or chunk {"id","object","created","model","choices":[]}; the caller
// adds the choice (and usage). NULL when out of memory.
static cJSON *obj_head(const struct api_gen *g, uint64_t id, int64_t created, const char *model,
                       int chunk, cJSON **choices) {
    const char *obj = g->kind == API_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                          : "text_completion";
    char idt[48];
    snprintf(idt, sizeof idt, "%s-%llu", g->kind == API_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)id);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", idt);
    cJSON_AddStringToObject(o, "object", obj);
    cJSON_AddNumberToObject(o, "created", (double)created);
    cJSON_AddItemToObject(o, "model", json_string(model, strlen(model)));
    *choices = cJSON_AddArrayToObject(o, "choices");
    return o;
}

// One choice carrying text (NULL: none, for a chat chunk) and finish_reason (or null).
static cJSON *choice(const struct api_gen *g, const char *text, size_t len, const char *finish,
                     int chunk, int first) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    if (g->kind == API_CHAT) {
        cJSON *m = cJSON_AddObjectToObject(c, chunk ? "delta" : "message");
        if (m && (!chunk || first)) cJSON_AddStringToObject(m, "role", "assistant");
        if (m && (text || !chunk))
            cJSON_AddItemToObject(m, "content", json_string(text ? text : "", text ? len : 0));
    } else {
        cJSON_AddItemToObject(c, "text", json_string(text ? text : "", text ? len : 0));
    }
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddItemToObject(c, "finish_reason",
                          finish ? cJSON_CreateString(finish) : cJSON_CreateNull());
    return c;
}

// A whole response: head, one choice (unless text and finish are both absent in a usage
// chunk: with_choice 0) and usage (with_usage).
static cJSON *response_json(const struct api_gen *g, uint64_t id, int64_t created,
                            const char *model, int chunk, int with_choice, const char *text,
                            size_t len, const char *finish, int first, int with_usage, int32_t np,
                            int32_t nc) {
    cJSON *choices, *o = obj_head(g, id, created, model, chunk, &choices);
    if (o && with_choice) cJSON_AddItemToArray(choices, choice(g, text, len, finish, chunk, first));
    if (o && with_usage) cJSON_AddItemToObject(o, "usage", usage_json(np, nc));
    return o;
}

// Appends "data: <doc>\n\n" to b (an SSE event); takes ownership of doc.
static int sse_event(struct buf *b, cJSON *doc) {
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) return JANUS_ENOMEM;
    int rc = buf_appendf(b, "data: %s\n\n", text);
    cJSON_free(text);
    return rc;
}

// ---- waiting with disconnect detection

static int client_gone(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
    if (!ci) return 0;
    struct pollfd p = {ci->connect_fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

// ---- streaming

struct stream {
    struct server *s;
    struct MHD_Connection *conn;
    struct front_req *req;
    struct api_gen g;
    char *stop_copy[16]; // owned copies of the stop strings (g.stop_str points here)
    struct textgen t;
    struct buf out; // SSE bytes not yet handed to MHD
    size_t out_off;
    int first;    // no chunk sent yet (chat: role delta)
    int finished; // final events queued
    int outcome;  // 0 running, 1 ok, 2 error, 3 cancelled
    int32_t *tok; // (cap) snapshot of received tokens
    int32_t tok_cap;
    int64_t created;
    char model[FRONTLINK_MAX_NAME + 1];
};

static void sse_event_text(struct stream *st, const char *text, size_t len, const char *finish) {
    int rc = sse_event(&st->out, response_json(&st->g, st->req->id, st->created, st->model, 1, 1,
                                               text, len, finish, st->first, 0, 0, 0));
    st->first = 0;
    (void)rc; // a full buffer truncates the stream; the cap is far above one chunk
}

static void stream_finish(struct stream *st, int done, uint32_t reason, int err_code,
                          const char *err_msg, int32_t np, int32_t nc) {
    struct buf *b = &st->out;
    if (err_code) {
        struct api_reply e;
        memset(&e, 0, sizeof e);
        buf_init(&e.body, 4096);
        map_error(&e, err_code, err_msg);
        (void)!buf_appendf(b, "data: %s\n\n", e.body.data ? e.body.data : "{}");
        buf_free(&e.body);
        st->outcome = 2;
    } else {
        (void)done;
        sse_event_text(st, NULL, 0, reason_str(reason, st->t.stop_hit));
        if (st->g.include_usage)
            (void)!sse_event(b, response_json(&st->g, st->req->id, st->created, st->model, 1, 0,
                                              NULL, 0, NULL, 0, 1, np, nc));
        st->outcome = 1;
    }
    (void)!buf_appendf(b, "data: [DONE]\n\n");
    st->finished = 1;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    struct stream *st = cls;
    struct server *s = st->s;
    (void)pos;
    for (;;) {
        if (st->out_off < st->out.len) {
            size_t n = JANUS_MIN(max, st->out.len - st->out_off);
            memcpy(buf, st->out.data + st->out_off, n);
            st->out_off += n;
            if (st->out_off == st->out.len) {
                buf_reset(&st->out);
                st->out_off = 0;
            }
            return (ssize_t)n;
        }
        if (st->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        // Wait for news.
        pthread_mutex_lock(&s->f.mu);
        struct front_req *r = st->req;
        int waited = 0;
        while (r->n_tokens == st->t.n_used && !r->done && !s->f.stopping) {
            if (waited++ > 0 && client_gone(st->conn)) break;
            front_wait_locked(&s->f, r, 100);
        }
        int32_t n = r->n_tokens, done = r->done, err_code = r->err_code;
        uint32_t reason = r->finish_reason;
        int32_t np = r->n_prompt, nc = r->n_completion;
        char err_msg[256];
        snprintf(err_msg, sizeof err_msg, "%s", r->err_msg);
        if (n > st->tok_cap) {
            int32_t *t = mem_realloc(MEM_TAG_SERVER, st->tok, (size_t)n * sizeof *t);
            if (t) {
                st->tok = t;
                st->tok_cap = n;
            } else {
                n = st->tok_cap;
            }
        }
        memcpy(st->tok, r->tokens, (size_t)n * sizeof *st->tok);
        pthread_mutex_unlock(&s->f.mu);
        if (n == st->t.n_used && !done) {
            if (s->f.stopping) {
                stream_finish(st, 0, 0, FRONTLINK_ERR_SHUTDOWN, "the server is shutting down", 0,
                              0);
                continue;
            }
            // The client hung up while we waited: stop here (the free callback cancels).
            st->outcome = 3;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        textgen_feed(&st->t, &s->vocab, &st->g, st->tok, n, done && !err_code);
        if (st->t.stop_hit) front_cancel(&s->f, r);
        int final = st->t.stop_hit || (done && !err_code);
        size_t safe = textgen_safe(&st->t, &st->g, final);
        if (safe > st->t.emitted) {
            sse_event_text(st, st->t.text.data + st->t.emitted, safe - st->t.emitted, NULL);
            st->t.emitted = safe;
        }
        if (st->t.stop_hit) {
            // Counted by the controller when the CANCEL lands; report what we know now.
            stream_finish(st, 1, FRONTLINK_REASON_STOP, 0, NULL, np ? np : st->g.n_prompt,
                          st->t.n_used);
        } else if (done) {
            stream_finish(st, 1, reason, err_code, err_msg, np, nc);
        }
    }
}

static void stream_free(void *cls) {
    struct stream *st = cls;
    struct server *s = st->s;
    pthread_mutex_lock(&s->f.mu);
    int was_done = st->req->done;
    if (st->outcome == 1)
        s->f.m.req_ok++;
    else if (st->outcome == 2)
        s->f.m.req_error++;
    else {
        s->f.m.req_cancelled++;
        if (!was_done || st->outcome == 3) s->f.m.client_disconnects++;
    }
    pthread_mutex_unlock(&s->f.mu);
    front_release(&s->f, st->req); // cancels it in the deployment if it is still running
    textgen_free(&st->t);
    buf_free(&st->out);
    mem_free(st->tok);
    for (int k = 0; k < 16; k++)
        mem_free(st->stop_copy[k]);
    mem_free(st);
}

// ---- the shared entry

static int validate_lengths(struct server *s, struct api_gen *g, struct api_reply *r) {
    const struct frontlink_ready *rd = &s->f.ready;
    int64_t max_prompt = s->p.max_prompt > 0 ? s->p.max_prompt : (int64_t)rd->n_ctx - 1;
    const char *pp = g->kind == API_CHAT ? "messages" : "prompt";
    if (g->n_prompt < 1) {
        api_error(r, 400, "invalid_request_error", pp, NULL, "the prompt is empty");
        return JANUS_EINVAL;
    }
    if (g->n_prompt > max_prompt) {
        api_error(r, 400, "invalid_request_error", pp, "context_length_exceeded",
                  "the prompt has %d tokens; the limit is %lld", g->n_prompt,
                  (long long)max_prompt);
        return JANUS_EINVAL;
    }
    int64_t room = JANUS_MIN((int64_t)rd->n_ctx, rd->kv_tokens) - g->n_prompt;
    if (g->max_tokens < 0) { // chat default: the rest of the context, within the limit
        int64_t limit = s->p.max_tokens > 0 ? s->p.max_tokens : (int64_t)rd->n_ctx;
        g->max_tokens = (int32_t)JANUS_MAX(1, JANUS_MIN(room, limit));
    }
    if (g->max_tokens > room) {
        api_error(r, 400, "invalid_request_error", "max_tokens", "context_length_exceeded",
                  "prompt (%d tokens) + max_tokens (%d) exceeds the context length (%lld tokens)",
                  g->n_prompt, g->max_tokens, (long long)(room + g->n_prompt));
        return JANUS_EINVAL;
    }
    for (int32_t i = 0; i < g->n_prompt; i++)
        if (g->prompt[i] < 0 || (uint32_t)g->prompt[i] >= rd->n_vocab) {
            api_error(r, 400, "invalid_request_error", pp, NULL,
                      "prompt token %d at index %d is outside the vocabulary (%u tokens)",
                      g->prompt[i], i, rd->n_vocab);
            return JANUS_EINVAL;
        }
    return 0;
}

void api_generate(struct server *s, struct MHD_Connection *conn, struct api_gen *g,
                  struct api_reply *r) {
    if (validate_lengths(s, g, r)) return;
    struct frontlink_submit sub;
    memset(&sub, 0, sizeof sub);
    sub.max_tokens = g->max_tokens;
    sub.sampling = g->sampling;
    sub.flags = g->flags;
    sub.n_stop = g->n_stop_ids;
    memcpy(sub.stop_ids, g->stop_ids, sizeof sub.stop_ids);
    sub.n_prompt = g->n_prompt;
    sub.prompt = g->prompt;
    char err[JANUS_ERR_LEN];
    struct front_req *req = NULL;
    int rc = front_submit(&s->f, &sub, &req, err, sizeof err);
    if (rc == JANUS_EAGAIN) {
        api_error(r, 429, "rate_limit_error", NULL, "rate_limit_exceeded", "%s", err);
        return;
    }
    if (rc) {
        api_error(r, 503, "service_unavailable", NULL, "not_ready", "%s", err);
        return;
    }
    pthread_mutex_lock(&s->f.mu);
    char model[FRONTLINK_MAX_NAME + 1];
    snprintf(model, sizeof model, "%s", s->f.model_name);
    pthread_mutex_unlock(&s->f.mu);
    int64_t created = clock_wall_ms() / 1000;

    if (g->stream) {
        struct stream *st = mem_calloc(MEM_TAG_SERVER, 1, sizeof *st);
        if (!st || textgen_init(&st->t, &s->vocab)) {
            if (st) textgen_free(&st->t);
            mem_free(st);
            front_release(&s->f, req);
            api_error(r, 500, "server_error", NULL, NULL, "out of memory");
            return;
        }
        st->s = s;
        st->conn = conn;
        st->req = req;
        st->g = *g;
        st->g.prompt = NULL;
        for (int k = 0; k < g->n_stop_str; k++) {
            st->stop_copy[k] = mem_strdup(MEM_TAG_SERVER, g->stop_str[k]);
            st->g.stop_str[k] = st->stop_copy[k] ? st->stop_copy[k] : "";
        }
        st->first = 1;
        st->created = created;
        snprintf(st->model, sizeof st->model, "%s", model);
        buf_init(&st->out, SSE_BUF_MAX);
        r->resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
                                                    stream_free);
        if (!r->resp) {
            stream_free(st);
            api_error(r, 500, "server_error", NULL, NULL, "cannot create the response");
            return;
        }
        MHD_add_response_header(r->resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(r->resp, "Cache-Control", "no-cache");
        r->status = 200;
        return;
    }

    // Non-streaming: wait for the end here (one thread per connection), watching the client.
    struct textgen t;
    if (textgen_init(&t, &s->vocab)) {
        front_release(&s->f, req);
        api_error(r, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    int32_t *tok = NULL, tok_cap = 0;
    int outcome = 0;
    int64_t last_check = clock_now_ns();
    for (;;) {
        int gone = 0;
        if (clock_now_ns() - last_check > 100 * 1000000) { // tokens may flow faster than that
            gone = client_gone(conn);
            last_check = clock_now_ns();
        }
        pthread_mutex_lock(&s->f.mu);
        int waited = 0;
        while (!gone && req->n_tokens == t.n_used && !req->done && !s->f.stopping) {
            if (waited++ > 0 && client_gone(conn)) {
                gone = 1;
                break;
            }
            front_wait_locked(&s->f, req, 100);
        }
        int32_t n = req->n_tokens, done = req->done, err_code = req->err_code;
        uint32_t reason = req->finish_reason;
        int32_t np = req->n_prompt, nc = req->n_completion;
        char msg[256];
        snprintf(msg, sizeof msg, "%s", req->err_msg);
        if (n > tok_cap) {
            int32_t *nt = mem_realloc(MEM_TAG_SERVER, tok, (size_t)n * sizeof *nt);
            if (nt)
                tok = nt, tok_cap = n;
            else
                n = tok_cap;
        }
        if (n) memcpy(tok, req->tokens, (size_t)n * sizeof *tok);
        int stopping = s->f.stopping;
        pthread_mutex_unlock(&s->f.mu);
        if (gone) {
            outcome = 3;
            api_error(r, 499, "invalid_request_error", NULL, "client_closed_request",
                      "client went away");
            break;
        }
        if (!done && stopping && n == t.n_used) {
            outcome = 2;
            api_error(r, 503, "service_unavailable", NULL, "shutting_down",
                      "the server is shutting down");
            break;
        }
        textgen_feed(&t, &s->vocab, g, tok, n, done && !err_code);
        if (t.stop_hit) {
            front_cancel(&s->f, req);
            reason = FRONTLINK_REASON_STOP;
            nc = t.n_used;
            np = g->n_prompt;
            done = 1;
            err_code = 0;
        }
        if (!done) continue;
        if (err_code) {
            outcome = 2;
            map_error(r, err_code, msg);
            break;
        }
        outcome = 1;
        int e = api_json_reply(r, 200,
                               response_json(g, req->id, created, model, 0, 1,
                                             t.text.data ? t.text.data : "", t.text.len,
                                             reason_str(reason, t.stop_hit), 1, 1, np, nc));
        if (e) {
            buf_reset(&r->body);
            api_error(r, 500, "server_error", NULL, NULL, "response too large");
        } else {
            r->status = 200;
        }
        break;
    }
    pthread_mutex_lock(&s->f.mu);
    if (outcome == 1)
        s->f.m.req_ok++;
    else if (outcome == 2)
        s->f.m.req_error++;
    else {
        s->f.m.req_cancelled++;
        s->f.m.client_disconnects++;
    }
    pthread_mutex_unlock(&s->f.mu);
    mem_free(tok);
    textgen_free(&t);
    front_release(&s->f, req);
}

// ---- POST /v1/completions

void api_completions(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                     struct api_reply *r) {
    cJSON *req = NULL;
    struct api_gen g;
    memset(&g, 0, sizeof g);
    if (api_parse_body(s, body, len, &req, r)) goto out;
    if (api_parse_common(s, req, API_COMPLETION, &g, r)) goto out;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    if (p && cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(p->child))
        p = p->child; // ["text"]
    if (!p || cJSON_IsNull(p)) {
        api_error(r, 400, "invalid_request_error", "prompt", NULL, "'prompt' is required");
        goto out;
    }
    if (cJSON_IsString(p)) {
        if (api_tokenize(s, p->valuestring, strlen(p->valuestring), 0, &g.prompt, &g.n_prompt, r))
            goto out;
    } else if (cJSON_IsArray(p)) {
        int n = cJSON_GetArraySize(p);
        int64_t cap = (int64_t)s->f.ready.n_ctx;
        if (n > cap) {
            api_error(r, 400, "invalid_request_error", "prompt", "context_length_exceeded",
                      "the prompt has %d tokens; the context holds %lld", n, (long long)cap);
            goto out;
        }
        g.prompt = mem_alloc(MEM_TAG_SERVER, (size_t)(n ? n : 1) * sizeof *g.prompt);
        if (!g.prompt) {
            api_error(r, 500, "server_error", NULL, NULL, "out of memory");
            goto out;
        }
        for (const cJSON *e = p->child; e; e = e->next) {
            if (!cJSON_IsNumber(e) || e->valuedouble != (double)(int32_t)e->valuedouble) {
                api_error(r, 400, "invalid_request_error", "prompt", NULL,
                          "'prompt' must be a string, an array of token ids, or one string in an "
                          "array (batched prompts are not supported)");
                goto out;
            }
            g.prompt[g.n_prompt++] = (int32_t)e->valuedouble;
        }
    } else {
        api_error(r, 400, "invalid_request_error", "prompt", NULL,
                  "'prompt' must be a string or an array of token ids");
        goto out;
    }
    api_generate(s, conn, &g, r);
out:
    api_count_bad(s, r);
    mem_free(g.prompt);
    cJSON_Delete(req);
}
