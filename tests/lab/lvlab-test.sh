# tests/lab/lvlab-test.sh — sourced by the libvirt lab's ferry tests
# (tests/t/9[1-9]-libvirt-*.t) after tests/lib.sh: takes the machine-wide
# lab lock, brings the two-host lab up in $TMP/lvlab (tests/lab/libvirt-lab.sh)
# and takes it down on exit, also when a test fails or is interrupted.
# Provides:
#   V A|B ARGS...        virsh on host A or B, inside its network namespace
#   FA ARGS...           ferry inside ferA (clients never run in the root ns)
#   ser A|B NAME         the serial log of domain NAME on that host
#   lines FILE OFF       complete COUNTER lines of FILE from byte OFF
#   wait_counter FILE OFF N   until N COUNTER lines after OFF (60 s)
#   num LINE / bootid LINE    fields of a COUNTER line
#   size FILE            bytes (0 if absent)
#   el T0                seconds since T0 (date +%s.%N)
# and GUEST (tests/lab/libvirt-guest.sh), LAB, D (the lab dir), LVLAB_* (its env).
[ "$(id -u)" = 0 ] || skip_all "needs root (network and mount namespaces)"
for c in libvirtd virsh qemu-system-x86_64 qemu-img gcc; do
  command -v $c >/dev/null || skip_all "no '$c' (scripts/install-deps)"
done
exec 9>/run/lock/ferry-lvlab.lock
flock -w 900 9 || { echo "not ok 1 - another libvirt lab test holds /run/lock/ferry-lvlab.lock for 900 s"; exit 1; }
LAB=$TOP/tests/lab/libvirt-lab.sh
GUEST=$TOP/tests/lab/libvirt-guest.sh
D=$TMP/lvlab
trap 'if [ -f "$D/.ferry-lvlab" ]; then "$LAB" down "$D" >"$TMP/down-on-exit.log" 2>&1 || cat "$TMP/down-on-exit.log" >&2; fi
      [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
if ! "$LAB" up "$D" >"$TMP/up.log" 2>&1; then
  echo "not ok 1 - libvirt lab starts"; sed 's/^/# /' "$TMP/up.log" >&2; exit 1
fi
# shellcheck disable=SC1091
. "$D/env"
el() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN{printf "%.1f", t1-t0}'; }
V() { local X=$1 ns uri; shift; ns=$(eval echo "\$LVLAB_NS_$X"); uri=$(eval echo "\$LVLAB_${X}_URI")
  ip netns exec "$ns" timeout 120 virsh -q -c "$uri" "$@"; }
FA() { ip netns exec "$LVLAB_NS_A" "$FERRY" "$@"; }
ser() { eval echo "\$LVLAB_${1}_LOG/$2.serial"; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
lines() { tail -c +$(($2 + 1)) "$1" 2>/dev/null | tr -d '\r' |
  grep -E '^COUNTER [0-9]+ uptime=[0-9.]+ boot=[0-9a-f-]{36}$' || true; }
wait_counter() {
  for _ in $(seq 1 600); do
    [ "$(lines "$1" "$2" | wc -l)" -ge "$3" ] && return 0
    sleep 0.1
  done
  echo "fewer than $3 COUNTER lines in '$1' after byte $2:"; tail -5 "$1"; return 1
}
num() { awk '{print $2}' <<<"$1"; }
bootid() { sed -n 's/.*boot=\([^ ]*\).*/\1/p' <<<"$1"; }
