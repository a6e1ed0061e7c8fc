// The front (SPEC §2): the process outside the MPI job that launches the deployment
// (launch.h), supervises it (readiness, death, the step watchdog, relaunch and replay: issue
// 16 item 1; a live rescale to another shape, rescale.c: item 3) and keeps the registry of
// requests in flight, talking to the job's controller
// over a private Unix socket (requests/frontlink.h). Both `janus serve` (the HTTP face, src/http)
// and `janus run` are clients of it. Locking: f->mu guards the registry, every front_req, the job
// state, the latest STATS and the counters; each front_req has its own condition variable. Sending
// on the link, and replacing it, is serialised by f->send_mu. Lock order: mu, then send_mu.
// Event-driven clients (the HTTP face) set a per-request notification hook instead of waiting on
// the condition variable (front_set_notify). SPDX-License-Identifier: MIT
#ifndef JANUS_FRONT_H
#define JANUS_FRONT_H

#include "base/base.h"
#include "requests/frontlink.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

// ---- request counters and latency histograms (rendered by http/metrics.c)

#define FRONT_HIST_BUCKETS 14
struct front_hist {
    uint64_t count[FRONT_HIST_BUCKETS + 1]; // per bucket (last: +Inf), not cumulative
    double sum;
    uint64_t n;
};
extern const double front_ttft_bounds[FRONT_HIST_BUCKETS];
extern const double front_tpot_bounds[FRONT_HIST_BUCKETS];
// Counts v in h (bounds: the upper bucket edges, ascending).
void front_hist_observe(struct front_hist *h, const double *bounds, double v);

struct front_counters {
    uint64_t req_ok, req_error, req_cancelled, req_rejected, req_bad; // finished requests
    uint64_t prompt_tokens, gen_tokens;
    uint64_t tokens_out; // tokens received from the job as they come (the autoscaler's rate)
    uint64_t client_disconnects;
    struct front_hist ttft, tpot;
};

// ---- the job and its requests

// Builds the job command of deployment shape (n_attn, n_moe) for a live rescale (rescale.c):
// *argv_out is a new NULL-terminated array of new strings (front_free_argv), without
// "--socket PATH" (the front appends it). JANUS_OK, or an error with err filled (a shape the
// deployment kind cannot take: JANUS_EUNSUPPORTED; bad counts: JANUS_EINVAL).
typedef int front_job_build_fn(void *ctx, int n_attn, int n_moe, char ***argv_out, char *err,
                               size_t err_len);
void front_free_argv(char **argv);

enum front_job { FRONT_JOB_STARTING = 0, FRONT_JOB_READY, FRONT_JOB_DEAD, FRONT_JOB_STOPPED };

// A request's notification hook (front_set_notify): called with f->mu held on every change
// of the request (a token, its end, an error) and when the front starts stopping. It must
// not block nor take f->mu; it may take locks ordered after f->mu (lock order: f->mu, then
// the hook's locks — e.g. libmicrohttpd's, through MHD_resume_connection).
typedef void front_notify_fn(void *cookie);

struct front_req {
    uint64_t id;
    int refs;                // 1 for the registry while live, 1 for the client
    int registered;          // in the registry (live in the job)
    pthread_cond_t cond;     // signalled on every change
    front_notify_fn *notify; // (notify_cookie) called on every change, mu held; NULL: none
    void *notify_cookie;
    int32_t *tokens; // (cap_tokens) tokens received so far
    int32_t n_tokens, cap_tokens;
    int done; // FINISH or an error arrived
    uint32_t finish_reason;
    int32_t n_prompt, n_completion;
    int err_code; // enum frontlink_err, 0 = none
    char err_msg[512];
    int cancel_sent;
    int64_t t_submit_ns, t_first_ns, t_last_ns;
    // Replay (issue 16 item 1): the submission as the client made it (prompt owned here), so
    // that a relaunched job can be given prompt + tokens so far and go on.
    struct frontlink_submit sub; // sub.prompt: (sub.n_prompt) owned copy
    int32_t n_base;              // tokens generated before the current job's submission
    int in_job;                  // submitted to the current job (0: waits for replay)
    uint64_t job_gen;            // the job (s->job_gen) it was submitted to
    int replays;                 // times it was replayed
    int moved;                   // moved by a rescale, no token from the new job yet
    struct front_req *next;
};

