#!/usr/bin/env bash
# mpirun for the test hosts of scripts/testhosts.sh (issue 18 item 2): `janus run|serve
# --hostfile H --mpirun scripts/testhosts-mpirun.sh` (or by hand, mpirun's own arguments).
# Runs mpirun inside the first host of the hostfile given by --hostfile, so its daemons reach
# it over the test network, with: the launch agent (no ssh), TCP between hosts and shared
# memory within one (btl tcp,self,vader), and Open MPI's traffic on the test subnet only.
# Env: JANUS_MPIRUN_REAL (default mpirun). SPDX-License-Identifier: MIT
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
hostfile=""
prev=""
for a in "$@"; do
  case $prev in --hostfile | -hostfile | --machinefile | -machinefile) hostfile=$a ;; esac
  prev=$a
done
[ -n "$hostfile" ] || { echo "testhosts-mpirun: needs --hostfile (from testhosts.sh up)" >&2; exit 2; }
[ -r "$hostfile" ] || { echo "testhosts-mpirun: cannot read hostfile $hostfile" >&2; exit 2; }
first=$(awk '!/^[[:space:]]*(#|$)/ {print $1; exit}' "$hostfile")
[ -n "$first" ] || { echo "testhosts-mpirun: no host in $hostfile" >&2; exit 2; }
net=198.18.0.0/15
exec "$here/testhosts.sh" exec "$first" "${JANUS_MPIRUN_REAL:-mpirun}" \
  --mca plm_rsh_agent "$here/testhosts-agent.sh" \
  --mca btl tcp,self,vader --mca btl_tcp_if_include "$net" --mca oob_tcp_if_include "$net" \
  --mca btl_vader_single_copy_mechanism none "$@"
