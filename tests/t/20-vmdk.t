#!/bin/bash
# VMDK reader: every subformat qemu-img writes, hand-written descriptors
# (vmfs, vmfsThin, extents out of file order, ZERO extents, split sparse),
# VMware-style streamOptimized (footer), delta chains and parentCID checks.
# ferry's output must equal qemu-img's, byte for byte.
. "$(dirname "$0")/../lib.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img not installed"
PY=/usr/bin/python3
GEN="$PY $TOP/tests/gen/vmdk-images.py"
cd "$TMP" || exit 1

# same_as_qemu NAME IMAGE [ferry options]: ferry and qemu-img agree.
same_as_qemu() {
  local name=$1 img=$2; shift 2
  rm -f f.raw q.raw
  ok "$name: ferry convert" "$FERRY" convert "$@" "$img" f.raw
  ok "$name: qemu-img convert" qemu-img convert -O raw "$img" q.raw
  ok "$name: identical bytes" cmp f.raw q.raw
}
# json_field IMAGE EXPR: evaluate EXPR on inspect --json output (as j).
json_field() {
  "$FERRY" inspect --json "$1" 2>/dev/null |
    $PY -c "import json,sys; j=json.load(sys.stdin); print($2)"
}
stamp() { sha256sum "$@"; stat -c '%n %Y %s' "$@"; }

SIZE=$((24 * 1048576 + 7 * 512))   # last grain partial
$GEN pattern src.raw $SIZE

for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse \
           twoGbMaxExtentFlat streamOptimized; do
  qemu-img convert -f raw -O vmdk -o subformat=$sub src.raw $sub.vmdk
  same_as_qemu "$sub" $sub.vmdk
  ok "$sub: equals the source" cmp f.raw src.raw
  is "$sub: inspect subformat" "$(json_field $sub.vmdk 'j["format"]+"/"+j["subformat"]')" "vmdk/$sub"
  is "$sub: inspect virtual size" "$(json_field $sub.vmdk 'j["virtual_size"]')" $SIZE
done
# A descriptor qemu rewrote with a shorter CID (it prints CID with %x, so a
# CID below 0x10000000 has fewer than 8 digits): the old text's tail stays
# after the NUL.  One qemu-made image in 256 looks like this; it was read
# as a 512-byte raw disk, and `ferry convert D.vmdk D-flat.vmdk` then
# overwrote the extent.
$PY - monolithicFlat.vmdk shortcid.vmdk <<'PYEOF'
import re, sys
text = open(sys.argv[1], "rb").read().split(b"\0")[0]
new = re.sub(rb"\nCID=[0-9a-f]+\n", b"\nCID=d4aa89\n", text)
blob = new + b"\0" + text[len(new):] + b"\0"
open(sys.argv[2], "wb").write(blob + b"\0" * (-len(blob) % 512))
PYEOF
ok "short-CID descriptor: text after the NUL" \
  $PY -c 'import sys; d=open(sys.argv[1],"rb").read(); assert d.split(b"\0",1)[1].strip(b"\0")' shortcid.vmdk
is "short-CID descriptor: inspect says vmdk/monolithicFlat" \
  "$(json_field shortcid.vmdk 'j["format"]+"/"+j["subformat"]')" vmdk/monolithicFlat
same_as_qemu "short-CID descriptor" shortcid.vmdk
ok "short-CID descriptor: equals the source" cmp f.raw src.raw
same_as_qemu "monolithicSparse, 64K chunks" monolithicSparse.vmdk --chunk-size 64K
same_as_qemu "streamOptimized, 64K chunks, 1 thread" streamOptimized.vmdk \
  --chunk-size 64K --parallel 1
same_as_qemu "twoGbMaxExtentFlat, 64K chunks" twoGbMaxExtentFlat.vmdk --chunk-size 64K

