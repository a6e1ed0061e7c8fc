// The wake-up channel of the MPI deployment (issue 15 item 7, SPEC §3 "control plane"): one
// TCP connection from every rank to rank 0 of a communicator, outside MPI, so an idle rank
// can block in poll() instead of polling an MPI request (Open MPI busy-polls inside its
// blocking calls too). Rank 0 listens on every interface (ephemeral port) and broadcasts the
// port, its addresses and two random secrets over MPI; each rank connects (loopback first
// when it shares rank 0's host), proves the secret and checks rank 0's reply. Only a hint:
// nothing depends on it for correctness, and when it cannot be set up every rank knows it
// and the deployment polls as before (logged once by rank 0). JANUS_WAKE=off turns it off.
// SPDX-License-Identifier: MIT
#ifndef JANUS_COMM_WAKE_H
#define JANUS_COMM_WAKE_H

#include "base/base.h"
#include "base/fdwatch.h"

#include <mpi.h>
#include <poll.h>
#include <pthread.h>

// At most this many addresses of rank 0 are offered (loopback included).
#define WAKE_MAX_ADDRS 8
// Host names kept by rank 0 (truncated).
#define WAKE_HOST_LEN 64

// What wake_wait saw.
enum wake_event {
    WAKE_TIMEOUT = 0, // nothing arrived within the timeout (or a signal interrupted it)
    WAKE_WOKEN = 1,   // one or more wake-up bytes arrived; all of them were read
    WAKE_CLOSED = 2,  // rank 0 closed its end (or the connection broke): rank 0 is gone
};

struct wake {
    int live;             // the channel is up on this rank (the same on every rank after wake_open)
    int me, n;            // rank in the communicator and its size
    int fd;               // rank != 0: the socket to rank 0 (valid while live)
    int *peer;            // rank 0: (n) the socket of each rank, -1 for rank 0 and for lost peers
    int n_sent;           // rank 0: wake-ups sent (wake_signal calls that reached a peer)
    struct fdwatch watch; // rank != 0: the lifeline on fd (below)
    char (*host)[WAKE_HOST_LEN]; // rank 0: (n) each rank's host name ("" if unknown)
    // rank 0: the watch over its peers (wake_watch_peers)
    int pw_on;
    int *pw_fd;             // (n) copies of peer[], -1 once reported
    struct pollfd *pw_poll; // (n) poll set
    int pw_pipe[2];         // stop signal
    void (*pw_fn)(void *cookie, const char *why);
    void *pw_cookie;
    pthread_t pw_th;
};

// Called (from the watch thread) once per peer whose connection broke: why names the rank
// and its host. It must be thread-safe with respect to the caller's main thread.
typedef void wake_lost_fn(void *cookie, const char *why);

// Not collective; rank 0 only, channel live. Starts a thread that calls fn once for every
// peer that becomes unreachable (keepalive gave up on a dead link or host: a timeout, or
// host/network unreachable). A peer whose process ended is not reported (its connection
// closes, or is reset: mpirun reports the death itself). With keepalive at about
// WAKE_PEER_LOST_S seconds on rank 0's side, a host whose link went down is named within
// that time, even while rank 0's main thread sits in a step that waits for it.
// JANUS_OK, JANUS_EINVAL (not rank 0, not live, already on), JANUS_EIO (no thread).
JANUS_WUR int wake_watch_peers(struct wake *wk, wake_lost_fn *fn, void *cookie);
// Stops that thread (idempotent); wake_close does it too.
void wake_unwatch_peers(struct wake *wk);

// Lifeline (issue 16 item 1): every socket of the channel has TCP keepalive (a dead link or
// host breaks it after about WAKE_KEEPALIVE_S seconds), and each rank != 0 watches its
// socket in a thread (base/fdwatch.h): when rank 0 closes it or it breaks while this rank's
// main thread does not come back to wake_wait or wake_close within WAKE_GONE_GRACE_MS (it
// sits in an MPI call of a step that will never end), the rank ends itself with _exit(4).
// So a rank on another host does not outlive its job even when nothing can signal it.
#define WAKE_KEEPALIVE_S   15
#define WAKE_GONE_GRACE_MS 2000
#define WAKE_PEER_LOST_S   3 // rank 0's keepalive on each peer (wake_watch_peers)

// Collective on comm. Sets up the channel; *wk need not be initialised. A channel that cannot
// be set up is no error: wk->live is 0 on every rank and rank 0 logs the reason once
// (a rank that cannot connect, JANUS_WAKE=off, no socket). Returns JANUS_ECOMM only when
// MPI itself fails (logged): the ranks may then disagree, so the caller ends the job.
JANUS_WUR int wake_open(struct wake *wk, MPI_Comm comm);

// Not collective; rank 0 only, a no-op when the channel is down. Writes one byte to every
// peer without blocking: a full socket already holds unread bytes, so the peer wakes anyway.
// A peer whose socket failed is logged once and dropped (MPI reports the rank itself).
void wake_signal(struct wake *wk);

// Not collective; rank != 0 only, channel live. Blocks in poll() until a byte arrives, rank 0
// closes, or timeout_ms passes; reads every byte that arrived. On WAKE_CLOSED the channel is
// down on this rank (wk->live is 0).
enum wake_event wake_wait(struct wake *wk, int timeout_ms);

// Not collective. Ends the channel on this rank; a no-op if wake_open never ran or failed.
// Rank 0 first waits up to linger_ms for the peers to close their ends, so a peer never reads
// end-of-file before the last message MPI carried to it (wake.c explains why).
void wake_close(struct wake *wk, int linger_ms);

#endif // JANUS_COMM_WAKE_H
