// POST /v1/completions, and the generation machinery shared with /v1/chat/completions
// (SPEC §10): request options (max_tokens, temperature, top_p, top_k, seed, stop strings
// and stop token ids, stream, stream_options.include_usage, ignore_eos), submission to the
// deployment, token -> text through the streaming detokenizer, stop strings matched on the
// text (held back while they could still match), and the two response forms: one JSON
// object with usage and finish_reason, or Server-Sent Events ending in "data: [DONE]".
// Nothing blocks: a request with nothing new suspends its connection until the front
// notifies a change (wait.c). A client that goes away (a hang-up seen while suspended, or a
// failed write) cancels its request in the deployment, which frees its KV slot at once.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/clock.h"
#include "base/json_field.h"
#include "base/mem.h"
#include "base/status.h"
#include "http/json.h"

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
    if (final) (void)vocab_detok_end(&t->det); // an incomplete character at the end: dropped
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

// ---- a generation request in progress

// One generation request, streaming or not, from submission to its free: the text so far
// and the request's state at the last look. It runs on libmicrohttpd's threads, one call
// at a time (the handler, then the content reader); it never blocks: with nothing new it
// suspends the connection (wait.c) and returns.
struct api_pending {
    struct api_wait w;
    struct server *s;
    struct front_req *req;
    struct api_gen g;
    char *stop_copy[16]; // owned copies of the stop strings (g.stop_str points here)
    struct textgen t;
    int32_t *tok; // (tok_cap) snapshot of the received tokens
    int32_t tok_cap;
    // the request at the last look (pending_look)
    int32_t n;
    int done, err_code;
    uint32_t reason;
    int32_t np, nc;
    char err_msg[512];
    int outcome; // 0 running, 1 ok, 2 error, 3 cancelled (the client left)
    int64_t created;
    char model[FRONTLINK_MAX_NAME + 1];
    // streaming
    struct buf out; // SSE bytes not yet handed to MHD
    size_t out_off;
    int first;    // no chunk sent yet (chat: role delta)
    int finished; // final events queued
};

// Looks at the request: NEWS (st's snapshot updated) or what wait.c says.
static enum api_wait_state pending_look(struct api_pending *st) {
    struct server *s = st->s;
    pthread_mutex_lock(&s->f.mu);
    struct front_req *r = st->req;
    enum api_wait_state ws = api_wait_poll_locked(&st->w, r->n_tokens != st->n || r->done);
    if (ws == API_WAIT_NEWS) {
        int32_t n = r->n_tokens;
        if (n > st->tok_cap) {
            int32_t *t = mem_realloc(MEM_TAG_SERVER, st->tok, (size_t)n * sizeof *t);
            if (t) {
                st->tok = t;
                st->tok_cap = n;
            }
        }
        if (n <= st->tok_cap) {
            memcpy(st->tok, r->tokens, (size_t)n * sizeof *st->tok);
            st->n = n;
            st->done = r->done;
            st->err_code = r->err_code;
            st->reason = r->finish_reason;
            st->np = r->n_prompt;
            st->nc = r->n_completion;
            snprintf(st->err_msg, sizeof st->err_msg, "%s", r->err_msg);
        } else { // out of memory: end it with an error rather than lose tokens
            st->done = 1;
            st->err_code = FRONTLINK_ERR_INTERNAL;
            snprintf(st->err_msg, sizeof st->err_msg, "out of memory");
        }
    }
    pthread_mutex_unlock(&s->f.mu);
    return ws;
}

static void pending_free(struct api_pending *st) {
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
    api_wait_fini(&st->w);
    front_release(&s->f, st->req); // cancels it in the deployment if it is still running
    textgen_free(&st->t);
    buf_free(&st->out);
    mem_free(st->tok);
    for (int k = 0; k < 16; k++)
        mem_free(st->stop_copy[k]);
    mem_free(st);
}

// ---- streaming

static void sse_event_text(struct api_pending *st, const char *text, size_t len,
                           const char *finish) {
    int rc = sse_event(&st->out, response_json(&st->g, st->req->id, st->created, st->model, 1, 1,
                                               text, len, finish, st->first, 0, 0, 0));
    st->first = 0;
    (void)rc; // a full buffer truncates the stream; the cap is far above one chunk
}

static void stream_finish(struct api_pending *st, uint32_t reason, int err_code,
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
        sse_event_text(st, NULL, 0, reason_str(reason, st->t.stop_hit));
        if (st->g.include_usage)
            (void)!sse_event(b, response_json(&st->g, st->req->id, st->created, st->model, 1, 0,
                                              NULL, 0, NULL, 0, 1, np, nc));
        st->outcome = 1;
    }
    (void)!buf_appendf(b, "data: [DONE]\n\n");
    st->finished = 1;
}

