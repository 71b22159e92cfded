#!/bin/bash
# The converter's I/O paths give the source's bytes: O_DIRECT writes with a
# buffered tail (a size that is not a multiple of 4 KiB), data extents that
# share a 4 KiB block with zeroes (512-byte VHD sectors), holes inside
# allocated VHD/VHDX blocks and raw files read as zeroes, and an existing
# target (not fresh) whose old bytes must all be overwritten or zeroed.
. "$(dirname "$0")/../lib.sh"
# one worker and small chunks: the chunk buffer is reused, stale bytes in it
# would show
CONV=("$FERRY" convert --parallel 1 --chunk-size 1M)
rnd() { openssl enc -aes-128-ctr -nosalt -pass pass:"$1" </dev/zero 2>/dev/null | head -c "$2"; }

# 9 MiB + 1536 bytes: random data, a hole, sector-sized data islands in zeroes
size=$(((9 << 20) + 1536))
truncate -s "$size" "$TMP/src.raw"
rnd a $((3 << 20)) | dd of="$TMP/src.raw" conv=notrunc status=none
for s in 9000 9003 9010 12001; do
  rnd "s$s" 512 | dd of="$TMP/src.raw" bs=512 seek=$s conv=notrunc status=none
done
rnd b $((1 << 20)) | dd of="$TMP/src.raw" bs=1K seek=$((7 << 10)) conv=notrunc status=none
rnd c 1536 | dd of="$TMP/src.raw" bs=512 seek=$(((9 << 11))) conv=notrunc status=none

ok "raw: odd size, into a file" "${CONV[@]}" "$TMP/src.raw" "$TMP/out.raw"
ok "raw: bytes equal" cmp "$TMP/src.raw" "$TMP/out.raw"
ok "raw: --direct" "${CONV[@]}" --direct "$TMP/src.raw" "$TMP/out2.raw"
ok "raw: --direct bytes equal" cmp "$TMP/src.raw" "$TMP/out2.raw"
for fmt in "vpc -o subformat=fixed" "vpc -o subformat=dynamic" "vhdx" "vmdk" "qcow2"; do
  name=${fmt// /_}
  # shellcheck disable=SC2086
  qemu-img convert -f raw -O $fmt "$TMP/src.raw" "$TMP/src.$name" 2>/dev/null
  ok "$name: convert" "${CONV[@]}" "$TMP/src.$name" "$TMP/out.$name.raw"
  ok "$name: same bytes as qemu-img" qemu-img compare -q -f "${fmt%% *}" -F raw \
    "$TMP/src.$name" "$TMP/out.$name.raw"
done

# an existing target full of old bytes, written over (resume from 0)
rnd old $((10 << 20)) >"$TMP/old.raw"
ok "existing target: convert over it" "${CONV[@]}" --resume-from 0 \
  "$TMP/src.raw" "$TMP/old.raw"
ok "existing target: the source's bytes, old ones gone" \
  cmp -n "$size" "$TMP/src.raw" "$TMP/old.raw"
done_testing
