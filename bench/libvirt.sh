#!/bin/bash
# bench/libvirt.sh — ferry's KVM->KVM migration against plain virsh / qemu-img
# on the two-host libvirt lab (tests/lab/libvirt-lab.sh): needs root and the
# lab's packages (scripts/install-deps).  Takes the machine-wide lab lock
# (/run/lock/ferry-lvlab.lock), brings a lab up in /var/tmp and takes it down
# on exit, also on failure or interrupt.  Every figure comes from this run.
#
#   table 1: live migration of the tiny counter guest (128 MiB RAM, 16 MiB
#            qcow2 disk, storage copied) at two bandwidths: `ferry -v apply`
#            of a one-VM live plan (inside ferA) against `virsh migrate --live
#            --p2p --persistent --undefinesource --copy-storage-all` with the
#            disk retargeted (--xml/--persistent-xml) to a raw file pre-created
#            on B.  Wall time, downtime, memory sent and iterations (domjobinfo
#            --completed on B; ferry's own log when B has none), overhead =
#            ferry wall - virsh wall.  A fresh guest per run; medians.
#   table 2: a guest dirtying 48 MiB in a loop (--dirty 48 --nodisk) at
#            8 MiB/s: ferry with escalate [downtime, auto-converge, postcopy]
#            against virsh --postcopy + `virsh migrate-postcopy` after
#            BENCH_LV_PC_AFTER s and virsh --auto-converge (aborted at
#            BENCH_LV_DEADLINE s if it has not converged).
#   table 3: cold: a shut-off domain on a qcow2 chain (base BENCH_LV_SIZE
#            virtual, half of it random data, + an overlay with 64 MiB
#            written): ferry cold apply (flattened to raw on B) against
#            `qemu-img convert -O raw` of the same chain into B's directory
#            (+ fsync of the output: ferry's converter writes O_DIRECT + fsync).
# Env: BENCH_LV_RUNS=3 (tables 1 and 3)  BENCH_LV_DIRTY_RUNS=1 (table 2)
#      BENCH_LV_PARTS="1 2 3" (the tables to run)
#      BENCH_LV_SIZE=1G  BENCH_LV_PC_AFTER=10  BENCH_LV_DEADLINE=60  FERRY=./ferry
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
RUNS=${BENCH_LV_RUNS:-3}
DRUNS=${BENCH_LV_DIRTY_RUNS:-1}
SIZE=${BENCH_LV_SIZE:-1G}
PC_AFTER=${BENCH_LV_PC_AFTER:-10}
PARTS=" ${BENCH_LV_PARTS:-1 2 3} "
part() { [[ $PARTS == *" $1 "* ]]; }
DEADLINE=${BENCH_LV_DEADLINE:-60}
LAB=$TOP/tests/lab/libvirt-lab.sh
GUEST=$TOP/tests/lab/libvirt-guest.sh
die() { echo "bench/libvirt.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network and mount namespaces)"
for c in libvirtd virsh qemu-system-x86_64 qemu-img qemu-io gcc flock; do
  command -v $c >/dev/null || die "no '$c' (scripts/install-deps)"
done
[ -x "$FERRY" ] || die "no '$FERRY' (make)"
exec 9>/run/lock/ferry-lvlab.lock
flock -w 900 9 || die "another lab user holds /run/lock/ferry-lvlab.lock for 900 s"
W=$(mktemp -d /var/tmp/ferry-lvbench.XXXXXX)
D=$W/lab
cleanup() {
  if [ -f "$D/.ferry-lvlab" ]; then "$LAB" down "$D" >"$W/down.log" 2>&1 || cat "$W/down.log" >&2; fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
T0=$(date +%s.%N)
"$LAB" up "$D" >"$W/up.log" 2>&1 || { cat "$W/up.log" >&2; die "the libvirt lab does not start"; }
# shellcheck disable=SC1091
. "$D/env"
mkdir -p "$LVLAB_B_IMAGES/ferry" "$W/state" "$W/log"

now() { date +%s.%N; }
el() { awk -v t0="$1" -v t1="$(now)" 'BEGIN{printf "%.2f", t1-t0}'; }
V() { local X=$1 ns uri; shift; ns=$(eval echo "\$LVLAB_NS_$X"); uri=$(eval echo "\$LVLAB_${X}_URI")
  ip netns exec "$ns" timeout 300 virsh -q -c "$uri" "$@"; }
FA() { ip netns exec "$LVLAB_NS_A" "$FERRY" "$@"; }
# median of the numbers on stdin ("-" when none)
median() { sort -g | awk '{a[NR]=$1} END{if(!NR){print "-";exit} if(NR%2)print a[(NR+1)/2]; else printf "%.2f\n",(a[NR/2]+a[NR/2+1])/2}'; }
# jobinfo NAME FILE: domjobinfo --completed of NAME on B into FILE
jobinfo() { V B domjobinfo --completed "$1" >"$2" 2>&1 || :; }
# jf FILE FIELD: the number of a domjobinfo field (MiB for sizes)
jf() { awk -F: -v k="$2" '$1 == k {split($2, v, " "); n = v[1]; u = v[2]
  if (u == "KiB") n /= 1024; else if (u == "GiB") n *= 1024; else if (u == "B" || u == "bytes") n /= 1048576
  printf "%g\n", n; exit}' "$1"; }
# gone NAME: remove NAME from both hosts (and its files)
gone() {
  local X
  for X in A B; do
    V "$X" destroy "$1" >/dev/null 2>&1
    V "$X" undefine "$1" >/dev/null 2>&1
  done
  rm -f "$LVLAB_A_IMAGES/$1".* "$LVLAB_B_IMAGES/$1"* "$LVLAB_B_IMAGES/ferry/$1"*
}
running_on_b() { [ "$(V B domstate "$1" 2>/dev/null)" = running ]; }
# plan FILE NAME VMLINE: a one-VM plan from A to B, its own state file
plan() {
  cat >"$1" <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $2}
state: {backend: file, path: $W/state/$2.state}
sources:
  a: {type: libvirt, uri: "$LVLAB_A_URI"}
targets:
  b: {type: libvirt, uri: "$LVLAB_B_URI", path: $LVLAB_B_IMAGES/ferry}
defaults: {source: a, target: b}
vms:
  - $3
EOF
}
# results: lines "TABLE KEY FIELD VALUE" in $W/res
put() { echo "$*" >>"$W/res"; }
med() { awk -v k="$1" -v f="$2" '$1 == k && $2 == f {print $3}' "$W/res" | grep -v '^-$' | median; }
cnt() { awk -v k="$1" -v f="$2" '$1 == k && $2 == f' "$W/res" | wc -l; }

# --- table 1: live, tiny guest ------------------------------------------
# ferry_live NAME BW ROUND / virsh_live NAME BW ROUND (BW 0: unlimited)
ferry_live() {
  local n=$1 bw=$2 k=f$2 t wall l m i
  "$GUEST" start "$D" "$n" A >/dev/null 2>"$W/log/$n.start" || { cat "$W/log/$n.start" >&2; return 1; }
  sleep 2
  plan "$W/$n.yaml" "$n" "{name: $n, domain: $n, migrate: live, undefine_source: true, live: {storage: copy$([ "$bw" = 0 ] || echo ", bandwidth: $bw")}}"
  t=$(now)
  FA -v apply --yes "$W/$n.yaml" >"$W/log/$n.out" 2>&1; rc=$?
  wall=$(el "$t")
  jobinfo "$n" "$W/log/$n.job"
  if [ $rc != 0 ] || ! running_on_b "$n"; then
    echo "  ferry $n failed (rc $rc):" >&2; tail -5 "$W/log/$n.out" | sed 's/^/    /' >&2; put "$k" fail 1; gone "$n"; return 0
  fi
  l=$(grep "migrated in" "$W/log/$n.out" | tail -n 1)
  put "$k" wall "$wall"
  put "$k" down "$(sed -n 's/.*downtime \([0-9]*\) ms;.*/\1/p' <<<"$l")"
  # memory and iterations: B's completed job, else ferry's last sample
  m=$(jf "$W/log/$n.job" 'Memory processed'); i=$(jf "$W/log/$n.job" 'Iteration')
  put "$k" mem "${m:-$(sed -n 's/.*; memory \([0-9]*\)\/.*/\1/p' <<<"$l")}"
  put "$k" iter "${i:-$(sed -n 's/.*iteration \([0-9]*\),.*/\1/p' <<<"$l")}"
  echo "  ferry  bw=$bw round $3: $wall s; $l" | sed 's/ferry: [^ ]*: migrated in/migrated in/'
  gone "$n"
}
virsh_live() {
  local n=$1 bw=$2 k=v$2 t wall bwarg raw=$LVLAB_B_IMAGES/$1-vda.raw
  "$GUEST" start "$D" "$n" A >/dev/null 2>"$W/log/$n.start" || { cat "$W/log/$n.start" >&2; return 1; }
  sleep 2
  qemu-img create -q -f raw "$raw" 16M
  V A dumpxml --migratable "$n" |
    sed -e "s|type='qcow2'|type='raw'|" -e "s|$LVLAB_A_IMAGES/$n.qcow2|$raw|" >"$W/$n.xml"
  bwarg=(); [ "$bw" = 0 ] || bwarg=(--bandwidth "$bw")
  t=$(now)
  V A migrate --live --p2p --persistent --undefinesource --copy-storage-all \
    --xml "$W/$n.xml" --persistent-xml "$W/$n.xml" "${bwarg[@]}" \
    "$n" "$LVLAB_B_URI" >"$W/log/$n.out" 2>&1; rc=$?
  wall=$(el "$t")
  jobinfo "$n" "$W/log/$n.job"
  if [ $rc != 0 ] || ! running_on_b "$n"; then
    echo "  virsh $n failed (rc $rc):" >&2; tail -5 "$W/log/$n.out" | sed 's/^/    /' >&2; put "$k" fail 1; gone "$n"; return 0
  fi
  put "$k" wall "$wall"
  put "$k" down "$(jf "$W/log/$n.job" 'Total downtime')"
  put "$k" mem "$(jf "$W/log/$n.job" 'Memory processed')"
  put "$k" iter "$(jf "$W/log/$n.job" 'Iteration')"
  echo "  virsh  bw=$bw round $3: $wall s; downtime $(jf "$W/log/$n.job" 'Total downtime') ms," \
    "memory $(jf "$W/log/$n.job" 'Memory processed') MiB, iteration $(jf "$W/log/$n.job" 'Iteration')"
  gone "$n"
}

# --- table 2: a guest dirtying memory at 8 MiB/s ------------------------
dirty_start() {
  "$GUEST" start "$D" "$1" A --dirty 48 --nodisk >/dev/null 2>"$W/log/$1.start" || { cat "$W/log/$1.start" >&2; return 1; }
  sleep 3
}
ferry_dirty() {
  local n=$1 k=fd t wall l esc=""
  dirty_start "$n" || return 1
  plan "$W/$n.yaml" "$n" "{name: $n, domain: $n, migrate: live, undefine_source: true, live: {bandwidth: 8, escalate: [downtime, auto-converge, postcopy], stall: 4, deadline: 300}}"
  t=$(now)
  FA -v apply --yes "$W/$n.yaml" >"$W/log/$n.out" 2>&1; rc=$?
  wall=$(el "$t")
  jobinfo "$n" "$W/log/$n.job"
  if [ $rc != 0 ] || ! running_on_b "$n"; then
    echo "  ferry $n failed (rc $rc):" >&2; tail -5 "$W/log/$n.out" | sed 's/^/    /' >&2; put "$k" fail 1; gone "$n"; return 0
  fi
  l=$(grep "migrated in" "$W/log/$n.out" | tail -n 1)
  grep -q "downtime raised to" "$W/log/$n.out" && esc="downtime($(grep -o 'downtime raised to [0-9]*' "$W/log/$n.out" | tail -n 1 | awk '{print $4}') ms)"
  grep -q "auto-converge throttles" "$W/log/$n.out" && esc="$esc${esc:+,}auto-converge($(grep -o "cpu to [0-9]*%" "$W/log/$n.out" | tail -n 1 | awk '{print $3}'))"
  grep -q "switched to post-copy" "$W/log/$n.out" && esc="$esc${esc:+,}postcopy"
  put "$k" wall "$wall"
  put "$k" down "$(sed -n 's/.*downtime \([0-9]*\) ms;.*/\1/p' <<<"$l")"
  put "$k" iter "$(sed -n 's/.*iteration \([0-9]*\),.*/\1/p' <<<"$l")"
  put "$k" mem "$(sed -n 's/.*; memory \([0-9]*\)\/.*/\1/p' <<<"$l")"
  echo "$esc" >>"$W/esc"
  echo "  ferry  dirty round $2: $wall s; escalations: ${esc:-none}; $l" | sed 's/ferry: [^ ]*: migrated in/migrated in/'
  gone "$n"
}
# virsh_dirty NAME ROUND MODE (postcopy|autoconv)
virsh_dirty() {
  local n=$1 mode=$3 k t wall pid waited=0 aborted=0 flags
  k=v$mode
  dirty_start "$n" || return 1
  # post-copy: the completed job's stats stay on the source (as ferry does,
  # the source is undefined after reading them)
  case $mode in
    postcopy) flags="--postcopy";;
    *) flags="--auto-converge --undefinesource";;
  esac
  t=$(now)
  # shellcheck disable=SC2086
  V A migrate --live --p2p --persistent $flags --bandwidth 8 \
    "$n" "$LVLAB_B_URI" >"$W/log/$n.out" 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    sleep 0.5; waited=$(el "$t")
    if [ "$mode" = postcopy ] && [ "$(awk -v w="$waited" -v a="$PC_AFTER" 'BEGIN{print (w >= a)}')" = 1 ] && [ ! -e "$W/$n.pc" ]; then
      V A migrate-postcopy "$n" >>"$W/log/$n.out" 2>&1; touch "$W/$n.pc"
    fi
    if [ "$(awk -v w="$waited" -v a="$DEADLINE" 'BEGIN{print (w >= a)}')" = 1 ] && [ $aborted = 0 ]; then
      V A domjobabort "$n" >>"$W/log/$n.out" 2>&1; aborted=1
    fi
  done
  wait $pid; rc=$?
  wall=$(el "$t")
  jobinfo "$n" "$W/log/$n.job"
  grep -q Completed "$W/log/$n.job" || V A domjobinfo --completed "$n" >"$W/log/$n.job" 2>&1
  [ "$mode" = postcopy ] && V A undefine "$n" >/dev/null 2>&1
  if [ $aborted = 1 ] && [ $rc != 0 ]; then
    put "$k" noconv 1
    echo "  virsh  $mode round $2: not converged in $DEADLINE s (aborted; guest stays on A)"
  elif [ $rc != 0 ] || ! running_on_b "$n"; then
    echo "  virsh $mode $n failed (rc $rc):" >&2; tail -5 "$W/log/$n.out" | sed 's/^/    /' >&2; put "$k" fail 1
  else
    put "$k" wall "$wall"
    put "$k" down "$(jf "$W/log/$n.job" 'Total downtime')"
    put "$k" mem "$(jf "$W/log/$n.job" 'Memory processed')"
    put "$k" iter "$(jf "$W/log/$n.job" 'Iteration')"
    echo "  virsh  $mode round $2: $wall s; downtime $(jf "$W/log/$n.job" 'Total downtime') ms," \
      "memory $(jf "$W/log/$n.job" 'Memory processed') MiB, iteration $(jf "$W/log/$n.job" 'Iteration')"
  fi
  gone "$n"
}

