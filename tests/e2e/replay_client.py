#!/usr/bin/env python3
# Client of tests/e2e/test_serve_replay.sh (issue 16 item 1): runs N concurrent streaming
# completions (greedy, ignore_eos, fixed max_tokens; plus seeded sampled ones) against a
# janus serve and writes their texts and usage as JSON. With --kill-job it kills the job
# (kill -9 of the worker process, or of an MPI rank chosen by --victim; --signal STOP stops
# it instead, for the step watchdog) once every stream has received a few tokens, polls /health and /v1/models meanwhile, submits one more
# request while the deployment is recovering, and reports the statuses seen and the pause.
# SPDX-License-Identifier: MIT
import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("out")
ap.add_argument("--n", type=int, default=16)
ap.add_argument("--max-tokens", type=int, default=24)
ap.add_argument("--kill-job", action="store_true")
ap.add_argument("--victim", default="job", help="job: the job's leader; rank:K: MPI rank K")
ap.add_argument("--min-tokens", type=int, default=3, help="tokens each stream has before the kill")
ap.add_argument("--signal", default="KILL", choices=["KILL", "STOP"],
                help="KILL: the victim dies; STOP: it stalls (the step watchdog must act)")
ap.add_argument("--fault-cmd", default=None,
                help="the fault is this shell command (run in the background, e.g. a link taken "
                     "down for a while) instead of a signal")
ap.add_argument("--rescale", default=None,
                help="instead of a fault: live rescales, e.g. '1,2 2,1' (janus admin URL rescale "
                     "--attn A --moe M, one after the other, with every stream mid-flight)")
ap.add_argument("--janus", default=None, help="the janus binary (--rescale)")
ap.add_argument("--no-recovery", action="store_true",
                help="with --fault-cmd: the fault is no failure (e.g. a live re-placement); stop "
                     "watching /health once the command ended")
a = ap.parse_args()

PROMPTS = ["The expert", "Once upon a time there was", "Hello", "A mixture of experts",
           "In the beginning", "The quick brown fox", "Janus looks both ways", "Tokens flow"]


