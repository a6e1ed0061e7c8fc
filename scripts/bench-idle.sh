#!/usr/bin/env bash
# Idle cost and first-token latency, polling vs blocking ranks (issue 15 item 7). Starts two
# identical MPI deployments of one build side by side, one with JANUS_WAKE=off (the ranks
# poll, as before the wake-up channel) and one with the channel; measures each rank's CPU %
# and voluntary context switches over IDLE_PROBE_S seconds of idleness (/proc), then ROUNDS
# times: waits IDLE_S seconds, sends each deployment one short streamed completion
# (alternating which goes first) and times its first token. Prints both tables and the
# medians. Timings, not checks: run it on a quiet machine and say what else ran.
#   scripts/bench-idle.sh [ROUNDS (20)] [IDLE_S (2)]   env: JANUS_BIN, MODEL, ATTN (1), MOE (2),
#   IDLE_PROBE_S (5), PROMPT ("Hello"), POLL_BIN (the polling side's binary, default JANUS_BIN:
#   an older build to compare with), KEEP_LOGS=1 (keep the servers' logs); extra `janus serve`
#   flags in SERVE_ARGS
# SPDX-License-Identifier: MIT
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export JANUS_BIN=${JANUS_BIN:-$ROOT/build/janus}
export MODEL=${MODEL:-$ROOT/../shared/fixtures/models/llama-moe-f32.gguf}
export ROUNDS=${1:-20} IDLE_S=${2:-2} ATTN=${ATTN:-1} MOE=${MOE:-2} IDLE_PROBE_S=${IDLE_PROBE_S:-5}
export PROMPT=${PROMPT:-Hello} SERVE_ARGS=${SERVE_ARGS:-} POLL_BIN=${POLL_BIN:-$JANUS_BIN}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec /usr/bin/python3 - <<'PY'
import http.client, json, os, re, shlex, shutil, signal, statistics, subprocess, sys, tempfile, time

E = os.environ
ROUNDS, IDLE_S, PROBE_S = int(E["ROUNDS"]), float(E["IDLE_S"]), float(E["IDLE_PROBE_S"])
tmp = tempfile.mkdtemp(prefix="janus-bench-idle.")
servers = {}

def start(name, wake_off):
    env = dict(E)
    if wake_off:
        env["JANUS_WAKE"] = "off"
    else:
        env.pop("JANUS_WAKE", None)
    log = open(os.path.join(tmp, name + ".log"), "w+")
    cmd = [E["POLL_BIN"] if wake_off else E["JANUS_BIN"], "serve", "-m", E["MODEL"], "--attn", E["ATTN"], "--moe", E["MOE"],
           "--port", "0"] + shlex.split(E["SERVE_ARGS"])
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    servers[name] = {"proc": p, "log": log}
    for _ in range(600):
        log.seek(0)
        m = re.search(r"listening on http://[0-9.]+:(\d+)", log.read())
        if m:
            servers[name]["port"] = int(m.group(1))
            break
        if p.poll() is not None:
            sys.exit("%s exited at start:\n%s" % (name, open(log.name).read()))
        time.sleep(0.1)
    return p

def health(name):
    c = http.client.HTTPConnection("127.0.0.1", servers[name]["port"], timeout=10)
    c.request("GET", "/health")
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")

def wait_ready(name):
    for _ in range(1200):
        try:
            st, j = health(name)
            if st == 200:
                servers[name]["job"] = j["job_pid"]
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    sys.exit("%s not ready" % name)

def ranks(name):
    out = subprocess.run(["pgrep", "-P", str(servers[name]["job"])], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]

def snap(pid):
    cs = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                cs += sum(int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches"))
        except FileNotFoundError:
            pass
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    return cs, int(st[11]) + int(st[12])

def ttft(name):
    c = http.client.HTTPConnection("127.0.0.1", servers[name]["port"], timeout=120)
    body = json.dumps({"prompt": E["PROMPT"], "max_tokens": 2, "temperature": 0,
                       "ignore_eos": True, "stream": True})
    t0 = time.monotonic()
    c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    first = None
    for line in r:
        if first is None and line.startswith(b"data: {"):
            first = time.monotonic()
    if r.status != 200 or first is None:
        sys.exit("%s: request failed (%d)" % (name, r.status))
    return 1000 * (first - t0)

try:
    start("poll", True)
    start("block", False)
    wait_ready("poll")
    wait_ready("block")
    time.sleep(2)
    pids = {n: ranks(n) for n in servers}
    a = {p: snap(p) for n in servers for p in pids[n]}
    t0 = time.monotonic()
    time.sleep(PROBE_S)
    b = {p: snap(p) for n in servers for p in pids[n]}
    dt = time.monotonic() - t0
    hz = os.sysconf("SC_CLK_TCK")
    print("# idle %.1f s, %s attention + %s MoE ranks, model %s" % (dt, E["ATTN"], E["MOE"], E["MODEL"]))
    print("| deployment | rank pid | CPU % | voluntary switches / s |")
    print("|---|---:|---:|---:|")
    for n in servers:
        for p in pids[n]:
            cpu = 100.0 * (b[p][1] - a[p][1]) / hz / dt
            print("| %s | %d | %.2f | %.0f |" % (n, p, cpu, (b[p][0] - a[p][0]) / dt))
    t = {"poll": [], "block": []}
    for i in range(ROUNDS):
        time.sleep(IDLE_S)
        for n in (("poll", "block") if i % 2 == 0 else ("block", "poll")):
            t[n].append(ttft(n))
    print("\n# first token of a %d-token prompt after >= %.1f s idle, %d rounds (ms)" %
          (len(E["PROMPT"].split()), IDLE_S, ROUNDS))
    print("| deployment | median | mean | min | max |")
    print("|---|---:|---:|---:|---:|")
    for n in ("poll", "block"):
        v = t[n]
        print("| %s | %.2f | %.2f | %.2f | %.2f |" % (n, statistics.median(v), statistics.mean(v), min(v), max(v)))
    print("\nmedian difference block - poll: %+.2f ms" % (statistics.median(t["block"]) - statistics.median(t["poll"])))
    print("raw poll:", " ".join("%.2f" % x for x in t["poll"]))
    print("raw block:", " ".join("%.2f" % x for x in t["block"]))
finally:
    for s in servers.values():
        s["proc"].send_signal(signal.SIGTERM)
    for s in servers.values():
        try:
            s["proc"].wait(timeout=20)
        except subprocess.TimeoutExpired:
            s["proc"].kill()
            s["proc"].wait()
    if E.get("KEEP_LOGS"):
        print("server logs in", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
PY
