// Internals shared by the files of src/http/ only (http.c, api_*.c, metrics.c): the server
// context (the front, front/front.h, plus the tokenizer and chat template), the reply an
// endpoint produces, and the endpoints. Locking: the front's mutex (s->f.mu) guards the
// front's state, the counters the endpoints update and the waits (below); lock order: f.mu,
// then libmicrohttpd's own locks (MHD_suspend/resume_connection are called with f.mu held;
// libmicrohttpd calls the handlers without holding its locks).
// SPDX-License-Identifier: MIT
#ifndef JANUS_SERVER_IMPL_H
#define JANUS_SERVER_IMPL_H

#include "base/buf.h"
#include "model/vocab.h"
#include "front/front.h"
#include "model/chat_template.h"
#include "requests/frontlink.h"
#include "http/http.h"

#include <cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sys/types.h>

// ---- the server

struct api_wait;
struct api_pending;

struct server {
    struct http_params p;
    struct front f; // the job and the request registry; f.mu also guards f.m
    struct MHD_Daemon *mhd;
    int port;
    struct vocab vocab;
    int have_vocab;
    enum chat_template chat_template; // from tokenizer.chat_template
    struct api_wait *waits;           // (f.mu) generation requests in progress
    int n_waits;
    pthread_t sweeper;         // wait.c: finds clients that hung up while suspended
    pthread_cond_t sweep_cond; // (f.mu) a first request in progress wakes the sweeper
    int sweeper_started;
    _Atomic int sweep_stop;
    _Atomic int draining; // http_drain was called: new requests get 503
};

// ---- HTTP plumbing (http.c)

// What one HTTP exchange handler produces: either a complete response (status + body) or
// a streaming response already created (resp != NULL).
struct api_reply {
    unsigned status;
    struct buf body; // JSON body (complete responses)
    struct MHD_Response *resp;
    const char *content_type;
    // Non-NULL (status 0): no response yet; the connection is suspended and on_request calls
    // api_pending_step when it is resumed (api_pending_free if it ends before).
    struct api_pending *pending;
};

// ---- waiting on the front without blocking (wait.c)

// Every generation request in progress: its connection, its front request and whether the
// connection is suspended. The handler (in libmicrohttpd's thread) suspends the connection
// when the request has nothing new; the front's notification hook or the sweeper (a client
// that hung up: gone) resumes it, and libmicrohttpd then calls the handler again.
struct api_wait {
    struct server *s;
    struct MHD_Connection *conn;
    struct front_req *req;
    int fd;                       // the connection's socket (the sweeper polls it while suspended)
    int suspended;                // (f.mu) suspended by us and not yet resumed
    int gone;                     // (f.mu) the client hung up while suspended
    int live;                     // between api_wait_init and api_wait_fini
    struct api_wait *prev, *next; // (f.mu) s->waits
};
enum api_wait_state {
    API_WAIT_NEWS = 0,  // something to do: the request changed
    API_WAIT_SUSPENDED, // nothing new: the connection is now suspended; return, no output
    API_WAIT_GONE,      // the client hung up: end the exchange (its free cancels the request)
    API_WAIT_STOPPING,  // nothing new and the server is stopping: end with shutting_down
};
// Registers w for req on conn (libmicrohttpd's thread) and sets req's notification hook.
void api_wait_init(struct server *s, struct api_wait *w, struct MHD_Connection *conn,
                   struct front_req *req);
// Clears the hook and unregisters w (before the front request is released).
void api_wait_fini(struct api_wait *w);
// With f.mu held, in the connection's handler or content reader: news (the request changed
// since the caller last looked) -> NEWS; otherwise suspends the connection (SUSPENDED),
// unless the client is gone or the server is stopping.
enum api_wait_state api_wait_poll_locked(struct api_wait *w, int news);
// The sweeper thread (start once serving; stop before MHD_stop_daemon, after front_stop:
// it also resumes anything still suspended).
JANUS_WUR int api_wait_start(struct server *s);
void api_wait_stop(struct server *s);

// ---- shared by the endpoints (api_common.c)

// Fills r with an OpenAI-shaped error {"error":{"message","type","param","code"}}.
void api_error(struct api_reply *r, unsigned status, const char *type, const char *param,
               const char *code, const char *fmt, ...) JANUS_PRINTF(6, 7);
// Fills r with status and doc printed by cJSON (unformatted); takes ownership of doc (NULL:
// out of memory). JANUS_OK, or JANUS_ENOMEM / JANUS_ELIMIT (r's body then incomplete).
JANUS_WUR int api_json_reply(struct api_reply *r, unsigned status, cJSON *doc);

