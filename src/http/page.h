// The live page (issue 15 item 8; docs/HTTP.md, "Live page"): GET / serves src/http/live.html,
// compiled into the binary by scripts/embed.c; the page polls GET /metrics.json (rendered by
// metrics.c from the same state as /metrics) and plots it. Both follow the /metrics key rule
// (page_metrics_path); without the key, GET / answers 401 with a small form that asks for it.
// SPDX-License-Identifier: MIT
#ifndef JANUS_HTTP_PAGE_H
#define JANUS_HTTP_PAGE_H

#include "http/http_impl.h"

#include <stddef.h>

// The page's bytes (NUL-terminated; the generated file made from src/http/live.html).
extern const unsigned char janus_live_html[];
extern const size_t janus_live_html_len;

// GET / (page.c) and GET /metrics.json (metrics.c): one route each in http.c's table.
api_handler page_live, metrics_json;

// 1 if url falls under the /metrics key rule (behind the key unless --metrics-public):
// /metrics, /metrics.json and the page /.
int page_metrics_path(const char *url);

// For a request refused for want of the key: if url is the page and the client accepts
// text/html (a browser), fills r with the 401 key form and returns 1; otherwise returns 0 and
// leaves r alone (the caller answers with the usual OpenAI-shaped 401).
int page_key_prompt(struct MHD_Connection *conn, const char *url, struct api_reply *r);

// Turns r (status, content_type and body already set) into a response that carries
// Cache-Control: no-store and, for HTML, the page's Content-Security-Policy. On failure r
// becomes a 500.
void page_finish(struct api_reply *r, int html);

#endif // JANUS_HTTP_PAGE_H
