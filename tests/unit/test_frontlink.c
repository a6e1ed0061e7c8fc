// Unit tests for the front <-> controller protocol (requests/frontlink.h): round trips of
// every message type, incremental decoding, rejection of bad magic/version/oversized or
// truncated payloads, unknown types skipped, and a real Unix-socket exchange.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/status.h"
#include "requests/frontlink.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int roundtrip(const struct frontlink_msg *in, struct frontlink_msg *out) {
    struct buf b;
    buf_init(&b, 1 << 24);
    int rc = frontlink_encode(&b, in);
    if (rc) return rc;
    size_t used = 0;
    char err[256];
    // every strict prefix is incomplete
    for (size_t k = 0; k < b.len; k += 1 + b.len / 17) {
        struct frontlink_msg t;
        if (frontlink_decode((const uint8_t *)b.data, k, &t, &used, err, sizeof err) !=
            JANUS_EAGAIN)
            return -100;
    }
    rc = frontlink_decode((const uint8_t *)b.data, b.len, out, &used, err, sizeof err);
    if (rc == 0 && used != b.len) rc = -101;
    buf_free(&b);
    return rc;
}

TEST(roundtrip_all_types) {
    struct frontlink_msg m = {0}, o;
    m.type = FRONTLINK_READY;
    m.u.ready.n_vocab = 768;
    m.u.ready.n_attn = 2;
    m.u.ready.kv_tokens = 1LL << 40;
    m.u.ready.max_waiting = 9;
    snprintf(m.u.ready.model_name, sizeof m.u.ready.model_name, "tiny-moe");
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.type, FRONTLINK_READY);
    ASSERT_EQ(o.u.ready.n_vocab, 768);
    ASSERT_EQ(o.u.ready.kv_tokens, 1LL << 40);
    ASSERT_EQ(o.u.ready.max_waiting, 9);
    ASSERT_STR_EQ(o.u.ready.model_name, "tiny-moe");

    int32_t prompt[5] = {1, 2, 3, 70000, 0};
    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_SUBMIT;
    m.u.submit.id = 0xdeadbeefcafeULL;
    m.u.submit.max_tokens = 17;
    m.u.submit.sampling.temperature = 0.7f;
    m.u.submit.sampling.top_p = 0.9f;
    m.u.submit.sampling.top_k = 40;
    m.u.submit.sampling.seed = 12345678901234ULL;
    m.u.submit.flags = FRONTLINK_FLAG_IGNORE_EOS;
    m.u.submit.n_stop = 2;
    m.u.submit.stop_ids[0] = 2;
    m.u.submit.stop_ids[1] = 13;
    m.u.submit.n_prompt = 5;
    m.u.submit.prompt = prompt;
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.u.submit.id, 0xdeadbeefcafeULL);
    ASSERT_EQ(o.u.submit.max_tokens, 17);
    ASSERT(o.u.submit.sampling.temperature == 0.7f);
    ASSERT(o.u.submit.sampling.top_p == 0.9f);
    ASSERT_EQ(o.u.submit.sampling.top_k, 40);
    ASSERT_EQ(o.u.submit.sampling.seed, 12345678901234ULL);
    ASSERT_EQ(o.u.submit.flags, 1);
    ASSERT_EQ(o.u.submit.n_stop, 2);
    ASSERT_EQ(o.u.submit.stop_ids[1], 13);
    ASSERT_EQ(o.u.submit.n_prompt, 5);
    ASSERT_MEM_EQ(o.u.submit.prompt, prompt, sizeof prompt);
    frontlink_msg_free(&o);

    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_TOKEN;
    m.u.token.id = 9;
    m.u.token.token = 4242;
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.u.token.id, 9);
    ASSERT_EQ(o.u.token.token, 4242);

    m.type = FRONTLINK_CANCEL;
    m.u.cancel_id = 77;
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.u.cancel_id, 77);

    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_FINISH;
    m.u.finish.id = 3;
    m.u.finish.reason = FRONTLINK_REASON_LENGTH;
    m.u.finish.n_prompt = 11;
    m.u.finish.n_completion = 8;
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.u.finish.reason, FRONTLINK_REASON_LENGTH);
    ASSERT_EQ(o.u.finish.n_completion, 8);

    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_ERROR;
    m.u.error.id = 0;
    m.u.error.code = FRONTLINK_ERR_JOB;
    snprintf(m.u.error.message, sizeof m.u.error.message, "rank 3 died");
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.u.error.code, FRONTLINK_ERR_JOB);
    ASSERT_STR_EQ(o.u.error.message, "rank 3 died");

    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_STATS;
    struct frontlink_stats *s = &m.u.stats;
    s->n_steps = 1000;
    s->n_running = 3;
    s->n_attn = 2;
    s->kv_used[1] = 55;
    s->n_layer = 4;
    s->a_max_last[3] = 7;
    s->a_max_sum[3] = 7000;
    s->n_moe = 3;
    s->activated_sum[2] = 99;
    s->activated_last[2] = 5;
    s->scheme_msgs[2] = 123;
    s->scheme_bytes[1] = 1ULL << 50;
    s->rows_total = 123456789;
    s->mode_steps[1] = 17;
    s->mode_bytes[1] = 1ULL << 40;
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.u.stats.rows_total, 123456789);
    ASSERT_EQ(o.u.stats.mode_steps[1], 17);
    ASSERT_EQ(o.u.stats.mode_bytes[1], 1ULL << 40);
    ASSERT_EQ(o.u.stats.n_steps, 1000);
    ASSERT_EQ(o.u.stats.kv_used[1], 55);
    ASSERT_EQ(o.u.stats.a_max_last[3], 7);
    ASSERT_EQ(o.u.stats.a_max_sum[3], 7000);
    ASSERT_EQ(o.u.stats.activated_sum[2], 99);
    ASSERT_EQ(o.u.stats.activated_last[2], 5);
    ASSERT_EQ(o.u.stats.scheme_msgs[2], 123);
    ASSERT_EQ(o.u.stats.scheme_bytes[1], 1ULL << 50);
    // An older sender's STATS (no dispatch-mode block: the payload ends after the schemes)
    // still decodes, with zeros for the modes.
    struct buf b2;
    buf_init(&b2, 1 << 20);
    ASSERT_OK(frontlink_encode(&b2, &m));
    size_t cut = 4 + 3 * 2 * 8; // the mode count and three arrays of two u64
    uint8_t *raw = (uint8_t *)b2.data;
    uint32_t plen = (uint32_t)(b2.len - FRONTLINK_HEADER_BYTES - cut);
    for (int i = 0; i < 4; i++)
        raw[8 + i] = (uint8_t)(plen >> (8 * i));
    size_t used = 0;
    char err[128];
    struct frontlink_msg o2;
    ASSERT_OK(frontlink_decode(raw, b2.len - cut, &o2, &used, err, sizeof err));
    ASSERT_EQ(used, b2.len - cut);
    ASSERT_EQ(o2.u.stats.scheme_bytes[1], 1ULL << 50);
    ASSERT_EQ(o2.u.stats.mode_steps[1], 0);
    buf_free(&b2);

    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_SHUTDOWN;
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.type, FRONTLINK_SHUTDOWN);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

