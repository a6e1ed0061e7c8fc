// janus sweep: the planner's curves (SPEC §8): TPOT and TPG vs batch size per system at
// one or more SLOs (each system's best configuration at each batch), the SLO sweep (each
// system's best capacity TPG per SLO), and a_max vs batch for each activation scheduler
// (Monte Carlo over the real placement and scheduler, with the analytic bound), and with
// --what dispatch Janus's two dispatch modes side by side (bytes and modelled exchange time
// per layer vs batch, PROTOCOL.md "Selective dispatch"). Tables on
// stdout; with --out DIR also CSV, JSON and SVG files. Deterministic for a given seed.
// SPDX-License-Identifier: MIT
#include "cli.h"
#include "plan_opts.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/status.h"
#include "sim/planner.h"
#include "sim/report.h"
#include "sim/workload.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXL 64

struct f64_list {
    double v[MAXL];
    int n;
};

// A list of positive numbers ("150,200") into the f64_list at o->target.
static int set_list(void *target, const char *s, const char *cmd) {
    (void)cmd;
    struct f64_list *l = target;
    int n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n >= MAXL || cli_parse_f64(tok, 1e-6, 1e9, &l->v[n])) return -1;
        n++;
    }
    if (n < 1) return -1;
    l->n = n;
    return 0;
}

static int write_buf(const char *dir, const char *name, struct buf *b) {
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = file_write_all(path, b->data ? b->data : "", b->len, NULL, 0);
    if (rc)
        cli_error("sweep", "cannot write %s", path);
    else
        fprintf(stderr, "wrote %s\n", path);
    buf_reset(b);
    return rc;
}

static int svg_out(const char *dir, const char *name, const struct report_plot *p) {
    struct buf b;
    buf_init(&b, 4u << 20);
    int rc = report_svg(&b, p);
    if (!rc) rc = write_buf(dir, name, &b);
    buf_free(&b);
    return rc;
}