struct front_params {
    char *const *job_argv;   // the job command (NULL-terminated); "--socket PATH" is appended
    int mpi_env;             // start the job with launch_mpi_env()
    int max_inflight;        // requests in the job at once before JANUS_EAGAIN (default 1024)
    int ready_timeout_s;     // how long the job may take to become ready (default 600)
    const char *served_name; // the model id clients see; NULL: the job's (general.name)
    int max_restarts;        // relaunch a job that died after READY up to this many times in
                             // all, replaying its requests (default 0; janus serve: 3)
    int stop_grace_ms;       // front_stop: wait this long after SHUTDOWN before SIGTERM (2000)
    int quiet;               // no log lines of the front's own (the client reports failures)
    int has_eos;             // eos_token is the job's end-of-sequence id (-1: none); without
    int32_t eos_token;       // it, a request whose last token was EOS is replayed regardless
    // Step watchdog (issue 16 item 1): with requests in the job and no progress (no step
    // completed, no token) for longer than max(watchdog_s, watchdog_factor x the running
    // median step, watchdog_factor x the median cost of a row x the prefill rows one step
    // may hold), the job counts as failed: killed whole, relaunched and replayed as on
    // death. The median step is that of the gaps between a request's tokens; until
    // FRONT_WATCHDOG_SAMPLES were seen, and until a (relaunched) job delivers its first
    // token, the limit is FRONT_WATCHDOG_WARMUP x watchdog_s.
    // watchdog_s <= 0: no watchdog.
    double watchdog_s;      // the floor, seconds (janus serve: FRONT_WATCHDOG_FLOOR_S)
    double watchdog_factor; // <= 0: FRONT_WATCHDOG_FACTOR
    // Live rescale (issue 16 item 3): builds the command of another shape; NULL: the front
    // cannot rescale (front_rescale answers JANUS_EUNSUPPORTED).
    front_job_build_fn *job_build;
    void *job_build_ctx;
    int max_ranks; // rescale: n_attn + n_moe at most this (0: 128)
};

// ---- live rescale (rescale.c)

// A ready job of the new shape, handed from front_rescale to the reader thread (under mu).
struct front_handoff {
    struct frontlink_conn conn; // the new job's link (READY read)
    pid_t pid;                  // the new job (its session)
    struct frontlink_ready ready;
    char **argv; // in: the new command; out: the old owned one (or NULL)
    int taken;   // set by the reader once the switch is done (or refused)
    int refused; // out: not adopted: this many requests in flight exceed its capacity
    struct frontlink_conn old_conn; // out: the old job's link, for its retirement
    pid_t old_pid;                  // out: the old job (-1: already reaped)
    int moved;                      // out: requests resubmitted to the new job
    int64_t t_switch_ns, t_done_ns; // out: the switch began / every request resubmitted
};

#define FRONT_WATCHDOG_FLOOR_S 5.0 // default floor: generous for sanitizers and a loaded host
#define FRONT_WATCHDOG_FACTOR  20.0
#define FRONT_WATCHDOG_WARMUP  6  // floor multiple while the median step is not known yet
#define FRONT_WATCHDOG_SAMPLES 3  // token gaps before the median step counts
#define FRONT_WATCHDOG_RING    64 // samples the medians are taken over

struct front {
    struct front_params p;
    pthread_mutex_t mu;
    pthread_cond_t state_cond; // job state changes
    enum front_job job;
    int ever_ready; // the job has announced READY at least once
    int connected;  // the job has connected at least once
    char job_error[512];
    char job_message[256]; // the job's own last ERROR with id 0 ("" if none)
    pid_t job_pid;         // the child while unreaped (reader thread only), else -1
    pid_t job_pgid;        // its process group (fixed after spawn)
    int job_exited;        // job_exit_status is valid (the last child was reaped)
    int job_exit_status;   // waitpid status once reaped
    struct frontlink_ready ready;
    char model_name[FRONTLINK_MAX_NAME + 1];
    struct frontlink_stats stats;
    int64_t stats_ns;       // when the last STATS arrived
    int64_t step_seen_ns;   // when n_steps last increased
    struct front_req *reqs; // registry
    int n_live;
    int n_held;            // submitted requests not yet released by their client (front_in_flight)
    int max_inflight;      // from READY: min(p.max_inflight, waiting bound + all KV slots)
    int restarts;          // job relaunches so far
    int recovering;        // the job died after READY: a relaunch is under way and the requests in
                           // the registry wait to be replayed (job is STARTING meanwhile)
    int fails_in_row;      // relaunched jobs that died before READY, in a row (backoff)
    uint64_t job_gen;      // bumped at each job connection (under mu and send_mu)
    uint64_t conn_gen;     // job_gen of conn (under send_mu)
    int64_t recover_t0_ns; // when the current recovery began
    double last_pause_ms;  // the last recovery's pause: death to replay sent
    uint64_t replayed_total; // requests replayed so far
    // Step watchdog (front_params.watchdog_s), over the last FRONT_WATCHDOG_RING samples: the
    // gaps between two tokens of a request (one step each), and per busy STATS interval
    // (requests running at both ends) the wall time per batch row.
    double wd_step_s[FRONT_WATCHDOG_RING], wd_row_s[FRONT_WATCHDOG_RING];
    int wd_n, wd_pos, wd_n_row, wd_pos_row;
    uint64_t wd_prev_steps, wd_prev_rows; // the job's previous STATS counters
    int64_t wd_prev_ns;                   // when it arrived (0: none yet from this job)
    uint32_t wd_prev_running;
    int64_t progress_ns;     // last progress: a step counted, a token, READY, work arriving
    uint64_t wd_job_tokens;  // tokens received from the current job
    uint64_t watchdog_fires; // times the watchdog declared the job stalled
    int wd_hung;             // the session ended by the watchdog (reader thread only)
    double wd_limit_s;       // the limit last computed (for /metrics)
    double wd_median_step_s; // the median step last computed (0: not known yet)
    uint64_t next_id;
    struct front_counters m;
    // Live rescale (rescale.c). job_argv: the command of the current shape (p.job_argv until
    // the first rescale, then job_argv_own); a relaunch after a death uses it too.
    char *const *job_argv;
    char **job_argv_own;
    int job_mpi_shape;             // 1: the job is an mpirun launch (rescalable MoE count)
    int rescaling;                 // a rescale is under way (one at a time)
    struct front_handoff *handoff; // a ready job of the new shape for the reader to adopt
    _Atomic int handoff_pending;   // (read without mu by the reader's loop)
    uint64_t rescales_total;       // rescales done
    uint64_t rescale_failures;     // rescales refused or failed after they began
    int64_t rescale_switch_ns;     // when the last switch happened (0: never)
    double last_rescale_gap_ms;    // the longest token gap of a moved request across it
    double last_rescale_ms;        // the last rescale's whole duration
    char last_rescale[200];        // "(1,1) -> (1,2): admin" of the last rescale

