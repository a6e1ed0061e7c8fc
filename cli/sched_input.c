// Layout and routing-trace loading for janus schedule and janus place-eval (sched_input.h).
// Returns an exit status after printing the error; nothing stays allocated on failure.
// SPDX-License-Identifier: MIT
#include "sched_input.h"

#include "cli.h"

#include "base/status.h"

int sched_input_load(const char *cmd, const char *layout_path, const char *routing_path,
                     struct layout *l, struct trace *t) {
    char err[JANUS_ERR_LEN] = "";
    int rc = layout_load_json(l, layout_path, err, sizeof err);
    if (rc) return cli_error(cmd, "%s: %s", layout_path, err[0] ? err : janus_strerror(rc));
    *t = (struct trace){0};
    rc = trace_load(t, routing_path, err, sizeof err);
    if (rc) {
        layout_free(l);
        return cli_error(cmd, "%s: %s", routing_path, err[0] ? err : janus_strerror(rc));
    }
    return 0;
}
