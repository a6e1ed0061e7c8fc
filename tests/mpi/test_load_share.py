#!/usr/bin/env python3
# Each rank loads its share (issue 12 item 2), in both memory modes: on a generated model
# with big experts (8 experts of 3 MiB per layer, 4 layers), `janus run` with 1 attention
# and 2 MoE ranks (5 slots each: replicas included) and JANUS_PRINT_PSS=1 reports every
# rank's PSS/RSS once it is set up. Checked per rank: the share is the expected byte count;
# a MoE rank's PSS <= 1.1 x share + 64 MB (the bound) and the memory its load added
# (RSS after - RSS before) <= 1.1 x share + 8 MB, which is below the expert bytes of the
# model (so loading every expert would fail it); an attention rank adds no expert bytes.
# The logits are bit-identical between --mmap and --no-mmap and equal `janus logits`.
# Loading the model shows a progress line on a terminal (`script` gives one) and none
# when stderr is a pipe.
# SPDX-License-Identifier: MIT
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.environ.get("JANUS_ROOT", os.getcwd())
JANUS = os.environ.get("JANUS_BIN", os.path.join(ROOT, "build/janus"))
failures = []

E, F, X, L, SLOTS, N_MOE = 256, 2048, 8, 4, 5, 2
SLAB = 3 * E * F * 2  # gate + up + down of one expert, f16
ROUTER = E * X * 4     # per layer (gen-model keeps the router f32)
MB = 1 << 20


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what, file=sys.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="janus-load-")
    model = os.path.join(tmp, "big-experts.gguf")
    gen = ["gen-model", "--arch", "llama", "--n-embd", str(E), "--n-head", "4", "--n-head-kv", "2",
           "--n-layer", str(L), "--n-expert", str(X), "--n-expert-used", "2", "--n-ff-exp", str(F),
           "--n-vocab", "512", "--type", "f16", "-o", model]
    p = subprocess.run([JANUS] + gen, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"gen-model: {p.stderr.strip()}")
    if p.returncode:
        return
    ids = "1,2,3,4"
    p = subprocess.run([JANUS, "logits", "-m", model, "-t", ids], capture_output=True, text=True,
                       timeout=120)
    check(p.returncode == 0, f"janus logits: {p.stderr.strip()}")
    mono = p.stdout.split()
    check("janus: reading" not in p.stderr, "progress line printed to a pipe")
    if shutil.which("script"):
        for mode, verb in (("--no-mmap", "reading"), ("--mmap", "mapping")):
            cmd = f"{shlex.quote(JANUS)} logits -m {shlex.quote(model)} -t {ids} {mode} >/dev/null"
            p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                               text=True, timeout=120)
            check(p.returncode == 0 and re.search(rf"janus: {verb} .*MiB / .*MiB, [0-9.]+ GB/s", p.stdout),
                  f"no progress line on a terminal ({mode}): {p.stdout[-300:]!r}")
    want_moe = L * (SLOTS * SLAB + ROUTER)  # round-robin layout: 5 experts per layer each
    expert_bytes = L * X * SLAB
    outs = {}
    for mode in ("--mmap", "--no-mmap"):
        env = dict(os.environ, JANUS_PRINT_PSS="1")
        args = ["run", "-m", model, "-t", ids, "-n", "1", "--logits", "--attn", "1", "--moe",
                str(N_MOE), "--slots", str(SLOTS), "--max-seqs", "2", "--ctx", "64", "--budget",
                "16", mode]
        p = subprocess.run([JANUS] + args, capture_output=True, text=True, timeout=300, env=env)
        check(p.returncode == 0, f"janus run {mode}: {p.stderr.strip()}")
        if p.returncode:
            continue
        outs[mode] = p.stdout.split()
        rows = re.findall(r"janus-pss: rank (\d+) role (\w+) inst (\d+) mode (\w+) pss_kb (-?\d+) "
                          r"rss_kb (-?\d+) rss_open_kb (-?\d+) share_bytes (\d+)", p.stderr)
        check(len(rows) == 1 + N_MOE, f"{mode}: {len(rows)} janus-pss lines, expected {1 + N_MOE}")
        for rank, role, inst, m, pss, rss, rss_open, share in rows:
            pss, rss, rss_open, share = int(pss) * 1024, int(rss) * 1024, int(rss_open) * 1024, int(share)
            added = rss - rss_open
            what = f"{mode} rank {rank} ({role}): pss {pss / MB:.1f} MiB, added {added / MB:.1f} MiB, share {share / MB:.1f} MiB"
            print(what)
            check(m == ("mmap" if mode == "--mmap" else "read"), f"{what}: mode {m}")
            check(pss > 0 and rss_open > 0, f"{what}: no /proc/self/smaps_rollup")
            if role == "moe":
                check(share == want_moe, f"{what}: share {share} != {want_moe}")
                check(pss <= 1.1 * share + 64 * MB, f"{what}: PSS over 1.1 x share + 64 MB")
                bound = 1.1 * share + 8 * MB
                check(bound < expert_bytes, "test model too small for a meaningful bound")
                check(added <= bound, f"{what}: load added over 1.1 x share + 8 MB")
                check(added >= 0.9 * share, f"{what}: load added less than its share (not loaded?)")
            else:
                check(share < SLAB, f"{what}: an attention share holds expert bytes")
                check(added <= 1.1 * share + 8 * MB, f"{what}: attention rank added over 1.1 x share + 8 MB")
    if len(outs) == 2:
        check(outs["--mmap"] == outs["--no-mmap"], "logits differ between --mmap and --no-mmap")
        a = [float(x) for x in outs["--mmap"]]
        b = [float(x) for x in mono]
        check(len(a) == len(b) and all(abs(x - y) <= 1e-4 for x, y in zip(a, b)),
              "disaggregated logits differ from janus logits")
    os.remove(model)
    os.rmdir(tmp)


main()
if failures:
    print(f"{len(failures)} failure(s)", file=sys.stderr)
    sys.exit(1)
print("ok")
