#!/bin/bash
# CLI defects: plan -o never overwrites what it did not write, convert
# --resume-from needs the target it resumes, --log-file gets what the user
# sees, apply --replace STEP.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/example-lib.sh"

# ---- plan -o SAVED over the plan itself or over a foreign file ----
cp "$PLAN" "$TMP/plan.orig"
ln -s plan.yaml "$TMP/link.yaml"
ln "$PLAN" "$TMP/hard.yaml"
for out in "$PLAN" "$TMP/link.yaml" "$TMP/hard.yaml"; do
  msg=$("$FERRY" plan -o "$out" "$PLAN" 2>&1); rc=$?
  is "plan -o ${out#$TMP/} PLAN: exit 1" "$rc" 1
  ok "... the plan file is unchanged" cmp "$TMP/plan.orig" "$PLAN"
  ok "... saying it is the plan file" grep -q "refusing to write the saved plan to '$out': it is the plan file" <<<"$msg"
done
msg=$("$FERRY" plan -o "$PLAN" "$TMP/link.yaml" 2>&1); rc=$?
is "plan -o PLAN via a symlinked plan: exit 1" "$rc" 1
ok "... the plan file is unchanged" cmp "$TMP/plan.orig" "$PLAN"
echo "operator's notes" >"$TMP/notes.txt"
msg=$("$FERRY" plan -o "$TMP/notes.txt" "$PLAN" 2>&1); rc=$?
is "plan -o over a file that is not a saved plan: exit 1" "$rc" 1
is "... the file is unchanged" "$(cat "$TMP/notes.txt")" "operator's notes"
ok "... saying why" grep -q "exists and is not a saved plan" <<<"$msg"
ok "plan -o writes a new saved plan" "$FERRY" plan -o "$TMP/saved.json" "$PLAN"
ok "plan -o replaces an earlier saved plan" "$FERRY" plan -o "$TMP/saved.json" "$PLAN"
ok "... which apply accepts" "$FERRY" apply --yes --dry-run "$TMP/saved.json"

# ---- convert --resume-from without the target it resumes ----
head -c $((3 << 20)) /dev/urandom >"$TMP/small.raw"
qemu-img convert -f raw -O qcow2 "$TMP/small.raw" "$TMP/small.qcow2"
msg=$("$FERRY" convert --resume-from 1M "$TMP/small.qcow2" "$TMP/new.raw" 2>&1); rc=$?
is "convert --resume-from into a missing target: exit 1" "$rc" 1
ok "... no target made" test ! -e "$TMP/new.raw"
ok "... saying the target does not exist" grep -q "target '$TMP/new.raw' does not exist" <<<"$msg"
head -c $((512 << 10)) "$TMP/small.raw" >"$TMP/short.raw"
cp "$TMP/short.raw" "$TMP/short.orig"
msg=$("$FERRY" convert --resume-from 1M "$TMP/small.qcow2" "$TMP/short.raw" 2>&1); rc=$?
is "convert --resume-from past a short target's end: exit 1" "$rc" 1
ok "... the target is unchanged" cmp "$TMP/short.orig" "$TMP/short.raw"
ok "... saying how much it holds" grep -q "holds only 524288 bytes" <<<"$msg"
# a real resume still works: the first MiB is there, the rest is garbage
head -c $((1 << 20)) "$TMP/small.raw" >"$TMP/part.raw"
head -c $((2 << 20)) /dev/urandom >>"$TMP/part.raw"
ok "convert --resume-from into an interrupted target" "$FERRY" convert --resume-from 1M "$TMP/small.qcow2" "$TMP/part.raw"
ok "... gives the source's bytes" cmp "$TMP/small.raw" "$TMP/part.raw"

# ---- --log-file tells the same story as the terminal ----
rm -rf "$OUT"; mkdir -p "$OUT/app01-disk0.raw"   # app01's disk cannot land
"$FERRY" --log-file "$TMP/run.log" apply --yes "$PLAN" >"$TMP/run.out" 2>"$TMP/run.err"; rc=$?
is "apply with a failing step: exit 1" "$rc" 1
is "stdout has one line per step" "$(grep -c '^[-+=~!] ' "$TMP/run.out")" 7
missing=$(grep -v '^$' "$TMP/run.out" | while IFS= read -r l; do grep -qF -- " $l" "$TMP/run.log" || echo "$l"; done)
is "every step result and the summary on stdout are in the log" "$missing" ""
ok "... the failed step at level error" grep -q ' error ! app01/convert/disk0: ' "$TMP/run.log"
err=$(sed -n 's/^ferry: error: //p' "$TMP/run.err")
ok "the final error is on stderr" test -n "$err"
ok "... and in the log" grep -qF " error $err" "$TMP/run.log"
"$FERRY" --log-file "$TMP/json.log" apply --yes --json "$PLAN" >/dev/null 2>&1
ok "with --json the log still gets the step lines" grep -q ' error ! app01/convert/disk0: ' "$TMP/json.log"
msg=$("$FERRY" --log-file "$TMP/target.log" plan --target nosuch "$PLAN" 2>&1); rc=$?
is "plan --target nosuch: exit 1" "$rc" 1
ok "... its error is in the log" grep -qF " error ${msg#ferry: error: }" "$TMP/target.log"
rmdir "$OUT/app01-disk0.raw"

# ---- apply --replace STEP ----
ok "apply converges" "$FERRY" apply --yes "$PLAN"
ino=$(stat -c %i "$OUT/web01-disk0.raw")
out=$("$FERRY" apply --yes "$PLAN"); rc=$?
ok "without --replace the disk is unchanged" grep -q '^= web01/convert/disk0: ' <<<"$out"
out=$("$FERRY" apply --yes --replace web01/convert/disk0 "$PLAN"); rc=$?
is "apply --replace web01/convert/disk0: exit 0" "$rc" 0
ok "... the step is applied again, saying why" grep -q '^~ web01/convert/disk0: replace requested (check said done: ' <<<"$out"
ok "... the other steps are left alone" grep -q '^= web01/convert/disk1: ' <<<"$out"
ok "... summary: 1 applied, 6 unchanged" grep -q '^Apply: 1 applied, 6 unchanged, 0 failed, 0 skipped$' <<<"$out"
ok "... a new file replaced the target" test "$(stat -c %i "$OUT/web01-disk0.raw")" != "$ino"
ok "... which still equals the source" cmp "$TMP/expect/web01-disk0.raw" "$OUT/web01-disk0.raw"
ok "... no temporary left" test ! -e "$OUT/web01-disk0.raw.part"
msg=$("$FERRY" apply --yes --replace web01/convert/disk9 "$PLAN" 2>&1); rc=$?
is "apply --replace with an unknown step: exit 1" "$rc" 1
ok "... naming it" grep -q "'web01/convert/disk9' is not a step of plan" <<<"$msg"
msg=$("$FERRY" apply --yes --target app01 --replace web01/convert/disk0 "$PLAN" 2>&1); rc=$?
is "apply --replace a step --target leaves out: exit 1" "$rc" 1
ok "... saying so" grep -q "'web01/convert/disk0' is not selected by --target" <<<"$msg"
ok "everything still equals the sources" outputs_match

done_testing