# VMware-style streamOptimized: GD at the end, footer, EOS marker
$GEN stream src.raw vmware-stream.vmdk
same_as_qemu "streamOptimized with footer" vmware-stream.vmdk
same_as_qemu "streamOptimized with footer, 64K chunks" vmware-stream.vmdk --chunk-size 64K
# chunks smaller than a grain: each grain is read in pieces, by one reader
# after the other or by several at once
same_as_qemu "streamOptimized, 4K chunks, 1 thread" streamOptimized.vmdk \
  --chunk-size 4K --parallel 1
same_as_qemu "streamOptimized with footer, 12K chunks, 4 threads" \
  vmware-stream.vmdk --chunk-size 12K --parallel 4
ok "streamOptimized with footer: equals the source" cmp f.raw src.raw

# ESXi flat: descriptor + -flat.vmdk, extent type VMFS
SECTORS=$((SIZE / 512))
cp src.raw esx-flat.vmdk
for ct in vmfs vmfsThin; do
  cat > esx-$ct.vmdk <<EOD
# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=fffffffe
parentCID=ffffffff
isNativeSnapshot="no"
createType="$ct"

# Extent description
RW $SECTORS VMFS "esx-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.thinProvisioned = "1"
ddb.virtualHWVersion = "14"
EOD
  if [ $ct = vmfs ]; then
    same_as_qemu "$ct descriptor" esx-$ct.vmdk
  else # qemu-img does not know vmfsThin
    ok "$ct descriptor: ferry convert" "$FERRY" convert esx-$ct.vmdk f.raw
  fi
  ok "$ct descriptor: equals the source" cmp f.raw src.raw
  is "$ct: inspect subformat" "$(json_field esx-$ct.vmdk 'j["subformat"]')" $ct
done

# Extents out of file order, all in one flat file: virtual [A | B] where
# the file holds [B | A]
A=20000; B=$((SECTORS - A))
{ dd if=src.raw bs=512 skip=$A count=$B status=none
  dd if=src.raw bs=512 count=$A status=none; } > swapped.bin
cat > swapped.vmdk <<EOD
# Disk DescriptorFile
version=1
CID=11111111
parentCID=ffffffff
createType="monolithicFlat"
RW $A FLAT "swapped.bin" $B
RW $B FLAT "swapped.bin" 0
EOD
same_as_qemu "extents out of file order" swapped.vmdk --chunk-size 64K
ok "extents out of file order: equals the source" cmp f.raw src.raw

# A ZERO extent between two flat ones: [A | zero Z | rest]
Z=3000
cat > zero-ext.vmdk <<EOD
# Disk DescriptorFile
version=1
CID=11111112
parentCID=ffffffff
createType="monolithicFlat"
RW $A FLAT "src.raw" 0
RW $Z ZERO
RW $((SECTORS - A - Z)) FLAT "src.raw" $((A + Z))
EOD
dd if=src.raw of=expect.raw bs=512 count=$A status=none
dd if=/dev/zero bs=512 count=$Z status=none >> expect.raw
dd if=src.raw bs=512 skip=$((A + Z)) status=none >> expect.raw
ok "ZERO extent: ferry convert" "$FERRY" convert --chunk-size 64K zero-ext.vmdk f.raw
ok "ZERO extent: expected bytes" cmp f.raw expect.raw

# Several sparse extents (hosted sparse files made by qemu-img)
P1=16384; P2=$((SECTORS - P1))
dd if=src.raw of=part1.raw bs=512 count=$P1 status=none
dd if=src.raw of=part2.raw bs=512 skip=$P1 status=none
qemu-img convert -f raw -O vmdk part1.raw part1.vmdk
qemu-img convert -f raw -O vmdk part2.raw part2.vmdk
cat > split.vmdk <<EOD
# Disk DescriptorFile
version=1
CID=22222222
parentCID=ffffffff
createType="twoGbMaxExtentSparse"
RW $P1 SPARSE "part1.vmdk"
RW $P2 SPARSE "part2.vmdk"
EOD
same_as_qemu "two sparse extents" split.vmdk --chunk-size 64K
ok "two sparse extents: equals the source" cmp f.raw src.raw

