#!/bin/bash
# The rados state backend (src/state/rados.c) against the project's own
# single-node Ceph (tests/lab/ceph-test.sh): the shared state suite over
# rados, locks between processes (owner seen by another process, kill -9
# and expiry, release after a break, racing takeovers), replay of 1,000 VM
# journals, and apply / plan / status / unlock / resume of a plan whose
# state lives in a pool, under a user with only the caps docs/ name.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
. "$TOP/tests/lab/ceph-test.sh"
PY=/usr/bin/python3
POOL=ferry-state
C=(-c "$CEPH_CONF")
ceph "${C[@]}" osd pool create "$POOL" 8 8 >/dev/null 2>&1
ceph "${C[@]}" osd pool application enable "$POOL" ferry >/dev/null 2>&1
ok "pool '$POOL' exists" rados "${C[@]}" -p "$POOL" ls
export FERRY_TEST_RADOS_CONF=$CEPH_CONF FERRY_TEST_RADOS_POOL=$POOL
ST=$TOP/tests/helpers/state-tool
now() { date +%s%N | cut -c1-13; }

# 1. the state suite, with its shared cases over rados too
out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$TOP/tests/unit/test-state" 2>&1); rc=$?
is "test-state over file, memory and rados: exit 0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | grep -v '^ok' | sed 's/^/# /' | head -20 >&2
is "... its 8 shared cases ran over rados and passed" \
  "$(grep -c '^ok .*(rados_backend)' <<<"$out")" 8
is "... and none failed" "$(grep -c '^not ok' <<<"$out")" 0

# hold OBJ SCOPE ARGS...: a state-tool holding a lock in the background
# until the file $HSTOP exists; sets HPID, HSTOP, HOUT (its output) and
# waits for its first line.
HN=0
hold() {
  local obj=$1; shift
  HN=$((HN + 1)); HSTOP=$TMP/hold.$HN.stop; HOUT=$TMP/hold.$HN.out
  "$ST" "$obj" lock "$@" --hold "$HSTOP" >"$HOUT" 2>&1 </dev/null & HPID=$!
  for _ in $(seq 200); do [ -s "$HOUT" ] && break; sleep 0.05; done
}

# 2. the owner is readable from another process
hold o2 vm:web01 --as migr07:4242
is "a holder takes vm web01's lock" "$(head -1 "$HOUT")" locked
ok "another process reads its owner (host, pid)" \
  grep -q "^held pid=4242 host=migr07 version=" <(FERRY_RADOS_LOCK_DURATION=5 "$ST" o2 read vm:web01)
fails_with "another process is refused, naming the owner" 1 \
  "busy: vm 'web01' is locked by pid 4242 on host 'migr07'" "$ST" o2 lock vm:web01 </dev/null
is "the plan lock is independent" "$("$ST" o2 read plan)" free
touch "$HSTOP"; wait "$HPID"
is "the holder still had its lock at release" "$(tail -1 "$HOUT")" lost=0
is "released: free" "$("$ST" o2 read vm:web01)" free

# 2b. a held lock is renewed every quarter of its duration, no more often
# (the heartbeat once waited on the wrong clock and renewed in a loop,
# ~100 OSD ops a second per lock): the OSD's op count over 3 s of a lock
# held with a 4 s duration is ~3 renewals and their records, not hundreds
osd_ops() { ceph --admin-daemon "$CEPH/run/osd.0.asok" perf dump 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["osd"]["op"])'; }
FERRY_RADOS_LOCK_DURATION=4 hold o2b vm:web01
ops0=$(osd_ops); sleep 3; ops1=$(osd_ops)
touch "$HSTOP"; wait "$HPID"
is "a lock held 3 s (duration 4 s) is still held at release" "$(tail -1 "$HOUT")" lost=0
ok "... and cost the OSD $((ops1 - ops0)) ops meanwhile (renewals once a second: at most 20)" \
  test "$((ops1 - ops0))" -le 20 -a "$((ops1 - ops0))" -ge 2

