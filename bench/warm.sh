#!/bin/bash
# bench/warm.sh — warm migration: the cutover copy against a full copy.
#
# A base disk (BENCH_WARM_SIZE virtual, ~30% allocated in 64 KiB..16 MiB
# extents of random and text-like data; fixed seed), generated once into
# $FERRY_BENCH_DIR and converted by qemu-img into each format of
# BENCH_WARM_FORMATS (VMDK monolithicSparse, qcow2), and on it one delta per
# BENCH_WARM_DELTAS percentage (a VMDK delta / qcow2 overlay over the base,
# made by qemu-io: random writes of 4 KiB..512 KiB at 4 KiB-aligned offsets,
# so many cross a grain or cluster, 5% of them zero writes, until the grains
# or clusters touched cover that share of the disk).  Per format and delta,
# BENCH_WARM_RUNS interleaved runs, page cache dropped before each timed
# run (when root), every output into tmpfs:
#
#   full:     ferry convert DELTA OUT (the whole chain, what a cold
#             migration of the VM copies while it is down)
#   qemu-img: qemu-img convert -O raw DELTA OUT (the same, for reference)
#   precopy:  ferry convert BASE OUT (what --phase precopy copies while the
#             VM runs; timed, but not downtime)
#   cutover:  ferry convert --onto BASE DELTA OUT right after that precopy
#             (what --phase cutover copies while the VM is down)
#
# and prints the medians, the ratio cutover/full and the bytes the cutover
# wrote and zeroed (from its `onto '…': W bytes written, Z bytes zeroed`
# line).  The first run of each kind is compared with the chain
# (qemu-img compare): a fast wrong answer is no answer.  A tool that fails
# shows as "error" with the first line of its stderr.  Env:
#   BENCH_WARM_SIZE=8G  BENCH_WARM_RUNS=3  BENCH_WARM_DELTAS="1 10"
#   BENCH_WARM_FORMATS="vmdk qcow2"  BENCH_WARM_TIMEOUT=900 (s per run)
#   FERRY_BENCH_DIR=/var/tmp/ferry-bench  BENCH_SHM=/dev/shm  FERRY=./ferry
# bench/run.sh runs it unless BENCH_WARM=0.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
SIZE=${BENCH_WARM_SIZE:-8G}
RUNS=${BENCH_WARM_RUNS:-3}
DELTAS=${BENCH_WARM_DELTAS:-1 10}
FORMATS=${BENCH_WARM_FORMATS:-vmdk qcow2}
TIMEOUT=${BENCH_WARM_TIMEOUT:-900}
DIR=${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}
SHM=${BENCH_SHM:-/dev/shm}
SEED=20261205
GEN_VERSION=1
PY=/usr/bin/python3
TIME=/usr/bin/time

die() { echo "bench/warm.sh: $*" >&2; exit 1; }
for t in qemu-img qemu-io timeout numfmt; do
  command -v "$t" >/dev/null || die "'$t' is not installed"
done
[ -x "$TIME" ] || die "GNU time is not installed (Debian package 'time')"
[ -x "$FERRY" ] || die "'$FERRY' is not built (make)"
[ -x "$PY" ] || die "/usr/bin/python3 is not installed"
for f in $FORMATS; do
  case $f in vmdk | qcow2) ;; *) die "unknown format '$f' in BENCH_WARM_FORMATS (vmdk, qcow2)" ;; esac
done
for p in $DELTAS; do
  [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 50 ] ||
    die "bad delta '$p' in BENCH_WARM_DELTAS (a percentage, 1-50)"
done
SIZE_B=$(numfmt --from=iec "${SIZE%B}" 2>/dev/null) || die "bad size '$SIZE'"
[ $((SIZE_B % (1 << 20))) = 0 ] && [ "$SIZE_B" -ge $((64 << 20)) ] ||
  die "BENCH_WARM_SIZE must be a whole number of MiB, at least 64M"
