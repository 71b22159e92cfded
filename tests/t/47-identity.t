#!/bin/bash
# No silent wrong disk (issue 14): a target that is the source, resume from
# a checkpoint of another source, another .part or a forged record, and
# "done" that only meant "a file of the right name and size".
. "$(dirname "$0")/../lib.sh"

# -- a target that is the same file as a chain member is refused --------
head -c $((3 << 20)) /dev/urandom >"$TMP/src.raw"
qemu-img convert -f raw -O qcow2 "$TMP/src.raw" "$TMP/src.qcow2"
cp "$TMP/src.raw" "$TMP/src.copy"
cp "$TMP/src.qcow2" "$TMP/qcow2.copy"
out=$("$FERRY" convert "$TMP/src.raw" "$TMP/src.raw" 2>&1); rc=$?
is "convert X X: exit 1" "$rc" 1
ok "... saying the target is the source" grep -q "is the same file as source" <<<"$out"
ok "... source bytes unchanged" cmp "$TMP/src.copy" "$TMP/src.raw"
ln -s src.raw "$TMP/link.raw"
out=$("$FERRY" convert "$TMP/src.raw" "$TMP/link.raw" 2>&1); rc=$?
is "convert X symlink-to-X: exit 1" "$rc" 1
ok "... source bytes unchanged" cmp "$TMP/src.copy" "$TMP/src.raw"
ln "$TMP/src.raw" "$TMP/hard.raw"
out=$("$FERRY" convert "$TMP/src.raw" "$TMP/hard.raw" 2>&1); rc=$?
is "convert X hardlink-to-X: exit 1" "$rc" 1
ok "... source bytes unchanged" cmp "$TMP/src.copy" "$TMP/src.raw"
out=$("$FERRY" convert "$TMP/src.qcow2" "$TMP/src.qcow2" 2>&1); rc=$?
is "convert Q.qcow2 Q.qcow2: exit 1" "$rc" 1
ok "... qcow2 source unchanged" cmp "$TMP/qcow2.copy" "$TMP/src.qcow2"
# a backing file is a chain member too
qemu-img create -q -f qcow2 -b src.raw -F raw "$TMP/delta.qcow2"
out=$("$FERRY" convert "$TMP/delta.qcow2" "$TMP/src.raw" 2>&1); rc=$?
is "convert DELTA BACKING: exit 1" "$rc" 1
ok "... backing file unchanged" cmp "$TMP/src.copy" "$TMP/src.raw"
# a VMDK's flat extent is part of the source too
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat "$TMP/src.raw" "$TMP/flat.vmdk"
cp "$TMP/flat-flat.vmdk" "$TMP/extent.copy"
out=$("$FERRY" convert "$TMP/flat.vmdk" "$TMP/flat-flat.vmdk" 2>&1); rc=$?
is "convert DESC.vmdk its-own-flat-extent: exit 1" "$rc" 1
ok "... naming the extent" grep -q "an extent of source" <<<"$out"
ok "... extent unchanged" cmp "$TMP/extent.copy" "$TMP/flat-flat.vmdk"
ok "convert to a new file still works" "$FERRY" convert "$TMP/src.qcow2" "$TMP/new.raw"
ok "... and is right" cmp "$TMP/src.raw" "$TMP/new.raw"

# -- a plan: one VM, one raw disk ----------------------------------------
W=$TMP/w
mkdir -p "$W/src"
head -c $((32 << 20)) /dev/urandom >"$W/diskA.raw"
head -c $((32 << 20)) /dev/urandom >"$W/diskB.raw"
cat >"$W/plan.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: ident}
state: {backend: file, path: state/ident.state}
sources:
  d: {type: directory, path: src}
targets:
  t: {type: local, path: out}
defaults: {target: t}
vms:
  - name: web01
    source: d
    disks:
      - {file: disk.raw}
