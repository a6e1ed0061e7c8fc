// The front (front.h, SPEC §2): launches the job as a child process (own session, launch.h),
// accepts its connection on a private Unix socket, and runs a reader thread that routes
// TOKEN/FINISH/ERROR to the waiting clients (HTTP handlers, janus run) and keeps the latest
// STATS. When a job that was ready dies, its link breaks or it stalls (the step watchdog: no
// step and no token for longer than a limit that follows the median step), the front kills
// all of it (its session: launch_kill_session), relaunches it (bounded by max_restarts, with
// backoff) and replays every request of the registry on the new job: prompt + tokens so far
// as the new prompt, max_tokens less what was generated, the same sampling (issue 16 item
// 1). Without a budget left, every request in flight gets an explicit error and the job
// state becomes DEAD.
// SPDX-License-Identifier: MIT
#include "front/front.h"

#include "front/launch.h"
#include "front/sockdir.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const double front_ttft_bounds[FRONT_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                      1,     2.5,  5,     10,   20,  40,   80};
const double front_tpot_bounds[FRONT_HIST_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5};

void front_hist_observe(struct front_hist *h, const double *bounds, double v) {
    int i = 0;
    while (i < FRONT_HIST_BUCKETS && v > bounds[i])
        i++;
    h->count[i]++;
    h->sum += v;
    h->n++;
}

static void apply_ready_locked(struct front *s, const struct frontlink_ready *rd);

// ---- registry (mu held)

static struct front_req *find_req(struct front *s, uint64_t id) {
    for (struct front_req *r = s->reqs; r; r = r->next)
        if (r->id == id) return r;
    return NULL;
}

// r changed (mu held): wake the blocking waiter and notify the event-driven one.
static void req_changed(struct front_req *r) {
    pthread_cond_broadcast(&r->cond);
    if (r->notify) r->notify(r->notify_cookie);
}

static void req_destroy(struct front_req *r) {
    pthread_cond_destroy(&r->cond);
    mem_free(r->sub.prompt);
    mem_free(r->tokens);
    mem_free(r);
}

