#!/usr/bin/env bash
# Test hosts on one machine (issue 18 item 1): K network + UTS namespaces joined by veth pairs
# to a bridge, addresses from 198.18.0.0/15 that exist only inside them, optional tbf shaping.
#   testhosts.sh up K [--rate R] [--slots S]   prints the path of an Open MPI hostfile (only line)
#   testhosts.sh down [PREFIX]                 removes everything `up` made (idempotent)
#   testhosts.sh exec HOST CMD...              runs CMD inside test host HOST (net + UTS)
# Names carry a prefix (JANUS_TESTHOSTS_PREFIX, default jt<pid>) so parallel runs never collide.
# Needs root. docs/PROTOCOL.md "Multi-host" explains the layout and the Open MPI launch agent.
# SPDX-License-Identifier: MIT
set -euo pipefail

STATE_ROOT=${JANUS_TESTHOSTS_STATE:-/run/janus-testhosts}
SUBNET_PFX=198.18.0 # host N gets 198.18.0.N/24 (198.18.0.0/15 is the benchmarking range)
MAX_HOSTS=64

die() { echo "testhosts: $*" >&2; exit 1; }
usage() {
  cat >&2 <<EOF
usage: testhosts.sh up K [--rate R] [--slots S]   (prints the hostfile path)
       testhosts.sh down [PREFIX]                 (default: \$JANUS_TESTHOSTS_PREFIX)
       testhosts.sh exec HOST CMD...
EOF
  exit 2
}

need_root() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, veth, bridge); unavailable as uid $(id -u)"
  local t
  for t in ip unshare nsenter mount umount; do
    command -v "$t" >/dev/null || die "needs '$t' (iproute2 / util-linux), not found"
  done
}

check_prefix() {
  [[ $1 =~ ^[a-z][a-z0-9]{0,11}$ ]] ||
    die "bad prefix '$1': 1-12 characters, a lower-case letter then letters or digits"
}

