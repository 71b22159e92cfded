#!/bin/bash
# KVM to KVM, live, as plan steps against the real two-host libvirt lab:
# storage copy (the disk mirrored onto a raw file ferry creates on B) and
# shared storage (an NBD disk both hosts reach); in both the guest's counter
# goes on on B with the same boot id and its disk log has no gap, and a
# second apply is a no-op.  A guest dirtying memory faster than the plan's
# bandwidth does not converge by itself: ferry escalates (downtime,
# auto-converge, post-copy) and finishes; without escalations, the deadline
# aborts the migration and the guest stays on A.  ferry runs inside ferA.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/lvlab-test.sh"
mkdir -p "$LVLAB_B_IMAGES/ferry"

plan() { # FILE VMS...: a plan moving the listed VM entries from A to B
  local f=$1; shift
  {
    cat <<EOF2
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: t92}
state: {backend: file, path: $TMP/state/t92.state}
sources:
  a: {type: libvirt, uri: "$LVLAB_A_URI"}
targets:
  b: {type: libvirt, uri: "$LVLAB_B_URI", path: $LVLAB_B_IMAGES/ferry}
defaults: {source: a, target: b}
vms:
EOF2
    for v in "$@"; do printf '  - %s\n' "$v"; done
  } >"$f"
}
# continued NAME PRELINE OFF: on B after byte OFF, the counter goes on from
# PRELINE with the same boot id, consecutive
continued() {
  local f first
  f=$(ser B "$1")
  wait_counter "$f" "$3" 2 || return 1
  first=$(lines "$f" "$3" | head -n 1)
  [ "$(bootid "$first")" = "$(bootid "$2")" ] || { echo "boot id $(bootid "$2") on A, $(bootid "$first") on B"; return 1; }
  [ "$(num "$first")" -gt "$(num "$2")" ] || { echo "counter $(num "$2") on A, $(num "$first") on B"; return 1; }
  lines "$f" "$3" | awk 'NR > 1 && $2 != p + 1 { exit 1 } { p = $2 }' || { echo "lines on B not consecutive"; return 1; }
}

# 1. storage copy
ok "guest l1 runs on A" "$GUEST" start "$D" l1 A
ok "l1 counts" wait_counter "$(ser A l1)" 0 3
plan "$TMP/copy.yaml" "{name: l1, domain: l1, migrate: live, undefine_source: true, live: {storage: copy, max_downtime: 300}}"
out=$(FA plan --detailed-exitcode "$TMP/copy.yaml" 2>&1); rc=$?
is "plan: changes pending → 2" "$rc" 2
ok "plan: l1 to live-migrate, copying 1 disk" grep -q "^+ l1/migrate: live-migrate to '$LVLAB_B_URI', copy storage (copies 1 disk)" <<<"$out"
ok "plan: no convert or define step for a live VM" test "$(grep -c 'l1/convert\|l1/define' <<<"$out")" = 0
PRE=$(lines "$(ser A l1)" 0 | tail -n 1); OFF=$(size "$(ser B l1)")
t=$(date +%s.%N)
out=$(FA -v apply --yes "$TMP/copy.yaml" 2>&1); rc=$?
echo "# live copy-storage apply: $(el "$t") s"
is "apply → 0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2
ok "apply reports the downtime" grep -q "migrated in [0-9.]* s, downtime [0-9]* ms" <<<"$out"
grep "migrated in" <<<"$out" | sed 's/^/# /'
is "l1 runs on B" "$(V B domstate l1 2>&1)" running
ok "l1 is persistent on B" bash -c "ip netns exec ferB virsh -q -c '$LVLAB_B_URI' list --persistent --name | grep -qx l1"
is "l1 undefined on A" "$(V A list --all --name | grep -cx l1)" 0
ok "the counter goes on on B without a restart" continued l1 "$PRE" "$OFF"
ok "B runs l1 on the raw file ferry created" grep -q "$LVLAB_B_IMAGES/ferry/l1-vda.raw" <(V B dumpxml l1)
LAST=$(lines "$(ser B l1)" "$OFF" | tail -n 1)
ok "B's disk log has no gap through the switch-over" "$GUEST" check-disk "$LVLAB_B_IMAGES/ferry/l1-vda.raw" "$(bootid "$PRE")" "$(num "$LAST")"
out=$(FA plan --detailed-exitcode "$TMP/copy.yaml" 2>&1); rc=$?
is "plan after → 0" "$rc" 0
ok "plan after: l1 runs on B" grep -q "^= l1/migrate: runs on '$LVLAB_B_URI'" <<<"$out"
out=$(FA apply --yes "$TMP/copy.yaml" 2>&1)
ok "apply again is a no-op" grep -q "^Apply: 0 applied, 1 unchanged, 0 failed, 0 skipped" <<<"$out"
is "still exactly one l1, on B" "$( (V A list --all --name; V B list --all --name) | grep -cx l1)" 1

