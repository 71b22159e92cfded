#!/bin/bash
# RBD target and source against the project's own single-node Ceph
# (tests/lab/ceph-start.sh): qcow2 -> rbd: equals qemu-img's raw output,
# existing images (stale data, bigger, smaller), rbd@snap -> file, resume,
# the ferry.created-by tag.  If Ceph cannot start the test fails.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
cd "$TMP" || exit 1
. "$TOP/tests/lab/ceph-test.sh"
R() { echo "rbd:rbd/$1:conf=$CEPH_CONF"; }

# Source: 24 MiB + an odd tail, ~40% data, as qcow2; the oracle is qemu's.
$PY "$TOP/tests/gen/qcow2-pattern.py" src.raw $((24 * 1048576 + 4321)) 11
qemu-img convert -q -f raw -O qcow2 src.raw src.qcow2
qemu-img convert -O raw src.qcow2 oracle.raw
vsize=$(stat -c %s oracle.raw)

# 1. a new image
ok "convert qcow2 -> new rbd image" "$FERRY" convert src.qcow2 "$(R img)"
is "new image has the source's size" \
  "$(rbd info --format json rbd/img | $PY -c 'import json,sys; print(json.load(sys.stdin)["size"])')" "$vsize"
rbd export --no-progress rbd/img img.raw >/dev/null 2>&1
ok "rbd export equals qemu-img's raw output" cmp img.raw oracle.raw
is "image tagged ferry.created-by=ferry" "$(rbd image-meta get rbd/img ferry.created-by 2>&1)" ferry
ok "qemu-img compare agrees" qemu-img compare -q -f qcow2 -F raw src.qcow2 "$(R img)"

# 2. an existing bigger image full of stale data
head -c $((40 * 1048576)) /dev/urandom >stale.raw
rbd import --no-progress stale.raw rbd/big >/dev/null 2>&1
ok "convert into an existing bigger image" "$FERRY" convert src.qcow2 "$(R big)"
rbd export --no-progress rbd/big big.raw >/dev/null 2>&1
ok "stale image: the first bytes equal the source (zeros where it is zero)" \
  cmp -n "$vsize" big.raw oracle.raw
ok "stale image: zeros past the source's end" \
  cmp -n $((40 * 1048576 - vsize)) <(tail -c +$((vsize + 1)) big.raw) /dev/zero
is "stale image: size kept" "$(stat -c %s big.raw)" $((40 * 1048576))
ok "an image ferry did not create is not tagged" \
  sh -c '! rbd image-meta get rbd/big ferry.created-by >/dev/null 2>&1'

# 3. an existing smaller image
rbd create --size 1M rbd/small
out=$("$FERRY" convert src.qcow2 "$(R small)" 2>&1); rc=$?
is "smaller target: exit 1" "$rc" 1
ok "smaller target: clear error" grep -q "is smaller .* than the source" <<<"$out"

# 4. rbd as a source: a snapshot, the image, rbd -> rbd
rbd snap create --no-progress rbd/img@s1 >/dev/null 2>&1
head -c "$vsize" stale.raw >other.raw
ok "raw file -> the existing image (the head moves on)" "$FERRY" convert other.raw "$(R img)"
ok "rbd:POOL/IMAGE@SNAP -> file equals the snapshot's data" \
  sh -c '"$1" convert "$2" snap.raw 2>/dev/null && cmp snap.raw oracle.raw' _ "$FERRY" "rbd:rbd/img@s1:conf=$CEPH_CONF"
ok "rbd:POOL/IMAGE -> file equals the image's data" \
  sh -c '"$1" convert "$2" head.raw 2>/dev/null && cmp head.raw other.raw' _ "$FERRY" "$(R img)"
ok "rbd@snap -> rbd (default conf via CEPH_CONF)" "$FERRY" convert rbd:rbd/img@s1 rbd:rbd/copy
rbd export --no-progress rbd/copy copy.raw >/dev/null 2>&1
ok "rbd -> rbd copy equals the snapshot" cmp copy.raw oracle.raw
json=$("$FERRY" inspect --json "rbd:rbd/img@s1:conf=$CEPH_CONF" 2>&1)
is "inspect rbd@snap: format and size" \
  "$(printf '%s' "$json" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["virtual_size"])')" \
  "rbd $vsize"

