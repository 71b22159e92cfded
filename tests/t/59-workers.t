#!/bin/bash
# apply --worker on the file backend: several ferry processes apply one plan
# together (issue 12).  Every VM converted exactly once, depends_on kept
# across workers, no idle worker, a plain apply and the workers exclude each
# other (also while a worker holds no VM: the wave lock), one plan file per
# wave, a killed worker's VM is taken over and resumed, a failing VM is
# tried once per wave and blocks only its dependants; status shows the
# host's bytes and rate and the blocked VMs.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/workers-lib.sh"
cd "$TMP" || exit 1
STATE=
dump() { cat "$1/.ferry/$1.state"; }
# gate_open N: wait for N workers at FERRY_TEST_WORKER_GATE=$TMP/gate, then
# let them all go (so that each starts its wave before any VM is done)
gate_open() {
  for _ in $(seq 1 1000); do
    [ "$(ls "$TMP"/gate.* 2>/dev/null | wc -l)" -ge "$1" ] && break; sleep 0.01
  done
  touch "$TMP/gate"
}
gate_reset() { rm -f "$TMP"/gate "$TMP"/gate.*; }

# -- 3 workers, 30 VMs, depends_on across VMs ---------------------------
make_plan wave 30 "vm05: depends_on: [vm20]" "vm10: depends_on: [vm29, vm30]" \
  "vm01: depends_on: [vm30]"
pids=()
gate_reset
for w in 1 2 3; do
  (cd wave && FERRY_TEST_WORKER_GATE=$TMP/gate FERRY_TEST_CHUNK_DELAY_MS=30 \
    exec "$FERRY" apply --worker --yes -p 2 plan.yaml >"../w$w.out" 2>&1) & pids+=($!)
done
gate_open 3
rcs=
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs $?"; done
is "3 workers: all exit 0" "$rcs" " 0 0 0"
dump wave >wave.j
is "every step began exactly once (60 steps: 30 converts, 30 defines)" \
  "$(steps_begun wave.j | awk '$1 != 1' | wc -l) $(steps_begun wave.j | wc -l)" "0 60"
n_ok=0
for i in $(seq -w 1 30); do
  cmp -s "wave/src/vm$i.raw" "wave/out/vm$i-disk0.raw" && n_ok=$((n_ok + 1))
done
is "every target equals its source" "$n_ok" 30
mine=$(sed -n 's/.*done (\([0-9]*\) by this worker.*/\1/p' w1.out w2.out w3.out | tr '\n' ' ')
is "the workers' own counts add up to 30" "$(echo $mine | tr ' ' '+' | bc)" 30
ok "no idle worker: each did at least one VM ($mine)" \
  bash -c '[ "$(echo $0 | tr " " "\n" | grep -c "^0$")" = 0 ]' "$mine"
ok "each worker says 30 of 30 VMs done" \
  bash -c '[ "$(grep -l "30 of 30 VMs done" w1.out w2.out w3.out | wc -l)" = 3 ]'
for d in "vm05 vm20" "vm10 vm29" "vm10 vm30" "vm01 vm30"; do
  set -- $d
  b=$(time_of wave.j "$1/define" begin); e=$(time_of wave.j "$2/define" done)
  ok "depends_on: $1 defined after $2 was done ($b >= $e)" test "$b" -ge "$e"
done
ok "no VM lock left behind" bash -c '! ls wave/.ferry/*.lock 2>/dev/null | grep -q .'
fails_with "a worker on a done plan: nothing to do, exit 0" 0 "30 of 30 VMs done \(0 by this worker" \
  bash -c 'cd wave && exec "$0" apply --worker --yes plan.yaml' "$FERRY"
fails_with "--worker needs --yes" 1 "needs --yes" \
  bash -c 'cd wave && exec "$0" apply --worker plan.yaml </dev/null' "$FERRY"
fails_with "--worker does not dry-run" 1 "dry-run" \
  bash -c 'cd wave && exec "$0" apply --worker --yes -n plan.yaml' "$FERRY"

# -- a plain apply and the workers exclude each other -------------------
make_plan excl 2
head -c $((64 << 20)) /dev/urandom >excl/src/vm01.raw
(cd excl && FERRY_TEST_CHUNK_DELAY_MS=150 exec "$FERRY" apply --worker --yes \
  -p 1 --io-threads 1 --checkpoint-interval 1M plan.yaml >../x1.out 2>&1) & W=$!
