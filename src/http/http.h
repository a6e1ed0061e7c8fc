// The OpenAI-compatible HTTP face (SPEC §2, §10): a connection gate (http/gate.h: caps,
// header deadline) in front of a libmicrohttpd daemon (epoll, a small thread pool, handlers
// that never block; body deadline, idle timeout, body-size cap, optional API key) on top of the
// front (front/front.h), which launches the deployment as a child process and talks to it
// over a Unix socket (requests/frontlink.h). Endpoints: POST /v1/completions, POST
// /v1/chat/completions, GET /v1/models, GET /health, GET /metrics (docs/HTTP.md). Binds 127.0.0.1
// unless told otherwise. The server never dies on a request: bad input gets a 4xx OpenAI-shaped
// error, overload 429/503, and a failed job becomes explicit errors and a failing /health.
// SPDX-License-Identifier: MIT
#ifndef JANUS_HTTP_H
#define JANUS_HTTP_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

// Defaults (docs/HTTP.md "Limits"). Admission: requests in flight stay below the connection
// limit (at most 7/8 of it), so a request over capacity always gets a connection and its
// 429, and /health a connection, instead of waiting in the kernel's backlog.
#define HTTP_DEFAULT_THREADS         4    // libmicrohttpd's thread pool (--http-threads)
#define HTTP_DEFAULT_MAX_CONNECTIONS 2048 // --max-connections
#define HTTP_DEFAULT_MAX_INFLIGHT    1024 // requests in the job at once (front admission)

struct http_params {
    const char *host;    // address to bind (default "127.0.0.1")
    int port;            // 0: any free port (see http_port)
    const char *api_key; // NULL: no authentication (else needed on /v1/*, /admin/* and /metrics)
    int metrics_public;  // serve /metrics without the key
    const char *served_model_name; // the model id of /v1/models and replies (NULL: general.name)
    const char *model_path;        // GGUF file: the front reads its tokenizer and chat template
    char *const *job_argv;         // the job command (NULL-terminated); "--socket PATH" is appended
    int job_mpi;            // the job is an mpirun launch (front/launch.h: Open MPI environment)
    size_t max_body;        // request body cap in bytes (default 1 MiB) -> 413
    int max_depth;          // JSON nesting cap (default 32)
    int max_connections;    // open client connections (HTTP_DEFAULT_MAX_CONNECTIONS; gate.h) -> 503
    int max_per_address;    // of them from one client address (default 64) -> 429
    int header_timeout_s;   // complete request head within this after accept (default 10) -> 408
    int body_timeout_s;     // complete body within this after the head (default 60) -> 408
    int http_threads;       // libmicrohttpd's thread pool (HTTP_DEFAULT_THREADS)
    int timeout_s;          // idle connection timeout (default 30)
    int32_t max_tokens;     // largest accepted max_tokens (default: the context length)
    int32_t max_prompt;     // largest accepted prompt in tokens (default: the context length)
    int max_inflight;       // requests in the job at once before 429 (HTTP_DEFAULT_MAX_INFLIGHT;
                            // also at most 7/8 of max_connections and the job's queue + slots)
    int health_window_ms;   // /health needs a completed step this recent (default 10000)
    int ready_timeout_s;    // how long the job may take to become ready (default 600)
    int max_restarts;       // relaunch a job that died, replaying its requests, up to this
                            // many times (--max-relaunches, default 3)
    double watchdog_s;      // step watchdog floor (front_params; default 5; 0: off)
    double watchdog_factor; // its multiple of the median step (default 20)
    // Request guard (guard.h, issue 15 items 3 and 4).
    int chat_parse_special;         // parse special tokens in chat content too (default 0)
    const char *const *allow_hosts; // (n_allow_hosts) more Host/Origin names (loopback, no key)
    int n_allow_hosts;
};

void http_default_params(struct http_params *p);

struct http_server;

// Loads the tokenizer, launches the job, binds and starts serving (requests before the job
// is ready get 503). On failure returns a negative status with a one-line reason in err and
// *out NULL (nothing left running).
JANUS_WUR int http_start(struct http_server **out, const struct http_params *p, char *err,
                         size_t err_len);
// The bound TCP port.
int http_port(const struct http_server *s);
// Blocks until the job has been ready at least once (JANUS_OK, even if it has failed
// since), fails before ever being ready (JANUS_ECOMM, reason in err) or timeout_ms passes
// (JANUS_EAGAIN).
JANUS_WUR int http_wait_ready(struct http_server *s, int timeout_ms, char *err, size_t err_len);
// Graceful shutdown (issue 15 item 6). The first call stops accepting connections (new
// ones are refused) and makes every new request on a kept connection a 503 with code
// shutting_down; each call then waits up to wait_ms (0: not at all) for the requests in
// flight to finish and returns how many are left (0: drained). http_stop ends the rest with
// shutting_down.
int http_drain(struct http_server *s, int wait_ms);
// Stops accepting, tells the job to shut down (SIGTERM, then SIGKILL after a grace period),
// fails what is still in flight, frees everything; *s = NULL.
void http_stop(struct http_server **s);

#endif // JANUS_HTTP_H
