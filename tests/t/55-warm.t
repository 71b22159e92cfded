#!/bin/bash
# Warm migration onto file targets (issue 11): `apply --phase precopy`
# copies the chain below the running VM's top snapshot into the .part file,
# `apply --phase cutover` copies only the layers above it and renames.
# VMDK, qcow2 and VHDX (AVHDX) chains; a two-level chain with two pre-copies;
# a delta over another base refused with the target untouched; kill -9 in
# either phase; plan's view of the phases; phases and cold VMs.  The
# oracles: qemu-img convert of the chain (VMDK, qcow2), the writes applied
# with dd (VHDX: qemu-img cannot read differencing VHDX), and qemu-img map
# for the bytes a cutover must write.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/warm-lib.sh"
command -v qemu-io >/dev/null || { echo "1..1"; echo "not ok 1 - qemu-io (qemu-utils, scripts/install-deps) is installed"; exit 1; }
cd "$TMP" || exit 1

# mkplan DIR FILE [COLD]: DIR/plan.yaml, one warm VM 'vm' whose disk is
# DIR/src/FILE (the top of its chain), onto DIR/out; with COLD, also a cold
# VM 'cold' with the disk DIR/src/COLD.
mkplan() {
  cat >"$1/plan.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: warm}
state: {backend: file, path: state/warm.state}
sources:
  s: {type: directory, path: src}
targets:
  t: {type: local, path: out}
defaults: {source: s, target: t}
vms:
  - name: vm
    warm: true
    disks:
      - {file: $2}
YAML
  [ -z "${3:-}" ] || printf '  - name: cold\n    disks:\n      - {file: %s}\n' "$3" >>"$1/plan.yaml"
}
# set_top DIR FILE: the operator points the plan at the newest snapshot.
set_top() { sed -i "s#{file: [^}]*}#{file: $2}#" "$1/plan.yaml"; }
# run DIR PHASE [apply options]: apply the phase, output in DIR/PHASE.out
# (its tail shown when it fails).
run() {
  local d=$1 phase=$2
  shift 2
  "$FERRY" apply --yes --phase "$phase" "$@" "$d/plan.yaml" >"$d/$phase.out" 2>&1 ||
    { tail -20 "$d/$phase.out"; return 1; }
}
# cutover_line DIR: "BASENAME WRITTEN ZEROED" from the cutover's log line
# ("vm/convert/disk0: cutover onto 'BASENAME': W bytes written, Z bytes
# zeroed in S.SSs").
cutover_line() {
  sed -nE "s/^(ferry: )?vm\/convert\/disk0: cutover onto '([^']*)': ([0-9]+) bytes written, ([0-9]+) bytes zeroed in [0-9.]+s$/\2 \3 \4/p" \
    "$1/cutover.out" | tail -1
}
# precopy_line DIR: "BASENAME WRITTEN ZEROED" from the precopy's log line
# ("vm/precopy/disk0: pre-copied 'PATH': W bytes written, Z bytes zeroed
# in S.SSs"; BASENAME: the layer the target holds now).
precopy_line() {
  sed -nE "s/^(ferry: )?vm\/precopy\/disk0: pre-copied '([^']*)': ([0-9]+) bytes written, ([0-9]+) bytes zeroed in [0-9.]+s$/\2 \3 \4/p" \
    "$1/precopy.out" | tail -1 | { read -r l w z && echo "${l##*/} $w $z"; }
}

# --- 1. VMDK: monolithicSparse base <- delta (64 KiB grains) ---------------
W=$TMP/vmdk
mk_vmdk_chain "$W/src"
mkplan "$W" delta.vmdk
read -r data zero <"$W/src/top.counts"
echo "# vmdk delta: $data bytes of data grains, $zero bytes of zeroed grains"
src_before=$(cd "$W/src" && sha256sum base.vmdk delta.vmdk; stat -c '%n %Y' base.vmdk delta.vmdk)
fails_with "vmdk: plan before the precopy: a precopy step to run" 2 'vm/precopy/disk0' \
  "$FERRY" plan --detailed-exitcode "$W/plan.yaml"
