// Unit tests for the continuous batcher and request state machine (requests/batcher.h,
// requests/request.h): chunked prefill under the token budget, decode-first ordering,
// pinning to the instance with the most free KV, admission control, cancel/finish freeing
// slots at once, stop tokens, decode rotation, and a randomized run checking invariants and
// that every request ends exactly once with the right token count.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/rng.h"
#include "base/status.h"
#include "requests/batcher.h"
#include "runtime/exec.h"

#include <stdlib.h>

static struct batch g_bt[4];
static struct batch_result g_res[4];

// The batches, allocated once at the largest budget.
static struct batch *bts(void) {
    for (int i = 0; i < 4; i++)
        if (g_bt[i].cap == 0 && batch_init(&g_bt[i], LIMIT_MAX_STEP_ROWS) != JANUS_OK) abort();
    return g_bt;
}

// Row index of batch b's k-th row with logits (the row sample k belongs to), -1 if none.
static int64_t sample_row(const struct batch *b, int64_t k) {
    for (int64_t r = 0; r < b->n; r++)
        if (b->logits[r] && k-- == 0) return r;
    return -1;
}

static struct batcher_config cfg(int n_attn, int max_seqs, int64_t kv, int n_ctx, int budget,
                                 int max_waiting) {
    struct batcher_config c;
    batcher_default_config(&c);
    c.n_attn = n_attn;
    c.max_seqs = max_seqs;
    c.kv_tokens = kv;
    c.n_ctx = n_ctx;
    c.n_vocab = 1000;
    c.token_budget = budget;
    c.max_waiting = max_waiting;
    c.eos_token = 2;
    return c;
}

static int submit(struct batcher *b, uint64_t id, int n_prompt, int max_tokens, int *code) {
    int32_t prompt[2048];
    for (int i = 0; i < n_prompt; i++)
        prompt[i] = 10 + (i % 50);
    struct frontlink_submit s = {0};
    s.id = id;
    s.max_tokens = max_tokens;
    s.sampling.top_p = 1.0f;
    s.n_prompt = n_prompt;
    s.prompt = prompt;
    char err[256];
    int c2 = 0;
    int rc = batcher_submit(b, &s, 0, code ? code : &c2, err, sizeof err);
    return rc;
}

// Fills results with token = 100 + slot (never EOS) unless tok >= 0.
static void fake_results(const struct batcher *b, int32_t tok) {
    for (int i = 0; i < b->cfg.n_attn; i++) {
        g_res[i].n_sample = (int32_t)g_bt[i].n_logits;
        for (int k = 0; k < g_bt[i].n_logits; k++)
            g_res[i].tokens[k] = tok >= 0 ? tok : 100 + g_bt[i].seq[sample_row(&g_bt[i], k)];
    }
}

static struct exec_info info_of(const struct batcher *b) {
    struct exec_info inf = {0};
    inf.n_attn = b->cfg.n_attn;
    inf.n_vocab = b->cfg.n_vocab;
    inf.n_ctx = b->cfg.n_ctx;
    inf.max_seqs = b->cfg.max_seqs;
    return inf;
}

#define CHECK(b)                                                                                   \
    do {                                                                                           \
        char e_[256];                                                                              \
        if (batcher_check((b), e_, sizeof e_) != 0) TEST_FAIL_("batcher_check: %s", e_);           \
    } while (0)

// Runs one step with fake tokens; checks the batches. Returns total rows.
static int32_t step(struct batcher *b, int32_t tok) {
    int32_t n = batcher_schedule(b, 0, bts());
    struct exec_info inf = info_of(b);
    for (int i = 0; i < b->cfg.n_attn; i++) {
        char e[256];
        if (exec_batch_check(&g_bt[i], &inf, e, sizeof e) != 0) {
            fprintf(stderr, "  exec_batch_check: %s\n", e);
            test_current_failed = 1;
        }
    }
    fake_results(b, tok);
    if (batcher_commit(b, g_res, g_bt, 1) != 0) test_current_failed = 1;
    return n;
}

