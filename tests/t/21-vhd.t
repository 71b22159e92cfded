#!/bin/bash
# VHD: fixed and dynamic images written by qemu-img, differencing chains
# written by tests/gen/vhdtool.py; ferry convert must give the same bytes as
# qemu-img (or, for chains, as the same writes applied with dd to the raw).
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
TOOL=$TOP/tests/gen/vhdtool.py
M=1048576
cd "$TMP"
"$TOP/tests/gen/vhd-pattern.sh" src.raw

# convert_same NAME IMAGE: ferry's output equals qemu-img's raw conversion
convert_same() {
  rm -f exp.raw out.raw
  qemu-img convert -f vpc -O raw "$2" exp.raw &&
    "$FERRY" convert "$2" out.raw && cmp exp.raw out.raw
}

for sub in fixed dynamic; do
  qemu-img convert -f raw -O vpc -o subformat=$sub src.raw $sub.vhd
  ok "$sub: ferry convert equals qemu-img convert" convert_same $sub $sub.vhd
  qemu-img convert -f raw -O vpc -o subformat=$sub,force_size=on src.raw \
    $sub-fs.vhd
  ok "$sub force_size (current size, not CHS): equals qemu-img" \
    convert_same $sub $sub-fs.vhd
  ok "$sub force_size: output has the source's size" \
    test "$(stat -c %s out.raw)" = "$(stat -c %s src.raw)"
  is "$sub: inspect subformat" \
    "$("$FERRY" inspect --json $sub.vhd | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["subformat"])')" \
    "vhd $sub"
done
cmp -n $((37 * M)) src.raw out.raw >/dev/null
ok "converted bytes equal the pattern source" test $? = 0

# A differencing chain: base (dynamic) <- s1 <- s2 <- s3, with writes at
# sector granularity that cross block boundaries, and a layer with a
# different block size.
head -c 1536 /dev/urandom > w1
head -c $((3 * M)) /dev/urandom > w2
head -c 4096 /dev/urandom > w3
head -c $((M + 512)) /dev/urandom > w4
mkdir chain
qemu-img convert -f raw -O vpc -o subformat=dynamic src.raw chain/base.vhd
qemu-img convert -f vpc -O raw chain/base.vhd expected.raw
apply() { dd if="$2" of=expected.raw bs=512 seek=$(($1 / 512)) conv=notrunc status=none; }
$PY "$TOOL" diff-vhd chain/base.vhd chain/s1.vhd \
  --write 1024:w1 --write $((2 * M - 512)):w2
apply 1024 w1; apply $((2 * M - 512)) w2
$PY "$TOOL" diff-vhd chain/s1.vhd chain/s2.vhd --block-size $((512 * 1024)) \
  --write 0:w3 --write $((4 * M)):w4 --write $((37 * M)):w3
apply 0 w3; apply $((4 * M)) w4; apply $((37 * M)) w3
$PY "$TOOL" diff-vhd chain/s2.vhd chain/s3.vhd --write $((4 * M + 512)):w1
apply $((4 * M + 512)) w1
sha_before=$(sha256sum chain/* | sha256sum)
mtime_before=$(stat -c %Y chain/*)
ok "3-level differencing chain converts" "$FERRY" convert chain/s3.vhd out.raw
ok "chain output equals the writes applied with dd" cmp expected.raw out.raw
ok "middle of the chain converts" "$FERRY" convert chain/s1.vhd out1.raw
is "inspect shows the chain" \
  "$("$FERRY" inspect --json chain/s3.vhd | $PY -c 'import json,sys,os; d=json.load(sys.stdin); print(" ".join(os.path.basename(l["file"]) + ":" + l["subformat"] for l in d["chain"]))')" \
  "s3.vhd:differencing s2.vhd:differencing s1.vhd:differencing base.vhd:dynamic"

# Moved together into another directory: found through the relative
# locator; with a useless relative locator, through the absolute one's
# base name.
mkdir moved && cp chain/* moved/
ok "chain moved together still converts" "$FERRY" convert moved/s3.vhd out2.raw
ok "moved chain output is right" cmp expected.raw out2.raw
$PY "$TOOL" diff-vhd moved/s3.vhd moved/s4.vhd --rel '.\nowhere\x.vhd' \
  --abs 'D:\Hyper-V\Disks\s3.vhd' --write 0:w1
ok "parent found by the absolute locator's base name" \
  "$FERRY" convert moved/s4.vhd out3.raw

# Differencing on a fixed base.
qemu-img convert -f raw -O vpc -o subformat=fixed src.raw fbase.vhd
qemu-img convert -f vpc -O raw fbase.vhd expected2.raw
$PY "$TOOL" diff-vhd fbase.vhd fdiff.vhd --write $((6 * M)):w2
dd if=w2 of=expected2.raw bs=512 seek=$((6 * M / 512)) conv=notrunc status=none
ok "differencing on a fixed base converts" "$FERRY" convert fdiff.vhd out4.raw
ok "differencing on a fixed base: bytes" cmp expected2.raw out4.raw

# Wrong parent: exit 1, both files and the ids named.
$PY "$TOOL" diff-vhd moved/s1.vhd moved/wrong.vhd --wrong-parent-id --write 0:w1
out=$("$FERRY" convert moved/wrong.vhd out5.raw 2>&1); rc=$?
is "wrong parent id: exit 1" "$rc" 1
ok "wrong parent id: clear error" \
  grep -q "wrong.vhd'.*parent '.*s1.vhd' has unique id .* but the differencing disk expects" <<<"$out"
rm -f chain/s1.vhd.missing; mv chain/s2.vhd chain/s2.moved
out=$("$FERRY" convert chain/s3.vhd out6.raw 2>&1); rc=$?
is "missing parent: exit 1" "$rc" 1
ok "missing parent: names it" grep -q "s2.vhd" <<<"$out"
mv chain/s2.moved chain/s2.vhd

# The source is never written.
is "source bytes unchanged" "$(sha256sum chain/* | sha256sum)" "$sha_before"
is "source mtimes unchanged" "$(stat -c %Y chain/*)" "$mtime_before"
done_testing
