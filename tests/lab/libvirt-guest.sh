#!/bin/bash
# libvirt-guest.sh — the tiny counter guest of the libvirt lab (tests/lab/libvirt-lab.sh).
# The Debian kernel (/boot/vmlinuz-*, linux-image-amd64) + an initramfs whose /init is
# tests/lab/libvirt-guest/init.c (static; no busybox): it writes "COUNTER n uptime=SECS
# boot=BOOTID" once a second to ttyS0 and to its disk /dev/vda (sector n = that line,
# sector 0 = the latest).  Kernel options: ferry.dirty=MIB (dirty MIB MiB of RAM in a
# tight loop), ferry.nodisk=1 (no disk writes).
#   build                        build kernel+initramfs once into
#                                /var/tmp/ferry-guest-cache/lvguest-HASH/ (HASH: init.c,
#                                this script, kernel version); print that directory
#   disk-xml PATH                a <disk> element for the qcow2 PATH as vda (cache='none')
#   xml NAME [--dirty MIB] [--nodisk] [DISKXML...]
#                                a domain XML (type='qemu', 128 MiB (+MIB with --dirty:
#                                the kernel leaves ~70 of 128 free), 1 vcpu, machine pc,
#                                serial appended to /var/log/libvirt/qemu/NAME.serial as the
#                                host sees it, i.e. LVLAB_X_LOG/NAME.serial)
#   start DIR NAME A|B [--dirty MIB] [--nodisk]
#                                on the lab in DIR: a 16 MiB qcow2 disk LVLAB_X_IMAGES/NAME.qcow2,
#                                define + start NAME on host X, wait for its first COUNTER
#                                line; prints timings on stderr and "serial=... disk=..."
#   last FILE                    the last complete COUNTER line of a serial file
#   wait-count FILE OFFSET N [SECS]
#                                wait (default 60 s) until FILE has N complete COUNTER lines
#                                after byte OFFSET (e.g. its size before a migration) that
#                                count up by one; print the first and the last of them
#   check-disk IMAGE BOOT MIN_N  sectors 1..n-1 of the disk log hold COUNTER i with boot id
#                                BOOT, sector 0 holds n >= MIN_N; prints n (exit 1 on a gap)
# Needs root for build (mknod) and start (ip netns exec).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
SELF=$HERE/$(basename "$0")
SRC=$HERE/libvirt-guest/init.c
CACHE=${FERRY_GUEST_CACHE:-/var/tmp/ferry-guest-cache}
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"
T0=$(date +%s.%N)
el() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN{printf "%.1f", t1-t0}'; }
say() { echo "libvirt-guest: $* ($(el "$T0")s)" >&2; }
die() { echo "libvirt-guest: error: $*" >&2; exit 1; }
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$SELF" >&2; exit 2; }

kernel() {
  local k
  k=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1) || true
  [ -n "$k" ] || die "no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
  echo "$k"
}

