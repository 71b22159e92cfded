#!/bin/bash
# ESXi/Hyper-V/KVM disks → OpenStack on Ceph, end to end against the real
# lab (tests/lab): a plan of 3 VMs (db: 2 disks, VMDK + qcow2; web: 2 NICs
# on two networks; app: depends_on both) goes from `plan` (all +,
# --detailed-exitcode 2) through `apply` to servers ACTIVE.  Asserted
# through the APIs and RBD: every volume's RBD image equals qemu-img's raw
# conversion of its source; ports have the fixed IPs, MACs and security
# groups; each server has its volumes (boot volume first) and ports; app
# booted only after db and web were ACTIVE; a second plan is all =; no
# password or token in any output, log, journal or saved plan.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
. "$TOP/tests/lab/os-lib.sh"
cd "$TMP" || exit 1
P=e2e-$(os_random)
trap 'os_cleanup "$P" >/dev/null 2>&1; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT

mkdir src
python3 "$TOP/tests/gen/qcow2-pattern.py" db0.raw $((40 * 1048576 + 4096)) 21
python3 "$TOP/tests/gen/qcow2-pattern.py" db1.raw $((24 * 1048576)) 22
python3 "$TOP/tests/gen/qcow2-pattern.py" web0.raw $((32 * 1048576)) 23
python3 "$TOP/tests/gen/qcow2-pattern.py" app0.raw $((16 * 1048576)) 24
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse db0.raw src/db0.vmdk
qemu-img convert -q -f raw -O qcow2 db1.raw src/db1.qcow2
qemu-img convert -q -f raw -O vpc -o subformat=dynamic web0.raw src/web0.vhd
qemu-img convert -q -f raw -O vhdx app0.raw src/app0.vhdx
for d in src/db0.vmdk src/db1.qcow2 src/web0.vhd src/app0.vhdx; do
  qemu-img convert -q -O raw "$d" "oracle-$(basename "${d%.*}").raw"
done

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
  - name: db
    os_type: linux
    disks:
      - {file: db0.vmdk}
      - {file: db1.qcow2, volume_type: ceph-hdd, size_gb: 2}
    ports:
      - {network: lab-net, fixed_ip: 127.100.0.11, mac: "fa:16:3e:10:00:11", security_groups: [lab-sg]}
  - name: web
    disks: [{file: web0.vhd}]
    ports:
      - {network: lab-net, fixed_ip: 127.100.0.12, mac: "fa:16:3e:10:00:12", security_groups: [lab-sg, lab-sg2]}
      - {network: lab-net2, fixed_ip: 127.101.0.12, mac: "fa:16:3e:10:01:12", security_groups: [lab-sg2]}
  - name: app
    disks: [{file: app0.vhdx}]
    ports:
      - {network: lab-net, fixed_ip: 127.100.0.13, security_groups: [lab-sg]}
    depends_on: [db, web]
YAML

# 1. plan: everything to create
"$FERRY" plan --detailed-exitcode plan.yaml >plan1.out 2>plan1.err; rc=$?
is "first plan: exit 2 (changes pending)" "$rc" 2
is "first plan: no blocked step" "$(grep -c '^!' plan1.out)" 0
is "first plan: 15 steps to create (4 volumes, 4 converts, 4 ports, 3 servers)" \
  "$(grep -c '^+' plan1.out)" 15
ok "first plan: lab.small flavor matches (=)" grep -q '^= flavor/lab.small' plan1.out
"$FERRY" plan -o saved.plan plan.yaml >/dev/null 2>&1

# 2. apply
"$FERRY" --log-file apply.log apply -y plan.yaml >apply.out 2>apply.err; rc=$?
is "apply: exit 0" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/# /' apply.out apply.err | tail -30

# 3. servers
servers=$(api compute GET /servers/detail)
for vm in db web app; do
  is "server $vm is ACTIVE" \
    "$(jq -r --arg p "$P" --arg n "$vm" '[.servers[]|select(.name==$n and .metadata["ferry:plan"]==$p)|.status]|join(",")' <<<"$servers")" ACTIVE
done
is "exactly 3 servers, 4 ports, 4 volumes carry the plan's mark" "$(os_count_marked "$P")" "3 4 4"

