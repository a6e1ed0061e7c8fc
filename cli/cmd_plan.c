// janus plan: SLO-aware deployment plan (SPEC §7) for a model on a hardware profile at a
// demanded decode rate, beside the best deployment of each baseline for the same load
// (SPEC §8). Also: --measure-local writes data/hw/cpu-local.json (memory bandwidth, FLOP/s
// and, through mpirun, the MPI message cost of this machine); --mpi-pingpong is the
// internal MPI half of that measurement.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "plan_opts.h"

#include "base/clock.h"
#include "base/status.h"
#include "comm/xfer_cost.h"
#include "front/launch.h"
#include "sim/catalog.h"
#include "sim/planner.h"
#include "sim/workload.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const synopsis =
    "plan --model M --hw H --slo-ms T --rate R [options]\n"
    "       janus plan --measure-local [--threads N] [--out PATH] [--no-mpi]\n"
    "\n"
    "Chooses the number of attention and MoE instances (n_attn, n_moe) with the fewest GPUs\n"
    "that sustains R output tokens/s within a TPOT SLO of T ms (SPEC §7), and prints the best\n"
    "deployment of each baseline (sglang-mono, megascale-infer, xdeepserve) beside it.\n";

// ---- MPI ping-pong (run under mpirun -n 2) -------------------------------------------------

static int mpi_pingpong(void) {
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return cli_error("plan", "MPI_Init failed");
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0) fprintf(stderr, "janus plan: --mpi-pingpong needs exactly 2 ranks\n");
        MPI_Finalize();
        return 1;
    }
    double lat = 0, byte_s = 0;
    int rc = xfer_cost_pingpong(MPI_COMM_WORLD, 0, 1, &lat, &byte_s);
    if (rc == JANUS_OK && rank == 0)
        printf("pingpong lat_us=%.4f bw_gbs=%.4f\n", lat * 1e6, 1.0 / byte_s / 1e9);
    MPI_Finalize();
    return rc == JANUS_OK ? 0 : 1;
}

// Runs `janus plan --mpi-pingpong` under mpirun -n 2 through the job launcher and reads
// its "pingpong" line: *lat_us and *bw_gbs on success; JANUS_EIO with err saying why
// (no launch, the job failed, or no result line) otherwise.
static int run_pingpong(double *lat_us, double *bw_gbs, char *err, size_t err_len) {
    static const char *const args[] = {"plan", "--mpi-pingpong"};
    struct launch_spec spec = {.mpi = 1, .n_ranks = 2, .args = args, .n_args = 2};
    static struct launch_argv job; // large (PATH_MAX)
    int rc = launch_build(&job, &spec, err, err_len);
    if (rc) return rc;
    int fds[2];
    if (pipe(fds) != 0) return status_errf(err, err_len, JANUS_EIO, "pipe: %s", strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC); // the job sees only the write end, as its stdout
    pid_t pid;
    rc = launch_spawn(job.argv, 1, fds[1], &pid, err, err_len);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return rc;
    }
    FILE *p = fdopen(fds[0], "r");
    double lat = 0, bw = 0;
    if (p) {
        char line[256];
        while (fgets(line, sizeof line, p))
            if (sscanf(line, "pingpong lat_us=%lf bw_gbs=%lf", &lat, &bw) == 2) break;
        while (fgets(line, sizeof line, p)) // drain, so mpirun can exit
            ;
        fclose(p);
    } else {
        close(fds[0]);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char why[64];
        launch_describe_exit(st, why, sizeof why);
        return status_errf(err, err_len, JANUS_EIO, "mpirun ended with %s", why);
    }
    if (!(lat > 0 && bw > 0))
        return status_errf(err, err_len, JANUS_EIO, "no \"pingpong\" line in its output");
    *lat_us = lat;
    *bw_gbs = bw;
    return JANUS_OK;
}

