// libmicrohttpd daemon of the HTTP front (http.h): thread per connection, connection cap,
// idle timeout, body-size cap (413, checked on Content-Length and while reading), optional
// API key (401), routing to the endpoint files, OpenAI-shaped errors. Lifecycle: tokenizer
// and chat template from the GGUF, then the job (front.c), then the daemon.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "model/gguf.h"
#include "http/json.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_LIMIT_HARD (64u << 20)

void http_default_params(struct http_params *p) {
    memset(p, 0, sizeof *p);
    p->host = "127.0.0.1";
    p->port = 8080;
    p->max_body = 1u << 20;
    p->max_depth = JSON_DEFAULT_MAX_DEPTH;
    p->max_connections = 256;
    p->timeout_s = 600;
    p->max_inflight = 1024;
    p->health_window_ms = 10000;
    p->ready_timeout_s = 600;
}

void api_error(struct api_reply *r, unsigned status, const char *type, const char *param,
               const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf_reset(&r->body);
    int rc = buf_appendf(&r->body, "{\"error\":{\"message\":");
    rc |= json_append_str(&r->body, msg, strlen(msg));
    rc |= buf_appendf(&r->body, ",\"type\":\"%s\",\"param\":", type);
    rc |= param ? json_append_str(&r->body, param, strlen(param)) : buf_appendf(&r->body, "null");
    rc |= buf_appendf(&r->body, ",\"code\":");
    rc |= code ? json_append_str(&r->body, code, strlen(code)) : buf_appendf(&r->body, "null");
    rc |= buf_appendf(&r->body, "}}");
    if (rc) {
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
};

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
    unsigned status = r->status == 499 ? 400 : r->status; // 499: the client left; nobody reads it
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    buf_free(&r->body);
    return ret;
}

static int key_ok(const struct server *s, struct MHD_Connection *conn) {
    if (!s->p.api_key || !s->p.api_key[0]) return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0) return 0;
    const char *k = h + 7, *want = s->p.api_key;
    size_t lk = strlen(k), lw = strlen(want);
    unsigned diff = (unsigned)(lk ^ lw);
    for (size_t i = 0; i < lw; i++)
        diff |= (unsigned)(want[i] ^ (i < lk ? k[i] : 0));
    return diff == 0;
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
    int is_v1 = !strncmp(url, "/v1/", 4);
    if (!x) {
        x = mem_calloc(MEM_TAG_SERVER, 1, sizeof *x);
        if (!x) return MHD_NO;
        buf_init(&x->body, s->p.max_body);
        *con_cls = x;
        if (is_v1 && !key_ok(s, conn)) {
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
    int post = !strcmp(method, MHD_HTTP_METHOD_POST), get = !strcmp(method, MHD_HTTP_METHOD_GET);
    const char *body = x->body.data ? x->body.data : "";
    if (!strcmp(url, "/v1/completions") || !strcmp(url, "/v1/chat/completions")) {
        if (!post) {
            api_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed",
                      "use POST for %s", url);
        } else {
            pthread_mutex_lock(&s->mu);
            int ready = s->job == JOB_READY;
            char why[256];
            snprintf(why, sizeof why, "%s",
                     s->job == JOB_STARTING ? "the deployment is still starting"
                     : s->job_error[0]      ? s->job_error
                                            : "the deployment is not running");
            pthread_mutex_unlock(&s->mu);
            if (!ready)
                api_error(&r, 503, "service_unavailable", NULL, "not_ready", "%s", why);
            else if (url[4] == 'c' && url[5] == 'o')
                api_completions(s, conn, body, x->body.len, &r);
            else
                api_chat(s, conn, body, x->body.len, &r);
        }
    } else if (!strcmp(url, "/v1/models")) {
        if (get)
            api_models(s, &r);
        else
            api_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed",
                      "use GET for %s", url);
    } else if (!strcmp(url, "/health")) {
        if (get)
            api_health(s, &r);
        else
            api_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed",
                      "use GET for %s", url);
    } else if (!strcmp(url, "/metrics")) {
        if (get)
            metrics_render(s, &r);
        else
            api_error(&r, 405, "invalid_request_error", NULL, "method_not_allowed",
                      "use GET for %s", url);
    } else {
        api_error(&r, 404, "invalid_request_error", NULL, "not_found",
                  "no such endpoint: %s %.200s", method, url);
    }
    if (!r.status) api_error(&r, 500, "server_error", NULL, NULL, "no response was produced");
    return send_reply(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    struct exchange *x = *con_cls;
    if (!x) return;
    buf_free(&x->body);
    mem_free(x);
    *con_cls = NULL;
}

// ---- lifecycle

