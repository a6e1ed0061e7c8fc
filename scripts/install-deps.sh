#!/usr/bin/env bash
# Installs what Janus-C needs on Debian 12, only if something is missing (fast no-op
# otherwise): compilers and tools, Open MPI, libmicrohttpd, cJSON, PCRE2, NumPy (test
# reference scripts), curl and Node.js + the pinned npm test client (tests/e2e); for the tests
# only, headless Chromium and Pillow (the live page's test).
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS="build-essential clang clang-format libclang-rt-14-dev cmake pkg-config libopenmpi-dev openmpi-bin \
libmicrohttpd-dev libcjson-dev libpcre2-dev python3 python3-numpy curl nodejs npm"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# nodejs/npm may come from another source (e.g. NodeSource); accept any working node+npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)
if [ -n "$missing" ]; then
  echo "install-deps: installing $missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
# Tests only (tests/e2e/test_serve_page.sh): Debian's Chromium, run headless, and Pillow to read
# its screenshots. Without recommends: about 115 MB to download, 360 MB installed.
TEST_PKGS="chromium python3-pil"
missing=""
for p in $TEST_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
missing=$(echo $missing)
if [ -n "$missing" ]; then
  echo "install-deps: installing for the tests: $missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# Test client for the OpenAI-compatible server (pinned; runs on Node.js 20).
if [ -f tests/e2e/package.json ] && [ ! -d tests/e2e/node_modules/openai ]; then
  (cd tests/e2e && npm install --no-audit --no-fund --silent)
fi