ok "vmdk: precopy" run "$W" precopy
ok "vmdk: the .part file holds the base" cmp "$W/out/vm-disk0.raw.part" "$W/src/base.raw"
ok "vmdk: no final disk before the cutover" test ! -e "$W/out/vm-disk0.raw"
fails "vmdk: after the precopy, plan (default phase) has nothing to do" 0 \
  "$FERRY" plan --detailed-exitcode "$W/plan.yaml"
out=$("$FERRY" plan --phase cutover "$W/plan.yaml" 2>&1)
printf '%s\n' "$out" | sed 's/^/# plan: /'
ok "vmdk: plan shows the precopy done, the .part holding base.vmdk" \
  grep -Eq "^= vm/precopy/disk0: .*vm-disk0\.raw\.part holds base\.vmdk;" <<<"$out"
est=$(sed -nE "s/^= vm\/precopy\/disk0: .*the cutover copies ([0-9.]+) MiB \(~[0-9.]+ s at [^)]*[0-9.]+ MiB\/s\)$/\1/p" <<<"$out")
# the estimate is the delta's size (1.6 MiB of data, 0.3 MiB zeroed), not
# the disk's 64 MiB; however the figure is rounded
ok "vmdk: plan estimates the cutover from the delta's size ('${est:-none}' MiB)" \
  awk -v e="${est:-x}" -v lo=$((data / M)) -v hi=$(((data + zero + M - 1) / M)) \
  'BEGIN{exit !(e ~ /^[0-9.]+$/ && e >= lo && e <= hi)}'
fails "vmdk: plan --phase cutover has changes pending" 2 \
  "$FERRY" plan --detailed-exitcode --phase cutover "$W/plan.yaml"
ok "vmdk: cutover" run "$W" cutover
ok "vmdk: the disk equals qemu-img convert of the chain" cmp "$W/out/vm-disk0.raw" "$W/src/chain.raw"
ok "vmdk: no .part left" test ! -e "$W/out/vm-disk0.raw.part"
# zero writes of whole grains are zeroed grains; no data grain holds an
# all-zero 4 KiB block (tests/warm-lib.sh) and the partial last grain covers
# 12 KiB: the counts are exact, no 4 KiB rounding
is "vmdk: the cutover wrote the delta's data grains and zeroed its zeroed grains" \
  "$(cutover_line "$W")" "base.vmdk $data $zero"
fails "vmdk: after the cutover, nothing to do" 0 \
  "$FERRY" plan --detailed-exitcode --phase cutover "$W/plan.yaml"
is "vmdk: source files untouched" \
  "$(cd "$W/src" && sha256sum base.vmdk delta.vmdk; stat -c '%n %Y' base.vmdk delta.vmdk)" "$src_before"

# --- 2. qcow2 overlay over a qcow2 base (64 KiB clusters) ------------------
W=$TMP/qcow2
mk_qcow2_chain "$W/src"
mkplan "$W" overlay.qcow2
read -r data zero <"$W/src/top.counts"
echo "# qcow2 overlay: $data bytes of data clusters, $zero bytes of zero clusters"
ok "qcow2: precopy" run "$W" precopy
ok "qcow2: the .part file holds the base" cmp "$W/out/vm-disk0.raw.part" "$W/src/base.raw"
ok "qcow2: cutover" run "$W" cutover
ok "qcow2: the disk equals qemu-img convert of the chain" cmp "$W/out/vm-disk0.raw" "$W/src/chain.raw"
is "qcow2: the cutover wrote the overlay's data clusters and zeroed its zero clusters" \
  "$(cutover_line "$W")" "base.qcow2 $data $zero"

# --- 3. VHDX base <- AVHDX differencing child ------------------------------
W=$TMP/vhdx
mk_vhdx_chain "$W/src"
mkplan "$W" delta.avhdx
read -r exact rounded zero <"$W/src/top.counts"
echo "# avhdx: $exact bytes written by sector ($rounded in 4 KiB blocks), $zero bytes in ZERO blocks"
ok "vhdx: ferry convert of the whole chain equals the writes applied with dd" \
  sh -c '"$1" convert "$2" "$3" 2>/dev/null && cmp "$3" "$4"' _ "$FERRY" \
  "$W/src/delta.avhdx" "$W/full.raw" "$W/src/chain.raw"
