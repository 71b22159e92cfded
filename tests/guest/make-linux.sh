#!/bin/bash
# tests/guest/make-linux.sh OUT VARIANT - a phony (non-bootable) Debian 12
# disk for the Linux guest operations (tests/t/83-guest-linux.t).
#
# VARIANT: novirtio - the initrd lacks the virtio modules (rebuild path);
#          virtio   - the initrd has them (early-microcode cpio + zstd
#                     part; virtio_pci built into the kernel per
#                     modules.builtin): nothing to rebuild; it also has
#                     udev's 99-default.link (it names NICs itself).
#
# Layout (1 GiB sparse raw, MBR): sda1 ext4 /boot, sda2 swap, sda3 LVM PV
# (vg0/root ext4 /).  The root tree is built on the host and tar'ed in:
# /etc/fstab and GRUB naming /dev/sda1 and /dev/sda2, ens192 configured in
# /etc/network/interfaces, netplan, ifcfg and a NetworkManager keyfile (the
# last three bound to the old VMware MAC), VMware tools leftovers (unit,
# enabled link, /etc/vmware-tools) and open-vm-tools in the dpkg database,
# an LVM filter that accepts only /dev/sd*, LVM caches, a fake kernel
# (/boot/vmlinuz-V, /lib/modules/V) and a real cpio initrd.
#
# Real tools that must run inside the guest are the host's, copied with
# their libraries: bash, cp, rm and dpkg (so `dpkg --purge` is real).
# update-initramfs is a fake script: it records its arguments and installs
# a prepared initrd with the virtio modules, but only if
# /etc/initramfs-tools/modules names all four (as the real tool would
# include them).
set -euo pipefail
OUT=${1:?usage: make-linux.sh OUT novirtio|virtio}
VARIANT=${2:?usage: make-linux.sh OUT novirtio|virtio}
KV=6.1.0-50-amd64
WORK=$(mktemp -d /var/tmp/ferry-mklinux.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
mkdir -p "$R"/{etc,boot,usr/bin,usr/sbin,usr/lib,var/lib/dpkg/info,var/lib/dpkg/updates,var/log,root,tmp,run}
ln -s usr/bin "$R/bin"
ln -s usr/sbin "$R/sbin"
ln -s usr/lib "$R/lib"
ln -s usr/lib "$R/lib64"

# host binaries with their libraries
copy_bin() {
  local b=$1 l
  cp -L "$b" "$R/usr/bin/$(basename "$b")"
  for l in $(ldd "$b" | grep -o '/[^ ]*'); do
    case $l in
    /lib64/*) d=$R/usr/lib/${l#/lib64/} ;;
    /lib/*) d=$R/usr/lib/${l#/lib/} ;;
    /usr/lib/*) d=$R/usr/lib/${l#/usr/lib/} ;;
    *) echo "copy_bin: unexpected library '$l'" >&2; return 1 ;;
    esac
    mkdir -p "$(dirname "$d")"
    [ -e "$d" ] || cp -L "$l" "$d"
  done
}
for b in /usr/bin/bash /usr/bin/cp /usr/bin/rm /usr/bin/ls /usr/bin/dpkg; do copy_bin "$b"; done
ln -s bash "$R/usr/bin/sh"
# dpkg insists on these being in PATH; none is called by a purge without
# maintainer scripts
for p in tar diff dpkg-deb ldconfig start-stop-daemon; do
  printf '#!/bin/sh\nexit 0\n' >"$R/usr/bin/$p"
  chmod 0755 "$R/usr/bin/$p"
done
mkdir -p "$R/usr/lib/systemd" && cp /usr/bin/true "$R/usr/lib/systemd/systemd"

cat >"$R/etc/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
echo 12.11 >"$R/etc/debian_version"
echo debian12-lab >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian12-lab\n' >"$R/etc/hosts"
cat >"$R/etc/fstab" <<'EOF'
# /etc/fstab: static file system information (VMware-era names).
/dev/mapper/vg0-root  /      ext4  errors=remount-ro  0  1
/dev/sda1             /boot  ext4  defaults           0  2
/dev/sda2             none   swap  sw                 0  0
EOF

# bootloader
mkdir -p "$R/etc/default" "$R/boot/grub"
cat >"$R/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_CMDLINE_LINUX_DEFAULT="quiet resume=/dev/sda2"
GRUB_CMDLINE_LINUX="root=/dev/mapper/vg0-root"
EOF
cat >"$R/boot/grub/grub.cfg" <<EOF
menuentry 'Debian GNU/Linux' {
	insmod ext2
	set root='hd0,msdos1'
	linux	/vmlinuz-$KV root=/dev/mapper/vg0-root ro quiet resume=/dev/sda2
	initrd	/initrd.img-$KV
}
EOF

# network: ens192 everywhere, bound to the VMware MAC where the format can
mkdir -p "$R/etc/network" "$R/etc/netplan" "$R/etc/sysconfig/network-scripts" \
  "$R/etc/NetworkManager/system-connections"
cat >"$R/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback

auto ens192
iface ens192 inet static
	address 192.0.2.10/24
	gateway 192.0.2.1
EOF
cat >"$R/etc/netplan/01-lab.yaml" <<'EOF'
network:
  version: 2
  ethernets:
    ens192:
      match:
        macaddress: "00:50:56:aa:bb:01"
      addresses: [192.0.2.10/24]
EOF
cat >"$R/etc/sysconfig/network-scripts/ifcfg-ens192" <<'EOF'
DEVICE=ens192
HWADDR=00:50:56:AA:BB:01
BOOTPROTO=none
IPADDR=192.0.2.10
PREFIX=24
ONBOOT=yes
EOF
cat >"$R/etc/NetworkManager/system-connections/ens192.nmconnection" <<'EOF'
[connection]
id=ens192
type=ethernet
interface-name=ens192

[ethernet]
mac-address=00:50:56:AA:BB:01

[ipv4]
method=manual
address1=192.0.2.10/24
EOF
chmod 0600 "$R/etc/NetworkManager/system-connections/ens192.nmconnection"

# VMware tools: the package (in dpkg's database) and loose leftovers
mkdir -p "$R/etc/vmware-tools" "$R/usr/lib/systemd/system" \
  "$R/etc/systemd/system/multi-user.target.wants"
printf '#!/bin/sh\nexit 0\n' >"$R/usr/bin/vmtoolsd"
chmod 0755 "$R/usr/bin/vmtoolsd"
printf '#!/bin/sh\nexit 0\n' >"$R/usr/bin/vmware-toolbox-cmd"
chmod 0755 "$R/usr/bin/vmware-toolbox-cmd"
printf '[logging]\nlog = false\n' >"$R/etc/vmware-tools/tools.conf"
printf '[Unit]\nDescription=open-vm-tools\n[Service]\nExecStart=/usr/bin/vmtoolsd\n[Install]\nWantedBy=multi-user.target\n' \
  >"$R/usr/lib/systemd/system/open-vm-tools.service"
ln -s /usr/lib/systemd/system/open-vm-tools.service \
  "$R/etc/systemd/system/multi-user.target.wants/open-vm-tools.service"
ln -s /usr/lib/systemd/system/open-vm-tools.service "$R/etc/systemd/system/vmtoolsd.service"
cat >"$R/var/lib/dpkg/status" <<'EOF'
Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 1
Maintainer: lab
Architecture: amd64
Version: 12.4
Description: lab base

Package: open-vm-tools
Status: install ok installed
Priority: optional
Section: admin
Installed-Size: 1
Maintainer: lab
Architecture: amd64
Version: 2:12.2.0-1
Description: Open VMware Tools (lab)

EOF
printf '/.\n/usr\n/usr/bin\n/usr/bin/vmtoolsd\n/usr/bin/vmware-toolbox-cmd\n/usr/lib\n/usr/lib/systemd\n/usr/lib/systemd/system\n/usr/lib/systemd/system/open-vm-tools.service\n' \
  >"$R/var/lib/dpkg/info/open-vm-tools.list"
printf '/.\n/etc\n/etc/os-release\n/etc/debian_version\n' >"$R/var/lib/dpkg/info/base-files.list"
touch "$R/var/lib/dpkg/available" "$R/var/lib/dpkg/diversions" "$R/var/lib/dpkg/statoverride"

# LVM: a filter that hides /dev/vd*, caches that pin the old devices
mkdir -p "$R/etc/lvm/cache" "$R/etc/lvm/devices"
cat >"$R/etc/lvm/lvm.conf" <<'EOF'
devices {
	dir = "/dev"
	# only the VMware SCSI disks
	filter = [ "a|^/dev/sd.*|",
	           "r|.*|" ]
	# global_filter = [ "r|.*|" ]
}
EOF
echo '# lab cache' >"$R/etc/lvm/cache/.cache"
echo 'IDTYPE=sys_wwid IDNAME=naa.6000c29 DEVNAME=/dev/sda3 PVID=x' >"$R/etc/lvm/devices/system.devices"

# kernel, modules, initrds
M=$R/usr/lib/modules/$KV
mkdir -p "$M/kernel/drivers/block" "$M/kernel/drivers/scsi" "$M/kernel/drivers/net" \
  "$M/kernel/drivers/virtio" "$R/etc/initramfs-tools" "$R/usr/share/ferry-test"
for m in block/virtio_blk scsi/virtio_scsi net/virtio_net virtio/virtio_pci scsi/vmw_pvscsi net/vmxnet3; do
  echo "fake $m" >"$M/kernel/drivers/$m.ko"
done
printf 'kernel/drivers/tty/vt.ko\n' >"$M/modules.builtin"
echo "fake kernel" >"$R/boot/vmlinuz-$KV"
printf 'MODULES=dep\n' >"$R/etc/initramfs-tools/initramfs.conf"
printf '# List of modules that you want to include in your initramfs.\n' >"$R/etc/initramfs-tools/modules"

mkinitrd_tree() { # DIR MODULES...
  local d=$1 m
  shift
  mkdir -p "$d/usr/lib/modules/$KV/kernel/drivers" "$d/etc"
  ln -s usr/lib "$d/lib"
  echo '#!/bin/sh' >"$d/init"
  for m in "$@"; do
    mkdir -p "$d/usr/lib/modules/$KV/kernel/drivers/$(dirname "$m")"
    echo "fake $m" >"$d/usr/lib/modules/$KV/kernel/drivers/$m.ko"
  done
}
cpio_of() { (cd "$1" && find . | LC_ALL=C sort | cpio --quiet -o -H newc); }
I=$WORK/initrd
mkdir -p "$I"
# the old initrd: VMware drivers only, gzip
mkinitrd_tree "$I/old" scsi/vmw_pvscsi net/vmxnet3
# what the (fake) update-initramfs produces: + virtio, gzip
mkinitrd_tree "$I/new" scsi/vmw_pvscsi net/vmxnet3 block/virtio_blk scsi/virtio_scsi net/virtio_net virtio/virtio_pci
cpio_of "$I/new" | gzip -9n >"$R/usr/share/ferry-test/initrd-virtio.img"
case $VARIANT in
novirtio)
  cpio_of "$I/old" | gzip -9n >"$R/boot/initrd.img-$KV"
  ;;
virtio)
  # early microcode (uncompressed cpio) + zstd main part; virtio_pci built in
  mkdir -p "$I/early/kernel/x86/microcode"
  echo ucode >"$I/early/kernel/x86/microcode/GenuineIntel.bin"
  mkinitrd_tree "$I/main" block/virtio_blk scsi/virtio_scsi net/virtio_net
  # it names NICs itself (udev's default .link, as Debian's does)
  mkdir -p "$I/main/usr/lib/systemd/network"
  printf '[Link]\nNamePolicy=path\n' >"$I/main/usr/lib/systemd/network/99-default.link"
  printf 'kernel/drivers/virtio/virtio_pci.ko\n' >>"$M/modules.builtin"
  { cpio_of "$I/early"; cpio_of "$I/main" | zstd -q -19; } >"$R/boot/initrd.img-$KV"
  ;;
*) echo "make-linux.sh: unknown variant '$VARIANT'" >&2; exit 1 ;;
esac

cat >"$R/usr/sbin/update-initramfs" <<'EOF'
#!/bin/bash
# fake update-initramfs (ferry test image): records its call; installs the
# prepared virtio initrd when /etc/initramfs-tools/modules names them all
echo "update-initramfs $*" >>/var/log/ferry-test-initramfs.log
k=
while [ $# -gt 0 ]; do
  case $1 in -k) k=$2; shift ;; esac
  shift
done
[ -n "$k" ] || { echo "no -k" >&2; exit 1; }
while read -r m _; do
  case $m in virtio_blk|virtio_scsi|virtio_net|virtio_pci) eval "have_$m=1" ;; esac
done </etc/initramfs-tools/modules
if [ -n "${have_virtio_blk:-}" ] && [ -n "${have_virtio_scsi:-}" ] &&
   [ -n "${have_virtio_net:-}" ] && [ -n "${have_virtio_pci:-}" ]; then
  cp /usr/share/ferry-test/initrd-virtio.img "/boot/initrd.img-$k"
else
  echo "update-initramfs: modules missing in /etc/initramfs-tools/modules" >&2
  exit 1
fi
EOF
chmod 0755 "$R/usr/sbin/update-initramfs"

# /boot is its own filesystem: tar it separately
tar -C "$R" --numeric-owner -cf "$WORK/root.tar" --exclude=./boot .
tar -C "$R/boot" --numeric-owner -cf "$WORK/boot.tar" .

RAW=$WORK/disk.raw
truncate -s 1G "$RAW"
guestfish --rw --format=raw -a "$RAW" <<EOF
run
part-init /dev/sda mbr
part-add /dev/sda p 2048 411647
part-add /dev/sda p 411648 542719
part-add /dev/sda p 542720 -1
part-set-bootable /dev/sda 1 true
part-set-mbr-id /dev/sda 2 0x82
part-set-mbr-id /dev/sda 3 0x8e
mkfs ext4 /dev/sda1 label:boot
mkswap /dev/sda2 label:swap
pvcreate /dev/sda3
vgcreate vg0 /dev/sda3
lvcreate-free root vg0 100
mkfs ext4 /dev/vg0/root label:root
mount /dev/vg0/root /
mkdir /boot
mount /dev/sda1 /boot
tar-in $WORK/root.tar /
tar-in $WORK/boot.tar /boot
umount-all
EOF
cp --sparse=always "$RAW" "$OUT"
