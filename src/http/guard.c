// The request guard (guard.h): draining 503, Host/Origin checks for a keyless loopback
// server, Content-Type application/json on POST (issue 15 items 3 and 6).
// SPDX-License-Identifier: MIT
#include "http/guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int guard_loopback_addr(const char *addr) {
    struct in_addr a4;
    struct in6_addr a6;
    if (!addr) return 0;
    if (inet_pton(AF_INET, addr, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6)) return 1;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return 0;
}

// Digits only, 1..5 of them (a port after ':').
static int port_ok(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n > 5) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i])) return 0;
    return 1;
}

int guard_loopback_host(const char *host, const char *const *allow, int n_allow) {
    char name[256];
    if (!host || !*host || strlen(host) >= sizeof name) return 0;
    snprintf(name, sizeof name, "%s", host);
    if (name[0] == '[') { // [IPv6](:port)
        char *close = strchr(name, ']');
        if (!close || (close[1] && (close[1] != ':' || !port_ok(close + 2)))) return 0;
        *close = 0;
        struct in6_addr a6;
        if (inet_pton(AF_INET6, name + 1, &a6) != 1) return 0;
        if (guard_loopback_addr(name + 1)) return 1;
        *close = ']';
        close[1] = 0; // an allowed "[addr]" is compared with its brackets
    } else {
        char *colon = strchr(name, ':');
        if (colon) {
            if (strchr(colon + 1, ':') || !port_ok(colon + 1)) return 0; // bare IPv6: invalid
            *colon = 0;
        }
        size_t n = strlen(name);
        if (n && name[n - 1] == '.') name[--n] = 0; // "localhost." is "localhost"
        if (!n) return 0;
        if (!strcasecmp(name, "localhost")) return 1;
        struct in_addr a4;
        if (inet_pton(AF_INET, name, &a4) == 1 && guard_loopback_addr(name)) return 1;
    }
    for (int i = 0; i < n_allow; i++)
        if (allow[i] && !strcasecmp(name, allow[i])) return 1;
    return 0;
}

int guard_origin_ok(const char *origin, const char *const *allow, int n_allow) {
    if (!origin) return 1;
    const char *h = NULL;
    if (!strncasecmp(origin, "http://", 7))
        h = origin + 7;
    else if (!strncasecmp(origin, "https://", 8))
        h = origin + 8;
    if (!h || strchr(h, '/') || strchr(h, '@')) return 0; // an origin has no path or userinfo
    return guard_loopback_host(h, allow, n_allow);
}

int guard_json_type(const char *ct) {
    static const char want[] = "application/json";
    if (!ct) return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1)) return 0;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == 0 || *ct == ';';
}

int guard_check(struct server *s, struct MHD_Connection *conn, const char *method,
                struct api_reply *r) {
    if (s->draining) { // (every reply carries Connection: close: http.c's send_reply)
        api_error(r, 503, "service_unavailable", NULL, "shutting_down",
                  "the server is shutting down; retry on another instance");
        return 1;
    }
    // A keyless server on loopback trusts whoever can reach it, i.e. this machine's
    // programs: refuse what a browser sends on behalf of another site.
    const int keyless = !s->p.api_key || !s->p.api_key[0];
    if (keyless && guard_loopback_addr(s->p.host)) {
        const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
        if (host && !guard_loopback_host(host, s->p.allow_hosts, s->p.n_allow_hosts)) {
            api_error(r, 403, "invalid_request_error", NULL, "forbidden_host",
                      "Host '%.100s' is not a loopback name (DNS rebinding?); see --allow-host",
                      host);
            return 1;
        }
        const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
        if (!guard_origin_ok(origin, s->p.allow_hosts, s->p.n_allow_hosts)) {
            api_error(r, 403, "invalid_request_error", NULL, "forbidden_origin",
                      "cross-origin request from '%.100s' refused; see --allow-host", origin);
            return 1;
        }
    }
    if (!strcmp(method, MHD_HTTP_METHOD_POST)) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!guard_json_type(ct)) {
            api_error(r, 415, "invalid_request_error", NULL, "unsupported_media_type",
                      "the body must be sent with 'Content-Type: application/json' (got %.100s)",
                      ct ? ct : "none");
            return 1;
        }
    }
    return 0;
}
