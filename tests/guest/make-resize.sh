#!/bin/bash
# tests/guest/make-resize.sh OUT VARIANT - a small phony Linux guest (raw,
# sparse, 512 MiB) whose last partition resize must grow
# (tests/t/81-guest-resize.t, 85-guest-resize-lvm-ntfs.t).  Argument order
# is guest_image's (tests/guest/env.sh): OUT first.
#
# Every variant is an inspectable Linux (/etc/os-release of Debian 12, an
# fstab, a real x86-64 ELF as /usr/bin/bash) and holds /marker.txt on the
# filesystem that resize grows (its content: "marker VARIANT").
#
#   mbr-ext4      sda1 64 MiB ext4 /boot (bootable), sda2 ext4 /
#   gpt-xfs       GPT; sda1 32 MiB ext4 /boot, sda2 xfs / with a fixed
#                 partition GUID, the type "Linux root (x86-64)" and the
#                 name "rootfs"
#   gpt-ext4      GPT; sda1 ext4 / (the whole disk), fixed GUID and name
#   mbr-lvm-ext4  sda1 64 MiB ext4 /boot (bootable), sda2 LVM PV of VG vg0:
#                 LV root 200 MiB ext4 /, LV data (the rest) ext4 /data
#   mbr-ntfs      sda1 256 MiB ext4 /, sda2 extended (type 0x05: parted
#                 would write 0x0f), sda5 (logical) NTFS
#                 data volume (not in fstab), bootable sda1
# Env: LIBGUESTFS_PATH honoured.
set -euo pipefail
OUT=${1:?usage: make-resize.sh OUT VARIANT}
VARIANT=${2:?usage: make-resize.sh OUT VARIANT}
WORK=$(mktemp -d /tmp/mkresize.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RAW=$WORK/disk.raw
truncate -s 512M "$RAW"

cat >"$WORK/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
printf 'marker %s\n' "$VARIANT" >"$WORK/marker.txt"

# The layout, then the root filesystem mounted on /.
case $VARIANT in
mbr-ext4)
  layout="part-init /dev/sda mbr
part-add /dev/sda p 2048 133119
part-add /dev/sda p 133120 -1
part-set-bootable /dev/sda 1 true
mkfs ext4 /dev/sda1 label:boot
mkfs ext4 /dev/sda2 label:root
mount /dev/sda2 /
upload $WORK/marker.txt /marker.txt
mkdir /boot
mount /dev/sda1 /boot"
  fstab="/dev/sda2 / ext4 defaults 0 1
/dev/sda1 /boot ext4 defaults 0 2" ;;
gpt-xfs)
  layout="part-init /dev/sda gpt
part-add /dev/sda p 2048 67583
part-add /dev/sda p 67584 -34
part-set-name /dev/sda 2 rootfs
part-set-gpt-type /dev/sda 2 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709
part-set-gpt-guid /dev/sda 2 11111111-2222-3333-4444-555555555555
mkfs ext4 /dev/sda1 label:boot
mkfs xfs /dev/sda2 label:root
mount /dev/sda2 /
upload $WORK/marker.txt /marker.txt
mkdir /boot
mount /dev/sda1 /boot"
  fstab="LABEL=root / xfs defaults 0 1
LABEL=boot /boot ext4 defaults 0 2" ;;
gpt-ext4)
  layout="part-init /dev/sda gpt
part-add /dev/sda p 2048 -34
part-set-name /dev/sda 1 root
part-set-gpt-guid /dev/sda 1 66666666-7777-8888-9999-AAAAAAAAAAAA
mkfs ext4 /dev/sda1 label:root
mount /dev/sda1 /
upload $WORK/marker.txt /marker.txt"
  fstab="LABEL=root / ext4 defaults 0 1" ;;
mbr-lvm-ext4)
  layout="part-init /dev/sda mbr
part-add /dev/sda p 2048 133119
part-add /dev/sda p 133120 -1
part-set-bootable /dev/sda 1 true
part-set-mbr-id /dev/sda 2 0x8e
mkfs ext4 /dev/sda1 label:boot
pvcreate /dev/sda2
vgcreate vg0 /dev/sda2
lvcreate root vg0 200
lvcreate-free data vg0 100
mkfs ext4 /dev/vg0/root label:root
mkfs ext4 /dev/vg0/data label:data
mount /dev/vg0/root /
upload $WORK/marker.txt /marker.txt
mkdir /boot
mount /dev/sda1 /boot
mkdir /data"
  fstab="/dev/mapper/vg0-root / ext4 defaults 0 1
/dev/sda1 /boot ext4 defaults 0 2
/dev/mapper/vg0-data /data ext4 defaults 0 2" ;;
mbr-ntfs)
  layout="part-init /dev/sda mbr
part-add /dev/sda p 2048 526335
part-add /dev/sda e 526336 -1
part-add /dev/sda l 528384 -1
part-set-bootable /dev/sda 1 true
part-set-mbr-id /dev/sda 5 0x07
part-set-mbr-id /dev/sda 2 0x05
mkfs ext4 /dev/sda1 label:root
mkfs ntfs /dev/sda5 label:DATA
mount /dev/sda5 /
upload $WORK/marker.txt /marker.txt
umount-all
mount /dev/sda1 /"
  fstab="LABEL=root / ext4 defaults 0 1" ;;
*) echo "make-resize.sh: unknown variant '$VARIANT'" >&2; exit 1 ;;
esac
printf '%s\n' "$fstab" >"$WORK/fstab"

guestfish --rw --format=raw -a "$RAW" <<EOF
run
$layout
mkdir-p /etc
mkdir-p /usr/bin
mkdir-p /root
mkdir-p /tmp
ln-s usr/bin /bin
upload $WORK/fstab /etc/fstab
upload $WORK/os-release /etc/os-release
write /etc/debian_version "12.11\n"
write /etc/hostname "resize-$VARIANT\n"
upload /usr/bin/bash /usr/bin/bash
umount-all
EOF
cp --sparse=always "$RAW" "$OUT"
