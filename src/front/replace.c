// Live re-placement, the front's side (front.h; issue 16 item 2): POST /admin/replace and
// `janus admin URL replace` end here. The front sends REPLACE to the job's controller and
// waits for its REPLACED (the controller gathers the statistics, computes the layout, the
// ranks load and switch: runtime/replace.h), keeps the counts and the last figures for
// /metrics, and turns every state the job can be in into a clear answer (409, 503, 504).
// SPDX-License-Identifier: MIT
#include "front/front.h"

#include "base/log.h"
#include "base/status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void front_replace_on_reply(struct front *s, const struct frontlink_replaced *r) {
    if (r->switched) {
        s->replacements_total++;
        s->replace_last = *r;
        s->replace_have_last = 1;
    } else if (r->code == FRONTLINK_ERR_INTERNAL) {
        s->replace_failures++;
    }
    if (r->trigger == FRONTLINK_TRIGGER_DRIFT && !s->p.quiet)
        LOG_INFO("front: the drift policy re-placed the experts: %s", r->message);
    if (r->tag != 0 && r->tag == s->rp_wait_tag) {
        s->rp_reply = *r;
        s->rp_have_reply = 1;
        pthread_cond_broadcast(&s->state_cond);
    }
}

static int http_of(int code) {
    switch (code) {
    case FRONTLINK_ERR_CONFLICT: return 409;
    case FRONTLINK_ERR_JOB:
    case FRONTLINK_ERR_SHUTDOWN: return 503;
    case FRONTLINK_ERR_INVALID:
    case FRONTLINK_ERR_TOO_LONG: return 400;
    default: return 500;
    }
}

int front_replace(struct front *s, const struct front_replace_args *a,
                  struct front_replace_info *out, char *err, size_t cap) {
    memset(out, 0, sizeof *out);
    int timeout_ms = a && a->timeout_ms > 0 ? a->timeout_ms : FRONT_REPLACE_TIMEOUT_MS;
    pthread_mutex_lock(&s->mu);
    if (s->stopping || s->recovering || s->job != FRONT_JOB_READY) {
        out->http_status = 503;
        int rc = status_errf(err, cap, JANUS_ECOMM, "cannot re-place now: %s",
                             front_not_ready_reason(s));
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    if (s->rp_wait_tag != 0) {
        out->http_status = 409;
        pthread_mutex_unlock(&s->mu);
        return status_errf(err, cap, JANUS_EAGAIN,
                           "a re-placement is already under way; try again once it switched");
    }
    uint64_t tag = ++s->rp_next_tag, gen = s->job_gen;
    s->rp_wait_tag = tag;
    s->rp_have_reply = 0;
    struct frontlink_msg m = {.type = FRONTLINK_REPLACE};
    m.u.replace.tag = tag;
    m.u.replace.flags = a && a->dry_run ? FRONTLINK_REPLACE_DRY_RUN : 0;
    pthread_mutex_lock(&s->send_mu); // lock order: mu, then send_mu
    int sent = s->conn.fd >= 0 && s->conn_gen == gen && frontlink_send(&s->conn, &m) == JANUS_OK;
    pthread_mutex_unlock(&s->send_mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (int64_t)timeout_ms * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    int rc = 0;
    while (sent && !s->rp_have_reply && !s->stopping && s->job_gen == gen &&
           s->job == FRONT_JOB_READY && !s->recovering && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->state_cond, &s->mu, &ts);
    int status;
    if (s->rp_have_reply) {
        out->r = s->rp_reply;
        status = out->r.code == 0 ? JANUS_OK : JANUS_EINVAL;
        out->http_status = out->r.code == 0 ? 200 : http_of(out->r.code);
        if (status) snprintf(err, cap, "%s", out->r.message);
    } else if (!sent || s->stopping || s->job_gen != gen || s->job != FRONT_JOB_READY ||
               s->recovering) {
        out->http_status = 503;
        status = status_errf(err, cap, JANUS_ECOMM,
                             "the deployment failed or stopped before the re-placement "
                             "finished (%s); a relaunched job starts from its configured layout",
                             front_not_ready_reason(s));
    } else {
        out->http_status = 504;
        status = status_errf(err, cap, JANUS_EAGAIN,
                             "no answer from the deployment within %d ms; the re-placement may "
                             "still switch (see /metrics)",
                             timeout_ms);
    }
    s->rp_wait_tag = 0;
    s->rp_have_reply = 0;
    pthread_mutex_unlock(&s->mu);
    return status;
}