ok "vhdx: precopy" run "$W" precopy
ok "vhdx: the .part file holds the base" cmp "$W/out/vm-disk0.raw.part" "$W/src/base.raw"
ok "vhdx: cutover" run "$W" cutover
ok "vhdx: the disk equals the whole chain" cmp "$W/out/vm-disk0.raw" "$W/src/chain.raw"
# The child defines sectors (its sector bitmaps) and its writes are not
# 4 KiB aligned: the converter writes the 4 KiB blocks of the disk that hold
# them (src/disk/convert.c writes whole 4 KiB blocks, aligned to the disk,
# so that O_DIRECT targets take them; the rest of such a block is the
# parent's data, read through the chain: what the target holds already).
# So $rounded, not the $exact bytes of the sectors; and not the 1 MiB
# payload blocks either.
is "vhdx: the cutover wrote the 4 KiB blocks of the child's sectors, zeroed its ZERO block" \
  "$(cutover_line "$W")" "base.vhdx $rounded $zero"

# --- 4. two pre-copies: base <- s1 <- s2 ------------------------------------
W=$TMP/two
mkdir -p "$W/src"
rand "$W/src/base.raw" "$W_SIZE" two
qemu-img convert -q -f raw -O vmdk "$W/src/base.raw" "$W/src/base.vmdk"
qemu-img create -q -f vmdk -o zeroed_grain=on -b base.vmdk -F vmdk "$W/src/s1.vmdk"
qemu-io -f vmdk -c "write -P 0x21 $((2 * M + 512)) $((300 * K))" "$W/src/s1.vmdk" >/dev/null
mkplan "$W" s1.vmdk
ok "two: first precopy (top s1)" run "$W" precopy
ok "two: the .part holds the base" cmp "$W/out/vm-disk0.raw.part" "$W/src/base.raw"
is "two: the first precopy wrote the whole base" "$(precopy_line "$W")" "base.vmdk $W_SIZE 0"
# the VM goes on writing s1, then the operator takes s2 and edits the plan
delta_writes vmdk "$W/src/s1.vmdk"
qemu-img create -q -f vmdk -o zeroed_grain=on -b s1.vmdk -F vmdk "$W/src/s2.vmdk"
qemu-io -f vmdk -c "write -P 0x22 $((M + 4 * K)) $((8 * K))" "$W/src/s2.vmdk" >/dev/null
set_top "$W" s2.vmdk
qemu-img convert -O raw "$W/src/s1.vmdk" "$W/s1.raw"
read -r data1 zero1 < <(top_extents "$W/src/s1.vmdk" vmdk)
ok "two: second precopy (top s2)" run "$W" precopy
ok "two: the .part holds base + s1" cmp "$W/out/vm-disk0.raw.part" "$W/s1.raw"
is "two: the second precopy wrote only s1's grains (the .part holds s1 now)" \
  "$(precopy_line "$W")" "s1.vmdk $data1 $zero1"
# the VM goes on writing s2 (data over s1's data, zeroes over s1's data)
qemu-io -f vmdk -c "write -P 0x23 $((40 * M + 512)) $((200 * K))" \
  -c "write -z $((20 * M + 64 * K)) $((128 * K))" -c "write -P 0x24 $((M)) $((4 * K))" \
  "$W/src/s2.vmdk" >/dev/null
qemu-img convert -O raw "$W/src/s2.vmdk" "$W/s2.raw"
read -r data2 zero2 < <(top_extents "$W/src/s2.vmdk" vmdk)
ok "two: cutover" run "$W" cutover
ok "two: the disk equals the whole chain" cmp "$W/out/vm-disk0.raw" "$W/s2.raw"
is "two: the cutover wrote only s2's grains, onto s1" "$(cutover_line "$W")" "s1.vmdk $data2 $zero2"

# --- 5. a delta over another base is refused --------------------------------
W=$TMP/mismatch
mkdir -p "$W/src"
for b in A B; do
  rand "$W/src/$b.raw" "$W_SIZE" "base$b"
  qemu-img convert -q -f raw -O vmdk "$W/src/$b.raw" "$W/src/$b.vmdk"
  qemu-img create -q -f vmdk -b "$b.vmdk" -F vmdk "$W/src/d$b.vmdk"
  delta_writes vmdk "$W/src/d$b.vmdk"
