#!/bin/bash
# example-disks.sh DIR — make the source disks of plans/example-local.yaml:
# a VMware VM (VMDK monolithicSparse + streamOptimized), a Hyper-V VM
# (VHDX dynamic) and a KVM VM (qcow2), each with random data, text, zero
# runs and holes at known places.  Deterministic (seeded), idempotent.
set -eu   # no pipefail: "openssl | head" ends openssl with SIGPIPE by design
D=${1:?usage: example-disks.sh DIR}
mkdir -p "$D/vmware/web01" "$D/hyperv" "$D/kvm"

# raw_pattern OUT SIZE_MIB SEED: sparse raw file with data at a few places
raw_pattern() {
  local out=$1 size=$2 seed=$3
  rm -f "$out"; truncate -s "${size}M" "$out"
  # random MiB at the start (a "boot sector" and more)
  openssl enc -aes-128-ctr -nosalt -pass "pass:$seed" </dev/zero 2>/dev/null |
    head -c $((3 * 1048576)) | dd of="$out" conv=notrunc status=none
  # text-like data in the middle, crossing a 64 KiB boundary
  yes "ferry example $seed: the quick brown fox" | head -c 200000 |
    dd of="$out" bs=64K iflag=fullblock oflag=seek_bytes seek=$((size * 1048576 / 2 - 1000)) conv=notrunc status=none
  # an explicit run of zeroes (allocated but zero) and random data near the end
  dd if=/dev/zero of="$out" bs=64K count=4 seek=40 conv=notrunc status=none
  openssl enc -aes-128-ctr -nosalt -pass "pass:$seed-end" </dev/zero 2>/dev/null |
    head -c 777777 | dd of="$out" bs=64K iflag=fullblock oflag=seek_bytes seek=$((size * 1048576 - 900000)) conv=notrunc status=none
}

make_one() { # FMT OPTS OUT SIZE SEED
  local fmt=$1 opts=$2 out=$3 size=$4 seed=$5
  [ -s "$out" ] && return 0
  raw_pattern "$out.raw" "$size" "$seed"
  qemu-img convert -f raw -O "$fmt" ${opts:+-o "$opts"} "$out.raw" "$out"
  rm -f "$out.raw"
}

make_one vmdk subformat=monolithicSparse "$D/vmware/web01/web01.vmdk" 256 web01
make_one vmdk subformat=streamOptimized "$D/vmware/web01/web01_1.vmdk" 64 web01-data
make_one vhdx subformat=dynamic "$D/hyperv/db01.vhdx" 128 db01
make_one qcow2 compat=1.1 "$D/kvm/app01.qcow2" 128 app01
echo "example disks in $D"
