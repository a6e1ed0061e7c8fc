#!/usr/bin/env python3
# End-to-end tests of `janus run` (the front launching the MPI deployment itself):
# greedy ids equal the fixtures' .greedy (one request, and the three sequences at once
# with prefill chunks) and --logits equals `janus logits` within 1e-4 for
# the llama (Mixtral-style), qwen2moe and deepseek2 fixtures under several deployments;
# --stats prints the breakdown and counters; --layout FILE works (and a mismatched one is
# refused); recorded expert statistics feed janus place and the placed layout runs;
# --dispatch selective gives the same ids with fewer cross-node bytes; --comm auto follows
# forced cost models; a rank that dies mid-run makes `janus run` exit
# non-zero with a one-line report (no hang); --kv-type reaches the attention ranks; a
# llama-quantize Q4_K_M file runs on both numeric paths (--matmul reaches every rank); bad
# deployment options give one error line.
# SPDX-License-Identifier: MIT
import os
import re
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


def test_concurrent_requests():
    # The three fixture sequences at once through the controller's batcher: a token budget of 4
    # per attention instance and step forces prefill chunks mixed with other sequences' decode.
    deployments = [["--attn", "2", "--moe", "3", "--node-size", "2", "--comm", "2pc1", "--policy", "random"],
                   ["--attn", "3", "--moe", "2", "--comm", "2pc2", "--policy", "round-robin"],
                   ["--attn", "1", "--moe", "2", "--comm", "auto", "--policy", "first"]]
    for model, d in zip(["llama-moe-f32", "qwen2moe-f32", "deepseek2-v2-f32"], deployments):
        args = ["run", "-m", f"{FIX}/models/{model}.gguf", "-n", "8", "--print-ids", "--ignore-eos",
                "--budget", "4", "--max-seqs", "4"] + d
        for n in (1, 2, 3):
            args += ["-t", ",".join(ids_of(model, n))]
        rc, out, err, _ = run(args)
        # The id lines: 8 integers each (the text lines hold decoded pieces, possibly with newlines).
        got = [l.split() for l in out.split("\n") if re.fullmatch(r"\d+( \d+){7}", l)] if rc == 0 else []
        want = [open(f"{FIX}/reference/{model}.{n}.greedy").read().split() for n in (1, 2, 3)]
        check(got == want, f"{model} {' '.join(d)} three requests at once: {got} != {want} ({err.strip()})")


def test_stats_and_text():
    path = f"{FIX}/models/llama-moe-f32.gguf"
    rc, out, err, _ = run(["run", "-m", path, "-p", "The server", "-n", "4", "--attn", "2", "--moe", "2",
                           "--node-size", "2", "--comm", "2pc1", "--dispatch", "broadcast", "--sums", "grouped",
                           "--stats"])
    check(rc == 0, f"--stats run failed: {err.strip()}")
    check("per layer, ms per step" in out and "2pc1" in out and "a_max" in out, "--stats output:\n" + out)
    # 2 attention in 1 node, 2 MoE in 1 node: 2PC1 has 1 cross and 2 local messages per layer and
    # direction; the counters line must be a multiple of (2 directions x 2 MoE layers).
    line = [l for l in out.splitlines() if l.strip().startswith("2pc1")][0].split()
    cross, local = int(line[1]), int(line[3])
    check(cross > 0 and cross % 4 == 0 and local == 2 * cross, f"2pc1 counters {line}")


def test_fixed_sums_refuse_broadcast():
    # --sums fixed (the default) with 2 MoE instances needs selective dispatch: a forced
    # broadcast is one clear error line naming --sums grouped, and nothing runs.
    path = f"{FIX}/models/llama-moe-f32.gguf"
    rc, out, err, _ = run(["run", "-m", path, "-p", "The server", "-n", "2", "--attn", "1", "--moe", "2",
                           "--dispatch", "broadcast"])
    check(rc != 0 and "pass --sums grouped" in err, f"forced broadcast with fixed sums: {rc} {err.strip()}")
    rc, out, err, _ = run(["run", "-m", path, "-p", "The server", "-n", "2", "--attn", "1", "--moe", "2",
                           "--sums", "sometimes"])
    check(rc != 0 and "--sums" in err, f"bad --sums accepted: {rc} {err.strip()}")


