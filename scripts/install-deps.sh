#!/usr/bin/env bash
# Installs what Janus-C needs on Debian 12, only if something is missing (fast no-op
# otherwise).
#   scripts/install-deps.sh           the main job (`make run`): compiler, Open MPI,
#                                     libmicrohttpd, cJSON, PCRE2, libcurl (janus admin), curl
#   scripts/install-deps.sh --tests   that, plus what only the tests and offline tooling need
#                                     (`make check`): clang and its sanitizer runtime,
#                                     clang-format, NumPy (reference scripts), Node.js + the
#                                     pinned npm test client, headless Chromium and Pillow (the
#                                     live page's test), PyTorch, SentencePiece and OpenBLAS
#                                     (scripts/train and its smoke test)
set -euo pipefail
cd "$(dirname "$0")/.."
tests=0
case "${1:-}" in
  "") ;;
  --tests) tests=1 ;;
  *) echo "usage: scripts/install-deps.sh [--tests]" >&2; exit 2 ;;
esac

# apt_missing [apt-get options] -- PACKAGES: installs those of PACKAGES not installed yet.
apt_missing() {
  local opts=() missing=""
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  # nodejs/npm may come from another source (e.g. NodeSource); accept any working node+npm.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
  fi
  missing=$(echo $missing)
  [ -n "$missing" ] || return 0
  echo "install-deps: installing $missing"
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${opts[@]}" $missing
}

apt_missing -- build-essential pkg-config libopenmpi-dev openmpi-bin libmicrohttpd-dev \
  libcjson-dev libpcre2-dev libcurl4-openssl-dev curl
[ "$tests" = 1 ] || exit 0

apt_missing -- clang clang-format libclang-rt-14-dev cmake python3 python3-numpy nodejs npm
# Chromium (run headless) is large: about 115 MB to download, 360 MB installed without
# recommends. PyTorch with Debian's generic BLAS is ~7x slower than with OpenBLAS.
apt_missing --no-install-recommends -- chromium python3-pil python3-torch python3-sentencepiece \
  libopenblas0-pthread
# The training corpus (scripts/train/corpus.py) and the dictionary of the default model's
# English check (tests/e2e/test_default_model.sh): small text packages.
apt_missing --no-install-recommends -- bible-kjv bible-kjv-text wordnet-base fortunes-min wamerican
# Test client for the OpenAI-compatible server (pinned; runs on Node.js 20).
if [ -f tests/e2e/package.json ] && [ ! -d tests/e2e/node_modules/openai ]; then
  (cd tests/e2e && npm install --no-audit --no-fund --silent)
fi
