#!/bin/bash
# The OpenStack client (src/clients/openstack.c, through tests/helpers/
# os-request) against the real lab (tests/lab): password and application-
# credential tokens, the catalog (Cinder's endpoint carries the project id),
# real pagination, each service's own error message, a Cinder volume
# created, polled to 'available', deleted and polled away, several threads
# on one session, and no secret in the debug output.
. "$(dirname "$0")/../lib.sh"
# os-env.sh came with the lab branch: a tree without it cannot reach a lab
[ -f "$TOP/tests/lab/os-env.sh" ] || skip_all "tests/lab/os-env.sh is not in this tree"
. "$TOP/tests/lab/os-env.sh"
R=${OS_REQUEST:-$TOP/tests/helpers/os-request}
[ -x "$R" ] || { echo "Bail out! $R not built (make)"; exit 1; }
LOG=$TMP/debug.log
os() { "$R" --log "$LOG" "$@"; }
# json TEXT EXPR: a value of the JSON on the 2nd line of TEXT
json() { sed -n 2p <<<"$1" | jq -r "$2"; }

fails_with "lab: cinder endpoint carries the demo project id" 0 \
  "^http://127\.0\.0\.1:8776/v3/$LAB_DEMO_PROJECT_ID\$" os lab endpoint volume
fails_with "lab: the token's project is demo" 0 "^project $LAB_DEMO_PROJECT_ID\$" \
  os lab endpoint volume
fails_with "lab-appcred: application credential, same project" 0 \
  "^project $LAB_DEMO_PROJECT_ID\$" os lab-appcred endpoint compute
fails_with "lab-admin: cinder endpoint with the admin project" 0 \
  "/v3/$LAB_ADMIN_PROJECT_ID\$" os lab-admin endpoint volume
fails_with "identity paths are relative to /v3" 0 '"name":"demo"' \
  os lab request identity GET /auth/projects

# (stdout only: --log also shows the debug lines on stderr)
out=$(os lab list network '/v2.0/networks?limit=1' networks 2>>"$TMP/stderr")
ok "neutron, one per page: both lab networks" \
  grep -q "$LAB_NET_ID.*$LAB_NET2_ID\|$LAB_NET2_ID.*$LAB_NET_ID" <<<"$out"
is "neutron, one per page: 2 networks" "$(json "$out" length)" 2
fails_with "nova flavors (microversion 2.67): lab.small" 0 '"name":"lab.small"' \
  os lab-appcred list compute /flavors/detail flavors
fails_with "glance images list" 0 '^items [0-9]+$' os lab list image /v2/images images

fails_with "cinder's own 404 message" 1 \
  '^os-request: cinder: Volume type nope could not be found\. \(HTTP 404\)$' \
  os lab request volume GET /types/nope
fails_with "nova's own 404 message" 1 \
  '^os-request: nova: Instance nope could not be found\. \(HTTP 404\)$' \
  os lab request compute GET /servers/nope
fails_with "glance's own 404 message (plain text)" 1 \
  '^os-request: glance: No image found with ID nope \(HTTP 404\)$' \
  os lab request image GET /v2/images/nope
fails_with "neutron's own 404 message" 1 \
  '^os-request: neutron: Network nope could not be found\. \(HTTP 404\)$' \
  os lab request network GET /v2.0/networks/nope
fails_with "cinder's own 400 message" 1 \
  '^os-request: cinder: Invalid input for field/attribute size\..*\(HTTP 400\)$' \
  os lab request volume POST /volumes '{"volume":{"size":-1}}' noretry
fails_with "a wrong password: keystone's message" 1 \
  '^os-request: keystone: The request you have made requires authentication\. \(HTTP 401\)$' \
  env OS_PASSWORD=wrong "$R" lab request volume GET /volumes/detail

# A volume's life: created (one attempt), polled to available, deleted,
# polled until Cinder answers 404.
name=ferry-t71-$$
# cleanup: every volume of this name goes, whatever failed
cleanup() {
  "$R" lab list volume "/volumes/detail?name=$name" volumes 2>/dev/null | sed -n 2p |
    jq -r '.[].id' 2>/dev/null | while read -r id; do
      "$R" lab request volume DELETE "/volumes/$id" >/dev/null 2>&1; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT
out=$(os lab request volume POST /volumes \
  "{\"volume\":{\"size\":1,\"name\":\"$name\",\"volume_type\":\"ceph\"}}" noretry 2>>"$TMP/stderr")
is "volume create: HTTP 202" "$(head -1 <<<"$out")" "status 202"
vol=$(json "$out" .volume.id)
[[ $vol =~ ^[0-9a-f-]{36}$ ]] || { echo "Bail out! no volume id in: $out"; exit 1; }
fails_with "wait: the volume becomes available" 0 \
  "^\\{\"id\":\"$vol\",\"status\":\"available\"" \
  os lab wait volume "/volumes/$vol" volume available error 300
fails_with "4 threads on one session read the volume" 0 '^status 200$' \
  os --threads 4 lab-appcred request volume GET "/volumes/$vol"
fails_with "volume delete: HTTP 202" 0 '^status 202$' \
  os lab request volume DELETE "/volumes/$vol"
fails_with "wait: the volume is gone (404 = DELETED)" 0 '^null$' \
  os lab wait volume "/volumes/$vol" volume deleted error_deleting 300

fails_with "debug log: one line per request, with the status" 0 \
  "GET http://127\.0\.0\.1:8776/v3/$LAB_DEMO_PROJECT_ID/volumes/$vol -> 200 \\([0-9]+ ms\\)" \
  cat "$LOG"
{ cat "$LOG" "$TMP/stderr"; "$R" -v lab-appcred request compute GET /flavors; "$R" -v lab endpoint image; } >"$TMP/all" 2>&1
fails "no password in the debug output" 1 grep -qF "$LAB_PASSWORD" "$TMP/all"
fails "no application-credential secret in the debug output" 1 \
  grep -qF "$LAB_APPCRED_SECRET" "$TMP/all"
fails "no token header in the debug output" 1 grep -qi 'x-auth-token\|x-subject-token' "$TMP/all"
done_testing
