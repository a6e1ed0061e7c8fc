// Unit tests for the connection gate's head check (src/http/gate.c, conn_gate_check_head;
// issue 15 item 5): which request heads pass to libmicrohttpd and which get which error
// status and code. The gate itself (caps, deadlines) is tested end to end in
// tests/e2e/test_serve_hostile.sh.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "http/gate.h"

#include <string.h>

static void head_is(const char *h, unsigned want, const char *want_code, int line) {
    unsigned status = 0;
    const char *code = NULL;
    char msg[256] = "";
    int rc = conn_gate_check_head(h, strlen(h), 1000, &status, &code, msg, sizeof msg);
    if (want == 0 && rc != 0)
        test_fail(__FILE__, line, "head refused (%u %s: %s), want pass: [%s]", status, code, msg,
                  h);
    else if (want != 0 && (rc == 0 || status != want || strcmp(code, want_code) != 0))
        test_fail(__FILE__, line, "head: rc %d status %u code %s, want %u %s: [%s]", rc, status,
                  code ? code : "-", want, want_code, h);
    else if (want != 0 && !msg[0])
        test_fail(__FILE__, line, "no message for [%s]", h);
}
#define HEAD(h, st, code) head_is(h, st, code, __LINE__)

TEST(conn_gate_heads_that_pass) {
    HEAD("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 0, NULL);
    HEAD("\r\nGET / HTTP/1.0\r\n\r\n", 0, NULL);  // a leading empty line; no Host in 1.0
    HEAD("GET / HTTP/1.1\nHost: x\n\n", 0, NULL); // bare LF line ends
    HEAD("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", 0, NULL);
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:  7 \r\nContent-Length: 7\r\n\r\n", 0, NULL);
    HEAD("POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: Chunked\r\n\r\n", 0, NULL);
    HEAD("OPTIONS * HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n", 0, NULL);
}

TEST(conn_gate_heads_refused) {
    HEAD("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http_version_not_supported");
    HEAD("GET / HTTP/0.9\r\n\r\n", 505, "http_version_not_supported");
    HEAD("GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400, "malformed_request");
    HEAD("GET /\r\nHost: x\r\n\r\n", 400, "malformed_request");
    HEAD("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed_request");
    HEAD("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed_request");
    HEAD("GET / HTTP/1.1\r\n\r\n", 400, "missing_host");
    HEAD("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "malformed_request");
    HEAD("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400, "malformed_request");
    HEAD("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed_request");
    HEAD("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, "malformed_request");
    HEAD("GET / HTTP/1.1\r\nHost: x\r\nX: a\001b\r\n\r\n", 400, "malformed_request");
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12a\r\n\r\n", 400,
         "invalid_content_length");
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "invalid_content_length");
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400, "invalid_content_length");
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
         "invalid_content_length");
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413, "request_too_large");
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 184467440737095516160\r\n\r\n", 413,
         "request_too_large");
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
         "invalid_transfer_encoding");
    HEAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "invalid_transfer_encoding");
    HEAD("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
         400, "invalid_content_length");
    static const char nul[] = "GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n";
    unsigned status = 0;
    const char *code = NULL;
    char msg[128];
    ASSERT_EQ(conn_gate_check_head(nul, sizeof nul - 1, 1000, &status, &code, msg, sizeof msg), -1);
    ASSERT_EQ(status, 400u);
}