def body(i):
    b = {"prompt": PROMPTS[i % len(PROMPTS)] + " " * (i // len(PROMPTS)),
         "max_tokens": a.max_tokens, "ignore_eos": True, "stream": True,
         "stream_options": {"include_usage": True}}
    if i % 4 == 3:  # seeded sampling continues deterministically across the fault
        b.update({"temperature": 0.8, "seed": 1000 + i})
    else:
        b["temperature"] = 0
    return b


def get(path):
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    d = r.read()
    c.close()
    return r.status, d


lock = threading.Lock()
chunks = {}   # i -> tokens/chunks received so far
res = {}      # i -> {"text", "usage", "finish", "error", "times"}


def stream(i, b):
    out = {"text": "", "usage": None, "finish": None, "error": None, "times": []}
    try:
        c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
        c.request("POST", "/v1/completions", json.dumps(b), {"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            out["error"] = "status %d %r" % (r.status, r.read()[:300])
        else:
            for line in r:
                line = line.strip()
                if not line.startswith(b"data: "):
                    continue
                if line == b"data: [DONE]":
                    break
                ev = json.loads(line[6:])
                if "error" in ev:
                    out["error"] = ev["error"]
                    continue
                if ev.get("usage"):
                    out["usage"] = ev["usage"]
                for ch in ev.get("choices", []):
                    out["text"] += ch.get("text", "")
                    if ch.get("finish_reason"):
                        out["finish"] = ch["finish_reason"]
                    if ch.get("text"):
                        out["times"].append(time.monotonic())
                        with lock:
                            chunks[i] = chunks.get(i, 0) + 1
        c.close()
    except Exception as e:  # reported, not raised: the caller asserts
        out["error"] = "exception %r" % e
    with lock:
        res[i] = out


def victim_pid():
    st, d = get("/health")
    job = json.loads(d)["job_pid"]
    if a.victim == "job":
        return job
    rank = a.victim.split(":")[1]
    kids = subprocess.run(["pgrep", "-P", str(job)], capture_output=True, text=True).stdout.split()
    for p in kids:
        try:
            env = open("/proc/%s/environ" % p, "rb").read().split(b"\0")
        except OSError:
            continue
        if ("OMPI_COMM_WORLD_RANK=%s" % rank).encode() in env:
            return int(p)
    sys.exit("no process of rank %s among %r" % (rank, kids))


def mid_flight(what):
    """Waits (bounded: 60 s) until every stream has a.min_tokens; returns the tokens so far.
    Fails if a stream ended first. Notes the job's process group in the report."""
    for _ in range(3000):
        with lock:
            if all(chunks.get(i, 0) >= a.min_tokens for i in range(a.n)) or len(res) == a.n:
                break
        time.sleep(0.02)
    with lock:
        so_far = dict(chunks)
        assert len(res) == 0, "streams ended before the %s: raise --max-tokens or the step delay" % what
    report["old_pgid"] = json.loads(get("/health")[1])["job_pid"]
    return so_far


threads = [threading.Thread(target=stream, args=(i, body(i))) for i in range(a.n)]
for t in threads:
    t.start()
report = {"health": [], "models_during": [], "late": None, "pause_s": None}
if a.rescale:
    before = mid_flight("rescale")
    t_kill = time.monotonic()
    report["rescales"] = []
    for shape in a.rescale.split():
        na, nm = shape.split(",")
        t0 = time.monotonic()
        p = subprocess.run([a.janus, "admin", "http://127.0.0.1:%d" % a.port, "rescale", "--attn",
                            na, "--moe", nm], capture_output=True, text=True, timeout=300)
        with lock:
            live = a.n - len(res)
        print("rescale to (%s,%s) with %d streams live: exit %d, %.2f s: %s%s"
              % (na, nm, live, p.returncode, time.monotonic() - t0, p.stdout.strip(), p.stderr.strip()))
        report["rescales"].append({"shape": shape, "rc": p.returncode, "live": live,
                                   "t0": t0, "t1": time.monotonic(),
                                   "reply": p.stdout.strip(), "stderr": p.stderr.strip()})
    report["shape_after"] = [json.loads(get("/health")[1]).get(k) for k in ("n_attn", "n_moe")]
if a.kill_job:
    before = mid_flight("kill")
    if a.fault_cmd:
        t_kill = time.monotonic()
        fault = subprocess.Popen(["sh", "-c", a.fault_cmd])
        print("fault '%s' with every stream mid-flight (tokens so far: %d..%d)"
              % (a.fault_cmd, min(before.values()), max(before.values())))
    else:
        pid = victim_pid()
        t_kill = time.monotonic()
        os.kill(pid, signal.SIGSTOP if a.signal == "STOP" else signal.SIGKILL)
        report["victim_pid"] = pid
        print("%s %s pid %d with every stream mid-flight (tokens so far: %d..%d)"
              % ("stopped" if a.signal == "STOP" else "killed", a.victim, pid,
                 min(before.values()), max(before.values())))
    late = None
    for _ in range(1200):  # bounded: 60 s at 50 ms
        done = a.no_recovery and fault.poll() is not None  # (before the poll: one more after)
        st, d = get("/health")
        s = json.loads(d).get("status")
        if not report["health"] or report["health"][-1] != s:
            report["health"].append(s)
        if done:
            break
        if s == "recovering":
            if "t_recovering" not in report:
                report["t_recovering"] = time.monotonic()
            report["models_during"].append(get("/v1/models")[0])
            if late is None:  # a request arriving while recovering waits for the new job
                late = threading.Thread(target=stream, args=(a.n, body(0)))
                late.start()
        if s == "ok" and "recovering" in report["health"]:
            break
        time.sleep(0.05)
    if late:
        late.join()
        report["late"] = res.get(a.n)
for t in threads:
    t.join()
if a.kill_job and a.fault_cmd:
    fault.wait()
if a.kill_job or a.rescale:
    # The pause: the longest gap between two tokens of a stream after the kill (a job whose
    # leader was killed may go on streaming a while before the front sees it gone).
    gaps = []
    for i in range(a.n):
        ts = res[i]["times"]
        gaps += [ts[k + 1] - ts[k] for k in range(len(ts) - 1) if ts[k + 1] > t_kill]
    report["pause_s"] = max(gaps) if gaps else None
    # Streams that had tokens before the kill and after the front saw the job dead: the ones
    # the replay carried on (all of them, unless some ended before the death was seen).
    t_rec = report.get("t_recovering", t_kill if a.rescale else float("inf"))
    report["carried"] = sum(1 for i in range(a.n) if res[i]["times"] and res[i]["times"][0] < t_kill
                            and res[i]["times"][-1] > t_rec)
    if a.rescale:
        print("longest token gap from the first rescale on: %.2f s" % (report["pause_s"] or -1))
        for x in report["rescales"]:  # per rescale: the longest gap that ends within it or 5 s after
            g = [(ts[k + 1] - ts[k], ts[k + 1]) for i in range(a.n) for ts in [res[i]["times"]]
                 for k in range(len(ts) - 1) if x["t0"] < ts[k + 1] <= x["t1"] + 5]
            before = [d for d, e in g if e <= x["t1"]]
            x["gap_s"] = max(d for d, e in g) if g else None
            print("  rescale to (%s): %.2f s; longest gap %s (while the new deployment started: %s)"
                  % (x["shape"], x["t1"] - x["t0"], "%.3f s" % x["gap_s"] if g else "-",
                     "%.3f s" % max(before) if before else "-"))
    else:
        print("health statuses seen: %s; /v1/models while recovering: %s; longest token gap %.2f s"
              % (report["health"], sorted(set(report["models_during"])), report["pause_s"] or -1))
report["streams"] = [res[i] for i in range(a.n)]
json.dump(report, open(a.out, "w"))
