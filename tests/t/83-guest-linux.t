#!/bin/bash
# Linux inject (modules/guest-linux.c) on the phony Debian of
# tests/guest/make-linux.sh (variant novirtio: its initrd lacks virtio):
# the check lists every change, apply makes them and a recheck finds none;
# then ONE read-only guestfish session reads the guest back: fstab and GRUB
# name the real UUIDs, the LVM filter accepts /dev/vd* and its caches are
# gone, dpkg really purged open-vm-tools and the leftovers are gone, the
# (fake) update-initramfs ran once per kernel and the initrd now lists the
# virtio modules (listed here with cpio, not with ferry's reader).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/env.sh" || exit 1
GOP=$TOP/tests/helpers/guest-op
KV=6.1.0-50-amd64
cd "$TMP" || exit 1

IMG=$(guest_image linux-novirtio "$TOP/tests/guest/make-linux.sh" novirtio) ||
  { echo "1..1"; echo "not ok 1 - phony Debian image builds"; exit 1; }
mkdir -p src out
qemu-img create -q -f vmdk src/lx.vmdk 1G
cp --sparse=always "$IMG" out/lx-disk0.raw
cat >plan.yaml <<'EOF'
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: lx}
sources: {dc1: {type: directory, path: src}}
targets: {lab: {type: local, path: out}}
defaults: {source: dc1, target: lab}
vms:
  - name: lx
    disks: [{file: lx.vmdk}]
EOF

# has NAME FILE LINE: FILE has exactly LINE (fixed string, whole line)
has() { ok "$1" grep -qxF -- "$3" "$2"; }
hasnt() { ok "$1" bash -c '! grep -qE -- "$1" "$2"' _ "$3" "$2"; }

ok "check runs read-only" bash -c "'$GOP' plan.yaml lx linux-inject >check.out 2>&1"
has "check: purge open-vm-tools with dpkg" check.out \
  "change: packages open-vm-tools: dpkg --purge"
has "check: /etc/vmware-tools leftover" check.out \
  "change: remove /etc/vmware-tools (VMware tools)"
ok "check: /etc/fstab /dev/sda1 and /dev/sda2" \
  test "$(grep -cE '^change: /etc/fstab: /dev/sda[12] -> UUID=' check.out)" = 2
ok "check: GRUB resume= in /etc/default/grub and grub.cfg" \
  test "$(grep -cE '^change: (/etc/default/grub|/boot/grub/grub.cfg): resume=/dev/sda2 -> resume=UUID=' check.out)" = 2
has "check: LVM filter" check.out "change: /etc/lvm/lvm.conf: filter accepts /dev/vd*"
has "check: LVM devices file" check.out \
  "change: remove /etc/lvm/devices/system.devices (names the old disks)"
has "check: initramfs rebuild" check.out \
  "change: initramfs /boot/initrd.img-$KV: rebuild with update-initramfs (missing virtio_blk, virtio_scsi, virtio_net, virtio_pci)"
n=$(sed -n 's/^changes: //p' check.out)
is "check: 16 changes" "$n" 16

ok "apply runs" bash -c "'$GOP' plan.yaml lx linux-inject --apply >apply.out 2>&1"
is "apply: as many changes as the check listed" \
  "$(grep -c '^applied: ' apply.out)" "$n"
has "apply: recheck finds nothing" apply.out "recheck: 0"

guestfish --ro --format=raw -a out/lx-disk0.raw -i >rb.out 2>&1 <<EOF
echo ==uuid1
vfs-uuid /dev/sda1
echo ==uuid2
vfs-uuid /dev/sda2
echo ==fstab
cat /etc/fstab
echo ==grub
cat /etc/default/grub
echo ==grubcfg
cat /boot/grub/grub.cfg
echo ==lvm
cat /etc/lvm/lvm.conf
echo ==gone
exists /etc/lvm/devices/system.devices
exists /etc/lvm/cache/.cache
exists /etc/vmware-tools
exists /usr/bin/vmtoolsd
exists /usr/lib/systemd/system/open-vm-tools.service
exists /etc/systemd/system/multi-user.target.wants/open-vm-tools.service
exists /etc/systemd/system/vmtoolsd.service
echo ==status
cat /var/lib/dpkg/status
echo ==mkinitramfs
cat /var/log/ferry-test-initramfs.log
echo ==modules
cat /etc/initramfs-tools/modules
echo ==end
download /boot/initrd.img-$KV $TMP/initrd
EOF
ok "read back with guestfish" test -s initrd
sect() { awk -v s="==$1" '$0 == s {p = 1; next} /^==/ {p = 0} p' rb.out; }
u1=$(sect uuid1)
u2=$(sect uuid2)
ok "the appliance reports UUIDs" test -n "$u1" -a -n "$u2"
sect fstab >fstab
has "fstab: /boot by UUID" fstab "UUID=$u1             /boot  ext4  defaults           0  2"
has "fstab: swap by UUID" fstab "UUID=$u2             none   swap  sw                 0  0"
has "fstab: LVM root untouched" fstab "/dev/mapper/vg0-root  /      ext4  errors=remount-ro  0  1"
hasnt "fstab: no /dev/sd names left" fstab '^/dev/sd'
sect grub >grub
has "GRUB defaults: resume by UUID" grub "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=UUID=$u2\""
sect grubcfg >grubcfg
ok "grub.cfg: resume by UUID, root untouched" \
  grep -qF "root=/dev/mapper/vg0-root ro quiet resume=UUID=$u2" grubcfg
sect lvm >lvm
ok "lvm.conf: /dev/vd* accepted before the old rules" \
  grep -qF 'filter = [ "a|^/dev/vd.*|", "a|^/dev/sd.*|",' lvm
is "LVM caches and VMware leftovers gone" "$(sect gone | sort -u)" "false"
sect status >status
hasnt "dpkg: open-vm-tools purged" status '^Package: open-vm-tools'
has "dpkg: other packages kept" status "Package: base-files"
is "update-initramfs ran once, for the kernel" "$(sect mkinitramfs)" "update-initramfs -u -k $KV"
sect modules >modules
ok "initramfs-tools/modules lists the four" \
  bash -c 'for m in virtio_blk virtio_scsi virtio_net virtio_pci; do grep -qx $m modules || exit 1; done'
zcat initrd | cpio --quiet -t >initrd.list 2>/dev/null
ok "the new initrd holds the virtio modules" \
  bash -c 'for m in virtio_blk virtio_scsi virtio_net virtio_pci; do grep -q "/$m.ko\$" initrd.list || exit 1; done'
done_testing