# 3. a holder killed -9: refused before its lock expires, takeable after
export FERRY_RADOS_LOCK_DURATION=5
hold o3 vm:web01 --as otherhost:4243
kill -9 "$HPID"; wait "$HPID" 2>/dev/null; t0=$(now)
fails_with "killed holder on another host: refused right after the kill" 1 \
  "busy: vm 'web01' is locked by pid 4243" "$ST" o3 lock vm:web01 --take-stale </dev/null
took=""
while [ $(($(now) - t0)) -lt 15000 ]; do
  if out=$("$ST" o3 lock vm:web01 --take-stale </dev/null 2>&1); then took=$(($(now) - t0)); break; fi
  sleep 0.25
done
ok "... taken once it expired" test -n "$took"
ok "... not before the 5 s duration (${took:-never} ms after the kill)" test "${took:-0}" -ge 4500
echo "# lock of a killed holder taken over ${took:-never} ms after kill -9 (duration 5 s)"
# the same kill on this host: its dead pid makes it stale at once
hold o3 vm:db01
kill -9 "$HPID"; wait "$HPID" 2>/dev/null
fails_with "killed holder on this host: a plain lock is refused" 1 "busy:" \
  "$ST" o3 lock vm:db01 </dev/null
ok "... take-stale takes it at once, naming the dead pid" \
  grep -q "^locked took $HPID" <("$ST" o3 lock vm:db01 --take-stale </dev/null)

# 4. a lock broken and retaken: the old holder's release leaves the new one
hold o4 plan
OLD=$HPID OLDSTOP=$HSTOP OLDOUT=$HOUT
ok "break --force names the live holder" grep -q "^removed pid=" <("$ST" o4 break plan --force)
hold o4 plan --as newhost:777
NEW=$HPID NEWSTOP=$HSTOP NEWOUT=$HOUT
is "a new holder takes it" "$(head -1 "$NEWOUT")" locked
sleep 4 # two renewal periods (duration/3): the old holder's was refused
touch "$OLDSTOP"; wait "$OLD"
is "the old holder knows its lock is lost" "$(tail -1 "$OLDOUT")" lost=1
ok "... and its release left the new holder's lock" \
  grep -q "^held pid=777 host=newhost" <("$ST" o4 read plan)
touch "$NEWSTOP"; wait "$NEW"
is "the new holder kept its lock all along" "$(tail -1 "$NEWOUT")" lost=0

# 5. takers racing with --take-stale: exactly one wins, on an expired lock
# (holder on another host, killed) and on a dead local holder (10 rounds)
race() { # race OBJ: 4 takers started together; prints how many won
  local i pids=()
  rm -f "$TMP"/race.*
  for i in 1 2 3 4; do
    "$ST" "$1" lock vm:web01 --take-stale --go "$TMP/race.go" \
      --hold "$TMP/race.stop" >"$TMP/race.$i.out" 2>&1 </dev/null & pids+=($!)
  done
  sleep 1 # all connected, waiting for go
  touch "$TMP/race.go"
  for _ in $(seq 600); do
    [ "$(cat "$TMP"/race.?.out 2>/dev/null | grep -c '^locked\|^busy')" = 4 ] && break
    sleep 0.05
  done
  touch "$TMP/race.stop"
  wait "${pids[@]}" 2>/dev/null
  grep -l '^locked' "$TMP"/race.?.out | wc -l
}
hold o5 vm:web01 --as otherhost:4244
kill -9 "$HPID"; wait "$HPID" 2>/dev/null
sleep 6
is "expired lock, 4 racing takers: exactly one wins" "$(race o5)" 1
bad=0
for r in $(seq 10); do
  hold o5r$r vm:web01
  kill -9 "$HPID"; wait "$HPID" 2>/dev/null
  [ "$(race o5r$r)" = 1 ] || bad=$((bad + 1))
done
is "dead local holder, 4 racing takers, 10 rounds: one winner each" "$bad" 0
unset FERRY_RADOS_LOCK_DURATION