done
mkplan "$W" dA.vmdk
ok "mismatch: precopy of A" run "$W" precopy
cp "$W/out/vm-disk0.raw.part" "$W/before.part"
set_top "$W" dB.vmdk
fails_with "mismatch: cutover of a delta over B refused (exit 1, not in the chain)" 1 \
  "not in the chain" "$FERRY" apply --yes --phase cutover "$W/plan.yaml"
ok "mismatch: the .part file is untouched" cmp "$W/out/vm-disk0.raw.part" "$W/before.part"
ok "mismatch: no final disk" test ! -e "$W/out/vm-disk0.raw"
# recovery: precopy again starts over with B
ok "mismatch: precopy again" run "$W" precopy
ok "mismatch: the .part now holds B" cmp "$W/out/vm-disk0.raw.part" "$W/src/B.raw"
qemu-img convert -O raw "$W/src/dB.vmdk" "$W/dB.raw"
ok "mismatch: then the cutover" run "$W" cutover
ok "mismatch: the disk equals dB's chain" cmp "$W/out/vm-disk0.raw" "$W/dB.raw"

# --- 6. kill -9 in either phase ---------------------------------------------
# 128 MiB; the delta: 32 KiB written in every MiB (a 64 KiB grain each), so
# the cutover has work all across the disk.  Paced by the test hook
# FERRY_TEST_CHUNK_DELAY_MS (after each 4 MiB chunk), one worker, a
# checkpoint every 8 MiB; each kill waits for a checkpoint of its step.
W=$TMP/kill
mkdir -p "$W/src"
KSIZE=$((128 * M))
rand "$W/src/base.raw" "$KSIZE" kill
qemu-img convert -q -f raw -O vmdk "$W/src/base.raw" "$W/src/base.vmdk"
qemu-img create -q -f vmdk -b base.vmdk -F vmdk "$W/src/delta.vmdk"
args=()
for i in $(seq 0 127); do args+=(-c "write -P $((i % 250 + 1)) $((i * M + 16 * K)) $((32 * K))"); done
qemu-io -f vmdk "${args[@]}" "$W/src/delta.vmdk" >/dev/null
qemu-img convert -O raw "$W/src/delta.vmdk" "$W/chain.raw"
mkplan "$W" delta.vmdk
JOURNAL=$W/state/warm.state
# kill_at_checkpoint STEP PHASE: apply PHASE slowly, kill -9 once STEP has
# a checkpoint in the journal; prints that checkpoint's offset.
kill_at_checkpoint() {
  local step=$1 phase=$2 pid
  FERRY_TEST_CHUNK_DELAY_MS=60 "$FERRY" apply --yes --phase "$phase" --io-threads 1 \
    --checkpoint-interval 8M "$W/plan.yaml" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do
    kill -0 "$pid" 2>/dev/null || break
    grep -qF "\"step\":\"$step\",\"event\":\"checkpoint\"" "$JOURNAL" 2>/dev/null && break
    sleep 0.01
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # the last checkpoint on record after the kill
  grep -F "\"step\":\"$step\",\"event\":\"checkpoint\"" "$JOURNAL" 2>/dev/null |
    tail -1 | sed -E 's/.*"offset":([0-9]+).*/\1/'
}
off=$(kill_at_checkpoint vm/precopy/disk0 precopy)
ok "kill: precopy killed mid-disk (checkpoint ${off:-none} of $KSIZE)" \
  test -n "$off" -a "${off:-0}" -gt 0 -a "${off:-0}" -lt "$KSIZE"
ok "kill: no final disk after the killed precopy" test ! -e "$W/out/vm-disk0.raw"
ok "kill: precopy rerun" run "$W" precopy
ok "kill: the precopy rerun resumed from its checkpoint" grep -q "resuming from" "$W/precopy.out"
ok "kill: the .part holds the base" cmp "$W/out/vm-disk0.raw.part" "$W/src/base.raw"
is "kill: the precopy rerun wrote the base from checkpoint ${off:-none} on" \
  "$(precopy_line "$W")" "base.vmdk $((KSIZE - ${off:-0})) 0"
