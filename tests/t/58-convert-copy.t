#!/bin/bash
# Data stored as is in the source file (raw images, uncompressed qcow2
# clusters) is copied file to file in the kernel (copy_file_range): the
# bytes must be the source's (VHD and VHDX payload blocks too, but not a
# VHDX whose log was replayed in memory), blocks of zeroes inside allocated data must
# still stay holes on the fresh target, and --checksum reads everything
# through user space.  ferry copies so only onto a file system that shares
# blocks or copies on the server (XFS, btrfs, NFS, ...; the end of this
# file, on an XFS loop mount); the checks before it force the copies with
# FERRY_COPY_FILE_RANGE=always onto $TMP's file system, and the end checks
# that onto one like ext4 or tmpfs nothing is copied in the kernel.
. "$(dirname "$0")/../lib.sh"
command -v strace >/dev/null || skip_all "strace is not installed"
export FERRY_COPY_FILE_RANGE=always
PY=/usr/bin/python3
rnd() { openssl enc -aes-128-ctr -nosalt -pass pass:"$1" </dev/zero 2>/dev/null | head -c "$2"; }
# hole_at FILE OFF LEN: [OFF, OFF+LEN) of FILE holds no data (SEEK_DATA)
hole_at() {
  "$PY" - "$@" <<'PYEOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
off, n = int(sys.argv[2]), int(sys.argv[3])
try:
    d = os.lseek(fd, off, os.SEEK_DATA)
except OSError:
    d = os.fstat(fd).st_size
sys.exit(0 if d >= off + n else 1)
PYEOF
}
# copies CMD...: how many copy_file_range calls CMD made
copies() {
  strace -f -qq -e trace=copy_file_range -o "$TMP/strace" "$@" >/dev/null 2>&1
  grep -c '^[0-9]* *copy_file_range' "$TMP/strace"
}

# 12 MiB + 1536 bytes: random data, 1 MiB of written zeroes at 4 MiB, a
# hole at 8-10 MiB, data up to the odd end
size=$(((12 << 20) + 1536))
rnd a $((4 << 20)) >"$TMP/src.raw"
head -c $((1 << 20)) /dev/zero >>"$TMP/src.raw"
rnd b $((3 << 20)) >>"$TMP/src.raw"
truncate -s $((10 << 20)) "$TMP/src.raw"
rnd c $(((2 << 20) + 1536)) >>"$TMP/src.raw"
is "raw source: size" "$(stat -c %s "$TMP/src.raw")" "$size"
fails "raw source: the zeroes are allocated in it" 1 \
  hole_at "$TMP/src.raw" $((4 << 20)) $((1 << 20))
n=$(copies "$FERRY" convert "$TMP/src.raw" "$TMP/out.raw")
ok "raw: copied in the kernel ($n copy_file_range calls)" test "$n" -gt 0
ok "raw: bytes equal" cmp "$TMP/src.raw" "$TMP/out.raw"
ok "raw: written zeroes stay a hole" hole_at "$TMP/out.raw" $((4 << 20)) $((1 << 20))
ok "raw: the source's hole stays a hole" hole_at "$TMP/out.raw" $((8 << 20)) $((2 << 20))
# the workers ask the kernel to read chunks ahead (POSIX_FADV_WILLNEED)
strace -f -qq -e trace=fadvise64 -o "$TMP/strace" "$FERRY" convert \
  "$TMP/src.raw" "$TMP/out.ra.raw" >/dev/null 2>&1
ok "raw: chunks are read ahead ($(grep -c WILLNEED "$TMP/strace") hints)" \
  grep -q 'fadvise64([0-9]*, [0-9]*, [0-9]*, POSIX_FADV_WILLNEED)' "$TMP/strace"
ok "raw: read ahead, bytes equal" cmp "$TMP/src.raw" "$TMP/out.ra.raw"
n=$(copies "$FERRY" convert --checksum "$TMP/src.raw" "$TMP/out2.raw")
is "raw --checksum: no copy_file_range" "$n" 0
ok "raw --checksum: bytes equal" cmp "$TMP/src.raw" "$TMP/out2.raw"

# qcow2 whose clusters hold written zeroes (qemu-io write -P 0 allocates)
qemu-img create -q -f qcow2 "$TMP/src.qcow2" "$size"
qemu-io -f qcow2 -c "write -P 0x5a 0 4M" -c "write -P 0 4M 1M" \
  -c "write -P 0x33 5M 3M" -c "write -P 0x77 10M 2M" "$TMP/src.qcow2" >/dev/null
n=$(copies "$FERRY" convert "$TMP/src.qcow2" "$TMP/out.qcow2.raw")
ok "qcow2: copied in the kernel ($n copy_file_range calls)" test "$n" -gt 0
ok "qcow2: same bytes as qemu-img" qemu-img compare -q -f qcow2 -F raw \
  "$TMP/src.qcow2" "$TMP/out.qcow2.raw"