static int load_tokenizer(struct server *s, char *err, size_t err_len) {
    struct gguf g;
    char e[256];
    int rc = gguf_open(&g, s->p.model_path, e, sizeof e);
    if (rc) {
        snprintf(err, err_len, "%s: %s", s->p.model_path, e);
        return rc;
    }
    rc = vocab_load(&s->vocab, &g, e, sizeof e);
    if (rc) {
        snprintf(err, err_len, "%s: the model has no usable tokenizer: %s", s->p.model_path, e);
        gguf_close(&g);
        return rc;
    }
    s->have_vocab = 1;
    struct gguf_str t = {0};
    if (gguf_get_str(&g, "tokenizer.chat_template", &t, e, sizeof e) == JANUS_OK)
        s->chat_template_kind = api_chat_template_kind(t.ptr, (size_t)t.len);
    gguf_close(&g);
    return JANUS_OK;
}

struct http_server {
    struct server s;
};

int http_start(struct http_server **out, const struct http_params *p, char *err, size_t err_len) {
    *out = NULL;
    if (!p->model_path || !p->job_argv || !p->job_argv[0]) {
        snprintf(err, err_len, "no model or job command");
        return JANUS_EINVAL;
    }
    if (p->max_body == 0 || p->max_body > BODY_LIMIT_HARD) {
        snprintf(err, err_len, "body limit must be in [1, %u] bytes", BODY_LIMIT_HARD);
        return JANUS_EINVAL;
    }
    struct http_server *h = mem_calloc(MEM_TAG_SERVER, 1, sizeof *h);
    if (!h) return JANUS_ENOMEM;
    struct server *s = &h->s;
    s->p = *p;
    if (!s->p.host) s->p.host = "127.0.0.1";
    if (s->p.max_depth <= 0) s->p.max_depth = JSON_DEFAULT_MAX_DEPTH;
    if (s->p.max_inflight <= 0) s->p.max_inflight = 1024;
    if (s->p.health_window_ms <= 0) s->p.health_window_ms = 10000;
    if (s->p.ready_timeout_s <= 0) s->p.ready_timeout_s = 600;
    s->listen_fd = -1;
    s->conn.fd = -1;
    s->job_pid = s->job_pgid = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->send_mu, NULL);
    pthread_cond_init(&s->state_cond, NULL);
    int rc = load_tokenizer(s, err, err_len);
    if (rc) goto fail;
    // Bind address.
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *addr;
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, s->p.host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)s->p.port);
        addr = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, s->p.host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)s->p.port);
        addr = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, err_len, "--host '%s' is not a numeric IPv4 or IPv6 address", s->p.host);
        rc = JANUS_EINVAL;
        goto fail;
    }
    rc = front_start(s, err, err_len);
    if (rc) goto fail;
    s->mhd = MHD_start_daemon(flags, (uint16_t)s->p.port, NULL, NULL, on_request, s,
                              MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_CONNECTION_LIMIT,
                              (unsigned)(s->p.max_connections > 0 ? s->p.max_connections : 256),
                              MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)(s->p.timeout_s > 0 ? s->p.timeout_s : 600),
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, err_len, "cannot listen on %s:%d (address in use?)", s->p.host, s->p.port);
        rc = JANUS_EIO;
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->p.port;
    *out = h;
    return JANUS_OK;
fail:
    front_stop(s);
    vocab_free(&s->vocab);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->send_mu);
    pthread_cond_destroy(&s->state_cond);
    mem_free(h);
    return rc;
}

int http_port(const struct http_server *h) { return h->s.port; }

int http_wait_ready(struct http_server *h, int timeout_ms, char *err, size_t err_len) {
    struct server *s = &h->s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (int64_t)timeout_ms * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (!s->ever_ready && s->job == JOB_STARTING && rc == 0)
        rc = pthread_cond_timedwait(&s->state_cond, &s->mu, &ts);
    enum job_state j = s->job;
    int ever = s->ever_ready;
    snprintf(err, err_len, "%s", s->job_error[0] ? s->job_error : "the deployment failed");
    pthread_mutex_unlock(&s->mu);
    if (ever) return JANUS_OK;
    if (j == JOB_STARTING) return JANUS_EAGAIN;
    return JANUS_ECOMM;
}

int http_job_alive(struct http_server *h) {
    pthread_mutex_lock(&h->s.mu);
    int alive = h->s.job == JOB_STARTING || h->s.job == JOB_READY;
    pthread_mutex_unlock(&h->s.mu);
    return alive;
}

void http_stop(struct http_server **hp) {
    struct http_server *h = *hp;
    if (!h) return;
    struct server *s = &h->s;
    s->stopping = 1;
    // Wake every waiting handler so that streams end before the daemon joins them.
    pthread_mutex_lock(&s->mu);
    for (struct front_req *r = s->reqs; r; r = r->next)
        pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&s->mu);
    front_stop(s);
    if (s->mhd) MHD_stop_daemon(s->mhd);
    vocab_free(&s->vocab);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->send_mu);
    pthread_cond_destroy(&s->state_cond);
    mem_free(h);
    *hp = NULL;
}
