// The administration endpoints (issue 16 items 2 and 3): POST /admin/replace (live expert
// re-placement) and POST /admin/rescale (live change of (n_attn, n_moe)), each a thin JSON
// face over front_replace / front_rescale. They need the API key when the server has one;
// a server without a key accepts them only on a loopback address (where guard.h checks Host
// and Origin). docs/HTTP.md "Administration".
// SPDX-License-Identifier: MIT
#include "base/clock.h"
#include "base/limits.h"
#include "base/mem.h"
#include "base/status.h"
#include "http/guard.h"
#include "http/http_impl.h"
#include "http/json.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

// 403 for a keyless server on a non-loopback address (the key itself is checked before the
// handler runs, as for /v1/*). Returns 1 if allowed.
static int admin_allowed(struct server *s, struct api_reply *r) {
    if (s->p.api_key || guard_loopback_addr(s->p.host)) return 1;
    api_error(r, 403, "invalid_request_error", NULL, "admin_needs_key",
              "the /admin endpoints need --api-key on a server that listens on %s (a "
              "non-loopback address)",
              s->p.host);
    return 0;
}

// The front's status → the reply's HTTP status and error code.
static void admin_failed(struct api_reply *r, int st, const char *why) {
    unsigned http = 500;
    const char *code = "internal_error";
    if (st == JANUS_EINVAL)
        http = 400, code = "invalid_value";
    else if (st == JANUS_EAGAIN)
        http = 409, code = "busy";
    else if (st == JANUS_ELIMIT) // e.g. more requests in flight than the new shape holds
        http = 409, code = "too_many_in_flight";
    else if (st == JANUS_ECOMM)
        http = 503, code = "not_ready";
    else if (st == JANUS_EUNSUPPORTED)
        http = 501, code = "not_supported";
    api_error(r, http, http < 500 ? "invalid_request_error" : "server_error", NULL, code, "%s",
              why);
}

// Reads the optional integer field name of req into *v (default kept when absent): 0, or
// fills r with a 400 and returns -1.
static int admin_int(const cJSON *req, const char *name, int lo, int hi, int *v,
                     struct api_reply *r) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(req, name);
    if (!it) return 0;
    if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int)it->valuedouble ||
        it->valuedouble < lo || it->valuedouble > hi) {
        api_error(r, 400, "invalid_request_error", name, "invalid_value",
                  "'%s' must be an integer in [%d, %d]", name, lo, hi);
        return -1;
    }
    *v = (int)it->valuedouble;
    return 0;
}

// Parses the body (empty: {}) into *req; 0, or r filled and -1.
static int admin_body(struct server *s, const char *body, size_t len, cJSON **req,
                      struct api_reply *r) {
    if (len == 0) {
        *req = cJSON_CreateObject();
        return *req ? 0 : -1;
    }
    return api_parse_body(s, body, len, req, r) == JANUS_OK ? 0 : -1;
}

