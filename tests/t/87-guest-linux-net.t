#!/bin/bash
# Linux network identity and customize (modules/guest-linux-network.c,
# guest-linux-customize.c) on the phony Debian of tests/guest/make-linux.sh:
# ens192 (configured in interfaces, netplan, ifcfg and a NetworkManager
# keyfile, the last three bound to the VMware MAC) is pinned to the plan's
# MAC by a .link file and the MAC bindings follow; files are copied with
# mode and owner, the firstboot unit is installed and enabled, the hostname
# set.  Check, apply, recheck 0, then ONE read-only guestfish session reads
# everything back; the firstboot runner is run on the host.  The variant
# whose initrd already has virtio is 88-guest-linux-virtio.t.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/guest/env.sh" || exit 1
GOP=$TOP/tests/helpers/guest-op
MAC=52:54:00:12:34:56
cd "$TMP" || exit 1

IMG=$(guest_image linux-novirtio "$TOP/tests/guest/make-linux.sh" novirtio) ||
  { echo "1..1"; echo "not ok 1 - phony Debian image builds"; exit 1; }
mkdir -p src out files
qemu-img create -q -f vmdk src/lx.vmdk 1G
cp --sparse=always "$IMG" out/lx-disk0.raw
printf 'welcome to ferry\n' >files/motd
printf 'key = value\n' >files/app.conf
printf '#!/bin/sh\necho fix-net ran\n' >files/fix-net.sh
cat >plan.yaml <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: lx}
sources: {dc1: {type: directory, path: src}}
targets: {lab: {type: local, path: out}}
defaults: {source: dc1, target: lab}
vms:
  - name: lx
    disks: [{file: lx.vmdk}]
    ports: [{network: default, mac: "$MAC"}]
    customize:
      hostname: web01.example.test
      files:
        - {src: files/motd, dst: /etc/motd, mode: "0644"}
        - {src: files/app.conf, dst: /opt/app/app.conf, mode: "0640", owner: "1000:1001"}
      firstboot: [files/fix-net.sh]
EOF

has() { ok "$1" grep -qxF -- "$3" "$2"; }

# network: the one configured interface (ens192) is the one port's old name
ok "network check runs" bash -c "'$GOP' plan.yaml lx linux-network >net-check.out 2>&1"
has "network check: .link file" net-check.out \
  "change: /etc/systemd/network/10-ferry-ens192.link: create ($MAC)"
has "network check: ifcfg HWADDR" net-check.out \
  "change: /etc/sysconfig/network-scripts/ifcfg-ens192: HWADDR=00:50:56:AA:BB:01 -> $MAC"
is "network check: 4 changes" "$(sed -n 's/^changes: //p' net-check.out)" 4
ok "network apply runs" bash -c "'$GOP' plan.yaml lx linux-network --apply >net.out 2>&1"
is "network apply: 4 applied" "$(grep -c '^applied: ' net.out)" 4
has "network apply: recheck finds nothing" net.out "recheck: 0"

ok "customize apply runs" bash -c "'$GOP' plan.yaml lx linux-customize --apply >cust.out 2>&1"
has "customize: /opt/app/app.conf created" cust.out \
  "applied: file /opt/app/app.conf: create (12 bytes, mode 0640, owner 1000:1001)"
has "customize: firstboot enabled" cust.out \
  "applied: enable ferry-firstboot.service (/etc/systemd/system/multi-user.target.wants/ferry-firstboot.service)"
is "customize: 8 applied" "$(grep -c '^applied: ' cust.out)" 8
has "customize: recheck finds nothing" cust.out "recheck: 0"

