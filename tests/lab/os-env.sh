# tests/lab/os-env.sh — source it from an OpenStack test (tests/t/7*-os-*.t),
# after tests/lib.sh.  Ensures the lab runs in $FERRY_OSLAB (default
# ${TMPDIR:-/tmp}/ferry-oslab; `make check` starts it in the background and
# this waits for it on the lab's lock) and sources its env (OS_CLIENT_CONFIG_FILE,
# CEPH_CONF, LAB_*).  A lab that cannot start fails the test file (never a
# skip): "1..1", "not ok 1 - openstack lab starts", the log's tail, exit 1.
# A test run alone leaves the lab running: openstack-lab.sh stop DIR.
FERRY_OSLAB=${FERRY_OSLAB:-${TMPDIR:-/tmp}/ferry-oslab}
OSLAB_BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! oslab_out=$("$OSLAB_BIN/openstack-lab.sh" ensure "$FERRY_OSLAB" 2>&1) ||
   ! . "$FERRY_OSLAB/env"; then
  echo "1..1"
  echo "not ok 1 - openstack lab starts"
  { printf '%s\n' "$oslab_out"; echo "--- tail of $FERRY_OSLAB/ensure.log:"
    tail -n 30 "$FERRY_OSLAB/ensure.log" 2>/dev/null; } | sed 's/^/# /'
  exit 1
fi
unset oslab_out
