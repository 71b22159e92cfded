#!/bin/bash
# vms[].stop_command (docs/warm.md): the hook that shuts a warm VM's source
# down at the cutover.  It never runs in the precopy phase; at the cutover
# it runs once, after the pre-copy and before the disk's cutover copy; a
# rerun does not run it again unless the disks changed since (the VM ran
# again); a failing command stops the VM's cutover with the target
# untouched; the key is refused on a cold VM.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
M=1048576
mkdir src
python3 "$TOP/tests/gen/qcow2-pattern.py" base.raw $((16 * M)) 41
qemu-img convert -q -f raw -O qcow2 base.raw src/base.qcow2
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 src/top.qcow2
qemu-io -f qcow2 -c "write -P 0x3c $((2 * M)) 192k" src/top.qcow2 >/dev/null
qemu-img convert -q -O raw src/top.qcow2 oracle.raw

# plan CMD...: a warm VM 'vm' whose stop_command is CMD
plan() {
  local args="" a
  for a in "$@"; do args+="\"$a\", "; done
  cat >plan.yaml <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: stop}
state: {backend: file, path: state/stop.state}
sources: {s: {type: directory, path: src}}
targets: {t: {type: local, path: out}}
defaults: {source: s, target: t}
vms:
  - name: vm
    warm: true
    stop_command: [${args%, }]
    disks: [{file: top.qcow2}]
YAML
}
J=state/stop.state
t() { jq -r --arg s "$1" --arg e "$2" 'select(.step==$s and .event==$e)|.time_ms' "$J" | tail -1; }

plan sh -c "echo \$\$ >>'$TMP/ran'"
ok "precopy" "$FERRY" apply -y --phase precopy plan.yaml
ok "precopy: the stop command did not run" test ! -e ran
pre_done=$(t vm/precopy/disk0 done)
"$FERRY" plan --phase cutover plan.yaml >plan1.out 2>&1
ok "plan: the stop step will run the command" grep -q "^+ vm/stop: run 'sh' (2 arguments) to shut the source down$" plan1.out
ok "cutover" "$FERRY" apply -y --phase cutover plan.yaml
is "cutover: the stop command ran once" "$(wc -l <ran)" 1
ok "cutover: it ran after the pre-copy" test "$(t vm/stop begin)" -ge "$pre_done"
ok "cutover: and before the disk's cutover copy" test "$(t vm/convert/disk0 begin)" -ge "$(t vm/stop done)"
ok "cutover: the disk equals the whole chain" cmp out/vm-disk0.raw oracle.raw
ok "a rerun" "$FERRY" apply -y --phase cutover plan.yaml
is "a rerun does not run the stop command again" "$(wc -l <ran)" 1
# the source "ran again": its top file changed after the command
qemu-io -f qcow2 -c "write -P 0x11 0 4k" src/top.qcow2 >/dev/null
"$FERRY" plan --phase cutover plan.yaml >plan2.out 2>&1
ok "after the disks changed: the stop step runs again" \
  grep -q "^+ vm/stop: run 'sh' (2 arguments) to shut the source down again (the disks changed since it ran: the VM ran again)$" plan2.out

# a failing command: the cutover stops before any byte is written
rm -rf out state ran
plan sh -c "exit 3"
ok "precopy (failing stop command)" "$FERRY" apply -y --phase precopy plan.yaml
cp out/vm-disk0.raw.part before.raw
fails_with "a stop command that exits 3 fails the cutover" 1 \
  "stop command 'sh' exited with status 3: the source is not known to be down" \
  "$FERRY" apply -y --phase cutover plan.yaml
ok "the cutover copy did not run: the .part is as the pre-copy left it" cmp out/vm-disk0.raw.part before.raw
ok "and there is no final disk" test ! -e out/vm-disk0.raw

# only for warm VMs
sed -i '/warm: true/d' plan.yaml
fails_with "stop_command on a cold VM is refused" 1 \
  "vms\[0\]\.stop_command: only with warm: true" "$FERRY" validate plan.yaml
done_testing
