#!/bin/bash
# Two plans writing the same target file (same directory and VM name,
# different metadata.name and journals): the second apply fails that step
# naming the writer, and the target ends as the first plan's disk.
. "$(dirname "$0")/../lib.sh"

W=$TMP/w
mkdir -p "$W/a" "$W/b"
head -c $((32 << 20)) /dev/urandom >"$W/a/disk.raw"
head -c $((32 << 20)) /dev/urandom >"$W/b/disk.raw"
for p in a b; do
  cat >"$W/plan-$p.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: plan-$p}
state: {backend: file, path: state/plan-$p.state}
sources:
  d: {type: directory, path: $p}
targets:
  t: {type: local, path: out}
defaults: {target: t}
vms:
  - name: web01
    source: d
    disks:
      - {file: disk.raw}
YAML
done
T=$W/out/web01-disk0.raw

# plan a, slowed down (150 ms per 4 MiB chunk: about 1.2 s)
FERRY_TEST_CHUNK_DELAY_MS=150 "$FERRY" apply --yes --io-threads 1 "$W/plan-a.yaml" >"$TMP/a.out" 2>&1 & apid=$!
for _ in $(seq 1 500); do
  grep -q '"checkpoint"\|"begin"' "$W/state/plan-a.state" 2>/dev/null && test -e "$T.part" && break
  sleep 0.01
done
ok "plan a is converting" test -e "$T.part"
out=$("$FERRY" apply --yes --io-threads 1 "$W/plan-b.yaml" 2>&1); rc=$?
is "plan b while a writes the same target: exit 1" "$rc" 1
want="target '$T' is being written by pid $apid on host $(hostname)"
ok "... naming the writer" bash -c 'grep -qF "$1" <<<"$2" || { echo "want: $1"; echo "got: $2"; exit 1; }' - "$want" "$out"
wait "$apid"; rc=$?
is "plan a: exit 0" "$rc" 0
ok "the target is plan a's disk, whole" cmp "$W/a/disk.raw" "$T"
out=$("$FERRY" plan --detailed-exitcode "$W/plan-b.yaml" 2>&1); rc=$?
is "plan b afterwards: blocked → 2" "$rc" 2
ok "... the target was not written by plan b" grep -q "exists but was not written by ferry for this plan" <<<"$out"
out=$("$FERRY" apply --yes "$W/plan-b.yaml" 2>&1); rc=$?
is "apply b afterwards: exit 1" "$rc" 1
ok "... plan a's disk left alone" cmp "$W/a/disk.raw" "$T"
ok "no lock or temporary files left" test -z "$(find "$W/out" -name '*.part*' -o -name '*.lock')"

# a writer killed with -9 leaves no lock: the next apply takes over
rm -rf "$W/out" "$W/state"
FERRY_TEST_CHUNK_DELAY_MS=150 "$FERRY" apply --yes --io-threads 1 "$W/plan-a.yaml" >/dev/null 2>&1 & apid=$!
for _ in $(seq 1 500); do test -e "$T.part" && break; sleep 0.01; done
kill -9 "$apid"; wait "$apid" 2>/dev/null
# a writer killed inside a renewal leaves its new file "<target>.part.<pid>"
touch "$T.part.4194999" "$W/out/other.raw.part.4194999"
ok "after kill -9 of plan a, plan b converts" "$FERRY" apply --yes "$W/plan-b.yaml"
ok "... a renewal's file left by a killed writer is removed" test ! -e "$T.part.4194999"
ok "... another target's is not touched" test -e "$W/out/other.raw.part.4194999"
rm -f "$W/out/other.raw.part.4194999"
ok "... the target is plan b's disk" cmp "$W/b/disk.raw" "$T"
done_testing
