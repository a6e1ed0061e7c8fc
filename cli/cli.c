// Shared argument helpers for the cmd_*.c files (cli.h).
// Errors go to stderr as one line; parsers accept only a whole, in-range number.
// SPDX-License-Identifier: MIT
#include "cli.h"

#include "kernels/kernels.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "janus %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_f64(const char *s, double lo, double hi, double *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_ids(const char *s, int32_t *out, int cap) {
    int n = 0;
    const char *p = s;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) return -1;
        if (*end && *end != ',' && *end != ' ') return -1;
        if (n >= cap) return -1;
        out[n++] = (int32_t)v;
        p = end;
    }
    return n;
}

int cli_opt_kv_type(void *target, const char *value, const char *cmd) {
    const int t = kern_kvtype_parse(value);
    if (t < 0) return cli_error(cmd, "--kv-type: unknown '%s' (f32, f16, q8_0)", value);
    *(int32_t *)target = t;
    return 0;
}

int cli_opt_matmul(void *target, const char *value, const char *cmd) {
    const int p = linear_path_parse(value);
    if (p < 0) return cli_error(cmd, "--matmul: unknown '%s' (exact, int8)", value);
    *(int32_t *)target = p;
    return 0;
}
