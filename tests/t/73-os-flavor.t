#!/bin/bash
# The flavor module on the real lab (tests/lab): a flavor Nova has with the
# plan's numbers is "=", one with other numbers is "~" naming the field and
# apply refuses it (Nova flavors cannot change); a missing one is "!"
# unless the target says create_flavors, then apply creates it (admin
# cloud; a non-admin cloud gets Nova's 403) with the extra spec ferry:plan,
# and a rerun is "=".  A kill -9 between creating the flavor and marking it
# is finished by the rerun (the flavor's id is derived from the plan).
#
# The VMs' disks name a volume type the lab does not have, so their volume
# step (and convert and boot after it) is blocked whatever modules this
# build has: only the flavor step changes the lab, and `ferry apply` exits
# 1 because of those blocked steps.  Assertions are per step, read from
# `ferry plan --json` and `ferry apply --json`.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
. "$TOP/tests/lab/os-api.sh"
cd "$TMP" || exit 1

SUF=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
NEW=t73-$SUF
os_login lab-admin || { printf '1..1\nnot ok 1 - log in to the lab\n'; exit 1; }

# flavor_json NAME: Nova's flavor of that name (admin view), "" when none
flavor_json() {
  os_get "$OS_NOVA/flavors/detail?is_public=None" | jq -c --arg n "$1" '.flavors[]|select(.name==$n)'
}
cleanup() {
  local id
  [ -n "${OS_TOK:-}" ] || return 0
  for id in $(os_get "$OS_NOVA/flavors/detail?is_public=None" |
      jq -r --arg p "$NEW" '.flavors[]|select(.name|startswith($p))|.id'); do
    os_req DELETE "$OS_NOVA/flavors/$id" >/dev/null
  done
}
trap 'cleanup; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT

mkdir src && truncate -s 64M src/d0.raw
# plan_file FILE CLOUD CREATE FLAVOR VCPUS RAM [DISK]: one VM of that
# flavor on a target of that cloud, create_flavors CREATE
plan_file() {
  cat >"$1" <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: p73-$SUF-${1%.yaml}}
sources: {src: {type: directory, path: src}}
targets:
  t:
    type: openstack
    cloud: $2
    create_flavors: $3
    ceph: {conf: $CEPH_CONF, volumes_pool: volumes, images_pool: images}
defaults: {source: src, target: t}
flavors:
  $4: {vcpus: $5, ram_mb: $6${7:+, disk_gb: $7}}
vms:
  - name: v73-$SUF
    flavor: $4
    disks: [{file: d0.raw, volume_type: no-such-type-$SUF}]
EOF
}
# action/detail PLAN STEP: from `ferry plan --json`
action() { "$FERRY" plan --json "$1" 2>/dev/null | jq -r --arg s "$2" '.steps[]|select(.id==$s)|.action'; }
detail() { "$FERRY" plan --json "$1" 2>/dev/null | jq -r --arg s "$2" '.steps[]|select(.id==$s)|.detail'; }
# status/message FILE STEP: the last of `ferry apply --json` (output in FILE)
status() { jq -r --arg s "$2" 'select(.event=="step" and .step==$s)|.status' "$1" | tail -1; }
message() { jq -r --arg s "$2" 'select(.event=="step" and .step==$s)|.message // empty' "$1" | tail -1; }

# 1. lab.small as the lab has it (1 vCPU, 512 MiB, 1 GB): done
plan_file same.yaml lab false lab.small 1 512 1
ok "validate" "$FERRY" validate same.yaml
is "lab.small with Nova's numbers: done" "$(action same.yaml flavor/lab.small)" done
is "its line" "$(detail same.yaml flavor/lab.small)" "flavor 'lab.small' (100): vcpus 1, ram_mb 512, disk_gb 1"
fails "apply exits 1 (the volume step and its dependants are blocked)" 1 \
  sh -c "'$FERRY' apply --yes --json same.yaml >same.json 2>same.err"
is "apply: the flavor step unchanged" "$(status same.json flavor/lab.small)" unchanged

# 2. drift: "~" naming the fields; apply fails saying why, changes nothing
plan_file drift.yaml lab true lab.small 2 1024
"$FERRY" plan drift.yaml >drift.out 2>&1
ok "drift: '~' naming vcpus and ram_mb" grep -Fqx \
  "~ flavor/lab.small: flavor 'lab.small' (100): update (vcpus 1 → 2, ram_mb 512 → 1024); Nova flavors cannot change: rename the flavor in the plan or fix it by hand" drift.out
