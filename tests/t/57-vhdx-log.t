#!/bin/bash
# VHDX with a dirty log (a Hyper-V disk copied while running or after a host
# crash), and snapshots whose parent is missing (an .avhdx copied without
# its parent).  Dirty logs: ferry replays the log in memory and reads the disk as it would be
# after the replay, without writing the source.  The oracle is a copy of the
# file repaired by `qemu-img check -r all` (qemu replays the log when it
# opens a file for writing).  The logs are written by tests/gen/vhdtool.py
# dirty-vhdx: the updates are only in the log, as after a crash between the
# log flush and the in-place writes.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
TOOL=$TOP/tests/gen/vhdtool.py
M=1048576
cd "$TMP"

truncate -s $((16 * M)) src.raw
head -c $((3 * M)) /dev/urandom | dd of=src.raw bs=$M seek=2 conv=notrunc status=none
qemu-img convert -f raw -O vhdx -o subformat=dynamic,block_size=1M,log_size=1M \
  src.raw clean.vhdx
qemu-img convert -f vhdx -O raw clean.vhdx clean.raw
head -c 8192 /dev/urandom > d1
head -c 4096 /dev/urandom > d2

# dirty NAME [vhdtool options]: NAME.vhdx, a copy of clean.vhdx with a log.
dirty() {
  local n=$1
  shift
  cp clean.vhdx "$n.vhdx" && $PY "$TOOL" dirty-vhdx "$n.vhdx" "$@"
}
# repaired NAME OUT: the raw image of NAME.vhdx after qemu's replay.  qemu
# does not extend the file to the head entry's LastFileOffset as MS-VHDX
# 2.3.3 requires (it stops at the last byte it wrote); the next MiB
# boundary, which is what vhdtool writes as LastFileOffset, is set here.
repaired() {
  local sz
  cp "$1.vhdx" "$1.rep.vhdx" &&
    { qemu-img check -q -r all "$1.rep.vhdx" >/dev/null 2>&1; true; } &&
    sz=$(stat -c %s "$1.rep.vhdx") &&
    truncate -s $(((sz + M - 1) / M * M)) "$1.rep.vhdx" &&
    qemu-img convert -f vhdx -O raw "$1.rep.vhdx" "$2"
}
# same NAME EXPECTED: ferry convert of NAME.vhdx gives EXPECTED's bytes.
same() {
  rm -f "$1.out"
  "$FERRY" convert "$1.vhdx" "$1.out" >/dev/null 2>&1 && cmp "$2" "$1.out"
}

# Three entries: payload data changed in place (block 2 is present), a new
# payload block past the end of the file with the BAT sector pointing at it
# (the replay extends the file), and block 3 set to ZERO in the BAT with a
# zero descriptor over its old data.
ops=(--data $((2 * M + 4096)):d1 --data $((9 * M)):d2 --zero-block $((3 * M)))
dirty full "${ops[@]}"
ok "qemu-img refuses the dirty file read-only (the case ferry handles)" \
  bash -c "! qemu-img info full.vhdx >/dev/null 2>&1"
sha_before=$(sha256sum full.vhdx)
mtime_before=$(stat -c %Y full.vhdx)
repaired full full.exp
ok "the log matters: the repaired disk differs from the clean one" \
  bash -c "! cmp -s full.exp clean.raw"
ok "dirty log: ferry convert equals the qemu-repaired copy" same full full.exp
is "dirty log: the source is byte-identical afterwards" \
  "$(sha256sum full.vhdx)" "$sha_before"
is "dirty log: the source's mtime is unchanged" "$(stat -c %Y full.vhdx)" \
  "$mtime_before"
out=$("$FERRY" inspect full.vhdx 2>&1)
is "dirty log: inspect exits 0" "$?" 0
ok "dirty log: inspect counts the replayed allocation (blocks 2, 4, 9)" \
  grep -q "^allocated:    $((3 * M)) bytes$" <<<"$out"
rm -f full.out2
sum=$("$FERRY" convert --checksum full.vhdx full.out2 2>/dev/null)
ok "dirty log: --checksum is the SHA-256 of the replayed disk" \
  grep -q "$(sha256sum <full.exp | cut -d' ' -f1)" <<<"$sum"

# Later entries win where they overlap: data, then zeroes over a larger
# range in place (the block stays present), then data inside that range.
dirty order --data $((4 * M)):d1 --zero-data $((4 * M)):$((64 * 1024)) \
  --data $((4 * M + 4096)):d2
repaired order order.exp
ok "overlapping entries: the zero descriptor shows in the repaired disk" \
  test "$(dd if=order.exp bs=4096 skip=$((4 * 256)) count=1 status=none | tr -d '\0' | wc -c)" = 0
ok "overlapping entries: later entries win, as in the repaired copy" \
  same order order.exp

# An older valid sequence elsewhere in the ring (lower sequence numbers,
# zeroing the BAT) is not the active one and must not be replayed.
dirty stale "${ops[@]}" --stale
ok "stale sequence ignored: equals the repaired copy" same stale full.exp

