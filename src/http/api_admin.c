// The administration endpoints (issue 16 items 2 and 3): POST /admin/replace (live expert
// re-placement) and POST /admin/rescale (live change of (n_attn, n_moe)), each a thin JSON
// face over front_replace / front_rescale. They need the API key when the server has one;
// a server without a key accepts them only on a loopback address (where guard.h checks Host
// and Origin). docs/HTTP.md "Administration".
// SPDX-License-Identifier: MIT
#include "base/limits.h"
#include "base/status.h"
#include "http/guard.h"
#include "http/http_impl.h"
#include "http/json.h"

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

void api_admin_replace(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                       struct api_reply *r) {
    (void)conn;
    cJSON *req = NULL;
    if (!admin_allowed(s, r) || admin_body(s, body, len, &req, r)) return;
    struct front_replace_args a = {0};
    int ok = !admin_int(req, "dry_run", 0, 1, &a.dry_run, r);
    cJSON_Delete(req);
    if (!ok) return;
    struct front_replace_info info;
    char err[JANUS_ERR_LEN];
    int st = front_replace(&s->f, &a, &info, err, sizeof err);
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
                            info.switched ? "switched"
                            : a.dry_run   ? "planned"
                                          : "unchanged");
    if (info.switched) cJSON_AddNumberToObject(doc, "switch_step", (double)info.switch_step);
    cJSON_AddNumberToObject(doc, "layers_changed", info.layers_changed);
    cJSON_AddNumberToObject(doc, "moe_layers", info.n_moe_layers);
    cJSON_AddNumberToObject(doc, "amax_before", info.amax_before);
    cJSON_AddNumberToObject(doc, "amax_after", info.amax_after);
    cJSON_AddNumberToObject(doc, "plan_ms", info.plan_ms);
    cJSON_AddNumberToObject(doc, "load_bytes", (double)info.load_bytes);
    cJSON_AddNumberToObject(doc, "seconds", info.seconds);
    cJSON_AddStringToObject(doc, "message", info.message);
    if (api_json_reply(r, 200, doc)) api_error(r, 500, "server_error", NULL, NULL, "out of memory");
}

void api_admin_rescale(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                       struct api_reply *r) {
    (void)conn;
    cJSON *req = NULL;
    if (!admin_allowed(s, r) || admin_body(s, body, len, &req, r)) return;
    struct front_rescale_args a = {-1, -1};
    int ok = !admin_int(req, "n_attn", 1, LIMIT_MAX_INSTANCES, &a.n_attn, r) &&
             !admin_int(req, "n_moe", 1, LIMIT_MAX_INSTANCES, &a.n_moe, r);
    cJSON_Delete(req);
    if (!ok) return;
    if (a.n_attn < 0 || a.n_moe < 0) {
        api_error(r, 400, "invalid_request_error", a.n_attn < 0 ? "n_attn" : "n_moe",
                  "missing_field", "give the new shape: {\"n_attn\": N, \"n_moe\": M}");
        return;
    }
    struct front_rescale_info info;
    char err[JANUS_ERR_LEN];
    int st = front_rescale(&s->f, &a, &info, err, sizeof err);
    if (st != JANUS_OK) {
        admin_failed(r, st, err);
        return;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", "rescaled");
    cJSON *from = cJSON_AddObjectToObject(doc, "from"), *to = cJSON_AddObjectToObject(doc, "to");
    cJSON_AddNumberToObject(from, "n_attn", info.from_attn);
    cJSON_AddNumberToObject(from, "n_moe", info.from_moe);
    cJSON_AddNumberToObject(to, "n_attn", info.to_attn);
    cJSON_AddNumberToObject(to, "n_moe", info.to_moe);
    cJSON_AddNumberToObject(doc, "moved", info.moved);
    cJSON_AddNumberToObject(doc, "seconds", info.seconds);
    cJSON_AddStringToObject(doc, "message", info.message);
    if (api_json_reply(r, 200, doc)) api_error(r, 500, "server_error", NULL, NULL, "out of memory");
}
