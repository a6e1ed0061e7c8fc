#!/usr/bin/env bash
# The exchange measured across test hosts against its cost model (issue 18 item 3): for each
# link setting, `testhosts.sh up 2 --rate R` (1 rank per host: 1 attention + 1 MoE, no more
# busy ranks than the 2 cores), then RUNS separate `janus xfer-bench` jobs (each with its own
# start-up calibration) over B and the three schemes. Writes CSV (one row per run and cell)
# and, through scripts/bench_xfer_report.py, a markdown table and an SVG plot. Also runs a
# (2 attention, 2 MoE) job per link, 2 ranks per host, for correctness only (4 busy ranks
# on 2 cores: its times are not reported). Root only; tears the hosts down on any exit.
#   scripts/bench-xfer-hosts.sh [OUTDIR]     env: XFER_RATES XFER_BATCH XFER_RUNS XFER_REPS XFER_D
# SPDX-License-Identifier: MIT
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
root=$(dirname "$here")
BIN=${JANUS_BIN:-$root/build/janus}
OUT=${1:-$root/build/bench-xfer}
RATES=${XFER_RATES:-none 10gbit 1gbit}
BATCH=${XFER_BATCH:-1,4,16,64,256,1024}
RUNS=${XFER_RUNS:-3}
REPS=${XFER_REPS:-5}
D=${XFER_D:-2048}
PYTHON=${PYTHON:-/usr/bin/python3}
export JANUS_TESTHOSTS_PREFIX=${JANUS_TESTHOSTS_PREFIX:-jx$$}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

[ "$(id -u)" = 0 ] || { echo "bench-xfer-hosts: needs root (test hosts)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench-xfer-hosts: no $BIN (make first)" >&2; exit 2; }
mkdir -p "$OUT"
trap '"$here/testhosts.sh" down "$JANUS_TESTHOSTS_PREFIX" || true' EXIT

# job HOSTFILE NP [MPIRUN-ARGS... --] ARGS...: one xfer-bench job across the test hosts
# (bounded: 300 s).
job() {
  local hf=$1 np=$2 margs=()
  shift 2
  if [[ " $* " == *" -- "* ]]; then
    while [ "$1" != -- ]; do margs+=("$1"); shift; done
    shift
  fi
  timeout 300 "$here/testhosts-mpirun.sh" --hostfile "$hf" -n "$np" --oversubscribe \
    "${margs[@]}" "$BIN" xfer-bench --node-size 0 "$@"
}

CSV=$OUT/xfer.csv
echo "rate,B,scheme,run,measured_us,min_us,pred_us,chosen,best,check,cross_lat_us,cross_gbps,load1,row_bytes" >"$CSV"
for rate in $RATES; do
  "$here/testhosts.sh" down "$JANUS_TESTHOSTS_PREFIX" || true
  if [ "$rate" = none ]; then
    hf=$("$here/testhosts.sh" up 2 --slots 2)
  else
    hf=$("$here/testhosts.sh" up 2 --rate "$rate" --slots 2)
  fi
  for run in $(seq 1 "$RUNS"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    log=$OUT/run-$rate-$run.txt
    # --slots 2 with 2 ranks would put both on h1: --map-by node places one per host.
    job "$hf" 2 --map-by node -- --attn 1 --moe 1 --batch "$BATCH" --reps "$REPS" --d "$D" >"$log" 2>"$OUT/run-$rate-$run.err" ||
      { cat "$OUT/run-$rate-$run.err" >&2; echo "bench-xfer-hosts: job failed ($rate, run $run)" >&2; exit 1; }
    grep -q "^# hosts: 0=$JANUS_TESTHOSTS_PREFIX-h1 1=$JANUS_TESTHOSTS_PREFIX-h2\$" "$log" ||
      { echo "bench-xfer-hosts: ranks not one per host: $(head -n 1 "$log")" >&2; exit 1; }
    "$PYTHON" - "$log" "$rate" "$run" "$load" "$((4 * D))" >>"$CSV" <<'EOF'
import re, sys
log, rate, run, load, rb = sys.argv[1:]
cal = {}
choice = {}
rows = []
for line in open(log):
    f = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    if line.startswith("calibration"):
        cal = f
    elif line.startswith("xfer "):
        rows.append(f)
    elif line.startswith("choice "):
        choice[f["B"]] = f
for f in rows:
    c = choice[f["B"]]
    print(",".join([rate, f["B"], f["scheme"], run, f["measured_us"], f["min_us"], f["pred_us"],
                    c["chosen"], c["best"], c["check"], cal["cross_lat_us"], cal["cross_gbps"], load, rb]))
EOF
  done
  # Correctness only: 2 attention ranks on h1, 2 MoE ranks on h2 (2PC has real leaders and
  # node phases); 4 busy ranks on 2 cores, so its times are noise and not reported.
  job "$hf" 4 --attn 2 --moe 2 --batch 1,7,64 --reps 1 --iters 2 --d "$D" >"$OUT/check-$rate.txt" \
    2>"$OUT/check-$rate.err" || { cat "$OUT/check-$rate.err" >&2; echo "bench-xfer-hosts: (2,2) job failed" >&2; exit 1; }
  p=$JANUS_TESTHOSTS_PREFIX
  grep -q "^# hosts: 0=$p-h1 1=$p-h1 2=$p-h2 3=$p-h2\$" "$OUT/check-$rate.txt" ||
    { echo "bench-xfer-hosts: (2,2) not one node per role: $(head -n 1 "$OUT/check-$rate.txt")" >&2; exit 1; }
  n_ok=$(grep -c "check=ok" "$OUT/check-$rate.txt" || true)
  echo "bench-xfer-hosts: $rate: (2 attention, 2 MoE) on 2 hosts, 3 batch sizes x 3 schemes: $n_ok/3 checks ok" >&2
  "$here/testhosts.sh" down "$JANUS_TESTHOSTS_PREFIX"
done
"$PYTHON" "$here/bench_xfer_report.py" "$CSV" "$OUT/xfer.svg"
echo "bench-xfer-hosts: wrote $CSV, $OUT/xfer.svg" >&2