// ---- the endpoints (one route each in http.c's table)

// body/len: the request body (POST); conn: for disconnect detection and streaming.
typedef void api_handler(struct server *s, struct MHD_Connection *conn, const char *body,
                         size_t len, struct api_reply *r);
api_handler api_completions, api_chat, api_models, api_health, metrics_render;
api_handler api_admin_replace, api_admin_rescale; // api_admin.c

// Shared by completions and chat (api_completions.c): runs a prompt (already tokenized)
// with the parsed options, streaming or not, and fills r.
enum api_kind { API_COMPLETION = 0, API_CHAT = 1 };
struct api_gen {
    enum api_kind kind;
    int32_t *prompt; // owned by the caller
    int32_t n_prompt;
    int32_t max_tokens;
    struct frontlink_sampling sampling;
    uint32_t flags;
    int32_t n_stop_ids;
    int32_t stop_ids[FRONTLINK_MAX_STOP];
    int n_stop_str;
    const char *stop_str[16]; // point into the request JSON
    int stream, include_usage;
};
// Parses a request body that must be one JSON object within the server's size and depth
// limits into *req (cJSON_Delete). Returns JANUS_OK, or fills r with a 400 and returns the
// error status.
JANUS_WUR int api_parse_body(struct server *s, const char *body, size_t len, cJSON **req,
                             struct api_reply *r);
// Counts a finished request that was the client's fault (4xx other than 429/499) in the
// bad-request metric. Call once per request, after r is final.
void api_count_bad(struct server *s, const struct api_reply *r);
// Parses the options common to both endpoints from the request object into g (everything
// but the prompt). Returns JANUS_OK, or fills r with a 400/404 error and returns
// JANUS_EINVAL / JANUS_ENOTFOUND (unknown model).
JANUS_WUR int api_parse_common(struct server *s, const cJSON *req, enum api_kind kind,
                               struct api_gen *g, struct api_reply *r);
// Tokenizes text (add BOS as the vocab says; parse_special for chat templates) into a new
// array (*out, mem_free). Returns JANUS_OK, or fills r with an error and returns
// JANUS_ENOMEM, JANUS_ELIMIT (longer than the context) or JANUS_EINVAL.
JANUS_WUR int api_tokenize(struct server *s, const char *text, size_t len, int parse_special,
                           int32_t **out, int32_t *n_out, struct api_reply *r);
// Submits g. A stream gets its response at once (status 200, resp); a non-streaming request
// gets r->pending (suspended until it ends), or an error.
void api_generate(struct server *s, struct MHD_Connection *conn, struct api_gen *g,
                  struct api_reply *r);
// r->pending's connection was resumed: fills r with the response, or leaves r->pending set
// (suspended again). api_pending_free: the connection ended first (cancels the request).
void api_pending_step(struct server *s, struct api_reply *r);
void api_pending_free(struct server *s, struct api_pending *p);

// Stop strings (api_completions.c). api_stop_find: the earliest match of any of g's stop
// strings in text[0..len) that starts at or after from; -1 if none. api_stop_holdback: how
// many bytes at the end of text, within text[from..len), could be the start of a stop
// string and so must not be sent yet.
long api_stop_find(const struct api_gen *g, const char *text, size_t len, size_t from);
size_t api_stop_holdback(const struct api_gen *g, const char *text, size_t len, size_t from);

// Renders a "messages" array with template t into b (api_chat.c). Returns JANUS_OK,
// JANUS_EINVAL (bad messages: the reason in err), JANUS_ELIMIT (the text exceeds b's cap).
JANUS_WUR int api_chat_render(enum chat_template t, const cJSON *msgs, struct buf *b, char *err,
                              size_t err_len);
// The same, and where the messages' content landed in b (*spans: a new array of *n_spans
// ranges, mem_free; set on JANUS_OK only). Also JANUS_ENOMEM.
JANUS_WUR int api_chat_render_spans(enum chat_template t, const cJSON *msgs, struct buf *b,
                                    struct vocab_span **spans, size_t *n_spans, char *err,
                                    size_t err_len);
// Tokenizes a rendered chat (api_common.c) as api_tokenize does with parse_special, except
// that special-token texts overlapping raw[0..n_raw) (the content) stay plain text
// (vocab_tokenize_raw); n_raw 0: everything is parsed for special tokens.
JANUS_WUR int api_tokenize_chat(struct server *s, const char *text, size_t len,
                                const struct vocab_span *raw, size_t n_raw, int32_t **out,
                                int32_t *n_out, struct api_reply *r);

#endif // JANUS_SERVER_IMPL_H