TEST(one_request_prefill_then_decode_then_length) {
    struct batcher b;
    struct batcher_config c = cfg(1, 4, 1000, 100, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 7, 5, 3, NULL));
    CHECK(&b);
    ASSERT_EQ(step(&b, -1), 5);
    ASSERT_EQ(g_bt[0].n_start, 1);
    ASSERT_EQ(g_bt[0].n_logits, 1);
    ASSERT_EQ(sample_row(&g_bt[0], 0), 4);
    ASSERT_EQ(g_bt[0].pos[4], 4);
    CHECK(&b);
    struct batcher_event ev;
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(ev.type, BATCHER_EV_TOKEN);
    ASSERT_EQ(ev.id, 7);
    ASSERT_EQ(ev.token, 100);
    ASSERT_EQ(batcher_pop_event(&b, &ev), 0);
    // decode: feeds the sampled token at position 5
    ASSERT_EQ(step(&b, -1), 1);
    ASSERT_EQ(g_bt[0].pos[0], 5);
    ASSERT_EQ(g_bt[0].token[0], 100);
    ASSERT_EQ(g_bt[0].n_start, 0);
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(step(&b, -1), 1);
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(ev.type, BATCHER_EV_TOKEN);
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(ev.type, BATCHER_EV_FINISH);
    ASSERT_EQ(ev.reason, FRONTLINK_REASON_LENGTH);
    ASSERT_EQ(ev.n_prompt, 5);
    ASSERT_EQ(ev.n_completion, 3);
    CHECK(&b);
    struct batcher_stats st;
    batcher_get_stats(&b, &st);
    ASSERT_EQ(st.n_running, 0);
    ASSERT_EQ(st.kv_used[0], 0);
    // The freed slot travels in the next batch's free list.
    ASSERT_EQ(step(&b, -1), 0);
    ASSERT_EQ(g_bt[0].n_free, 1);
    ASSERT_EQ(g_bt[0].free_seq[0], 0);
    ASSERT_EQ(batcher_busy(&b), 0);
    batcher_free(&b);
}

TEST(prefill_chunks_under_budget) {
    struct batcher b;
    struct batcher_config c = cfg(1, 4, 4000, 2000, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 1, 600, 2, NULL));
    ASSERT_EQ(step(&b, -1), 256);
    ASSERT_EQ(g_bt[0].n_logits, 0);
    ASSERT_EQ(step(&b, -1), 256);
    ASSERT_EQ(g_bt[0].pos[0], 256);
    ASSERT_EQ(g_bt[0].n_logits, 0);
    ASSERT_EQ(step(&b, -1), 88);
    ASSERT_EQ(g_bt[0].n_logits, 1);
    ASSERT_EQ(g_bt[0].pos[87], 599);
    CHECK(&b);
    batcher_free(&b);
}

TEST(decode_rows_first_then_prefill) {
    struct batcher b;
    struct batcher_config c = cfg(1, 4, 4000, 1000, 4, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 1, 2, 10, NULL));
    ASSERT_OK(submit(&b, 2, 2, 10, NULL));
    ASSERT_EQ(step(&b, -1), 4); // both prefills fit
    ASSERT_EQ(g_bt[0].n_logits, 2);
    ASSERT_OK(submit(&b, 3, 10, 10, NULL));
    ASSERT_EQ(step(&b, -1), 4);
    // two decode rows (one per running request), then a 2-row prefill chunk of request 3
    ASSERT_EQ(g_bt[0].pos[0], 2);
    ASSERT_EQ(g_bt[0].pos[1], 2);
    ASSERT_EQ(g_bt[0].pos[2], 0);
    ASSERT_EQ(g_bt[0].pos[3], 1);
    ASSERT_EQ(g_bt[0].seq[2], 2);
    ASSERT_EQ(g_bt[0].n_logits, 2);
    CHECK(&b);
    batcher_free(&b);
}

TEST(pin_to_instance_with_most_free_kv) {
    struct batcher b;
    struct batcher_config c = cfg(3, 4, 1000, 1000, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 1, 100, 100, NULL)); // -> 0 (tie: lowest index)
    ASSERT_OK(submit(&b, 2, 200, 200, NULL)); // -> 1
    ASSERT_OK(submit(&b, 3, 50, 10, NULL));   // -> 2
    ASSERT_OK(submit(&b, 4, 10, 10, NULL));   // free: 800, 600, 940 -> 2
    ASSERT_OK(submit(&b, 5, 10, 10, NULL));   // free: 800, 600, 920 -> 2
    step(&b, -1);
    CHECK(&b);
    struct batcher_stats st;
    batcher_get_stats(&b, &st);
    ASSERT_EQ(st.kv_used[0], 200);
    ASSERT_EQ(st.kv_used[1], 400);
    ASSERT_EQ(st.kv_used[2], 100);
    ASSERT_EQ(st.seqs_used[2], 3);
    // every request stays on its instance: decode rows land where the prefill ran
    step(&b, -1);
    ASSERT_EQ(g_bt[0].n, 1);
    ASSERT_EQ(g_bt[1].n, 1);
    ASSERT_EQ(g_bt[2].n, 3);
    batcher_free(&b);
}

