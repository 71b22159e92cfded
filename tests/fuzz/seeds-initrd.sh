#!/bin/sh
# seeds-initrd.sh OUTDIR — initramfs files to start the initrd fuzzer from:
# a plain newc cpio, an early-microcode cpio followed by a gzip'd one (as
# Debian builds them), and a truncated one.
set -eu
D=${1:?usage: seeds-initrd.sh OUTDIR}
mkdir -p "$D"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/a/lib/modules/6.1.0-1-amd64/kernel/drivers/block" "$t/a/kernel/x86/microcode"
echo x >"$t/a/lib/modules/6.1.0-1-amd64/kernel/drivers/block/virtio_blk.ko"
echo y >"$t/a/kernel/x86/microcode/GenuineIntel.bin"
(cd "$t/a" && find lib | cpio -o -H newc --quiet) >"$D/plain"
(cd "$t/a" && find kernel | cpio -o -H newc --quiet) >"$t/early"
(cd "$t/a" && find lib | cpio -o -H newc --quiet | gzip -c) >"$t/main.gz"
cat "$t/early" "$t/main.gz" >"$D/early-gzip"
head -c 300 "$D/plain" >"$D/truncated"