off=$(kill_at_checkpoint vm/convert/disk0 cutover)
ok "kill: cutover killed mid-disk (checkpoint ${off:-none} of $KSIZE)" \
  test -n "$off" -a "${off:-0}" -gt 0 -a "${off:-0}" -lt "$KSIZE"
ok "kill: no final disk after the killed cutover" test ! -e "$W/out/vm-disk0.raw"
ok "kill: cutover rerun" run "$W" cutover
ok "kill: the disk equals qemu-img convert of the chain" cmp "$W/out/vm-disk0.raw" "$W/chain.raw"
# the rerun writes the delta's grains from the checkpoint on, nothing
# below it: what the killed run wrote past its last checkpoint (at most a
# checkpoint interval and the chunk in flight) is all it copies twice
left=$(qemu-img map --output=json -f vmdk "$W/src/delta.vmdk" | $PY -c '
import json, sys
off = int(sys.argv[1]); n = 0
for e in json.load(sys.stdin):
    if e["depth"] == 0 and e["data"]:
        n += max(0, e["start"] + e["length"] - max(e["start"], off))
print(n)' "${off:-0}")
read -r kdata _ < <(top_extents "$W/src/delta.vmdk" vmdk)
is "kill: the cutover rerun wrote the delta's grains past checkpoint ${off:-none} only ($left of $kdata bytes)" \
  "$(cutover_line "$W")" "base.vmdk $left 0"

# --- 7. phases: cold VMs, plain apply, a top without a parent ---------------
W=$TMP/phases
mkdir -p "$W/src"
rand "$W/src/cold.raw" $((4 * M)) cold
rand "$W/src/base.raw" $((8 * M)) pbase
qemu-img convert -q -f raw -O vmdk "$W/src/base.raw" "$W/src/base.vmdk"
qemu-img create -q -f vmdk -b base.vmdk -F vmdk "$W/src/delta.vmdk"
qemu-io -f vmdk -c "write -P 0x42 $((3 * M + 512)) $((70 * K))" "$W/src/delta.vmdk" >/dev/null
qemu-img convert -O raw "$W/src/delta.vmdk" "$W/chain.raw"
mkplan "$W" delta.vmdk cold.raw
ok "phases: --phase precopy" run "$W" precopy
ok "phases: --phase precopy: the warm VM's .part holds its base" cmp "$W/out/vm-disk0.raw.part" "$W/src/base.raw"
is "phases: --phase precopy does not touch the cold VM (no file, no step in the journal)" \
  "$(ls "$W/out" | grep -c '^cold'; grep -c '"step":"cold/' "$W/state/warm.state")" "$(printf '0\n0')"
ok "phases: plain apply" "$FERRY" apply --yes "$W/plan.yaml"
ok "phases: plain apply converted the cold VM" cmp "$W/out/cold-disk0.raw" "$W/src/cold.raw"
ok "phases: plain apply did not cut the warm VM over (no final disk)" test ! -e "$W/out/vm-disk0.raw"
ok "phases: ... its .part still holds the base" cmp "$W/out/vm-disk0.raw.part" "$W/src/base.raw"
fails "phases: plan: nothing to do short of a cutover" 0 "$FERRY" plan --detailed-exitcode "$W/plan.yaml"
ok "phases: --phase cutover" run "$W" cutover
ok "phases: the warm VM's disk equals its chain" cmp "$W/out/vm-disk0.raw" "$W/chain.raw"
W=$TMP/noparent
mkdir -p "$W/src"
cp "$TMP/phases/src/base.vmdk" "$W/src/"
mkplan "$W" base.vmdk
fails_with "a warm VM whose top has no parent: precopy blocked (exit 1)" 1 \
  "base.vmdk' has no parent: .*take a snapshot first" "$FERRY" apply --yes --phase precopy "$W/plan.yaml"
ok "... and nothing written" test ! -e "$W/out/vm-disk0.raw.part" -a ! -e "$W/out/vm-disk0.raw"
done_testing
