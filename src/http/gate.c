// The connection gate (gate.h; issue 15 items 1 and 5, docs/HTTP.md "Connections"): one
// epoll thread owns the listening socket and every connection until its request head is
// complete and well-formed, then hands the socket to libmicrohttpd. Connections are slots
// of a pool sized at start; the header and linger deadlines are two FIFOs (every entry of a
// FIFO has the same timeout, so arrival order is deadline order); the per-address counts are
// an open-addressing table (linear probing, backward-shift deletion) under a mutex, because
// libmicrohttpd's threads release their places.
// SPDX-License-Identifier: MIT
#include "http/gate.h"

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "http/http_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define LINGER_MS     2000      // after a refusal: read and discard until EOF, at most this long
#define LINGER_BYTES  (1 << 20) // ... or this many bytes
#define LINGER_EXTRA  64        // lingering sockets beyond the cap (refusals, aborts)
#define NOFILE_MARGIN 256       // descriptors besides client sockets (job, logs, MPI, MHD)
#define ACCEPT_BATCH  256       // accepts per wake-up, so deadlines still run under a flood
#define ACCEPT_PAUSE  100       // ms without accepting after EMFILE/ENFILE
#define GATE_EVENTS   64

enum slot_state { SLOT_FREE = 0, SLOT_HEAD, SLOT_LINGER };

struct slot {
    int fd;
    enum slot_state state;
    int counted;                  // holds a place in the caps (released when closed)
    int64_t deadline_ms;          // header deadline (HEAD) or end of the linger (LINGER)
    struct slot *prev, *next;     // in the state's FIFO; next also links the free list
    struct sockaddr_storage addr; // the client
    socklen_t addrlen;
    size_t drained; // bytes discarded while lingering
};

struct fifo {
    struct slot *first, *last;
};

struct addr_entry {
    unsigned char key[16]; // IPv6, or IPv4 as ::ffff:a.b.c.d
    int count;             // 0: empty
};

struct conn_gate {
    struct conn_gate_params p;
    conn_gate_handoff *handoff;
    void *handoff_cls;
    int lfd, epfd, evfd;
    int port;
    pthread_t thread;
    int thread_started, stopped;
    // Gate thread only.
    struct slot *slots; // [n_slots]
    int n_slots;
    struct slot *free_list;
    struct fifo heads, lingers;
    int n_extra;       // uncounted lingering sockets (<= LINGER_EXTRA)
    char *peek;        // [LIMIT_HTTP_HEAD + 1]: the MSG_PEEK buffer
    int accept_paused; // listening socket out of the epoll set until resume_ms
    int64_t resume_ms;
    // Guarded by mu.
    pthread_mutex_t mu;
    int total;              // counted connections (in the gate or in the library)
    struct addr_entry *tab; // [tab_cap], tab_cap a power of two >= 2 * max_connections
    size_t tab_cap;
    uint64_t seed;            // hash seed (per process)
    int aborts[LINGER_EXTRA]; // sockets queued by conn_gate_abort for a lingering close
    int n_aborts;
    int stop;
};

static int64_t now_ms(void) { return clock_now_ns() / 1000000; }

// ---- the per-address table (mu held)

static void addr_key(const struct sockaddr *a, unsigned char key[16]) {
    memset(key, 0, 16);
    if (a->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)(const void *)a)->sin_addr, 4);
    } else if (a->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr, 16);
    }
}

static size_t addr_hash(const struct conn_gate *g, const unsigned char key[16]) {
    uint64_t h = 1469598103934665603ull ^ g->seed; // FNV-1a, seeded
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & (g->tab_cap - 1);
}

// The entry of key, or the empty one where it would go.
static struct addr_entry *addr_slot(struct conn_gate *g, const unsigned char key[16]) {
    size_t i = addr_hash(g, key);
    while (g->tab[i].count && memcmp(g->tab[i].key, key, 16))
        i = (i + 1) & (g->tab_cap - 1);
    return &g->tab[i];
}

