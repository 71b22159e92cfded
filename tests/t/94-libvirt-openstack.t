#!/bin/bash
# KVM to OpenStack through the libvirt source: a shut-off domain on lab host
# A (a qcow2 disk, a NIC on network 'lan-a' with its MAC) becomes a Cinder
# volume holding the disk's bytes, a Neutron port on the mapped network
# with the same MAC, and an ACTIVE Nova server booted from the volume —
# through the same convert/volume/port/boot steps as any source.  ferry
# runs in the root namespace here (it needs the OpenStack lab on
# 127.0.0.1): it reaches host A's libvirtd through A's Unix socket, never
# over the lab's network.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/lvlab-test.sh"
. "$TOP/tests/lab/os-env.sh"
. "$TOP/tests/lab/os-lib.sh"
P=lvos-$(os_random)
trap 'os_cleanup "$P" >/dev/null 2>&1
      if [ -f "$D/.ferry-lvlab" ]; then "$LAB" down "$D" >"$TMP/down-on-exit.log" 2>&1 || cat "$TMP/down-on-exit.log" >&2; fi
      [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
SOCK=/proc/$(cat "$D/pids/libvirtd-A")/root/run/libvirt/libvirt-sock
ok "host A's libvirt socket is reachable from the root namespace" test -S "$SOCK"
AURI="qemu+unix:///system?socket=$SOCK"

python3 "$TOP/tests/gen/qcow2-pattern.py" "$TMP/o1.raw" $((24 * 1048576)) 61
qemu-img convert -q -f raw -O qcow2 "$TMP/o1.raw" "$LVLAB_A_IMAGES/o1.qcow2"
cat >"$TMP/o1.xml" <<EOX
<domain type='qemu'>
  <name>o1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$LVLAB_A_IMAGES/o1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='fa:16:3e:94:00:01'/>
      <source network='lan-a'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
EOX
ok "domain o1 defined on A" V A define "$TMP/o1.xml"
cat >"$TMP/plan.yaml" <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $P}
state: {backend: file, path: $TMP/state/$P.state}
sources: {kvm: {type: libvirt, uri: "$AURI"}}
targets:
  lab:
    type: openstack
    cloud: lab
    ceph: {conf: $CEPH_CONF, volumes_pool: volumes}
    networks: {lan-a: lab-net}
defaults: {source: kvm, target: lab, volume_type: ceph, flavor: lab.small}
flavors: {lab.small: {vcpus: 1, ram_mb: 512, disk_gb: 1}}
vms:
  - {name: o1, domain: o1}
YAML
out=$("$FERRY" plan "$TMP/plan.yaml" 2>&1)
ok "plan: o1's domain found on A" grep -q "^= o1/shutdown: shut off on qemu+unix:///system" <<<"$out"
ok "plan: a volume, a convert, a port and a server" \
  sh -c 'for s in o1/volume/disk0 o1/convert/disk0 o1/port/0 o1/boot; do printf "%s\n" "$1" | grep -q "^+ $s" || exit 1; done' _ "$out"
t=$(date +%s.%N)
out=$("$FERRY" apply --yes "$TMP/plan.yaml" 2>&1); rc=$?
echo "# KVM -> OpenStack apply: $(el "$t") s"
is "apply → 0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2
vols=$(api volumev3 GET /volumes/detail)
vid=$(jq -r --arg p "$P" '.volumes[]|select(.name=="o1-disk0" and .metadata["ferry:plan"]==$p)|.id' <<<"$vols")
ok "the volume exists" test -n "$vid"
ok "its RBD image equals the domain's disk" rbd_equals_oracle "volumes/volume-$vid" "$TMP/o1.raw"
port=$(api network GET /ports | jq -c --arg p "$P" '[.ports[]|select(.mac_address=="fa:16:3e:94:00:01")]')
is "one port with the domain's MAC" "$(jq length <<<"$port")" 1
is "on the mapped network (lan-a → lab-net)" "$(jq -r '.[0].network_id' <<<"$port")" "$LAB_NET_ID"
is "server o1 is ACTIVE, booted from that volume" \
  "$(api compute GET /servers/detail | jq -r --arg p "$P" '.servers[]|select(.name=="o1" and .metadata["ferry:plan"]==$p)|[.status, .["os-extended-volumes:volumes_attached"][0].id]|join(" ")')" "ACTIVE $vid"
is "the source domain stays defined and shut off on A" "$(V A domstate o1 2>&1)" "shut off"
out=$("$FERRY" plan --detailed-exitcode "$TMP/plan.yaml" 2>&1); rc=$?
is "plan after → 0" "$rc" 0
done_testing