fails "drift: apply exits 1" 1 sh -c "'$FERRY' apply --yes --json drift.yaml >drift.json 2>drift.err"
is "drift: apply fails the step" "$(status drift.json flavor/lab.small)" failed
is "drift: with a message saying Nova flavors cannot change" "$(message drift.json flavor/lab.small)" \
  "flavor 'lab.small' (100) on target 't' differs from the plan (vcpus 1 → 2, ram_mb 512 → 1024): Nova flavors cannot change; rename the flavor in the plan or fix it by hand"
is "drift: lab.small unchanged in Nova" "$(flavor_json lab.small | jq -r '"\(.vcpus) \(.ram) \(.disk)"')" "1 512 1"
plan_file disk.yaml lab false lab.small 1 512 5
is "drift of disk_gb alone (when the plan sets it)" "$(detail disk.yaml flavor/lab.small)" \
  "flavor 'lab.small' (100): update (disk_gb 1 → 5); Nova flavors cannot change: rename the flavor in the plan or fix it by hand"

# 3. missing without create_flavors: blocked, nothing created
plan_file missing.yaml lab-admin false "$NEW" 2 1024 3
fails_with "missing: '!' telling how to create it" 0 \
  "^! flavor/$NEW: blocked \\(flavor '$NEW' not found in Nova; set targets\\.t\\.create_flavors: true to create it\\)$" \
  "$FERRY" plan missing.yaml
fails "missing: apply exits 1" 1 sh -c "'$FERRY' apply --yes --json missing.yaml >missing.json 2>missing.err"
is "missing: the step is blocked" "$(status missing.json "flavor/$NEW")" blocked
is "missing: Nova has no such flavor" "$(flavor_json "$NEW")" ""

# 4. create_flavors with a non-admin cloud: Nova's 403
plan_file demo.yaml lab true "$NEW" 2 1024 3
is "create_flavors: '+'" "$(action demo.yaml "flavor/$NEW")" create
fails "non-admin create: apply exits 1" 1 sh -c "'$FERRY' apply --yes --json demo.yaml >demo.json 2>demo.err"
is "non-admin create: the step failed" "$(status demo.json "flavor/$NEW")" failed
ok "non-admin create: Nova's message and HTTP 403" sh -c \
  "jq -r 'select(.step==\"flavor/$NEW\")|.message // empty' demo.json | grep -q \"^cannot create flavor '$NEW' on target 't' (creating a flavor needs an admin cloud): nova: .*(HTTP 403)\""
is "non-admin create: Nova has no such flavor" "$(flavor_json "$NEW")" ""

# 5. create_flavors with the admin cloud: created, marked, then done
plan_file admin.yaml lab-admin true "$NEW" 2 1024 3
is "admin: '+' with the numbers" "$(detail admin.yaml "flavor/$NEW")" "flavor '$NEW' (vcpus 2, ram_mb 1024, disk_gb 3)"
fails "admin: apply exits 1 (blocked volume steps)" 1 sh -c "'$FERRY' apply --yes --json admin.yaml >admin.json 2>admin.err"
is "admin: the flavor step applied" "$(status admin.json "flavor/$NEW")" applied
F=$(flavor_json "$NEW")
is "nova: the flavor has vcpus 2, ram 1024, disk 3" "$(jq -r '"\(.vcpus) \(.ram) \(.disk)"' <<<"$F")" "2 1024 3"
FID=$(jq -r .id <<<"$F")
is "nova: extra spec ferry:plan is the plan's name" \
  "$(os_get "$OS_NOVA/flavors/$FID/os-extra_specs" | jq -r '.extra_specs."ferry:plan"')" "p73-$SUF-admin"
is "journal: created flavor:ID" \
  "$(jq -r --arg s "flavor/$NEW" 'select(.step==$s and .event=="created")|.id' ".ferry/p73-$SUF-admin.state")" "flavor:$FID"
