#!/bin/bash
# make bench: the plan engine at scale, then the disk converter against
# qemu-img and nbdcopy (bench/convert.sh), then ferry onto the OpenStack
# lab (bench/openstack.sh; BENCH_OS=0 skips it).  BENCH_SIZE=1G for a quick run.
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
