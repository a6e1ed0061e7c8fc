// The wake-up channel (wake.h; issue 15 item 7): set-up over MPI, then plain TCP sockets.
// Set-up, on a duplicate of the communicator (no tag can clash with the caller's):
//   1. rank 0 opens a listening socket on every interface (IPv6 dual-stack, else IPv4) on an
//      ephemeral port, lists its addresses (getifaddrs: up, not loopback, not IPv6
//      link-local) and 127.0.0.1 last, draws two 8-byte secrets, and broadcasts all of it;
//   2. every other rank tries the addresses in order (127.0.0.1 first, and only, when it
//      shares rank 0's host, MPI_COMM_TYPE_SHARED): non-blocking connect with a timeout,
//      sends (magic, its rank, secret 1) and accepts only secret 2 back, so neither side
//      keeps a stranger's connection; then it sends rank 0 its verdict (and reason) over MPI;
//   3. rank 0 accepts, checks and answers until every rank is connected or one gave up, waits
//      for every verdict, and broadcasts the outcome: the channel is up everywhere or nowhere.
// SPDX-License-Identifier: MIT
#include "comm/wake.h"

#include "base/bytes.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "comm/comm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAKE_MAGIC      0x314b574au // "JWK1" little-endian
#define WAKE_HELLO_LEN  16          // magic (4), rank (4), secret 1 (8)
#define WAKE_ACK_LEN    8           // secret 2
#define WAKE_CONNECT_MS 1000        // per address
#define WAKE_ACK_MS     5000        // per address, after the connection is up
#define WAKE_SETUP_MS   120000      // rank 0's bound on the whole set-up (never reached normally)
#define WAKE_MAX_PEND   32          // connections rank 0 holds while their hello is incomplete
#define WAKE_WHY_LEN    200
#define WAKE_TAG        1

// Broadcast by rank 0 (bytes only, so any mix of hosts reads it alike).
struct wake_addr {
    uint8_t family; // 4 or 6
    uint8_t loopback;
    uint8_t a[16];
};
struct wake_info {
    uint8_t port[2]; // 0: the channel is off (rank 0 says why)
    uint8_t n_addr;
    uint8_t hello[8], ack[8];
    struct wake_addr addr[WAKE_MAX_ADDRS];
};
// A rank's verdict to rank 0.
struct wake_verdict {
    int32_t ok;
    char why[WAKE_WHY_LEN];
    char host[WAKE_HOST_LEN]; // its host name (rank 0 names a lost peer's host with it)
};

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static int fill_random(uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static void addr_text(const struct wake_addr *a, char *out, size_t len) {
    if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->a, out, (socklen_t)len))
        snprintf(out, len, "?");
}

// ---- rank 0: listening socket and address list

static int add_addr(struct wake_info *in, int family, const void *a, int loopback) {
    if (in->n_addr >= WAKE_MAX_ADDRS) return 0;
    struct wake_addr *d = &in->addr[in->n_addr++];
    memset(d, 0, sizeof *d);
    d->family = family == AF_INET6 ? 6 : 4;
    d->loopback = (uint8_t)loopback;
    memcpy(d->a, a, family == AF_INET6 ? 16 : 4);
    return 1;
}

// Opens the listening socket and fills in; returns the socket or -1 (reason in why).
static int listen_open(struct wake_info *in, char *why, size_t why_len) {
    int v6 = 1;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int no = 0;
        struct sockaddr_in6 sa;
        memset(&sa, 0, sizeof sa);
        sa.sin6_family = AF_INET6;
        sa.sin6_addr = in6addr_any;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no) != 0 ||
            bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            close_fd(&fd);
    }
    if (fd < 0) { // no IPv6: IPv4 only
        v6 = 0;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            status_errf(why, why_len, JANUS_EIO, "rank 0: no TCP socket (%s)", strerror(errno));
            close_fd(&fd);
            return -1;
        }
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (listen(fd, 64) != 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        status_errf(why, why_len, JANUS_EIO, "rank 0: cannot listen (%s)", strerror(errno));
        close_fd(&fd);
        return -1;
    }
    uint16_t port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    in->port[0] = (uint8_t)(port >> 8);
    in->port[1] = (uint8_t)port;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
            if (i->ifa_addr->sa_family == AF_INET) {
                (void)add_addr(in, AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 0);
            } else if (v6 && i->ifa_addr->sa_family == AF_INET6) {
                const struct in6_addr *a6 = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
                // Link-local addresses need the peer's interface index: not portable.
                if (!IN6_IS_ADDR_LINKLOCAL(a6) && !IN6_IS_ADDR_V4MAPPED(a6))
                    (void)add_addr(in, AF_INET6, a6, 0);
            }
        }
        freeifaddrs(ifs);
    }
    if (in->n_addr == WAKE_MAX_ADDRS) in->n_addr--; // room for the loopback address
    struct in_addr lo = {htonl(INADDR_LOOPBACK)};
    (void)add_addr(in, AF_INET, &lo, 1);
    return fd;
}

