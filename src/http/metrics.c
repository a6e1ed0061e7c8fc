// GET /metrics: Prometheus text exposition format 0.0.4 (SPEC §10): requests running and
// waiting, prompt and generated tokens, TTFT and TPOT histograms (measured at the front),
// and from the job's latest STATS: steps, per-layer a_max, activated experts per MoE
// instance, exchange scheme counters, KV-cache use. Names are listed in docs/HTTP.md.
// GET /metrics.json: the same values as one JSON object for the live page (page.h; issue 15
// item 8), with the histograms' per-bucket counts so that a poller can take differences.
// SPDX-License-Identifier: MIT
#include "http/http_impl.h"
#include "http/page.h"

#include "base/clock.h"
#include "base/mem.h"
#include "base/status.h"

#include <stdio.h>
#include <string.h>

static int hist(struct buf *b, const char *name, const char *help, const struct front_hist *h,
                const double *bounds) {
    int rc = buf_appendf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < FRONT_HIST_BUCKETS && rc == JANUS_OK; i++) {
        cum += h->count[i];
        rc =
            buf_appendf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    cum += h->count[FRONT_HIST_BUCKETS];
    if (rc == JANUS_OK)
        rc = buf_appendf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
                         (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->n);
    return rc;
}

// Relaunch and replay counters and the step watchdog's state (issue 16 item 1).
struct recovery_counts {
    int relaunches, recovering;
    uint64_t replayed, fires;
    double last_pause_s, limit_s, median_step_s;
    // live rescale (issue 16 item 3)
    int n_attn, n_moe, rescaling;
    uint64_t rescales, rescale_failures;
    double rescale_gap_s, rescale_s;
    char last_rescale[200];
    // the autoscaler (as_on: --autoscale)
    int as_on, as_action, as_to_attn, as_to_moe, as_feasible;
    uint64_t as_evals, as_rescales, as_failures;
    double as_req_rate, as_tok_rate, as_tpot_s, as_calib;
    char as_reason[192];
};

// (no lock held: takes the autoscaler's own)
static void autoscale_counts(struct server *s, struct recovery_counts *c) {
    struct autoscaler *as = &s->as;
    c->as_on = as->started;
    if (!c->as_on) return;
    pthread_mutex_lock(&as->mu);
    c->as_evals = as->evaluations;
    c->as_rescales = as->rescales;
    c->as_failures = as->failures;
    c->as_action = as->last.action;
    c->as_to_attn = as->last.to_attn;
    c->as_to_moe = as->last.to_moe;
    c->as_feasible = as->last_rec.feasible;
    c->as_req_rate = as->last_m.req_rate;
    c->as_tok_rate = as->last_m.tok_rate;
    c->as_tpot_s = as->last_m.tpot_s;
    c->as_calib = as->last_rec.calib;
    snprintf(c->as_reason, sizeof c->as_reason, "%s", as->last.reason);
    pthread_mutex_unlock(&as->mu);
}

// (f->mu held)
static struct recovery_counts recovery_counts(const struct front *f) {
    struct recovery_counts c = {.relaunches = f->restarts,
                                .recovering = f->recovering,
                                .replayed = f->replayed_total,
                                .fires = f->watchdog_fires,
                                .last_pause_s = f->last_pause_ms * 1e-3,
                                .n_attn = (int)f->ready.n_attn,
                                .n_moe = (int)f->ready.n_moe,
                                .rescaling = f->rescaling,
                                .rescales = f->rescales_total,
                                .rescale_failures = f->rescale_failures,
                                .rescale_gap_s = f->last_rescale_gap_ms * 1e-3,
                                .rescale_s = f->last_rescale_ms * 1e-3};
    snprintf(c.last_rescale, sizeof c.last_rescale, "%s", f->last_rescale);
    c.limit_s = front_watchdog_limit(f, &c.median_step_s);
    return c;
}