static int measure_local(int threads, const char *out_path, int use_mpi) {
    struct hw_profile h;
    fprintf(stderr, "measuring memory bandwidth and FLOP/s with %d thread(s)...\n", threads);
    int rc = hw_measure_local(&h, 512, threads);
    if (rc) return cli_error("plan", "measurement failed: %s", janus_strerror(rc));
    char msg[JANUS_ERR_LEN + 64] = "no MPI measurement (defaults 1 us, 5 GB/s)";
    if (use_mpi) {
        char err[JANUS_ERR_LEN];
        double lat = 0, bw = 0;
        if (run_pingpong(&lat, &bw, err, sizeof err) == JANUS_OK) {
            h.intra_lat = h.inter_lat = lat * 1e-6;
            h.intra_bw = h.inter_bw = bw * 1e9;
            snprintf(msg, sizeof msg, "MPI ping-pong (2 ranks, shared memory): %.2f us, %.2f GB/s",
                     lat, bw);
        } else {
            snprintf(msg, sizeof msg, "mpirun ping-pong failed (%s); defaults 1 us, 5 GB/s kept",
                     err);
        }
    }
    size_t sl = strlen(h.source);
    snprintf(h.source + sl, sizeof h.source - sl, "; %s", msg);
    rc = hw_write_json(&h, out_path);
    if (rc) return cli_error("plan", "cannot write %s", out_path);
    printf("wrote %s: %.1f GB/s memory, %.1f GFLOP/s, %s\n", out_path, h.mem_bw / 1e9,
           h.peak_flops / 1e9, msg);
    return 0;
}

// ---- the plan ------------------------------------------------------------------------------