// ---- rank 0: accepting

struct pend {
    int fd, got;
    uint8_t buf[WAKE_HELLO_LEN];
    int64_t deadline;
};

// Reads what arrived on p; returns 1 when p is settled (registered or dropped), 0 if it waits.
static int pend_read(struct wake *wk, const struct wake_info *in, struct pend *p, int *n_reg) {
    ssize_t r = recv(p->fd, p->buf + p->got, (size_t)(WAKE_HELLO_LEN - p->got), MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    if (r <= 0) {
        close_fd(&p->fd);
        return 1;
    }
    p->got += (int)r;
    if (p->got < WAKE_HELLO_LEN) return 0;
    uint32_t rank = bytes_get_u32(p->buf + 4);
    if (bytes_get_u32(p->buf) != WAKE_MAGIC || memcmp(p->buf + 8, in->hello, 8) != 0 || rank < 1 ||
        rank >= (uint32_t)wk->n || wk->peer[rank] >= 0) {
        LOG_DEBUG("wake-up channel: dropped a connection with a bad hello");
        close_fd(&p->fd);
        return 1;
    }
    int one = 1;
    (void)setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (send(p->fd, in->ack, WAKE_ACK_LEN, MSG_NOSIGNAL | MSG_DONTWAIT) != WAKE_ACK_LEN) {
        close_fd(&p->fd);
        return 1;
    }
    wk->peer[rank] = p->fd;
    p->fd = -1;
    (*n_reg)++;
    return 1;
}

// Accepts until every rank is connected or some rank gave up (its verdict arrived with ok 0),
// then waits for every verdict. Returns the number of ranks connected.
static int accept_all(struct wake *wk, int lfd, const struct wake_info *in,
                      const struct wake_verdict *v, MPI_Request *rq) {
    struct pend pend[WAKE_MAX_PEND];
    struct pollfd pfd[1 + WAKE_MAX_PEND];
    for (int k = 0; k < WAKE_MAX_PEND; k++)
        pend[k].fd = -1;
    int n_reg = 0, gave_up = 0;
    int64_t end = clock_now_ns() + (int64_t)WAKE_SETUP_MS * 1000000;
    while (n_reg < wk->n - 1 && !gave_up && clock_now_ns() < end) {
        int np = 0;
        pfd[np++] = (struct pollfd){lfd, POLLIN, 0};
        for (int k = 0; k < WAKE_MAX_PEND; k++)
            pfd[np++] = (struct pollfd){pend[k].fd, POLLIN, 0}; // fd -1 is ignored by poll
        (void)poll(pfd, (nfds_t)np, 20);
        int64_t now = clock_now_ns();
        if (pfd[0].revents & POLLIN)
            for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                int k = 0;
                while (k < WAKE_MAX_PEND && pend[k].fd >= 0)
                    k++;
                if (k == WAKE_MAX_PEND) {
                    close(fd);
                    continue;
                }
                pend[k] = (struct pend){fd, 0, {0}, now + (int64_t)WAKE_ACK_MS * 1000000};
            }
        for (int k = 0; k < WAKE_MAX_PEND; k++) {
            if (pend[k].fd < 0) continue;
            if (pend_read(wk, in, &pend[k], &n_reg)) continue;
            if (now > pend[k].deadline) close_fd(&pend[k].fd);
        }
        // A rank that gave up ends the wait; one that connected is registered already.
        for (int r = 1; r < wk->n; r++) {
            int done = 0;
            if (rq[r] != MPI_REQUEST_NULL &&
                JANUS_MPI_CALL(MPI_Test(&rq[r], &done, MPI_STATUS_IGNORE)) != JANUS_OK)
                gave_up = 1;
            if (done && !v[r].ok) gave_up = 1;
        }
    }
    for (int k = 0; k < WAKE_MAX_PEND; k++)
        close_fd(&pend[k].fd);
    return n_reg;
}

