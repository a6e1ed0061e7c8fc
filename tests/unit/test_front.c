// Tests of the front's pure parts (front/front.h, front/launch.h; issue 16 item 1): the step
// watchdog's limit (off, warm-up, floor, the median step, room for prefill capped at one
// step's rows) and launch_kill_session, which must reach a process of the job's session that
// sits in a process group of its own (as Open MPI 4 puts each rank), where signalling the
// job's group alone does not. Also front_replace (issue 16 item 2): every state of the job
// gives its status, and a REPLACED (from a fake controller on a socketpair) its figures.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/clock.h"
#include "base/status.h"
#include "front/front.h"
#include "front/launch.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

// f with n token-gap samples of step_s seconds and n row samples of row_s, as after a run.
static void fill(struct front *f, int n, double step_s, double row_s) {
    for (int i = 0; i < n; i++) {
        f->wd_step_s[i] = step_s * (i % 2 ? 0.5 : 1.5); // median: step_s (n even)
        f->wd_row_s[i] = row_s;
    }
    f->wd_n = f->wd_n_row = n;
    f->wd_job_tokens = 100;
}

TEST(watchdog_limit) {
    struct front_params p = {.watchdog_s = 5, .watchdog_factor = 20};
    struct front f;
    front_init(&f, &p);
    double med = -1;
    // Nothing measured yet: the warm-up limit, no median.
    ASSERT_NEAR(front_watchdog_limit(&f, &med), FRONT_WATCHDOG_WARMUP * 5.0, 1e-9);
    ASSERT_NEAR(med, 0, 0);
    // Fast steps: the floor.
    fill(&f, 10, 0.002, 0.0001);
    ASSERT_NEAR(front_watchdog_limit(&f, &med), 5.0, 1e-9);
    ASSERT_NEAR(med, 0.002, 1e-12);
    // Slow steps (a sanitizer build, a loaded host): factor x median.
    fill(&f, 10, 0.5, 0.01);
    ASSERT_NEAR(front_watchdog_limit(&f, &med), 10.0, 1e-9);
    // A relaunched job before its first token: the warm-up limit again.
    f.wd_job_tokens = 0;
    ASSERT_NEAR(front_watchdog_limit(&f, NULL), FRONT_WATCHDOG_WARMUP * 5.0, 1e-9);
    f.wd_job_tokens = 1;

    // Room for prefill: a request waiting for its first token in this job, 1000 prompt
    // tokens, capped at one step's rows (budget 256 x 2 attention instances).
    fill(&f, 10, 0.002, 0.01);
    f.ready.token_budget = 256;
    f.ready.n_attn = 2;
    struct front_req r;
    memset(&r, 0, sizeof r);
    r.in_job = 1;
    r.sub.n_prompt = 1000;
    f.reqs = &r;
    ASSERT_NEAR(front_watchdog_limit(&f, NULL), 20 * 0.01 * 512, 1e-6);
    // A replayed one counts its tokens so far as prompt; once a token came, no room.
    r.sub.n_prompt = 100;
    r.n_base = r.n_tokens = 50;
    ASSERT_NEAR(front_watchdog_limit(&f, NULL), 20 * 0.01 * 150, 1e-6);
    r.n_tokens = 51;
    ASSERT_NEAR(front_watchdog_limit(&f, NULL), 5.0, 1e-9);
    // Not in the job (waiting for a replay): no room either.
    r.n_tokens = 50;
    r.in_job = 0;
    ASSERT_NEAR(front_watchdog_limit(&f, NULL), 5.0, 1e-9);
    f.reqs = NULL;

    // Off.
    f.p.watchdog_s = 0;
    ASSERT_NEAR(front_watchdog_limit(&f, &med), 0, 0);
    front_destroy(&f);
}

TEST(kill_session_reaches_other_groups) {
    // The job: bash with job control, so its background sleep and the foreground one get
    // process groups of their own (like Open MPI 4's ranks).
    char sh[] = "bash", c[] = "-c", cmd[] = "set -m; sleep 300 & sleep 300";
    char *const argv[] = {sh, c, cmd, NULL};
    pid_t pid = -1;
    char err[256];
    ASSERT_OK(launch_spawn(argv, 0, -1, &pid, err, sizeof err));
    int n = 0;
    for (int k = 0; k < 500 && n < 3; k++) { // bounded: 10 s
        n = launch_kill_session(pid, 0);     // (signal 0: counts the live processes)
        if (n < 3) clock_sleep_ns(20 * 1000000);
    }
    ASSERT_EQ(n, 3);
    ASSERT_EQ(getpgid(pid), pid); // the job's session and group are numbered like its pid
    ASSERT_EQ(getsid(pid), pid);
    // Its group killed: the sleeps in groups of their own survive ...
    ASSERT_EQ(kill(-pid, SIGKILL), 0);
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    clock_sleep_ns(50 * 1000000);
    ASSERT_EQ(launch_kill_session(pid, 0), 2);
    // ... and launch_kill_session ends them.
    ASSERT_EQ(launch_kill_session(pid, SIGKILL), 2);
    n = 1;
    for (int k = 0; k < 500 && n > 0; k++) {
        n = launch_kill_session(pid, 0); // (a killed orphan is a zombie of init: skipped)
        if (n > 0) clock_sleep_ns(20 * 1000000);
    }
    ASSERT_EQ(n, 0);
    ASSERT_EQ(launch_kill_session(1, SIGKILL), 0); // never init's session
}

