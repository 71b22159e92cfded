#!/bin/bash
# Plan validation: every example plan passes the C validator and the JSON
# schema; for the fixtures in tests/plans/ both agree (good: both accept,
# bad: both reject), semantic-only problems (bad-semantic/) are rejected by
# the C validator alone, and every rejection prints the expected
# file:line:col: key.path: problem.  Every key of the schema is documented
# in ferry-plan(5).
. "$(dirname "$0")/../lib.sh"
CHECK=$TOP/tests/helpers/plan-check
SCHEMA=$TOP/schemas/ferry-plan-v1.json
DOC=$TOP/docs/ferry-plan.5.md
PY=/usr/bin/python3
[ -x "$CHECK" ] || { echo "not ok 1 - $CHECK is built"; exit 1; }

# schema-check FILE: validate FILE (YAML) against the schema; exit 3 when
# the schema rejects it (a crash of the checker exits 1, which is not that).
cat > "$TMP/schema-check.py" <<'PYEOF'
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft202012Validator(schema)
doc = yaml.safe_load(open(sys.argv[2]))
errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
for e in errs:
    print("%s: %s" % ("/".join(map(str, e.path)), e.message))
sys.exit(3 if errs else 0)
PYEOF
schema_ok() { "$PY" "$TMP/schema-check.py" "$SCHEMA" "$1"; }

ok "schema is valid JSON Schema draft 2020-12" "$PY" -c "
import json, jsonschema
jsonschema.Draft202012Validator.check_schema(json.load(open('$SCHEMA')))"

# Does the CLI have 'ferry validate' yet?
have_cli=0
"$FERRY" validate --help >/dev/null 2>&1 && have_cli=1

for f in "$TOP"/plans/*.yaml; do
  n=plans/$(basename "$f")
  ok "$n passes the C validator" "$CHECK" --no-disk-check "$f"
  ok "$n passes the schema" schema_ok "$f"
  if [ $have_cli = 1 ]; then
    ok "$n passes ferry validate --no-disk-check" \
      "$FERRY" validate --no-disk-check "$f"
  fi
done

# expect_line FILE FLAGS: the C validator rejects FILE and prints
# "FILE:<what the fixture's '# expect:' line says>".
expect_line() {
  local f=$1 flags=$2 want out rc
  want="$f:$(head -1 "$f" | sed 's/^# expect: //')"
  out=$("$CHECK" $flags "$f"); rc=$?
  [ "$rc" = 1 ] || { echo "exit $rc, want 1"; printf '%s\n' "$out"; return 1; }
  printf '%s\n' "$out" | grep -qF -- "$want" && return 0
  echo "want: $want"; printf '%s\n' "$out"; return 1
}

for f in "$TOP"/tests/plans/good/*.yaml; do
  n=good/$(basename "$f")
  ok "$n: C validator accepts" "$CHECK" --no-disk-check "$f"
  ok "$n: schema accepts" schema_ok "$f"
done
for f in "$TOP"/tests/plans/bad/*.yaml; do
  n=bad/$(basename "$f")
  ok "$n: C validator rejects with the expected message" \
    expect_line "$f" --no-disk-check
  fails "$n: schema rejects" 3 schema_ok "$f"
done
for f in "$TOP"/tests/plans/bad-semantic/*.yaml; do
  n=bad-semantic/$(basename "$f")
  flags=--no-disk-check
  case $n in *missing-disk*) flags= ;; esac
  ok "$n: C validator rejects with the expected message" \
    expect_line "$f" "$flags"
  ok "$n: schema accepts (semantic check only)" schema_ok "$f"
done

# A literal secret never appears in the output.
out=$("$CHECK" --no-disk-check "$TOP/tests/plans/bad/literal-secret.yaml")
is "a literal password is not echoed" \
  "$(printf '%s' "$out" | grep -c 'P@ssw0rd')" 0

# Several problems in one file are all reported, in file order.
cat > "$TMP/many.yaml" <<'YEOF'
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: many}
targets: {out: {type: local, path: out}}
vms:
  - {name: a, target: out, vcpus: 0, disks: [{file: a}]}
  - {name: b, target: nowhere, disks: [{fiel: b}]}
YEOF
out=$("$CHECK" --no-disk-check "$TMP/many.yaml")
is "every problem reported, sorted" "$out" \
"$TMP/many.yaml:6:35: vms[0].vcpus: must be at least 1
$TMP/many.yaml:7:23: vms[1].target: unknown target 'nowhere'
$TMP/many.yaml:7:40: vms[1].disks[0].file: missing required key
$TMP/many.yaml:7:41: vms[1].disks[0].fiel: unknown key; did you mean 'file'?"

# Disk files are opened: a raw file is fine, a missing one is named.
mkdir -p "$TMP/d"
truncate -s 1G "$TMP/d/ok.raw"
cat > "$TMP/disk.yaml" <<'YEOF'
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: disk}
sources: {d: {type: directory, path: d}}
targets: {out: {type: local, path: out}}
vms:
  - {name: a, source: d, target: out, disks: [{file: ok.raw, size_gb: 1}]}
YEOF
ok "an existing raw disk of the right size passes" "$CHECK" "$TMP/disk.yaml"
sed -i 's/ok.raw/gone.raw/' "$TMP/disk.yaml"
out=$("$CHECK" "$TMP/disk.yaml")
is "a missing disk is named with its resolved path" "$out" \
"$TMP/disk.yaml:7:54: vms[0].disks[0].file: cannot open '$TMP/d/gone.raw': No such file or directory"

# The EXAMPLE section of ferry-plan(5) is a valid plan.
awk '/^## EXAMPLE/{e=1} e&&/^```$/{exit} e&&f{print} e&&/^```yaml/{f=1}' "$DOC" \
  > "$TMP/doc-example.yaml"
ok "ferry-plan(5) EXAMPLE passes the C validator" \
  "$CHECK" --no-disk-check "$TMP/doc-example.yaml"
ok "ferry-plan(5) EXAMPLE passes the schema" schema_ok "$TMP/doc-example.yaml"

# Every key path of the schema is documented as `path` in ferry-plan(5).
cat > "$TMP/keys.py" <<'PYEOF'
import json, sys
schema = json.load(open(sys.argv[1]))
defs = schema.get("$defs", {})
out = set()
def walk(s, path):
    if not isinstance(s, dict):
        return
    if "$ref" in s:
        walk(defs[s["$ref"].split("/")[-1]], path)
    for k, sub in s.get("properties", {}).items():
        if sub is False:
            continue
        p = path + "." + k if path else k
        out.add(p)
        walk(sub, p)
    if isinstance(s.get("additionalProperties"), dict):
        walk(s["additionalProperties"], path + ".NAME")
    if isinstance(s.get("items"), dict):
        walk(s["items"], path + "[]")
    for comb in ("oneOf", "anyOf", "allOf"):
        for sub in s.get(comb, []):
            walk(sub, path)
walk(schema, "")
print("\n".join(sorted(out)))
PYEOF
keys=$("$PY" "$TMP/keys.py" "$SCHEMA")
[ -n "$keys" ] || { echo "not ok - no keys found in the schema"; exit 1; }
for k in $keys; do
  ok "plan key $k is documented in ferry-plan(5)" grep -qF -- "\`$k\`" "$DOC"
done

done_testing
