// Live rescale of the deployment's (n_attn, n_moe) (front.h front_rescale; issue 16 item 3,
// SPEC §7): the caller's half. Builds the job command of the new shape (front_params.job_build),
// starts it beside the running job on a socket of its own, reads its READY, hands it to the
// reader thread (front_rescale_adopt in front.c: the switch and the replay), then shuts the old
// job down: SHUTDOWN, the stop grace, SIGTERM, SIGKILL, and every process of its session.
// A new job that fails to start is killed whole and the old one keeps serving.
// SPDX-License-Identifier: MIT
#include "front/front.h"

#include "front/launch.h"

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESCALE_MAX_RANKS 128

// Reaps pid if it has exited (WNOHANG). 1: gone (*st set when st != NULL).
static int reaped(pid_t pid, int *st) {
    int w = 0;
    pid_t r = waitpid(pid, &w, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
        if (st) *st = w;
        return 1;
    }
    return 0;
}

// Ends a job that is not the front's current one: SHUTDOWN over its link (if any), the
// grace, SIGTERM, SIGKILL to its group, then every process left in its session; reaps it.
static void retire(struct front *s, struct frontlink_conn *c, pid_t pid) {
    int gone = 0;
    if (c && c->fd >= 0) {
        // SHUTDOWN, then read (and drop) what it still sends until it closes the link: the
        // controller cancels what it held and ends cleanly, within the stop grace.
        struct frontlink_msg m = {.type = FRONTLINK_SHUTDOWN};
        int64_t end = clock_now_ns() + (int64_t)s->p.stop_grace_ms * 1000000;
        if (frontlink_send(c, &m) == JANUS_OK)
            while (clock_now_ns() < end && !(pid > 0 && (gone = reaped(pid, NULL)))) {
                char e[JANUS_ERR_LEN];
                int r = frontlink_recv(c, 50, &m, e, sizeof e);
                if (r == JANUS_OK)
                    frontlink_msg_free(&m);
                else if (r != JANUS_EAGAIN)
                    break; // closed
            }
        frontlink_conn_close(c);
    }
    if (pid <= 0 || gone) {
        if (pid > 0) launch_kill_session(pid, SIGKILL); // (whatever of its session is left)
        return;
    }
    int graceful = c != NULL;
    int term = graceful ? s->p.stop_grace_ms / 20 : 0, kill9 = graceful ? term + 100 : 0;
    for (int k = 0; k < kill9 + 100 && !(gone = reaped(pid, NULL)); k++) {
        if (k == term) kill(-pid, SIGTERM);
        if (k == kill9) kill(-pid, SIGKILL);
        clock_sleep_ns(20 * 1000000);
    }
    if (!gone) kill(pid, SIGKILL);
    kill(-pid, SIGKILL);
    for (int k = 0; k < 100 && launch_kill_session(pid, SIGKILL) > 0; k++)
        clock_sleep_ns(20 * 1000000);
    for (int k = 0; !gone && k < 100 && !(gone = reaped(pid, NULL)); k++)
        clock_sleep_ns(20 * 1000000);
}

