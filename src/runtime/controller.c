// The controller loop (controller.h): front messages -> batcher -> executor steps -> tokens back.
// SPDX-License-Identifier: MIT
#include "runtime/controller.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "requests/frontlink.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

void ctl_default_params(struct ctl_params *p) {
    memset(p, 0, sizeof *p);
    p->token_budget = BATCHER_DEFAULT_TOKEN_BUDGET;
    p->max_waiting = BATCHER_DEFAULT_MAX_WAITING;
    p->eos_token = -1;
    p->heartbeat_ms = 1000;
    p->stats_ms = 500;
    p->connect_timeout_ms = 10000;
    drift_default_policy(&p->drift);
    p->replace_poll_ms = 20;
}

struct ctl {
    struct exec *e;
    struct batcher b;
    struct frontlink_conn conn;
    struct batch *batches;        // (n_attn) each of capacity token_budget
    struct batch_result *results; // (n_attn)
    _Atomic int failed;           // the front is gone (also set by ctl_report's callers)
    int n_finished;               // FINISH messages since the last STATS
    uint64_t rows_total;          // Σ batch rows over the steps run (STATS: the watchdog)
    pthread_mutex_t send_mu;      // sends (the main thread and ctl_report's callers)
    // live re-placement
    const struct ctl_params *p;
    uint64_t n_steps;                       // steps run by this controller
    int rp_active;                          // one is planning or loading (polled)
    int rp_loading;                         // its layout is out: the ranks load it
    uint64_t rp_tag;                        // its REPLACE's tag (0: the drift policy's)
    uint32_t rp_trigger;                    // enum frontlink_trigger
    int64_t rp_t0, rp_last_poll;            // when it began, when the ranks were last asked
    uint64_t rp_last_check, rp_last_switch; // steps (UINT64_MAX: never)
    uint64_t n_replacements;
    FILE *step_log; // ctl_params.step_log
};

static int send_msg(struct ctl *c, const struct frontlink_msg *m) {
    pthread_mutex_lock(&c->send_mu);
    int rc = JANUS_ECOMM;
    if (!c->failed) {
        rc = frontlink_send(&c->conn, m);
        if (rc) {
            LOG_WARN("controller: lost the front (%s)", janus_strerror(rc));
            c->failed = 1;
        }
    }
    pthread_mutex_unlock(&c->send_mu);
    return rc;
}

// ctl_params.watch_start's report: the job's ERROR (id 0) from any thread.
static void ctl_report(void *arg, const char *why) {
    struct ctl *c = arg;
    struct frontlink_msg m;
    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_ERROR;
    m.u.error.id = 0;
    m.u.error.code = FRONTLINK_ERR_JOB;
    snprintf(m.u.error.message, sizeof m.u.error.message, "%s", why);
    (void)send_msg(c, &m);
}

static void send_error(struct ctl *c, uint64_t id, int code, const char *text) {
    struct frontlink_msg m;
    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_ERROR;
    m.u.error.id = id;
    m.u.error.code = code;
    snprintf(m.u.error.message, sizeof m.u.error.message, "%s", text);
    (void)send_msg(c, &m);
}

static void flush_events(struct ctl *c) {
    struct batcher_event ev;
    while (batcher_pop_event(&c->b, &ev)) {
        struct frontlink_msg m;
        memset(&m, 0, sizeof m);
        if (ev.type == BATCHER_EV_TOKEN) {
            m.type = FRONTLINK_TOKEN;
            m.u.token.id = ev.id;
            m.u.token.token = ev.token;
        } else {
            c->n_finished++;
            m.type = FRONTLINK_FINISH;
            m.u.finish.id = ev.id;
            m.u.finish.reason = ev.reason;
            m.u.finish.n_prompt = ev.n_prompt;
            m.u.finish.n_completion = ev.n_completion;
        }
        (void)send_msg(c, &m);
    }
}