# 4. the bytes behind every volume
vols=$(api volumev3 GET /volumes/detail)
volid() { jq -r --arg p "$P" --arg n "$1" '.volumes[]|select(.name==$n and .metadata["ferry:plan"]==$p)|.id' <<<"$vols"; }
for pair in db-disk0:db0 db-disk1:db1 web-disk0:web0 app-disk0:app0; do
  v=${pair%%:*}; o=${pair##*:}
  ok "volume $v: its RBD image equals qemu-img's raw conversion of the source" \
    rbd_equals_oracle "volumes/volume-$(volid "$v")" "oracle-$o.raw"
done
is "db-disk1 has volume type ceph-hdd" \
  "$(jq -r --arg p "$P" '.volumes[]|select(.name=="db-disk1" and .metadata["ferry:plan"]==$p)|.volume_type' <<<"$vols")" ceph-hdd
is "db-disk1 is 2 GiB (size_gb), web-disk0 1 GiB (32 MiB rounded up)" \
  "$(jq -r --arg p "$P" '[.volumes[]|select((.name=="db-disk1" or .name=="web-disk0") and .metadata["ferry:plan"]==$p)]|sort_by(.name)|map(.size|tostring)|join(" ")' <<<"$vols")" "2 1"
is "db-disk0 is bootable with hw_disk_bus=virtio and os_type=linux" \
  "$(jq -r --arg p "$P" '.volumes[]|select(.name=="db-disk0" and .metadata["ferry:plan"]==$p)|[.bootable,.volume_image_metadata.hw_disk_bus,.volume_image_metadata.os_type]|join(" ")' <<<"$vols")" \
  "true virtio linux"

# 5. ports
ports=$(api network GET /ports)
port() { jq -r --arg d "ferry:plan=$P ferry:vm=$1 ferry:port=$2" ".ports[]|select(.description==\$d)|$3" <<<"$ports"; }
is "db port: fixed IP 127.100.0.11" "$(port db 0 '.fixed_ips[0].ip_address')" 127.100.0.11
is "db port: MAC fa:16:3e:10:00:11" "$(port db 0 .mac_address)" fa:16:3e:10:00:11
is "db port: security group lab-sg" "$(port db 0 '.security_groups|join(",")')" "$LAB_SG_ID"
is "web port 0: 127.100.0.12 on lab-net" "$(port web 0 '[.fixed_ips[0].ip_address,.network_id]|join(" ")')" "127.100.0.12 $LAB_NET_ID"
is "web port 0: groups lab-sg and lab-sg2" "$(port web 0 '.security_groups|sort|join(",")')" \
  "$(printf '%s\n' "$LAB_SG_ID" "$LAB_SG2_ID" | sort | paste -sd,)"
is "web port 1: 127.101.0.12 on lab-net2, MAC fa:16:3e:10:01:12" \
  "$(port web 1 '[.fixed_ips[0].ip_address,.network_id,.mac_address]|join(" ")')" "127.101.0.12 $LAB_NET2_ID fa:16:3e:10:01:12"
is "app port: 127.100.0.13" "$(port app 0 '.fixed_ips[0].ip_address')" 127.100.0.13
srv() { jq -r --arg p "$P" --arg n "$1" ".servers[]|select(.name==\$n and .metadata[\"ferry:plan\"]==\$p)|$2" <<<"$servers"; }
is "web's ports are bound to its server" "$(port web 0 .device_id) $(port web 1 .device_id)" "$(srv web .id) $(srv web .id)"

# 6. the servers' volumes
att=$(jq -r --arg p "$P" '.servers[]|select(.name=="db" and .metadata["ferry:plan"]==$p)|[.["os-extended-volumes:volumes_attached"][].id]|join(" ")' <<<"$servers")
is "db has both volumes attached, the boot volume first" "$att" "$(volid db-disk0) $(volid db-disk1)"
is "db's boot volume is not deleted with the server" \
  "$(api compute GET "/servers/$(srv db .id)/os-volume_attachments" | jq -r '.volumeAttachments|length')" 2

# 7. depends_on: app booted after db and web were ACTIVE (journal times)
J=.ferry/$P.state
t() { jq -r --arg s "$1" --arg e "$2" 'select(.step==$s and .event==$e)|.time_ms' "$J" | tail -1; }
ok "app/boot began after db/boot was done" test "$(t app/boot begin)" -ge "$(t db/boot done)"
ok "app/boot began after web/boot was done" test "$(t app/boot begin)" -ge "$(t web/boot done)"

# 8. a second plan: nothing to do
"$FERRY" -v --log-file plan2.log plan --detailed-exitcode plan.yaml >plan2.out 2>&1; rc=$?
is "second plan: exit 0" "$rc" 0
is "second plan (-v): every step =" "$(grep -c '^=' plan2.out)" 16
"$FERRY" -v --log-file apply2.log apply -y plan.yaml >apply2.out 2>&1; rc=$?
is "second apply: exit 0" "$rc" 0
is "second apply creates nothing (3 4 4)" "$(os_count_marked "$P")" "3 4 4"

# 9. secrets: the password and fernet tokens (gAAAAA…) appear nowhere
ok "-v logs the API requests (the secret check below sees them)" grep -q 'GET http://127.0.0.1' apply2.out
for f in plan1.out plan1.err apply.out apply.err apply.log plan2.out plan2.log apply2.out apply2.log "$J" saved.plan; do
  ok "no password or token in $f" sh -c "! grep -qE 'labpass|labsecret|gAAAAA' '$f'"
done
done_testing
