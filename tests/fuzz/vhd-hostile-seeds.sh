#!/bin/bash
# vhd-hostile-seeds.sh OUTDIR EXT... — copy the hostile VHD/VHDX corpus of
# tests/t/26-vhd-hostile.t (tests/gen/vhd-hostile.py) into OUTDIR: the cases
# whose name ends in one of EXT (vhd, vhdx, avhdx) and that are at most
# 4 MiB (bigger seeds slow the fuzzer down more than they add).  Used by
# seeds-vhd.sh and seeds-vhdx.sh.
set -eu
out=$1; shift
mkdir -p "$out"; out=$(cd "$out" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
M=1048576
cd "$t"
truncate -s $((2 * M + 3 * 512)) src.raw
head -c 70000 /dev/urandom | dd of=src.raw bs=512 seek=100 conv=notrunc status=none
qemu-img convert -f raw -O vpc -o subformat=dynamic src.raw dyn.vhd
qemu-img convert -f raw -O vpc -o subformat=fixed src.raw fixed.vhd
qemu-img convert -f raw -O vhdx -o subformat=dynamic,block_size=1M,log_size=1M src.raw dyn.vhdx
head -c 1536 /dev/urandom > w1
/usr/bin/python3 "$top/tests/gen/vhdtool.py" diff-vhd dyn.vhd diff.vhd --block-size 4096 --write 1024:w1
/usr/bin/python3 "$top/tests/gen/vhdtool.py" diff-vhdx dyn.vhdx diff.avhdx --write 1024:w1
/usr/bin/python3 "$top/tests/gen/vhd-hostile.py" . >/dev/null
for ext in "$@"; do
  for f in cases/*."$ext"; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -le $((4 * M)) ] && cp "$f" "$out/h-${f#cases/}"
  done
done
exit 0
