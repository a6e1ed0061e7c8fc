// The front <-> controller protocol (SPEC §2): the front (janus serve / janus run) lives
// outside the MPI job and talks to the job's controller over a Unix-domain stream socket.
// Messages are length-prefixed binary: a 12-byte header {magic u32, version u16, type u16,
// len u32} then len payload bytes; every integer little-endian, floats as IEEE-754 bits.
// Decoding is bounds-checked against the FRONTLINK_MAX_* limits before any allocation
// (fuzzed: tests/fuzz/fuzz_frontlink.c). Extendable: a decoder ignores trailing payload
// bytes of a known type (fields are only ever appended), and a receiver skips unknown types.
// SPDX-License-Identifier: MIT
#ifndef JANUS_FRONTLINK_H
#define JANUS_FRONTLINK_H

#include "base/base.h"
#include "base/buf.h"

#include <stddef.h>
#include <stdint.h>

#define FRONTLINK_MAGIC        0x4c464e4au // "JNFL" as little-endian bytes
#define FRONTLINK_VERSION      1
#define FRONTLINK_HEADER_BYTES 12

// Limits (checked on decode and encode).
#define FRONTLINK_MAX_PROMPT (1 << 20) // prompt tokens in one SUBMIT (LIMIT_MAX_CONTEXT)
#define FRONTLINK_MAX_STOP   64        // stop token ids in one SUBMIT
#define FRONTLINK_MAX_NAME   256       // model name bytes in READY
#define FRONTLINK_MAX_TEXT   1024      // ERROR message bytes
#define FRONTLINK_MAX_LAYERS 128       // per-layer entries in STATS
#define FRONTLINK_MAX_INST   64        // per-instance entries in STATS
#define FRONTLINK_N_SCHEMES  3         // 1PC, 2PC case 1, 2PC case 2 (SPEC §4)
#define FRONTLINK_N_MODES    2         // dispatch modes: broadcast, selective (SPEC §4)
// Largest payload any valid message has (a SUBMIT with the longest prompt), plus slack.
#define FRONTLINK_MAX_PAYLOAD ((size_t)FRONTLINK_MAX_PROMPT * 4 + 4096)

// Message types (wire numbering; append-only).
enum frontlink_type {
    FRONTLINK_READY = 1,     // ctl -> front: the deployment is up (struct frontlink_ready)
    FRONTLINK_SUBMIT = 2,    // front -> ctl: a new request
    FRONTLINK_CANCEL = 3,    // front -> ctl: drop request id (client went away)
    FRONTLINK_TOKEN = 4,     // ctl -> front: one generated token of request id
    FRONTLINK_FINISH = 5,    // ctl -> front: request id is done; its KV slot is free
    FRONTLINK_ERROR = 6,     // ctl -> front: request id (or the job, id 0) failed
    FRONTLINK_STATS = 7,     // ctl -> front: counters for /metrics and readiness
    FRONTLINK_SHUTDOWN = 8,  // front -> ctl: finish up and exit
    FRONTLINK_REPLACE = 9,   // front -> ctl: re-place the experts now (struct frontlink_replace)
    FRONTLINK_REPLACED = 10, // ctl -> front: a re-placement's outcome (struct frontlink_replaced)
};

// Why a request finished (wire numbering; append-only). Names match OpenAI's
// finish_reason where one exists.
enum frontlink_reason {
    FRONTLINK_REASON_STOP = 0,      // a stop token id or end-of-sequence token
    FRONTLINK_REASON_LENGTH = 1,    // max_tokens or the context length reached
    FRONTLINK_REASON_CANCELLED = 2, // CANCEL received
    FRONTLINK_REASON_ERROR = 3,     // the step failed for this request
};

// ERROR codes (wire numbering; append-only). The front maps them to HTTP statuses.
enum frontlink_err {
    FRONTLINK_ERR_INTERNAL = 1,    // 500: a bug or executor failure
    FRONTLINK_ERR_QUEUE_FULL = 2,  // 429: waiting queue is full (admission control)
    FRONTLINK_ERR_INVALID = 3,     // 400: parameters the controller refuses
    FRONTLINK_ERR_TOO_LONG = 4,    // 400: prompt + max_tokens exceeds the context or KV
    FRONTLINK_ERR_JOB = 5,         // 503: the deployment failed (id 0: whole job)
    FRONTLINK_ERR_SHUTDOWN = 6,    // 503: shutting down
    FRONTLINK_ERR_CONFLICT = 7,    // 409: refused in the deployment's state (a re-placement
                                   // under way, no statistics yet)
    FRONTLINK_ERR_UNSUPPORTED = 8, // 501: not possible for this deployment (a monolithic
                                   // job cannot re-place experts)
};

