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
#include "front/autoscale.h"
#include "front/front.h"
#include "front/launch.h"
#include "http/http.h"
#include "model/gguf.h"
#include "model/hparams.h"
#include "sim/catalog.h"
#include "sim/hw.h"
#include "sim/planner.h"

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
    {"sums", "S", "MPI only: fixed (default: expert-id order, same tokens) or grouped"},
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
    // --autoscale (issue 16 item 3)
    int autoscale;
    double as_interval_s, as_dwell_s, slo_tpot_ms;
    int32_t as_persist, as_min_attn, as_max_attn, as_min_moe, as_max_moe;
    const char *as_hw, *data_dir;
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
    o->as_interval_s = 10;
    o->as_dwell_s = 60;
    o->slo_tpot_ms = 200;
    o->as_persist = 3;
    o->as_min_attn = o->as_min_moe = 1;
    o->as_max_attn = o->as_max_moe = 2;
    o->as_hw = "cpu-local";
    struct http_params *hp = &o->hp;
    struct cli_opt opts[52 + N_FWD] = {
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
        CLI_OPT_FLAG("autoscale", 0, &o->autoscale,
                     "rescale (n_attn, n_moe) live to the planner's shape for the\n"
                     "measured load (docs/HTTP.md \"Autoscaler\")"),
        CLI_OPT_F64("autoscale-interval", 0, &o->as_interval_s, 0.1, 86400, "S",
                    "seconds between autoscaler evaluations (default 10)"),
        CLI_OPT_I32("autoscale-persist", 0, &o->as_persist, 1, 1000, "N",
                    "rescale once the same shape was recommended N times in a row\n(default 3)"),
        CLI_OPT_F64("autoscale-dwell", 0, &o->as_dwell_s, 0, 86400, "S",
                    "at least S seconds between two rescales (default 60)"),
        CLI_OPT_I32("autoscale-min-attn", 0, &o->as_min_attn, 1, 64, "N",
                    "fewest attention instances (default 1)"),
        CLI_OPT_I32("autoscale-max-attn", 0, &o->as_max_attn, 1, 64, "N",
                    "most attention instances (default 2)"),
        CLI_OPT_I32("autoscale-min-moe", 0, &o->as_min_moe, 1, 64, "N",
                    "fewest MoE instances (default 1)"),
        CLI_OPT_I32("autoscale-max-moe", 0, &o->as_max_moe, 1, 64, "N",
                    "most MoE instances (default 2; --mono: 1)"),
        CLI_OPT_F64("slo-tpot-ms", 0, &o->slo_tpot_ms, 0.01, 1e7, "MS",
                    "the autoscaler's TPOT SLO in milliseconds (default 200)"),
        CLI_OPT_STR("autoscale-hw", 0, &o->as_hw, "H",
                    "the planner's hardware profile (default cpu-local: this machine,\n"
                    "data/hw/H.json)"),
        CLI_OPT_STR("data-dir", 0, &o->data_dir, "D",
                    "the planner's catalogue directory (default: $JANUS_DATA_DIR,\n"
                    "./data, <exe>/../data)"),
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
    if (o->autoscale && !o->mpi) o->as_max_moe = o->as_min_moe = 1; // one MoE instance
    if (o->as_min_attn > o->as_max_attn || o->as_min_moe > o->as_max_moe)
        return cli_error(CMD, "--autoscale-min-attn/--autoscale-min-moe must not exceed the "
                              "maxima");
    return 0;
}

// The job command of one deployment shape: janus serve's own at start, another shape's for a
// live rescale (front_params.job_build). The counts given at start are passed as given (none
// when the defaults were taken); a rescale always names them.
struct job_ctx {
    struct serve_opts *o;
    const char *model;
    int first; // building the start-up command
};

