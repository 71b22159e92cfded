#!/bin/bash
# The image module against the real OpenStack lab: the first disk's data
# (the RBD image behind its Cinder volume, written here with librbd and
# tagged converted) becomes a Glance image whose data ferry writes straight
# into the images pool: active, location rbd://FSID/images/<id>/snap, the
# snapshot's bytes equal the volume's, the properties and ferry's marks
# set; a rerun makes no second image; an unmarked image of the same name
# is never taken; a queued image of ours with a half-written RBD copy (a
# run killed mid-way) is resumed under the same id; without images_pool
# the data is uploaded through the Image API (and Glance's RBD store
# holds the same bytes).  The volume and convert modules are
# not in this build: tests/helpers/step-run drives the image step alone.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
cd "$TMP" || exit 1
STEP=$TOP/tests/helpers/step-run
# api METHOD SERVICE PATH [BODY [CONTENT-TYPE]] as cloud lab
api() { local m=$1 s=$2; shift 2; "$TOP/tests/helpers/os-api.py" --cloud lab "$s" "$m" "$@"; }
RBD() { rbd -c "$CEPH_CONF" "$@" 2>/dev/null; }
S=$(printf '%04x%04x' $RANDOM $RANDOM)
P=i75-$S VM=v$S
IDS=$TMP/ids
cleanup() {
  local svc path
  while read -r svc path; do api DELETE "$svc" "$path" >/dev/null 2>&1; done < "$IDS"
  # images ferry made (their ids are only known to Glance)
  for id in $(api GET image "/v2/images?name=$P-$VM" 2>/dev/null | jq -r '.images[].id'); do
    api DELETE image "/v2/images/$id" >/dev/null 2>&1; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
touch "$IDS"; trap cleanup EXIT
wait_status() { # SERVICE PATH KEY WANT
  local i s
  for i in $(seq 1 60); do
    s=$(api GET "$1" "$2" | jq -r ".$3.status"); [ "$s" = "$4" ] && return 0; sleep 1
  done; return 1
}
# volume N: a marked 1 GiB volume of disk 0 holding N's bytes (4 MiB at 0,
# 1 MiB at 512 MiB, zeroes elsewhere), tagged ferry.converted=src-N, the
# same bytes in want-N.raw; the volume's id on stdout
volume() {
  local id
  id=$(api POST volume /volumes "{\"volume\":{\"name\":\"$VM-disk0\",\"size\":1,\"volume_type\":\"ceph\",\"metadata\":{\"ferry:plan\":\"$P\",\"ferry:vm\":\"$VM\",\"ferry:disk\":\"0\"}}}" | jq -r .volume.id)
  echo "volume /volumes/$id" >> "$IDS"
  wait_status volume "/volumes/$id" volume available || return 1
  head -c 4M /dev/urandom > a-$1.bin; head -c 1M /dev/urandom > b-$1.bin
  truncate -s 1G want-$1.raw
  dd if=a-$1.bin of=want-$1.raw conv=notrunc status=none
  dd if=b-$1.bin of=want-$1.raw bs=1M seek=512 conv=notrunc status=none
  /usr/bin/python3 - "$CEPH_CONF" "volume-$id" "$1" <<'PY' || return 1
import sys, rados, rbd
c = rados.Rados(conffile=sys.argv[1]); c.connect(); io = c.open_ioctx("volumes")
with rbd.Image(io, sys.argv[2]) as im:
    im.write(open("a-%s.bin" % sys.argv[3], "rb").read(), 0)
    im.write(open("b-%s.bin" % sys.argv[3], "rb").read(), 512 << 20)
    im.metadata_set("ferry.converted", "src-%s" % sys.argv[3])
io.close(); c.shutdown()
PY
  echo "$id"
}
# marked_images: ids of the images carrying ferry's mark for this VM
marked_images() { api GET image "/v2/images?name=$P-$VM" | jq -r --arg p "$P" --arg v "$VM" '[.images[]|select(.ferry_plan==$p and .ferry_vm==$v)|.id]|sort|join(" ")'; }
snap_sum() { RBD export "images/$1@snap" - | sha256sum | cut -d' ' -f1; }

mkdir src && truncate -s 64M src/a.raw
plan_file() { # FILE POOL-LINE
  cat > "$1" <<YAML
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
    ceph: {conf: $CEPH_CONF, volumes_pool: volumes$2}
defaults: {source: s, target: lab, volume_type: ceph}
flavors:
  lab.small: {vcpus: 1, ram_mb: 512}
vms:
  - name: $VM
    flavor: lab.small
    os_type: linux
    firmware: uefi
    image: {}
    disks:
      - {file: a.raw}
YAML
}
plan_file p.yaml ", images_pool: images"
plan_file nopool.yaml ""

ok "ferry graph: the image step runs after the disk's convert" \
  sh -c '"$1" graph p.yaml | grep -qx "$2/image \[image\] <- $2/convert/disk0"' _ "$FERRY" "$VM"
fails_with "without images_pool the check says: upload through the Image API" 0 \
  "^create: image $P-$VM of $VM-disk0, uploaded through the Image API" \
  "$STEP" nopool.yaml "$VM/image" check
fails_with "no volume yet: apply fails and says so (and makes no image)" 1 \
  "has no volume '$VM-disk0' of ferry's yet" "$STEP" p.yaml "$VM/image"
is "... no image was made" "$(marked_images)" ""

# an image of the same name without the mark: never taken
other=$(api POST image /v2/images "{\"name\":\"$P-$VM\",\"disk_format\":\"raw\",\"container_format\":\"bare\"}" | jq -r .id)
echo "image /v2/images/$other" >> "$IDS"
vol=$(volume 1)
ok "a marked volume with known bytes" test -n "$vol"
fails_with "check: create" 0 "^create: image $P-$VM of $VM-disk0, data into rbd:images/" \
  "$STEP" p.yaml "$VM/image" check
t0=$(date +%s)
fails_with "apply: the image step converges" 0 "^applied" "$STEP" p.yaml "$VM/image"
echo "# apply took $(($(date +%s) - t0)) s"
img=$(marked_images)
ok "exactly one image carries ferry's mark" test "$(wc -w <<<"$img")" = 1
j=$(api GET image "/v2/images/$img")
is "the image is active" "$(jq -r .status <<<"$j")" active
is "its location is rbd://FSID/images/<id>/snap" "$(jq -r '[.locations[].url]|join(" ")' <<<"$j")" "rbd://$CEPH_FSID/images/$img/snap"
is "its properties" "$(jq -r '[.disk_format,.container_format,.visibility,.hw_disk_bus,.hw_vif_model,.os_type,.hw_firmware_type,.size|tostring]|join(" ")' <<<"$j")" \
  "raw bare private virtio virtio linux uefi 1073741824"
is "rbd export images/<id>@snap equals the volume's bytes" "$(snap_sum "$img")" "$(sha256sum < want-1.raw | cut -d' ' -f1)"
is "the snapshot is protected" "$(RBD snap ls --format json "images/$img" | jq -r '.[]|select(.name=="snap")|.protected')" true
is "the unmarked look-alike is untouched (still queued)" "$(api GET image "/v2/images/$other" | jq -r .status)" queued
fails_with "a rerun: done" 0 "^done: image $P-$VM \(id $img\) active" "$STEP" p.yaml "$VM/image"
is "a rerun makes no second image" "$(marked_images)" "$img"
is "the journal holds the image's id" "$(grep -c "\"id\":\"image:$img\"" p.state)" 1

