#!/usr/bin/python3
"""Checks the shape of the tree against docs/ARCHITECTURE.md (run by `make lint`).

1. Every #include in src/ and cli/ points down the layer order, which is written once, in
   ARCHITECTURE.md's line "Layer order (lowest first): `base < kernels < ... < cli`".
2. The module table's "depends on" column equals the folders each folder really includes.
3. Every source path named in the docs, the README and the code's comments exists
   (`src/x/y.c`, `x/y.h` relative to src/, `tests/...`, `scripts/...`, `docs/...`).
Exit status 1 with one line per violation; 0 and "layers: ok" otherwise.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCH = os.path.join(ROOT, "docs", "ARCHITECTURE.md")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def layer_order(arch):
    m = re.search(r"^Layer order \(lowest first\): `([^`]+)`", arch, re.M)
    if not m:
        sys.exit("check_layers: no 'Layer order (lowest first): `a < b < ...`' line in "
                 "docs/ARCHITECTURE.md")
    return [x.strip() for x in m.group(1).split("<")]


def module_table(arch):
    """{layer: set(dependencies)} from the rows | `src/x/` ... | deps | of the module table."""
    table = {}
    for line in arch.splitlines():
        m = re.match(r"^\| `(src/([a-z_]+)/|cli/)`[^|]*\|[^|]*\|([^|]*)\|\s*$", line)
        if not m:
            continue
        layer = m.group(2) or "cli"
        deps = m.group(3).strip()
        table[layer] = set() if deps in ("–", "-", "") else {d.strip() for d in deps.split(",")}
    return table


def sources():
    for top in ("src", "cli"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(d, f)


def layer_of(path):
    rel = os.path.relpath(path, ROOT).split(os.sep)
    return "cli" if rel[0] == "cli" else rel[1]


def expand_braces(p):
    m = re.search(r"\{([^}]*)\}", p)
    if not m:
        return [p]
    return [q for alt in m.group(1).split(",")
            for q in expand_braces(p[:m.start()] + alt + p[m.end():])]


def main():
    arch = read(ARCH)
    order = layer_order(arch)
    rank = {name: i for i, name in enumerate(order)}
    errors = []
    actual = {}
    for path in sources():
        me = layer_of(path)
        rel = os.path.relpath(path, ROOT)
        if me not in rank:
            errors.append(f"{rel}: folder '{me}' is not in the layer order")
            continue
        deps = actual.setdefault(me, set())
        for n, line in enumerate(read(path).splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            inc = m.group(1)
            if inc == "janus.h":  # the public header (include/) belongs to the api layer
                target = "api"
            elif "/" in inc:
                target = inc.split("/")[0]
            else:
                target = me
                if not os.path.exists(os.path.join(os.path.dirname(path), inc)):
                    errors.append(f"{rel}:{n}: includes missing \"{inc}\"")
                continue
            if target not in rank:
                errors.append(f"{rel}:{n}: includes \"{inc}\" from unknown folder '{target}'")
            elif rank[target] > rank[me]:
                errors.append(f"{rel}:{n}: upward include \"{inc}\" ({me} < {target} in the "
                              "layer order)")
            elif target != me:
                deps.add(target)
    table = module_table(arch)
    for layer in order:
        if layer not in table:
            errors.append(f"docs/ARCHITECTURE.md: module table has no row for '{layer}'")
            continue
        have, said = actual.get(layer, set()), table[layer]
        for d in sorted(have - said):
            errors.append(f"docs/ARCHITECTURE.md: '{layer}' depends on '{d}' (not in its row)")
        for d in sorted(said - have):
            errors.append(f"docs/ARCHITECTURE.md: row '{layer}' lists '{d}', which it does not "
                          "include")
    # Paths named in docs and comments.
    texts = [os.path.join(ROOT, "README.md")]
    for d, _, files in os.walk(os.path.join(ROOT, "docs")):
        texts += [os.path.join(d, f) for f in files if f.endswith(".md")]
    texts += list(sources())
    for d, _, files in os.walk(os.path.join(ROOT, "tests")):
        if "node_modules" in d:
            continue
        texts += [os.path.join(d, f) for f in files if f.endswith((".c", ".h", ".py", ".sh"))]
    layers = "|".join(re.escape(x) for x in order if x != "cli")
    pat = re.compile(r"(?<![\w/.-])((?:src|cli|tests|scripts|docs|include|examples)/[\w./{},*<>-]*[\w}*>]"
                     r"|(?:" + layers + r")/[\w{},]+\.(?:\{[ch],[ch]\}|[ch]))")
    for path in texts:
        rel = os.path.relpath(path, ROOT)
        for n, line in enumerate(read(path).splitlines(), 1):
            if path.endswith((".c", ".h")) and "#include" in line:
                continue
            for m in pat.finditer(line):
                ref = m.group(1).rstrip(".,")
                for p in expand_braces(ref):
                    if "*" in p or "<" in p or p.endswith(".cpp"):  # globs; llama.cpp's sources
                        continue
                    cands = [q + ext for q in (p, os.path.join("src", p))
                             for ext in ("", ".c", ".h")]  # a module may be named bare
                    if not any(os.path.exists(os.path.join(ROOT, c)) for c in cands):
                        errors.append(f"{rel}:{n}: names '{p}', which does not exist")
    for e in errors:
        print(e)
    if errors:
        print(f"layers: {len(errors)} problem(s)")
        return 1
    print("layers: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
