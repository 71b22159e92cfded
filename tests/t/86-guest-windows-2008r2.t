#!/bin/bash
# tests/t/86-guest-windows-2008r2.t - VirtIO injection into a phony Windows
# Server 2008 R2 (NT 6.1, no SYSTEM\DriverDatabase) with real libguestfs:
# check lists the changes, apply makes them and a recheck in the same
# appliance finds none; then the CriticalDeviceDatabase path of virt-v2v
# 2.2 (../shared/lab/guests/parity.md §1-§2, encoded here) is read back
# with hivexregedit, type and data, and the 2k8r2 driver files with
# guestfish.  3 appliance launches.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/windows-lib.sh"
Y='HKEY_LOCAL_MACHINE\SYSTEM'

win_setup 2008r2 w08 <<EOF || { echo "Bail out! cannot build the Windows 2008 R2 image"; exit 1; }
    customize:
      virtio: true
      virtio_drivers: $TMP/virtio
EOF
PLAN=$TMP/w08/plan.yaml

out=$("$GUEST_OP" "$PLAN" w08 win-inject 2>&1); rc=$?
is "check exits 0" "$rc" 0
n=$(sed -n 's/^changes: //p' <<<"$out")
ok "check lists the CriticalDeviceDatabase, not DriverDatabase" \
  bash -c 'grep -q "change: registry SYSTEM\\\\ControlSet001\\\\Control\\\\CriticalDeviceDatabase\\\\PCI#VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00: create" <<<"$1" &&
           ! grep -q DriverDatabase <<<"$1"' _ "$out"

out=$("$GUEST_OP" "$PLAN" w08 win-inject --apply 2>&1); rc=$?
is "apply exits 0" "$rc" 0
is "apply makes what check listed" "$(grep -c '^applied: ' <<<"$out")" "$n"
is "recheck after apply: nothing left" "$(sed -n 's/^recheck: //p' <<<"$out")" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2

ok "read back with guestfish" win_readback w08
RB=$TMP/w08/rb

is "Services\\viostor" \
  "$(reg_export "$RB/SYSTEM" "$Y" 'ControlSet001\Services\viostor')" \
  "
[$Y\\ControlSet001\\Services\\viostor]
\"ErrorControl\"=dword:00000001
\"Group\"=str(1):\"SCSI miniport\"
\"ImagePath\"=str(2):\"system32\\drivers\\viostor.sys\"
\"Start\"=dword:00000000
\"Type\"=dword:00000001"
is "CrashControl\\AutoReboot = 0" \
  "$(reg_export "$RB/SYSTEM" "$Y" 'ControlSet001\Control\CrashControl')" \
  "
[$Y\\ControlSet001\\Control\\CrashControl]
\"AutoReboot\"=dword:00000000"
C=$Y\\ControlSet001\\Control\\CriticalDeviceDatabase
G='{4D36E97B-E325-11CE-BFC1-08002BE10318}'
is "CriticalDeviceDatabase: both virtio-blk ids -> viostor, the guest's own entry kept" \
  "$(reg_export "$RB/SYSTEM" "$Y" 'ControlSet001\Control\CriticalDeviceDatabase')" \
  "
[$C]

[$C\\PCI#VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00]
\"ClassGUID\"=str(1):\"$G\"
\"Service\"=str(1):\"viostor\"

[$C\\PCI#VEN_1AF4&DEV_1042&SUBSYS_11001AF4&REV_01]
\"ClassGUID\"=str(1):\"$G\"
\"Service\"=str(1):\"viostor\"

[$C\\pci#ven_1000&dev_0054]
\"ClassGUID\"=str(1):\"$G\"
\"Service\"=str(1):\"LSI_SAS\""
is "no DriverDatabase created" "$(hivexregedit --export "$RB/SYSTEM" 'DriverDatabase' 2>/dev/null | grep -c '^\[')" 0
is "RunOnce starts ferry's first boot" \
  "$(hivexget "$RB/SOFTWARE" 'Microsoft\Windows\CurrentVersion\RunOnce' ferry-firstboot)" \
  'cmd /c "C:\Program Files\Ferry\Firstboot\firstboot.bat"'
is "Drivers\\VirtIO: the 2k8r2/amd64 files" "$(cat "$RB/VirtIO/viostor.sys") $(cat "$RB/VirtIO/netkvm.inf" | head -1 | tr -d '\r')" \
  "FAKE viostor.sys for 2k8R2 amd64 ; FAKE netkvm.inf for 2k8R2 amd64"
is "System32\\drivers\\viostor.sys: the 2k8r2/amd64 one" "$(cat "$RB/drivers/viostor.sys")" "FAKE viostor.sys for 2k8R2 amd64"
is "first-boot scripts" "$(cd "$RB/Ferry/Firstboot/scripts" && ls | tr '\n' ' ')" \
  "5000-install-virtio-drivers.bat 5100-uninstall-vmware-tools.bat "
done_testing
