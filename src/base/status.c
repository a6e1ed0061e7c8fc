// janus_strerror(): text for every status code; status_errf(): an error message plus its code.
// Pure; no allocation.
// SPDX-License-Identifier: MIT
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>

const char *janus_strerror(int status) {
    switch (status) {
    case JANUS_OK: return "success";
    case JANUS_ENOMEM: return "out of memory";
    case JANUS_EINVAL: return "invalid argument";
    case JANUS_EFORMAT: return "malformed input";
    case JANUS_EPROTO: return "protocol error";
    case JANUS_ELIMIT: return "limit exceeded";
    case JANUS_EIO: return "I/O error";
    case JANUS_ECOMM: return "communication failure";
    case JANUS_EAGAIN: return "incomplete, try again";
    case JANUS_ECANCELED: return "canceled";
    case JANUS_EUNSUPPORTED: return "unsupported";
    case JANUS_ENOTFOUND: return "not found";
    }
    return "unknown error";
}

int status_errf(char *err, size_t err_len, int status, const char *fmt, ...) {
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return status;
}