guestfish --ro --format=raw -a out/lx-disk0.raw -i >rb.out 2>&1 <<'EOF'
echo ==link
cat /etc/systemd/network/10-ferry-ens192.link
echo ==ifcfg
cat /etc/sysconfig/network-scripts/ifcfg-ens192
echo ==netplan
cat /etc/netplan/01-lab.yaml
echo ==nm
cat /etc/NetworkManager/system-connections/ens192.nmconnection
echo ==interfaces
cat /etc/network/interfaces
echo ==motd
cat /etc/motd
echo ==app
cat /opt/app/app.conf
echo ==appstat
lstatns /opt/app/app.conf
echo ==script
cat /usr/lib/ferry/firstboot/scripts/01-fix-net.sh
echo ==scriptstat
lstatns /usr/lib/ferry/firstboot/scripts/01-fix-net.sh
echo ==runnerstat
lstatns /usr/lib/ferry/firstboot/firstboot.sh
echo ==runner
cat /usr/lib/ferry/firstboot/firstboot.sh
echo ==unit
cat /etc/systemd/system/ferry-firstboot.service
echo ==wants
readlink /etc/systemd/system/multi-user.target.wants/ferry-firstboot.service
echo ==hostname
cat /etc/hostname
echo ==hosts
cat /etc/hosts
echo ==end
EOF
sect() { awk -v s="==$1" '$0 == s {p = 1; next} /^==/ {p = 0} p' rb.out; }
field() { sect "$1" | sed -n "s/^$2: //p"; }
ok "read back with guestfish" grep -qx '==end' rb.out
sect link >link
has ".link matches the new MAC" link "MACAddress=$MAC"
has ".link keeps the old name" link "Name=ens192"
has "ifcfg HWADDR is the new MAC" <(sect ifcfg) "HWADDR=$MAC"
has "ifcfg still for ens192" <(sect ifcfg) "DEVICE=ens192"
has "netplan match is the new MAC" <(sect netplan) "        macaddress: \"$MAC\""
has "netplan still keyed by ens192" <(sect netplan) "    ens192:"
has "NM keyfile MAC is the new one" <(sect nm) "mac-address=$MAC"
has "NM keyfile still for ens192" <(sect nm) "interface-name=ens192"
has "interfaces still configures ens192" <(sect interfaces) "iface ens192 inet static"
is "motd copied" "$(sect motd)" "welcome to ferry"
is "app.conf copied" "$(sect app)" "key = value"
is "app.conf mode 0640" "$(printf '%o' $(($(field appstat st_mode) & 07777)))" 640
is "app.conf owner 1000:1001" "$(field appstat st_uid):$(field appstat st_gid)" "1000:1001"
is "firstboot script copied" "$(sect script)" "$(printf '#!/bin/sh\necho fix-net ran')"
is "firstboot script 0755" "$(printf '%o' $(($(field scriptstat st_mode) & 07777)))" 755
is "firstboot runner 0755" "$(printf '%o' $(($(field runnerstat st_mode) & 07777)))" 755
has "firstboot unit runs the runner" <(sect unit) "ExecStart=/usr/lib/ferry/firstboot/firstboot.sh"
is "firstboot unit enabled" "$(sect wants)" "/etc/systemd/system/ferry-firstboot.service"
is "hostname" "$(sect hostname)" "web01.example.test"
has "hosts 127.0.1.1 line" <(sect hosts) "$(printf '127.0.1.1\tweb01.example.test web01')"
has "hosts localhost kept" <(sect hosts) "$(printf '127.0.0.1\tlocalhost')"

# the runner itself, as the guest has it, run on the host with its paths
# moved under a scratch root: a failing script stops the run and stays
# (retried at the next boot), the unit stays enabled; once all succeed the
# unit's link is gone; everything is in the log
R=$TMP/fbroot
mkdir -p "$R/usr/lib/ferry/firstboot/scripts" "$R/var/log" \
  "$R/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/ferry-firstboot.service \
  "$R/etc/systemd/system/multi-user.target.wants/ferry-firstboot.service"
sect runner | sed "s|/usr/lib/ferry|$R/usr/lib/ferry|g; s|/var/log|$R/var/log|g; s|/etc/systemd|$R/etc/systemd|g" \
  >"$R/runner.sh"
printf '#!/bin/sh\necho one ran\n' >"$R/usr/lib/ferry/firstboot/scripts/01-one"
printf '#!/bin/sh\ntest -e %s/fixed\n' "$R" >"$R/usr/lib/ferry/firstboot/scripts/02-two"
chmod 0755 "$R"/usr/lib/ferry/firstboot/scripts/*
fails "runner: a failing script fails the run" 1 sh "$R/runner.sh"
ok "runner: the script that succeeded moved to done/" \
  test -e "$R/usr/lib/ferry/firstboot/done/01-one" -a -e "$R/usr/lib/ferry/firstboot/scripts/02-two"
ok "runner: still enabled after a failure" \
  test -L "$R/etc/systemd/system/multi-user.target.wants/ferry-firstboot.service"
touch "$R/fixed"
ok "runner: second boot succeeds" sh "$R/runner.sh"
ok "runner: disabled itself" \
  test ! -L "$R/etc/systemd/system/multi-user.target.wants/ferry-firstboot.service"
ok "runner: logged both runs" bash -c "grep -q 'one ran' '$R/var/log/ferry-firstboot.log' &&
  grep -q '02-two failed (exit 1)' '$R/var/log/ferry-firstboot.log' &&
  grep -q 'all scripts done' '$R/var/log/ferry-firstboot.log'"

done_testing