// Deletes the entry e (count now 0) and shifts later members of its probe run back.
static void addr_delete(struct conn_gate *g, struct addr_entry *e) {
    size_t mask = g->tab_cap - 1, i = (size_t)(e - g->tab), j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!g->tab[j].count) break;
        size_t home = addr_hash(g, g->tab[j].key);
        // Move j into the hole at i unless its home lies cyclically in (i, j].
        int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            g->tab[i] = g->tab[j];
            i = j;
        }
    }
    memset(&g->tab[i], 0, sizeof g->tab[i]);
}

// Takes a place for a new connection from addr: 0, or the refusal's HTTP status.
static unsigned admit(struct conn_gate *g, const struct sockaddr *addr) {
    unsigned char key[16];
    addr_key(addr, key);
    unsigned why = 0;
    pthread_mutex_lock(&g->mu);
    if (g->total >= g->p.max_connections) {
        why = 503;
    } else {
        struct addr_entry *e = addr_slot(g, key);
        if (e->count >= g->p.max_per_address) {
            why = 429;
        } else {
            if (!e->count) memcpy(e->key, key, 16);
            e->count++;
            g->total++;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return why;
}

void conn_gate_release(struct conn_gate *g, const struct sockaddr *addr) {
    if (!g || !addr) return;
    unsigned char key[16];
    addr_key(addr, key);
    pthread_mutex_lock(&g->mu);
    struct addr_entry *e = addr_slot(g, key);
    if (e->count > 0) {
        g->total--;
        if (--e->count == 0) addr_delete(g, e);
    } else {
        LOG_WARN("http gate: a release for an address without connections");
    }
    pthread_mutex_unlock(&g->mu);
}

// ---- responses

static const char *reason(unsigned status) {
    switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

// Writes the complete HTTP response for an OpenAI-shaped error into out (NUL-terminated);
// returns its length. The body is api_error's, so the shape is the endpoints' one.
static size_t error_response(char *out, size_t cap, unsigned status, const char *code,
                             const char *msg) {
    const char *type = status == 429   ? "rate_limit_error"
                       : status == 503 ? "service_unavailable"
                                       : "invalid_request_error";
    struct api_reply r;
    memset(&r, 0, sizeof r);
    buf_init(&r.body, 4096);
    api_error(&r, status, type, NULL, code, "%s", msg);
    const char *body = r.body.data ? r.body.data : "{}";
    size_t blen = r.body.data ? r.body.len : 2;
    int n = snprintf(out, cap,
                     "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n%s\r\n%.*s",
                     status, reason(status), blen,
                     status == 429 || status == 503 ? "Retry-After: 1\r\n" : "", (int)blen, body);
    buf_free(&r.body);
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

// Sends the error (best effort: it fits an empty send buffer) and half-closes.
static void send_error(int fd, unsigned status, const char *code, const char *msg) {
    char resp[2048];
    size_t n = error_response(resp, sizeof resp, status, code, msg);
    ssize_t w = send(fd, resp, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w; // a client that is gone or does not read gets nothing; the close follows
    shutdown(fd, SHUT_WR);
}

// ---- the head check (pure)

static int is_tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

// Trims optional white space around [*b, *e).
static void trim_ows(const char **b, const char **e) {
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static int ieq(const char *b, const char *e, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(e - b) == n && strncasecmp(b, lit, n) == 0;
}

#define BAD(st, c, ...)                                                                            \
    do {                                                                                           \
        *status = (st);                                                                            \
        *code = (c);                                                                               \
        snprintf(msg, msg_len, __VA_ARGS__);                                                       \
        return -1;                                                                                 \
    } while (0)

// Checks a complete head h[0..n) (through its empty line) for what libmicrohttpd would
// refuse itself: 0 if it may pass, else -1 with the status, code and message.
int conn_gate_check_head(const char *h, size_t n, size_t max_body, unsigned *status,
                         const char **code, char *msg, size_t msg_len) {
    const char *p = h, *end = h + n;
    while (p < end && (*p == '\r' || *p == '\n')) // empty lines before the request line
        p++;
    if (memchr(p, 0, (size_t)(end - p)))
        BAD(400, "malformed_request", "the request head contains a NUL byte");
    // Request line: METHOD SP TARGET SP HTTP/d.d
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) BAD(400, "malformed_request", "the request head has no request line");
    const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    const char *m = p;
    while (p < le && is_tchar((unsigned char)*p))
        p++;
    if (p == m || p >= le || *p != ' ')
        BAD(400, "malformed_request", "malformed request line (want 'METHOD TARGET HTTP/1.1')");
    const char *t = ++p;
    while (p < le && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == t || p >= le || *p != ' ')
        BAD(400, "malformed_request", "malformed request line (want 'METHOD TARGET HTTP/1.1')");
    const char *v = ++p;
    size_t vlen = (size_t)(le - v);
    int minor;
    if (vlen == 8 && !memcmp(v, "HTTP/1.1", 8)) {
        minor = 1;
    } else if (vlen == 8 && !memcmp(v, "HTTP/1.0", 8)) {
        minor = 0;
    } else if (vlen == 8 && !memcmp(v, "HTTP/", 5) && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
               v[7] >= '0' && v[7] <= '9') {
        BAD(505, "http_version_not_supported",
            "HTTP version %.8s is not supported (use HTTP/1.1 or HTTP/1.0)", v);
    } else {
        BAD(400, "malformed_request", "malformed request line: bad HTTP version");
    }
    // Header lines up to the empty line.
    int n_host = 0, n_cl = 0, n_te = 0;
    unsigned long long cl = 0;
    for (p = nl + 1; p < end;) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) BAD(400, "malformed_request", "unterminated header line");
        le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        if (le == p) break; // the empty line: end of the head
        if (*p == ' ' || *p == '\t')
            BAD(400, "malformed_request", "folded header lines (obs-fold) are not accepted");
        const char *name = p;
        while (p < le && is_tchar((unsigned char)*p))
            p++;
        if (p == name || p >= le || *p != ':')
            BAD(400, "malformed_request", "malformed header line (want 'Name: value')");
        const char *ne = p, *vb = p + 1, *ve = le;
        for (const char *q = vb; q < ve; q++)
            if (((unsigned char)*q < ' ' && *q != '\t') || *q == 0x7f)
                BAD(400, "malformed_request", "control character in the value of header %.*s",
                    (int)(ne - name > 64 ? 64 : ne - name), name);
        trim_ows(&vb, &ve);
        if (ieq(name, ne, "Host")) {
            n_host++;
        } else if (ieq(name, ne, "Content-Length")) {
            if (vb == ve) BAD(400, "invalid_content_length", "empty Content-Length");
            unsigned long long x = 0;
            int over = 0;
            for (const char *q = vb; q < ve; q++) {
                if (*q < '0' || *q > '9')
                    BAD(400, "invalid_content_length",
                        "Content-Length must be one decimal number, got '%.*s'",
                        (int)(ve - vb > 64 ? 64 : ve - vb), vb);
                if (x > (~0ull - 9) / 10) over = 1;
                x = over ? x : x * 10 + (unsigned)(*q - '0');
            }
            if (n_cl++ && x != cl)
                BAD(400, "invalid_content_length", "conflicting Content-Length headers");
            cl = x;
            if (over || x > max_body)
                BAD(413, "request_too_large",
                    "the request body (Content-Length %.*s) exceeds the limit of %zu bytes",
                    (int)(ve - vb > 32 ? 32 : ve - vb), vb, max_body);
        } else if (ieq(name, ne, "Transfer-Encoding")) {
            if (!ieq(vb, ve, "chunked"))
                BAD(400, "invalid_transfer_encoding",
                    "Transfer-Encoding '%.*s' is not supported (only 'chunked')",
                    (int)(ve - vb > 64 ? 64 : ve - vb), vb);
            n_te++;
        }
        p = nl + 1;
    }
    if (minor == 1 && n_host == 0)
        BAD(400, "missing_host", "an HTTP/1.1 request needs a Host header");
    if (n_host > 1) BAD(400, "malformed_request", "more than one Host header");
    if (n_te > 1) BAD(400, "invalid_transfer_encoding", "more than one Transfer-Encoding header");
    if (n_te && minor == 0)
        BAD(400, "invalid_transfer_encoding", "Transfer-Encoding needs HTTP/1.1");
    if (n_te && n_cl)
        BAD(400, "invalid_content_length", "both Content-Length and Transfer-Encoding");
    return 0;
}

#undef BAD

// The length of the head in h[0..n) through its empty line, or 0 if it is not complete.
static size_t head_end(const char *h, size_t n) {
    size_t i = 0;
    while (i < n && (h[i] == '\r' || h[i] == '\n'))
        i++;
    for (; i < n; i++) {
        if (h[i] != '\n') continue;
        if (i + 1 < n && h[i + 1] == '\n') return i + 2;
        if (i + 2 < n && h[i + 1] == '\r' && h[i + 2] == '\n') return i + 3;
    }
    return 0;
}

// ---- slots and FIFOs (gate thread)

static void fifo_push(struct fifo *f, struct slot *s) {
    s->next = NULL;
    s->prev = f->last;
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
}

static void fifo_remove(struct fifo *f, struct slot *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        f->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        f->last = s->prev;
    s->prev = s->next = NULL;
}

static struct slot *slot_take(struct conn_gate *g) {
    struct slot *s = g->free_list;
    if (s) g->free_list = s->next;
    return s;
}

// Unlinks s from its FIFO and the epoll set and returns it to the free list (the socket and
// its place in the caps are the caller's business).
static void slot_unlink(struct conn_gate *g, struct slot *s) {
    if (s->state == SLOT_HEAD) fifo_remove(&g->heads, s);
    if (s->state == SLOT_LINGER) fifo_remove(&g->lingers, s);
    epoll_ctl(g->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->state = SLOT_FREE;
    s->fd = -1;
    s->next = g->free_list;
    g->free_list = s;
}

// Closes s's socket and frees its place (or its room among the uncounted lingerers).
static void slot_end(struct conn_gate *g, struct slot *s) {
    int fd = s->fd, counted = s->counted;
    struct sockaddr_storage addr = s->addr;
    slot_unlink(g, s);
    close(fd);
    if (counted)
        conn_gate_release(g, (struct sockaddr *)&addr);
    else
        g->n_extra--;
}

// Reads and discards what the client still sends, until EOF, an error, the byte cap or
// (later, by the linger FIFO) the deadline.
static void linger_read(struct conn_gate *g, struct slot *s) {
    char junk[16384];
    for (;;) {
        ssize_t r = recv(s->fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r > 0) {
            s->drained += (size_t)r;
            if (s->drained < LINGER_BYTES) continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else if (r < 0 && errno == EINTR) {
            continue;
        }
        slot_end(g, s);
        return;
    }
}

// Moves a slot (HEAD, or fresh and already in the epoll set) to the linger FIFO and drains
// what is already there (edge-triggered: no event comes for bytes already waiting).
static void slot_linger(struct conn_gate *g, struct slot *s) {
    if (s->state == SLOT_HEAD) fifo_remove(&g->heads, s);
    s->state = SLOT_LINGER;
    s->deadline_ms = now_ms() + LINGER_MS;
    s->drained = 0;
    fifo_push(&g->lingers, s);
    linger_read(g, s);
}

// Lingers on fd (an answered, half-closed socket that holds no place in the caps) if there
// is room among the uncounted lingerers, else closes it.
static void linger_extra(struct conn_gate *g, int fd) {
    struct slot *s = g->n_extra < LINGER_EXTRA ? slot_take(g) : NULL;
    if (!s) {
        close(fd);
        return;
    }
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->state = SLOT_FREE;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = s};
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        s->next = g->free_list;
        g->free_list = s;
        return;
    }
    g->n_extra++;
    slot_linger(g, s);
}

// A HEAD slot's socket is readable (events: epoll's): peek at the head so far.
static void on_head(struct conn_gate *g, struct slot *s, uint32_t events) {
    const size_t cap = LIMIT_HTTP_HEAD;
    ssize_t r = recv(s->fd, g->peek, cap + 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (r <= 0) { // the client left (or the socket failed) before its head was complete
        slot_end(g, s);
        return;
    }
    size_t n = (size_t)r, he = head_end(g->peek, n);
    char msg[256];
    if (!he || he > cap) {
        if (n <= cap) {
            // The client has finished sending (or the socket failed): the head cannot
            // complete. Else wait for more (edge-triggered: the next segment wakes us).
            if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) slot_end(g, s);
            return;
        }
        snprintf(msg, sizeof msg, "the request head exceeds %zu bytes", cap);
        send_error(s->fd, 431, "request_header_too_large", msg);
        slot_linger(g, s);
        return;
    }
    unsigned status = 0;
    const char *code = NULL;
    if (conn_gate_check_head(g->peek, he, g->p.max_body, &status, &code, msg, sizeof msg)) {
        send_error(s->fd, status, code, msg);
        slot_linger(g, s);
        return;
    }
    // Hand off: the slot's place in the caps now belongs to the library's connection and is
    // given back by conn_gate_release when the library closes it.
    struct sockaddr_storage addr = s->addr;
    socklen_t alen = s->addrlen;
    int fd = s->fd;
    slot_unlink(g, s);
    if (g->handoff(g->handoff_cls, fd, (struct sockaddr *)&addr, alen) != 0) {
        LOG_WARN("http gate: the HTTP library refused a connection");
        conn_gate_release(g, (struct sockaddr *)&addr);
    }
}

static void accept_pause(struct conn_gate *g, int64_t now) {
    if (g->accept_paused) return;
    epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->lfd, NULL);
    g->accept_paused = 1;
    g->resume_ms = now + ACCEPT_PAUSE;
}

static void on_accept(struct conn_gate *g) {
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage a;
        socklen_t alen = sizeof a;
        int fd = accept4(g->lfd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                LOG_WARN("http gate: accept: %s; pausing accepts for %d ms", strerror(errno),
                         ACCEPT_PAUSE);
                accept_pause(g, now_ms());
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                LOG_WARN("http gate: accept: %s", strerror(errno));
            }
            return;
        }
        unsigned why = admit(g, (struct sockaddr *)&a);
        if (why == 503) {
            char msg[160];
            snprintf(msg, sizeof msg, "the server holds its maximum of %d connections; retry later",
                     g->p.max_connections);
            send_error(fd, 503, "too_many_connections", msg);
            linger_extra(g, fd);
            continue;
        }
        if (why == 429) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "too many connections from your address (at most %d); retry later",
                     g->p.max_per_address);
            send_error(fd, 429, "too_many_connections", msg);
            linger_extra(g, fd);
            continue;
        }
        struct slot *s = slot_take(g); // never NULL: counted slots <= max_connections
        if (!s) {
            conn_gate_release(g, (struct sockaddr *)&a);
            close(fd);
            continue;
        }
        memset(s, 0, sizeof *s);
        s->fd = fd;
        s->counted = 1;
        s->state = SLOT_HEAD;
        s->addr = a;
        s->addrlen = alen;
        s->deadline_ms = now_ms() + (int64_t)g->p.header_timeout_s * 1000;
        fifo_push(&g->heads, s);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = s};
        if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) slot_end(g, s);
    }
}

