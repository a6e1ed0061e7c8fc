// Waiting without blocking (issue 15 item 1; http_impl.h "waiting on the front"): a
// connection whose request has nothing new suspends itself in libmicrohttpd and the front's
// notification hook (front.h) resumes it on the next change; a sweeper thread notices
// clients that hang up while suspended (libmicrohttpd does not poll those) and resumes
// them so that their handler cancels the request. Lock order: f.mu, then libmicrohttpd's.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"

#include <poll.h>
#include <string.h>

#define SWEEP_MS 100 // how often suspended connections are checked for a hang-up

// The front's hook (f.mu held): resume the connection if it is suspended.
static void on_change(void *cookie) {
    struct api_wait *w = cookie;
    if (!w->suspended) return; // its handler is running and will look again
    w->suspended = 0;
    MHD_resume_connection(w->conn);
}

void api_wait_init(struct server *s, struct api_wait *w, struct MHD_Connection *conn,
                   struct front_req *req) {
    memset(w, 0, sizeof *w);
    w->s = s;
    w->conn = conn;
    w->req = req;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    w->fd = ci ? ci->connect_fd : -1;
    pthread_mutex_lock(&s->f.mu);
    w->next = s->waits;
    if (s->waits) s->waits->prev = w;
    s->waits = w;
    if (s->n_waits++ == 0) pthread_cond_signal(&s->sweep_cond); // the sweeper waits for one
    pthread_mutex_unlock(&s->f.mu);
    front_set_notify(&s->f, req, on_change, w);
    w->live = 1;
}

void api_wait_fini(struct api_wait *w) {
    if (!w->live) return;
    struct server *s = w->s;
    front_set_notify(&s->f, w->req, NULL, NULL);
    pthread_mutex_lock(&s->f.mu);
    JANUS_ASSERT(!w->suspended); // libmicrohttpd never ends a suspended connection
    if (w->prev)
        w->prev->next = w->next;
    else
        s->waits = w->next;
    if (w->next) w->next->prev = w->prev;
    s->n_waits--;
    pthread_mutex_unlock(&s->f.mu);
    w->live = 0;
}

enum api_wait_state api_wait_poll_locked(struct api_wait *w, int news) {
    if (w->gone) return API_WAIT_GONE;
    if (news) return API_WAIT_NEWS;
    if (w->s->f.stopping) return API_WAIT_STOPPING;
    w->suspended = 1;
    MHD_suspend_connection(w->conn);
    return API_WAIT_SUSPENDED;
}

// ---- the sweeper

static void *sweeper_main(void *arg) {
    struct server *s = arg;
    struct pollfd *pf = NULL;
    struct api_wait **pw = NULL;
    int cap = 0;
    for (;;) {
        pthread_mutex_lock(&s->f.mu); // idle (no request in progress): sleep until one starts
        while (!s->sweep_stop && s->n_waits == 0)
            pthread_cond_wait(&s->sweep_cond, &s->f.mu);
        pthread_mutex_unlock(&s->f.mu);
        if (s->sweep_stop) break;
        clock_sleep_ns((int64_t)SWEEP_MS * 1000000);
        pthread_mutex_lock(&s->f.mu);
        if (s->n_waits > cap) {
            int nc = s->n_waits + 64;
            struct pollfd *a = mem_realloc(MEM_TAG_SERVER, pf, (size_t)nc * sizeof *a);
            if (a) pf = a;
            struct api_wait **b = mem_realloc(MEM_TAG_SERVER, pw, (size_t)nc * sizeof *b);
            if (b) pw = b;
            if (a && b) cap = nc;
        }
        int n = 0;
        for (struct api_wait *w = s->waits; w && n < cap; w = w->next)
            if (w->suspended && w->fd >= 0) {
                pf[n] = (struct pollfd){w->fd, POLLRDHUP, 0};
                pw[n++] = w;
            }
        // One non-blocking poll over every suspended connection. A hang-up (or a reset) is
        // a client gone; data from the client (a pipelined request) is not.
        if (n > 0 && poll(pf, (nfds_t)n, 0) > 0)
            for (int i = 0; i < n; i++)
                if (pf[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                    pw[i]->gone = 1;
                    on_change(pw[i]); // its handler ends it and cancels the request
                }
        pthread_mutex_unlock(&s->f.mu);
    }
    mem_free(pf);
    mem_free(pw);
    return NULL;
}

int api_wait_start(struct server *s) {
    s->sweep_stop = 0;
    pthread_cond_init(&s->sweep_cond, NULL);
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0) {
        pthread_cond_destroy(&s->sweep_cond);
        return JANUS_EIO;
    }
    s->sweeper_started = 1;
    return JANUS_OK;
}

void api_wait_stop(struct server *s) {
    if (s->sweeper_started) {
        pthread_mutex_lock(&s->f.mu);
        s->sweep_stop = 1;
        pthread_cond_signal(&s->sweep_cond);
        pthread_mutex_unlock(&s->f.mu);
        pthread_join(s->sweeper, NULL);
        pthread_cond_destroy(&s->sweep_cond);
        s->sweeper_started = 0;
    }
    // Nothing may stay suspended when libmicrohttpd stops (it would abort): the front's stop
    // has woken every request and handlers no longer suspend once it is stopping; resume
    // whatever is left regardless.
    pthread_mutex_lock(&s->f.mu);
    for (struct api_wait *w = s->waits; w; w = w->next)
        if (w->suspended) {
            LOG_WARN("http: a connection was still suspended at stop");
            on_change(w);
        }
    pthread_mutex_unlock(&s->f.mu);
}