    // Live re-placement (issue 16 item 2; front/replace.c), under mu.
    uint64_t rp_next_tag;                   // the last REPLACE tag sent
    uint64_t rp_wait_tag;                   // the REPLACE a client waits for (0: none)
    int rp_have_reply;                      // its REPLACED arrived (rp_reply)
    struct frontlink_replaced rp_reply;     //
    uint64_t replacements_total;            // re-placements that switched (any trigger)
    uint64_t replace_failures;              // that a rank dropped (FRONTLINK_ERR_INTERNAL)
    int replace_have_last;                  // replace_last is valid
    struct frontlink_replaced replace_last; // the last one that switched

    pthread_mutex_t send_mu;
    struct frontlink_conn conn;
    int listen_fd;
    char sock_dir[256], sock_path[300];
    pthread_t reader;
    int reader_started;
    _Atomic int stopping; // set once by front_stop; read by every thread
};

// Initialises f (mutexes, empty registry) with params p; cannot fail. Pair with front_stop.
void front_init(struct front *f, const struct front_params *p);
// Opens the private socket (in a directory of sockdir.h, which also reaps those of dead
// fronts), launches the job and starts the reader thread. JANUS_OK or an error with err
// filled (call front_stop either way).
JANUS_WUR int front_start(struct front *f, char *err, size_t err_len);
// Blocks until the job has been ready at least once (JANUS_OK, even if it has failed
// since), fails before ever being ready (JANUS_ECOMM, reason in err) or timeout_ms passes
// (JANUS_EAGAIN).
JANUS_WUR int front_wait_ready(struct front *f, int timeout_ms, char *err, size_t err_len);
// Sends SHUTDOWN, waits p.stop_grace_ms for the job to exit, then SIGTERM, then SIGKILL
// (whole group); joins the reader and fails what is still in flight (FRONTLINK_ERR_SHUTDOWN),
// removes the socket directory. Idempotent. f's
// mutexes stay valid until front_destroy.
void front_stop(struct front *f);
// Frees what front_init made (after front_stop).
void front_destroy(struct front *f);
// Submits a request (sub->id is assigned). On JANUS_OK *out is a referenced front_req
// (release with front_release). Errors: JANUS_EAGAIN (too many in flight), JANUS_ECOMM
// (job not ready or dead; reason in err), JANUS_ENOMEM.
JANUS_WUR int front_submit(struct front *f, struct frontlink_submit *sub, struct front_req **out,
                           char *err, size_t err_len);
// Asks the job to drop r (idempotent; no-op once done).
void front_cancel(struct front *f, struct front_req *r);
// Drops the client's reference (cancelling r first if it is still running).
void front_release(struct front *f, struct front_req *r);
// Sets (fn) or clears (NULL) r's notification hook (takes mu). Clear it before cookie is
// freed; the hook is never called after this returns with NULL.
void front_set_notify(struct front *f, struct front_req *r, front_notify_fn *fn, void *cookie);
// Waits (mu held) until r changes or timeout_ms passes (blocking clients: janus run).
void front_wait_locked(struct front *f, struct front_req *r, int timeout_ms);
// Requests submitted and not yet released by their client (still running in the job, or
// their client still sending the answer): what a graceful shutdown waits for.
int front_in_flight(struct front *f);
// Whether a request submitted now is accepted (mu held): the job is ready, or it is being
// relaunched after a failure (the request then waits for the new job: replay).
int front_accepting(const struct front *f);
// The reason the job is not ready (mu held): starting, its error, or not running.
const char *front_not_ready_reason(const struct front *f);
// The step watchdog's limit now, in seconds (mu held): see front_params.watchdog_s;
// *median_step_s (out, may be NULL): the running median step time, 0 while not known. Pure
// over f's fields; 0 when the watchdog is off.
double front_watchdog_limit(const struct front *f, double *median_step_s);

