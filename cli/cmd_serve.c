// janus serve: the OpenAI-compatible HTTP server (SPEC §2, §10; docs/HTTP.md). This
// process is the front: it launches the deployment as a child job (`janus worker ...`),
// talks to its controller over a Unix socket, and serves HTTP. With no -m it serves the
// embedded default model, made with `janus gen-model` on first use and kept in
// $XDG_CACHE_HOME/janus (else ~/.cache/janus). Deployment flags listed in the forwarding
// table below are passed to the job unchanged. Stops on SIGINT/SIGTERM.
// SPDX-License-Identifier: MIT
#include "cli.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
#include "front/launch.h"
#include "http/http.h"

#include <errno.h>
#include <getopt.h>
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

#define CMD                "serve"
#define DEFAULT_MODEL_NAME "default-llama-moe-q8_0.gguf"

static void usage(FILE *f) {
    fprintf(
        f, "usage: janus serve [-m MODEL] [--attn N] [--moe M] [deployment flags]\n"
           "                   [--host 127.0.0.1] [--port 8080] [--api-key KEY]\n"
           "  OpenAI-compatible HTTP server: POST /v1/completions, POST /v1/chat/completions,\n"
           "  GET /v1/models, GET /health, GET /metrics (see docs/HTTP.md).\n"
           "  -m, --model FILE     GGUF model (default: a small generated model, cached in\n"
           "                       $XDG_CACHE_HOME/janus or ~/.cache/janus)\n"
           "  --attn N             attention instances (default 1)\n"
           "  --moe M              MoE instances (needs the MPI deployment; default 1)\n"
           "  --host ADDR          numeric address to bind (default 127.0.0.1)\n"
           "  --port N             TCP port (default 8080; 0 = any free port, printed)\n"
           "  --api-key KEY        require 'Authorization: Bearer KEY' on /v1/* (else 401)\n"
           "                       (also read from JANUS_API_KEY)\n"
           "  --max-body BYTES     request body limit (default 1048576) -> 413\n"
           "  --max-tokens N       largest max_tokens accepted (default: the context length)\n"
           "  --max-prompt N       largest prompt in tokens (default: the context length - 1)\n"
           "  --max-connections N  concurrent HTTP connections (default 256)\n"
           "  --timeout S          idle connection timeout in seconds (default 600)\n"
           "  --health-window-ms N /health needs a step completed this recently (default 10000)\n"
           "  --restart N          relaunch a deployment that fails after start, up to N times\n"
           "                       (default 0: keep serving errors and a failing /health)\n"
           "  --mpi                the disaggregated deployment: N + M MPI ranks via mpirun\n"
           "                       (the default)\n"
           "  --mono               the deployment in one process instead (monolithic engine;\n"
           "                       --moe must be 1)\n"
           "  --mpirun PATH        the mpirun to use (default: mpirun from PATH)\n"
           "  --hostfile FILE      mpirun hostfile (multi-host deployments)\n"
           "  --mpi-arg ARG        extra argument for mpirun (repeatable)\n"
           "Deployment flags passed to the job (janus worker --help): --max-seqs N, --ctx N,\n"
           "--budget N (per-step token budget per attention instance), --max-waiting N,\n"
           "--threads N, --heartbeat-ms N, --step-delay-ms N; MPI only: --slots C, --layout FILE,\n"
           "--policy P, --comm S, --comm-cost SPEC, --node-size K, --seed N,\n"
           "--expert-stats-out FILE, --no-calibrate, --no-check-schedule.\n");
}

// Deployment options passed through to the job (janus worker) unchanged; the job
// validates them (one error line, non-zero exit). has_arg: 1 takes a value, 0 a flag.
static const struct {
    const char *flag;
    int has_arg;
} forwarded[] = {
    {"--max-seqs", 1},
    {"--ctx", 1},
    {"--budget", 1},
    {"--max-waiting", 1},
    {"--threads", 1},
    {"--heartbeat-ms", 1},
    {"--step-delay-ms", 1},
    {"--slots", 1},
    {"--layout", 1},
    {"--policy", 1},
    {"--comm", 1},
    {"--comm-cost", 1},
    {"--node-size", 1},
    {"--seed", 1},
    {"--expert-stats-out", 1},
    {"--no-calibrate", 0},
    {"--no-check-schedule", 0},
};

struct serve_opts {
    struct http_params hp;
    const char *model;
    int64_t n_attn, n_moe; // 0: not given
    int mpi;
    const char *mpirun, *hostfile;
    const char *mpi_args[16];
    int n_mpi_args;
    const char *pass[2 * JANUS_ARRAY_SIZE(forwarded) + 32];
    int n_pass;
};

