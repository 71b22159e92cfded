#!/bin/bash
# Secrets referenced by a plan never appear in any output, log, journal or
# saved plan; a literal secret is refused without being echoed.
. "$(dirname "$0")/../lib.sh"
SECRET="Sup3r-s3cret-$$-value"
export FERRY_TEST_PW=$SECRET
echo "$SECRET-file" >"$TMP/pw.txt"
mkdir -p "$TMP/src"; truncate -s 1M "$TMP/src/a.raw"
cat >"$TMP/plan.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: sec}
state: {backend: file, path: state/sec.state}
sources: {s: {type: directory, path: src}}
targets: {t: {type: local, path: out}}
defaults: {source: s, target: t}
vms:
  - name: win01
    disks: [{file: a.raw}]
    customize:
      autologon: {user: Administrator, password: {env: FERRY_TEST_PW}}
  - name: win02
    disks: [{file: a.raw}]
    customize:
      autologon: {user: Administrator, password: {file: pw.txt}}
YAML
{
  "$FERRY" -v --log-file "$TMP/log" validate "$TMP/plan.yaml"
  "$FERRY" -v --log-file "$TMP/log" plan --json -o "$TMP/saved" "$TMP/plan.yaml"
  "$FERRY" -v --log-file "$TMP/log" graph "$TMP/plan.yaml"
  "$FERRY" -v --log-file "$TMP/log" apply --yes --json "$TMP/plan.yaml"
  "$FERRY" -v --log-file "$TMP/log" status --json "$TMP/plan.yaml"
} >"$TMP/all.out" 2>&1
ok "the plan ran (the customize step is reported)" grep -q "win01/customize" "$TMP/all.out"
fails "no secret in stdout/stderr" 1 grep -rq "$SECRET" "$TMP/all.out"
fails "no secret in the log file" 1 grep -q "$SECRET" "$TMP/log"
fails "no secret in the journal" 1 grep -rq "$SECRET" "$TMP/state"
fails "no secret in the saved plan" 1 grep -q "$SECRET" "$TMP/saved"
sed "s/{env: FERRY_TEST_PW}/\"$SECRET\"/" "$TMP/plan.yaml" >"$TMP/literal.yaml"
out=$("$FERRY" validate "$TMP/literal.yaml" 2>&1); rc=$?
is "a literal password is refused" "$rc" 1
ok "... with a file:line:col error naming the key" grep -Eq 'literal.yaml:[0-9]+:[0-9]+: vms\[0\]\.customize\.autologon\.password' <<<"$out"
fails "... that does not echo the value" 1 grep -q "$SECRET" <<<"$out"
done_testing
