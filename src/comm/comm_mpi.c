// MPI transport basics (comm.h): init/finalize, abort hook, checked communicator helpers.
// Collective-ness of each function is documented in comm.h. SPEC §4 "Transport".
// SPDX-License-Identifier: MIT
#include "comm/comm.h"

#include "base/log.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>

int comm_world_rank(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin) return -1;
    int r = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int comm_mpi_check(int mpi_rc, const char *what, const char *file, int line) {
    if (JANUS_LIKELY(mpi_rc == MPI_SUCCESS)) return JANUS_OK;
    char msg[MPI_MAX_ERROR_STRING + 1] = {0};
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "code %d", mpi_rc);
    log_write(LOG_LEVEL_ERROR, file, line, "MPI failure in %s (rank %d): %s", what,
              comm_world_rank(), msg);
    return JANUS_ECOMM;
}

void comm_abort(int code) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Abort(MPI_COMM_WORLD, code != 0 ? code : 1);
    abort();
}

static void abort_hook(int code) { comm_abort(code); }

int comm_init(int *argc, char ***argv) {
    int provided = 0;
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) {
        LOG_ERROR("MPI_Init_thread failed (code %d)", rc);
        return JANUS_ECOMM;
    }
    base_set_abort_hook(abort_hook);
    int st = JANUS_MPI_CALL(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    if (st != JANUS_OK) return st;
    if (provided < MPI_THREAD_FUNNELED) {
        LOG_ERROR("MPI provides thread level %d, need MPI_THREAD_FUNNELED", provided);
        return JANUS_ECOMM;
    }
    log_set_identity(comm_world_rank(), "");
    return JANUS_OK;
}

void comm_finalize(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) (void)JANUS_MPI_CALL(MPI_Finalize());
}

int comm_dup(MPI_Comm parent, MPI_Comm *out) {
    MPI_Comm c = MPI_COMM_NULL;
    COMM_TRY(MPI_Comm_dup(parent, &c));
    int rc = JANUS_MPI_CALL(MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN));
    if (rc != JANUS_OK) {
        MPI_Comm_free(&c);
        return rc;
    }
    *out = c;
    return JANUS_OK;
}

int comm_split(MPI_Comm parent, int color, int key, MPI_Comm *out) {
    MPI_Comm c = MPI_COMM_NULL;
    COMM_TRY(MPI_Comm_split(parent, color, key, &c));
    if (c != MPI_COMM_NULL) {
        int rc = JANUS_MPI_CALL(MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN));
        if (rc != JANUS_OK) {
            MPI_Comm_free(&c);
            return rc;
        }
    }
    *out = c;
    return JANUS_OK;
}

void comm_free(MPI_Comm *c) {
    // (MPI_Comm)0 is what a zeroed struct holds; it is no valid handle in Open MPI or MPICH.
    if (*c == (MPI_Comm)0 || *c == MPI_COMM_NULL || *c == MPI_COMM_WORLD || *c == MPI_COMM_SELF) {
        *c = MPI_COMM_NULL;
        return;
    }
    (void)JANUS_MPI_CALL(MPI_Comm_free(c));
    *c = MPI_COMM_NULL;
}

int comm_check_equal_u64(MPI_Comm comm, uint64_t v, const char *what) {
    // One allreduce of (-v, v) with MAX gives (-min, max); uint64 has no negation, so
    // reduce (UINT64_MAX - v, v) with MPI_MAX: min = UINT64_MAX - r[0].
    uint64_t in[2] = {UINT64_MAX - v, v}, out[2] = {0, 0};
    COMM_TRY(MPI_Allreduce(in, out, 2, MPI_UINT64_T, MPI_MAX, comm));
    uint64_t lo = UINT64_MAX - out[0], hi = out[1];
    if (lo != hi) {
        LOG_ERROR("%s differs between ranks: min %llu, max %llu (this rank %llu)", what,
                  (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)v);
        return JANUS_EPROTO;
    }
    return JANUS_OK;
}
