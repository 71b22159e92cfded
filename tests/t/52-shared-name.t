#!/bin/bash
# Two plans in one directory with the same metadata.name share one journal
# (.ferry/<name>.state).  apply records the plan file that wrote the state;
# validate, plan and apply of the other plan warn, naming both, and still
# do their job (exit codes unchanged).
. "$(dirname "$0")/../lib.sh"

W=$TMP/w
mkdir -p "$W/src"
head -c $((1 << 20)) /dev/urandom >"$W/src/a.raw"
head -c $((1 << 20)) /dev/urandom >"$W/src/b.raw"
for p in a b; do
  cat >"$W/wave-$p.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: shared}
sources:
  d: {type: directory, path: src}
targets:
  t: {type: local, path: out}
defaults: {target: t}
vms:
  - name: vm-$p
    source: d
    disks:
      - {file: $p.raw}
YAML
done
A=$(realpath "$W/wave-a.yaml") B=$(realpath "$W/wave-b.yaml")
warn_by() { # the warning naming plan $1 as the last writer
  printf "warning: state '%s' was last written by plan '%s'; two plans share metadata.name 'shared'" \
    "$W/.ferry/shared.state" "$1"
}

out=$("$FERRY" validate "$W/wave-b.yaml" 2>&1); rc=$?
is "validate before any apply: exit 0" "$rc" 0
is "validate before any apply: no warning" "$(grep -c warning <<<"$out")" 0
out=$("$FERRY" apply --yes "$W/wave-a.yaml" 2>&1); rc=$?
is "apply wave-a: exit 0" "$rc" 0
is "apply wave-a (first writer): no warning" "$(grep -c warning <<<"$out")" 0
ok "the journal records wave-a's real path" \
  grep -qF "\"ident\":\"$A\"" "$W/.ferry/shared.state"
out=$("$FERRY" validate "$W/wave-a.yaml" 2>&1); rc=$?
is "validate wave-a (its own state): exit 0, no warning" "$rc:$(grep -c warning <<<"$out")" 0:0

out=$("$FERRY" validate "$W/wave-b.yaml" 2>&1); rc=$?
is "validate wave-b: exit 0" "$rc" 0
ok "validate wave-b warns, naming wave-a and the shared name" grep -qF "$(warn_by "$A")" <<<"$out"
fails_with "plan --detailed-exitcode wave-b: exit 2 (changes) and the warning" 2 \
  "$(warn_by "$A")" "$FERRY" plan --detailed-exitcode "$W/wave-b.yaml"
fails_with "apply wave-b: exit 0 and the warning" 0 \
  "$(warn_by "$A")" "$FERRY" apply --yes "$W/wave-b.yaml"
ok "wave-b's disk was converted" cmp "$W/src/b.raw" "$W/out/vm-b-disk0.raw"
ok "the journal now records wave-b" grep -qF "\"ident\":\"$B\"" "$W/.ferry/shared.state"
out=$("$FERRY" validate "$W/wave-a.yaml" 2>&1); rc=$?
is "validate wave-a after wave-b wrote: exit 0" "$rc" 0
ok "validate wave-a now warns, naming wave-b" grep -qF "$(warn_by "$B")" <<<"$out"
ok "status reads the journal with the plan record (exit 0)" "$FERRY" status "$W/wave-a.yaml"
is "status shows only the plan's steps" \
  "$("$FERRY" status "$W/wave-a.yaml" | grep -c '@plan')" 0

# the recorded writer is gone (renamed, deleted): nothing to warn about
mv "$W/wave-b.yaml" "$W/old-wave-b.yaml.bak"
out=$("$FERRY" validate "$W/wave-a.yaml" 2>&1); rc=$?
is "writer gone: validate exit 0, no warning" "$rc:$(grep -c warning <<<"$out")" 0:0
done_testing
