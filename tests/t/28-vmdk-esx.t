#!/bin/bash
# ESXi snapshot deltas: vmfsSparse ("COWD", ESXi 5/6 -delta.vmdk) and
# seSparse (ESXi 6.5+ -sesparse.vmdk) over a vmfs flat base, written by
# tests/gen/esx-delta.py.  ferry's output must equal the parent's raw bytes
# with the same writes applied by dd, and qemu-img's output; parentCID is
# checked; broken deltas fail with exit 1 and an error line.
. "$(dirname "$0")/../lib.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img not installed"
PY=/usr/bin/python3
GEN="$PY $TOP/tests/gen/esx-delta.py"
cd "$TMP" || exit 1

# apply FILE WRITE...: dd each OFFSET:LENGTH:BYTE|z|u write onto FILE.
apply() {
  local f=$1 w off len what; shift
  for w in "$@"; do
    IFS=: read -r off len what <<<"$w"
    off=$((off)); len=$((len))
    if [ "$what" = z ] || [ "$what" = u ]; then
      head -c "$len" /dev/zero
    else
      head -c "$len" /dev/zero | tr '\0' "\\$(printf %o 0x$what)"
    fi | dd of="$f" bs=64K seek="$off" oflag=seek_bytes conv=notrunc \
          iflag=fullblock status=none
  done
}
# check NAME IMAGE EXPECTED [ferry options]: ferry's output is EXPECTED;
# with qemu=1, qemu-img's is too.
check() {
  local name=$1 img=$2 exp=$3; shift 3
  rm -f f.raw q.raw
  ok "$name: ferry convert" "$FERRY" convert "$@" "$img" f.raw
  ok "$name: equals the writes applied by dd" cmp f.raw "$exp"
  if [ "${qemu:-1}" = 1 ]; then
    ok "$name: qemu-img convert" qemu-img convert -O raw "$img" q.raw
    ok "$name: equals qemu-img's output" cmp f.raw q.raw
  fi
}
json_field() {
  "$FERRY" inspect --json "$1" 2>/dev/null |
    $PY -c "import json,sys; j=json.load(sys.stdin); print($2)"
}

# base: vmfs descriptor + flat extent with a pattern (random data, holes)
SIZE=$((20 * 1048576 + 7 * 512))
$PY "$TOP/tests/gen/vmdk-images.py" pattern base-flat.vmdk $SIZE
cat > base.vmdk <<EOD
# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=5a5a0001
parentCID=ffffffff
isNativeSnapshot="no"
createType="vmfs"

# Extent description
RW $((SIZE / 512)) VMFS "base-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
EOD

# level 1: vmfsSparse, 512-byte grains (ESXi's), over two grain tables
W1=(1000:5000:ab 0x300000:0x20000:cd 0:512:z 0x1ff000:0x2000:3c
    $((SIZE - 700)):700:ee 0x1100000:0x180000:5d 0x1000001:1:01)
cp base-flat.vmdk e1.raw && apply e1.raw "${W1[@]}"
$GEN cowd base.vmdk base-flat.vmdk d1.vmdk "${W1[@]}"
check "vmfsSparse over vmfs" d1.vmdk e1.raw
check "vmfsSparse over vmfs, 64K chunks" d1.vmdk e1.raw --chunk-size 64K
check "vmfsSparse over vmfs, 1 thread, 4K chunks" d1.vmdk e1.raw \
  --parallel 1 --chunk-size 4K
is "vmfsSparse: inspect subformat" "$(json_field d1.vmdk 'j["subformat"]')" \
  vmfsSparse

# vmfsSparse with 64 KiB grains
cp base-flat.vmdk e1b.raw && apply e1b.raw "${W1[@]}"
$GEN cowd base.vmdk base-flat.vmdk d1b.vmdk "${W1[@]}" --grain 128
check "vmfsSparse, 64K grains" d1b.vmdk e1b.raw

# level 2: seSparse over the vmfsSparse delta (3-layer chain)
W2=(4096:8192:11 0x100000:0x9000:z 0x200000:0x2000:u 0x7ff000:0x1800:77
    0xF00000:0x200000:a1 $((SIZE - 4096)):4096:z 5:3:fe)
