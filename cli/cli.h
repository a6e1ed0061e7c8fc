// The janus command-line tool: one entry point per subcommand (cmd_*.c), plus the small
// argument helpers they share (options come from a table each: opts.h). Each command:
// parse -> init -> run -> free in reverse; errors are one line on stderr, written by
// cli_error ("janus <cmd>: ..."), and a non-zero exit (SPEC §10).
// SPDX-License-Identifier: MIT
#ifndef JANUS_CLI_H
#define JANUS_CLI_H

#include "engine/linear.h"

#include <stdint.h>

typedef int (*cli_cmd_fn)(int argc, char **argv); // argv[0] is the subcommand name

int cmd_generate(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_gen_model(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_sched_bench(int argc, char **argv);
int cmd_xfer_bench(int argc, char **argv);
int cmd_place(int argc, char **argv);
int cmd_place_eval(int argc, char **argv);
int cmd_gen_routing(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_worker_mpi(int argc, char **argv); // cmd_worker_mpi.c: MPI mode of `janus worker`
int cmd_serve(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_admin(int argc, char **argv);

// Prints "janus <cmd>: <message>" to stderr; returns 1 (use: return cli_error(...)).
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// True if argv contains -h or --help.
int cli_wants_help(int argc, char **argv);
// Strict numeric parsing: whole string must be a number in range. 0 ok, -1 bad.
int cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
int cli_parse_f64(const char *s, double lo, double hi, double *out);
// Parses "1,2,3" (commas or spaces) into out (up to cap). Returns count, or -1 if malformed
// or longer than cap.
int cli_parse_ids(const char *s, int32_t *out, int cap);
// --kv-type NAME (f32, f16, q8_0) into *(int32_t *)target (enum kern_kvtype); a CLI_FN of
// cli/opts.h: 0 ok, 1 after printing "janus <cmd>: --kv-type: unknown 'X' (f32, f16, q8_0)".
int cli_opt_kv_type(void *target, const char *value, const char *cmd);
// --matmul NAME (exact, int8) into *(int32_t *)target (enum linear_path); a CLI_FN as above.
int cli_opt_matmul(void *target, const char *value, const char *cmd);
#define CLI_MATMUL_ARG "P"
#define CLI_MATMUL_HELP                                                                            \
    "numeric path of products with quantized weights: exact (F32\n"                                \
    "activations, exact decode) or int8 (int8 activation blocks,\n"                                \
    "integer dot products); default " LINEAR_PATH_DEFAULT_NAME                                     \
    "\n(docs/PERFORMANCE.md, Numeric paths)"

#endif // JANUS_CLI_H
