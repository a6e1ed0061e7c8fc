// janus worker (MPI mode): one rank of a disaggregated deployment, started by mpirun from
// `janus run` / `janus serve` (SPEC §2). Every rank calls worker_mpi_start; rank 0 (the
// controller + attention instance 0) then connects to the front's socket and runs the
// controller loop (runtime/controller.h) over the MPI executor; the other ranks run their worker
// loops. cmd_worker.c hands over here when --mono is absent.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "load_opts.h"

#include "actsched/actsched.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/status.h"
#include "comm/comm.h"
#include "place/drift.h"
#include "runtime/controller.h"
#include "runtime/worker_mpi.h"
#include "runtime/worker_stats.h"
#include "model/vocab.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "worker"

struct mpi_opts {
    struct worker_mpi_params p;
    const char *socket, *stats_out;
    int64_t budget, max_waiting, heartbeat_ms, step_delay_ms;
    int no_calibrate, check_schedule, no_check_schedule;
    struct load_opts lo;
    struct drift_policy drift;
    int64_t drift_check, drift_min;
};

static int opt_policy(void *target, const char *v, const char *cmd) {
    enum actsched_policy pol;
    if (actsched_policy_parse(v, &pol))
        return cli_error(cmd,
                         "--policy: unknown '%s' (greedy, optimal, random, round-robin, "
                         "token-balanced, first)",
                         v);
    *(int32_t *)target = (int32_t)pol;
    return 0;
}

static int opt_comm(void *target, const char *v, const char *cmd) {
    int32_t s;
    if (!strcmp(v, "auto"))
        s = WORKER_COMM_AUTO;
    else if (xfer_scheme_parse(v, &s) != JANUS_OK)
        return cli_error(cmd, "--comm: unknown '%s' (1pc, 2pc1, 2pc2, auto)", v);
    *(int32_t *)target = s;
    return 0;
}

static int opt_dispatch(void *target, const char *v, const char *cmd) {
    int32_t m;
    if (!strcmp(v, "auto"))
        m = WORKER_DISPATCH_AUTO;
    else if (xfer_mode_parse(v, &m) != JANUS_OK)
        return cli_error(cmd, "--dispatch: unknown '%s' (broadcast, selective, auto)", v);
    *(int32_t *)target = m;
    return 0;
}

static int opt_sums(void *target, const char *v, const char *cmd) {
    if (!strcmp(v, "fixed"))
        *(int32_t *)target = WORKER_SUMS_FIXED;
    else if (!strcmp(v, "grouped"))
        *(int32_t *)target = WORKER_SUMS_GROUPED;
    else
        return cli_error(cmd, "--sums: unknown '%s' (fixed, grouped)", v);
    return 0;
}

static const char *const SYNOPSIS =
    "worker -m MODEL --socket PATH --attn N --moe M [options]   (under mpirun -n N+M)\n\n"
    "(internal) one MPI rank of a deployment; rank 0 is the controller and attention\n"
    "instance 0, ranks 1..N-1 attention instances, N..N+M-1 MoE instances. Each rank loads\n"
    "its share: attention ranks the non-expert weights, MoE ranks the routers and the\n"
    "expert slabs their layout assigns.\n";