# The sequence wraps around the end of the ring: between entries, and
# inside the first entry.  qemu drops the first entry of a wrapped
# sequence (it takes the run that starts at offset 0 although its head's
# tail is not in it, against MS-VHDX 2.3.3), so the oracle is the repaired
# unwrapped log, which holds the same updates.
dirty wrap "${ops[@]}" --wrap
ok "sequence wrapping between entries: equals the repaired copy" \
  same wrap full.exp
dirty wrapin "${ops[@]}" --wrap-inside
ok "entry wrapping inside itself: equals the repaired copy" \
  same wrapin full.exp

# A bad checksum ends the sequence: the last entry is dropped (qemu too).
dirty badlast "${ops[@]}" --bad-crc 2
repaired badlast badlast.exp
ok "bad checksum on the last entry: qemu drops it" \
  bash -c "! cmp -s badlast.exp full.exp"
ok "bad checksum on the last entry: equals the repaired copy" \
  same badlast badlast.exp

# A gap in the sequence numbers ends the sequence: the entries after it
# form a run whose head's tail is outside it, so only the first entry is
# replayed.  (qemu replays past the gap; the oracle is the repaired file
# whose log holds the first entry only.)
dirty gap "${ops[@]}" --gap 1
dirty first "${ops[@]:0:2}"
repaired first first.exp
ok "gap in the sequence numbers: only the entries before it" \
  same gap first.exp

# No valid sequence although the header names a log: the file is corrupt
# and is refused (MS-VHDX 2.3.3), never read as if the log were empty.
dirty bad0 "${ops[@]}" --bad-crc 0
rm -f bad0.out
fails_with "bad checksum on the only possible tail: clear error" 1 \
  "^ferry: error: 'bad0.vhdx': the VHDX header says the log needs replaying but the log holds no valid sequence of entries \(corrupt log\)$" \
  "$FERRY" convert bad0.vhdx bad0.out
ok "corrupt log: no output written" test ! -s bad0.out
fails_with "corrupt log: inspect exits 1 naming the file" 1 \
  "'bad0.vhdx': the VHDX header says the log needs replaying" \
  "$FERRY" inspect bad0.vhdx
cp clean.vhdx guidonly.vhdx
$PY "$TOOL" set-dirty guidonly.vhdx
fails_with "log GUID set, log empty: clear error" 1 \
  "'guidonly.vhdx': the VHDX header says the log needs replaying but the log holds no valid sequence" \
  "$FERRY" convert guidonly.vhdx guidonly.out

# A file shorter than the head entry's FlushedFileOffset was truncated.
dirty trunc "${ops[@]}"
truncate -s $(($(stat -c %s trunc.vhdx) - M)) trunc.vhdx
fails_with "truncated file: clear error" 1 \
  "^ferry: error: 'trunc.vhdx': the file is truncated: its VHDX log says it held at least [0-9]+ bytes, it has [0-9]+$" \
  "$FERRY" convert trunc.vhdx trunc.out

# Hostile: an entry header as long as the log in every sector of an 8 MiB
# log would cost 16 GiB of checksums to scan; the scan has a budget.
qemu-img convert -f raw -O vhdx -o subformat=dynamic,log_size=8M src.raw big.vhdx
$PY "$TOOL" dirty-vhdx big.vhdx --zero-block 0 --flood
start=$(date +%s)
fails_with "flooded log: refused with a clear error" 1 \
  "^ferry: error: 'big.vhdx': the VHDX log needs replaying but scanning it would checksum more than 256 MiB \(an entry header in every sector\?\)$" \
  "$FERRY" convert big.vhdx big.out
ok "flooded log: refused within 10 s" test $(($(date +%s) - start)) -lt 10

# ---------------------------------------------------------------- orphans
# A snapshot copied without its parent: the error says which image is the
# orphan, what the parent must be (identity, every recorded name) and
# where ferry looked; inspect shows the orphan itself and exits 1.
mkdir orph gone
O=$(cd orph && pwd -P)
qemu-img convert -f raw -O vhdx -o subformat=dynamic src.raw orph/base.vhdx
AV='Generation 1_49C4F7A2-0D1E-4F57-9B1A-2C3D4E5F6A7B.avhdx'
$PY "$TOOL" diff-vhdx orph/base.vhdx "orph/$AV" --write 0:d2
dwg=$($PY -c 'import sys, uuid; sys.path.insert(0, sys.argv[1]); import vhdtool; print(uuid.UUID(bytes_le=vhdtool.vhdx_info(sys.argv[2])[0]))' \
  "$TOP/tests/gen" orph/base.vhdx)
mv orph/base.vhdx gone/
out=$(cd orph && "$FERRY" convert "./$AV" o.raw 2>&1); rc=$?
is "orphan avhdx: convert exits 1" "$rc" 1
ok "orphan avhdx: names the orphan and says its parent is missing" \
  grep -qF "ferry: error: './$AV' is a differencing vhdx image whose parent is missing: " <<<"$out"
