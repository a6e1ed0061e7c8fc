// Ranks on different CPUs compute with one kernel table (SPEC §3: the gate must be
// bit-identical on every MoE instance): when one rank can only run the reference kernels
// (here: JANUS_KERNELS=ref on the last rank), every rank of the deployment uses them, and the
// deployment still reproduces the fixture's greedy tokens.
// nranks: 3
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/mem.h"
#include "base/status.h"
#include "comm/comm.h"
#include "runtime/exec.h"
#include "runtime/worker_mpi.h"
#include "kernels/kernels.h"

#include <stdlib.h>

#define MAX_PROMPT 64
// Records a failure and goes on: rank 0 must reach exec_destroy, which the other ranks'
// worker loops wait for.
#define CHECK(ok, ...)                                                                             \
    do {                                                                                           \
        if (!(ok)) test_fail(__FILE__, __LINE__, __VA_ARGS__);                                     \
    } while (0)

TEST(mpi_ranks_agree_on_kernels) {
    int me = 0;
    // Before anything calls kern_best() (it caches its choice).
    if (getenv("OMPI_COMM_WORLD_RANK") && atoi(getenv("OMPI_COMM_WORLD_RANK")) == 2)
        setenv("JANUS_KERNELS", "ref", 1);
    if (comm_init(NULL, NULL) != JANUS_OK) exit(2);
    atexit(comm_finalize);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    char path[1024], ids[1024];
    snprintf(path, sizeof path, "%s/models/llama-moe-f32.gguf", test_fixtures_dir());
    struct worker_mpi_params p;
    worker_mpi_default_params(&p);
    p.model_path = path;
    p.parent = MPI_COMM_WORLD;
    p.n_attn = 1;
    p.n_moe = 2;
    p.max_seqs = 1;
    p.max_rows = MAX_PROMPT;
    p.n_ctx = 128;
    struct exec *e = NULL;
    char err[512] = "";
    ASSERT_OK(worker_mpi_start(&p, &e, err, sizeof err));
    if (me != 0) return; // the worker loop ran until rank 0 destroyed e
    printf("  rank 0 would pick %s; the deployment uses %s\n", kern_best()->name, e->info.kernels);
    CHECK(!strcmp(e->info.kernels, "ref"), "deployment kernels %s, want ref", e->info.kernels);

    // One prompt, greedy, against the fixture's tokens.
    int32_t tok[MAX_PROMPT], want[8];
    snprintf(ids, sizeof ids, "%s/reference/llama-moe-f32.1.tokens", test_fixtures_dir());
    int n = test_read_ints(ids, tok, MAX_PROMPT);
    snprintf(ids, sizeof ids, "%s/reference/llama-moe-f32.1.greedy", test_fixtures_dir());
    CHECK(n > 0 && test_read_ints(ids, want, 8) == 8, "fixture token files");
    struct batch *b = mem_calloc(MEM_TAG_MISC, 1, sizeof *b);
    struct batch_result *r = mem_calloc(MEM_TAG_MISC, 1, sizeof *r);
    CHECK(b && r && batch_init(b, MAX_PROMPT) == JANUS_OK, "out of memory");
    int32_t got[8] = {0};
    int rc = JANUS_OK;
    for (int g = 0; g < 8 && n > 0 && b && r && rc == JANUS_OK; g++) {
        batch_clear(b);
        if (g == 0) b->start_seq[b->n_start++] = 0;
        const int32_t n_rows = g == 0 ? n : 1;
        for (int32_t k = 0; k < n_rows && rc == JANUS_OK; k++) // the last row: greedy token
            rc = batch_add(b, g == 0 ? tok[k] : got[g - 1], 0, g == 0 ? k : n + g - 1,
                           k == n_rows - 1);
        if (rc == JANUS_OK) rc = exec_step(e, b, r);
        got[g] = r->tokens[0];
    }
    CHECK(rc == JANUS_OK, "step: %s", janus_strerror(rc));
    CHECK(n > 0 && !memcmp(got, want, sizeof want), "greedy tokens differ from the fixture");
    if (b) batch_free(b);
    mem_free(b);
    mem_free(r);
    exec_destroy(&e);
}