YAML
J=$W/state/ident.state
T=$W/out/web01-disk0.raw
APPLY=("$FERRY" apply --yes --io-threads 1 --checkpoint-interval 1M "$W/plan.yaml")
# start an apply slowed to 150 ms a chunk (4 MiB), kill -9 it once a checkpoint of
# at least 8 MiB is on record
interrupted_apply() {
  FERRY_TEST_CHUNK_DELAY_MS=150 "${APPLY[@]}" >/dev/null 2>&1 & local pid=$!
  for _ in $(seq 1 1000); do
    off=$(grep '"checkpoint"' "$J" 2>/dev/null | tail -1 | sed 's/.*"offset":\([0-9]*\).*/\1/')
    [ -n "$off" ] && [ "$off" -ge $((8 << 20)) ] && break
    sleep 0.01
  done
  kill -9 "$pid"; wait "$pid" 2>/dev/null
}
reset() { rm -rf "$W/out" "$W/state"; }

# 1. checkpoint of disk A, plan pointed at disk B (same size): restart
reset; cp "$W/diskA.raw" "$W/src/disk.raw"
interrupted_apply
ok "interrupted mid-disk: a .part and a checkpoint remain" test -e "$T.part" -a -n "$off"
cp "$W/diskB.raw" "$W/src/disk.raw"
out=$("$FERRY" plan "$W/plan.yaml" 2>&1)
ok "plan: the checkpoint is for another source" grep -q "checkpoint is for another source" <<<"$out"
out=$("${APPLY[@]}" 2>&1); rc=$?
is "apply after the source changed: exit 0" "$rc" 0
ok "... says why it restarts" grep -q "web01/convert/disk0: checkpoint is for another source.*restarting from 0" <<<"$out"
ok "... does not resume" bash -c '! grep -q "resuming from" <<<"$1"' - "$out"
ok "... target is all disk B" cmp "$W/diskB.raw" "$T"

# 2. an honest interruption still resumes
reset; cp "$W/diskA.raw" "$W/src/disk.raw"
interrupted_apply
out=$("${APPLY[@]}" 2>&1); rc=$?
is "honest rerun: exit 0" "$rc" 0
ok "... resumes from the checkpoint" grep -q "resuming from" <<<"$out"
ok "... target equals disk A" cmp "$W/diskA.raw" "$T"

# 3. a hand-forged checkpoint (no identity, far past what was written)
reset; cp "$W/diskA.raw" "$W/src/disk.raw"
interrupted_apply
printf '{"time":"2026-01-01T00:00:00.000Z","time_ms":1767225600000,"step":"web01/convert/disk0","event":"checkpoint","offset":%d}\n' $((30 << 20)) >>"$J"
out=$("${APPLY[@]}" 2>&1); rc=$?
is "forged checkpoint: exit 0" "$rc" 0
ok "... not trusted" grep -q "checkpoint carries no identity.*restarting from 0" <<<"$out"
ok "... target equals disk A" cmp "$W/diskA.raw" "$T"

# 4. a garbled checkpoint (the real record, its offset edited)
reset; cp "$W/diskA.raw" "$W/src/disk.raw"
interrupted_apply
line=$(grep '"checkpoint"' "$J" | tail -1)
sed "s/\"offset\":[0-9]*/\"offset\":$((30 << 20))/" <<<"$line" >>"$J"
out=$("${APPLY[@]}" 2>&1); rc=$?
is "edited checkpoint offset: exit 0" "$rc" 0
ok "... not trusted" grep -q "does not match its offset.*restarting from 0" <<<"$out"
ok "... target equals disk A" cmp "$W/diskA.raw" "$T"

# 5. the .part replaced by another file: its checkpoint does not apply
reset; cp "$W/diskA.raw" "$W/src/disk.raw"
interrupted_apply
cp "$T.part" "$W/part.copy"; rm "$T.part"; cp "$W/diskB.raw" "$T.part"
out=$("${APPLY[@]}" 2>&1); rc=$?
is "replaced .part: exit 0" "$rc" 0
ok "... not trusted" grep -q "checkpoint is for another .*restarting from 0" <<<"$out"
ok "... target equals disk A" cmp "$W/diskA.raw" "$T"

