// Continuous batching state machine (batcher.h). Pure: no I/O, no clock; allocation only
// at init and for prompt copies at submit.
// SPDX-License-Identifier: MIT
#include "requests/batcher.h"

#include "base/mem.h"
#include "base/status.h"

#include <string.h>

void batcher_default_config(struct batcher_config *c) {
    memset(c, 0, sizeof *c);
    c->n_attn = 1;
    c->max_seqs = 16;
    c->kv_tokens = 16 * 2048;
    c->n_ctx = 2048;
    c->n_vocab = 0;
    c->token_budget = BATCHER_DEFAULT_TOKEN_BUDGET;
    c->max_waiting = BATCHER_DEFAULT_MAX_WAITING;
    c->eos_token = -1;
}

void batcher_free(struct batcher *b) {
    if (b->reqs)
        for (int32_t i = 0; i < b->cap; i++)
            if (b->reqs[i].state != REQUEST_FREE) request_free(&b->reqs[i]);
    if (b->inst)
        for (int32_t i = 0; i < b->cfg.n_attn; i++) {
            struct batcher_inst *in = &b->inst[i];
            mem_free(in->slot_req);
            mem_free(in->free_pending);
            mem_free(in->start_pending);
            mem_free(in->run_req);
            mem_free(in->run_len);
        }
    mem_free(b->inst);
    mem_free(b->reqs);
    mem_free(b->waitq);
    mem_free(b->ev);
    memset(b, 0, sizeof *b);
}

int batcher_init(struct batcher *b, const struct batcher_config *cfg, char *err, size_t err_len) {
    memset(b, 0, sizeof *b);
    const struct batcher_config *c = cfg;
    if (c->n_attn < 1 || c->n_attn > LIMIT_MAX_INSTANCES)
        return status_errf(err, err_len, JANUS_EINVAL, "n_attn %d out of range [1, %d]", c->n_attn,
                           LIMIT_MAX_INSTANCES);
    if (c->max_seqs < 1 || c->max_seqs > LIMIT_MAX_SEQS)
        return status_errf(err, err_len, JANUS_EINVAL, "max_seqs %d out of range [1, %d]",
                           c->max_seqs, LIMIT_MAX_SEQS);
    if (c->token_budget < c->max_seqs || c->token_budget > LIMIT_MAX_STEP_ROWS)
        return status_errf(err, err_len, JANUS_EINVAL,
                           "token budget %d out of range [max_seqs = %d, %d]", c->token_budget,
                           c->max_seqs, LIMIT_MAX_STEP_ROWS);
    if (c->kv_tokens < 1 || c->n_ctx < 2 || c->n_vocab < 1 || c->max_waiting < 0 ||
        c->max_waiting > 1 << 20 || c->eos_token >= c->n_vocab)
        return status_errf(
            err, err_len, JANUS_EINVAL,
            "bad batcher config (kv_tokens %lld, n_ctx %d, n_vocab %d, max_waiting %d, eos %d)",
            (long long)c->kv_tokens, c->n_ctx, c->n_vocab, c->max_waiting, c->eos_token);
    b->cfg = *c;
    b->cap = c->max_waiting + c->n_attn * c->max_seqs;
    b->ev_cap = 2 * b->cap + 16;
    b->reqs = mem_calloc(MEM_TAG_SERVER, (size_t)b->cap, sizeof *b->reqs);
    b->waitq = mem_calloc(MEM_TAG_SERVER, (size_t)c->max_waiting + 1, sizeof *b->waitq);
    b->ev = mem_calloc(MEM_TAG_SERVER, (size_t)b->ev_cap, sizeof *b->ev);
    b->inst = mem_calloc(MEM_TAG_SERVER, (size_t)c->n_attn, sizeof *b->inst);
    if (!b->reqs || !b->waitq || !b->ev || !b->inst) goto nomem;
    for (int32_t i = 0; i < b->cap; i++)
        b->reqs[i].attn = b->reqs[i].slot = -1;
    for (int32_t i = 0; i < c->n_attn; i++) {
        struct batcher_inst *in = &b->inst[i];
        size_t n = (size_t)c->max_seqs;
        in->slot_req = mem_alloc(MEM_TAG_SERVER, n * sizeof(int32_t));
        in->free_pending = mem_alloc(MEM_TAG_SERVER, n * sizeof(int32_t));
        in->start_pending = mem_alloc(MEM_TAG_SERVER, n * sizeof(int32_t));
        in->run_req = mem_alloc(MEM_TAG_SERVER, n * sizeof(int32_t));
        in->run_len = mem_alloc(MEM_TAG_SERVER, n * sizeof(int32_t));
        if (!in->slot_req || !in->free_pending || !in->start_pending || !in->run_req ||
            !in->run_len)
            goto nomem;
        for (int32_t s = 0; s < c->max_seqs; s++)
            in->slot_req[s] = -1;
    }
    return JANUS_OK;
nomem:
    batcher_free(b);
    return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
}

