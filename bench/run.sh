#!/bin/bash
# make bench: the plan engine at scale, then the disk converter against
# qemu-img and nbdcopy (bench/convert.sh; and at 256M/1G/4G, three data
# kinds, cold and warm: bench/convert-matrix.sh, BENCH_MATRIX=0 skips it),
# then ferry onto the OpenStack
# lab (bench/openstack.sh; BENCH_OS=0 skips it), then KVM->KVM live and cold
# migration against virsh/qemu-img on the libvirt lab (bench/libvirt.sh;
# BENCH_LV=0 skips it), then warm migration's cutover against a full copy
# (bench/warm.sh; BENCH_WARM=0 skips it), then a wave of VMs by 1-3
# workers against the VM list split by hand, state in a file and in RADOS
# (bench/workers.sh; BENCH_WORKERS=0 skips it).  BENCH_SIZE=1G for a quick run
# (BENCH_WARM_SIZE for bench/warm.sh).
# BENCH_GUEST=1 adds ferry's guest steps against virt-v2v (bench/guest.sh,
# ~20 min under TCG).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== plan engine at scale"
bash bench/plan-scale.sh
if [ -x bench/convert.sh ] || [ -f bench/convert.sh ]; then
  echo; echo "== disk conversion"
  bash bench/convert.sh
fi
if [ "${BENCH_MATRIX:-1}" != 0 ]; then
  echo; echo "== disk conversion at every size, data kind, format and cache state"
  bash bench/convert-matrix.sh
fi
if [ "${BENCH_OS:-1}" != 0 ]; then
  echo; echo "== OpenStack target (the lab of tests/lab)"
  bash bench/openstack.sh
fi
if [ "${BENCH_LV:-1}" != 0 ]; then
  echo; echo "== KVM to KVM (the libvirt lab of tests/lab)"
  bash bench/libvirt.sh
fi
if [ "${BENCH_WARM:-1}" != 0 ]; then
  echo; echo "== warm migration: cutover vs full copy"
  bash bench/warm.sh
fi
if [ "${BENCH_WORKERS:-1}" != 0 ]; then
  echo; echo "== several workers on one plan (apply --worker; a Ceph lab of its own)"
  bash bench/workers.sh
fi
if [ "${BENCH_GUEST:-0}" = 1 ]; then
  echo; echo "== guest steps against virt-v2v (a real Debian 12 under TCG)"
  bash bench/guest.sh
fi
