// CLI tests of the scheduler and placement commands (SPEC §5, §6, §10): gen-routing is
// deterministic; place writes valid layouts (janus, eplb with duplicates reported);
// `janus schedule --json` gives byte-identical output from separate processes; one line
// per block; place-eval runs; bad input is a one-line error with a non-zero exit.
// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../test.h"
#include "base/mem.h"
#include "base/status.h"
#include "place/layout.h"

// Runs a shell command; returns its exit status (or -1).
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static const char *D;   // tmpdir
static const char *BIN; // janus

static void setup(void) {
    D = test_tmpdir();
    BIN = test_janus_bin();
}

TEST(gen_routing_deterministic) {
    setup();
    const char *opts = "--experts 32 --top-k 4 --layers 2 --steps 20 --batch 24 --zipf 1.1 "
                       "--group-size 4 --drift 0.05";
    ASSERT_EQ(run("%s gen-routing -o %s/a.txt %s --seed 3", BIN, D, opts), 0);
    ASSERT_EQ(run("%s gen-routing -o %s/b.txt %s --seed 3", BIN, D, opts), 0);
    ASSERT_EQ(run("%s gen-routing -o %s/c.txt %s --seed 4", BIN, D, opts), 0);
    char a[600], b[600], c[600];
    snprintf(a, sizeof a, "%s/a.txt", D);
    snprintf(b, sizeof b, "%s/b.txt", D);
    snprintf(c, sizeof c, "%s/c.txt", D);
    ASSERT(same_file(a, b));
    ASSERT(!same_file(a, c));
}

TEST(place_and_schedule_identical_across_processes) {
    setup();
    ASSERT_EQ(run("%s gen-routing -o %s/r.txt --experts 32 --top-k 4 --layers 2 --steps 30 "
                  "--batch 16 --zipf 1.0 --group-size 4 --seed 7",
                  BIN, D),
              0);
    ASSERT_EQ(run("%s place --routing %s/r.txt --instances 6 --slots 7 --policy janus -o "
                  "%s/lj.json --save-stats %s/st.json 2>/dev/null",
                  BIN, D, D, D),
              0);
    ASSERT_EQ(run("%s place --stats %s/st.json --instances 6 --slots 7 --policy eplb -o "
                  "%s/le.json 2>%s/eplb.err",
                  BIN, D, D, D),
              0);
    char path[600];
    snprintf(path, sizeof path, "%s/eplb.err", D);
    char *msg = test_read_file(path, NULL);
    ASSERT(msg && strstr(msg, "duplicate replicas"));
    free(msg);
    struct layout l;
    char err[256] = "";
    snprintf(path, sizeof path, "%s/lj.json", D);
    ASSERT_OK(layout_load_json(&l, path, err, sizeof err));
    ASSERT_EQ(l.n_layers, 2);
    ASSERT_EQ(l.layers[1].host_off[32], 42); // all 6 x 7 slots used
    layout_free(&l);
    const char *pols[] = {"greedy", "optimal", "random", "round-robin", "token-balanced", "first"};
    for (int p = 0; p < 6; p++) {
        for (int rep = 0; rep < 2; rep++)
            ASSERT_EQ(run("%s schedule --layout %s/lj.json --routing %s/r.txt --policy %s --json "
                          "--seed 5 > %s/s%d.json",
                          BIN, D, D, pols[p], D, rep),
                      0);
        char s0[600], s1[600];
        snprintf(s0, sizeof s0, "%s/s0.json", D);
        snprintf(s1, sizeof s1, "%s/s1.json", D);
        if (!same_file(s0, s1)) TEST_FAIL_("policy %s: outputs differ between runs", pols[p]);
        char *j = test_read_file(s0, NULL);
        ASSERT(j && strstr(j, "\"token_replica\""));
        free(j);
    }
    // Plain output: one line per block.
    ASSERT_EQ(run("%s schedule --layout %s/lj.json --routing %s/r.txt --policy optimal > "
                  "%s/plain.txt",
                  BIN, D, D, D),
              0);
    snprintf(path, sizeof path, "%s/plain.txt", D);
    char *txt = test_read_file(path, NULL);
    ASSERT(txt != NULL);
    int lines = 0;
    for (char *q = txt; *q; q++)
        lines += *q == '\n';
    ASSERT_EQ(lines, 60);
    ASSERT(strncmp(txt, "step 0 layer 0 a_max ", 21) == 0);
    free(txt);
    ASSERT_EQ(run("%s place-eval --layout %s/lj.json --routing %s/r.txt --batches 1,16 "
                  "--samples 20 > %s/pe.txt",
                  BIN, D, D, D),
              0);
}

