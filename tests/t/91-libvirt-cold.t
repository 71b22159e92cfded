#!/bin/bash
# KVM to KVM, cold, as plan steps against the real two-host libvirt lab
# (tests/lab/libvirt-lab.sh): a shut-off domain with a qcow2 chain (its base
# in another directory, allowed by allow_dirs), an empty cdrom and a NIC
# moves to host B: B's raw disk equals the flattened source (qemu-img
# compare), B's XML has the plan's network, the source's MAC and UUID and
# ferry's metadata, the source stays defined; a running domain whose guest
# ignores ACPI makes the shutdown time out and is left running; once the
# operator stops it, the rerun moves it, starts it on B and undefines the
# source; a second apply changes nothing.  ferry runs inside netns ferA.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lab/lvlab-test.sh"

# 1. a shut-off domain: base (in base/) <- overlay, some data in each layer
mkdir -p "$LVLAB_A_IMAGES/base" "$LVLAB_B_IMAGES/ferry"
B0=$LVLAB_A_IMAGES/base/c1-base.qcow2 OV=$LVLAB_A_IMAGES/c1.qcow2
head -c 4M /dev/urandom >"$TMP/rand"
qemu-img create -q -f raw "$TMP/base.raw" 48M
dd if="$TMP/rand" of="$TMP/base.raw" bs=1M seek=3 conv=notrunc status=none
dd if="$TMP/rand" of="$TMP/base.raw" bs=1M seek=40 count=2 conv=notrunc status=none
qemu-img convert -q -f raw -O qcow2 "$TMP/base.raw" "$B0"
qemu-img create -q -f qcow2 -b "$B0" -F qcow2 "$OV"
qemu-io -f qcow2 -c "write -P 0x5a 5M 1M" -c "write -z 41M 512k" "$OV"
cat >"$TMP/c1.xml" <<EOX
<domain type='qemu'>
  <name>c1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$OV'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:91:00:01'/>
      <source network='lan-a'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
EOX
ok "domain c1 defined on A" V A define "$TMP/c1.xml"
UUID1=$(V A domuuid c1)
# 2. a running counter guest (its init ignores ACPI: a shutdown times out)
ok "guest c2 runs on A" "$GUEST" start "$D" c2 A
cat >"$TMP/plan.yaml" <<EOF2
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: t91}
state: {backend: file, path: $TMP/state/t91.state}
sources:
  a: {type: libvirt, uri: "$LVLAB_A_URI", allow_dirs: [$LVLAB_A_IMAGES/base]}
targets:
  b:
    type: libvirt
    uri: "$LVLAB_B_URI"
    path: $LVLAB_B_IMAGES/ferry
    networks: {lan-a: lan-b}
defaults: {source: a, target: b}
vms:
  - {name: c1, domain: c1}
  - {name: c2, domain: c2, shutdown: true, shutdown_timeout: 3, start: true, undefine_source: true}
EOF2
ok "validate (offline)" "$FERRY" validate "$TMP/plan.yaml"
out=$(FA plan --detailed-exitcode "$TMP/plan.yaml" 2>&1); rc=$?
is "plan: changes pending → 2" "$rc" 2
ok "plan shows what it found on c1" grep -q "^= c1/shutdown: shut off on $LVLAB_A_URI, 2 disks (vda file qcow2, hdc cdrom raw empty), 1 NIC (52:54:00:91:00:01 lan-a), 2 vcpu, 128 MiB, bios; vda 48 MiB in 2 layers$" <<<"$out"
ok "plan: c2 is to be shut down" grep -q "^~ c2/shutdown: shut down (ACPI, up to 3 s): running on" <<<"$out"
ok "plan: one convert step for c1 (the cdrom is not copied)" test "$(grep -c '^+ c1/convert/' <<<"$out")" = 1
ok "plan: c1 is to be defined on B" grep -q "^+ c1/define: " <<<"$out"

t=$(date +%s.%N)
out=$(FA -v apply --yes "$TMP/plan.yaml" 2>&1); rc=$?
echo "# first apply: $(el "$t") s"
ok "verify read c1's disk back: its SHA-256 equals the source's" \
  grep -q "c1/convert/disk0: read back: SHA-256 equals the source's ($((48 << 20)) bytes)" <<<"$out"
is "apply: c2's shutdown times out → exit 1" "$rc" 1
ok "the error says c2 was left running" grep -q "still running after 3 s of shutdown: it was left running" <<<"$out"
is "c2 still runs on A (never forced off)" "$(V A domstate c2)" running
is "c2 not on B" "$(V B list --all --name | grep -cx c2)" 0
is "c1 defined on B, shut off" "$(V B domstate c1 2>&1)" "shut off"
ok "B's disk equals the flattened chain (qemu-img compare)" \
  qemu-img compare -q -f raw -F qcow2 "$LVLAB_B_IMAGES/ferry/c1-disk0.raw" "$OV"
