// Thread pool (pool.h): a generation counter announces each run; workers spin on it for a
// short while and then sleep on a condition variable; the caller waits for the pending
// count to reach zero the same way. The sleep/wake handshake uses sequentially consistent
// atomics on both sides (announce, then look for sleepers / register as sleeper, then
// re-check), so a wake-up is never lost. The barrier is sense-reversing (spin, then yield).
// SPDX-License-Identifier: MIT
#include "base/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/status.h"

// How long a waiting thread spins before it sleeps. Decode steps issue runs every few
// microseconds; an idle pool must not burn the (shared, 2-core) machine for long.
#define POOL_SPIN_NS 200000
// Barrier waiters spin this many rounds before yielding the CPU on each further round.
#define POOL_BARRIER_SPINS 2000

struct pool_worker {
    struct pool *pool;
    int ith;
    pthread_t thread;
};

struct pool {
    int n;                       // threads in all, caller included
    struct pool_worker *workers; // (n - 1) workers, ith 1..n-1
    pthread_mutex_t mu;
    pthread_cond_t cv_work; // workers sleep here for the next generation
    pthread_cond_t cv_done; // the caller sleeps here for n_pending == 0
    // The run being executed; written by the caller before gen is bumped (release).
    pool_fn fn;
    void *ctx;
    _Atomic uint32_t gen;      // bumped once per run (and once to stop)
    _Atomic int n_pending;     // workers that have not finished the current run
    _Atomic int n_sleeping;    // workers asleep (or about to be) on cv_work
    _Atomic int caller_asleep; // caller asleep (or about to be) on cv_done
    _Atomic int stop;
    _Atomic uint32_t open_gen; // generation workers may still join (0: none)
    _Atomic int n_active;      // workers inside (or checking) the open run
    int dynamic;               // current run is a pool_run_dynamic
    _Atomic int bar_count;
    _Atomic uint32_t bar_phase;
    int in_run; // caller-side re-entrancy check
};

static inline void pool_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// ---- worker side

static uint32_t pool_wait_gen(struct pool *p, uint32_t seen) {
    uint32_t g;
    int64_t t0 = 0;
    for (int i = 0;; i++) {
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen) return g;
        pool_relax();
        if ((i & 63) == 63) {
            int64_t t = clock_now_ns();
            if (t0 == 0)
                t0 = t;
            else if (t - t0 > POOL_SPIN_NS)
                break;
        }
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->n_sleeping, 1);
    while ((g = atomic_load(&p->gen)) == seen)
        pthread_cond_wait(&p->cv_work, &p->mu);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *pool_worker_main(void *arg) {
    struct pool_worker *w = arg;
    struct pool *p = w->pool;
    uint32_t seen = 0;
    for (;;) {
        seen = pool_wait_gen(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        // Join only while the run is open: a dynamic run may already be finished (and its
        // context gone) by the time a descheduled worker gets here. Registering in n_active
        // before the check makes the caller's close-then-wait see us (both seq_cst).
        atomic_fetch_add(&p->n_active, 1);
        if (atomic_load(&p->open_gen) == seen) {
            const int dynamic = p->dynamic;
            p->fn(p->ctx, w->ith, p->n);
            if (!dynamic && atomic_fetch_sub(&p->n_pending, 1) == 1 &&
                atomic_load(&p->caller_asleep)) {
                pthread_mutex_lock(&p->mu);
                pthread_cond_signal(&p->cv_done);
                pthread_mutex_unlock(&p->mu);
            }
        }
        atomic_fetch_sub(&p->n_active, 1);
    }
    return NULL;
}

// ---- lifecycle

int pool_create(struct pool **out, int n_threads) {
    if (n_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n < 1 ? 1 : (n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)n);
    }
    if (n_threads < 1 || n_threads > POOL_MAX_THREADS) return JANUS_EINVAL;
    struct pool *p = mem_calloc(MEM_TAG_MISC, 1, sizeof *p);
    if (!p) return JANUS_ENOMEM;
    p->n = n_threads;
    if (n_threads > 1) {
        p->workers = mem_calloc(MEM_TAG_MISC, (size_t)(n_threads - 1), sizeof *p->workers);
        if (!p->workers) {
            mem_free(p);
            return JANUS_ENOMEM;
        }
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    int started = 0;
    for (int i = 0; i < n_threads - 1; i++) {
        p->workers[i].pool = p;
        p->workers[i].ith = i + 1;
        if (pthread_create(&p->workers[i].thread, NULL, pool_worker_main, &p->workers[i]) != 0)
            break;
        started++;
    }
    if (started != n_threads - 1) {
        p->n = started + 1; // join what was started
        pool_destroy(&p);
        return JANUS_EIO;
    }
    *out = p;
    return JANUS_OK;
}

void pool_destroy(struct pool **pp) {
    if (!pp || !*pp) return;
    struct pool *p = *pp;
    JANUS_ASSERT(!p->in_run);
    atomic_store(&p->stop, 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n - 1; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_work);
    pthread_mutex_destroy(&p->mu);
    mem_free(p->workers);
    mem_free(p);
    *pp = NULL;
}

int pool_n_threads(const struct pool *p) { return p ? p->n : 1; }

// ---- runs

// Publishes the next generation (fn/ctx/dynamic already written) and wakes sleepers.
static void pool_open(struct pool *p) {
    const uint32_t g = atomic_load(&p->gen) + 1;
    atomic_store(&p->open_gen, g == 0 ? 1 : g); // 0 means "closed"; skip it on wrap
    atomic_store(&p->gen, g == 0 ? 1 : g);      // seq_cst: ordered before the load below
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }
}