TEST(cli_errors_are_one_line) {
    setup();
    ASSERT_EQ(run("%s gen-routing -o %s/r2.txt --experts 8 --top-k 2 --steps 2 --batch 4", BIN, D),
              0);
    ASSERT_EQ(run("%s place --routing %s/r2.txt --instances 2 --slots 4 --policy janus -o "
                  "%s/l2.json 2>/dev/null",
                  BIN, D, D),
              0);
    struct {
        const char *args;
        const char *needle;
    } cases[] = {
        {"schedule --layout %s/none.json --routing %s/r2.txt --policy greedy", "cannot open"},
        {"schedule --layout %s/l2.json --routing %s/r2.txt --policy best", "unknown policy"},
        {"schedule --layout %s/r2.txt --routing %s/r2.txt --policy greedy", "not valid JSON"},
        {"schedule --layout %s/l2.json --routing %s/l2.json --policy greedy", "line 1"},
        {"place --routing %s/r2.txt --instances 1 --slots 4 --policy janus -o %s/x.json",
         "cannot hold"},
        {"place --routing %s/r2.txt --instances 2 --slots 4 --policy magic -o %s/x.json",
         "unknown policy"},
        {"gen-routing -o %s/x.txt --experts 4 --top-k 5 --seed 1", "out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, cases[i].args, D, D);
        int rc = run("%s %s 2>%s/err.txt >/dev/null", BIN, args, D);
        if (rc == 0) TEST_FAIL_("'%s' succeeded", args);
        char path[600];
        snprintf(path, sizeof path, "%s/err.txt", D);
        char *e = test_read_file(path, NULL);
        ASSERT(e != NULL);
        int nl = 0;
        for (char *q = e; *q; q++)
            nl += *q == '\n';
        if (nl != 1 || !strstr(e, cases[i].needle))
            TEST_FAIL_("'%s': stderr '%s' (want one line with '%s')", args, e, cases[i].needle);
        free(e);
    }
    // A trace whose ids exceed the layout's experts.
    FILE *f;
    char path[600];
    snprintf(path, sizeof path, "%s/big.txt", D);
    f = fopen(path, "w");
    ASSERT(f != NULL);
    fprintf(f, "step 0 layer 0\n1 9\n");
    fclose(f);
    ASSERT(run("%s schedule --layout %s/l2.json --routing %s --policy greedy 2>/dev/null "
               ">/dev/null",
               BIN, D, path) != 0);
}

// Engine recording -> statistics -> placement -> scheduling on a real (tiny) model: the
// deepseek2 fixture has a leading dense layer, so layer 0 must stay [] in the layout.
TEST(recorded_routing_from_engine) {
    setup();
    char model[1024];
    snprintf(model, sizeof model, "%s/models/deepseek2-v2-f32.gguf", test_fixtures_dir());
    ASSERT_EQ(run("%s generate -m %s -t 1,2,3,4 -n 6 --record-routing %s/rec.txt >/dev/null "
                  "2>&1",
                  BIN, model, D),
              0);
    ASSERT_EQ(run("%s place --routing %s/rec.txt --instances 4 --slots 5 --policy janus -o "
                  "%s/rec.json 2>/dev/null",
                  BIN, D, D),
              0);
    char path[600];
    snprintf(path, sizeof path, "%s/rec.json", D);
    struct layout l;
    char err[256] = "";
    ASSERT_OK(layout_load_json(&l, path, err, sizeof err));
    ASSERT_EQ(l.layers[0].n_experts, 0);
    ASSERT(layout_n_moe_layers(&l) >= 1);
    layout_free(&l);
    ASSERT_EQ(run("%s schedule --layout %s/rec.json --routing %s/rec.txt --policy optimal > "
                  "%s/rec.out",
                  BIN, D, D, D),
              0);
    snprintf(path, sizeof path, "%s/rec.out", D);
    char *out = test_read_file(path, NULL);
    ASSERT(out && strstr(out, "step 0 layer 1 a_max "));
    free(out);
}
