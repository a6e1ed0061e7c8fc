// A read-only file's bytes in memory, in one of two modes (issue 12 item 1): a shared mmap
// of the file, or anonymous memory (2 MiB aligned, MADV_HUGEPAGE) filled with large
// pread()s. Either way the bytes sit at the same offsets from fmap.base, and only the byte
// ranges a caller loads become resident (issue 12 item 2: each rank loads its share):
// fmap_load populates (mmap) or reads (read mode) them, optionally locks them (mlock), and
// shows progress on a terminal. Bytes never loaded read as file bytes (mmap) or zeros (read).
// SPDX-License-Identifier: MIT
#ifndef JANUS_FMAP_H
#define JANUS_FMAP_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

enum fmap_mode {
    FMAP_DEFAULT = 0, // the measured default (FMAP_DEFAULT_MODE; docs/PERFORMANCE.md)
    FMAP_MMAP = 1,    // MAP_SHARED of the file: pages shared with the page cache and ranks
    FMAP_READ = 2,    // private anonymous copy read with pread (--no-mmap)
};

// The mode FMAP_DEFAULT stands for: the one with the better median decode rate over
// interleaved runs on the 1.66 GB bench model (scripts/bench-load-modes.sh); a tie keeps
// mmap, which shares pages between ranks of one host. Read mode won (batch-1 median 18.1
// vs 11.3 tok/s over 10 interleaved rounds on a shared machine, docs/PERFORMANCE.md "Memory
// modes"): its weights sit on 2 MiB pages, a file mapping's on 4 KiB page-table entries.
#define FMAP_DEFAULT_MODE FMAP_READ
#define FMAP_DEFAULT_NAME "no-mmap" // for help texts

struct fmap_opts {
    int32_t mode;     // enum fmap_mode
    int32_t lock;     // 1: mlock every loaded range; fails naming RLIMIT_MEMLOCK if refused
    int32_t progress; // 1: a progress line (bytes, rate) on stderr when it is a terminal
};

struct fmap {
    int fd;
    enum fmap_mode mode; // resolved (never FMAP_DEFAULT once open)
    uint8_t *base;       // (size) bytes: the file's byte i at base[i]
    size_t size;         // file size
    void *region;        // what to munmap (read mode: the aligned reservation)
    size_t region_len;
    size_t loaded;    // bytes fmap_load made resident (sum over calls, ranges merged)
    size_t locked;    // bytes locked
    const char *name; // for messages (borrowed; the caller's path)
};

// A byte range [off, off + len) of the file.
struct fmap_range {
    uint64_t off, len;
};

// Opens path in mode o->mode (NULL: defaults). Nothing is read yet except what mmap
// implies; read mode reserves size bytes of anonymous memory (untouched: no memory used).
// JANUS_OK, JANUS_ENOTFOUND, JANUS_EIO (not a regular file, mmap failed), JANUS_EFORMAT
// (empty file), JANUS_ELIMIT, JANUS_ENOMEM; err names the path. On failure *f is zeroed.
JANUS_WUR int fmap_open(struct fmap *f, const char *path, const struct fmap_opts *o, char *err,
                        size_t err_len);
// Makes [0, n) of the file resident (read mode: preads it; mmap: nothing to do). For
// headers parsed before the data ranges are known. JANUS_OK or JANUS_EIO.
JANUS_WUR int fmap_fetch(struct fmap *f, size_t n, char *err, size_t err_len);
// Gives back the memory of [off, off + len) (whole pages inside it; read mode: those bytes
// read as zeros again, mmap: they are mapped again on the next access).
void fmap_drop(struct fmap *f, uint64_t off, uint64_t len);
// The same for a range no longer wanted at all (live re-placement): unlocks those pages
// first when ranges were locked, so they can be given back.
void fmap_release(struct fmap *f, uint64_t off, uint64_t len);
// Loads ranges r[0..n) (any order, may overlap; sorted and merged in place): read mode
// reads them, mmap populates their page tables (MADV_POPULATE_READ, or a touch per page);
// with o->lock they are then locked. o->progress: a progress line for loads of 64 MiB or
// more when stderr is a terminal. mmap mode: whole pages of [trim_from, end of file) outside
// the ranges are unmapped afterwards (a fault maps a whole page-cache folio, neighbours
// included; they stay readable); UINT64_MAX: no trim. JANUS_OK, JANUS_EIO (a read failed or
// came short), JANUS_ELIMIT (mlock refused: the message names RLIMIT_MEMLOCK and its value),
// JANUS_EINVAL (a range outside the file).
JANUS_WUR int fmap_load(struct fmap *f, struct fmap_range *r, int64_t n, uint64_t trim_from,
                        const struct fmap_opts *o, char *err, size_t err_len);
void fmap_close(struct fmap *f); // unmaps; *f zeroed

// "mmap" / "read" for a resolved mode ("default" for FMAP_DEFAULT).
const char *fmap_mode_name(int32_t mode);
// FMAP_DEFAULT → FMAP_DEFAULT_MODE; others unchanged.
enum fmap_mode fmap_mode_resolve(int32_t mode);

#endif // JANUS_FMAP_H
