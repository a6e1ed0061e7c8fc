// The live page (page.h; issue 15 item 8): GET / answers the compiled-in src/http/live.html
// with no-store caching and a Content-Security-Policy that allows only the page's own inline
// script and style and fetches to its own origin; the 401 key form for a browser that has no
// key yet; the key rule's path list.
// SPDX-License-Identifier: MIT
#include "http/page.h"

#include "base/status.h"

#include <string.h>

// Inline script and style only (the page has no other resources); fetch only to the server
// itself; no framing, no forms posted anywhere, no base URL changes.
#define PAGE_CSP                                                                                   \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "                  \
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "                    \
    "frame-ancestors 'none'"

// Shown with the 401 for GET / when the server wants its key: takes the key from the URL
// fragment (#key=..., never sent to the server) or the field, fetches / with it as a Bearer
// token and replaces this document with the page, which finds the key in sessionStorage.
static const char key_form[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width\">"
    "<title>Janus-C live: key required</title></head>\n"
    "<body style=\"font:15px system-ui,sans-serif;margin:2em;color:#222\">\n"
    "<h1 style=\"font-size:1.3em\">Janus-C live page</h1>\n"
    "<p>This server wants its API key for the live page and its data.</p>\n"
    "<form id=\"f\"><label>API key <input id=\"k\" type=\"password\" autocomplete=\"off\" "
    "autofocus></label> <button>Open</button></form>\n<p id=\"m\"></p>\n"
    "<script>\n\"use strict\";\n(function () {\n"
    "  var m = document.getElementById(\"m\");\n"
    "  function go(k) {\n"
    "    m.textContent = \"Loading...\";\n"
    "    fetch(\"/\", {headers: {Authorization: \"Bearer \" + k}, cache: \"no-store\"})\n"
    "      .then(function (r) {\n"
    "        if (r.status !== 200) {\n"
    "          m.textContent = r.status === 401 ? \"The server refused this key.\" :\n"
    "            \"The server answered \" + r.status + \".\";\n"
    "          return null;\n"
    "        }\n"
    "        return r.text();\n"
    "      })\n"
    "      .then(function (t) {\n"
    "        if (t === null) return;\n"
    "        try { sessionStorage.setItem(\"janus_key\", k); } catch (e) { window.janusKey = k; }\n"
    "        document.open(); document.write(t); document.close();\n"
    "      })\n"
    "      .catch(function (e) { m.textContent = \"Cannot reach the server: \" + e; });\n"
    "  }\n"
    "  document.getElementById(\"f\").addEventListener(\"submit\", function (e) {\n"
    "    e.preventDefault(); go(document.getElementById(\"k\").value);\n"
    "  });\n"
    "  var h = new URLSearchParams(location.hash.slice(1)).get(\"key\");\n"
    "  if (h) { history.replaceState(null, \"\", location.pathname); go(h); }\n"
    "})();\n</script>\n</body></html>\n";

int page_metrics_path(const char *url) {
    return !strcmp(url, "/metrics") || !strcmp(url, "/metrics.json") || !strcmp(url, "/");
}

void page_finish(struct api_reply *r, int html) {
    size_t n = r->body.len;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        n, r->body.data ? r->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp || MHD_add_response_header(resp, "Content-Type", r->content_type) != MHD_YES ||
        MHD_add_response_header(resp, "Cache-Control", "no-store") != MHD_YES ||
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer") != MHD_YES ||
        (html && MHD_add_response_header(resp, "Content-Security-Policy", PAGE_CSP) != MHD_YES)) {
        if (resp) MHD_destroy_response(resp);
        buf_reset(&r->body);
        api_error(r, 500, "server_error", NULL, NULL, "out of memory building the response");
        return;
    }
    buf_free(&r->body);
    r->resp = resp;
}

static void html_reply(struct api_reply *r, unsigned status, const void *data, size_t len) {
    buf_reset(&r->body);
    if (buf_append(&r->body, data, len) != JANUS_OK) {
        api_error(r, 500, "server_error", NULL, NULL, "out of memory building the page");
        return;
    }
    r->status = status;
    r->content_type = "text/html; charset=utf-8";
    page_finish(r, 1);
}

int page_key_prompt(struct MHD_Connection *conn, const char *url, struct api_reply *r) {
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    if (strcmp(url, "/") != 0 || !accept || !strstr(accept, "text/html")) return 0;
    html_reply(r, 401, key_form, sizeof key_form - 1);
    return 1;
}

void page_live(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
               struct api_reply *r) {
    (void)s, (void)conn, (void)body, (void)len;
    html_reply(r, 200, janus_live_html, janus_live_html_len);
}
