#!/bin/bash
# Hostile VMDK images (tests/gen/hostile-vmdk.py): truncations, every header
# field at 0 / max / past EOF, grain directory and table entries pointing
# at metadata or past the end, bad compressed grains, descriptor garbage.
# Each must fail with exit status exactly 1 and an "error:" line naming
# the image: no crash, no hang, no sanitizer report.
. "$(dirname "$0")/../lib.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img not installed"
/usr/bin/python3 "$TOP/tests/gen/hostile-vmdk.py" "$TMP/h" >/dev/null ||
  { echo "1..1"; echo "not ok 1 - hostile-vmdk.py generates the corpus"; exit 1; }
cd "$TMP/h" || exit 1
n=0
for f in case-*.vmdk; do
  n=$((n + 1))
  fails_with "$f: exit 1, an error naming the image" 1 \
    "^ferry: error: .*'([^']*/)?${f//./\\.}'" \
    timeout 20 "$FERRY" convert "$f" "$TMP/out.raw"
  rm -f "$TMP/out.raw"
done
out=$(timeout 20 "$FERRY" inspect case-hdr-version-0.vmdk 2>&1); rc=$?
is "inspect of a hostile image: exit 1" "$rc" 1
is "errors name the file and the field" \
  "$(printf '%s\n' "$out" | grep -c "case-hdr-version-0.vmdk.*version")" 1
ok "at least 100 hostile cases" test "$n" -ge 100
done_testing
