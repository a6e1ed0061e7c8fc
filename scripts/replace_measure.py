#!/usr/bin/env python3
# Measurement of live re-placement (issue 16 item 2; scripts/measure-replace.sh runs it):
# against a running `janus serve` (MPI, JANUS_STEP_LOG set), 16 concurrent greedy streams
# loop over prompts from text domain A, then from domain B (a drifting workload). a_max is
# measured from /metrics (janus_layer_a_max_sum over janus_steps_total, MoE layers, a window
# of steady load) with the start-up round-robin layout, after a re-placement on A's
# statistics, after the drift to B, and after a second re-placement on B's. Both
# re-placements are commanded under load (POST /admin/replace); the step log gives
# the step times around each switch: the longest step from the command to the switch (and
# 2 steps after) over the median of the 200 steps before it, decode steps only (no prefill
# rows), beside the same
# ratio for windows of as many steps with no switch (the machine's own noise).
# Usage: replace_measure.py PORT STEP_LOG DOMAIN_A_FILE DOMAIN_B_FILE [--window S]
# SPDX-License-Identifier: MIT
import argparse
import http.client
import json
import random
import statistics
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("step_log")
ap.add_argument("domain_a")
ap.add_argument("domain_b")
ap.add_argument("--streams", type=int, default=16)
ap.add_argument("--max-tokens", type=int, default=48)
ap.add_argument("--window", type=float, default=10.0, help="seconds of each a_max window")
ap.add_argument("--settle", type=float, default=8.0, help="seconds of load before a window")
a = ap.parse_args()


def lines(path):
    out = [l.strip() for l in open(path, errors="replace") if len(l.strip()) > 20]
    return [l[:200] for l in out]


DOM = {"A": lines(a.domain_a), "B": lines(a.domain_b)}
state = {"domain": "A", "stop": False, "done": 0, "errors": 0}
lock = threading.Lock()


def worker(i):
    rng = random.Random(i)
    while not state["stop"]:
        prompt = rng.choice(DOM[state["domain"]])
        body = json.dumps({"prompt": prompt, "max_tokens": a.max_tokens, "temperature": 0,
                           "ignore_eos": True})
        try:
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
            c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            c.close()
            with lock:
                state["done" if r.status == 200 else "errors"] += 1
        except OSError:
            with lock:
                state["errors"] += 1


def metrics():
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    amax, steps = {}, 0
    for line in text.splitlines():
        if line.startswith("janus_layer_a_max_sum{"):
            layer = int(line.split('"')[1])
            amax[layer] = float(line.split()[-1])
        elif line.startswith("janus_steps_total "):
            steps = float(line.split()[-1])
    return amax, steps


def amax_window(moe_layers):
    m0, s0 = metrics()
    time.sleep(a.window)
    m1, s1 = metrics()
    ds = max(s1 - s0, 1)
    return sum(m1[l] - m0[l] for l in moe_layers) / len(moe_layers) / ds, int(ds)


def replace():
    # POST /admin/replace from here, as `janus admin URL replace` does (no process started on
    # the measured machine at the switch).
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=300)
    c.request("POST", "/admin/replace", "{}", {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    if r.status != 200:
        raise SystemExit("replace failed: %d %s" % (r.status, body))
    return json.loads(body)


threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(a.streams)]
for t in threads:
    t.start()
rows = []
time.sleep(a.settle)
m, _ = metrics()
moe_layers = sorted(l for l in m if m[l] > 0)
res = {}
res["A_roundrobin"] = amax_window(moe_layers)
r1 = replace()
time.sleep(a.settle)
res["A_placedA"] = amax_window(moe_layers)
state["domain"] = "B"
time.sleep(a.settle)
res["B_placedA"] = amax_window(moe_layers)
r2 = replace()
time.sleep(a.settle)
res["B_placedB"] = amax_window(moe_layers)
state["stop"] = True
for t in threads:
    t.join(timeout=150)

# Step times around each switch.
steps, begins, switches = {}, [], []
for line in open(a.step_log):
    f = line.split()
    if f[0] == "replace-begin":
        begins.append(int(f[1]))
    elif f[0] == "replace":
        switches.append(int(f[1]))
    else:
        steps[int(f[0])] = (int(f[1]), int(f[2]))
sw = []
for b, s in zip(begins, switches):
    # Decode steps only (rows 1..streams: no prefill chunk, whose rows make a step longer
    # whatever the layout), so that the ratio compares like with like.
    dec = lambda k: k in steps and 0 < steps[k][0] <= a.streams
    before = [steps[k][1] for k in sorted(steps) if k < b and dec(k)][-200:]
    during = [steps[k][1] for k in range(b, s + 2) if dec(k)]
    if not during:  # the switch fell among prefill steps: the next decode steps then
        during = [steps[k][1] for k in range(s, s + 20) if dec(k)][:2]
    med = statistics.median(before)
    # The load of a shared machine drifts: also against the 10 decode steps on either side.
    near = [steps[k][1] for k in list(range(b - 10, b)) + list(range(s + 2, s + 12)) if dec(k)]
    med_near = statistics.median(near) if near else med
    # The same figure with no switch, for scale on a shared machine: the longest of every
    # window of as many busy steps among the 200 before.
    n = len(during)
    base = [max(before[j:j + n]) / med for j in range(0, len(before) - n + 1)] if n else [0]
    sw.append({"begin_step": b, "switch_step": s, "steps_during": s - b,
               "median_ms": med / 1e6, "max_during_ms": max(during) / 1e6,
               "ratio": max(during) / med,
               "median_near_ms": med_near / 1e6, "ratio_near": max(during) / med_near,
               "ratio_no_switch_median": statistics.median(base),
               "ratio_no_switch_max": max(base),
               "around": [(k, steps[k][0], round(steps[k][1] / 1e6, 2))
                          for k in range(b - 4, s + 6) if k in steps]})
report = {"amax": {k: {"mean_amax": v[0], "steps": v[1]} for k, v in res.items()},
          "replace": [r1, r2], "switch_steps": sw, "requests": state["done"],
          "errors": state["errors"], "moe_layers": moe_layers}
print(json.dumps(report, indent=1))
print("a_max (mean over MoE layers and steps): A round-robin %.3f, A placed for A %.3f; "
      "B placed for A %.3f, B placed for B %.3f"
      % tuple(res[k][0] for k in ("A_roundrobin", "A_placedA", "B_placedA", "B_placedB")))
for i, x in enumerate(sw):
    print("switch %d: %d steps from command to switch; max step %.2f ms vs median %.2f ms "
          "(%.2fx; vs the 10 decode steps on either side, median %.2f ms: %.2fx; the same window "
          "with no switch, over the 200 steps before: median %.2fx, max %.2fx)"
          % (i + 1, x["steps_during"], x["max_during_ms"], x["median_ms"], x["ratio"],
             x["median_near_ms"], x["ratio_near"], x["ratio_no_switch_median"],
             x["ratio_no_switch_max"]))
    print("  steps around it (step, rows, ms): %s" % x["around"])
print("requests %d, errors %d" % (state["done"], state["errors"]))
