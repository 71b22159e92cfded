#!/bin/bash
# ferry convert killed with -9 at several moments, resumed with
# --resume-from the last checkpoint it printed: the result equals
# qemu-img's conversion and the source is untouched.
. "$(dirname "$0")/../lib.sh"
# 256 MiB qcow2 (compressed clusters: inflate work) with data and holes
openssl enc -aes-128-ctr -nosalt -pass pass:resume </dev/zero 2>/dev/null |
  head -c $((96 << 20)) >"$TMP/data"
truncate -s 256M "$TMP/src.raw"
dd if="$TMP/data" of="$TMP/src.raw" conv=notrunc status=none
dd if="$TMP/data" of="$TMP/src.raw" bs=1M seek=150 count=60 conv=notrunc status=none
yes "compressible text" | head -c $((40 << 20)) | dd of="$TMP/src.raw" bs=1M seek=100 conv=notrunc status=none iflag=fullblock
qemu-img convert -c -f raw -O qcow2 "$TMP/src.raw" "$TMP/src.qcow2"
qemu-img convert -O raw "$TMP/src.qcow2" "$TMP/expect.raw"
sum_before=$(sha256sum "$TMP/src.qcow2"; stat -c %Y "$TMP/src.qcow2")
CONV=("$FERRY" convert --parallel 2 --chunk-size 1M --checkpoint-interval 8M)

t0=$(date +%s.%N); "${CONV[@]}" "$TMP/src.qcow2" "$TMP/full.raw" 2>/dev/null; t1=$(date +%s.%N)
dur=$(awk -v a="$t0" -v b="$t1" 'BEGIN{d=b-a; if (d<0.05) d=0.05; print d}')
ok "uninterrupted convert equals qemu-img" cmp "$TMP/expect.raw" "$TMP/full.raw"
echo "# one convert takes ${dur}s"
resumed=0
for i in 1 2 3 4 5 6 7 8; do
  rm -f "$TMP/out.raw"
  delay=$(awk -v d="$dur" -v i="$i" 'BEGIN{printf "%.3f", d*i/9}')
  "${CONV[@]}" "$TMP/src.qcow2" "$TMP/out.raw" 2>"$TMP/err" & pid=$!
  sleep "$delay"; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  off=$(grep -o 'checkpoint [0-9]*' "$TMP/err" | tail -1 | awk '{print $2}')
  if [ -n "$off" ] && [ "$off" -lt $((256 << 20)) ]; then
    resumed=$((resumed + 1))
    # scribble garbage past the checkpoint: resume must not trust it
    dd if=/dev/urandom of="$TMP/out.raw" bs=1M seek=$((off >> 20)) count=4 conv=notrunc status=none 2>/dev/null
    ok "kill at ${delay}s, resume from $off" "${CONV[@]}" --resume-from "$off" "$TMP/src.qcow2" "$TMP/out.raw"
  else
    ok "kill at ${delay}s, no checkpoint yet: convert again" "${CONV[@]}" "$TMP/src.qcow2" "$TMP/out.raw"
  fi
  ok "... result equals qemu-img" cmp "$TMP/expect.raw" "$TMP/out.raw"
done
ok "at least one run resumed mid-disk" test "$resumed" -gt 0
is "source untouched (bytes, mtime)" "$(sha256sum "$TMP/src.qcow2"; stat -c %Y "$TMP/src.qcow2")" "$sum_before"
out=$("$FERRY" convert --checksum "$TMP/src.qcow2" "$TMP/sum.raw" 2>/dev/null)
is "--checksum is the SHA-256 of the virtual disk" "${out%% *} $(echo "$out" | awk '{print $2}')" "sha256 $(sha256sum <"$TMP/expect.raw" | awk '{print $1}')"
done_testing