# --- table 3: cold --------------------------------------------------------
cold_setup() {
  local bytes half
  bytes=$(numfmt --from=iec "$SIZE"); half=$((bytes / 2 / 1048576))
  B0=$LVLAB_A_IMAGES/cb-base.qcow2 OV=$LVLAB_A_IMAGES/cb.qcow2
  # half of the disk random data (from a raw file: qemu-io cannot read a pipe)
  qemu-img create -q -f raw "$W/base.raw" "$SIZE"
  head -c $((half * 1048576)) /dev/urandom | dd of="$W/base.raw" bs=1M conv=notrunc iflag=fullblock status=none
  qemu-img convert -q -f raw -O qcow2 "$W/base.raw" "$B0"
  rm -f "$W/base.raw"
  qemu-img create -q -f qcow2 -b "$B0" -F qcow2 "$OV"
  qemu-io -f qcow2 -c "write -P 0x5a ${half}M 64M" "$OV" >/dev/null
  cat >"$W/cb.xml" <<EOX
<domain type='qemu'>
  <name>cb</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$OV'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOX
  V A define "$W/cb.xml" >/dev/null
}
cold_ferry() {
  local t wall
  V B undefine cb >/dev/null 2>&1; rm -f "$LVLAB_B_IMAGES/ferry/"cb*
  plan "$W/cb$1.yaml" "cb$1" "{name: cb, domain: cb}"
  sync; t=$(now)
  FA apply --yes "$W/cb$1.yaml" >"$W/log/cb$1.out" 2>&1; rc=$?
  wall=$(el "$t")
  if [ $rc != 0 ]; then echo "  ferry cold failed (rc $rc):" >&2; tail -5 "$W/log/cb$1.out" | sed 's/^/    /' >&2; put cf fail 1; return 0; fi
  put cf wall "$wall"
  echo "  ferry    cold round $1: $wall s ($(du -cm "$LVLAB_B_IMAGES/ferry/"cb*.raw 2>/dev/null | tail -n 1 | cut -f1) MiB allocated on B)"
  if [ "$1" = 1 ]; then # (untimed) B's raw equals the chain
    qemu-img compare -q -f qcow2 -F raw "$OV" "$LVLAB_B_IMAGES/ferry/"cb*.raw ||
      { echo "  ferry's raw differs from the source chain" >&2; put cf fail 1; }
  fi
}
cold_qemu() {
  local t wall
  rm -f "$LVLAB_B_IMAGES/cb-q.raw"
  sync; t=$(now)
  # + fsync: ferry's converter writes O_DIRECT and fsyncs; the clock stops
  # for both once the data is on disk
  qemu-img convert -p -O raw "$OV" "$LVLAB_B_IMAGES/cb-q.raw" >/dev/null 2>&1 &&
    sync "$LVLAB_B_IMAGES/cb-q.raw"; rc=$?
  wall=$(el "$t")
  [ $rc = 0 ] || { echo "  qemu-img failed" >&2; put cq fail 1; return 0; }
  put cq wall "$wall"
  echo "  qemu-img cold round $1: $wall s"
}

