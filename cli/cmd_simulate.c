// janus simulate: replays a load trace (diurnal, bursty or a file) against Janus and the
// baselines with re-planning at every interval (SPEC §8), and reports GPU-hours, SLO
// attainment and reconfigurations per system. With --out DIR: per-interval CSV, a JSON
// summary and SVG plots (GPUs over time; the load). Deterministic for a given seed.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "plan_opts.h"

#include "base/buf.h"
#include "base/mem.h"
#include "base/file.h"
#include "base/status.h"
#include "sim/planner.h"
#include "sim/report.h"
#include "sim/sim.h"
#include "sim/workload.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_duration(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v <= 0) return -1;
    double mul = 1;
    if (!strcmp(end, "m"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else if (!strcmp(end, "s") || !*end)
        mul = 1;
    else
        return -1;
    *out = v * mul;
    return *out <= 366 * 86400.0 ? 0 : -1;
}

// A duration option (--interval, --bin) in seconds.
static int set_duration(void *target, const char *v, const char *cmd) {
    (void)cmd;
    return parse_duration(v, target) ? -1 : 0;
}

// --forecast oracle|last.
static int set_forecast(void *target, const char *v, const char *cmd) {
    (void)cmd;
    if (strcmp(v, "oracle") && strcmp(v, "last")) return -1;
    *(int *)target = !strcmp(v, "last");
    return 0;
}

int cmd_simulate(int argc, char **argv) {
    const char *cmd = "simulate";
    const char *out = NULL, *trace = NULL;
    double slo_ms = 0, interval = 900, hours = 24, mean_rate = 2000, ptm = 7.5, bin = 60,
           headroom = 1.0, reconf_s = 30;
    int json = 0, forecast_last = 0;
    struct plan_opts po;
    plan_opts_default(&po);
    const struct cli_opt opts[] = {
        CLI_OPT_F64("slo-ms", 0, &slo_ms, 1e-3, 1e7, "T", "TPOT SLO in milliseconds"),
        CLI_OPT_STR("trace", 0, &trace, "T",
                    "diurnal (daily swing + bursts, peak/mean 7.5), bursty (gamma\n"
                    "inter-arrivals, shape 0.25) or a file of \"<time_s> <rate>\" lines"),
        CLI_OPT_FN("interval", 0, set_duration, &interval, "D",
                   "re-planning interval: 15m, 900s, 1h or seconds (default 15m)"),
        CLI_OPT_F64("hours", 0, &hours, 1e-3, 24 * 366, "H",
                    "trace length for diurnal/bursty (default 24)"),
        CLI_OPT_F64("mean-rate", 0, &mean_rate, 1e-3, 1e12, "R",
                    "mean output tokens/s of diurnal/bursty traces (default 2000)"),
        CLI_OPT_F64("peak-to-mean", 0, &ptm, 1.001, 1e4, "X", "diurnal peak/mean (default 7.5)"),
        CLI_OPT_FN("bin", 0, set_duration, &bin, "D", "evaluation bin (default 1m)"),
        CLI_OPT_FN("forecast", 0, set_forecast, &forecast_last, "F",
                   "oracle (plan for the interval's own peak: equal-SLO GPU-hours,\n"
                   "the default) or last (the previous interval's measured peak)"),
        CLI_OPT_F64("headroom", 0, &headroom, 0.01, 100, "X",
                    "plan for X times the forecast peak (default 1.0)"),
        CLI_OPT_F64("reconf-s", 0, &reconf_s, 0, 86400, "S",
                    "GPU-seconds charged per added/removed GPU at a change (default 30)"),
        CLI_OPT_TABLE(po.table),
        CLI_OPT_FLAG("json", 0, &json, "JSON summary on stdout"),
        CLI_OPT_STR("out", 0, &out, "DIR",
                    "write <model>-<hw>-sim-<trace>.csv/.json and SVG plots into DIR"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout,
                      "simulate --model M --hw H --slo-ms T --trace diurnal|bursty|FILE\n"
                      "                      [--interval 15m] [--hours 24] [options]\n",
                      opts, NULL);
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 2;
    struct planner_options o;
    int rc = plan_opts_finish(&po, cmd, &o);
    if (rc) return rc;
    if (slo_ms <= 0) return 2 * cli_error(cmd, "--slo-ms is required (see --help)");
    if (!trace) return 2 * cli_error(cmd, "--trace is required (diurnal, bursty or a file)");
    if (interval < bin) return 2 * cli_error(cmd, "--interval must be at least --bin");
    struct workload_lengths wl;
    workload_sharegpt(&wl);
    struct workload_trace tr = {0};
    char err[JANUS_ERR_LEN];
    const char *trace_name = trace;
    if (!strcmp(trace, "diurnal")) {
        struct workload_diurnal_params dp;
        workload_diurnal_default(&dp);
        dp.hours = hours;
        dp.bin_s = bin;
        dp.mean_rate = mean_rate;
        dp.peak_to_mean = ptm;
        dp.seed = (uint64_t)po.seed;
        rc = workload_diurnal(&tr, &dp);
    } else if (!strcmp(trace, "bursty")) {
        struct workload_bursty_params bp;
        workload_bursty_default(&bp);
        bp.hours = hours;
        bp.bin_s = bin;
        bp.mean_rate = mean_rate;
        bp.seed = (uint64_t)po.seed;
        rc = workload_bursty(&tr, &bp, &wl);
    } else {
        rc = workload_load(&tr, trace, bin, 10 * 1000 * 1000, err, sizeof err);
        if (rc) return cli_error(cmd, "%s", err);
        trace_name = "file";
    }
    if (rc) return cli_error(cmd, "cannot build the %s trace: %s", trace, janus_strerror(rc));
    static struct planner pl;
    rc = planner_load(&pl, po.data_dir, po.model, po.model_file, po.hw, &po.coef, &o, err,
                      sizeof err);
    if (rc) {
        workload_trace_free(&tr);
        return cli_error(cmd, "%s", err);
    }
    struct sim_params sp = {slo_ms * 1e-3, po.context, (int)po.max_gpus, interval, headroom,
                            forecast_last, 0,          reconf_s};
    struct sim_result res;
    rc = sim_run(&pl, &tr, &sp, &res);
    if (rc) {
        planner_free(&pl);
        workload_trace_free(&tr);
        return cli_error(cmd, "simulation failed: %s", janus_strerror(rc));
    }
    const struct sim_system_result *jr = &res.sys[BASELINES_JANUS];
    cJSON *root = cJSON_CreateObject();
    if (root) {
        cJSON_AddStringToObject(root, "model", pl.model.id);
        cJSON_AddStringToObject(root, "hw", pl.hw.id);
        cJSON_AddStringToObject(root, "trace", trace_name);
        cJSON_AddNumberToObject(root, "slo_ms", slo_ms);
        cJSON_AddNumberToObject(root, "interval_s", interval);
        cJSON_AddStringToObject(root, "forecast", forecast_last ? "last" : "oracle");
        cJSON_AddNumberToObject(root, "headroom", headroom);
        cJSON_AddNumberToObject(root, "reconf_s", reconf_s);
        cJSON_AddNumberToObject(root, "hours", tr.n * tr.bin_s / 3600.0);
        cJSON_AddNumberToObject(root, "mean_rate", round(workload_trace_mean(&tr) * 1e3) / 1e3);
        cJSON_AddNumberToObject(root, "peak_rate", round(workload_trace_peak(&tr) * 1e3) / 1e3);
        cJSON_AddNumberToObject(root, "context", round(po.context * 10) / 10);
        cJSON_AddNumberToObject(root, "max_gpus", (double)po.max_gpus);
        cJSON *sy = cJSON_AddObjectToObject(root, "systems");
        for (int k = 0; k < BASELINES_COUNT && sy; k++) {
            const struct sim_system_result *r = &res.sys[k];
            cJSON *x = cJSON_AddObjectToObject(sy, pl.sys[k].name);
            if (!x) continue;
            cJSON_AddNumberToObject(x, "gpu_hours", round(r->gpu_hours * 1e4) / 1e4);
            cJSON_AddNumberToObject(x, "slo_attainment", round(r->slo_attainment * 1e6) / 1e6);
            cJSON_AddNumberToObject(x, "reconfigurations", r->reconfigs);
            cJSON_AddNumberToObject(x, "reconf_gpu_hours", round(r->reconf_gpu_hours * 1e4) / 1e4);
            cJSON_AddNumberToObject(x, "infeasible_intervals", r->infeasible);
            cJSON_AddNumberToObject(x, "peak_gpus", r->peak_gpus);
            // A saving is only meaningful when both systems met their plans in every interval.
            if (k != BASELINES_JANUS && r->gpu_hours > 0 && !r->infeasible && !jr->infeasible)
                cJSON_AddNumberToObject(x, "janus_saving",
                                        round((1 - jr->gpu_hours / r->gpu_hours) * 1e6) / 1e6);
        }
    }
    char *js = root ? cJSON_Print(root) : NULL;
    if (json) {
        if (js) printf("%s\n", js);
    } else {
        printf("%s on %s, %s trace: %.1f h, mean %.0f tok/s, peak %.0f tok/s (x%.2f), SLO %.0f ms, "
               "re-plan every %.0f s (%s forecast), up to %d GPUs\n",
               pl.model.id, pl.hw.id, trace_name, tr.n * tr.bin_s / 3600.0,
               workload_trace_mean(&tr), workload_trace_peak(&tr),
               workload_trace_peak(&tr) / workload_trace_mean(&tr), slo_ms, interval,
               forecast_last ? "last-interval" : "oracle", (int)po.max_gpus);
        printf("%-16s %10s %10s %8s %10s %9s %14s\n", "system", "GPU-hours", "SLO att.", "reconf.",
               "infeasible", "peak GPUs", "Janus saving");
        for (int k = 0; k < BASELINES_COUNT; k++) {
            const struct sim_system_result *r = &res.sys[k];
            char sav[32] = "-";
            if (k != BASELINES_JANUS && r->gpu_hours > 0 && !r->infeasible && !jr->infeasible)
                snprintf(sav, sizeof sav, "%.1f %%", 100 * (1 - jr->gpu_hours / r->gpu_hours));
            else if (k != BASELINES_JANUS)
                snprintf(sav, sizeof sav, "n/a");
            printf("%-16s %10.1f %9.2f%% %8d %10d %9d %14s\n", pl.sys[k].name, r->gpu_hours,
                   100 * r->slo_attainment, r->reconfigs, r->infeasible, r->peak_gpus, sav);
        }
    }
    if (out) {
        char path[4400];
        struct buf b;
        buf_init(&b, 64u << 20);
        rc = buf_appendf(&b, "t_h,rate_plan,rate_peak");
        for (int k = 0; k < BASELINES_COUNT && !rc; k++)
            rc = buf_appendf(&b, ",%s_n_attn,%s_n_moe,%s_gpus,%s_attain", pl.sys[k].name,
                             pl.sys[k].name, pl.sys[k].name, pl.sys[k].name);
        if (!rc) rc = buf_appendf(&b, "\n");
        for (int i = 0; i < res.n_int && !rc; i++) {
            const struct sim_interval *iv = &res.iv[i];
            rc = buf_appendf(&b, "%.4f,%.6g,%.6g", iv->t_s / 3600, iv->rate_plan, iv->rate_peak);
            for (int k = 0; k < BASELINES_COUNT && !rc; k++)
                rc = buf_appendf(&b, ",%d,%d,%d,%.6g", iv->n_attn[k], iv->n_moe[k], iv->n_gpus[k],
                                 iv->attain[k]);
            if (!rc) rc = buf_appendf(&b, "\n");
        }
        snprintf(path, sizeof path, "%s/%s-%s-sim-%s.csv", out, pl.model.id, pl.hw.id, trace_name);
        if (!rc) rc = file_write_all(path, b.data, b.len, NULL, 0);
        buf_reset(&b);
        snprintf(path, sizeof path, "%s/%s-%s-sim-%s.json", out, pl.model.id, pl.hw.id, trace_name);
        if (!rc && js) rc = file_write_all(path, js, strlen(js), NULL, 0);
        // GPUs over time per system, and the load.
        int n = res.n_int;
        double *x = mem_calloc(MEM_TAG_SIM, (size_t)n * (BASELINES_COUNT + 2) + 1, sizeof *x);
        if (!x) rc = JANUS_ENOMEM;
        if (!rc) {
            double *y[BASELINES_COUNT], *load = x + n * (BASELINES_COUNT + 1);
            struct report_series se[BASELINES_COUNT];
            for (int k = 0; k < BASELINES_COUNT; k++) {
                y[k] = x + n * (k + 1);
                for (int i = 0; i < n; i++)
                    y[k][i] = res.iv[i].n_gpus[k];
                se[k] = (struct report_series){pl.sys[k].name, x, y[k], n, 0};
            }
            for (int i = 0; i < n; i++) {
                x[i] = res.iv[i].t_s / 3600;
                load[i] = res.iv[i].rate_peak;
            }
            char title[256];
            snprintf(title, sizeof title, "%s on %s, %s trace: GPUs per system (SLO %.0f ms)",
                     pl.model.id, pl.hw.id, trace_name, slo_ms);
            struct report_plot p = {title, "time (h)", "GPUs", 0,  0,
                                    0,     NULL,       NULL,   se, BASELINES_COUNT};
            rc = report_svg(&b, &p);
            snprintf(path, sizeof path, "%s/%s-%s-sim-%s-gpus.svg", out, pl.model.id, pl.hw.id,
                     trace_name);
            if (!rc) rc = file_write_all(path, b.data, b.len, NULL, 0);
            buf_reset(&b);
            struct report_series ls = {"peak rate in interval", x, load, n, 0};
            snprintf(title, sizeof title, "%s trace: load (output tokens/s)", trace_name);
            struct report_plot lp = {title, "time (h)", "output tokens/s", 0, 0, 0, NULL, NULL,
                                     &ls,   1};
            if (!rc) rc = report_svg(&b, &lp);
            snprintf(path, sizeof path, "%s/%s-%s-sim-%s-load.svg", out, pl.model.id, pl.hw.id,
                     trace_name);
            if (!rc) rc = file_write_all(path, b.data, b.len, NULL, 0);
        }
        mem_free(x);
        buf_free(&b);
        if (rc) cli_error("simulate", "cannot write outputs into %s", out);
    }
    cJSON_free(js);
    cJSON_Delete(root);
    sim_result_free(&res);
    planner_free(&pl);
    workload_trace_free(&tr);
    return rc ? 1 : 0;
}
