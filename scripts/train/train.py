#!/usr/bin/python3
"""Trains the default MoE model (scripts/train/model.py) on CPU, seeded and resumable
(issue 14 item 1). Everything a run depends on is in OUT/: config.json (fixed at the first
start), ckpt.pt (model, optimizer, step, RNG states; written atomically every few minutes
and at the end), loss.csv and eval.csv. Rerunning the same command continues where the last
checkpoint left off; the batch of step s is drawn from a generator keyed by (seed, s), so a
resumed run sees exactly the batches an uninterrupted one would.

Speed: glibc returns freed blocks above its mmap threshold to the kernel, so every large
tensor PyTorch allocates page-faults afresh (measured here: an 8 M-float multiply 58 ms ->
2.3 ms once memory is kept). The script re-executes itself with glibc's tunables set to keep
memory (below 32 MiB per block, glibc's maximum threshold), and runs each batch in
micro-batches (--micro) so that no activation reaches that size.
"""
import argparse
import array
import csv
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Model  # noqa: E402


def load_ids(path):
    a = array.array("h")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return torch.tensor(a, dtype=torch.long)


def batch(ids, bos, n, seq, seed, step):
    """n windows of seq tokens: input [BOS, t0..t(seq-2)], target [t0..t(seq-1)]."""
    g = torch.Generator().manual_seed(seed * 1000003 + step)
    off = torch.randint(0, len(ids) - seq, (n,), generator=g)
    y = torch.stack([ids[o:o + seq] for o in off.tolist()])
    x = torch.cat([torch.full((n, 1), bos, dtype=torch.long), y[:, :-1]], dim=1)
    return x, y


def total_steps_at(step, a):
    """The run's length in force at step: the last --steps change made at or before it."""
    total = a.steps_history[0][1]
    for since, n in a.steps_history:
        if since <= step:
            total = n
    return total


