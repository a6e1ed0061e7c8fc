// File bytes in memory, mmap'd or read into anonymous memory, loaded range by range
// (fmap.h; issue 12 items 1 and 2).
// SPDX-License-Identifier: MIT
#include "base/fmap.h"

#include "base/clock.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define FMAP_HUGE         ((size_t)2 << 20)  // huge page size the read buffer is aligned to
#define FMAP_CHUNK        ((size_t)32 << 20) // bytes per pread / populate call
#define FMAP_PROGRESS_MIN ((size_t)64 << 20) // smaller loads show no progress line

static size_t page_size(void) {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static size_t round_down(size_t x, size_t a) { return x / a * a; }
static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

const char *fmap_mode_name(int32_t mode) {
    switch (mode) {
    case FMAP_MMAP: return "mmap";
    case FMAP_READ: return "read";
    case FMAP_DEFAULT: return "default";
    default: return "?";
    }
}

enum fmap_mode fmap_mode_resolve(int32_t mode) {
    return mode == FMAP_MMAP || mode == FMAP_READ ? (enum fmap_mode)mode : FMAP_DEFAULT_MODE;
}

int fmap_open(struct fmap *f, const char *path, const struct fmap_opts *o, char *err,
              size_t err_len) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    const enum fmap_mode mode = fmap_mode_resolve(o ? o->mode : FMAP_DEFAULT);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return status_errf(err, err_len, e == ENOENT ? JANUS_ENOTFOUND : JANUS_EIO, "%s: %s", path,
                           strerror(e));
    }
    struct stat st;
    int rc = JANUS_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = status_errf(err, err_len, JANUS_EIO, "%s: not a regular file", path);
    else if (st.st_size == 0)
        rc = status_errf(err, err_len, JANUS_EFORMAT, "%s: file is empty (not a GGUF file)", path);
    else if ((uint64_t)st.st_size > SIZE_MAX - 2 * FMAP_HUGE)
        rc = status_errf(err, err_len, JANUS_ELIMIT, "%s: file too large to map", path);
    if (rc) {
        close(fd);
        return rc;
    }
    const size_t size = (size_t)st.st_size;
    if (mode == FMAP_MMAP) {
        void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return status_errf(err, err_len, JANUS_EIO, "%s: mmap: %s", path, strerror(e));
        }
        f->region = map;
        f->region_len = size;
        f->base = map;
    } else {
        // Reserve one huge page more than needed, then trim to a 2 MiB-aligned region.
        const size_t len = round_up(size, FMAP_HUGE);
        uint8_t *res = mmap(NULL, len + FMAP_HUGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (res == MAP_FAILED) {
            close(fd);
            return status_errf(err, err_len, JANUS_ENOMEM, "%s: cannot reserve %zu bytes: %s", path,
                               size, strerror(errno));
        }
        uint8_t *al = (uint8_t *)round_up((uintptr_t)res, FMAP_HUGE);
        if (al > res) munmap(res, (size_t)(al - res));
        if (res + len + FMAP_HUGE > al + len)
            munmap(al + len, (size_t)(res + len + FMAP_HUGE - (al + len)));
        f->region = al;
        f->region_len = len;
        f->base = al;
    }
    f->fd = fd;
    f->mode = mode;
    f->size = size;
    f->name = path;
    return JANUS_OK;
}

