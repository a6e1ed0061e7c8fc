// Table-driven option parsing and --help for the janus subcommands (opts.h): getopt_long
// underneath, one error line per failure, the help text from the same table (SPEC §10).
// SPDX-License-Identifier: MIT
#include "opts.h"

#include "cli.h"

#include "base/base.h"

#include <getopt.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#define MAX_OPTS 96 // options of one command, shared tables included

// Flattens the table (one level of CLI_TABLE) into out. Returns the count.
static int flatten(const struct cli_opt *opts, const struct cli_opt **out, int n) {
    for (const struct cli_opt *o = opts; o && o->name; o++) {
        if (o->kind == CLI_TABLE) {
            n = flatten(o->target, out, n);
        } else if (n < MAX_OPTS) {
            out[n++] = o;
        }
    }
    return n;
}

// "--name" or "-c" as the user may have typed it, for messages.
static const char *spelled(const struct cli_opt *o, char *buf, size_t cap) {
    if (o->name[0])
        snprintf(buf, cap, "--%s", o->name);
    else
        snprintf(buf, cap, "-%c", o->short_name);
    return buf;
}

static int bad_value(const char *cmd, const struct cli_opt *o, const char *v) {
    char nm[64];
    spelled(o, nm, sizeof nm);
    if (o->kind == CLI_LIST)
        return -cli_error(cmd,
                          "bad %s: '%s' (expects up to %d integers in [%.0f, %.0f], comma "
                          "separated)",
                          nm, v, ((struct cli_list *)o->target)->cap, o->lo, o->hi);
    if (o->kind != CLI_F64 && o->hi >= 9e18)
        return -cli_error(cmd, "bad %s: '%s' (expects an integer >= %.0f)", nm, v, o->lo);
    if (o->kind != CLI_F64)
        return -cli_error(cmd, "bad %s: '%s' (expects an integer in [%.0f, %.0f])", nm, v, o->lo,
                          o->hi);
    return -cli_error(cmd, "bad %s: '%s' (expects a number in [%g, %g])", nm, v, o->lo, o->hi);
}

static int parse_i64(const struct cli_opt *o, const char *v, int64_t *x) {
    int64_t lo = (int64_t)o->lo, hi = o->hi >= 9e18 ? INT64_MAX : (int64_t)o->hi;
    return cli_parse_i64(v, lo, hi, x);
}

// Stores the value of one option. 0 ok, -1 after printing the error.
static int store(const char *cmd, const struct cli_opt *o, const char *v) {
    switch (o->kind) {
    case CLI_FLAG: *(int *)o->target = 1; return 0;
    case CLI_STR: *(const char **)o->target = v; return 0;
    case CLI_I64: return parse_i64(o, v, o->target) ? bad_value(cmd, o, v) : 0;
    case CLI_I32: {
        int64_t x;
        if (parse_i64(o, v, &x) || x < INT32_MIN || x > INT32_MAX) return bad_value(cmd, o, v);
        *(int32_t *)o->target = (int32_t)x;
        return 0;
    }
    case CLI_F64: return cli_parse_f64(v, o->lo, o->hi, o->target) ? bad_value(cmd, o, v) : 0;
    case CLI_LIST: {
        struct cli_list *l = o->target;
        int32_t tmp[256];
        int n = cli_parse_ids(v, tmp, l->cap < 256 ? l->cap : 256);
        for (int i = 0; i < n; i++)
            if (tmp[i] < o->lo || tmp[i] > o->hi) n = -1;
        if (n < 1) return bad_value(cmd, o, v);
        memcpy(l->v, tmp, (size_t)n * sizeof *tmp);
        l->n = n;
        return 0;
    }
    case CLI_FN: {
        int rc = o->fn(o->target, v, cmd);
        if (rc < 0) return -cli_error(cmd, "bad --%s: '%s' (see --help)", o->name, v);
        return rc ? -1 : 0;
    }
    case CLI_TABLE: break;
    }
    return -1;
}

int cli_opts_parse(const char *cmd, const struct cli_opt *opts, int argc, char **argv) {
    const struct cli_opt *flat[MAX_OPTS];
    struct option lo[MAX_OPTS + 1];
    char shorts[3 * MAX_OPTS + 2] = ":"; // leading ':': missing values are reported as ':'
    int n = flatten(opts, flat, 0), nl = 0;
    size_t ns = 1;
    for (int k = 0; k < n; k++) {
        const struct cli_opt *o = flat[k];
        int has = o->kind == CLI_FLAG ? no_argument
                  : o->optional       ? optional_argument
                                      : required_argument;
        int val = o->short_name ? o->short_name : 256 + k;
        if (o->name[0]) lo[nl++] = (struct option){o->name, has, NULL, val};
        if (o->short_name) {
            shorts[ns++] = o->short_name;
            if (has != no_argument) shorts[ns++] = ':';
            if (has == optional_argument) shorts[ns++] = ':';
        }
    }
    lo[nl] = (struct option){0};
    shorts[ns] = '\0';
    opterr = 0;
    optind = 0; // full re-initialization (GNU)
    int c;
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (c == '?') {
            const char *a = optopt && optopt < 256 ? NULL : argv[optind - 1];
            if (a) return -cli_error(cmd, "unknown option '%s' (see --help)", a);
            return -cli_error(cmd, "unknown option '-%c' (see --help)", optopt);
        }
        const struct cli_opt *o = NULL;
        int want = c == ':' ? optopt : c;
        for (int k = 0; k < n && !o; k++)
            if (want == (flat[k]->short_name ? flat[k]->short_name : 256 + k)) o = flat[k];
        if (!o) return -cli_error(cmd, "unknown option '%s' (see --help)", argv[optind - 1]);
        char nm[64];
        if (c == ':') return -cli_error(cmd, "missing value for %s", spelled(o, nm, sizeof nm));
        if (o->optional) { // "--time", "--time=N" or "--time N"
            int64_t x = (int64_t)o->lo;
            if (optarg) {
                if (store(cmd, o, optarg)) return -1;
                continue;
            }
            if (optind < argc && parse_i64(o, argv[optind], &x) == 0) optind++;
            *(int64_t *)o->target = x;
            continue;
        }
        if (store(cmd, o, optarg)) return -1;
    }
    if (optind < argc)
        return -cli_error(cmd, "unexpected argument '%s' (see --help)", argv[optind]);
    return 0;
}

