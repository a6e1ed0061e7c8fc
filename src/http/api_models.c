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
    int ready = front_accepting(&s->f); // (still 200 while the job is being relaunched)
    pthread_mutex_unlock(&s->f.mu);
    if (!ready) {
        api_error(r, 503, "service_unavailable", NULL, "not_ready", "the deployment is not ready");
        return;
    }
    cJSON *doc = cJSON_CreateObject(), *list = NULL, *m = NULL;
    cJSON_AddStringToObject(doc, "object", "list");
    if ((list = cJSON_AddArrayToObject(doc, "data")) && (m = cJSON_CreateObject())) {
        cJSON_AddItemToArray(list, m);
        cJSON_AddItemToObject(m, "id", json_string(name, strlen(name)));
        cJSON_AddStringToObject(m, "object", "model");
        cJSON_AddNumberToObject(m, "created", (double)(clock_wall_ms() / 1000));
        cJSON_AddStringToObject(m, "owned_by", "janus");
    }
    if (api_json_reply(r, 200, doc)) api_error(r, 500, "server_error", NULL, NULL, "out of memory");
}

void api_health(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                struct api_reply *r) {
    (void)conn, (void)body, (void)len;
    pthread_mutex_lock(&s->f.mu);
    enum front_job job = s->f.job;
    int64_t age_ms = s->f.step_seen_ns ? (clock_now_ns() - s->f.step_seen_ns) / 1000000 : -1;
    char why[512];
    snprintf(why, sizeof why, "%s", s->f.job_error);
    struct frontlink_ready rd = s->f.ready;
    uint64_t steps = s->f.stats.n_steps;
    pid_t pid = s->f.job_pgid;
    int restarts = s->f.restarts, recovering = s->f.recovering, n_live = s->f.n_live;
    double pause_ms = s->f.last_pause_ms;
    double wd_med = 0, wd_limit = front_watchdog_limit(&s->f, &wd_med);
    uint64_t wd_fires = s->f.watchdog_fires;
    pthread_mutex_unlock(&s->f.mu);
    cJSON *doc = cJSON_CreateObject();
    unsigned status = 503;
    if (recovering) { // the job died; relaunching it, its requests wait to be replayed
        cJSON_AddStringToObject(doc, "status", "recovering");
        cJSON_AddNumberToObject(doc, "job_pid", (int)pid);
        cJSON_AddNumberToObject(doc, "restarts", restarts);
        cJSON_AddNumberToObject(doc, "requests_waiting", n_live);
        cJSON_AddItemToObject(doc, "message", json_string(why, strlen(why)));
    } else if (job == FRONT_JOB_STARTING) {
        cJSON_AddStringToObject(doc, "status", "loading");
        cJSON_AddNumberToObject(doc, "job_pid", (int)pid);
        cJSON_AddNumberToObject(doc, "restarts", restarts);
    } else if (job != FRONT_JOB_READY) {
        const char *msg = why[0] ? why : "the deployment is not running";
        cJSON_AddStringToObject(doc, "status", "error");
        cJSON_AddNumberToObject(doc, "job_pid", (int)pid);
        cJSON_AddItemToObject(doc, "message", json_string(msg, strlen(msg)));
    } else {
        int fresh = age_ms >= 0 && age_ms <= s->p.health_window_ms;
        status = fresh ? 200 : 503;
        cJSON_AddStringToObject(doc, "status", fresh ? "ok" : "stalled");
        cJSON_AddNumberToObject(doc, "job_pid", (int)pid);
        cJSON_AddNumberToObject(doc, "steps", (double)steps);
        cJSON_AddNumberToObject(doc, "last_step_age_ms", (double)age_ms);
        cJSON_AddNumberToObject(doc, "n_attn", rd.n_attn);
        cJSON_AddNumberToObject(doc, "n_moe", rd.n_moe);
        cJSON_AddNumberToObject(doc, "n_ctx", rd.n_ctx);
        cJSON_AddNumberToObject(doc, "restarts", restarts);
        if (restarts > 0) cJSON_AddNumberToObject(doc, "last_recovery_ms", pause_ms);
        cJSON_AddNumberToObject(doc, "watchdog_fires", (double)wd_fires);
        cJSON_AddNumberToObject(doc, "watchdog_limit_s", wd_limit);
        cJSON_AddNumberToObject(doc, "step_median_ms", wd_med * 1e3);
    }
    if (api_json_reply(r, status, doc))
        api_error(r, 500, "server_error", NULL, NULL, "health output failed");
}
