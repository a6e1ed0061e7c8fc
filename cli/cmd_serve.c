// janus serve: the OpenAI-compatible HTTP server (SPEC §2, §10; docs/HTTP.md). This
// process is the front: it launches the deployment as a child job (`janus worker ...`),
// talks to its controller over a Unix socket, and serves HTTP. With no -m it serves the
// embedded default model (cli/default_model.h: the trained MoE of scripts/train, written
// once to $XDG_CACHE_HOME/janus, else ~/.cache/janus). Deployment flags listed in the forwarding
// table below are passed to the job unchanged. Stops on SIGINT/SIGTERM/SIGHUP, gracefully
// (--grace; issue 15 item 6).
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "default_model.h"
#include "opts.h"

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "front/launch.h"
#include "http/http.h"

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CMD "serve"

// Deployment options passed through to the job (janus worker) unchanged (the forwarding
// table); the job validates them (one error line, non-zero exit). arg NULL: a flag.
static const struct cli_fwd_opt forwarded[] = {
    {"max-seqs", "N", "KV slots per attention instance"},
    {"ctx", "N", "positions per request"},
    {"kv-type", "T", "KV cache storage: f32 (default), f16, q8_0"},
    {"matmul", CLI_MATMUL_ARG,
     "quantized-weight products: exact or int8 (default " LINEAR_PATH_DEFAULT_NAME ")"},
    {"budget", "N", "per-step token budget per attention instance"},
    {"max-waiting", "N", "waiting-queue bound of the batcher"},
    {"threads", "N", "engine threads per rank"},
    {"heartbeat-ms", "N", "idle heartbeat step period"},
    {"step-delay-ms", "N", "sleep before every step (tests)"},
    {"slots", "C", "MPI only: expert slots per MoE instance"},
    {"layout", "FILE", "MPI only: replica layout JSON"},
    {"policy", "P", "MPI only: activation scheduler policy"},
    {"comm", "S", "MPI only: 1pc|2pc1|2pc2|auto"},
    {"dispatch", "D", "MPI only: broadcast|selective|auto"},
    {"comm-cost", "SPEC", "MPI only: exchange cost overrides"},
    {"node-size", "K", "MPI only: emulated nodes of K ranks per role"},
    {"seed", "N", "MPI only: seed of the random scheduler policy"},
    {"expert-stats-out", "FILE", "MPI only: write the expert activation statistics"},
    {"stats-half-life", "N", "MPI only: expert statistics halve over N steps (re-placement)"},
    {"replace-drift", "X", "MPI only: re-place live when predicted a_max improves by X"},
    {"replace-check-steps", "K", "MPI only: the drift policy looks every K steps"},
    {"replace-min-steps", "H", "MPI only: at least H steps between re-placements"},
    {"no-calibrate", NULL, "MPI only: skip the start-up ping-pong"},
    {"check-schedule", NULL, "MPI only, debug/test: compare the schedule digest every layer"},
    {"no-check-schedule", NULL, "MPI only: leave that comparison off (the default)"},
    {"mmap", NULL, "map the weights (shared with the page cache and other ranks)"},
    {"no-mmap", NULL, "read the weights (each rank its share) into anonymous memory"},
    {"mlock", NULL, "lock the weights in memory (fails if RLIMIT_MEMLOCK is too low)"},
};
#define N_FWD ((int)JANUS_ARRAY_SIZE(forwarded))

#define MAX_ALLOW_HOSTS 16

struct serve_opts {
    struct http_params hp;
    const char *model;
    int64_t n_attn, n_moe, max_body; // 0: not given
    int mpi, mono;
    struct cli_mpirun launcher;         // --mpirun, --hostfile, --mpi-arg
    struct cli_fwd fwd;                 // the forwarded options, as given
    const char *api_key_file;           // --api-key-file
    char api_key_buf[512];              // the key read from it
    int32_t grace_s;                    // --grace
    const char *allow[MAX_ALLOW_HOSTS]; // --allow-host (repeatable)
};

