// Internals shared by the files of src/http/ only (http.c, front.c, api_*.c, metrics.c):
// the server context, the front's view of the job and of each request, metrics counters.
// Locking: one mutex (server.mu) guards the request registry, every front_req, the job
// state, the latest STATS and the metrics; each front_req has its own condition variable.
// Sending on the link, and replacing the link, is serialised by server.send_mu. Lock
// order: mu, then send_mu (send_mu may be taken while holding mu, never the reverse).
// SPDX-License-Identifier: MIT
#ifndef JANUS_SERVER_IMPL_H
#define JANUS_SERVER_IMPL_H

#include "base/buf.h"
#include "model/vocab.h"
#include "requests/frontlink.h"
#include "http/http.h"

#include <cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sys/types.h>

// ---- metrics (metrics.c)

#define METRICS_N_BUCKETS 14
struct metrics_hist {
    uint64_t count[METRICS_N_BUCKETS + 1]; // per bucket (last: +Inf), not cumulative
    double sum;
    uint64_t n;
};

struct metrics {
    uint64_t req_ok, req_error, req_cancelled, req_rejected, req_bad; // finished HTTP requests
    uint64_t prompt_tokens, gen_tokens;
    uint64_t client_disconnects;
    struct metrics_hist ttft, tpot;
};

void metrics_observe(struct metrics_hist *h, const double *bounds, double v);
extern const double metrics_ttft_bounds[METRICS_N_BUCKETS];
extern const double metrics_tpot_bounds[METRICS_N_BUCKETS];

// ---- the front's view of the job (front.c)

enum job_state { JOB_STARTING = 0, JOB_READY, JOB_DEAD, JOB_STOPPED };

struct front_req {
    uint64_t id;
    int refs;            // 1 for the registry while live, 1 for the HTTP handler
    int registered;      // in the registry (live in the job)
    pthread_cond_t cond; // signalled on every change
    int32_t *tokens;     // (cap_tokens) tokens received so far
    int32_t n_tokens, cap_tokens;
    int done; // FINISH or an error arrived
    uint32_t finish_reason;
    int32_t n_prompt, n_completion;
    int err_code; // enum frontlink_err, 0 = none
    char err_msg[256];
    int cancel_sent;
    int64_t t_submit_ns, t_first_ns, t_last_ns;
    struct front_req *next;
};

struct server {
    struct http_params p;
    struct MHD_Daemon *mhd;
    int port;
    struct vocab vocab;
    int have_vocab;
    char chat_template_kind; // 'c' chatml, 'l' llama-2, 'm' mistral, 'd' deepseek3, 'D' deepseek2,
                             // 0 default
    char model_name[FRONTLINK_MAX_NAME + 1];

    pthread_mutex_t mu;
    pthread_cond_t state_cond; // job state changes
    enum job_state job;
    int ever_ready; // the job has announced READY at least once
    char job_error[256];
    pid_t job_pid;       // the child while unreaped (reader thread only), else -1
    pid_t job_pgid;      // its process group (fixed after spawn)
    int job_exit_status; // waitpid status once reaped
    struct frontlink_ready ready;
    struct frontlink_stats stats;
    int64_t stats_ns;       // when the last STATS arrived
    int64_t step_seen_ns;   // when n_steps last increased
    struct front_req *reqs; // registry
    int n_live;
    int max_inflight; // from READY: min(--max-inflight, waiting bound + all KV slots)
    int restarts;     // job relaunches so far (--restart)
    uint64_t next_id;
    struct metrics m;

    pthread_mutex_t send_mu;
    struct frontlink_conn conn;
    int listen_fd;
    char sock_dir[256], sock_path[300];
    pthread_t reader;
    int reader_started;
    _Atomic int stopping; // set once by http_stop/front_stop; read by every thread
};

// Starts the job and the reader thread. JANUS_OK or an error with err filled.
JANUS_WUR int front_start(struct server *s, char *err, size_t err_len);
// Shuts the job down and joins the reader.
void front_stop(struct server *s);
// Submits a request. On JANUS_OK *out is a referenced front_req (release with
// front_release). Errors: JANUS_EAGAIN (too many in flight: 429), JANUS_ECOMM (job not
// ready or dead: 503; reason in err).
JANUS_WUR int front_submit(struct server *s, struct frontlink_submit *sub, struct front_req **out,
                           char *err, size_t err_len);
