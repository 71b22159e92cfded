#!/bin/bash
# tests/t/86-guest-windows-custom.t - network identity and customization of
# a phony Windows Server 2019 with real libguestfs: win-network (a
# first-boot PowerShell script that sets each port's address on the
# adapter with its MAC) and win-customize (files, RunOnce commands, a
# first-boot script, AutoAdminLogon for 2 logons with the password from an
# env secret that never shows in output, host name), each applied and
# rechecked (nothing left), then read back with guestfish and hivex.
# 3 appliance launches.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/windows-lib.sh"
Y='HKEY_LOCAL_MACHINE\SYSTEM'
S='HKEY_LOCAL_MACHINE\SOFTWARE'
export T86_PW='s3cr3t-Pa55 w0rd'

mkdir -p "$TMP/files"
printf 'hello from ferry\r\n' > "$TMP/files/hello.txt"
printf '@echo off\r\necho tool\r\n' > "$TMP/files/tool.cmd"
printf 'Write-Output "setup"\r\n' > "$TMP/files/setup.ps1"
win_setup 2019 wc <<EOF || { echo "Bail out! cannot build the Windows 2019 image"; exit 1; }
    ports:
      - {network: lan, fixed_ip: 192.168.50.10, mac: "00:50:56:aa:bb:01", prefix: 24, gateway: 192.168.50.1, dns: [192.168.50.2, 192.168.50.3]}
      - {network: lan6, fixed_ip: "fd00::10", mac: "00:50:56:aa:bb:02", prefix: 64}
    customize:
      hostname: web01.example.com
      files:
        - {src: $TMP/files/hello.txt, dst: 'C:\\ProgramData\\Ferry Test\\hello.txt'}
        - {src: $TMP/files/tool.cmd, dst: /Tools/tool.cmd}
      runonce: ['cmd /c echo one', 'C:\\Tools\\tool.cmd']
      firstboot: [$TMP/files/setup.ps1]
      autologon: {user: Administrator, password: {env: T86_PW}, count: 2}
EOF
PLAN=$TMP/wc/plan.yaml

# apply_recheck OP: apply, then the same appliance rechecks: nothing left
apply_recheck() {
  local op=$1 out rc
  # with libguestfs' call trace on: it must not print the password either
  out=$(LIBGUESTFS_TRACE=1 "$GUEST_OP" "$PLAN" wc "$op" --apply 2>&1); rc=$?
  is "$op apply exits 0" "$rc" 0
  is "$op recheck after apply: nothing left" "$(sed -n 's/^recheck: //p' <<<"$out")" 0
  is "$op output never shows the password" "$(grep -c "$T86_PW" <<<"$out")" 0
  [ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2
  printf '%s\n' "$out" > "$TMP/$op.out"
}
apply_recheck win-network
ok "network: the script and its first-boot entry" \
  grep -q 'applied: file /Program Files/Ferry/Firstboot/network.ps1: create' "$TMP/win-network.out"
apply_recheck win-customize
ok "customize lists the password as (secret)" \
  grep -q 'applied: registry SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon: DefaultPassword = (secret)' "$TMP/win-customize.out"

READBACK_FILES='/ProgramData/Ferry Test/hello.txt
/Tools/tool.cmd' ok "read back with guestfish" win_readback wc
RB=$TMP/wc/rb

W='Microsoft\Windows NT\CurrentVersion\Winlogon'
is "Winlogon: AutoAdminLogon for 2 logons" \
  "$(reg_export "$RB/SOFTWARE" "$S" "$W" | grep -E '^"(AutoAdminLogon|DefaultUserName|AutoLogonCount)"')" \
  '"AutoAdminLogon"=str(1):"1"
"AutoLogonCount"=dword:00000002
"DefaultUserName"=str(1):"Administrator"'
is "Winlogon: DefaultPassword from the secret" "$(hivexget "$RB/SOFTWARE" "$W" DefaultPassword)" "$T86_PW"
R='Microsoft\Windows\CurrentVersion\RunOnce'
is "RunOnce: first boot, the plan's commands, the password scrub" \
  "$(reg_export "$RB/SOFTWARE" "$S" "$R" | tail -n +3)" \
  '"ferry-autologon-scrub"=str(1):"cmd /c \"C:\Program Files\Ferry\Firstboot\autologon-scrub.bat\""
"ferry-firstboot"=str(1):"cmd /c \"C:\Program Files\Ferry\Firstboot\firstboot.bat\""
"ferry-runonce-01"=str(1):"cmd /c echo one"
"ferry-runonce-02"=str(1):"C:\Tools\tool.cmd"'
is "hostname: ComputerName" "$(hivexget "$RB/SYSTEM" 'ControlSet001\Control\ComputerName\ComputerName' ComputerName)" WEB01
is "hostname: Tcpip Hostname and NV Hostname" \
  "$(hivexget "$RB/SYSTEM" 'ControlSet001\Services\Tcpip\Parameters' Hostname) $(hivexget "$RB/SYSTEM" 'ControlSet001\Services\Tcpip\Parameters' 'NV Hostname')" \
  "web01 web01"

FB=$RB/Ferry/Firstboot
is "first-boot scripts, in run order" "$(cd "$FB/scripts" && ls | tr '\n' ' ')" \
  "5200-network.bat 6001-setup.ps1.bat "
is "network.ps1: each port by MAC with mask, gateway, DNS" \
  "$(tr -d '\r' < "$FB/network.ps1" | grep '^Set-Address')" \
  "Set-Address '00:50:56:AA:BB:01' '192.168.50.10' 24 '255.255.255.0' '192.168.50.1' @('192.168.50.2', '192.168.50.3')
Set-Address '00:50:56:AA:BB:02' 'fd00::10' 64 '' '' @()"
ok "network.ps1 finds the adapter by MAC (WMI) and logs" \
  bash -c 'grep -q "Win32_NetworkAdapter | Where-Object { \$_.MACAddress -eq \$mac" "$1" && grep -q "network.log" "$1" && grep -q EnableStatic "$1"' _ "$FB/network.ps1"
ok "the password scrub removes DefaultPassword after the last logon" \
  grep -q 'reg delete "%wl%" /v DefaultPassword /f' "$FB/autologon-scrub.bat"
is "no file in the first-boot folder holds the password" "$(grep -rlF "$T86_PW" "$FB" | wc -l)" 0
is "first-boot script copied" "$(cat "$FB/user/setup.ps1")" "$(cat "$TMP/files/setup.ps1")"
is "file C:\\ProgramData\\Ferry Test\\hello.txt" "$(cat "$RB/extra/hello.txt")" "$(cat "$TMP/files/hello.txt")"
is "file /Tools/tool.cmd" "$(cat "$RB/extra/tool.cmd")" "$(cat "$TMP/files/tool.cmd")"
done_testing
