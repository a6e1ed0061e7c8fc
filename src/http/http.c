// libmicrohttpd daemon of the HTTP face (http.h) behind the connection gate (gate.h: the
// listening socket, connection caps, header deadline, head checks): epoll with a small
// thread pool and handlers that never block (suspend/resume, wait.c), body deadline (408),
// idle timeout, one request per connection (Connection: close, so every request passes the
// gate), body-size cap (413), optional API key (401), dispatch through one route table
// {method, path, handler} to the endpoint files (404 unknown path, 405 wrong method).
// Lifecycle: tokenizer and chat template from the GGUF, the job (front/front.h), the
// daemon, then the gate.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/gguf_keys.h"
#include "http/gate.h"
#include "http/guard.h"
#include "http/json.h"
#include "http/page.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_LIMIT_HARD (64u << 20)

void http_default_params(struct http_params *p) {
    memset(p, 0, sizeof *p);
    p->host = "127.0.0.1";
    p->port = 8080;
    p->max_body = 1u << 20;
    p->max_depth = JSON_DEFAULT_MAX_DEPTH;
    p->max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    p->max_per_address = 64;
    p->header_timeout_s = 10;
    p->body_timeout_s = 60;
    p->http_threads = HTTP_DEFAULT_THREADS;
    p->timeout_s = 30;
    p->max_inflight = HTTP_DEFAULT_MAX_INFLIGHT;
    p->health_window_ms = 10000;
    p->ready_timeout_s = 600;
    p->max_restarts = 3;
    p->watchdog_s = FRONT_WATCHDOG_FLOOR_S;
    p->watchdog_factor = FRONT_WATCHDOG_FACTOR;
}

// libmicrohttpd's own messages (e.g. a client that hung up mid-response) are routine for a
// server: they go to the log at info level instead of straight to stderr.
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    if (log_get_level() < LOG_LEVEL_INFO) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    LOG_INFO("http: %s", msg);
}

// ---- per-exchange state

struct exchange {
    struct buf body;
    int too_big;
    int64_t t_head_ns;           // when the head was complete (the body deadline starts here)
    struct api_pending *pending; // a generation waiting on the front (api_reply.pending)
};

struct http_server {
    struct server s; // first: on_request's cls is &h->s
    struct conn_gate *gate;
};

static struct conn_gate *gate_of(struct server *s) { return ((struct http_server *)s)->gate; }

// The gate hands over a socket whose complete, checked request head is waiting.
static _Thread_local int handoff_started;
static char started_mark;

static int gate_handoff(void *cls, int fd, const struct sockaddr *addr, socklen_t len) {
    struct server *s = cls;
    handoff_started = 0;
    if (MHD_add_connection(s->mhd, fd, addr, len) == MHD_YES) return 0;
    return handoff_started ? 0 : -1; // started: its CLOSED notification frees the place
}