# 6. 1,000 VM journals replay fast
ok "fill 1,000 VM journals (3 events each)" "$ST" o6 fill 1000
# a listed VM without a journal object, and one whose object only a lock
# made (empty): both replay as nothing
rados "${C[@]}" -p "$POOL" setomapval o6 vm.ghost ''
rados "${C[@]}" -p "$POOL" setomapval o6 vm.empty ''
"$ST" o6 lock vm:empty >/dev/null
ok "... the lock left an empty object" test "$(rados "${C[@]}" -p "$POOL" stat o6.vm.empty | sed 's/.*size //')" = 0
out=$("$ST" o6 replay)
is "replay: 1,000 steps, nothing bad" "$(sed 's/ ms=.*//' <<<"$out")" "steps=1000 bad=0"
ms=$(sed 's/.*ms=//' <<<"$out")
echo "# 1,000 VM journals replayed in $ms ms (connect included)"
ok "... in under 2 s" test "$ms" -lt 2000

# 7. the cluster pauses (the OSD stopped): appends wait and carry on; a
# lock not renewed for longer than its duration is lost, and stays free
OSD=$(cat "$CEPH/pids/osd")
"$ST" o7 fill 400 >"$TMP/fill7.out" 2>&1 & fp=$!
sleep 0.5; kill -0 "$fp" 2>/dev/null; running=$?
kill -STOP "$OSD"; sleep 3; kill -CONT "$OSD"
wait "$fp"; rc=$?
is "the appends were under way when the OSD stopped" "$running" 0
is "appends across a 3 s OSD pause: exit 0" "$rc" 0
is "... replay has them all" "$("$ST" o7 replay | sed 's/ ms=.*//')" "steps=400 bad=0"
export FERRY_RADOS_LOCK_DURATION=5
hold o7 vm:web01
kill -STOP "$OSD"; sleep 7; kill -CONT "$OSD"
sleep 3 # the renewal stuck in the pause is answered: refused
touch "$HSTOP"; wait "$HPID"
is "a lock unrenewed past its duration (OSD paused 7 s) is lost" "$(tail -1 "$HOUT")" lost=1
is "... and its late renewal did not take it back" "$("$ST" o7 read vm:web01)" free
unset FERRY_RADOS_LOCK_DURATION
# an owner's host name with the cookie's separators reads back as it was
hold o7 vm:odd --as 'm;i%g r:42'
ok "an owner host with ';', '%' and ' ' reads back" \
  grep -q "^held pid=42 host=m;i%g r version=" <("$ST" o7 read vm:odd)
touch "$HSTOP"; wait "$HPID"

# 8. end to end: a plan whose state is in the pool, as a user with only
# mon 'allow r' and osd 'allow rwx pool=ferry-state'
ceph "${C[@]}" auth get-or-create client.ferry mon 'allow r' \
  osd "allow rwx pool=$POOL" >>"$CEPH/keyring" 2>/dev/null
W=$TMP/w
mkdir -p "$W/src"
head -c $((32 << 20)) /dev/urandom >"$W/src/a.raw"
head -c $((12 << 20)) /dev/urandom >"$W/src/b.raw"
cat >"$W/plan.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: rstate}
state: {backend: rados, pool: $POOL, conf: $CEPH_CONF, user: ferry}
sources:
  d: {type: directory, path: src}
targets:
  t: {type: local, path: out}
defaults: {target: t}
vms:
  - name: web01
    source: d
    disks:
      - {file: a.raw}
  - name: db01
    source: d
    disks:
      - {file: b.raw}
YAML
APPLY=("$FERRY" apply --yes --io-threads 1 --checkpoint-interval 1M "$W/plan.yaml")
get() { rados "${C[@]}" -p "$POOL" get "$1" - 2>/dev/null; }
ok "plan with rados state: apply converges" "${APPLY[@]}"
ok "... web01's disk equals the source" cmp "$W/src/a.raw" "$W/out/web01-disk0.raw"
ok "... db01's disk equals the source" cmp "$W/src/b.raw" "$W/out/db01-disk0.raw"
ok "plan --detailed-exitcode afterwards: 0" "$FERRY" plan --detailed-exitcode "$W/plan.yaml"
ok "the plan object lists both VMs" \
  test "$(rados "${C[@]}" -p "$POOL" listomapkeys rstate | sort | tr '\n' ' ')" = "vm.db01 vm.web01 "