static void send_stats(struct ctl *c) {
    struct exec_stats es;
    memset(&es, 0, sizeof es);
    if (exec_stats(c->e, &es) != JANUS_OK) return;
    struct batcher_stats bs;
    batcher_get_stats(&c->b, &bs);
    struct frontlink_msg m;
    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_STATS;
    struct frontlink_stats *s = &m.u.stats;
    s->n_steps = es.n_steps;
    s->step_ns_total = es.step_ns_total;
    s->n_running = (uint32_t)bs.n_running;
    s->n_waiting = (uint32_t)bs.n_waiting;
    s->n_rejected = bs.n_rejected;
    s->kv_capacity = c->b.cfg.kv_tokens;
    s->n_attn = (uint32_t)JANUS_MIN(c->b.cfg.n_attn, FRONTLINK_MAX_INST);
    for (uint32_t i = 0; i < s->n_attn; i++)
        s->kv_used[i] = bs.kv_used[i];
    s->n_layer = (uint32_t)JANUS_MIN(JANUS_MAX(es.n_layer, 0), FRONTLINK_MAX_LAYERS);
    for (uint32_t l = 0; l < s->n_layer; l++) {
        s->a_max_last[l] = es.a_max_last[l];
        s->a_max_sum[l] = es.a_max_sum[l];
    }
    s->n_moe = (uint32_t)JANUS_MIN(JANUS_MAX(es.n_moe, 0), FRONTLINK_MAX_INST);
    for (uint32_t g = 0; g < s->n_moe; g++) {
        s->activated_sum[g] = es.activated_sum[g];
        s->activated_last[g] = es.activated_last[g];
    }
    for (int k = 0; k < FRONTLINK_N_SCHEMES && k < EXEC_N_SCHEMES; k++) {
        s->scheme_steps[k] = es.scheme_steps[k];
        s->scheme_msgs[k] = es.scheme_msgs[k];
        s->scheme_bytes[k] = es.scheme_bytes[k];
    }
    s->rows_total = c->rows_total;
    for (int k = 0; k < FRONTLINK_N_MODES; k++) {
        s->mode_steps[k] = es.mode_steps[k];
        s->mode_msgs[k] = es.mode_msgs[k];
        s->mode_bytes[k] = es.mode_bytes[k];
    }
    (void)send_msg(c, &m);
}

// ---- live re-placement

static void send_replaced(struct ctl *c, uint64_t tag, uint32_t trigger, int code,
                          const struct exec_replace_report *r, double total_ms, const char *text) {
    struct frontlink_msg m;
    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_REPLACED;
    struct frontlink_replaced *q = &m.u.replaced;
    q->tag = tag;
    q->code = code;
    q->trigger = trigger;
    if (r) {
        q->switched = r->state == EXEC_REPLACE_SWITCHED;
        q->switch_step = r->switch_step;
        q->amax_before = r->amax_before;
        q->amax_after = r->amax_after;
        q->layers_changed = (uint32_t)JANUS_MAX(r->layers_changed, 0);
        q->n_moe_layers = (uint32_t)JANUS_MAX(r->n_moe_layers, 0);
        q->plan_ms = r->plan_ms;
        q->load_bytes = r->load_bytes;
    }
    q->total_ms = total_ms;
    snprintf(q->message, sizeof q->message, "%s", text ? text : "");
    (void)send_msg(c, &m);
}

