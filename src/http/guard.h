// The request guard (issue 15 items 3 and 6; docs/HTTP.md "Request guard"): checks every
// request's headers before it is dispatched. A draining server (http_drain) answers 503
// shutting_down and closes the connection; a server bound to a loopback address without an
// API key refuses a Host or Origin that is not loopback (403 forbidden_host /
// forbidden_origin: DNS rebinding, cross-site pages) unless --allow-host names it; a POST
// must carry Content-Type application/json (415), which a cross-site form or a simple
// fetch() cannot send without a CORS preflight.
// SPDX-License-Identifier: MIT
#ifndef JANUS_HTTP_GUARD_H
#define JANUS_HTTP_GUARD_H

#include "http/http_impl.h"

// Returns 0 to go on, or 1 with r holding the error reply to send (OpenAI shape).
int guard_check(struct server *s, struct MHD_Connection *conn, const char *method,
                struct api_reply *r);

// The pieces, exposed for the unit tests. guard_loopback_host: host (a Host header value
// or the authority of an Origin: a name, an IPv4 address or a bracketed IPv6 address, with
// or without ":port") names this machine's loopback (localhost, 127.0.0.0/8, [::1]) or one
// of allow[0..n_allow) (compared without the port, case-insensitively).
int guard_loopback_host(const char *host, const char *const *allow, int n_allow);
// origin is absent (NULL) or "http(s)://" + a host guard_loopback_host accepts.
int guard_origin_ok(const char *origin, const char *const *allow, int n_allow);
// The media type of a Content-Type value is application/json (parameters allowed).
int guard_json_type(const char *content_type);
// addr (a numeric address, as --host takes) is a loopback address.
int guard_loopback_addr(const char *addr);

#endif // JANUS_HTTP_GUARD_H
