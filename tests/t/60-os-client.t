#!/bin/bash
# The OpenStack client (src/clients/openstack.c) against canned faults a
# real cloud cannot make on demand: tests/helpers/os-fake.py serves a fake
# Keystone whose catalog points back to itself, one scenario per cloud;
# tests/helpers/os-request drives the client.  The fake logs every request
# it gets ("<scenario> METHOD path token-tag"), so retries and re-auths are
# counted on the server side.
. "$(dirname "$0")/../lib.sh"
# OS_REQUEST: another build of the driver (an ASan or TSan one).
R=${OS_REQUEST:-$TOP/tests/helpers/os-request}
[ -x "$R" ] || { echo "Bail out! $R not built (make)"; exit 1; }
command -v python3 >/dev/null || skip_all "python3 is needed for the fake OpenStack"

export FAKE_PASSWORD="pw-Sup3r-$$-secret"
export FAKE_APP_SECRET="ac-S3cret-$$-value"
python3 "$TOP/tests/helpers/os-fake.py" "$TMP/port" "$TMP/requests" &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "Bail out! the fake OpenStack did not start"; exit 1; }
PORT=$(cat "$TMP/port")

# One cloud per scenario; the password only in secure.yaml.
SCENARIOS="ok r500 r429 e404 e400 e500 neutron404 glance404 busy409 plain409
  cut badjson expiring r401 a401 pages wait waiterr refused badauth r401-par"
{
  echo "clouds:"
  for s in $SCENARIOS; do
    cat <<EOF
  $s:
    auth:
      auth_url: http://127.0.0.1:$PORT/$s/
      username: demo
      project_name: demo
      domain_name: Default
    region_name: RegionOne
EOF
  done
  cat <<EOF
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://127.0.0.1:$PORT/ok/v3
      application_credential_id: ac-1
      application_credential_secret: $FAKE_APP_SECRET
    region_name: RegionOne
EOF
} >"$TMP/clouds.yaml"
{
  echo "clouds:"
  for s in $SCENARIOS; do echo "  $s: {auth: {password: '$FAKE_PASSWORD'}}"; done
} >"$TMP/secure.yaml"
export OS_CLIENT_CONFIG_FILE=$TMP/clouds.yaml OS_CLIENT_SECURE_FILE=$TMP/secure.yaml
unset OS_CLOUD OS_AUTH_URL OS_PASSWORD OS_USERNAME OS_PROJECT_NAME OS_REGION_NAME
# Fast backoff for the tests (the defaults are 0.5 s doubling to 20 s);
# every run logs at debug level to one file, checked for secrets at the end.
LOG=$TMP/debug.log
os() { "$R" --log "$LOG" --backoff 0.05 --retries 3 "$@"; }
# hits SCENARIO WHAT: requests of SCENARIO to the service (not Keystone).
hits() { grep "^$1 " "$TMP/requests" | grep -vc " /$1/v3/auth/tokens "; }
auths() { grep -c "^$1 POST /$1/v3/auth/tokens " "$TMP/requests"; }

fails_with "plain GET: status and JSON" 0 '^\{"volumes":\[\{"id":"v1"' \
  os ok request volume GET /volumes/detail
fails_with "application credential auth" 0 '^status 200$' \
  os appcred request volume GET /volumes/detail
fails_with "endpoint: the region's public cinder URL with the project id" 0 \
  "^http://127.0.0.1:$PORT/ok/volume/v3/p-0123456789\$" os ok endpoint volume

fails_with "500, 500, 200: success after 2 retries" 0 '^status 200$' \
  os r500 request compute GET /servers/detail
is "500, 500, 200: the server saw 3 requests" "$(hits r500)" 3

t0=$(date +%s%N)
fails_with "429 with Retry-After: 1, then 200: success" 0 '^status 200$' \
  os r429 request volume GET /volumes/detail
ms=$((($(date +%s%N) - t0) / 1000000))
ok "429: Retry-After honoured (waited ${ms} ms >= 1000)" test "$ms" -ge 1000
is "429: 2 requests" "$(hits r429)" 2

fails_with "404: the service's message, no retry" 1 \
  "^os-request: cinder: volume type 'ceph' not found \(HTTP 404\)\$" \
  os e404 request volume GET /types/ceph
is "404: exactly 1 request" "$(hits e404)" 1
fails_with "400: the service's message" 1 \
  '^os-request: cinder: Invalid input for field/attribute size\. \(HTTP 400\)$' \
  os e400 request volume POST /volumes '{"volume":{"size":-1}}'
is "400: exactly 1 request" "$(hits e400)" 1
fails_with "404 with a body flagged ok: status 404" 0 '^status 404$' \
  os e404 request volume GET /types/ceph ok404
fails_with "neutron's error body" 1 \
  '^os-request: neutron: Network nope could not be found\. \(HTTP 404\)$' \
  os neutron404 request network GET /v2.0/networks/nope
fails_with "glance's HTML error page" 1 \
  '^os-request: glance: No image found with ID 42 \(HTTP 404\)$' \
  os glance404 request image GET /v2/images/42
fails_with "500 every time: the message after the retries" 1 \
  '^os-request: nova: the database is down \(HTTP 500\)$' \
  os e500 request compute GET /servers/detail
is "500 every time: 1 + 3 retries" "$(hits e500)" 4
fails_with "409 'in task_state': retried, then success" 0 '^status 200$' \
  os busy409 request compute POST /servers/s1/action '{"os-start":null}'
is "busy 409: 2 requests" "$(hits busy409)" 2
fails_with "another 409: no retry" 1 \
  "^os-request: cinder: Volume name 'a' already exists \(HTTP 409\)\$" \
  os plain409 request volume POST /volumes '{"volume":{"name":"a"}}'
