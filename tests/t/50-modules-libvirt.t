#!/bin/bash
# The libvirt module and the engine on a real plan: a VM's own vcpus/ram_mb
# win over its flavor, disks past the 26th get kernel names (vdaa, vdab...),
# and an error in a check is an error (exit 1), not "blocked" (exit 2).
. "$(dirname "$0")/../lib.sh"

SRC=$TMP/src OUT=$TMP/out
mkdir -p "$SRC"
for i in $(seq 0 27); do
  qemu-img create -q -f qcow2 "$SRC/d$i.qcow2" 1M
done
{
  cat <<YAML
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: modules-libvirt}
state: {backend: file, path: $TMP/state/plan.state}
sources:
  kvm: {type: directory, path: $SRC}
targets:
  lab: {type: local, path: $OUT, uri: "test:///default"}
defaults: {target: lab, source: kvm}
flavors:
  medium: {vcpus: 2, ram_mb: 4096}
vms:
  - name: sized
    flavor: medium
    vcpus: 3
    ram_mb: 768
    disks:
      - {file: d0.qcow2}
  - name: small
    flavor: medium
    disks:
      - {file: d0.qcow2}
  - name: big
    disks:
YAML
  for i in $(seq 0 27); do echo "      - {file: d$i.qcow2}"; done
} >"$TMP/plan.yaml"
PLAN=$TMP/plan.yaml

ok "validate accepts the plan" "$FERRY" validate "$PLAN"
ok "apply --yes converges" "$FERRY" apply --yes --parallel 2 "$PLAN"
is "the VM's own vcpus win over the flavor's" \
  "$(grep -o '<vcpu>[0-9]*</vcpu>' "$OUT/sized.xml")" "<vcpu>3</vcpu>"
is "the VM's own ram_mb wins over the flavor's" \
  "$(grep -o "<memory unit='MiB'>[0-9]*</memory>" "$OUT/sized.xml")" "<memory unit='MiB'>768</memory>"
is "a VM without its own values takes the flavor's vcpus" \
  "$(grep -o '<vcpu>[0-9]*</vcpu>' "$OUT/small.xml")" "<vcpu>2</vcpu>"
is "... and ram" \
  "$(grep -o "<memory unit='MiB'>[0-9]*</memory>" "$OUT/small.xml")" "<memory unit='MiB'>4096</memory>"
XML=$OUT/big.xml
devs=$(grep -o "dev='vd[a-z]*'" "$XML" | sed "s/dev='//; s/'//")
want=$(printf 'vd%s\n' a b c d e f g h i j k l m n o p q r s t u v w x y z aa ab)
is "28 disks are named vda..vdz, vdaa, vdab" "$(echo $devs)" "$(echo $want)"
is "28 distinct disk names" "$(sort -u <<<"$devs" | wc -l)" 28
ok "libvirt accepts the 28-disk domain" virsh -q -c test:///default define "$XML"

out=$("$FERRY" plan --detailed-exitcode "$PLAN" 2>&1); rc=$?
is "converged: plan --detailed-exitcode → 0" "$rc" 0

# a fault the libvirt check hits: the domain XML's name is a directory
XML=$OUT/sized.xml
rm -f "$XML" && mkdir "$XML"
out=$("$FERRY" plan --detailed-exitcode "$PLAN" 2>&1); rc=$?
is "a check error: plan --detailed-exitcode → 1, not 2" "$rc" 1
ok "... the error names the step and the file" \
  grep -q "sized/define: cannot read '$XML'" <<<"$out"
out=$("$FERRY" apply --yes "$PLAN" 2>&1); rc=$?
is "apply with a check error → 1" "$rc" 1
ok "... the step is failed with the reason, not blocked" \
  grep -q "sized/define.*failed.*cannot read '$XML'" <<<"$out"

done_testing