TEST(admission_control_queue_full_and_too_long) {
    struct batcher b;
    struct batcher_config c = cfg(1, 1, 100, 64, 256, 2);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    int code = 0;
    ASSERT_EQ(submit(&b, 1, 60, 10, &code), JANUS_ELIMIT);
    ASSERT_EQ(code, FRONTLINK_ERR_TOO_LONG);
    // Capacity: the queue (2) plus the slot (1). The third submission finds the queue full,
    // so the free slot takes the queue's head first and the third one fits.
    ASSERT_OK(submit(&b, 1, 10, 10, NULL));
    ASSERT_OK(submit(&b, 2, 10, 10, NULL));
    ASSERT_OK(submit(&b, 3, 10, 10, NULL));
    ASSERT_EQ(submit(&b, 4, 10, 10, &code), JANUS_EAGAIN);
    ASSERT_EQ(code, FRONTLINK_ERR_QUEUE_FULL);
    ASSERT_EQ(submit(&b, 2, 10, 10, &code), JANUS_EINVAL); // duplicate id
    ASSERT_EQ(code, FRONTLINK_ERR_INVALID);
    ASSERT_EQ(submit(&b, 9, 10, 0, &code), JANUS_EINVAL); // max_tokens 0
    step(&b, -1);                                         // 1 runs (one slot); 2 and 3 wait
    struct batcher_stats st;
    batcher_get_stats(&b, &st);
    ASSERT_EQ(st.n_running, 1);
    ASSERT_EQ(st.n_waiting, 2);
    ASSERT_EQ(st.n_rejected, 1);
    ASSERT_OK(batcher_cancel(&b, 1));       // frees the slot
    ASSERT_OK(submit(&b, 4, 10, 10, NULL)); // room again
    CHECK(&b);
    batcher_free(&b);
}

// Issue 15 item 2: the front admits up to max_waiting + every slot; a request that finishes
// (or is cancelled) frees its slot at once, the front learns of it from the FINISH and
// sends the next request before the controller's next schedule. That request must fit:
// the freed slot takes the queue's head first. Everything stays FIFO.
TEST(freed_slot_makes_room_before_the_next_schedule) {
    struct batcher b;
    struct batcher_config c = cfg(2, 2, 2 * 100, 100, 256, 3);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    uint64_t id = 1;
    for (; id <= 4; id++) // every slot
        ASSERT_OK(submit(&b, id, 5, 2, NULL));
    step(&b, -1);         // admitted and prefilled: each has its first token
    for (; id <= 7; id++) // the queue
        ASSERT_OK(submit(&b, id, 5, 50, NULL));
    int code = 0;
    ASSERT_EQ(submit(&b, 99, 5, 50, &code), JANUS_EAGAIN); // 7 = queue + slots: full
    ASSERT_EQ(code, FRONTLINK_ERR_QUEUE_FULL);
    step(&b, -1); // 1..4 reach max_tokens 2 and finish: their slots are free at once
    struct batcher_event ev;
    int fin = 0;
    while (batcher_pop_event(&b, &ev))
        fin += ev.type == BATCHER_EV_FINISH;
    ASSERT_EQ(fin, 4);
    // The front now sends four more before any schedule: all fit (5, 6, 7 take slots).
    for (; id <= 11; id++)
        ASSERT_OK(submit(&b, id, 5, 50, NULL));
    CHECK(&b);
    ASSERT_EQ(submit(&b, 100, 5, 50, &code), JANUS_EAGAIN); // full again
    ASSERT_OK(batcher_cancel(&b, 5));                       // a cancel frees a slot too
    ASSERT_OK(submit(&b, 12, 5, 50, NULL));
    CHECK(&b);
    struct batcher_stats st;
    batcher_get_stats(&b, &st);
    ASSERT_EQ(st.n_running, 4);
    ASSERT_EQ(st.n_waiting, 3);
    // FIFO: the running ones are 6, 7 (from the first queue) and 8, 9; 10..12 wait.
    for (int32_t i = 0; i < b.cap; i++) {
        const struct request *r = &b.reqs[i];
        if (r->state == REQUEST_FREE || r->state == REQUEST_FINISHED) continue;
        if (r->id >= 6 && r->id <= 9) ASSERT(r->state != REQUEST_WAITING);
        if (r->id >= 10) ASSERT_EQ(r->state, REQUEST_WAITING);
    }
    batcher_free(&b);
}

