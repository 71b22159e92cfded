#!/bin/bash
# tests/t/82-guest-windows.t - VirtIO injection into a phony Windows Server
# 2019 (NT 10.0 build 17763, SYSTEM\DriverDatabase present) with real
# libguestfs: check lists the changes, apply makes them and a recheck in
# the same appliance finds none, then every key and value virt-v2v 2.2
# writes (../shared/lab/guests/parity.md §1 and §3, encoded here) is read
# back with hivex's own hivexregedit, with type and data, and the driver
# files and first-boot scripts with guestfish.  Also: a driver tree without
# the guest's release is a clear error.  4 appliance launches.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/windows-lib.sh"
Y='HKEY_LOCAL_MACHINE\SYSTEM'

win_setup 2019 w19 <<EOF || { echo "Bail out! cannot build the Windows 2019 image"; exit 1; }
    customize:
      virtio: true
      virtio_drivers: $TMP/virtio
EOF

out=$("$GUEST_OP" "$TMP/w19/plan.yaml" w19 win-inject 2>&1); rc=$?
is "check exits 0" "$rc" 0
n=$(sed -n 's/^changes: //p' <<<"$out")
ok "check lists the service, the driver database and the files" \
  grep -q 'change: registry SYSTEM\\ControlSet001\\Services\\viostor: create' <<<"$out"
ok "check lists DriverDatabase, not CriticalDeviceDatabase" \
  bash -c 'grep -q "change: registry SYSTEM\\\\DriverDatabase\\\\DriverInfFiles\\\\guestor.inf: create" <<<"$1" &&
           ! grep -qi CriticalDeviceDatabase <<<"$1"' _ "$out"
ok "check lists viostor.sys for System32\\drivers" \
  grep -q 'change: file /Windows/System32/drivers/viostor.sys: create' <<<"$out"

out=$("$GUEST_OP" "$TMP/w19/plan.yaml" w19 win-inject --apply 2>&1); rc=$?
is "apply exits 0" "$rc" 0
is "apply makes what check listed" "$(grep -c '^applied: ' <<<"$out")" "$n"
is "recheck after apply: nothing left" "$(sed -n 's/^recheck: //p' <<<"$out")" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2

ok "read back with guestfish" win_readback w19
RB=$TMP/w19/rb

is "Services\\viostor (type, data, nothing else)" \
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

D=$Y\\DriverDatabase
P1='VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00'
P2='VEN_1AF4&DEV_1042&SUBSYS_11001AF4&REV_01'
is "DriverDatabase keys as virt-v2v 2.2 writes them" \
  "$(reg_export "$RB/SYSTEM" "$Y" 'DriverDatabase')" \
  "
[$D]
\"Architecture\"=dword:00000009

[$D\\DeviceIds]

[$D\\DeviceIds\\PCI]

[$D\\DeviceIds\\PCI\\$P1]
\"guestor.inf\"=hex(3):01,ff,00,00

[$D\\DeviceIds\\PCI\\$P2]
\"guestor.inf\"=hex(3):01,ff,00,00

[$D\\DriverInfFiles]

[$D\\DriverInfFiles\\guestor.inf]
@=hex(7):67,00,75,00,65,00,73,00,74,00,6f,00,72,00,2e,00,69,00,6e,00,66,00,5f,00,74,00,6d,00,70,00,00,00,00,00
\"Active\"=str(1):\"guestor.inf_tmp\"
\"Configurations\"=hex(7):67,00,75,00,65,00,73,00,74,00,6f,00,72,00,5f,00,63,00,6f,00,6e,00,66,00,00,00,00,00

[$D\\DriverPackages]

[$D\\DriverPackages\\guestor.inf_tmp]
\"Version\"=hex(3):00,ff,09,00,00,00,00,00,7b,e9,36,4d,25,e3,ce,11,bf,c1,08,00,2b,e1,03,18,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00,00

[$D\\DriverPackages\\guestor.inf_tmp\\Configurations]

[$D\\DriverPackages\\guestor.inf_tmp\\Configurations\\guestor_conf]
\"ConfigFlags\"=dword:00000000
\"Service\"=str(1):\"viostor\"

[$D\\DriverPackages\\guestor.inf_tmp\\Descriptors]

[$D\\DriverPackages\\guestor.inf_tmp\\Descriptors\\PCI]

[$D\\DriverPackages\\guestor.inf_tmp\\Descriptors\\PCI\\$P1]
\"Configuration\"=str(1):\"guestor_conf\"

[$D\\DriverPackages\\guestor.inf_tmp\\Descriptors\\PCI\\$P2]
\"Configuration\"=str(1):\"guestor_conf\""

is "no CriticalDeviceDatabase on a DriverDatabase guest" \
  "$(hivexregedit --export "$RB/SYSTEM" 'ControlSet001\Control\CriticalDeviceDatabase' 2>&1 | grep -c '^\[')" 0
is "RunOnce starts ferry's first boot" \
  "$(hivexget "$RB/SOFTWARE" 'Microsoft\Windows\CurrentVersion\RunOnce' ferry-firstboot)" \
  'cmd /c "C:\Program Files\Ferry\Firstboot\firstboot.bat"'

is "Drivers\\VirtIO: the 2k19/amd64 files, flattened and lower-cased" \
  "$(cd "$RB/VirtIO" && ls | tr '\n' ' ')" \
  "balloon.cat balloon.inf balloon.sys netkvm.cat netkvm.inf netkvm.sys vioscsi.cat vioscsi.inf vioscsi.sys viostor.cat viostor.inf viostor.sys "
is "netkvm.sys is the 2k19 amd64 one" "$(cat "$RB/VirtIO/netkvm.sys")" "FAKE netkvm.sys for 2k19 amd64"
is "System32\\drivers\\viostor.sys is the 2k19 amd64 one" \
  "$(cat "$RB/drivers/viostor.sys" 2>&1)" "FAKE viostor.sys for 2k19 amd64"
FB=$RB/Ferry/Firstboot
ok "firstboot.bat is CRLF and runs scripts\\*.bat in name order" \
  bash -c 'grep -q $'"'"'\r$'"'"' "$1/firstboot.bat" && grep -q "dir /b /on" "$1/firstboot.bat" &&
           grep -q "log.txt" "$1/firstboot.bat"' _ "$FB"
ok "first boot runs pnputil -i -a on the injected .inf files" \
  grep -q 'pnputil -i -a "%%i"' "$FB/scripts/5000-install-virtio-drivers.bat"
is "first boot uninstalls VMware Tools by its MSI product code (as virt-v2v)" \
  "$(tr -d '\r' < "$FB/scripts/5100-uninstall-vmware-tools.bat" | grep MsiExec)" \
  'MsiExec.exe /x{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF} /quiet /norestart /l*v+ "%~dpn0.log" REBOOT=ReallySuppress REMOVE=ALL '

# A driver tree without the guest's release: a clear error, nothing done.
mkdir -p "$TMP/only2k8/viostor/2k8r2/amd64"
echo x > "$TMP/only2k8/viostor/2k8r2/amd64/viostor.sys"
sed -i "s|virtio_drivers: .*|virtio_drivers: $TMP/only2k8|" "$TMP/w19/plan.yaml"
fails_with "no driver for the guest's release/arch: clear error" 1 \
  "no VirtIO drivers for this guest \(Windows 10.0 Server build 17763, x86_64\) .*'2k19' and 'amd64'" \
  "$GUEST_OP" "$TMP/w19/plan.yaml" w19 win-inject
done_testing
