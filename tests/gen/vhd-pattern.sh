#!/bin/bash
# vhd-pattern.sh FILE: a known-pattern raw disk for the VHD/VHDX tests:
# random data, an explicit zero run, a hole, data crossing 1/2/32 MiB block
# boundaries, and a tail that is not a multiple of any block size.
set -eu
f=$1
M=1048576
rm -f "$f"
truncate -s $((37 * M + 7 * 512)) "$f"
put() { head -c "$2" /dev/urandom | dd of="$f" bs=4096 seek="$1" oflag=seek_bytes conv=notrunc status=none; }
put 0 $M                                   # data at the start
dd if=/dev/zero of="$f" bs=$M seek=1 count=2 conv=notrunc status=none  # zero run
# 3..6 MiB: hole
put $((6 * M - 100 * 1024)) $((2 * M + 200 * 1024))  # crosses 6M and 8M
put $((15 * M + 512)) 4096                 # small unaligned-to-block piece
put $((32 * M - 4096)) 8192                # crosses the 32 MiB block boundary
put $((37 * M)) $((7 * 512))               # odd tail