// CLI_FN target of --allow-host (repeatable).
static int add_allow_host(void *target, const char *v, const char *cmd) {
    struct serve_opts *o = target;
    if (!v[0] || strlen(v) > 253 || strpbrk(v, "/@ \t") || (strchr(v, ':') && v[0] != '['))
        return cli_error(cmd, "--allow-host '%s': give a host name or address, no scheme or port",
                         v);
    if (o->hp.n_allow_hosts == MAX_ALLOW_HOSTS)
        return cli_error(cmd, "--allow-host: at most %d names", MAX_ALLOW_HOSTS);
    o->allow[o->hp.n_allow_hosts++] = v;
    o->hp.allow_hosts = o->allow;
    return 0;
}

// Parses argv into o (or prints the help when help is set). 0 ok, 1 after an error line.
static int parse(int argc, char **argv, struct serve_opts *o, int help) {
    memset(o, 0, sizeof *o);
    http_default_params(&o->hp);
    o->hp.api_key = getenv("JANUS_API_KEY");
    o->grace_s = 30;
    struct http_params *hp = &o->hp;
    struct cli_opt opts[40 + N_FWD] = {
        CLI_OPT_STR("model", 'm', &o->model, "FILE",
                    "GGUF model (default: a small generated model, cached in\n"
                    "$XDG_CACHE_HOME/janus or ~/.cache/janus)"),
        CLI_OPT_I64("attn", 0, &o->n_attn, 1, 64, "N", "attention instances (default 1)"),
        CLI_OPT_I64("moe", 0, &o->n_moe, 1, 64, "M",
                    "MoE instances (needs the MPI deployment; default 1)"),
        CLI_OPT_STR("host", 0, &hp->host, "ADDR", "numeric address to bind (default 127.0.0.1)"),
        CLI_OPT_I32("port", 0, &hp->port, 0, 65535, "N",
                    "TCP port (default 8080; 0 = any free port, printed)"),
        CLI_OPT_STR("api-key", 0, &hp->api_key, "KEY",
                    "require 'Authorization: Bearer KEY' on /v1/*, /metrics and /\n"
                    "(else 401); visible in ps: prefer JANUS_API_KEY or --api-key-file"),
        CLI_OPT_STR("api-key-file", 0, &o->api_key_file, "FILE",
                    "read the API key from the first line of FILE"),
        CLI_OPT_STR("served-model-name", 0, &hp->served_model_name, "NAME",
                    "the model id /v1/models reports and requests name (default:\n"
                    "the model's general.name, else its file name)"),
        CLI_OPT_FLAG("metrics-public", 0, &hp->metrics_public,
                     "serve GET /metrics, /metrics.json and the live page / without\nthe API key"),
        CLI_OPT_I64("max-body", 0, &o->max_body, 1, 64 << 20, "BYTES",
                    "request body limit (default 1048576) -> 413"),
        CLI_OPT_I32("max-tokens", 0, &hp->max_tokens, 1, INT32_MAX, "N",
                    "largest max_tokens accepted (default: the context length)"),
        CLI_OPT_I32("max-prompt", 0, &hp->max_prompt, 1, INT32_MAX, "N",
                    "largest prompt in tokens (default: the context length - 1)"),
        CLI_OPT_I32("max-connections", 0, &hp->max_connections, 1, 1 << 20, "N",
                    "open HTTP connections (default 2048; RLIMIT_NOFILE is raised\n"
                    "to fit, else the cap is lowered) -> 503"),
        CLI_OPT_I32("max-per-address", 0, &hp->max_per_address, 1, 1 << 20, "N",
                    "open connections from one client address (default 64) -> 429"),
        CLI_OPT_I32("header-timeout", 0, &hp->header_timeout_s, 1, 3600, "S",
                    "the complete request head within S s of connecting (default 10)\n"
                    "-> 408"),
        CLI_OPT_I32("body-timeout", 0, &hp->body_timeout_s, 1, 86400, "S",
                    "the complete body within S s of the head (default 60) -> 408"),
        CLI_OPT_I32("http-threads", 0, &hp->http_threads, 1, 64, "N",
                    "libmicrohttpd's thread pool (event-driven; default 4)"),
        CLI_OPT_I32("timeout", 0, &hp->timeout_s, 1, 86400, "S",
                    "idle connection timeout in seconds (default 30)"),
        CLI_OPT_I32("grace", 0, &o->grace_s, 0, 86400, "S",
                    "on SIGTERM/SIGINT/SIGHUP let requests in flight finish for up to\n"
                    "S seconds, then end them with shutting_down (default 30; a\n"
                    "second signal ends them at once)"),
        CLI_OPT_FN("allow-host", 0, add_allow_host, o, "NAME",
                   "also accept Host/Origin NAME when bound to loopback without a\n"
                   "key (repeatable; default: localhost, 127.x, [::1] only)"),
        CLI_OPT_FLAG("chat-parse-special", 0, &hp->chat_parse_special,
                     "parse special tokens in chat message content too (unsafe:\n"
                     "lets users inject role and control tokens)"),
        CLI_OPT_I32("health-window-ms", 0, &hp->health_window_ms, 100, 3600000, "N",
                    "/health needs a step completed this recently (default 10000)"),
        CLI_OPT_I32("max-relaunches", 0, &hp->max_restarts, 0, 1000000, "N",
                    "relaunch a deployment that dies after it was ready, up to N\n"
                    "times in all, replaying its requests (default 3; 0: fail them)"),
        CLI_OPT_I32("restart", 0, &hp->max_restarts, 0, 1000000, "N",
                    "deprecated alias of --max-relaunches"),
        CLI_OPT_F64("watchdog-s", 0, &hp->watchdog_s, 0, 86400, "S",
                    "step watchdog: with requests in flight and no step completed\n"
                    "for max(S, F x median step, room for prefill) seconds, the\n"
                    "deployment counts as failed: relaunched and replayed\n"
                    "(default 5; 0: off)"),
        CLI_OPT_F64("watchdog-factor", 0, &hp->watchdog_factor, 1, 1e6, "F",
                    "the watchdog's multiple of the running median step (default 20)"),
        CLI_OPT_FLAG("mpi", 0, &o->mpi,
                     "the disaggregated deployment: N + M MPI ranks via mpirun\n(the default)"),
        CLI_OPT_FLAG("mono", 0, &o->mono,
                     "the deployment in one process instead (monolithic engine;\n"
                     "--moe must be 1)"),
    };
    cli_launcher_opts(&o->launcher, &o->fwd, forwarded, N_FWD, opts);
    if (help) {
        cli_opts_help(stdout,
                      "serve [-m MODEL] [--attn N] [--moe M] [deployment flags]\n"
                      "                   [--host 127.0.0.1] [--port 8080] [--api-key KEY]",
                      opts,
                      "OpenAI-compatible HTTP server: POST /v1/completions, POST "
                      "/v1/chat/completions,\nGET /v1/models, GET /health, GET /metrics, GET / (a "
                      "live page);\n"
                      "see docs/HTTP.md. The options from --max-seqs on are passed to the job\n"
                      "(janus worker --help).\n");
        return 0;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    cli_fwd_finish(&o->fwd);
    if (o->max_body) hp->max_body = (size_t)o->max_body;
    if (o->api_key_file) {
        char err[JANUS_ERR_LEN], *buf = NULL;
        size_t len = 0;
        if (file_read_all(o->api_key_file, sizeof o->api_key_buf - 1, &buf, &len, err, sizeof err))
            return cli_error(CMD, "--api-key-file: %s", err);
        len = strcspn(buf, "\r\n");
        memcpy(o->api_key_buf, buf, len);
        o->api_key_buf[len] = 0;
        mem_free(buf);
        if (!len)
            return cli_error(CMD, "--api-key-file %s: the first line is empty", o->api_key_file);
        hp->api_key = o->api_key_buf;
    }
    o->mpi = o->mpi || !o->mono; // the disaggregated deployment unless --mono alone
    if (o->n_moe > 1 && !o->mpi) return cli_error(CMD, "--mono needs --moe 1");
    if (!o->mpi && (o->launcher.mpirun || o->launcher.hostfile || o->launcher.n_args))
        return cli_error(CMD, "--mpirun, --hostfile and --mpi-arg need --mpi");
    return 0;
}

int cmd_serve(int argc, char **argv) {
    struct serve_opts o;
    if (cli_wants_help(argc, argv)) return parse(argc, argv, &o, 1);
    if (parse(argc, argv, &o, 0)) return 1;
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return cli_error(CMD, "cannot find the janus binary (/proc/self/exe)");
    self[k] = 0;
    char model[PATH_MAX];
    if (o.model)
        snprintf(model, sizeof model, "%s", o.model);
    else if (default_model_path(CMD, model, sizeof model))
        return 1;
    if (access(model, R_OK) != 0) return cli_error(CMD, "%s: %s", model, strerror(errno));

    // The job. Monolithic: janus worker --mono -m MODEL [--attn N] [flags]. Disaggregated:
    // mpirun -n N+M janus worker -m MODEL --attn N --moe M [flags] (front/launch.h). The
    // front appends --socket PATH.
    char na[24], nm[24];
    snprintf(na, sizeof na, "%lld", (long long)o.n_attn);
    snprintf(nm, sizeof nm, "%lld", (long long)o.n_moe);
    const char *args[JANUS_ARRAY_SIZE(o.fwd.argv) + 16];
    int n = 0;
    args[n++] = "worker";
    if (!o.mpi) args[n++] = "--mono";
    args[n++] = "-m";
    args[n++] = model;
    if (o.n_attn) {
        args[n++] = "--attn";
        args[n++] = na;
    }
    if (o.mpi && o.n_moe) {
        args[n++] = "--moe";
        args[n++] = nm;
    }
    for (int i = 0; i < o.fwd.argc; i++)
        args[n++] = o.fwd.argv[i];
    struct launch_spec spec = {.mpi = o.mpi,
                               .n_ranks =
                                   (int)((o.n_attn ? o.n_attn : 1) + (o.n_moe ? o.n_moe : 1)),
                               .mpirun = o.launcher.mpirun,
                               .hostfile = o.launcher.hostfile,
                               .mpi_args = o.launcher.args,
                               .n_mpi_args = o.launcher.n_args,
                               .args = args,
                               .n_args = n};
    static struct launch_argv job; // large (PATH_MAX); lives as long as the server
    char err[JANUS_ERR_LEN] = "";
    if (launch_build(&job, &spec, err, sizeof err)) return cli_error(CMD, "%s", err);
    o.hp.model_path = model;
    o.hp.job_argv = job.argv;
    o.hp.job_mpi = o.mpi;

    // Signals: SIGINT/SIGTERM/SIGHUP are waited for here (so that every exit path stops the
    // job and removes the socket directory); every thread inherits the blocked mask.
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    log_set_identity(-1, "front");

    struct http_server *srv = NULL;
    int rc = http_start(&srv, &o.hp, err, sizeof err);
    if (rc) return cli_error(CMD, "%s", err[0] ? err : janus_strerror(rc));
    printf("janus serve: listening on http://%s:%d (model %s)\n", o.hp.host, http_port(srv), model);
    fflush(stdout);
    int announced = 0, ret = 0, draining = 0;
    int64_t drain_end = 0;
    for (;;) {
        struct timespec ts = {0, (draining ? 20 : 200) * 1000000};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
            if (draining) { // a second signal: end what is left now
                fprintf(stderr, "janus serve: second signal: ending the requests in flight\n");
                break;
            }
            // Graceful shutdown (issue 15 item 6): stop accepting, let the requests in
            // flight finish within --grace, then http_stop ends the rest (shutting_down).
            draining = 1;
            drain_end = clock_now_ns() + (int64_t)o.grace_s * 1000000000;
            int left = http_drain(srv, 0);
            fprintf(stderr,
                    "janus serve: %s: stopped accepting; %d requests in flight, up to %d s "
                    "grace\n",
                    strsignal(sig), left, (int)o.grace_s);
        }
        if (draining) {
            if (http_drain(srv, 0) == 0 || clock_now_ns() >= drain_end) break;
            continue;
        }
        if (!announced) {
            int r = http_wait_ready(srv, 0, err, sizeof err);
            if (r == JANUS_OK) {
                printf("janus serve: ready\n");
                fflush(stdout);
                announced = 1;
            } else if (r == JANUS_ECOMM) {
                // The job never came up: nothing to serve.
                cli_error(CMD, "the deployment failed to start: %s", err);
                ret = 1;
                break;
            }
        }
        // A job that dies after start keeps the server up: requests get 503 and /health
        // reports the failure: with --max-relaunches N (default 3) the front relaunches it and
        // replays its requests N times in all, then fails them and keeps reporting it.
    }
    if (draining && http_drain(srv, 0) > 0)
        fprintf(stderr, "janus serve: the grace period is over: ending %d requests\n",
                http_drain(srv, 0));
    http_stop(&srv);
    if (draining) fprintf(stderr, "janus serve: stopped\n");
    return ret;
}