is "admin: rerun plan says done" "$(action admin.yaml "flavor/$NEW")" done
fails "admin: rerun apply exits 1 (blocked volume steps)" 1 sh -c "'$FERRY' apply --yes --json admin.yaml >admin2.json 2>admin2.err"
is "admin: rerun leaves the step unchanged" "$(status admin2.json "flavor/$NEW")" unchanged
is "nova: one flavor of that name, the same" "$(os_get "$OS_NOVA/flavors/detail?is_public=None" | jq -r --arg n "$NEW" '[.flavors[]|select(.name==$n)|.id]|join(" ")')" "$FID"

# 6. two targets: each checked, each named
cat >two.yaml <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: p73-$SUF-two}
sources: {src: {type: directory, path: src}}
targets:
  a: {type: openstack, cloud: lab, ceph: {conf: $CEPH_CONF, volumes_pool: volumes}}
  b: {type: openstack, cloud: lab-admin, ceph: {conf: $CEPH_CONF, volumes_pool: volumes}}
defaults: {source: src}
flavors:
  $NEW: {vcpus: 2, ram_mb: 1024}
  lab.small: {vcpus: 1, ram_mb: 512}
vms:
  - {name: a1, target: a, flavor: lab.small, disks: [{file: d0.raw, volume_type: no-$SUF}]}
  - {name: b1, target: b, flavor: lab.small, disks: [{file: d0.raw, volume_type: no-$SUF}]}
  - {name: a2, target: a, flavor: lab.small, disks: [{file: d0.raw, volume_type: no-$SUF}]}
  - {name: b2, target: b, flavor: $NEW, disks: [{file: d0.raw, volume_type: no-$SUF}]}
EOF
is "two targets: each named once, in plan order" "$(detail two.yaml flavor/lab.small)" \
  "target 'a': flavor 'lab.small' (100): vcpus 1, ram_mb 512, disk_gb 1; target 'b': flavor 'lab.small' (100): vcpus 1, ram_mb 512, disk_gb 1"
is "two targets: a flavor only b's VM uses is checked on b alone" "$(detail two.yaml "flavor/$NEW")" \
  "flavor '$NEW' ($FID): vcpus 2, ram_mb 1024, disk_gb 3"

# 7. kill -9 after Nova created the flavor, before ferry recorded or
#    marked it: the flavor's id says it is this plan's, so the rerun shows
#    the missing mark and apply sets it
plan_file kill.yaml lab-admin true "$NEW-k" 1 256
FERRY_TEST_OS_PAUSE=flavor:created "$FERRY" apply --yes kill.yaml >kill.out 2>&1 &
kpid=$!
for _ in $(seq 600); do grep -q "test pause at 'flavor:created'" kill.out && break; sleep 0.1; done
ok "apply paused right after creating the flavor" grep -q "test pause at 'flavor:created'" kill.out
kill -9 "$kpid"; wait "$kpid" 2>/dev/null
KID=$(flavor_json "$NEW-k" | jq -r .id)
ok "nova: the killed apply left the flavor" test -n "$KID"
is "nova: not marked yet" "$(os_get "$OS_NOVA/flavors/$KID/os-extra_specs" | jq -r '.extra_specs."ferry:plan" // "none"')" none
is "plan after the kill: update, the mark is missing" "$(detail kill.yaml "flavor/$NEW-k")" \
  "flavor '$NEW-k' ($KID): vcpus 1, ram_mb 256, disk_gb 0; extra spec ferry:plan: none → p73-$SUF-kill"
fails "apply after the kill exits 1 (blocked volume steps)" 1 \
  sh -c "'$FERRY' apply --yes --json kill.yaml >kill2.json 2>kill2.err"
is "apply after the kill: the flavor step applied" "$(status kill2.json "flavor/$NEW-k")" applied
is "nova: now marked" "$(os_get "$OS_NOVA/flavors/$KID/os-extra_specs" | jq -r '.extra_specs."ferry:plan"')" "p73-$SUF-kill"
is "nova: still one flavor of that name" \
  "$(os_get "$OS_NOVA/flavors/detail?is_public=None" | jq -r --arg n "$NEW-k" '[.flavors[]|select(.name==$n)]|length')" 1
is "plan: done" "$(action kill.yaml "flavor/$NEW-k")" done

# 8. cleanup: the flavors this test made go
cleanup
is "cleanup: no flavor of this test is left" \
  "$(os_get "$OS_NOVA/flavors/detail?is_public=None" | jq --arg p "$NEW" '[.flavors[]|select(.name|startswith($p))]|length')" 0
done_testing
