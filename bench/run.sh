#!/bin/bash
# make bench: the plan engine at scale, then the disk converter against
# qemu-img and nbdcopy (bench/convert.sh), then ferry onto the OpenStack
# lab (bench/openstack.sh; BENCH_OS=0 skips it), then KVM->KVM live and cold
# migration against virsh/qemu-img on the libvirt lab (bench/libvirt.sh;
# BENCH_LV=0 skips it).  BENCH_SIZE=1G for a quick run.
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
if [ "${BENCH_OS:-1}" != 0 ]; then
  echo; echo "== OpenStack target (the lab of tests/lab)"
  bash bench/openstack.sh
fi
if [ "${BENCH_LV:-1}" != 0 ]; then
  echo; echo "== KVM to KVM (the libvirt lab of tests/lab)"
  bash bench/libvirt.sh
fi
if [ "${BENCH_GUEST:-0}" = 1 ]; then
  echo; echo "== guest steps against virt-v2v (a real Debian 12 under TCG)"
  bash bench/guest.sh
fi