static int build_job(void *ctx, int n_attn, int n_moe, char ***argv_out, char *err,
                     size_t err_len) {
    struct job_ctx *jc = ctx;
    struct serve_opts *o = jc->o;
    *argv_out = NULL;
    if (!o->mpi && n_moe != 1)
        return status_errf(err, err_len, JANUS_EUNSUPPORTED,
                           "a --mono deployment has exactly one MoE instance (serve with --mpi "
                           "to change the MoE count)");
    char na[24], nm[24];
    snprintf(na, sizeof na, "%d", n_attn);
    snprintf(nm, sizeof nm, "%d", n_moe);
    const char *args[JANUS_ARRAY_SIZE(o->fwd.argv) + 16];
    int n = 0;
    args[n++] = "worker";
    if (!o->mpi) args[n++] = "--mono";
    args[n++] = "-m";
    args[n++] = jc->model;
    if (o->n_attn || !jc->first) {
        args[n++] = "--attn";
        args[n++] = na;
    }
    if (o->mpi && (o->n_moe || !jc->first)) {
        args[n++] = "--moe";
        args[n++] = nm;
    }
    for (int i = 0; i < o->fwd.argc; i++)
        args[n++] = o->fwd.argv[i];
    struct launch_spec spec = {.mpi = o->mpi,
                               .n_ranks = n_attn + n_moe,
                               .mpirun = o->launcher.mpirun,
                               .hostfile = o->launcher.hostfile,
                               .mpi_args = o->launcher.args,
                               .n_mpi_args = o->launcher.n_args,
                               .args = args,
                               .n_args = n};
    struct launch_argv *job = mem_calloc(MEM_TAG_SERVER, 1, sizeof *job); // large (PATH_MAX)
    if (!job) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    int rc = launch_build(job, &spec, err, err_len);
    char **argv = rc ? NULL : mem_calloc(MEM_TAG_SERVER, (size_t)job->n + 1, sizeof *argv);
    for (int i = 0; argv && i < job->n; i++)
        if (!(argv[i] = mem_strdup(MEM_TAG_SERVER, job->argv[i]))) {
            front_free_argv(argv);
            argv = NULL;
        }
    mem_free(job);
    if (rc) return rc;
    if (!argv) return status_errf(err, err_len, JANUS_ENOMEM, "out of memory");
    *argv_out = argv;
    return JANUS_OK;
}

// The model's shape for the planner (scale/shape.h) from the GGUF's hyperparameters: the
// autoscaler asks the planner about the model it serves. Bytes per weight: the file's size
// over the parameter count (the weights' storage, quantized or not).
static int model_shape(const char *path, struct models_shape *m, char *err, size_t err_len) {
    struct gguf g;
    char e[JANUS_ERR_LEN];
    int rc = gguf_open(&g, path, e, sizeof e);
    if (rc) return status_errf(err, err_len, rc, "%s: %s", path, e);
    struct hparams hp;
    rc = hparams_load(&hp, &g, e, sizeof e);
    int tied = !gguf_find_tensor(&g, "output.weight");
    gguf_close(&g);
    if (rc) return status_errf(err, err_len, rc, "%s: %s", path, e);
    if (hp.n_expert <= 0)
        return status_errf(err, err_len, JANUS_EUNSUPPORTED,
                           "%s: --autoscale needs a mixture-of-experts model", path);
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "served");
    snprintf(m->name, sizeof m->name, "%.120s", path);
    snprintf(m->source, sizeof m->source, "GGUF hyperparameters of %.700s", path);
    m->n_layers = (int)hp.n_layer;
    m->n_dense_layers = (int)hp.n_dense_lead;
    m->d_model = (int)hp.n_embd;
    m->vocab = (int)hp.n_vocab;
    m->tied_embeddings = tied;
    m->attn = hp.kv_lora > 0 ? MODELS_ATTN_MLA : MODELS_ATTN_GQA;
    m->n_heads = (int)hp.n_head;
    m->n_kv_heads = (int)hp.n_head_kv;
    m->head_dim = (int)hp.head_dim_k;
    if (m->attn == MODELS_ATTN_MLA) {
        m->q_lora_rank = (int)hp.q_lora;
        m->kv_lora_rank = (int)hp.kv_lora;
        m->qk_rope_dim = (int)hp.qk_rope;
        m->qk_nope_dim = (int)hp.qk_nope;
        m->v_head_dim = (int)hp.v_head;
    }
    m->n_experts = (int)hp.n_expert;
    m->top_k = (int)hp.n_expert_used;
    m->expert_ff = (int)hp.n_ff_exp;
    m->n_shared = hp.n_expert_shared > 0 ? (int)hp.n_expert_shared
                  : hp.n_ff_shexp > 0 && hp.n_ff_exp > 0
                      ? (int)((hp.n_ff_shexp + hp.n_ff_exp - 1) / hp.n_ff_exp)
                      : 0;
    m->dense_ff = (int)(hp.n_ff > 0 ? hp.n_ff : hp.n_ff_exp);
    m->kv_bytes_per_elem = 4; // the default f32 KV cache
    struct stat sb;
    double params = shape_total_params(m);
    m->bytes_per_weight = stat(path, &sb) == 0 && params > 0 ? (double)sb.st_size / params : 2;
    return JANUS_OK;
}

