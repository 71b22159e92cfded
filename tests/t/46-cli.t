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

done_testing