// Starts a re-placement (a REPLACE with tag, or the drift policy: tag 0 and min_gain > 0).
// Returns JANUS_ECOMM only when the deployment failed.
static int replace_start(struct ctl *c, uint64_t tag, uint32_t trigger, double min_gain,
                         int dry_run) {
    const struct exec_ops *ops = c->e->ops;
    const int quiet = trigger == FRONTLINK_TRIGGER_DRIFT;
    if (!ops->replace_begin || !ops->replace_poll) {
        if (!quiet)
            send_replaced(c, tag, trigger, FRONTLINK_ERR_UNSUPPORTED, NULL, 0,
                          "this deployment cannot re-place experts: it is monolithic (one "
                          "process, no MoE ranks); start it with --mpi and --moe");
        return JANUS_OK;
    }
    if (c->rp_active) {
        if (!quiet)
            send_replaced(c, tag, trigger, FRONTLINK_ERR_CONFLICT, NULL, 0,
                          "a re-placement is already under way; try again once it switched");
        return JANUS_OK;
    }
    struct exec_replace_report r;
    char why[JANUS_ERR_LEN] = "";
    int64_t t0 = clock_now_ns();
    int rc = ops->replace_begin(c->e, min_gain, dry_run, &r, why, sizeof why);
    if (rc == JANUS_ECOMM) return rc;
    c->rp_last_check = c->n_steps;
    if (rc != JANUS_OK) {
        if (!quiet)
            send_replaced(c, tag, trigger,
                          rc == JANUS_ENOMEM ? FRONTLINK_ERR_INTERNAL : FRONTLINK_ERR_CONFLICT,
                          NULL, 1e-6 * (double)(clock_now_ns() - t0), why);
        else
            LOG_DEBUG("controller: drift check: %s", why);
        return JANUS_OK;
    }
    // PLANNING: the layout is computed beside the steps; replace_progress takes it from there.
    if (c->step_log) fprintf(c->step_log, "replace-begin %llu\n", (unsigned long long)c->n_steps);
    c->rp_active = 1;
    c->rp_loading = 0;
    c->rp_tag = tag;
    c->rp_trigger = trigger;
    c->rp_t0 = t0;
    c->rp_last_poll = 0; // ask at the next turn of the loop
    return JANUS_OK;
}

// Between steps while one is planning (rank 0 alone: is the layout ready?) or loading: asks
// the ranks (at most every replace_poll_ms, or now when force). JANUS_ECOMM only when the
// deployment failed.
static int replace_progress(struct ctl *c, int force) {
    if (!c->rp_active) return JANUS_OK;
    int64_t now = clock_now_ns();
    int poll_ms = c->p->replace_poll_ms > 0 ? c->p->replace_poll_ms : 20;
    // Loading: one allreduce per poll, so at most every poll_ms; planning: a local check.
    if (!force && c->rp_loading && now - c->rp_last_poll < (int64_t)poll_ms * 1000000)
        return JANUS_OK;
    c->rp_last_poll = now;
    struct exec_replace_report r;
    int rc = c->e->ops->replace_poll(c->e, &r);
    if (rc != JANUS_OK) return JANUS_ECOMM;
    const int quiet = c->rp_trigger == FRONTLINK_TRIGGER_DRIFT;
    if (r.state == EXEC_REPLACE_PLANNING) return JANUS_OK;
    if (r.state == EXEC_REPLACE_LOADING) {
        if (!c->rp_loading)
            LOG_INFO("controller: re-placement (%s) started: predicted a_max %.3f -> %.3f, %d of "
                     "%d MoE layers change, layout computed in %.1f ms",
                     quiet ? "drift" : "command", r.amax_before, r.amax_after, r.layers_changed,
                     r.n_moe_layers, r.plan_ms);
        c->rp_loading = 1;
        return JANUS_OK;
    }
    c->rp_active = 0;
    double total_ms = 1e-6 * (double)(clock_now_ns() - c->rp_t0);
    if (r.state == EXEC_REPLACE_UNCHANGED) {
        if (!quiet)
            send_replaced(c, c->rp_tag, c->rp_trigger, 0, &r, total_ms, r.why);
        else
            LOG_DEBUG("controller: drift check: predicted a_max %.3f -> %.3f: %s", r.amax_before,
                      r.amax_after, r.why);
        return JANUS_OK;
    }
    if (r.state == EXEC_REPLACE_FAILED && !c->rp_loading && r.refused) {
        // The statistics gave no layout (none yet, ...): nothing started anywhere.
        if (!quiet)
            send_replaced(c, c->rp_tag, c->rp_trigger, FRONTLINK_ERR_CONFLICT, NULL, total_ms,
                          r.why);
        else
            LOG_DEBUG("controller: drift check: %s", r.why);
        return JANUS_OK;
    }
    if (r.state == EXEC_REPLACE_SWITCHED) {
        c->n_replacements++;
        c->rp_last_switch = c->n_steps;
        char text[256];
        snprintf(text, sizeof text,
                 "switched at step %llu: predicted a_max %.3f -> %.3f, %d of %d MoE layers "
                 "changed, %.1f MiB loaded, %.1f ms",
                 (unsigned long long)r.switch_step, r.amax_before, r.amax_after, r.layers_changed,
                 r.n_moe_layers, (double)r.load_bytes / (1 << 20), total_ms);
        if (c->step_log) fprintf(c->step_log, "replace %llu\n", (unsigned long long)c->n_steps);
        LOG_WARN("controller: re-placement (%s) %s",
                 c->rp_trigger == FRONTLINK_TRIGGER_DRIFT ? "drift" : "command", text);
        send_replaced(c, c->rp_tag, c->rp_trigger, 0, &r, total_ms, text);
    } else {
        LOG_WARN("controller: re-placement dropped: %s", r.why);
        send_replaced(c, c->rp_tag, c->rp_trigger, FRONTLINK_ERR_INTERNAL, &r, total_ms, r.why);
    }
    return JANUS_OK;
}