# Delta chain: base <- d1 <- d2, written with qemu-io
qemu-img convert -f raw -O vmdk src.raw base.vmdk
qemu-img create -q -f vmdk -o zeroed_grain=on -b base.vmdk -F vmdk d1.vmdk
qemu-io -f vmdk -c "write -P 0xab 1M 200K" -c "write -P 0xcd 4000K 100K" \
  -c "write -z 0 128K" -c "write -P 0x11 $((SIZE - 1024)) 1024" d1.vmdk >/dev/null
qemu-img create -q -f vmdk -b d1.vmdk -F vmdk d2.vmdk
qemu-io -f vmdk -c "write -P 0xef 1100K 64K" -c "write -P 0x22 20M 1M" \
  d2.vmdk >/dev/null
same_as_qemu "delta chain (3 levels)" d2.vmdk
same_as_qemu "delta chain (3 levels), 64K chunks" d2.vmdk --chunk-size 64K
same_as_qemu "delta chain (2 levels)" d1.vmdk
is "delta chain: inspect chain length" "$(json_field d2.vmdk 'len(j["chain"])')" 3
is "delta chain: parent order" \
  "$(json_field d2.vmdk '" ".join(c["file"].split("/")[-1] for c in j["chain"])')" \
  "d2.vmdk d1.vmdk base.vmdk"

# parentCID mismatch: edit d1's embedded descriptor in a copy
mkdir bad && cp base.vmdk d1.vmdk bad/
$PY - bad/d1.vmdk <<'EOP'
import re, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
m = re.search(rb"parentCID=([0-9a-f]{1,8})", bytes(b))
n = len(m.group(1))
new = b"b" * n if m.group(1) != b"b" * n else b"c" * n
b[m.start(1):m.end(1)] = new
open(p, "wb").write(b)
EOP
fails_with "parentCID mismatch is an error naming both files" 1 \
  "error: .*bad/d1.vmdk.*parentCID [0-9a-f]+ does not match CID [0-9a-f]+ of parent .*bad/base.vmdk" \
  "$FERRY" convert bad/d1.vmdk bad.raw
fails_with "parentCID mismatch: inspect fails too" 1 "parentCID" \
  "$FERRY" inspect bad/d1.vmdk

# A loop in the parent chain
for n in a b; do
  o=$([ $n = a ] && echo b || echo a)
  cat > loop-$n.vmdk <<EOD
# Disk DescriptorFile
version=1
CID=3333333$([ $n = a ] && echo 1 || echo 2)
parentCID=3333333$([ $n = a ] && echo 2 || echo 1)
createType="monolithicFlat"
parentFileNameHint="loop-$o.vmdk"
RW 8 FLAT "swapped.bin" 0
EOD
done
fails_with "loop in the parent chain" 1 "error: .*loop" \
  "$FERRY" convert loop-a.vmdk loop.raw

# a missing extent file is named
sed 's/esx-flat.vmdk/missing-flat.vmdk/' esx-vmfs.vmdk > missing.vmdk
fails_with "missing extent names the file" 1 "error: .*missing-flat.vmdk" \
  "$FERRY" convert missing.vmdk missing.raw

# Sources are never written
before=$(cd "$TMP" && stamp *.vmdk src.raw | sort)
"$FERRY" convert d2.vmdk again.raw 2>/dev/null
"$FERRY" convert vmware-stream.vmdk again.raw 2>/dev/null
"$FERRY" inspect --json twoGbMaxExtentFlat.vmdk >/dev/null 2>&1
after=$(cd "$TMP" && stamp *.vmdk src.raw | sort)
is "sources unchanged (sha256, mtime, size)" "$after" "$before"

done_testing