# 2. shared storage: an NBD disk served from A's namespace, reached by both
qemu-img create -q -f raw "$LVLAB_SHARED/s1.raw" 16M
ip netns exec ferA qemu-nbd --fork --persistent --shared=4 -f raw -x s1 \
  --bind 10.78.0.1 --port 10809 --pid-file "$D/pids/qemu-nbd-s1" "$LVLAB_SHARED/s1.raw"
NBD="<disk type='network' device='disk'><driver name='qemu' type='raw' cache='none'/><source protocol='nbd' name='s1'><host name='10.78.0.1' port='10809'/></source><target dev='vda' bus='virtio'/></disk>"
"$GUEST" xml s1 "$NBD" >"$TMP/s1.xml"
ok "guest s1 (NBD disk) defined on A" V A define "$TMP/s1.xml"
ok "s1 starts" V A start s1
ok "s1 counts" wait_counter "$(ser A s1)" 0 3
plan "$TMP/shared.yaml" "{name: s1, domain: s1, migrate: live, live: {storage: shared}}"
PRE=$(lines "$(ser A s1)" 0 | tail -n 1); OFF=$(size "$(ser B s1)")
out=$(FA -v apply --yes "$TMP/shared.yaml" 2>&1); rc=$?
is "shared: apply → 0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2
grep "migrated in" <<<"$out" | sed 's/^/# shared: /'
is "s1 runs on B" "$(V B domstate s1 2>&1)" running
is "s1's source definition kept, shut off (no undefine_source)" "$(V A domstate s1 2>&1)" "shut off"
ok "the counter goes on on B" continued s1 "$PRE" "$OFF"
ok "B's s1 still uses the NBD disk" grep -q "protocol='nbd'" <(V B dumpxml s1)
ok "no disk file was created for a shared migration" test ! -e "$LVLAB_B_IMAGES/ferry/s1-vda.raw"
LAST=$(lines "$(ser B s1)" "$OFF" | tail -n 1)
ok "the shared disk's log has no gap" "$GUEST" check-disk "$LVLAB_SHARED/s1.raw" "$(bootid "$PRE")" "$(num "$LAST")"

# 3. convergence: 48 MiB dirtied in a loop, 4 MiB/s
ok "guest d1 (dirty 48 MiB) runs on A" "$GUEST" start "$D" d1 A --dirty 48 --nodisk
ok "d1 counts" wait_counter "$(ser A d1)" 0 2
plan "$TMP/dirty.yaml" "{name: d1, domain: d1, migrate: live, undefine_source: true, live: {bandwidth: 4, max_downtime: 50, max_downtime_limit: 100, escalate: [downtime, auto-converge, postcopy], stall: 4, deadline: 600}}"
PRE=$(lines "$(ser A d1)" 0 | tail -n 1); OFF=$(size "$(ser B d1)")
t=$(date +%s.%N)
out=$(FA -v apply --yes "$TMP/dirty.yaml" 2>&1); rc=$?
echo "# dirty guest with escalations: $(el "$t") s"
is "escalating apply → 0" "$rc" 0
grep -iE "downtime|throttle|auto-converge|post-copy|migrated in" <<<"$out" | sed 's/^/# /'
ok "event: max downtime raised" grep -qi "max downtime .*100 ms" <<<"$out"
ok "event: auto-converge engaged" grep -qi "auto-converge" <<<"$out"
ok "event: post-copy switched on" grep -qi "post-copy" <<<"$out"
is "d1 runs on B" "$(V B domstate d1 2>&1)" running
is "d1 undefined on A" "$(V A list --all --name | grep -cx d1)" 0
ok "d1's counter goes on on B" continued d1 "$PRE" "$OFF"

# 4. no escalation allowed: the deadline aborts, the guest stays on A
ok "guest d2 (dirty 48 MiB) runs on A" "$GUEST" start "$D" d2 A --dirty 48 --nodisk
plan "$TMP/abort.yaml" "{name: d2, domain: d2, migrate: live, live: {bandwidth: 4, escalate: [], deadline: 8}}"
out=$(FA apply --yes "$TMP/abort.yaml" 2>&1); rc=$?
is "apply past the deadline → 1" "$rc" 1
ok "the error says it was aborted at the deadline" grep -qi "deadline" <<<"$out"
is "d2 still runs on A" "$(V A domstate d2 2>&1)" running
is "nothing of d2 on B" "$(V B list --all --name | grep -cx d2)" 0
OFF=$(size "$(ser A d2)")
ok "d2 keeps counting on A" wait_counter "$(ser A d2)" "$OFF" 2
done_testing
