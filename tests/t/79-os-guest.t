#!/bin/bash
# The guest steps on an RBD image: the OpenStack target's Cinder volume
# (Ceph RBD of the lab), opened by the VM's appliance through qemu-nbd (the
# cephx key stays in the keyring).  inspect + resize + customize (hostname)
# run on the volume's RBD image; read back from RBD: the hostname file, the
# partition grown to the volume's size, e2fsck clean; convert stays done
# (its evidence is RBD metadata); a second plan is all done (the guest
# steps observe the guest through RBD and find nothing to change).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
. "$TOP/tests/lab/os-lib.sh"
. "$TOP/tests/guest/env.sh"
cd "$TMP" || exit 1
P=guest-$(os_random)
trap 'os_cleanup "$P" >/dev/null 2>&1; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
plan 11

img=$(guest_image tiny-linux "$TOP/tests/guest/make-tiny-linux.sh") || exit 1
mkdir src
cp --sparse=always "$img" src/g.raw
cat >plan.yaml <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $P}
sources: {dc: {type: directory, path: src}}
targets:
  lab:
    type: openstack
    cloud: lab
    ceph: {conf: $CEPH_CONF, volumes_pool: volumes}
defaults: {source: dc, target: lab, volume_type: ceph, flavor: lab.small, guest_accel: tcg}
flavors:
  lab.small: {vcpus: 1, ram_mb: 512, disk_gb: 1}
vms:
  - name: g
    os_type: linux
    disks: [{file: g.raw, size_gb: 1}]
    customize: {hostname: from-rbd}
YAML

out=$("$FERRY" apply --yes plan.yaml 2>&1); rc=$?
is "apply exits 0" "$rc" 0
[ "$rc" = 0 ] || sed "s/^/# /" <<<"$out" >&2
ok "inspect found the guest on the volume's RBD image" \
  grep -Eq "^\+ g/inspect: linux 12\..* root=/dev/sda1" <<<"$out"
is "one appliance for the VM" "$(grep -c 'appliance launched' <<<"$out")" 1
vol=$(api volumev3 GET /volumes/detail | jq -r --arg p "$P" '.volumes[]|select(.name=="g-disk0" and .metadata["ferry:plan"]==$p)|.id')
ok "the volume exists" test -n "$vol"
rbd -c "$CEPH_CONF" export --no-progress "volumes/volume-$vol" back.raw >/dev/null 2>&1
is "the RBD image is the volume's size (1 GiB)" "$(stat -c %s back.raw)" 1073741824
rb=$(guestfish --ro --format=raw -a back.raw <<'GF'
run
mount-ro /dev/sda1 /
cat /etc/hostname
umount-all
part-list /dev/sda
e2fsck /dev/sda1 correct:false forceall:true
GF
)
ok "/etc/hostname in the RBD image is the plan's" grep -qx "from-rbd" <<<"$rb"
end=$(awk '/part_end:/ {print $2}' <<<"$rb")
ok "the partition was grown to the end of the 1 GiB volume (end $end)" \
  test "${end:-0}" -ge $((1073741824 - 2 * 1048576))
is "the source was not written" "$(cmp src/g.raw "$img" && echo same)" same

out=$("$FERRY" plan --detailed-exitcode plan.yaml 2>&1); rc=$?
is "second plan: nothing to change (exit 0)" "$rc" 0
ok "... the guest steps observed the RBD image and found it done" \
  grep -q "^= g/customize: guest unchanged" <<<"$out"
ok "... convert is done (RBD evidence)" grep -q "^= g/convert/disk0" <<<"$out"