// ---- helpers

static void push_event(struct batcher *b, const struct batcher_event *e) {
    // The caller drains after every call; 2 events per live request per call fit.
    JANUS_ASSERT(b->ev_len < b->ev_cap);
    b->ev[(b->ev_head + b->ev_len) % b->ev_cap] = *e;
    b->ev_len++;
}

static void emit_finish(struct batcher *b, const struct request *r) {
    struct batcher_event e = {0};
    e.type = BATCHER_EV_FINISH;
    e.id = r->id;
    e.token = -1;
    e.reason = r->finish_reason;
    e.n_prompt = r->n_prompt;
    e.n_completion = r->n_generated;
    e.t_submit_ns = r->t_submit_ns;
    e.t_first_token_ns = r->t_first_token_ns;
    push_event(b, &e);
    b->st.n_finished++;
}

static int32_t find_live(const struct batcher *b, uint64_t id) {
    for (int32_t i = 0; i < b->cap; i++) {
        const struct request *r = &b->reqs[i];
        if (r->state != REQUEST_FREE && r->state != REQUEST_FINISHED && r->id == id) return i;
    }
    return -1;
}

// Releases the slot and KV reservation of an admitted request (its slot goes into the next
// batch's free list) and frees the table entry. The request must be FINISHED.
static void release(struct batcher *b, int32_t ri) {
    struct request *r = &b->reqs[ri];
    if (r->attn >= 0) {
        struct batcher_inst *in = &b->inst[r->attn];
        JANUS_ASSERT(in->slot_req[r->slot] == ri);
        in->slot_req[r->slot] = -1;
        in->kv_used -= r->kv_reserved;
        in->n_live--;
        // A slot admitted and released before any batch carried its start needs neither.
        int started_pending = 0;
        for (int32_t k = 0; k < in->n_start_pending; k++)
            if (in->start_pending[k] == r->slot) {
                in->start_pending[k] = in->start_pending[--in->n_start_pending];
                started_pending = 1;
                break;
            }
        if (!started_pending) {
            JANUS_ASSERT(in->n_free_pending < b->cfg.max_seqs);
            in->free_pending[in->n_free_pending++] = r->slot;
        }
    }
    request_free(r);
}

static void waitq_remove(struct batcher *b, int32_t ri) {
    int32_t n = b->wq_len, cap = b->cfg.max_waiting + 1, w = 0;
    for (int32_t k = 0; k < n; k++) {
        int32_t v = b->waitq[(b->wq_head + k) % cap];
        if (v != ri) b->waitq[(b->wq_head + w++) % cap] = v;
    }
    b->wq_len = w;
}

static void admit(struct batcher *b, int64_t now_ns);

// ---- submit / cancel