echo "KVM->KVM on the two-host libvirt lab (tests/lab/libvirt-lab.sh): two libvirtd in"
echo "network namespaces ferA/ferB on one machine ($(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM), guests under TCG"
echo "(no KVM), migration over a veth pair; ferry $("$FERRY" --version 2>/dev/null | head -n 1), $(virsh --version 2>/dev/null | sed 's/^/libvirt /'),"
echo "$(qemu-system-x86_64 --version | head -n 1).  Lab up in $(el "$T0") s.  Medians of $RUNS runs unless noted."
echo

part 1 && echo "== 1. live, tiny counter guest (128 MiB RAM, 16 MiB disk, storage copied)"
# the first incoming migration of a host costs ~1.5 s more (libvirt's first
# probe): one unrecorded warm-up, then ferry and virsh take turns going first
part 1 && { virsh_live warm 0 0 >/dev/null || die "guest start failed"; sed -i '/^v0 /d' "$W/res"; }
part 1 && for bw in 0 8; do
  for r in $(seq 1 "$RUNS"); do
    if [ $((r % 2)) = 1 ]; then
      ferry_live "f${bw}r$r" "$bw" "$r" || die "guest start failed"
      virsh_live "v${bw}r$r" "$bw" "$r" || die "guest start failed"
    else
      virsh_live "v${bw}r$r" "$bw" "$r" || die "guest start failed"
      ferry_live "f${bw}r$r" "$bw" "$r" || die "guest start failed"
    fi
  done
