#!/usr/bin/env bash
# Hydra's "ssh" for the net tier. `mpiexec -launcher ssh -launcher-exec netns_launcher.sh
# -hosts NS_A,NS_B ...` starts each host's proxy the way it would run ssh:
#   netns_launcher.sh [-x] HOST COMMAND WORDS...
# Here a host is a network namespace (ip netns name), and the command runs inside it. As with
# ssh, the words are joined and run by a shell (hydra quotes the proxy path for that shell).
set -euo pipefail

[[ ${1:-} == -x ]] && shift  # ssh's "no X11 forwarding"
if [[ $# -lt 2 ]]; then
  echo "netns_launcher.sh: usage: netns_launcher.sh [-x] NAMESPACE COMMAND..." >&2
  exit 255  # what ssh returns when it cannot connect
fi
ns=$1
shift
if [[ ! -e /run/netns/$ns ]]; then
  echo "netns_launcher.sh: no network namespace '$ns' (ip netns list has $(ip netns list | tr '\n' ' '))" >&2
  exit 255
fi
exec ip netns exec "$ns" /bin/sh -c "$*"