// Live re-placements (issue 16 item 2): counts and the last switch's figures (f->mu held).
struct replace_counts {
    uint64_t total, failures;
    int have_last;
    struct frontlink_replaced last;
};
static struct replace_counts replace_counts(const struct front *f) {
    struct replace_counts c = {.total = f->replacements_total,
                               .failures = f->replace_failures,
                               .have_last = f->replace_have_last,
                               .last = f->replace_last};
    return c;
}

#define HEAD(name, type, help)                                                                     \
    buf_appendf(b, "# HELP " name " " help "\n# TYPE " name " " type "\n")

void metrics_render(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                    struct api_reply *r) {
    (void)conn, (void)body, (void)len;
    struct buf *b = &r->body;
    pthread_mutex_lock(&s->f.mu);
    struct front_counters m = s->f.m;
    struct frontlink_stats st = s->f.stats;
    int up = s->f.job == FRONT_JOB_READY;
    int n_live = s->f.n_live;
    int64_t step_age_ns = s->f.step_seen_ns ? clock_now_ns() - s->f.step_seen_ns : -1;
    struct recovery_counts rc_n = recovery_counts(&s->f);
    struct replace_counts rp = replace_counts(&s->f);
    pthread_mutex_unlock(&s->f.mu);
    autoscale_counts(s, &rc_n);
    static const char *schemes[FRONTLINK_N_SCHEMES] = {"1pc", "2pc1", "2pc2"};
    int rc = HEAD("janus_up", "gauge", "1 while the deployment is running and ready");
    rc |= buf_appendf(b, "janus_up %d\n", up);
    rc |= HEAD("janus_requests_running", "gauge", "requests holding a KV slot in the deployment");
    rc |= buf_appendf(b, "janus_requests_running %u\n", st.n_running);
    rc |=
        HEAD("janus_requests_waiting", "gauge", "requests queued for admission in the controller");
    rc |= buf_appendf(b, "janus_requests_waiting %u\n", st.n_waiting);
    rc |= HEAD("janus_requests_in_flight", "gauge",
               "requests the front has submitted and not seen finish");
    rc |= buf_appendf(b, "janus_requests_in_flight %d\n", n_live);
    rc |= HEAD("janus_requests_total", "counter", "finished HTTP generation requests by outcome");
    rc |= buf_appendf(b,
                      "janus_requests_total{outcome=\"ok\"} %llu\n"
                      "janus_requests_total{outcome=\"error\"} %llu\n"
                      "janus_requests_total{outcome=\"cancelled\"} %llu\n"
                      "janus_requests_total{outcome=\"rejected\"} %llu\n"
                      "janus_requests_total{outcome=\"invalid\"} %llu\n",
                      (unsigned long long)m.req_ok, (unsigned long long)m.req_error,
                      (unsigned long long)m.req_cancelled, (unsigned long long)m.req_rejected,
                      (unsigned long long)m.req_bad);
    rc |= HEAD("janus_client_disconnects_total", "counter",
               "requests cancelled because the client went away");
    rc |= buf_appendf(b, "janus_client_disconnects_total %llu\n",
                      (unsigned long long)m.client_disconnects);
    rc |= HEAD("janus_prompt_tokens_total", "counter", "prompt tokens of finished requests");
    rc |= buf_appendf(b, "janus_prompt_tokens_total %llu\n", (unsigned long long)m.prompt_tokens);
    rc |=
        HEAD("janus_generation_tokens_total", "counter", "tokens generated for finished requests");
    rc |= buf_appendf(b, "janus_generation_tokens_total %llu\n", (unsigned long long)m.gen_tokens);
    rc |= hist(b, "janus_time_to_first_token_seconds", "time from submission to the first token",
               &m.ttft, front_ttft_bounds);
    rc |= hist(b, "janus_time_per_output_token_seconds",
               "mean time between tokens after the first, per request", &m.tpot, front_tpot_bounds);
    rc |= HEAD("janus_steps_total", "counter",
               "deployment steps completed (idle heartbeats included)");
    rc |= buf_appendf(b, "janus_steps_total %llu\n", (unsigned long long)st.n_steps);
    rc |= HEAD("janus_step_seconds_total", "counter", "time spent in steps");
    rc |= buf_appendf(b, "janus_step_seconds_total %.9g\n", (double)st.step_ns_total * 1e-9);
    rc |= HEAD("janus_last_step_age_seconds", "gauge", "time since the step count last advanced");
    rc |= buf_appendf(b, "janus_last_step_age_seconds %.3f\n",
                      step_age_ns < 0 ? -1.0 : (double)step_age_ns * 1e-9);
    rc |= HEAD("janus_relaunches_total", "counter",
               "deployment relaunches after a failure (death or the step watchdog)");
    rc |= buf_appendf(b, "janus_relaunches_total %d\n", rc_n.relaunches);
    rc |= HEAD("janus_replayed_requests_total", "counter",
               "requests resubmitted to a relaunched or rescaled deployment (each time)");
    rc |= buf_appendf(b, "janus_replayed_requests_total %llu\n", (unsigned long long)rc_n.replayed);
    rc |= HEAD("janus_watchdog_fires_total", "counter",
               "times the step watchdog found the deployment stalled");
    rc |= buf_appendf(b, "janus_watchdog_fires_total %llu\n", (unsigned long long)rc_n.fires);
    rc |= HEAD("janus_recovering", "gauge", "1 while a failed deployment is being relaunched");
    rc |= buf_appendf(b, "janus_recovering %d\n", rc_n.recovering);
    rc |= HEAD("janus_last_recovery_seconds", "gauge",
               "the last recovery's pause: failure seen to requests replayed");
    rc |= buf_appendf(b, "janus_last_recovery_seconds %.3f\n", rc_n.last_pause_s);
    rc |= HEAD("janus_deployment_shape", "gauge",
               "the running deployment's instances by role (n_attn, n_moe)");
    rc |= buf_appendf(b, "janus_deployment_shape{role=\"attn\"} %d\n", rc_n.n_attn);
    rc |= buf_appendf(b, "janus_deployment_shape{role=\"moe\"} %d\n", rc_n.n_moe);
    rc |= HEAD("janus_rescales_total", "counter", "live rescales of (n_attn, n_moe) done");
    rc |= buf_appendf(b, "janus_rescales_total %llu\n", (unsigned long long)rc_n.rescales);
    rc |= HEAD("janus_rescale_failures_total", "counter",
               "rescales refused (busy, not ready) or failed (the new deployment did not start)");
    rc |= buf_appendf(b, "janus_rescale_failures_total %llu\n",
                      (unsigned long long)rc_n.rescale_failures);
    rc |= HEAD("janus_rescale_in_progress", "gauge", "1 while a live rescale is under way");
    rc |= buf_appendf(b, "janus_rescale_in_progress %d\n", rc_n.rescaling);
    rc |= HEAD("janus_last_rescale_seconds", "gauge",
               "the last rescale's duration: command to the old deployment retired");
    rc |= buf_appendf(b, "janus_last_rescale_seconds %.3f\n", rc_n.rescale_s);
    rc |= HEAD("janus_last_rescale_pause_seconds", "gauge",
               "the longest token gap of a request moved by the last rescale (its pause)");
    rc |= buf_appendf(b, "janus_last_rescale_pause_seconds %.3f\n", rc_n.rescale_gap_s);
    if (rc_n.as_on) {
        rc |= HEAD("janus_autoscale_evaluations_total", "counter",
                   "autoscaler evaluations (one per --autoscale-interval)");
        rc |= buf_appendf(b, "janus_autoscale_evaluations_total %llu\n",
                          (unsigned long long)rc_n.as_evals);
        rc |= HEAD("janus_autoscale_rescales_total", "counter",
                   "rescales the autoscaler decided, by outcome");
        rc |=
            buf_appendf(b,
                        "janus_autoscale_rescales_total{outcome=\"ok\"} %llu\n"
                        "janus_autoscale_rescales_total{outcome=\"failed\"} %llu\n",
                        (unsigned long long)rc_n.as_rescales, (unsigned long long)rc_n.as_failures);
        rc |= HEAD("janus_autoscale_target", "gauge",
                   "the shape the planner recommended at the last evaluation (clamped)");
        rc |= buf_appendf(b, "janus_autoscale_target{role=\"attn\"} %d\n", rc_n.as_to_attn);
        rc |= buf_appendf(b, "janus_autoscale_target{role=\"moe\"} %d\n", rc_n.as_to_moe);
        rc |= HEAD("janus_autoscale_decision", "gauge",
                   "the last decision (1: rescale, 0: hold) and its reason");
        char reason[192];
        size_t k = 0;
        for (const char *c = rc_n.as_reason; *c && k + 1 < sizeof reason; c++)
            reason[k++] = *c == '"' || *c == '\\' ? '\'' : *c; // a label value, unescaped
        reason[k] = 0;
        rc |= buf_appendf(b, "janus_autoscale_decision{reason=\"%s\"} %d\n", reason,
                          rc_n.as_action == AUTOSCALE_RESCALE);
        rc |= HEAD("janus_autoscale_measured_tokens_per_second", "gauge",
                   "output tokens per second over the last window");
        rc |= buf_appendf(b, "janus_autoscale_measured_tokens_per_second %.3f\n", rc_n.as_tok_rate);
        rc |= HEAD("janus_autoscale_measured_requests_per_second", "gauge",
                   "requests arriving per second over the last window");
        rc |=
            buf_appendf(b, "janus_autoscale_measured_requests_per_second %.3f\n", rc_n.as_req_rate);
        rc |= HEAD("janus_autoscale_measured_tpot_seconds", "gauge",
                   "mean time per output token over the last window (0: none measured)");
        rc |= buf_appendf(b, "janus_autoscale_measured_tpot_seconds %.6f\n", rc_n.as_tpot_s);
        rc |= HEAD("janus_autoscale_calibration", "gauge",
                   "measured TPOT over the planner's TPOT for the running shape");
        rc |= buf_appendf(b, "janus_autoscale_calibration %.4f\n", rc_n.as_calib);
    }
    rc |= HEAD("janus_replacements_total", "counter",
               "live expert re-placements that switched (command or drift policy)");
    rc |= buf_appendf(b, "janus_replacements_total %llu\n", (unsigned long long)rp.total);
    rc |= HEAD("janus_replacement_failures_total", "counter",
               "live re-placements dropped because a rank could not load or check the layout");
    rc |=
        buf_appendf(b, "janus_replacement_failures_total %llu\n", (unsigned long long)rp.failures);
    if (rp.have_last) {
        rc |= HEAD("janus_replacement_last_switch_step", "gauge",
                   "the first step of the last re-placement's layout");
        rc |= buf_appendf(b, "janus_replacement_last_switch_step %llu\n",
                          (unsigned long long)rp.last.switch_step);
        rc |= HEAD("janus_replacement_last_amax_predicted", "gauge",
                   "the last re-placement's predicted a_max (decayed statistics), old and new "
                   "layout");
        rc |= buf_appendf(b,
                          "janus_replacement_last_amax_predicted{layout=\"before\"} %.6g\n"
                          "janus_replacement_last_amax_predicted{layout=\"after\"} %.6g\n",
                          rp.last.amax_before, rp.last.amax_after);
        rc |= HEAD("janus_replacement_last_layers_changed", "gauge",
                   "MoE layers the last re-placement changed");
        rc |= buf_appendf(b, "janus_replacement_last_layers_changed %u\n", rp.last.layers_changed);
        rc |= HEAD("janus_replacement_last_seconds", "gauge",
                   "the last re-placement: command (or policy decision) to switch");
        rc |= buf_appendf(b, "janus_replacement_last_seconds %.3f\n", rp.last.total_ms * 1e-3);
        rc |= HEAD("janus_replacement_last_load_bytes", "gauge",
                   "expert bytes the MoE ranks loaded for the last re-placement");
        rc |= buf_appendf(b, "janus_replacement_last_load_bytes %llu\n",
                          (unsigned long long)rp.last.load_bytes);
    }
    rc |= HEAD("janus_watchdog_limit_seconds", "gauge",
               "the step watchdog's limit now (0: off); see docs/HTTP.md");
    rc |= buf_appendf(b, "janus_watchdog_limit_seconds %.3f\n", rc_n.limit_s);
    rc |= HEAD("janus_step_median_seconds", "gauge",
               "running median wall time per step while busy (0: not measured yet)");
    rc |= buf_appendf(b, "janus_step_median_seconds %.6f\n", rc_n.median_step_s);
    rc |= HEAD("janus_layer_a_max", "gauge",
               "max activated experts on any MoE instance, per layer, last step (SPEC 2)");
    for (uint32_t l = 0; l < st.n_layer; l++)
        rc |= buf_appendf(b, "janus_layer_a_max{layer=\"%u\"} %d\n", l, st.a_max_last[l]);
    rc |= HEAD("janus_layer_a_max_sum", "counter",
               "sum over steps of a_max, per layer (divide by janus_steps_total)");
    for (uint32_t l = 0; l < st.n_layer; l++)
        rc |= buf_appendf(b, "janus_layer_a_max_sum{layer=\"%u\"} %llu\n", l,
                          (unsigned long long)st.a_max_sum[l]);
    rc |= HEAD("janus_moe_activated_experts", "gauge",
               "experts run by each MoE instance in the last step, summed over layers");
    for (uint32_t g = 0; g < st.n_moe; g++)
        rc |= buf_appendf(b, "janus_moe_activated_experts{instance=\"%u\"} %d\n", g,
                          st.activated_last[g]);
    rc |= HEAD("janus_moe_activated_experts_total", "counter",
               "experts run by each MoE instance, summed over layers and steps");
    for (uint32_t g = 0; g < st.n_moe; g++)
        rc |= buf_appendf(b, "janus_moe_activated_experts_total{instance=\"%u\"} %llu\n", g,
                          (unsigned long long)st.activated_sum[g]);
    rc |= HEAD("janus_exchange_steps_total", "counter",
               "steps per attention-MoE exchange scheme (SPEC 4)");
    for (int k = 0; k < FRONTLINK_N_SCHEMES; k++)
        rc |= buf_appendf(b, "janus_exchange_steps_total{scheme=\"%s\"} %llu\n", schemes[k],
                          (unsigned long long)st.scheme_steps[k]);
    rc |= HEAD("janus_exchange_messages_total", "counter", "messages sent per exchange scheme");
    for (int k = 0; k < FRONTLINK_N_SCHEMES; k++)
        rc |= buf_appendf(b, "janus_exchange_messages_total{scheme=\"%s\"} %llu\n", schemes[k],
                          (unsigned long long)st.scheme_msgs[k]);
    rc |= HEAD("janus_exchange_bytes_total", "counter", "bytes sent per exchange scheme");
    for (int k = 0; k < FRONTLINK_N_SCHEMES; k++)
        rc |= buf_appendf(b, "janus_exchange_bytes_total{scheme=\"%s\"} %llu\n", schemes[k],
                          (unsigned long long)st.scheme_bytes[k]);
    static const char *modes[FRONTLINK_N_MODES] = {"broadcast", "selective"};
    rc |= HEAD("janus_exchange_dispatch_steps_total", "counter",
               "steps per dispatch mode (SPEC 4: broadcast or selective)");
    for (int k = 0; k < FRONTLINK_N_MODES; k++)
        rc |= buf_appendf(b, "janus_exchange_dispatch_steps_total{mode=\"%s\"} %llu\n", modes[k],
                          (unsigned long long)st.mode_steps[k]);
    rc |= HEAD("janus_exchange_dispatch_messages_total", "counter",
               "messages sent per dispatch mode (selective: routing exchange included)");
    for (int k = 0; k < FRONTLINK_N_MODES; k++)
        rc |= buf_appendf(b, "janus_exchange_dispatch_messages_total{mode=\"%s\"} %llu\n", modes[k],
                          (unsigned long long)st.mode_msgs[k]);
    rc |= HEAD("janus_exchange_dispatch_bytes_total", "counter",
               "bytes sent per dispatch mode (selective: routing exchange included)");
    for (int k = 0; k < FRONTLINK_N_MODES; k++)
        rc |= buf_appendf(b, "janus_exchange_dispatch_bytes_total{mode=\"%s\"} %llu\n", modes[k],
                          (unsigned long long)st.mode_bytes[k]);
    rc |= HEAD("janus_kv_cache_used_tokens", "gauge", "KV tokens reserved per attention instance");
    for (uint32_t i = 0; i < st.n_attn; i++)
        rc |= buf_appendf(b, "janus_kv_cache_used_tokens{instance=\"%u\"} %lld\n", i,
                          (long long)st.kv_used[i]);
    rc |= HEAD("janus_kv_cache_capacity_tokens", "gauge", "KV capacity per attention instance");
    rc |= buf_appendf(b, "janus_kv_cache_capacity_tokens %lld\n", (long long)st.kv_capacity);
    rc |= HEAD("janus_kv_cache_usage_ratio", "gauge",
               "reserved / capacity over all attention instances");
    int64_t used = 0;
    for (uint32_t i = 0; i < st.n_attn; i++)
        used += st.kv_used[i];
    double cap = (double)st.kv_capacity * st.n_attn;
    rc |= buf_appendf(b, "janus_kv_cache_usage_ratio %.6f\n", cap > 0 ? (double)used / cap : 0.0);
    if (rc != JANUS_OK) {
        buf_reset(&r->body);
        api_error(r, 500, "server_error", NULL, "metrics_too_large",
                  "metrics output exceeds its buffer");
        return;
    }
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

// ---- GET /metrics.json

enum num_type { NUM_U64, NUM_I32, NUM_I64 };

// v[0..n), of type t, as a JSON array of numbers; NULL if out of memory.
static cJSON *num_array(const void *v, uint32_t n, enum num_type t) {
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < n; i++) {
        double x = t == NUM_U64   ? (double)((const uint64_t *)v)[i]
                   : t == NUM_I32 ? (double)((const int32_t *)v)[i]
                                  : (double)((const int64_t *)v)[i];
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(x))) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

