#!/bin/bash
# The phony Debian variant whose initrd already has virtio
# (tests/guest/make-linux.sh virtio: early-microcode cpio + zstd part,
# virtio_pci built into the kernel per modules.builtin, udev's
# 99-default.link inside): inject plans no initramfs rebuild, and network
# does plan one (that initrd names NICs itself and lacks ferry's .link, so
# udev would keep the initramfs' name).  Check mode only: the fake
# update-initramfs cannot pack .link files.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/env.sh" || exit 1
GOP=$TOP/tests/helpers/guest-op
MAC=52:54:00:12:34:56
cd "$TMP" || exit 1

IMG2=$(guest_image linux-virtio "$TOP/tests/guest/make-linux.sh" virtio) ||
  { echo "1..1"; echo "not ok 1 - phony Debian (virtio initrd) builds"; exit 1; }
mkdir -p src out
qemu-img create -q -f vmdk src/lx.vmdk 1G
cat >plan.yaml <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: lx}
sources: {dc1: {type: directory, path: src}}
targets: {lab: {type: local, path: out}}
defaults: {source: dc1, target: lab}
vms:
  - name: lx
    disks: [{file: lx.vmdk}]
    ports: [{network: default, mac: "$MAC"}]
EOF
has() { ok "$1" grep -qxF -- "$3" "$2"; }
cp --sparse=always "$IMG2" out/lx-disk0.raw
ok "inject check on the virtio variant runs" \
  bash -c "'$GOP' plan.yaml lx linux-inject >v-check.out 2>&1"
ok "virtio variant: fstab still listed (the check ran)" \
  grep -qE '^change: /etc/fstab: /dev/sda1 -> UUID=' v-check.out
ok "virtio variant: no initramfs rebuild planned" \
  bash -c '! grep -qE "initramfs|update-initramfs" v-check.out'
# its initramfs names NICs (99-default.link inside): pinning ens192 by a
# .link file must rebuild it, or udev would keep the initramfs' name
ok "network check on the virtio variant runs" \
  bash -c "'$GOP' plan.yaml lx linux-network >v-net.out 2>&1"
has "virtio variant: .link planned" v-net.out \
  "change: /etc/systemd/network/10-ferry-ens192.link: create ($MAC)"
has "virtio variant: initramfs rebuilt for the NIC name" v-net.out \
  "change: initramfs /boot/initrd.img-6.1.0-50-amd64: rebuild with update-initramfs (NIC names of ferry's .link files)"
done_testing
