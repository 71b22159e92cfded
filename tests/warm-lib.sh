# tests/warm-lib.sh — snapshot chains for the warm-migration tests
# (tests/t/55-warm.t, 56-warm-rbd.t); source it after lib.sh.
#
#   rand FILE SIZE [SEED]   SIZE pseudo-random bytes (no all-zero 4 KiB block)
#   mk_vmdk_chain DIR       DIR/base.vmdk (monolithicSparse) <- DIR/delta.vmdk
#   mk_qcow2_chain DIR      DIR/base.qcow2 <- DIR/overlay.qcow2
#   mk_vhdx_chain DIR       DIR/base.vhdx (dynamic) <- DIR/delta.avhdx
#       each also leaves DIR/base.raw (the base's bytes), DIR/chain.raw (the
#       whole chain's bytes) and DIR/top.counts: "DATA ZERO", the bytes the
#       top layer alone defines as data and as zero (see top_extents; for
#       VHDX from the writes themselves, see there)
#   top_extents IMAGE FMT   "DATA ZERO" of IMAGE's own layer (qemu-img map,
#                           depth 0)
#   delta_writes FMT IMAGE  the writes a VM makes into its snapshot (qemu-io)
#
# W_SIZE: the disk size, 64 MiB + 12 KiB: with 64 KiB grains/clusters the
# last one covers only 12 KiB of the disk.
PY=${PY:-/usr/bin/python3}
M=1048576
K=1024
W_SIZE=$((64 * M + 12 * K))

rand() {
  openssl enc -aes-128-ctr -nosalt -pass "pass:${3:-warm}" </dev/zero 2>/dev/null |
    head -c "$2" >"$1"
}

# top_extents IMAGE FMT: bytes IMAGE's own layer maps as data and as zero.
top_extents() {
  qemu-img map --output=json -f "$2" "$1" | $PY -c '
import json, sys
data = zero = 0
for e in json.load(sys.stdin):
    if e["depth"] != 0:
        continue
    if e["data"]:
        data += e["length"]
    elif e["zero"]:
        zero += e["length"]
print(data, zero)'
}

# delta_writes FMT IMAGE: what the VM writes while the snapshot is its top
# (64 KiB grains/clusters).  Data is a repeated non-zero byte; zero writes
# either cover whole grains (the delta marks them zero: VMDK zeroed grains,
# qcow2 zero clusters) or stay inside one 4 KiB block or straddle two
# halves, so that no allocated grain holds an all-zero 4 KiB block: the
# bytes the converter writes are exactly the delta's data extents, whatever
# it does with zero blocks inside data.
delta_writes() {
  qemu-io -f "$1" \
    -c "write -P 0x5a 1024 1536" \
    -c "write -P 0x6b $((M - 10 * K)) $((100 * K))" \
    -c "write -P 0x7c $((20 * M + 512)) $((M + 512))" \
    -c "write -z $((4 * M)) $((256 * K))" \
    -c "write -z $((8 * M + 1024)) 2048" \
    -c "write -z $((12 * M + 62 * K)) $((4 * K))" \
    -c "write -P 0x3e $((30 * M)) $((128 * K))" \
    -c "write -z $((30 * M)) $((64 * K))" \
    -c "write -P 0x8d $((64 * M + 4 * K + 512)) 2560" \
    "$2" >/dev/null
}

mk_vmdk_chain() {
  local d=$1
  mkdir -p "$d"
  rand "$d/base.raw" "$W_SIZE" vmdk
  qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse \
    "$d/base.raw" "$d/base.vmdk"
  # zeroed_grain: zero writes of whole grains become zeroed grains (GTE 1)
  qemu-img create -q -f vmdk -o zeroed_grain=on -b base.vmdk -F vmdk "$d/delta.vmdk"
  delta_writes vmdk "$d/delta.vmdk"
  qemu-img convert -O raw "$d/delta.vmdk" "$d/chain.raw"
  top_extents "$d/delta.vmdk" vmdk >"$d/top.counts"
}

mk_qcow2_chain() {
  local d=$1
  mkdir -p "$d"
  rand "$d/base.raw" "$W_SIZE" qcow2
  qemu-img convert -q -f raw -O qcow2 "$d/base.raw" "$d/base.qcow2"
  qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 "$d/overlay.qcow2"
  delta_writes qcow2 "$d/overlay.qcow2"
  qemu-img convert -O raw "$d/overlay.qcow2" "$d/chain.raw"
  top_extents "$d/overlay.qcow2" qcow2 >"$d/top.counts"
}

# VHDX: qemu-img writes the dynamic base but cannot write (nor read) a
# differencing child; tests/gen/vhdtool.py writes it.  Writes are sector
# aligned but not 4 KiB aligned, so the child's sector bitmaps, not whole
# blocks, say what it defines.  The reference chain.raw is the base with the
# same writes applied by dd.  top.counts: "EXACT ROUNDED ZERO": the bytes of
# the writes, the same rounded out to the 4 KiB blocks of the disk they
# touch, and the bytes of the blocks marked ZERO.
mk_vhdx_chain() {
  local d=$1 w off len
  mkdir -p "$d"
  rand "$d/base.raw" "$W_SIZE" vhdx
  qemu-img convert -q -f raw -O vhdx -o subformat=dynamic,block_size=1M \
    "$d/base.raw" "$d/base.vhdx"
  cp "$d/base.raw" "$d/chain.raw"
  local writes="1024:1536 $((M - 512)):$((3 * K)) $((20 * M + 512)):$((M + 512)) $((64 * M + 4 * K + 512)):2560"
  local args=() i=0
  for w in $writes; do
    off=${w%%:*} len=${w#*:} i=$((i + 1))
    head -c "$len" /dev/zero | tr '\0' "\\$((200 + i))" >"$d/w$i"
    dd if="$d/w$i" of="$d/chain.raw" bs=512 seek=$((off / 512)) conv=notrunc status=none
    args+=(--write "$off:$d/w$i")
  done
  # a ZERO block hiding the parent's data
  args+=(--zero $((6 * M)):$M)
  dd if=/dev/zero of="$d/chain.raw" bs=$M seek=6 count=1 conv=notrunc status=none
  $PY "$TOP/tests/gen/vhdtool.py" diff-vhdx "$d/base.vhdx" "$d/delta.avhdx" "${args[@]}"
  $PY - "$W_SIZE" $writes >"$d/top.counts" <<'PY'
import sys
size = int(sys.argv[1])
exact, blocks = 0, set()
for w in sys.argv[2:]:
    off, length = map(int, w.split(":"))
    exact += length
    blocks.update(range(off // 4096, (off + length + 4095) // 4096))
rounded = sum(min(4096, size - b * 4096) for b in blocks)
print(exact, rounded, 1 << 20)
PY
}
