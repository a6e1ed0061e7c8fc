// janus info: placeholder until its issue lands (prints an error, exits 2).
// SPDX-License-Identifier: MIT
#include "cli.h"

int cmd_info(int argc, char **argv) {
    (void)argc;
    return 2 * cli_error(argv[0], "not implemented yet");
}