TEST(roundtrip_replace_messages) {
    struct frontlink_msg m = {0}, o;
    m.type = FRONTLINK_REPLACE;
    m.u.replace.tag = 77;
    m.u.replace.flags = FRONTLINK_REPLACE_DRY_RUN;
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.type, FRONTLINK_REPLACE);
    ASSERT_EQ(o.u.replace.tag, 77);
    ASSERT_EQ(o.u.replace.flags, FRONTLINK_REPLACE_DRY_RUN);
    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_REPLACED;
    struct frontlink_replaced *q = &m.u.replaced;
    q->tag = 77;
    q->code = FRONTLINK_ERR_INVALID;
    q->trigger = FRONTLINK_TRIGGER_DRIFT;
    q->switched = 1;
    q->switch_step = 1ULL << 40;
    q->amax_before = 3.25;
    q->amax_after = 2.5;
    q->layers_changed = 3;
    q->n_moe_layers = 4;
    q->plan_ms = 1.5;
    q->total_ms = 120.25;
    q->load_bytes = 1ULL << 33;
    snprintf(q->message, sizeof q->message, "switched at step %d", 12);
    ASSERT_OK(roundtrip(&m, &o));
    ASSERT_EQ(o.type, FRONTLINK_REPLACED);
    ASSERT_EQ(o.u.replaced.tag, 77);
    ASSERT_EQ(o.u.replaced.code, FRONTLINK_ERR_INVALID);
    ASSERT_EQ(o.u.replaced.trigger, FRONTLINK_TRIGGER_DRIFT);
    ASSERT_EQ(o.u.replaced.switched, 1);
    ASSERT_EQ(o.u.replaced.switch_step, 1ULL << 40);
    ASSERT(o.u.replaced.amax_before == 3.25 && o.u.replaced.amax_after == 2.5);
    ASSERT_EQ(o.u.replaced.layers_changed, 3);
    ASSERT_EQ(o.u.replaced.n_moe_layers, 4);
    ASSERT(o.u.replaced.plan_ms == 1.5 && o.u.replaced.total_ms == 120.25);
    ASSERT_EQ(o.u.replaced.load_bytes, 1ULL << 33);
    ASSERT_STR_EQ(o.u.replaced.message, "switched at step 12");
}