is "B's disk is raw of the virtual size" "$(stat -c %s "$LVLAB_B_IMAGES/ferry/c1-disk0.raw")" $((48 << 20))
V B dumpxml --inactive c1 >"$TMP/c1-on-b.xml"
ok "B's XML: the plan's network" grep -q "<source network='lan-b'/>" "$TMP/c1-on-b.xml"
ok "B's XML: the source's MAC" grep -q "<mac address='52:54:00:91:00:01'/>" "$TMP/c1-on-b.xml"
is "B's XML: the source's UUID" "$(V B domuuid c1)" "$UUID1"
ok "B's XML: the raw disk" grep -q "<source file='$LVLAB_B_IMAGES/ferry/c1-disk0.raw'/>" "$TMP/c1-on-b.xml"
ok "B's XML: ferry's metadata names the plan" grep -q "plan=\"t91\"\|plan='t91'" "$TMP/c1-on-b.xml"
ok "B's XML: the empty cdrom kept" grep -q "device='cdrom'" "$TMP/c1-on-b.xml"
is "c1 stays defined and shut off on A" "$(V A domstate c1 2>&1)" "shut off"

# 3. the operator stops c2; the rerun moves it and starts it on B
LAST=$(lines "$(ser A c2)" 0 | tail -n 1)
ok "operator: virsh destroy c2 on A" V A destroy c2
t=$(date +%s.%N)
out=$(FA apply --yes "$TMP/plan.yaml" 2>&1); rc=$?
echo "# second apply (c2, 16 MiB): $(el "$t") s"
is "apply after the operator stopped c2 → 0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2
is "c2 runs on B" "$(V B domstate c2 2>&1)" running
ok "c2 counts on B" wait_counter "$(ser B c2)" 0 2
NEW=$(lines "$(ser B c2)" 0 | head -n 1)
ok "c2 booted afresh on B (a cold move: new boot id)" test "$(bootid "$NEW")" != "$(bootid "$LAST")"
is "c2 undefined on A (undefine_source)" "$(V A list --all --name | grep -cx c2)" 0
ok "c2's source disk kept on A" test -s "$LVLAB_A_IMAGES/c2.qcow2"

# 4. nothing left to do
t1=$(stat -c %Y "$LVLAB_B_IMAGES/ferry/c1-disk0.raw")
out=$(FA plan --detailed-exitcode "$TMP/plan.yaml" 2>&1); rc=$?
is "plan after: nothing to do → 0" "$rc" 0
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' >&2
ok "plan after: c2's first step says the source is gone and the copy is on B" \
  grep -q "^= c2/shutdown: source domain gone" <<<"$out"
out=$(FA apply --yes "$TMP/plan.yaml" 2>&1)
ok "apply again changes nothing" grep -q "^Apply: 0 applied, 6 unchanged, 0 failed, 0 skipped" <<<"$out"
is "apply again did not rewrite c1's disk" "$(stat -c %Y "$LVLAB_B_IMAGES/ferry/c1-disk0.raw")" "$t1"
is "exactly one c2, on B" "$( (V A list --all --name; V B list --all --name) | grep -cx c2)" 1

# 5. a domain of the same name that ferry did not define on B is never
# touched; a storage-pool volume disk blocks its VM with the reason
qemu-img create -q -f qcow2 "$LVLAB_A_IMAGES/c3.qcow2" 8M
sed 's/<name>c1</<name>c3</; s/52:54:00:91:00:01/52:54:00:91:00:03/' "$TMP/c1.xml" |
  sed "s|$OV|$LVLAB_A_IMAGES/c3.qcow2|" >"$TMP/c3.xml"
sed "s|<disk type='file' device='disk'>|<disk type='volume' device='disk'>|; s|<source file='$LVLAB_A_IMAGES/c3.qcow2'/>|<source pool='p1' volume='v1'/>|; s/<name>c3</<name>c4</; s/:03'/:04'/" "$TMP/c3.xml" >"$TMP/c4.xml"
ok "c3 defined on A" V A define "$TMP/c3.xml"
ok "another c3 defined on B by hand" V B define "$TMP/c3.xml"
ok "c4 (a storage-pool volume disk) defined on A" V A define "$TMP/c4.xml"
FOREIGN=$(V B domuuid c3)
sed -i 's/^  - {name: c1, domain: c1}$/&\n  - {name: c3, domain: c3}\n  - {name: c4, domain: c4}/' "$TMP/plan.yaml"
out=$(FA plan "$TMP/plan.yaml" 2>&1); printf "%s\n" "$out" | grep "c3/\|c4/" | sed "s/^/# /"
ok "plan: c3 blocked at its first step by the foreign domain on B" \
  grep -q "^! c3/shutdown: blocked (a domain 'c3' that ferry did not define exists on '$LVLAB_B_URI': left alone)" <<<"$out"
ok "plan: so c3's disk is not converted" grep -q "^! c3/convert/disk0: blocked (needs blocked step c3/shutdown)" <<<"$out"
ok "plan: c4 blocked with the reason" grep -q "^! c4/shutdown: blocked (domain 'c4' cannot move: .*volume" <<<"$out"
FA apply --yes "$TMP/plan.yaml" >"$TMP/apply3.log" 2>&1
is "apply: the foreign c3 on B kept its UUID" "$(V B domuuid c3)" "$FOREIGN"
ok "apply: nothing of c3 was written on B" test ! -e "$LVLAB_B_IMAGES/ferry/c3.xml" -a ! -e "$LVLAB_B_IMAGES/ferry/c3-disk0.raw"
done_testing
