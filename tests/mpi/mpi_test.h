// Shared by the MPI unit tests (tests/mpi/test_*.c, run under mpirun): a per-rank failure
// counter with CHECK, MPI start-up once per process, and must() for calls that cannot fail
// in a healthy run (abort the whole job otherwise).
// SPDX-License-Identifier: MIT
#ifndef JANUS_MPI_TEST_H
#define JANUS_MPI_TEST_H

#include "base/status.h"
#include "comm/comm.h"

#include <stdio.h>
#include <stdlib.h>

static int g_bad; // failures on this rank

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (g_bad++ < 10) {                                                                    \
                fprintf(stderr, "  rank %d: %s:%d: ", comm_world_rank(), __FILE__, __LINE__);      \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fprintf(stderr, "\n");                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static inline void mpi_up(void) {
    int init = 0;
    MPI_Initialized(&init);
    if (init) return;
    if (comm_init(NULL, NULL) != JANUS_OK) exit(2);
    atexit(comm_finalize);
}

static inline void must(int rc, const char *what) {
    if (rc != JANUS_OK) {
        fprintf(stderr, "rank %d: %s failed: %s\n", comm_world_rank(), what, janus_strerror(rc));
        comm_abort(3);
    }
}

#endif // JANUS_MPI_TEST_H