done
part 2 && echo "== 2. live, guest dirtying 48 MiB in a loop, 8 MiB/s"
part 2 && for r in $(seq 1 "$DRUNS"); do
  ferry_dirty "fdr$r" "$r" || die "guest start failed"
  virsh_dirty "vpr$r" "$r" postcopy || die "guest start failed"
  virsh_dirty "var$r" "$r" autoconv || die "guest start failed"
done
part 3 && echo "== 3. cold, qcow2 chain (base $SIZE virtual, half random; overlay 64 MiB)"
part 3 && cold_setup
part 3 && for r in $(seq 1 "$RUNS"); do
  cold_qemu "$r"
  cold_ferry "$r"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a/b }'; }
diff_() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-") print "-"; else printf "%+.2f", a-b }'; }
fails() { local f; f=$(cnt "$1" fail); [ "$f" = 0 ] || echo " ($f failed)"; }
if part 1; then
echo
echo "Table 1: live migration, tiny guest, storage copy (medians of $RUNS)"
printf '%-12s %-6s %9s %9s %9s %6s %10s %6s\n' bandwidth tool "wall s" "downt ms" "mem MiB" iters "overhead" ratio
for bw in 0 8; do
  fw=$(med "f$bw" wall); vw=$(med "v$bw" wall)
  lbl=$([ "$bw" = 0 ] && echo unlimited || echo "$bw MiB/s")
  printf '%-12s %-6s %9s %9s %9s %6s %10s %6s%s\n' "$lbl" ferry "$fw" "$(med "f$bw" down)" "$(med "f$bw" mem)" "$(med "f$bw" iter)" "$(diff_ "$fw" "$vw") s" "$(ratio "$fw" "$vw")" "$(fails "f$bw")"
  printf '%-12s %-6s %9s %9s %9s %6s %10s %6s%s\n' "" virsh "$vw" "$(med "v$bw" down)" "$(med "v$bw" mem)" "$(med "v$bw" iter)" "" "" "$(fails "v$bw")"
