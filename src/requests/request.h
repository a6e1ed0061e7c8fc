// One generation request inside the controller's batcher: its states and transitions,
// its pinned attention instance and KV slot (SPEC §3: a request is pinned to one attention
// instance for life). Pure: no I/O, no clock reads (times are passed in).
//
//   WAITING --admit--> PREFILL --last prompt chunk sampled--> DECODE --stop/length--> FINISHED
//      |                  |                                     |
//      +------------------+------------- cancel ----------------+----------------> FINISHED
// SPDX-License-Identifier: MIT
#ifndef JANUS_REQUEST_H
#define JANUS_REQUEST_H

#include "base/base.h"
#include "requests/frontlink.h"

#include <stdint.h>

enum request_state {
    REQUEST_FREE = 0, // table entry unused
    REQUEST_WAITING,  // queued; no instance, no slot, no KV reserved
    REQUEST_PREFILL,  // admitted: pinned, slot held, prompt being run in chunks
    REQUEST_DECODE,   // generating one token per step
    REQUEST_FINISHED, // done; slot released (entry is freed by the batcher right after)
};

struct request {
    enum request_state state;
    uint64_t id;
    uint64_t seq_no;     // submission order (FIFO admission; prefill order)
    int32_t attn;        // pinned attention instance, -1 until admitted
    int32_t slot;        // KV slot on attn, -1 until admitted
    int64_t kv_reserved; // KV tokens reserved at admission (n_prompt + max_tokens)
    int32_t n_prompt;
    int32_t *prompt;     // (n_prompt) token ids, owned
    int32_t n_prefilled; // prompt tokens whose KV is written
    int32_t n_generated; // tokens sampled so far (a final stop token included)
    int32_t last_token;  // last sampled token: the input of the next decode row
    int32_t max_tokens;
    struct frontlink_sampling sampling;
    uint32_t flags; // FRONTLINK_FLAG_*
    int32_t n_stop;
    int32_t stop_ids[FRONTLINK_MAX_STOP];
    uint32_t finish_reason;                            // enum frontlink_reason once FINISHED
    int64_t t_submit_ns, t_admit_ns, t_first_token_ns; // caller's clock
};

// What one sampled token did to a request.
enum request_outcome {
    REQUEST_CONTINUE = 0, // token is output; generation goes on
    REQUEST_DONE_EMIT,    // token is output, then the request finished (length)
    REQUEST_DONE_SILENT,  // token ended the request and is not output (stop id / EOS)
};

// Initialises r as WAITING from a SUBMIT (copies the prompt). JANUS_ENOMEM (r untouched).
JANUS_WUR int request_init(struct request *r, const struct frontlink_submit *s, uint64_t seq_no,
                           int64_t now_ns);
// Releases the prompt; r becomes REQUEST_FREE.
void request_free(struct request *r);
// WAITING -> PREFILL pinned to (attn, slot) with kv tokens reserved.
void request_admit(struct request *r, int32_t attn, int32_t slot, int64_t kv, int64_t now_ns);
// Records n prompt tokens run in a step (PREFILL only; n <= remaining).
void request_prefilled(struct request *r, int32_t n);
// Applies one sampled token (PREFILL with the whole prompt run, or DECODE). eos_token < 0:
// none. Moves to DECODE, or to FINISHED with finish_reason set.
enum request_outcome request_on_token(struct request *r, int32_t token, int32_t eos_token,
                                      int64_t now_ns);
// Any live state -> FINISHED with reason (cancelled / error).
void request_finish(struct request *r, uint32_t reason);

// Position of the next row to run for r (PREFILL: n_prefilled; DECODE: the position of
// last_token, n_prompt + n_generated - 1).
int32_t request_next_pos(const struct request *r);
const char *request_state_name(enum request_state s);

#endif // JANUS_REQUEST_H
