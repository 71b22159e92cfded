#!/bin/bash
# seeds-plan.sh OUTDIR — seed corpus for fuzz-plan: the example plans, the
# test fixtures (good and bad), and a few hostile documents (alias bomb,
# deep nesting, merge keys, odd scalars).
set -euo pipefail
out=${1:?usage: seeds-plan.sh OUTDIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
for f in "$top"/plans/*.yaml "$top"/tests/plans/*/*.yaml; do
  [ -f "$f" ] || continue
  d=$(basename "$(dirname "$f")")
  cp "$f" "$out/$d-$(basename "$f")"
done
{
  echo 'a: &a [x, x, x, x, x, x, x, x, x, x]'
  prev=a
  for n in b c d e f g h i; do
    printf '%s: &%s [' "$n" "$n"
    for k in 1 2 3 4 5 6 7 8 9; do printf '*%s, ' "$prev"; done
    printf '*%s]\n' "$prev"
    prev=$n
  done
} > "$out/hostile-bomb.yaml"
{ printf '%.0s[' $(seq 100); printf '%.0s]' $(seq 100); echo; } \
  > "$out/hostile-deep.yaml"
cat > "$out/hostile-merge.yaml" <<'YEOF'
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: m}
targets: {o: {type: local, path: o}}
defaults: &d {target: o}
vms:
  - &v {name: a, disks: [{file: a}], <<: *d, depends_on: [b]}
  - {<<: [*v, {vcpus: 2}], name: b, depends_on: [a]}
  - {name: c, disks: [{file: "c", size_gb: 0x10}], ports: [{network: n, mac: 10:20:30:40:50:59, fixed_ip: "::ffff:1.2.3.4"}]}
YEOF
printf 'apiVersion: !!str ferry/v1\nkind: ? complex\n: key\nx: |\n  block\n' \
  > "$out/hostile-scalars.yaml"
exit 0
