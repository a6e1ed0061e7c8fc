// Status codes: 0 is success, negative values are errors (libuv convention).
// Values are part of the C API (include/janus.h) and append-only.
// SPDX-License-Identifier: MIT
#ifndef JANUS_STATUS_H
#define JANUS_STATUS_H

enum janus_status {
    JANUS_OK = 0,
    JANUS_ENOMEM = -1,        // allocation failed
    JANUS_EINVAL = -2,        // invalid argument (caller error)
    JANUS_EFORMAT = -3,       // malformed input file or document
    JANUS_EPROTO = -4,        // malformed wire message or protocol violation
    JANUS_ELIMIT = -5,        // input exceeds a hard limit (limits.h)
    JANUS_EIO = -6,           // operating-system I/O error
    JANUS_ECOMM = -7,         // transport (MPI/socket) failure
    JANUS_EAGAIN = -8,        // incomplete; try again with more input
    JANUS_ECANCELED = -9,     // operation canceled
    JANUS_EUNSUPPORTED = -10, // valid but not supported (type, architecture, feature)
    JANUS_ENOTFOUND = -11,    // named item (key, tensor, file) does not exist
};

// Returns a static, human-readable description of a status code (never NULL).
const char *janus_strerror(int status);

#endif // JANUS_STATUS_H

// Outside the guard above, which include/janus.h shares (it copies the enum): a translation
// unit that saw janus.h first still gets this declaration.
#ifndef JANUS_STATUS_ERRF_H
#define JANUS_STATUS_ERRF_H
#include "base/base.h"

#include <stddef.h>

// Size of every error-message buffer: `char err[JANUS_ERR_LEN]`, passed on as (err, sizeof err).
#define JANUS_ERR_LEN 512

// Writes the formatted message into err (when err is not NULL and err_len > 0, truncating
// to fit) and returns status, so an error path reads
// `return status_errf(err, err_len, JANUS_EFORMAT, "bad key %s", key);`.
int status_errf(char *err, size_t err_len, int status, const char *fmt, ...) JANUS_PRINTF(4, 5);
#endif // JANUS_STATUS_ERRF_H
