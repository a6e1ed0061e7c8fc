// MPI test of comm/wake (issue 15 item 7): the channel comes up on every rank; a byte rank 0
// sent before a rank blocks wakes it (it stays in the socket); no byte means a timeout;
// rank 0's linger ends when the ranks close; rank 0 closing without linger reads as
// WAKE_CLOSED on every rank; rank 0's watch over its peers reports neither a rank whose
// connection was reset nor one that closed normally (their processes ended: mpirun's to
// report; an unreachable host is test_testhosts_link.sh's); JANUS_WAKE=off keeps it down on
// every rank; no descriptor leaks.
// nranks: 3
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/status.h"
#include "comm/comm.h"
#include "comm/wake.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpi_test.h"

static void barrier(void) { must(JANUS_MPI_CALL(MPI_Barrier(MPI_COMM_WORLD)), "barrier"); }

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

// wake_watch_peers' hook: the reports, from the watch thread.
static pthread_mutex_t lost_mu = PTHREAD_MUTEX_INITIALIZER;
static char lost_why[4][256];
static int n_lost;
static void on_lost(void *cookie, const char *why) {
    (void)cookie;
    pthread_mutex_lock(&lost_mu);
    if (n_lost < 4) snprintf(lost_why[n_lost], sizeof lost_why[n_lost], "%s", why);
    n_lost++;
    pthread_mutex_unlock(&lost_mu);
}

// Every rank's live flag equals want.
static void check_live_everywhere(const struct wake *wk, int want) {
    int lo = 0, hi = 0;
    must(JANUS_MPI_CALL(MPI_Allreduce(&wk->live, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD)), "min");
    must(JANUS_MPI_CALL(MPI_Allreduce(&wk->live, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD)), "max");
    CHECK(lo == want && hi == want, "live flags %d..%d, want %d everywhere", lo, hi, want);
}

TEST(wake_channel) {
    mpi_up();
    int me = comm_world_rank();
    barrier();
    int fds0 = open_fds();
    struct wake wk;
    must(wake_open(&wk, MPI_COMM_WORLD), "wake_open");
    check_live_everywhere(&wk, 1);
    CHECK(wk.n == 3 && wk.me == me, "n %d me %d", wk.n, wk.me);

    // Nothing sent: a bounded wait times out.
    if (me != 0) CHECK(wake_wait(&wk, 20) == WAKE_TIMEOUT, "woken with nothing sent");
    barrier();
    // A byte sent before the rank blocks is not lost: it wakes the rank at once.
    if (me == 0) wake_signal(&wk);
    if (me == 0) CHECK(wk.n_sent == 2, "%d wake-ups sent, want 2", wk.n_sent);
    barrier();
    if (me != 0) CHECK(wake_wait(&wk, 30000) == WAKE_WOKEN, "the byte sent earlier was lost");
    barrier();
    // A byte sent while (or before) the rank blocks wakes it; one byte, one wake-up: it was
    // read, so the next wait times out.
    if (me == 0) wake_signal(&wk);
    if (me != 0) CHECK(wake_wait(&wk, 30000) == WAKE_WOKEN, "not woken by a byte");
    barrier();
    if (me != 0) CHECK(wake_wait(&wk, 20) == WAKE_TIMEOUT, "woken twice by one byte");
    barrier();

    // Normal end: the ranks close first; rank 0's linger ends when it reads their ends.
    wake_close(&wk, 30000);
    CHECK(!wk.live, "live after close");
    barrier();

    // Rank 0 gone: the ranks read WAKE_CLOSED and the channel is down there.
    must(wake_open(&wk, MPI_COMM_WORLD), "wake_open 2");
    check_live_everywhere(&wk, 1);
    if (me == 0) wake_close(&wk, 0);
    if (me != 0) {
        CHECK(wake_wait(&wk, 30000) == WAKE_CLOSED, "rank 0's close not seen");
        CHECK(!wk.live, "live after WAKE_CLOSED");
        wake_close(&wk, 0);
    }
    barrier();

    // Rank 0's watch over its peers: rank 1's connection reset (SO_LINGER 0) and rank 2's
    // normal close are not reported (an ended process is not an unreachable host).
    must(wake_open(&wk, MPI_COMM_WORLD), "wake_open 3");
    check_live_everywhere(&wk, 1);
    if (me == 0) must(wake_watch_peers(&wk, on_lost, NULL), "wake_watch_peers");
    if (me != 0) CHECK(wake_watch_peers(&wk, on_lost, NULL) == JANUS_EINVAL, "watch off rank 0");
    barrier();
    if (me == 1) {
        struct linger lg = {1, 0};
        CHECK(setsockopt(wk.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0, "SO_LINGER");
    }
    if (me != 0) wake_close(&wk, 0); // rank 1: a reset; rank 2: a normal close
    barrier();
    if (me == 0) {
        usleep(500000);     // (a report would come within microseconds of the reset)
        wake_close(&wk, 0); // stops the watch
        CHECK(n_lost == 0, "%d peers reported unreachable, want 0: '%s'", n_lost, lost_why[0]);
    }
    barrier();

    // JANUS_WAKE=off on rank 0 keeps the channel down on every rank.
    if (me == 0) setenv("JANUS_WAKE", "off", 1);
    must(wake_open(&wk, MPI_COMM_WORLD), "wake_open off");
    check_live_everywhere(&wk, 0);
    if (me == 0) wake_signal(&wk); // a no-op when down
    if (me != 0) CHECK(wake_wait(&wk, 0) == WAKE_TIMEOUT, "wait on a channel that is down");
    wake_close(&wk, 0);
    if (me == 0) unsetenv("JANUS_WAKE");
    barrier();
    CHECK(open_fds() == fds0, "descriptors: %d before, %d after", fds0, open_fds());

    int bad = 0;
    MPI_Allreduce(&g_bad, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    ASSERT_EQ(bad, 0);
}
