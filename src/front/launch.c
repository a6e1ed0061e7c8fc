// The job launcher (launch.h): mpirun command line, Open MPI environment, fork + exec in a
// session (and process group) of its own, and the /proc sweep that kills a whole session.
// SPDX-License-Identifier: MIT
#include "front/launch.h"

#include "base/status.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
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
        // Own session (and group): every descendant keeps the session id, even a rank that
        // Open MPI moves to a process group of its own, so launch_kill_session finds them all.
        if (setsid() < 0) setpgid(0, 0);
        if (mpi_env) launch_mpi_env();
        if (out_fd >= 0 && out_fd != STDOUT_FILENO) dup2(out_fd, STDOUT_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "janus: cannot start %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    // (No setpgid(p, p) here: it would make the child a group leader before its setsid,
    // which then fails. Until the child has run setsid, -p names no group: launch_kill_session
    // and kill(p) still reach it.)
    *pid = p;
    return JANUS_OK;
}

int launch_kill_session(pid_t sid, int sig) {
    if (sid <= 1) return 0;
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    pid_t self = getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == self) continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f) continue; // gone meanwhile
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        // "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
        char *rp = strrchr(buf, ')');
        char state = 0;
        long ppid = 0, pgrp = 0, session = 0;
        if (!rp || sscanf(rp + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &session) != 4) continue;
        if (session != sid || state == 'Z' || state == 'X') continue;
        if (kill((pid_t)pid, sig) == 0) n++;
    }
    closedir(d);
    return n;
}

void launch_describe_exit(int st, char *out, size_t n) {
    if (WIFEXITED(st))
        snprintf(out, n, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, n, "signal %d", WTERMSIG(st));
    else
        snprintf(out, n, "status %d", st);
}