def test_selective_dispatch():
    # --dispatch selective: the fixture's greedy ids, a 1pc+sel row in the --stats table (today's
    # five columns) with fewer cross-node bytes than the broadcast run's 1pc row (--sums grouped), the
    # routing exchange line, and the dispatch-steps line; a bad --dispatch is one error line.
    model = "llama-moe-f32"
    path = f"{FIX}/models/{model}.gguf"
    ids = ",".join(ids_of(model, 1))
    want = open(f"{FIX}/reference/{model}.1.greedy").read().split()
    cross = {}
    for mode in ("broadcast", "selective"):
        rc, out, err, _ = run(["run", "-m", path, "-t", ids, "-n", "8", "--print-ids", "--ignore-eos",
                               "--attn", "1", "--moe", "3", "--comm", "1pc", "--dispatch", mode,
                               "--check-schedule", "--stats"] + (["--sums", "grouped"] if mode == "broadcast" else []))
        lines = out.splitlines()
        got = next((l.split() for l in lines if re.fullmatch(r"\d+( \d+){7}", l)), [])
        check(rc == 0 and got == want, f"--dispatch {mode}: greedy {got} != {want} ({err.strip()})")
        name = "1pc" if mode == "broadcast" else "1pc+sel"
        rows = [l.split() for l in lines if l.split()[:1] == [name]]
        check(len(rows) == 1 and len(rows[0]) == 5, f"--dispatch {mode}: no {name} row:\n{out}")
        cross[mode] = int(rows[0][2]) if rows else 0
        steps = [l for l in lines if l.startswith("dispatch steps:")]
        check(steps and f"{mode} 0" not in steps[0], f"--dispatch {mode}: {steps}")
        if mode == "selective":
            check(any(l.startswith("routing exchange") for l in lines), "no routing exchange line")
    check(0 < cross["selective"] < cross["broadcast"], f"cross bytes {cross}")
    rc, out, err, _ = run(["run", "-m", path, "-p", "x", "-n", "1", "--attn", "1", "--moe", "1",
                           "--dispatch", "sometimes"])
    check(rc != 0 and "--dispatch" in err, f"bad --dispatch accepted: {rc} {err.strip()}")


def test_adaptive_choice_follows_cost_model():
    # (2, 4) in nodes of 2: N_a = 1, N_e = 2. A slow emulated cross-node link makes 2PC win
    # (2 cross messages on the busiest endpoint instead of 4); a slow local link brings 1PC back.
    path = f"{FIX}/models/llama-moe-f32.gguf"
    base = ["run", "-m", path, "-t", "1,2,3", "-n", "3", "--attn", "2", "--moe", "4", "--node-size", "2",
            "--comm", "auto", "--stats"]
    for cost, want in (("cross_lat_us=500,local_lat_us=1", "2pc"), ("cross_lat_us=1,local_lat_us=500", "1pc")):
        rc, out, err, _ = run(base + ["--comm-cost", cost])
        steps = [l for l in out.splitlines() if l.startswith("steps:")]
        ok = rc == 0 and steps
        if ok:
            counts = dict(x.split() for x in steps[0].split("(")[1].rstrip(")").split(", "))
            total = sum(int(v) for v in counts.values())
            used = sum(int(v) for k, v in counts.items() if k.startswith(want))
            ok = total > 0 and used == total
        check(ok, f"--comm-cost {cost}: expected every step on {want}: {steps} {err.strip()}")


def test_rank_death_is_reported():
    path = f"{FIX}/models/llama-moe-f32.gguf"
    ids = ",".join(ids_of("llama-moe-f32", 2))
    for dead in ("1", "3"):  # an attention rank, then a MoE rank
        rc, out, err, secs = run(["run", "-m", path, "-t", ids, "-n", "8", "--attn", "2", "--moe", "2",
                                  "--comm", "2pc2"], timeout=120, env={"JANUS_FAULT_DIE": dead + ":2"})
        check(rc != 0, f"rank {dead} died but janus run exited 0")
        check("janus run: the MPI job failed" in err, f"rank {dead} death not reported:\n{err}")
        check(secs < 60, f"rank {dead} death took {secs:.1f} s to report")


