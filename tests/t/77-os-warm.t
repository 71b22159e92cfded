#!/bin/bash
# Warm migration onto the OpenStack target (docs/warm.md), against the real
# lab: a VM marked warm with two disks whose plan paths are snapshot deltas
# (a VMDK delta over its base, an AVHDX over its VHDX base).
#   apply --phase precopy: each base lands in its Cinder volume's RBD image
#     (byte for byte), no port or server exists yet, the cutover estimate
#     is in `plan`;
#   apply --phase cutover: only the deltas are written (bytes counted
#     against the deltas' allocated data), the images equal qemu-img's /
#     ferry's conversion of the whole chains, the server is ACTIVE;
#   a rerun has nothing to do.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
. "$TOP/tests/lab/os-lib.sh"
PY=/usr/bin/python3
M=1048576
cd "$TMP" || exit 1
P=warm-$(os_random)
trap 'os_cleanup "$P" >/dev/null 2>&1; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT

# disk0: a VMDK base and a delta written by qemu-io (data across grains, a
# zero write over data, the last partial grain of a 40 MiB + 12 KiB disk)
mkdir src
$PY "$TOP/tests/gen/qcow2-pattern.py" b0.raw $((40 * M + 12288)) 31
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse b0.raw src/w-base.vmdk
qemu-img create -q -f vmdk -b w-base.vmdk -F vmdk src/w-000001.vmdk
qemu-io -f vmdk -c "write -P 0x5a $((3 * M - 4096)) 136k" \
  -c "write -P 0x11 $((20 * M)) 64k" -c "write -z $((8 * M)) 128k" \
  -c "write -P 0x77 $((40 * M)) 12k" src/w-000001.vmdk >/dev/null
qemu-img convert -q -O raw src/w-base.vmdk oracle-base0.raw
qemu-img convert -q -O raw src/w-000001.vmdk oracle-full0.raw
# the delta's own allocation, as qemu sees it: what the cutover must write
delta0=$(qemu-img map --output=json -f vmdk src/w-000001.vmdk |
  jq '[.[]|select(.depth==0 and .data==true)|.length]|add')

# disk1: a VHDX base and an AVHDX child written by the tests' own VHDX
# writer (sector-granular writes: the sector bitmap decides what is the
# child's)
$PY "$TOP/tests/gen/qcow2-pattern.py" b1.raw $((24 * M)) 32
qemu-img convert -q -f raw -O vhdx -o subformat=dynamic b1.raw src/w1.vhdx
head -c 1536 /dev/urandom >p1
head -c $((2 * M + 512)) /dev/urandom >p2
$PY "$TOP/tests/gen/vhdtool.py" diff-vhdx src/w1.vhdx src/w1_snap.avhdx \
  --write 1024:p1 --write $((5 * M - 512)):p2 >/dev/null
cp b1.raw oracle-base1.raw
cp b1.raw oracle-full1.raw
dd if=p1 of=oracle-full1.raw bs=512 seek=2 conv=notrunc status=none
dd if=p2 of=oracle-full1.raw bs=512 seek=$(((5 * M - 512) / 512)) conv=notrunc status=none
ok "ferry's own conversion of the VHDX chain equals the writes applied with dd" \
  sh -c "'$FERRY' convert src/w1_snap.avhdx full1.raw 2>/dev/null && cmp full1.raw oracle-full1.raw"

cat >plan.yaml <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $P}
sources: {dc: {type: directory, path: src}}
targets:
  lab:
    type: openstack
    cloud: lab
    ceph: {conf: $CEPH_CONF, volumes_pool: volumes, images_pool: images}
defaults: {source: dc, target: lab, volume_type: ceph, flavor: lab.small}
flavors:
  lab.small: {vcpus: 1, ram_mb: 512, disk_gb: 1}
vms:
  - name: w
    warm: true
    os_type: linux
    disks:
      - {file: w-000001.vmdk}
      - {file: w1_snap.avhdx}
    ports:
      - {network: lab-net, fixed_ip: 127.100.0.16, security_groups: [lab-sg]}
YAML

# 1. the pre-copy, while "the VM runs"
"$FERRY" apply -y --phase precopy plan.yaml >pre.out 2>pre.err; rc=$?
is "precopy: exit 0" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/# /' pre.out pre.err | tail -20
vols=$(api volumev3 GET /volumes/detail)
volid() { jq -r --arg p "$P" --arg n "$1" '.volumes[]|select(.name==$n and .metadata["ferry:plan"]==$p)|.id' <<<"$vols"; }
ok "precopy: disk0's RBD image holds the VMDK base" \
  rbd_equals_oracle "volumes/volume-$(volid w-disk0)" oracle-base0.raw
ok "precopy: disk1's RBD image holds the VHDX base" \
  rbd_equals_oracle "volumes/volume-$(volid w-disk1)" oracle-base1.raw
is "precopy: no server and no port yet, 2 volumes" "$(os_count_marked "$P")" "0 0 2"
"$FERRY" plan plan.yaml >plan1.out 2>&1
ok "plan: the pre-copy is done and says what the cutover copies" \
  grep -qE '^= w/precopy/disk0: .*holds w-base.vmdk; the cutover copies [0-9]+ KiB' plan1.out
"$FERRY" plan --phase cutover plan.yaml >plan2.out 2>&1
ok "plan --phase cutover: the cutover of disk1 copies onto the pre-copied base" \
  grep -qE '^~ w/convert/disk1: .*cutover: copy .* onto the pre-copied .*w1.vhdx' plan2.out

# 2. the cutover, "after the VM was shut down"
"$FERRY" apply -y --phase cutover plan.yaml >cut.out 2>cut.err; rc=$?
is "cutover: exit 0" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/# /' cut.out cut.err | tail -20
w0=$(sed -n "s/.*w\/convert\/disk0: cutover onto '.*w-base.vmdk': \([0-9]*\) bytes written, \([0-9]*\) bytes zeroed.*/\1+\2/p" cut.err)
is "cutover of disk0 wrote exactly the delta's allocated grains" "$((w0))" "$delta0"
w1=$(sed -n "s/.*w\/convert\/disk1: cutover onto '.*w1.vhdx': \([0-9]*\) bytes written.*/\1/p" cut.err)
# 1536 bytes at 1024 and 2 MiB + 512 at 5 MiB - 512 touch 4 KiB blocks
# [0, 4K) and [5M - 4K, 7M): the converter writes whole 4 KiB blocks
is "cutover of disk1 wrote the 4 KiB blocks the child's sectors touch" "$w1" $((4096 + 2 * M + 4096))
vols=$(api volumev3 GET /volumes/detail)
ok "cutover: disk0's RBD image equals qemu-img's conversion of the whole chain" \
  rbd_equals_oracle "volumes/volume-$(volid w-disk0)" oracle-full0.raw
ok "cutover: disk1's RBD image equals the whole VHDX chain" \
  rbd_equals_oracle "volumes/volume-$(volid w-disk1)" oracle-full1.raw
servers=$(api compute GET /servers/detail)
is "cutover: server w is ACTIVE" \
  "$(jq -r --arg p "$P" '[.servers[]|select(.name=="w" and .metadata["ferry:plan"]==$p)|.status]|join(",")' <<<"$servers")" ACTIVE
is "cutover: 1 server, 1 port, 2 volumes" "$(os_count_marked "$P")" "1 1 2"

# 3. nothing left
"$FERRY" plan --detailed-exitcode --phase cutover plan.yaml >plan3.out 2>&1; rc=$?
is "after the cutover: plan has nothing to do" "$rc" 0
done_testing
