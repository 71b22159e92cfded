#!/bin/bash
# ceph-restart-mon.sh DIR SECONDS — kill the monitor of the ceph-start.sh
# lab in DIR, keep it down SECONDS, start it again (same data, same
# address) and wait until it answers.  Prints (stdout) when the monitor was
# started again, in ms since the epoch: the `ceph health` that waits for it
# takes a while, and clients may reconnect before it returns.  Run it in
# the network namespace the lab was started in (ip netns exec NS ...), if
# any.  Clients see the cluster unreachable meanwhile: what ferry must
# ride through.
set -euo pipefail
D=$(cd "${1:?usage: ceph-restart-mon.sh DIR SECONDS}" && pwd -P)
DOWN=${2:?usage: ceph-restart-mon.sh DIR SECONDS}
f=$D/pids/mon
p=$(cat "$f")
tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$D/ceph.conf" ||
  { echo "ceph-restart-mon: pid $p is not this lab's monitor" >&2; exit 1; }
kill -KILL "$p"
while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
sleep "$DOWN"
setsid ceph-mon -c "$D/ceph.conf" -i a -f >>"$D/log/mon.out" 2>&1 </dev/null & echo $! >"$f"
up=$(date +%s%3N)
timeout 60 ceph -c "$D/ceph.conf" --connect-timeout 20 health >/dev/null 2>&1 ||
  { echo "ceph-restart-mon: the monitor does not answer after 60 s" >&2; exit 1; }
echo "$up"