# build: prints the cache directory (vmlinuz, initrd.img, kernel-version)
build() {
  local k kver mods hash G W m f
  k=$(kernel); kver=${k#/boot/vmlinuz-}; mods=/lib/modules/$kver
  [ -d "$mods" ] || die "no '$mods' for kernel '$kver'"
  [ -r "$k" ] || die "cannot read '$k'"
  hash=$( { sha256sum "$SRC" "$SELF" | awk '{print $1}'; echo "$kver"; } | sha256sum | cut -c1-16)
  G=$CACHE/lvguest-$hash
  if [ -s "$G/initrd.img" ] && [ -s "$G/vmlinuz" ]; then echo "$G"; return 0; fi
  for c in gcc cpio gzip; do command -v $c >/dev/null || die "missing '$c' (scripts/install-deps)"; done
  mkdir -p "$CACHE"
  W=$(mktemp -d "$CACHE/.lvguest-build.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$W'" EXIT
  mkdir -p "$W"/root/{dev,proc,sys,mods}
  gcc -static -O2 -Wall -Wextra -Werror -o "$W/root/init" "$SRC" || die "cannot compile '$SRC' (needs libc.a: libc6-dev)"
  for m in $MODS; do
    f=$(find "$mods/kernel" -name "$m.ko*" | head -n 1)
    [ -n "$f" ] || die "module '$m' not found under '$mods'"
    case $f in
      *.ko) cp "$f" "$W/root/mods/$m.ko";;
      *.ko.xz) xz -dc "$f" >"$W/root/mods/$m.ko";;
      *.ko.zst) zstd -qdc "$f" >"$W/root/mods/$m.ko";;
      *.ko.gz) gzip -dc "$f" >"$W/root/mods/$m.ko";;
      *) die "unknown module format '$f'";;
    esac
  done
  mknod "$W/root/dev/console" c 5 1
  mknod "$W/root/dev/null" c 1 3
  (cd "$W/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$W/initrd.img"
  cp "$k" "$W/vmlinuz"
  echo "$kver" >"$W/kernel-version"
  rm -rf "$W/root"
  chmod 755 "$W"
  # another build may have won the race: keep its result
  mv -T "$W" "$G" 2>/dev/null || rm -rf "$W"
  [ -s "$G/initrd.img" ] || die "build of '$G' failed"
  say "built guest (kernel $kver) into $G"
  echo "$G"
}

disk_xml() {
  cat <<EOX
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='$1'/>
      <target dev='vda' bus='virtio'/>
    </disk>
EOX
}

# xml NAME [--dirty MIB] [--nodisk] [DISKXML...]
xml() {
  local name=${1:?} extra="" mem=128 G d
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --dirty) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--dirty needs a number of MiB"; extra="$extra ferry.dirty=$2"; mem=$((128 + $2)); shift 2;;
      --nodisk) extra="$extra ferry.nodisk=1"; shift;;
      *) break;;
    esac
  done
  G=$(build)
  cat <<EOX
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$G/vmlinuz</kernel>
    <initrd>$G/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=-1$extra</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
EOX
  for d in "$@"; do printf '%s\n' "$d"; done
  cat <<EOX
    <serial type='file'>
      <source path='/var/log/libvirt/qemu/$name.serial' append='on'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOX
}

# last FILE: the last complete COUNTER line
last() { lines "$1" 0 | tail -n 1; }

# lines FILE OFFSET: the complete COUNTER lines from byte OFFSET
lines() {
  tail -c +$(($2 + 1)) "$1" 2>/dev/null | tr -d '\r' |
    grep -E '^COUNTER [0-9]+ uptime=[0-9.]+ boot=[0-9a-f-]{36}$' || true
}

# wait-count FILE OFFSET N [SECS]
wait_count() {
  local f=$1 off=$2 want=$3 secs=${4:-60} i l
  [[ $off =~ ^[0-9]+$ && $want =~ ^[0-9]+$ && $secs =~ ^[0-9]+$ ]] || die "wait-count: OFFSET, N and SECS are numbers"
  for i in $(seq 1 $((secs * 10))); do
    [ "$(lines "$f" "$off" | wc -l)" -ge "$want" ] && break
    [ "$i" = $((secs * 10)) ] && die "fewer than $want COUNTER lines in '$f' after byte $off within $secs s"
    sleep 0.1
  done
  l=$(lines "$f" "$off")
  awk 'NR > 1 && $2 != p + 1 {exit 1} {p = $2}' <<<"$l" || die "COUNTER lines in '$f' after byte $off do not count up by one"
  head -n 1 <<<"$l"
  tail -n 1 <<<"$l"
}