for _ in $(seq 1 500); do ls excl/.ferry/*vm01*.lock >/dev/null 2>&1 && break; sleep 0.01; done
fails_with "a plain apply while a worker holds a VM: refused" 1 \
  "vm 'vm01' is being applied by a worker \(pid $W" \
  bash -c 'cd excl && exec "$0" apply --yes plan.yaml' "$FERRY"
fails_with "status names the worker holding vm01" 0 "^  vm 'vm01': pid $W on host" \
  bash -c 'cd excl && exec "$0" status plan.yaml' "$FERRY"
fails_with "... and its host running one VM" 0 "^hosts: $(hostname): 1 VM running" \
  bash -c 'cd excl && exec "$0" status plan.yaml' "$FERRY"
# the host's bytes and rate come from the checkpoints of the VMs it runs
hl=
for _ in $(seq 1 300); do
  hl=$(cd excl && "$FERRY" status plan.yaml 2>/dev/null | grep "^hosts: ")
  grep -Eq "running, [1-9][0-9.]* MiB copied" <<<"$hl" && break
  sleep 0.02
done
ok "status: the host's MiB copied and rate, from the checkpoints ($hl)" \
  grep -Eq "^hosts: $(hostname): 1 VM running, [1-9][0-9]*\.[0-9] MiB copied at [0-9]+\.[0-9] MiB/s$" <<<"$hl"
mib=$(sed -n 's/.*running, \([0-9]*\)\.[0-9] MiB copied.*/\1/p' <<<"$hl")
ok "... at most the disk's 64 MiB ($mib)" test "${mib:-99}" -le 64
fails_with "unlock --vm refuses a live worker's lock" 1 "pid $W" \
  bash -c 'cd excl && exec "$0" unlock --vm vm01 plan.yaml' "$FERRY"
fails_with "unlock --vm names an unknown VM" 1 "has no vm 'nosuch'" \
  bash -c 'cd excl && exec "$0" unlock --vm nosuch plan.yaml' "$FERRY"
wait $W; rc=$?
is "... the worker finishes: exit 0" "$rc" 0
ok "... its target equals the source" cmp excl/src/vm01.raw excl/out/vm01-disk0.raw
rm -rf excl/out excl/.ferry
(cd excl && FERRY_TEST_CHUNK_DELAY_MS=150 exec "$FERRY" apply --yes -p 1 \
  --io-threads 1 plan.yaml >../x2.out 2>&1) & A=$!
for _ in $(seq 1 500); do [ -s excl/.ferry/excl.state.lock ] && break; sleep 0.01; done
out=$(cd excl && "$FERRY" apply --worker --yes plan.yaml 2>&1); rc=$?
wait $A; arc=$?
is "a worker started during a plain apply waits for it, then exits 0" "$rc $arc" "0 0"
ok "... and had nothing left to do" grep -q "2 of 2 VMs done (0 by this worker" <<<"$out"
dump excl >excl.j
is "... each step began once" "$(steps_begun excl.j | awk '$1 != 1' | wc -l)" 0

# -- the wave lock: one plan file per wave, nothing plain beside workers --
# A worker at the gate holds its share of the wave lock but no VM lock (as
# between two VMs): the VM-lock checks alone would let these through.
make_plan wl 2
gate_reset
(cd wl && FERRY_TEST_WORKER_GATE=$TMP/gate exec "$FERRY" apply --worker --yes \
  plan.yaml >../wl1.out 2>&1) & W=$!
for _ in $(seq 1 1000); do ls "$TMP"/gate.* >/dev/null 2>&1 && break; sleep 0.01; done
ok "a worker that joined the wave holds no VM lock yet" \
  bash -c '! ls wl/.ferry/*.vm.*.lock 2>/dev/null | grep -q .'
fails_with "a plain apply beside it: refused" 1 \
  "being applied by workers.*join the wave with 'ferry apply --worker'" \
  bash -c 'cd wl && exec "$0" apply --yes plan.yaml' "$FERRY"
fails_with "unlock --force beside it: refused" 1 \
  "removes only the locks of runs that ended" \
  bash -c 'cd wl && exec "$0" unlock --force --vm vm01 plan.yaml' "$FERRY"
cp wl/plan.yaml wl/plan2.yaml
echo "# edited on another host" >>wl/plan2.yaml
h1=$(sha256sum <wl/plan.yaml | cut -c1-64)
h2=$(sha256sum <wl/plan2.yaml | cut -c1-64)
fails_with "a worker with another version of the plan: refused, both hashes named" 1 \
  "run another plan file \(sha256 $h1; this one is $h2\): every host of a wave must apply the same plan file" \
  bash -c 'cd wl && exec "$0" apply --worker --yes plan2.yaml' "$FERRY"
ok "... nothing was begun" bash -c '! grep -q "\"event\":\"begin\"" wl/.ferry/wl.state 2>/dev/null'
kill -9 $W; wait $W 2>/dev/null
out=$(cd wl && "$FERRY" apply --worker --yes plan2.yaml 2>&1); rc=$?
is "the worker killed, its share is gone: the new plan's worker runs, exit 0" "$rc" 0
ok "... and does both VMs" grep -q "2 of 2 VMs done (2 by this worker" <<<"$out"
n_ok=0
for i in 01 02; do cmp -s "wl/src/vm$i.raw" "wl/out/vm$i-disk0.raw" && n_ok=$((n_ok + 1)); done
is "... targets equal their sources" "$n_ok" 2
ok "a plain apply after the wave: runs (exit 0)" \
  bash -c 'cd wl && exec "$0" apply --yes plan2.yaml >/dev/null 2>&1' "$FERRY"