// Handles one message from the front. Returns 1 on SHUTDOWN, -1 when the deployment failed.
static int handle(struct ctl *c, struct frontlink_msg *m, int64_t now) {
    switch (m->type) {
    case FRONTLINK_SUBMIT: {
        int code = 0;
        char why[JANUS_ERR_LEN];
        int rc = batcher_submit(&c->b, &m->u.submit, now, &code, why, sizeof why);
        if (rc) send_error(c, m->u.submit.id, code ? code : FRONTLINK_ERR_INTERNAL, why);
        break;
    }
    case FRONTLINK_CANCEL:
        if (batcher_cancel(&c->b, m->u.cancel_id) != JANUS_OK) {
            // already finished (its FINISH crossed the CANCEL): nothing to do
        }
        break;
    case FRONTLINK_SHUTDOWN: return 1;
    case FRONTLINK_REPLACE:
        if (replace_start(c, m->u.replace.tag, FRONTLINK_TRIGGER_COMMAND, 0,
                          (m->u.replace.flags & FRONTLINK_REPLACE_DRY_RUN) != 0) != JANUS_OK)
            return -1;
        break;
    default: LOG_WARN("controller: ignoring %s message", frontlink_type_name(m->type)); break;
    }
    return 0;
}

static int connect_front(struct ctl *c, const struct ctl_params *p) {
    int64_t deadline = clock_now_ns() + (int64_t)p->connect_timeout_ms * 1000000;
    for (;;) {
        if (frontlink_connect(p->socket_path, &c->conn) == JANUS_OK) return JANUS_OK;
        if (clock_now_ns() > deadline) return JANUS_EIO;
        clock_sleep_ns(20 * 1000000);
    }
}