// Asks the job to drop r (idempotent; no-op once done).
void front_cancel(struct server *s, struct front_req *r);
// Drops the handler's reference (cancelling r first if it is still running).
void front_release(struct server *s, struct front_req *r);
// Waits (mu held) until r changes or timeout_ms passes.
void front_wait_locked(struct server *s, struct front_req *r, int timeout_ms);

// ---- HTTP plumbing (http.c)

// What one HTTP exchange handler produces: either a complete response (status + body) or
// a streaming response already created (resp != NULL).
struct api_reply {
    unsigned status;
    struct buf body; // JSON body (complete responses)
    struct MHD_Response *resp;
    const char *content_type;
};

// Fills r with an OpenAI-shaped error {"error":{"message","type","param","code"}}.
void api_error(struct api_reply *r, unsigned status, const char *type, const char *param,
               const char *code, const char *fmt, ...) JANUS_PRINTF(6, 7);

// The endpoints. body/len: the request body (POST). conn: for disconnect detection.
void api_completions(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
                     struct api_reply *r);
void api_chat(struct server *s, struct MHD_Connection *conn, const char *body, size_t len,
              struct api_reply *r);
void api_models(struct server *s, struct api_reply *r);
void api_health(struct server *s, struct api_reply *r);
void metrics_render(struct server *s, struct api_reply *r);

// Shared by completions and chat (api_completions.c): runs a prompt (already tokenized)
// with the parsed options, streaming or not, and fills r.
enum api_kind { API_COMPLETION = 0, API_CHAT = 1 };
struct api_gen {
    enum api_kind kind;
    int32_t *prompt; // owned by the caller
    int32_t n_prompt;
    int32_t max_tokens;
    struct frontlink_sampling sampling;
    uint32_t flags;
    int32_t n_stop_ids;
    int32_t stop_ids[FRONTLINK_MAX_STOP];
    int n_stop_str;
    const char *stop_str[16]; // point into the request JSON
    int stream, include_usage;
};
// Parses a request body that must be one JSON object within the server's size and depth
// limits into *req (cJSON_Delete). Returns 0, or fills r with a 400 and returns -1.
int api_parse_body(struct server *s, const char *body, size_t len, cJSON **req,
                   struct api_reply *r);
// Counts a finished request that was the client's fault (4xx other than 429/499) in the
// bad-request metric. Call once per request, after r is final.
void api_count_bad(struct server *s, const struct api_reply *r);
// Parses the options common to both endpoints from the request object into g (everything
// but the prompt). Returns 0, or fills r with a 400/404 error and returns -1.
int api_parse_common(struct server *s, const cJSON *req, enum api_kind kind, struct api_gen *g,
                     struct api_reply *r);
// Tokenizes text (add BOS as the vocab says; parse_special for chat templates) into a new
// array (*out, mem_free). Returns 0 or fills r with an error and returns -1.
int api_tokenize(struct server *s, const char *text, size_t len, int parse_special, int32_t **out,
                 int32_t *n_out, struct api_reply *r);
void api_generate(struct server *s, struct MHD_Connection *conn, struct api_gen *g,
                  struct api_reply *r);

// Stop strings (api_completions.c). api_stop_find: the earliest match of any of g's stop
// strings in text[0..len) that starts at or after from; -1 if none. api_stop_holdback: how
// many bytes at the end of text, within text[from..len), could be the start of a stop
// string and so must not be sent yet.
long api_stop_find(const struct api_gen *g, const char *text, size_t len, size_t from);
size_t api_stop_holdback(const struct api_gen *g, const char *text, size_t len, size_t from);

// Classifies tokenizer.chat_template (api_chat.c): 'c' ChatML, 'l' Llama-2, 'm' Mistral,
// 'd' DeepSeek-V3, 'D' DeepSeek-V2, 0 the documented default.
char api_chat_template_kind(const char *tmpl, size_t len);
// Renders a "messages" array with template kind into b. Returns 0, -1 (bad messages: the
// reason in err), -2 (the text exceeds b's cap).
int api_chat_render(char kind, const cJSON *msgs, struct buf *b, char *err, size_t err_len);

#endif // JANUS_SERVER_IMPL_H