mkdir -p "$DIR" || die "cannot create '$DIR'"
WORK=$(mktemp -d "$DIR/warm.XXXXXX") || die "cannot create a scratch dir"
OUT="$SHM/ferry-bench-warm.$$.raw"
CHILD="" # the running tool's `timeout`
trap '[ -z "$CHILD" ] || { kill -TERM "$CHILD"; wait "$CHILD"; } 2>/dev/null
  rm -rf "$WORK" "$OUT"' EXIT
trap 'exit 130' INT TERM
# a private copy: a rebuild of ./ferry during the bench must not change it
cp "$FERRY" "$WORK/ferry" || die "cannot copy '$FERRY'"
FERRY=$WORK/ferry
echo "ferry $(git -C "$TOP" describe --always --dirty 2>/dev/null || echo '?')," \
  "$(qemu-img --version | head -1), $(nproc) CPUs"

# --- the disks --------------------------------------------------------------

# gen_raw PATH BYTES: the base disk (bench/gen-disk.py): extents of
# 64 KiB..16 MiB; 30% of them random (incompressible) or text-like data, the
# rest holes.  Prints the allocated bytes.
gen_raw() {
  "$PY" "$TOP/bench/gen-disk.py" "$1" "$2" "$SEED" random:0.2,text:0.1,hole:0.7
}

# delta_cmds BYTES PERCENT SEED: qemu-io commands writing at random until
# the 64 KiB units (VMDK grains, qcow2 clusters) they touch cover PERCENT%
# of the disk.  Writes of 4 KiB..512 KiB at 4 KiB-aligned offsets (many
# cross a unit and leave it partly the base's), every 20th a zero write;
# the pattern byte changes with every write.
delta_cmds() {
  "$PY" - "$1" "$2" "$3" <<'EOF'
import random, sys
size, pct, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
unit = 64 << 10
want = size * pct // 100 // unit
touched = set()
i = 0
while len(touched) < want:
    n = 4096 * rng.choice([1, 2, 3, 8, 16, 31, 64, 128])
    off = rng.randrange(0, (size - n) // 4096 + 1) * 4096
    i += 1
    if i % 20 == 0:
        print("write -z %d %d" % (off, n))
    else:
        print("write -P %d %d %d" % (1 + i % 255, off, n))
    touched.update(range(off // unit, (off + n - 1) // unit + 1))
EOF
}

# top_alloc IMAGE FORMAT: bytes the top of the chain defines (data or zero)
top_alloc() {
  qemu-img map --output=json -f "$2" "$1" | "$PY" -c '
import json, sys
print(sum(e["length"] for e in json.load(sys.stdin)
          if e["depth"] == 0 and e["present"]))'
}

BASE="$DIR/warm-$SIZE_B"
STAMP="$BASE.gen$GEN_VERSION.seed$SEED"
if [ ! -f "$STAMP" ] || [ ! -f "$BASE.raw" ]; then
  echo "generating the base disk: $SIZE virtual, seed $SEED -> $BASE.raw"
  rm -f "$BASE".*
  start=$(date +%s)
  gen_raw "$BASE.raw" "$SIZE_B" >"$STAMP.tmp" || die "generation failed"
  mv "$STAMP.tmp" "$STAMP"
  echo "  done in $(($(date +%s) - start)) s"
fi
ALLOC=$(cat "$STAMP")
for f in $FORMATS; do
  base="$BASE.base.$f"
  if [ ! -f "$base" ]; then
    echo "converting the base to $f -> $base"
    qemu-img convert -f raw -O "$f" "$BASE.raw" "$base.tmp" &&
      mv "$base.tmp" "$base" || die "qemu-img convert to $f failed"
  fi
  for p in $DELTAS; do
    delta="$BASE.d$p.$f"
    [ -f "$delta" ] && continue
    echo "writing the ${p}% delta over the $f base -> $delta"
    # the overlay names its parent by its file name: both in $DIR
    qemu-img create -q -f "$f" -b "$(basename "$base")" -F "$f" "$delta.tmp" ||
      die "cannot create the $f delta"
    delta_cmds "$SIZE_B" "$p" $((SEED + p)) >"$WORK/cmds" || die "delta_cmds failed"
    qemu-io -f "$f" "$delta.tmp" <"$WORK/cmds" >"$WORK/qemu-io.out" 2>&1 ||
      die "qemu-io failed: $(tail -1 "$WORK/qemu-io.out")"
    ! grep -qiE 'error|fail' "$WORK/qemu-io.out" ||
      die "qemu-io: $(grep -m1 -iE 'error|fail' "$WORK/qemu-io.out")"
    # qemu-img create wrote the parent name with the .tmp's directory: the
    # same directory, so the rename keeps the chain
    mv "$delta.tmp" "$delta" || die "cannot rename '$delta.tmp'"
  done
done
echo "base: $SIZE virtual ($SIZE_B bytes), $((ALLOC >> 20)) MiB allocated" \
  "($((ALLOC * 100 / SIZE_B))%); deltas: ${DELTAS// /%, }% of the disk;" \
  "$RUNS runs each, interleaved, into $SHM"

DROP=0
if [ "$(id -u)" = 0 ] && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
  DROP=1
else
  echo "note: not root or /proc/sys/vm/drop_caches not writable:" \
    "the page cache is NOT dropped between runs (warm-cache numbers)"
fi
drop_caches() {
  sync
  [ "$DROP" = 1 ] && echo 3 >/proc/sys/vm/drop_caches
  return 0
}

# --- running and timing -----------------------------------------------------

# run_tool KIND FORMAT BASE DELTA OUT: one copy
run_tool() {
  local kind=$1 fmt=$2 base=$3 delta=$4 out=$5
  case $kind in
    full) "$FERRY" convert "$delta" "$out" ;;
    qemu-img) qemu-img convert -f "$fmt" -O raw "$delta" "$out" ;;
    precopy) "$FERRY" convert "$base" "$out" ;;
    cutover) "$FERRY" convert --onto "$base" "$delta" "$out" ;;
  esac
}

