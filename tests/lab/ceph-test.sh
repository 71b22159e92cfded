# shellcheck shell=bash
# tests/lab/ceph-test.sh — source it from a test that needs its own Ceph
# (after tests/lib.sh and `cd "$TMP"`): starts the single-node lab of
# ceph-start.sh in $TMP/ceph on a free port in 6800-6999 (other tests and
# clusters use other ranges), stops it when the test exits, and exports
# CEPH (the lab's directory) and CEPH_CONF.  A lab that cannot start fails
# the test file (never a skip): "1..1", "not ok 1 - ...", exit 1.
CEPH=$TMP/ceph
trap '"$TOP/tests/lab/ceph-stop.sh" "$CEPH" >/dev/null 2>&1; [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
ceph_port=
for _ in $(seq 50); do
  p=$((6800 + RANDOM % 200))
  if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then ceph_port=$p; break; fi
done
[ -n "$ceph_port" ] || { echo "1..1"; echo "not ok 1 - no free port in 6800-6999"; exit 1; }
if ! "$TOP/tests/lab/ceph-start.sh" "$CEPH" "$ceph_port" >"$TMP/ceph-start.out" 2>&1; then
  echo "1..1"; echo "not ok 1 - ceph lab starts"; sed 's/^/# /' "$TMP/ceph-start.out"; exit 1
fi
ok "ceph lab started on port $ceph_port" true
export CEPH CEPH_CONF=$CEPH/ceph.conf