// The reply of a finished re-placement (st: front_replace's status).
static void replace_reply(struct api_reply *r, int st, const char *err, int dry_run,
                          const struct front_replace_info *info) {
    if (st == JANUS_ECANCELED) { // no answer in time: it may still switch
        api_error(r, 504, "server_error", NULL, "timeout", "%s", err);
        return;
    }
    if (st != JANUS_OK) {
        admin_failed(r, st, err);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    // switched; planned (a dry run); unchanged (the statistics give the current layout)
    cJSON_AddStringToObject(doc, "status",
                            info->switched ? "switched"
                            : dry_run      ? "planned"
                                           : "unchanged");
    if (info->switched) cJSON_AddNumberToObject(doc, "switch_step", (double)info->switch_step);
    cJSON_AddNumberToObject(doc, "layers_changed", info->layers_changed);
    cJSON_AddNumberToObject(doc, "moe_layers", info->n_moe_layers);
    cJSON_AddNumberToObject(doc, "amax_before", info->amax_before);
    cJSON_AddNumberToObject(doc, "amax_after", info->amax_after);
    cJSON_AddNumberToObject(doc, "plan_ms", info->plan_ms);
    cJSON_AddNumberToObject(doc, "load_bytes", (double)info->load_bytes);
    cJSON_AddNumberToObject(doc, "seconds", info->seconds);
    cJSON_AddStringToObject(doc, "message", info->message);
    if (api_json_reply(r, 200, doc)) api_error(r, 500, "server_error", NULL, NULL, "out of memory");
}

// The reply of a finished rescale (st: front_rescale's status).
static void rescale_reply(struct api_reply *r, int st, const char *err,
                          const struct front_rescale_info *info) {
    if (st != JANUS_OK) {
        admin_failed(r, st, err);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", info->unchanged ? "unchanged" : "rescaled");
    cJSON *from = cJSON_AddObjectToObject(doc, "from"), *to = cJSON_AddObjectToObject(doc, "to");
    cJSON_AddNumberToObject(from, "n_attn", info->from_attn);
    cJSON_AddNumberToObject(from, "n_moe", info->from_moe);
    cJSON_AddNumberToObject(to, "n_attn", info->to_attn);
    cJSON_AddNumberToObject(to, "n_moe", info->to_moe);
    cJSON_AddNumberToObject(doc, "moved", info->moved);
    cJSON_AddNumberToObject(doc, "seconds", info->seconds);
    cJSON_AddNumberToObject(doc, "start_s", info->start_s);
    cJSON_AddNumberToObject(doc, "switch_ms", info->switch_ms);
    cJSON_AddStringToObject(doc, "message", info->message);
    if (api_json_reply(r, 200, doc)) api_error(r, 500, "server_error", NULL, NULL, "out of memory");
}

// ---- administrations in a thread of their own (http_impl.h api_reply.admin)

struct admin_job {
    struct server *s;
    struct MHD_Connection *conn; // NULL once the connection has ended (api_admin_free)
    pthread_mutex_t mu;          // guards conn, suspended, done, refs
    int suspended, done, refs;
    int rescale; // else a re-placement
    struct front_rescale_args ra;
    struct front_rescale_info ri;
    struct front_replace_args pa;
    struct front_replace_info pi;
    int st;
    char err[JANUS_ERR_LEN];
};

static void job_unref_locked(struct admin_job *j) { // (unlocks j->mu)
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last) {
        pthread_mutex_destroy(&j->mu);
        mem_free(j);
    }
}

static void *admin_thread(void *arg) {
    struct admin_job *j = arg;
    struct server *s = j->s;
    if (j->rescale)
        j->st = front_rescale(&s->f, &j->ra, &j->ri, j->err, sizeof j->err);
    else
        j->st = front_replace(&s->f, &j->pa, &j->pi, j->err, sizeof j->err);
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    if (j->suspended && j->conn) MHD_resume_connection(j->conn); // lock order: j->mu, MHD's
    j->suspended = 0;
    job_unref_locked(j);
    s->admin_jobs--;
    return NULL;
}

void api_admin_step(struct server *s, struct api_reply *r) {
    (void)s;
    struct admin_job *j = r->admin;
    pthread_mutex_lock(&j->mu);
    if (!j->done) { // not yet: suspended until the thread resumes it
        if (!j->suspended) MHD_suspend_connection(j->conn);
        j->suspended = 1;
        pthread_mutex_unlock(&j->mu);
        return;
    }
    pthread_mutex_unlock(&j->mu);
    r->admin = NULL;
    if (j->rescale)
        rescale_reply(r, j->st, j->err, &j->ri);
    else
        replace_reply(r, j->st, j->err, j->pa.dry_run, &j->pi);
    pthread_mutex_lock(&j->mu);
    j->conn = NULL;
    job_unref_locked(j);
}

void api_admin_free(struct admin_job *j) {
    pthread_mutex_lock(&j->mu);
    j->conn = NULL; // (libmicrohttpd is done with it: never resume it)
    j->suspended = 0;
    job_unref_locked(j);
}

void api_admin_wait(struct server *s) {
    for (int k = 0; k < 3000 && s->admin_jobs > 0; k++)
        clock_sleep_ns(20 * 1000000);
}

// A job for conn (refs: the thread and the connection); NULL after a 500 in r.
static struct admin_job *admin_job_new(struct server *s, struct MHD_Connection *conn,
                                       struct api_reply *r) {
    struct admin_job *j = mem_calloc(MEM_TAG_SERVER, 1, sizeof *j);
    if (!j) {
        api_error(r, 500, "server_error", NULL, NULL, "out of memory");
        return NULL;
    }
    j->s = s;
    j->conn = conn;
    j->refs = 2;
    pthread_mutex_init(&j->mu, NULL);
    return j;
}

// Runs j in a thread of its own while this connection is suspended (api_reply.admin): a
// rescale takes seconds (a deployment starts), a re-placement the load time of the new
// expert slabs; a libmicrohttpd thread blocked that long would stall every stream it serves.
static void admin_start(struct server *s, struct admin_job *j, struct api_reply *r) {
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    s->admin_jobs++;
    if (pthread_create(&th, &at, admin_thread, j) != 0) {
        s->admin_jobs--;
        pthread_attr_destroy(&at);
        pthread_mutex_destroy(&j->mu);
        mem_free(j);
        api_error(r, 500, "server_error", NULL, NULL, "cannot start the administration thread");
        return;
    }
    pthread_attr_destroy(&at);
    r->admin = j;
    api_admin_step(s, r);
}

void api_admin_rescale(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                       struct api_reply *r) {
    cJSON *req = NULL;
    if (!admin_allowed(s, r) || admin_body(s, body, len, &req, r)) return;
    struct front_rescale_args a = {.n_attn = -1, .n_moe = -1, .reason = "admin"};
    int ok = !admin_int(req, "n_attn", 1, LIMIT_MAX_INSTANCES, &a.n_attn, r) &&
             !admin_int(req, "n_moe", 1, LIMIT_MAX_INSTANCES, &a.n_moe, r);
    cJSON_Delete(req);
    if (!ok) return;
    if (a.n_attn < 0 || a.n_moe < 0) {
        api_error(r, 400, "invalid_request_error", a.n_attn < 0 ? "n_attn" : "n_moe",
                  "missing_field", "give the new shape: {\"n_attn\": N, \"n_moe\": M}");
        return;
    }
    struct admin_job *j = admin_job_new(s, conn, r);
    if (!j) return;
    j->rescale = 1;
    j->ra = a;
    admin_start(s, j, r);
}

void api_admin_replace(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                       struct api_reply *r) {
    cJSON *req = NULL;
    if (!admin_allowed(s, r) || admin_body(s, body, len, &req, r)) return;
    struct front_replace_args a = {0};
    int ok = !admin_int(req, "dry_run", 0, 1, &a.dry_run, r);
    cJSON_Delete(req);
    if (!ok) return;
    struct admin_job *j = admin_job_new(s, conn, r);
    if (!j) return;
    j->pa = a;
    admin_start(s, j, r);
}
