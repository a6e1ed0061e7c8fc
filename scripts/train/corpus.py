#!/usr/bin/python3
"""Builds the training corpus of the default model (issue 14 item 1) from freely licensed
English text that Debian packages ship, and splits it into train and held-out documents.

Sources (licence in each package's /usr/share/doc/<pkg>/copyright):
  bible-kjv (+ bible-kjv-text): the King James Version, public domain; dumped with the
      package's own `bible` program, one document per chapter.
  wordnet-base: WordNet 3.0 glosses (Princeton WordNet licence, permissive), one document
      per 200 glosses of a part of speech, in file order.
  fortunes-min: the fortune cookies of `fortune` (BSD-style), one document per cookie file
      chunk of 50 cookies.
Every 50th document (by a stable hash of its name) is held out. Output: OUT/train.txt,
OUT/heldout.txt (documents separated by two blank lines) and OUT/SOURCES.json (sizes, licences).
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

SOURCES = {
    "kjv": ("bible-kjv-text", "public domain (King James Version)"),
    "wordnet": ("wordnet-base", "WordNet 3.0 licence (Princeton), permissive"),
    "fortunes": ("fortunes-min", "BSD-style (fortune-mod)"),
}


def kjv_docs():
    out = subprocess.run(["bible", "-l1000", "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    doc, name = [], None
    for line in out.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^\s*\d+ (.*)$", line)
        if m:
            doc.append(m.group(1).strip())
            continue
        if doc:
            yield name, "\n".join(doc)
        name, doc = "kjv:" + line.strip(), []
    if doc:
        yield name, "\n".join(doc)


def wordnet_docs(root="/usr/share/wordnet"):
    for pos in ("noun", "verb", "adj", "adv"):
        gl = []
        with open(os.path.join(root, "data." + pos), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  ") or "| " not in line:
                    continue  # licence header
                words = line.split(" ")
                head = words[4].replace("_", " ")
                g = line.split("| ", 1)[1].strip()
                gl.append(f"{head}: {g}")
        for i in range(0, len(gl), 200):
            yield f"wordnet:{pos}:{i // 200}", "\n".join(gl[i:i + 200])


def fortune_docs(root="/usr/share/games/fortunes"):
    for fn in sorted(os.listdir(root)):
        p = os.path.join(root, fn)
        if "." in fn or not os.path.isfile(p):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            cookies = [c.strip() for c in f.read().split("\n%\n") if c.strip()]
        for i in range(0, len(cookies), 50):
            yield f"fortunes:{fn}:{i // 50}", "\n\n".join(cookies[i:i + 50])


def held_out(name):
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 50 == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    stats = {}
    with open(os.path.join(a.out, "train.txt"), "w") as tr, \
         open(os.path.join(a.out, "heldout.txt"), "w") as ho:
        for src, gen in (("kjv", kjv_docs()), ("wordnet", wordnet_docs()),
                         ("fortunes", fortune_docs())):
            s = stats.setdefault(src, {"package": SOURCES[src][0], "licence": SOURCES[src][1],
                                       "docs": 0, "heldout_docs": 0, "bytes": 0})
            for name, text in gen:
                h = held_out(name)
                (ho if h else tr).write(text + "\n\n\n")
                s["docs"] += 1
                s["heldout_docs"] += h
                s["bytes"] += len(text.encode())
    with open(os.path.join(a.out, "SOURCES.json"), "w") as f:
        json.dump(stats, f, indent=1)
    json.dump(stats, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
