// Tests of the controller loop with the monolithic executor (runtime/controller.h,
// runtime/exec_mono.c) on the fixture models: the test plays the front over a real Unix socket,
// submits the fixture sequences at once (batched across 2 attention instances, prefill mixed with
// decode) and checks every greedy token against the fixture's reference; cancel frees the
// slot; a request over the context gets an ERROR; STATS arrive; SHUTDOWN ends the loop.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "runtime/controller.h"
#include "runtime/exec.h"
#include "requests/frontlink.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int read_ids(const char *path, int32_t *out, int cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    while (n < cap && fscanf(f, "%d", &out[n]) == 1)
        n++;
    fclose(f);
    return n;
}

struct ctl_thread {
    struct exec *e;
    struct ctl_params p;
    int rc;
    char err[256];
};

static void *run_ctl(void *arg) {
    struct ctl_thread *t = arg;
    t->rc = ctl_run(t->e, &t->p, t->err, sizeof t->err);
    return NULL;
}

static int submit(struct frontlink_conn *c, uint64_t id, const int32_t *ids, int n,
                  int max_tokens) {
    struct frontlink_msg m;
    memset(&m, 0, sizeof m);
    m.type = FRONTLINK_SUBMIT;
    m.u.submit.id = id;
    m.u.submit.max_tokens = max_tokens;
    m.u.submit.sampling.top_p = 1.0f;
    m.u.submit.flags = FRONTLINK_FLAG_IGNORE_EOS;
    m.u.submit.n_prompt = n;
    m.u.submit.prompt = (int32_t *)ids;
    return frontlink_send(c, &m);
}

static void check_model(const char *name, int n_attn) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), name);
    struct ctl_thread t;
    memset(&t, 0, sizeof t);
    struct exec_mono_params mp = {.model_path = path,
                                  .n_threads = 1,
                                  .n_attn = n_attn,
                                  .max_seqs = 4,
                                  .max_rows = 4,
                                  .n_ctx = 64};
    char err[256];
    if (exec_mono_create(&mp, &t.e, err, sizeof err) != 0) TEST_FAIL_("exec_mono_create: %s", err);
    char sock[512];
    snprintf(sock, sizeof sock, "%s/ctl-%s.sock", test_tmpdir(), name);
    int lfd;
    ASSERT_OK(frontlink_listen(sock, &lfd));
    ctl_default_params(&t.p);
    t.p.socket_path = sock;
    t.p.token_budget = 4; // forces prefill chunks of <= 4 rows mixed with decode rows
    t.p.stats_ms = 10;
    pthread_t th;
    pthread_create(&th, NULL, run_ctl, &t);
    struct frontlink_conn c;
    ASSERT_OK(frontlink_accept(lfd, 10000, &c));
    struct frontlink_msg m;
    ASSERT_OK(frontlink_recv(&c, 10000, &m, err, sizeof err));
    ASSERT_EQ(m.type, FRONTLINK_READY);
    ASSERT_EQ(m.u.ready.n_attn, n_attn);
    ASSERT_EQ(m.u.ready.n_ctx, 64);
    ASSERT(m.u.ready.n_vocab > 0);

    int32_t prompt[3][64], want[3][16];
    int np[3], nw[3];
    for (int s = 0; s < 3; s++) {
        snprintf(path, sizeof path, "%s/reference/%s.%d.tokens", test_fixtures_dir(), name, s + 1);
        np[s] = read_ids(path, prompt[s], 64);
        snprintf(path, sizeof path, "%s/reference/%s.%d.greedy", test_fixtures_dir(), name, s + 1);
        nw[s] = read_ids(path, want[s], 16);
        ASSERT(np[s] > 0 && nw[s] > 0);
        ASSERT_OK(submit(&c, (uint64_t)(s + 1), prompt[s], np[s], nw[s]));
    }
    ASSERT_OK(submit(&c, 9, prompt[0], np[0], 200));      // over n_ctx = 64
    ASSERT_OK(submit(&c, 10, prompt[0], np[0], 50));      // cancelled at once: the controller
    struct frontlink_msg cm = {.type = FRONTLINK_CANCEL}; // drains its socket before each
    cm.u.cancel_id = 10;                                  // step, so it runs a few at most
    ASSERT_OK(frontlink_send(&c, &cm));
    int got[3] = {0}, finished = 0, err9 = 0, fin10 = 0, n_stats = 0;
    uint64_t last_steps = 0;
    while (finished < 3 || !fin10 || !err9) {
        int rc = frontlink_recv(&c, 20000, &m, err, sizeof err);
        if (rc) TEST_FAIL_("recv: %d %s", rc, err);
        if (m.type == FRONTLINK_TOKEN) {
            int s = (int)m.u.token.id - 1;
            if (m.u.token.id == 10) continue;
            ASSERT(s >= 0 && s < 3);
            ASSERT(got[s] < nw[s]);
            if (m.u.token.token != want[s][got[s]])
                TEST_FAIL_("%s seq %d token %d: %d, reference %d", name, s + 1, got[s],
                           m.u.token.token, want[s][got[s]]);
            got[s]++;
        } else if (m.type == FRONTLINK_FINISH) {
            if (m.u.finish.id == 10) {
                ASSERT_EQ(m.u.finish.reason, FRONTLINK_REASON_CANCELLED);
                ASSERT_LT(m.u.finish.n_completion, 50);
                fin10 = 1;
                continue;
            }
            int s = (int)m.u.finish.id - 1;
            ASSERT_EQ(m.u.finish.reason, FRONTLINK_REASON_LENGTH);
            ASSERT_EQ(m.u.finish.n_completion, nw[s]);
            ASSERT_EQ(m.u.finish.n_prompt, np[s]);
            ASSERT_EQ(got[s], nw[s]);
            finished++;
        } else if (m.type == FRONTLINK_ERROR) {
            ASSERT_EQ(m.u.error.id, 9);
            ASSERT_EQ(m.u.error.code, FRONTLINK_ERR_TOO_LONG);
            err9 = 1;
        } else if (m.type == FRONTLINK_STATS) {
            ASSERT(m.u.stats.n_steps >= last_steps);
            last_steps = m.u.stats.n_steps;
            n_stats++;
        }
    }
    // Eventually a STATS shows nothing running and no KV held.
    for (int k = 0; k < 200; k++) {
        ASSERT_OK(frontlink_recv(&c, 20000, &m, err, sizeof err));
        if (m.type == FRONTLINK_STATS && m.u.stats.n_running == 0) break;
    }
    ASSERT_EQ(m.type, FRONTLINK_STATS);
    ASSERT_EQ(m.u.stats.n_running, 0);
    for (int i = 0; i < n_attn; i++)
        ASSERT_EQ(m.u.stats.kv_used[i], 0);
    ASSERT(m.u.stats.n_steps > 8);
    ASSERT(m.u.stats.n_layer > 0);
    uint64_t asum = 0;
    for (uint32_t l = 0; l < m.u.stats.n_layer; l++)
        asum += m.u.stats.a_max_sum[l];
    ASSERT(asum > 0);
    struct frontlink_msg sd = {.type = FRONTLINK_SHUTDOWN};
    ASSERT_OK(frontlink_send(&c, &sd));
    pthread_join(th, NULL);
    ASSERT_EQ(t.rc, 0);
    frontlink_conn_close(&c);
    close(lfd);
    exec_destroy(&t.e);
}