ok "each VM has its own journal object" \
  sh -c 'rados -c "$1" -p "$2" get rstate.vm.web01 - | grep -q "\"step\":\"web01/convert/disk0\",\"event\":\"done\"" &&
         ! rados -c "$1" -p "$2" get rstate.vm.web01 - | grep -q db01' _ "$CEPH_CONF" "$POOL"
out=$("$FERRY" status "$W/plan.yaml" 2>&1)
ok "status reads the pool" grep -q "web01/convert/disk0 *done" <<<"$out"
ok "... both VMs" grep -q "db01/convert/disk0 *done" <<<"$out"
is "status --json names the backend" \
  "$("$FERRY" status --json "$W/plan.yaml" | $PY -c 'import json,sys; print(json.load(sys.stdin)["backend"])')" rados

# kill -9 mid-convert, then rerun: resumes from the checkpoint in the pool
rm -rf "$W/out"; rados "${C[@]}" -p "$POOL" rm rstate.vm.web01; rados "${C[@]}" -p "$POOL" rm rstate.vm.db01
FERRY_TEST_CHUNK_DELAY_MS=150 "${APPLY[@]}" >"$TMP/killed.out" 2>&1 & pid=$!
off=""
for _ in $(seq 1 1000); do
  off=$(get rstate.vm.web01 | grep '"checkpoint"' | tail -1 | sed 's/.*"offset":\([0-9]*\).*/\1/')
  [ -n "$off" ] && [ "$off" -ge $((8 << 20)) ] && break
  sleep 0.02
done
kill -9 "$pid"; wait "$pid" 2>/dev/null
ok "killed mid-disk: a checkpoint of >= 8 MiB in web01's journal object (${off:-none})" \
  test "${off:-0}" -ge $((8 << 20))
ok "... the dead apply's plan lock is still there" \
  grep -q "pid=$pid" <("$ST" rstate read plan)
out=$("${APPLY[@]}" 2>&1); rc=$?
is "rerun: exit 0" "$rc" 0
ok "... takes over the dead apply's lock" grep -q "taking over the lock of pid $pid" <<<"$out"
ok "... resumes from the checkpoint" grep -q "resuming from" <<<"$out"
ok "... web01's disk equals the source" cmp "$W/src/a.raw" "$W/out/web01-disk0.raw"
ok "... db01's disk equals the source" cmp "$W/src/b.raw" "$W/out/db01-disk0.raw"
ok "... plan --detailed-exitcode: 0" "$FERRY" plan --detailed-exitcode "$W/plan.yaml"

# ferry unlock: a killed apply's lock is removed, then there is none
rm -rf "$W/out"
FERRY_TEST_CHUNK_DELAY_MS=500 "$FERRY" apply --yes "$W/plan.yaml" >/dev/null 2>&1 & pid=$!
for _ in $(seq 200); do
  grep -q "pid=$pid" <("$ST" rstate read plan) && break; sleep 0.05
done
kill -9 "$pid"; wait "$pid" 2>/dev/null
fails_with "unlock removes the killed apply's lock" 0 "removed lock of pid $pid" \
  "$FERRY" unlock "$W/plan.yaml"
fails_with "unlock again: not locked" 0 "not locked" "$FERRY" unlock "$W/plan.yaml"
rm -rf "$W/out" # a whole conversion to do, one thread, paced: it runs for
                # many seconds, longer than the polls (a Ceph client each)
fails_with "unlock of a live apply is refused" 1 "still running|--force" \
  sh -c 'FERRY_TEST_CHUNK_DELAY_MS=1000 "$1" apply --yes --io-threads 1 "$2" >/dev/null 2>&1 & p=$!
         for i in $(seq 200); do "$3" rstate read plan | grep -q "pid=$p" && break; sleep 0.05; done
         "$1" unlock "$2"; rc=$?; kill -9 $p; wait $p 2>/dev/null; exit $rc' _ "$FERRY" "$W/plan.yaml" "$ST"
done_testing
