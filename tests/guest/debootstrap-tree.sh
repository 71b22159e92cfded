#!/bin/bash
# tests/guest/debootstrap-tree.sh — the cached Debian 12 tree that
# make-linux-bootable.sh installs on its disk; prints the tree's path.
#
# debootstrap takes ~8 min (network, mostly I/O), so the tree lives outside
# the clone in $FERRY_GUEST_CACHE/debootstrap-<key>, key = a hash of this
# recipe (suite, variant, packages, mirror); a rebuild of the image reuses
# it. Built under a flock into DIR.tmp and renamed when complete, so a build
# killed halfway is never taken for a tree. The tree is never changed after
# that: make-linux-bootable.sh configures a copy.
#
#   FERRY_DEBIAN_MIRROR  mirror URL (default: the first deb.debian.org-style
#                        URI of the host's apt sources, else deb.debian.org)
set -euo pipefail
: "${FERRY_GUEST_CACHE:=/var/tmp/ferry-guest-cache}"
SUITE=bookworm
VARIANT=minbase
PKGS=linux-image-amd64,grub-pc,lvm2,initramfs-tools,systemd-sysv,e2fsprogs,udev,kmod,ifupdown,iproute2,open-vm-tools
if [ -z "${FERRY_DEBIAN_MIRROR:-}" ]; then
  FERRY_DEBIAN_MIRROR=$(grep -hoE 'https?://[^ ]+/debian/?$' /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    head -1 || true)
  : "${FERRY_DEBIAN_MIRROR:=http://deb.debian.org/debian}"
fi
key=$(echo "$SUITE $VARIANT $PKGS $FERRY_DEBIAN_MIRROR" | sha256sum | cut -c1-16)
dir=$FERRY_GUEST_CACHE/debootstrap-$key
mkdir -p "$FERRY_GUEST_CACHE"
if [ ! -x "$dir/sbin/init" ]; then
  (
    flock 9
    if [ ! -x "$dir/sbin/init" ]; then
      rm -rf "$dir.tmp"
      debootstrap --variant=$VARIANT --include=$PKGS "$SUITE" "$dir.tmp" \
        "$FERRY_DEBIAN_MIRROR" >&2
      mv "$dir.tmp" "$dir"
    fi
  ) 9>"$FERRY_GUEST_CACHE/.debootstrap.lock"
fi
echo "$dir"