TEST(greedy_matches_reference_llama_moe_2_attn) { check_model("llama-moe-f32", 2); }
TEST(greedy_matches_reference_qwen2moe_1_attn) { check_model("qwen2moe-f32", 1); }
TEST(greedy_matches_reference_deepseek2_3_attn) { check_model("deepseek2-v2-f32", 3); }

TEST(front_disconnect_ends_loop) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/llama-moe-f32.gguf", test_fixtures_dir());
    struct ctl_thread t;
    memset(&t, 0, sizeof t);
    struct exec_mono_params mp = {.model_path = path, .n_attn = 1, .max_seqs = 2, .max_rows = 8};
    char err[256];
    ASSERT_OK(exec_mono_create(&mp, &t.e, err, sizeof err));
    char sock[512];
    snprintf(sock, sizeof sock, "%s/ctl-disc.sock", test_tmpdir());
    int lfd;
    ASSERT_OK(frontlink_listen(sock, &lfd));
    ctl_default_params(&t.p);
    t.p.socket_path = sock;
    pthread_t th;
    pthread_create(&th, NULL, run_ctl, &t);
    struct frontlink_conn c;
    ASSERT_OK(frontlink_accept(lfd, 10000, &c));
    struct frontlink_msg m;
    ASSERT_OK(frontlink_recv(&c, 10000, &m, err, sizeof err));
    ASSERT_EQ(m.type, FRONTLINK_READY);
    int32_t ids[3] = {1, 5, 6};
    ASSERT_OK(submit(&c, 1, ids, 3, 1000));
    frontlink_conn_close(&c);
    pthread_join(th, NULL);
    ASSERT_EQ(t.rc, 0);
    close(lfd);
    exec_destroy(&t.e);
}

