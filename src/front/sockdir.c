// The front's private socket directory (sockdir.h): a per-user parent of mode 0700, one
// front-PID-XXXXXX directory per front, stale ones reaped at start (issue 15 item 6).
// SPDX-License-Identifier: MIT
#include "front/sockdir.h"

#include "base/log.h"
#include "base/status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sockdir_parent(char *out, size_t n) {
    const char *tmp = getenv("TMPDIR");
    snprintf(out, n, "%s/janus-%u", tmp && *tmp ? tmp : "/tmp", (unsigned)geteuid());
}

// Removes the non-directory entries of the directory dfd refers to (closes dfd).
static void empty_dir(int dfd) {
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        (void)unlinkat(dirfd(d), e->d_name, 0); // a directory inside fails: left alone
    }
    closedir(d);
}

// The pid in a name "front-PID-XXXXXX", or -1.
static long name_pid(const char *name) {
    if (strncmp(name, "front-", 6)) return -1;
    char *end;
    long pid = strtol(name + 6, &end, 10);
    return end != name + 6 && *end == '-' && pid > 0 ? pid : -1;
}

int sockdir_reap(const char *parent) {
    char def[512];
    if (!parent) {
        sockdir_parent(def, sizeof def);
        parent = def;
    }
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0) return -1;
    DIR *d = fdopendir(pfd);
    if (!d) {
        close(pfd);
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = name_pid(e->d_name);
        if (pid <= 0 || pid == (long)getpid()) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) continue; // never a symlink
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;     // alive (or not ours)
        int dfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0) continue;
        empty_dir(dfd);
        if (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0) {
            n++;
            LOG_WARN("front: removed %s/%s, left by a front (pid %ld) that is gone", parent,
                     e->d_name, pid);
        }
    }
    closedir(d);
    return n;
}

int sockdir_create(char *dir, size_t n, char *err, size_t err_len) {
    char parent[512];
    sockdir_parent(parent, sizeof parent);
    if (mkdir(parent, 0700) != 0 && errno != EEXIST)
        return status_errf(err, err_len, JANUS_EIO, "cannot create %s: %s", parent,
                           strerror(errno));
    struct stat st;
    if (lstat(parent, &st) != 0)
        return status_errf(err, err_len, JANUS_EIO, "%s: %s", parent, strerror(errno));
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return status_errf(err, err_len, JANUS_EIO,
                           "%s is not a private directory of this user (mode 0700, not a "
                           "symlink): remove it or set TMPDIR",
                           parent);
    (void)sockdir_reap(parent);
    int k = snprintf(dir, n, "%s/front-%ld-XXXXXX", parent, (long)getpid());
    if (k < 0 || (size_t)k >= n)
        return status_errf(err, err_len, JANUS_EIO, "the socket directory path is too long");
    if (!mkdtemp(dir)) {
        int rc = status_errf(err, err_len, JANUS_EIO, "mkdtemp %s: %s", dir, strerror(errno));
        dir[0] = 0;
        return rc;
    }
    return JANUS_OK;
}

void sockdir_remove(const char *dir) {
    if (!dir || !dir[0]) return;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd >= 0) empty_dir(dfd);
    (void)rmdir(dir);
}
