#!/bin/bash
# seeds-vhdx.sh OUTDIR: VHDX seeds (dynamic, fixed, differencing, dirty
# logs) and the hostile VHDX corpus of tests/t/26-vhd-hostile.t.
set -eu
out=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
truncate -s 2M "$t/r.raw"
head -c 70000 /dev/urandom | dd of="$t/r.raw" bs=512 seek=100 conv=notrunc status=none
qemu-img convert -f raw -O vhdx -o subformat=dynamic,block_size=1M,log_size=1M "$t/r.raw" "$t/dyn.vhdx"
qemu-img convert -f raw -O vhdx -o subformat=fixed,block_size=1M,log_size=1M "$t/r.raw" "$t/fixed.vhdx"
head -c 1536 /dev/urandom > "$t/w"
/usr/bin/python3 "$top/tests/gen/vhdtool.py" diff-vhdx "$t/dyn.vhdx" "$t/diff.avhdx" \
  --write 1024:"$t/w"
head -c 8192 /dev/urandom > "$t/d"
cp "$t/dyn.vhdx" "$t/log.vhdx"
/usr/bin/python3 "$top/tests/gen/vhdtool.py" dirty-vhdx "$t/log.vhdx" \
  --data 4096:"$t/d" --data $((1024 * 1024)):"$t/d" --zero-block 0 --stale
cp "$t/dyn.vhdx" "$t/logwrap.vhdx"
/usr/bin/python3 "$top/tests/gen/vhdtool.py" dirty-vhdx "$t/logwrap.vhdx" \
  --data 4096:"$t/d" --zero-block 0 --wrap-inside
cp "$t/dyn.vhdx" "$t/fixed.vhdx" "$t/diff.avhdx" "$t/log.vhdx" \
  "$t/logwrap.vhdx" "$out/"
bash "$top/tests/fuzz/vhd-hostile-seeds.sh" "$out" vhdx avhdx