int batcher_submit(struct batcher *b, const struct frontlink_submit *s, int64_t now_ns,
                   int *err_code, char *err, size_t err_len) {
    JANUS_ASSERT(!b->in_step);
    const struct batcher_config *c = &b->cfg;
    *err_code = FRONTLINK_ERR_INVALID;
    if (s->id == 0 || find_live(b, s->id) >= 0) {
        return status_errf(err, err_len, JANUS_EINVAL, "request id %llu is 0 or already in use",
                           (unsigned long long)s->id);
    }
    if (s->n_prompt < 1 || !s->prompt) {
        return status_errf(err, err_len, JANUS_EINVAL, "empty prompt");
    }
    if (s->max_tokens < 1) {
        return status_errf(err, err_len, JANUS_EINVAL, "max_tokens %d < 1", s->max_tokens);
    }
    for (int32_t i = 0; i < s->n_prompt; i++)
        if (s->prompt[i] < 0 || s->prompt[i] >= c->n_vocab) {
            return status_errf(err, err_len, JANUS_EINVAL,
                               "prompt token %d at %d out of range [0, %d)", s->prompt[i], i,
                               c->n_vocab);
        }
    if (s->n_stop < 0 || s->n_stop > FRONTLINK_MAX_STOP) {
        return status_errf(err, err_len, JANUS_EINVAL, "%d stop ids (max %d)", s->n_stop,
                           FRONTLINK_MAX_STOP);
    }
    const struct frontlink_sampling *sp = &s->sampling;
    if (!(sp->temperature >= 0.0f && sp->temperature <= 100.0f) ||
        !(sp->top_p > 0.0f && sp->top_p <= 1.0f) || sp->top_k < 0) {
        return status_errf(err, err_len, JANUS_EINVAL,
                           "sampling parameters out of range (temperature %g, top_p %g, top_k %d)",
                           (double)sp->temperature, (double)sp->top_p, sp->top_k);
    }
    int64_t need = (int64_t)s->n_prompt + s->max_tokens;
    if (need > c->n_ctx || need > c->kv_tokens) {
        *err_code = FRONTLINK_ERR_TOO_LONG;
        return status_errf(
            err, err_len, JANUS_ELIMIT,
            "prompt (%d tokens) + max_tokens (%d) = %lld exceeds the context (%d tokens)",
            s->n_prompt, s->max_tokens, (long long)need,
            (int)JANUS_MIN((int64_t)c->n_ctx, c->kv_tokens));
    }
    // Slots freed since the last schedule (finished or cancelled requests) take from the
    // queue first: capacity is the queue plus every slot, as the front counts it
    // (front.h's max_inflight), so an admitted request is never refused for a slot that is
    // free but not yet handed on.
    if (b->wq_len >= c->max_waiting) admit(b, now_ns);
    if (b->wq_len >= c->max_waiting) {
        *err_code = FRONTLINK_ERR_QUEUE_FULL;
        b->st.n_rejected++;
        return status_errf(err, err_len, JANUS_EAGAIN, "waiting queue full (%d requests)",
                           c->max_waiting);
    }
    int32_t ri = -1;
    for (int32_t i = 0; i < b->cap; i++)
        if (b->reqs[i].state == REQUEST_FREE) {
            ri = i;
            break;
        }
    JANUS_ASSERT(ri >= 0); // cap = max_waiting + all slots
    int rc = request_init(&b->reqs[ri], s, b->next_seq, now_ns);
    if (rc) {
        *err_code = FRONTLINK_ERR_INTERNAL;
        return status_errf(err, err_len, rc, "out of memory");
    }
    b->next_seq++;
    b->waitq[(b->wq_head + b->wq_len) % (c->max_waiting + 1)] = ri;
    b->wq_len++;
    b->st.n_submitted++;
    *err_code = 0;
    return JANUS_OK;
}