void cli_opts_help(FILE *f, const char *synopsis, const struct cli_opt *opts, const char *footer) {
    const struct cli_opt *flat[MAX_OPTS];
    int n = flatten(opts, flat, 0);
    fprintf(f, "usage: janus %s\n", synopsis);
    for (int k = 0; k < n; k++) {
        const struct cli_opt *o = flat[k];
        char head[96];
        int w = 0;
        if (o->short_name)
            w = snprintf(head, sizeof head, "-%c%s", o->short_name, o->name[0] ? ", " : "");
        if (o->name[0]) w += snprintf(head + w, sizeof head - (size_t)w, "--%s", o->name);
        if (o->arg)
            snprintf(head + w, sizeof head - (size_t)w, o->optional ? " [%s]" : " %s", o->arg);
        const char *h = o->help ? o->help : "";
        int col = (int)strlen(head) + 2;
        if (col > 24) { // a long head gets the help text on its own line
            fprintf(f, "  %s\n%24s", head, "");
        } else {
            fprintf(f, "  %-20s  ", head);
        }
        for (const char *p = h; *p; p++) {
            fputc(*p, f);
            if (*p == '\n') fprintf(f, "%24s", "");
        }
        fputc('\n', f);
    }
    if (footer) fputs(footer, f);
}

static int fwd_value(void *t, const char *v, const char *cmd) {
    struct cli_fwd_slot *sl = t;
    struct cli_fwd *f = sl->fwd;
    if (f->argc + 2 > (int)JANUS_ARRAY_SIZE(f->argv)) return cli_error(cmd, "too many options");
    f->argv[f->argc++] = sl->flag;
    f->argv[f->argc++] = v;
    return 0;
}

void cli_fwd_opts(struct cli_fwd *f, const struct cli_fwd_opt *table, int n_rows,
                  struct cli_opt *opts, int *n) {
    memset(f, 0, sizeof *f);
    f->n_rows = n_rows < CLI_FWD_MAX ? n_rows : CLI_FWD_MAX;
    for (int i = 0; i < f->n_rows; i++) {
        const struct cli_fwd_opt *r = &table[i];
        struct cli_fwd_slot *sl = &f->slots[i];
        sl->fwd = f;
        snprintf(sl->flag, sizeof sl->flag, "--%s", r->name);
        opts[(*n)++] = r->arg
                           ? (struct cli_opt)CLI_OPT_FN(r->name, 0, fwd_value, sl, r->arg, r->help)
                           : (struct cli_opt)CLI_OPT_FLAG(r->name, 0, &sl->seen, r->help);
    }
}

void cli_fwd_finish(struct cli_fwd *f) {
    for (int i = 0; i < f->n_rows && f->argc < (int)JANUS_ARRAY_SIZE(f->argv); i++)
        if (f->slots[i].seen) f->argv[f->argc++] = f->slots[i].flag;
}

static int mpi_arg(void *t, const char *v, const char *cmd) {
    struct cli_mpirun *m = t;
    if (m->n_args == (int)JANUS_ARRAY_SIZE(m->args)) return cli_error(cmd, "too many --mpi-arg");
    m->args[m->n_args++] = v;
    return 0;
}

static void cli_mpirun_opts(struct cli_mpirun *m, struct cli_opt *opts, int *n) {
    memset(m, 0, sizeof *m);
    opts[(*n)++] = (struct cli_opt)CLI_OPT_STR("mpirun", 0, &m->mpirun, "PATH",
                                               "the mpirun to use (default: mpirun from PATH)");
    opts[(*n)++] = (struct cli_opt)CLI_OPT_STR(
        "hostfile", 0, &m->hostfile, "FILE",
        "run on the hosts of an Open MPI hostfile\n(multi-host deployments; docs/PROTOCOL.md)");
    opts[(*n)++] = (struct cli_opt)CLI_OPT_FN("mpi-arg", 0, mpi_arg, m, "ARG",
                                              "extra argument for mpirun (repeatable)");
}

void cli_launcher_opts(struct cli_mpirun *m, struct cli_fwd *f, const struct cli_fwd_opt *table,
                       int n_rows, struct cli_opt *opts) {
    int n = 0;
    while (opts[n].name)
        n++;
    cli_mpirun_opts(m, opts, &n);
    cli_fwd_opts(f, table, n_rows, opts, &n);
    opts[n] = (struct cli_opt)CLI_OPT_END;
}
