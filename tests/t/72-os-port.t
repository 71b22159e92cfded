#!/bin/bash
# The port module on the real lab (tests/lab): a Neutron port per
# vms[].ports[] entry with its fixed IP on the right subnet, its MAC and its
# security groups, read back through the Neutron API; a rerun finds it
# ("="); changed groups are put back ("~"); an address another port holds
# blocks ("!", naming that port) and nothing is taken over; a kill -9 right
# after Neutron created the port and a rerun leave exactly one port.
#
# The VMs' disks name a volume type the lab does not have, so their volume
# step (and convert and boot after it) is blocked whatever modules this
# build has: only the port steps (and nothing else) change the lab, and
# `ferry apply` exits 1 because of those blocked steps.  Assertions are per
# step, read from `ferry plan --json` and `ferry apply --json`.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
. "$TOP/tests/lab/os-api.sh"
cd "$TMP" || exit 1

SUF=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
VM=t72-$SUF
os_login lab || { printf '1..1\nnot ok 1 - log in to the lab\n'; exit 1; }

cleanup() {
  local id
  [ -n "${OS_TOK:-}" ] || return 0
  for id in $(os_get "$OS_NEUTRON/v2.0/ports" |
      jq -r --arg v "$VM" '.ports[]|select((.name|startswith($v)) or .name == "foreign-\($v)")|.id'); do
    os_req DELETE "$OS_NEUTRON/v2.0/ports/$id" >/dev/null
  done
  for id in $(os_get "$OS_NEUTRON/v2.0/security-groups?name=dup-$VM" | jq -r '.security_groups[].id'); do
    os_req DELETE "$OS_NEUTRON/v2.0/security-groups/$id" >/dev/null
  done
}
trap 'cleanup; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT

# free_ip VAR PREFIX: set VAR to an address of PREFIX.32-127 that no port
# holds now and no earlier free_ip gave (USED: kept in this shell, so never
# call it in a subshell).  The lab is shared with other test files: Neutron
# gives their ports without a fixed IP addresses of .128-.254 only
# (tests/lab/openstack-up.sh), and the fixed IPs other files name are below
# .32; pick at random, ask Neutron.
USED=""
free_ip() {
  local ip n
  for _ in $(seq 50); do
    ip=$2.$((32 + RANDOM % 96))
    case " $USED " in *" $ip "*) continue;; esac
    n=$(os_get "$OS_NEUTRON/v2.0/ports?fixed_ips=ip_address%3D$ip" | jq '.ports|length')
    [ "$n" = 0 ] && { USED="$USED $ip"; printf -v "$1" '%s' "$ip"; return 0; }
  done
  echo "Bail out! no free address in $2.32-127"; exit 1
}
rmac() { printf 'fa:16:3e:%02x:%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)); }
free_ip IP0 127.100.0; free_ip IP2 127.100.0; free_ip IPK 127.100.0
free_ip IP1 127.101.0
MAC0=$(rmac)
SUBNET=$(os_get "$OS_NEUTRON/v2.0/subnets?name=lab-subnet" | jq -r '.subnets[0].id')
SUBNET2=$(os_get "$OS_NEUTRON/v2.0/subnets?name=lab-subnet2" | jq -r '.subnets[0].id')

# a port ferry did not make, holding IP2 (and its own MAC)
FOREIGN=$(os_req POST "$OS_NEUTRON/v2.0/ports" "$(jq -n --arg n "$LAB_NET_ID" --arg ip "$IP2" --arg v "foreign-$VM" \
  '{port:{name:$v,network_id:$n,fixed_ips:[{ip_address:$ip}],device_owner:"compute:nova"}}')")
FOREIGN_ID=$(jq -r .port.id "$OS_BODY")
FOREIGN_MAC=$(jq -r .port.mac_address "$OS_BODY")

mkdir src && truncate -s 64M src/d0.raw
# plan FILE NAME VM PORTS...: a plan with one VM and these port entries
plan_file() {
  local f=$1 name=$2 vm=$3 p
  shift 3
  cat >"$f" <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: $name}
sources: {src: {type: directory, path: src}}
targets:
  lab:
    type: openstack
    cloud: lab
    ceph: {conf: $CEPH_CONF, volumes_pool: volumes, images_pool: images}
defaults: {source: src, target: lab, flavor: lab.small}
flavors: {lab.small: {vcpus: 1, ram_mb: 512, disk_gb: 1}}
vms:
  - name: $vm
    disks: [{file: d0.raw, volume_type: no-such-type-$SUF}]
    ports:
EOF
  for p in "$@"; do echo "      - $p" >>"$f"; done
}
plan_file plan.yaml "p72-$SUF" "$VM" \
  "{network: lab-net, fixed_ip: $IP0, mac: \"$MAC0\", security_groups: [lab-sg, lab-sg2]}" \
  "{network: $LAB_NET2_ID, subnet: lab-subnet2, fixed_ip: $IP1}" \
  "{network: lab-net, fixed_ip: $IP2}" \
  "{network: lab-net, mac: \"$FOREIGN_MAC\"}"

