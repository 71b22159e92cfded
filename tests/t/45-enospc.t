#!/bin/bash
# A real fault: the target file system fills up (a 16 MiB tmpfs).  convert
# and apply must fail with a clear error naming the target, not hang, keep
# the source untouched, and a later apply on a roomy target must converge.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || { echo "not ok 1 - needs root to mount a small tmpfs"; exit 1; }
mkdir -p "$TMP/small" "$TMP/src"
mount -t tmpfs -o size=16m ferry-test "$TMP/small" || { echo "not ok 1 - cannot mount tmpfs"; exit 1; }
trap 'umount "$TMP/small" 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
openssl enc -aes-128-ctr -nosalt -pass pass:enospc </dev/zero 2>/dev/null |
  head -c $((48 << 20)) >"$TMP/src/a.raw"
qemu-img convert -O qcow2 "$TMP/src/a.raw" "$TMP/src/a.qcow2"
before=$(sha256sum "$TMP/src/a.qcow2"; stat -c %Y "$TMP/src/a.qcow2")

out=$(timeout 120 "$FERRY" convert "$TMP/src/a.qcow2" "$TMP/small/a.raw" 2>&1); rc=$?
is "convert into a full file system exits 1" "$rc" 1
ok "... with a clear error naming the target" grep -q "ferry: error: cannot write to '$TMP/small/a.raw'.*No space left on device" <<<"$out"

cat >"$TMP/plan.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: full}
state: {backend: file, path: state/full.state}
sources: {s: {type: directory, path: src}}
targets: {t: {type: local, path: small/out}}
defaults: {source: s, target: t}
vms:
  - name: a
    disks: [{file: a.qcow2}]
  - name: b
    disks: [{file: a.raw}]
YAML
rm -f "$TMP/small/a.raw"
out=$(timeout 120 "$FERRY" apply --yes --parallel 2 "$TMP/plan.yaml" 2>&1); rc=$?
is "apply with a full target exits 1" "$rc" 1
ok "... the failed step says why" grep -q "No space left on device" <<<"$out"
ok "... the journal records the failure" grep -q '"event":"fail"' "$TMP/state/full.state"
ok "... dependants are skipped, not run" grep -Eq "(a|b)/define: skipped: dependency" <<<"$out"
is "source untouched" "$(sha256sum "$TMP/src/a.qcow2"; stat -c %Y "$TMP/src/a.qcow2")" "$before"
# give it room: the same plan converges
umount "$TMP/small"
ok "after making room, apply converges" "$FERRY" apply --yes "$TMP/plan.yaml"
ok "... with the right bytes" cmp "$TMP/src/a.raw" "$TMP/small/out/a-disk0.raw"
done_testing
