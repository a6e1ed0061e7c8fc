// Cost model of the attention <-> MoE exchange and the adaptive scheme choice (SPEC §4 "Adaptive
// choice (ours)"). Per link class (cross-node, local) a per-message latency and a per-byte cost;
// a step's predicted time per scheme is the sum over its phases (dispatch and return) of the
// phase's critical path. The prediction and xfer_choose are pure (unit-tested with injected
// costs); the calibration is collective.
// SPDX-License-Identifier: MIT
// The critical path of a phase is the busiest endpoint's
// max(sent msgs x lat + sent bytes x byte_s, received msgs x lat + received bytes x byte_s).
// 2PC funnels a node's bytes through its leader; every MoE instance receives all B rows.
// The parameters come from a start-up ping-pong on one rank pair per link class, broadcast
// so every rank holds the same numbers, then optional overrides ("cross_lat_us=50,...").
#ifndef JANUS_COMM_XFER_COST_H
#define JANUS_COMM_XFER_COST_H

#include "base/base.h"
#include "comm/topo.h"
#include "comm/xfer.h"

#include <stddef.h>
#include <stdint.h>

struct xfer_cost {
    double lat_s[XFER_N_LINKS];  // seconds per message, by enum xfer_link
    double byte_s[XFER_N_LINKS]; // seconds per byte, by enum xfer_link
};

// Not collective. Plausible shared-memory defaults (1 us, 5 GB/s both classes), used when
// calibration is skipped.
void xfer_cost_default(struct xfer_cost *c);

// Collective on t->comm. Ping-pong (8-byte and 256 KiB messages) between attention
// instance 0 and MoE instance 0 (always on different nodes) for the cross-node class, and
// between the leader and the next member of the first node with two or more instances for
// the local class (no such node: local = cross). Each measuring rank broadcasts its result,
// so *out is identical on every rank. Returns JANUS_OK or JANUS_ECOMM.
JANUS_WUR int xfer_cost_calibrate(struct xfer_cost *out, const struct topo *t);

// Collective on comm: the one MPI ping-pong of the tree (calibration above, and `janus plan
// --measure-local` through its --mpi-pingpong helper). Ranks a and b exchange 8-byte and
// 256 KiB messages (fastest of several round trips); a broadcasts the one-way latency
// (*lat_s, seconds) and the per-byte cost (*byte_s, seconds per byte) to every rank.
// JANUS_OK, JANUS_ENOMEM or JANUS_ECOMM.
JANUS_WUR int xfer_cost_pingpong(MPI_Comm comm, int a, int b, double *lat_s, double *byte_s);

// Not collective. Applies "key=value[,key=value...]" overrides; keys: cross_lat_us,
// cross_gbps, local_lat_us, local_gbps (GB/s = 1e9 bytes/s). JANUS_EINVAL with a one-line
// reason in err (and *c unchanged) on an unknown key or a value that is not a finite number
// > 0 (latency >= 0).
JANUS_WUR int xfer_cost_override(struct xfer_cost *c, const char *spec, char *err, size_t err_len);

// Pure. Predicted seconds of one layer's exchange (dispatch + return) under scheme for
// the step's b (n_a rows per attention instance) and row_bytes per row.
double xfer_cost_predict(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                         int64_t row_bytes, int32_t scheme);

// Pure. The scheme with the smallest prediction (ties: lower enum value); fills
// cost_out[XFER_N_SCHEMES] with every prediction when not NULL.
int32_t xfer_choose(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                    int64_t row_bytes, double *cost_out);

// ---- selective dispatch (SPEC §4 "Selective dispatch")
// The controller decides the mode before any gate has run, so the selective prediction uses
// the expected fan-out: k distinct experts of n_expert per row, spread evenly over the
// instances (E·|g|/n_e experts on a set g of instances, replicas ignored), need a set g with
// probability 1 − Π_{j<k} (E − E_g − j)/(E − j). Rows then go to each instance (1PC) or node
// (2PC) with that probability, plus the routing exchange (k·8 bytes per row from each
// attention instance to every other rank), which is paid once per layer.

// Pure. Probability that a row needs at least one of `share` of n_e instances' experts.
double xfer_cost_need_prob(int32_t k, int32_t n_expert, int32_t share, int32_t n_e);

// Pure. Predicted seconds of one layer's exchange under (scheme, mode); k and n_expert are
// only used by the selective mode.
double xfer_cost_predict_mode(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                              int64_t row_bytes, int32_t scheme, int32_t mode, int32_t k,
                              int32_t n_expert);

// Pure. The cheapest (scheme, mode) pair. scheme_fixed / mode_fixed >= 0 fix that half (a
// forced --comm or --dispatch), < 0 lets the model choose it; mode_fixed must be broadcast
// when k < 1. Ties: the lower broadcast prediction of the scheme (an empty step: nothing
// moves selectively, and the scheme is broadcast's choice), then broadcast before selective,
// then the lower scheme. cost_out
// [XFER_N_MODES][XFER_N_SCHEMES] receives every prediction when not NULL.
void xfer_choose_pair(const struct xfer_cost *c, const struct topo *t, const int32_t *b,
                      int64_t row_bytes, int32_t k, int32_t n_expert, int32_t scheme_fixed,
                      int32_t mode_fixed, int32_t *scheme, int32_t *mode, double *cost_out);

#endif // JANUS_COMM_XFER_COST_H
