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
#include "runtime/controller.h"
#include "runtime/worker_mpi.h"
#include "runtime/worker_stats.h"
#include "model/vocab.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define CMD "worker"

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: mpirun -n N+M janus worker -m MODEL --socket PATH --attn N --moe M [options]\n"
        "  (internal) one MPI rank of a deployment; rank 0 is the controller and attention\n"
        "  instance 0, ranks 1..N-1 attention instances, N..N+M-1 MoE instances.\n"
        "  --slots C            expert slots per MoE instance (default: E if M = 1, else\n"
        "                       ceil(E/M)+1; replicas fill the free slots round-robin)\n"
        "  --layout FILE        replica layout JSON (janus place) instead of round-robin\n"
        "  --policy P           greedy|optimal|random|round-robin|token-balanced|first\n"
        "  --comm S             1pc|2pc1|2pc2|auto (default auto: cost model per step)\n"
        "  --comm-cost SPEC     cost overrides: "
        "cross_lat_us=,cross_gbps=,local_lat_us=,local_gbps=\n"
        "  --node-size K        emulated nodes of K ranks per role (0: real hosts; default 1)\n"
        "  --no-calibrate       skip the start-up ping-pong (defaults + --comm-cost)\n"
        "  --check-schedule     debug/test: MoE ranks compare the activation schedule digest\n"
        "                       on every MoE layer (an allreduce; off by default)\n"
        "  --no-check-schedule  leave the comparison off (the default)\n"
        "  --max-seqs N --ctx N --budget N --max-waiting N --threads N --heartbeat-ms N --seed N\n"
        "  --kv-type T          attention ranks' KV cache: f32 (default), f16, q8_0\n"
        "  --stats-out FILE     at shutdown write the per-layer report (worker_stats.h)\n"
        "  --logits-out FILE    write the logits of the first sampled row (float32)\n"
        "  (each rank loads its share: attention ranks the non-expert weights, MoE ranks the\n"
        "  routers and the expert slabs their layout assigns)\n" LOAD_OPTS_USAGE);
}

struct mpi_opts {
    struct worker_mpi_params p;
    const char *socket, *stats_out;
    int64_t budget, max_waiting, heartbeat_ms;
    struct load_opts lo;
};

static int parse(int argc, char **argv, struct mpi_opts *o) {
    worker_mpi_default_params(&o->p);
    memset(&o->lo, 0, sizeof o->lo);
    o->socket = o->stats_out = NULL;
    o->budget = 256;
    o->max_waiting = 256;
    o->heartbeat_ms = 1000;
    int64_t v64 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--no-calibrate")) {
            o->p.calibrate = 0;
            takes = 0;
        } else if (load_opts_flag(&o->lo, a)) {
            takes = 0;
        } else if (!strcmp(a, "--check-schedule") || !strcmp(a, "--no-check-schedule")) {
            o->p.check_schedule = a[2] == 'c';
            takes = 0;
        } else if (!v) {
            return cli_error(CMD, "unknown argument '%s' or missing value (see --help)", a);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            o->p.model_path = v;
        } else if (!strcmp(a, "--socket")) {
            o->socket = v;
        } else if (!strcmp(a, "--layout")) {
            o->p.layout_path = v;
        } else if (!strcmp(a, "--comm-cost")) {
            o->p.comm_cost = v;
        } else if (!strcmp(a, "--stats-out")) {
            o->stats_out = v;
        } else if (!strcmp(a, "--expert-stats-out")) {
            o->p.expert_stats_out = v;
        } else if (!strcmp(a, "--logits-out")) {
            o->p.logits_out = v;
        } else if (!strcmp(a, "--kv-type")) {
            if (cli_opt_kv_type(&o->p.kv_type, v, CMD)) return 1;
        } else if (!strcmp(a, "--policy")) {
            enum actsched_policy pol;
            if (actsched_policy_parse(v, &pol))
                return cli_error(CMD,
                                 "--policy: unknown '%s' (greedy, optimal, random, round-robin, "
                                 "token-balanced, first)",
                                 v);
            o->p.policy = pol;
        } else if (!strcmp(a, "--comm")) {
            int32_t s;
            if (!strcmp(v, "auto"))
                o->p.comm = WORKER_COMM_AUTO;
            else if (xfer_scheme_parse(v, &s) == JANUS_OK)
                o->p.comm = s;
            else
                return cli_error(CMD, "--comm: unknown '%s' (1pc, 2pc1, 2pc2, auto)", v);
        } else {
            struct {
                const char *name;
                int64_t lo, hi;
            } nums[] = {{"--attn", 1, LIMIT_MAX_INSTANCES},
                        {"--moe", 1, LIMIT_MAX_INSTANCES},
                        {"--slots", 1, LIMIT_MAX_SLOTS},
                        {"--node-size", 0, LIMIT_MAX_INSTANCES},
                        {"--max-seqs", 1, LIMIT_MAX_SEQS},
                        {"--ctx", 2, LIMIT_MAX_CONTEXT},
                        {"--budget", 1, LIMIT_MAX_STEP_ROWS},
                        {"--max-waiting", 0, 1 << 20},
                        {"--threads", 1, 1024},
                        {"--heartbeat-ms", 10, 3600000},
                        {"--seed", 0, INT64_MAX}};
            size_t k = 0;
            while (k < JANUS_ARRAY_SIZE(nums) && strcmp(a, nums[k].name))
                k++;
            if (k == JANUS_ARRAY_SIZE(nums))
                return cli_error(CMD, "unknown argument '%s' (see --help)", a);
            if (cli_parse_i64(v, nums[k].lo, nums[k].hi, &v64))
                return cli_error(CMD, "%s needs an integer in [%lld, %lld]", a,
                                 (long long)nums[k].lo, (long long)nums[k].hi);
            switch (k) {
            case 0: o->p.n_attn = (int32_t)v64; break;
            case 1: o->p.n_moe = (int32_t)v64; break;
            case 2: o->p.n_slots = (int32_t)v64; break;
            case 3: o->p.node_size = (int32_t)v64; break;
            case 4: o->p.max_seqs = (int32_t)v64; break;
            case 5: o->p.n_ctx = (int32_t)v64; break;
            case 6: o->budget = v64; break;
            case 7: o->max_waiting = v64; break;
            case 8: o->p.n_threads = (int32_t)v64; break;
            case 9: o->heartbeat_ms = v64; break;
            default: o->p.seed = (uint64_t)v64; break;
            }
        }
        i += takes;
    }
    if (!o->p.model_path) return cli_error(CMD, "missing -m MODEL");
    if (!o->socket) return cli_error(CMD, "missing --socket PATH");
    if (o->budget < o->p.max_seqs)
        return cli_error(CMD, "--budget (%lld) must be >= --max-seqs (%d)", (long long)o->budget,
                         o->p.max_seqs);
    o->p.max_rows = (int32_t)o->budget;
    return load_opts_finish(&o->lo, CMD, &o->p.io);
}

int cmd_worker_mpi(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct mpi_opts o;
    if (parse(argc, argv, &o)) return 1;
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
    if (rc) return cli_error(CMD, "%s", err[0] ? err : janus_strerror(rc));
    return 0;
}
