#!/bin/bash
# Hostile qcow2 images (tests/gen/qcow2-hostile.py): truncations, header
# fields at 0/max/past EOF, L1/L2 entries pointing at metadata or past EOF,
# corrupt compressed clusters, backing loops.  ferry convert must exit
# exactly 1 with an error line (no crash, no hang); ferry inspect must not
# crash; the odd-but-valid ones must read as qemu reads them.
. "$(dirname "$0")/../lib.sh"
/usr/bin/python3 "$TOP/tests/gen/qcow2-hostile.py" "$TMP/c" || { echo "not ok 1 - corpus"; exit 1; }
cd "$TMP/c" || exit 1
n=0
for f in bad-*.qcow2; do
  n=$((n + 1))
  out=$(timeout 60 "$FERRY" convert "$f" "$TMP/out.raw" 2>&1); rc=$?
  is "$f: convert exits 1" "$rc" 1
  ok "$f: one error line naming the problem" grep -q '^ferry: error: .*\(qcow2\|loop\|cannot open\)' <<<"$out"
  timeout 60 "$FERRY" inspect --json "$f" >/dev/null 2>&1; rc=$?
  ok "$f: inspect exits 0 or 1 (rc $rc)" test "$rc" -le 1
done
ok "corpus has at least 70 hostile images ($n)" test "$n" -ge 70
for f in good-*.qcow2; do
  qemu-img convert -O raw "$f" "$TMP/oracle.raw"
  ok "$f: reads as qemu reads it" sh -c '"$1" convert "$2" "$3" 2>/dev/null && cmp "$3" "$4"' \
    _ "$FERRY" "$f" "$TMP/out.raw" "$TMP/oracle.raw"
done
done_testing
