#!/bin/bash
# Locks: two concurrent applies → one refused with the owner's details;
# stale locks; ferry unlock (--force only once no run is alive).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/example-lib.sh"
LOCK=$STATE/example-local.state.lock
WAVE=$STATE/example-local.state.wave
# holds_wave PID: PID holds the wave lock (an flock on $WAVE, /proc/locks)
holds_wave() {
  local ino
  ino=$(stat -c %i "$WAVE" 2>/dev/null) || return 1
  awk -v p="$1" -v i="$ino" '$2 == "FLOCK" && $5 == p &&
    $6 ~ (":" i "$") { f = 1 } END { exit !f }' /proc/locks
}
# FERRY_TEST_CHUNK_DELAY_MS (a test hook in src/disk/convert.c) slows the
# converter (144 chunks of the example x 10 ms > 1.4 s) so an apply is still
# running when it is frozen or killed.
SLOW=10

FERRY_TEST_CHUNK_DELAY_MS=$SLOW "$FERRY" apply --yes --parallel 1 --io-threads 1 "$PLAN" >"$TMP/a.out" 2>&1 & A=$!
# freeze A as soon as it holds the plan lock and the wave lock (it takes
# the wave lock after the plan lock; a slow build shows the gap)
for _ in $(seq 1 2000); do [ -s "$LOCK" ] && holds_wave "$A" && break; sleep 0.005; done
kill -STOP "$A" 2>/dev/null
if [ -s "$LOCK" ] && holds_wave "$A"; then
  out=$("$FERRY" apply --yes "$PLAN" 2>&1); rc=$?
  is "second concurrent apply is refused" "$rc" 1
  ok "... naming the owner's pid" grep -q "pid $A" <<<"$out"
  ok "... and host" grep -q "$(hostname)" <<<"$out"
  out=$("$FERRY" unlock "$PLAN" 2>&1); rc=$?
  is "unlock refuses a live owner's lock" "$rc" 1
  ok "... naming the owner" grep -q "$A" <<<"$out"
  # --force is for owners ferry cannot judge (another host, a garbled
  # lock): while the run lives it holds the wave lock, and --force refuses
  out=$("$FERRY" unlock --force "$PLAN" 2>&1); rc=$?
  is "unlock --force refuses while the owner is alive" "$rc" 1
  ok "... saying why" grep -q "removes only the locks of runs that ended" <<<"$out"
  ok "... the lock file stays" test -s "$LOCK"
else
  is "first apply took the lock" "missing" "present"
fi
kill -CONT "$A"; wait "$A"; rc=$?
is "the first apply completes" "$rc" 0
ok "lock released after apply" test ! -e "$LOCK"
ok "result intact" outputs_match

# unlock --force between an apply's plan lock and its wave lock (a test
# gate holds it there): the lock goes, and the apply, once it holds the
# wave lock, finds its plan lock gone and stops before any work
rm -rf "$OUT" "$STATE"
GATE=$TMP/gate
FERRY_TEST_PLAN_LOCK_GATE=$GATE "$FERRY" apply --yes "$PLAN" >"$TMP/g.out" 2>&1 & G=$!
for _ in $(seq 1 2000); do [ -e "$GATE.$G" ] && break; sleep 0.005; done
ok "an apply waits at the gate holding the plan lock" test -s "$LOCK"
out=$("$FERRY" unlock --force "$PLAN" 2>&1); rc=$?
is "unlock --force removes it (no wave lock is held yet)" "$rc" 0
touch "$GATE"; wait "$G"; rc=$?
is "the apply then stops" "$rc" 1
ok "... saying its lock was removed" grep -q "the plan's lock was removed while this run started" "$TMP/g.out"
ok "... having converted nothing" test -z "$(find "$OUT" -type f 2>/dev/null)"
ok "... and the plan has no lock left" test ! -e "$LOCK"

# a stale lock (dead pid on this host) from a crashed run
rm -rf "$OUT" "$STATE"   # so the next apply has disks to convert
FERRY_TEST_CHUNK_DELAY_MS=$SLOW "$FERRY" apply --yes --io-threads 1 "$PLAN" >/dev/null &   # hold and kill to leave a lock
P=$!; for _ in $(seq 1 2000); do [ -s "$LOCK" ] && break; sleep 0.005; done
kill -9 $P 2>/dev/null; wait $P 2>/dev/null
ok "a killed apply leaves its lock behind" test -s "$LOCK"
ok "status works while a stale lock exists" "$FERRY" status "$PLAN"
out=$("$FERRY" unlock "$PLAN" 2>&1); rc=$?
is "unlock removes a dead owner's lock" "$rc" 0
ok "... and says whose it was" grep -q "removed lock of pid $P" <<<"$out"
ok "... the lock file is gone" test ! -e "$LOCK"
ok "unlock with no lock is fine" "$FERRY" unlock "$PLAN"

# a garbled lock (unknown owner, no run alive): only --force removes it
echo garbage >"$LOCK"
fails_with "a garbled lock: unlock refuses it" 1 "unknown owner|garbled" \
  "$FERRY" unlock "$PLAN"
ok "... unlock --force removes it (no run is alive)" "$FERRY" unlock --force "$PLAN"
ok "... the lock file is gone" test ! -e "$LOCK"
done_testing