TEST(decode_rejects_truncated_replace_messages) {
    struct frontlink_msg m = {0}, o;
    m.type = FRONTLINK_REPLACED;
    snprintf(m.u.replaced.message, sizeof m.u.replaced.message, "hello");
    struct buf b;
    buf_init(&b, 1 << 20);
    ASSERT_OK(frontlink_encode(&b, &m));
    uint8_t *raw = (uint8_t *)b.data;
    char err[128];
    size_t used = 0;
    // Every shorter payload (header length lowered to match) is refused, never read past.
    for (uint32_t plen = 0; plen + 12 < b.len; plen++) {
        for (int i = 0; i < 4; i++)
            raw[8 + i] = (uint8_t)(plen >> (8 * i));
        ASSERT_EQ(frontlink_decode(raw, 12 + plen, &o, &used, err, sizeof err), JANUS_EPROTO);
    }
    // A message length over FRONTLINK_MAX_TEXT is refused.
    uint32_t plen = (uint32_t)b.len - 12;
    for (int i = 0; i < 4; i++)
        raw[8 + i] = (uint8_t)(plen >> (8 * i));
    size_t at = b.len - 5 - 4; // the message's u32 length
    for (int i = 0; i < 4; i++)
        raw[at + i] = (uint8_t)((FRONTLINK_MAX_TEXT + 1u) >> (8 * i));
    ASSERT_EQ(frontlink_decode(raw, b.len, &o, &used, err, sizeof err), JANUS_EPROTO);
    buf_free(&b);
    // REPLACE needs 12 bytes.
    uint8_t h[24] = {0};
    put32(h, FRONTLINK_MAGIC);
    h[4] = FRONTLINK_VERSION;
    h[6] = FRONTLINK_REPLACE;
    put32(h + 8, 11);
    ASSERT_EQ(frontlink_decode(h, 23, &o, &used, err, sizeof err), JANUS_EPROTO);
    put32(h + 8, 12);
    ASSERT_OK(frontlink_decode(h, 24, &o, &used, err, sizeof err));
}

TEST(encode_refuses_out_of_limit_fields) {
    struct buf b;
    buf_init(&b, 1 << 20);
    struct frontlink_msg m = {0};
    m.type = FRONTLINK_SUBMIT;
    m.u.submit.n_prompt = 0;
    ASSERT_EQ(frontlink_encode(&b, &m), JANUS_EINVAL);
    m.type = FRONTLINK_STATS;
    m.u.stats.n_layer = FRONTLINK_MAX_LAYERS + 1;
    ASSERT_EQ(frontlink_encode(&b, &m), JANUS_EINVAL);
    m.type = 999;
    ASSERT_EQ(frontlink_encode(&b, &m), JANUS_EINVAL);
    ASSERT_EQ(b.len, 0);
    buf_free(&b);
}

