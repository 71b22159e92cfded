#!/bin/bash
# tests/guest/make-linux-bootable.sh OUT — a small real Debian 12 that boots
# (raw, 2 GiB): what a VMware Linux guest looks like to ferry.
#
#   MBR, GRUB (i386-pc) in the MBR, /boot ext4 on sda1, LVM vg0/root ext4 on
#   sda2; /etc/fstab names /dev/sda1 for /boot; open-vm-tools installed (a
#   VMware leftover, as a real package); /etc/network/interfaces configures
#   ens192 (VMware's name for the first vmxnet3 NIC) with 10.0.2.15/24, the
#   address qemu's user network expects; console=ttyS0; a unit that prints
#       FERRY-BOOT-OK <iface> <ipv4>
#   on ttyS0 once an interface has a global IPv4 address (FERRY-BOOT-NONET
#   after 90 s without one), so a boot test sees both "it booted" and "its
#   network identity survived".
#
#   The initramfs is built with MODULES=list and the modules a VMware guest
#   booting from IDE/LSI/PVSCSI needs (ata_piix, ahci, mptspi, vmw_pvscsi,
#   sd_mod, dm_mod, ext4), i.e. what MODULES=dep gives on such a VM: it has
#   NO virtio_blk, so the image boots on IDE and not on virtio-blk until
#   ferry's inject adds the virtio modules.  (MODULES=dep run here would copy
#   this host's own boot driver - virtio_blk - and MODULES=most always has it.)
#
# Steps: the debootstrap tree (debootstrap-tree.sh, cached per recipe) is
# copied and configured on the host, the initrd is built in a host chroot
# (native speed), the two filesystems are made on the host with `mke2fs -d`
# (no slow tar-in through the TCG appliance), one libguestfs launch lays out
# MBR + LVM and reports where the LV starts, the filesystems are written at
# their offsets with dd, and a second launch runs grub-install and
# update-grub inside the guest tree (grub sees /dev/sda as on a real boot).
#
# Before it is handed out the image is verified (below): the initramfs has
# no virtio_blk, it boots on IDE to "FERRY-BOOT-OK ens192 10.0.2.15", and
# it does not boot on virtio-blk (~3 min of TCG boots, once).  Its output
# (the build log) carries a "check:" line per verification.
#
# Use through guest_image (tests/guest/env.sh) with
# GUEST_DEPS="debootstrap-tree.sh boot.sh": built once per machine.
set -euo pipefail
OUT=${1:?usage: make-linux-bootable.sh OUT}
HERE=$(cd "$(dirname "$0")" && pwd)
: "${LIBGUESTFS_BACKEND_SETTINGS:=force_tcg}"
export LIBGUESTFS_BACKEND_SETTINGS
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/mklinuxb.XXXXXX")
cleanup() {
  umount "$WORK/root/proc" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
t0=$(date +%s)
say() { echo "[$(($(date +%s) - t0))s] $*"; }

TREE=$("$HERE/debootstrap-tree.sh")
say "tree $TREE"
R=$WORK/root
cp -a "$TREE" "$R"

# --- configuration of the copy
cat >"$R/etc/fstab" <<'EOF'
/dev/mapper/vg0-root  /      ext4  errors=remount-ro  0  1
/dev/sda1             /boot  ext4  defaults           0  2
EOF
echo debian12-boot >"$R/etc/hostname"
sed -i 's/^root:[^:]*:/root::/' "$R/etc/shadow" # passwordless root (console)
cat >"$R/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

allow-hotplug ens192
iface ens192 inet static
    address 10.0.2.15/24
    gateway 10.0.2.2
EOF
cat >"$R/usr/local/sbin/ferry-boot-marker" <<'EOF'
#!/bin/sh
# prints FERRY-BOOT-OK <iface> <ipv4> on the serial console once an
# interface has a global IPv4 address (ferry's boot test waits for it)
i=0
while [ $i -lt 90 ]; do
    set -- $(ip -4 -o addr show scope global | awk '{sub("/.*", "", $4); print $2, $4; exit}')
    if [ $# = 2 ]; then
        echo "FERRY-BOOT-OK $1 $2" >/dev/ttyS0
        exit 0
    fi
    sleep 1
    i=$((i + 1))
done
echo "FERRY-BOOT-NONET $(ls /sys/class/net | tr '\n' ' ')" >/dev/ttyS0
EOF
chmod 755 "$R/usr/local/sbin/ferry-boot-marker"
cat >"$R/etc/systemd/system/ferry-boot-marker.service" <<'EOF'
[Unit]
Description=ferry boot test marker on ttyS0
Wants=network-online.target
After=network-online.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ferry-boot-marker
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -sf ../ferry-boot-marker.service \
  "$R/etc/systemd/system/multi-user.target.wants/ferry-boot-marker.service"
cat >"$R/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF
# initramfs: the modules of a VMware VM that boots from IDE/SCSI, no virtio
sed -i 's/^MODULES=.*/MODULES=list/' "$R/etc/initramfs-tools/initramfs.conf"
cat >"$R/etc/initramfs-tools/modules" <<'EOF'
ata_piix
ata_generic
pata_acpi
ahci
mptspi
vmw_pvscsi
sd_mod
dm_mod
ext4
EOF
echo RESUME=none >"$R/etc/initramfs-tools/conf.d/resume"
mount -t proc proc "$R/proc"
chroot "$R" update-initramfs -u -k all
umount "$R/proc"
rm -f "$R/etc/machine-id" && touch "$R/etc/machine-id"
say "tree configured, initrd built"

# --- filesystems on the host: /boot apart, the rest on the root LV
B=$WORK/boot
mkdir "$B"
mv "$R"/boot/* "$B"/
BOOT_SECTORS=524288 # sda1: 2048 .. 526335 (256 MiB)
ROOT_START=526336   # sda2: to the end
SIZE=$((2 * 1024 * 1024 * 1024))
RAW=$WORK/disk.raw
truncate -s $SIZE "$RAW"

guestfish --rw --format=raw -a "$RAW" >"$WORK/layout" <<EOF
run
part-init /dev/sda mbr
part-add /dev/sda p 2048 $((2048 + BOOT_SECTORS - 1))
part-add /dev/sda p $ROOT_START -1
part-set-bootable /dev/sda 1 true
part-set-mbr-id /dev/sda 2 0x8e
pvcreate /dev/sda2
vgcreate vg0 /dev/sda2
lvcreate-free root vg0 100
pvs-full
blockdev-getsize64 /dev/vg0/root
EOF
pe_start=$(awk '$1 == "pe_start:" {print $2}' "$WORK/layout")
lv_bytes=$(tail -1 "$WORK/layout")
if [ -z "$pe_start" ] || ! [ "$lv_bytes" -gt 0 ]; then
  cat "$WORK/layout"
  exit 1
fi
say "layout: pe_start $pe_start, root LV $lv_bytes bytes"

mke2fs -q -t ext4 -L boot -d "$B" "$WORK/boot.ext4" $((BOOT_SECTORS / 2))k
mke2fs -q -t ext4 -L root -d "$R" "$WORK/root.ext4" $((lv_bytes / 1024))k
dd if="$WORK/boot.ext4" of="$RAW" bs=1M seek=$((2048 * 512)) oflag=seek_bytes \
  conv=notrunc,sparse status=none
dd if="$WORK/root.ext4" of="$RAW" bs=1M seek=$((ROOT_START * 512 + pe_start)) \
  oflag=seek_bytes conv=notrunc,sparse status=none
say "filesystems written"

guestfish --rw --format=raw -a "$RAW" <<'EOF'
run
mount /dev/vg0/root /
mount /dev/sda1 /boot
command "grub-install --target=i386-pc /dev/sda"
command "update-grub"
umount-all
EOF
say "grub installed"

# --- verified before it is cached: a test that uses it can rely on it and
# its boot check can fail.  The initramfs has no virtio_blk; the guest boots
# on its own hardware (IDE, NIC as ens192) to FERRY-BOOT-OK ens192 10.0.2.15
# and, unconverted, does not boot on virtio-blk.
if lsinitramfs "$B"/initrd.img-* | grep -q '/virtio_blk\.ko'; then
  echo "make-linux-bootable.sh: the initramfs has virtio_blk" >&2
  exit 1
fi
echo "check: initramfs without virtio_blk"
m=$(BOOT_LOG=$WORK/ide.log "$HERE/boot.sh" "$RAW" 300 ide) || {
  cat "$WORK/ide.log"
  exit 1
}
[ "$m" = "FERRY-BOOT-OK ens192 10.0.2.15" ] || {
  echo "make-linux-bootable.sh: unexpected marker '$m'" >&2
  exit 1
}
echo "check: boots on ide: $m"
if BOOT_LOG=$WORK/virtio.log "$HERE/boot.sh" "$RAW" 300 virtio; then
  echo "make-linux-bootable.sh: boots on virtio-blk without conversion" >&2
  exit 1
fi
grep -aq 'Gave up waiting for root' "$WORK/virtio.log" || {
  echo "make-linux-bootable.sh: virtio boot failed for another reason" >&2
  tail -20 "$WORK/virtio.log"
  exit 1
}
echo "check: does not boot on virtio-blk (initramfs gave up waiting for root)"
say "verified"
mv "$RAW" "$OUT"
