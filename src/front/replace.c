// Live re-placement of the experts, the front's side (issue 16 item 2, SPEC §6; front.h):
// POST /admin/replace and `janus admin URL replace` end here. front_replace sends REPLACE
// to the job's controller and waits for its REPLACED (the controller gathers the MoE ranks'
// decayed statistics, computes the Janus layout, the ranks load their new slabs and switch at
// one agreed step: runtime/replace.h); the reader thread counts every REPLACED for /metrics
// (the drift policy's too). Every state the job can be in gives a clear answer.
// docs/HTTP.md "Administration".
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

// A REPLACED error code → (front.h status, HTTP status).
static int status_of(int code, int *http) {
    switch (code) {
    case FRONTLINK_ERR_CONFLICT: *http = 409; return JANUS_EAGAIN;
    case FRONTLINK_ERR_UNSUPPORTED: *http = 501; return JANUS_EUNSUPPORTED;
    case FRONTLINK_ERR_JOB:
    case FRONTLINK_ERR_SHUTDOWN: *http = 503; return JANUS_ECOMM;
    case FRONTLINK_ERR_INVALID: *http = 400; return JANUS_EINVAL;
    default: *http = 500; return JANUS_EIO;
    }
}

static void fill(struct front_replace_info *out, const struct frontlink_replaced *r) {
    out->switched = r->switched != 0;
    out->switch_step = r->switch_step;
    out->layers_changed = (int)r->layers_changed;
    out->n_moe_layers = (int)r->n_moe_layers;
    out->amax_before = r->amax_before;
    out->amax_after = r->amax_after;
    out->plan_ms = r->plan_ms;
    out->load_bytes = r->load_bytes;
    out->seconds = 1e-3 * r->total_ms;
    snprintf(out->message, sizeof out->message, "%.255s", r->message);
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
    if (s->rescaling) { // the layout would be the old deployment's, about to be retired
        out->http_status = 409;
        pthread_mutex_unlock(&s->mu);
        return status_errf(err, cap, JANUS_EAGAIN,
                           "a rescale is under way; re-place once it is done");
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
        fill(out, &s->rp_reply);
        status = JANUS_OK;
        out->http_status = 200;
        if (s->rp_reply.code != 0) {
            status = status_of(s->rp_reply.code, &out->http_status);
            snprintf(err, cap, "%s", s->rp_reply.message);
        }
    } else if (!sent || s->stopping || s->job_gen != gen || s->job != FRONT_JOB_READY ||
               s->recovering) {
        out->http_status = 503;
        status = status_errf(err, cap, JANUS_ECOMM,
                             "the deployment failed or stopped before the re-placement "
                             "finished (%s); a relaunched job starts from the last layout that "
                             "switched",
                             front_not_ready_reason(s));
    } else {
        out->http_status = 504;
        status = status_errf(err, cap, JANUS_ECANCELED,
                             "no answer from the deployment within %d ms; the re-placement may "
                             "still switch (see janus_replacements_total in /metrics)",
                             timeout_ms);
    }
    s->rp_wait_tag = 0;
    s->rp_have_reply = 0;
    pthread_mutex_unlock(&s->mu);
    return status;
}
