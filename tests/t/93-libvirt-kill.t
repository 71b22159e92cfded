#!/bin/bash
# kill -9 of ferry during a live migration, then `apply`: libvirt's
# peer-to-peer job outlives its client (the source libvirtd drives it);
# the rerun finds it on the source, takes it over and finishes; in the end
# exactly one guest runs, on B, persistent, its counter unbroken (same boot
# id, consecutive lines, no gap in the disk log).  Then a half-arrived
# domain on B (a paused incoming one, as a failed migration leaves) is
# removed by the rerun and the guest migrates.  ferry runs inside ferA.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/lvlab-test.sh"
mkdir -p "$LVLAB_B_IMAGES/ferry"

# k1: a 128 MiB disk of random data (the copy takes ~16 s at 8 MiB/s)
head -c 128M /dev/urandom >"$TMP/k1.raw"
qemu-img convert -q -f raw -O qcow2 "$TMP/k1.raw" "$LVLAB_A_IMAGES/k1.qcow2"
"$GUEST" xml k1 "$("$GUEST" disk-xml "$LVLAB_A_IMAGES/k1.qcow2")" >"$TMP/k1.xml"
ok "k1 defined on A" V A define "$TMP/k1.xml"
ok "k1 starts" V A start k1
ok "k1 counts" wait_counter "$(ser A k1)" 0 2
cat >"$TMP/plan.yaml" <<EOF2
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: t93}
state: {backend: file, path: $TMP/state/t93.state}
sources: {a: {type: libvirt, uri: "$LVLAB_A_URI"}}
targets: {b: {type: libvirt, uri: "$LVLAB_B_URI", path: $LVLAB_B_IMAGES/ferry}}
defaults: {source: a, target: b}
vms:
  - {name: k1, domain: k1, migrate: live, undefine_source: true, live: {bandwidth: 8}}
EOF2
PRE=$(lines "$(ser A k1)" 0 | tail -n 1); OFF=$(size "$(ser B k1)")
ip netns exec ferA "$FERRY" apply --yes "$TMP/plan.yaml" >"$TMP/apply1.log" 2>&1 &
FP=$!
jobrunning() { V A domjobinfo k1 2>/dev/null | grep -q '^Job type: *Unbounded'; }
for _ in $(seq 1 300); do jobrunning && break; sleep 0.1; done
sleep 2
ok "a migration job runs on A" jobrunning
kill -9 $FP; wait $FP 2>/dev/null
ok "ferry is gone (killed)" sh -c "! kill -0 $FP 2>/dev/null"
ok "libvirt's job goes on without ferry" jobrunning
is "k1 still runs on A" "$(V A domstate k1 2>&1)" running
t=$(date +%s.%N)
out=$(FA -v apply --yes "$TMP/plan.yaml" 2>&1); rc=$?
echo "# rerun after kill -9: $(el "$t") s"
is "rerun apply → 0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2
ok "the rerun took over the running job" grep -q "a migration job runs on the source: taking it over" <<<"$out"
grep "migrated in" <<<"$out" | sed 's/^/# /'
is "k1 runs on B" "$(V B domstate k1 2>&1)" running
ok "k1 is persistent on B" bash -c "ip netns exec ferB virsh -q -c '$LVLAB_B_URI' list --persistent --name | grep -qx k1"
is "exactly one k1 defined, on B" "$( (V A list --all --name; V B list --all --name) | grep -cx k1)" 1
wait_counter "$(ser B k1)" "$OFF" 2 >/dev/null
FIRST=$(lines "$(ser B k1)" "$OFF" | head -n 1)
is "same boot id on B (no restart)" "$(bootid "$FIRST")" "$(bootid "$PRE")"
ok "the counter went on ($(num "$PRE") on A before, $(num "$FIRST") first on B)" test "$(num "$FIRST")" -gt "$(num "$PRE")"
LAST=$(lines "$(ser B k1)" "$OFF" | tail -n 1)
ok "B's disk log has no gap" "$GUEST" check-disk "$LVLAB_B_IMAGES/ferry/k1-vda.raw" "$(bootid "$PRE")" "$(num "$LAST")"
ok "B's disk beyond the log equals the source's random data" \
  cmp <(tail -c +$((1 << 20 + 1)) "$TMP/k1.raw") <(tail -c +$((1 << 20 + 1)) "$LVLAB_B_IMAGES/ferry/k1-vda.raw")