// ---- live re-placement (front/replace.c)

struct fake_ctl {
    struct front *f;
    struct frontlink_conn c; // the controller's end
    int code, switched;
};

// Reads the REPLACE and answers it the way the reader thread would hand a REPLACED over.
static void *fake_ctl_main(void *arg) {
    struct fake_ctl *x = arg;
    struct frontlink_msg m;
    char err[128];
    if (frontlink_recv(&x->c, 5000, &m, err, sizeof err) != JANUS_OK || m.type != FRONTLINK_REPLACE)
        return NULL;
    struct frontlink_replaced r = {.tag = m.u.replace.tag,
                                   .code = x->code,
                                   .switched = (uint32_t)x->switched,
                                   .switch_step = 77,
                                   .amax_before = 3.0,
                                   .amax_after = 2.5,
                                   .layers_changed = 2,
                                   .n_moe_layers = 4,
                                   .total_ms = 1500};
    snprintf(r.message, sizeof r.message, "%s", x->code ? "busy elsewhere" : "switched");
    pthread_mutex_lock(&x->f->mu);
    front_replace_on_reply(x->f, &r);
    pthread_mutex_unlock(&x->f->mu);
    return NULL;
}

static int replace_with(struct front *f, int code, int switched, struct front_replace_info *info,
                        char *err, size_t cap) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1000;
    struct fake_ctl x = {.f = f, .code = code, .switched = switched};
    memset(&x.c, 0, sizeof x.c);
    x.c.fd = sv[1];
    f->conn.fd = sv[0];
    f->conn_gen = f->job_gen;
    pthread_t t;
    pthread_create(&t, NULL, fake_ctl_main, &x);
    struct front_replace_args a = {.timeout_ms = 5000};
    int rc = front_replace(f, &a, info, err, cap);
    pthread_join(t, NULL);
    frontlink_conn_close(&x.c);
    frontlink_conn_close(&f->conn);
    f->conn.fd = -1;
    return rc;
}

TEST(replace_states_and_replies) {
    struct front_params p = {0};
    struct front f;
    front_init(&f, &p);
    f.p.quiet = 1;
    struct front_replace_info info;
    char err[256];
    struct front_replace_args a = {.timeout_ms = 50};
    // The job is still starting: 503.
    ASSERT_EQ(front_replace(&f, &a, &info, err, sizeof err), JANUS_ECOMM);
    ASSERT_EQ(info.http_status, 503);
    ASSERT(strstr(err, "starting") != NULL);
    // Recovering: 503 as well.
    f.job = FRONT_JOB_READY;
    f.recovering = 1;
    ASSERT_EQ(front_replace(&f, &a, &info, err, sizeof err), JANUS_ECOMM);
    ASSERT(strstr(err, "relaunched") != NULL);
    f.recovering = 0;
    // Another client's re-placement under way: 409.
    f.rp_wait_tag = 9;
    ASSERT_EQ(front_replace(&f, &a, &info, err, sizeof err), JANUS_EAGAIN);
    ASSERT_EQ(info.http_status, 409);
    f.rp_wait_tag = 0;
    // Ready but no link to the job: 503, never a hang.
    f.conn.fd = -1;
    ASSERT_EQ(front_replace(&f, &a, &info, err, sizeof err), JANUS_ECOMM);
    // The controller switches: the figures, the counters.
    ASSERT_OK(replace_with(&f, 0, 1, &info, err, sizeof err));
    ASSERT_EQ(info.switched, 1);
    ASSERT_EQ(info.switch_step, 77);
    ASSERT_EQ(info.layers_changed, 2);
    ASSERT_NEAR(info.amax_after, 2.5, 0);
    ASSERT_NEAR(info.seconds, 1.5, 1e-12);
    ASSERT_STR_EQ(info.message, "switched");
    ASSERT_EQ(f.replacements_total, 1);
    ASSERT_EQ(f.replace_have_last, 1);
    ASSERT_EQ(f.rp_wait_tag, 0);
    // The controller refuses (a conflict in its state): 409 with its message.
    ASSERT_EQ(replace_with(&f, FRONTLINK_ERR_CONFLICT, 0, &info, err, sizeof err), JANUS_EAGAIN);
    ASSERT_EQ(info.http_status, 409);
    ASSERT_STR_EQ(err, "busy elsewhere");
    // A monolithic job: 501; a rank failed to load: 500 and counted.
    ASSERT_EQ(replace_with(&f, FRONTLINK_ERR_UNSUPPORTED, 0, &info, err, sizeof err),
              JANUS_EUNSUPPORTED);
    ASSERT_EQ(info.http_status, 501);
    ASSERT_NE(replace_with(&f, FRONTLINK_ERR_INTERNAL, 0, &info, err, sizeof err), JANUS_OK);
    ASSERT_EQ(info.http_status, 500);
    ASSERT_EQ(f.replace_failures, 1);
    ASSERT_EQ(f.replacements_total, 1);
    // A drift policy's report (tag 0) is counted, and answers nobody.
    struct frontlink_replaced d = {.tag = 0, .switched = 1, .trigger = FRONTLINK_TRIGGER_DRIFT};
    pthread_mutex_lock(&f.mu);
    front_replace_on_reply(&f, &d);
    pthread_mutex_unlock(&f.mu);
    ASSERT_EQ(f.replacements_total, 2);
    ASSERT_EQ(f.rp_have_reply, 0);
    front_destroy(&f);
}