enum {
    O_ATTN = 256,
    O_MOE,
    O_MPI,
    O_MONO,
    O_MPIRUN,
    O_HOSTFILE,
    O_MPI_ARG,
    O_HOST,
    O_PORT,
    O_API_KEY,
    O_MAX_BODY,
    O_MAX_TOKENS,
    O_MAX_PROMPT,
    O_MAX_CONN,
    O_TIMEOUT,
    O_RESTART,
    O_HEALTH_WINDOW,
    O_FWD // O_FWD + i: forwarded[i]
};

// An integer option value in [lo, hi] into *dst, or the error line.
static int int_opt(const char *name, const char *v, int64_t lo, int64_t hi, const char *what,
                   int64_t *dst) {
    if (cli_parse_i64(v, lo, hi, dst)) return cli_error(CMD, "%s needs %s", name, what);
    return 0;
}

static int parse(int argc, char **argv, struct serve_opts *o) {
    memset(o, 0, sizeof *o);
    o->mpi = 1; // the disaggregated deployment unless --mono
    http_default_params(&o->hp);
    o->hp.api_key = getenv("JANUS_API_KEY");
    struct option lo[] = {
        {"model", 1, 0, 'm'},
        {"attn", 1, 0, O_ATTN},
        {"moe", 1, 0, O_MOE},
        {"mpi", 0, 0, O_MPI},
        {"mono", 0, 0, O_MONO},
        {"mpirun", 1, 0, O_MPIRUN},
        {"hostfile", 1, 0, O_HOSTFILE},
        {"mpi-arg", 1, 0, O_MPI_ARG},
        {"host", 1, 0, O_HOST},
        {"port", 1, 0, O_PORT},
        {"api-key", 1, 0, O_API_KEY},
        {"max-body", 1, 0, O_MAX_BODY},
        {"max-tokens", 1, 0, O_MAX_TOKENS},
        {"max-prompt", 1, 0, O_MAX_PROMPT},
        {"max-connections", 1, 0, O_MAX_CONN},
        {"timeout", 1, 0, O_TIMEOUT},
        {"restart", 1, 0, O_RESTART},
        {"health-window-ms", 1, 0, O_HEALTH_WINDOW},
        [18 + JANUS_ARRAY_SIZE(forwarded)] = {0, 0, 0, 0},
    };
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(forwarded); i++)
        lo[18 + i] =
            (struct option){forwarded[i].flag + 2, forwarded[i].has_arg, 0, O_FWD + (int)i};
    opterr = 0;
    optind = 1;
    int c;
    int64_t n;
    while ((c = getopt_long(argc, argv, ":m:", lo, NULL)) != -1) {
        const char *v = optarg;
        switch (c) {
        case 'm': o->model = v; break;
        case O_ATTN:
            if (int_opt("--attn", v, 1, 64, "an integer in [1, 64]", &o->n_attn)) return 1;
            break;
        case O_MOE:
            if (int_opt("--moe", v, 1, 64, "an integer in [1, 64]", &o->n_moe)) return 1;
            break;
        case O_MPI: o->mpi = 1; break;
        case O_MONO: o->mpi = 0; break;
        case O_MPIRUN: o->mpirun = v; break;
        case O_HOSTFILE: o->hostfile = v; break;
        case O_MPI_ARG:
            if (o->n_mpi_args == (int)JANUS_ARRAY_SIZE(o->mpi_args))
                return cli_error(CMD, "too many --mpi-arg");
            o->mpi_args[o->n_mpi_args++] = v;
            break;
        case O_HOST: o->hp.host = v; break;
        case O_PORT:
            if (int_opt("--port", v, 0, 65535, "an integer in [0, 65535]", &n)) return 1;
            o->hp.port = (int)n;
            break;
        case O_API_KEY: o->hp.api_key = v; break;
        case O_MAX_BODY:
            if (int_opt("--max-body", v, 1, 64 << 20, "bytes in [1, 67108864]", &n)) return 1;
            o->hp.max_body = (size_t)n;
            break;
        case O_MAX_TOKENS:
            if (int_opt("--max-tokens", v, 1, INT32_MAX, "an integer >= 1", &n)) return 1;
            o->hp.max_tokens = (int32_t)n;
            break;
        case O_MAX_PROMPT:
            if (int_opt("--max-prompt", v, 1, INT32_MAX, "an integer >= 1", &n)) return 1;
            o->hp.max_prompt = (int32_t)n;
            break;
        case O_MAX_CONN:
            if (int_opt("--max-connections", v, 1, 65536, "an integer in [1, 65536]", &n)) return 1;
            o->hp.max_connections = (int)n;
            break;
        case O_TIMEOUT:
            if (int_opt("--timeout", v, 1, 86400, "seconds in [1, 86400]", &n)) return 1;
            o->hp.timeout_s = (int)n;
            break;
        case O_RESTART:
            if (int_opt("--restart", v, 0, 1000000, "an integer >= 0", &n)) return 1;
            o->hp.max_restarts = (int)n;
            break;
        case O_HEALTH_WINDOW:
            if (int_opt("--health-window-ms", v, 100, 3600000, "an integer in [100, 3600000]", &n))
                return 1;
            o->hp.health_window_ms = (int)n;
            break;
        case ':': return cli_error(CMD, "missing value for %s", argv[optind - 1]);
        case '?': return cli_error(CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        default: // a deployment flag: forwarded as given
            if (o->n_pass + 2 > (int)JANUS_ARRAY_SIZE(o->pass))
                return cli_error(CMD, "too many options");
            o->pass[o->n_pass++] = forwarded[c - O_FWD].flag;
            if (v) o->pass[o->n_pass++] = v;
            break;
        }
    }
    if (optind < argc) return cli_error(CMD, "unexpected argument '%s' (see --help)", argv[optind]);
    if (o->n_moe > 1 && !o->mpi) return cli_error(CMD, "--mono needs --moe 1");
    if (!o->mpi && (o->mpirun || o->hostfile || o->n_mpi_args))
        return cli_error(CMD, "--mpirun, --hostfile and --mpi-arg need --mpi");
    return 0;
}