done
fi
if part 2; then
echo
echo "Table 2: live migration, guest dirtying 48 MiB (176 MiB RAM), 8 MiB/s (medians of $DRUNS)"
printf '%-34s %9s %9s %9s %6s\n' "" "wall s" "downt ms" "mem MiB" iters
printf '%-34s %9s %9s %9s %6s%s\n' "ferry escalate [dt, ac, postcopy]" "$(med fd wall)" "$(med fd down)" "$(med fd mem)" "$(med fd iter)" "$(fails fd)"
for m in postcopy autoconv; do
  lbl=$([ $m = postcopy ] && echo "virsh --postcopy, switch at ${PC_AFTER} s" || echo "virsh --auto-converge")
  nc=$(cnt "v$m" noconv)
  if [ "$nc" -gt 0 ] && [ "$(cnt "v$m" wall)" = 0 ]; then
    printf '%-34s %s\n' "$lbl" "did not converge in $DEADLINE s ($nc of $DRUNS; aborted)"
  else
    printf '%-34s %9s %9s %9s %6s%s%s\n' "$lbl" "$(med "v$m" wall)" "$(med "v$m" down)" "$(med "v$m" mem)" "$(med "v$m" iter)" "$(fails "v$m")" "$([ "$nc" = 0 ] || echo " ($nc not converged)")"
  fi
