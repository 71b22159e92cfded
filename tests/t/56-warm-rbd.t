#!/bin/bash
# Warm migration onto RBD images (issue 11), against the project's own
# single-node Ceph (tests/lab/ceph-start.sh): the base of a chain converted
# into an image, then `ferry convert --onto BASE DELTA rbd:...` writes only
# what the delta defines.  VMDK, qcow2 and VHDX (AVHDX) chains from
# tests/warm-lib.sh; the image equals the whole chain's bytes, the bytes
# written and zeroed are the delta's own; a layer not in the chain and a
# missing image are refused, the image untouched.  If Ceph cannot start the
# test fails.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/warm-lib.sh"
command -v qemu-io >/dev/null || { echo "1..1"; echo "not ok 1 - qemu-io (qemu-utils, scripts/install-deps) is installed"; exit 1; }
cd "$TMP" || exit 1
. "$TOP/tests/lab/ceph-test.sh"
R() { echo "rbd:rbd/$1:conf=$CEPH_CONF"; }
# export IMAGE FILE: the image's bytes
export_to() { rm -f "$2"; rbd export --no-progress "rbd/$1" "$2" >/dev/null 2>&1; }
# logged FILE CMD...: CMD's output into FILE (its tail shown on failure)
logged() {
  local f=$1
  shift
  "$@" >"$f" 2>&1 || { tail -20 "$f"; return 1; }
}
# onto_line OUT: "LAYER-BASENAME WRITTEN ZEROED" from convert --onto's line
onto_line() {
  sed -nE "s/.*onto '([^']*)': ([0-9]+) bytes written, ([0-9]+) bytes zeroed.*/\1 \2 \3/p" "$1" |
    tail -1 | { read -r l w z && echo "${l##*/} $w $z"; }
}

# chain FMT BASE TOP: the base converted into a new image, then the delta
# --onto the base; the image must equal the chain, the counts the delta's.
chain() {
  local fmt=$1 base=$2 top=$3 img=warm-$1 got
  mk_"$fmt"_chain "$TMP/$fmt"
  ok "$fmt: full convert of $base into rbd/$img" \
    "$FERRY" convert "$TMP/$fmt/$base" "$(R $img)"
  export_to $img "$TMP/$fmt/img.raw"
  ok "$fmt: the image holds the base" cmp "$TMP/$fmt/img.raw" "$TMP/$fmt/base.raw"
  ok "$fmt: convert --onto $base $top" logged "$TMP/$fmt/onto.out" \
    "$FERRY" convert --onto "$TMP/$fmt/$base" "$TMP/$fmt/$top" "$(R $img)"
  export_to $img "$TMP/$fmt/img.raw"
  ok "$fmt: rbd export equals the whole chain" cmp "$TMP/$fmt/img.raw" "$TMP/$fmt/chain.raw"
  got=$(onto_line "$TMP/$fmt/onto.out")
  if [ "$fmt" = vhdx ]; then
    # a sector-granular child: the 4 KiB blocks of the disk that hold its
    # sectors (whole blocks: see tests/t/55-warm.t), and its ZERO block
    read -r exact rounded zero <"$TMP/$fmt/top.counts"
    is "$fmt: wrote the 4 KiB blocks of the child's sectors ($exact bytes in $rounded), zeroed its ZERO block" \
      "$got" "$base $rounded $zero"
  else
    # whole grains/clusters, no all-zero 4 KiB block in them, a 12 KiB last
    # one: exact counts (tests/warm-lib.sh)
    read -r data zero <"$TMP/$fmt/top.counts"
    is "$fmt: wrote the delta's data ($data), zeroed its zero extents ($zero)" "$got" "$base $data $zero"
  fi
}
chain vmdk base.vmdk delta.vmdk
chain qcow2 base.qcow2 overlay.qcow2
chain vhdx base.vhdx delta.avhdx

# --onto the top itself: nothing above it, nothing written
cp "$TMP/vmdk/img.raw" before.raw
ok "--onto the top itself" logged self.out \
  "$FERRY" convert --onto "$TMP/vmdk/delta.vmdk" "$TMP/vmdk/delta.vmdk" "$(R warm-vmdk)"
is "--onto the top itself: nothing written or zeroed" "$(onto_line self.out)" "delta.vmdk 0 0"
export_to warm-vmdk after.raw
ok "--onto the top itself: the image is unchanged" cmp after.raw before.raw

# a layer not in the chain: another base of the same size
rand other.raw "$W_SIZE" other
qemu-img convert -q -f raw -O vmdk other.raw other.vmdk
fails_with "--onto a layer not in the chain: exit 1" 1 "is not in the chain of" \
  "$FERRY" convert --onto other.vmdk "$TMP/vmdk/delta.vmdk" "$(R warm-vmdk)"
export_to warm-vmdk after.raw
ok "... the image is unchanged" cmp after.raw before.raw
# the qcow2 chain's base under the vmdk delta
fails_with "--onto another chain's base: exit 1" 1 "is not in the chain of" \
  "$FERRY" convert --onto "$TMP/qcow2/base.qcow2" "$TMP/vmdk/delta.vmdk" "$(R warm-vmdk)"
export_to warm-vmdk after.raw
ok "... the image is unchanged" cmp after.raw before.raw
# a missing image: nothing to write onto
fails_with "--onto into a missing image: exit 1, the image named" 1 "nosuch" \
  "$FERRY" convert --onto "$TMP/vmdk/base.vmdk" "$TMP/vmdk/delta.vmdk" "$(R nosuch)"
ok "... and no image is created" sh -c '! rbd info rbd/nosuch >/dev/null 2>&1'
done_testing