strace -f -qq -e trace=fadvise64 -o "$TMP/strace" "$FERRY" convert \
  "$TMP/src.qcow2" "$TMP/out.qcow2.ra.raw" >/dev/null 2>&1
is "qcow2: not read ahead (slower cold; see qcow2.c)" \
  "$(grep -c WILLNEED "$TMP/strace")" 0
ok "qcow2: written zeroes stay a hole" hole_at "$TMP/out.qcow2.raw" $((4 << 20)) $((1 << 20))
# compressed clusters are inflated, not copied
qemu-img convert -c -f qcow2 -O qcow2 "$TMP/src.qcow2" "$TMP/c.qcow2"
n=$(copies "$FERRY" convert "$TMP/c.qcow2" "$TMP/out.c.raw")
is "compressed qcow2: no copy_file_range" "$n" 0
ok "compressed qcow2: same bytes" qemu-img compare -q -f qcow2 -F raw \
  "$TMP/c.qcow2" "$TMP/out.c.raw"
# VHD: a fixed disk is its data; dynamic blocks hold it after their bitmap
for sub in fixed dynamic; do
  qemu-img convert -f raw -O vpc -o subformat=$sub "$TMP/src.raw" "$TMP/src.$sub.vhd"
  n=$(copies "$FERRY" convert "$TMP/src.$sub.vhd" "$TMP/out.$sub.raw")
  ok "vhd $sub: copied in the kernel ($n copy_file_range calls)" test "$n" -gt 0
  ok "vhd $sub: same bytes as qemu-img" qemu-img compare -q -f vpc -F raw \
    "$TMP/src.$sub.vhd" "$TMP/out.$sub.raw"
done
# VHDX: payload blocks hold the data as is, after the sector bitmaps of a
# differencing disk too; a log replayed in memory means the file's bytes
# are not the disk's: read, not copied
for sub in fixed dynamic; do
  qemu-img convert -f raw -O vhdx -o subformat=$sub,block_size=1M "$TMP/src.raw" \
    "$TMP/src.$sub.vhdx"
  n=$(copies "$FERRY" convert "$TMP/src.$sub.vhdx" "$TMP/out.$sub.vx.raw")
  ok "vhdx $sub: copied in the kernel ($n copy_file_range calls)" test "$n" -gt 0
  ok "vhdx $sub: same bytes as the source" cmp "$TMP/src.raw" "$TMP/out.$sub.vx.raw"
  ok "vhdx $sub: written zeroes stay a hole" hole_at "$TMP/out.$sub.vx.raw" \
    $((4 << 20)) $((1 << 20))
done
TOOL=$TOP/tests/gen/vhdtool.py
rnd d 12288 >"$TMP/w1"
"$PY" "$TOOL" diff-vhdx "$TMP/src.dynamic.vhdx" "$TMP/child.avhdx" \
  --write $(((1 << 20) + 512)):"$TMP/w1" >/dev/null
cp "$TMP/src.raw" "$TMP/child.exp"
dd if="$TMP/w1" of="$TMP/child.exp" bs=512 seek=$((((1 << 20) + 512) / 512)) \
  conv=notrunc status=none
n=$(copies "$FERRY" convert "$TMP/child.avhdx" "$TMP/out.child.raw")
ok "differencing vhdx: copied in the kernel ($n copy_file_range calls)" test "$n" -gt 0
ok "differencing vhdx: the child's sectors over the parent's" \
  cmp "$TMP/child.exp" "$TMP/out.child.raw"
cp "$TMP/src.dynamic.vhdx" "$TMP/dirty.vhdx"
rnd e 4096 >"$TMP/w2"
"$PY" "$TOOL" dirty-vhdx "$TMP/dirty.vhdx" --data $((5 << 20)):"$TMP/w2" >/dev/null
cp "$TMP/src.raw" "$TMP/dirty.exp"
dd if="$TMP/w2" of="$TMP/dirty.exp" bs=4096 seek=$(((5 << 20) / 4096)) \
  conv=notrunc status=none
n=$(copies "$FERRY" convert "$TMP/dirty.vhdx" "$TMP/out.dirty.raw")
is "vhdx with a log: no copy_file_range" "$n" 0
ok "vhdx with a log: the replayed bytes" cmp "$TMP/dirty.exp" "$TMP/out.dirty.raw"

# Without FERRY_COPY_FILE_RANGE: onto a file system that shares no blocks
# the kernel's copy is a read and a write through the page cache, slower
# than writing the bytes the converter has read anyway (docs/performance.md)
unset FERRY_COPY_FILE_RANGE
fst=$(stat -f -c %T "$TMP")
case $fst in
xfs | btrfs | nfs | smb2 | cifs | bcachefs | zfs | ocfs2)
  ok "\$TMP is on $fst (the checks below need another file system)" false ;;
