#!/usr/bin/env bash
# Shared set-up of the test-host tests (sourced after lib.sh, not run): the scripts, a prefix
# of our own for this run's namespaces (JANUS_TESTHOSTS_PREFIX=<tag><pid>, so parallel tests
# never collide), the root check (exit 77 without root: CTest reports the test as skipped),
# and a teardown on any exit: the servers and their jobs first (a namespace lives while a
# process is in it), then `testhosts.sh down`, then lib.sh's cleanup with our status.
# Usage: TESTHOSTS_TAG=jte source tests/e2e/testhosts_lib.sh
# SPDX-License-Identifier: MIT
TH=$ROOT/scripts/testhosts.sh
MPIRUN=$ROOT/scripts/testhosts-mpirun.sh
export JANUS_TESTHOSTS_PREFIX=${TESTHOSTS_TAG:-jt}$$
PFX=$JANUS_TESTHOSTS_PREFIX
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: test hosts need root (network namespaces); CTest reports this test as skipped"
  exit 77
fi

hosts_cleanup() {
  local rc=$?
  for p in "${SERVER_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  SERVER_PIDS=()
  "$TH" down "$PFX" || { echo "FAIL: testhosts.sh down $PFX" >&2; rc=1; }
  (exit $rc)
  cleanup
}
trap hosts_cleanup EXIT