out=$(FA plan --detailed-exitcode "$TMP/plan.yaml" 2>&1); rc=$?
is "plan after → 0" "$rc" 0

# a half-arrived domain on B: a paused incoming k2 (what a failed migration
# leaves), made by hand; the rerun removes it and migrates
ok "k2 runs on A" "$GUEST" start "$D" k2 A
sed -i 's/^  - {name: k1.*$/&\n  - {name: k2, domain: k2, migrate: live}/' "$TMP/plan.yaml"
"$GUEST" xml k2 --nodisk | sed "s|<name>k2</name>|&<uuid>$(V A domuuid k2)</uuid>|" >"$TMP/k2-stale.xml"
ok "a paused k2 on B (create --paused, transient)" V B create --paused "$TMP/k2-stale.xml"
out=$(FA plan "$TMP/plan.yaml" 2>&1)
ok "plan: remove the half-arrived k2 on B, then migrate" grep -q "^~ k2/migrate: remove the half-arrived domain, then live-migrate" <<<"$out"
PRE=$(lines "$(ser A k2)" 0 | tail -n 1); OFF=$(size "$(ser B k2)")
out=$(FA apply --yes "$TMP/plan.yaml" 2>&1); rc=$?
is "apply → 0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2
is "k2 runs on B" "$(V B domstate k2 2>&1)" running
wait_counter "$(ser B k2)" "$OFF" 2 >/dev/null
FIRST=$(lines "$(ser B k2)" "$OFF" | head -n 1)
is "k2: same boot id on B (the migrated guest, not the stale one)" "$(bootid "$FIRST")" "$(bootid "$PRE")"

# a running k3 on B that ferry did not put there: never touched; nor a
# paused k4 on B with another UUID
ok "k4 runs on A" "$GUEST" start "$D" k4 A --nodisk
"$GUEST" xml k4 --nodisk >"$TMP/k4.xml"
ok "a paused k4 of another UUID on B" V B create --paused "$TMP/k4.xml"
sed -i 's/^  - {name: k1.*$/&\n  - {name: k4, domain: k4, migrate: live}/' "$TMP/plan.yaml"
out=$(FA plan "$TMP/plan.yaml" 2>&1)
ok "plan: k4 blocked by the other domain on B" grep -q "^! k4/migrate: blocked (another domain 'k4' (uuid .*, paused) is on '$LVLAB_B_URI'" <<<"$out"
ok "k3 runs on A" "$GUEST" start "$D" k3 A --nodisk
"$GUEST" xml k3 --nodisk >"$TMP/k3.xml"
ok "another k3 runs on B" V B create "$TMP/k3.xml"
sed -i 's/^  - {name: k1.*$/&\n  - {name: k3, domain: k3, migrate: live}/' "$TMP/plan.yaml"
out=$(FA plan "$TMP/plan.yaml" 2>&1)
ok "plan: k3 runs on both hosts: blocked" grep -q "^! k3/migrate: blocked (domain 'k3' runs on both" <<<"$out"
FA apply --yes "$TMP/plan.yaml" >/dev/null 2>&1
is "k3 still runs on A" "$(V A domstate k3 2>&1)" running
is "B's own k3 still runs" "$(V B domstate k3 2>&1)" running
is "B's paused k4 left as it was" "$(V B domstate k4 2>&1)" paused
is "k4 still runs on A" "$(V A domstate k4 2>&1)" running
done_testing
