#!/bin/bash
# tests/guest/boot.sh IMG TIMEOUT ide|virtio [MAC] — boot a disk image under
# qemu (TCG) and wait for the marker of make-linux-bootable.sh's guest.
#
#   ide     the guest's original hardware, as on VMware: the disk on the
#           IDE/AHCI controller of a q35 machine, the NIC behind a PCIe root
#           port whose slot number is 192 - so the guest names it ens192
#           exactly as it did on VMware (native PCIe hotplug, not ACPI's, so
#           that the kernel registers the slot's number)
#   virtio  the converted guest, as on KVM/OpenStack: pc machine, the disk on
#           virtio-blk, the NIC on virtio-net in an ordinary slot (the guest
#           gives it another name; its old ens192 configuration must still
#           apply - that is ferry's job)
#
# The NIC is on qemu's user network with restrict=on (no way out to the
# real network; the guest's 10.0.2.15/24 is that network's default), MAC
# given or 52:54:00:12:34:56.  The disk is opened with snapshot=on: the
# image is never written.  The serial console goes to $BOOT_LOG (default a
# temporary file, kept and named on failure).
#
# Prints the marker line ("FERRY-BOOT-OK <iface> <ipv4>" or
# "FERRY-BOOT-NONET ...") and exits 0 when FERRY-BOOT-OK appeared; exits 1
# on timeout, on FERRY-BOOT-NONET, or as soon as the guest is seen to fail
# (initramfs gave up waiting for its root device, kernel panic), with the
# seconds taken and the console's last lines on stderr.  qemu is stopped by
# its PID either way.
set -uo pipefail
IMG=${1:?usage: boot.sh IMG TIMEOUT ide|virtio [MAC]}
TMO=${2:?usage: boot.sh IMG TIMEOUT ide|virtio [MAC]}
BUS=${3:?usage: boot.sh IMG TIMEOUT ide|virtio [MAC]}
MAC=${4:-52:54:00:12:34:56}
[ -r "$IMG" ] || { echo "boot.sh: cannot read '$IMG'" >&2; exit 2; }
fmt=$(qemu-img info -U --output=json "$IMG" |
  sed -n 's/^ *"format": "\([a-z0-9]*\)".*/\1/p' | head -1)
[ -n "$fmt" ] || { echo "boot.sh: '$IMG': unknown format" >&2; exit 2; }
net=(-netdev "user,id=n0,restrict=on")
# shellcheck disable=SC2054 # commas are inside qemu option values
case $BUS in
ide)
  hw=(-machine "q35,accel=tcg"
    -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off
    -drive "file=$IMG,format=$fmt,if=ide,snapshot=on"
    -device pcie-root-port,id=rp192,chassis=1,slot=192
    -device "virtio-net-pci,netdev=n0,mac=$MAC,bus=rp192")
  ;;
virtio)
  hw=(-machine "pc,accel=tcg"
    -drive "file=$IMG,format=$fmt,if=virtio,snapshot=on"
    -device "virtio-net-pci,netdev=n0,mac=$MAC")
  ;;
*)
  echo "boot.sh: bus must be ide or virtio, not '$BUS'" >&2
  exit 2
  ;;
esac
LOG=${BOOT_LOG:-$(mktemp "${TMPDIR:-/tmp}/ferry-boot.XXXXXX")}
: >"$LOG"
t0=$(date +%s)
qemu-system-x86_64 "${hw[@]}" "${net[@]}" -m 768 -smp 1 -display none \
  -serial "file:$LOG" -monitor none -no-reboot &
pid=$!
rc=1 why=timeout
while kill -0 $pid 2>/dev/null; do
  if grep -aq '^FERRY-BOOT-OK ' "$LOG"; then rc=0 why=marker; break; fi
  if grep -aq '^FERRY-BOOT-NONET' "$LOG"; then why="booted without network"; break; fi
  if grep -aqE 'Gave up waiting for|Kernel panic|\(initramfs\)' "$LOG"; then
    why="guest failed to boot"
    break
  fi
  [ $(($(date +%s) - t0)) -lt "$TMO" ] || break
  sleep 2
done
kill -0 $pid 2>/dev/null || [ "$why" != timeout ] || why="qemu exited"
el=$(($(date +%s) - t0))
kill $pid 2>/dev/null
wait $pid 2>/dev/null
grep -a -m1 -E '^FERRY-BOOT-(OK|NONET)' "$LOG" | tr -d '\r'
if [ $rc = 0 ]; then
  echo "boot.sh: marker after ${el}s (tcg, $BUS)" >&2
  [ -n "${BOOT_LOG:-}" ] || rm -f "$LOG"
else
  echo "boot.sh: no marker after ${el}s (tcg, $BUS): $why; console in $LOG, last lines:" >&2
  tail -5 "$LOG" | tr -d '\r' | sed 's/^/  /' >&2
fi
exit $rc
