#!/bin/bash
# ceph-start.sh DIR PORT — a throwaway single-node Ceph for ferry's tests:
# one mon (msgr v1 on 127.0.0.1:PORT, or FERRY_CEPH_ADDR), one memstore OSD (data in RAM), one
# mgr, pool 'rbd' (size 1, application rbd), cephx with a client.admin key.
# Everything lives under DIR (nothing in /etc or /var).  Writes DIR/ceph.conf
# (it names DIR/keyring) and DIR/pids/*; stop with ceph-stop.sh DIR.
# Env: FERRY_CEPH_ADDR       the address every daemon binds (default
#                            127.0.0.1; a test network namespace's own
#                            address when clients run in other namespaces)
#      FERRY_CEPH_OSD_BYTES  OSD capacity (default 4 GiB).
#      FERRY_CEPH_STORE      bluestore (default: on a sparse file DIR/osd0.block)
#                            or memstore (data in RAM; its space accounting
#                            can underflow under discard/write-zeroes loads
#                            and then block every write: "failsafe engaged")
set -euo pipefail
D=${1:?usage: ceph-start.sh DIR PORT}; PORT=${2:?usage: ceph-start.sh DIR PORT}
BYTES=${FERRY_CEPH_OSD_BYTES:-4294967296}
STORE=${FERRY_CEPH_STORE:-bluestore}
ADDR=${FERRY_CEPH_ADDR:-127.0.0.1}
die() { echo "ceph-start: error: $*" >&2; tail -n 5 "$D"/log/*.log 2>/dev/null >&2; exit 1; }
for t in ceph-mon ceph-osd ceph-mgr ceph ceph-authtool monmaptool rados; do
  command -v $t >/dev/null || die "'$t' not found (install ceph-mon ceph-osd ceph-mgr ceph-common)"
done
mkdir -p "$D"; D=$(cd "$D" && pwd -P)
if [ -n "$(ls -A "$D")" ]; then
  [ -f "$D/.ferry-ceph" ] || die "$D is not empty and not a ferry ceph dir"
  for f in "$D"/pids/*; do
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && die "a cluster still runs in $D"
  done
  rm -rf "${D:?}"/* "$D/.ferry-ceph"
fi
[ ${#D} -le 80 ] || die "DIR too long (admin sockets need < 108 chars)"
case $D in *:*|*' '*) die "DIR must not contain ':' or spaces";; esac
touch "$D/.ferry-ceph"; mkdir -p "$D"/{mon,osd0,mgr,run,log,crash,pids}
FSID=$(cat /proc/sys/kernel/random/uuid); OSD_UUID=$(cat /proc/sys/kernel/random/uuid)

cat >"$D/ceph.conf" <<EOF
[global]
fsid = $FSID
mon host = v1:$ADDR:$PORT
mon initial members = a
public addr = $ADDR
cluster addr = $ADDR
ms bind msgr2 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
mon cluster log file = $D/log/cluster.log
crash dir = $D/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.01
paxos min wait = 0.01
mon osd auto mark new in = true
mgr initial modules =
[mon]
mon data = $D/mon
[osd]
osd data = $D/osd0
keyring = $D/osd0/keyring
osd objectstore = $STORE
memstore device bytes = $BYTES
bluestore block path = $D/osd0.block
bluestore block size = $BYTES
bluestore block create = true
bluestore fsck on mkfs = false
bluestore fsck on mount = false
osd memory target = 939524096
[mgr]
mgr data = $D/mgr
keyring = $D/mgr/keyring
[client]
keyring = $D/keyring
EOF
C=(-c "$D/ceph.conf")

# One mkfs keyring holds every entity, so the mon knows them all at once.
K=$D/mon-mkfs.keyring
at() { ceph-authtool "$@" >/dev/null; }
at "$K" -C -g -n mon. --cap mon 'allow *'
at "$K" -g -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
at "$K" -g -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd'
at "$K" -g -n mgr.x --cap mon 'allow profile mgr' --cap osd 'allow *'
for e in client.admin:"$D/keyring" osd.0:"$D/osd0/keyring" mgr.x:"$D/mgr/keyring"; do
  n=${e%%:*}; at "${e#*:}" -C -n "$n" -a "$(ceph-authtool "$K" -n "$n" -p)"
done
chmod 600 "$D/keyring" "$K"
monmaptool --create --fsid "$FSID" --addv a "[v1:$ADDR:$PORT]" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$K" >"$D/log/mon-mkfs.out" 2>&1 ||
  die "ceph-mon --mkfs failed: $(cat "$D/log/mon-mkfs.out")"
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$OSD_UUID" --no-mon-config \
  >"$D/log/osd-mkfs.out" 2>&1 || die "ceph-osd --mkfs failed: $(cat "$D/log/osd-mkfs.out")"

# Foreground daemons in their own sessions: the recorded PID is the daemon.
spawn() {
  local n=$1; shift
  setsid "$@" -f >"$D/log/$n.out" 2>&1 </dev/null & echo $! >"$D/pids/$n"
}
spawn mon ceph-mon "${C[@]}" -i a
ceph "${C[@]}" --connect-timeout 20 >"$D/log/setup.out" 2>&1 <<EOF || die "setup failed: $(cat "$D/log/setup.out")"
osd new $OSD_UUID 0
osd pool create rbd 8 8
osd pool application enable rbd rbd
EOF
! grep -q '^Error' "$D/log/setup.out" || die "setup failed: $(cat "$D/log/setup.out")"
spawn mgr ceph-mgr "${C[@]}" -i x
spawn osd ceph-osd "${C[@]}" -i 0
# Ready once a write to the pool completes (a short objecter tick makes the
# client notice the OSD coming up at once).
timeout 60 rados "${C[@]}" --objecter-tick-interval 0.05 -p rbd put .ferry-ready /dev/null ||
  die "pool rbd not writable after 60 s"
echo "CEPH_CONF=$D/ceph.conf"
