#!/usr/bin/env python3
# End-to-end tests of `janus run` (the front launching the MPI deployment itself):
# greedy ids equal the fixtures' .greedy and --logits equals `janus logits` within 1e-4 for
# the llama (Mixtral-style), qwen2moe and deepseek2 fixtures under several deployments;
# --stats prints the breakdown and counters; a rank that dies mid-run makes `janus run` exit
# non-zero with a one-line report (no hang); bad deployment options give one error line.
# SPDX-License-Identifier: MIT
import os
import subprocess
import sys
import time

ROOT = os.environ.get("JANUS_ROOT", os.getcwd())
JANUS = os.environ.get("JANUS_BIN", os.path.join(ROOT, "build/janus"))
FIX = os.environ.get("JANUS_FIXTURES", os.path.join(ROOT, "../shared/fixtures"))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what, file=sys.stderr)


def run(args, timeout=120, env=None):
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.time()
    p = subprocess.run([JANUS] + args, capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def ids_of(model, n):
    return open(f"{FIX}/reference/{model}.{n}.tokens").read().split()


def test_greedy_and_logits():
    deployments = [
        ["--attn", "1", "--moe", "2", "--comm", "1pc"],
        ["--attn", "2", "--moe", "3", "--comm", "2pc1", "--node-size", "2", "--policy", "optimal"],
        ["--attn", "3", "--moe", "2", "--comm", "2pc2", "--node-size", "2", "--policy", "token-balanced"],
        ["--attn", "2", "--moe", "4", "--comm", "auto", "--comm-cost", "cross_lat_us=500", "--node-size", "2"],
    ]
    for mi, model in enumerate(["llama-moe-f32", "qwen2moe-f32", "deepseek2-v2-f32"]):
        path = f"{FIX}/models/{model}.gguf"
        for n in (1, 3):
            ids = ",".join(ids_of(model, n))
            want = open(f"{FIX}/reference/{model}.{n}.greedy").read().split()
            rc, out, err, _ = run(["logits", "-m", path, "-t", ids])
            check(rc == 0, f"janus logits {model}.{n}: {err.strip()}")
            mono = [float(x) for x in out.split()]
            for d in deployments[(mi + n) % 2::2]:  # two of the four per sequence, all four per model
                rc, out, err, _ = run(["run", "-m", path, "-t", ids, "-n", "8", "--print-ids", "--ignore-eos"] + d)
                got = out.strip().splitlines()[-1].split() if rc == 0 and out.strip() else []
                check(rc == 0 and got == want, f"{model}.{n} {' '.join(d)}: greedy {got} != {want} ({err.strip()})")
                rc, out, err, _ = run(["run", "-m", path, "-t", ids, "-n", "1", "--logits"] + d)
                lg = [float(x) for x in out.split()] if rc == 0 else []
                ok = len(lg) == len(mono) and max(abs(a - b) for a, b in zip(lg, mono)) <= 1e-4
                check(ok, f"{model}.{n} {' '.join(d)}: --logits differ from janus logits ({err.strip()})")


def test_stats_and_text():
    path = f"{FIX}/models/llama-moe-f32.gguf"
    rc, out, err, _ = run(["run", "-m", path, "-p", "The server", "-n", "4", "--attn", "2", "--moe", "2",
                           "--node-size", "2", "--comm", "2pc1", "--stats"])
    check(rc == 0, f"--stats run failed: {err.strip()}")
    check("per layer, ms per step" in out and "2pc1" in out and "a_max" in out, "--stats output:\n" + out)
    # 2 attention in 1 node, 2 MoE in 1 node: 2PC1 has 1 cross and 2 local messages per layer and
    # direction; the counters line must be a multiple of (2 directions x 2 MoE layers).
    line = [l for l in out.splitlines() if l.strip().startswith("2pc1")][0].split()
    cross, local = int(line[1]), int(line[3])
    check(cross > 0 and cross % 4 == 0 and local == 2 * cross, f"2pc1 counters {line}")


def test_rank_death_is_reported():
    path = f"{FIX}/models/llama-moe-f32.gguf"
    ids = ",".join(ids_of("llama-moe-f32", 2))
    for dead in ("1", "3"):  # an attention rank, then a MoE rank
        rc, out, err, secs = run(["run", "-m", path, "-t", ids, "-n", "8", "--attn", "2", "--moe", "2",
                                  "--comm", "2pc2"], timeout=120, env={"JANUS_FAULT_DIE": dead + ":2"})
        check(rc != 0, f"rank {dead} died but janus run exited 0")
        check("janus run: the MPI job failed" in err, f"rank {dead} death not reported:\n{err}")
        check(secs < 60, f"rank {dead} death took {secs:.1f} s to report")


def test_bad_options():
    path = f"{FIX}/models/llama-moe-f32.gguf"
    cases = [
        (["--policy", "bogus"], "--policy"),
        (["--comm", "3pc"], "--comm"),
        (["--slots", "1"], "--slots"),
        (["--layout", "/nonexistent.json"], "nonexistent"),
        (["--comm-cost", "cross_lat_us=x"], "--comm-cost"),
    ]
    for extra, needle in cases:
        rc, out, err, secs = run(["run", "-m", path, "-t", "1,2,3", "-n", "2", "--attn", "1", "--moe", "2"] + extra)
        check(rc != 0 and needle in err, f"{extra}: rc {rc}, stderr {err.strip()!r}")
        check(secs < 60, f"{extra}: took {secs:.1f} s")


if __name__ == "__main__":
    for t in [test_greedy_and_logits, test_stats_and_text, test_rank_death_is_reported, test_bad_options]:
        n = len(failures)
        t()
        print(("ok   " if len(failures) == n else "FAIL ") + t.__name__)
    print(f"{len(failures)} failures")
    sys.exit(1 if failures else 0)
