#!/bin/bash
# plan-scale.sh — 1,000 VMs x 3 disks: validate + graph + plan against a
# local target whose world is all done.  Prints wall time and peak RSS of
# each command (target: < 1 s and < 200 MiB each on 2 cores).
# BENCH_PLAN_STATE: the plan's state block (default a file journal;
# bench/workers.sh passes a RADOS one: target < 2 s for `plan`).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
N=${BENCH_VMS:-1000}
D=${BENCH_PLAN_DIR:-/var/tmp/ferry-bench-plan}
rm -rf "$D"; mkdir -p "$D/src" "$D/out"
for i in $(seq 1 "$N"); do
  for k in 0 1 2; do truncate -s 1M "$D/src/vm$i-$k.raw"; done
done
{
  echo "apiVersion: ferry/v1"
  echo "kind: MigrationPlan"
  echo "metadata: {name: scale}"
  echo "state: ${BENCH_PLAN_STATE:-{backend: file, path: state/scale.state\}}"
  echo "sources: {dc1: {type: directory, path: src}}"
  echo "targets: {lab: {type: local, path: out}}"
  echo "defaults: {source: dc1, target: lab}"
  echo "flavors: {small: {vcpus: 1, ram_mb: 512}}"
  echo "vms:"
  for i in $(seq 1 "$N"); do
    printf '  - name: vm%d\n    flavor: small\n    disks: [{file: vm%d-0.raw}, {file: vm%d-1.raw}, {file: vm%d-2.raw}]\n' "$i" "$i" "$i" "$i"
    printf '    ports: [{network: default, mac: "52:54:%02x:%02x:%02x:01"}]\n' $((i / 65536)) $((i / 256 % 256)) $((i % 256))
    [ "$i" -gt 1 ] && printf '    depends_on: [vm%d]\n' $((i - 1))
  done
} >"$D/plan.yaml"
echo "plan-scale: $N VMs, $((N * 3)) disks; making the world all-done (apply)..."
"$FERRY" -q apply --yes --parallel 4 "$D/plan.yaml" >/dev/null 2>&1
printf '%-34s %10s %12s\n' "command ($N VMs x 3 disks)" "seconds" "peak RSS MiB"
for cmd in "validate" "graph" "plan --detailed-exitcode"; do
  best=""; rss=""
  for r in 1 2 3; do
    /usr/bin/time -o "$D/time" -f '%e %M' "$FERRY" $cmd "$D/plan.yaml" >/dev/null 2>&1 || true
    res=$(tail -1 "$D/time")
    t=${res% *}; m=${res#* }
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$t; fi
    rss=$m
  done
  printf '%-34s %10s %12d\n' "ferry $cmd" "$best" $((rss / 1024))
done
"$FERRY" plan --detailed-exitcode "$D/plan.yaml" >/dev/null && echo "plan: world is all done (exit 0)"
