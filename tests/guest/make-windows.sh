#!/bin/bash
# tests/guest/make-windows.sh OUT VARIANT - a phony Windows disk that
# libguestfs inspects as Windows, for the Windows guest tests
# (tests/t/82-guest-windows*.t).  VARIANT: 2019 (NT 10.0 build 17763, with
# SYSTEM\DriverDatabase) or 2008r2 (NT 6.1 build 7601, CriticalDeviceDatabase).
#
# 1 GiB sparse raw, MBR (signature 0x12345678 = the MountedDevices entry of
# C:), one NTFS partition at 1 MiB with Windows/System32/config/{SYSTEM,
# SOFTWARE} (hives: tests/guest/mkhive.c writes an empty hive, hivexregedit
# --merge fills it), a PE32+ x86-64 cmd.exe stub (inspection wants it and
# takes the arch from it) and two dummy drivers.  No boot code: offline only.
# SOFTWARE has a "VMware Tools" Uninstall entry (MsiExec /I{GUID}), Winlogon,
# Run and RunOnce; SYSTEM has Select\Current=1, CrashControl\AutoReboot=1,
# ComputerName and Tcpip hostname, an LSI_SAS service.
set -euo pipefail
OUT=${1:?usage: make-windows.sh OUT 2019|2008r2}
VARIANT=${2:?usage: make-windows.sh OUT 2019|2008r2}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/ferry-mkwin.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

case $VARIANT in
2019)   product="Windows Server 2019 Standard"; curver=6.3; build=17763
        hostname=WIN2019LAB
        majmin='"CurrentMajorVersionNumber"=dword:0000000a
"CurrentMinorVersionNumber"=dword:00000000
"ReleaseId"="1809"' ;;
2008r2) product="Windows Server 2008 R2 Standard"; curver=6.1; build=7601
        hostname=WIN2008R2LAB
        majmin='"CSDVersion"="Service Pack 1"' ;;
*) echo "make-windows.sh: unknown variant '$VARIANT'" >&2; exit 2 ;;
esac

cc -O2 -Wall -o "$WORK/mkhive" "$HERE/mkhive.c"

# with_parents PREFIX: copy a .reg from stdin, adding a [key] section for
# every ancestor not seen yet (hivexregedit refuses a key whose parent is
# missing).  The prefix goes through the environment (awk -v eats "\").
with_parents() {
  PREFIX="$1" awk '
  BEGIN { prefix = ENVIRON["PREFIX"] }
  /^\[.*\]$/ {
    key = substr($0, 2, length($0) - 2)
    n = split(substr(key, length(prefix) + 2), part, /\\/)
    path = prefix
    for (i = 1; i < n; i++) {
      path = path "\\" part[i]
      if (!(path in seen)) { print "[" path "]"; print ""; seen[path] = 1 }
    }
    seen[key] = 1
  }
  { print }'
}

S='HKEY_LOCAL_MACHINE\SOFTWARE'
Y='HKEY_LOCAL_MACHINE\SYSTEM'
CS="$Y\\ControlSet001"
CV="$S\\Microsoft\\Windows\\CurrentVersion"

with_parents "$S" > "$WORK/software.reg" <<EOF
Windows Registry Editor Version 5.00

[$S\\Microsoft\\Windows NT\\CurrentVersion]
"ProductName"="$product"
"CurrentVersion"="$curver"
"CurrentBuildNumber"="$build"
"CurrentBuild"="$build"
"InstallationType"="Server"
"EditionID"="ServerStandard"
"SystemRoot"="C:\\\\Windows"
"PathName"="C:\\\\Windows"
$majmin

[$S\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon]
"Shell"="explorer.exe"
"Userinit"="C:\\\\Windows\\\\system32\\\\userinit.exe,"
"AutoAdminLogon"="0"
"DefaultUserName"="Administrator"

[$CV]
"ProgramFilesDir"="C:\\\\Program Files"
"CommonFilesDir"="C:\\\\Program Files\\\\Common Files"

[$CV\\Run]

[$CV\\RunOnce]

[$CV\\Uninstall]

[$CV\\Uninstall\\{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF}]
"DisplayName"="VMware Tools"
"DisplayVersion"="11.3.5.18557794"
"Publisher"="VMware, Inc."
"UninstallString"="MsiExec.exe /I{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF}"

EOF

