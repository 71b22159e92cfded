# shellcheck shell=bash
# tests/workers-lib.sh — the `apply --worker` cases, shared by the file
# backend (tests/t/59-workers.t) and the RADOS backend: source it after
# tests/lib.sh and `cd "$TMP"` with STATE set to the plan's state block
# (one line of YAML flow style, or empty for the default file journal) and
# JOURNAL_DUMP set to a command that prints the journal's events, one JSON
# line each, in append order per step.

# make_plan NAME N [EXTRA...]: a plan of N VMs vm01..vmN with one 1 MiB raw
# disk each (the disks' bytes random, made once per directory); EXTRA
# lines are "VM: yaml-line" added to that VM (depends_on, ...).
make_plan() {
  local name=$1 n=$2 i v; shift 2
  mkdir -p "$name/src"
  {
    echo "apiVersion: ferry/v1"
    echo "kind: MigrationPlan"
    echo "metadata: {name: $name}"
    [ -n "${STATE:-}" ] && echo "state: $STATE"
    echo "sources:"
    echo "  d: {type: directory, path: src}"
    echo "targets:"
    echo "  t: {type: local, path: out}"
    echo "defaults: {target: t, source: d}"
    echo "vms:"
    for i in $(seq 1 "$n"); do
      v=$(printf 'vm%02d' "$i")
      [ -e "$name/src/$v.raw" ] || head -c $((1 << 20)) /dev/urandom >"$name/src/$v.raw"
      echo "  - name: $v"
      echo "    disks: [{file: $v.raw}]"
      for x in "$@"; do
        [ "${x%%:*}" = "$v" ] && echo "    ${x#*: }"
      done
    done
  } >"$name/plan.yaml"
}

# steps_begun FILE: "count step" of every step's begin events in the dump
steps_begun() {
  grep '"event":"begin"' "$1" | sed 's/.*"step":"\([^"]*\)".*/\1/' | sort | uniq -c
}
# time_of FILE STEP EVENT: time_ms of STEP's first EVENT in the dump
time_of() {
  grep "\"step\":\"$2\",\"event\":\"$3\"" "$1" | head -1 |
    sed 's/.*"time_ms":\([0-9]*\).*/\1/'
}