// Common start of a run on the calling thread (workers have not been woken yet).
static void run_begin(struct pool *p, pool_fn fn, void *ctx, int dynamic) {
    JANUS_ASSERT(!p->in_run);
    p->in_run = 1;
    p->fn = fn;
    p->ctx = ctx;
    p->dynamic = dynamic;
}

void pool_run_dynamic(struct pool *p, pool_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    run_begin(p, fn, ctx, 1);
    pool_open(p);
    fn(ctx, 0, p->n);
    atomic_store(&p->open_gen, 0); // close: late workers turn back without touching ctx
    for (int i = 0; atomic_load(&p->n_active) != 0; i++) {
        if (i < POOL_BARRIER_SPINS)
            pool_relax();
        else
            sched_yield();
    }
    p->in_run = 0;
}

void pool_run(struct pool *p, pool_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    run_begin(p, fn, ctx, 0);
    atomic_store(&p->n_pending, p->n - 1);
    atomic_store(&p->bar_count, 0);
    pool_open(p);
    fn(ctx, 0, p->n);
    int64_t t0 = 0;
    for (int i = 0; atomic_load_explicit(&p->n_pending, memory_order_acquire) != 0; i++) {
        pool_relax();
        if ((i & 63) == 63) {
            int64_t t = clock_now_ns();
            if (t0 == 0)
                t0 = t;
            else if (t - t0 > POOL_SPIN_NS) {
                pthread_mutex_lock(&p->mu);
                atomic_store(&p->caller_asleep, 1);
                while (atomic_load(&p->n_pending) != 0)
                    pthread_cond_wait(&p->cv_done, &p->mu);
                atomic_store(&p->caller_asleep, 0);
                pthread_mutex_unlock(&p->mu);
                break;
            }
        }
    }
    p->in_run = 0;
}

void pool_barrier(struct pool *p) {
    if (!p || p->n == 1) return;
    uint32_t phase = atomic_load_explicit(&p->bar_phase, memory_order_acquire);
    if (atomic_fetch_add(&p->bar_count, 1) == p->n - 1) {
        atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
        atomic_store_explicit(&p->bar_phase, phase + 1, memory_order_release);
        return;
    }
    for (int i = 0; atomic_load_explicit(&p->bar_phase, memory_order_acquire) == phase; i++) {
        if (i < POOL_BARRIER_SPINS)
            pool_relax();
        else
            sched_yield();
    }
}

void pool_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    JANUS_ASSERT(nth >= 1 && ith >= 0 && ith < nth && n >= 0);
    int64_t q = n / nth, r = n % nth;
    *lo = ith * q + (ith < r ? ith : r);
    *hi = *lo + q + (ith < r ? 1 : 0);
}
