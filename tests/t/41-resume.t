#!/bin/bash
# kill -9 `ferry apply` at many moments across the multi-VM example; every
# rerun must finish the job, create nothing twice, and give the same bytes
# as an uninterrupted run.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/example-lib.sh"
KILLS=${FERRY_TEST_KILLS:-24}
APPLY=("$FERRY" apply --yes --parallel 2 --io-threads 1 --checkpoint-interval 1M "$PLAN")

reset() { rm -rf "$OUT" "$STATE"; }
now() { date +%s.%N; }

# one uninterrupted run tells how long a run takes
reset; t0=$(now)
ok "uninterrupted apply" "${APPLY[@]}"
t1=$(now)
ok "uninterrupted result equals qemu-img" outputs_match
dur=$(awk -v a="$t0" -v b="$t1" 'BEGIN{d=b-a; if (d<0.05) d=0.05; print d}')
echo "# one run takes ${dur}s; killing at $KILLS moments across it"

resumed=0
# kill 0 is aimed: as soon as a conversion has a checkpoint on record (so a
# resume from the middle of a disk is always exercised); the others are
# spread evenly across a run
for i in $(seq 0 "$KILLS"); do
  reset
  delay=$(awk -v d="$dur" -v i="$i" -v n="$KILLS" 'BEGIN{printf "%.3f", d*i/(n+1)}')
  # kill 0 runs paced by the test hook FERRY_TEST_CHUNK_DELAY_MS (20 ms per
  # chunk, src/disk/convert.c) so it always lands mid-disk, on any machine
  slow=""; [ "$i" = 0 ] && slow=20
  FERRY_TEST_CHUNK_DELAY_MS=$slow "${APPLY[@]}" >/dev/null 2>&1 & pid=$!
  if [ "$i" = 0 ]; then
    for _ in $(seq 1 4000); do
      ls "$OUT"/*.part >/dev/null 2>&1 &&
        grep -q '"checkpoint"' "$STATE/example-local.state" 2>/dev/null && break
      sleep 0.002
    done
    delay=aimed
  else
    sleep "$delay"
  fi
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  # a conversion cut mid-disk: its .part file and a checkpoint in the journal
  if ls "$OUT"/*.part >/dev/null 2>&1 && [ -f "$STATE/example-local.state" ] &&
     /usr/bin/python3 - "$STATE/example-local.state" "$OUT" <<'PY'
import json, os, sys
last = {}
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e["event"] == "checkpoint": last[e["step"]] = e["offset"]
    if e["event"] == "done": last.pop(e["step"], None)
for step, off in last.items():
    vm, _, disk = step.split("/")
    if os.path.exists(f"{sys.argv[2]}/{vm}-{disk}.raw.part") and off > 0:
        sys.exit(0)
sys.exit(1)
PY
  then resumed=$((resumed + 1)); resumable=1; else resumable=0; fi
  [ "$i" = 0 ] && is "the aimed kill left a mid-disk checkpoint" "$resumable" 1
  out=$("${APPLY[@]}" 2>&1); rc=$?
  if [ $rc -ne 0 ]; then
    is "kill at ${delay}s: rerun succeeds" "$rc" 0; printf '%s\n' "$out" | sed 's/^/# /' | tail -5
    continue
  fi
  bad=""
  outputs_match >/dev/null || bad="bytes differ"
  [ -z "$(find "$OUT" -name '*.part' -o -name '*.tmp')" ] || bad="$bad; temporaries left"
  # nothing created twice: each step records at most one created object
  dup=$(grep '"created"' "$STATE/example-local.state" | /usr/bin/python3 -c '
import json, sys, collections
ids = collections.defaultdict(set)
for l in sys.stdin:
    e = json.loads(l); ids[e["step"]].add(e["id"])
print(" ".join(k for k, v in ids.items() if len(v) > 1))' 2>&1)
  files=$(cd "$OUT" && ls | tr '\n' ' ')
  [ "$files" = "app01-disk0.raw app01.xml db01-disk0.raw db01.xml web01-disk0.raw web01-disk1.raw web01.xml " ] ||
    bad="$bad; unexpected files: $files"
  [ -z "$dup" ] || bad="$bad; created twice: $dup"
  if [ "$resumable" = 1 ] && ! grep -q "resuming from" <<<"$out"; then
    bad="$bad; did not resume from the checkpoint"
  fi
  again=$("$FERRY" plan --detailed-exitcode "$PLAN" >/dev/null 2>&1; echo $?)
  [ "$again" = 0 ] || bad="$bad; plan after rerun not clean ($again)"
  is "kill -9 at ${delay}s, rerun: same result, nothing twice ${bad:+($bad)}" "$bad" ""
done
echo "# $resumed of $((KILLS + 1)) kills left a mid-disk checkpoint to resume from"
ok "some kills landed mid-conversion (resume from a checkpoint was exercised)" test "$resumed" -gt 0
done_testing