// MHD's content reader: the SSE bytes ready, or 0 after suspending the connection until the
// request changes (libmicrohttpd's supported pattern: "returning zero should only be used
// in conjunction with MHD_suspend_connection()").
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    struct api_pending *st = cls;
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
        switch (pending_look(st)) {
        case API_WAIT_SUSPENDED: return 0;
        case API_WAIT_GONE: // the client hung up while we waited (the free callback cancels)
            st->outcome = 3;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        case API_WAIT_STOPPING:
            stream_finish(st, 0, FRONTLINK_ERR_SHUTDOWN, "the server is shutting down", 0, 0);
            continue;
        case API_WAIT_NEWS: break;
        }
        int done = st->done, err_code = st->err_code;
        textgen_feed(&st->t, &s->vocab, &st->g, st->tok, st->n, done && !err_code);
        if (st->t.stop_hit) front_cancel(&s->f, st->req);
        int final = st->t.stop_hit || (done && !err_code);
        size_t safe = textgen_safe(&st->t, &st->g, final);
        if (safe > st->t.emitted) {
            sse_event_text(st, st->t.text.data + st->t.emitted, safe - st->t.emitted, NULL);
            st->t.emitted = safe;
        }
        if (st->t.stop_hit) {
            // Counted by the controller when the CANCEL lands; report what we know now.
            stream_finish(st, FRONTLINK_REASON_STOP, 0, NULL, st->np ? st->np : st->g.n_prompt,
                          st->t.n_used);
        } else if (done) {
            stream_finish(st, st->reason, err_code, st->err_msg, st->np, st->nc);
        }
    }
}

static void stream_free(void *cls) { pending_free(cls); }

// ---- non-streaming

void api_pending_step(struct server *s, struct api_reply *r) {
    struct api_pending *st = r->pending;
    const struct api_gen *g = &st->g;
    for (;;) {
        enum api_wait_state ws = pending_look(st);
        if (ws == API_WAIT_SUSPENDED) return; // r->pending stays: called again on resume
        if (ws == API_WAIT_GONE) {
            st->outcome = 3;
            api_error(r, 499, "invalid_request_error", NULL, "client_closed_request",
                      "client went away");
            break;
        }
        if (ws == API_WAIT_STOPPING) {
            st->outcome = 2;
            api_error(r, 503, "service_unavailable", NULL, "shutting_down",
                      "the server is shutting down");
            break;
        }
        int done = st->done, err_code = st->err_code;
        uint32_t reason = st->reason;
        int32_t np = st->np, nc = st->nc;
        textgen_feed(&st->t, &s->vocab, g, st->tok, st->n, done && !err_code);
        if (st->t.stop_hit) {
            front_cancel(&s->f, st->req);
            reason = FRONTLINK_REASON_STOP;
            nc = st->t.n_used;
            np = g->n_prompt;
            done = 1;
            err_code = 0;
        }
        if (!done) continue;
        if (err_code) {
            st->outcome = 2;
            map_error(r, err_code, st->err_msg);
            break;
        }
        st->outcome = 1;
        int e = api_json_reply(r, 200,
                               response_json(g, st->req->id, st->created, st->model, 0, 1,
                                             st->t.text.data ? st->t.text.data : "", st->t.text.len,
                                             reason_str(reason, st->t.stop_hit), 1, 1, np, nc));
        if (e) {
            buf_reset(&r->body);
            api_error(r, 500, "server_error", NULL, NULL, "response too large");
        } else {
            r->status = 200;
        }
        break;
    }
    r->pending = NULL;
    pending_free(st);
}

void api_pending_free(struct server *s, struct api_pending *p) {
    (void)s;
    if (p->outcome == 0) p->outcome = 3; // the connection ended before the response
    pending_free(p);
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
    // The one place a request is refused for capacity, before any response starts.
    int rc = front_submit(&s->f, &sub, &req, err, sizeof err);
    if (rc == JANUS_EAGAIN) {
        api_error(r, 429, "rate_limit_error", NULL, "rate_limit_exceeded", "%s", err);
        return;
    }
    if (rc) {
        api_error(r, 503, "service_unavailable", NULL, "not_ready", "%s", err);
        return;
    }
    struct api_pending *st = mem_calloc(MEM_TAG_SERVER, 1, sizeof *st);
    if (!st || textgen_init(&st->t, &s->vocab)) {
        if (st) textgen_free(&st->t);
        mem_free(st);
        front_release(&s->f, req);
        api_error(r, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    st->s = s;
    st->req = req;
    st->g = *g;
    st->g.prompt = NULL;
    for (int k = 0; k < g->n_stop_str; k++) { // g's strings point into the request JSON
        st->stop_copy[k] = mem_strdup(MEM_TAG_SERVER, g->stop_str[k]);
        st->g.stop_str[k] = st->stop_copy[k] ? st->stop_copy[k] : "";
    }
    st->first = 1;
    st->created = clock_wall_ms() / 1000;
    pthread_mutex_lock(&s->f.mu);
    snprintf(st->model, sizeof st->model, "%s", s->f.model_name);
    pthread_mutex_unlock(&s->f.mu);
    buf_init(&st->out, SSE_BUF_MAX);
    api_wait_init(s, &st->w, conn, req);

    if (!g->stream) { // answered once it ends; the connection is suspended meanwhile
        r->pending = st;
        api_pending_step(s, r);
        return;
    }
    r->resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st, stream_free);
    if (!r->resp) {
        pending_free(st);
        api_error(r, 500, "server_error", NULL, NULL, "cannot create the response");
        return;
    }
    MHD_add_response_header(r->resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(r->resp, "Cache-Control", "no-cache");
    r->status = 200;
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
