#!/bin/bash
# seeds-vhd.sh OUTDIR: small VHD seeds (fixed, dynamic, differencing) and
# the hostile VHD corpus of tests/t/26-vhd-hostile.t.
set -eu
out=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
truncate -s 3M "$t/r.raw"
head -c 70000 /dev/urandom | dd of="$t/r.raw" bs=512 seek=4000 conv=notrunc status=none
qemu-img convert -f raw -O vpc -o subformat=dynamic "$t/r.raw" "$t/dyn.vhd"
truncate -s 64K "$t/s.raw"
head -c 3000 /dev/urandom | dd of="$t/s.raw" conv=notrunc status=none
qemu-img convert -f raw -O vpc -o subformat=fixed "$t/s.raw" "$t/fixed.vhd"
head -c 1536 /dev/urandom > "$t/w"
/usr/bin/python3 "$top/tests/gen/vhdtool.py" diff-vhd "$t/dyn.vhd" "$t/diff.vhd" \
  --block-size 4096 --write 1024:"$t/w"
cp "$t/dyn.vhd" "$t/fixed.vhd" "$t/diff.vhd" "$out/"
bash "$top/tests/fuzz/vhd-hostile-seeds.sh" "$out" vhd