// Parses into o; with help set, prints the usage instead and returns -1.
static int parse(int argc, char **argv, struct mpi_opts *o, int help) {
    memset(o, 0, sizeof *o);
    worker_mpi_default_params(&o->p);
    o->budget = 256;
    o->max_waiting = 256;
    o->heartbeat_ms = 1000;
    load_opts_init(&o->lo);
    drift_default_policy(&o->drift);
    o->drift_check = (int64_t)o->drift.check_steps;
    o->drift_min = (int64_t)o->drift.min_steps;
    struct worker_mpi_params *p = &o->p;
    const struct cli_opt opts[] = {
        CLI_OPT_STR("model", 'm', &p->model_path, "FILE", "GGUF model"),
        CLI_OPT_STR("socket", 0, &o->socket, "PATH", "the front's Unix socket"),
        CLI_OPT_I32("attn", 0, &p->n_attn, 1, LIMIT_MAX_INSTANCES, "N", "attention instances"),
        CLI_OPT_I32("moe", 0, &p->n_moe, 1, LIMIT_MAX_INSTANCES, "M", "MoE instances"),
        CLI_OPT_I32("slots", 0, &p->n_slots, 1, LIMIT_MAX_SLOTS, "C",
                    "expert slots per MoE instance (default: E if M = 1, else\n"
                    "ceil(E/M)+1; replicas fill the free slots round-robin)"),
        CLI_OPT_STR("layout", 0, &p->layout_path, "FILE",
                    "replica layout JSON (janus place) instead of round-robin"),
        CLI_OPT_FN("policy", 0, opt_policy, &p->policy, "P",
                   "greedy|optimal|random|round-robin|token-balanced|first"),
        CLI_OPT_FN("comm", 0, opt_comm, &p->comm, "S",
                   "1pc|2pc1|2pc2|auto (default auto: cost model per step)"),
        CLI_OPT_FN("dispatch", 0, opt_dispatch, &p->dispatch, "D",
                   "broadcast|selective|auto (default auto: cost model per step)"),
        CLI_OPT_FN("sums", 0, opt_sums, &p->sums, "S",
                   "fixed|grouped: a token's expert outputs summed in expert-id order wherever "
                   "they ran (default fixed: the monolithic bits; selective dispatch with "
                   "several MoE instances) or per instance first (broadcast allowed)"),
        CLI_OPT_STR("comm-cost", 0, &p->comm_cost, "SPEC",
                    "cost overrides: cross_lat_us=,cross_gbps=,local_lat_us=,local_gbps="),
        CLI_OPT_I32("node-size", 0, &p->node_size, 0, LIMIT_MAX_INSTANCES, "K",
                    "emulated nodes of K ranks per role (0: real hosts; default 1)"),
        CLI_OPT_FLAG("no-calibrate", 0, &o->no_calibrate,
                     "skip the start-up ping-pong (defaults + --comm-cost)"),
        CLI_OPT_FLAG("check-schedule", 0, &o->check_schedule,
                     "debug/test: MoE ranks compare the activation schedule digest\n"
                     "on every MoE layer (an allreduce; off by default)"),
        CLI_OPT_FLAG("no-check-schedule", 0, &o->no_check_schedule,
                     "leave the comparison off (the default)"),
        CLI_OPT_I32("max-seqs", 0, &p->max_seqs, 1, LIMIT_MAX_SEQS, "N",
                    "KV slots per attention instance"),
        CLI_OPT_I32("ctx", 0, &p->n_ctx, 2, LIMIT_MAX_CONTEXT, "N",
                    "positions per request (default: model's, at most 4096)"),
        CLI_OPT_I64("budget", 0, &o->budget, 1, LIMIT_MAX_STEP_ROWS, "N",
                    "per-step token budget per attention instance (default 256)"),
        CLI_OPT_I64("max-waiting", 0, &o->max_waiting, 0, 1 << 20, "N",
                    "waiting-queue bound (default 256)"),
        CLI_OPT_I32("threads", 0, &p->n_threads, 1, 1024, "N", "engine threads per rank"),
        CLI_OPT_I64("heartbeat-ms", 0, &o->heartbeat_ms, 10, 3600000, "N",
                    "idle heartbeat step period (default 1000)"),
        CLI_OPT_I64("step-delay-ms", 0, &o->step_delay_ms, 0, 60000, "N",
                    "testing: sleep N ms before every step (default 0)"),
        CLI_OPT_I64("seed", 0, &p->seed, 0, 9e18, "N", "seed of the random policy"),
        CLI_OPT_FN("kv-type", 0, cli_opt_kv_type, &p->kv_type, "T",
                   "attention ranks' KV cache: f32 (default), f16, q8_0"),
        CLI_OPT_FN("matmul", 0, cli_opt_matmul, &p->matmul, CLI_MATMUL_ARG,
                   CLI_MATMUL_HELP "\n(every rank must have the same)"),
        CLI_OPT_I64("stats-half-life", 0, &p->stats_half_life, 1, 1LL << 40, "N",
                    "expert statistics decay by half over N steps with tokens\n"
                    "(default: 0.999 per step, about 693)"),
        CLI_OPT_F64("replace-drift", 0, &o->drift.threshold, 0, 1, "X",
                    "re-place the experts live when the predicted a_max would\n"
                    "improve by X (a fraction, e.g. 0.1) or more (default 0: off)"),
        CLI_OPT_I64("replace-check-steps", 0, &o->drift_check, 1, 1LL << 40, "K",
                    "with --replace-drift: evaluate every K steps (default 256)"),
        CLI_OPT_I64("replace-min-steps", 0, &o->drift_min, 0, 1LL << 40, "H",
                    "with --replace-drift: at least H steps between re-placements\n"
                    "(default 1024)"),
        CLI_OPT_STR("layout-carry", 0, &p->layout_carry, "FILE",
                    "(the front) keep a re-placed layout in FILE; start from it when\n"
                    "it holds one of this deployment's shape"),
        CLI_OPT_STR("stats-out", 0, &o->stats_out, "FILE",
                    "at shutdown write the per-layer report (worker_stats.h)"),
        CLI_OPT_STR("expert-stats-out", 0, &p->expert_stats_out, "FILE",
                    "at shutdown write the activation statistics (janus-stats JSON)"),
        CLI_OPT_STR("logits-out", 0, &p->logits_out, "FILE",
                    "write the logits of the first sampled row (float32)"),
        CLI_OPT_TABLE(o->lo.table),
        CLI_OPT_END};
    if (help) {
        cli_opts_help(stdout, SYNOPSIS, opts, NULL);
        return -1;
    }
    if (cli_opts_parse(CMD, opts, argc, argv)) return 1;
    p->calibrate = !o->no_calibrate;
    p->check_schedule = o->check_schedule;
    if (!p->model_path) return cli_error(CMD, "missing -m MODEL");
    if (!o->socket) return cli_error(CMD, "missing --socket PATH");
    if (o->budget < p->max_seqs)
        return cli_error(CMD, "--budget (%lld) must be >= --max-seqs (%d)", (long long)o->budget,
                         p->max_seqs);
    p->max_rows = (int32_t)o->budget;
    return load_opts_finish(&o->lo, CMD, &p->io);
}