// A connection libmicrohttpd closes gives its place in the gate's caps back.
static void on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
                          enum MHD_ConnectionNotificationCode code) {
    struct server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *ctx = &started_mark;
        handoff_started = 1;
        return;
    }
    if (*ctx != &started_mark) return;
    *ctx = NULL;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) conn_gate_release(gate_of(s), ci->client_addr);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct api_reply *r) {
    struct MHD_Response *resp = r->resp;
    if (!resp) {
        size_t n = r->body.len;
        char *data = buf_take(&r->body, &n);
        // MHD frees with free(); our allocator counts bytes, so hand MHD a copy it owns.
        resp = MHD_create_response_from_buffer(n, data ? data : (void *)"", MHD_RESPMEM_MUST_COPY);
        mem_free(data);
        if (!resp) return MHD_NO;
        MHD_add_response_header(resp, "Content-Type",
                                r->content_type ? r->content_type : "application/json");
    }
    if (r->status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    if (r->status == 429) MHD_add_response_header(resp, "Retry-After", "1"); // seconds
    // One request per connection: a follow-up request must come through the gate again.
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    unsigned status = r->status == 499 ? 400 : r->status; // 499: the client left; nobody reads it
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    buf_free(&r->body);
    return ret;
}

static int key_ok(const struct server *s, struct MHD_Connection *conn) {
    if (!s->p.api_key || !s->p.api_key[0]) return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0; // the scheme is case-insensitive
    const char *k = h + 7, *want = s->p.api_key;
    size_t lk = strlen(k), lw = strlen(want);
    unsigned diff = (unsigned)(lk ^ lw);
    for (size_t i = 0; i < lw; i++)
        diff |= (unsigned)(want[i] ^ (i < lk ? k[i] : 0));
    return diff == 0;
}

// ---- routes

struct route {
    const char *method, *path;
    int needs_job; // 503 (not_ready) unless the deployment is ready
    api_handler *handler;
};

static const struct route routes[] = {
    {MHD_HTTP_METHOD_POST, "/v1/completions", 1, api_completions},
    {MHD_HTTP_METHOD_POST, "/v1/chat/completions", 1, api_chat},
    {MHD_HTTP_METHOD_GET, "/v1/models", 0, api_models},
    {MHD_HTTP_METHOD_GET, "/health", 0, api_health},
    {MHD_HTTP_METHOD_GET, "/metrics", 0, metrics_render},
    {MHD_HTTP_METHOD_GET, "/metrics.json", 0, metrics_json},
    {MHD_HTTP_METHOD_GET, "/", 0, page_live},
    {MHD_HTTP_METHOD_POST, "/admin/replace", 0, api_admin_replace}, // api_admin.c
    {MHD_HTTP_METHOD_POST, "/admin/rescale", 0, api_admin_rescale},
};

// Finds url's route: 404 if none, 405 if the method differs, 503 if it needs the job.
static void dispatch(struct server *s, struct MHD_Connection *conn, const char *method,
                     const char *url, const char *body, size_t len, struct api_reply *r) {
    const struct route *rt = NULL;
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(routes) && !rt; i++)
        if (!strcmp(url, routes[i].path)) rt = &routes[i];
    if (!rt) {
        api_error(r, 404, "invalid_request_error", NULL, "not_found", "no such endpoint: %s %.200s",
                  method, url);
        return;
    }
    // HEAD wherever GET works (libmicrohttpd sends the headers only).
    const int head_of_get =
        !strcmp(method, MHD_HTTP_METHOD_HEAD) && !strcmp(rt->method, MHD_HTTP_METHOD_GET);
    if (strcmp(method, rt->method) && !head_of_get) {
        api_error(r, 405, "invalid_request_error", NULL, "method_not_allowed", "use %s for %s",
                  rt->method, url);
        return;
    }
    if (rt->needs_job) {
        char why[512];
        pthread_mutex_lock(&s->f.mu);
        int ready = front_accepting(&s->f); // ready, or relaunching (requests wait: replay)
        snprintf(why, sizeof why, "%s", front_not_ready_reason(&s->f));
        pthread_mutex_unlock(&s->f.mu);
        if (!ready) {
            api_error(r, 503, "service_unavailable", NULL, "not_ready", "%s", why);
            return;
        }
    }
    rt->handler(s, conn, body, len, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    struct server *s = cls;
    (void)version;
    struct api_reply r;
    memset(&r, 0, sizeof r);
    buf_init(&r.body, 64u << 20);
    struct exchange *x = *con_cls;
    const int needs_key = !strncmp(url, "/v1/", 4) || !strncmp(url, "/admin/", 7) ||
                          (page_metrics_path(url) && !s->p.metrics_public);
    if (!x) {
        x = mem_calloc(MEM_TAG_SERVER, 1, sizeof *x);
        if (!x) return MHD_NO;
        buf_init(&x->body, s->p.max_body);
        x->t_head_ns = clock_now_ns();
        *con_cls = x;
        if (guard_check(s, conn, method, &r)) return send_reply(conn, &r); // guard.h
        if (needs_key && !key_ok(s, conn)) {
            if (!page_key_prompt(conn, url, &r)) // a browser on the page: a key form
                api_error(&r, 401, "invalid_request_error", NULL, "invalid_api_key",
                          "missing or invalid API key (send 'Authorization: Bearer KEY')");
            return send_reply(conn, &r);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end == 0 && n > s->p.max_body) {
                api_error(&r, 413, "invalid_request_error", NULL, "request_too_large",
                          "the request body (%llu bytes) exceeds the limit of %zu bytes", n,
                          s->p.max_body);
                return send_reply(conn, &r);
            }
        }
        buf_free(&r.body);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (s->p.body_timeout_s > 0 &&
            clock_now_ns() - x->t_head_ns > (int64_t)s->p.body_timeout_s * 1000000000) {
            // No response may be queued while the body is read: the gate answers on the
            // socket and lingers; MHD_NO makes libmicrohttpd close its descriptor.
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
            char msg[128];
            snprintf(msg, sizeof msg, "the request body was not complete within %d s",
                     s->p.body_timeout_s);
            if (ci) conn_gate_abort(gate_of(s), ci->connect_fd, 408, "request_timeout", msg);
            buf_free(&r.body);
            return MHD_NO;
        }
        if (!x->too_big && buf_append(&x->body, upload_data, *upload_data_size) != JANUS_OK)
            x->too_big = 1;
        *upload_data_size = 0;
        buf_free(&r.body);
        return MHD_YES;
    }
    if (x->too_big) {
        api_error(&r, 413, "invalid_request_error", NULL, "request_too_large",
                  "the request body exceeds the limit of %zu bytes", s->p.max_body);
        return send_reply(conn, &r);
    }
    if (x->pending) { // resumed: the generation it waits on has changed
        r.pending = x->pending;
        api_pending_step(s, &r);
    } else {
        dispatch(s, conn, method, url, x->body.data ? x->body.data : "", x->body.len, &r);
    }
    if ((x->pending = r.pending) != NULL) { // suspended: called again when resumed
        buf_free(&r.body);
        return MHD_YES;
    }
    if (!r.status) api_error(&r, 500, "server_error", NULL, NULL, "no response was produced");
    return send_reply(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn;
    (void)toe;
    struct exchange *x = *con_cls;
    if (!x) return;
    if (x->pending) api_pending_free(cls, x->pending); // ended before its response
    buf_free(&x->body);
    mem_free(x);
    *con_cls = NULL;
}

// ---- lifecycle

static int load_tokenizer(struct server *s, char *err, size_t err_len) {
    struct gguf g;
    char e[JANUS_ERR_LEN];
    int rc = gguf_open(&g, s->p.model_path, e, sizeof e);
    if (rc) return status_errf(err, err_len, rc, "%s: %s", s->p.model_path, e);
    rc = vocab_load(&s->vocab, &g, e, sizeof e);
    if (rc) {
        gguf_close(&g);
        return status_errf(err, err_len, rc, "%s: the model has no usable tokenizer: %s",
                           s->p.model_path, e);
    }
    s->have_vocab = 1;
    struct gguf_str t = {0};
    if (gguf_get_str(&g, gguf_key_name(GGUF_KEY_TOKENIZER_CHAT_TEMPLATE), &t, e, sizeof e) ==
        JANUS_OK)
        s->chat_template = chat_template_detect(t.ptr, (size_t)t.len);
    gguf_close(&g);
    return JANUS_OK;
}

int http_start(struct http_server **out, const struct http_params *p, char *err, size_t err_len) {
    *out = NULL;
    if (!p->model_path || !p->job_argv || !p->job_argv[0])
        return status_errf(err, err_len, JANUS_EINVAL, "no model or job command");
    if (p->max_body == 0 || p->max_body > BODY_LIMIT_HARD)
        return status_errf(err, err_len, JANUS_EINVAL, "body limit must be in [1, %u] bytes",
                           BODY_LIMIT_HARD);
    struct http_server *h = mem_calloc(MEM_TAG_SERVER, 1, sizeof *h);
    if (!h) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    struct server *s = &h->s;
    s->p = *p;
    if (!s->p.host) s->p.host = "127.0.0.1";
    if (s->p.max_depth <= 0) s->p.max_depth = JSON_DEFAULT_MAX_DEPTH;
    if (s->p.health_window_ms <= 0) s->p.health_window_ms = 10000;
    if (s->p.max_connections <= 0) s->p.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    int inflight = p->max_inflight > 0 ? p->max_inflight : HTTP_DEFAULT_MAX_INFLIGHT;
    int conns = s->p.max_connections; // admission below the connections (http.h)
    inflight = JANUS_MIN(inflight, JANUS_MAX(1, conns - JANUS_MAX(1, conns / 8)));
    struct front_params fp = {.job_argv = p->job_argv,
                              .mpi_env = p->job_mpi,
                              .max_inflight = inflight,
                              .ready_timeout_s = p->ready_timeout_s,
                              .served_name = p->served_model_name,
                              .max_restarts = p->max_restarts,
                              .watchdog_s = p->watchdog_s,
                              .watchdog_factor = p->watchdog_factor,
                              .has_eos = 1};  // the job's own (cmd_worker*.c): replay needs it
    int rc = load_tokenizer(s, err, err_len); // (the same file and EOS id as the job's)
    fp.eos_token = s->have_vocab ? s->vocab.eos : -1;
    front_init(&s->f, &fp);
    if (rc) goto fail;
    // libmicrohttpd without a listening socket: the gate (gate.h) owns it and hands over
    // connections whose request head is complete and well-formed. Event-driven: epoll, a
    // small pool of threads, and handlers that suspend instead of blocking (wait.c).
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG;
    if (s->p.max_per_address <= 0) s->p.max_per_address = 64;
    if (s->p.header_timeout_s <= 0) s->p.header_timeout_s = 10;
    rc = front_start(&s->f, err, err_len);
    if (rc) goto fail;
    // (a worker's share of the connection limit must not be 0)
    int threads = s->p.http_threads > 0 ? s->p.http_threads : HTTP_DEFAULT_THREADS;
    threads = JANUS_MIN(threads, s->p.max_connections);
    rc = api_wait_start(s);
    if (rc) {
        rc = status_errf(err, err_len, rc, "cannot start a thread");
        goto fail;
    }
    // Its connection limit is the gate's (which counts the same connections) plus slack for
    // a connection closed but not yet reaped.
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->p.max_connections + 64, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(s->p.timeout_s > 0 ? s->p.timeout_s : 30), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->mhd) {
        rc = status_errf(err, err_len, JANUS_EIO, "cannot start the HTTP daemon");
        goto fail;
    }
    struct conn_gate_params gp = {.host = s->p.host,
                                  .port = s->p.port,
                                  .max_connections = s->p.max_connections,
                                  .max_per_address = s->p.max_per_address,
                                  .header_timeout_s = s->p.header_timeout_s,
                                  .max_body = s->p.max_body};
    rc = conn_gate_start(&h->gate, &gp, gate_handoff, s, err, err_len);
    if (rc) goto fail;
    s->port = conn_gate_port(h->gate);
    s->p.max_connections = conn_gate_max_connections(h->gate);
    *out = h;
    return JANUS_OK;
fail:
    if (s->mhd) MHD_stop_daemon(s->mhd);
    front_stop(&s->f);
    api_wait_stop(s);
    front_destroy(&s->f);
    vocab_free(&s->vocab);
    mem_free(h);
    return rc;
}

