#!/bin/bash
# Start-up pays only for the libraries a command uses: librbd, librados,
# libvirt, libcurl, libguestfs, libxml2 (and hivex) are not linked but
# loaded on first use (src/util/dl.h).  A convert between files and a
# validate work with every one of them broken; a command that needs one
# fails with exit 1 naming the library, never a crash.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/example-lib.sh"

LAZY='librbd.so.1 librados.so.2 libvirt.so.0 libcurl.so.4 libguestfs.so.0 libxml2.so.2 libhivex.so.0'

# ---- the binary does not ask for them ----
needed=$(readelf -d "$FERRY" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
ok "ferry NEEDs some libraries (readelf works)" grep -q '^libc\.so' <<<"$needed"
for l in $LAZY; do
  ok "ferry does not NEED $l" sh -c '! grep -qx "$1" <<EOF
$2
EOF' _ "$l" "$needed"
done

# ---- broken copies of each (not ELF files) first on the search path ----
BAD=$TMP/badlibs
mkdir -p "$BAD"
for l in $LAZY; do echo "not a library" >"$BAD/$l"; done
broken() { LD_LIBRARY_PATH=$BAD "$@"; }

qemu-img create -q -f qcow2 "$TMP/src.qcow2" 4M
qemu-io -f qcow2 -c 'write -P 0x5a 1M 1M' "$TMP/src.qcow2" >/dev/null
ok "convert between files with every lazy library broken" \
  broken "$FERRY" convert "$TMP/src.qcow2" "$TMP/out.raw"
ok "... the output is qemu-img's" sh -c \
  'qemu-img convert -O raw "$1" "$2.oracle" && cmp "$2.oracle" "$2"' _ \
  "$TMP/src.qcow2" "$TMP/out.raw"
ok "validate with every lazy library broken" broken "$FERRY" validate "$PLAN"
ok "convert --help with every lazy library broken" \
  broken "$FERRY" convert --help

# ---- a command that needs one says which, exit 1 ----
fails_with "convert into rbd without librados: exit 1, naming it" 1 \
  "^ferry: error: librados\.so\.2 cannot be loaded: .*librados\.so\.2" \
  broken "$FERRY" convert "$TMP/src.qcow2" "rbd:rbd/img"
fails_with "apply onto libvirt without libvirt: exit 1, naming it" 1 \
  "libvirt\.so\.0 cannot be loaded" \
  broken "$FERRY" apply --yes "$PLAN"

done_testing
