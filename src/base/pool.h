// Thread pool, created once (ggml-cpu style): pool_run(p, fn, ctx) runs fn(ctx, ith, nth) on
// every thread of the pool, the caller being thread 0, and returns when all are done.
// Workers wait for work by spinning briefly, then sleep on a condition variable, so the
// short back-to-back runs of a decode step are woken in well under a microsecond while an
// idle pool costs no CPU. pool_barrier() separates phases inside one run. No allocation
// after pool_create. SPEC §9 (multithreaded CPU kernels).
// SPDX-License-Identifier: MIT
#ifndef JANUS_POOL_H
#define JANUS_POOL_H

#include <stdint.h>

#include "base/base.h"

// Hard cap on threads per pool (the machines here have 2 cores; the cap only bounds arrays).
#define POOL_MAX_THREADS 256

struct pool;

// Work function: thread ith of nth (0 <= ith < nth). ith 0 is the caller of pool_run.
typedef void (*pool_fn)(void *ctx, int ith, int nth);

// Creates a pool of n_threads threads in all (the caller counts as one, so n_threads - 1
// workers are started). n_threads in [1, POOL_MAX_THREADS]; 0 means "number of online
// CPUs". out: *out owns the pool until pool_destroy.
// Returns JANUS_OK, JANUS_EINVAL (bad count), JANUS_ENOMEM, or JANUS_EIO (thread creation
// failed); on error *out is untouched and nothing is left running.
int pool_create(struct pool **out, int n_threads) JANUS_WUR;

// Stops and joins the workers, frees the pool and sets *pp = NULL. NULL-safe.
// Must not be called while a pool_run is in progress.
void pool_destroy(struct pool **pp);

// Number of threads (caller included). A NULL pool counts as 1.
int pool_n_threads(const struct pool *p);

// Runs fn(ctx, ith, nth) on all nth threads and returns when every call has returned.
// Memory written by any thread during the run is visible to the caller afterwards.
// A NULL pool or a 1-thread pool calls fn(ctx, 0, 1) directly. Not reentrant: one run at a
// time per pool, from one caller thread, and never from inside fn.
void pool_run(struct pool *p, pool_fn fn, void *ctx);

// Like pool_run, but only the threads that arrive in time take part: fn runs on the caller
// and on every worker that wakes before the caller's own fn(ctx, 0, nth) returns; workers
// arriving later do nothing. So fn must split its work dynamically (e.g. an atomic counter
// of chunks) and the caller's call must finish whatever is left; on a shared machine a
// descheduled worker then delays the run by at most the chunk it holds. Returns when every
// participant's fn has returned (their writes are visible). pool_barrier is not allowed.
void pool_run_dynamic(struct pool *p, pool_fn fn, void *ctx);

// Inside fn only: waits until all nth threads of the current run have reached the barrier.
// Every thread must call it the same number of times in a run. Writes before the barrier
// are visible to all threads after it.
void pool_barrier(struct pool *p);

// Splits [0, n) into nth contiguous parts as equal as possible; part ith is [*lo, *hi).
// Pure helper for the row partition every kernel caller uses.
void pool_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi);

#endif // JANUS_POOL_H
