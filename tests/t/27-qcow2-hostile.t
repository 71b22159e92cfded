#!/bin/bash
# Hostile qcow2 images (tests/gen/qcow2-hostile.py): truncations, header
# fields at 0/max/past EOF, L1/L2 entries pointing at metadata or past EOF,
# corrupt compressed clusters, backing loops.  ferry convert must exit
# exactly 1 with an error line naming the image and the problem (no crash,
# no hang, no sanitizer report); ferry inspect exits exactly 1 (the problem
# is in a table); the odd-but-valid ones must read as qemu reads them.
. "$(dirname "$0")/../lib.sh"
/usr/bin/python3 "$TOP/tests/gen/qcow2-hostile.py" "$TMP/c" || { echo "not ok 1 - corpus"; exit 1; }
cd "$TMP/c" || exit 1
n=0
for f in bad-*.qcow2; do
  n=$((n + 1))
  re=".*'([^']*/)?${f//./\\.}'.*(qcow2|loop)"
  fails_with "$f: convert exits 1 with an error naming the image and the problem" 1 \
    "^ferry: error: $re" timeout 60 "$FERRY" convert "$f" "$TMP/out.raw"
  rm -f "$TMP/out.raw"
  # inspect walks tables and does not inflate data: a garbage compressed
  # cluster is no table problem (docs/ferry.1.md: inspect), the rest are
  if [ "$f" = bad-z-garbage.qcow2 ]; then
    ok "$f: inspect exits 0 (damage in data, not tables)" timeout 60 "$FERRY" inspect --json "$f"
  else
    fails "$f: inspect exits 1" 1 timeout 60 "$FERRY" inspect --json "$f"
  fi
done
ok "corpus has at least 70 hostile images ($n)" test "$n" -ge 70
for f in good-*.qcow2; do
  qemu-img convert -O raw "$f" "$TMP/oracle.raw"
  ok "$f: reads as qemu reads it" sh -c '"$1" convert "$2" "$3" 2>/dev/null && cmp "$3" "$4"' \
    _ "$FERRY" "$f" "$TMP/out.raw" "$TMP/oracle.raw"
done
done_testing
