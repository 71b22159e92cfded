#!/bin/bash
# The two-host libvirt lab (tests/lab/libvirt-lab.sh) and its counter guest
# (tests/lab/libvirt-guest.sh) work as ferry's KVM->KVM migration tests need
# them: both libvirtd answer inside their network namespaces and nowhere else
# (blackhole route, the root namespace cannot reach them), each host's images
# directory has the same path in the root mount namespace and in the host's,
# a guest boots and counts, a live migration with --copy-storage-all moves it
# to B without a restart or a lost disk write, a ferry.dirty guest dirties
# memory faster than a throttled migration copies it, and `down` leaves no
# namespace, route or qemu behind.  Root only; the lab is torn down on exit,
# also when a test fails.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (network and mount namespaces)"
for c in libvirtd virsh qemu-system-x86_64 qemu-img gcc; do
  command -v $c >/dev/null || skip_all "no '$c' (scripts/install-deps)"
done
# the lab's names (ferA/ferB, 10.78.0.0/24) are machine-wide: one run at a time
exec 9>/run/lock/ferry-lvlab.lock
flock -w 900 9 || { echo "not ok 1 - another libvirt lab test holds /run/lock/ferry-lvlab.lock for 900 s"; exit 1; }
LAB=$TOP/tests/lab/libvirt-lab.sh
GUEST=$TOP/tests/lab/libvirt-guest.sh
D=$TMP/lvlab
# down on exit once our `up` got past its checks (it writes DIR/.ferry-lvlab
# then), even if it was interrupted; never when it refused (another lab runs)
UP=1
trap 'if [ $UP = 1 ] && [ -f "$D/.ferry-lvlab" ]; then "$LAB" down "$D" >"$TMP/down-on-exit.log" 2>&1 || cat "$TMP/down-on-exit.log" >&2; fi
      [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
el() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN{printf "%.1f", t1-t0}'; }
V() { local X=$1 ns uri; shift; ns=$(eval echo "\$LVLAB_NS_$X"); uri=$(eval echo "\$LVLAB_${X}_URI")
  ip netns exec "$ns" timeout 60 virsh -q -c "$uri" "$@"; }
ser() { eval echo "\$LVLAB_${1}_LOG/$2.serial"; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
lines() { tail -c +$(($2 + 1)) "$1" 2>/dev/null | tr -d '\r' |
  grep -E '^COUNTER [0-9]+ uptime=[0-9.]+ boot=[0-9a-f-]{36}$' || true; }
# wait_counter FILE OFFSET N: until N consecutive COUNTER lines after OFFSET (60 s)
wait_counter() { "$GUEST" wait-count "$1" "$2" "$3"; }
num() { awk '{print $2}' <<<"$1"; }
bootid() { sed -n 's/.*boot=\([^ ]*\).*/\1/p' <<<"$1"; }

# 0. a failed up undoes itself (here: a libvirtd that exits at once)
mkdir -p "$TMP/bin"
printf '#!/bin/sh\necho "fake libvirtd: exiting" >&2\nexit 1\n' >"$TMP/bin/libvirtd"
chmod +x "$TMP/bin/libvirtd"
fails_with "up fails when libvirtd exits" 1 "libvirtd A exited" env PATH="$TMP/bin:$PATH" "$LAB" up "$TMP/lvbad"
is "the failed up left no netns" "$(ip netns list | awk '{print $1}' | grep -cx 'fer[AB]')" 0
is "the failed up left no route" "$(ip route show 10.78.0.0/24)" ""

# 1. up
t=$(date +%s.%N)
ok "lab up in '$D'" "$LAB" up "$D"
echo "# up: $(el "$t") s"
if [ ! -f "$D/env" ]; then done_testing; exit 1; fi
# shellcheck disable=SC1091
. "$D/env"
is "env: A's URI" "$LVLAB_A_URI" qemu+tcp://10.78.0.1/system
is "env: B's images directory" "$LVLAB_B_IMAGES" "$D/B/images"
fails_with "up refuses over the live lab" 1 "a lab is running" "$LAB" up "$TMP/lvlab2"
fails_with "status: healthy" 0 '^healthy$' "$LAB" status "$D"
ok "host A answers inside ferA" V A list
ok "host B answers inside ferB" V B list
ok "host A reaches B's libvirtd over the veth" ip netns exec ferA timeout 5 bash -c '</dev/tcp/10.78.0.2/16509'
is "root netns: blackhole route for 10.78.0.0/24" "$(ip route show 10.78.0.0/24 | awk '{print $1, $2}')" "blackhole 10.78.0.0/24"
fails "root netns cannot reach B's libvirtd" 1 timeout 2 bash -c '</dev/tcp/10.78.0.2/16509'

# 2. the filesystem as ferry (root mount ns) and each libvirtd see it
PA=$(cat "$D/pids/libvirtd-A")
PB=$(cat "$D/pids/libvirtd-B")
echo probe >"$LVLAB_A_IMAGES/probe"
is "libvirtd A sees A's images under the same path" "$(cat "/proc/$PA/root$LVLAB_A_IMAGES/probe" 2>&1)" probe
echo private >"$D/A/lib/probe"
is "libvirtd A's /var/lib/libvirt is private (DIR/A/lib)" "$(cat "/proc/$PA/root/var/lib/libvirt/probe" 2>&1)" private
ok "libvirtd A has no /dev/kvm" test ! -e "/proc/$PA/root/dev/kvm"
rm -f "$LVLAB_A_IMAGES/probe" "$D/A/lib/probe"

# 3. a counter guest on A
N=t90count
t=$(date +%s.%N)
ok "guest '$N' starts on A and prints COUNTER 1" "$GUEST" start "$D" $N A
echo "# boot to first COUNTER (define+start included): $(el "$t") s"
ok "guest '$N' counts to 3 on A" wait_counter "$(ser A $N)" 0 3
PRE=$(lines "$(ser A $N)" 0 | tail -n 1)
BOOT=$(bootid "$PRE")
ok "A's disk log 1..n without a gap" "$GUEST" check-disk "$LVLAB_A_IMAGES/$N.qcow2" "$BOOT" 3

# 4. live migration A -> B copying the disk into B's images directory
V A dumpxml --migratable $N | sed "s|'$LVLAB_A_IMAGES/|'$LVLAB_B_IMAGES/|" >"$TMP/$N.dest.xml"
ok "destination XML names B's images directory" grep -q "'$LVLAB_B_IMAGES/$N.qcow2'" "$TMP/$N.dest.xml"
ok "destination disk pre-created on B" qemu-img create -q -f qcow2 -o preallocation=metadata \
  "$LVLAB_B_IMAGES/$N.qcow2" 16M
OFF=$(size "$(ser B $N)")
PRE=$(lines "$(ser A $N)" 0 | tail -n 1)
t=$(date +%s.%N)
ok "virsh migrate --live --p2p --copy-storage-all A->B" V A migrate --live --p2p --persistent \
  --undefinesource --copy-storage-all --xml "$TMP/$N.dest.xml" --persistent-xml "$TMP/$N.dest.xml" \
  $N "$LVLAB_B_URI"
echo "# migrate A->B (copy-storage-all, 16 MiB disk, 128 MiB RAM): $(el "$t") s," \
  "downtime $(V B domjobinfo --completed $N 2>/dev/null | awk -F: '/^Total downtime/{gsub(/ +/," ",$2); print $2}')"
is "guest runs on B" "$(V B domstate $N 2>&1)" running
ok "guest is persistent on B" bash -c "ip netns exec ferB virsh -q -c '$LVLAB_B_URI' list --persistent --name | grep -qx $N"
is "guest is gone from A" "$(V A list --all --name 2>&1 | grep -cx $N)" 0
ok "guest counts on B" wait_counter "$(ser B $N)" "$OFF" 2
FIRST=$(lines "$(ser B $N)" "$OFF" | head -n 1)
is "same boot id on B (no restart)" "$(bootid "$FIRST")" "$BOOT"
ok "counter continued on B ($(num "$PRE") on A, $(num "$FIRST") first on B)" \
  test "$(num "$FIRST")" -gt "$(num "$PRE")"
ok "B's disk log 1..n without a gap, past the last count on A" \
  "$GUEST" check-disk "$LVLAB_B_IMAGES/$N.qcow2" "$BOOT" "$(num "$PRE")"

# 5. a guest that dirties 64 MiB faster than a 30 MiB/s migration copies it
G=t90dirty
ok "guest '$G' (ferry.dirty=64, no disk) starts on A" "$GUEST" start "$D" $G A --dirty 64 --nodisk
ok "its dirtier runs" wait_counter "$(ser A $G)" 0 2
ok "serial says 'READY dirty=64 MiB'" grep -q "^READY dirty=64 MiB" "$(ser A $G)"
V A domdirtyrate-calc $G --seconds 1 >/dev/null 2>&1; sleep 2
RATE=$(V A domstats $G --dirtyrate 2>/dev/null | sed -n 's/.*dirtyrate.megabytes_per_second=//p')
ok "sampled dirty rate >= 10 MB/s (got '${RATE}')" test "${RATE:-0}" -ge 10
V A migrate --live --p2p --persistent --undefinesource --bandwidth 30 $G "$LVLAB_B_URI" \
  >"$TMP/dirty-migrate.log" 2>&1 &
MP=$!
JOB=
for _ in $(seq 1 60); do
  sleep 1
  J=$(V A domjobinfo $G 2>/dev/null) || true
  it=$(awk -F: '/^Iteration/{print $2+0}' <<<"$J")
  dr=$(awk -F: '/^Dirty rate/{print $2+0}' <<<"$J")
  if [ "${it:-0}" -ge 3 ] && [ "${dr:-0}" -gt 0 ]; then JOB=$J; break; fi
  kill -0 $MP 2>/dev/null || break
done
V A domjobabort $G >/dev/null 2>&1 || true
wait $MP
echo "# dirty guest under --bandwidth 30: $(awk -F: '/^(Iteration|Dirty rate|Memory processed)/{gsub(/ +/," "); printf "%s:%s; ", $1, $2}' <<<"$JOB")"
ok "throttled migration: iteration >= 3 with a dirty rate > 0 (does not converge)" test -n "$JOB"
is "dirty guest still runs on A after the abort" "$(V A domstate $G 2>&1)" running
OFF=$(size "$(ser A $G)")
ok "dirty guest keeps counting" wait_counter "$(ser A $G)" "$OFF" 2

# 6. down
QEMU=$(for ns in ferA ferB; do ip netns pids $ns; done | while read -r p; do
  [ "$(cat /proc/"$p"/comm 2>/dev/null)" = qemu-system-x86 ] && echo "$p"; done)
is "two qemu processes run in the lab" "$(echo "$QEMU" | grep -c .)" 2
t=$(date +%s.%N)
ok "lab down" "$LAB" down "$D"
echo "# down: $(el "$t") s"
UP=0
is "netns ferA and ferB gone" "$(ip netns list | awk '{print $1}' | grep -cx 'fer[AB]')" 0
is "blackhole route gone" "$(ip route show 10.78.0.0/24)" ""
is "no lab qemu remains" "$(for p in $QEMU; do kill -0 "$p" 2>/dev/null && echo "$p"; done)" ""
is "no lab libvirtd remains" "$(for p in $PA $PB; do kill -0 "$p" 2>/dev/null && echo "$p"; done)" ""
fails "status after down: exit 3" 3 "$LAB" status "$D"
ok "down again is harmless" "$LAB" down "$D"
done_testing
