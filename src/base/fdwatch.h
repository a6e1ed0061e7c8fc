// A lifeline (issue 16 item 1: ranks end themselves when they lose the controller or the
// front): a thread that watches one connected socket for hang-up (the peer closed it, or the
// connection broke: a reset, or TCP keepalive giving up on a dead link) without reading from
// it, and then, unless fdwatch_stop comes within grace_ms, logs one line and ends the
// process with _exit(code). It is for a process whose main thread may sit in a call that
// never returns once its peer is gone (a blocking MPI call of a step). Not collective.
// SPDX-License-Identifier: MIT
#ifndef JANUS_FDWATCH_H
#define JANUS_FDWATCH_H

#include "base/base.h"

#include <pthread.h>

struct fdwatch {
    int on;        // the thread runs (fdwatch_stop joins it)
    int fd;        // a copy (dup) of the watched socket, owned: the watch may outlive the
                   // owner's descriptor (the peer sees end-of-file only once both are closed)
    int pipe[2];   // stop signal: fdwatch_stop writes pipe[1]
    int grace_ms;  // after a hang-up, how long fdwatch_stop may take to come
    int code;      // the exit status
    char msg[192]; // logged (LOG_ERROR) before the exit
    pthread_t th;
};

// Starts watching fd. msg names what was lost and what happens ("lost the front; ending
// the job"). JANUS_OK, or JANUS_EIO (no pipe or thread: w->on is 0, nothing watched; the
// caller goes on without the lifeline). *w need not be initialised.
JANUS_WUR int fdwatch_start(struct fdwatch *w, int fd, int grace_ms, int code, const char *msg);

// Stops and joins the thread and closes its copy of the socket; idempotent, a no-op if it
// never started. After a hang-up was seen, a stop within grace_ms wins: the process is not
// ended.
void fdwatch_stop(struct fdwatch *w);

// Turns on TCP keepalive on a connected TCP socket so that a dead link or host is seen as a
// broken connection (and by fdwatch as a hang-up) after about idle_s + intvl_s x cnt
// seconds of silence instead of hours, and bounds unacknowledged sends to the same time
// (TCP_USER_TIMEOUT). Best effort: errors are ignored (not a TCP socket, an old kernel).
void fdwatch_keepalive(int fd, int idle_s, int intvl_s, int cnt);

#endif // JANUS_FDWATCH_H
