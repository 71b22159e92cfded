#!/bin/bash
# validate refuses files that are not disk images but would pass as "raw"
# (0 bytes, text, a .vmx, a VMDK descriptor), and a truncated VMDK that
# `inspect` already reports, each as file:line:col: vms[0].disks[0].file.
. "$(dirname "$0")/../lib.sh"

W=$TMP/w
mkdir -p "$W/src"
plan_for() {
  cat >"$W/plan.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: v}
state: {backend: file, path: state/v.state}
sources:
  d: {type: directory, path: src}
targets:
  t: {type: local, path: out}
defaults: {target: t}
vms:
  - name: web01
    source: d
    disks:
      - {file: $1}
YAML
}
# rejects NAME FILE PATTERN: validate exits 1 and prints the disk's key
# position and PATTERN
rejects() {
  local out rc
  plan_for "$2"
  out=$("$FERRY" validate "$W/plan.yaml" 2>&1); rc=$?
  is "$1: validate exits 1" "$rc" 1
  ok "$1: error at the disk's file key" grep -q "plan.yaml:14:16: vms\[0\].disks\[0\].file: .*$3" <<<"$out"
}

: >"$W/src/empty.raw"
rejects "0-byte file" empty.raw "0 bytes, less than one sector"
head -c 100 /dev/urandom >"$W/src/tiny.raw"
rejects "100-byte file" tiny.raw "100 bytes, less than one sector"
printf '.encoding = "UTF-8"\nconfig.version = "8"\nvirtualHW.version = "14"\n' >"$W/src/web01.vmx"
head -c 2000 /dev/zero | tr '\0' '#' >>"$W/src/web01.vmx"
rejects ".vmx file" web01.vmx "starts with '.encoding'"
{ echo "# Disk DescriptorFile"; yes "# padding" | head -c 2000; } >"$W/src/desc2.vmdk"
rejects "VMDK descriptor without extents" desc2.vmdk "descriptor"
yes "just some notes about the vm" | head -c 8192 >"$W/src/notes.txt"
rejects "text file" notes.txt "are text"

# a truncated monolithicSparse VMDK: inspect reports it, so must validate
head -c $((4 << 20)) /dev/urandom >"$W/data.raw"
qemu-img convert -f raw -O vmdk "$W/data.raw" "$W/src/trunc.vmdk"
truncate -s $(( $(stat -c %s "$W/src/trunc.vmdk") / 2 )) "$W/src/trunc.vmdk"
out=$("$FERRY" inspect "$W/src/trunc.vmdk" 2>&1); irc=$?
is "inspect reports the truncated VMDK (exit 1)" "$irc" 1
rejects "truncated VMDK" trunc.vmdk "points outside the file"

# what is a disk still passes
head -c $((1 << 20)) /dev/urandom >"$W/src/good.raw"
plan_for good.raw
ok "a real raw disk passes" "$FERRY" validate "$W/plan.yaml"
truncate -s 1M "$W/src/sparse.raw"
plan_for sparse.raw
ok "an all-zero raw disk passes" "$FERRY" validate "$W/plan.yaml"
qemu-img convert -f raw -O vmdk "$W/data.raw" "$W/src/whole.vmdk"
plan_for whole.vmdk
ok "a whole VMDK passes" "$FERRY" validate "$W/plan.yaml"
done_testing
