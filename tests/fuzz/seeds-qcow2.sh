#!/bin/bash
# seeds-qcow2.sh OUTDIR — seed corpus for fuzz-qcow2: small valid images
# (v2, v3, compressed, extended L2, zero clusters, backing name) and the
# hostile corpus of tests/gen/qcow2-hostile.py.
set -euo pipefail
out=${1:?usage: seeds-qcow2.sh OUTDIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
/usr/bin/python3 "$top/tests/gen/qcow2-pattern.py" "$w/src.raw" 300000 3
qemu-img convert -q -f raw -O qcow2 -o compat=0.10,cluster_size=512 "$w/src.raw" "$out/v2-512.qcow2"
qemu-img convert -q -f raw -O qcow2 -o cluster_size=4096 "$w/src.raw" "$out/v3-4k.qcow2"
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=4096 "$w/src.raw" "$out/v3-4k-z.qcow2"
qemu-img convert -q -f raw -O qcow2 -o extended_l2=on,cluster_size=16k "$w/src.raw" "$out/v3-extl2.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=4096 -b src.raw -F raw "$w/zero.qcow2"
qemu-io -c "write -z 0 8k" -c "write -P 1 64k 4k" "$w/zero.qcow2" >/dev/null
cp "$w/zero.qcow2" "$out/v3-zero-backing.qcow2"
/usr/bin/python3 "$top/tests/gen/qcow2-hostile.py" "$w/h" 4 >/dev/null
for f in "$w"/h/*.qcow2; do
  # seeds larger than 1 MiB slow the fuzzer down: keep the small ones
  [ "$(stat -c %s "$f")" -le 1048576 ] && cp "$f" "$out/h-$(basename "$f")"
done
exit 0