int ctl_run(struct exec *e, const struct ctl_params *p, char *err, size_t err_len) {
    struct ctl c;
    memset(&c, 0, sizeof c);
    c.conn.fd = -1;
    c.e = e;
    c.p = p;
    c.rp_last_check = c.rp_last_switch = UINT64_MAX;
    pthread_mutex_init(&c.send_mu, NULL);
    int watching = 0;
    const struct exec_info *info = &e->info;
    if (p->step_log && !(c.step_log = fopen(p->step_log, "w")))
        LOG_WARN("controller: cannot write the step log %s", p->step_log);
    if (c.step_log) setvbuf(c.step_log, NULL, _IOLBF, 0); // read while the job runs
    struct batcher_config bc;
    batcher_default_config(&bc);
    bc.n_attn = info->n_attn;
    bc.max_seqs = info->max_seqs;
    bc.kv_tokens = info->kv_tokens;
    bc.n_ctx = info->n_ctx;
    bc.n_vocab = info->n_vocab;
    bc.token_budget = p->token_budget > 0 ? p->token_budget : BATCHER_DEFAULT_TOKEN_BUDGET;
    if (bc.token_budget < bc.max_seqs) bc.token_budget = bc.max_seqs;
    bc.max_waiting = p->max_waiting > 0   ? p->max_waiting
                     : p->max_waiting < 0 ? 0
                                          : BATCHER_DEFAULT_MAX_WAITING;
    bc.eos_token = p->eos_token;
    int rc = batcher_init(&c.b, &bc, err, err_len);
    if (rc) return rc;
    c.batches = mem_calloc(MEM_TAG_SERVER, (size_t)info->n_attn, sizeof *c.batches);
    c.results = mem_calloc(MEM_TAG_SERVER, (size_t)info->n_attn, sizeof *c.results);
    rc = c.batches && c.results ? JANUS_OK : JANUS_ENOMEM;
    for (int32_t i = 0; i < info->n_attn && rc == JANUS_OK; i++)
        rc = batch_init(&c.batches[i], bc.token_budget);
    if (rc) {
        rc = status_errf(err, err_len, rc, "out of memory");
        goto out;
    }
    if (connect_front(&c, p) != JANUS_OK) {
        rc = status_errf(err, err_len, JANUS_EIO, "cannot connect to the front at %s",
                         p->socket_path);
        goto out;
    }
    if (p->lifeline &&
        fdwatch_start(p->lifeline, c.conn.fd, CTL_FRONT_GONE_GRACE_MS, 4,
                      "controller: lost the front (janus serve or janus run) and the deployment "
                      "does not end by itself; ending the job") != JANUS_OK)
        LOG_WARN("controller: no lifeline thread: a stuck job may outlive a lost front");
    watching = p->watch_start && p->watch_start(p->watch_cookie, ctl_report, &c) == JANUS_OK;
    struct frontlink_msg m;
    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_READY;
    m.u.ready.n_vocab = (uint32_t)info->n_vocab;
    m.u.ready.n_attn = (uint32_t)info->n_attn;
    m.u.ready.n_moe = (uint32_t)info->n_moe;
    m.u.ready.n_layer = (uint32_t)info->n_layer;
    m.u.ready.n_ctx = (uint32_t)info->n_ctx;
    m.u.ready.max_seqs = (uint32_t)info->max_seqs;
    m.u.ready.kv_tokens = info->kv_tokens;
    m.u.ready.token_budget = (uint32_t)bc.token_budget;
    m.u.ready.max_waiting = (uint32_t)bc.max_waiting;
    snprintf(m.u.ready.model_name, sizeof m.u.ready.model_name, "%s", info->model_name);
    if (send_msg(&c, &m) != JANUS_OK) {
        rc = status_errf(err, err_len, JANUS_EIO, "the front closed the socket before READY");
        goto out;
    }
    int heartbeat_ms = p->heartbeat_ms > 0 ? p->heartbeat_ms : 1000;
    int stats_ms = p->stats_ms > 0 ? p->stats_ms : 500;
    int64_t last_step = 0, last_stats = 0;
    int shutdown = 0, exec_failed = 0;
    rc = JANUS_OK;
    while (!shutdown && !c.failed) {
        int64_t now = clock_now_ns();
        int busy = batcher_busy(&c.b);
        int wait_ms = 0;
        if (!busy) {
            int64_t due = last_step + (int64_t)heartbeat_ms * 1000000 - now;
            int64_t due_st = last_stats + (int64_t)stats_ms * 1000000 - now;
            int64_t w = JANUS_MIN(due, due_st);
            if (c.rp_active) w = JANUS_MIN(w, (int64_t)JANUS_MAX(p->replace_poll_ms, 1) * 1000000);
            wait_ms = w <= 0 ? 0 : (int)(w / 1000000) + 1;
        }
        // Receive: wait only when idle, then drain whatever else is queued.
        for (;;) {
            char why[JANUS_ERR_LEN];
            struct frontlink_msg in;
            int r = frontlink_recv(&c.conn, wait_ms, &in, why, sizeof why);
            wait_ms = 0;
            if (r == JANUS_EAGAIN) break;
            if (r != JANUS_OK) {
                LOG_INFO("controller: front gone (%s)", janus_strerror(r));
                c.failed = 1;
                break;
            }
            int h = handle(&c, &in, clock_now_ns());
            frontlink_msg_free(&in);
            flush_events(&c);
            if (h < 0) {
                exec_failed = 1;
                break;
            }
            shutdown |= h;
        }
        if (!exec_failed && (c.failed || shutdown)) break;
        // Re-placement: ask the ranks whether they are ready (between steps); the drift policy.
        if (!exec_failed && replace_progress(&c, 0) != JANUS_OK) exec_failed = 1;
        if (!exec_failed && drift_due(&p->drift, c.n_steps, c.rp_last_check, c.rp_last_switch) &&
            !c.rp_active &&
            replace_start(&c, 0, FRONTLINK_TRIGGER_DRIFT, p->drift.threshold, 0) != JANUS_OK)
            exec_failed = 1;
        if (exec_failed) {
            batcher_abort(&c.b);
            flush_events(&c);
            send_error(&c, 0, FRONTLINK_ERR_JOB, "the deployment failed during a re-placement");
            rc = status_errf(err, err_len, JANUS_ECOMM,
                             "the deployment failed during a re-placement");
            break;
        }
        now = clock_now_ns();
        if (batcher_busy(&c.b) || now - last_step >= (int64_t)heartbeat_ms * 1000000) {
            if (p->step_delay_ms > 0) clock_sleep_ns((int64_t)p->step_delay_ms * 1000000);
            (void)batcher_schedule(&c.b, clock_now_ns(), c.batches);
            int64_t t_step = clock_now_ns();
            int r = exec_step(e, c.batches, c.results);
            if (c.step_log) {
                int64_t rows = 0;
                for (int32_t i = 0; i < info->n_attn; i++)
                    rows += c.batches[i].n;
                fprintf(c.step_log, "%llu %lld %lld\n", (unsigned long long)c.n_steps,
                        (long long)rows, (long long)(clock_now_ns() - t_step));
            }
            c.n_steps++;
            if (r != JANUS_OK) {
                batcher_abort(&c.b);
                flush_events(&c);
                char text[128];
                snprintf(text, sizeof text, "the deployment failed a step: %s", janus_strerror(r));
                send_error(&c, 0, FRONTLINK_ERR_JOB, text);
                rc = status_errf(err, err_len, JANUS_ECOMM, "%s", text);
                break;
            }
            for (int32_t i = 0; i < info->n_attn; i++)
                c.rows_total += (uint64_t)c.batches[i].n;
            r = batcher_commit(&c.b, c.results, c.batches, clock_now_ns());
            JANUS_ASSERT(r == JANUS_OK); // the executor returned one token per sample
            flush_events(&c);
            last_step = clock_now_ns();
        }
        // Periodically, and soon after requests finish (so /metrics shows freed slots
        // promptly), at most every 50 ms.
        int64_t since = clock_now_ns() - last_stats;
        if (since >= (int64_t)stats_ms * 1000000 || (c.n_finished && since >= 50 * 1000000)) {
            send_stats(&c);
            c.n_finished = 0;
            last_stats = clock_now_ns();
        }
    }
    if (shutdown) {
        // Finish politely: everything still live is cancelled and reported.
        for (int32_t i = 0; i < c.b.cap; i++) {
            struct request *r = &c.b.reqs[i];
            if (r->state == REQUEST_WAITING || r->state == REQUEST_PREFILL ||
                r->state == REQUEST_DECODE)
                if (batcher_cancel(&c.b, r->id) != JANUS_OK)
                    JANUS_PANIC("cancel of a live request failed");
        }
        flush_events(&c);
    }
out:
    if (c.step_log) fclose(c.step_log);
    if (watching) p->watch_stop(p->watch_cookie);
    frontlink_conn_close(&c.conn);
    for (int32_t i = 0; c.batches && i < info->n_attn; i++)
        batch_free(&c.batches[i]);
    mem_free(c.batches);
    mem_free(c.results);
    batcher_free(&c.b);
    pthread_mutex_destroy(&c.send_mu);
    return rc;
}
