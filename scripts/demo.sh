#!/bin/bash
# make demo: generate the example's source disks, then `ferry plan` and
# `ferry apply --yes` on plans/example-local.yaml, and show the results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/gen/example-disks.sh build/example/sources
echo; echo "== ferry plan plans/example-local.yaml"
./ferry plan plans/example-local.yaml || true
echo; echo "== ferry apply --yes plans/example-local.yaml"
./ferry apply --yes plans/example-local.yaml
echo; echo "== results"
ls -ls build/example/out
for f in build/example/out/*.raw; do
  vm=$(basename "$f" .raw); src=""
  case $vm in
    db01-disk0) src=build/example/sources/hyperv/db01.vhdx;;
    web01-disk0) src=build/example/sources/vmware/web01/web01.vmdk;;
    web01-disk1) src=build/example/sources/vmware/web01/web01_1.vmdk;;
    app01-disk0) src=build/example/sources/kvm/app01.qcow2;;
  esac
  [ -n "$src" ] && qemu-img compare -q "$src" "$f" && echo "$f == $src (qemu-img compare)"
done
echo
echo "Migrated disks and libvirt domain XML: build/example/out/"
echo "Journal: build/example/state/example-local.state;  ferry status plans/example-local.yaml"
