#!/usr/bin/env bash
# The exchange measured across test hosts against its cost model (issue 18 item 3): for each
# link setting, `testhosts.sh up 3 --rate R --slots 2`, then RUNS separate `janus xfer-bench`
# jobs (each with its own start-up calibration) over B, both dispatch modes (broadcast,
# selective) and the three schemes, for (1 attention, 1 MoE) one rank per host (2 busy ranks
# on the 2 cores: the timed deployment) and for (1 attention, 2 MoE) one rank per host (3
# busy ranks on 2 cores: oversubscribed, its times indicative only; its bytes are exact).
# Writes CSV (one row per deployment, run and cell) and, through scripts/bench_xfer_report.py,
# markdown tables and two SVG plots. Also runs a (2 attention, 2 MoE) job per link, 2 ranks
# per host on 2 hosts, for correctness only (4 busy ranks: its times are not reported). Root
# only; tears the hosts down on any exit.
#   scripts/bench-xfer-hosts.sh [OUTDIR]
#   env: XFER_RATES XFER_BATCH XFER_RUNS XFER_RUNS3 XFER_REPS XFER_D XFER_EXPERTS XFER_TOPK
# SPDX-License-Identifier: MIT
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
root=$(dirname "$here")
BIN=${JANUS_BIN:-$root/build/janus}
OUT=${1:-$root/build/bench-xfer}
RATES=${XFER_RATES:-none 10gbit 1gbit}
BATCH=${XFER_BATCH:-1,4,16,64,256,1024}
RUNS=${XFER_RUNS:-3}
RUNS3=${XFER_RUNS3:-$RUNS} # runs of the (1 attention, 2 MoE) deployment
REPS=${XFER_REPS:-5}
D=${XFER_D:-2048}
EXPERTS=${XFER_EXPERTS:-32}
TOPK=${XFER_TOPK:-4}
PYTHON=${PYTHON:-/usr/bin/python3}
export JANUS_TESTHOSTS_PREFIX=${JANUS_TESTHOSTS_PREFIX:-jx$$}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

[ "$(id -u)" = 0 ] || { echo "bench-xfer-hosts: needs root (test hosts)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench-xfer-hosts: no $BIN (make first)" >&2; exit 2; }
mkdir -p "$OUT"
trap '"$here/testhosts.sh" down "$JANUS_TESTHOSTS_PREFIX" || true' EXIT

# job HOSTFILE NP [MPIRUN-ARGS... --] ARGS...: one xfer-bench job across the test hosts
# (bounded: 600 s).
job() {
  local hf=$1 np=$2 margs=()
  shift 2
  if [[ " $* " == *" -- "* ]]; then
    while [ "$1" != -- ]; do margs+=("$1"); shift; done
    shift
  fi
  timeout 600 "$here/testhosts-mpirun.sh" --hostfile "$hf" -n "$np" --oversubscribe \
    "${margs[@]}" "$BIN" xfer-bench --node-size 0 "$@"
}

# timed DEPLOY NP RUN: one job of deployment DEPLOY ("1+1", "1+2") one rank per host, its
# cells appended to the CSV.
timed() {
  local deploy=$1 np=$2 run=$3 p=$JANUS_TESTHOSTS_PREFIX want="# hosts:" r
  local load log err
  load=$(cut -d' ' -f1 /proc/loadavg)
  log=$OUT/run-$deploy-$rate-$run.txt
  err=$OUT/run-$deploy-$rate-$run.err
  for r in $(seq 0 $((np - 1))); do want="$want $r=$p-h$((r + 1))"; done
  # --slots 2 would put 2 ranks on h1: --map-by node places one per host.
  job "$hf" "$np" --map-by node -- --attn 1 --moe $((np - 1)) --batch "$BATCH" --reps "$REPS" \
    --d "$D" --experts "$EXPERTS" --top-k "$TOPK" >"$log" 2>"$err" ||
    { cat "$err" >&2; echo "bench-xfer-hosts: job failed ($deploy, $rate, run $run)" >&2; exit 1; }
  grep -qx "$want" "$log" ||
    { echo "bench-xfer-hosts: ranks not one per host: $(head -n 1 "$log")" >&2; exit 1; }
  "$PYTHON" "$here/bench_xfer_report.py" --rows "$log" "$deploy" "$rate" "$run" "$load" "$((4 * D))" >>"$CSV"
}

CSV=$OUT/xfer.csv
"$PYTHON" "$here/bench_xfer_report.py" --header >"$CSV"
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/load.txt"
for rate in $RATES; do
  "$here/testhosts.sh" down "$JANUS_TESTHOSTS_PREFIX" || true
  if [ "$rate" = none ]; then
    hf=$("$here/testhosts.sh" up 3 --slots 2)
  else
    hf=$("$here/testhosts.sh" up 3 --rate "$rate" --slots 2)
  fi
  for run in $(seq 1 "$RUNS"); do timed 1+1 2 "$run"; done
  for run in $(seq 1 "$RUNS3"); do timed 1+2 3 "$run"; done
  # Correctness only: 2 attention ranks on h1, 2 MoE ranks on h2 (2PC has real leaders and
  # node phases, selective its local phases); 4 busy ranks on 2 cores, so its times are
  # noise and not reported.
  job "$hf" 4 --attn 2 --moe 2 --batch 1,7,64 --reps 1 --iters 2 --d "$D" --experts "$EXPERTS" \
    --top-k "$TOPK" >"$OUT/check-$rate.txt" 2>"$OUT/check-$rate.err" ||
    { cat "$OUT/check-$rate.err" >&2; echo "bench-xfer-hosts: (2,2) job failed" >&2; exit 1; }
  p=$JANUS_TESTHOSTS_PREFIX
  grep -q "^# hosts: 0=$p-h1 1=$p-h1 2=$p-h2 3=$p-h2\$" "$OUT/check-$rate.txt" ||
    { echo "bench-xfer-hosts: (2,2) not one node per role: $(head -n 1 "$OUT/check-$rate.txt")" >&2; exit 1; }
  n_ok=$(grep -c "^choice .*check=ok" "$OUT/check-$rate.txt" || true)
  echo "bench-xfer-hosts: $rate: (2 attention, 2 MoE) on 2 hosts, 3 batch sizes x 2 modes x 3 schemes: $n_ok/6 checks ok" >&2
  [ "$n_ok" = 6 ] || { echo "bench-xfer-hosts: (2,2) checks failed" >&2; exit 1; }
  "$here/testhosts.sh" down "$JANUS_TESTHOSTS_PREFIX"
done
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load.txt"
"$PYTHON" "$here/bench_xfer_report.py" "$CSV" "$OUT/xfer.svg" "$OUT/xfer-selective.svg"
echo "bench-xfer-hosts: wrote $CSV, $OUT/xfer.svg, $OUT/xfer-selective.svg" >&2
