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

// Every option any worker mode understands; modes ignore what they do not use.
struct worker_opts {
    int mono;
    const char *model, *socket;
    int64_t n_attn, n_moe, max_seqs, n_ctx, budget, max_waiting, n_threads, heartbeat_ms;
    int64_t step_delay_ms;
    struct load_opts lo;
    int32_t kv_type, matmul;
};

static const char *const SYNOPSIS =
    "worker --mono -m MODEL --socket PATH [options]\n\n"
    "(internal) the job side of `janus serve` / `janus run`: connects to the front's socket,\n"
    "announces the deployment and runs the controller loop. Without --mono: one MPI rank\n"
    "(below).\n";

// Parses into o; with help set, prints the usage instead and returns -1.
static int parse(int argc, char **argv, struct worker_opts *o, int help) {
    *o = (struct worker_opts){.n_attn = 1,
                              .n_moe = 1,
                              .max_seqs = 32,
                              .budget = 256,
                              .max_waiting = 256,
                              .n_threads = 1,
                              .heartbeat_ms = 1000};
    load_opts_init(&o->lo);
    const struct cli_opt opts[] = {
        CLI_OPT_FLAG("mono", 0, &o->mono, "controller and monolithic engine in this one process"),
        CLI_OPT_STR("model", 'm', &o->model, "FILE", "GGUF model"),
        CLI_OPT_STR("socket", 0, &o->socket, "PATH", "the front's Unix socket"),
        CLI_OPT_I64("attn", 0, &o->n_attn, 1, LIMIT_MAX_INSTANCES, "N",
                    "attention instances (local batches per step; default 1)"),
        CLI_OPT_I64("moe", 0, &o->n_moe, 1, LIMIT_MAX_INSTANCES, "M",
                    "MoE instances (MPI mode; ignored with --mono)"),
        CLI_OPT_I64("max-seqs", 0, &o->max_seqs, 1, LIMIT_MAX_SEQS, "N",
                    "KV slots per attention instance (default 32)"),
        CLI_OPT_I64("ctx", 0, &o->n_ctx, 2, LIMIT_MAX_CONTEXT, "N",
                    "positions per request (default: model's, at most 4096)"),
        CLI_OPT_I64("budget", 0, &o->budget, 1, LIMIT_MAX_STEP_ROWS, "N",
                    "per-step token budget per attention instance (default 256)"),
        CLI_OPT_I64("max-waiting", 0, &o->max_waiting, 0, 1 << 20, "N",
                    "waiting-queue bound; beyond it requests are refused (256)"),
        CLI_OPT_I64("threads", 0, &o->n_threads, 1, 1024, "N", "engine threads (default 1)"),
        CLI_OPT_FN("kv-type", 0, cli_opt_kv_type, &o->kv_type, "T",
                   "KV cache storage: f32 (default), f16, q8_0"),
        CLI_OPT_FN("matmul", 0, cli_opt_matmul, &o->matmul, CLI_MATMUL_ARG, CLI_MATMUL_HELP),
        CLI_OPT_I64("heartbeat-ms", 0, &o->heartbeat_ms, 10, 3600000, "N",
                    "idle heartbeat step period (default 1000)"),
        CLI_OPT_I64("step-delay-ms", 0, &o->step_delay_ms, 0, 60000, "N",
                    "testing: sleep N ms before every step (default 0)"),
        CLI_OPT_TABLE(o->lo.table),
        CLI_OPT_END};
    if (help) {
        cli_opts_help(stdout, SYNOPSIS, opts, NULL);
        return -1;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    if (!o->model) return cli_error(CMD, "missing -m MODEL");
    if (!o->socket) return cli_error(CMD, "missing --socket PATH");
    if (o->budget < o->max_seqs)
        return cli_error(CMD, "--budget (%lld) must be >= --max-seqs (%lld)", (long long)o->budget,
                         (long long)o->max_seqs);
    return 0;
}

int cmd_worker(int argc, char **argv) {
    struct worker_opts o;
    if (cli_wants_help(argc, argv)) {
        (void)parse(argc, argv, &o, 1);
        printf("\n");
        return cmd_worker_mpi(argc, argv); // prints the MPI mode's usage
    }
    int mono = 0;
    for (int i = 1; i < argc; i++)
        mono |= !strcmp(argv[i], "--mono");
    if (!mono) return cmd_worker_mpi(argc, argv); // MPI mode: cli/cmd_worker_mpi.c
    if (parse(argc, argv, &o, 0)) return 1;
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
                                  .kv_type = o.kv_type,
                                  .matmul = o.matmul};
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
