#!/bin/bash
# openstack-down.sh DIR — stop what openstack-up.sh DIR started, by the PIDs
# it recorded in DIR/pids (each daemon leads its own process group, so uwsgi
# and eventlet workers go too): TERM to every group, wait up to 20 s, KILL the
# rest; then the lab's Ceph (ceph-stop.sh DIR/ceph).  Nothing is killed by
# name.  Logs and configs stay; openstack-up.sh wipes them on the next start.
HERE=$(cd "$(dirname "$0")" && pwd)
S=$(cd "${1:?usage: openstack-down.sh DIR}" 2>/dev/null && pwd -P) || exit 0
rm -f "$S/ready"
alive() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; st=${st##*) }; [[ $st != Z* ]]; }
declare -A PID
for f in "$S"/pids/*; do
  [ -f "$f" ] || continue
  p=$(cat "$f"); n=$(basename "$f"); rm -f "$f"
  if alive "$p"; then PID[$n]=$p; kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p"
  else echo "[down] $n ($p) was not running"; fi
done
for _ in $(seq 40); do
  a=0; for n in "${!PID[@]}"; do alive "${PID[$n]}" && a=1; done
  [ $a = 0 ] && break; sleep 0.5
done
for n in $(printf '%s\n' "${!PID[@]}" | sort); do p=${PID[$n]}
  if alive "$p"; then kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p"; echo "[down] $n ($p) killed"
  else echo "[down] $n ($p) stopped"; fi
done
# leftover workers of a group whose leader is gone
for p in "${PID[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
if [ -d "$S/ceph/pids" ]; then "$HERE/ceph-stop.sh" "$S/ceph" && echo "[down] ceph stopped"; fi
exit 0
