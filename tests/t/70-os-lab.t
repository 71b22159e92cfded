#!/bin/bash
# The OpenStack lab (tests/lab/openstack-lab.sh) works as ferry uses it,
# through plain REST: password and application-credential tokens from the
# values in clouds.yaml, the service catalog, the lab's resources (volume
# types, networks, security groups, flavor), a 'ceph' volume that becomes
# available as RBD image volumes/volume-<id> and goes away when deleted, and
# every socket of the lab listening on loopback only.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/os-env.sh"
cd "$TMP" || exit 1
IP=127.0.0.1

# cloud NAME KEY: a value of clouds.yaml's auth section (KEY auth_type: top level)
cloud() {
  python3 -c 'import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["clouds"][sys.argv[2]]
print(c[sys.argv[3]] if sys.argv[3] == "auth_type" else c["auth"][sys.argv[3]])' \
    "$OS_CLIENT_CONFIG_FILE" "$1" "$2"
}
# auth JSON-ON-STDIN: POST it to Keystone; writes hdr (headers) and body
auth() {
  curl -s -o body -D hdr -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @- "$(cloud lab auth_url)/auth/tokens"
}
subject_token() { awk 'tolower($1)=="x-subject-token:"{print $2}' hdr | tr -d '\r'; }
# password_auth CLOUD: password token of a clouds.yaml entry
# (secrets reach jq through its environment, never its argv)
password_auth() {
  P=$(cloud "$1" password) jq -n --arg u "$(cloud "$1" username)" \
    --arg pr "$(cloud "$1" project_name)" --arg ud "$(cloud "$1" user_domain_name)" \
    --arg pd "$(cloud "$1" project_domain_name)" \
    '{auth:{identity:{methods:["password"],password:{user:{name:$u,domain:{name:$ud},password:$ENV.P}}},
      scope:{project:{name:$pr,domain:{name:$pd}}}}}' | auth
}
# get URL [TOKEN]: GET with the demo token (or TOKEN); body on stdout, fails on HTTP error
get() { curl -sf -K <(printf 'header = "X-Auth-Token: %s"\n' "${2:-$TOK}") "$1"; }

# 1. tokens
is "password token (cloud 'lab'): HTTP 201" "$(password_auth lab)" 201
TOK=$(subject_token)
is "password token is scoped to project demo" "$(jq -r .token.project.name body)" demo
is "catalog: exactly identity, compute, volumev3, image, network, placement" \
  "$(jq -r '[.token.catalog[].type]|sort|join(" ")' body)" \
  "compute identity image network placement volumev3"
is "catalog: every endpoint on 127.0.0.1" \
  "$(jq -r '[.token.catalog[].endpoints[].url|test("^http://127\\.0\\.0\\.1:")]|all' body)" true
CINDER=$(jq -r '.token.catalog[]|select(.type=="volumev3").endpoints[]|select(.interface=="public").url' body)
is "cloud 'lab-appcred' uses auth_type v3applicationcredential" \
  "$(cloud lab-appcred auth_type)" v3applicationcredential
is "application-credential token: HTTP 201" \
  "$(S=$(cloud lab-appcred application_credential_secret) jq -n --arg i "$(cloud lab-appcred application_credential_id)" \
       '{auth:{identity:{methods:["application_credential"],application_credential:{id:$i,secret:$ENV.S}}}}' | auth)" 201
is "application-credential token is scoped to project demo" "$(jq -r .token.project.name body)" demo
is "application-credential token's catalog has volumev3" \
  "$(jq -r '[.token.catalog[].type]|index("volumev3") != null' body)" true
is "admin token (cloud 'lab-admin'): HTTP 201" "$(password_auth lab-admin)" 201
ATOK=$(subject_token)
is "admin token carries role admin" "$(jq -r '[.token.roles[].name]|index("admin") != null' body)" true
is "a wrong password is refused: HTTP 401" \
  "$(jq -n '{auth:{identity:{methods:["password"],password:{user:{name:"demo",domain:{name:"Default"},password:"wrong"}}}}}' | auth)" 401

# 2. the lab's resources, as the demo user sees them
is "volume types: ceph, ceph-hdd and cinder's __DEFAULT__" \
  "$(get "$CINDER/types" | jq -r '[.volume_types[].name]|sort|join(" ")')" "__DEFAULT__ ceph ceph-hdd"
is "ceph and ceph-hdd on backend ceph (admin view)" \
  "$(get "http://$IP:8776/v3/$LAB_ADMIN_PROJECT_ID/types" "$ATOK" |
     jq -r '[.volume_types[]|select(.name|startswith("ceph"))|"\(.name):\(.extra_specs.volume_backend_name)"]|sort|join(" ")')" \
  "ceph-hdd:ceph ceph:ceph"
is "networks lab-net and lab-net2" \
  "$(get "http://$IP:9696/v2.0/networks" | jq -r '[.networks[].name]|sort|join(" ")')" "lab-net lab-net2"
is "LAB_NET_ID is lab-net" "$(get "http://$IP:9696/v2.0/networks/$LAB_NET_ID" | jq -r .network.name)" lab-net
is "LAB_NET2_ID is lab-net2" "$(get "http://$IP:9696/v2.0/networks/$LAB_NET2_ID" | jq -r .network.name)" lab-net2
is "subnets 127.100.0.0/24 and 127.101.0.0/24, no DHCP, Neutron's own picks from .128-.254 only" \
  "$(get "http://$IP:9696/v2.0/subnets" | jq -r '[.subnets[]|"\(.cidr):\(.enable_dhcp):\(.allocation_pools|map("\(.start)-\(.end)")|join(","))"]|sort|join(" ")')" \
  "127.100.0.0/24:false:127.100.0.128-127.100.0.254 127.101.0.0/24:false:127.101.0.128-127.101.0.254"
