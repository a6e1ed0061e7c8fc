#!/usr/bin/env python3
# Verdict of a fault run of tests/e2e/replay_client.py against its unfaulted reference (used
# by test_serve_replay.sh and test_serve_watchdog.sh): every stream complete with the same
# text, finish and usage; /health went through "recovering" back to "ok"; /v1/models 200
# meanwhile; the request sent while recovering matches too; no process of the failed job's
# session (launch_spawn: the job's own session, numbered like its pid) is left.
# With --rescale (FAULT.json from replay_client.py --rescale): every rescale succeeded and
# the checks of a recovery (/health "recovering", the late request) are skipped.
# With --no-recovery (a live re-placement: no failure), the deployment must instead have stayed
# up throughout: /health "ok" at every poll, nothing relaunched. Every stream's text, greedy
# and seeded alike, must equal the reference's in every mode: the servers sum each token's
# expert outputs in expert-id order whatever the layout, replica or batch (--sums fixed, the
# default; docs/PROTOCOL.md "Tokens") and draw sampling randomness by (seed, position).
# With --grouped-sums (a server run with --sums grouped, where each MoE instance sums its own
# experts first) texts are counted, not required: a new grouping can change a sum's last bit.
# Usage: replay_compare.py REF.json FAULT.json [--rescale] [--no-recovery] [--grouped-sums]
# (exit status 1 with the reason on failure)
# SPDX-License-Identifier: MIT
import json
import subprocess
import sys

ref, got = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
R, G = ref["streams"], got["streams"]
rescale = "--rescale" in sys.argv[3:]
assert len(R) == len(G) and R, (len(R), len(G))
seeded = [i for i in range(len(R)) if i % 4 == 3]  # replay_client's sampled streams
grouped = "--grouped-sums" in sys.argv[3:]
differ = []
for i, (r, g) in enumerate(zip(R, G)):
    assert r["error"] is None, ("reference stream %d failed" % i, r["error"])
    assert g["error"] is None, ("stream %d got an error across the fault" % i, g["error"])
    if grouped and g["text"] != r["text"]:
        differ.append(i)
        continue
    assert g["text"] == r["text"], ("stream %d text differs" % i, r["text"], g["text"])
    assert g["finish"] == r["finish"] == "length", (i, r["finish"], g["finish"])
    assert g["usage"] == r["usage"] and r["usage"]["completion_tokens"] > 0, (i, r["usage"], g["usage"])
if rescale:
    for x in got["rescales"]:
        assert x["rc"] == 0, ("a rescale failed", x)
    assert got["carried"] == len(G), ("streams not carried over the rescale", got["carried"], len(G))
if "--no-recovery" in sys.argv[3:]:
    assert got["health"] and set(got["health"]) == {"ok"}, ("/health left ok", got["health"])
    assert got["old_pgid"] and "t_recovering" not in got, "the deployment was relaunched"
    print("ok   %d/%d streams %s (%d seeded), same finish and usage; /health ok throughout; "
          "longest token gap %.2f s"
          % (len(G), len(R), "identical" if not differ else
             "complete, %d identical (grouped sums; differ: %s)" % (len(R) - len(differ), differ),
             len(seeded), got["pause_s"]))
    sys.exit(0)
h = got["health"]
assert rescale or "recovering" in h and h[-1] == "ok" and h.index("recovering") < len(h) - 1, h
assert rescale or got["models_during"] and set(got["models_during"]) == {200}, got["models_during"]
assert got["carried"] == len(G), ("streams not carried over the recovery", got["carried"], len(G))
late = got["late"]
assert rescale or late is not None, "no request was sent while recovering"
assert late is None or (late["error"] is None and late["text"] == R[0]["text"]
                        and late["usage"] == R[0]["usage"]), late
old = str(got["old_pgid"])
ps = subprocess.run(["ps", "-eo", "pid=,pgid=,sid=,stat="], capture_output=True, text=True).stdout
for col, what in ((1, "process group"), (2, "session")):
    # Zombies do not count: an init that reaps slowly (some containers) keeps them listed.
    left = [f[0] for f in map(str.split, ps.splitlines())
            if len(f) >= 4 and f[col] == old and not f[3].startswith("Z")]
    assert not left, ("processes of the failed job's %s still alive" % what, old, left)
if rescale:
    print("ok   %d/%d streams carried over %d rescales (%s), identical (%d seeded), no process "
          "of the first job left; longest token gap %.2f s"
          % (len(G), len(R), len(got["rescales"]), " ".join(x["shape"] for x in got["rescales"]),
             len(seeded), got["pause_s"]))
    sys.exit(0)
print("ok   %d/%d streams carried over the recovery, identical (%d seeded), late request too, "
      "no process of the old job left; pause %.2f s" % (len(G), len(R), len(seeded), got["pause_s"]))
