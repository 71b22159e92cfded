#!/bin/sh
# seeds-journal.sh OUTDIR — a few journals (good, torn, garbage) to start
# the journal fuzzer from.
set -eu
D=${1:?usage: seeds-journal.sh OUTDIR}
mkdir -p "$D"
printf '%s\n' '{"time":"2026-11-23T20:41:00.000Z","time_ms":1,"step":"a/convert/disk0","event":"begin"}' \
  '{"time_ms":2,"step":"a/convert/disk0","event":"checkpoint","offset":1073741824}' \
  '{"time_ms":3,"step":"a/convert/disk0","event":"created","id":"file:/out/a-disk0.raw"}' \
  '{"time_ms":4,"step":"a/convert/disk0","event":"done"}' >"$D/good"
printf '%s\n%s' '{"time_ms":1,"step":"b","event":"fail","msg":"x"}' '{"time_ms":2,"step":"b","ev' >"$D/torn"
printf 'not json\n{}\n[1,2]\n{"step":"c","event":"nosuch","time_ms":1}\n' >"$D/garbage"
