// The OpenAI-compatible HTTP face (SPEC §2, §10): a connection gate (http/gate.h: caps,
// header deadline) in front of a libmicrohttpd daemon (body deadline, idle timeout, body-size
// cap, optional API key) on top of the
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

struct http_params {
    const char *host;       // address to bind (default "127.0.0.1")
    int port;               // 0: any free port (see http_port)
    const char *api_key;    // NULL: no authentication (else needed on /v1/* and /metrics)
    int metrics_public;     // serve /metrics without the key
    const char *model_path; // GGUF file: the front reads its tokenizer and chat template
    char *const *job_argv;  // the job command (NULL-terminated); "--socket PATH" is appended
    int job_mpi;            // the job is an mpirun launch (front/launch.h: Open MPI environment)
    size_t max_body;        // request body cap in bytes (default 1 MiB) -> 413
    int max_depth;          // JSON nesting cap (default 32)
    int max_connections;    // open client connections (default 2048; http/gate.h) -> 503
    int max_per_address;    // of them from one client address (default 64) -> 429
    int header_timeout_s;   // complete request head within this after accept (default 10) -> 408
    int body_timeout_s;     // complete body within this after the head (default 60) -> 408
    int timeout_s;          // idle connection timeout (default 30)
    int32_t max_tokens;     // largest accepted max_tokens (default: the context length)
    int32_t max_prompt;     // largest accepted prompt in tokens (default: the context length)
    int max_inflight;       // requests in the job at once before 429 (default 1024)
    int health_window_ms;   // /health needs a completed step this recent (default 10000)
    int ready_timeout_s;    // how long the job may take to become ready (default 600)
    int max_restarts;       // relaunch a failed job up to this many times (default 0)
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
// Stops accepting, tells the job to shut down (SIGTERM, then SIGKILL after a grace period),
// fails what is still in flight, frees everything; *s = NULL.
void http_stop(struct http_server **s);

#endif // JANUS_HTTP_H
