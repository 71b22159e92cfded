#!/bin/bash
# ferry destroy against the real OpenStack lab: the objects that carry
# ferry's mark for a plan's VM (a server booted from its volume with its
# port, a second volume, a manage-mode disk's RBD image, a Glance image)
# are listed, then removed in order; a look-alike of each without the mark
# (same names) survives; the journal gets a FAIL for the VM's steps; a
# rerun finds nothing; a marked volume attached to a server that is not
# ferry's is refused before anything is removed.  Objects are made directly through the API with the
# marks modules/openstack.h describes.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
cd "$TMP" || exit 1
# api METHOD SERVICE PATH [BODY [CONTENT-TYPE]] as cloud lab
api() { local m=$1 s=$2; shift 2; "$TOP/tests/helpers/os-api.py" --cloud lab "$s" "$m" "$@"; }
# status SERVICE PATH: the HTTP status of a GET ("200" or "404")
status() { if api GET "$1" "$2" >/dev/null 2>err; then echo 200; else sed -n 's/^os-api: HTTP \([0-9]*\).*/\1/p' err; fi; }
wait_status() { # SERVICE PATH KEY WANT: poll until the object's status is WANT (60 s)
  local i s
  for i in $(seq 1 60); do
    s=$(api GET "$1" "$2" | jq -r ".$3.status"); [ "$s" = "$4" ] && return 0; sleep 1
  done; echo "# $2: status $s, want $4" >&2; return 1
}