done
echo "ferry's escalations: $(sort "$W/esc" 2>/dev/null | uniq -c | awk '{c=$1; $1=""; printf "%s%s x%d", (NR>1?"; ":""), substr($0,2), c}')"
fi
if part 3; then
echo
vs=$(numfmt --from=iec "$SIZE" | awk '{print $1/1048576}')
cf=$(med cf wall); cq=$(med cq wall)
data=$(awk -v v="$vs" 'BEGIN{print int(v/2) + 64}')
echo "Table 3: cold migration, qcow2 chain -> raw on B ($vs MiB virtual, ~$data MiB data; medians of $RUNS;"
echo "         source in the page cache, output on the lab's disk; ferry's wall includes discovery and define)"
printf '%-28s %8s %12s %12s %6s\n' "" "wall s" "MiB/s virt" "MiB/s data" ratio
printf '%-28s %8s %12s %12s %6s%s\n' "ferry apply (cold, 1 VM)" "$cf" "$(ratio "$vs" "$cf")" "$(ratio "$data" "$cf")" "$(ratio "$cf" "$cq")" "$(fails cf)"
printf '%-28s %8s %12s %12s %6s%s\n' "qemu-img convert + fsync" "$cq" "$(ratio "$vs" "$cq")" "$(ratio "$data" "$cq")" "" "$(fails cq)"
fi
echo
echo "total $(el "$T0") s"
