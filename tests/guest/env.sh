# tests/guest/env.sh — source it in a guest test (tests/t/8*-guest-*.t).
#
# Sets up what every libguestfs test needs, once per machine, outside the
# clone (so a fresh clone in CI reuses it; rebuilt when absent):
#
#   LIBGUESTFS_PATH  a fixed appliance (libguestfs-make-fixed-appliance),
#                    keyed by the libguestfs and kernel package versions:
#                    apt installs invalidate supermin's cache, a fixed
#                    appliance makes the tests independent of that churn
#   LIBGUESTFS_BACKEND_SETTINGS=force_tcg  (../shared/lab/guests/README.md:
#                    a /dev/kvm may open yet abort every guest)
#   FERRY_GUEST_CACHE  the directory of cached test images
#
# guest_image NAME SCRIPT [ARGS...]: the path of a cached image that
# SCRIPT ARGS... builds (SCRIPT OUT ARGS...), keyed by a hash of SCRIPT's
# text, ARGS and the files named in $GUEST_DEPS (space-separated: what the
# script uses, e.g. tests/guest/mkhive.c); built
# (under a lock, so parallel tests build it once) when absent.
# Tests copy it (cp --sparse=always) before changing it.
#
# Both locks are flock(1)s, so a test killed mid-build leaves no stale lock
# and a half-built result never gets its final name.
set -u
GUEST_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${FERRY_GUEST_CACHE:=/var/tmp/ferry-guest-cache}"
export FERRY_GUEST_CACHE
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
mkdir -p "$FERRY_GUEST_CACHE" || exit 1

guest_appliance() {
  local key dir
  key=$( (dpkg-query -W -f='${Package}=${Version}\n' libguestfs0 libguestfs-xfs supermin \
            'linux-image-*' 2>/dev/null | sort; uname -r) | sha256sum | cut -c1-16)
  dir=$FERRY_GUEST_CACHE/appliance-$key
  if [ ! -e "$dir/README.fixed" ]; then
    (
      flock 9
      if [ ! -e "$dir/README.fixed" ]; then
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" &&
          libguestfs-make-fixed-appliance "$dir.tmp" >"$dir.log" 2>&1 &&
          rm -rf "$dir" && mv "$dir.tmp" "$dir"
      fi
    ) 9>"$FERRY_GUEST_CACHE/.appliance.lock"
  fi
  [ -e "$dir/README.fixed" ] || { echo "guest env: fixed appliance failed (see $dir.log)" >&2; return 1; }
  export LIBGUESTFS_PATH=$dir
}

guest_image() {
  local name=$1 script=$2 key out
  shift 2
  # shellcheck disable=SC2086
  key=$( (cat "$script" ${GUEST_DEPS:-}; echo "$*") |
           sha256sum | cut -c1-16)
  out=$FERRY_GUEST_CACHE/$name-$key
  if [ ! -e "$out.done" ]; then
    (
      flock 9
      if [ ! -e "$out.done" ]; then
        rm -f "$out" "$out.tmp" &&
          "$script" "$out.tmp" "$@" >"$out.log" 2>&1 &&
          mv "$out.tmp" "$out" && touch "$out.done"
      fi
    ) 9>"$FERRY_GUEST_CACHE/.$name.lock"
  fi
  [ -e "$out.done" ] || { echo "guest env: building $name failed (see $out.log)" >&2; return 1; }
  echo "$out"
}

guest_appliance || exit 1
