#!/bin/bash
# OpenStack target modes against the real lab: manage mode (ferry converts
# into its own RBD image, Cinder adopts it: the volume holds the bytes, is
# bootable, the server boots from it); a VM whose volume type does not exist
# fails with Cinder's own message while the other VMs finish; a VM with an
# image boots from it (the image's RBD snapshot holds the disk's bytes); the
# plan afterwards shows exactly that.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
. "$TOP/tests/lab/os-lib.sh"
cd "$TMP" || exit 1
P=modes-$(os_random)
export OS_CLOUD=lab-admin        # manage needs the admin role; os-api.py too
trap 'os_cleanup "$P" >/dev/null 2>&1; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT

mkdir src
python3 "$TOP/tests/gen/qcow2-pattern.py" m0.raw $((20 * 1048576 + 512)) 51
python3 "$TOP/tests/gen/qcow2-pattern.py" m1.raw $((8 * 1048576)) 52
qemu-img convert -q -f raw -O qcow2 m0.raw src/m0.qcow2
qemu-img convert -q -f raw -O vpc m1.raw src/m1.vhd
qemu-img convert -q -O raw src/m0.qcow2 o0.raw
qemu-img convert -q -O raw src/m1.vhd o1.raw
cat >plan.yaml <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $P}
sources: {dc: {type: directory, path: src}}
targets:
  lab:
    type: openstack
    cloud: lab-admin
    ceph: {conf: $CEPH_CONF, volumes_pool: volumes}
    volume_mode: manage
    volume_host: "$LAB_VOLUME_HOST"
defaults: {source: dc, target: lab, volume_type: ceph, flavor: lab.small}
flavors: {lab.small: {vcpus: 1, ram_mb: 512, disk_gb: 1}}
vms:
  - name: mg
    firmware: uefi
    disks:
      - {file: m0.qcow2}
      - {file: m1.vhd, volume_mode: write-in-place}
  - name: bad
    disks: [{file: m1.vhd, volume_type: no-such-type, volume_mode: write-in-place}]
  - name: tpl
    image: {name: tpl-$P}
    boot_from: image
    disks: [{file: m1.vhd, volume_mode: write-in-place}]
YAML

"$FERRY" plan plan.yaml >plan1.out 2>&1
ok "plan: mg's first disk converts into ferry's own image" \
  grep -q "^+ mg/convert/disk0: rbd:volumes/ferry-$P-mg-disk0" plan1.out
ok "plan: then Cinder adopts it (manage step)" grep -q "^+ mg/manage/disk0: volume mg-disk0: adopt" plan1.out
ok "plan: mg's second disk is write-in-place (a volume step, no manage step)" \
  sh -c "grep -q '^+ mg/volume/disk1' plan1.out && ! grep -q 'mg/manage/disk1' plan1.out"
"$FERRY" apply -y plan.yaml >apply.out 2>&1; rc=$?
is "apply: exit 1 (one VM failed)" "$rc" 1
ok "the failing VM carries Cinder's own message and HTTP status" \
  grep -Eq "bad/volume/disk0.*cinder: .*no-such-type.*\(HTTP 40[04]\)" apply.out
vols=$(api volumev3 GET /volumes/detail)
volid() { jq -r --arg p "$P" --arg n "$1" '.volumes[]|select(.name==$n and .metadata["ferry:plan"]==$p)|.id' <<<"$vols"; }
v0=$(volid mg-disk0)
ok "manage: the adopted volume exists" test -n "$v0"
ok "manage: its RBD image (renamed by Cinder) equals the source" rbd_equals_oracle "volumes/volume-$v0" o0.raw
ok "manage: ferry's own image name is gone (adopted, not copied)" \
  sh -c "! rbd -c '$CEPH_CONF' info 'volumes/ferry-$P-mg-disk0' >/dev/null 2>&1"
is "manage: the volume is bootable with hw_firmware_type=uefi" \
  "$(jq -r --arg id "$v0" '.volumes[]|select(.id==$id)|[.bootable,.volume_image_metadata.hw_firmware_type]|join(" ")' <<<"$vols")" "true uefi"
ok "write-in-place disk of the same VM equals its source" rbd_equals_oracle "volumes/volume-$(volid mg-disk1)" o1.raw
is "server mg is ACTIVE, booted from the adopted volume" \
  "$(api compute GET /servers/detail | jq -r --arg p "$P" '.servers[]|select(.name=="mg" and .metadata["ferry:plan"]==$p)|[.status, .["os-extended-volumes:volumes_attached"][0].id]|join(" ")')" "ACTIVE $v0"
is "no volume and no server for the failed VM" \
  "$(jq -r --arg p "$P" '[.volumes[]|select(.metadata["ferry:vm"]=="bad" and .metadata["ferry:plan"]==$p)]|length' <<<"$vols")" 0
img=$(api image GET "/v2/images?name=tpl-$P")
is "image: one image tpl-$P, active, ferry's properties" \
  "$(jq -r --arg p "$P" '[.images[]|select(.ferry_plan==$p)|[.status,.ferry_vm]|join(" ")]|join(",")' <<<"$img")" "active tpl"
iid=$(jq -r '.images[0].id' <<<"$img")
ok "image: its RBD snapshot images/<id>@snap equals the source" rbd_equals_oracle "images/$iid@snap" o1.raw
is "boot from image: server tpl is ACTIVE on that image" \
  "$(api compute GET /servers/detail | jq -r --arg p "$P" '.servers[]|select(.name=="tpl" and .metadata["ferry:plan"]==$p)|[.status,.image.id]|join(" ")')" "ACTIVE $iid"
"$FERRY" plan --detailed-exitcode plan.yaml >plan2.out 2>&1; rc=$?
is "plan afterwards: exit 2 (the failed VM is still to do)" "$rc" 2
is "plan afterwards: mg's 5 steps are =" "$(grep -c '^= mg/' plan2.out)" 5
ok "plan afterwards: bad's volume is still +" grep -q '^+ bad/volume/disk0' plan2.out

# destroy one VM, then apply again: it converges back
"$FERRY" destroy plan.yaml --vm tpl --yes >destroy.out 2>&1; rc=$?
is "destroy --vm tpl: exit 0" "$rc" 0
tplobjs() {
  echo "$(api compute GET /servers/detail | jq --arg p "$P" '[.servers[]|select(.name=="tpl" and .metadata["ferry:plan"]==$p)]|length')" \
    "$(api volumev3 GET /volumes/detail | jq --arg p "$P" '[.volumes[]|select(.metadata["ferry:vm"]=="tpl" and .metadata["ferry:plan"]==$p)]|length')" \
    "$(api image GET "/v2/images?name=tpl-$P" | jq '.images|length')"
}
is "destroy: tpl's server, volume and image are gone" "$(tplobjs)" "0 0 0"
is "destroy: mg's server is untouched" \
  "$(api compute GET /servers/detail | jq -r --arg p "$P" '.servers[]|select(.name=="mg" and .metadata["ferry:plan"]==$p)|.status')" ACTIVE
"$FERRY" apply -y plan.yaml >apply3.out 2>&1; rc=$?
is "apply after destroy: exit 1 (bad still fails)" "$rc" 1
is "apply after destroy: tpl has one server, one volume, one image again" "$(tplobjs)" "1 1 1"
ok "apply after destroy: tpl's boot step was applied, mg's were not touched" \
  sh -c "grep -q '^+ tpl/boot' apply3.out && ! grep -q '^+ mg/' apply3.out"
done_testing
