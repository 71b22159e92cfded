#!/bin/bash
# kill -9 during apply onto the real OpenStack lab, at three moments — while
# a volume is being created, in the middle of a conversion, while a server
# is building — and rerun each time: in the end exactly one volume per
# disk, one port per NIC and one server per VM (counted through the APIs),
# every volume's bytes equal the source, and the rerun after the mid-convert
# kill resumed from its checkpoint.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
. "$TOP/tests/lab/os-lib.sh"
cd "$TMP" || exit 1
P=kill-$(os_random)
trap 'kill -9 $pid 2>/dev/null; os_cleanup "$P" >/dev/null 2>&1; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
pid=

mkdir src
python3 "$TOP/tests/gen/qcow2-pattern.py" k0.raw $((48 * 1048576)) 31
python3 "$TOP/tests/gen/qcow2-pattern.py" k1.raw $((16 * 1048576)) 32
qemu-img convert -q -f raw -O qcow2 k0.raw src/k0.qcow2
qemu-img convert -q -f raw -O vmdk k1.raw src/k1.vmdk
cat >plan.yaml <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $P}
sources: {dc: {type: directory, path: src}}
targets:
  lab: {type: openstack, cloud: lab, ceph: {conf: $CEPH_CONF, volumes_pool: volumes}}
defaults: {source: dc, target: lab, volume_type: ceph, flavor: lab.small}
flavors: {lab.small: {vcpus: 1, ram_mb: 512, disk_gb: 1}}
vms:
  - name: k1
    disks: [{file: k0.qcow2}, {file: k1.vmdk}]
    ports: [{network: lab-net, fixed_ip: 127.100.0.14, security_groups: [lab-sg]}]
  - name: k2
    disks: [{file: k1.vmdk}]
    ports:
      - {network: lab-net, fixed_ip: 127.100.0.15}
      - {network: lab-net2, fixed_ip: 127.101.0.15}
    depends_on: [k1]
YAML
J=.ferry/$P.state

# start_apply [ENV...]: ferry apply in the background
start_apply() {
  env "$@" "$FERRY" apply -y -p 2 --checkpoint-interval 4M plan.yaml >>apply.out 2>&1 &
  pid=$!
}
# kill_when WHAT CMD...: poll CMD every 0.1 s (max 120 s); kill -9 ferry once it holds
kill_when() {
  local what=$1 i; shift
  for i in $(seq 1200); do
    if "$@" 2>/dev/null; then kill -9 "$pid"; wait "$pid" 2>/dev/null; echo "# killed $what"; return 0; fi
    kill -0 "$pid" 2>/dev/null || {
      wait "$pid"; echo "# apply ended (exit $?) before: $what"; tail -n 15 apply.out | sed 's/^/#   /'
      return 1
    }
    sleep 0.1
  done
  kill -9 "$pid"; return 1
}
journal_has() { [ -f "$J" ] && jq -e --arg s "$1" --arg e "$2" 'select(.step==$s and .event==$e)' "$J" >/dev/null; }
volume_exists() { api volumev3 GET "/volumes/detail?name=$1" | jq -e --arg p "$P" '[.volumes[]|select(.metadata["ferry:plan"]==$p)]|length==1' >/dev/null; }

# 1. while a volume is being created (it exists in Cinder, apply waits on it)
start_apply
ok "kill -9 while volume k1-disk0 is being created" kill_when "volume create" volume_exists k1-disk0
# 2. mid-convert: slow chunks, kill after the first checkpoint
start_apply FERRY_TEST_CHUNK_DELAY_MS=150
ok "kill -9 in the middle of converting k1/disk0" kill_when "mid-convert" journal_has k1/convert/disk0 checkpoint
ck=$(jq -r 'select(.step=="k1/convert/disk0" and .event=="checkpoint")|.offset' "$J" | tail -1)
# 3. while a server is building (slow chunks: k2's conversion keeps the
# apply running past k1's boot on a loaded machine too)
start_apply FERRY_TEST_CHUNK_DELAY_MS=150
ok "kill -9 while server k1 is building" kill_when "server build" \
  sh -c "jq -e 'select(.step==\"k1/boot\" and .event==\"created\")' '$J' >/dev/null"
# the rerun converges
"$FERRY" apply -y plan.yaml >final.out 2>&1; rc=$?
is "rerun after three kills: exit 0" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/# /' final.out | tail -20
ok "a rerun resumed k1/disk0 from its checkpoint (or it had finished)" \
  sh -c "grep -q 'k1/convert/disk0: resuming from' apply.out final.out || jq -e 'select(.step==\"k1/convert/disk0\" and .event==\"done\")' '$J' >/dev/null"
is "exactly 2 servers, 3 ports, 3 volumes" "$(os_count_marked "$P")" "2 3 3"
vols=$(api volumev3 GET /volumes/detail)
volid() { jq -r --arg p "$P" --arg n "$1" '.volumes[]|select(.name==$n and .metadata["ferry:plan"]==$p)|.id' <<<"$vols"; }
qemu-img convert -q -O raw src/k0.qcow2 o0.raw
qemu-img convert -q -O raw src/k1.vmdk o1.raw
ok "k1-disk0 equals its source after the mid-convert kill (checkpoint was at $ck)" \
  rbd_equals_oracle "volumes/volume-$(volid k1-disk0)" o0.raw
ok "k1-disk1 equals its source" rbd_equals_oracle "volumes/volume-$(volid k1-disk1)" o1.raw
ok "k2-disk0 equals its source" rbd_equals_oracle "volumes/volume-$(volid k2-disk0)" o1.raw
is "both servers ACTIVE" \
  "$(api compute GET /servers/detail | jq -r --arg p "$P" '[.servers[]|select(.metadata["ferry:plan"]==$p)|.status]|sort|join(",")')" "ACTIVE,ACTIVE"
"$FERRY" plan --detailed-exitcode plan.yaml >plan.out 2>&1; rc=$?
is "plan after the rerun: exit 0, nothing to do" "$rc" 0
done_testing