ok "orphan avhdx: the parent's DataWriteGuid and recorded names" \
  grep -qF "it needs the parent with DataWriteGuid {$dwg} (its parent_linkage), named relative_path '.\base.vhdx', absolute_win32_path 'C:\VMs\base.vhdx'; " <<<"$out"
ok "orphan avhdx: where ferry looked" \
  grep -qF "; ferry looked for '$O/base.vhdx' (allowed directories: '$O')" <<<"$out"
out=$(cd orph && "$FERRY" inspect "$AV" 2>/dev/null); rc=$?
is "orphan avhdx: inspect exits 1" "$rc" 1
ok "orphan avhdx: inspect shows the orphan's format" \
  grep -qx "format:       vhdx" <<<"$out"
ok "orphan avhdx: inspect says it is differencing" \
  grep -qx "subformat:    differencing" <<<"$out"
ok "orphan avhdx: inspect shows the parent it needs" \
  grep -qxF "parent needs: with DataWriteGuid {$dwg} (its parent_linkage), named relative_path '.\base.vhdx', absolute_win32_path 'C:\VMs\base.vhdx'" <<<"$out"
ok "orphan avhdx: inspect's problem is the missing parent" \
  grep -qF "problems:     '$AV' is a differencing vhdx image whose parent is missing" <<<"$out"
is "orphan avhdx: inspect --json" \
  "$(cd orph && "$FERRY" inspect --json "$AV" 2>/dev/null | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["subformat"], d["differencing"], d["parent"]["name"], d["parent"]["opened"], len(d["problems"]))')" \
  "vhdx differencing True base.vhdx False 1"
cp gone/base.vhdx orph/
out=$(cd orph && "$FERRY" inspect "$AV" 2>&1); rc=$?
is "parent put back: inspect exits 0" "$rc" 0
ok "parent put back: the chain is shown" grep -q "^parent\[0\]:.*base.vhdx (vhdx dynamic" <<<"$out"

# VMDK delta (parentFileNameHint, parentCID), qcow2 (backing file), VHD
# differencing (locators, parent unique id).
qemu-img create -q -f vmdk orph/base.vmdk 16M
qemu-img create -q -f vmdk -b base.vmdk -F vmdk orph/delta.vmdk
# qemu writes the CID with %x (no leading zeros); ferry prints the 32-bit
# value with %08x, as VMware writes it.
cid=$(printf %08x "0x$(strings orph/base.vmdk | sed -n 's/^CID=//p' | head -1)")
qemu-img create -q -f qcow2 orph/b.qcow2 16M
qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 orph/top.qcow2
qemu-img convert -f raw -O vpc -o subformat=dynamic src.raw orph/base.vhd
$PY "$TOOL" diff-vhd orph/base.vhd orph/diff.vhd --write 0:d2
uid=$($PY -c 'import sys, uuid; f = open(sys.argv[1], "rb"); f.seek(-512, 2); print(uuid.UUID(bytes=f.read(512)[68:84]))' orph/base.vhd)
mv orph/base.vmdk orph/b.qcow2 orph/base.vhd gone/
fails_with "orphan vmdk delta: parentCID, parentFileNameHint, where" 1 \
  "^ferry: error: 'orph/delta.vmdk' is a differencing vmdk image whose parent is missing: it needs the parent with CID $cid \(its parentCID\), named parentFileNameHint 'base.vmdk'; ferry looked for '$O/base.vmdk' \(allowed directories: '$O'\)$" \
  "$FERRY" convert orph/delta.vmdk o.raw
fails_with "orphan qcow2: the backing file and where" 1 \
  "^ferry: error: 'orph/top.qcow2' is a differencing qcow2 image whose parent is missing: it needs the parent named backing file 'b.qcow2'; ferry looked for '$O/b.qcow2'" \
  "$FERRY" convert orph/top.qcow2 o.raw
fails_with "orphan vhd: parent unique id, locators, where" 1 \
  "^ferry: error: 'orph/diff.vhd' is a differencing vhd image whose parent is missing: it needs the parent with unique id $uid \(its parent UUID\), named relative locator W2ru '.\\\\base.vhd', absolute locator W2ku 'C:\\\\VMs\\\\base.vhd', parent name 'base.vhd'; ferry looked for '$O/base.vhd'" \
  "$FERRY" convert orph/diff.vhd o.raw
for f in delta.vmdk:vmdk:base.vmdk top.qcow2:qcow2:b.qcow2 diff.vhd:vhd:base.vhd; do
  IFS=: read -r f fmt parent <<<"$f"
  out=$("$FERRY" inspect "orph/$f" 2>/dev/null); rc=$?
  is "orphan $f: inspect exits 1" "$rc" 1
  ok "orphan $f: inspect shows its format" grep -qx "format:       $fmt" <<<"$out"
  ok "orphan $f: inspect shows the parent it needs" \
    grep -q "^parent needs: .*named .*'.*$parent'" <<<"$out"
done
ok "orphan vmdk: inspect shows the parentCID" \
  grep -qxF "parent needs: with CID $cid (its parentCID), named parentFileNameHint 'base.vmdk'" \
  <<<"$("$FERRY" inspect orph/delta.vmdk 2>/dev/null)"

done_testing