// Takes the sockets queued by conn_gate_abort into the linger FIFO.
static int take_aborts(struct conn_gate *g) {
    int fds[LINGER_EXTRA], n, stop;
    pthread_mutex_lock(&g->mu);
    n = g->n_aborts;
    memcpy(fds, g->aborts, (size_t)n * sizeof fds[0]);
    g->n_aborts = 0;
    stop = g->stop;
    pthread_mutex_unlock(&g->mu);
    for (int i = 0; i < n; i++)
        linger_extra(g, fds[i]);
    return stop;
}

static void expire(struct conn_gate *g, int64_t now) {
    char msg[160];
    while (g->heads.first && g->heads.first->deadline_ms <= now) {
        struct slot *s = g->heads.first;
        snprintf(msg, sizeof msg, "the request head was not complete within %d s",
                 g->p.header_timeout_s);
        send_error(s->fd, 408, "request_timeout", msg);
        slot_linger(g, s);
    }
    while (g->lingers.first && g->lingers.first->deadline_ms <= now)
        slot_end(g, g->lingers.first);
    if (g->accept_paused && now >= g->resume_ms) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->lfd, &ev) == 0) g->accept_paused = 0;
    }
}

static void *gate_main(void *arg) {
    struct conn_gate *g = arg;
    struct epoll_event evs[GATE_EVENTS];
    for (;;) {
        int64_t now = now_ms(), next = now + 1000;
        if (g->heads.first && g->heads.first->deadline_ms < next)
            next = g->heads.first->deadline_ms;
        if (g->lingers.first && g->lingers.first->deadline_ms < next)
            next = g->lingers.first->deadline_ms;
        if (g->accept_paused && g->resume_ms < next) next = g->resume_ms;
        int timeout = next > now ? (int)(next - now) : 0;
        int n = epoll_wait(g->epfd, evs, GATE_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            LOG_ERROR("http gate: epoll_wait: %s", strerror(errno));
            break;
        }
        int stop = 0;
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == NULL) {
                on_accept(g);
            } else if (ptr == g) {
                uint64_t v;
                ssize_t r = read(g->evfd, &v, sizeof v);
                (void)r;
                stop |= take_aborts(g);
            } else {
                struct slot *s = ptr;
                if (s->state == SLOT_HEAD)
                    on_head(g, s, evs[i].events);
                else if (s->state == SLOT_LINGER)
                    linger_read(g, s);
            }
        }
        if (stop) break;
        expire(g, now_ms());
    }
    return NULL;
}