# ---- down --------------------------------------------------------------------------------
# Removes namespaces, the state directory and its mounts of PREFIX; every step tolerates
# "already gone" so it is idempotent and safe after a half-finished up.
do_down() {
  local p=$1 n f pids="" ns=()
  check_prefix "$p"
  for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    case "$n" in "$p"-h[0-9]* | "$p"-sw) ns+=("$n") ;; esac
  done
  # A namespace lives on while a process is inside it: end what still runs there (TERM, then
  # KILL after at most 5 s), so that deleting it really removes it.
  for n in "${ns[@]}"; do pids+=" $(ip netns pids "$n" 2>/dev/null | tr '\n' ' ')"; done
  pids=$(echo "$pids" | xargs)
  if [ -n "$pids" ]; then
    echo "testhosts: ending processes still in $p's hosts: $pids" >&2
    # shellcheck disable=SC2086 # a list of pids
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 1 50); do
      pids=$(for n in "${ns[@]}"; do ip netns pids "$n" 2>/dev/null; done | tr '\n' ' ')
      [ -n "${pids// /}" ] || break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -z "${pids// /}" ] || kill -KILL $pids 2>/dev/null || true
  fi
  # Deleting a network namespace deletes the veth ends and the bridge inside it.
  for n in "${ns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  local dir=$STATE_ROOT/$p
  if [ -d "$dir" ]; then
    for f in "$dir"/*.uts; do
      [ -e "$f" ] || continue
      umount "$f" 2>/dev/null || true
    done
    mountpoint -q "$dir" && { umount "$dir" 2>/dev/null || umount -l "$dir" 2>/dev/null || true; }
    rm -rf "$dir"
  fi
  rmdir "$STATE_ROOT" 2>/dev/null || true
  local left
  left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$p-(h[0-9]+|sw)$" || true)
  [ -z "$left" ] || die "could not remove: $left"
}

# ---- up ----------------------------------------------------------------------------------
# burst for tbf: 10 ms of the rate, at least 64 KiB (a GSO segment must fit in the bucket).
tbf_burst() {
  local r=$1 num unit bits
  [[ $r =~ ^([0-9]+)(bit|kbit|mbit|gbit)$ ]] || die "bad --rate '$r' (e.g. 100mbit, 1gbit, 10gbit)"
  num=${BASH_REMATCH[1]}
  unit=${BASH_REMATCH[2]}
  case $unit in bit) bits=$num ;; kbit) bits=$((num * 1000)) ;; mbit) bits=$((num * 1000000)) ;;
    gbit) bits=$((num * 1000000000)) ;; esac
  [ "$bits" -gt 0 ] || die "bad --rate '$r'"
  local b=$((bits / 8 / 100))
  [ $b -ge 65536 ] || b=65536
  echo $b
}

UP_PREFIX=""
up_failed() {
  local rc=$?
  [ "$rc" = 0 ] && return 0
  echo "testhosts: up failed, removing $UP_PREFIX" >&2
  do_down "$UP_PREFIX" || true
  exit "$rc"
}

do_up() {
  local k=$1 rate="" slots=1
  shift
  if ! [[ $k =~ ^[0-9]+$ ]] || [ "$k" -lt 1 ] || [ "$k" -gt $MAX_HOSTS ]; then
    die "bad host count '$k' (1..$MAX_HOSTS)"
  fi
  while [ $# -gt 0 ]; do
    case $1 in
      --rate) [ $# -ge 2 ] || usage; rate=$2; shift 2 ;;
      --slots) [ $# -ge 2 ] || usage; slots=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  if ! [[ $slots =~ ^[0-9]+$ ]] || [ "$slots" -lt 1 ]; then die "bad --slots '$slots'"; fi
  local burst=""
  [ -z "$rate" ] || burst=$(tbf_burst "$rate")
  local p=${JANUS_TESTHOSTS_PREFIX:-jt$$}
  check_prefix "$p"
  local dir=$STATE_ROOT/$p sw=$p-sw
  [ ! -e "$dir" ] || die "prefix '$p' is in use ($dir exists; 'testhosts.sh down $p' removes it)"
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qE "^$p-(h[0-9]+|sw)$" &&
    die "prefix '$p' is in use (namespaces exist; 'testhosts.sh down $p' removes them)"

  # From here on, any failure removes what was made.
  UP_PREFIX=$p
  trap up_failed EXIT
  mkdir -p "$dir"
  # Persistent UTS namespaces are bind mounts of /proc/PID/ns/uts; they need a private mount.
  mount --bind "$dir" "$dir"
  mount --make-private "$dir"

  # The switch: a namespace of its own holding the bridge, so nothing appears in the caller's.
  ip netns add "$sw"
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set lo up
  ip -n "$sw" link set br0 up
  local i h addr
  : >"$dir/hostfile.tmp"
  for i in $(seq 1 "$k"); do
    h=$p-h$i
    addr=$SUBNET_PFX.$i
    ip netns add "$h"
    touch "$dir/$h.uts"
    unshare --uts="$dir/$h.uts" hostname "$h"
    ip -n "$sw" link add "h$i" type veth peer name eth0 netns "$h"
    ip -n "$sw" link set "h$i" master br0
    ip -n "$sw" link set "h$i" up
    ip -n "$h" link set lo up
    ip -n "$h" addr add "$addr/24" dev eth0
    ip -n "$h" link set eth0 up
    if [ -n "$rate" ]; then
      # Egress of the host and of its switch port: both directions of the link are shaped.
      ip netns exec "$h" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms
      ip netns exec "$sw" tc qdisc add dev "h$i" root tbf rate "$rate" burst "$burst" latency 50ms
    fi
    echo "$h slots=$slots" >>"$dir/hostfile.tmp"
    echo "$h $addr" >>"$dir/addrs"
  done
  # Host 1 reaches every other: a TCP connection to a closed port must be refused (a reply
  # came back), not time out (bounded: 3 s each; no ping on every machine).
  local why
  for i in $(seq 2 "$k"); do
    why=$(ip netns exec "$p-h1" timeout 3 bash -c "exec 3<>/dev/tcp/$SUBNET_PFX.$i/9" 2>&1 || true)
    [[ $why == *refused* ]] || die "host $p-h1 cannot reach $p-h$i ($SUBNET_PFX.$i): ${why:-timed out}"
  done
  mv "$dir/hostfile.tmp" "$dir/hostfile"
  trap - EXIT
  echo "$dir/hostfile"
}

# ---- exec --------------------------------------------------------------------------------
do_exec() {
  local h=$1
  shift
  [[ $h =~ ^([a-z][a-z0-9]{0,11})-h[0-9]+$ ]] || die "'$h' is not a test host name (PREFIX-hN)"
  local p=${BASH_REMATCH[1]}
  local uts=$STATE_ROOT/$p/$h.uts
  if [ ! -e "/run/netns/$h" ] || [ ! -e "$uts" ]; then die "no test host '$h' (was 'testhosts.sh up' run?)"; fi
  [ $# -ge 1 ] || die "exec $h: no command"
  exec nsenter --net="/run/netns/$h" --uts="$uts" -- "$@"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
  up) [ $# -ge 1 ] || usage; need_root; do_up "$@" ;;
  down)
    need_root
    [ $# -le 1 ] || usage
    pfx=${1:-${JANUS_TESTHOSTS_PREFIX:-}}
    [ -n "$pfx" ] || die "down: which prefix? ('down PREFIX' or JANUS_TESTHOSTS_PREFIX)"
    do_down "$pfx"
    ;;
  exec) [ $# -ge 2 ] || usage; need_root; do_exec "$@" ;;
  *) usage ;;
esac