def test_layout_file():
    import json
    import tempfile
    path = f"{FIX}/models/llama-moe-f32.gguf"  # 2 MoE layers, 8 experts
    hosts = [sorted({e % 3, (e + 1) % 3}) if e < 2 else [e % 3] for e in range(8)]
    doc = {"format": "janus-layout", "version": 1, "n_instances": 3, "slots": 4, "n_experts": 8,
           "layers": [hosts, hosts]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        good = f.name
    doc["n_instances"] = 4
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        bad = f.name
    try:
        ids = ",".join(ids_of("llama-moe-f32", 2))
        want = open(f"{FIX}/reference/llama-moe-f32.2.greedy").read().split()
        for pol in ("optimal", "random", "first"):
            rc, out, err, _ = run(["run", "-m", path, "-t", ids, "-n", "8", "--print-ids", "--ignore-eos",
                                   "--attn", "2", "--moe", "3", "--layout", good, "--policy", pol])
            got = out.strip().splitlines()[-1].split() if rc == 0 and out.strip() else []
            check(got == want, f"--layout {pol}: {got} != {want} ({err.strip()})")
        rc, out, err, _ = run(["run", "-m", path, "-t", ids, "-n", "2", "--attn", "2", "--moe", "3", "--layout", bad])
        check(rc != 0 and "4 MoE instances" in err, f"mismatched layout accepted: {err.strip()}")
    finally:
        os.unlink(good)
        os.unlink(bad)


def test_stats_place_layout_roundtrip():
    # SPEC §6 workflow: a deployment records expert statistics, janus place turns them into a
    # co-activation-aware layout with replicas, and a deployment runs on that layout with the
    # same greedy tokens (deepseek2: a dense leading layer stays dense in the layout).
    import tempfile
    for model, slots in (("llama-moe-f32", "4"), ("deepseek2-v2-f32", "7")):
        path = f"{FIX}/models/{model}.gguf"
        d = tempfile.mkdtemp()
        stats, layout = os.path.join(d, "stats.json"), os.path.join(d, "layout.json")
        rc, out, err, _ = run(["run", "-m", path, "-t", ",".join(ids_of(model, 2)), "-n", "8", "--attn", "2",
                               "--moe", "2", "--expert-stats-out", stats])
        check(rc == 0 and os.path.exists(stats), f"{model}: no expert statistics ({err.strip()})")
        rc, out, err, _ = run(["place", "--stats", stats, "--instances", "3", "--slots", slots, "--policy", "janus",
                               "-o", layout])
        check(rc == 0, f"{model}: janus place failed: {err.strip()}")
        want = open(f"{FIX}/reference/{model}.3.greedy").read().split()
        rc, out, err, _ = run(["run", "-m", path, "-t", ",".join(ids_of(model, 3)), "-n", "8", "--print-ids",
                               "--ignore-eos", "--attn", "2", "--moe", "3", "--layout", layout, "--policy", "greedy"])
        got = out.strip().splitlines()[-1].split() if rc == 0 and out.strip() else []
        check(got == want, f"{model}: run on the placed layout: {got} != {want} ({err.strip()})")
        for f in (stats, layout):
            if os.path.exists(f):
                os.unlink(f)
        os.rmdir(d)


def test_schedule_mismatch_detected():
    # A MoE instance whose schedule differs from the others' is caught by the per-layer
    # digest comparison (SPEC §3): the job fails with a report instead of computing garbage.
    path = f"{FIX}/models/llama-moe-f32.gguf"
    rc, out, err, secs = run(["run", "-m", path, "-t", "1,2,3", "-n", "4", "--attn", "1", "--moe", "3"],
                             env={"JANUS_FAULT_SCHEDULE": "2"})
    check(rc != 0 and "activation schedule digest differs" in err and "janus run: " in err,
          f"schedule mismatch not reported (rc {rc}):\n{err}")
    check(secs < 60, f"schedule mismatch took {secs:.1f} s")


def test_kv_type_forwarded():
    # --kv-type reaches the attention ranks (they own the KV cache): `janus run --logits` equals
    # `janus logits` with the same KV type within 1e-4, and Q8_0's logits differ from F32's.
    model = "deepseek2-v2-f32"
    path, ids = f"{FIX}/models/{model}.gguf", ",".join(ids_of(model, 3))
    mono = {}
    for t in ("f32", "q8_0"):
        rc, out, err, _ = run(["logits", "-m", path, "-t", ids, "--kv-type", t])
        check(rc == 0, f"janus logits --kv-type {t}: {err.strip()}")
        mono[t] = [float(x) for x in out.split()]
        rc, out, err, _ = run(["run", "-m", path, "-t", ids, "-n", "1", "--logits", "--kv-type", t,
                               "--attn", "2", "--moe", "2"])
        lg = [float(x) for x in out.split()] if rc == 0 else []
        ok = len(lg) == len(mono[t]) and max(abs(a - b) for a, b in zip(lg, mono[t])) <= 1e-4
        check(ok, f"run --kv-type {t}: --logits differ from janus logits --kv-type {t} ({err.strip()})")
    d = max(abs(a - b) for a, b in zip(mono["f32"], mono["q8_0"])) if mono["f32"] and mono["q8_0"] else 0
    check(d > 1e-4, f"--kv-type q8_0 logits equal f32's (max diff {d})")


def test_quant_model_matmul_paths():
    # Issue 13: a K-quant file through the front and the MPI job. The exact path gives the
    # fixture's greedy ids; on each path `janus run --logits` equals `janus logits` with the same
    # --matmul within 1e-4 (so the option reached the ranks: the paths differ where the kernel
    # table has int8 products, and are the same bits where it falls back).
    name = "llama-moe-q4_k_m"
    path = f"{FIX}/quant/{name}.gguf"
    ids = ",".join(open(f"{FIX}/quant/{name}.tokens").read().split())
    want = open(f"{FIX}/quant/{name}.greedy").read().split()
    rc, out, err, _ = run(["run", "-m", path, "-t", ids, "-n", "8", "--print-ids", "--ignore-eos",
                           "--attn", "2", "--moe", "2", "--matmul", "exact"])
    got = out.strip().splitlines()[-1].split() if rc == 0 and out.strip() else []
    check(rc == 0 and got == want, f"{name} --matmul exact: greedy {got} != {want} ({err.strip()})")
    mono = {}
    for p in ("exact", "int8"):
        rc, out, err, _ = run(["logits", "-m", path, "-t", ids, "--matmul", p])
        check(rc == 0, f"janus logits --matmul {p}: {err.strip()}")
        mono[p] = [float(x) for x in out.split()]
        rc, out, err, _ = run(["run", "-m", path, "-t", ids, "-n", "1", "--logits", "--matmul", p,
                               "--attn", "1", "--moe", "2"])
        lg = [float(x) for x in out.split()] if rc == 0 else []
        ok = len(lg) == len(mono[p]) and max(abs(a - b) for a, b in zip(lg, mono[p])) <= 1e-4
        check(ok, f"{name} run --matmul {p}: --logits differ from janus logits ({err.strip()})")
    if mono["exact"] and mono["int8"]:
        d = max(abs(a - b) for a, b in zip(mono["exact"], mono["int8"]))
        print(f"  {name}: int8 vs exact max |dlogit| {d:.3g}", file=sys.stderr)
        check(d < 0.5, f"{name}: int8 path {d} away from the exact one")


def test_bad_options():
    path = f"{FIX}/models/llama-moe-f32.gguf"
    cases = [
        (["--policy", "bogus"], "--policy"),
        (["--comm", "3pc"], "--comm"),
        (["--slots", "1"], "--slots"),
        (["--layout", "/nonexistent.json"], "nonexistent"),
        (["--comm-cost", "cross_lat_us=x"], "--comm-cost"),
        (["--kv-type", "q4_0"], "--kv-type"),
        (["--matmul", "int4"], "--matmul"),
    ]
    for extra, needle in cases:
        rc, out, err, secs = run(["run", "-m", path, "-t", "1,2,3", "-n", "2", "--attn", "1", "--moe", "2"] + extra)
        check(rc != 0 and needle in err, f"{extra}: rc {rc}, stderr {err.strip()!r}")
        check(secs < 60, f"{extra}: took {secs:.1f} s")


if __name__ == "__main__":
    for t in [test_greedy_and_logits, test_concurrent_requests, test_stats_and_text,
              test_fixed_sums_refuse_broadcast, test_selective_dispatch,
              test_layout_file, test_adaptive_choice_follows_cost_model,
              test_stats_place_layout_roundtrip, test_rank_death_is_reported, test_schedule_mismatch_detected,
              test_kv_type_forwarded, test_quant_model_matmul_paths, test_bad_options]:
        n = len(failures)
        t()
        print(("ok   " if len(failures) == n else "FAIL ") + t.__name__)
    print(f"{len(failures)} failures")
    sys.exit(1 if failures else 0)
