#!/bin/bash
# Data stored as is in the source file (raw images, uncompressed qcow2
# clusters) is copied file to file in the kernel (copy_file_range): the
# bytes must be the source's, blocks of zeroes inside allocated data must
# still stay holes on the fresh target, and --checksum reads everything
# through user space.
. "$(dirname "$0")/../lib.sh"
command -v strace >/dev/null || skip_all "strace is not installed"
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
done_testing