// ---- lifecycle

// Raises RLIMIT_NOFILE's soft limit (up to the hard one) to fit max connections; lowers
// *max to what fits if it cannot.
static void fit_nofile(int *max) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t need = (rlim_t)*max + LINGER_EXTRA + NOFILE_MARGIN;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        struct rlimit nl = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) rl.rlim_cur = want;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        long fit = (long)rl.rlim_cur - LINGER_EXTRA - NOFILE_MARGIN;
        if (fit < 16) fit = 16;
        LOG_WARN("http: RLIMIT_NOFILE is %llu (hard %llu): --max-connections lowered from %d to "
                 "%ld",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, *max, fit);
        *max = (int)fit;
    }
}

int conn_gate_start(struct conn_gate **out, const struct conn_gate_params *p,
                    conn_gate_handoff *handoff, void *cls, char *err, size_t err_len) {
    *out = NULL;
    if (p->max_connections < 1 || p->max_per_address < 1 || p->header_timeout_s < 1)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "connection limits and the header timeout must be >= 1");
    struct conn_gate *g = mem_calloc(MEM_TAG_SERVER, 1, sizeof *g);
    if (!g) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    g->p = *p;
    g->lfd = g->epfd = g->evfd = -1;
    g->handoff = handoff;
    g->handoff_cls = cls;
    pthread_mutex_init(&g->mu, NULL);
    fit_nofile(&g->p.max_connections);
    if (g->p.max_per_address > g->p.max_connections) g->p.max_per_address = g->p.max_connections;
    g->n_slots = g->p.max_connections + LINGER_EXTRA;
    g->tab_cap = 16;
    while (g->tab_cap < 2 * (size_t)g->p.max_connections)
        g->tab_cap <<= 1;
    g->seed = (uint64_t)clock_now_ns() * 0x9E3779B97F4A7C15ull;
    g->slots = mem_calloc(MEM_TAG_SERVER, (size_t)g->n_slots, sizeof *g->slots);
    g->tab = mem_calloc(MEM_TAG_SERVER, g->tab_cap, sizeof *g->tab);
    g->peek = mem_calloc(MEM_TAG_SERVER, LIMIT_HTTP_HEAD + 1, 1);
    int rc;
    if (!g->slots || !g->tab || !g->peek) {
        rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = g->n_slots - 1; i >= 0; i--) {
        g->slots[i].fd = -1;
        g->slots[i].next = g->free_list;
        g->free_list = &g->slots[i];
    }
    // The listening socket.
    struct sockaddr_storage ss;
    socklen_t slen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, p->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)p->port);
        slen = sizeof *a4;
    } else if (inet_pton(AF_INET6, p->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)p->port);
        slen = sizeof *a6;
    } else {
        rc = status_errf(err, err_len, JANUS_EINVAL,
                         "--host '%s' is not a numeric IPv4 or IPv6 address", p->host);
        goto fail;
    }
    g->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (g->lfd < 0 || setsockopt(g->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(g->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(g->lfd, (struct sockaddr *)&ss, slen) != 0 || listen(g->lfd, 4096) != 0) {
        rc = status_errf(err, err_len, JANUS_EIO, "cannot listen on %s:%d: %s", p->host, p->port,
                         strerror(errno));
        goto fail;
    }
    slen = sizeof ss;
    if (getsockname(g->lfd, (struct sockaddr *)&ss, &slen) != 0) {
        rc = status_errf(err, err_len, JANUS_EIO, "getsockname: %s", strerror(errno));
        goto fail;
    }
    g->port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    g->epfd = epoll_create1(EPOLL_CLOEXEC);
    g->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event el = {.events = EPOLLIN, .data.ptr = NULL};
    struct epoll_event ee = {.events = EPOLLIN, .data.ptr = g};
    if (g->epfd < 0 || g->evfd < 0 || epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->lfd, &el) != 0 ||
        epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->evfd, &ee) != 0) {
        rc = status_errf(err, err_len, JANUS_EIO, "epoll: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&g->thread, NULL, gate_main, g) != 0) {
        rc = status_errf(err, err_len, JANUS_EIO, "cannot start the connection gate thread");
        goto fail;
    }
    g->thread_started = 1;
    *out = g;
    return JANUS_OK;
fail:
    conn_gate_free(&g);
    return rc;
}

