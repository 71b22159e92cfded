#!/bin/bash
# ceph-stop.sh DIR — stop the daemons ceph-start.sh DIR recorded (osd, mgr,
# mon).  Only PIDs whose command line still names DIR/ceph.conf are
# signalled; nothing is killed by name.  Keeps logs for post-mortems.
set -u
D=$(cd "${1:?usage: ceph-stop.sh DIR}" 2>/dev/null && pwd -P) || exit 0
ours() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$D/ceph.conf"; }
pids=()
for n in osd mgr mon; do
  f=$D/pids/$n; [ -f "$f" ] || continue
  p=$(cat "$f"); rm -f "$f"
  if ours "$p"; then kill -KILL "$p"; pids+=("$p"); fi
done
for p in "${pids[@]}"; do while ours "$p"; do sleep 0.05; done; done
exit 0
