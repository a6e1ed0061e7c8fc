// Command-line options from one table per command: getopt_long parsing with one-line errors
// ("janus <cmd>: ...") and the --help text generated from the same table (SPEC §10).
// A table is an array of struct cli_opt ended by an entry with name NULL; an entry of kind
// CLI_TABLE splices another table in (options several commands share, e.g. plan_opts.h).
// SPDX-License-Identifier: MIT
#ifndef JANUS_CLI_OPTS_H
#define JANUS_CLI_OPTS_H

#include <stdint.h>
#include <stdio.h>

enum cli_opt_kind {
    CLI_FLAG,  // no value; sets *(int *)target = 1
    CLI_STR,   // *(const char **)target = the value (borrowed from argv)
    CLI_I64,   // *(int64_t *)target (or uint64_t) = an integer in [lo, hi]
    CLI_I32,   // *(int32_t *)target = an integer in [lo, hi]
    CLI_F64,   // *(double *)target = a finite number in [lo, hi]
    CLI_LIST,  // struct cli_list *target = "1,2,3" (commas or spaces), each in [lo, hi]
    CLI_FN,    // fn(target, value, cmd) stores the value: 0 ok; -1 bad value (the parser
               // says so, naming the option); 1 it printed the error itself
    CLI_TABLE, // target is another table (const struct cli_opt *), spliced in here
};

struct cli_list {
    int32_t *v; // storage for up to cap values (holds the defaults until the option is given)
    int cap, n; // n: values in v
};

struct cli_opt {
    const char *name; // long name without "--"; NULL ends the table (and CLI_TABLE's name "")
    char short_name;  // one-letter alias ("-m"), or 0
    enum cli_opt_kind kind;
    void *target;
    double lo, hi;    // CLI_I64 / I32 / F64 / LIST: the accepted range (9e18: no bound)
    const char *arg;  // the value's name in --help ("N", "FILE"); NULL for CLI_FLAG
    const char *help; // help text; '\n' starts a continuation line
    int (*fn)(void *target, const char *value, const char *cmd); // CLI_FN only
    int optional; // CLI_I64 only: the value may be left out (then *target = lo); a
                  // following argument is taken as the value when it is a number in range
};

// One table entry per kind (designated fields: the rest stay zero).
#define CLI_OPT_FLAG(nm, sh, tgt, hlp)                                                             \
    { (nm), (sh), CLI_FLAG, (tgt), .help = (hlp) }
#define CLI_OPT_STR(nm, sh, tgt, an, hlp)                                                          \
    { (nm), (sh), CLI_STR, (tgt), .arg = (an), .help = (hlp) }
#define CLI_OPT_I64(nm, sh, tgt, l, h, an, hlp)                                                    \
    { (nm), (sh), CLI_I64, (tgt), (l), (h), (an), .help = (hlp) }
#define CLI_OPT_I32(nm, sh, tgt, l, h, an, hlp)                                                    \
    { (nm), (sh), CLI_I32, (tgt), (l), (h), (an), .help = (hlp) }
#define CLI_OPT_F64(nm, sh, tgt, l, h, an, hlp)                                                    \
    { (nm), (sh), CLI_F64, (tgt), (l), (h), (an), .help = (hlp) }
#define CLI_OPT_LIST(nm, sh, tgt, l, h, an, hlp)                                                   \
    { (nm), (sh), CLI_LIST, (tgt), (l), (h), (an), .help = (hlp) }
#define CLI_OPT_FN(nm, sh, f, tgt, an, hlp)                                                        \
    { (nm), (sh), CLI_FN, (tgt), .arg = (an), .help = (hlp), .fn = (f) }
#define CLI_OPT_TABLE(t)                                                                           \
    { "", 0, CLI_TABLE, (void *)(t), .help = NULL }
#define CLI_OPT_END                                                                                \
    { NULL, 0, CLI_FLAG, NULL, .help = NULL }

// Parses argv[1..argc-1] (argv[0] is the subcommand) against the table. Returns 0, or -1
// after printing one error line: unknown option, missing value, bad value or a stray argument.
int cli_opts_parse(const char *cmd, const struct cli_opt *opts, int argc, char **argv);

// Writes "usage: janus <synopsis>\n", one line per option (and its continuation lines), then
// footer (may be NULL) to f.
void cli_opts_help(FILE *f, const char *synopsis, const struct cli_opt *opts, const char *footer);

// ---- forwarding tables: deployment options a launcher (janus run, janus serve) passes to
// its job unchanged; the job validates them ------------------------------------------------

#define CLI_FWD_MAX 32 // rows of one forwarding table

struct cli_fwd_opt {
    const char *name, *arg, *help; // arg NULL: a flag without a value
};

struct cli_fwd;
struct cli_fwd_slot { // one row's CLI_FN / CLI_FLAG target
    struct cli_fwd *fwd;
    char flag[32]; // "--name"
    int seen;      // a flag row was given
};

struct cli_fwd {
    struct cli_fwd_slot slots[CLI_FWD_MAX];
    int n_rows;
    const char *argv[2 * CLI_FWD_MAX]; // (argc) the forwarded arguments: values in the order
    int argc;                          // given, then the flags seen
};

// Sets f up for table (n_rows rows, at most CLI_FWD_MAX) and appends one option per row to
// opts from index *n on (the caller leaves n_rows entries of room and the CLI_OPT_END after).
// f must live as long as opts is parsed.
void cli_fwd_opts(struct cli_fwd *f, const struct cli_fwd_opt *table, int n_rows,
                  struct cli_opt *opts, int *n);
// After cli_opts_parse: appends the flags seen to f->argv.
void cli_fwd_finish(struct cli_fwd *f);

// The mpirun options of a launcher: --mpirun PATH, --hostfile FILE, --mpi-arg ARG
// (repeatable), for front/launch.h's launch_spec.
struct cli_mpirun {
    const char *mpirun;   // NULL: mpirun from PATH
    const char *hostfile; // NULL: this host
    const char *args[16]; // (n_args) extra arguments for mpirun
    int n_args;
};
// A launcher's table (janus run, janus serve): after the command's own rows of opts (ended
// by the first row with name NULL) appends m's three options, one row per forwarded option
// (cli_fwd_opts) and the end row. The caller leaves room for 4 + n_rows rows. m and f must
// live as long as opts is parsed.
void cli_launcher_opts(struct cli_mpirun *m, struct cli_fwd *f, const struct cli_fwd_opt *table,
                       int n_rows, struct cli_opt *opts);

#endif // JANUS_CLI_OPTS_H
