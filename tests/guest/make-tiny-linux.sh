#!/bin/bash
# make-tiny-linux.sh OUT: a 128 MiB raw disk holding the smallest guest
# libguestfs inspects as Linux: MBR, one ext4 partition with /etc/os-release
# (Debian 12), /etc/hostname, /etc/fstab naming /dev/sda1, /bin/sh (the
# host's x86-64 /bin/true: inspection takes the architecture from it),
# /usr/bin, /lib/modules.  It cannot boot.  One appliance launch (~15-30 s under TCG).
set -euo pipefail
out=$1
rm -f "$out"
truncate -s 128M "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/os-release" <<'OS'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
OS
echo 12.11 >"$tmp/debian_version"
echo tiny-guest >"$tmp/hostname"
printf '/dev/sda1 / ext4 errors=remount-ro 0 1\n' >"$tmp/fstab"
guestfish --format=raw -a "$out" <<GF
run
part-disk /dev/sda mbr
mkfs ext4 /dev/sda1
mount /dev/sda1 /
mkdir-p /etc
mkdir-p /bin
mkdir-p /usr/bin
mkdir-p /lib/modules
mkdir-p /boot
mkdir-p /var/lib/dpkg
touch /var/lib/dpkg/status
upload $tmp/os-release /etc/os-release
upload $tmp/debian_version /etc/debian_version
upload $tmp/hostname /etc/hostname
upload $tmp/fstab /etc/fstab
upload /bin/true /bin/sh
chmod 0755 /bin/sh
umount-all
GF