# timed KEY KIND FORMAT BASE DELTA: one run of KIND into $OUT; appends
# "seconds rss_kib" to $WORK/KEY.times (the cutover's stderr to
# $WORK/KEY.log), or the error to $WORK/KEY.err.  Every kind but cutover
# starts from no output file; the cutover runs onto what precopy left.
timed() {
  local key=$1 kind=$2 fmt=$3 base=$4 delta=$5 t0 t1 rc ref
  [ -f "$WORK/$key.err" ] && return 0 # failed before: don't retry
  [ "$kind" = cutover ] || rm -f "$OUT"
  drop_caches
  export -f run_tool
  export FERRY
  t0=$(date +%s.%N)
  # in the background: a signal to the bench is handled at once
  timeout "$TIMEOUT" "$TIME" -f '%M' -o "$WORK/rss" \
    bash -c 'run_tool "$@"' _ "$kind" "$fmt" "$base" "$delta" "$OUT" \
    >"$WORK/out" 2>"$WORK/stderr" &
  CHILD=$!
  wait "$CHILD"
  rc=$?
  CHILD=""
  t1=$(date +%s.%N)
  if [ "$rc" != 0 ]; then
    { [ "$rc" = 124 ] && echo "timed out after ${TIMEOUT}s" ||
        grep -v '^Command exited' "$WORK/stderr" | head -1 |
        grep . || echo "exit status $rc"; } >"$WORK/$key.err"
    return 0
  fi
  # the first run of each kind is checked against its source chain
  if [ "$kind" = precopy ]; then ref=$base; else ref=$delta; fi
  if [ ! -f "$WORK/$key.times" ] &&
    ! qemu-img compare -q -f raw -F "$fmt" "$OUT" "$ref" 2>/dev/null; then
    echo "output differs from '$(basename "$ref")'" >"$WORK/$key.err"
    return 0
  fi
  [ "$kind" != cutover ] || cat "$WORK/stderr" >>"$WORK/$key.log"
  echo "$t0 $t1 $(tail -1 "$WORK/rss")" |
    awk '{ printf "%.3f %d\n", $2 - $1, $3 }' >>"$WORK/$key.times"
}

