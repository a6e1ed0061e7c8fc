// The job launcher (launch.h): mpirun command line, Open MPI environment, fork + exec in a
// process group of its own.
// SPDX-License-Identifier: MIT
#include "front/launch.h"

#include "base/status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int launch_build(struct launch_argv *out, const struct launch_spec *spec, char *err,
                 size_t err_len) {
    ssize_t k = readlink("/proc/self/exe", out->exe, sizeof out->exe - 1);
    if (k <= 0) return status_errf(err, err_len, JANUS_EIO, "cannot find the janus binary");
    out->exe[k] = 0;
    int need = spec->n_args + 1 + (spec->mpi ? 8 + spec->n_mpi_args : 0);
    if (need > LAUNCH_MAX_ARGS)
        return status_errf(err, err_len, JANUS_ELIMIT,
                           "the job command needs %d arguments (at "
                           "most %d)",
                           need, LAUNCH_MAX_ARGS);
    int n = 0;
    char **av = out->argv;
    if (spec->mpi) {
        snprintf(out->np, sizeof out->np, "%d", spec->n_ranks);
        av[n++] = (char *)(spec->mpirun ? spec->mpirun : "mpirun");
        av[n++] = (char *)"--oversubscribe";
        av[n++] = (char *)"--bind-to";
        av[n++] = (char *)"none";
        av[n++] = (char *)"-n";
        av[n++] = out->np;
        if (spec->hostfile) {
            av[n++] = (char *)"--hostfile";
            av[n++] = (char *)spec->hostfile;
        }
        for (int i = 0; i < spec->n_mpi_args; i++)
            av[n++] = (char *)spec->mpi_args[i];
    }
    av[n++] = out->exe;
    for (int i = 0; i < spec->n_args; i++)
        av[n++] = (char *)spec->args[i];
    av[n] = NULL;
    out->n = n;
    return JANUS_OK;
}

void launch_mpi_env(void) {
    static const char *const env[][2] = {
        {"OMPI_ALLOW_RUN_AS_ROOT", "1"},
        {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"},
        {"OMPI_MCA_mpi_yield_when_idle", "1"},
        {"OMPI_MCA_btl_vader_single_copy_mechanism", "none"},
        {"OMPI_MCA_rmaps_base_oversubscribe", "1"},
    };
    for (size_t i = 0; i < JANUS_ARRAY_SIZE(env); i++)
        setenv(env[i][0], env[i][1], 1);
}

int launch_spawn(char *const *argv, int mpi_env, int out_fd, pid_t *pid, char *err,
                 size_t err_len) {
    pid_t p = fork();
    if (p < 0) return status_errf(err, err_len, JANUS_EIO, "fork: %s", strerror(errno));
    if (p == 0) {
        setpgid(0, 0); // own group: stopping the job reaches mpirun's children too
        if (mpi_env) launch_mpi_env();
        if (out_fd >= 0 && out_fd != STDOUT_FILENO) dup2(out_fd, STDOUT_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "janus: cannot start %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(p, p);
    *pid = p;
    return JANUS_OK;
}

void launch_describe_exit(int st, char *out, size_t n) {
    if (WIFEXITED(st))
        snprintf(out, n, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, n, "signal %d", WTERMSIG(st));
    else
        snprintf(out, n, "status %d", st);
}