TEST(kv_capacity_blocks_admission_fifo) {
    struct batcher b;
    struct batcher_config c = cfg(1, 8, 100, 100, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 1, 50, 30, NULL)); // 80
    ASSERT_OK(submit(&b, 2, 20, 10, NULL)); // 30 > 20 left: waits
    ASSERT_OK(submit(&b, 3, 5, 5, NULL));   // would fit, but FIFO: does not overtake
    step(&b, -1);
    struct batcher_stats st;
    batcher_get_stats(&b, &st);
    ASSERT_EQ(st.n_running, 1);
    ASSERT_EQ(st.n_waiting, 2);
    ASSERT_OK(batcher_cancel(&b, 1)); // frees 80 at once
    batcher_get_stats(&b, &st);
    ASSERT_EQ(st.kv_used[0], 0);
    step(&b, -1);
    batcher_get_stats(&b, &st);
    ASSERT_EQ(st.n_running, 2);
    ASSERT_EQ(st.kv_used[0], 40);
    CHECK(&b);
    batcher_free(&b);
}

TEST(cancel_waiting_and_running) {
    struct batcher b;
    struct batcher_config c = cfg(1, 1, 1000, 1000, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 1, 10, 10, NULL));
    ASSERT_OK(submit(&b, 2, 10, 10, NULL));
    step(&b, -1);
    struct batcher_event ev;
    while (batcher_pop_event(&b, &ev)) {
    }
    ASSERT_OK(batcher_cancel(&b, 2)); // waiting
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(ev.type, BATCHER_EV_FINISH);
    ASSERT_EQ(ev.id, 2);
    ASSERT_EQ(ev.reason, FRONTLINK_REASON_CANCELLED);
    ASSERT_OK(batcher_cancel(&b, 1)); // running
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(ev.reason, FRONTLINK_REASON_CANCELLED);
    ASSERT_EQ(ev.n_completion, 1);
    ASSERT_EQ(batcher_cancel(&b, 1), JANUS_ENOTFOUND);
    CHECK(&b);
    ASSERT_OK(submit(&b, 3, 4, 4, NULL)); // reuses slot 0: free then start in one batch
    step(&b, -1);
    ASSERT_EQ(g_bt[0].n_free, 1);
    ASSERT_EQ(g_bt[0].n_start, 1);
    ASSERT_EQ(g_bt[0].free_seq[0], 0);
    ASSERT_EQ(g_bt[0].start_seq[0], 0);
    ASSERT_EQ(g_bt[0].pos[0], 0);
    CHECK(&b);
    batcher_free(&b);
}

TEST(cancel_before_first_batch_needs_no_free) {
    struct batcher b;
    struct batcher_config c = cfg(1, 2, 1000, 1000, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 1, 10, 10, NULL));
    ASSERT_OK(batcher_cancel(&b, 1));
    ASSERT_EQ(step(&b, -1), 0);
    ASSERT_EQ(g_bt[0].n_free, 0);
    ASSERT_EQ(g_bt[0].n_start, 0);
    batcher_free(&b);
}

