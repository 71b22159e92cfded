#!/bin/bash
# tests/guest/to-vmdk.sh OUT IMG — IMG (raw) as a VMware streamOptimized VMDK
# (the form an ESXi export has), for guest_image: a VMDK of a cached raw
# image, keyed by the raw image's cached path (which holds its recipe's hash).
set -euo pipefail
OUT=${1:?usage: to-vmdk.sh OUT IMG}
IMG=${2:?usage: to-vmdk.sh OUT IMG}
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$IMG" "$OUT"
