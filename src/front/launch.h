// The job launcher (SPEC §2): the one place that builds the command line of a deployment
// (`mpirun ... janus worker ...`, or one `janus worker --mono` process) and the Open MPI
// environment it runs in (as root, oversubscribed, on few cores), and that starts it as a
// child process in its own process group. Used by the front (janus serve, janus run) and by
// anything else that starts MPI jobs of this binary (janus plan's ping-pong measurement).
// SPDX-License-Identifier: MIT
#ifndef JANUS_LAUNCH_H
#define JANUS_LAUNCH_H

#include "base/base.h"

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define LAUNCH_MAX_ARGS 160

// What to launch.
struct launch_spec {
    int mpi;                     // 1: `mpirun -n n_ranks`; 0: one process
    int n_ranks;                 // MPI ranks (mpi only)
    const char *mpirun;          // NULL: "mpirun" from PATH
    const char *hostfile;        // NULL: this host only
    const char *const *mpi_args; // (n_mpi_args) extra arguments for mpirun
    int n_mpi_args;
    const char *const *args; // (n_args) arguments after the janus binary, e.g. "worker", "-m", ...
    int n_args;
};

// A built command line. argv points into the struct itself and into the spec's strings
// (which must outlive it); argv[n] is NULL.
struct launch_argv {
    char *argv[LAUNCH_MAX_ARGS + 1];
    int n;
    char exe[PATH_MAX];
    char np[16];
};

// Builds the command line of spec into out: [mpirun --oversubscribe --bind-to none -n N
// [--hostfile F] MPI_ARGS...] JANUS ARGS..., where JANUS is this executable
// (/proc/self/exe). Returns JANUS_OK, JANUS_ELIMIT (more than LAUNCH_MAX_ARGS) or JANUS_EIO
// (no /proc/self/exe), with err filled. Not thread-safe with respect to out.
JANUS_WUR int launch_build(struct launch_argv *out, const struct launch_spec *spec, char *err,
                           size_t err_len);

// Sets, in the calling process, the environment Open MPI needs to run this binary as root,
// oversubscribed, yielding when idle, without the single-copy mechanism containers lack.
// launch_spawn applies it in the child (mpi_env); exposed for callers that exec mpirun themselves.
void launch_mpi_env(void);

// Starts argv (NULL-terminated) as a child in a session (and process group) of its own,
// both numbered pid: signalling -pid reaches the group, and launch_kill_session reaches every
// descendant, also those that moved to a group of their own (Open MPI 4 puts each rank in
// one) or were orphaned; with mpi_env, launch_mpi_env() is applied in the child;
// out_fd >= 0 becomes the child's stdout (e.g. a pipe's write end, for a caller that reads
// the job's output), -1 keeps ours. Returns JANUS_OK with *pid set, or JANUS_EIO (fork
// failed; err filled). If exec fails the child prints one line and exits with status 127.
JANUS_WUR int launch_spawn(char *const *argv, int mpi_env, int out_fd, pid_t *pid, char *err,
                           size_t err_len);

// Sends sig to every live process of session sid (launch_spawn's pid) but the caller, found
// in /proc (zombies skipped). Returns how many were signalled (0: none is left), or -1 if
// /proc cannot be read. Thread-safe (it only reads /proc and signals).
int launch_kill_session(pid_t sid, int sig);

// Describes a waitpid() status as "exit status N" or "signal N".
void launch_describe_exit(int wait_status, char *out, size_t n);

#endif // JANUS_LAUNCH_H