int cmd_sweep(int argc, char **argv) {
    const char *cmd = "sweep";
    const char *out = NULL;
    const char *what = "all";
    struct f64_list slo_b = {{150, 200}, 2},
                    slo_l = {{50, 75, 100, 125, 150, 175, 200, 250, 300}, 9},
                    bat = {{16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192}, 10};
    int64_t amax_moe = 8;
    const char *shapes = "4+8,8+16,8+32";
    struct plan_opts po;
    plan_opts_default(&po);
    const struct cli_opt opts[] = {
        CLI_OPT_STR("what", 0, &what, "W",
                    "batch, slo, amax, dispatch or all (all but dispatch), comma-separated "
                    "(default all)"),
        CLI_OPT_STR("shapes", 0, &shapes, "LIST",
                    "n_attn+n_moe shapes of the dispatch table (default 4+8,8+16,8+32)"),
        CLI_OPT_FN("slo-ms", 0, set_list, &slo_b, "LIST",
                   "SLOs for the batch sweep, ms (default 150,200)"),
        CLI_OPT_FN("slos", 0, set_list, &slo_l, "LIST",
                   "SLOs of the SLO sweep, ms (default 50,75,100,125,150,175,200,250,300)"),
        CLI_OPT_FN("batches", 0, set_list, &bat, "LIST", "batch sizes (default 16,32,...,8192)"),
        CLI_OPT_I64("amax-moe", 0, &amax_moe, 1, 1024, "N",
                    "MoE instances for the a_max curves (default 8)"),
        CLI_OPT_TABLE(po.table),
        CLI_OPT_STR("out", 0, &out, "DIR", "also write CSV, JSON and SVG files into DIR"),
        CLI_OPT_END};
    if (cli_wants_help(argc, argv)) {
        cli_opts_help(stdout, "sweep --model M --hw H [options]", opts, NULL);
        return 0;
    }
    if (cli_opts_parse(cmd, opts, argc, argv)) return 2;
    const double *slo_batch = slo_b.v, *slo_list = slo_l.v, *batches = bat.v;
    const int n_slo_batch = slo_b.n, n_slo = slo_l.n, n_batches = bat.n;
    int do_batch = 0, do_slo = 0, do_amax = 0, do_disp = 0;
    {
        char wb[64];
        snprintf(wb, sizeof wb, "%s", what);
        for (char *tok = strtok(wb, ","); tok; tok = strtok(NULL, ",")) {
            int all = !strcmp(tok, "all");
            if (all || !strcmp(tok, "batch")) do_batch = 1;
            if (all || !strcmp(tok, "slo")) do_slo = 1;
            if (all || !strcmp(tok, "amax")) do_amax = 1;
            if (!strcmp(tok, "dispatch")) do_disp = 1;
            if (!all && strcmp(tok, "batch") && strcmp(tok, "slo") && strcmp(tok, "amax") &&
                strcmp(tok, "dispatch"))
                return 2 *
                       cli_error(cmd, "bad --what '%s' (batch, slo, amax, dispatch, all)", what);
        }
    }
    if (!do_batch && !do_slo && !do_amax && !do_disp)
        return 2 * cli_error(cmd, "bad --what '%s'", what);
    int shp[16][2], n_shp = 0;
    if (do_disp) {
        char sb[256];
        snprintf(sb, sizeof sb, "%s", shapes);
        for (char *tok = strtok(sb, ","); tok; tok = strtok(NULL, ",")) {
            int a, e;
            char tail;
            if (n_shp >= 16 || sscanf(tok, "%d+%d%c", &a, &e, &tail) != 2 || a < 1 || e < 1 ||
                a + e > 1024)
                return 2 * cli_error(cmd, "bad --shapes '%s' (e.g. 4+8,8+16)", shapes);
            shp[n_shp][0] = a;
            shp[n_shp][1] = e;
            n_shp++;
        }
    }
    struct planner_options o;
    int rc = plan_opts_finish(&po, cmd, &o);
    if (rc) return rc;
    static struct planner pl;
    char err[JANUS_ERR_LEN];
    rc = planner_load(&pl, po.data_dir, po.model, po.model_file, po.hw, &po.coef, &o, err,
                      sizeof err);
    if (rc) return cli_error(cmd, "%s", err);
    plan_opts_print_tables(&pl);
    struct buf csv;
    buf_init(&csv, 16u << 20);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s-%s", pl.model.id, pl.hw.id);
    printf("# %s on %s, context %.0f, up to %d GPUs, seed %lld\n", pl.model.id, pl.hw.id,
           po.context, (int)po.max_gpus, (long long)po.seed);
    // ---- TPG and TPOT vs batch ----
    for (int s = 0; do_batch && s < n_slo_batch && !rc; s++) {
        static double tpg[BASELINES_COUNT][MAXL], tpot[BASELINES_COUNT][MAXL];
        struct search_params sp = {slo_batch[s] * 1e-3, 1, po.context, (int)po.max_gpus};
        printf("\n## TPG (tok/s/GPU) vs batch, SLO %g ms: best configuration per batch\n",
               slo_batch[s]);
        printf("%-16s", "batch");
        for (int k = 0; k < BASELINES_COUNT; k++)
            printf(" %22s", pl.sys[k].name);
        printf("\n");
        rc = buf_appendf(&csv, "slo_ms,system,batch,feasible,n_attn,n_moe,n_gpus,tpot_ms,tpg,amax,"
                               "attn_ms,moe_ms,comm_ms,shared_ms,head_ms\n");
        for (int j = 0; j < n_batches && !rc; j++) {
            printf("%-16g", batches[j]);
            for (int k = 0; k < BASELINES_COUNT && !rc; k++) {
                struct search_point pt;
                rc = planner_best_at_batch(&pl, (enum baselines_kind)k, &sp, batches[j], &pt);
                if (rc) break;
                tpg[k][j] = pt.feasible ? pt.tpg : NAN;
                tpot[k][j] = pt.feasible ? pt.tpot * 1e3 : NAN;
                if (pt.feasible) {
                    char cell[64];
                    snprintf(cell, sizeof cell, "%.0f (%d+%d, %.0fms)", pt.tpg, pt.n_attn,
                             pl.sys[k].lat.colocated ? 0 : pt.n_moe, pt.tpot * 1e3);
                    printf(" %22s", cell);
                } else
                    printf(" %22s", "-");
                rc = buf_appendf(
                    &csv, "%g,%s,%g,%d,%d,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                    slo_batch[s], pl.sys[k].name, batches[j], pt.feasible, pt.n_attn, pt.n_moe,
                    pt.n_gpus, pt.tpot * 1e3, pt.tpg, pt.br.amax, pt.br.attn * 1e3, pt.br.moe * 1e3,
                    pt.br.comm * 1e3, pt.br.shared * 1e3, pt.br.head * 1e3);
            }
            printf("\n");
        }
        if (!rc && out) {
            char name[256], title[256];
            snprintf(name, sizeof name, "%s-batch-slo%g.csv", prefix, slo_batch[s]);
            rc = write_buf(out, name, &csv);
            struct report_series se[BASELINES_COUNT];
            for (int k = 0; k < BASELINES_COUNT; k++)
                se[k] = (struct report_series){pl.sys[k].name, batches, tpg[k], n_batches, 0};
            snprintf(title, sizeof title, "%s on %s: TPG vs batch (TPOT SLO %g ms)", pl.model.id,
                     pl.hw.id, slo_batch[s]);
            struct report_plot p = {title,
                                    "batch size (tokens per step)",
                                    "output tokens/s per GPU",
                                    1,
                                    0,
                                    0,
                                    NULL,
                                    NULL,
                                    se,
                                    BASELINES_COUNT};
            snprintf(name, sizeof name, "%s-tpg-vs-batch-slo%g.svg", prefix, slo_batch[s]);
            if (!rc) rc = svg_out(out, name, &p);
            for (int k = 0; k < BASELINES_COUNT; k++)
                se[k].y = tpot[k];
            double slo = slo_batch[s];
            snprintf(title, sizeof title, "%s on %s: TPOT vs batch (best config under %g ms)",
                     pl.model.id, pl.hw.id, slo_batch[s]);
            struct report_plot p2 = {title,       "batch size (tokens per step)",
                                     "TPOT (ms)", 1,
                                     0,           0,
                                     &slo,        "SLO",
                                     se,          BASELINES_COUNT};
            snprintf(name, sizeof name, "%s-tpot-vs-batch-slo%g.svg", prefix, slo_batch[s]);
            if (!rc) rc = svg_out(out, name, &p2);
        }
        buf_reset(&csv);
    }
    // ---- SLO sweep ----
    if (do_slo && !rc) {
        static double cap[BASELINES_COUNT][MAXL];
        printf("\n## SLO sweep: best capacity TPG (tok/s/GPU) within the SLO, configuration\n");
        printf("%-10s", "SLO ms");
        for (int k = 0; k < BASELINES_COUNT; k++)
            printf(" %26s", pl.sys[k].name);
        printf("\n");
        rc = buf_appendf(&csv,
                         "slo_ms,system,feasible,n_attn,n_moe,n_gpus,batch,tpot_ms,tpg_capacity\n");
        for (int s = 0; s < n_slo && !rc; s++) {
            struct search_params sp = {slo_list[s] * 1e-3, 1, po.context, (int)po.max_gpus};
            printf("%-10g", slo_list[s]);
            for (int k = 0; k < BASELINES_COUNT && !rc; k++) {
                struct search_point pt;
                rc = planner_best_capacity(&pl, (enum baselines_kind)k, &sp, &pt);
                if (rc) break;
                cap[k][s] = pt.feasible ? pt.tpg_capacity : NAN;
                if (pt.feasible) {
                    char cell[64];
                    snprintf(cell, sizeof cell, "%.0f (%d+%d, B %.0f)", pt.tpg_capacity, pt.n_attn,
                             pl.sys[k].lat.colocated ? 0 : pt.n_moe, pt.batch);
                    printf(" %26s", cell);
                } else
                    printf(" %26s", "-");
                rc = buf_appendf(&csv, "%g,%s,%d,%d,%d,%d,%.6g,%.6g,%.6g\n", slo_list[s],
                                 pl.sys[k].name, pt.feasible, pt.n_attn, pt.n_moe, pt.n_gpus,
                                 pt.batch, pt.tpot * 1e3, pt.tpg_capacity);
            }
            printf("\n");
        }
        if (!rc && out) {
            char name[256], title[256];
            snprintf(name, sizeof name, "%s-slo-sweep.csv", prefix);
            rc = write_buf(out, name, &csv);
            struct report_series se[BASELINES_COUNT];
            for (int k = 0; k < BASELINES_COUNT; k++)
                se[k] = (struct report_series){pl.sys[k].name, slo_list, cap[k], n_slo, 0};
            snprintf(title, sizeof title, "%s on %s: best TPG within the SLO (<= %d GPUs)",
                     pl.model.id, pl.hw.id, (int)po.max_gpus);
            struct report_plot p = {
                title, "TPOT SLO (ms)", "output tokens/s per GPU", 0, 0, 0, NULL, NULL,
                se,    BASELINES_COUNT};
            snprintf(name, sizeof name, "%s-slo-sweep.svg", prefix);
            if (!rc) rc = svg_out(out, name, &p);
        }
        buf_reset(&csv);
    }
    // ---- dispatch modes: bytes and exchange time per layer vs batch ----
    for (int s = 0; do_disp && s < n_shp && !rc; s++) {
        int na = shp[s][0], ne = shp[s][1];
        const struct amax_table *jt = &pl.tab[BASELINES_JANUS];
        int measured = jt->n_cfg > 0 && amax_find(jt, ne) >= 0;
        printf("\n## dispatch modes, %d+%d instances (rails %g): bytes per MoE layer (both "
               "directions, all links), exchange time per layer (both directions), fan-out %s\n",
               na, ne, pl.lm.rails,
               measured ? "from the Monte Carlo (greedy, co-activation placement)"
                        : "from the uniform closed form (n_moe not in the table)");
        printf("%-8s %8s %12s %12s %18s %18s %10s %10s\n", "batch", "fan-out", "bcast MB",
               "select MB", "bcast us (scheme)", "select us (scheme)", "routing us", "auto");
        if (s == 0)
            rc = buf_appendf(&csv, "n_attn,n_moe,batch,fanout,bcast_bytes,sel_bytes,bcast_us,"
                                   "bcast_scheme,sel_us,sel_scheme,route_us,auto_mode\n");
        for (int j = 0; j < n_batches && !rc; j++) {
            double B = batches[j];
            double fan = jt->n_cfg > 0
                             ? amax_fanout(jt, ne, B)
                             : amax_fanout_uniform(pl.model.n_experts, pl.model.top_k, ne);
            int sb, mb, ss, ms, sa, ma;
            double tb =
                latency_comm_choose(&pl.lm, LATENCY_DISPATCH_BROADCAST, na, ne, B, fan, &sb, &mb);
            double ts =
                latency_comm_choose(&pl.lm, LATENCY_DISPATCH_SELECTIVE, na, ne, B, fan, &ss, &ms);
            (void)latency_comm_choose(&pl.lm, LATENCY_DISPATCH_AUTO, na, ne, B, fan, &sa, &ma);
            double yb = latency_dispatch_bytes(&pl.lm, 0, na, ne, B, fan);
            double ys = latency_dispatch_bytes(&pl.lm, 1, na, ne, B, fan);
            double tr = latency_route_layer(&pl.lm, na, ne, B);
            char cb[32], cs[32];
            // Times: the whole exchange of one layer (both directions, routing included).
            snprintf(cb, sizeof cb, "%.1f (%s)", tb * 1e6, planner_scheme_name(sb));
            snprintf(cs, sizeof cs, "%.1f (%s)", ts * 1e6, planner_scheme_name(ss));
            printf("%-8g %8.2f %12.2f %12.2f %18s %18s %10.1f %10s\n", B, fan, yb * 1e-6, ys * 1e-6,
                   cb, cs, tr * 1e6, ma ? "selective" : "broadcast");
            rc = buf_appendf(&csv, "%d,%d,%g,%.6g,%.6g,%.6g,%.6g,%s,%.6g,%s,%.6g,%s\n", na, ne, B,
                             fan, yb, ys, tb * 1e6, planner_scheme_name(sb), ts * 1e6,
                             planner_scheme_name(ss), tr * 1e6, ma ? "selective" : "broadcast");
        }
    }
    if (do_disp && !rc && out) {
        char name[256];
        snprintf(name, sizeof name, "%s-dispatch.csv", prefix);
        rc = write_buf(out, name, &csv);
    }
    buf_reset(&csv);
    // ---- a_max vs batch per scheduler ----
    if (do_amax && !rc) {
        static const struct {
            enum placement_policy pl;
            enum actsched_policy sc;
            const char *name;
        } combos[] = {
            {PLACEMENT_POLICY_JANUS, ACTSCHED_POLICY_OPTIMAL, "optimal"},
            {PLACEMENT_POLICY_JANUS, ACTSCHED_POLICY_GREEDY, "greedy"},
            {PLACEMENT_POLICY_JANUS, ACTSCHED_POLICY_TOKEN_BALANCED, "token-balanced"},
            {PLACEMENT_POLICY_JANUS, ACTSCHED_POLICY_ROUND_ROBIN, "round-robin"},
            {PLACEMENT_POLICY_JANUS, ACTSCHED_POLICY_RANDOM, "random"},
            {PLACEMENT_POLICY_JANUS, ACTSCHED_POLICY_FIRST, "first"},
            {PLACEMENT_POLICY_EPLB, ACTSCHED_POLICY_TOKEN_BALANCED, "eplb+token-balanced"},
            {PLACEMENT_POLICY_EPLB, ACTSCHED_POLICY_RANDOM, "eplb+random"},
        };
        enum { NC = sizeof combos / sizeof combos[0] };
        int C = latency_moe_slots(&pl.lm);
        if (C > pl.model.n_experts) C = pl.model.n_experts;
        int32_t ne = (int32_t)amax_moe, sl = C;
        if ((int64_t)ne * C < pl.model.n_experts) {
            buf_free(&csv);
            planner_free(&pl);
            return cli_error(cmd, "--amax-moe %d: %d instances x %d slots cannot hold %d experts",
                             (int)ne, (int)ne, C, pl.model.n_experts);
        }
        static double xs[AMAX_MAX_B], ys[NC + 1][AMAX_MAX_B];
        struct amax_table t[NC];
        memset(t, 0, sizeof t);
        printf("\n## a_max per MoE layer vs batch, %d MoE instances x %d slots (Monte Carlo, "
               "%d samples)\n",
               (int)ne, C, pl.mc.samples);
        printf("%-8s", "batch");
        for (int c = 0; c < NC; c++)
            printf(" %20s", combos[c].name);
        printf(" %12s\n", "bound");
        for (int c = 0; c < NC && !rc; c++) {
            struct mc_params mp = pl.mc;
            mp.placement = combos[c].pl;
            mp.sched = combos[c].sc;
            char tag[96];
            snprintf(tag, sizeof tag, "%s-amax-%s", pl.model.id, combos[c].name);
            rc = mc_build_cached(&t[c], &mp, &ne, &sl, 1, o.cache_dir, tag, NULL, NULL, err,
                                 sizeof err);
        }
        if (!rc) {
            int nb = t[0].n_b;
            rc = buf_appendf(&csv, "placement_scheduler,n_moe,slots,batch,amax,tmax,bound\n");
            for (int j = 0; j < nb && !rc; j++) {
                xs[j] = t[0].b_grid[j];
                printf("%-8d", (int)t[0].b_grid[j]);
                for (int c = 0; c < NC && !rc; c++) {
                    ys[c][j] = t[c].amax[j];
                    printf(" %20.2f", (double)t[c].amax[j]);
                    rc = buf_appendf(&csv, "%s,%d,%d,%d,%.6g,%.6g,%.6g\n", combos[c].name, (int)ne,
                                     C, (int)t[c].b_grid[j], (double)t[c].amax[j],
                                     (double)t[c].tmax[j], (double)t[c].bound[j]);
                }
                ys[NC][j] = t[1].bound[j];
                printf(" %12.2f\n", (double)t[1].bound[j]);
            }
            if (!rc && out) {
                char name[256], title[256];
                snprintf(name, sizeof name, "%s-amax-vs-batch.csv", prefix);
                rc = write_buf(out, name, &csv);
                struct report_series se[NC + 1];
                for (int c = 0; c < NC; c++)
                    se[c] = (struct report_series){combos[c].name, xs, ys[c], nb, 0};
                se[NC] = (struct report_series){"analytic bound", xs, ys[NC], nb, 1};
                snprintf(title, sizeof title, "%s: a_max vs batch, %d MoE instances x %d slots",
                         pl.model.id, (int)ne, C);
                struct report_plot p = {title,
                                        "batch size (tokens per step)",
                                        "a_max (activated experts, busiest instance)",
                                        1,
                                        0,
                                        0,
                                        NULL,
                                        NULL,
                                        se,
                                        NC + 1};
                snprintf(name, sizeof name, "%s-amax-vs-batch.svg", prefix);
                if (!rc) rc = svg_out(out, name, &p);
            }
        } else {
            cli_error("sweep", "%s", err);
        }
        for (int c = 0; c < NC; c++)
            amax_free(&t[c]);
    }
    buf_free(&csv);
    planner_free(&pl);
    if (rc) return cli_error(cmd, "failed: %s", janus_strerror(rc));
    return 0;
}
