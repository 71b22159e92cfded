#!/bin/bash
# Ctrl-C (SIGINT) during apply: the running conversion stops at a chunk
# boundary and records a checkpoint, the lock is released, the exit status
# is 130, and the next apply resumes from the checkpoint.
. "$(dirname "$0")/../lib.sh"
# The test hook FERRY_TEST_CHUNK_DELAY_MS (src/disk/convert.c) paces the
# converter at one 4 MiB chunk per 200 ms, so the 32 MiB disk takes 1.6 s
# and the signal always lands mid-conversion, on any machine.
mkdir -p "$TMP/src"
openssl enc -aes-128-ctr -nosalt -pass pass:interrupt </dev/zero 2>/dev/null |
  head -c $((32 << 20)) >"$TMP/src/big.raw"
cat >"$TMP/plan.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: intr}
state: {backend: file, path: state/intr.state}
sources: {s: {type: directory, path: src}}
targets: {t: {type: local, path: out}}
defaults: {source: s, target: t}
vms:
  - name: big
    disks: [{file: big.raw}]
YAML
FERRY_TEST_CHUNK_DELAY_MS=200 "$FERRY" apply --yes --io-threads 1 --checkpoint-interval 8M \
  "$TMP/plan.yaml" >"$TMP/a.out" 2>&1 & A=$!
for _ in $(seq 1 1000); do
  [ -e "$TMP/out/big-disk0.raw.part" ] && grep -q checkpoint "$TMP/state/intr.state" 2>/dev/null && break
  sleep 0.01
done
ok "the lock is held while converting" test -s "$TMP/state/intr.state.lock"
kill -INT "$A"; wait "$A"; rc=$?
is "SIGINT: exit status 130" "$rc" 130
ok "the conversion was cut mid-disk (.part left, no target)" \
  sh -c 'test -e "$1.part" && test ! -e "$1"' _ "$TMP/out/big-disk0.raw"
ok "the lock is released" test ! -e "$TMP/state/intr.state.lock"
ok "the journal has a checkpoint" grep -q '"checkpoint"' "$TMP/state/intr.state"
ok "the step is reported interrupted" grep -q "big/convert/disk0: skipped: interrupted" "$TMP/a.out"
out=$("$FERRY" apply --yes "$TMP/plan.yaml" 2>&1); rc=$?
is "next apply succeeds" "$rc" 0
ok "... resuming from the checkpoint" grep -q "resuming from [1-9]" <<<"$out"
ok "result equals the source" cmp "$TMP/src/big.raw" "$TMP/out/big-disk0.raw"
done_testing
