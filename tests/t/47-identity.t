#!/bin/bash
# No silent wrong disk (issue 14): a target that is the source, resume from
# a checkpoint of another source or another .part, "done" that only means
# "a file of the right name and size".
. "$(dirname "$0")/../lib.sh"

# -- a target that is the same file as a chain member is refused --------
head -c $((3 << 20)) /dev/urandom >"$TMP/src.raw"
qemu-img convert -f raw -O qcow2 "$TMP/src.raw" "$TMP/src.qcow2"
cp "$TMP/src.raw" "$TMP/src.copy"
cp "$TMP/src.qcow2" "$TMP/qcow2.copy"
out=$("$FERRY" convert "$TMP/src.raw" "$TMP/src.raw" 2>&1); rc=$?
is "convert X X: exit 1" "$rc" 1
ok "... saying the target is the source" grep -q "is the same file as source" <<<"$out"
ok "... source bytes unchanged" cmp "$TMP/src.copy" "$TMP/src.raw"
ln -s src.raw "$TMP/link.raw"
out=$("$FERRY" convert "$TMP/src.raw" "$TMP/link.raw" 2>&1); rc=$?
is "convert X symlink-to-X: exit 1" "$rc" 1
ok "... source bytes unchanged" cmp "$TMP/src.copy" "$TMP/src.raw"
ln "$TMP/src.raw" "$TMP/hard.raw"
out=$("$FERRY" convert "$TMP/src.raw" "$TMP/hard.raw" 2>&1); rc=$?
is "convert X hardlink-to-X: exit 1" "$rc" 1
ok "... source bytes unchanged" cmp "$TMP/src.copy" "$TMP/src.raw"
out=$("$FERRY" convert "$TMP/src.qcow2" "$TMP/src.qcow2" 2>&1); rc=$?
is "convert Q.qcow2 Q.qcow2: exit 1" "$rc" 1
ok "... qcow2 source unchanged" cmp "$TMP/qcow2.copy" "$TMP/src.qcow2"
# a backing file is a chain member too
qemu-img create -q -f qcow2 -b src.raw -F raw "$TMP/delta.qcow2"
out=$("$FERRY" convert "$TMP/delta.qcow2" "$TMP/src.raw" 2>&1); rc=$?
is "convert DELTA BACKING: exit 1" "$rc" 1
ok "... backing file unchanged" cmp "$TMP/src.copy" "$TMP/src.raw"
ok "convert to a new file still works" "$FERRY" convert "$TMP/src.qcow2" "$TMP/new.raw"
ok "... and is right" cmp "$TMP/src.raw" "$TMP/new.raw"
done_testing