// ---- other ranks: connecting

static int wait_fd(int fd, short ev, int ms) {
    struct pollfd p = {fd, ev, 0};
    int64_t end = clock_now_ns() + (int64_t)ms * 1000000;
    for (;;) {
        int64_t left = (end - clock_now_ns()) / 1000000;
        if (left < 0) return 0;
        int r = poll(&p, 1, (int)left);
        if (r > 0) return 1;
        if (r == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

// Connects to one address and does the handshake; returns the socket or -1 (reason in why).
static int try_addr(const struct wake_info *in, const struct wake_addr *a, int me, char *why,
                    size_t why_len) {
    char txt[INET6_ADDRSTRLEN];
    addr_text(a, txt, sizeof txt);
    uint16_t port = (uint16_t)(in->port[0] << 8 | in->port[1]);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (a->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, a->a, 16);
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, a->a, 4);
        sl = sizeof *s4;
    }
    const char *step = "socket";
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0;
    if (fd < 0) goto fail;
    step = "connect";
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        if (errno != EINPROGRESS) goto fail;
        int w = wait_fd(fd, POLLOUT, WAKE_CONNECT_MS);
        socklen_t el = sizeof e;
        if (w == 0) errno = ETIMEDOUT;
        if (w <= 0) goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0) goto fail;
        if (e != 0) {
            errno = e;
            goto fail;
        }
    }
    step = "hello";
    uint8_t hello[WAKE_HELLO_LEN];
    bytes_put_u32(hello, WAKE_MAGIC);
    bytes_put_u32(hello + 4, (uint32_t)me);
    memcpy(hello + 8, in->hello, 8);
    if (send(fd, hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello) goto fail;
    step = "reply";
    uint8_t ack[WAKE_ACK_LEN];
    size_t got = 0;
    int64_t end = clock_now_ns() + (int64_t)WAKE_ACK_MS * 1000000;
    while (got < sizeof ack) {
        int64_t left = (end - clock_now_ns()) / 1000000;
        int w = left < 0 ? 0 : wait_fd(fd, POLLIN, (int)left);
        if (w == 0) errno = ETIMEDOUT;
        if (w <= 0) goto fail;
        ssize_t r = recv(fd, ack + got, sizeof ack - got, MSG_DONTWAIT);
        if (r == 0) errno = ECONNRESET;
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (r <= 0) goto fail;
        got += (size_t)r;
    }
    if (memcmp(ack, in->ack, sizeof ack) != 0) {
        errno = EPROTO;
        goto fail;
    }
    return fd;
fail:
    e = errno;
    snprintf(why, why_len, "%s port %u: %s: %s", txt, port, step, strerror(e));
    close_fd(&fd);
    return -1;
}

static int connect_any(const struct wake_info *in, int me, int same_host, char *why,
                       size_t why_len) {
    // Same host: the loopback address first (no route, no firewall); otherwise never
    // (127.0.0.1 there is another machine).
    int order[WAKE_MAX_ADDRS], n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < in->n_addr && k < WAKE_MAX_ADDRS; k++)
            if (in->addr[k].loopback == (pass == 0) && (same_host || !in->addr[k].loopback))
                order[n++] = k;
    int len = snprintf(why, why_len, "rank %d: cannot reach rank 0's wake-up port:", me);
    if (n == 0) snprintf(why, why_len, "rank %d: rank 0 offered no address it can reach", me);
    for (int i = 0; i < n; i++) {
        char one[WAKE_WHY_LEN];
        int fd = try_addr(in, &in->addr[order[i]], me, one, sizeof one);
        if (fd >= 0) return fd;
        if (len >= 0 && (size_t)len < why_len)
            len += snprintf(why + len, why_len - (size_t)len, "%s %s", i ? ";" : "", one);
    }
    return -1;
}

// ---- the channel