{
cat <<EOF
Windows Registry Editor Version 5.00

[$Y\\Select]
"Current"=dword:00000001
"Default"=dword:00000001
"Failed"=dword:00000000
"LastKnownGood"=dword:00000001

[$Y\\MountedDevices]
"\\\\DosDevices\\\\C:"=hex:78,56,34,12,00,00,10,00,00,00,00,00

[$CS\\Control\\ComputerName\\ComputerName]
"ComputerName"="$hostname"

[$CS\\Control\\CrashControl]
"AutoReboot"=dword:00000001

[$CS\\Control\\Class\\{4D36E97B-E325-11CE-BFC1-08002BE10318}]
"Class"="SCSIAdapter"

[$CS\\Services\\Tcpip\\Parameters]
"Hostname"="${hostname,,}"
"NV Hostname"="${hostname,,}"
"Domain"=""

[$CS\\Services\\LSI_SAS]
"Type"=dword:00000001
"Start"=dword:00000000
"ErrorControl"=dword:00000001
"Group"="SCSI miniport"
"ImagePath"=str(2):"system32\\\\drivers\\\\lsi_sas.sys"

EOF
if [ "$VARIANT" = 2008r2 ]; then cat <<EOF
[$CS\\Control\\CriticalDeviceDatabase\\pci#ven_1000&dev_0054]
"Service"="LSI_SAS"
"ClassGUID"="{4D36E97B-E325-11CE-BFC1-08002BE10318}"

EOF
else cat <<EOF
[$Y\\DriverDatabase]
"Architecture"=dword:00000009

[$Y\\DriverDatabase\\DeviceIds\\PCI]

[$Y\\DriverDatabase\\DriverInfFiles]

[$Y\\DriverDatabase\\DriverPackages]

EOF
fi
} | with_parents "$Y" > "$WORK/system.reg"

for h in SYSTEM SOFTWARE; do
  "$WORK/mkhive" "$WORK/$h" "CMI-CreateHive{$h}"
  hivexregedit --merge --prefix "HKEY_LOCAL_MACHINE\\$h" "$WORK/$h" "$WORK/${h,,}.reg"
done

# A header-only PE32+ (machine 0x8664, console subsystem): file(1) says
# "PE32+ executable (console) x86-64", which is where inspection gets the arch.
python3 - "$WORK/cmd.exe" <<'EOF'
import struct, sys
dos = bytearray(64)
dos[0:2] = b'MZ'
struct.pack_into('<H', dos, 0x18, 0x40)
struct.pack_into('<I', dos, 0x3c, 0x40)
coff = struct.pack('<4sHHIIIHH', b'PE\0\0', 0x8664, 0, 0, 0, 0, 240, 0x0022)
opt = bytearray(240)
struct.pack_into('<H', opt, 0, 0x20b)
struct.pack_into('<Q', opt, 24, 0x140000000)
struct.pack_into('<II', opt, 32, 0x1000, 0x200)
struct.pack_into('<HH', opt, 40, 6, 0)
struct.pack_into('<HH', opt, 48, 6, 0)
struct.pack_into('<II', opt, 56, 0x1000, 0x200)
struct.pack_into('<H', opt, 68, 3)
struct.pack_into('<I', opt, 108, 16)
d = bytes(dos) + coff + bytes(opt)
open(sys.argv[1], 'wb').write(d + bytes(512 - len(d)))
EOF
printf 'dummy driver\n' > "$WORK/dummy.sys"

RAW=$WORK/disk.raw
truncate -s 1G "$RAW"
sfdisk -q "$RAW" <<EOF
label: dos
label-id: 0x12345678
start=2048, type=7, bootable
EOF

# One launch: mkntfs and every upload.
guestfish --rw --format=raw -a "$RAW" <<EOF
run
mkfs ntfs /dev/sda1
mount /dev/sda1 /
mkdir-p /Windows/System32/config
mkdir-p /Windows/System32/drivers
mkdir-p /Windows/Temp
mkdir-p "/Program Files"
mkdir-p /Users/Administrator
upload $WORK/SYSTEM /Windows/System32/config/SYSTEM
upload $WORK/SOFTWARE /Windows/System32/config/SOFTWARE
upload $WORK/cmd.exe /Windows/System32/cmd.exe
upload $WORK/dummy.sys /Windows/System32/drivers/lsi_sas.sys
upload $WORK/dummy.sys /Windows/System32/drivers/disk.sys
umount-all
EOF
cp --sparse=always "$RAW" "$OUT"