int batcher_cancel(struct batcher *b, uint64_t id) {
    JANUS_ASSERT(!b->in_step);
    int32_t ri = find_live(b, id);
    if (ri < 0) return JANUS_ENOTFOUND;
    struct request *r = &b->reqs[ri];
    if (r->state == REQUEST_WAITING) waitq_remove(b, ri);
    request_finish(r, FRONTLINK_REASON_CANCELLED);
    emit_finish(b, r);
    release(b, ri);
    return JANUS_OK;
}

// ---- schedule

// The instance with the most free KV tokens that has a free slot and room for need.
static int32_t pick_instance(const struct batcher *b, int64_t need) {
    int32_t best = -1;
    int64_t best_free = -1;
    for (int32_t i = 0; i < b->cfg.n_attn; i++) {
        const struct batcher_inst *in = &b->inst[i];
        int64_t kv_free = b->cfg.kv_tokens - in->kv_used;
        if (in->n_live >= b->cfg.max_seqs || kv_free < need) continue;
        if (kv_free > best_free) {
            best = i;
            best_free = kv_free;
        }
    }
    return best;
}

static void admit(struct batcher *b, int64_t now_ns) {
    int32_t cap = b->cfg.max_waiting + 1;
    while (b->wq_len > 0) {
        int32_t ri = b->waitq[b->wq_head];
        struct request *r = &b->reqs[ri];
        int64_t need = (int64_t)r->n_prompt + r->max_tokens;
        int32_t i = pick_instance(b, need);
        if (i < 0) break; // FIFO: the head waits; later requests do not overtake it
        struct batcher_inst *in = &b->inst[i];
        int32_t slot = 0;
        while (in->slot_req[slot] >= 0)
            slot++;
        in->slot_req[slot] = ri;
        in->kv_used += need;
        in->n_live++;
        in->start_pending[in->n_start_pending++] = slot;
        request_admit(r, i, slot, need, now_ns);
        b->wq_head = (b->wq_head + 1) % cap;
        b->wq_len--;
    }
}

static void add_rows(struct batcher *b, struct batch *out, int32_t ri, int32_t n, int sample) {
    struct request *r = &b->reqs[ri];
    struct batcher_inst *in = &b->inst[r->attn];
    int32_t pos = request_next_pos(r);
    const struct sampler_params sp = {.temp = r->sampling.temperature,
                                      .top_k = r->sampling.top_k,
                                      .top_p = r->sampling.top_p,
                                      .seed = r->sampling.seed};
    for (int32_t k = 0; k < n; k++) {
        int32_t token = r->state == REQUEST_PREFILL ? r->prompt[pos + k] : r->last_token;
        int rc = batch_add_sampled(out, token, r->slot, pos + k, sample && k == n - 1 ? &sp : NULL);
        JANUS_ASSERT(rc == JANUS_OK); // capacity >= token_budget (batcher.h)
    }
    in->run_req[in->n_run] = ri;
    in->run_len[in->n_run] = n;
    in->n_run++;
}

