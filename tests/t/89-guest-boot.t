#!/bin/bash
# One real boot: a real Debian 12 (tests/guest/make-linux-bootable.sh: GRUB,
# /boot on sda1 named /dev/sda1 in fstab, LVM root, open-vm-tools, ens192
# with 10.0.2.15/24, an initramfs without virtio_blk) as a VMware
# streamOptimized VMDK goes through `ferry apply` (convert, inspect,
# inject, ...) to a local target, and the converted disk then boots under
# qemu (TCG) on virtio-blk and virtio-net, with the plan's MAC, to the
# guest's marker line carrying the interface's address.
#
# The boot check can fail: make-linux-bootable.sh verifies every image it
# builds - the source boots on its own hardware (IDE, NIC named ens192) to
# "FERRY-BOOT-OK ens192 10.0.2.15" and, unconverted, does NOT boot on
# virtio-blk (its initramfs has no virtio_blk) - and the test checks that
# the cached image is such a verified one.  FERRY_BOOT_CONTROLS=1 boots
# both controls again here (+3 min).
#
# The image is built once per machine (debootstrap ~5-9 min, cached per
# recipe; image ~3 min + its checks ~3 min; all in $FERRY_GUEST_CACHE).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/env.sh" || exit 1
G=$TOP/tests/guest
BOOT_TMO=${FERRY_BOOT_TIMEOUT:-300}
MAC=52:54:00:fe:12:15

P=$TMP/plan
mkdir -p "$P/src" "$P/out"
cat >"$P/plan.yaml" <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: guest-boot}
state: {backend: file, path: state/guest-boot.state}
sources: {vmware: {type: directory, path: src}}
targets: {kvm: {type: local, path: out}}
defaults: {source: vmware, target: kvm}
vms:
  - name: deb12
    disks: [{file: deb12.vmdk}]
    ports:
      - network: default
        mac: "$MAC"
        fixed_ip: 10.0.2.15
        prefix: 24
        guest_name: ens192
    customize: {virtio: true}
EOF

raw=$(GUEST_DEPS="$G/debootstrap-tree.sh $G/boot.sh" guest_image debian12-boot \
  "$G/make-linux-bootable.sh") || exit 1
vmdk=$(guest_image debian12-boot-vmdk "$G/to-vmdk.sh" "$raw") || exit 1
cp "$vmdk" "$P/src/deb12.vmdk"

# --- the source, as built and verified
ok "the source was verified at build: boots on IDE as ens192 10.0.2.15" \
  grep -qx 'check: boots on ide: FERRY-BOOT-OK ens192 10.0.2.15' "$raw.log"
ok "... and does not boot on virtio-blk unconverted" \
  grep -q 'check: does not boot on virtio-blk' "$raw.log"
# its initramfs, read with debugfs from sda1 (1 MiB in; no appliance needed)
dd if="$raw" of="$TMP/boot.ext4" bs=1M skip=1 count=256 status=none
ver=$(debugfs -R 'ls /' "$TMP/boot.ext4" 2>/dev/null | grep -o 'vmlinuz-[^ ]*' | head -1)
ver=${ver#vmlinuz-}
debugfs -R "dump /initrd.img-$ver $TMP/initrd.src" "$TMP/boot.ext4" >/dev/null 2>&1
ok "the source's initramfs ($ver) has ata_piix and no virtio_blk" \
  sh -c "lsinitramfs '$TMP/initrd.src' >'$TMP/initrd.src.list' &&
    grep -q '/ata_piix\.ko' '$TMP/initrd.src.list' &&
    ! grep -q '/virtio_blk\.ko' '$TMP/initrd.src.list'"
if [ "${FERRY_BOOT_CONTROLS:-0}" = 1 ]; then
  out=$(BOOT_LOG=$TMP/ide.log "$G/boot.sh" "$vmdk" "$BOOT_TMO" ide "$MAC")
  is "control: the source VMDK boots on IDE to its marker" "$out" \
    "FERRY-BOOT-OK ens192 10.0.2.15"
  fails "control: the unconverted source does not boot on virtio-blk" 1 \
    env BOOT_LOG="$TMP/neg.log" "$G/boot.sh" "$vmdk" "$BOOT_TMO" virtio "$MAC"
fi

# --- ferry
src_before=$(sha256sum "$vmdk")
t0=$(date +%s)
ok "ferry apply converges" "$FERRY" apply --yes "$P/plan.yaml"
echo "# ferry apply: $(($(date +%s) - t0)) s"
disk=$P/out/deb12-disk0.raw
ok "the target disk exists" test -s "$disk"
"$FERRY" plan --detailed-exitcode "$P/plan.yaml" >"$TMP/plan2.out" 2>&1
rc=$?
is "a second plan has nothing to do" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/plan2.out" >&2
is "the source VMDK is untouched" "$(sha256sum "$vmdk")" "$src_before"

# read back, independently of ferry: fstab and the initramfs
mkdir -p "$TMP/rb"
guestfish --ro --format=raw -a "$disk" -i >"$TMP/rb/fstab" <<EOF
cat /etc/fstab
copy-out /boot/initrd.img-$ver $TMP/rb
EOF
ok "fstab keeps /boot and names no /dev/sdX" \
  sh -c "grep -q ' /boot ' '$TMP/rb/fstab' && ! grep -q '^/dev/sd' '$TMP/rb/fstab'"
ok "the initramfs ferry left has virtio_blk and virtio_net" \
  sh -c "lsinitramfs '$TMP/rb/initrd.img-$ver' >'$TMP/initrd.dst.list' &&
    grep -q '/virtio_blk\.ko' '$TMP/initrd.dst.list' &&
    grep -q '/virtio_net\.ko' '$TMP/initrd.dst.list'"

# --- the boot: KVM's hardware, the plan's MAC; the guest's NIC gets another
# name than ens192, and its address must still be 10.0.2.15
t0=$(date +%s)
out=$(BOOT_LOG=$TMP/virtio.log "$G/boot.sh" "$disk" "$BOOT_TMO" virtio "$MAC")
rc=$?
echo "# boot on virtio: $(($(date +%s) - t0)) s: $out"
is "the converted guest boots on virtio-blk + virtio-net" "$rc" 0
ok "... with its address 10.0.2.15 ($out)" \
  grep -qE '^FERRY-BOOT-OK [a-z0-9]+ 10\.0\.2\.15$' <<<"$out"
done_testing
