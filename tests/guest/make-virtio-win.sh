#!/bin/bash
# tests/guest/make-virtio-win.sh DIR - a fake VirtIO-Win driver tree in the
# layout of the virtio-win ISO: DIR/<Driver>/<os>/<arch>/<driver>.{sys,inf,cat}
# for viostor, vioscsi, NetKVM and Balloon, os 2k19, 2k8R2 (mixed case, as on
# the ISO), w10, arch amd64 and x86, plus a guest-agent MSI that must not be
# copied.  Each file's content names its driver, os and arch, so a test can
# tell which copy landed in the guest.
set -euo pipefail
D=${1:?usage: make-virtio-win.sh DIR}
mkdir -p "$D"
for os in 2k19 2k8R2 w10; do
  for arch in amd64 x86; do
    for drv in viostor vioscsi NetKVM Balloon; do
      l=${drv,,}
      p=$D/$drv/$os/$arch
      mkdir -p "$p"
      printf 'FAKE %s.sys for %s %s\n' "$l" "$os" "$arch" > "$p/$l.sys"
      printf '; FAKE %s.inf for %s %s\r\n[Version]\r\nSignature="$WINDOWS NT$"\r\n' "$l" "$os" "$arch" > "$p/$l.inf"
      printf 'FAKE %s.cat %s %s\n' "$l" "$os" "$arch" > "$p/$l.cat"
    done
  done
done
mkdir -p "$D/guest-agent"
printf 'FAKE MSI\n' > "$D/guest-agent/qemu-ga-x86_64.msi"
