# tests/lab/os-lib.sh — helpers for the OpenStack tests (source after
# tests/lib.sh and tests/lab/os-env.sh).
OSAPI=$TOP/tests/helpers/os-api.py
# api SERVICE METHOD PATH [BODY]: JSON on stdout (tests/helpers/os-api.py)
api() { "$OSAPI" "$@"; }
# jqv FILTER: jq -r on stdin
jqv() { jq -r "$@"; }
# os_count_marked PLAN: "servers ports volumes" carrying PLAN's mark
os_count_marked() {
  local s p v
  s=$(api compute GET "/servers/detail" | jq --arg p "$1" '[.servers[]|select(.metadata["ferry:plan"]==$p)]|length')
  p=$(api network GET "/ports" | jq --arg p "ferry:plan=$1 " '[.ports[]|select(.description|startswith($p))]|length')
  v=$(api volumev3 GET "/volumes/detail" | jq --arg p "$1" '[.volumes[]|select(.metadata["ferry:plan"]==$p)]|length')
  echo "$s $p $v"
}
# os_cleanup PLAN: delete every server, port, volume and image carrying
# PLAN's mark (servers first, waiting until they are gone).
os_cleanup() {
  local id i
  for id in $(api compute GET "/servers/detail" | jq -r --arg p "$1" '.servers[]|select(.metadata["ferry:plan"]==$p)|.id'); do
    api compute DELETE "/servers/$id" >/dev/null 2>&1
  done
  for i in $(seq 60); do
    [ "$(api compute GET "/servers/detail" | jq --arg p "$1" '[.servers[]|select(.metadata["ferry:plan"]==$p)]|length')" = 0 ] && break
    sleep 1
  done
  for id in $(api network GET "/ports" | jq -r --arg p "ferry:plan=$1 " '.ports[]|select(.description|startswith($p))|.id'); do
    api network DELETE "/ports/$id" >/dev/null 2>&1
  done
  for i in $(seq 30); do
    local left=0
    for id in $(api volumev3 GET "/volumes/detail" | jq -r --arg p "$1" '.volumes[]|select(.metadata["ferry:plan"]==$p)|select(.status!="deleting")|.id'); do
      api volumev3 DELETE "/volumes/$id" >/dev/null 2>&1 || left=1
    done
    [ $left = 0 ] && break
    sleep 1
  done
  for id in $(api image GET "/v2/images?ferry_plan=$1" | jq -r '.images[]?.id'); do
    api image DELETE "/v2/images/$id" >/dev/null 2>&1
  done
  for id in $(rbd -c "$CEPH_CONF" ls volumes 2>/dev/null | grep "^ferry-$1-"); do
    rbd -c "$CEPH_CONF" rm --no-progress "volumes/$id" >/dev/null 2>&1
  done
}
# rbd_equals_oracle POOL/IMAGE ORACLE: the image's first bytes equal the
# raw file ORACLE and the rest reads as zeroes
rbd_equals_oracle() {
  local out; out=$(mktemp -u "$TMP/rbd.XXXXXX")
  rbd -c "$CEPH_CONF" export --no-progress "$1" "$out" >/dev/null 2>&1 || return 1
  local n; n=$(stat -c %s "$2")
  cmp -n "$n" "$out" "$2" || { rm -f "$out"; return 1; }
  cmp <(tail -c +$((n + 1)) "$out") <(head -c $(( $(stat -c %s "$out") - n )) /dev/zero) || { rm -f "$out"; return 1; }
  rm -f "$out"
}
# os_random: a short random suffix for plan names
os_random() { head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
