#!/bin/bash
# 85-guest-resize-lvm-ntfs.t: ferry_guest_resize (modules/guest-resize.c)
# on real libguestfs, grown from 512 MiB to 1 GiB: an MBR guest whose last
# partition is an LVM PV (VG vg0: LV root / and LV data; root gets the new
# space, data keeps its size), and a guest whose last partition is a
# logical NTFS volume inside an extended partition (both grow).  Check,
# apply, recheck; read back on the host (sfdisk) and in one guestfish
# session (e2fsck -fn, ntfsfix -n, sizes, a file written before).  Shrinking
# is refused.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/env.sh"
GOP=$TOP/tests/helpers/guest-op
MK=$TOP/tests/guest/make-resize.sh
SECT_1G=2097152

mkdir -p "$TMP/src" "$TMP/out"
truncate -s 512M "$TMP/src/src.raw"
{
  printf 'apiVersion: ferry/v1\nkind: MigrationPlan\nmetadata: {name: resize}\n'
  printf 'state: {backend: file, path: %s/state}\n' "$TMP"
  printf 'sources:\n  src: {type: directory, path: %s/src}\n' "$TMP"
  printf 'targets:\n  lab: {type: local, path: %s/out}\n' "$TMP"
  printf 'defaults: {target: lab}\nflavors:\n  small: {vcpus: 1, ram_mb: 1024}\nvms:\n'
  for vm in lvm ntfs shrink; do
    printf '  - {name: %s, source: src, flavor: small, disks: [{file: src.raw, size_gb: 1}]}\n' "$vm"
  done
} >"$TMP/plan.yaml"

img() { # img VM VARIANT SIZE: the target disk of VM, built from VARIANT
  local src
  src=$(guest_image "resize-$2" "$MK" "$2") || return 1
  cp --sparse=always "$src" "$TMP/out/$1-disk0.raw" &&
    truncate -s "$3" "$TMP/out/$1-disk0.raw"
}
ok "mbr-lvm-ext4 guest built and grown to 1 GiB" img lvm mbr-lvm-ext4 1G
ok "mbr-ntfs guest built and grown to 1 GiB" img ntfs mbr-ntfs 1G
A=$TMP/out/lvm-disk0.raw B=$TMP/out/ntfs-disk0.raw

# --- LVM
out=$("$GOP" "$TMP/plan.yaml" lvm resize 2>&1); rc=$?
is "lvm: check exits 0" "$rc" 0
is "lvm: check lists partition, PV, root LV, ext4" "$(grep '^change' <<<"$out")" \
"change: partition /dev/sda2: 447 MiB → 959 MiB
change: lvm pv /dev/sda2: 444 MiB → 956 MiB
change: lvm lv /dev/vg0/root: 200 MiB → 712 MiB
change: ext4 on /dev/vg0/root: 200 MiB → 712 MiB
changes: 4"
out=$("$GOP" "$TMP/plan.yaml" lvm resize --apply 2>&1); rc=$?
is "lvm: apply exits 0" "$rc" 0
is "lvm: applied lines" "$(grep -c '^applied: ' <<<"$out")" 4
ok "lvm: recheck finds nothing" grep -qx 'recheck: 0' <<<"$out"

# --- NTFS in a logical partition
out=$("$GOP" "$TMP/plan.yaml" ntfs resize 2>&1); rc=$?
is "ntfs: check exits 0" "$rc" 0
is "ntfs: check lists extended, logical, ntfs" "$(grep '^change' <<<"$out")" \
"change: extended partition /dev/sda2: grow to the disk's end
change: partition /dev/sda5: 254 MiB → 766 MiB
change: ntfs on /dev/sda5: 254 MiB → 766 MiB
changes: 3"
out=$("$GOP" "$TMP/plan.yaml" ntfs resize --apply 2>&1); rc=$?
is "ntfs: apply exits 0" "$rc" 0
is "ntfs: applied lines" "$(grep -c '^applied: ' <<<"$out")" 3
ok "ntfs: recheck finds nothing" grep -qx 'recheck: 0' <<<"$out"

# --- shrinking: the plan refuses it; a disk cut below its partitions
# fails (inspection's parted refuses such a table before resize runs; resize
# itself checks the raw table too: docs/guest-resize.md) and is not written
truncate -s 2G "$TMP/src/big.raw"
sed 's#file: src.raw, size_gb: 1#file: big.raw, size_gb: 1#' "$TMP/plan.yaml" >"$TMP/shrink.yaml"
fails_with "shrink: the plan refuses a size_gb below the source" 1 \
  "vms\[0\]\.disks\[0\]\.size_gb: must be at least the source's virtual size \(2147483648 bytes\)" \
  "$FERRY" validate "$TMP/shrink.yaml"
