// MPI transport basics (SPEC §4 "Transport"; STYLE: MPI). Every MPI call of comm/ and of the MPI
// executor goes through JANUS_MPI_CALL, which turns a failure into JANUS_ECOMM and logs the
// call, MPI_Error_string and the world rank. Our communicators use MPI_ERRORS_RETURN
// (comm_dup/comm_split set it), so failures come back as status codes; a failure the caller
// cannot handle escalates to comm_abort (MPI_Abort on MPI_COMM_WORLD), also the abort hook of
// JANUS_ASSERT/JANUS_PANIC once comm_init ran.
// SPDX-License-Identifier: MIT
// Through that hook no peer hangs in a collective. A rank that dies (signal, exit without
// MPI_Finalize) makes Open MPI's mpirun kill the job and exit non-zero (its default; verified
// by test_rank_death_is_reported in tests/mpi/test_run.py). Standard MPI-3 calls only (MPICH
// works too).
#ifndef JANUS_COMM_COMM_H
#define JANUS_COMM_COMM_H

#include "base/base.h"

#include <mpi.h>
#include <stdint.h>

// Not collective. Returns JANUS_OK if mpi_rc == MPI_SUCCESS, else logs
// "MPI failure in <what> at file:line (rank r): <MPI_Error_string>" and returns JANUS_ECOMM.
int comm_mpi_check(int mpi_rc, const char *what, const char *file, int line);

// Evaluates an MPI call; yields JANUS_OK or JANUS_ECOMM (after logging).
#define JANUS_MPI_CALL(call) comm_mpi_check((call), #call, __FILE__, __LINE__)
// Same, returning the status from the enclosing function on failure.
#define COMM_TRY(call)                                                                             \
    do {                                                                                           \
        int comm_rc_ = JANUS_MPI_CALL(call);                                                       \
        if (comm_rc_ != 0) return comm_rc_;                                                        \
    } while (0)

// Collective on MPI_COMM_WORLD (must be the first MPI call of the process). Initialises MPI
// with MPI_THREAD_FUNNELED (only the main thread calls MPI; kernels may use threads),
// sets MPI_ERRORS_RETURN on MPI_COMM_WORLD, installs the MPI_Abort abort hook and the log
// identity "rank N". Returns JANUS_ECOMM if MPI cannot start.
JANUS_WUR int comm_init(int *argc, char ***argv);

// Collective on MPI_COMM_WORLD. MPI_Finalize (no-op if MPI was never initialised).
void comm_finalize(void);

// Not collective. MPI_Abort(MPI_COMM_WORLD, code != 0 ? code : 1): the whole job ends.
// Falls back to abort() if MPI is not initialised. Never returns.
JANUS_NORETURN void comm_abort(int code);

// Collective on parent. Duplicates parent into *out with MPI_ERRORS_RETURN.
JANUS_WUR int comm_dup(MPI_Comm parent, MPI_Comm *out);

// Collective on parent. MPI_Comm_split; the new communicator (if not MPI_COMM_NULL, i.e.
// color != MPI_UNDEFINED) gets MPI_ERRORS_RETURN.
JANUS_WUR int comm_split(MPI_Comm parent, int color, int key, MPI_Comm *out);

// Not collective. Frees *c unless it is MPI_COMM_NULL or a predefined communicator, and
// sets it to MPI_COMM_NULL. Errors are logged and ignored (used on cleanup paths).
void comm_free(MPI_Comm *c);

// Collective on comm; v may differ between ranks. PETSc's ValidLogicalCollective: checks
// with one (min, max) allreduce that every rank passed the same v. Returns JANUS_OK if all
// equal, JANUS_EPROTO (logged with what) if not, JANUS_ECOMM on transport failure. The
// result is the same on every rank.
JANUS_WUR int comm_check_equal_u64(MPI_Comm comm, uint64_t v, const char *what);

// Not collective. World rank of this process, or -1 before comm_init.
int comm_world_rank(void);

#endif // JANUS_COMM_COMM_H
