// janus serve: the OpenAI-compatible HTTP server (SPEC §2, §10; docs/HTTP.md). This
// process is the front: it launches the deployment as a child job (`janus worker ...`),
// talks to its controller over a Unix socket, and serves HTTP. With no -m it serves the
// embedded default model, made with `janus gen-model` on first use and kept in
// $XDG_CACHE_HOME/janus (else ~/.cache/janus). Options it does not know are passed to the
// job unchanged (deployment flags). Stops on SIGINT/SIGTERM.
// SPDX-License-Identifier: MIT
#include "cli.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/status.h"
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

#define CMD                "serve"
#define MAX_JOB_ARGS       128
#define DEFAULT_MODEL_NAME "default-llama-moe-q8_0.gguf"

static void usage(FILE *f) {
    fprintf(f,
            "usage: janus serve [-m MODEL] [--attn N] [--moe M] [deployment flags]\n"
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
            "--threads N, --heartbeat-ms N; MPI only: --slots C, --layout FILE, --policy P,\n"
            "--comm S, --comm-cost SPEC, --node-size K.\n");
}

struct serve_opts {
    struct http_params hp;
    const char *model;
    const char *attn, *moe;
    int mpi;
    const char *mpirun, *hostfile;
    const char *mpi_args[16];
    int n_mpi_args;
    const char *pass[MAX_JOB_ARGS];
    int n_pass;
};

static int parse(int argc, char **argv, struct serve_opts *o) {
    memset(o, 0, sizeof *o);
    o->mpi = 1; // the disaggregated deployment unless --mono
    http_default_params(&o->hp);
    o->hp.api_key = getenv("JANUS_API_KEY");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (!strcmp(a, "--mono")) {
            o->mpi = 0;
            continue;
        }
        if (!strcmp(a, "--mpi")) {
            o->mpi = 1;
            continue;
        }
        if (!strncmp(a, "--", 2) && !v) return cli_error(CMD, "missing value for %s", a);
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!v) return cli_error(CMD, "missing value for %s", a);
            o->model = v;
        } else if (!strcmp(a, "--attn")) {
            o->attn = v;
        } else if (!strcmp(a, "--moe")) {
            o->moe = v;
        } else if (!strcmp(a, "--mpirun")) {
            o->mpirun = v;
        } else if (!strcmp(a, "--hostfile")) {
            o->hostfile = v;
        } else if (!strcmp(a, "--mpi-arg")) {
            if (o->n_mpi_args == (int)JANUS_ARRAY_SIZE(o->mpi_args))
                return cli_error(CMD, "too many --mpi-arg");
            o->mpi_args[o->n_mpi_args++] = v;
        } else if (!strcmp(a, "--host")) {
            o->hp.host = v;
        } else if (!strcmp(a, "--port")) {
            if (cli_parse_i64(v, 0, 65535, &n))
                return cli_error(CMD, "--port needs an integer in [0, 65535]");
            o->hp.port = (int)n;
        } else if (!strcmp(a, "--api-key")) {
            o->hp.api_key = v;
        } else if (!strcmp(a, "--max-body")) {
            if (cli_parse_i64(v, 1, 64 << 20, &n))
                return cli_error(CMD, "--max-body needs bytes in [1, 67108864]");
            o->hp.max_body = (size_t)n;
        } else if (!strcmp(a, "--max-tokens")) {
            if (cli_parse_i64(v, 1, INT32_MAX, &n))
                return cli_error(CMD, "--max-tokens needs an integer >= 1");
            o->hp.max_tokens = (int32_t)n;
        } else if (!strcmp(a, "--max-prompt")) {
            if (cli_parse_i64(v, 1, INT32_MAX, &n))
                return cli_error(CMD, "--max-prompt needs an integer >= 1");
            o->hp.max_prompt = (int32_t)n;
        } else if (!strcmp(a, "--max-connections")) {
            if (cli_parse_i64(v, 1, 65536, &n))
                return cli_error(CMD, "--max-connections needs an integer in [1, 65536]");
            o->hp.max_connections = (int)n;
        } else if (!strcmp(a, "--timeout")) {
            if (cli_parse_i64(v, 1, 86400, &n))
                return cli_error(CMD, "--timeout needs seconds in [1, 86400]");
            o->hp.timeout_s = (int)n;
        } else if (!strcmp(a, "--restart")) {
            if (cli_parse_i64(v, 0, 1000000, &n))
                return cli_error(CMD, "--restart needs an integer >= 0");
            o->hp.max_restarts = (int)n;
        } else if (!strcmp(a, "--health-window-ms")) {
            if (cli_parse_i64(v, 100, 3600000, &n))
                return cli_error(CMD, "--health-window-ms needs an integer in [100, 3600000]");
            o->hp.health_window_ms = (int)n;
        } else if (!strncmp(a, "--", 2)) {
            // A deployment flag: forwarded with its value (the job validates it).
            if (o->n_pass + 2 > MAX_JOB_ARGS - 16) return cli_error(CMD, "too many options");
            o->pass[o->n_pass++] = a;
            o->pass[o->n_pass++] = v;
        } else {
            return cli_error(CMD, "unexpected argument '%s' (see --help)", a);
        }
        i++;
    }
    int64_t n;
    if (o->attn && cli_parse_i64(o->attn, 1, 64, &n))
        return cli_error(CMD, "--attn needs an integer in [1, 64]");
    if (o->moe && cli_parse_i64(o->moe, 1, 64, &n))
        return cli_error(CMD, "--moe needs an integer in [1, 64]");
    if (o->moe && n > 1 && !o->mpi) return cli_error(CMD, "--mono needs --moe 1");
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
    // mpirun -n N+M janus worker -m MODEL --attn N --moe M [flags]. The front appends
    // --socket PATH.
    char *job[MAX_JOB_ARGS];
    char np[32];
    int nj = 0;
    if (o.mpi) {
        int64_t na = 1, nm = 1;
        if (o.attn) (void)cli_parse_i64(o.attn, 1, 64, &na);
        if (o.moe) (void)cli_parse_i64(o.moe, 1, 64, &nm);
        snprintf(np, sizeof np, "%lld", (long long)(na + nm));
        job[nj++] = (char *)(o.mpirun ? o.mpirun : "mpirun");
        job[nj++] = (char *)"--oversubscribe";
        job[nj++] = (char *)"--bind-to";
        job[nj++] = (char *)"none";
        job[nj++] = (char *)"-n";
        job[nj++] = np;
        if (o.hostfile) {
            job[nj++] = (char *)"--hostfile";
            job[nj++] = (char *)o.hostfile;
        }
        for (int i = 0; i < o.n_mpi_args; i++)
            job[nj++] = (char *)o.mpi_args[i];
        // What Open MPI needs to run as root, oversubscribed, on few cores (children only).
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
        setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
        setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    }
    job[nj++] = self;
    job[nj++] = (char *)"worker";
    if (!o.mpi) job[nj++] = (char *)"--mono";
    job[nj++] = (char *)"-m";
    job[nj++] = model;
    if (o.attn) {
        job[nj++] = (char *)"--attn";
        job[nj++] = (char *)o.attn;
    }
    if (o.mpi && o.moe) {
        job[nj++] = (char *)"--moe";
        job[nj++] = (char *)o.moe;
    }
    for (int i = 0; i < o.n_pass; i++)
        job[nj++] = (char *)o.pass[i];
    job[nj] = NULL;
    o.hp.model_path = model;
    o.hp.job_argv = job;

    // Signals: SIGINT/SIGTERM are waited for here; every thread inherits the blocked mask.
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    log_set_identity(-1, "front");

    char err[512] = "";
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