int cmd_plan(int argc, char **argv) {
    const char *cmd = "plan";
    const char *out_path = NULL, *sched = "greedy", *layout_out = NULL;
    double slo_ms = 0, rate = 0;
    int64_t threads = 0;
    int json = 0, measure = 0, no_mpi = 0, pingpong = 0;
    struct plan_opts po;
    plan_opts_default(&po);
    const struct cli_opt opts[] = {
        CLI_OPT_TABLE(po.table),
        CLI_OPT_F64("slo-ms", 0, &slo_ms, 1e-3, 1e7, "T", "TPOT SLO in milliseconds"),
        CLI_OPT_F64("rate", 0, &rate, 1e-6, 1e12, "R",
                    "demanded decode throughput, output tokens/s"),
        CLI_OPT_STR("sched", 0, &sched, "P",
                    "Janus's activation scheduler: greedy (default) or optimal"),
        CLI_OPT_FLAG("json", 0, &json, "one JSON object on stdout"),
        CLI_OPT_STR("layout-out", 0, &layout_out, "F",
                    "write Janus's replica layout for the chosen n_moe (janus-layout JSON,\n"
                    "usable by janus run --layout)"),
        CLI_OPT_FLAG("measure-local", 0, &measure,
                     "measure this machine into data/hw/cpu-local.json (or --out PATH)"),
        CLI_OPT_I64("threads", 0, &threads, 1, 64, "N", "--measure-local: threads (default: all)"),
        CLI_OPT_STR("out", 0, &out_path, "PATH", "--measure-local: the file to write"),
        CLI_OPT_FLAG("no-mpi", 0, &no_mpi, "--measure-local: skip the MPI ping-pong"),
        CLI_OPT_FLAG("mpi-pingpong", 0, &pingpong, "(internal) the MPI half of --measure-local"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout, synopsis, opts,
                      "\nThe a_max tables are cached in $JANUS_CACHE_DIR, $XDG_CACHE_HOME/janus or "
                      "~/.cache/janus.\n");
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 2;
    if (pingpong) return mpi_pingpong();
    if (measure) {
        char dir[4096], path[4200];
        if (!out_path) {
            if (po.data_dir)
                snprintf(dir, sizeof dir, "%s", po.data_dir);
            else if (catalog_data_dir(dir, sizeof dir))
                snprintf(dir, sizeof dir, "data");
            snprintf(path, sizeof path, "%s/hw/cpu-local.json", dir);
            out_path = path;
        }
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        return measure_local(threads ? (int)threads : (nc > 0 ? (int)nc : 1), out_path, !no_mpi);
    }
    struct planner_options o;
    int rc = plan_opts_finish(&po, cmd, &o);
    if (rc) return rc;
    if (slo_ms <= 0) return 2 * cli_error(cmd, "--slo-ms is required (see --help)");
    if (rate <= 0) return 2 * cli_error(cmd, "--rate is required (see --help)");
    if (actsched_policy_parse(sched, &o.janus_sched) ||
        (o.janus_sched != ACTSCHED_POLICY_GREEDY && o.janus_sched != ACTSCHED_POLICY_OPTIMAL))
        return 2 * cli_error(cmd, "bad --sched '%s' (greedy or optimal)", sched);
    static struct planner pl; // keep off the stack
    char err[JANUS_ERR_LEN];
    int64_t t0 = clock_now_ns();
    rc = planner_load(&pl, po.data_dir, po.model, po.model_file, po.hw, &po.coef, &o, err,
                      sizeof err);
    if (rc) return cli_error(cmd, "%s", err);
    double t_tables = (double)(clock_now_ns() - t0) * 1e-9;
    plan_opts_print_tables(&pl);
    struct search_params sp = {slo_ms * 1e-3, rate, po.context, (int)po.max_gpus};
    struct search_point pts[BASELINES_COUNT];
    int64_t t1 = clock_now_ns();
    for (int k = 0; k < BASELINES_COUNT && !rc; k++)
        rc = planner_plan(&pl, (enum baselines_kind)k, &sp, &pts[k]);
    double t_search = (double)(clock_now_ns() - t1) * 1e-9;
    fprintf(stderr, "tables %.2f s, search (4 systems) %.3f s\n", t_tables, t_search);
    if (rc) {
        planner_free(&pl);
        return cli_error(cmd, "search failed: %s", janus_strerror(rc));
    }
    const struct search_point *j = &pts[BASELINES_JANUS];
    if (layout_out) {
        if (j->n_moe < 1) {
            planner_free(&pl);
            return cli_error(cmd, "no Janus configuration to write a layout for");
        }
        struct mc_params mp = pl.mc;
        mp.placement = pl.sys[BASELINES_JANUS].placement;
        struct layout lay;
        struct placement_build_report rep;
        rc = mc_layout(&lay, &mp, pl.model.n_layers, pl.model.n_dense_layers, j->n_moe, j->slots,
                       &rep, err, sizeof err);
        if (rc) {
            planner_free(&pl);
            return cli_error(cmd, "%s", err);
        }
        rc = layout_save_json(&lay, layout_out);
        int32_t rmax = 0, multi = 0;
        const struct layout_layer *ly = &lay.layers[pl.model.n_dense_layers];
        for (int32_t e = 0; e < ly->n_experts; e++) {
            int32_t r = layout_n_replicas(ly, e);
            if (r > rmax) rmax = r;
            multi += r > 1;
        }
        fprintf(stderr,
                "layout: %d MoE instances x %d slots, %d of %d experts replicated (at most %d "
                "replicas), %d bounded swaps -> %s\n",
                j->n_moe, j->slots, multi, ly->n_experts, rmax, rep.n_swaps, layout_out);
        layout_free(&lay);
        if (rc) {
            planner_free(&pl);
            return cli_error(cmd, "cannot write %s: %s", layout_out, janus_strerror(rc));
        }
    }
    double bound = j->n_moe ? amax_bound_at(&pl.tab[BASELINES_JANUS], j->n_moe, j->batch) : 0;
    if (json) {
        cJSON *o2 = planner_point_json(&pl, BASELINES_JANUS, j);
        if (!o2) {
            planner_free(&pl);
            return cli_error(cmd, "out of memory");
        }
        cJSON_AddStringToObject(o2, "model", pl.model.id);
        cJSON_AddStringToObject(o2, "hw", pl.hw.id);
        cJSON_AddNumberToObject(o2, "slo_ms", slo_ms);
        cJSON_AddNumberToObject(o2, "rate", rate);
        cJSON_AddNumberToObject(o2, "context", round(po.context * 10) / 10);
        cJSON_AddNumberToObject(o2, "max_gpus", (double)po.max_gpus);
        cJSON_AddStringToObject(o2, "sched", actsched_policy_name(pl.sys[0].sched));
        cJSON_AddNumberToObject(o2, "amax_bound", bound);
        cJSON_AddNumberToObject(o2, "moe_layers", pl.lm.n_moe_layers);
        cJSON *bl = cJSON_AddObjectToObject(o2, "baselines");
        for (int k = 1; k < BASELINES_COUNT && bl; k++) {
            cJSON *x = planner_point_json(&pl, (enum baselines_kind)k, &pts[k]);
            if (x) cJSON_AddItemToObject(bl, pl.sys[k].name, x);
        }
        char *s = cJSON_Print(o2);
        cJSON_Delete(o2);
        if (s) printf("%s\n", s);
        cJSON_free(s);
    } else {
        printf("%s on %s: SLO %.1f ms, rate %.1f tok/s, context %.0f, up to %d GPUs\n", pl.model.id,
               pl.hw.id, slo_ms, rate, po.context, (int)po.max_gpus);
        printf("\njanus (%s scheduler): %s\n", actsched_policy_name(pl.sys[0].sched),
               j->feasible ? "feasible" : "INFEASIBLE");
        if (!j->feasible && j->why)
            printf("  reason: %s (showing the largest-capacity configuration)\n", j->why);
        printf("  n_attn %d, n_moe %d (%d GPUs), C %d slots/instance\n", j->n_attn, j->n_moe,
               j->n_gpus, j->slots);
        printf("  batch %.1f, TPOT %.2f ms, TPG %.1f tok/s/GPU at this rate, capacity %.1f "
               "tok/s/GPU (batch %.0f)\n",
               j->batch, j->tpot * 1e3, j->tpg, j->tpg_capacity, j->batch_cap);
        {
            const struct amax_table *jt = &pl.tab[BASELINES_JANUS];
            int np = jt->n_prof < 1 ? 1 : jt->n_prof;
            printf("  a_max per MoE layer: mean %.2f (analytic bound %.2f), exchange %s, %s "
                   "dispatch (fan-out %.2f MoE instances per token)\n",
                   j->br.amax, bound, planner_scheme_name(j->br.scheme),
                   j->br.mode ? "selective" : "broadcast", j->br.fanout);
            if (j->n_moe > 0 && jt->n_cfg > 0) {
                printf("    layer profiles (MoE layer l uses profile l mod %d):", np);
                for (int q = 0; q < np && q < pl.lm.n_moe_layers; q++)
                    printf(" %.2f", planner_layer_amax(&pl, BASELINES_JANUS, j, q));
                printf("\n");
            }
        }
        printf("  TPOT breakdown: attention %.2f ms, experts %.2f ms, exchange %.2f ms, shared "
               "%.2f ms (overlapped), head %.2f ms\n",
               j->br.attn * 1e3, j->br.moe * 1e3, j->br.comm * 1e3, j->br.shared * 1e3,
               j->br.head * 1e3);
        if (j->br.mode)
            printf("  (the exchange includes the routing exchange: %.2f ms)\n", j->br.route * 1e3);
        printf("\n%-16s %5s %6s %5s %9s %9s %9s %9s  %s\n", "system", "GPUs", "n_attn", "n_moe",
               "batch", "TPOT ms", "TPG", "TPG cap", "feasible");
        for (int k = 0; k < BASELINES_COUNT; k++) {
            const struct search_point *q = &pts[k];
            printf("%-16s %5d %6d %5d %9.1f %9.2f %9.1f %9.1f  %s\n", pl.sys[k].name, q->n_gpus,
                   q->n_attn, q->n_moe, q->batch, q->tpot * 1e3, q->tpg, q->tpg_capacity,
                   q->feasible ? "yes" : (q->why ? q->why : "no"));
        }
    }
    planner_free(&pl);
    return 0;
}
