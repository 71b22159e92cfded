#!/bin/bash
# Hostile VHD/VHDX images (tests/gen/vhd-hostile.py): truncated files,
# zeroed/maxed/out-of-file/overlapping header, footer, BAT, region table,
# metadata and locator fields, bad checksums, missing sector bitmaps.
# Every one must exit exactly 1 with an error naming the file and the field
# (never crash, never convert).
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
TOOL=$TOP/tests/gen/vhdtool.py
M=1048576
cd "$TMP"
truncate -s $((5 * M + 3 * 512)) src.raw
head -c $((2 * M)) /dev/urandom | dd of=src.raw conv=notrunc status=none
head -c $M /dev/urandom | dd of=src.raw bs=$M seek=4 conv=notrunc status=none
qemu-img convert -f raw -O vpc -o subformat=dynamic src.raw dyn.vhd
qemu-img convert -f raw -O vpc -o subformat=fixed src.raw fixed.vhd
qemu-img convert -f raw -O vhdx -o subformat=dynamic,block_size=1M src.raw dyn.vhdx
head -c 1536 /dev/urandom > w1
$PY "$TOOL" diff-vhd dyn.vhd diff.vhd --write 1024:w1
$PY "$TOOL" diff-vhdx dyn.vhdx diff.avhdx --write 1024:w1
# the base images are sound
for f in dyn.vhd fixed.vhd diff.vhd dyn.vhdx diff.avhdx; do
  ok "valid $f converts" "$FERRY" convert $f out.raw
done
$PY "$TOP/tests/gen/vhd-hostile.py" . > cases.txt
n=$(wc -l < cases.txt)
ok "corpus generated ($n cases)" test "$n" -gt 80
cp dyn.vhd dyn.vhdx cases/   # parents of the differencing cases

while IFS=$'\t' read -r name rx; do
  out=$("$FERRY" convert "cases/$name" out.raw 2>&1); rc=$?
  if [ "$rc" = 1 ] && ! sanitized "$out" &&
     grep -q "^ferry: error: '[^']*cases/$name'" <<<"$out" &&
     grep -Eq "$rx" <<<"$out"; then
    ok "$name: exit 1, error names the file and the field" true
  else
    ok "$name: exit 1 (got $rc), error names the file and matches /$rx/" \
      sh -c 'printf "%s\n" "$0"; exit 1' "$out"
  fi
done < cases.txt
done_testing