# a run killed after creating the image and writing half its data
out=$("$FERRY" destroy p.yaml --vm "$VM" --yes 2>&1)
is "ferry destroy removes the image and the volume" "$(marked_images) $(api GET volume "/volumes/$vol" >/dev/null 2>&1 && echo still)" " "
ok "... and Glance removed the image's RBD data" sh -c '! rbd -c "$1" info "images/$2" >/dev/null 2>&1' _ "$CEPH_CONF" "$img"
vol=$(volume 2)
q=$(api POST image /v2/images "{\"name\":\"$P-$VM\",\"disk_format\":\"raw\",\"container_format\":\"bare\",\"ferry_plan\":\"$P\",\"ferry_vm\":\"$VM\"}" | jq -r .id)
RBD create --size 1G "images/$q" && RBD image-meta set "images/$q" ferry.created-by ferry >/dev/null
head -c 1M /dev/urandom > junk && /usr/bin/python3 -c 'import sys, rados, rbd
c = rados.Rados(conffile=sys.argv[1]); c.connect(); io = c.open_ioctx("images")
with rbd.Image(io, sys.argv[2]) as im: im.write(open("junk","rb").read(), 100 << 20)
io.close(); c.shutdown()' "$CEPH_CONF" "$q"
fails_with "check: the queued image of ours is resumed" 0 "^update: image $P-$VM \(id $q\) queued" \
  "$STEP" p.yaml "$VM/image" check
fails_with "apply resumes it" 0 "^applied" "$STEP" p.yaml "$VM/image"
is "the same image, no second one" "$(marked_images)" "$q"
is "it is active" "$(api GET image "/v2/images/$q" | jq -r .status)" active
is "the half-written data was replaced: the snapshot equals the volume's bytes" "$(snap_sum "$q")" "$(sha256sum < want-2.raw | cut -d' ' -f1)"

# without images_pool: uploaded through the Image API
out=$("$FERRY" destroy p.yaml --vm "$VM" --yes 2>&1)
is "ferry destroy removes the resumed image and its volume" "$(marked_images)" ""
vol=$(volume 3)
t0=$(date +%s)
fails_with "apply without images_pool uploads the data" 0 "^applied" "$STEP" nopool.yaml "$VM/image"
echo "# upload of 1 GiB took $(($(date +%s) - t0)) s"
img=$(marked_images)
is "one image, active" "$(wc -w <<<"$img") $(api GET image "/v2/images/$img" | jq -r .status)" "1 active"
is "Glance's RBD store holds the volume's bytes" "$(snap_sum "$img")" "$(sha256sum < want-3.raw | cut -d' ' -f1)"
fails_with "a rerun: done, no second image" 0 "^done: image $P-$VM \(id $img\) active" "$STEP" nopool.yaml "$VM/image"
is "... still one image" "$(marked_images)" "$img"
done_testing