# -- a worker killed mid-convert: another takes the VM over and resumes --
make_plan kill 3
head -c $((32 << 20)) /dev/urandom >kill/src/vm02.raw
(cd kill && FERRY_TEST_CHUNK_DELAY_MS=150 exec "$FERRY" apply --worker --yes \
  -p 3 --io-threads 1 --checkpoint-interval 1M plan.yaml >../k1.out 2>&1) & K=$!
off=
for _ in $(seq 1 1000); do
  off=$(grep '"step":"vm02/convert/disk0","event":"checkpoint"' kill/.ferry/kill.state 2>/dev/null |
    tail -1 | sed 's/.*"offset":\([0-9]*\).*/\1/')
  [ -n "$off" ] && [ "$off" -ge $((8 << 20)) ] && break
  sleep 0.01
done
kill -9 $K; wait $K 2>/dev/null
ok "killed a worker after a checkpoint of >= 8 MiB ($off)" test -n "$off" -a "${off:-0}" -ge $((8 << 20))
ok "... its VM lock stays behind" bash -c 'ls kill/.ferry/*vm02*.lock >/dev/null 2>&1'
out=$(cd kill && "$FERRY" status plan.yaml 2>&1)
ok "... status calls it stale" grep -q "vm 'vm02': pid $K on host .*(stale: that process is gone" <<<"$out"
ok "... and counts vm02 running (its lock is held)" grep -q "^VMs: 3, .* 1 running" <<<"$out"
out=$(cd kill && "$FERRY" status --json plan.yaml 2>&1)
is "... status --json: the lock, stale" \
  "$(python3 -c 'import json,sys; j=json.load(sys.stdin); print([(l["vm"], l["pid"], l["stale"]) for l in j["locks"]])' <<<"$out")" \
  "[('vm02', $K, True)]"
out=$(cd kill && "$FERRY" apply --worker --yes --checkpoint-interval 1M plan.yaml 2>&1); rc=$?
is "a second worker: exit 0" "$rc" 0
ok "... takes over the dead worker's VM" grep -q "vm 'vm02': taking over the lock of pid $K" <<<"$out"
ok "... and resumes from its checkpoint" grep -q "vm02/convert/disk0.*resuming from" <<<"$out"
ok "... the target equals the source" cmp kill/src/vm02.raw kill/out/vm02-disk0.raw
n_ok=0
for i in 01 03; do cmp -s "kill/src/vm$i.raw" "kill/out/vm$i-disk0.raw" && n_ok=$((n_ok + 1)); done
is "... the other VMs are right too" "$n_ok" 2

# -- a VM that fails: tried once per wave, blocks only its dependants ----
make_plan fail 6 "vm04: depends_on: [vm03]" "vm05: depends_on: [vm04]"
mkdir -p fail/out/vm03-disk0.raw.part   # convert cannot write its .part
# both workers start before vm03 fails (a worker started after a failure
# would retry it: that is a new wave)
pids=()
gate_reset
for w in 1 2; do
  (cd fail && FERRY_TEST_WORKER_GATE=$TMP/gate exec "$FERRY" apply --worker --yes \
    plan.yaml >"../f$w.out" 2>&1) & pids+=($!)
done
gate_open 2
rcs=
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs $?"; done
is "a failing VM: both workers exit 1" "$rcs" " 1 1"
dump fail >fail.j
is "... its convert was tried once, not once per worker" \
  "$(grep -c '"step":"vm03/convert/disk0","event":"begin"' fail.j)" 1
ok "... its dependants were not started" \
  bash -c '! grep -Eq "\"step\":\"vm0[45]/[a-z]*(/disk0)?\",\"event\":\"begin\"" fail.j'
n_ok=0
for i in 01 02 06; do cmp -s "fail/src/vm$i.raw" "fail/out/vm$i-disk0.raw" && n_ok=$((n_ok + 1)); done
is "... the other VMs are done" "$n_ok" 3
ok "... a worker says 3 of 6 done, 1 failed, 2 blocked" \
  grep -q "3 of 6 VMs done.*1 failed, 2 blocked" f1.out f2.out
ok "... and names the failed VM" grep -q "vm 'vm03' failed" f1.out f2.out
fails_with "status counts vm03 failed and its 2 dependants blocked" 0 \
  "^VMs: 6, 3 done, 0 running, 1 failed, 2 blocked, 0 in progress, 0 not started$" \
  bash -c 'cd fail && exec "$0" status plan.yaml' "$FERRY"
rmdir fail/out/vm03-disk0.raw.part
out=$(cd fail && "$FERRY" apply --worker --yes plan.yaml 2>&1); rc=$?
is "after the fix, the next worker retries it: exit 0" "$rc" 0
ok "... 6 of 6 VMs done" grep -q "6 of 6 VMs done (3 by this worker" <<<"$out"
done_testing
