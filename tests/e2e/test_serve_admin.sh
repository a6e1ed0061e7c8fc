#!/usr/bin/env bash
# The administration surface (issue 16 items 2 and 3; docs/HTTP.md "Administration"): the
# /admin/* key rule (the key when the server has one; without a key, loopback only), body
# checks, and `janus admin`'s usage and transport errors. What replace and rescale do is
# tested in test_serve_replace.sh and test_serve_rescale.sh.
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
start_server K --mono --api-key sekret
U="http://127.0.0.1:$PORT_K"
req POST "$U/admin/replace" -d '{}'
expect_error 401 "replace without the key"
req POST "$U/admin/rescale" -H 'Authorization: Bearer wrong' -d '{"n_attn":1,"n_moe":1}'
expect_error 401 "rescale with a wrong key"
req GET "$U/admin/replace" -H 'Authorization: Bearer sekret'
expect_error 405 "GET on /admin/replace"
req POST "$U/admin/rescale" -H 'Authorization: Bearer sekret' -d '{"n_attn":1}'
expect_error 400 "rescale without n_moe"
[ "$(jget 'j["error"]["param"]')" = n_moe ] && ok "names the missing field" || fail "param: $BODY"
req POST "$U/admin/rescale" -H 'Authorization: Bearer sekret' -d '{"n_attn":0,"n_moe":2}'
expect_error 400 "rescale with n_attn 0"
req POST "$U/admin/rescale" -H 'Authorization: Bearer sekret' -d '{"n_attn":1.5,"n_moe":2}'
expect_error 400 "rescale with a fractional n_attn"
req POST "$U/admin/replace" -H 'Authorization: Bearer sekret' -d '{"dry_run":'
expect_error 400 "replace with broken JSON"
req POST "$U/admin/replace" -H 'Authorization: Bearer sekret' -d '[1]'
expect_error 400 "replace with a non-object body"
# The client: usage errors exit 2, an HTTP error exits 1 with the server's message.
admin_rc() { # WANT_RC GREP WHAT ARGS...: runs janus admin ARGS, checks its exit and stderr
  local want=$1 pat=$2 what=$3 rc=0; shift 3
  "$BIN" admin "$@" 2>"$TMP/e" || rc=$?
  [ "$rc" = "$want" ] && grep -q -- "$pat" "$TMP/e" && ok "admin: $what" ||
    fail "admin: $what: exit $rc: $(cat "$TMP/e")"
}
admin_rc 2 "unknown verb" "unknown verb" "$U" frobnicate
admin_rc 2 "needs --attn N and --moe M" "rescale needs both" "$U" rescale --attn 1
JANUS_API_KEY=wrong admin_rc 1 "HTTP 401: missing or invalid API key" "the server's 401 message" "$U" replace
admin_rc 1 "127.0.0.1" "unreachable server named" "http://127.0.0.1:1" replace
stop_server K
# Keyless on a non-loopback address: the admin endpoints refuse (403), the API still works.
start_server W --mono --host 0.0.0.0
req POST "http://127.0.0.1:$PORT_W/admin/replace" -d '{}'
expect_error 403 "keyless admin on 0.0.0.0"
[ $FAILED = 0 ] || exit 1
echo "admin surface checks passed"