# action PLAN STEP: what `ferry plan --json` says of STEP; detail likewise
action() { "$FERRY" plan --json "$1" 2>/dev/null | jq -r --arg s "$2" '.steps[]|select(.id==$s)|.action'; }
detail() { "$FERRY" plan --json "$1" 2>/dev/null | jq -r --arg s "$2" '.steps[]|select(.id==$s)|.detail'; }
# status FILE STEP: the last status `ferry apply --json` (output in FILE) gave STEP
status() { jq -r --arg s "$2" 'select(.event=="step" and .step==$s)|.status' "$1" | tail -1; }
# ports NAME: the ports of that name (JSON array)
ports() { os_get "$OS_NEUTRON/v2.0/ports?name=$1" | jq -c .ports; }

is "setup: a foreign port holds $IP2" "$FOREIGN" 201

# 1. plan: what would be created, what is blocked
ok "validate" "$FERRY" validate plan.yaml
"$FERRY" plan plan.yaml >plan.out 2>&1
ok "plan: port 0 to create, on lab-net with its IP, subnet, MAC and groups" \
  grep -Fqx "+ $VM/port/0: port $VM-port0 on lab-net $IP0 (subnet lab-subnet) $MAC0; groups lab-sg, lab-sg2" plan.out
ok "plan: port 1 (network by id) to create on lab-subnet2, the subnet the plan names" \
  grep -Fqx "+ $VM/port/1: port $VM-port1 on lab-net2 $IP1 (subnet lab-subnet2) MAC by Neutron" plan.out
ok "plan: port 2 blocked: $IP2 is held by the foreign port, named by id" \
  grep -Fqx "! $VM/port/2: blocked ($IP2 is held by port $FOREIGN_ID 'foreign-$VM' (device_owner compute:nova), which ferry did not create)" plan.out
ok "plan: port 3 blocked: the MAC is held by the foreign port" \
  grep -Fqx "! $VM/port/3: blocked ($FOREIGN_MAC is held by port $FOREIGN_ID 'foreign-$VM' (device_owner compute:nova), which ferry did not create)" plan.out
is "plan created nothing" "$(ports "$VM-port0")" "[]"

# 2. apply: the two good ports, nothing for the blocked ones
fails "apply exits 1 (the volume step and its dependants are blocked)" 1 \
  sh -c "'$FERRY' apply --yes --json plan.yaml >apply.json 2>apply.err"
is "apply: port 0 applied" "$(status apply.json "$VM/port/0")" applied
is "apply: port 1 applied" "$(status apply.json "$VM/port/1")" applied
is "apply: port 2 blocked" "$(status apply.json "$VM/port/2")" blocked
is "apply: port 3 blocked" "$(status apply.json "$VM/port/3")" blocked
P0=$(ports "$VM-port0")
is "neutron: exactly one port $VM-port0" "$(jq length <<<"$P0")" 1
is "neutron: port 0 is on lab-net" "$(jq -r '.[0].network_id' <<<"$P0")" "$LAB_NET_ID"
is "neutron: port 0 has fixed IP $IP0 on lab-subnet" \
  "$(jq -r '.[0].fixed_ips|map("\(.ip_address) \(.subnet_id)")|join(",")' <<<"$P0")" "$IP0 $SUBNET"
is "neutron: port 0 has MAC $MAC0" "$(jq -r '.[0].mac_address' <<<"$P0")" "$MAC0"
is "neutron: port 0 has groups lab-sg and lab-sg2 (ids)" \
  "$(jq -r '.[0].security_groups|sort|join(" ")' <<<"$P0")" \
  "$(printf '%s\n' "$LAB_SG_ID" "$LAB_SG2_ID" | sort | paste -sd' ')"
