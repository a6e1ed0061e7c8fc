// Request states and transitions (request.h). Pure; the only allocation is the prompt copy.
// SPDX-License-Identifier: MIT
#include "requests/request.h"

#include "base/mem.h"
#include "base/status.h"

#include <string.h>

int request_init(struct request *r, const struct frontlink_submit *s, uint64_t seq_no,
                 int64_t now_ns) {
    JANUS_ASSERT(s->n_prompt >= 1 && s->n_stop >= 0 && s->n_stop <= FRONTLINK_MAX_STOP);
    int32_t *p = mem_alloc(MEM_TAG_SERVER, (size_t)s->n_prompt * sizeof *p);
    if (!p) return JANUS_ENOMEM;
    memcpy(p, s->prompt, (size_t)s->n_prompt * sizeof *p);
    memset(r, 0, sizeof *r);
    r->state = REQUEST_WAITING;
    r->id = s->id;
    r->seq_no = seq_no;
    r->attn = -1;
    r->slot = -1;
    r->n_prompt = s->n_prompt;
    r->prompt = p;
    r->last_token = -1;
    r->max_tokens = s->max_tokens;
    r->sampling = s->sampling;
    r->flags = s->flags;
    r->n_stop = s->n_stop;
    memcpy(r->stop_ids, s->stop_ids, (size_t)s->n_stop * sizeof r->stop_ids[0]);
    r->t_submit_ns = now_ns;
    r->t_first_token_ns = -1;
    return JANUS_OK;
}

void request_free(struct request *r) {
    mem_free(r->prompt);
    memset(r, 0, sizeof *r);
    r->state = REQUEST_FREE;
    r->attn = r->slot = -1;
}

void request_admit(struct request *r, int32_t attn, int32_t slot, int64_t kv, int64_t now_ns) {
    JANUS_ASSERT(r->state == REQUEST_WAITING);
    r->state = REQUEST_PREFILL;
    r->attn = attn;
    r->slot = slot;
    r->kv_reserved = kv;
    r->t_admit_ns = now_ns;
}

void request_prefilled(struct request *r, int32_t n) {
    JANUS_ASSERT(r->state == REQUEST_PREFILL && n >= 0 && n <= r->n_prompt - r->n_prefilled);
    r->n_prefilled += n;
}

enum request_outcome request_on_token(struct request *r, int32_t token, int32_t eos_token,
                                      int64_t now_ns) {
    JANUS_ASSERT(r->state == REQUEST_DECODE ||
                 (r->state == REQUEST_PREFILL && r->n_prefilled == r->n_prompt));
    r->state = REQUEST_DECODE;
    r->n_generated++;
    r->last_token = token;
    if (r->t_first_token_ns < 0) r->t_first_token_ns = now_ns;
    int stop = token == eos_token && eos_token >= 0 && !(r->flags & FRONTLINK_FLAG_IGNORE_EOS);
    for (int32_t i = 0; i < r->n_stop && !stop; i++)
        stop = token == r->stop_ids[i];
    if (stop) {
        request_finish(r, FRONTLINK_REASON_STOP);
        return REQUEST_DONE_SILENT;
    }
    if (r->n_generated >= r->max_tokens) {
        request_finish(r, FRONTLINK_REASON_LENGTH);
        return REQUEST_DONE_EMIT;
    }
    return REQUEST_CONTINUE;
}

void request_finish(struct request *r, uint32_t reason) {
    JANUS_ASSERT(r->state == REQUEST_WAITING || r->state == REQUEST_PREFILL ||
                 r->state == REQUEST_DECODE);
    r->state = REQUEST_FINISHED;
    r->finish_reason = reason;
}

int32_t request_next_pos(const struct request *r) {
    return r->state == REQUEST_PREFILL ? r->n_prefilled : r->n_prompt + r->n_generated - 1;
}

const char *request_state_name(enum request_state s) {
    switch (s) {
    case REQUEST_FREE: return "free";
    case REQUEST_WAITING: return "waiting";
    case REQUEST_PREFILL: return "prefill";
    case REQUEST_DECODE: return "decode";
    case REQUEST_FINISHED: return "finished";
    }
    return "?";
}