struct frontlink_ready {
    uint32_t n_vocab;
    uint32_t n_attn;
    uint32_t n_moe;
    uint32_t n_layer;
    uint32_t n_ctx;        // max positions per request (prompt + completion)
    uint32_t max_seqs;     // KV slots per attention instance
    int64_t kv_tokens;     // KV capacity per attention instance, tokens
    uint32_t token_budget; // per-step token budget per attention instance
    uint32_t max_waiting;  // waiting-queue bound of the batcher
    char model_name[FRONTLINK_MAX_NAME + 1];
};

// Sampling parameters, shared by SUBMIT and the batcher.
struct frontlink_sampling {
    float temperature; // 0 = greedy
    float top_p;       // (0, 1]
    int32_t top_k;     // 0 = off
    uint64_t seed;
};

#define FRONTLINK_FLAG_IGNORE_EOS 1u

struct frontlink_submit {
    uint64_t id;        // chosen by the front, unique among its live requests, != 0
    int32_t max_tokens; // >= 1
    struct frontlink_sampling sampling;
    uint32_t flags;                       // FRONTLINK_FLAG_*
    int32_t n_stop;                       // 0..FRONTLINK_MAX_STOP
    int32_t stop_ids[FRONTLINK_MAX_STOP]; // (n_stop) token ids that end the request
    int32_t n_prompt;                     // 1..FRONTLINK_MAX_PROMPT
    int32_t *prompt; // (n_prompt) token ids; owned by the message (frontlink_msg_free)
};

struct frontlink_finish {
    uint64_t id;
    uint32_t reason; // enum frontlink_reason
    int32_t n_prompt;
    int32_t n_completion;
};

struct frontlink_error {
    uint64_t id;  // 0: the whole job
    int32_t code; // enum frontlink_err
    char message[FRONTLINK_MAX_TEXT + 1];
};

struct frontlink_stats {
    uint64_t n_steps;       // steps completed (heartbeat steps included)
    uint64_t step_ns_total; // Σ step wall time
    uint32_t n_running;     // requests holding a KV slot
    uint32_t n_waiting;     // requests queued for admission
    uint64_t n_rejected;    // submissions refused by admission control
    int64_t kv_capacity;    // KV tokens per attention instance
    uint32_t n_attn;
    int64_t kv_used[FRONTLINK_MAX_INST]; // (n_attn) KV tokens reserved per instance
    uint32_t n_layer;
    int32_t a_max_last[FRONTLINK_MAX_LAYERS]; // (n_layer)
    uint64_t a_max_sum[FRONTLINK_MAX_LAYERS]; // (n_layer)
    uint32_t n_moe;
    uint64_t activated_sum[FRONTLINK_MAX_INST]; // (n_moe)
    int32_t activated_last[FRONTLINK_MAX_INST]; // (n_moe)
    uint64_t scheme_steps[FRONTLINK_N_SCHEMES];
    uint64_t scheme_msgs[FRONTLINK_N_SCHEMES];
    uint64_t scheme_bytes[FRONTLINK_N_SCHEMES];
    uint64_t rows_total; // Σ batch rows over the steps (appended; 0 from an older sender):
                         // with n_steps, the front's step watchdog estimates a row's cost
    // Per dispatch mode (appended: a sender without them decodes as zeros).
    uint64_t mode_steps[FRONTLINK_N_MODES];
    uint64_t mode_msgs[FRONTLINK_N_MODES];
    uint64_t mode_bytes[FRONTLINK_N_MODES];
};

// REPLACE (issue 16 item 2): re-place the experts from the MoE ranks' decayed statistics.
#define FRONTLINK_REPLACE_DRY_RUN 1u // compute and report the new layout, do not switch
struct frontlink_replace {
    uint64_t tag;   // echoed in the REPLACED that answers it (!= 0)
    uint32_t flags; // FRONTLINK_REPLACE_*
};

// How a re-placement was started (REPLACED.trigger; wire numbering, append-only).
enum frontlink_trigger {
    FRONTLINK_TRIGGER_COMMAND = 0, // a REPLACE from the front (POST /admin/replace)
    FRONTLINK_TRIGGER_DRIFT = 1,   // the controller's drift policy (--replace-drift)
};

