#!/bin/bash
# apply --worker with the state in RADOS (issue 12), against the project's
# own single-node Ceph:
# - three workers, each in its own network namespace and its own directory
#   (plan copy, sources, targets): nothing but Ceph is shared; 30 VMs with
#   depends_on, every step begun once, every target equal to its source;
# - one plan file per wave: a worker on another host with another version
#   of the plan is refused (the cls_lock tag of the wave lock), and so is a
#   plain apply beside a worker that holds no VM lock;
# - the monitor restarted for a few seconds while workers run: they pause
#   and carry on;
# - a worker killed -9 mid-convert: its VM lock expires (5 s here) and a
#   second worker takes the VM over and resumes from the checkpoint.
# Network: Ceph runs in namespace ferC on 10.79.0.1; the workers in ferW1-3
# (10.79.0.2-4) reach it over veths on a bridge in ferC; a blackhole route
# for 10.79.0.0/24 is in the root namespace before anything is made, and
# all of it is removed at the end.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/workers-lib.sh"
cd "$TMP" || exit 1
SUBNET=10.79.0.0/24 NS_C=ferC CEPH_IP=10.79.0.1 PORT=6789
CEPH=$TMP/ceph
cleanup() {
  ip netns exec $NS_C "$TOP/tests/lab/ceph-stop.sh" "$CEPH" >/dev/null 2>&1
  for n in $NS_C ferW1 ferW2 ferW3; do ip netns del $n 2>/dev/null; done
  [ -n "${ROUTE_ADDED:-}" ] && ip route del blackhole $SUBNET 2>/dev/null
  [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT
die_setup() { echo "1..1"; echo "not ok 1 - $*"; exit 1; }
[ -z "$(ip route show exact $SUBNET)" ] || die_setup "a route for $SUBNET exists: another run of this test?"
ip netns list | grep -qE "^(ferC|ferW[123])\b" && die_setup "namespace ferC/ferW* exists: another run of this test?"
ip route add blackhole $SUBNET || die_setup "cannot add the blackhole route"
ROUTE_ADDED=1
{
  ip netns add $NS_C && ip -n $NS_C link set lo up &&
    ip -n $NS_C link add br0 type bridge && ip -n $NS_C addr add $CEPH_IP/24 dev br0 &&
    ip -n $NS_C link set br0 up
  for i in 1 2 3; do
    ip netns add ferW$i && ip -n ferW$i link set lo up &&
      ip link add vw$i netns ferW$i type veth peer name vc$i netns $NS_C &&
      ip -n $NS_C link set vc$i master br0 up &&
      ip -n ferW$i addr add 10.79.0.$((i + 1))/24 dev vw$i && ip -n ferW$i link set vw$i up
  done
} >setup.out 2>&1 || { cat setup.out; die_setup "network namespaces"; }
if ! ip netns exec $NS_C env FERRY_CEPH_ADDR=$CEPH_IP "$TOP/tests/lab/ceph-start.sh" "$CEPH" $PORT >ceph-start.out 2>&1; then
  sed 's/^/# /' ceph-start.out; die_setup "ceph lab starts in namespace $NS_C"
fi
ok "ceph lab started in namespace $NS_C on $CEPH_IP:$PORT" true
CONF=$CEPH/ceph.conf
ok "the root namespace cannot reach it (blackhole)" \
  bash -c '! timeout 5 ceph -c "$0" --connect-timeout 3 health >/dev/null 2>&1' "$CONF"
ok "a worker namespace can" ip netns exec ferW1 timeout 20 ceph -c "$CONF" health
R() { ip netns exec $NS_C rados -c "$CONF" -p rbd "$@"; }
# $HOST I CMD...: exec CMD as "host" ferWI: its network namespace and its
# own UTS namespace named ferWI (a lock's owner is judged by host name: a
# dead worker's pid is checked only on its own host); execs all the way,
# so the pid of a `exec $HOST ...` subshell is ferry's
HOST=$TMP/host.sh
cat >"$HOST" <<'EOF'
#!/bin/bash
i=$1; shift
exec ip netns exec "ferW$i" unshare --uts bash -c 'hostname "$0" && exec "$@"' "ferW$i" "$@"
EOF
chmod +x "$HOST"
# dump NAME: every journal object of plan NAME, one event per line
dump() {
  local o
  for o in $(R ls | grep -E "^$1(\.journal|\.vm\..*)$" | sort); do R get "$o" -; done
}
STATE="{backend: rados, pool: rbd, conf: $CONF}"

# -- three workers in three namespaces, nothing shared but Ceph ----------
make_plan wave 30 "vm05: depends_on: [vm20]" "vm10: depends_on: [vm29, vm30]"
for i in 1 2 3; do
  mkdir -p h$i && cp wave/plan.yaml h$i/ && cp -r wave/src h$i/
done
pids=()
for i in 1 2 3; do
  (cd h$i && FERRY_TEST_CHUNK_DELAY_MS=30 exec "$HOST" $i "$FERRY" \
    apply --worker --yes -p 2 plan.yaml >"../w$i.out" 2>&1) & pids+=($!)
done
rcs=
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs $?"; done
is "3 workers in 3 namespaces: all exit 0" "$rcs" " 0 0 0"
[ "$rcs" = " 0 0 0" ] || tail -n 5 w1.out w2.out w3.out | sed 's/^/# /' >&2
dump wave >wave.j
is "every step began exactly once (60 steps)" \
  "$(steps_begun wave.j | awk '$1 != 1' | wc -l) $(steps_begun wave.j | wc -l)" "0 60"
n_ok=0 n_where=0
for i in $(seq -w 1 30); do
  c=0
  for h in 1 2 3; do
    [ -e "h$h/out/vm$i-disk0.raw" ] || continue
    c=$((c + 1)); cmp -s "wave/src/vm$i.raw" "h$h/out/vm$i-disk0.raw" && n_ok=$((n_ok + 1))
  done
  [ $c = 1 ] && n_where=$((n_where + 1))
done
is "every VM's disk is on exactly one host" "$n_where" 30
is "... and equals its source" "$n_ok" 30
mine=$(sed -n 's/.*done (\([0-9]*\) by this worker.*/\1/p' w1.out w2.out w3.out | tr '\n' ' ')
is "the workers' own counts add up to 30 ($mine)" "$(echo $mine | tr ' ' '+' | bc)" 30
for d in "vm05 vm20" "vm10 vm29" "vm10 vm30"; do
  set -- $d
  b=$(time_of wave.j "$1/define" begin); e=$(time_of wave.j "$2/define" done)
  ok "depends_on: $1 defined after $2 was done" test "${b:-0}" -ge "${e:-1}"
done
out=$(cd h1 && "$HOST" 1 "$FERRY" status plan.yaml 2>&1)
ok "status from any host: 30 done, no lock held" \
  bash -c 'grep -q "^VMs: 30, 30 done" <<<"$0" && grep -q "none held" <<<"$0"' "$out"

# -- one plan file per wave: a host with another version is refused -------
make_plan pv 2
for i in 1 2; do mkdir -p pv$i && cp pv/plan.yaml pv$i/ && cp -r pv/src pv$i/; done
echo "# an older copy of the plan" >>pv2/plan.yaml
h1=$(sha256sum <pv1/plan.yaml | cut -c1-64)
h2=$(sha256sum <pv2/plan.yaml | cut -c1-64)
rm -f "$TMP"/gate "$TMP"/gate.*
(cd pv1 && FERRY_TEST_WORKER_GATE=$TMP/gate exec "$HOST" 1 "$FERRY" \
  apply --worker --yes plan.yaml >../pv1.out 2>&1) & P=$!
for _ in $(seq 1 1500); do ls "$TMP"/gate.* >/dev/null 2>&1 && break; sleep 0.02; done
is "the worker's share of the wave lock: shared, tagged with its plan's sha256" \
  "$(R lock info pv ferry.wave 2>/dev/null | tee pv-lock.json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["type"], j["tag"], len(j["lockers"]))' 2>&1)" \
  "shared $h1 1"
out=$(cd pv2 && "$HOST" 2 "$FERRY" apply --worker --yes plan.yaml 2>&1); rc=$?
is "a worker on another host with another plan file: exit 1" "$rc" 1
ok "... naming both hashes" \
  grep -qF "the workers applying this plan (1) run another plan file (sha256 $h1; this one is $h2): every host of a wave must apply the same plan file" <<<"$out"
out=$(cd pv2 && "$HOST" 2 "$FERRY" apply --yes plan.yaml 2>&1); rc=$?
is "a plain apply on another host beside the worker (no VM lock held): exit 1" "$rc" 1
ok "... the plan is being applied by the worker" \
  grep -q "the plan is being applied by pid $P on host 'ferW1'" <<<"$out"
touch "$TMP/gate"; wait $P; rc=$?
is "... the worker then does the wave: exit 0" "$rc" 0
n=$(R lock info pv ferry.wave 2>/dev/null |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["lockers"]))' 2>/dev/null)
is "... and its share is gone" "${n:-0}" 0

# -- the monitor restarted while workers run -----------------------------
make_plan mon 16
for i in 1 2; do mkdir -p m$i && cp mon/plan.yaml m$i/ && cp -r mon/src m$i/; done
pids=()
for i in 1 2; do
  (cd m$i && FERRY_TEST_CHUNK_DELAY_MS=400 exec "$HOST" $i "$FERRY" \
    apply --worker --yes -p 2 plan.yaml >"../m$i.out" 2>&1) & pids+=($!)
done
# the monitor goes down once the wave is under way: a first disk converted
# (its target renamed into place; a local look, the rados CLI is slow)
for _ in $(seq 1 1500); do
  compgen -G "m[12]/out/*-disk0.raw" >/dev/null && break
  sleep 0.01
done
t_down=$(date +%s%3N)
t_back=$(ip netns exec $NS_C "$TOP/tests/lab/ceph-restart-mon.sh" "$CEPH" 5); rc=$?
is "monitor killed, down 5 s, restarted" "$rc" 0
rcs=
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs $?"; done
is "... both workers exit 0" "$rcs" " 0 0"
[ "$rcs" = " 0 0" ] || tail -n 8 m1.out m2.out | sed 's/^/# /' >&2
dump mon >mon.j
is "... every step began once (32 steps)" \
  "$(steps_begun mon.j | awk '$1 != 1' | wc -l) $(steps_begun mon.j | wc -l)" "0 32"
times() { grep "\"event\":\"$1\"" mon.j | sed 's/.*"time_ms":\([0-9]*\).*/\1/'; }
n_before=$(times done | awk -v t="$t_down" '$1 < t' | wc -l)
ok "... the monitor went down mid-wave: $n_before of 32 steps done before" \
  test "$n_before" -gt 0 -a "$n_before" -lt 32
ok "... and steps began after it was started again" \
  test "$(times begin | awk -v t="$t_back" '$1 > t' | wc -l)" -gt 0
n_ok=0
for i in $(seq -w 1 16); do
  for h in 1 2; do
    [ -e "m$h/out/vm$i-disk0.raw" ] && cmp -s "mon/src/vm$i.raw" "m$h/out/vm$i-disk0.raw" && n_ok=$((n_ok + 1))
  done
done
is "... every target equals its source" "$n_ok" 16

# -- a worker killed mid-convert: its lock expires, another takes over ---
export FERRY_RADOS_LOCK_DURATION=5
make_plan kill 2
head -c $((128 << 20)) /dev/urandom >kill/src/vm01.raw
(cd kill && FERRY_TEST_CHUNK_DELAY_MS=200 exec "$HOST" 1 "$FERRY" \
  apply --worker --yes -p 2 --io-threads 1 --checkpoint-interval 1M plan.yaml >../k1.out 2>&1) & K=$!
# a 128 MiB disk at 200 ms a chunk takes seconds: the poll (a rados CLI
# run each, slow on a loaded machine) sees 8 MiB long before the end
off=
for _ in $(seq 1 600); do
  off=$(R get kill.vm.vm01 - 2>/dev/null | grep '"step":"vm01/convert/disk0","event":"checkpoint"' |
    tail -1 | sed 's/.*"offset":\([0-9]*\).*/\1/')
  [ -n "$off" ] && [ "$off" -ge $((8 << 20)) ] && break
  sleep 0.05
done
kill -9 $K; wait $K 2>/dev/null
t_kill=$(date +%s.%N)
last=$(dump kill | grep '"step":"vm01/convert/disk0","event":"checkpoint"' | tail -1 |
  sed 's/.*"offset":\([0-9]*\).*/\1/')
ok "killed a worker after a checkpoint of >= 8 MiB ($off)" test -n "$off" -a "${off:-0}" -ge $((8 << 20))
out=$(cd kill && "$HOST" 2 "$FERRY" status --json plan.yaml 2>&1)
is "... status from another host: vm01's lock is held by the dead worker" \
  "$(python3 -c 'import json,sys; j=json.load(sys.stdin); print([(l["vm"], l["pid"]) for l in j["locks"]])' <<<"$out" 2>&1)" \
  "[('vm01', $K)]"
out=$(cd kill && "$HOST" 2 "$FERRY" apply --worker --yes --checkpoint-interval 1M plan.yaml 2>&1); rc=$?
t_end=$(date +%s.%N)
is "a worker on another host: exit 0" "$rc" 0
ok "... waited for the lock to expire ($(echo "$t_end - $t_kill" | bc) s after the kill; duration 5 s)" \
  test "$(echo "$t_end - $t_kill >= 3" | bc)" = 1
is "... resumed vm01 from the last checkpoint the dead worker recorded (re-copies < 1 MiB interval)" \
  "$(sed -n 's/.*vm01\/convert\/disk0: resuming from \([0-9]*\) MiB.*/\1/p' <<<"$out")" "$((${last:-0} >> 20))"
ok "... the target equals the source" cmp kill/src/vm01.raw kill/out/vm01-disk0.raw
dump kill >kill.j
is "... vm01's convert began twice (killed, resumed), its define once" \
  "$(grep -c '"step":"vm01/convert/disk0","event":"begin"' kill.j) $(grep -c '"step":"vm01/define","event":"begin"' kill.j)" "2 1"

# -- a worker whose lock is broken stops the VM and records nothing more --
export FERRY_RADOS_LOCK_DURATION=4
make_plan lost 1
head -c $((64 << 20)) /dev/urandom >lost/src/vm01.raw
(cd lost && FERRY_TEST_CHUNK_DELAY_MS=300 exec "$HOST" 1 "$FERRY" \
  apply --worker --yes --io-threads 1 --checkpoint-interval 1M plan.yaml >../l1.out 2>&1) & L=$!
info=
for _ in $(seq 1 300); do
  info=$(R lock info lost.vm.vm01 ferry 2>/dev/null) && grep -q cookie <<<"$info" && break
  sleep 0.05
done
# status from another host: when the holder last renewed (every 1 s here)
st=
for _ in $(seq 1 10); do
  st=$(cd lost && "$HOST" 2 "$FERRY" status plan.yaml 2>/dev/null | grep "^  vm 'vm01'")
  grep -q "renewed" <<<"$st" && break
  sleep 0.2
done
ok "status from another host: the lock's last renewal ($st)" \
  grep -Eq "^  vm 'vm01': pid $L on host 'ferW1' since .*, renewed [0-2]s ago$" <<<"$st"
read -r client cookie < <(python3 -c 'import json,sys; l=json.load(sys.stdin)["lockers"][0]; print(l["name"], l["cookie"])' <<<"$info")
ok "broke the worker's lock of vm01 ($client)" R lock break lost.vm.vm01 ferry "$client" --lock-cookie "$cookie"
t_break=$(date +%s%3N)
wait $L; rc=$?
is "... the worker exits 1" "$rc" 1
ok "... saying it lost the lock and stopped the VM" grep -q "vm 'vm01': lost its lock" l1.out
dump lost >lost.j
ok "... no done recorded for vm01" bash -c '! grep -q "\"step\":\"vm01/[a-z/0-9]*\",\"event\":\"done\"" lost.j'
late=$(grep '"event":"checkpoint"' lost.j | sed 's/.*"time_ms":\([0-9]*\).*/\1/' |
  awk -v t=$((t_break + 3000)) '$1 > t' | wc -l)
is "... no checkpoint recorded 3 s after the break (renewal every 1 s)" "$late" 0
out=$(cd lost && "$HOST" 2 "$FERRY" apply --worker --yes --checkpoint-interval 1M plan.yaml 2>&1); rc=$?
is "the next worker finishes vm01: exit 0" "$rc" 0
ok "... the target equals the source" cmp lost/src/vm01.raw lost/out/vm01-disk0.raw
done_testing