is "neutron: port 0 carries ferry's mark" "$(jq -r '.[0].description' <<<"$P0")" \
  "ferry:plan=p72-$SUF ferry:vm=$VM ferry:port=0"
P0_ID=$(jq -r '.[0].id' <<<"$P0")
is "journal: created port:ID recorded for port 0" \
  "$(jq -r --arg s "$VM/port/0" 'select(.step==$s and .event=="created")|.id' .ferry/p72-$SUF.state)" "port:$P0_ID"
P1=$(ports "$VM-port1")
is "neutron: port 1 has $IP1 on lab-subnet2" \
  "$(jq -r '.[0].fixed_ips|map("\(.ip_address) \(.subnet_id)")|join(",")' <<<"$P1")" "$IP1 $SUBNET2"
is "neutron: no port for the blocked entries" "$(ports "$VM-port2")$(ports "$VM-port3")" "[][]"
is "neutron: the foreign port still holds $IP2, unchanged" \
  "$(os_get "$OS_NEUTRON/v2.0/ports/$FOREIGN_ID" | jq -r '"\(.port.fixed_ips[0].ip_address) \(.port.name) \(.port.description)"')" \
  "$IP2 foreign-$VM "

# 3. a rerun finds them: "=", nothing created
is "second plan: port 0 done" "$(action plan.yaml "$VM/port/0")" done
is "second plan: port 1 done" "$(action plan.yaml "$VM/port/1")" done
ok "second plan: port 0's line shows its id, IP, MAC and groups" \
  sh -c "'$FERRY' plan plan.yaml 2>&1 | grep -Fqx '= $VM/port/0: port $VM-port0 ($P0_ID) on lab-net $IP0 (subnet lab-subnet) $MAC0; groups lab-sg, lab-sg2'"
fails "plan --detailed-exitcode exits 2 (the blocked volume steps, not the ports)" 2 \
  "$FERRY" plan --detailed-exitcode plan.yaml
fails "second apply exits 1 (same blocked steps)" 1 \
  sh -c "'$FERRY' apply --yes --json plan.yaml >apply2.json 2>apply2.err"
is "second apply: port 0 unchanged" "$(status apply2.json "$VM/port/0")" unchanged
is "second apply: still exactly one port $VM-port0" "$(ports "$VM-port0" | jq length)" 1

# 4. groups changed behind ferry's back: "~", apply puts them back
code=$(os_req PUT "$OS_NEUTRON/v2.0/ports/$P0_ID" "{\"port\":{\"security_groups\":[\"$LAB_SG_ID\"]}}")
is "setup: port 0 left with lab-sg only" "$code" 200
is "plan: port 0 to update" "$(action plan.yaml "$VM/port/0")" update
is "plan: the update names the groups" "$(detail plan.yaml "$VM/port/0")" \
  "port $VM-port0 ($P0_ID): groups: lab-sg → lab-sg, lab-sg2"
fails "apply exits 1 (blocked volume steps)" 1 \
  sh -c "'$FERRY' apply --yes --json plan.yaml >apply3.json 2>apply3.err"
is "apply: port 0 applied" "$(status apply3.json "$VM/port/0")" applied
is "neutron: port 0 has both groups again, same port" \
  "$(os_get "$OS_NEUTRON/v2.0/ports/$P0_ID" | jq -r '.port.security_groups|sort|join(" ")')" \
  "$(printf '%s\n' "$LAB_SG_ID" "$LAB_SG2_ID" | sort | paste -sd' ')"

# 5. an IP or MAC the port cannot change to: blocked, telling to destroy the
#    port; apply leaves the port as it is
free_ip IPX 127.100.0
sed "s/fixed_ip: $IP0,/fixed_ip: $IPX,/" plan.yaml >moved.yaml
fails_with "plan: another IP for an existing port is blocked, naming the port" 0 \
  "^! $VM/port/0: blocked \\(ferry's port $VM-port0 \\($P0_ID\\) has $IP0, the plan says $IPX on subnet 'lab-subnet'; a port's IP cannot change in place: destroy the port \\(ferry destroy, or delete it\\) and apply again\\)\$" \
  "$FERRY" plan moved.yaml
fails "apply with the moved IP exits 1" 1 \
  sh -c "'$FERRY' apply --yes --json moved.yaml >moved.json 2>moved.err"
is "apply with the moved IP: port 0 blocked" "$(status moved.json "$VM/port/0")" blocked
is "neutron: the same port, still with $IP0" \
  "$(ports "$VM-port0" | jq -r 'map("\(.id) \(.fixed_ips[0].ip_address)")|join(",")')" "$P0_ID $IP0"
