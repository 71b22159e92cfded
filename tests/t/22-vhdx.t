#!/bin/bash
# VHDX: fixed and dynamic images written by qemu-img (several block sizes),
# differencing chains (AVHDX) written by tests/gen/vhdtool.py; ferry convert
# must give the same bytes as qemu-img (or, for chains, as the same writes
# applied with dd to the raw).
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
TOOL=$TOP/tests/gen/vhdtool.py
M=1048576
cd "$TMP"
"$TOP/tests/gen/vhd-pattern.sh" src.raw

convert_same() {
  rm -f exp.raw out.raw
  qemu-img convert -f vhdx -O raw "$1" exp.raw &&
    "$FERRY" convert "$1" out.raw && cmp exp.raw out.raw &&
    cmp src.raw out.raw
}

for sub in fixed dynamic; do
  for bs in default 1M 32M; do
    o=subformat=$sub
    [ $bs = default ] || o=$o,block_size=$bs
    qemu-img convert -f raw -O vhdx -o $o src.raw $sub-$bs.vhdx
    ok "$sub block size $bs: ferry convert equals qemu-img and the source" \
      convert_same $sub-$bs.vhdx
  done
  is "$sub: inspect format and subformat" \
    "$("$FERRY" inspect --json $sub-1M.vhdx | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["subformat"], d["virtual_size"])')" \
    "vhdx $sub $(stat -c %s src.raw)"
done
# dynamic images: holes stay holes (allocated excludes the 3 MiB hole)
alloc=$("$FERRY" inspect --json dynamic-1M.vhdx | $PY -c 'import json,sys; print(json.load(sys.stdin)["allocated"])')
ok "dynamic: the hole is not reported as data" test "$alloc" -lt $((35 * M))

# A differencing chain: base (dynamic) <- s1 <- s2 <- s3: partially and
# fully present blocks, a ZERO block hiding parent data, writes crossing
# block boundaries, and a layer with 32 MiB blocks.
head -c 1536 /dev/urandom > w1
head -c $((3 * M)) /dev/urandom > w2
head -c 4096 /dev/urandom > w3
head -c $((M + 512)) /dev/urandom > w4
mkdir chain
qemu-img convert -f raw -O vhdx -o subformat=dynamic src.raw chain/base.vhdx
cp src.raw expected.raw
apply() { dd if="$2" of=expected.raw bs=512 seek=$(($1 / 512)) conv=notrunc status=none; }
zero() { dd if=/dev/zero of=expected.raw bs=512 seek=$(($1 / 512)) count=$(($2 / 512)) conv=notrunc status=none; }
$PY "$TOOL" diff-vhdx chain/base.vhdx chain/s1.avhdx \
  --write 1024:w1 --write $((2 * M - 512)):w2 --zero $((6 * M)):$M
apply 1024 w1; apply $((2 * M - 512)) w2; zero $((6 * M)) $M
$PY "$TOOL" diff-vhdx chain/s1.avhdx chain/s2.avhdx --block-size $((32 * M)) \
  --write 0:w3 --write $((4 * M)):w4 --write $((37 * M)):w1