cp e1.raw e2.raw && apply e2.raw "${W2[@]}"
$GEN sesparse d1.vmdk e1.raw d2.vmdk "${W2[@]}"
check "seSparse over vmfsSparse over vmfs" d2.vmdk e2.raw
check "seSparse chain, 64K chunks" d2.vmdk e2.raw --chunk-size 64K
is "seSparse: inspect subformat" "$(json_field d2.vmdk 'j["subformat"]')" \
  seSparse
is "3-layer chain: inspect order" \
  "$(json_field d2.vmdk '" ".join(c["file"].split("/")[-1]+":"+c.get("subformat","") for c in j["chain"])')" \
  "d2.vmdk:seSparse d1.vmdk:vmfsSparse base.vmdk:vmfs"

# level 2: vmfsSparse over vmfsSparse
W3=(0x280000:0x100000:99 1000:10:42)
cp e1.raw e3.raw && apply e3.raw "${W3[@]}"
$GEN cowd d1.vmdk e1.raw d3.vmdk "${W3[@]}"
check "vmfsSparse over vmfsSparse over vmfs" d3.vmdk e3.raw

# seSparse straight over the base
cp base-flat.vmdk e4.raw && apply e4.raw "${W2[@]}"
$GEN sesparse base.vmdk base-flat.vmdk d4.vmdk "${W2[@]}"
check "seSparse over vmfs" d4.vmdk e4.raw

# an empty delta reads as its parent
$GEN sesparse base.vmdk base-flat.vmdk d5.vmdk
check "empty seSparse delta" d5.vmdk base-flat.vmdk
$GEN cowd base.vmdk base-flat.vmdk d6.vmdk
check "empty vmfsSparse delta" d6.vmdk base-flat.vmdk

# parentCID must match the parent's CID
$GEN cowd base.vmdk base-flat.vmdk bad1.vmdk 0:512:11 --parent-cid 5a5a0002
fails_with "vmfsSparse: wrong parentCID names both files" 1 \
  "error: .*bad1.vmdk.*parentCID 5a5a0002 does not match CID 5a5a0001 of parent .*base.vmdk" \
  "$FERRY" convert bad1.vmdk bad.raw
$GEN sesparse d1.vmdk e1.raw bad2.vmdk 0:512:11 --parent-cid 0badc1d0
fails_with "seSparse: wrong parentCID is an error" 1 \
  "error: .*bad2.vmdk.*parentCID 0badc1d0 does not match CID [0-9a-f]+ of parent .*d1.vmdk" \
  "$FERRY" convert bad2.vmdk bad.raw
ok "no output left by a failed convert" test ! -s bad.raw

# the extent file alone is refused with a pointer to its descriptor
fails_with "bare COWD extent is refused" 1 \
  "error: .*d1-delta.vmdk' is a vmfsSparse \(COWD\) extent: open the descriptor" \
  "$FERRY" convert d1-delta.vmdk bare.raw
fails_with "bare seSparse extent is refused" 1 \
  "error: .*d2-sesparse.vmdk' is a seSparse extent: open the descriptor" \
  "$FERRY" convert d2-sesparse.vmdk bare.raw

# hostile deltas: exit 1 with an error line naming the descriptor or its
# extent, no crash, no hang
mkdir h && $GEN hostile h >/dev/null
n=0
for f in h/case-*.vmdk; do
  n=$((n + 1))
  c=${f#h/} e=${f#h/case-}
  e=ext-${e%.vmdk}.bin
  fails_with "$f: exit 1, an error naming the image or its extent" 1 \
    "^ferry: error: .*'([^']*/)?h/(${c//./\\.}|${e//./\\.})'" \
    timeout 20 "$FERRY" convert "$f" "$TMP/out.raw"
  rm -f "$TMP/out.raw"
done
ok "at least 60 hostile ESX deltas" test "$n" -ge 60
fails_with "hostile: error names the file and the field" 1 \
  "ext-cowd-grainSize-0.bin.*grainSize" \
  "$FERRY" convert h/case-cowd-grainSize-0.vmdk out.raw
fails_with "hostile: dirty seSparse journal is explained" 1 \
  "ext-se-replay-1.bin.*journal needs replaying" \
  "$FERRY" convert h/case-se-replay-1.vmdk out.raw

done_testing