S=$(printf '%04x%04x' $RANDOM $RANDOM)
P=d74-$S VM=w$S
# "service path" of everything created, one a line (the helpers run in
# subshells): the trap deletes servers first, then the rest
IDS=$TMP/ids
cleanup() {
  local svc path
  grep '^compute' "$IDS" 2>/dev/null | while read -r svc path; do api DELETE "$svc" "$path" >/dev/null 2>&1; done
  sleep 5
  grep -v '^compute' "$IDS" 2>/dev/null | while read -r svc path; do api DELETE "$svc" "$path" >/dev/null 2>&1; done
  rbd -c "$CEPH_CONF" rm "volumes/ferry-$P-$VM-disk1" >/dev/null 2>&1
  [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT

# volume NAME METADATA-JSON: a bootable 1 GiB volume, its id on stdout
volume() {
  local id
  id=$(api POST volume /volumes "{\"volume\":{\"name\":\"$1\",\"size\":1,\"volume_type\":\"ceph\",\"metadata\":$2}}" | jq -r .volume.id)
  echo "volume /volumes/$id" >>"$IDS"
  wait_status volume "/volumes/$id" volume available &&
    api POST volume "/volumes/$id/action" '{"os-set_bootable":{"bootable":true}}' >/dev/null
  echo "$id"
}
port() { # NAME DESCRIPTION
  local id
  id=$(api POST network /v2.0/ports "{\"port\":{\"name\":\"$1\",\"network_id\":\"$LAB_NET_ID\",\"description\":\"$2\"}}" | jq -r .port.id)
  echo "network /v2.0/ports/$id" >>"$IDS"; echo "$id"
}
server() { # NAME METADATA VOLUME PORT
  local id
  id=$(api POST compute /servers "{\"server\":{\"name\":\"$1\",\"flavorRef\":\"100\",\"networks\":[{\"port\":\"$4\"}],\"metadata\":$2,\"block_device_mapping_v2\":[{\"boot_index\":0,\"uuid\":\"$3\",\"source_type\":\"volume\",\"destination_type\":\"volume\",\"delete_on_termination\":false}]}}" | jq -r .server.id)
  echo "compute /servers/$id" >>"$IDS"; echo "$id"
}
image() { # NAME EXTRA-PROPERTIES-JSON
  local id
  id=$(api POST image /v2/images "$(jq -nc --arg n "$1" --argjson x "$2" '{name:$n,disk_format:"raw",container_format:"bare",visibility:"private"} + $x')" | jq -r .id)
  echo "image /v2/images/$id" >>"$IDS"; echo "$id"
}

mark="{\"ferry:plan\":\"$P\",\"ferry:vm\":\"$VM\"}"
vol0=$(volume "$VM-disk0" "{\"ferry:plan\":\"$P\",\"ferry:vm\":\"$VM\",\"ferry:disk\":\"0\"}")
vol1=$(volume "$VM-disk1" "{\"ferry:plan\":\"$P\",\"ferry:vm\":\"$VM\",\"ferry:disk\":\"1\"}")
port0=$(port "$VM-port0" "ferry:plan=$P ferry:vm=$VM ferry:port=0")
srv=$(server "$VM" "$mark" "$vol0" "$port0")
img=$(image "$P-$VM" "{\"ferry_plan\":\"$P\",\"ferry_vm\":\"$VM\"}")
# the look-alikes: same names, no mark (or another plan's)
xvol0=$(volume "$VM-disk0" '{}')
xvol1=$(volume "$VM-disk1" "{\"ferry:plan\":\"other-$S\",\"ferry:vm\":\"$VM\",\"ferry:disk\":\"1\"}")
xport0=$(port "$VM-port0" "ferry:plan=other-$S ferry:vm=$VM ferry:port=0")
xsrv=$(server "$VM" '{}' "$xvol0" "$xport0")
ximg=$(image "$P-$VM" '{}')
rbd -c "$CEPH_CONF" create --size 8M "volumes/ferry-$P-$VM-disk1" 2>/dev/null &&
  rbd -c "$CEPH_CONF" image-meta set "volumes/ferry-$P-$VM-disk1" ferry.created-by ferry >/dev/null 2>&1
ok "the lab objects exist (2 servers ACTIVE)" sh -c '[ -n "$1" ] && [ -n "$2" ] && [ -n "$3" ] && [ -n "$4" ] && [ -n "$5" ] && [ -n "$6" ] && [ -n "$7" ]' _ "$vol0" "$vol1" "$port0" "$srv" "$img" "$xsrv" "$ximg"
wait_status compute "/servers/$srv" server ACTIVE; wait_status compute "/servers/$xsrv" server ACTIVE
is "the marked volume is in use by the marked server" "$(api GET volume "/volumes/$vol0" | jq -r .volume.status)" in-use

mkdir src && truncate -s 64M src/a.raw src/b.raw
cat > p.yaml <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $P}
state: {backend: file, path: $TMP/p.state}
sources:
  s: {type: directory, path: $TMP/src}
targets:
  lab:
    type: openstack
    cloud: lab
    volume_host: "$LAB_VOLUME_HOST"
    ceph: {conf: $CEPH_CONF, volumes_pool: volumes, images_pool: images}
defaults: {source: s, target: lab, volume_type: ceph}
flavors:
  lab.small: {vcpus: 1, ram_mb: 512}
vms:
  - name: $VM
    flavor: lab.small
    image: {}
    disks:
      - {file: a.raw}
      - {file: b.raw, volume_mode: manage}
    ports:
      - {network: lab-net, fixed_ip: 127.100.0.19}
YAML
# the journal knows two steps of the VM (what an earlier apply left)
now=$(($(date +%s) * 1000))
printf '{"time_ms":%s,"step":"%s/convert/disk0","event":"begin"}\n{"time_ms":%s,"step":"%s/convert/disk0","event":"done"}\n{"time_ms":%s,"step":"%s/convert/disk0","event":"created","id":"volume:%s"}\n' \
  "$now" "$VM" "$now" "$VM" "$now" "$VM" "$vol0" > p.state
ok "the plan is valid" "$FERRY" validate p.yaml

fails_with "--vm is required" 1 "usage: ferry destroy" "$FERRY" destroy p.yaml --yes
fails_with "an unknown VM is an error" 1 "no VM 'nosuch'" "$FERRY" destroy p.yaml --vm nosuch --yes
fails_with "without --yes and no terminal: refused" 1 "refusing to destroy without --yes" \
  "$FERRY" destroy p.yaml --vm "$VM" </dev/null
out=$("$FERRY" destroy p.yaml --vm "$VM" --dry-run 2>&1); rc=$?
is "--dry-run exits 0" "$rc" 0
is "--dry-run lists exactly the marked objects" \
  "$(printf '%s\n' "$out" | grep '^- ' | sed 's/ (id \([^,)]*\).*/ \1/' | sort)" \
  "$(printf '%s\n' "- image $P-$VM $img" "- port $VM-port0 $port0" "- rbd image volumes/ferry-$P-$VM-disk1 (manage-mode disk 1)" \
       "- server $VM $srv" "- volume $VM-disk0 $vol0" "- volume $VM-disk1 $vol1" | sort)"
is "--dry-run removes nothing" "$(status compute "/servers/$srv") $(status volume "/volumes/$vol1") $(status image "/v2/images/$img")" "200 200 200"
is "--dry-run writes no journal record" "$(grep -c destroyed p.state)" 0

t0=$(date +%s)
out=$("$FERRY" destroy p.yaml --vm "$VM" --yes 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
is "destroy --yes exits 0 (in $(($(date +%s) - t0)) s)" "$rc" 0
is "order: server, port, volumes, rbd image, image" \
  "$(printf '%s\n' "$out" | sed -n 's/^removing \([a-z]*\( image\)\?\).*/\1/p' | tr '\n' ' ')" \
  "server port volume volume rbd image image "
is "the marked server is gone" "$(status compute "/servers/$srv")" 404
is "the marked port is gone" "$(status network "/v2.0/ports/$port0")" 404
is "the marked volumes are gone" "$(status volume "/volumes/$vol0") $(status volume "/volumes/$vol1")" "404 404"
is "the marked image is gone" "$(status image "/v2/images/$img")" 404
ok "the manage-mode RBD image is gone" sh -c '! rbd -c "$1" info "$2" >/dev/null 2>&1' _ "$CEPH_CONF" "volumes/ferry-$P-$VM-disk1"
is "the unmarked server survives, ACTIVE" "$(api GET compute "/servers/$xsrv" | jq -r .server.status)" ACTIVE
is "the unmarked port and volumes survive" \
  "$(status network "/v2.0/ports/$xport0") $(status volume "/volumes/$xvol0") $(status volume "/volumes/$xvol1")" "200 200 200"
is "the unmarked image survives" "$(status image "/v2/images/$ximg")" 200
is "the journal says the VM's convert step was destroyed" \
  "$("$FERRY" status p.yaml --json | jq -r --arg s "$VM/convert/disk0" '[.. | objects | select(.step? == $s or .id? == $s)] | .[0] | tostring' | grep -o 'destroyed by ferry destroy')" \
  "destroyed by ferry destroy"
fails_with "a rerun finds nothing and exits 0" 0 "nothing of ferry's to remove" "$FERRY" destroy p.yaml --vm "$VM" --yes

# a marked volume attached to a server that is not ferry's: refused, nothing removed
vol2=$(volume "$VM-disk0" "{\"ferry:plan\":\"$P\",\"ferry:vm\":\"$VM\",\"ferry:disk\":\"0\"}")
port2=$(port "$VM-port0" "ferry:plan=$P ferry:vm=$VM ferry:port=0")
api POST compute "/servers/$xsrv/os-volume_attachments" "{\"volumeAttachment\":{\"volumeId\":\"$vol2\"}}" >/dev/null
wait_status volume "/volumes/$vol2" volume in-use
fails_with "a marked volume attached to another server: exit 1, says so" 1 \
  "volume '$VM-disk0' \(id $vol2\) is attached to server '$xsrv', which is not ferry's server of VM '$VM': detach it first \(nothing was removed\)" \
  "$FERRY" destroy p.yaml --vm "$VM" --yes
is "... the volume stays attached and the marked port was not removed" \
  "$(api GET volume "/volumes/$vol2" | jq -r .volume.status) $(status network "/v2.0/ports/$port2")" "in-use 200"
done_testing