int32_t batcher_schedule(struct batcher *b, int64_t now_ns, struct batch *batches) {
    JANUS_ASSERT(!b->in_step);
    admit(b, now_ns);
    int32_t total = 0;
    for (int32_t i = 0; i < b->cfg.n_attn; i++) {
        struct batcher_inst *in = &b->inst[i];
        struct batch *out = &batches[i];
        JANUS_ASSERT(out->cap >= b->cfg.token_budget);
        batch_clear(out);
        memcpy(out->free_seq, in->free_pending, (size_t)in->n_free_pending * sizeof(int32_t));
        out->n_free = in->n_free_pending;
        memcpy(out->start_seq, in->start_pending, (size_t)in->n_start_pending * sizeof(int32_t));
        out->n_start = in->n_start_pending;
        in->n_free_pending = in->n_start_pending = 0;
        in->n_run = 0;
        int32_t budget = b->cfg.token_budget;
        // Decode rows first: one per decoding request (token_budget >= max_seqs, so they
        // always fit, and a prefilling request on this instance always gets >= 1 row).
        int32_t ms = b->cfg.max_seqs;
        for (int32_t s = 0; s < ms; s++) {
            int32_t ri = in->slot_req[s];
            if (ri < 0 || b->reqs[ri].state != REQUEST_DECODE) continue;
            add_rows(b, out, ri, 1, 1);
            budget--;
        }
        JANUS_ASSERT(budget >= 0);
        // Then prefill chunks, oldest admission first.
        while (budget > 0) {
            int32_t best = -1;
            for (int32_t s = 0; s < ms; s++) {
                int32_t ri = in->slot_req[s];
                if (ri < 0 || b->reqs[ri].state != REQUEST_PREFILL) continue;
                int done = 0;
                for (int32_t k = 0; k < in->n_run; k++)
                    done |= in->run_req[k] == ri;
                if (done) continue;
                if (best < 0 || b->reqs[ri].seq_no < b->reqs[best].seq_no) best = ri;
            }
            if (best < 0) break;
            struct request *r = &b->reqs[best];
            int32_t left = r->n_prompt - r->n_prefilled;
            int32_t n = JANUS_MIN(left, budget);
            add_rows(b, out, best, n, n == left);
            budget -= n;
        }
        total += (int32_t)out->n;
    }
    b->in_step = 1;
    return total;
}

// ---- commit

int batcher_commit(struct batcher *b, const struct batch_result *results,
                   const struct batch *batches, int64_t now_ns) {
    JANUS_ASSERT(b->in_step);
    for (int32_t i = 0; i < b->cfg.n_attn; i++)
        if (results[i].n_sample != batches[i].n_logits) return JANUS_EINVAL;
    for (int32_t i = 0; i < b->cfg.n_attn; i++) {
        struct batcher_inst *in = &b->inst[i];
        const struct batch *bt = &batches[i];
        int32_t row = 0, is = 0; // is: the sample index of the next row with logits
        for (int32_t k = 0; k < in->n_run; k++) {
            int32_t ri = in->run_req[k];
            struct request *r = &b->reqs[ri];
            int32_t last = row + in->run_len[k] - 1;
            row += in->run_len[k];
            JANUS_ASSERT(r->state == REQUEST_PREFILL || r->state == REQUEST_DECODE);
            if (r->state == REQUEST_PREFILL) request_prefilled(r, in->run_len[k]);
            if (!bt->logits[last]) continue;
            int32_t tok = results[i].tokens[is++];
            enum request_outcome o = request_on_token(r, tok, b->cfg.eos_token, now_ns);
            if (o != REQUEST_DONE_SILENT) {
                struct batcher_event e = {0};
                e.type = BATCHER_EV_TOKEN;
                e.id = r->id;
                e.token = tok;
                e.t_submit_ns = e.t_first_token_ns = -1;
                push_event(b, &e);
            }
            if (o != REQUEST_CONTINUE) {
                emit_finish(b, r);
                release(b, ri);
            }
        }
        in->n_run = 0;
    }
    b->in_step = 0;
    return JANUS_OK;
}

void batcher_abort(struct batcher *b) {
    for (int32_t i = 0; i < b->cfg.n_attn; i++)
        b->inst[i].n_run = 0;
    b->in_step = 0;
    for (int32_t ri = 0; ri < b->cap; ri++) {
        struct request *r = &b->reqs[ri];
        if (r->state != REQUEST_PREFILL && r->state != REQUEST_DECODE) continue;
        request_finish(r, FRONTLINK_REASON_ERROR);
        emit_finish(b, r);
        release(b, ri);
    }
}

int batcher_pop_event(struct batcher *b, struct batcher_event *ev) {
    if (b->ev_len == 0) return 0;
    *ev = b->ev[b->ev_head];
    b->ev_head = (b->ev_head + 1) % b->ev_cap;
    b->ev_len--;
    return 1;
}