def lr_at(step, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    p = min(1.0, (step - a.warmup) / max(1, total_steps_at(step, a) - a.warmup))
    return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


@torch.no_grad()
def evaluate(model, ids, bos, seq, n_windows):
    """Mean held-out cross-entropy over fixed non-overlapping windows (first n_windows)."""
    model.eval()
    tot, cnt = 0.0, 0
    for w in range(min(n_windows, (len(ids) - 1) // seq)):
        y = ids[w * seq:(w + 1) * seq][None]
        x = torch.cat([torch.tensor([[bos]]), y[:, :-1]], dim=1)
        logits = model(x)
        tot += torch.nn.functional.cross_entropy(logits[0], y[0], reduction="sum").item()
        cnt += seq
    model.train()
    return tot / max(cnt, 1)


def save(path, obj):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 34),
              "MALLOC_TOP_PAD_": str(256 << 20)}


def main():
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **MALLOC_ENV})
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True,
                    help="tokenizer.py's prefix (PREFIX.model, PREFIX.train.ids ...)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default=None, help="JSON object overriding Config fields")
    ap.add_argument("--steps", type=int, default=None,
                    help="training steps (default 6000); given when resuming, it changes the "
                         "run's length from the checkpoint's step on, recorded in config.json")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--micro", type=int, default=4, help="sequences per forward pass")
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=120.0, help="stop (checkpointed) after this")
    ap.add_argument("--stop-after", type=int, default=0,
                    help="stop (checkpointed) after this many steps in this invocation")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-windows", type=int, default=24)
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N tokens")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    cfg_path, ckpt_path = os.path.join(a.out, "config.json"), os.path.join(a.out, "ckpt.pt")
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            saved = json.load(f)
        c = Config.from_dict(saved["model"])
        run = saved["run"]
        new_steps = a.steps
        for k in ("steps", "batch", "seq", "lr", "warmup", "wd", "seed", "train_limit"):
            setattr(a, k, run[k])  # a resumed run keeps its schedule
        a.steps_history = run.get("steps_history", [[0, run["steps"]]])
    else:
        new_steps = None
        a.steps = 6000 if a.steps is None else a.steps
        a.steps_history = [[0, a.steps]]
        import sentencepiece as spm
        n_vocab = spm.SentencePieceProcessor(model_file=a.data + ".model").get_piece_size()
        over = {"n_vocab": n_vocab, **(json.loads(a.config) if a.config else {})}
        c = Config.from_dict({**json.loads(Config().to_json()), **over})
        run = {k: getattr(a, k) for k in
               ("steps", "batch", "seq", "lr", "warmup", "wd", "seed", "train_limit")}
        run["data"] = os.path.abspath(a.data)
        with open(cfg_path, "w") as f:
            json.dump({"model": json.loads(c.to_json()), "run": run}, f, indent=1)
    assert a.seq <= c.context
    train = load_ids(a.data + ".train.ids")
    if a.train_limit:
        train = train[:a.train_limit]
    held = load_ids(a.data + ".heldout.ids")
    bos = 1

    torch.manual_seed(a.seed)
    random.seed(a.seed)
    model = Model(c)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    step, elapsed = 0, 0.0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck["elapsed"]
        torch.set_rng_state(ck["torch_rng"])
        random.setstate(ck["py_rng"])
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)", flush=True)
        for name in ("loss.csv", "eval.csv"):  # rows past the checkpoint are redone
            path = os.path.join(a.out, name)
            if os.path.exists(path):
                with open(path) as f:
                    rows = [r for r in f if r.strip() and int(r.split(",")[0]) <= step]
                with open(path, "w") as f:
                    f.writelines(rows)
    if new_steps is not None and new_steps != a.steps:
        # A shorter or longer run from here on: the schedule of the steps already taken is
        # kept, so `--steps A --stop-after S` then `--steps B` reproduces this run exactly.
        if new_steps <= step:
            raise SystemExit(f"--steps {new_steps}: the run is already at step {step}")
        a.steps = new_steps
        a.steps_history.append([step, new_steps])
        saved["run"]["steps"], saved["run"]["steps_history"] = new_steps, a.steps_history
        with open(cfg_path, "w") as f:
            json.dump(saved, f, indent=1)
        print(f"run length changed to {new_steps} steps from step {step}", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params / 1e6:.2f} M, train tokens {len(train)}, steps {a.steps}",
          flush=True)

    def checkpoint():
        save(ckpt_path, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                         "elapsed": elapsed, "torch_rng": torch.get_rng_state(),
                         "py_rng": random.getstate()})

    t0, last_ck = time.time(), time.time()
    base_elapsed, first_step = elapsed, step
    with open(os.path.join(a.out, "loss.csv"), "a", newline="") as lf, \
         open(os.path.join(a.out, "eval.csv"), "a", newline="") as ef:
        lw, ew = csv.writer(lf), csv.writer(ef)
        while step < a.steps:
            elapsed = base_elapsed + time.time() - t0
            if time.time() - t0 > a.minutes * 60 or (a.stop_after and step - first_step >= a.stop_after):
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(step, a)
            x, y = batch(train, bos, a.batch, a.seq, a.seed, step)
            opt.zero_grad(set_to_none=True)
            ce_sum, aux_sum, parts = 0.0, 0.0, 0
            for xm, ym in zip(x.split(a.micro), y.split(a.micro)):
                logits = model(xm)
                ce = torch.nn.functional.cross_entropy(logits.reshape(-1, c.n_vocab),
                                                       ym.reshape(-1))
                aux = model.aux_loss()
                frac = xm.shape[0] / a.batch
                ((ce + c.aux_loss * aux) * frac).backward()
                ce_sum += ce.item() * frac
                aux_sum += aux.item() * frac
                parts += 1
            ce, aux = torch.tensor(ce_sum), torch.tensor(aux_sum)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            elapsed = base_elapsed + time.time() - t0
            lw.writerow([step, f"{elapsed:.1f}", f"{ce.item():.5f}", f"{aux.item():.4f}"])
            if step % 10 == 0:
                lf.flush()
                print(f"step {step} ce {ce.item():.4f} aux {aux.item():.3f} "
                      f"{elapsed / 60:.1f} min", flush=True)
            if step % a.eval_every == 0 or step == a.steps:
                ev = evaluate(model, held, bos, a.seq, a.eval_windows)
                ew.writerow([step, f"{elapsed:.1f}", f"{ev:.5f}"])
                ef.flush()
                print(f"eval step {step} heldout ce {ev:.4f} ppl {math.exp(ev):.2f}", flush=True)
            if time.time() - last_ck > a.ckpt_minutes * 60:
                checkpoint()
                last_ck = time.time()
        checkpoint()
    print(f"stopped at step {step}/{a.steps}", flush=True)
    return 0 if step >= a.steps else 3


if __name__ == "__main__":
    sys.exit(main())