// ctl_params.watch_start/stop: rank 0 names the ranks (and hosts) whose wake-up connection
// breaks, through the front (issue 18 item 4: a link that fails).
static int watch_peers(void *e, void (*report)(void *r, const char *why), void *r) {
    return worker_mpi_watch_peers(e, report, r);
}
static void unwatch_peers(void *e) { worker_mpi_unwatch_peers(e); }

int cmd_worker_mpi(int argc, char **argv) {
    struct mpi_opts o;
    if (cli_wants_help(argc, argv)) {
        (void)parse(argc, argv, &o, 1);
        return 0;
    }
    if (parse(argc, argv, &o, 0)) return 1;
    signal(SIGPIPE, SIG_IGN);
    if (comm_init(&argc, &argv) != JANUS_OK) return cli_error(CMD, "MPI failed to start");
    int rank = comm_world_rank();
    o.p.io.progress = rank == 0; // one progress line on a shared terminal
    char err[JANUS_ERR_LEN] = "";
    struct exec *e = NULL;
    int rc = worker_mpi_start(&o.p, &e, err, sizeof err);
    if (rc) {
        if (rank == 0) cli_error(CMD, "%s", err);
        comm_finalize();
        return 1;
    }
    if (!e) { // a worker rank: its loop ended with the deployment
        comm_finalize();
        return 0;
    }
    struct ctl_params cp;
    ctl_default_params(&cp);
    cp.socket_path = o.socket;
    cp.token_budget = (int32_t)o.budget;
    cp.max_waiting = o.max_waiting == 0 ? -1 : (int32_t)o.max_waiting;
    cp.eos_token = vocab_file_eos(o.p.model_path);
    cp.heartbeat_ms = (int32_t)o.heartbeat_ms;
    cp.step_delay_ms = (int32_t)o.step_delay_ms;
    cp.step_log = getenv("JANUS_STEP_LOG"); // measurement: scripts/measure-replace.sh
    cp.drift = o.drift;
    cp.drift.check_steps = (uint64_t)o.drift_check;
    cp.drift.min_steps = (uint64_t)o.drift_min;
    struct fdwatch lifeline = {0}; // rank 0 ends the job if the front goes and it is stuck
    cp.lifeline = &lifeline;
    cp.watch_start = watch_peers;
    cp.watch_stop = unwatch_peers;
    cp.watch_cookie = e;
    rc = ctl_run(e, &cp, err, sizeof err);
    if (rc == JANUS_OK && o.stats_out) {
        static struct worker_stats r; // large (arrays sized by base/limits.h)
        if (worker_stats_report(e, &r) == JANUS_OK) {
            FILE *f = fopen(o.stats_out, "w");
            if (f) {
                worker_stats_print(&r, f);
                fclose(f);
            } else {
                LOG_ERROR("cannot write %s", o.stats_out);
            }
        }
    }
    exec_destroy(&e); // ends every worker loop (or aborts the job after a failure)
    comm_finalize();
    fdwatch_stop(&lifeline);
    if (rc) return cli_error(CMD, "%s", err[0] ? err : janus_strerror(rc));
    return 0;
}
