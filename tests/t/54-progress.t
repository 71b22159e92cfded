#!/bin/bash
# Progress on long work: `ferry convert --progress` on a terminal updates
# its line while the conversion runs, also when chunks finish more often
# than the progress period (the workers wake the reporting thread at every
# chunk; the report must come by the clock, not by a quiet spell).
. "$(dirname "$0")/../lib.sh"
head -c $((16 << 20)) /dev/urandom >"$TMP/src.raw"
# 16 chunks of 1 MiB, one worker, 100 ms each: about 1.6 s, a chunk
# finishing every 0.1 s, well inside the 0.5 s progress period
out=$(FERRY_TEST_CHUNK_DELAY_MS=100 script -qec \
  "'$FERRY' convert --progress --parallel 1 --chunk-size 1M '$TMP/src.raw' '$TMP/out.raw'" \
  /dev/null | tr '\r' '\n'); rc=$?
is "convert --progress on a terminal: exit 0" "$rc" 0
n=$(grep -c '%' <<<"$out")
ok "the progress line is updated while it runs ($n updates, want >= 3)" test "$n" -ge 3
ok "... and ends at 100%" grep -q '100.0%' <<<"$out"
ok "the result equals the source" cmp "$TMP/src.raw" "$TMP/out.raw"
done_testing