apply 0 w3; apply $((4 * M)) w4; apply $((37 * M)) w1
$PY "$TOOL" diff-vhdx chain/s2.avhdx chain/s3.avhdx --write $((4 * M + 512)):w1
apply $((4 * M + 512)) w1
sha_before=$(sha256sum chain/* | sha256sum)
mtime_before=$(stat -c %Y chain/*)
ok "3-level differencing chain converts" "$FERRY" convert chain/s3.avhdx out.raw
ok "chain output equals the writes applied with dd" cmp expected.raw out.raw
is "inspect shows the chain" \
  "$("$FERRY" inspect --json chain/s3.avhdx | $PY -c 'import json,sys,os; d=json.load(sys.stdin); print(" ".join(os.path.basename(l["file"]) + ":" + l["subformat"] for l in d["chain"]))')" \
  "s3.avhdx:differencing s2.avhdx:differencing s1.avhdx:differencing base.vhdx:dynamic"

mkdir moved && cp chain/* moved/
ok "chain moved together still converts" "$FERRY" convert moved/s3.avhdx out2.raw
ok "moved chain output is right" cmp expected.raw out2.raw
$PY "$TOOL" diff-vhdx moved/s3.avhdx moved/s4.avhdx --rel '..\elsewhere\s3.avhdx' \
  --abs 'C:\ProgramData\Hyper-V\s3.avhdx' --write 0:w1
ok "parent found by absolute_win32_path's base name" \
  "$FERRY" convert moved/s4.avhdx out3.raw

# Differencing on a fixed base with 4 MiB of a 32 MiB block written.
qemu-img convert -f raw -O vhdx -o subformat=fixed,block_size=32M src.raw fbase.vhdx
cp src.raw expected.raw
$PY "$TOOL" diff-vhdx fbase.vhdx fdiff.avhdx --write $((6 * M)):w2
apply $((6 * M)) w2
ok "differencing on a fixed base converts" "$FERRY" convert fdiff.avhdx out4.raw
ok "differencing on a fixed base: bytes" cmp expected.raw out4.raw

# Wrong parent: exit 1 with both files and the GUIDs named.
$PY "$TOOL" diff-vhdx moved/s1.avhdx moved/wrong.avhdx --wrong-parent-id --write 0:w1
out=$("$FERRY" convert moved/wrong.avhdx out5.raw 2>&1); rc=$?
is "wrong parent: exit 1" "$rc" 1
ok "wrong parent: clear error" \
  grep -q "wrong.avhdx'.*parent '.*s1.avhdx' has DataWriteGuid {.*} but the differencing disk's parent_linkage is {" <<<"$out"

# A header that names a log holding no valid entries is refused, never
# read as if the log were empty (replayed logs: 57-vhdx-log.t).
cp dynamic-1M.vhdx dirty.vhdx
$PY "$TOOL" set-dirty dirty.vhdx
out=$("$FERRY" convert dirty.vhdx out6.raw 2>&1); rc=$?
is "empty dirty log: exit 1" "$rc" 1
ok "empty dirty log: clear error" \
  grep -q "ferry: error: 'dirty.vhdx': the VHDX header says the log needs replaying but the log holds no valid sequence of entries (corrupt log)" <<<"$out"
ok "empty dirty log: no output written" test ! -s out6.raw

# A disk larger than one sector-bitmap chunk (4 GiB of 512-byte sectors):
# partial blocks on both sides of the chunk boundary use different bitmap
# blocks.  Sparse files; only the written region is compared.
G=1073741824
mkdir big
truncate -s $((5 * G)) big/base.raw
head -c $M /dev/urandom | dd of=big/base.raw bs=$M seek=$((4 * 1024 + 1)) conv=notrunc status=none
qemu-img convert -f raw -O vhdx big/base.raw big/base.vhdx
head -c 5120 /dev/urandom > w5
$PY "$TOOL" diff-vhdx big/base.vhdx big/s1.avhdx \
  --write $((4 * G + M + 512)):w5 --write $((4 * G - 1024)):w5
dd if=w5 of=big/base.raw bs=512 seek=$(((4 * G + M + 512) / 512)) conv=notrunc status=none
dd if=w5 of=big/base.raw bs=512 seek=$(((4 * G - 1024) / 512)) conv=notrunc status=none
ok "5 GiB differencing disk converts" "$FERRY" convert big/s1.avhdx big/out.raw
is "5 GiB: output size" "$(stat -c %s big/out.raw)" $((5 * G))
region() { dd if="$1" bs=$M skip=$((4 * 1024 - 2)) count=6 status=none | sha256sum; }
is "5 GiB: bytes around the chunk boundary" "$(region big/out.raw)" "$(region big/base.raw)"
rm -rf big

is "source bytes unchanged" "$(sha256sum chain/* | sha256sum)" "$sha_before"
is "source mtimes unchanged" "$(stat -c %Y chain/*)" "$mtime_before"
done_testing