// pread of [off, off + len) into base + off, in FMAP_CHUNK pieces.
static int read_range(struct fmap *f, size_t off, size_t len, char *err, size_t err_len) {
    while (len > 0) {
        size_t n = JANUS_MIN(len, FMAP_CHUNK);
        ssize_t r = pread(f->fd, f->base + off, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return status_errf(err, err_len, JANUS_EIO, "%s: read of %zu bytes at %zu: %s", f->name,
                               n, off, r < 0 ? strerror(errno) : "unexpected end of file");
        off += (size_t)r;
        len -= (size_t)r;
    }
    return JANUS_OK;
}

int fmap_fetch(struct fmap *f, size_t n, char *err, size_t err_len) {
    if (f->mode != FMAP_READ) return JANUS_OK;
    return read_range(f, 0, JANUS_MIN(n, f->size), err, err_len);
}

void fmap_drop(struct fmap *f, uint64_t off, uint64_t len) {
    const size_t ps = page_size();
    if (off >= f->size) return;
    len = JANUS_MIN(len, f->size - off);
    size_t a = round_up((size_t)off, ps);
    size_t b = off + len == f->size ? round_up(f->size, ps) : round_down((size_t)(off + len), ps);
    if (b > a) (void)madvise(f->base + a, b - a, MADV_DONTNEED);
}

void fmap_release(struct fmap *f, uint64_t off, uint64_t len) {
    const size_t ps = page_size();
    if (off >= f->size) return;
    len = JANUS_MIN(len, f->size - off);
    size_t a = round_up((size_t)off, ps);
    size_t b = off + len == f->size ? round_up(f->size, ps) : round_down((size_t)(off + len), ps);
    if (b <= a) return;
    if (f->locked && munlock(f->base + a, b - a) == 0) // locked pages cannot be dropped
        f->locked -= JANUS_MIN(f->locked, b - a);
    (void)madvise(f->base + a, b - a, MADV_DONTNEED);
}

static int cmp_range(const void *pa, const void *pb) {
    const struct fmap_range *a = pa, *b = pb;
    return a->off < b->off ? -1 : a->off > b->off;
}

// Populates the page tables of [off, off + len) of the mapping (mmap mode).
static void populate(struct fmap *f, size_t off, size_t len) {
    const size_t ps = page_size();
    size_t a = round_down(off, ps), b = round_up(off + len, ps);
#ifdef MADV_POPULATE_READ
    if (madvise(f->base + a, b - a, MADV_POPULATE_READ) == 0) return;
#endif
    volatile const uint8_t *p = f->base; // kernels before 5.14: one read per page
    uint8_t sink = 0;
    for (size_t i = a; i < JANUS_MIN(b, f->size); i += ps)
        sink ^= p[i];
    (void)sink;
}

static void fmt_bytes(char *buf, size_t n, uint64_t b) {
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, n, "%.1f MiB", (double)b / (double)(1ull << 20));
    else
        snprintf(buf, n, "%.1f KiB", (double)b / 1024.0);
}

struct progress {
    int on;
    double t0, last;
    size_t done, total;
    const char *name, *verb;
};

static void progress_show(struct progress *p, int final) {
    if (!p->on) return;
    double now = clock_now_s();
    if (!final && now - p->last < 0.2) return;
    p->last = now;
    char d[32], t[32];
    fmt_bytes(d, sizeof d, p->done);
    fmt_bytes(t, sizeof t, p->total);
    double dt = now - p->t0;
    fprintf(stderr, "\rjanus: %s %s: %s / %s, %.2f GB/s%s", p->verb, p->name, d, t,
            dt > 0 ? (double)p->done / dt * 1e-9 : 0.0, final ? "\n" : "   ");
    fflush(stderr);
}

static int lock_error(struct fmap *f, size_t want, int e, char *err, size_t err_len) {
    struct rlimit rl;
    char lim[48] = "unknown", w[32];
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        if (rl.rlim_cur == RLIM_INFINITY)
            snprintf(lim, sizeof lim, "unlimited");
        else
            fmt_bytes(lim, sizeof lim, (uint64_t)rl.rlim_cur);
    }
    fmt_bytes(w, sizeof w, want);
    return status_errf(err, err_len, JANUS_ELIMIT,
                       "%s: --mlock: cannot lock %s of weights: %s (RLIMIT_MEMLOCK is %s; raise "
                       "it with `ulimit -l`, or run without --mlock)",
                       f->name, w, strerror(e), lim);
}