# -- done means the target holds this source's data ----------------------
# 6. a blank pre-existing file of the right name and size
reset; cp "$W/diskA.raw" "$W/src/disk.raw"
mkdir -p "$W/out"; truncate -s 32M "$T"
out=$("$FERRY" plan --detailed-exitcode "$W/plan.yaml" 2>&1); rc=$?
is "blank target of the right size: plan --detailed-exitcode → 2" "$rc" 2
ok "... blocked: not written by ferry" grep -q "^! web01/convert/disk0: .*exists but was not written by ferry" <<<"$out"
out=$("${APPLY[@]}" 2>&1); rc=$?
is "... apply exits 1" "$rc" 1
ok "... and leaves the file alone" cmp <(head -c $((32 << 20)) /dev/zero) "$T"

# 7. the source changed after migration (the final sync)
reset; cp "$W/diskA.raw" "$W/src/disk.raw"
ok "apply" "${APPLY[@]}"
out=$("$FERRY" plan --detailed-exitcode "$W/plan.yaml" 2>&1); rc=$?
is "after apply: plan → 0" "$rc" 0
dd if=/dev/urandom of="$W/src/disk.raw" bs=64k count=1 seek=5 conv=notrunc status=none
out=$("$FERRY" plan --detailed-exitcode "$W/plan.yaml" 2>&1); rc=$?
is "source changed: plan --detailed-exitcode → 2" "$rc" 2
ok "... ~ update (source changed since ...)" grep -q "^~ web01/convert/disk0: .*update (source changed since 20" <<<"$out"
ok "apply converts again" "${APPLY[@]}"
ok "... target equals the changed source" cmp "$W/src/disk.raw" "$T"
out=$("$FERRY" plan --detailed-exitcode "$W/plan.yaml" 2>&1); rc=$?
is "... then plan → 0" "$rc" 0

# 8. the target modified after ferry wrote it
dd if=/dev/urandom of="$T" bs=64k count=1 seek=3 conv=notrunc status=none
out=$("$FERRY" plan --detailed-exitcode "$W/plan.yaml" 2>&1); rc=$?
is "target modified: plan --detailed-exitcode → 2" "$rc" 2
ok "... blocked: modified after ferry wrote it" grep -q "^! web01/convert/disk0: .*was modified after ferry wrote it" <<<"$out"

# 9. a VMDK whose flat extent changes while its descriptor does not (the
# final sync after the VM was shut down on ESXi)
rm -rf "$W/out" "$W/state" "$W/src"/*
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat "$W/diskA.raw" "$W/src/disk.vmdk"
sed -i 's/{file: disk.raw}/{file: disk.vmdk}/' "$W/plan.yaml"
ok "apply a flat VMDK" "${APPLY[@]}"
desc_before=$(stat -c '%Y %s' "$W/src/disk.vmdk")
dd if=/dev/urandom of="$W/src/disk-flat.vmdk" bs=64k count=1 seek=7 conv=notrunc status=none
is "... (the descriptor is untouched)" "$(stat -c '%Y %s' "$W/src/disk.vmdk")" "$desc_before"
out=$("$FERRY" plan --detailed-exitcode "$W/plan.yaml" 2>&1); rc=$?
is "flat extent changed: plan --detailed-exitcode → 2" "$rc" 2
ok "... ~ update (source changed since ...)" grep -q "^~ web01/convert/disk0: .*update (source changed since 20" <<<"$out"
ok "apply converts again" "${APPLY[@]}"
ok "... target equals the changed extent" cmp "$W/src/disk-flat.vmdk" "$T"
sed -i 's/{file: disk.vmdk}/{file: disk.raw}/' "$W/plan.yaml"
rm -rf "$W/out" "$W/state"; cp "$W/diskA.raw" "$W/src/disk.raw"

# 10. a bigger size_gb in the plan still asks for a new conversion
rm -f "$T"
ok "apply after removing the modified target" "${APPLY[@]}"
sed -i 's/{file: disk.raw}/{file: disk.raw, size_gb: 1}/' "$W/plan.yaml"
out=$("$FERRY" plan --detailed-exitcode "$W/plan.yaml" 2>&1); rc=$?
is "size_gb grown: plan --detailed-exitcode → 2" "$rc" 2
ok "... ~ size: old → new" grep -q "^~ web01/convert/disk0: .*size: 33554432 → 1073741824" <<<"$out"
done_testing