// Starts argv with "--socket PATH" on a listening socket of its own and waits for its READY
// (bounded by ready_timeout_s; gives up when the front stops). On JANUS_OK *c and *pid hold
// the job; otherwise it is gone and err says why.
static int start_job(struct front *s, char **argv, struct frontlink_conn *c, pid_t *pid,
                     struct frontlink_ready *ready, char *err, size_t err_len) {
    static _Atomic unsigned seq;
    char path[sizeof s->sock_path + 32];
    snprintf(path, sizeof path, "%s/rescale-%u.sock", s->sock_dir, ++seq);
    int lfd = -1;
    int rc = frontlink_listen(path, &lfd);
    if (rc) return status_errf(err, err_len, rc, "cannot listen on %s", path);
    int n = 0;
    while (argv[n])
        n++;
    char **av = mem_calloc(MEM_TAG_SERVER, (size_t)n + 3, sizeof *av);
    if (!av) {
        close(lfd);
        unlink(path);
        return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    }
    memcpy(av, argv, (size_t)n * sizeof *av);
    av[n] = (char *)"--socket";
    av[n + 1] = path;
    rc = launch_spawn(av, s->p.mpi_env, -1, pid, err, err_len);
    mem_free(av);
    if (rc) {
        close(lfd);
        unlink(path);
        return rc;
    }
    int64_t deadline = clock_now_ns() + (int64_t)s->p.ready_timeout_s * 1000000000;
    int connected = 0, st = 0;
    c->fd = -1;
    rc = JANUS_OK;
    for (;;) {
        if (s->stopping) {
            rc = status_errf(err, err_len, JANUS_ECOMM, "the server is stopping");
            break;
        }
        if (reaped(*pid, &st)) {
            char d[64];
            launch_describe_exit(st, d, sizeof d);
            rc = status_errf(err, err_len, JANUS_EIO,
                             "the new deployment ended (%s) before it "
                             "was ready",
                             d);
            *pid = -1;
            break;
        }
        if (clock_now_ns() > deadline) {
            rc = status_errf(err, err_len, JANUS_EIO, "the new deployment was not ready in %d s",
                             s->p.ready_timeout_s);
            break;
        }
        if (!connected) {
            int r = frontlink_accept(lfd, 200, c);
            if (r == JANUS_OK)
                connected = 1;
            else if (r != JANUS_EAGAIN) {
                rc = status_errf(err, err_len, JANUS_EIO, "accept on %s failed", path);
                break;
            }
            continue;
        }
        struct frontlink_msg m;
        char perr[JANUS_ERR_LEN] = "";
        int r = frontlink_recv(c, 200, &m, perr, sizeof perr);
        if (r == JANUS_EAGAIN) continue;
        if (r != JANUS_OK) { // its exit status says more: wait for it briefly
            rc = status_errf(err, err_len, JANUS_EIO, "the new deployment closed its link%s%s",
                             perr[0] ? ": " : "", perr);
            int gone = 0;
            for (int k = 0; k < 100 && !(gone = reaped(*pid, &st)); k++)
                clock_sleep_ns(20 * 1000000);
            if (gone) {
                char d[64];
                launch_describe_exit(st, d, sizeof d);
                rc = status_errf(err, err_len, JANUS_EIO,
                                 "the new deployment ended (%s) before it was ready", d);
                *pid = -1;
            }
            break;
        }
        if (m.type == FRONTLINK_READY) {
            *ready = m.u.ready;
            frontlink_msg_free(&m);
            break;
        }
        if (m.type == FRONTLINK_ERROR && m.u.error.id == 0) {
            rc = status_errf(err, err_len, JANUS_EIO, "the new deployment reports: %.200s",
                             m.u.error.message);
            frontlink_msg_free(&m);
            break;
        }
        rc = status_errf(err, err_len, JANUS_EIO, "the new deployment sent %s before READY",
                         frontlink_type_name(m.type));
        frontlink_msg_free(&m);
        break;
    }
    close(lfd);
    unlink(path);
    if (rc) {
        if (c->fd >= 0) frontlink_conn_close(c);
        retire(s, NULL, *pid);
        *pid = -1;
    }
    return rc;
}

