// Live re-placement of the experts (issue 16 item 2, SPEC §6): front_replace asks the job's
// controller for a new layout computed from the MoE ranks' decayed statistics and waits for
// the step at which every rank switches to it. docs/HTTP.md "Administration".
// SPDX-License-Identifier: MIT
#include "front/front.h"

#include "base/status.h"

#include <string.h>

int front_replace(struct front *f, const struct front_replace_args *a,
                  struct front_replace_info *out, char *err, size_t err_len) {
    (void)f, (void)a;
    memset(out, 0, sizeof *out);
    return status_errf(err, err_len, JANUS_EUNSUPPORTED, "live re-placement is not available yet");
}
