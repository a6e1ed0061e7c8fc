// janus worker: the job side of a deployment (SPEC §2), started by `janus serve` (and later
// `janus run`), never by hand in normal use. It connects to the front's Unix socket and
// runs the controller loop (runtime/controller.h) over an executor:
//   --mono   one process: controller + the monolithic engine (runtime/exec_mono.c)
//   (MPI)    one rank each; rank 0 = controller + attention instance 0 (cmd_worker_mpi.c)
// Options are parsed once into struct worker_opts so each mode reads the same fields.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "load_opts.h"

#include "base/limits.h"
#include "base/log.h"
#include "base/status.h"
#include "runtime/controller.h"
#include "runtime/exec.h"
#include "model/vocab.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define CMD "worker"

static void usage(FILE *f) {
    fprintf(f, "usage: janus worker --mono -m MODEL --socket PATH [options]\n"
               "  (internal) the job side of `janus serve`: connects to the front's socket,\n"
               "  announces the deployment and runs the controller loop.\n"
               "  --mono               controller and monolithic engine in this one process\n"
               "  -m, --model FILE     GGUF model\n"
               "  --socket PATH        the front's Unix socket\n"
               "  --attn N             attention instances (local batches per step; default 1)\n"
               "  --max-seqs N         KV slots per attention instance (default 32)\n"
               "  --ctx N              positions per request (default: model's, at most 4096)\n"
               "  --budget N           per-step token budget per attention instance (default 256)\n"
               "  --max-waiting N      waiting-queue bound; beyond it requests are refused (256)\n"
               "  --threads N          engine threads (default 1)\n"
               "  --kv-type T          KV cache storage: f32 (default), f16, q8_0\n"
               "  --heartbeat-ms N     idle heartbeat step period (default 1000)\n"
               "  --step-delay-ms N    testing: sleep N ms before every step (default 0)\n");
    fputs(LOAD_OPTS_USAGE, f);
}

// Every option any worker mode understands; modes ignore what they do not use.
struct worker_opts {
    int mono;
    const char *model, *socket;
    int64_t n_attn, n_moe, max_seqs, n_ctx, budget, max_waiting, n_threads, heartbeat_ms;
    int64_t step_delay_ms;
    struct load_opts lo;
    int32_t kv_type;
};

static int parse(int argc, char **argv, struct worker_opts *o) {
    *o = (struct worker_opts){.n_attn = 1,
                              .n_moe = 1,
                              .max_seqs = 32,
                              .budget = 256,
                              .max_waiting = 256,
                              .n_threads = 1,
                              .heartbeat_ms = 1000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        int64_t *num = NULL, lo = 0, hi = 0;
        if (!strcmp(a, "--mono")) {
            o->mono = 1;
            takes = 0;
        } else if (load_opts_flag(&o->lo, a)) {
            takes = 0;
        } else if (!v) {
            return cli_error(CMD, "unknown argument '%s' or missing value (see --help)", a);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            o->model = v;
        } else if (!strcmp(a, "--socket")) {
            o->socket = v;
        } else if (!strcmp(a, "--kv-type")) {
            if (cli_opt_kv_type(&o->kv_type, v, CMD)) return 1;
        } else if (!strcmp(a, "--attn")) {
            num = &o->n_attn, lo = 1, hi = LIMIT_MAX_INSTANCES;
        } else if (!strcmp(a, "--moe")) {
            num = &o->n_moe, lo = 1, hi = LIMIT_MAX_INSTANCES;
        } else if (!strcmp(a, "--max-seqs")) {
            num = &o->max_seqs, lo = 1, hi = LIMIT_MAX_SEQS;
        } else if (!strcmp(a, "--ctx")) {
            num = &o->n_ctx, lo = 2, hi = LIMIT_MAX_CONTEXT;
        } else if (!strcmp(a, "--budget")) {
            num = &o->budget, lo = 1, hi = LIMIT_MAX_STEP_ROWS;
        } else if (!strcmp(a, "--max-waiting")) {
            num = &o->max_waiting, lo = 0, hi = 1 << 20;
        } else if (!strcmp(a, "--threads")) {
            num = &o->n_threads, lo = 1, hi = 1024;
        } else if (!strcmp(a, "--step-delay-ms")) {
            num = &o->step_delay_ms, lo = 0, hi = 60000;
        } else if (!strcmp(a, "--heartbeat-ms")) {
            num = &o->heartbeat_ms, lo = 10, hi = 3600000;
        } else {
            return cli_error(CMD, "unknown argument '%s' (see --help)", a);
        }
        if (num && cli_parse_i64(v, lo, hi, num))
            return cli_error(CMD, "%s needs an integer in [%lld, %lld]", a, (long long)lo,
                             (long long)hi);
        i += takes;
    }
    if (!o->model) return cli_error(CMD, "missing -m MODEL");
    if (!o->socket) return cli_error(CMD, "missing --socket PATH");
    if (o->budget < o->max_seqs)
        return cli_error(CMD, "--budget (%lld) must be >= --max-seqs (%lld)", (long long)o->budget,
                         (long long)o->max_seqs);
    return 0;
}

int cmd_worker(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        printf("\n");
        return cmd_worker_mpi(argc, argv); // prints the MPI mode's usage
    }
    int mono = 0;
    for (int i = 1; i < argc; i++)
        mono |= !strcmp(argv[i], "--mono");
    if (!mono) return cmd_worker_mpi(argc, argv); // MPI mode: cli/cmd_worker_mpi.c
    struct worker_opts o;
    if (parse(argc, argv, &o)) return 1;
    struct fmap_opts io;
    if (load_opts_finish(&o.lo, CMD, &io)) return 1;
    signal(SIGPIPE, SIG_IGN);
    log_set_identity(0, "ctl");
    char err[JANUS_ERR_LEN] = "";
    struct exec *e = NULL;
    struct exec_mono_params mp = {.model_path = o.model,
                                  .io = io,
                                  .n_threads = (int32_t)o.n_threads,
                                  .n_attn = (int32_t)o.n_attn,
                                  .max_seqs = (int32_t)o.max_seqs,
                                  .max_rows = (int32_t)o.budget,
                                  .n_ctx = (int32_t)o.n_ctx,
                                  .kv_type = o.kv_type};
    int rc = exec_mono_create(&mp, &e, err, sizeof err);
    if (rc) return cli_error(CMD, "%s: %s", o.model, err[0] ? err : janus_strerror(rc));
    struct ctl_params cp;
    ctl_default_params(&cp);
    cp.socket_path = o.socket;
    cp.token_budget = (int32_t)o.budget;
    cp.max_waiting = o.max_waiting == 0 ? -1 : (int32_t)o.max_waiting;
    cp.eos_token = vocab_file_eos(o.model);
    cp.heartbeat_ms = (int32_t)o.heartbeat_ms;
    cp.step_delay_ms = (int32_t)o.step_delay_ms;
    rc = ctl_run(e, &cp, err, sizeof err);
    exec_destroy(&e);
    if (rc) return cli_error(CMD, "%s", err[0] ? err : janus_strerror(rc));
    return 0;
}
