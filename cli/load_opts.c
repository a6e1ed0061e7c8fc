// --mmap / --no-mmap / --mlock (load_opts.h; issue 12 item 1).
// SPDX-License-Identifier: MIT
#include "load_opts.h"

#include "cli.h"

#include <string.h>

void load_opts_init(struct load_opts *lo) {
    memset(lo, 0, sizeof *lo);
    const struct cli_opt rows[] = {
        CLI_OPT_FLAG("mmap", 0, &lo->mmap,
                     "map the weights (shared with the page cache and other ranks)"),
        CLI_OPT_FLAG("no-mmap", 0, &lo->no_mmap,
                     "read the weights into anonymous memory on huge pages\n"
                     "(default: " FMAP_DEFAULT_NAME ", see docs/PERFORMANCE.md)"),
        CLI_OPT_FLAG("mlock", 0, &lo->mlock,
                     "lock the weights in memory (fails if RLIMIT_MEMLOCK is too low)"),
        CLI_OPT_END};
    _Static_assert(sizeof rows == sizeof lo->table, "load_opts.table holds the rows");
    memcpy(lo->table, rows, sizeof rows);
}

int load_opts_finish(const struct load_opts *lo, const char *cmd, struct fmap_opts *io) {
    if (lo->mmap && lo->no_mmap) return cli_error(cmd, "--mmap and --no-mmap exclude each other");
    *io = (struct fmap_opts){.mode = lo->mmap      ? FMAP_MMAP
                                     : lo->no_mmap ? FMAP_READ
                                                   : FMAP_DEFAULT,
                             .lock = lo->mlock,
                             .progress = 1};
    return 0;
}