TEST(stop_token_and_eos_end_silently) {
    struct batcher b;
    struct batcher_config c = cfg(1, 4, 1000, 1000, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    int32_t prompt[3] = {5, 6, 7};
    struct frontlink_submit s = {0};
    s.id = 1;
    s.max_tokens = 10;
    s.sampling.top_p = 1;
    s.n_prompt = 3;
    s.prompt = prompt;
    s.n_stop = 1;
    s.stop_ids[0] = 100; // fake_results gives 100 + slot = 100
    int code;
    ASSERT_OK(batcher_submit(&b, &s, 0, &code, NULL, 0));
    step(&b, -1);
    struct batcher_event ev;
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(ev.type, BATCHER_EV_FINISH);
    ASSERT_EQ(ev.reason, FRONTLINK_REASON_STOP);
    ASSERT_EQ(ev.n_completion, 1);
    // EOS (id 2) stops too, unless ignore_eos
    s.id = 2;
    s.n_stop = 0;
    ASSERT_OK(batcher_submit(&b, &s, 0, &code, NULL, 0));
    step(&b, 2);
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(ev.reason, FRONTLINK_REASON_STOP);
    s.id = 3;
    s.flags = FRONTLINK_FLAG_IGNORE_EOS;
    s.max_tokens = 2;
    ASSERT_OK(batcher_submit(&b, &s, 0, &code, NULL, 0));
    step(&b, 2);
    step(&b, 2);
    int n_tok = 0, fin = 0;
    while (batcher_pop_event(&b, &ev)) {
        n_tok += ev.type == BATCHER_EV_TOKEN;
        if (ev.type == BATCHER_EV_FINISH) fin = (int)ev.reason + 1;
    }
    ASSERT_EQ(n_tok, 2);
    ASSERT_EQ(fin, FRONTLINK_REASON_LENGTH + 1);
    CHECK(&b);
    batcher_free(&b);
}

TEST(prefill_progresses_when_decodes_fill_most_of_budget) {
    struct batcher b;
    struct batcher_config c = cfg(1, 4, 10000, 1000, 4, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    for (int i = 1; i <= 3; i++)
        ASSERT_OK(submit(&b, (uint64_t)i, 1, 50, NULL));
    step(&b, -1); // 3 one-row prefills
    ASSERT_OK(submit(&b, 4, 9, 5, NULL));
    for (int t = 0; t < 9; t++) {
        ASSERT_EQ(step(&b, -1), 4); // 3 decode rows + 1 prefill row
        ASSERT_EQ(g_bt[0].seq[3], 3);
        ASSERT_EQ(g_bt[0].pos[3], t);
    }
    ASSERT_EQ(g_bt[0].n_logits, 4);   // the 9th prefill row samples
    c = cfg(1, 4, 10000, 1000, 3, 8); // budget below the slot count is refused
    struct batcher b2;
    ASSERT_EQ(batcher_init(&b2, &c, NULL, 0), JANUS_EINVAL);
    CHECK(&b);
    batcher_free(&b);
}

TEST(empty_instance_batches_and_config_errors) {
    struct batcher b;
    struct batcher_config c = cfg(2, 4, 1000, 1000, 256, 8);
    c.token_budget = LIMIT_MAX_STEP_ROWS + 1;
    char err[128];
    ASSERT_EQ(batcher_init(&b, &c, err, sizeof err), JANUS_EINVAL);
    c = cfg(2, 4, 1000, 1000, 256, 8);
    c.max_seqs = LIMIT_MAX_SEQS + 1;
    ASSERT_EQ(batcher_init(&b, &c, err, sizeof err), JANUS_EINVAL);
    c = cfg(2, 4, 1000, 1000, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 1, 3, 3, NULL));
    step(&b, -1);
    ASSERT_EQ(g_bt[0].n, 3);
    ASSERT_EQ(g_bt[1].n, 0);
    batcher_free(&b);
}

TEST(abort_fails_running_requests) {
    struct batcher b;
    struct batcher_config c = cfg(1, 1, 1000, 1000, 256, 8);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    ASSERT_OK(submit(&b, 1, 3, 3, NULL));
    ASSERT_OK(submit(&b, 2, 3, 3, NULL));
    batcher_schedule(&b, 0, bts());
    batcher_abort(&b);
    struct batcher_event ev;
    ASSERT_EQ(batcher_pop_event(&b, &ev), 1);
    ASSERT_EQ(ev.id, 1);
    ASSERT_EQ(ev.reason, FRONTLINK_REASON_ERROR);
    ASSERT_EQ(batcher_pop_event(&b, &ev), 0); // the waiting one stays queued
    CHECK(&b);
    batcher_free(&b);
}

// Random submits and cancels over many steps: invariants hold after every call, every
// request ends exactly once, and token counts add up.
TEST(randomized_invariants) {
    struct batcher b;
    struct batcher_config c = cfg(3, 4, 300, 200, 16, 6);
    int64_t mem0 = mem_live_bytes(MEM_TAG_SERVER);
    ASSERT_OK(batcher_init(&b, &c, NULL, 0));
    struct rng r;
    rng_init(&r, 42);
    enum { N = 400 };
    static int ended[N + 1], tokens[N + 1], maxt[N + 1], submitted[N + 1];
    memset(ended, 0, sizeof ended);
    memset(tokens, 0, sizeof tokens);
    memset(submitted, 0, sizeof submitted);
    uint64_t next = 1;
    for (int it = 0; it < 3000 && !test_current_failed; it++) {
        uint32_t op = rng_below(&r, 10);
        if (op < 3 && next <= N) {
            int np = 1 + (int)rng_below(&r, 60), mt = 1 + (int)rng_below(&r, 30);
            int code;
            int rc = submit(&b, next, np, mt, &code);
            if (rc == 0) {
                submitted[next] = 1;
                maxt[next] = mt;
            }
            next++;
        } else if (op == 3 && next > 1) {
            uint64_t id = 1 + rng_below(&r, (uint32_t)(next - 1));
            int rc = batcher_cancel(&b, id);
            ASSERT(rc == 0 || rc == JANUS_ENOTFOUND);
        } else {
            step(&b, rng_below(&r, 20) == 0 ? 2 : -1);
        }
        CHECK(&b);
        struct batcher_event ev;
        while (batcher_pop_event(&b, &ev)) {
            ASSERT(ev.id >= 1 && ev.id <= N && submitted[ev.id]);
            ASSERT_EQ(ended[ev.id], 0);
            if (ev.type == BATCHER_EV_TOKEN)
                tokens[ev.id]++;
            else {
                ended[ev.id] = 1;
                ASSERT_LE(ev.n_completion, maxt[ev.id]);
                if (ev.reason == FRONTLINK_REASON_LENGTH) {
                    ASSERT_EQ(ev.n_completion, maxt[ev.id]);
                    ASSERT_EQ(tokens[ev.id], maxt[ev.id]);
                }
                if (ev.reason == FRONTLINK_REASON_STOP)
                    ASSERT_EQ(tokens[ev.id], ev.n_completion - 1);
            }
        }
    }
    // drain
    for (int it = 0; it < 2000 && batcher_busy(&b); it++) {
        step(&b, -1);
        struct batcher_event ev;
        while (batcher_pop_event(&b, &ev))
            if (ev.type == BATCHER_EV_FINISH) ended[ev.id] = 1;
    }
    int n_sub = 0;
    for (uint64_t id = 1; id < next; id++)
        if (submitted[id]) {
            ASSERT_EQ(ended[id], 1);
            n_sub++;
        }
    ASSERT_LT(100, n_sub); // the run exercised many requests
    batcher_free(&b);
    ASSERT_EQ(mem_live_bytes(MEM_TAG_SERVER), mem0);
}

TEST(request_transitions) {
    int32_t prompt[2] = {1, 2};
    struct frontlink_submit s = {0};
    s.id = 5;
    s.max_tokens = 2;
    s.n_prompt = 2;
    s.prompt = prompt;
    struct request r;
    ASSERT_OK(request_init(&r, &s, 0, 10));
    ASSERT_EQ(r.state, REQUEST_WAITING);
    request_admit(&r, 1, 3, 4, 11);
    ASSERT_EQ(r.state, REQUEST_PREFILL);
    ASSERT_EQ(request_next_pos(&r), 0);
    request_prefilled(&r, 2);
    ASSERT_EQ(request_on_token(&r, 9, -1, 12), REQUEST_CONTINUE);
    ASSERT_EQ(r.state, REQUEST_DECODE);
    ASSERT_EQ(request_next_pos(&r), 2);
    ASSERT_EQ(r.t_first_token_ns, 12);
    ASSERT_EQ(request_on_token(&r, 9, -1, 13), REQUEST_DONE_EMIT);
    ASSERT_EQ(r.state, REQUEST_FINISHED);
    ASSERT_STR_EQ(request_state_name(r.state), "finished");
    request_free(&r);
    ASSERT_EQ(r.state, REQUEST_FREE);
}