is "plain 409: exactly 1 request" "$(hits plain409)" 1
fails_with "noretry: a 500 is not retried" 1 '\(HTTP 500\)$' \
  os e500 request compute POST /servers '{}' noretry
is "noretry: 1 more request only" "$(hits e500)" 5

fails_with "reply cut mid-body: a clear error" 1 \
  '^os-request: cinder: GET http://[^ ]*/volumes/detail: reply cut short \(' \
  os cut request volume GET /volumes/detail
fails_with "malformed JSON: a clear error" 1 \
  '^os-request: cinder: GET http://[^ ]*/volumes/detail: malformed JSON in the reply \(HTTP 200\)$' \
  os badjson request volume GET /volumes/detail

fails_with "401 once: one re-auth, then success" 0 '^items 4$' \
  os r401 list volume /volumes/detail volumes
is "401 once: 2 authentications" "$(auths r401)" 2
is "401 once: token A refused, B used" \
  "$(grep '^r401 GET' "$TMP/requests" | awk '{print $4}' | tr -d '\n')" ABB
fails_with "8 threads, one session, 401 once: all succeed" 0 '^status 200$' \
  os --threads 8 r401-par request volume GET /volumes/detail
is "8 threads: one shared authentication, one shared re-auth" "$(auths r401-par)" 2
# (how many threads try A first depends on the scheduling; all 8 end on B)
is "8 threads: all 8 served with the renewed token B" \
  "$(grep -c '^r401-par GET .* B$' "$TMP/requests")" 8
is "8 threads: nothing but A and B used" \
  "$(grep '^r401-par GET' "$TMP/requests" | grep -vc ' [AB]$')" 0
fails_with "401 twice: an error" 1 \
  '^os-request: cinder: The request you have made requires authentication\. \(HTTP 401\)$' \
  os a401 request volume GET /volumes/detail
is "401 twice: 2 authentications, no more" "$(auths a401)" 2
fails_with "wrong password: keystone's message" 1 \
  '^os-request: keystone: The request you have made requires authentication\. \(HTTP 401\)$' \
  os badauth request volume GET /volumes/detail
is "wrong password: 1 attempt" "$(auths badauth)" 1

# The first token expires 62 s after issue: 2 s into the wait it is within
# the 60 s margin, and the next poll authenticates again first.
fails_with "token expiring mid-run: re-auth and success" 0 '"status":"available"' \
  env FERRY_TEST_OS_POLL_SCALE=0.5 "$R" --log "$LOG" expiring wait compute \
  /servers/s1 server available error 30
is "token expiring: 2 authentications" "$(auths expiring)" 2
is "token expiring: polls with A, then B" \
  "$(grep '^expiring GET' "$TMP/requests" | awk '{print $4}' | tr -d '\n')" AAAB

for svc in "volume /volumes/detail volumes" "compute /servers/detail servers" \
  "network /v2.0/networks networks" "image /v2/images images"; do
  set -- $svc
  fails_with "pagination over 3 pages ($1): all 6 items" 0 \
    '^\[\{"id":"i0","name":"n"\},\{"id":"i1".*\{"id":"i5","name":"n"\}\]$' \
    os pages list "$@"
done
is "pagination: 12 page requests" "$(hits pages)" 12

fails_with "wait: creating, creating, available" 0 '^\{"id":"s1","status":"available"' \
  env FERRY_TEST_OS_POLL_SCALE=0.01 "$R" wait wait compute /servers/s1 server \
  available error 30
fails_with "wait: status error carries the fault" 1 \
  "^os-request: nova: '/servers/s1' went to status 'error': No valid host was found\.\$" \
  env FERRY_TEST_OS_POLL_SCALE=0.01 "$R" waiterr wait compute /servers/s1 \
  server available error 30

out=$("$R" -v --backoff 0.05 --retries 2 refused request compute GET /servers 2>&1); rc=$?
is "connection refused: exit 1" "$rc" 1
ok "connection refused: the error names the URL and the cause" \
  grep -Eq "^os-request: nova: GET http://127.0.0.1:[0-9]+/refused/compute/v2.1/servers: .*(Couldn't connect|Connection refused)" <<<"$out"
is "connection refused: 2 retries logged" "$(grep -c 'retry [0-9]/2 in' <<<"$out")" 2

# Secrets: the password, the app-credential secret and every token the
# fake issued never appear in any output or the debug log.
fails_with "debug log has one line per request" 0 'GET http://127.0.0.1:[0-9]+/ok/volume/v3/p-0123456789/volumes/detail -> 200 \([0-9]+ ms\)' \
  cat "$LOG"
all=$TMP/all.out
{
  os ok request volume GET /volumes/detail
  "$R" -v appcred request volume GET /volumes/detail
  "$R" -v r401 list volume /volumes/detail volumes
  "$R" -v badauth request volume GET /volumes/detail
  cat "$LOG"
} >"$all" 2>&1
grep -o 'gAAAAAB-fake-token-[^" ]*' "$TMP/requests" >/dev/null && \
  echo "Bail out! the fake logged a token" && exit 1
fails "no password in any output or log" 1 grep -qF "$FAKE_PASSWORD" "$all"
fails "no app-credential secret in any output or log" 1 grep -qF "$FAKE_APP_SECRET" "$all"
fails "no token in any output or log" 1 grep -q 'gAAAAAB-fake-token' "$all"
fails "no X-Auth-Token header in any output or log" 1 grep -qi 'x-auth-token\|x-subject-token' "$all"
done_testing