int front_rescale(struct front *s, const struct front_rescale_args *a,
                  struct front_rescale_info *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    int64_t t0 = clock_now_ns();
    int max_ranks = s->p.max_ranks > 0 ? s->p.max_ranks : RESCALE_MAX_RANKS;
    const char *reason = a->reason && a->reason[0] ? a->reason : "admin";
    out->to_attn = a->n_attn;
    out->to_moe = a->n_moe;
    if (a->n_attn < 1 || a->n_moe < 1 || a->n_attn > LIMIT_MAX_INSTANCES ||
        a->n_moe > LIMIT_MAX_INSTANCES)
        return status_errf(err, err_len, JANUS_EINVAL, "the instance counts must be 1 to %d",
                           LIMIT_MAX_INSTANCES);
    if (a->n_attn + a->n_moe > max_ranks)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "%d attention + %d MoE instances exceed the %d ranks allowed", a->n_attn,
                           a->n_moe, max_ranks);
    if (!s->p.job_build)
        return status_errf(err, err_len, JANUS_EUNSUPPORTED,
                           "this server cannot rescale its deployment");
    pthread_mutex_lock(&s->mu);
    out->from_attn = (int)s->ready.n_attn;
    out->from_moe = (int)s->ready.n_moe;
    int rc = JANUS_OK;
    const char *why = "";
    if (s->stopping)
        rc = JANUS_ECOMM, why = "the server is shutting down";
    else if (s->rescaling)
        rc = JANUS_EAGAIN, why = "a rescale is already under way";
    else if (s->rp_wait_tag != 0)
        rc = JANUS_EAGAIN, why = "a re-placement is under way; try again once it switched";
    else if (s->recovering || s->job != FRONT_JOB_READY)
        rc = JANUS_ECOMM, why = front_not_ready_reason(s);
    else if (out->from_attn == a->n_attn && out->from_moe == a->n_moe)
        out->unchanged = 1;
    else
        s->rescaling = 1;
    char whybuf[256];
    snprintf(whybuf, sizeof whybuf, "%s", why);
    if (rc) s->rescale_failures++;
    pthread_mutex_unlock(&s->mu);
    if (rc) return status_errf(err, err_len, rc, "cannot rescale now: %s", whybuf);
    if (out->unchanged) {
        snprintf(out->message, sizeof out->message,
                 "the deployment already has %d attention and "
                 "%d MoE instances",
                 a->n_attn, a->n_moe);
        return JANUS_OK;
    }
    if (!s->p.quiet)
        LOG_INFO("front: rescale (%d,%d) -> (%d,%d) (%s): starting the new deployment",
                 out->from_attn, out->from_moe, a->n_attn, a->n_moe, reason);

    char **argv = NULL;
    struct front_handoff *h = NULL;
    pid_t pid = -1;
    rc = s->p.job_build(s->p.job_build_ctx, a->n_attn, a->n_moe, &argv, err, err_len);
    if (rc) goto failed;
    struct frontlink_conn c;
    struct frontlink_ready ready;
    memset(&ready, 0, sizeof ready);
    rc = start_job(s, argv, &c, &pid, &ready, err, err_len);
    if (rc) {
        if (s->stopping) rc = JANUS_ECOMM;
        char tmp[JANUS_ERR_LEN];
        snprintf(tmp, sizeof tmp, "%s", err);
        status_errf(err, err_len, rc, "%s; the deployment (%d,%d) keeps serving", tmp,
                    out->from_attn, out->from_moe);
        goto failed;
    }
    int64_t t_ready = clock_now_ns();
    out->start_s = (double)(t_ready - t0) * 1e-9;
    h = mem_calloc(MEM_TAG_SERVER, 1, sizeof *h);
    if (!h) {
        frontlink_conn_close(&c);
        retire(s, NULL, pid);
        rc = status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
        goto failed;
    }
    h->conn = c;
    h->pid = pid;
    h->ready = ready;
    h->argv = argv;
    h->old_pid = -1;
    h->old_conn.fd = -1;
    argv = NULL;
    // The reader adopts it at its next message or within 200 ms (front_rescale_adopt). If the
    // old job fails meanwhile the relaunch goes on as usual and the adoption follows its READY;
    // if the front stops or the job ends for good, the new job is withdrawn.
    pthread_mutex_lock(&s->mu);
    s->handoff = h;
    s->handoff_pending = 1;
    int withdrawn = 0;
    while (!h->taken) {
        if (s->handoff == h &&
            (s->stopping || s->job == FRONT_JOB_DEAD || s->job == FRONT_JOB_STOPPED)) {
            s->handoff = NULL;
            s->handoff_pending = 0;
            withdrawn = 1;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&s->state_cond, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    if (withdrawn) {
        frontlink_conn_close(&h->conn);
        retire(s, NULL, h->pid);
        front_free_argv(h->argv);
        mem_free(h);
        rc = status_errf(err, err_len, JANUS_ECOMM, "%s",
                         s->stopping ? "the server is shutting down"
                                     : "the deployment failed during the rescale");
        goto failed;
    }
    if (h->refused) { // more requests in flight than the new shape holds
        int64_t cap = (int64_t)h->ready.max_waiting + (int64_t)h->ready.n_attn * h->ready.max_seqs;
        frontlink_conn_close(&h->conn);
        retire(s, NULL, h->pid);
        front_free_argv(h->argv);
        rc = status_errf(err, err_len, JANUS_ELIMIT,
                         "the new deployment holds %lld requests (%u x %u slots + %u waiting); "
                         "%d are in flight: retry when fewer are",
                         (long long)cap, h->ready.n_attn, h->ready.max_seqs, h->ready.max_waiting,
                         h->refused);
        mem_free(h);
        goto failed;
    }
    out->moved = h->moved;
    out->switch_ms = (double)(h->t_done_ns - t_ready) * 1e-6;
    if (!s->p.quiet)
        LOG_INFO("front: rescale (%d,%d) -> (%d,%d): the new deployment took over; %d requests "
                 "moved by replay; retiring the old one",
                 out->from_attn, out->from_moe, a->n_attn, a->n_moe, h->moved);
    retire(s, &h->old_conn, h->old_pid);
    front_free_argv(h->argv);
    mem_free(h);
    out->seconds = (double)(clock_now_ns() - t0) * 1e-9;
    snprintf(out->message, sizeof out->message,
             "(%d,%d) -> (%d,%d): new deployment ready after %.1f s, %d requests moved by replay "
             "in %.1f ms, old deployment retired",
             out->from_attn, out->from_moe, a->n_attn, a->n_moe, out->start_s, out->moved,
             out->switch_ms);
    pthread_mutex_lock(&s->mu);
    s->rescaling = 0;
    s->last_rescale_ms = out->seconds * 1e3;
    snprintf(s->last_rescale, sizeof s->last_rescale, "(%d,%d) -> (%d,%d): %.150s", out->from_attn,
             out->from_moe, a->n_attn, a->n_moe, reason);
    pthread_cond_broadcast(&s->state_cond);
    pthread_mutex_unlock(&s->mu);
    if (!s->p.quiet)
        LOG_WARN("front: rescale (%d,%d) -> (%d,%d) done in %.0f ms (new deployment ready after "
                 "%.0f ms, switch %.1f ms, %d requests moved)",
                 out->from_attn, out->from_moe, a->n_attn, a->n_moe, out->seconds * 1e3,
                 out->start_s * 1e3, out->switch_ms, out->moved);
    return JANUS_OK;

failed:
    front_free_argv(argv);
    out->seconds = (double)(clock_now_ns() - t0) * 1e-9;
    pthread_mutex_lock(&s->mu);
    s->rescaling = 0;
    s->rescale_failures++;
    pthread_cond_broadcast(&s->state_cond);
    pthread_mutex_unlock(&s->mu);
    if (!s->p.quiet)
        LOG_WARN("front: rescale (%d,%d) -> (%d,%d) failed: %s", out->from_attn, out->from_moe,
                 a->n_attn, a->n_moe, err);
    return rc;
}