int fmap_load(struct fmap *f, struct fmap_range *r, int64_t n, uint64_t trim_from,
              const struct fmap_opts *o, char *err, size_t err_len) {
    for (int64_t i = 0; i < n; i++)
        if (r[i].off > f->size || r[i].len > f->size - r[i].off)
            return status_errf(err, err_len, JANUS_EINVAL,
                               "%s: range [%llu, +%llu) outside the file (%zu bytes)", f->name,
                               (unsigned long long)r[i].off, (unsigned long long)r[i].len, f->size);
    qsort(r, (size_t)n, sizeof *r, cmp_range);
    int64_t m = 0; // merge overlapping or touching ranges; drop empty ones
    for (int64_t i = 0; i < n; i++) {
        if (r[i].len == 0) continue;
        if (m > 0 && r[i].off <= r[m - 1].off + r[m - 1].len) {
            uint64_t end = JANUS_MAX(r[m - 1].off + r[m - 1].len, r[i].off + r[i].len);
            r[m - 1].len = end - r[m - 1].off;
        } else {
            r[m++] = r[i];
        }
    }
    size_t total = 0;
    for (int64_t i = 0; i < m; i++)
        total += r[i].len;
    if (f->mode == FMAP_READ) {
        // Huge pages only where a whole 2 MiB chunk is wanted: a chunk the range covers only
        // in part would otherwise take 2 MiB of memory for a few bytes of this rank's share.
        for (int64_t i = 0; i < m; i++) {
            size_t a = r[i].off, b = r[i].off + r[i].len;
            if (a % FMAP_HUGE)
                (void)madvise(f->base + round_down(a, FMAP_HUGE), FMAP_HUGE, MADV_NOHUGEPAGE);
            if (b % FMAP_HUGE && round_down(b, FMAP_HUGE) + FMAP_HUGE <= f->region_len)
                (void)madvise(f->base + round_down(b, FMAP_HUGE), FMAP_HUGE, MADV_NOHUGEPAGE);
        }
        for (int64_t i = 0; i < m; i++) {
            size_t a = round_up(r[i].off, FMAP_HUGE),
                   b = round_down(r[i].off + r[i].len, FMAP_HUGE);
            if (b > a) (void)madvise(f->base + a, b - a, MADV_HUGEPAGE);
        }
    }
    struct progress pg = {.on = o && o->progress && total >= FMAP_PROGRESS_MIN && isatty(2),
                          .t0 = clock_now_s(),
                          .total = total,
                          .name = f->name,
                          .verb = f->mode == FMAP_READ ? "reading" : "mapping"};
    for (int64_t i = 0; i < m; i++) {
        for (size_t off = r[i].off, end = r[i].off + r[i].len; off < end;) {
            size_t len = JANUS_MIN(end - off, FMAP_CHUNK);
            if (f->mode == FMAP_READ) {
                int rc = read_range(f, off, len, err, err_len);
                if (rc) {
                    if (pg.on) fputc('\n', stderr);
                    return rc;
                }
            } else {
                populate(f, off, len);
            }
            off += len;
            pg.done += len;
            progress_show(&pg, 0);
        }
    }
    progress_show(&pg, 1);
    f->loaded += total;
    if (f->mode == FMAP_MMAP && trim_from < f->size) {
        // The page cache holds large folios, and a fault maps the whole folio: populating a
        // range also maps its neighbours. Unmap what lies outside the ranges again (the
        // bytes stay readable: touching them maps them back).
        uint64_t at = trim_from;
        for (int64_t i = 0; i <= m; i++) {
            const uint64_t next = i < m ? r[i].off : f->size;
            if (next > at) fmap_drop(f, at, next - at);
            if (i < m) at = JANUS_MAX(at, r[i].off + r[i].len);
        }
    }
    if (o && o->lock) {
        const size_t ps = page_size();
        for (int64_t i = 0; i < m; i++) {
            size_t a = round_down(r[i].off, ps), b = round_up(r[i].off + r[i].len, ps);
            if (mlock(f->base + a, b - a) != 0) return lock_error(f, total, errno, err, err_len);
            f->locked += b - a;
        }
    }
    return JANUS_OK;
}

void fmap_close(struct fmap *f) {
    if (f->region) {                      // a zeroed struct is not an open file
        munmap(f->region, f->region_len); // munlock is implied
        close(f->fd);
    }
    memset(f, 0, sizeof *f);
    f->fd = -1;
}