# 5. resume: the first 8 MiB are "already converted" (marked 0xee), the rest
# is stale; --resume-from 8M must keep the first part and fix the rest.
{ head -c $((8 * 1048576)) /dev/zero | tr '\0' '\356'; head -c $((vsize - 8 * 1048576)) /dev/urandom; } >res.raw
rbd import --no-progress res.raw rbd/res >/dev/null 2>&1
ok "convert --resume-from 8M into an image" "$FERRY" convert --resume-from 8M src.qcow2 "$(R res)"
rbd export --no-progress rbd/res resout.raw >/dev/null 2>&1
ok "resume: bytes below the resume point untouched" cmp -n $((8 * 1048576)) resout.raw res.raw
ok "resume: bytes from the resume point equal the source" \
  cmp <(tail -c +$((8 * 1048576 + 1)) resout.raw) <(tail -c +$((8 * 1048576 + 1)) oracle.raw)

# 6. errors
out=$("$FERRY" convert src.qcow2 "rbd:nosuchpool/x:conf=$CEPH_CONF" 2>&1); rc=$?
is "missing pool: exit 1" "$rc" 1
ok "missing pool: names the pool" grep -q "cannot open pool 'nosuchpool'" <<<"$out"
out=$("$FERRY" convert "rbd:rbd/nosuch:conf=$CEPH_CONF" x.raw 2>&1); rc=$?
is "missing source image: exit 1" "$rc" 1
ok "missing source image: clear error" grep -q "cannot open rbd image 'rbd:rbd/nosuch" <<<"$out"
out=$("$FERRY" convert src.qcow2 "rbd:rbd/img@s1:conf=$CEPH_CONF" 2>&1); rc=$?
is "snapshot as target: exit 1" "$rc" 1

# 7. typed locations: names with ':' travel escaped (qemu's '\:'), and a
# plan's rbd source reads with its conf and user.
rbd import --no-progress oracle.raw 'rbd/col:on' >/dev/null 2>&1
ok "escaped source name: rbd:rbd/col\\:on -> file equals the image" \
  sh -c '"$1" convert "$2" col.raw 2>/dev/null && cmp col.raw oracle.raw' _ "$FERRY" "rbd:rbd/col\\:on:conf=$CEPH_CONF"
ok "escaped target name: file -> rbd:rbd/new\\:img" "$FERRY" convert src.qcow2 "rbd:rbd/new\\:img:conf=$CEPH_CONF"
rbd export --no-progress 'rbd/new:img' newimg.raw >/dev/null 2>&1
ok "... the image 'new:img' holds the source" cmp newimg.raw oracle.raw
out=$("$FERRY" convert "rbd:rbd/col:on:conf=$CEPH_CONF" x.raw 2>&1); rc=$?
is "unescaped ':' in a name: exit 1" "$rc" 1
ok "... an unknown option, not a wrong image" grep -q "unknown option 'on' (known: conf=, id=)" <<<"$out"

ceph -c "$CEPH_CONF" auth get-or-create client.migrate mon 'profile rbd' \
  osd 'profile rbd pool=rbd' >>"$CEPH/keyring" 2>/dev/null
rbdplan() { # rbdplan USER: a plan converting img@s1 from an rbd source
  cat >rbd-plan.yaml <<YEOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: rbd-$1}
sources:
  ceph: {type: rbd, pool: rbd, conf: $CEPH_CONF, user: $1}
targets:
  out: {type: local, path: out-$1}
defaults: {source: ceph, target: out}
vms:
  - {name: vm1, disks: [{file: 'img@s1'}]}
YEOF
}
rbdplan migrate
ok "plan with an rbd source (user: migrate) applies" "$FERRY" apply --yes rbd-plan.yaml
ok "... the disk equals the snapshot" cmp out-migrate/vm1-disk0.raw oracle.raw
rbdplan nosuch
out=$("$FERRY" apply --yes rbd-plan.yaml 2>&1); rc=$?
is "rbd source with an unknown user: exit 1" "$rc" 1
ok "... connects as that user (client.nosuch)" grep -q "as 'client.nosuch'" <<<"$out"
ok "... and writes no disk" test ! -e out-nosuch/vm1-disk0.raw
done_testing