# check-disk IMAGE BOOT MIN_N (IMAGE: qcow2, or raw when named *.raw): each sector is a 511-character line + '\n', so the raw
# image read as text has sector i on line i+1
check_disk() {
  local img=$1 boot=$2 min=$3 raw n bad
  raw=$(mktemp "${TMPDIR:-/tmp}/lvguest-disk.XXXXXX")
  local fmt=qcow2
  case $img in *.raw) fmt=raw;; esac
  qemu-img convert -U -f $fmt -O raw "$img" "$raw" || { rm -f "$raw"; die "cannot read '$img'"; }
  n=$(head -c 512 "$raw" | awk '$1 == "COUNTER" {print $2; exit}')
  if [ -z "$n" ] || [ "$n" -lt "$min" ]; then
    rm -f "$raw"; die "disk '$img': latest counter '${n}' < $min"
  fi
  bad=$(head -c $((n * 512)) "$raw" | tr -d '\0' | awk -v boot="$boot" -v n="$n" '
    NR == 1 { next }
    { i = NR - 1; if ($1 != "COUNTER" || $2 != i || $4 != "boot=" boot) { print i; bad = 1; exit } }
    END { if (!bad && NR < n) print NR }')
  rm -f "$raw"
  [ -z "$bad" ] || die "disk '$img': log sector $bad is missing or wrong (a gap before $n)"
  echo "$n"
}

# start DIR NAME X [--dirty MIB] [--nodisk]
start() {
  local S name X ns uri img log xf t i disk=1 args=()
  S=$(cd "${1:?}" && pwd -P); name=${2:?}; X=${3:?}; shift 3
  case $X in A|B) ;; *) die "host must be A or B, not '$X'";; esac
  [ -f "$S/env" ] || die "no lab in '$S' (tests/lab/libvirt-lab.sh up '$S')"
  # shellcheck disable=SC1091
  . "$S/env"
  ns=$(eval echo "\$LVLAB_NS_$X"); uri=$(eval echo "\$LVLAB_${X}_URI")
  img=$(eval echo "\$LVLAB_${X}_IMAGES")/$name.qcow2; log=$(eval echo "\$LVLAB_${X}_LOG")
  for a in "$@"; do [ "$a" = --nodisk ] && disk=0; done
  args=("$@")
  # the serial file is appended to (it must survive migrations back): a new guest has none
  rm -f "$LVLAB_A_LOG/$name.serial" "$LVLAB_B_LOG/$name.serial"
  xf=$S/xml/$name.xml
  mkdir -p "$S/xml"
  if [ $disk = 1 ]; then
    qemu-img create -q -f qcow2 -o preallocation=metadata "$img" 16M
    xml "$name" "${args[@]}" "$(disk_xml "$img")" >"$xf"
  else
    xml "$name" "${args[@]}" >"$xf"
  fi
  t=$(date +%s.%N)
  ip netns exec "$ns" virsh -q -c "$uri" define "$xf" >/dev/null
  ip netns exec "$ns" virsh -q -c "$uri" start "$name" >/dev/null
  say "$name defined and started on $X in $(el "$t") s"
  for i in $(seq 1 900); do
    grep -q '^COUNTER 1 ' "$log/$name.serial" 2>/dev/null && break
    [ "$(ip netns exec "$ns" virsh -q -c "$uri" domstate "$name" 2>/dev/null)" = running ] ||
      die "$name is not running (see $log/$name.log)"
    [ "$i" = 900 ] && die "no COUNTER line from $name after 90 s (see $log/$name.serial)"
    sleep 0.1
  done
  say "$name: first COUNTER $(el "$t") s after define"
  echo "serial=$log/$name.serial disk=$([ $disk = 1 ] && echo "$img" || echo none)"
}

CMD=${1:-}
[ $# -gt 0 ] && shift
case $CMD in
  build) [ $# = 0 ] || usage; build;;
  disk-xml) [ $# = 1 ] || usage; disk_xml "$1";;
  xml) [ $# -ge 1 ] || usage; xml "$@";;
  start) [ $# -ge 3 ] || usage; start "$@";;
  last) [ $# = 1 ] || usage; last "$1";;
  wait-count) [ $# -ge 3 ] && [ $# -le 4 ] || usage; wait_count "$@";;
  check-disk) [ $# = 3 ] || usage; check_disk "$@";;
  *) usage;;
esac
