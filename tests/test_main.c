// Runner linked into every test binary: runs the registered TEST()s (all, or those named
// in argv), prints one line per test, and exits 1 if any failed. Isolation between test
// binaries comes from CTest (one process each, with a timeout).
// SPDX-License-Identifier: MIT
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TESTS 1024

static struct {
    const char *name;
    test_fn fn;
} g_tests[MAX_TESTS];
static int g_n_tests;
int test_current_failed;
static char g_tmpdir[256];

void test_register(const char *name, test_fn fn) {
    if (g_n_tests >= MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    g_tests[g_n_tests].name = name;
    g_tests[g_n_tests].fn = fn;
    g_n_tests++;
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    test_current_failed = 1;
}

const char *test_fixtures_dir(void) {
    static char dir[4096];
    const char *e = getenv("JANUS_FIXTURES");
    snprintf(dir, sizeof dir, "%s", e ? e : "../shared/fixtures");
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "fixtures directory %s not found (set JANUS_FIXTURES)\n", dir);
        test_current_failed = 1;
    }
    return dir;
}

const char *test_janus_bin(void) {
    const char *e = getenv("JANUS_BIN");
    return e ? e : "build/janus";
}

static void rm_tmpdir(void) {
    if (!g_tmpdir[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmpdir);
}

const char *test_tmpdir(void) {
    if (!g_tmpdir[0]) {
        snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/janus-test-XXXXXX");
        if (!mkdtemp(g_tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(rm_tmpdir);
    }
    return g_tmpdir;
}

void *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) free(buf);
            buf = grown;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int test_read_ints(const char *path, int32_t *out, int cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    long v;
    while (n < cap && fscanf(f, "%ld", &v) == 1)
        out[n++] = (int32_t)v;
    fclose(f);
    return n;
}

int64_t test_read_floats(const char *path, float *out, int64_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int64_t n = 0;
    double v;
    while (n < cap && fscanf(f, "%lf", &v) == 1)
        out[n++] = (float)v;
    const int extra = fscanf(f, "%lf", &v) == 1;
    fclose(f);
    return extra ? -1 : n;
}

int main(int argc, char **argv) {
    int n_run = 0, n_failed = 0;
    for (int i = 0; i < g_n_tests; i++) {
        if (argc > 1) {
            int want = 0;
            for (int a = 1; a < argc; a++)
                want |= strcmp(argv[a], g_tests[i].name) == 0;
            if (!want) continue;
        }
        test_current_failed = 0;
        g_tests[i].fn();
        n_run++;
        if (test_current_failed) n_failed++;
        printf("%s %s\n", test_current_failed ? "FAIL" : "ok  ", g_tests[i].name);
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", n_run - n_failed, n_failed);
    if (n_run == 0) {
        fprintf(stderr, "no tests ran\n");
        return 1;
    }
    return n_failed ? 1 : 0;
}
