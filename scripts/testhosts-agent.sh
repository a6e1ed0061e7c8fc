#!/usr/bin/env bash
# Open MPI launch agent for the test hosts of scripts/testhosts.sh (issue 18 item 2), used as
# `--mca plm_rsh_agent scripts/testhosts-agent.sh`: called as ssh would be (HOST, then the
# command words, which a remote shell would join and parse), it runs the command in HOST's
# network and UTS namespaces with `sh -c`. No ssh daemon; same file system and users.
# SPDX-License-Identifier: MIT
set -euo pipefail
# Open MPI may pass ssh-style options before the host (e.g. -x); none takes an argument here.
while [ $# -gt 0 ] && [[ $1 == -* ]]; do shift; done
[ $# -ge 2 ] || { echo "testhosts-agent: usage: testhosts-agent.sh HOST COMMAND..." >&2; exit 2; }
host=$1
shift
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/testhosts.sh" exec "$host" sh -c "$*"