ok "a guest whose disk is cut below its last partition" img shrink mbr-ntfs 400M
fails_with "shrink: a disk smaller than its partitions is an error" 1 \
  "Can't have a partition outside the disk" "$GOP" "$TMP/plan.yaml" shrink resize
is "shrink: the disk is left as it was" \
  "$(cmp -n 400M "$TMP/out/shrink-disk0.raw" "$(guest_image resize-mbr-ntfs "$MK" mbr-ntfs)" && echo same)" same

# --- read back: partition tables on the host
is "lvm: start, type and boot flag kept; sda2 to the disk's end" \
  "$(sfdisk -d "$A" | grep -E '^/' | sed 's#^[^:]*: ##')" \
  "start=        2048, size=      131072, type=83, bootable
start=      133120, size=     1964032, type=8e"
is "ntfs: extended and logical to the disk's end, types and flag kept" \
  "$(sfdisk -d "$B" | grep -E '^/' | sed 's#^[^:]*: ##')" \
  "start=        2048, size=      524288, type=83, bootable
start=      526336, size=     1570816, type=5
start=      528384, size=     1568768, type=7"

# --- read back: LVM and filesystems, in one appliance ("debug sh" sees
# the appliance's own device names: NTFS is found by its UUID)
U_B=$(blkid -p -O $((528384 * 512)) -o value -s UUID "$B")
rb=$(guestfish --ro -a "$A" -a "$B" <<EOF 2>&1
run
echo ===lvm
debug sh "lvs --noheadings --units b -o lv_name,lv_size vg0"
debug sh "vgs --noheadings -o vg_free_count vg0"
debug sh "e2fsck -fn /dev/vg0/root >/dev/null 2>&1; echo e2fsck-root=\$?"
debug sh "e2fsck -fn /dev/vg0/data >/dev/null 2>&1; echo e2fsck-data=\$?"
debug sh "dumpe2fs -h /dev/vg0/root 2>/dev/null"
echo ===ntfs
debug sh "ntfsfix -n \$(blkid -U $U_B) >/dev/null 2>&1; echo ntfsfix=\$?"
debug sh "ntfsresize --info --force --no-progress-bar \$(blkid -U $U_B)"
echo ===files
mount-ro /dev/vg0/root /
cat /marker.txt
umount-all
mount-ro /dev/sdb5 /
cat /marker.txt
umount-all
EOF
)
# val SECTION KEY: the rest of the first line starting with KEY in SECTION
# (leading blanks of the line and after KEY dropped)
val() {
  awk -v m="===$1" -v k="$2" '$0 == m { on = 1; next } /^===/ { on = 0 }
    { sub(/^ */, "") }
    on && index($0, k) == 1 { $0 = substr($0, length(k) + 1); sub(/^ */, ""); print; exit }' <<<"$rb"
}
is "lvm: root LV took the new space" "$(val lvm root)" 746586112B
is "lvm: data LV kept its size" "$(val lvm data)" 255852544B
is "lvm: no free extent left in vg0" "$(awk '$0 == "===lvm" {getline; getline; getline; print $1; exit}' <<<"$rb")" 0
is "lvm: e2fsck -fn clean on root" "$(val lvm e2fsck-root=)" 0
is "lvm: e2fsck -fn clean on data" "$(val lvm e2fsck-data=)" 0
n=$(val lvm 'Block count:') bs=$(val lvm 'Block size:')
is "lvm: ext4 fills the root LV (within 4 MiB)" \
  "$(( 746586112 - ${n:-0} * ${bs:-0} < 4 * 1048576 ))" 1
is "ntfs: ntfsfix -n clean" "$(val ntfs ntfsfix=)" 0
n=$(val ntfs 'Current volume size:'); n=${n%% *}
is "ntfs: fills its partition (within 4 MiB)" \
  "$(( 1568768 * 512 - ${n:-0} < 4 * 1048576 ))" 1
ok "lvm: the file written before is there" grep -qx 'marker mbr-lvm-ext4' <<<"$rb"
ok "ntfs: the file written before is there" grep -qx 'marker mbr-ntfs' <<<"$rb"
done_testing
