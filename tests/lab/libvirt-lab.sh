#!/bin/bash
# libvirt-lab.sh {up|down|status} [DIR] — two libvirt "hosts" on this machine for
# ferry's KVM->KVM migration tests (cold and live).  Root only.
#   up      netns ferA (10.78.0.1) and ferB (10.78.0.2) joined by the veth pair
#           ferlv-a/ferlv-b; in each a `libvirtd --listen` (plain TCP, no auth) in
#           its own mount+UTS namespace with a private /run, /etc/libvirt,
#           /var/{lib,cache,log}/libvirt, /etc/hosts and a /dev without kvm (guests
#           run under TCG, type='qemu').  Writes DIR/env (source it) and prints it.
#           Refuses over a live lab; a failed `up` undoes itself.
#   down    destroys+undefines every domain, stops both libvirtd (recorded pids),
#           then whatever else still runs in ferA/ferB, deletes the namespaces and,
#           last, the blackhole route.  Keeps DIR's logs.  Safe to run twice.
#   status  exit 0 and "healthy" when both libvirtd answer, else why not + exit 3.
# DIR (default ${TMPDIR:-/tmp}/ferry-lvlab) must be on a filesystem with O_DIRECT
# (ext4 is; tmpfs is not): guest disks use cache='none'.
# Images: DIR/A/images, DIR/B/images and DIR/shared are NOT bind-mounted anywhere,
# so ferry (root mount namespace, `ip netns exec ferA` for the network only) and
# each libvirtd see a disk under the same absolute path.  Everything else of a
# host is private: /var/lib/libvirt = DIR/X/lib, /var/log/libvirt = DIR/X/log
# (qemu logs and serial files: DIR/X/log/qemu = LVLAB_X_LOG).
# Network safety: `blackhole 10.78.0.0/24` is in the root netns before anything
# else exists, so nothing outside ferA/ferB can reach the lab's addresses; every
# client runs inside a namespace:
#   ip netns exec ferA virsh -c qemu+tcp://10.78.0.1/system list
# Env: LVLAB_ALL_EMULATORS=1  keep every qemu-system-* visible to libvirtd
#      (default: only x86_64, so host-wide capability calls probe one binary).
# Internal: `libvirt-lab.sh _host HOSTDIR PIDFILE` runs inside the host's
# namespaces, builds its private filesystem view and execs libvirtd.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
NET=10.78.0
SUBNET=$NET.0/24
NS_A=ferA NS_B=ferB IP_A=$NET.1 IP_B=$NET.2 VETH_A=ferlv-a VETH_B=ferlv-b
T0=$(date +%s.%N)
say() { awk -v t0="$T0" -v t1="$(date +%s.%N)" -v m="$*" 'BEGIN{printf "libvirt-lab: %s (%.1fs)\n", m, t1-t0}' >&2; }
die() { echo "libvirt-lab: error: $*" >&2; exit 1; }
usage() { echo "usage: libvirt-lab.sh {up|down|status} [DIR]" >&2; exit 2; }
uri() { echo "qemu+tcp://$1/system"; }
# (no `cmd | grep -q` here: under pipefail grep's early exit can SIGPIPE cmd
# and turn a match into a failure)
hasns() { ip netns list | awk -v n="$1" '$1 == n {f = 1} END {exit !f}'; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
hasroute() { [ -n "$(ip route show exact "$SUBNET" type blackhole)" ]; }

# host_ns HOSTDIR PIDFILE: runs under `ip netns exec NS unshare -mu --propagation
# private`: the host's private /run, /etc/libvirt, /var/*/libvirt, /etc/hosts,
# hostname and /dev without kvm (bind-mounting /dev/null over /dev/kvm instead
# makes libvirt re-probe qemu on every call), then exec libvirtd.
host_ns() {
  local H=$1 PIDF=$2 n b
  hostname "$(cat "$H/hostname")"
  mount -t tmpfs -o mode=755 ferlv-run /run
  mkdir -p /run/libvirt /run/lock
  mount --bind "$H/etc" /etc/libvirt
  mount --bind "$H/lib" /var/lib/libvirt
  mount --bind "$H/cache" /var/cache/libvirt
  mount --bind "$H/log" /var/log/libvirt
  mount --bind "$H/hosts" /etc/hosts
  mkdir /run/olddev
  mount --rbind /dev /run/olddev
  mount -t tmpfs -o mode=755,nosuid ferlv-dev /dev
  for n in null zero full random urandom tty ptmx userfaultfd; do
    [ -e "/run/olddev/$n" ] || continue
    touch "/dev/$n"; mount --bind "/run/olddev/$n" "/dev/$n"
  done
  mkdir /dev/pts /dev/shm
  mount --rbind /run/olddev/pts /dev/pts
  mount -t tmpfs -o mode=1777,nosuid,nodev ferlv-shm /dev/shm
  ln -s /proc/self/fd /dev/fd
  ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
  umount -l /run/olddev; rmdir /run/olddev
  # host-wide calls (virsh capabilities, virConnectGetVersion) probe every
  # qemu-system-*, ~3 s each under TCG: hide all but x86_64
  if [ "${LVLAB_ALL_EMULATORS:-0}" != 1 ]; then
    : >/run/ferlv-noexec; chmod 644 /run/ferlv-noexec
    for b in /usr/bin/qemu-system-*; do
      [ "$b" = /usr/bin/qemu-system-x86_64 ] || mount --bind /run/ferlv-noexec "$b"
    done
  fi
  echo $$ >"$PIDF"
  exec libvirtd --listen -p /run/libvirt/libvirtd.pid
}

# stop_pids PID...: TERM, up to 10 s, then KILL
stop_pids() {
  local p i left
  [ $# -gt 0 ] || return 0
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 1 100); do
    left=
    for p in "$@"; do alive "$p" && left=1; done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  for p in "$@"; do
    alive "$p" && { say "pid $p ignored TERM, sending KILL"; kill -KILL "$p" 2>/dev/null || true; }
  done
  sleep 0.2
}

# V X ARGS...: virsh on host X, from inside its namespace
V() {
  local ns=$NS_A ip=$IP_A
  [ "$1" = B ] && ns=$NS_B ip=$IP_B
  shift
  ip netns exec "$ns" timeout 20 virsh -q -c "$(uri $ip)" "$@"
}

lab_down() {
  local S=$1 X pf pid d f p ns pids
  for X in A B; do
    pf=$S/pids/libvirtd-$X; pid=$(cat "$pf" 2>/dev/null || true)
    ns=$NS_A; [ $X = B ] && ns=$NS_B
    if hasns "$ns" && alive "$pid"; then
      for d in $(V $X list --all --name 2>/dev/null || true); do
        V $X destroy "$d" >/dev/null 2>&1 || true
        V $X undefine --nvram "$d" >/dev/null 2>&1 || V $X undefine "$d" >/dev/null 2>&1 || true
        say "host $X: removed domain $d"
      done
    fi
    if alive "$pid"; then
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ]; then
        stop_pids "$pid"; say "host $X: libvirtd $pid stopped"
      else
        say "host $X: pid $pid is not libvirtd any more; not touching it"
      fi
    fi
    rm -f "$pf"
  done
  # helpers a test recorded in DIR/pids/NAME (qemu-nbd, ...)
  for f in "$S"/pids/*; do
    [ -f "$f" ] || continue
    p=$(cat "$f"); alive "$p" && { stop_pids "$p"; say "stopped $(basename "$f") pid $p"; }
    rm -f "$f"
  done
  # whatever still runs in our namespaces was started there by the lab or its tests
  for ns in $NS_A $NS_B; do
    hasns "$ns" || continue
    pids=$(ip netns pids "$ns" || true)
    if [ -n "$pids" ]; then
      say "netns $ns: stopping leftover pids" $pids
      # shellcheck disable=SC2086
      stop_pids $pids
    fi
    ip netns del "$ns"; say "netns $ns deleted"
  done
  if hasroute; then
    ip route del blackhole "$SUBNET"; say "blackhole route $SUBNET removed"
  fi
  rm -f "$S/env" "$S/ready"
  say "down (logs kept under $S/A/log and $S/B/log)"
}

# mkhost S X IP UUID: the host's private state, copied from this machine's
mkhost() {
  local H=$1/$2
  mkdir -p "$H/cache" "$H/log/qemu" "$H/images" "$H/lib"
  cp -a /etc/libvirt "$H/etc"
  cp -a /var/lib/libvirt/. "$H/lib/"
  rm -f "$H"/etc/qemu/networks/autostart/* "$H"/etc/storage/autostart/* 2>/dev/null || true
  cat >>"$H/etc/libvirtd.conf" <<EOT

# --- ferry libvirt lab ---
listen_tls = 0
listen_tcp = 1
listen_addr = "$3"
auth_tcp = "none"
host_uuid = "$4"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOT
  cat >>"$H/etc/qemu.conf" <<EOT

# --- ferry libvirt lab ---
user = "root"
group = "root"
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
migration_host = "$3"
migration_address = "$3"
EOT
  printf '127.0.0.1 localhost\n%s %s\n%s %s\n' $IP_A $NS_A $IP_B $NS_B >"$H/hosts"
  if [ "$2" = A ]; then echo $NS_A; else echo $NS_B; fi >"$H/hostname"
}

# lab_up: S is global (the EXIT trap needs it)
lab_up() {
  local X ns ip i f
  for c in ip unshare libvirtd virsh qemu-system-x86_64 qemu-img timeout; do
    command -v $c >/dev/null || die "missing '$c' (scripts/install-deps: libvirt-daemon-system qemu-system-x86 qemu-utils iproute2)"
  done
  for ns in $NS_A $NS_B; do
    ! hasns $ns || die "netns '$ns' exists: a lab is running (libvirt-lab.sh down DIR first)"
  done
  ! hasroute || die "blackhole route '$SUBNET' exists: a lab is running (libvirt-lab.sh down DIR first)"
  [ -z "$(ip route show | awk -v p="$NET." '{d = $1 ~ /^[0-9]/ ? $1 : $2} index(d, p) == 1')" ] ||
    die "the root namespace already routes into '$SUBNET'; refusing"
  [ -z "$(ip -o link show | awk -v a="$VETH_A" -v b="$VETH_B" '{n = $2; sub(/[@:].*/, "", n)} n == a || n == b')" ] ||
    die "link '$VETH_A' or '$VETH_B' exists in the root namespace; refusing"
  if [ -d "$S/pids" ]; then
    for f in "$S"/pids/*; do
      [ -f "$f" ] && alive "$(cat "$f")" && die "'$f': process $(cat "$f") still runs (libvirt-lab.sh down '$S' first)"
    done
  fi
  if [ -e "$S" ] && [ -n "$(ls -A "$S")" ] && [ ! -f "$S/.ferry-lvlab" ]; then
    die "'$S' is not empty and not a libvirt lab directory; refusing to wipe it"
  fi
  mkdir -p "$S"
  S=$(cd "$S" && pwd -P)
  # from here on a failure undoes what was made (down only touches our names, pids, route)
  # shellcheck disable=SC2154
  trap 'rc=$?; if [ $rc != 0 ]; then echo "libvirt-lab: up failed; undoing" >&2; lab_down "$S" || true; fi' EXIT
  trap 'exit 130' INT TERM HUP
  find "$S" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  touch "$S/.ferry-lvlab"
  mkdir -p "$S/pids" "$S/shared" "$S/xml"

  # blackhole first: nothing for the lab's subnet can leave via the root namespace
  ip route add blackhole $SUBNET
  ip netns add $NS_A; ip netns add $NS_B
  ip link add $VETH_A netns $NS_A type veth peer name $VETH_B netns $NS_B
  ip -n $NS_A addr add $IP_A/24 dev $VETH_A
  ip -n $NS_B addr add $IP_B/24 dev $VETH_B
  for ns in $NS_A $NS_B; do ip -n $ns link set lo up; done
  ip -n $NS_A link set $VETH_A up; ip -n $NS_B link set $VETH_B up
  say "netns $NS_A=$IP_A $NS_B=$IP_B, blackhole $SUBNET in the root netns"

  mkhost "$S" A $IP_A 4c564c41-6665-4000-8000-00000000000a
  mkhost "$S" B $IP_B 4c564c41-6665-4000-8000-00000000000b
  # ip netns exec (network) -> unshare (mount+UTS) -> _host (mounts) -> exec libvirtd;
  # _host records its own pid, which is libvirtd's after the exec
  for X in A B; do
    ns=$NS_A; [ $X = B ] && ns=$NS_B
    LVLAB_ALL_EMULATORS=${LVLAB_ALL_EMULATORS:-0} setsid ip netns exec $ns \
      unshare -mu --propagation private "$HERE/libvirt-lab.sh" _host "$S/$X" "$S/pids/libvirtd-$X" \
      </dev/null >"$S/$X/log/libvirtd.stdout" 2>&1 &
  done
  for X in A B; do
    ip=$IP_A; [ $X = B ] && ip=$IP_B
    for i in $(seq 1 300); do
      if [ -s "$S/pids/libvirtd-$X" ] && ! alive "$(cat "$S/pids/libvirtd-$X")"; then
        sed 's/^/  /' "$S/$X/log/libvirtd.stdout" >&2
        die "libvirtd $X exited (see $S/$X/log/)"
      fi
      V $X list >/dev/null 2>&1 && break
      [ "$i" = 300 ] && die "libvirtd $X does not answer on $(uri $ip) after 30 s (see $S/$X/log/)"
      sleep 0.1
    done
    say "host $X: libvirtd pid $(cat "$S/pids/libvirtd-$X") answers on $(uri $ip)"
  done
  cat >"$S/env" <<EOT
LVLAB_DIR=$S
LVLAB_NS_A=$NS_A
LVLAB_NS_B=$NS_B
LVLAB_IP_A=$IP_A
LVLAB_IP_B=$IP_B
LVLAB_A_URI=$(uri $IP_A)
LVLAB_B_URI=$(uri $IP_B)
LVLAB_SUBNET=$SUBNET
LVLAB_A_IMAGES=$S/A/images
LVLAB_B_IMAGES=$S/B/images
LVLAB_SHARED=$S/shared
LVLAB_A_LOG=$S/A/log/qemu
LVLAB_B_LOG=$S/B/log/qemu
LVLAB_A_HOST=$S/A
LVLAB_B_HOST=$S/B
EOT
  touch "$S/ready"
  cat "$S/env"
  say "up; clients: ip netns exec $NS_A virsh -c $(uri $IP_A) ...; stop: libvirt-lab.sh down $S"
}

lab_status() {
  local S=$1 X pid
  [ -f "$S/ready" ] || { echo "no lab in '$S' (no ready marker)"; exit 3; }
  for X in A B; do
    pid=$(cat "$S/pids/libvirtd-$X" 2>/dev/null || true)
    alive "$pid" || { echo "libvirtd $X is not running (pid '${pid}')"; exit 3; }
    V $X list >/dev/null 2>&1 || { echo "libvirtd $X does not answer"; exit 3; }
  done
  echo healthy
}

CMD=${1:-}
[ "$CMD" = _host ] && { host_ns "${2:?}" "${3:?}"; }
case $CMD in up|down|status) ;; *) usage;; esac
[ $# -le 2 ] || usage
[ "$(id -u)" = 0 ] || die "must run as root"
S=${2:-${TMPDIR:-/tmp}/ferry-lvlab}
case $CMD in
  up) lab_up;;
  down) [ -d "$S" ] && S=$(cd "$S" && pwd -P); lab_down "$S";;
  status) [ -d "$S" ] || { echo "no lab directory '$S'"; exit 3; }; S=$(cd "$S" && pwd -P); lab_status "$S";;
esac
