// The connection gate of the HTTP face (issue 15 items 1 and 5; docs/HTTP.md "Connections"):
// it owns the listening socket and runs one epoll thread that accepts, applies the global
// and per-client-address connection caps, waits (MSG_PEEK) for a complete request head
// within the header deadline and the head-size cap, checks the head's syntax for exactly
// what libmicrohttpd would otherwise answer in HTML, and only then hands the socket to
// libmicrohttpd (a callback: MHD_add_connection). Its own refusals are OpenAI-shaped JSON
// (api_error) with `Connection: close`, followed by a lingering close.
// SPDX-License-Identifier: MIT
#ifndef JANUS_HTTP_GATE_H
#define JANUS_HTTP_GATE_H

#include "base/base.h"

#include <stddef.h>
#include <sys/socket.h>

struct conn_gate_params {
    const char *host;     // numeric IPv4/IPv6 address to bind
    int port;             // 0: any free port (conn_gate_port)
    int max_connections;  // open client connections, in the gate or in libmicrohttpd -> 503
    int max_per_address;  // of them from one client address -> 429
    int header_timeout_s; // the complete request head within this, from accept -> 408
    size_t max_body;      // largest Content-Length -> 413
};

struct conn_gate;

// Hands a socket whose complete, checked request head waits in its receive buffer to the
// HTTP library. Returns 0, or -1 if the library refused it (the socket is then closed by
// the callee in any case). Called from the gate's thread.
typedef int conn_gate_handoff(void *cls, int fd, const struct sockaddr *addr, socklen_t len);

// Raises RLIMIT_NOFILE (soft, up to the hard limit) to fit p->max_connections plus a margin,
// lowering the cap (logged) if it cannot; binds and listens; starts the thread. Returns
// JANUS_OK or a negative status with the reason in err (nothing left running).
JANUS_WUR int conn_gate_start(struct conn_gate **out, const struct conn_gate_params *p,
                              conn_gate_handoff *handoff, void *cls, char *err, size_t err_len);
// The bound TCP port; the connection cap in force (after the RLIMIT_NOFILE fit).
int conn_gate_port(const struct conn_gate *g);
int conn_gate_max_connections(const struct conn_gate *g);
// A handed-off connection from addr was closed by the library: frees its place in the caps.
// Thread-safe.
void conn_gate_release(struct conn_gate *g, const struct sockaddr *addr);
// Answers on a connection the library owns (fd: its socket) with an OpenAI-shaped error and
// `Connection: close`, then keeps a duplicate of the socket in the gate for a lingering
// close, so the answer reaches the client even though the library closes its descriptor
// (the caller makes it do so next, e.g. by returning MHD_NO). Thread-safe.
void conn_gate_abort(struct conn_gate *g, int fd, unsigned status, const char *code,
                     const char *msg);
// Checks a complete request head h[0..n) (through its empty line) for what libmicrohttpd
// would refuse itself, in HTML: the request line's shape, HTTP/1.0 or HTTP/1.1 (else 505),
// header line syntax, Host for HTTP/1.1, one decimal Content-Length <= max_body (else 413),
// Transfer-Encoding chunked only. 0 if it may pass, else -1 with *status, *code and msg.
int conn_gate_check_head(const char *h, size_t n, size_t max_body, unsigned *status,
                         const char **code, char *msg, size_t msg_len);
// Stops accepting: joins the thread, closes the listening socket and every connection the
// gate still holds. Connections already handed off are untouched. Idempotent.
void conn_gate_stop(struct conn_gate *g);
// conn_gate_stop, then frees; call after the library has closed its connections (their
// conn_gate_release calls use g). *g = NULL.
void conn_gate_free(struct conn_gate **g);

#endif // JANUS_HTTP_GATE_H
