#!/usr/bin/env bash
# End-to-end with the official `openai` npm package (pinned in tests/e2e/package.json,
# installed by scripts/install-deps.sh): completion and chat, plain and streaming, against
# janus serve with an API key (tests/e2e/openai_client.mjs); under overload, the SDK's
# RateLimitError (429) with maxRetries 0.
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
E2E=$ROOT/tests/e2e
[ -d "$E2E/node_modules/openai" ] || die "the openai npm package is not installed: run scripts/install-deps.sh (or npm install in tests/e2e)"
command -v node >/dev/null || die "node is not installed: run scripts/install-deps.sh"
start_server O --api-key sekret
node "$E2E/openai_client.mjs" "$PORT_O" || exit 1
stop_server O
# Overload (issue 15 item 2): one slot and a queue of one, slowed down; 8 concurrent streams.
start_server V --mono --max-seqs 1 --max-waiting 1 --step-delay-ms 20
node "$E2E/openai_client.mjs" "$PORT_V" overload || exit 1
echo "openai client checks passed"
