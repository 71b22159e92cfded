#!/bin/bash
# The inspect step and the guest seam on local file targets, real
# libguestfs: plan before convert ("after convert", no appliance), apply
# (one appliance: inspection recorded in the journal as the step's
# evidence), plan again (done), a VM whose disk holds no OS (blocked
# before any guest change, its later steps skipped, exit 1), and
# `ferry inspect --guest` on a raw and a VMDK image; an appliance that
# dies at launch (tests/guest/qemu-dies-once.sh) is launched once more
# under TCG (auto) or not (kvm).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/env.sh"
plan 19

img=$(guest_image tiny-linux "$TOP/tests/guest/make-tiny-linux.sh") || exit 1
mkdir -p "$TMP/src" "$TMP/out"
cp --sparse=always "$img" "$TMP/src/tiny.raw"
truncate -s 64M "$TMP/src/blank.raw"
cat >"$TMP/plan.yaml" <<'YAML'
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: guest-inspect}
state: {backend: file, path: state/j}
sources: {s: {type: directory, path: src}}
targets: {t: {type: local, path: out}}
defaults: {source: s, target: t, guest_accel: tcg}
vms:
  - name: tiny
    disks: [{file: tiny.raw}]
    customize: {hostname: renamed}
  - name: blank
    disks: [{file: blank.raw}]
    customize: {hostname: nothing}
YAML
P=$TMP/plan.yaml
src_sum=$(sha256sum "$TMP/src/tiny.raw")

out=$("$FERRY" plan "$P" 2>&1)
ok "plan before convert: inspect waits for convert (no appliance)" \
  grep -q "^+ tiny/inspect: after convert" <<<"$out"
ok "... and so does customize" grep -q "^+ tiny/customize: after convert" <<<"$out"

out=$("$FERRY" apply --yes "$P" 2>&1); rc=$?
is "apply: a VM whose disk holds no OS fails the run (exit 1)" "$rc" 1
ok "... blank/inspect is blocked with the reason" \
  grep -Eq "blank/inspect: .*no operating system found" <<<"$out"
ok "... and nothing after it ran on that VM" \
  grep -Eq "blank/customize: skipped" <<<"$out"
ok "tiny/inspect applied with the guest's summary" \
  grep -Eq "^\+ tiny/inspect: linux 12\.[0-9]+ .*debian.* x86_64 bios root=/dev/sda1" <<<"$out"
ok "the journal holds the inspection as inspect's evidence" \
  grep -Eq '"step":"tiny/inspect","event":"done","ident":"linux 12\.[0-9]+ debian12 x86_64 root=/dev/sda1"' "$TMP/state/j"
n=$(grep -c 'appliance launched' <<<"$out")
is "one appliance per VM (2 VMs)" "$n" 2
is "the source was not written" "$(sha256sum "$TMP/src/tiny.raw")" "$src_sum"

out=$("$FERRY" plan "$P" 2>&1)
ok "plan after apply: tiny/inspect is done" grep -q "^= tiny/inspect: linux 12" <<<"$out"
ok "... blank/inspect still blocked" grep -Eq "^! blank/inspect: .*guest: no operating system found" <<<"$out"
ok "... convert stays done" grep -q "^= tiny/convert/disk0" <<<"$out"

qemu-img convert -f raw -O vmdk "$TMP/src/tiny.raw" "$TMP/tiny.vmdk"
out=$("$FERRY" inspect --guest --json "$TMP/tiny.vmdk" 2>/dev/null); rc=$?
is "inspect --guest on a VMDK exits 0" "$rc" 0
is "... and finds the guest (type distro major hostname root)" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["type"], d["distro"], d["major"], d["hostname"], d["mountpoints"]["/"])' <<<"$out")" \
  "linux debian 12 tiny-guest /dev/sda1"
fails_with "inspect --guest on a disk with no OS: exit 1 with the reason" 1 \
  "blocked: +no operating system found" "$FERRY" inspect --guest "$TMP/src/blank.raw"
is "inspect --guest left the VMDK unchanged (read-only appliance)" \
  "$(qemu-img compare -q "$TMP/tiny.vmdk" "$TMP/src/tiny.raw"; echo $?)" 0

# the TCG retry: the first launch dies as on a host whose /dev/kvm aborts
export QEMU_DIES_ONCE_MARK=$TMP/died
out=$(env -u LIBGUESTFS_BACKEND_SETTINGS LIBGUESTFS_HV="$TOP/tests/guest/qemu-dies-once.sh" \
        FERRY_GUESTFS_ACCEL=auto "$FERRY" inspect --guest "$TMP/src/tiny.raw" 2>&1); rc=$?
is "auto: an appliance that dies at launch is launched again and inspects (exit 0)" "$rc" 0
ok "... and ferry says it retried under TCG" \
  grep -q "appliance died while launching (guestfs_launch failed.); retrying once under TCG" <<<"$out"
rm -f "$QEMU_DIES_ONCE_MARK"
fails_with "kvm: no retry, a clear error (exit 1)" 1 "launching the appliance failed: guestfs_launch failed" \
  env -u LIBGUESTFS_BACKEND_SETTINGS LIBGUESTFS_HV="$TOP/tests/guest/qemu-dies-once.sh" \
  FERRY_GUESTFS_ACCEL=kvm "$FERRY" inspect --guest "$TMP/src/tiny.raw"
