#!/bin/bash
# qcow2 reader: ferry convert of qcow2 images (v2/v3, cluster sizes,
# compressed, extended L2, backing chains, zero clusters, raw and VMDK
# backing files) gives the same bytes as qemu-img convert -O raw, and never
# touches the source.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
GEN=$TOP/tests/gen/qcow2-pattern.py
cd "$TMP" || exit 1

# Source: 20 MiB + an odd tail, random runs, zero runs and holes.
$PY "$GEN" src.raw $((20 * 1048576 + 12345)) 7

# same NAME IMAGE: ferry's raw output of IMAGE equals qemu-img's.
same() {
  local name=$1 img=$2
  qemu-img convert -O raw "$img" "$img.oracle" &&
    "$FERRY" convert "$img" "$img.out" 2>/dev/null &&
    cmp "$img.oracle" "$img.out" && rm -f "$img.oracle" "$img.out"
}

for compat in 0.10 1.1; do
  for cs in 4k 64k 2M; do
    for c in "" -c; do
      img=src-$compat-$cs${c:+-z}.qcow2
      qemu-img convert -q -f raw -O qcow2 $c -o compat=$compat,cluster_size=$cs src.raw "$img"
      ok "compat=$compat cluster_size=$cs ${c:-plain}: bytes equal qemu-img's" same "$img" "$img"
    done
  done
done
qemu-img convert -q -f raw -O qcow2 -o cluster_size=512 src.raw c512.qcow2
ok "cluster_size=512: bytes equal" same c512 c512.qcow2
qemu-img convert -q -f raw -O qcow2 -o extended_l2=on,cluster_size=128k src.raw ext.qcow2
ok "extended L2 (subclusters): bytes equal" same ext ext.qcow2

# A chain of three: base (data) <- mid (writes) <- top (writes, zero
# clusters, a discard).
qemu-img convert -q -f raw -O qcow2 -o compat=0.10 src.raw base.qcow2
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
qemu-io -c "write -P 0x5a 1M 300k" -c "write -P 0x11 7M 64k" -c "write -z 9M 2M" \
  mid.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o cluster_size=4k -b mid.qcow2 -F qcow2 top.qcow2
qemu-io -c "write -P 0xa5 1100k 8k" -c "write -z 7M 4k" -c "write -z -u 3M 1M" \
  -c "discard 12M 1M" -c "write -P 0x33 20M 12345" top.qcow2 >/dev/null
ok "chain of 3 with zero clusters: bytes equal" same top top.qcow2
# The same chain with extended L2 in the middle layer (subcluster zeroes).
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=64k -b base.qcow2 -F qcow2 midx.qcow2
qemu-io -c "write -P 0x77 100k 4k" -c "write -z 2M 8k" -c "write -P 0x78 5M 70k" \
  midx.qcow2 >/dev/null
ok "extended L2 delta over a base: bytes equal" same midx midx.qcow2

json=$("$FERRY" inspect --json top.qcow2 2>&1)
is "inspect --json: chain of 3 qcow2 layers, versions" \
  "$(printf '%s' "$json" | $PY -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s:%s:%s" % (l["file"].split("/")[-1], l["format"], l["subformat"]) for l in d["chain"]))')" \
  "top.qcow2:qcow2:v3 mid.qcow2:qcow2:v3 base.qcow2:qcow2:v2"
is "inspect --json: virtual size" \
  "$(printf '%s' "$json" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual_size"])')" \
  "$(qemu-img info --output=json top.qcow2 | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')"

# Backing files in other formats (found by content, backing format ignored).
qemu-img create -q -f qcow2 -b src.raw -F raw overraw.qcow2
qemu-io -c "write -P 0x42 64k 64k" -c "write -z 5M 1M" overraw.qcow2 >/dev/null
ok "qcow2 over a raw backing file: bytes equal" same overraw overraw.qcow2
qemu-img convert -q -f raw -O vmdk src.raw b.vmdk
qemu-img create -q -f qcow2 -b b.vmdk -F vmdk overvmdk.qcow2
qemu-io -c "write -P 0x43 128k 64k" overvmdk.qcow2 >/dev/null
ok "qcow2 over a VMDK backing file: bytes equal" same overvmdk overvmdk.qcow2

# A backing file given with an absolute path, and a missing one.
qemu-img create -q -f qcow2 -b "$TMP/src.raw" -F raw abs.qcow2
ok "absolute backing path: bytes equal" same abs abs.qcow2
qemu-img create -q -f qcow2 -u -b gone.qcow2 -F qcow2 -o size=1M orphan.qcow2
out=$("$FERRY" convert orphan.qcow2 orphan.out 2>&1); rc=$?
is "missing backing file: exit 1" "$rc" 1
ok "missing backing file: error names it" grep -q "gone.qcow2" <<<"$out"

# Sources are never modified (bytes and mtimes).
before=$(sha256sum src.raw base.qcow2 mid.qcow2 top.qcow2 | sha256sum)
mt=$(stat -c %Y.%y base.qcow2 mid.qcow2 top.qcow2)
sleep 1
"$FERRY" convert top.qcow2 again.raw 2>/dev/null
"$FERRY" inspect top.qcow2 >/dev/null
is "sources unchanged (bytes)" "$(sha256sum src.raw base.qcow2 mid.qcow2 top.qcow2 | sha256sum)" "$before"
is "sources unchanged (mtimes)" "$(stat -c %Y.%y base.qcow2 mid.qcow2 top.qcow2)" "$mt"

# Unsupported variants are refused clearly.
# (LUKS key setup times itself and can fail on a loaded machine: then mark a
# plain image as LUKS-encrypted in its header, which is what we look at.)
qemu-img create -q -f qcow2 --object secret,id=s0,data=pw \
  -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 enc.qcow2 1M 2>/dev/null ||
  { qemu-img create -q -f qcow2 enc.qcow2 1M &&
    printf '\0\0\0\2' | dd of=enc.qcow2 bs=1 seek=32 conv=notrunc 2>/dev/null; }
out=$("$FERRY" convert enc.qcow2 enc.out 2>&1); rc=$?
is "encrypted: exit 1" "$rc" 1
ok "encrypted: says not supported" grep -q "encrypted qcow2 images are not supported" <<<"$out"
qemu-img create -q -f qcow2 -o data_file=ext.data ext-df.qcow2 1M
out=$("$FERRY" convert ext-df.qcow2 ext-df.out 2>&1); rc=$?
is "external data file: exit 1" "$rc" 1
ok "external data file: says not supported" grep -q "external data file are not supported" <<<"$out"
done_testing
