// Live rescale of a deployment's shape (issue 16 item 3, SPEC §7): front_rescale starts a
// deployment of the new (n_attn, n_moe) beside the current one, moves the requests to it by
// replay and retires the old one. docs/HTTP.md "Administration".
// SPDX-License-Identifier: MIT
#include "front/front.h"

#include "base/status.h"

#include <string.h>

int front_rescale(struct front *f, const struct front_rescale_args *a,
                  struct front_rescale_info *out, char *err, size_t err_len) {
    (void)f, (void)a;
    memset(out, 0, sizeof *out);
    return status_errf(err, err_len, JANUS_EUNSUPPORTED, "live rescale is not available yet");
}