// ---- administration (issue 16 items 2 and 3; docs/HTTP.md "Administration")
// Called by the HTTP face's /admin/* endpoints (http/api_admin.c) without f->mu held. Each
// returns JANUS_OK with *out filled, or a negative status with a one-line reason in err:
// JANUS_EINVAL (bad arguments: 400), JANUS_EAGAIN (another administration is under way:
// 409), JANUS_ECOMM (the job is not ready: starting, recovering or failed: 503),
// JANUS_EUNSUPPORTED (not for this deployment: 501); anything else is a 500.

// Live re-placement (front/replace.c): a new expert layout from the MoE ranks' recent
// statistics, switched to by every rank at one agreed step.
// The front sends REPLACE to the controller and waits for its REPLACED (runtime/replace.h).
// Besides the statuses above: a REPLACED with an error maps by its code (409: one under way
// or no statistics yet; 501: a monolithic job), and no answer within the timeout is
// JANUS_ECANCELED with http_status 504 (it may still switch: /metrics says).
struct front_replace_args {
    int dry_run;    // compute and report the new layout, do not switch
    int timeout_ms; // how long to wait for the switch (0: FRONT_REPLACE_TIMEOUT_MS)
};
#define FRONT_REPLACE_TIMEOUT_MS 120000
struct front_replace_info {
    int switched;         // 1: every rank runs the new layout (0: unchanged or a dry run)
    uint64_t switch_step; // the step from which every rank uses the new layout
    int layers_changed;   // MoE layers whose layout changed
    int n_moe_layers;     // MoE layers of the model
    double amax_before;   // expected a_max (decayed statistics) of the old and new layouts
    double amax_after;
    double plan_ms;      // statistics gathered, layout computed and sent
    uint64_t load_bytes; // expert bytes the MoE ranks loaded, summed over ranks
    double seconds;      // command to switch
    int http_status;     // on failure: the status the admin route answers
    char message[256];
};
JANUS_WUR int front_replace(struct front *f, const struct front_replace_args *a,
                            struct front_replace_info *out, char *err, size_t err_len);
// The reader thread (mu held): a REPLACED arrived (the answer, or the drift policy's report).
void front_replace_on_reply(struct front *f, const struct frontlink_replaced *r);

// Live rescale (front/rescale.c): a deployment of the new shape started beside the current
// one, the requests moved to it by replay, the old one retired.
struct front_rescale_args {
    int n_attn, n_moe;  // the new shape
    const char *reason; // for the log and /metrics ("autoscale: ..."); NULL: "admin"
};
struct front_rescale_info {
    int from_attn, from_moe, to_attn, to_moe;
    int moved;      // requests moved to the new deployment
    double seconds; // command to the old deployment retired
    char message[256];
    int unchanged;    // the deployment already had that shape: nothing done
    double start_s;   // command to the new deployment's READY
    double switch_ms; // READY to every request resubmitted to the new deployment
};

// In detail (issue 16 item 3, rescale.c): front_rescale starts a deployment of shape (a->n_attn,
// a->n_moe) beside the running one (which keeps serving meanwhile), and once it is READY
// hands it to the reader thread, which stops reading the old job, moves every live request to
// the new one by replay (prompt + tokens so far: nothing delivered twice, nothing lost) and
// goes on with it; the old job is then shut down (SHUTDOWN, the grace, then its session
// killed). Blocks until done (the new job's start-up: seconds). One at a time: JANUS_EAGAIN
// (409) while another runs; JANUS_ECOMM (503) while the job is not ready or is being
// relaunched, or the front stops; JANUS_EINVAL (400) for bad counts; JANUS_EUNSUPPORTED
// (501) for a shape the deployment kind cannot take (--mono: one MoE instance); JANUS_EIO
// (500) when the new job fails to start (the old one keeps serving). Thread-safe.
JANUS_WUR int front_rescale(struct front *f, const struct front_rescale_args *a,
                            struct front_rescale_info *out, char *err, size_t err_len);
// Reader thread, session loop (front.c): adopts a pending handoff (mu not held). Internal.
void front_rescale_adopt(struct front *f);

#endif // JANUS_FRONT_H