TEST(decode_rejects_bad_headers_and_payloads) {
    uint8_t h[64] = {0};
    struct frontlink_msg m;
    size_t used;
    char err[256];
    put32(h, 0x12345678);
    ASSERT_EQ(frontlink_decode(h, 12, &m, &used, err, sizeof err), JANUS_EPROTO);
    ASSERT(strstr(err, "magic") != NULL);
    put32(h, FRONTLINK_MAGIC);
    h[4] = 99;
    ASSERT_EQ(frontlink_decode(h, 12, &m, &used, err, sizeof err), JANUS_EPROTO);
    ASSERT(strstr(err, "version") != NULL);
    h[4] = FRONTLINK_VERSION;
    h[6] = FRONTLINK_TOKEN;
    put32(h + 8, 0xffffffffu); // oversized length: refused before waiting for it
    ASSERT_EQ(frontlink_decode(h, 12, &m, &used, err, sizeof err), JANUS_EPROTO);
    put32(h + 8, 4); // TOKEN needs 12 bytes
    ASSERT_EQ(frontlink_decode(h, 16, &m, &used, err, sizeof err), JANUS_EPROTO);
    // SUBMIT claiming more prompt tokens than the payload holds
    memset(h + 8, 0, 56);
    h[6] = FRONTLINK_SUBMIT;
    put32(h + 8, 48);
    put32(h + 12 + 36, 0);       // n_stop = 0 at payload offset 36
    put32(h + 12 + 40, 1000000); // n_prompt
    ASSERT_EQ(frontlink_decode(h, 60, &m, &used, err, sizeof err), JANUS_EPROTO);
    put32(h + 12 + 40, FRONTLINK_MAX_PROMPT + 1);
    ASSERT_EQ(frontlink_decode(h, 60, &m, &used, err, sizeof err), JANUS_EPROTO);
    put32(h + 12 + 36, FRONTLINK_MAX_STOP + 1);
    ASSERT_EQ(frontlink_decode(h, 60, &m, &used, err, sizeof err), JANUS_EPROTO);
    // unknown type with a payload: decodes as skippable
    h[6] = 200;
    put32(h + 8, 3);
    ASSERT_OK(frontlink_decode(h, 15, &m, &used, err, sizeof err));
    ASSERT_EQ(m.type, 200);
    ASSERT_EQ(used, 15);
}

TEST(trailing_fields_are_ignored) {
    // a newer sender appended 8 bytes to TOKEN
    uint8_t h[32] = {0};
    put32(h, FRONTLINK_MAGIC);
    h[4] = FRONTLINK_VERSION;
    h[6] = FRONTLINK_TOKEN;
    put32(h + 8, 20);
    h[12] = 5;
    h[20] = 9;
    struct frontlink_msg m;
    size_t used;
    ASSERT_OK(frontlink_decode(h, 32, &m, &used, NULL, 0));
    ASSERT_EQ(m.u.token.id, 5);
    ASSERT_EQ(m.u.token.token, 9);
    ASSERT_EQ(used, 32);
}

TEST(socket_exchange) {
    char path[512];
    snprintf(path, sizeof path, "%s/fl.sock", test_tmpdir());
    int lfd;
    ASSERT_OK(frontlink_listen(path, &lfd));
    struct frontlink_conn cli, srv;
    ASSERT_OK(frontlink_connect(path, &cli));
    ASSERT_OK(frontlink_accept(lfd, 1000, &srv));
    struct frontlink_msg m = {0}, o;
    char err[128];
    ASSERT_EQ(frontlink_recv(&srv, 0, &o, err, sizeof err), JANUS_EAGAIN);
    static int32_t prompt[100000];
    for (int i = 0; i < 100000; i++)
        prompt[i] = i;
    m.type = FRONTLINK_SUBMIT;
    m.u.submit.id = 1;
    m.u.submit.max_tokens = 1;
    m.u.submit.n_prompt = 100000; // larger than a socket buffer: send blocks until read
    m.u.submit.prompt = prompt;
    // the peer reads in a forked child? keep it simple: small then big with a reader after
    struct frontlink_msg t = {0};
    t.type = FRONTLINK_TOKEN;
    t.u.token.id = 1;
    t.u.token.token = 2;
    for (int i = 0; i < 100; i++)
        ASSERT_OK(frontlink_send(&cli, &t));
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(frontlink_recv(&srv, 1000, &o, err, sizeof err));
        ASSERT_EQ(o.type, FRONTLINK_TOKEN);
    }
    pid_t pid = fork();
    if (pid == 0) {
        int rc = frontlink_send(&cli, &m);
        _exit(rc == 0 ? 0 : 1);
    }
    ASSERT_OK(frontlink_recv(&srv, 5000, &o, err, sizeof err));
    ASSERT_EQ(o.type, FRONTLINK_SUBMIT);
    ASSERT_EQ(o.u.submit.n_prompt, 100000);
    ASSERT_EQ(o.u.submit.prompt[99999], 99999);
    frontlink_msg_free(&o);
    int status;
    waitpid(pid, &status, 0);
    ASSERT_EQ(status, 0);
    frontlink_conn_close(&cli);
    ASSERT_EQ(frontlink_recv(&srv, 1000, &o, err, sizeof err), JANUS_ECOMM);
    ASSERT_EQ(frontlink_send(&srv, &t), JANUS_ECOMM); // peer gone: an error, no SIGPIPE
    frontlink_conn_close(&srv);
    close(lfd);
    ASSERT_EQ(frontlink_connect(path, &cli) == 0 ? 0 : 1, 1); // nobody listens
}
