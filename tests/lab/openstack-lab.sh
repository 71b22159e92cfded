#!/bin/bash
# openstack-lab.sh {ensure|stop|status} DIR — the tests' entry point to the
# OpenStack lab (openstack-up.sh / openstack-down.sh), serialized by a flock
# on DIR/.lock so several test files may call it at once.
#   ensure  reuse the lab running in DIR (every daemon alive, even if one
#           is slow to answer), or (after stopping a half-dead one: a daemon
#           gone) start a new one; prints what it did.  Exit 0 when
#           the lab is usable, 1 otherwise (the start's log: DIR/ensure.log).
#   stop    stop the lab in DIR (logs stay).
#   status  exit 0 and print "healthy" when the lab answers, else print why
#           not and exit 3.
# Healthy: DIR/ready exists, DIR/recipe matches the scripts (a hash of
# openstack-up.sh and labbind.py), every recorded daemon lives, Keystone gives the
# demo user a token, Nova, Cinder, Glance, Neutron and Placement answer HTTP,
# and 'ceph health' is not HEALTH_ERR.
# Env: FERRY_OSLAB_WAIT  seconds to wait for the lock (default 900).
#      FERRY_OSLAB_ONCE=1  `ensure` does not retry after a failed start
#                          (DIR/.ensure-failed exists): `make check` starts
#                          the lab once and its tests fail at once if it failed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CMD=${1:-}; S=${2:-}
case $CMD in ensure|stop|status) ;; *) echo "usage: openstack-lab.sh {ensure|stop|status} DIR" >&2; exit 2;; esac
[ -n "$S" ] || { echo "usage: openstack-lab.sh {ensure|stop|status} DIR" >&2; exit 2; }
mkdir -p "$S" || exit 1
S=$(cd "$S" && pwd -P)
say() { echo "openstack-lab: $*"; }
# RECIPE: what the lab is made from; a lab started from other scripts (an
# older checkout: other networks, other settings) is not reused
RECIPE=$(cat "$HERE"/openstack-up.sh "$HERE"/labbind.py 2>/dev/null | sha256sum | cut -c1-16)

# alive: the lab was started (ready marker) and every daemon it recorded
# still runs; prints the first problem and returns 1 otherwise.  `ensure`
# reuses a live lab even when a service is slow to answer: under the
# test suite's load a busy glance-api (one worker, receiving an upload)
# can miss a 20 s probe, and restarting would kill the tests using it.
alive() {
  [ -f "$S/ready" ] || { echo "no lab started in $S (no ready marker)"; return 1; }
  [ "$(cat "$S/recipe" 2>/dev/null)" = "$RECIPE" ] ||
    { echo "it was started from another version of tests/lab"; return 1; }
  local f
  for f in "$S"/pids/* "$S"/ceph/pids/*; do
    [ -f "$f" ] || { echo "no recorded daemons"; return 1; }
    kill -0 "$(cat "$f")" 2>/dev/null || { echo "$(basename "$f") is not running"; return 1; }
  done
}

# health: alive, and every service answers; prints the first problem found
# and returns 1, or returns 0
health() {
  alive || return 1
  # shellcheck disable=SC1091
  ( . "$S/env" || exit 1
    printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","domain":{"id":"default"},"password":"%s"}}},"scope":{"project":{"name":"demo","domain":{"id":"default"}}}}}' "$LAB_PASSWORD" |
      curl -sf -m 20 -o /dev/null -H 'Content-Type: application/json' --data-binary @- "$LAB_AUTH_URL/auth/tokens"
  ) || { echo "keystone gives no token"; return 1; }
  local p
  for p in 8774 8776 8778 9292 9696; do
    curl -s -m 20 -o /dev/null "http://127.0.0.1:$p/" || { echo "nothing answers on 127.0.0.1:$p"; return 1; }
  done
  local h; h=$(timeout 20 ceph -c "$S/ceph/ceph.conf" --connect-timeout 15 health 2>&1) ||
    { echo "ceph does not answer: $h"; return 1; }
  case $h in HEALTH_OK*|HEALTH_WARN*) ;; *) echo "ceph: $h"; return 1;; esac
  return 0
}

exec 9>>"$S/.lock"
if ! flock -w "${FERRY_OSLAB_WAIT:-900}" 9; then say "timed out waiting for $S/.lock"; exit 1; fi
case $CMD in
status)
  if why=$(health); then echo healthy; exit 0; else echo "$why"; exit 3; fi ;;
stop)
  t0=$(date +%s)
  "$HERE/openstack-down.sh" "$S" >>"$S/ensure.log" 2>&1 9>&-
  say "stopped the lab in $S ($(( $(date +%s) - t0 ))s)"; exit 0 ;;
ensure)
  t0=$(date +%s)
  if why=$(alive); then
    if why=$(health); then say "reused the lab running in $S ($(( $(date +%s) - t0 ))s)"
    else say "reused the lab running in $S, busy: $why"; fi
    exit 0
  fi
  if [ "${FERRY_OSLAB_ONCE:-0}" = 1 ] && [ -f "$S/.ensure-failed" ]; then
    say "the lab in $S failed to start (not retried):"; tail -n 25 "$S/ensure.log" | sed 's/^/  /'; exit 1
  fi
  rm -f "$S/.ensure-failed"
  : >"$S/ensure.log"
  if ls "$S"/pids/* "$S"/ceph/pids/* >/dev/null 2>&1; then
    say "stopping a half-dead lab in $S: $why"
    "$HERE/openstack-down.sh" "$S" >>"$S/ensure.log" 2>&1 9>&-
  fi
  why=""; say "starting a lab in $S (log: $S/ensure.log)"
  rm -f "$S/recipe"
  if "$HERE/openstack-up.sh" "$S" >>"$S/ensure.log" 2>&1 9>&- && echo "$RECIPE" >"$S/recipe" &&
    why=$(health); then
    say "started the lab in $S ($(( $(date +%s) - t0 ))s)"; exit 0
  fi
  say "the lab did not start: ${why:-see the log}"; tail -n 25 "$S/ensure.log" | sed 's/^/  /'
  touch "$S/.ensure-failed"
  "$HERE/openstack-down.sh" "$S" >>"$S/ensure.log" 2>&1 9>&-
  exit 1 ;;
esac