static void drop_all(struct wake *wk) {
    fdwatch_stop(&wk->watch); // (before its socket is closed)
    wake_unwatch_peers(wk);
    mem_free(wk->host);
    wk->host = NULL;
    for (int r = 0; wk->peer && r < wk->n; r++)
        close_fd(&wk->peer[r]);
    mem_free(wk->peer);
    wk->peer = NULL;
    close_fd(&wk->fd);
    wk->live = 0;
}

int wake_open(struct wake *wk, MPI_Comm comm) {
    memset(wk, 0, sizeof *wk);
    wk->fd = -1;
    MPI_Comm c = MPI_COMM_NULL, node = MPI_COMM_NULL;
    COMM_TRY(MPI_Comm_rank(comm, &wk->me));
    COMM_TRY(MPI_Comm_size(comm, &wk->n));
    COMM_TRY(comm_dup(comm, &c));
    int rc = JANUS_OK, lfd = -1;
    struct wake_verdict *v = NULL;
    MPI_Request *rq = NULL;
    // Does this rank share rank 0's host? (rank 0 is the lowest rank of its node group)
    int lowest = wk->me, same_host = 0;
    rc = JANUS_MPI_CALL(MPI_Comm_split_type(c, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    if (rc == JANUS_OK)
        rc = JANUS_MPI_CALL(MPI_Allreduce(&wk->me, &lowest, 1, MPI_INT, MPI_MIN, node));
    comm_free(&node);
    if (rc) goto out;
    same_host = lowest == 0;
    struct wake_info in;
    memset(&in, 0, sizeof in);
    char why[WAKE_WHY_LEN] = "";
    if (wk->me == 0) {
        const char *env = getenv("JANUS_WAKE");
        wk->peer = mem_calloc(MEM_TAG_COMM, (size_t)wk->n, sizeof *wk->peer);
        for (int r = 0; wk->peer && r < wk->n; r++)
            wk->peer[r] = -1;
        if (!wk->peer)
            snprintf(why, sizeof why, "out of memory");
        else if (env && strcmp(env, "off") == 0)
            snprintf(why, sizeof why, "JANUS_WAKE=off");
        else if (fill_random(in.hello, 8) != 0 || fill_random(in.ack, 8) != 0)
            snprintf(why, sizeof why, "rank 0: no random bytes (%s)", strerror(errno));
        else
            lfd = listen_open(&in, why, sizeof why);
    }
    rc = JANUS_MPI_CALL(MPI_Bcast(&in, (int)sizeof in, MPI_BYTE, 0, c));
    if (rc) goto out;
    if (in.port[0] == 0 && in.port[1] == 0) { // rank 0 could not or was told not to
        if (wk->me == 0) LOG_WARN("wake-up channel off (%s): idle ranks poll", why);
        goto out;
    }
    int ok = 0, fail_rank = -1;
    if (wk->me != 0) {
        struct wake_verdict mine;
        memset(&mine, 0, sizeof mine);
        if (gethostname(mine.host, sizeof mine.host - 1) != 0) snprintf(mine.host, 8, "?");
        wk->fd = connect_any(&in, wk->me, same_host, mine.why, sizeof mine.why);
        mine.ok = wk->fd >= 0;
        rc = JANUS_MPI_CALL(MPI_Send(&mine, (int)sizeof mine, MPI_BYTE, 0, WAKE_TAG, c));
    } else {
        v = mem_calloc(MEM_TAG_COMM, (size_t)wk->n, sizeof *v);
        rq = mem_calloc(MEM_TAG_COMM, (size_t)wk->n, sizeof *rq);
        if (!v || !rq) comm_abort(6); // the other ranks are sending their verdicts
        rq[0] = MPI_REQUEST_NULL;
        for (int r = 1; r < wk->n && rc == JANUS_OK; r++)
            rc = JANUS_MPI_CALL(
                MPI_Irecv(&v[r], (int)sizeof v[r], MPI_BYTE, r, WAKE_TAG, c, &rq[r]));
        if (rc) comm_abort(6); // a posted receive cannot be taken back: end the job
        int n_reg = accept_all(wk, lfd, &in, v, rq);
        if (JANUS_MPI_CALL(MPI_Waitall(wk->n, rq, MPI_STATUSES_IGNORE)) != JANUS_OK) comm_abort(6);
        ok = n_reg == wk->n - 1;
        for (int r = 1; r < wk->n && fail_rank < 0; r++)
            if (!v[r].ok || wk->peer[r] < 0) fail_rank = r;
        ok = ok && fail_rank < 0;
        wk->host = mem_calloc(MEM_TAG_COMM, (size_t)wk->n, sizeof *wk->host);
        for (int r = 0; wk->host && r < wk->n; r++) {
            memcpy(wk->host[r], v[r].host, WAKE_HOST_LEN);
            wk->host[r][WAKE_HOST_LEN - 1] = 0;
        }
        if (wk->host && gethostname(wk->host[0], WAKE_HOST_LEN - 1) != 0) wk->host[0][0] = 0;
    }
    close_fd(&lfd);
    int outcome[2] = {ok, fail_rank};
    int brc = JANUS_MPI_CALL(MPI_Bcast(outcome, 2, MPI_INT, 0, c));
    if (rc == JANUS_OK) rc = brc;
    if (rc == JANUS_OK && outcome[0]) {
        wk->live = 1;
        // Keepalive on rank 0's side: idle 1 s, then a probe every second, 2 unanswered:
        // broken (a lost peer is named before the front's step watchdog fires); on the other
        // ranks' side (which ends them): idle 5 s, then every 2 s, 5 unanswered.
        for (int r = 1; wk->me == 0 && r < wk->n; r++)
            fdwatch_keepalive(wk->peer[r], 1, 1, WAKE_PEER_LOST_S - 1);
        if (wk->me != 0) {
            fdwatch_keepalive(wk->fd, 5, 2, (WAKE_KEEPALIVE_S - 5) / 2);
            char msg[160];
            snprintf(msg, sizeof msg,
                     "rank %d: lost the controller (rank 0): its wake-up channel closed or broke "
                     "while this rank was in a step; ending",
                     comm_world_rank());
            if (fdwatch_start(&wk->watch, wk->fd, WAKE_GONE_GRACE_MS, 4, msg) != JANUS_OK)
                LOG_WARN("rank %d: no lifeline thread: this rank may outlive a lost rank 0",
                         comm_world_rank());
        }
        LOG_DEBUG("wake-up channel up (%d ranks)", wk->n);
    } else if (rc == JANUS_OK && wk->me == 0) {
        const char *reason = fail_rank > 0 && !v[fail_rank].ok ? v[fail_rank].why : "timed out";
        LOG_WARN("wake-up channel off (%.*s): idle ranks poll", WAKE_WHY_LEN, reason);
    }
out:
    close_fd(&lfd);
    mem_free(v);
    mem_free(rq);
    comm_free(&c);
    if (!wk->live) drop_all(wk);
    return rc;
}

void wake_signal(struct wake *wk) {
    if (!wk->live || wk->me != 0) return;
    static const uint8_t byte = 'w';
    for (int r = 1; r < wk->n; r++) {
        if (wk->peer[r] < 0) continue;
        ssize_t k = send(wk->peer[r], &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        // EAGAIN: the socket is full of unread bytes, so that rank will wake anyway.
        if (k == 1 || (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) {
            wk->n_sent++;
            continue;
        }
        LOG_WARN("wake-up channel to rank %d lost (%s)", r, k < 0 ? strerror(errno) : "?");
        close_fd(&wk->peer[r]);
    }
}

enum wake_event wake_wait(struct wake *wk, int timeout_ms) {
    if (!wk->live || wk->me == 0) return WAKE_TIMEOUT;
    struct pollfd p = {wk->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return WAKE_TIMEOUT; // timeout, or EINTR: the caller tests MPI again anyway
    uint8_t buf[256];
    for (;;) {
        ssize_t k = recv(wk->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (k > 0) continue;
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return WAKE_WOKEN;
        drop_all(wk); // end-of-file or a broken connection: rank 0 is gone
        return WAKE_CLOSED;
    }
}

// ---- rank 0: the watch over its peers

static void *peers_main(void *arg) {
    struct wake *wk = arg;
    struct pollfd *p = wk->pw_poll;
    for (;;) {
        int np = 0;
        p[np++] = (struct pollfd){wk->pw_pipe[0], POLLIN, 0};
        for (int r = 1; r < wk->n; r++)
            if (wk->pw_fd[r] >= 0) p[np++] = (struct pollfd){wk->pw_fd[r], 0, 0}; // errors only
        int k = poll(p, (nfds_t)np, -1);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 || p[0].revents) return NULL;
        for (int i = 1; i < np; i++) {
            if (!(p[i].revents & POLLERR)) continue; // (a normal close is a hang-up, not this)
            int r = 1;
            while (wk->pw_fd[r] != p[i].fd)
                r++;
            int e = 0;
            socklen_t el = sizeof e;
            (void)getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &e, &el);
            const char *host = wk->host && wk->host[r][0] ? wk->host[r] : "?";
            // Only a peer that cannot be reached is news: a reset means its process ended,
            // which mpirun reports itself (with the exit status).
            if (e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN ||
                e == ENETDOWN) {
                char why[256];
                snprintf(why, sizeof why,
                         "rank %d on host %s is unreachable: its wake-up connection broke (%s)", r,
                         host, strerror(e));
                LOG_ERROR("%s", why);
                wk->pw_fn(wk->pw_cookie, why);
            } else {
                LOG_DEBUG("wake-up connection of rank %d (host %s) broke (%s)", r, host,
                          e ? strerror(e) : "socket error");
            }
            close(wk->pw_fd[r]); // reported once
            wk->pw_fd[r] = -1;
        }
    }
}

int wake_watch_peers(struct wake *wk, wake_lost_fn *fn, void *cookie) {
    if (!wk->live || wk->me != 0 || wk->pw_on || !fn) return JANUS_EINVAL;
    wk->pw_fd = mem_calloc(MEM_TAG_COMM, (size_t)wk->n, sizeof *wk->pw_fd);
    wk->pw_poll = mem_calloc(MEM_TAG_COMM, (size_t)wk->n, sizeof *wk->pw_poll);
    if (!wk->pw_fd || !wk->pw_poll || pipe2(wk->pw_pipe, O_CLOEXEC) != 0) goto fail;
    for (int r = 0; r < wk->n; r++)
        wk->pw_fd[r] = r > 0 && wk->peer[r] >= 0 ? fcntl(wk->peer[r], F_DUPFD_CLOEXEC, 0) : -1;
    wk->pw_fn = fn;
    wk->pw_cookie = cookie;
    if (pthread_create(&wk->pw_th, NULL, peers_main, wk) != 0) {
        close(wk->pw_pipe[0]);
        close(wk->pw_pipe[1]);
        goto fail;
    }
    wk->pw_on = 1;
    return JANUS_OK;
fail:
    for (int r = 0; wk->pw_fd && r < wk->n; r++)
        close_fd(&wk->pw_fd[r]);
    mem_free(wk->pw_fd);
    mem_free(wk->pw_poll);
    wk->pw_fd = NULL;
    wk->pw_poll = NULL;
    return JANUS_EIO;
}

void wake_unwatch_peers(struct wake *wk) {
    if (!wk->pw_on) return;
    static const char byte = 's';
    ssize_t k;
    while ((k = write(wk->pw_pipe[1], &byte, 1)) < 0 && errno == EINTR) {
    }
    pthread_join(wk->pw_th, NULL);
    close(wk->pw_pipe[0]);
    close(wk->pw_pipe[1]);
    for (int r = 0; r < wk->n; r++)
        close_fd(&wk->pw_fd[r]);
    mem_free(wk->pw_fd);
    mem_free(wk->pw_poll);
    wk->pw_fd = NULL;
    wk->pw_poll = NULL;
    wk->pw_on = 0;
}

void wake_close(struct wake *wk, int linger_ms) {
    if (!wk->live) return;
    if (wk->me == 0 && linger_ms > 0) {
        // Wait for each rank to close first: rank 0 closing while a rank still waits for the
        // STOP header would make it read end-of-file and end itself as if rank 0 had died.
        int64_t end = clock_now_ns() + (int64_t)linger_ms * 1000000;
        for (int r = 1; r < wk->n; r++) {
            while (wk->peer[r] >= 0) {
                int64_t left = (end - clock_now_ns()) / 1000000;
                if (left <= 0 || wait_fd(wk->peer[r], POLLIN, (int)left) <= 0) break;
                uint8_t buf[64];
                ssize_t k = recv(wk->peer[r], buf, sizeof buf, MSG_DONTWAIT);
                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) close_fd(&wk->peer[r]);
            }
        }
    }
    drop_all(wk);
}