int http_port(const struct http_server *h) { return h->s.port; }

int http_wait_ready(struct http_server *h, int timeout_ms, char *err, size_t err_len) {
    return front_wait_ready(&h->s.f, timeout_ms, err, err_len);
}

// ---- graceful shutdown (issue 15 item 6)

int http_drain(struct http_server *h, int wait_ms) {
    struct server *s = &h->s;
    if (!atomic_exchange(&s->draining, 1)) {
        // Stop accepting: the gate closes its listening socket, so new connections are
        // refused; connections already handed over carry one request each (Connection: close).
        conn_gate_stop(h->gate);
        LOG_INFO("http: draining: %d requests in flight", front_in_flight(&s->f));
    }
    int64_t end = clock_now_ns() + (int64_t)wait_ms * 1000000;
    int left;
    while ((left = front_in_flight(&s->f)) > 0 && clock_now_ns() < end)
        clock_sleep_ns(10 * 1000000);
    return left;
}

void http_stop(struct http_server **hp) {
    struct http_server *h = *hp;
    if (!h) return;
    struct server *s = &h->s;
    conn_gate_stop(h->gate); // no new connections
    front_stop(&s->f);       // resumes every waiting connection; none suspends any more
    api_wait_stop(s);        // (MHD_stop_daemon must not find a suspended connection)
    if (s->mhd) MHD_stop_daemon(s->mhd);
    conn_gate_free(&h->gate); // after MHD: its close notifications release places in the gate
    front_destroy(&s->f);
    vocab_free(&s->vocab);
    mem_free(h);
    *hp = NULL;
}
