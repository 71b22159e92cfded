#!/bin/bash
# A run opens each source disk once (validate, check and apply share the
# handle: src/plan/disks.c), but never converts a source as it was when it
# was opened: the source is replaced (renamed over) while apply waits at
# its confirmation prompt, after validate and the observing check opened
# it; the target must hold the new source's bytes.
. "$(dirname "$0")/../lib.sh"
command -v script >/dev/null || skip_all "script(1) not installed"

W=$TMP/w
mkdir -p "$W/src"
head -c $((4 << 20)) /dev/urandom >"$W/src/d.raw"
cp "$W/src/d.raw" "$TMP/old.raw"
head -c $((4 << 20)) /dev/urandom >"$TMP/new.raw"
cat >"$W/plan.yaml" <<'YAML'
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: changed}
sources:
  s: {type: directory, path: src}
targets:
  t: {type: local, path: out}
defaults: {target: t}
vms:
  - name: vm
    source: s
    disks:
      - {file: d.raw}
YAML

# answer the prompt (a terminal, via script) only after replacing the disk
{
  for _ in $(seq 1 400); do
    grep -q "Apply these changes" "$TMP/tty.out" 2>/dev/null && break
    sleep 0.05
  done
  cp "$TMP/new.raw" "$W/src/d.raw.tmp" && mv "$W/src/d.raw.tmp" "$W/src/d.raw"
  echo yes
} | script -qfec "'$FERRY' apply '$W/plan.yaml'" "$TMP/tty.out" >/dev/null 2>&1
is "apply exits 0" "$(grep -o 'COMMAND_EXIT_CODE="[0-9]*"' "$TMP/tty.out")" 'COMMAND_EXIT_CODE="0"'
ok "the prompt came before the source was replaced" grep -q "Apply these changes" "$TMP/tty.out"
ok "the target holds the new source" cmp "$TMP/new.raw" "$W/out/vm-disk0.raw"
fails "not the source as it was at validate" 1 cmp -s "$TMP/old.raw" "$W/out/vm-disk0.raw"
done_testing