TEST(exec_rejects_bad_batches) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/llama-moe-f32.gguf", test_fixtures_dir());
    struct exec *e = NULL;
    struct exec_mono_params mp = {
        .model_path = path, .n_attn = 1, .max_seqs = 2, .max_rows = 8, .n_ctx = 32};
    char err[256];
    ASSERT_OK(exec_mono_create(&mp, &e, err, sizeof err));
    static struct batch b;
    static struct batch_result r;
    ASSERT_OK(batch_init(&b, 8));
    ASSERT_OK(batch_add(&b, 1, 0, 3, 0));
    ASSERT_EQ(exec_step(e, &b, &r), JANUS_EINVAL); // gap: slot 0 holds no positions
    b.pos[0] = 0;
    b.seq[0] = 2;
    ASSERT_EQ(exec_step(e, &b, &r), JANUS_EINVAL); // slot out of range
    ASSERT_EQ(exec_batch_check(&b, &e->info, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "slot") != NULL);
    b.seq[0] = 0;
    b.token[0] = e->info.n_vocab;
    ASSERT_EQ(exec_step(e, &b, &r), JANUS_EINVAL);
    batch_clear(&b);
    const struct sampler_params greedy = {.top_p = 1.0f};
    ASSERT_OK(batch_add_sampled(&b, 1, 0, 0, &greedy));
    ASSERT_OK(exec_step(e, &b, &r));
    ASSERT_EQ(r.n_sample, 1);
    ASSERT(r.tokens[0] >= 0 && r.tokens[0] < e->info.n_vocab);
    // sampling with temperature: same seed and position -> same token
    b.pos[0] = 1;
    b.sample[0].temp = 1.0f;
    b.sample[0].seed = 7;
    ASSERT_OK(exec_step(e, &b, &r));
    int32_t t1 = r.tokens[0];
    b.n_start = 1;
    b.start_seq[0] = 0; // restart slot 0 and redo positions 0, 1
    b.pos[0] = 0;
    b.sample[0].temp = 0;
    ASSERT_OK(exec_step(e, &b, &r));
    b.n_start = 0;
    b.pos[0] = 1;
    b.sample[0].temp = 1.0f;
    ASSERT_OK(exec_step(e, &b, &r));
    ASSERT_EQ(r.tokens[0], t1);
    struct exec_stats st;
    ASSERT_OK(exec_stats(e, &st));
    ASSERT_EQ(st.n_steps, 4); // the rejected batches ran nothing
    ASSERT_EQ(st.kv_used_tokens[0], 2);
    batch_free(&b);
    exec_destroy(&e);
    ASSERT(e == NULL);
}

// step_logits: two sequences on two attention instances in one step, prefilled in chunks
// across steps; the last-position logits match the fixtures' float64 reference (1e-3, F32).
TEST(step_logits_matches_reference) {
    const char *name = "qwen2moe-f32";
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s.gguf", test_fixtures_dir(), name);
    struct exec *e = NULL;
    struct exec_mono_params mp = {
        .model_path = path, .n_attn = 2, .max_seqs = 2, .max_rows = 4, .n_ctx = 32};
    char err[256];
    ASSERT_OK(exec_mono_create(&mp, &e, err, sizeof err));
    int32_t tok[2][64];
    int n[2];
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/reference/%s.%d.tokens", test_fixtures_dir(), name, s + 1);
        n[s] = read_ids(path, tok[s], 64);
        ASSERT(n[s] > 1);
    }
    static struct batch b[2];
    static struct batch_result r[2];
    for (int s = 0; s < 2; s++)
        ASSERT_OK(batch_init(&b[s], 4));
    int64_t V = e->info.n_vocab;
    float *lg = calloc((size_t)(2 * V), sizeof *lg);
    int done[2] = {0, 0}, got = 0;
    for (int step = 0; got < 2 && step < 64; step++) {
        for (int s = 0; s < 2; s++) {
            batch_clear(&b[s]);
            if (step == 0) b[s].start_seq[b[s].n_start++] = 1;
            const struct sampler_params sp = {.top_p = 1.0f, .temp = 0.7f, .seed = 3};
            for (int k = 0; k < 4 && done[s] < n[s]; k++, done[s]++)
                ASSERT_OK(batch_add_sampled(&b[s], tok[s][done[s]], 1, done[s],
                                            done[s] == n[s] - 1 ? &sp : NULL));
        }
        int64_t base = 0;
        static float tmp[2 * 4096];
        ASSERT(V <= 4096);
        ASSERT_OK(e->ops->step_logits(e, b, r, tmp));
        for (int s = 0; s < 2; s++)
            if (b[s].n_logits) {
                memcpy(lg + s * V, tmp + base * V, (size_t)V * sizeof *lg);
                base++;
                got++;
            }
    }
    ASSERT_EQ(got, 2);
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/reference/%s.%d.logits", test_fixtures_dir(), name, s + 1);
        FILE *f = fopen(path, "r");
        ASSERT(f != NULL);
        double maxd = 0;
        for (int64_t i = 0; i < V; i++) {
            double ref;
            if (fscanf(f, "%lf", &ref) != 1) break;
            double d = fabs(ref - lg[s * V + i]);
            if (d > maxd) maxd = d;
        }
        fclose(f);
        ASSERT_LT(maxd, 1e-3);
    }
    free(lg);
    for (int s = 0; s < 2; s++)
        batch_free(&b[s]);
    exec_destroy(&e);
}