*)
  n=$(copies "$FERRY" convert "$TMP/src.raw" "$TMP/out.auto.raw")
  is "raw onto $fst: no copy_file_range" "$n" 0
  ok "raw onto $fst: bytes equal" cmp "$TMP/src.raw" "$TMP/out.auto.raw"
  n=$(copies "$FERRY" convert "$TMP/src.dynamic.vhdx" "$TMP/out.auto.vx.raw")
  is "vhdx onto $fst: no copy_file_range" "$n" 0
  ok "vhdx onto $fst: bytes equal" cmp "$TMP/src.raw" "$TMP/out.auto.vx.raw"
  ;;
esac

# XFS (reflink): data stored as is is shared with the source whole,
# without reading it (its written zeroes too: shared, they take no space).
# A loop mount in $TMP, unmounted at exit.
XFS=$TMP/xfs
trap 'umount "$XFS" 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
mkdir "$XFS"
truncate -s 512M "$TMP/xfs.img"
if ! mkfs.xfs -q -m reflink=1 "$TMP/xfs.img" >"$TMP/mkfs.out" 2>&1 ||
  ! mount -o loop "$TMP/xfs.img" "$XFS" >>"$TMP/mkfs.out" 2>&1; then
  ok "an XFS loop mount for the reflink checks: $(tail -1 "$TMP/mkfs.out")" false
else
  cp --sparse=never "$TMP/src.raw" "$XFS/src.raw"
  fallocate -p -o $((8 << 20)) -l $((2 << 20)) "$XFS/src.raw"
  fails "raw on XFS: its written zeroes are allocated" 1 \
    hole_at "$XFS/src.raw" $((4 << 20)) $((1 << 20))
  qemu-img convert -f raw -O qcow2 "$XFS/src.raw" "$XFS/src.qcow2"
  n=$(copies "$FERRY" convert "$XFS/src.raw" "$XFS/out.raw")
  ok "raw onto XFS: copied in the kernel ($n copy_file_range calls)" test "$n" -gt 0
  ok "raw onto XFS: bytes equal" cmp "$TMP/src.raw" "$XFS/out.raw"
  ok "raw onto XFS: the copy shares the source's blocks (reflink)" \
    grep -q shared <<<"$(filefrag -v "$XFS/out.raw")"
  ok "raw onto XFS: the source's hole stays a hole" hole_at "$XFS/out.raw" $((8 << 20)) $((2 << 20))
  out=$("$FERRY" convert "$XFS/src.raw" "$XFS/out2.raw" 2>&1)
  ok "raw onto XFS: none of the data is read ($(grep converted <<<"$out"))" \
    grep -q "converted $size bytes (0 read, " <<<"$out"
  strace -f -qq -e trace=fadvise64 -o "$TMP/strace" "$FERRY" convert \
    "$XFS/src.raw" "$XFS/out.ra.raw" >/dev/null 2>&1
  is "raw onto XFS: not read ahead (nothing of it is read)" \
    "$(grep -c WILLNEED "$TMP/strace")" 0
  # from another file system the kernel cannot share: read, written, and
  # read ahead once the first copy was refused (64 MiB: 16 chunks)
  rnd x $((64 << 20)) >"$TMP/big.raw"
  strace -f -qq -e trace=fadvise64 -o "$TMP/strace" "$FERRY" convert \
    "$TMP/big.raw" "$XFS/out.x.raw" >/dev/null 2>&1
  ok "raw from $fst onto XFS: read ahead ($(grep -c WILLNEED "$TMP/strace") hints)" \
    grep -q 'POSIX_FADV_WILLNEED' "$TMP/strace"
  ok "raw from $fst onto XFS: bytes equal" cmp "$TMP/big.raw" "$XFS/out.x.raw"
  rm -f "$XFS/out.x.raw"
  n=$(copies "$FERRY" convert "$XFS/src.qcow2" "$XFS/out.q.raw")
  ok "qcow2 onto XFS: copied in the kernel ($n copy_file_range calls)" test "$n" -gt 0
  ok "qcow2 onto XFS: bytes equal" cmp "$TMP/src.raw" "$XFS/out.q.raw"
  n=$(FERRY_COPY_FILE_RANGE=never copies "$FERRY" convert "$XFS/src.raw" "$XFS/out.never.raw")
  is "raw onto XFS, FERRY_COPY_FILE_RANGE=never: no copy_file_range" "$n" 0
  ok "... bytes equal" cmp "$TMP/src.raw" "$XFS/out.never.raw"
fi
done_testing
