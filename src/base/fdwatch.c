// The lifeline thread (fdwatch.h): poll() for POLLRDHUP/POLLHUP/POLLERR on the watched
// socket and for the stop pipe; never reads the socket, so its owner's reads are untouched.
// SPDX-License-Identifier: MIT
#include "base/fdwatch.h"

#include "base/log.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *watch_main(void *arg) {
    struct fdwatch *w = arg;
    struct pollfd p[2] = {{w->fd, POLLRDHUP, 0}, {w->pipe[0], POLLIN, 0}};
    for (;;) {
        int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || p[1].revents) return NULL; // stopped (or poll itself failed: give up)
        if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) break;
    }
    // The peer is gone. The owner may notice by itself and stop us (a normal end); if it does
    // not within the grace, its main thread is stuck: end the process.
    struct pollfd q = {w->pipe[0], POLLIN, 0};
    int r;
    while ((r = poll(&q, 1, w->grace_ms)) < 0 && errno == EINTR) {
    }
    if (r > 0) return NULL;
    LOG_ERROR("%s", w->msg);
    _exit(w->code);
}

int fdwatch_start(struct fdwatch *w, int fd, int grace_ms, int code, const char *msg) {
    memset(w, 0, sizeof *w);
    w->pipe[0] = w->pipe[1] = -1;
    w->fd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (w->fd < 0) return JANUS_EIO;
    if (pipe2(w->pipe, O_CLOEXEC) != 0) {
        close(w->fd);
        w->fd = w->pipe[0] = w->pipe[1] = -1;
        return JANUS_EIO;
    }
    w->grace_ms = grace_ms;
    w->code = code;
    snprintf(w->msg, sizeof w->msg, "%s", msg);
    if (pthread_create(&w->th, NULL, watch_main, w) != 0) {
        close(w->pipe[0]);
        close(w->pipe[1]);
        close(w->fd);
        w->fd = w->pipe[0] = w->pipe[1] = -1;
        return JANUS_EIO;
    }
    w->on = 1;
    return JANUS_OK;
}

void fdwatch_stop(struct fdwatch *w) {
    if (!w->on) return;
    static const char byte = 's';
    ssize_t k;
    while ((k = write(w->pipe[1], &byte, 1)) < 0 && errno == EINTR) {
    }
    pthread_join(w->th, NULL);
    close(w->pipe[0]);
    close(w->pipe[1]);
    close(w->fd);
    w->fd = w->pipe[0] = w->pipe[1] = -1;
    w->on = 0;
}

void fdwatch_keepalive(int fd, int idle_s, int intvl_s, int cnt) {
    int on = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl_s, sizeof intvl_s);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    unsigned ms = (unsigned)(idle_s + intvl_s * cnt) * 1000u;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
}
