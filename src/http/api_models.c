// GET /v1/models (the one served model, OpenAI list shape) and GET /health: 503 while the
// deployment starts or after it failed, 200 once READY and a step completed within the
// health window (the controller runs a heartbeat step every second when idle, so an old
// last step means a stuck deployment). SPEC §10.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"

#include "base/clock.h"
#include "base/status.h"
#include "http/json.h"

#include <stdio.h>
#include <string.h>

void api_models(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                struct api_reply *r) {
    (void)conn, (void)body, (void)len;
    pthread_mutex_lock(&s->f.mu);
    char name[FRONTLINK_MAX_NAME + 1];
    snprintf(name, sizeof name, "%s", s->f.model_name);
    int ready = s->f.job == FRONT_JOB_READY;
    pthread_mutex_unlock(&s->f.mu);
    if (!ready) {
        api_error(r, 503, "service_unavailable", NULL, "not_ready", "the deployment is not ready");
        return;
    }
    int rc = buf_appendf(&r->body, "{\"object\":\"list\",\"data\":[{\"id\":");
    rc |= json_append_str(&r->body, name, strlen(name));
    rc |= buf_appendf(&r->body, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"janus\"}]}",
                      (long long)(clock_wall_ms() / 1000));
    r->status = rc ? 500 : 200;
}

void api_health(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                struct api_reply *r) {
    (void)conn, (void)body, (void)len;
    pthread_mutex_lock(&s->f.mu);
    enum front_job job = s->f.job;
    int64_t age_ms = s->f.step_seen_ns ? (clock_now_ns() - s->f.step_seen_ns) / 1000000 : -1;
    char why[256];
    snprintf(why, sizeof why, "%s", s->f.job_error);
    struct frontlink_ready rd = s->f.ready;
    uint64_t steps = s->f.stats.n_steps;
    pid_t pid = s->f.job_pgid;
    int restarts = s->f.restarts;
    pthread_mutex_unlock(&s->f.mu);
    struct buf *b = &r->body;
    int rc;
    if (job == FRONT_JOB_STARTING) {
        r->status = 503;
        rc = buf_appendf(b, "{\"status\":\"loading\",\"job_pid\":%d,\"restarts\":%d}", (int)pid,
                         restarts);
    } else if (job != FRONT_JOB_READY) {
        r->status = 503;
        rc = buf_appendf(b, "{\"status\":\"error\",\"job_pid\":%d,\"message\":", (int)pid);
        rc |= json_append_str(b, why[0] ? why : "the deployment is not running",
                              strlen(why[0] ? why : "the deployment is not running"));
        rc |= buf_appendf(b, "}");
    } else {
        int fresh = age_ms >= 0 && age_ms <= s->p.health_window_ms;
        r->status = fresh ? 200 : 503;
        rc = buf_appendf(
            b,
            "{\"status\":\"%s\",\"job_pid\":%d,\"steps\":%llu,\"last_step_age_ms\":%lld,"
            "\"n_attn\":%u,\"n_moe\":%u,\"n_ctx\":%u,\"restarts\":%d}",
            fresh ? "ok" : "stalled", (int)pid, (unsigned long long)steps, (long long)age_ms,
            rd.n_attn, rd.n_moe, rd.n_ctx, restarts);
    }
    if (rc) {
        buf_reset(b);
        api_error(r, 500, "server_error", NULL, NULL, "health output failed");
    }
}