int conn_gate_port(const struct conn_gate *g) { return g->port; }

int conn_gate_max_connections(const struct conn_gate *g) { return g->p.max_connections; }

void conn_gate_abort(struct conn_gate *g, int fd, unsigned status, const char *code,
                     const char *msg) {
    send_error(fd, status, code, msg);
    if (!g) return;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return;
    pthread_mutex_lock(&g->mu);
    int queued = !g->stop && g->n_aborts < LINGER_EXTRA;
    if (queued) g->aborts[g->n_aborts++] = d;
    pthread_mutex_unlock(&g->mu);
    if (!queued) {
        close(d);
        return;
    }
    uint64_t one = 1;
    ssize_t w = write(g->evfd, &one, sizeof one);
    (void)w;
}

void conn_gate_stop(struct conn_gate *g) {
    if (!g || g->stopped) return;
    g->stopped = 1;
    if (g->thread_started) {
        pthread_mutex_lock(&g->mu);
        g->stop = 1;
        pthread_mutex_unlock(&g->mu);
        uint64_t one = 1;
        ssize_t w = write(g->evfd, &one, sizeof one);
        (void)w;
        pthread_join(g->thread, NULL);
        g->thread_started = 0;
    }
    if (g->lfd >= 0) close(g->lfd);
    g->lfd = -1;
    while (g->heads.first)
        slot_end(g, g->heads.first);
    while (g->lingers.first)
        slot_end(g, g->lingers.first);
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < g->n_aborts; i++)
        close(g->aborts[i]);
    g->n_aborts = 0;
    pthread_mutex_unlock(&g->mu);
}

void conn_gate_free(struct conn_gate **gp) {
    struct conn_gate *g = *gp;
    if (!g) return;
    conn_gate_stop(g);
    if (g->epfd >= 0) close(g->epfd);
    if (g->evfd >= 0) close(g->evfd);
    pthread_mutex_destroy(&g->mu);
    mem_free(g->slots);
    mem_free(g->tab);
    mem_free(g->peek);
    mem_free(g);
    *gp = NULL;
}