// The planner the autoscaler asks (Janus's system only; tables for up to max_attn + max_moe
// devices). JANUS_OK or an error in err.
static int autoscale_planner(const struct serve_opts *o, const char *model, struct planner *pl,
                             char *err, size_t err_len) {
    struct models_shape m;
    int rc = model_shape(model, &m, err, err_len);
    if (rc) return rc;
    char dir[4096];
    if (o->data_dir)
        snprintf(dir, sizeof dir, "%s", o->data_dir);
    else if (catalog_data_dir(dir, sizeof dir))
        return status_errf(err, err_len, JANUS_ENOTFOUND,
                           "--autoscale: the data directory was not found (set JANUS_DATA_DIR "
                           "or --data-dir)");
    struct hw_profile hw;
    rc = hw_load(dir, o->as_hw, &hw, err, err_len);
    if (rc) return rc;
    struct latency_coef c;
    latency_coef_default(&c);
    struct planner_options po;
    planner_default_options(&po);
    po.max_gpus = o->as_max_attn + o->as_max_moe;
    po.systems = 1u << BASELINES_JANUS;
    po.cache_dir = NULL;
    return planner_init(pl, &m, &hw, &c, &po, err, err_len);
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
    // front appends --socket PATH. A live rescale builds the same command for another shape.
    static struct job_ctx jc;
    jc.o = &o;
    jc.model = model;
    jc.first = 1;
    char err[JANUS_ERR_LEN] = "";
    char **job_argv = NULL;
    if (build_job(&jc, (int)(o.n_attn ? o.n_attn : 1), (int)(o.n_moe ? o.n_moe : 1), &job_argv, err,
                  sizeof err))
        return cli_error(CMD, "%s", err);
    jc.first = 0;
    o.hp.model_path = model;
    o.hp.job_argv = job_argv; // (freed after http_stop)
    o.hp.job_mpi = o.mpi;
    o.hp.job_build = build_job;
    o.hp.job_build_ctx = &jc;
    static struct planner pl; // large; lives as long as the server
    struct autoscale_params ap;
    if (o.autoscale) {
        if (autoscale_planner(&o, model, &pl, err, sizeof err)) {
            front_free_argv(job_argv);
            return cli_error(CMD, "--autoscale: %s", err);
        }
        memset(&ap, 0, sizeof ap);
        ap.interval_s = o.as_interval_s;
        ap.slo_tpot_s = o.slo_tpot_ms * 1e-3;
        ap.policy.persist = o.as_persist;
        ap.policy.dwell_s = o.as_dwell_s;
        ap.bounds =
            (struct autoscale_bounds){o.as_min_attn, o.as_max_attn, o.as_min_moe, o.as_max_moe};
        ap.planner = &pl;
        o.hp.autoscale = &ap;
    }

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
    if (rc) {
        if (o.autoscale) planner_free(&pl);
        front_free_argv(job_argv);
        return cli_error(CMD, "%s", err[0] ? err : janus_strerror(rc));
    }
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
    if (o.autoscale) planner_free(&pl);
    front_free_argv(job_argv);
    if (draining) fprintf(stderr, "janus serve: stopped\n");
    return ret;
}