static void unregister(struct front *s, struct front_req *r) {
    if (!r->registered) return;
    for (struct front_req **pp = &s->reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    r->registered = 0;
    s->n_live--;
    if (--r->refs == 0) req_destroy(r);
}

static void finish_metrics(struct front *s, struct front_req *r) {
    s->m.prompt_tokens += (uint64_t)(r->n_prompt > 0 ? r->n_prompt : 0);
    s->m.gen_tokens += (uint64_t)(r->n_completion > 0 ? r->n_completion : 0);
    if (r->t_first_ns > 0) {
        front_hist_observe(&s->m.ttft, front_ttft_bounds,
                           (double)(r->t_first_ns - r->t_submit_ns) * 1e-9);
        if (r->n_tokens > 1)
            front_hist_observe(&s->m.tpot, front_tpot_bounds,
                               (double)(r->t_last_ns - r->t_first_ns) * 1e-9 / (r->n_tokens - 1));
    }
}

// Fails every live request with a job error, or FRONTLINK_ERR_SHUTDOWN when the front is
// stopping (mu held).
static void fail_all(struct front *s, const char *why) {
    while (s->reqs) {
        struct front_req *r = s->reqs;
        if (!r->done) {
            r->done = 1;
            r->err_code = s->stopping ? FRONTLINK_ERR_SHUTDOWN : FRONTLINK_ERR_JOB;
            snprintf(r->err_msg, sizeof r->err_msg, "%s", why);
            req_changed(r);
        }
        unregister(s, r);
    }
}

static void set_dead(struct front *s, const char *why) {
    pthread_mutex_lock(&s->mu);
    s->recovering = 0;
    if (s->job != FRONT_JOB_DEAD && s->job != FRONT_JOB_STOPPED) {
        s->job = s->stopping ? FRONT_JOB_STOPPED : FRONT_JOB_DEAD;
        snprintf(s->job_error, sizeof s->job_error, "%s", why);
        if (!s->stopping && !s->p.quiet) LOG_ERROR("front: the deployment failed: %s", why);
    }
    fail_all(s, s->stopping ? "the server is shutting down" : why);
    pthread_cond_broadcast(&s->state_cond);
    pthread_mutex_unlock(&s->mu);
}

// ---- relaunch and replay (issue 16 item 1)

// Ends r here, without the job (mu held): it finished before the job died but its FINISH
// was lost, or its client cancelled it while no job held it.
static void finish_here(struct front *s, struct front_req *r, uint32_t reason) {
    r->done = 1;
    r->finish_reason = reason;
    r->n_prompt = r->sub.n_prompt;
    r->n_completion = r->n_tokens;
    if (reason != FRONTLINK_REASON_CANCELLED) finish_metrics(s, r);
    req_changed(r);
    unregister(s, r);
}

// The job that was ready died and a relaunch follows (mu held): the requests stay in the
// registry, marked for replay; /health says "recovering".
static void begin_recovery_locked(struct front *s, const char *why) {
    s->job = FRONT_JOB_STARTING;
    s->recovering = 1;
    s->recover_t0_ns = clock_now_ns();
    snprintf(s->job_error, sizeof s->job_error, "%s", why);
    for (struct front_req *r = s->reqs; r; r = r->next)
        r->in_job = 0;
    if (!s->p.quiet)
        LOG_WARN("front: the deployment failed (%s): relaunching it (%d of %d) and replaying %d "
                 "requests",
                 why, s->restarts + 1, s->p.max_restarts, s->n_live);
    pthread_cond_broadcast(&s->state_cond);
}

// Whether token t of r ended it (a stop id, or EOS unless ignored): its FINISH was lost
// with the job (mu held).
static int ends_request(const struct front *s, const struct front_req *r, int32_t t) {
    if (s->p.has_eos && s->p.eos_token >= 0 && t == s->p.eos_token &&
        !(r->sub.flags & FRONTLINK_FLAG_IGNORE_EOS))
        return 1;
    for (int32_t i = 0; i < r->sub.n_stop; i++)
        if (r->sub.stop_ids[i] == t) return 1;
    return 0;
}

// The new job is READY (reader thread): submits every request of the registry that no job
// holds, as prompt + tokens so far with max_tokens less what was generated and the same
// sampling. Sampling is keyed by (seed, position) and the positions are the original ones,
// so greedy and seeded output go on as if nothing happened. Sent outside mu (the job may be
// writing to us meanwhile); the generation check keeps a submit racing with the death of the
// old job from reaching the new one twice.
static void replay(struct front *s) {
    pthread_mutex_lock(&s->mu);
    int n = 0, cap = s->n_live;
    struct frontlink_msg *msgs = cap ? mem_calloc(MEM_TAG_SERVER, (size_t)cap, sizeof *msgs) : NULL;
    uint64_t gen = s->job_gen;
    struct front_req *next;
    for (struct front_req *r = s->reqs; r; r = next) {
        next = r->next;
        if (r->in_job) continue;
        int32_t k = r->n_tokens;
        if (r->done) { // failed here (out of memory) while waiting for its FINISH
            unregister(s, r);
            continue;
        }
        if (r->cancel_sent) {
            finish_here(s, r, FRONTLINK_REASON_CANCELLED);
            continue;
        }
        if (k >= r->sub.max_tokens) {
            finish_here(s, r, FRONTLINK_REASON_LENGTH);
            continue;
        }
        if (k > 0 && ends_request(s, r, r->tokens[k - 1])) {
            finish_here(s, r, FRONTLINK_REASON_STOP);
            continue;
        }
        int64_t np = (int64_t)r->sub.n_prompt + k;
        int32_t *prompt = NULL;
        if (n < cap && np <= FRONTLINK_MAX_PROMPT)
            prompt = mem_alloc(MEM_TAG_SERVER, (size_t)np * sizeof *prompt);
        if (!prompt) {
            r->done = 1;
            r->err_code = FRONTLINK_ERR_INTERNAL;
            snprintf(r->err_msg, sizeof r->err_msg, "cannot replay the request: out of memory");
            req_changed(r);
            unregister(s, r);
            continue;
        }
        memcpy(prompt, r->sub.prompt, (size_t)r->sub.n_prompt * sizeof *prompt);
        memcpy(prompt + r->sub.n_prompt, r->tokens, (size_t)k * sizeof *prompt);
        struct frontlink_msg *m = &msgs[n++];
        m->type = FRONTLINK_SUBMIT;
        m->u.submit = r->sub;
        m->u.submit.id = r->id;
        m->u.submit.max_tokens = r->sub.max_tokens - k;
        m->u.submit.n_prompt = (int32_t)np;
        m->u.submit.prompt = prompt;
        r->n_base = k;
        r->in_job = 1;
        r->job_gen = gen;
        if (s->recovering || r->moved) r->replays++;
    }
    int was_recovering = s->recovering;
    s->recovering = 0;
    s->replayed_total += (uint64_t)n;
    pthread_mutex_unlock(&s->mu);
    int sent = 0;
    pthread_mutex_lock(&s->send_mu);
    for (int i = 0; i < n; i++)
        if (s->conn_gen == gen && frontlink_send(&s->conn, &msgs[i]) == JANUS_OK) sent++;
    pthread_mutex_unlock(&s->send_mu);
    // (A send that failed: the link is broken, the reader sees it next and recovers again.)
    for (int i = 0; i < n; i++)
        frontlink_msg_free(&msgs[i]);
    mem_free(msgs);
    if (was_recovering) {
        pthread_mutex_lock(&s->mu);
        s->last_pause_ms = (double)(clock_now_ns() - s->recover_t0_ns) * 1e-6;
        double ms = s->last_pause_ms;
        pthread_mutex_unlock(&s->mu);
        if (!s->p.quiet)
            LOG_WARN("front: deployment back after %.0f ms: %d of %d requests replayed", ms, sent,
                     n);
    }
}

// ---- live rescale: the reader's half (issue 16 item 3; the other half is rescale.c)

void front_free_argv(char **argv) {
    for (int i = 0; argv && argv[i]; i++)
        mem_free(argv[i]);
    mem_free(argv);
}

// A job of the new shape is READY (front_rescale handed it over): stop reading the old job,
// make the new one current, and move every live request to it by replay. Tokens the old job
// produced after this point are never read: each request goes on from exactly the tokens
// its client has (r->tokens), so nothing is delivered twice and nothing is lost. The old
// job goes back to front_rescale, which shuts it down.
void front_rescale_adopt(struct front *s) {
    pthread_mutex_lock(&s->mu);
    struct front_handoff *h = s->handoff;
    s->handoff_pending = 0;
    if (!h || s->stopping) { // (stopping: front_rescale withdraws it)
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->handoff = NULL;
    // The new job must hold every request in flight (its slots + its queue), or its admission
    // control would refuse some of them mid-stream: then the rescale is refused instead.
    int64_t cap = (int64_t)h->ready.max_waiting + (int64_t)h->ready.n_attn * h->ready.max_seqs;
    if (cap > 0 && s->n_live > cap) {
        h->refused = s->n_live;
        h->taken = 1;
        pthread_cond_broadcast(&s->state_cond);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    h->t_switch_ns = clock_now_ns();
    int n = 0;
    for (struct front_req *r = s->reqs; r; r = r->next) {
        r->in_job = 0;
        if (!r->done) r->moved = 1, n++;
    }
    pthread_mutex_lock(&s->send_mu); // lock order: mu, then send_mu
    h->old_conn = s->conn;
    s->conn = h->conn;
    s->job_gen++;
    s->conn_gen = s->job_gen;
    pthread_mutex_unlock(&s->send_mu);
    h->old_pid = s->job_pid;
    s->job_pid = s->job_pgid = h->pid;
    s->job_exited = 0;
    char **old_argv = s->job_argv_own;
    s->job_argv = s->job_argv_own = h->argv;
    h->argv = old_argv;
    apply_ready_locked(s, &h->ready);
    s->rescales_total++;
    s->rescale_switch_ns = h->t_switch_ns;
    s->last_rescale_gap_ms = 0;
    pthread_cond_broadcast(&s->state_cond);
    pthread_mutex_unlock(&s->mu);
    replay(s);
    pthread_mutex_lock(&s->mu);
    h->moved = n;
    h->t_done_ns = clock_now_ns();
    h->taken = 1;
    pthread_cond_broadcast(&s->state_cond);
    pthread_mutex_unlock(&s->mu);
}

// ---- step watchdog (issue 16 item 1)

static double median(const double *v, int n) {
    double t[FRONT_WATCHDOG_RING];
    for (int i = 0; i < n; i++) { // insertion sort: n <= 64, only when a stall is suspected
        double x = v[i];
        int j = i;
        for (; j > 0 && t[j - 1] > x; j--)
            t[j] = t[j - 1];
        t[j] = x;
    }
    return n == 0 ? 0 : n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

// A STATS arrived (mu held): the interval since the job's previous one gives the cost of a
// batch row when requests were running at both ends and rows ran in it. Wall time, not the
// job's own step time, so that everything between steps (the controller's work, a test's
// step delay, a loaded host) is in it.
static void watchdog_sample(struct front *s, const struct frontlink_stats *st, int64_t now) {
    if (s->wd_prev_ns > 0 && st->n_steps > s->wd_prev_steps && st->n_running > 0 &&
        s->wd_prev_running > 0) {
        double dt = (double)(now - s->wd_prev_ns) * 1e-9;
        if (st->rows_total > s->wd_prev_rows) {
            s->wd_row_s[s->wd_pos_row] = dt / (double)(st->rows_total - s->wd_prev_rows);
            s->wd_pos_row = (s->wd_pos_row + 1) % FRONT_WATCHDOG_RING;
            if (s->wd_n_row < FRONT_WATCHDOG_RING) s->wd_n_row++;
        }
    }
    s->wd_prev_ns = now;
    s->wd_prev_steps = st->n_steps;
    s->wd_prev_rows = st->rows_total;
    s->wd_prev_running = st->n_running;
}

double front_watchdog_limit(const struct front *s, double *median_step_s) {
    if (median_step_s) *median_step_s = 0;
    if (s->p.watchdog_s <= 0) return 0;
    double floor_s = s->p.watchdog_s;
    double k = s->p.watchdog_factor > 0 ? s->p.watchdog_factor : FRONT_WATCHDOG_FACTOR;
    // A fresh server, or a job that has not delivered a token yet (a relaunched job's first
    // steps run cold: page faults, caches, a replay's prefills): the warm-up limit.
    if (s->wd_n < FRONT_WATCHDOG_SAMPLES || s->wd_job_tokens == 0)
        return FRONT_WATCHDOG_WARMUP * floor_s;
    double step = median(s->wd_step_s, s->wd_n);
    if (median_step_s) *median_step_s = step;
    // Room for prefill: the prompt rows of requests still waiting for their first token
    // (in this job), as many as one step may hold, at the median cost of a row (an upper
    // bound: a decode step's fixed cost is spread over few rows).
    int64_t p = 0;
    for (const struct front_req *r = s->reqs; r; r = r->next)
        if (r->in_job && !r->done && r->n_tokens == r->n_base)
            p += (int64_t)r->sub.n_prompt + r->n_base;
    int64_t cap = (int64_t)s->ready.token_budget * (s->ready.n_attn ? s->ready.n_attn : 1);
    if (cap > 0 && p > cap) p = cap;
    double row = s->wd_n_row ? median(s->wd_row_s, s->wd_n_row) : step;
    double need = JANUS_MAX(step, row * (double)p);
    return JANUS_MAX(floor_s, k * need);
}

// Whether the job has stalled (reader thread): requests are in it and nothing progressed for
// longer than the limit. Fills why ("stalled: no step for ...") and logs it once.
static int watchdog_fired(struct front *s, char *why, size_t why_len) {
    if (s->p.watchdog_s <= 0) return 0;
    pthread_mutex_lock(&s->mu);
    int fired = 0;
    double idle = (double)(clock_now_ns() - s->progress_ns) * 1e-9;
    if (s->job == FRONT_JOB_READY && s->n_live > 0 && idle > s->p.watchdog_s) {
        double med = 0, limit = front_watchdog_limit(s, &med);
        s->wd_limit_s = limit;
        s->wd_median_step_s = med;
        if (idle > limit) {
            fired = s->wd_hung = 1;
            s->watchdog_fires++;
            if (med > 0)
                snprintf(why, why_len,
                         "stalled: no step for %.1f s (limit %.1f s, median step %.3g ms)", idle,
                         limit, med * 1e3);
            else
                snprintf(why, why_len,
                         "stalled: no step for %.1f s (limit %.1f s, median step not known yet)",
                         idle, limit);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return fired;
}

// ---- the child process

// Non-blocking check of the child (reader thread only). Returns 1 and fills why if it has
// exited.
static int child_exited(struct front *s, char *why, size_t n) {
    if (s->job_pid <= 0) return 0;
    int st;
    pid_t r = waitpid(s->job_pid, &st, WNOHANG);
    if (r != s->job_pid) return 0;
    pthread_mutex_lock(&s->mu);
    s->job_pid = -1;
    s->job_exited = 1;
    s->job_exit_status = st;
    pthread_cond_broadcast(&s->state_cond);
    pthread_mutex_unlock(&s->mu);
    if (WIFEXITED(st))
        snprintf(why, n, "the job exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(why, n, "the job was killed by signal %d", WTERMSIG(st));
    else
        snprintf(why, n, "the job ended");
    return 1;
}

// Launches the job with "--socket PATH" appended (mu held or before the reader starts).
static int spawn(struct front *s, char *err, size_t err_len) {
    int n = 0;
    while (s->job_argv[n])
        n++;
    char **argv = mem_calloc(MEM_TAG_SERVER, (size_t)n + 5, sizeof *argv);
    if (!argv) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    int mono = 0;
    for (int i = 0; i < n; i++) {
        argv[i] = s->job_argv[i];
        mono |= !strcmp(argv[i], "--mono");
    }
    argv[n++] = (char *)"--socket";
    argv[n++] = s->sock_path;
    // A MPI job keeps its re-placed layout in the socket directory, so that a relaunched job
    // starts from it (issue 16 item 2; runtime/replace.h replace_carry_layout).
    char carry[sizeof s->sock_dir + 16];
    if (!mono && snprintf(carry, sizeof carry, "%s/layout.json", s->sock_dir) < (int)sizeof carry) {
        argv[n++] = (char *)"--layout-carry";
        argv[n++] = carry;
    }
    argv[n] = NULL;
    pid_t pid;
    int rc = launch_spawn(argv, s->p.mpi_env, -1, &pid, err, err_len);
    mem_free(argv);
    if (rc) return rc;
    s->job_pid = pid;
    s->job_pgid = pid;
    s->job_exited = 0;
    return JANUS_OK;
}

// ---- reader thread

static void on_msg(struct front *s, struct frontlink_msg *m) {
    int64_t now = clock_now_ns();
    pthread_mutex_lock(&s->mu);
    switch (m->type) {
    case FRONTLINK_TOKEN: {
        struct front_req *r = find_req(s, m->u.token.id);
        if (!r || r->done) break;
        if (r->n_tokens == r->cap_tokens) {
            int32_t nc = r->cap_tokens ? r->cap_tokens * 2 : 64;
            int32_t *t = mem_realloc(MEM_TAG_SERVER, r->tokens, (size_t)nc * sizeof *t);
            if (!t) { // out of memory: fail this request rather than lose a token silently
                r->done = 1;
                r->err_code = FRONTLINK_ERR_INTERNAL;
                snprintf(r->err_msg, sizeof r->err_msg, "out of memory");
                req_changed(r);
                struct frontlink_msg cm = {.type = FRONTLINK_CANCEL};
                cm.u.cancel_id = r->id;
                pthread_mutex_lock(&s->send_mu); // lock order: mu, then send_mu
                (void)!frontlink_send(&s->conn, &cm);
                pthread_mutex_unlock(&s->send_mu);
                // It stays registered (counted against max_inflight) until the controller's
                // FINISH says it has let go of the request's capacity.
                break;
            }
            r->tokens = t;
            r->cap_tokens = nc;
        }
        // The gap since this request's previous token from the same job: one step as the
        // front sees it (the step, the controller's work, a loaded host; more when prefill
        // chunks of other requests share the steps: an upper bound).
        if (r->n_tokens > r->n_base && r->t_last_ns > 0) {
            s->wd_step_s[s->wd_pos] = (double)(now - r->t_last_ns) * 1e-9;
            s->wd_pos = (s->wd_pos + 1) % FRONT_WATCHDOG_RING;
            if (s->wd_n < FRONT_WATCHDOG_RING) s->wd_n++;
        }
        if (r->moved) { // the first token after a rescale moved it: the pause it saw
            if (r->t_last_ns > 0) {
                double gap = (double)(now - r->t_last_ns) * 1e-6;
                if (gap > s->last_rescale_gap_ms) s->last_rescale_gap_ms = gap;
            }
            r->moved = 0;
        }
        r->tokens[r->n_tokens++] = m->u.token.token;
        s->m.tokens_out++;
        s->progress_ns = now;
        s->wd_job_tokens++;
        if (r->t_first_ns <= 0) r->t_first_ns = now;
        r->t_last_ns = now;
        req_changed(r);
        break;
    }
    case FRONTLINK_FINISH: {
        struct front_req *r = find_req(s, m->u.finish.id);
        if (!r) break;
        if (!r->done) { // (done already: failed here, e.g. out of memory; keep that error)
            r->done = 1;
            r->finish_reason = m->u.finish.reason;
            r->n_prompt = m->u.finish.n_prompt;
            r->n_completion = m->u.finish.n_completion;
            if (m->u.finish.reason == FRONTLINK_REASON_CANCELLED && !r->cancel_sent) {
                // Nobody here cancelled it: the job dropped it on its way out (SHUTDOWN at the
                // end of the grace). Its text is cut short, so it ends as an error, never as a
                // normal finish.
                r->err_code = s->stopping ? FRONTLINK_ERR_SHUTDOWN : FRONTLINK_ERR_JOB;
                snprintf(r->err_msg, sizeof r->err_msg, "%s",
                         s->stopping ? "the server is shutting down"
                                     : "the deployment dropped the request");
            }
            if (r->replays > 0) { // the job saw prompt + n_base tokens as its prompt
                r->n_prompt = r->sub.n_prompt;
                r->n_completion = r->n_base + m->u.finish.n_completion;
            }
            finish_metrics(s, r);
        }
        req_changed(r);
        unregister(s, r);
        break;
    }
    case FRONTLINK_ERROR: {
        if (m->u.error.id == 0) {
            snprintf(s->job_error, sizeof s->job_error, "%.255s", m->u.error.message);
            snprintf(s->job_message, sizeof s->job_message, "%.255s", m->u.error.message);
            if (!s->p.quiet) LOG_WARN("front: the deployment reports: %s", s->job_message);
            break;
        }
        struct front_req *r = find_req(s, m->u.error.id);
        if (!r) break;
        r->done = 1;
        r->err_code = m->u.error.code;
        snprintf(r->err_msg, sizeof r->err_msg, "%.255s", m->u.error.message);
        req_changed(r);
        unregister(s, r);
        break;
    }
    case FRONTLINK_STATS:
        if (m->u.stats.n_steps != s->stats.n_steps || s->step_seen_ns == 0) s->step_seen_ns = now;
        if (m->u.stats.n_steps != s->stats.n_steps) s->progress_ns = now;
        watchdog_sample(s, &m->u.stats, now);
        s->stats = m->u.stats;
        s->stats_ns = now;
        break;
    case FRONTLINK_READY: LOG_WARN("front: a second READY ignored"); break;
    case FRONTLINK_REPLACED: front_replace_on_reply(s, &m->u.replaced); break;
    default: break; // unknown types are skipped (frontlink.h)
    }
    pthread_mutex_unlock(&s->mu);
}

// A job announced READY (mu held): its shape and limits, a fresh watchdog.
static void apply_ready_locked(struct front *s, const struct frontlink_ready *rd) {
    s->ready = *rd;
    snprintf(s->model_name, sizeof s->model_name, "%s",
             s->p.served_name && s->p.served_name[0] ? s->p.served_name : rd->model_name);
    s->job = FRONT_JOB_READY;
    s->ever_ready = 1;
    s->job_error[0] = 0;
    s->job_message[0] = 0;
    s->step_seen_ns = s->progress_ns = clock_now_ns();
    s->wd_prev_ns = 0; // the new job's counters start from 0
    s->wd_job_tokens = 0;
    memset(&s->stats, 0, sizeof s->stats);
    // Never submit more than the controller can hold (waiting + every slot), so its
    // admission control never has to refuse: overload is a 429 here, decided before
    // any streaming response starts.
    int64_t cap = (int64_t)rd->max_waiting + (int64_t)rd->n_attn * rd->max_seqs;
    s->max_inflight = s->p.max_inflight;
    if (cap > 0 && cap < s->max_inflight) s->max_inflight = (int)cap;
    s->fails_in_row = 0;
}

// One life of the job: accept its connection, read READY, then route messages until the
// link ends. Fills why with the reason it ended.
static void session(struct front *s, char *why, size_t why_len) {
    int64_t deadline = clock_now_ns() + (int64_t)s->p.ready_timeout_s * 1000000000;
    // 1. the job connects
    for (;;) {
        if (child_exited(s, why, why_len)) return;
        if (s->stopping) {
            snprintf(why, why_len, "stopped");
            return;
        }
        if (clock_now_ns() > deadline) {
            snprintf(why, why_len, "the job did not connect in time");
            return;
        }
        struct frontlink_conn c;
        int rc = frontlink_accept(s->listen_fd, 200, &c);
        if (rc == JANUS_OK) {
            pthread_mutex_lock(&s->mu);
            s->connected = 1;
            s->job_gen++;
            pthread_mutex_lock(&s->send_mu);
            s->conn = c;
            s->conn_gen = s->job_gen;
            pthread_mutex_unlock(&s->send_mu);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (rc != JANUS_EAGAIN) {
            snprintf(why, why_len, "accept on the job socket failed");
            return;
        }
    }
    // 2. READY, then 3. messages until the link ends
    int ready = 0;
    int64_t checked_ns = clock_now_ns();
    for (;;) {
        if (ready && s->handoff_pending) front_rescale_adopt(s); // a live rescale (rescale.c)
        struct frontlink_msg m;
        char perr[JANUS_ERR_LEN] = "";
        int rc = frontlink_recv(&s->conn, 200, &m, perr, sizeof perr);
        // The job's leader gone (mpirun killed) while its orphaned ranks keep streaming: seen
        // within 20 ms even when messages never let the receive time out.
        if (rc == JANUS_OK && clock_now_ns() - checked_ns > 20 * 1000000) {
            checked_ns = clock_now_ns();
            if (child_exited(s, why, why_len)) {
                frontlink_msg_free(&m);
                return;
            }
        }
        if (rc == JANUS_EAGAIN) {
            if (child_exited(s, why, why_len)) return;
            if (ready && watchdog_fired(s, why, why_len)) return;
            if (!ready && clock_now_ns() > deadline) {
                snprintf(why, why_len, "the job did not become ready in time");
                return;
            }
            continue;
        }
        if (rc != JANUS_OK) {
            if (rc == JANUS_EPROTO) {
                snprintf(why, why_len, "protocol error from the job: %.200s", perr);
            } else {
                // The link closed: wait briefly for the exit status to say why.
                for (int k = 0; k < 50 && !child_exited(s, why, why_len); k++)
                    clock_sleep_ns(20 * 1000000);
                if (!why[0]) snprintf(why, why_len, "the job closed its connection");
            }
            return;
        }
        if (!ready) {
            if (m.type != FRONTLINK_READY) {
                snprintf(why, why_len, "the job sent %s before READY", frontlink_type_name(m.type));
                frontlink_msg_free(&m);
                return;
            }
            pthread_mutex_lock(&s->mu);
            apply_ready_locked(s, &m.u.ready);
            pthread_cond_broadcast(&s->state_cond);
            pthread_mutex_unlock(&s->mu);
            ready = 1;
            if (!s->p.quiet)
                LOG_INFO("front: deployment ready (%s, %u attention, %u MoE instances)",
                         m.u.ready.model_name, m.u.ready.n_attn, m.u.ready.n_moe);
            replay(s);
        } else {
            on_msg(s, &m);
        }
        frontlink_msg_free(&m);
        // (also here: a job that keeps talking without progressing never lets recv time out)
        if (ready && watchdog_fired(s, why, why_len)) return;
    }
}

// Ends what is left of the job (a broken link with a live process is of no use) and
// reaps it.
static void end_job(struct front *s, int graceful, int hung) {
    pthread_mutex_lock(&s->send_mu);
    frontlink_conn_close(&s->conn);
    pthread_mutex_unlock(&s->send_mu);
    // A job told to shut down gets the stop grace before SIGTERM. A broken one gets 0.5 s to
    // end by itself (mpirun ending its ranks; ranks that lost their rank 0), then the whole
    // process group is killed: nothing of it may outlive the job (issue 16 item 1).
    // A stalled one (the watchdog fired) is killed at once: waiting cannot help it.
    int term = graceful ? s->p.stop_grace_ms / 20
               : hung   ? 0
                        : 25,
        kill9 = graceful ? term + 100
                : hung   ? 0
                         : 25;
    char w2[64];
    for (int k = 0; s->job_pid > 0 && k < kill9 + 100 && !child_exited(s, w2, sizeof w2); k++) {
        if (k == term) kill(-s->job_pgid, SIGTERM);
        if (k == kill9) kill(-s->job_pgid, SIGKILL);
        clock_sleep_ns(20 * 1000000);
    }
    if (s->job_pid > 0) kill(s->job_pid, SIGKILL); // (in case it had not run setsid yet)
    // Whatever of the job is left once its leader is gone: the group, and every process of
    // its session (Open MPI 4 puts each rank in a process group of its own, and a rank of a
    // dead mpirun is orphaned; a stopped one would stay for ever). Bounded.
    if (s->job_pgid > 0) {
        kill(-s->job_pgid, SIGKILL);
        for (int k = 0; k < 100 && launch_kill_session(s->job_pgid, SIGKILL) > 0; k++)
            clock_sleep_ns(20 * 1000000);
    }
    for (int k = 0; s->job_pid > 0 && k < 100 && !child_exited(s, w2, sizeof w2); k++)
        clock_sleep_ns(20 * 1000000);
}

static void *reader_main(void *arg) {
    struct front *s = arg;
    for (;;) {
        char why[512] = "";
        session(s, why, sizeof why);
        pthread_mutex_lock(&s->mu);
        if (s->job_message[0] && !strstr(why, s->job_message)) { // what the job said (a host lost)
            size_t n = strlen(why);
            snprintf(why + n, sizeof why - n, "; the deployment reported: %s", s->job_message);
        }
        int keep = s->stopping || !s->ever_ready || s->p.max_restarts == 0; // (janus run reads it)
        if (!keep) s->job_message[0] = 0; // a relaunched job reports afresh
        pthread_mutex_unlock(&s->mu);
        int graceful = s->stopping; // read before set_dead wakes the clients
        int hung = s->wd_hung;
        s->wd_hung = 0;
        // A job that was ready once is relaunched while the budget lasts, and its requests
        // replayed; one that never came up is a configuration problem: no relaunch.
        pthread_mutex_lock(&s->mu);
        int relaunch = !s->stopping && s->ever_ready && s->restarts < s->p.max_restarts;
        if (relaunch) begin_recovery_locked(s, why);
        pthread_mutex_unlock(&s->mu);
        if (!relaunch) {
            char msg[512];
            if (!s->stopping && s->ever_ready && s->p.max_restarts > 0)
                snprintf(msg, sizeof msg, "%.440s (relaunch budget of %d spent)", why,
                         s->p.max_restarts);
            else
                snprintf(msg, sizeof msg, "%s", why);
            set_dead(s, msg);
        }
        end_job(s, graceful, hung);
        if (!relaunch) break;
        // Backoff: 100 ms, then doubling for each relaunched job that died before READY.
        int fails = s->fails_in_row < 5 ? s->fails_in_row : 5;
        for (int k = 0; k < (1 << fails) && !s->stopping; k++)
            clock_sleep_ns(100 * 1000000);
        char err[JANUS_ERR_LEN];
        pthread_mutex_lock(&s->mu);
        int rc = s->stopping ? JANUS_ECOMM : spawn(s, err, sizeof err);
        if (rc == JANUS_OK) {
            s->restarts++;
            s->fails_in_row++; // reset by READY
            pthread_cond_broadcast(&s->state_cond);
        }
        pthread_mutex_unlock(&s->mu);
        if (rc) {
            if (!s->stopping) LOG_ERROR("front: cannot relaunch the job: %s", err);
            set_dead(s, s->stopping ? "stopped" : err);
            break;
        }
        LOG_WARN("front: relaunched the job (%d of %d)", s->restarts, s->p.max_restarts);
    }
    return NULL;
}

// ---- API

void front_init(struct front *s, const struct front_params *p) {
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->job_argv = p->job_argv;
    if (s->p.max_inflight <= 0) s->p.max_inflight = 1024;
    if (s->p.ready_timeout_s <= 0) s->p.ready_timeout_s = 600;
    if (s->p.stop_grace_ms <= 0) s->p.stop_grace_ms = 2000;
    s->listen_fd = -1;
    s->conn.fd = -1;
    s->job_pid = s->job_pgid = -1;
    s->max_inflight = s->p.max_inflight;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->send_mu, NULL);
    pthread_cond_init(&s->state_cond, NULL);
}

void front_destroy(struct front *s) {
    front_free_argv(s->job_argv_own);
    s->job_argv_own = NULL;
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->send_mu);
    pthread_cond_destroy(&s->state_cond);
}

int front_start(struct front *s, char *err, size_t err_len) {
    if (!s->job_argv || !s->job_argv[0])
        return status_errf(err, err_len, JANUS_EINVAL, "no job command");
    int rc = sockdir_create(s->sock_dir, sizeof s->sock_dir, err, err_len);
    if (rc) {
        s->sock_dir[0] = 0;
        return rc;
    }
    snprintf(s->sock_path, sizeof s->sock_path, "%s/link.sock", s->sock_dir);
    rc = frontlink_listen(s->sock_path, &s->listen_fd);
    if (rc) {
        s->listen_fd = -1;
        return status_errf(err, err_len, rc, "cannot listen on %s", s->sock_path);
    }
    rc = spawn(s, err, err_len);
    if (rc) return rc;
    if (pthread_create(&s->reader, NULL, reader_main, s) != 0)
        return status_errf(err, err_len, JANUS_EIO, "cannot start the reader thread");
    s->reader_started = 1;
    return JANUS_OK;
}

int front_in_flight(struct front *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->n_held;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int front_accepting(const struct front *s) {
    return !s->stopping && (s->job == FRONT_JOB_READY || s->recovering);
}

const char *front_not_ready_reason(const struct front *s) {
    return s->stopping                    ? "the server is shutting down"
           : s->recovering                ? "the deployment is being relaunched"
           : s->job == FRONT_JOB_STARTING ? "the deployment is still starting"
           : s->job_error[0]              ? s->job_error
                                          : "the deployment is not running";
}

int front_wait_ready(struct front *s, int timeout_ms, char *err, size_t err_len) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (int64_t)timeout_ms * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (!s->ever_ready && s->job == FRONT_JOB_STARTING && rc == 0)
        rc = pthread_cond_timedwait(&s->state_cond, &s->mu, &ts);
    enum front_job j = s->job;
    int ever = s->ever_ready;
    snprintf(err, err_len, "%s", s->job_error[0] ? s->job_error : "the deployment failed");
    pthread_mutex_unlock(&s->mu);
    if (ever) return JANUS_OK;
    if (j == FRONT_JOB_STARTING) return JANUS_EAGAIN;
    return JANUS_ECOMM;
}

void front_stop(struct front *s) {
    s->stopping = 1;
    // Wake every waiting client so that it sees the stop.
    pthread_mutex_lock(&s->mu);
    for (struct front_req *r = s->reqs; r; r = r->next)
        req_changed(r);
    pthread_mutex_unlock(&s->mu);
    struct frontlink_msg m = {.type = FRONTLINK_SHUTDOWN};
    pthread_mutex_lock(&s->send_mu);
    if (s->conn.fd >= 0) (void)!frontlink_send(&s->conn, &m);
    pthread_mutex_unlock(&s->send_mu);
    // Give the job a moment to exit by itself, then SIGTERM, then SIGKILL (whole group).
    // Only the reader thread reaps the child; here we wait for it to notice.
    int term = s->p.stop_grace_ms / 10, kill9 = term + 200;
    pthread_mutex_lock(&s->mu);
    for (int k = 0; k < kill9 + 100 && s->reader_started &&
                    (s->job == FRONT_JOB_READY || s->job == FRONT_JOB_STARTING);
         k++) {
        if (k == term && s->job_pgid > 0) kill(-s->job_pgid, SIGTERM);
        if (k == kill9 && s->job_pgid > 0) kill(-s->job_pgid, SIGKILL);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&s->state_cond, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    if (s->reader_started) pthread_join(s->reader, NULL);
    s->reader_started = 0;
    frontlink_conn_close(&s->conn);
    if (s->listen_fd >= 0) close(s->listen_fd);
    s->listen_fd = -1;
    if (s->sock_dir[0]) sockdir_remove(s->sock_dir); // the socket and the directory
    s->sock_path[0] = s->sock_dir[0] = 0;
    pthread_mutex_lock(&s->mu);
    fail_all(s, "the server is shutting down");
    pthread_mutex_unlock(&s->mu);
}

int front_submit(struct front *s, struct frontlink_submit *sub, struct front_req **out, char *err,
                 size_t err_len) {
    *out = NULL;
    if (sub->n_prompt < 1 || !sub->prompt)
        return status_errf(err, err_len, JANUS_EINVAL, "the prompt is empty");
    struct front_req *r = mem_calloc(MEM_TAG_SERVER, 1, sizeof *r);
    if (!r) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    r->cap_tokens = sub->max_tokens < 4096 ? sub->max_tokens : 4096;
    r->tokens = mem_alloc(MEM_TAG_SERVER, (size_t)r->cap_tokens * sizeof *r->tokens);
    r->sub = *sub;
    r->sub.prompt = mem_alloc(MEM_TAG_SERVER, (size_t)sub->n_prompt * sizeof *sub->prompt);
    if (!r->tokens || !r->sub.prompt) {
        mem_free(r->tokens);
        mem_free(r->sub.prompt);
        mem_free(r);
        return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    }
    memcpy(r->sub.prompt, sub->prompt, (size_t)sub->n_prompt * sizeof *sub->prompt);
    pthread_cond_init(&r->cond, NULL);
    pthread_mutex_lock(&s->mu);
    if (!front_accepting(s)) {
        int rc = status_errf(err, err_len, JANUS_ECOMM, "%s", front_not_ready_reason(s));
        pthread_mutex_unlock(&s->mu);
        req_destroy(r);
        return rc;
    }
    if (s->n_live >= s->max_inflight) {
        s->m.req_rejected++;
        pthread_mutex_unlock(&s->mu);
        req_destroy(r);
        return status_errf(err, err_len, JANUS_EAGAIN,
                           "too many requests in flight (%d); retry later", s->max_inflight);
    }
    r->id = ++s->next_id;
    r->sub.id = r->id;
    // The watchdog's clock starts when work arrives (an idle job's last step may be a
    // heartbeat ago).
    if (s->n_live == 0) s->progress_ns = clock_now_ns();
    s->n_held++;
    r->refs = 2;
    r->registered = 1;
    r->t_submit_ns = clock_now_ns();
    r->next = s->reqs;
    s->reqs = r;
    s->n_live++;
    // While the job is being relaunched the request waits in the registry: the replay
    // submits it to the new job once that is READY.
    int send_now = s->job == FRONT_JOB_READY;
    uint64_t gen = s->job_gen;
    r->in_job = send_now;
    r->job_gen = gen;
    pthread_mutex_unlock(&s->mu);
    sub->id = r->id;
    int rc = JANUS_OK;
    if (send_now) {
        struct frontlink_msg m;
        memset(&m, 0, sizeof m);
        m.type = FRONTLINK_SUBMIT;
        m.u.submit = *sub;
        pthread_mutex_lock(&s->send_mu);
        // A newer job than the one it was registered for: the replay has taken it over.
        if (s->conn_gen == gen) rc = frontlink_send(&s->conn, &m);
        pthread_mutex_unlock(&s->send_mu);
    }
    // A broken link (JANUS_ECOMM) is the reader's to handle: it relaunches and replays this
    // request with the others, or fails them all. Any other error is this request's own.
    if (rc && rc != JANUS_ECOMM) {
        pthread_mutex_lock(&s->mu);
        if (!r->done) {
            r->done = 1;
            r->err_code = FRONTLINK_ERR_JOB;
            snprintf(r->err_msg, sizeof r->err_msg, "cannot reach the deployment");
        }
        unregister(s, r);
        pthread_mutex_unlock(&s->mu);
    }
    *out = r;
    return JANUS_OK;
}

void front_cancel(struct front *s, struct front_req *r) {
    pthread_mutex_lock(&s->mu);
    if (!r->done && r->registered && !r->in_job) { // no job holds it (recovering): end it here
        r->cancel_sent = 1;
        finish_here(s, r, FRONTLINK_REASON_CANCELLED);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    int send = !r->done && !r->cancel_sent && r->registered;
    r->cancel_sent |= send;
    uint64_t id = r->id;
    pthread_mutex_unlock(&s->mu);
    if (!send) return;
    struct frontlink_msg m = {.type = FRONTLINK_CANCEL};
    m.u.cancel_id = id;
    pthread_mutex_lock(&s->send_mu);
    (void)!frontlink_send(&s->conn, &m);
    pthread_mutex_unlock(&s->send_mu);
}

void front_release(struct front *s, struct front_req *r) {
    front_cancel(s, r);
    pthread_mutex_lock(&s->mu);
    s->n_held--;
    if (--r->refs == 0) req_destroy(r);
    pthread_mutex_unlock(&s->mu);
}

void front_set_notify(struct front *s, struct front_req *r, front_notify_fn *fn, void *cookie) {
    pthread_mutex_lock(&s->mu);
    r->notify = fn;
    r->notify_cookie = fn ? cookie : NULL;
    pthread_mutex_unlock(&s->mu);
}

void front_wait_locked(struct front *s, struct front_req *r, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (int64_t)timeout_ms * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&r->cond, &s->mu, &ts);
}