MACX=$(rmac)
sed "s/mac: \"$MAC0\"/mac: \"$MACX\"/" plan.yaml >mac.yaml
fails_with "plan: another MAC for an existing port is blocked" 0 \
  "^! $VM/port/0: blocked \\(ferry's port $VM-port0 \\($P0_ID\\) has MAC $MAC0, the plan says $MACX; a port's MAC cannot change in place" \
  "$FERRY" plan mac.yaml

# 6. what the plan names must resolve: blocked otherwise
DUP1=$(os_req POST "$OS_NEUTRON/v2.0/security-groups" "{\"security_group\":{\"name\":\"dup-$VM\"}}")
DUP2=$(os_req POST "$OS_NEUTRON/v2.0/security-groups" "{\"security_group\":{\"name\":\"dup-$VM\"}}")
is "setup: two groups named dup-$VM" "$DUP1 $DUP2" "201 201"
plan_file bad.yaml "b72-$SUF" "${VM}b" \
  "{network: no-net-$SUF}" \
  "{network: lab-net2, fixed_ip: 127.100.0.9}" \
  "{network: lab-net, subnet: lab-subnet2, fixed_ip: 127.101.0.9}" \
  "{network: lab-net, security_groups: [lab-sg, no-sg-$SUF]}" \
  "{network: lab-net, security_groups: [dup-$VM]}"
"$FERRY" plan bad.yaml >bad.out 2>&1
ok "blocked: a missing network" \
  grep -Fqx "! ${VM}b/port/0: blocked (network 'no-net-$SUF' not found in the project (nor shared with it))" bad.out
ok "blocked: no subnet of the network holds the address" \
  grep -Fqx "! ${VM}b/port/1: blocked (no subnet of network 'lab-net2' contains 127.100.0.9 (its subnets: lab-subnet2 127.101.0.0/24))" bad.out
ok "blocked: a subnet of another network" \
  grep -Fq "! ${VM}b/port/2: blocked (subnet 'lab-subnet2' not found on network 'lab-net'" bad.out
ok "blocked: a missing security group" \
  grep -Fqx "! ${VM}b/port/3: blocked (security group 'no-sg-$SUF' not found in the project)" bad.out
ok "blocked: a group name matching two groups" \
  grep -Fq "! ${VM}b/port/4: blocked (security group name 'dup-$VM' matches 2 groups of the project" bad.out

# 7. kill -9 right after Neutron created the port, before ferry recorded
#    it (FERRY_TEST_OS_PAUSE stops ferry there), then a rerun: one port
plan_file kill.yaml "k72-$SUF" "${VM}k" "{network: lab-net, fixed_ip: $IPK}"
FERRY_TEST_OS_PAUSE=port:created "$FERRY" apply --yes kill.yaml >kill.out 2>&1 &
kpid=$!
for _ in $(seq 600); do grep -q "test pause at 'port:created'" kill.out && break; sleep 0.1; done
ok "apply paused right after creating the port" grep -q "test pause at 'port:created'" kill.out ||
  sed 's/^/# kill.out: /' kill.out >&2
kill -9 "$kpid"; wait "$kpid" 2>/dev/null
is "neutron: the killed apply left one port ${VM}k-port0" "$(ports "${VM}k-port0" | jq length)" 1
is "journal: the kill left no created record" \
  "$(jq -r 'select(.event=="created")|.id' .ferry/k72-$SUF.state | wc -l)" 0
is "plan after the kill: the port is found (done)" "$(action kill.yaml "${VM}k/port/0")" done
fails "apply after the kill exits 1 (blocked volume steps)" 1 \
  sh -c "'$FERRY' apply --yes --json kill.yaml >kill2.json 2>kill2.err"
is "apply after the kill: port unchanged" "$(status kill2.json "${VM}k/port/0")" unchanged
is "neutron: still exactly one port ${VM}k-port0, with $IPK" \
  "$(ports "${VM}k-port0" | jq -r 'map(.fixed_ips[0].ip_address)|join(" ")')" "$IPK"

# 8. cleanup: every port and group this test made goes
cleanup
is "cleanup: no port of this test is left" \
  "$(os_get "$OS_NEUTRON/v2.0/ports" | jq --arg v "$VM" '[.ports[]|select(.name|startswith($v) or . == "foreign-\($v)")]|length')" 0
done_testing
