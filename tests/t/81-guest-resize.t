#!/bin/bash
# 81-guest-resize.t: ferry_guest_resize (modules/guest-resize.c) on real
# libguestfs: an MBR guest with ext4 root and a GPT guest with xfs root,
# grown from 512 MiB to 1 GiB; check lists the changes (and writes
# nothing), apply makes them, the recheck in the same appliance and a check
# in a fresh one find nothing.  (Shrinking: 85-guest-resize-lvm-ntfs.t.)  Read back
# independently: the partition tables with sfdisk/sgdisk on the host, the
# filesystems (e2fsck -fn, xfs_repair -n, their sizes, a file written
# before) in one guestfish session.
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
  for vm in mbr-ext4 gpt-xfs; do
    printf '  - {name: %s, source: src, flavor: small, disks: [{file: src.raw, size_gb: 1}]}\n' "$vm"
  done
} >"$TMP/plan.yaml"

img() { # img VM VARIANT SIZE: the target disk of VM, built from VARIANT
  local src
  src=$(guest_image "resize-$2" "$MK" "$2") || return 1
  cp --sparse=always "$src" "$TMP/out/$1-disk0.raw" &&
    truncate -s "$3" "$TMP/out/$1-disk0.raw"
}
ok "mbr-ext4 guest built and grown to 1 GiB" img mbr-ext4 mbr-ext4 1G
ok "gpt-xfs guest built and grown to 1 GiB" img gpt-xfs gpt-xfs 1G
A=$TMP/out/mbr-ext4-disk0.raw B=$TMP/out/gpt-xfs-disk0.raw
guid_before=$(sgdisk -i 2 "$B" | grep -i 'unique GUID')

# --- mbr-ext4
out=$("$GOP" "$TMP/plan.yaml" mbr-ext4 resize 2>&1); rc=$?
is "mbr-ext4: check exits 0" "$rc" 0
is "mbr-ext4: check lists partition and ext4" "$(grep '^change' <<<"$out")" \
"change: partition /dev/sda2: 447 MiB → 959 MiB
change: ext4 on /dev/sda2: 447 MiB → 959 MiB
changes: 2"
is "mbr-ext4: check wrote nothing" \
  "$(cmp -n 512M "$A" "$(guest_image resize-mbr-ext4 "$MK" mbr-ext4)" && echo same)" same
out=$("$GOP" "$TMP/plan.yaml" mbr-ext4 resize --apply 2>&1); rc=$?
is "mbr-ext4: apply exits 0" "$rc" 0
is "mbr-ext4: applied lines" "$(grep -c '^applied: ' <<<"$out")" 2
ok "mbr-ext4: recheck finds nothing" grep -qx 'recheck: 0' <<<"$out"

# --- gpt-xfs (its check is apply's first pass: the lines are the same)
out=$("$GOP" "$TMP/plan.yaml" gpt-xfs resize --apply 2>&1); rc=$?
is "gpt-xfs: apply exits 0" "$rc" 0
is "gpt-xfs: applied: backup header, partition, xfs" "$(grep '^applied' <<<"$out")" \
"applied: gpt backup header of /dev/sda: move to the disk's end
applied: partition /dev/sda2: 479 MiB → 991 MiB
applied: xfs on /dev/sda2: 479 MiB → 991 MiB"
ok "gpt-xfs: recheck finds nothing" grep -qx 'recheck: 0' <<<"$out"
out=$("$GOP" "$TMP/plan.yaml" gpt-xfs resize 2>&1)
ok "gpt-xfs: a rerun in a fresh appliance changes nothing" grep -qx 'changes: 0' <<<"$out"

# --- read back: partition tables on the host
is "mbr-ext4: sda2 ends at the disk's end" \
  "$(sfdisk -J "$A" | python3 -c 'import json,sys; p=json.load(sys.stdin)["partitiontable"]["partitions"]; print(p[1]["start"]+p[1]["size"])')" "$SECT_1G"
is "mbr-ext4: start, type and boot flag kept" \
  "$(sfdisk -d "$A" | grep -E '^/' | sed 's#^[^:]*: ##')" \
  "start=        2048, size=      131072, type=83, bootable
start=      133120, size=     1964032, type=83"
ok "gpt-xfs: sgdisk -v finds no problem" sh -c "sgdisk -v '$B' | grep -q 'No problems found'"
is "gpt-xfs: sda2 ends at the last usable sector" \
  "$(sgdisk -i 2 "$B" | sed -n 's/^Last sector: \([0-9]*\) .*/\1/p')" $((SECT_1G - 34))
is "gpt-xfs: type, GUID and name kept" \
  "$(sgdisk -i 2 "$B" | grep -E '^(Partition GUID code|Partition unique GUID|First sector|Partition name)')" \
  "Partition GUID code: 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 (Linux x86-64 root (/))
Partition unique GUID: 11111111-2222-3333-4444-555555555555
First sector: 67584 (at 33.0 MiB)
Partition name: 'rootfs'"
is "gpt-xfs: unique GUID as before" "$(sgdisk -i 2 "$B" | grep -i 'unique GUID')" "$guid_before"

# --- read back: filesystems, in one appliance ("debug sh" sees the
# appliance's own device names: the filesystems are found by UUID)
U_A=$(blkid -p -O $((133120 * 512)) -o value -s UUID "$A")
U_B=$(blkid -p -O $((67584 * 512)) -o value -s UUID "$B")
rb=$(guestfish --ro -a "$A" -a "$B" <<EOF 2>&1
run
echo ===ext4
debug sh "e2fsck -fn \$(blkid -U $U_A) >/dev/null 2>&1; echo e2fsck=\$?"
debug sh "dumpe2fs -h \$(blkid -U $U_A) 2>/dev/null"
echo ===xfs
debug sh "xfs_repair -n \$(blkid -U $U_B) >/dev/null 2>&1; echo xfs_repair=\$?"
debug sh "xfs_db -r -c sb -c print \$(blkid -U $U_B)"
echo ===files
mount-ro /dev/sda2 /
cat /marker.txt
umount-all
mount-ro /dev/sdb2 /
cat /marker.txt
umount-all
EOF
)
# val SECTION KEY: the rest of the first line starting with KEY in SECTION
val() {
  awk -v m="===$1" -v k="$2" '$0 == m { on = 1; next } /^===/ { on = 0 }
    on && index($0, k) == 1 { $0 = substr($0, length(k) + 1); sub(/^ */, ""); print; exit }' <<<"$rb"
}
is "ext4: e2fsck -fn clean" "$(val ext4 e2fsck=)" 0
n=$(val ext4 'Block count:') bs=$(val ext4 'Block size:')
is "ext4: fills its partition (within 4 MiB)" \
  "$(( 1964032 * 512 - ${n:-0} * ${bs:-0} < 4 * 1048576 ))" 1
is "xfs: xfs_repair -n clean" "$(val xfs xfs_repair=)" 0
n=$(val xfs 'dblocks =') bs=$(val xfs 'blocksize =')
is "xfs: fills its partition (within 4 MiB)" \
  "$(( (SECT_1G - 34 - 67584 + 1) * 512 - ${n:-0} * ${bs:-0} < 4 * 1048576 ))" 1
ok "ext4: the file written before is there" grep -qx 'marker mbr-ext4' <<<"$rb"
ok "xfs: the file written before is there" grep -qx 'marker gpt-xfs' <<<"$rb"
done_testing