void batcher_get_stats(const struct batcher *b, struct batcher_stats *out) {
    *out = b->st;
    out->n_waiting = b->wq_len;
    out->n_running = 0;
    for (int32_t i = 0; i < b->cfg.n_attn; i++) {
        out->kv_used[i] = b->inst[i].kv_used;
        out->seqs_used[i] = b->inst[i].n_live;
        out->n_running += b->inst[i].n_live;
    }
}

int batcher_busy(const struct batcher *b) {
    if (b->wq_len > 0) return 1;
    for (int32_t i = 0; i < b->cfg.n_attn; i++)
        if (b->inst[i].n_live > 0 || b->inst[i].n_free_pending > 0 ||
            b->inst[i].n_start_pending > 0)
            return 1;
    return 0;
}

// ---- invariants

#define BAD(...) return status_errf(err, err_len, JANUS_EINVAL, __VA_ARGS__)

int batcher_check(const struct batcher *b, char *err, size_t err_len) {
    const struct batcher_config *c = &b->cfg;
    int32_t n_wait_state = 0, n_admitted = 0;
    for (int32_t ri = 0; ri < b->cap; ri++) {
        const struct request *r = &b->reqs[ri];
        switch (r->state) {
        case REQUEST_FREE: break;
        case REQUEST_WAITING:
            n_wait_state++;
            if (r->attn != -1 || r->slot != -1) BAD("waiting request %d is pinned", ri);
            break;
        case REQUEST_PREFILL:
        case REQUEST_DECODE:
            n_admitted++;
            if (r->attn < 0 || r->attn >= c->n_attn || r->slot < 0 || r->slot >= c->max_seqs)
                BAD("request %d pinned to (%d, %d)", ri, r->attn, r->slot);
            if (b->inst[r->attn].slot_req[r->slot] != ri)
                BAD("request %d: slot %d of instance %d owned by %d", ri, r->slot, r->attn,
                    b->inst[r->attn].slot_req[r->slot]);
            if (r->n_prefilled > r->n_prompt || r->n_generated > r->max_tokens)
                BAD("request %d progress out of range", ri);
            if (r->state == REQUEST_DECODE && (r->n_prefilled != r->n_prompt || r->n_generated < 1))
                BAD("decoding request %d without a finished prefill", ri);
            break;
        case REQUEST_FINISHED: BAD("finished request %d still in the table", ri);
        }
    }
    if (n_wait_state != b->wq_len)
        BAD("%d waiting requests, queue holds %d", n_wait_state, b->wq_len);
    for (int32_t k = 0; k < b->wq_len; k++) {
        int32_t ri = b->waitq[(b->wq_head + k) % (c->max_waiting + 1)];
        if (ri < 0 || ri >= b->cap || b->reqs[ri].state != REQUEST_WAITING)
            BAD("queue entry %d is not a waiting request", k);
    }
    int32_t n_live_total = 0;
    for (int32_t i = 0; i < c->n_attn; i++) {
        const struct batcher_inst *in = &b->inst[i];
        int64_t kv = 0;
        int32_t live = 0;
        for (int32_t s = 0; s < c->max_seqs; s++) {
            int32_t ri = in->slot_req[s];
            if (ri < 0) continue;
            live++;
            if (ri >= b->cap) BAD("instance %d slot %d -> %d", i, s, ri);
            const struct request *r = &b->reqs[ri];
            if (r->attn != i || r->slot != s) BAD("instance %d slot %d owner mismatch", i, s);
            kv += r->kv_reserved;
        }
        if (live != in->n_live) BAD("instance %d: n_live %d, counted %d", i, in->n_live, live);
        if (kv != in->kv_used)
            BAD("instance %d: kv_used %lld, counted %lld", i, (long long)in->kv_used,
                (long long)kv);
        if (kv > c->kv_tokens) BAD("instance %d: KV over capacity", i);
        n_live_total += live;
    }
    if (n_live_total != n_admitted)
        BAD("%d slots held by %d admitted requests", n_live_total, n_admitted);
    return JANUS_OK;
}
