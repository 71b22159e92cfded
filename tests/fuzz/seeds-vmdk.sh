#!/bin/bash
# Seeds for fuzz-vmdk: small images of every single-file VMDK kind, and
# text descriptors (their extents do not resolve under /proc/self/fd, which
# still exercises the descriptor parser), and the hostile corpora of the
# tests (25-vmdk-hostile.t, 28-vmdk-esx.t).
set -eu
out=$1
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
top=$(cd "$(dirname "$0")/../.." && pwd)
head -c 300000 /dev/urandom > "$tmp/src.raw"
truncate -s 1M "$tmp/src.raw"
for sub in monolithicSparse streamOptimized monolithicFlat; do
  qemu-img convert -f raw -O vmdk -o subformat=$sub "$tmp/src.raw" \
    "$tmp/$sub.vmdk"
done
cp "$tmp/monolithicSparse.vmdk" "$out/seed-sparse"
cp "$tmp/streamOptimized.vmdk" "$out/seed-stream"
cp "$tmp/monolithicFlat.vmdk" "$out/seed-descriptor"
/usr/bin/python3 "$top/tests/gen/vmdk-images.py" stream "$tmp/src.raw" \
  "$out/seed-stream-footer"
qemu-img create -q -f vmdk -o zeroed_grain=on -b monolithicSparse.vmdk \
  -F vmdk "$tmp/delta.vmdk"
qemu-io -f vmdk -c "write -P 0xab 4096 70000" -c "write -z 200k 64k" \
  "$tmp/delta.vmdk" >/dev/null
cp "$tmp/delta.vmdk" "$out/seed-delta"
printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="vmfs"\nRW 2048 VMFS "%s" 0\nRW 100 ZERO\n' \
  "$(basename "$out")" > "$out/seed-vmfs"
# ESXi deltas: the extent files alone (the target wraps them in a
# descriptor), over a small vmfs base
printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\nRW 2048 VMFS "src.raw"\n' \
  > "$tmp/base.vmdk"
/usr/bin/python3 "$top/tests/gen/esx-delta.py" cowd "$tmp/base.vmdk" \
  "$tmp/src.raw" "$tmp/c.vmdk" 1000:5000:ab 0x30000:0x2000:z
/usr/bin/python3 "$top/tests/gen/esx-delta.py" cowd "$tmp/base.vmdk" \
  "$tmp/src.raw" "$tmp/c8.vmdk" 1000:5000:ab 0x80000:0x10000:cd --grain 8
/usr/bin/python3 "$top/tests/gen/esx-delta.py" sesparse "$tmp/base.vmdk" \
  "$tmp/src.raw" "$tmp/s.vmdk" 1000:5000:ab 0x30000:0x2000:z \
  0x40000:0x3000:u 0xff000:0x1000:11
cp "$tmp/c-delta.vmdk" "$out/seed-cowd"
cp "$tmp/c8-delta.vmdk" "$out/seed-cowd-grain8"
cp "$tmp/s-sesparse.vmdk" "$out/seed-sesparse"
# the hostile corpora of tests/t/25-vmdk-hostile.t (images, and descriptors
# whose extents do not resolve here) and of 28-vmdk-esx.t (the delta extent
# files), the ones of at most 1 MiB
/usr/bin/python3 "$top/tests/gen/hostile-vmdk.py" "$tmp/h" >/dev/null
mkdir -p "$tmp/e" && (cd "$tmp/e" && /usr/bin/python3 "$top/tests/gen/esx-delta.py" hostile h >/dev/null)
for f in "$tmp"/h/case-*.vmdk "$tmp"/e/h/ext-*.bin; do
  [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 1048576 ] && cp "$f" "$out/h-$(basename "$f")"
done
exit 0