is "security groups lab-sg and lab-sg2 in project demo" \
  "$(get "http://$IP:9696/v2.0/security-groups?project_id=$LAB_DEMO_PROJECT_ID" |
     jq -r '[.security_groups[].name|select(startswith("lab-"))]|sort|join(" ")')" "lab-sg lab-sg2"
is "LAB_SG_ID / LAB_SG2_ID" \
  "$(get "http://$IP:9696/v2.0/security-groups/$LAB_SG_ID" | jq -r .security_group.name) $(get "http://$IP:9696/v2.0/security-groups/$LAB_SG2_ID" | jq -r .security_group.name)" \
  "lab-sg lab-sg2"
is "flavor lab.small: 512 MiB, 1 vCPU, 1 GB" \
  "$(get "http://$IP:8774/v2.1/flavors/detail" | jq -r '.flavors[]|select(.name=="lab.small")|"\(.ram) \(.vcpus) \(.disk)"')" \
  "512 1 1"

# Ceph: the pools cinder and glance use, healthy, reachable with CEPH_CONF alone
is "ceph pools volumes and images exist (rbd application)" \
  "$(for p in volumes images; do ceph -c "$CEPH_CONF" osd pool application get "$p" 2>/dev/null | jq -r --arg p "$p" 'keys|"\($p):\(join(","))"'; done | paste -sd' ')" \
  "volumes:rbd images:rbd"
# (HEALTH_WARN is tolerated: slow-ops warnings come and go on a loaded machine)
ok "ceph health is HEALTH_OK or HEALTH_WARN" \
  sh -c "ceph -c '$CEPH_CONF' health detail | tee /dev/stderr | head -1 | grep -Eq '^HEALTH_(OK|WARN)'"

# 3. a 1 GiB volume of type ceph: available, RBD image volumes/volume-<id>, deleted
is "no volume quota for demo (test files share the lab)" \
  "$(get "$CINDER/os-quota-sets/$LAB_DEMO_PROJECT_ID" | jq -r '"\(.quota_set.volumes) \(.quota_set.gigabytes)"')" "-1 -1"
code=$(jq -n '{volume:{size:1,volume_type:"ceph",name:"lab-test"}}' |
  curl -s -o created -w '%{http_code}' -K <(printf 'header = "X-Auth-Token: %s"\n' "$TOK") \
    -H 'Content-Type: application/json' --data-binary @- "$CINDER/volumes")
vol=$(jq -r .volume.id created 2>/dev/null)
is "volume create accepted: HTTP 202" "$code" 202
[ "$code" = 202 ] || { head -c 400 created; echo; } | sed 's/^/# /'
st=
for _ in $(seq 120); do
  st=$(get "$CINDER/volumes/$vol" | jq -r .volume.status)
  case $st in available|error*) break;; esac; sleep 0.5
done
is "volume becomes available" "$st" available
is "volume's host is $LAB_VOLUME_HOST (admin view)" \
  "$(get "http://$IP:8776/v3/$LAB_ADMIN_PROJECT_ID/volumes/$vol" "$ATOK" | jq -r '.volume."os-vol-host-attr:host"')" \
  'lab@ceph#ceph'
ok "RBD image volume-$vol exists in pool volumes" \
  sh -c "rbd -c '$CEPH_CONF' ls volumes | grep -qx 'volume-$vol'"
is "RBD image is 1 GiB" \
  "$(rbd -c "$CEPH_CONF" info --format json "volumes/volume-$vol" | jq -r .size)" 1073741824
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -K <(printf 'header = "X-Auth-Token: %s"\n' "$TOK") "$CINDER/volumes/$vol")
is "volume delete accepted: HTTP 202" "$code" 202
for _ in $(seq 120); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -K <(printf 'header = "X-Auth-Token: %s"\n' "$TOK") "$CINDER/volumes/$vol")
  [ "$code" = 404 ] && break; sleep 0.5
done
is "volume gone from cinder: HTTP 404" "$code" 404
ok "RBD image volume-$vol gone from pool volumes" \
  sh -c "! rbd -c '$CEPH_CONF' ls volumes | grep -qx 'volume-$vol'"

# 4. network safety: every listening socket of the lab's processes (the
#    OpenStack daemons' process groups, the Ceph daemons) is on loopback
pgids=$(cat "$FERRY_OSLAB"/pids/* | paste -sd' ')
cpids=$(cat "$FERRY_OSLAB"/ceph/pids/* | paste -sd' ')
mine=$(ps -eo pid=,pgid= | awk -v g=" $pgids " -v c=" $cpids " \
  'index(g, " " $2 " ") || index(c, " " $1 " ") {print $1}' | paste -sd' ')
ss -Hltunp >ss.out
awk -v m=" $mine " '{ while (match($0, /pid=[0-9]+/)) { p = substr($0, RSTART + 4, RLENGTH - 4);
  if (index(m, " " p " ")) { print $5; break } $0 = substr($0, RSTART + RLENGTH) } }' ss.out | sort -u >lab-listen
n=$(wc -l <lab-listen)
ok "the lab listens on 15 or more sockets (found $n)" test "$n" -ge 15
is "none of them outside 127.0.0.1 / [::1]" \
  "$(grep -Ev '^(127\.0\.0\.1|\[::1\]):[0-9]+$' lab-listen | paste -sd' ')" ""
is "the service ports are bound to 127.0.0.1" \
  "$(for p in 5000 8774 8776 8778 9292 9696 13306 5672 "$LAB_CEPH_PORT"; do grep -qx "127.0.0.1:$p" lab-listen && echo "$p"; done | paste -sd' ')" \
  "5000 8774 8776 8778 9292 9696 13306 5672 $LAB_CEPH_PORT"
done_testing
