#!/bin/bash
# bench/openstack.sh — ferry onto the OpenStack lab (tests/lab): needs root
# and the lab's packages (scripts/install-deps); starts the lab if it is not
# running (FERRY_OSLAB, default /tmp/ferry-oslab) and leaves it as found.
#
#   table 1: the 3-VM plan of tests/t/76-os-e2e.t with BENCH_OS_SIZE disks
#            (VMDK, ~40% allocated): time from `apply` start to all servers
#            ACTIVE, split into data copy (the convert steps, journal begin
#            to done, summed) and the rest (API calls and waits), with the
#            API requests per VM.  Medians of BENCH_OS_RUNS runs; every run
#            starts from nothing (the previous run's objects are deleted).
#   table 2: one disk converted into a Cinder volume (the convert step of a
#            1-VM apply) against `ferry convert` into a plain RBD image and
#            `qemu-img convert` into a plain RBD image, same source, same
#            pool, interleaved runs; ratio volume / plain.
# Env: BENCH_OS_SIZE=512M  BENCH_OS_RUNS=3  FERRY_OSLAB  FERRY=./ferry
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
SIZE=${BENCH_OS_SIZE:-512M}
RUNS=${BENCH_OS_RUNS:-3}
export FERRY_OSLAB=${FERRY_OSLAB:-${TMPDIR:-/tmp}/ferry-oslab}
W=$(mktemp -d /var/tmp/ferry-osbench.XXXXXX)
started=0
"$TOP/tests/lab/openstack-lab.sh" status "$FERRY_OSLAB" >/dev/null 2>&1 || started=1
"$TOP/tests/lab/openstack-lab.sh" ensure "$FERRY_OSLAB" >"$W/ensure.out" 2>&1 ||
  { cat "$W/ensure.out"; echo "bench/openstack.sh: the lab does not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$FERRY_OSLAB/env"
TMP=$W
# shellcheck source=../tests/lab/os-lib.sh
. "$TOP/tests/lab/os-lib.sh"
cleanup() {
  rbd -c "$CEPH_CONF" rm --no-progress volumes/bench-plain >/dev/null 2>&1
  rbd -c "$CEPH_CONF" rm --no-progress volumes/bench-qemu >/dev/null 2>&1
  [ $started = 1 ] && "$TOP/tests/lab/openstack-lab.sh" stop "$FERRY_OSLAB" >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT
cd "$W" || exit 1
bytes=$(numfmt --from=iec "$SIZE")
mkdir src
for i in 0 1 2 3; do
  python3 "$TOP/tests/gen/qcow2-pattern.py" "d$i.raw" "$bytes" $((70 + i))
  qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse "d$i.raw" "src/d$i.vmdk"
  rm -f "d$i.raw"
done
alloc=$(qemu-img map --output=json src/d0.vmdk | jq '[.[]|select(.data)|.length]|add')
echo "disks: $SIZE virtual each, $((alloc >> 20)) MiB allocated (VMDK monolithicSparse); $RUNS runs; lab Ceph: one bluestore OSD on a sparse file"

# plan NAME FILE VMS-YAML
plan() {
  cat >"$2" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $1}
sources: {dc: {type: directory, path: src}}
targets:
  lab: {type: openstack, cloud: lab, ceph: {conf: $CEPH_CONF, volumes_pool: volumes}}
defaults: {source: dc, target: lab, volume_type: ceph, flavor: lab.small}
flavors: {lab.small: {vcpus: 1, ram_mb: 512, disk_gb: 1}}
$3
YAML
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# steps_seconds JOURNAL REGEX: sum of (done - begin) of the steps matching REGEX
steps_seconds() {
  jq -rs --arg re "$2" '[group_by(.step)[]|select(.[0].step|test($re))
    |(map(select(.event=="done"))|last.time_ms) - (map(select(.event=="begin"))|last.time_ms)]|add/1000' "$1"
}

# table 1
for r in $(seq "$RUNS"); do
  P=bench-$(os_random)
  plan "$P" "p$r.yaml" "vms:
  - {name: db, disks: [{file: d0.vmdk}, {file: d1.vmdk}], ports: [{network: lab-net, fixed_ip: 127.100.0.16}]}
  - {name: web, disks: [{file: d2.vmdk}], ports: [{network: lab-net, fixed_ip: 127.100.0.17}, {network: lab-net2, fixed_ip: 127.101.0.17}]}
  - {name: app, disks: [{file: d3.vmdk}], ports: [{network: lab-net, fixed_ip: 127.100.0.18}], depends_on: [db, web]}"
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
  t0=$(date +%s.%N)
  "$FERRY" apply -y "p$r.yaml" >"a$r.out" 2>&1 || { echo "run $r: apply failed"; tail -5 "a$r.out"; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc >>t1.total
  steps_seconds ".ferry/$P.state" '/convert/' >>t1.copy
  sed -n 's/.*openstack: \([0-9]*\) API requests, \([0-9.]*\) s in requests, \([0-9.]*\) s waiting.*/\1 \2 \3/p' "a$r.out" >>t1.api
  os_cleanup "$P" >/dev/null 2>&1
done
f2() { LC_ALL=C printf '%.2f' "$1"; }
tot=$(f2 "$(median <t1.total)"); copy=$(f2 "$(median <t1.copy)")
req=$(awk '{print $1}' t1.api | median); http=$(awk '{print $2}' t1.api | median); wt=$(awk '{print $3}' t1.api | median)
echo
echo "== table 1: 3-VM plan, apply start to all servers ACTIVE (medians of $RUNS)"
printf '%-34s %10s\n' "total (s)" "$tot" "data copy: convert steps, summed (s)" "$copy" \
  "API: time in requests (s)" "$http" "API: time waiting for objects (s)" "$wt" \
  "API requests (all VMs)" "$req" "API requests per VM" "$(echo "scale=1; $req / 3" | bc)"

# table 2
for r in $(seq "$RUNS"); do
  P=benchv-$(os_random)
  plan "$P" "v$r.yaml" "vms: [{name: v, disks: [{file: d0.vmdk}]}]"
  "$FERRY" apply -y --target v "v$r.yaml" >"v$r.out" 2>&1
  steps_seconds ".ferry/$P.state" '/convert/' >>t2.volume
  os_cleanup "$P" >/dev/null 2>&1
  rbd -c "$CEPH_CONF" rm --no-progress volumes/bench-plain >/dev/null 2>&1
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
  t0=$(date +%s.%N)
  "$FERRY" convert src/d0.vmdk "rbd:volumes/bench-plain:conf=$CEPH_CONF" >/dev/null 2>&1
  echo "$(date +%s.%N) - $t0" | bc >>t2.plain
  rbd -c "$CEPH_CONF" rm --no-progress volumes/bench-qemu >/dev/null 2>&1
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
  t0=$(date +%s.%N)
  qemu-img convert -m 16 -W -O raw src/d0.vmdk "rbd:volumes/bench-qemu:conf=$CEPH_CONF" >/dev/null 2>&1
  echo "$(date +%s.%N) - $t0" | bc >>t2.qemu
done
v=$(f2 "$(median <t2.volume)"); pl=$(f2 "$(median <t2.plain)"); q=$(f2 "$(median <t2.qemu)")
echo
echo "== table 2: one $SIZE VMDK into RBD (medians of $RUNS, seconds)"
printf '%-44s %8s %8s\n' "" "seconds" "ratio"
printf '%-44s %8s %8s\n' "ferry: into a Cinder volume (convert step)" "$v" "$(echo "scale=2; $v / $pl" | bc)" \
  "ferry convert: into a plain RBD image" "$pl" "1.00" \
  "qemu-img convert -m16 -W: plain RBD image" "$q" "$(echo "scale=2; $q / $pl" | bc)"