// REPLACED: the outcome of a re-placement, sent when it switched, was found unnecessary
// (layout unchanged, dry run) or failed; and for every one the drift policy started (tag 0).
struct frontlink_replaced {
    uint64_t tag;            // the REPLACE's tag; 0 for the drift policy's
    int32_t code;            // 0: done; else enum frontlink_err (the reason in message)
    uint32_t trigger;        // enum frontlink_trigger
    uint32_t switched;       // 1: every rank now runs the new layout
    uint64_t switch_step;    // the first step run with the new layout (switched only)
    double amax_before;      // predicted a_max of the old layout on the decayed statistics
    double amax_after;       // the same for the new layout
    uint32_t layers_changed; // MoE layers whose placement differs
    uint32_t n_moe_layers;   // MoE layers in the model
    double plan_ms;          // statistics gathered and the new layout computed
    double total_ms;         // from the request until every rank switched
    uint64_t load_bytes;     // expert bytes the MoE ranks loaded (summed over ranks)
    char message[FRONTLINK_MAX_TEXT + 1];
};

// One decoded message. Only the member matching type is meaningful.
struct frontlink_msg {
    uint16_t type; // enum frontlink_type, or an unknown value (payload skipped)
    union {
        struct frontlink_ready ready;
        struct frontlink_submit submit;
        uint64_t cancel_id;
        struct {
            uint64_t id;
            int32_t token;
        } token;
        struct frontlink_finish finish;
        struct frontlink_error error;
        struct frontlink_stats stats;
        struct frontlink_replace replace;
        struct frontlink_replaced replaced;
    } u;
};

// Appends the encoding of m to out. JANUS_EINVAL if a field breaks a limit above (out
// unchanged), JANUS_ELIMIT if out's cap is too small, JANUS_ENOMEM.
JANUS_WUR int frontlink_encode(struct buf *out, const struct frontlink_msg *m);

// Decodes one message from the front of data[0..len). On JANUS_OK: *m filled (a SUBMIT's
// prompt is allocated; release with frontlink_msg_free), *consumed = bytes used.
// JANUS_EAGAIN: need more bytes (*m untouched). JANUS_EPROTO: bad magic/version, a length
// over a limit or a payload too short for its type (reason in err; the stream cannot be
// resynchronised and should be closed). JANUS_ENOMEM. A message of unknown type decodes
// with only m->type set, so the caller can skip it.
JANUS_WUR int frontlink_decode(const uint8_t *data, size_t len, struct frontlink_msg *m,
                               size_t *consumed, char *err, size_t err_len);

// Frees what a decoded message owns (a SUBMIT's prompt); m stays a valid empty message.
void frontlink_msg_free(struct frontlink_msg *m);

// ---- sockets

// One end of the link: a socket plus its receive buffer. Not thread-safe: one reader
// thread; senders serialise among themselves (the front uses a mutex).
struct frontlink_conn {
    int fd;        // -1 when closed
    uint8_t *rbuf; // (rcap) received bytes not yet decoded
    size_t rlen;
    size_t rcap;
};

// Creates a listening Unix socket at path (an existing socket file there is replaced).
// JANUS_EINVAL if path is too long for sun_path, JANUS_EIO otherwise.
JANUS_WUR int frontlink_listen(const char *path, int *fd_out);
// Accepts one connection on a listening socket, waiting at most timeout_ms (-1: forever).
// JANUS_EAGAIN on timeout.
JANUS_WUR int frontlink_accept(int listen_fd, int timeout_ms, struct frontlink_conn *c);
// Connects to the socket at path. JANUS_EIO if nobody listens (yet).
JANUS_WUR int frontlink_connect(const char *path, struct frontlink_conn *c);
void frontlink_conn_close(struct frontlink_conn *c);

// Encodes and writes m completely (retrying on EINTR/short writes; SIGPIPE suppressed).
// JANUS_ECOMM if the peer is gone.
JANUS_WUR int frontlink_send(struct frontlink_conn *c, const struct frontlink_msg *m);

// Receives the next message, waiting at most timeout_ms (0: only what is already there;
// -1: forever). JANUS_OK with *m (free with frontlink_msg_free); JANUS_EAGAIN on timeout;
// JANUS_ECOMM when the peer closed or the socket failed; JANUS_EPROTO on a malformed stream.
JANUS_WUR int frontlink_recv(struct frontlink_conn *c, int timeout_ms, struct frontlink_msg *m,
                             char *err, size_t err_len);

const char *frontlink_type_name(uint16_t type);
const char *frontlink_reason_name(uint32_t reason); // "stop", "length", "cancelled", "error"

#endif // JANUS_FRONTLINK_H