# med KEY: the median seconds of KEY's runs, or nothing
med() {
  [ -s "$WORK/$1.times" ] || return 0
  sort -n "$WORK/$1.times" | awk '{ t[NR] = $1 }
    END { printf "%.3f\n", NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'
}
# onto KEY: "written zeroed" bytes of the last cutover run of KEY
onto() {
  [ -s "$WORK/$1.log" ] || return 0
  sed -n "s/.*onto '.*': \([0-9]*\) bytes written, \([0-9]*\) bytes zeroed.*/\1 \2/p" \
    "$WORK/$1.log" | tail -1
}

for f in $FORMATS; do
  for p in $DELTAS; do
    echo "running: $f, ${p}% delta" >&2
    for _ in $(seq 1 "$RUNS"); do
      timed "$f.$p.full" full "$f" "$BASE.base.$f" "$BASE.d$p.$f"
      timed "$f.$p.qemu-img" qemu-img "$f" "$BASE.base.$f" "$BASE.d$p.$f"
      timed "$f.$p.precopy" precopy "$f" "$BASE.base.$f" "$BASE.d$p.$f"
      if [ -f "$WORK/$f.$p.precopy.err" ]; then
        echo "no precopy" >"$WORK/$f.$p.cutover.err"
      else
        timed "$f.$p.cutover" cutover "$f" "$BASE.base.$f" "$BASE.d$p.$f"
      fi
    done
    rm -f "$OUT"
  done
done

# --- the table --------------------------------------------------------------

echo
echo "== warm migration: cutover vs full copy ($SIZE virtual, base $((ALLOC >> 20)) MiB allocated), into tmpfs, median of $RUNS"
printf '%-6s %6s %10s %8s %10s %10s %10s %13s %12s %11s\n' format delta delta_MiB \
  full_s qemu-img_s precopy_s cutover_s cutover/full written_MiB zeroed_MiB
errs=""
for f in $FORMATS; do
  for p in $DELTAS; do
    k="$f.$p"
    cols=()
    for kind in full qemu-img precopy cutover; do
      s=$(med "$k.$kind")
      if [ -z "$s" ]; then
        s=error
        [ -f "$WORK/$k.$kind.err" ] && errs+="  $f ${p}%/$kind: $(cat "$WORK/$k.$kind.err")"$'\n'
      fi
      cols+=("$s")
    done
    ratio=- wr=- zr=-
    if [[ ${cols[0]} != error && ${cols[3]} != error ]]; then
      ratio=$(awk "BEGIN{printf \"%.3f\", ${cols[3]} / ${cols[0]}}")
    fi
    read -r w z <<<"$(onto "$k.cutover")"
    if [ -n "${w:-}" ]; then
      wr=$(awk "BEGIN{printf \"%.1f\", $w / 1048576}")
      zr=$(awk "BEGIN{printf \"%.1f\", $z / 1048576}")
    fi
    da=$(top_alloc "$BASE.d$p.$f" "$f")
    printf '%-6s %5s%% %10.1f %8s %10s %10s %10s %13s %12s %11s\n' "$f" "$p" \
      "$(awk "BEGIN{print $da / 1048576}")" "${cols[@]}" "$ratio" "$wr" "$zr"
  done
done
[ -z "$errs" ] || printf 'errors:\n%s' "$errs"
echo "delta_MiB: what the delta defines (qemu-img map, depth 0: grains or clusters, data or zero);"
echo "written/zeroed: what the cutover wrote onto the precopied base (ferry's onto line)"
exit 0