// The embedded default model: generated once into the cache directory.
static int default_model(const char *self, char *path, size_t n) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX - 64];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/janus", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/janus", home);
    else
        return cli_error(CMD, "no -m MODEL and neither XDG_CACHE_HOME nor HOME is set");
    snprintf(path, n, "%s/%s", dir, DEFAULT_MODEL_NAME);
    if (access(path, R_OK) == 0) return 0;
    // mkdir -p
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return cli_error(CMD, "cannot create the cache directory %s: %s", dir, strerror(errno));
    char part[PATH_MAX + 32];
    snprintf(part, sizeof part, "%s.%d.tmp", path, (int)getpid());
    fprintf(stderr, "janus serve: generating the default model at %s (first use)\n", path);
    pid_t pid = fork();
    if (pid < 0) return cli_error(CMD, "fork: %s", strerror(errno));
    if (pid == 0) {
        execl(self, self, "gen-model", "--arch", "llama", "--type", "q8_0", "--seed", "42", "-o",
              part, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(part);
        return cli_error(CMD, "janus gen-model failed to make the default model; pass -m MODEL");
    }
    if (rename(part, path) != 0) {
        unlink(part);
        return cli_error(CMD, "cannot move the default model to %s: %s", path, strerror(errno));
    }
    return 0;
}

int cmd_serve(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct serve_opts o;
    if (parse(argc, argv, &o)) return 1;
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return cli_error(CMD, "cannot find the janus binary (/proc/self/exe)");
    self[k] = 0;
    char model[PATH_MAX];
    if (o.model)
        snprintf(model, sizeof model, "%s", o.model);
    else if (default_model(self, model, sizeof model))
        return 1;
    if (access(model, R_OK) != 0) return cli_error(CMD, "%s: %s", model, strerror(errno));

    // The job. Monolithic: janus worker --mono -m MODEL [--attn N] [flags]. Disaggregated:
    // mpirun -n N+M janus worker -m MODEL --attn N --moe M [flags] (front/launch.h). The
    // front appends --socket PATH.
    char na[24], nm[24];
    snprintf(na, sizeof na, "%lld", (long long)o.n_attn);
    snprintf(nm, sizeof nm, "%lld", (long long)o.n_moe);
    const char *args[JANUS_ARRAY_SIZE(o.pass) + 16];
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
    for (int i = 0; i < o.n_pass; i++)
        args[n++] = o.pass[i];
    struct launch_spec spec = {.mpi = o.mpi,
                               .n_ranks =
                                   (int)((o.n_attn ? o.n_attn : 1) + (o.n_moe ? o.n_moe : 1)),
                               .mpirun = o.mpirun,
                               .hostfile = o.hostfile,
                               .mpi_args = o.mpi_args,
                               .n_mpi_args = o.n_mpi_args,
                               .args = args,
                               .n_args = n};
    static struct launch_argv job; // large (PATH_MAX); lives as long as the server
    char err[512] = "";
    if (launch_build(&job, &spec, err, sizeof err)) return cli_error(CMD, "%s", err);
    o.hp.model_path = model;
    o.hp.job_argv = job.argv;
    o.hp.job_mpi = o.mpi;

    // Signals: SIGINT/SIGTERM are waited for here; every thread inherits the blocked mask.
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    log_set_identity(-1, "front");

    struct http_server *srv = NULL;
    int rc = http_start(&srv, &o.hp, err, sizeof err);
    if (rc) return cli_error(CMD, "%s", err[0] ? err : janus_strerror(rc));
    printf("janus serve: listening on http://%s:%d (model %s)\n", o.hp.host, http_port(srv), model);
    fflush(stdout);
    int announced = 0, ret = 0;
    for (;;) {
        struct timespec ts = {0, 200 * 1000000};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) break;
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
        // reports the failure, until --restart relaunches it or someone restarts the server.
    }
    http_stop(&srv);
    return ret;
}
