#!/usr/bin/python3
"""The share of generated words found in a dictionary (issue 14 item 3): runs `janus generate`
on each prompt (greedy, and seeded sampling with --temp), splits the generated text into words
(letters with inner apostrophes or hyphens split into parts), and counts those found in the
word list (default /usr/share/dict/words from Debian's wamerican; case-insensitive, and a
possessive 's or a plain plural -s/-es/-ies of a listed word counts). Prints one JSON object:
per mode the words, those found, the share, the most common unknown words, and the texts.
The share alone would reward a loop of "the the the": each mode also reports its distinct
words, and --min-distinct N exits 1 when a mode has fewer. --min SHARE exits 1 when a mode's
share is below it.
"""
import argparse
import collections
import json
import re
import subprocess
import sys

PROMPTS = [
    "The expert", "In the beginning", "And the king said", "A river is",
    "The meaning of the word", "He went up to the city", "Love is",
    "The people of the land", "A small animal", "Behold, the day cometh",
    "The law of the Lord", "To think about", "She said unto him",
    "The house of the", "A piece of music", "Water is",
]


def load_dict(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return {w.strip().lower() for w in f if w.strip()}


def known(w, d):
    w = w.lower()
    if w in d:
        return True
    for suf, rep in (("'s", ""), ("s'", "s"), ("ies", "y"), ("es", ""), ("s", ""), ("'", "")):
        if w.endswith(suf) and len(w) > len(suf) + 1 and w[: -len(suf)] + rep in d:
            return True
    return False


def words(text):
    return re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)?", text.replace("\u2019", "'"))


def generate(janus, model, prompt, n, temp, top_p, seed):
    cmd = [janus, "generate", "-p", prompt, "-n", str(n), "--temp", str(temp), "--seed", str(seed),
           "--top-p", str(top_p)]
    if model:
        cmd += ["-m", model]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if r.returncode:
        sys.exit(f"word_share: {' '.join(cmd)} failed: {r.stderr.strip()}")
    return r.stdout.rstrip("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--janus", default="build/janus")
    ap.add_argument("-m", "--model", default=None, help="default: the embedded default model")
    ap.add_argument("-n", type=int, default=48, help="tokens per prompt")
    ap.add_argument("--temp", type=float, default=0.8, help="the sampled mode's temperature")
    ap.add_argument("--top-p", type=float, default=1.0, help="the sampled mode's nucleus mass")
    ap.add_argument("--dict", default="/usr/share/dict/words")
    ap.add_argument("--prompts", type=int, default=len(PROMPTS))
    ap.add_argument("--min", type=float, default=0.0)
    ap.add_argument("--min-distinct", type=int, default=0)
    a = ap.parse_args()
    d = load_dict(a.dict)
    out, ok = {}, True
    sampled = f"temp {a.temp}" + (f" top-p {a.top_p}" if a.top_p < 1 else "")
    for mode, temp in (("greedy", 0.0), (sampled, a.temp)):
        texts, n_words, n_found, unknown, seen = [], 0, 0, collections.Counter(), set()
        for i, p in enumerate(PROMPTS[: a.prompts]):
            t = generate(a.janus, a.model, p, a.n, temp, a.top_p if temp else 1.0, 1000 + i)
            texts.append(p + t)
            for w in words(t):
                n_words += 1
                seen.add(w.lower())
                if known(w, d):
                    n_found += 1
                else:
                    unknown[w] += 1
        share = n_found / n_words if n_words else 0.0
        ok &= share >= a.min and n_words > 0 and len(seen) >= a.min_distinct
        out[mode] = {"words": n_words, "distinct": len(seen), "found": n_found,
                     "share": round(share, 4),
                     "unknown": unknown.most_common(20), "texts": texts}
    print(json.dumps(out, indent=1, ensure_ascii=False))
    if not ok:
        sys.exit(f"word_share: a share is below {a.min} or a mode has fewer than "
                 f"{a.min_distinct} distinct words")


if __name__ == "__main__":
    main()