// {"le": upper bounds, "counts": per bucket (not cumulative; one more: above the last bound),
//  "sum", "count"}. Returns 0 on success.
static int hist_json(cJSON *parent, const char *name, const struct front_hist *h,
                     const double *bounds) {
    cJSON *o = cJSON_AddObjectToObject(parent, name);
    if (!o) return -1;
    int bad = !cJSON_AddItemToObject(o, "le", cJSON_CreateDoubleArray(bounds, FRONT_HIST_BUCKETS));
    bad |=
        !cJSON_AddItemToObject(o, "counts", num_array(h->count, FRONT_HIST_BUCKETS + 1, NUM_U64));
    bad |= !cJSON_AddNumberToObject(o, "sum", h->sum);
    bad |= !cJSON_AddNumberToObject(o, "count", (double)h->n);
    return bad ? -1 : 0;
}

static int num(cJSON *o, const char *name, double v) {
    return cJSON_AddNumberToObject(o, name, v) ? 0 : -1;
}

void metrics_json(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                  struct api_reply *r) {
    (void)conn, (void)body, (void)len;
    static const char *schemes[FRONTLINK_N_SCHEMES] = {"1pc", "2pc1", "2pc2"};
    // The STATS snapshot is large (per-layer and per-instance arrays): keep it off the stack.
    struct frontlink_stats *st = mem_alloc(MEM_TAG_SERVER, sizeof *st);
    if (!st) {
        api_error(r, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    char model[FRONTLINK_MAX_NAME + 1];
    pthread_mutex_lock(&s->f.mu);
    struct front_counters m = s->f.m;
    *st = s->f.stats;
    int up = s->f.job == FRONT_JOB_READY;
    int n_live = s->f.n_live;
    int64_t now = clock_now_ns();
    int64_t step_age_ns = s->f.step_seen_ns ? now - s->f.step_seen_ns : -1;
    snprintf(model, sizeof model, "%s", s->f.model_name);
    struct recovery_counts rc_n = recovery_counts(&s->f);
    struct replace_counts rp = replace_counts(&s->f);
    pthread_mutex_unlock(&s->f.mu);
    autoscale_counts(s, &rc_n);

    cJSON *d = cJSON_CreateObject();
    int bad = !d;
    if (d) {
        bad |= num(d, "time_seconds", (double)now * 1e-9); // monotonic: for rates between polls
        bad |= !cJSON_AddBoolToObject(d, "up", up);
        bad |= !cJSON_AddStringToObject(d, "model", model);
        cJSON *q = cJSON_AddObjectToObject(d, "requests");
        bad |= !q;
        if (q) {
            bad |= num(q, "running", st->n_running);
            bad |= num(q, "waiting", st->n_waiting);
            bad |= num(q, "in_flight", n_live);
            bad |= num(q, "ok", (double)m.req_ok);
            bad |= num(q, "error", (double)m.req_error);
            bad |= num(q, "cancelled", (double)m.req_cancelled);
            bad |= num(q, "rejected", (double)m.req_rejected);
            bad |= num(q, "invalid", (double)m.req_bad);
        }
        bad |= num(d, "client_disconnects_total", (double)m.client_disconnects);
        bad |= num(d, "prompt_tokens_total", (double)m.prompt_tokens);
        bad |= num(d, "generation_tokens_total", (double)m.gen_tokens);
        bad |= hist_json(d, "time_to_first_token_seconds", &m.ttft, front_ttft_bounds);
        bad |= hist_json(d, "time_per_output_token_seconds", &m.tpot, front_tpot_bounds);
        cJSON *rv = cJSON_AddObjectToObject(d, "recovery");
        bad |= !rv;
        if (rv) {
            bad |= num(rv, "relaunches_total", rc_n.relaunches);
            bad |= num(rv, "replayed_requests_total", (double)rc_n.replayed);
            bad |= num(rv, "watchdog_fires_total", (double)rc_n.fires);
            bad |= !cJSON_AddBoolToObject(rv, "recovering", rc_n.recovering);
            bad |= num(rv, "last_recovery_seconds", rc_n.last_pause_s);
            bad |= num(rv, "watchdog_limit_seconds", rc_n.limit_s);
            bad |= num(rv, "step_median_seconds", rc_n.median_step_s);
        }
        cJSON *sc = cJSON_AddObjectToObject(d, "scale"); // live rescale and the autoscaler
        bad |= !sc;
        if (sc) {
            bad |= num(sc, "n_attn", rc_n.n_attn);
            bad |= num(sc, "n_moe", rc_n.n_moe);
            bad |= num(sc, "rescales_total", (double)rc_n.rescales);
            bad |= num(sc, "rescale_failures_total", (double)rc_n.rescale_failures);
            bad |= !cJSON_AddBoolToObject(sc, "rescaling", rc_n.rescaling);
            bad |= !cJSON_AddStringToObject(sc, "last_rescale", rc_n.last_rescale);
            bad |= num(sc, "last_rescale_seconds", rc_n.rescale_s);
            bad |= num(sc, "last_rescale_pause_seconds", rc_n.rescale_gap_s);
            bad |= !cJSON_AddBoolToObject(sc, "autoscale", rc_n.as_on);
            if (rc_n.as_on) {
                bad |= num(sc, "autoscale_evaluations_total", (double)rc_n.as_evals);
                bad |= num(sc, "autoscale_target_attn", rc_n.as_to_attn);
                bad |= num(sc, "autoscale_target_moe", rc_n.as_to_moe);
                bad |= !cJSON_AddStringToObject(sc, "autoscale_decision", rc_n.as_reason);
                bad |= num(sc, "autoscale_tokens_per_second", rc_n.as_tok_rate);
                bad |= num(sc, "autoscale_tpot_seconds", rc_n.as_tpot_s);
            }
        }
        cJSON *pv = cJSON_AddObjectToObject(d, "replacement");
        bad |= !pv;
        if (pv) {
            bad |= num(pv, "total", (double)rp.total);
            bad |= num(pv, "failures_total", (double)rp.failures);
            if (rp.have_last) {
                bad |= num(pv, "last_switch_step", (double)rp.last.switch_step);
                bad |= num(pv, "last_amax_before", rp.last.amax_before);
                bad |= num(pv, "last_amax_after", rp.last.amax_after);
                bad |= num(pv, "last_layers_changed", rp.last.layers_changed);
                bad |= num(pv, "last_seconds", rp.last.total_ms * 1e-3);
            }
        }
        bad |= num(d, "steps_total", (double)st->n_steps);
        bad |= num(d, "step_seconds_total", (double)st->step_ns_total * 1e-9);
        bad |= num(d, "last_step_age_seconds", step_age_ns < 0 ? -1.0 : (double)step_age_ns * 1e-9);
        bad |= !cJSON_AddItemToObject(d, "layer_a_max",
                                      num_array(st->a_max_last, st->n_layer, NUM_I32));
        bad |= !cJSON_AddItemToObject(d, "layer_a_max_sum",
                                      num_array(st->a_max_sum, st->n_layer, NUM_U64));
        bad |= !cJSON_AddItemToObject(d, "moe_activated_experts",
                                      num_array(st->activated_last, st->n_moe, NUM_I32));
        bad |= !cJSON_AddItemToObject(d, "moe_activated_experts_total",
                                      num_array(st->activated_sum, st->n_moe, NUM_U64));
        cJSON *x = cJSON_AddObjectToObject(d, "exchange");
        bad |= !x;
        if (x) {
            bad |= !cJSON_AddItemToObject(x, "schemes",
                                          cJSON_CreateStringArray(schemes, FRONTLINK_N_SCHEMES));
            bad |= !cJSON_AddItemToObject(
                x, "steps_total", num_array(st->scheme_steps, FRONTLINK_N_SCHEMES, NUM_U64));
            bad |= !cJSON_AddItemToObject(x, "messages_total",
                                          num_array(st->scheme_msgs, FRONTLINK_N_SCHEMES, NUM_U64));
            bad |= !cJSON_AddItemToObject(
                x, "bytes_total", num_array(st->scheme_bytes, FRONTLINK_N_SCHEMES, NUM_U64));
            static const char *modes[FRONTLINK_N_MODES] = {"broadcast", "selective"};
            bad |= !cJSON_AddItemToObject(x, "modes",
                                          cJSON_CreateStringArray(modes, FRONTLINK_N_MODES));
            bad |= !cJSON_AddItemToObject(x, "mode_steps_total",
                                          num_array(st->mode_steps, FRONTLINK_N_MODES, NUM_U64));
            bad |= !cJSON_AddItemToObject(x, "mode_messages_total",
                                          num_array(st->mode_msgs, FRONTLINK_N_MODES, NUM_U64));
            bad |= !cJSON_AddItemToObject(x, "mode_bytes_total",
                                          num_array(st->mode_bytes, FRONTLINK_N_MODES, NUM_U64));
        }
        cJSON *kv = cJSON_AddObjectToObject(d, "kv_cache");
        bad |= !kv;
        if (kv) {
            int64_t used = 0;
            for (uint32_t i = 0; i < st->n_attn; i++)
                used += st->kv_used[i];
            double cap = (double)st->kv_capacity * st->n_attn;
            bad |= !cJSON_AddItemToObject(kv, "used_tokens",
                                          num_array(st->kv_used, st->n_attn, NUM_I64));
            bad |= num(kv, "capacity_tokens", (double)st->kv_capacity);
            bad |= num(kv, "usage_ratio", cap > 0 ? (double)used / cap : 0.0);
        }
    }
    mem_free(st);
    if (bad) {
        cJSON_Delete(d);
        api_error(r, 500, "server_error", NULL, NULL, "out of memory rendering the metrics");
        return;
    }
    if (api_json_reply(r, 200, d) != JANUS_OK) {
        api_error(r, 500, "server_error", NULL, NULL, "metrics output exceeds its buffer");
        return;
    }
    r->content_type = "application/json; charset=utf-8";
    page_finish(r, 0);
}
