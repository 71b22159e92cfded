#!/bin/bash
# bench/convert-matrix.sh — ferry convert at every size, data kind, format
# and cache state, against the tools a user would pick instead, into tmpfs;
# and the start-up of a command against qemu-img's.
#
# Disks: BENCH_MATRIX_SIZES virtual (default "256M 1G 4G"), ~30 % allocated
# in 64 KiB-16 MiB extents (fixed seeds), in three kinds of data
# (BENCH_MATRIX_DATA, default "mix random text"):
#   mix     allocated extents random (incompressible), text-like (~4x) or
#           allocated zeroes, 40/40/20
#   random  every allocated extent random
#   text    every allocated extent text-like
# converted by qemu-img into each format (BENCH_MATRIX_FORMATS, default
# "raw vmdk-sparse vmdk-stream vhdx qcow2").  Per cell, BENCH_MATRIX_RUNS
# (3) interleaved runs of every tool, first with the page cache dropped
# before each run (cold), then without (warm: the source is cached):
#   ferry           ferry convert SRC OUT
#   qemu-img        qemu-img convert -O raw
#   qemu-img-m16W   qemu-img convert -m 16 -W -O raw
#   nbdcopy         nbdcopy from qemu-nbd -r
#   qemu-img-C      qemu-img convert -C (copy offloading; raw only)
#   cp              not a converter: cp --sparse=always of the raw image that
#                   holds the same data, in the same cache state: the cost of
#                   reading the data once and writing it into the target with
#                   a plain tool, the yardstick for "how much faster can a
#                   converter be" (ferry/cp and qemu-img/cp are printed)
# Each tool's first output per cell is compared with the source (qemu-img
# compare): a wrong answer shows as "wrong".  Printed per cell: medians, peak
# RSS of ferry, ferry/qemu-img, ferry/best peer (cp is no peer), ferry/cp and
# qemu-img/cp.
#
# Then, per source file, the time to read it from disk with nothing else to
# do (`cat SRC >/dev/null`, page cache dropped before, median of RUNS): the
# floor of a cold conversion, which has to read the file too.
#
# Env: BENCH_MATRIX_SIZES, BENCH_MATRIX_DATA, BENCH_MATRIX_FORMATS,
# BENCH_MATRIX_RUNS=3, BENCH_MATRIX_CACHE="cold warm", FERRY_BENCH_DIR
# (/var/tmp/ferry-bench: the images, kept between runs), BENCH_SHM=/dev/shm,
# BENCH_MATRIX_PARTS="convert read startup" (the parts to run),
# BENCH_MATRIX_CELLS="SIZE:DATA:FORMAT:CACHE ..." (only these cells, e.g.
# "1G:random:vmdk-stream:warm 4G:mix:qcow2:cold": a re-measure of chosen
# cells with more runs; the images of the other cells are not made).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
SIZES=${BENCH_MATRIX_SIZES:-256M 1G 4G}
KINDS=${BENCH_MATRIX_DATA:-mix random text}
FORMATS=${BENCH_MATRIX_FORMATS:-raw vmdk-sparse vmdk-stream vhdx qcow2}
RUNS=${BENCH_MATRIX_RUNS:-3}
CACHES=${BENCH_MATRIX_CACHE:-cold warm}
DIR=${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}/matrix
SHM=${BENCH_SHM:-/dev/shm}
PY=/usr/bin/python3
GEN=2
PARTS=${BENCH_MATRIX_PARTS:-convert read startup}
CELLS=${BENCH_MATRIX_CELLS:-}
# wanted SIZE DATA FORMAT [CACHE]: is the cell (any cache: some cell of the
# format) in BENCH_MATRIX_CELLS, or is every cell wanted?
wanted() {
  [ -z "$CELLS" ] && return 0
  case " $CELLS " in *" $1:$2:$3:${4:-cold} "* | *" $1:$2:$3:${4:-warm} "*) return 0 ;; esac
  return 1
}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

fail() { echo "bench/convert-matrix.sh: $*" >&2; exit 1; }
for t in qemu-img qemu-nbd nbdcopy /usr/bin/time; do
  command -v "$t" >/dev/null || fail "'$t' is not installed"
done
[ -x "$FERRY" ] || fail "'$FERRY' is not built (make)"
mkdir -p "$DIR" || fail "cannot create '$DIR'"
SCRATCH=$(mktemp -d "$DIR/run.XXXXXX") || fail "no scratch directory"
OUT="$SHM/ferry-matrix.$$.raw"
trap 'rm -rf "$SCRATCH" "$OUT"' EXIT
trap 'exit 130' INT TERM
cp "$FERRY" "$SCRATCH/ferry" || fail "cannot copy '$FERRY'"
FERRY=$SCRATCH/ferry
COLD_OK=0
if [ "$(id -u)" = 0 ] && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
  COLD_OK=1
fi
echo "ferry $(git -C "$TOP" describe --always --dirty 2>/dev/null || echo '?')," \
  "$(qemu-img --version | head -1), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
[ "$COLD_OK" = 1 ] || echo "note: the page cache cannot be dropped (not root): 'cold' is warm"

# make_disk RAW BYTES KIND SEED: the sparse raw source; prints the bytes
# allocated
make_disk() {
  "$PY" - "$@" <<'EOF'
import os, random, sys
path, size, kind, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rng = random.Random(seed)
noise = rng.randbytes(32 << 20)
vocab = [bytes(rng.choice(b"etaoinshrdlucmfwyp") for _ in range(rng.randint(2, 9)))
         for _ in range(3000)]
text = bytearray()
while len(text) < (8 << 20):
    text += b"%07d " % len(text) + b" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 15))) + b"\n"
text = bytes(text)
zeros = bytes(4 << 20)
fd = os.open(path + ".part", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.ftruncate(fd, size)
off = alloc = 0
while off < size:
    n = min(size - off, (64 << 10) * rng.randint(1, 256))
    if rng.random() < 0.3:
        r = rng.random()
        pool = {"random": noise, "text": text}.get(kind) or \
            (noise if r < 0.4 else text if r < 0.8 else zeros)
        done = 0
        while done < n:
            k = min(n - done, 4 << 20)
            at = rng.randrange(0, len(pool) - k + 1) & ~4095
            os.pwrite(fd, pool[at:at + k], off + done)
            done += k
        alloc += n
    off += n
os.close(fd)
os.rename(path + ".part", path)
print(alloc)
EOF
}

suffix() {
  case $1 in raw) echo raw ;; vmdk-sparse) echo vmdk ;; vmdk-stream) echo s.vmdk ;;
    vhdx) echo vhdx ;; qcow2) echo qcow2 ;; *) fail "unknown format '$1'" ;; esac
}
driver() { case $1 in vmdk-*) echo vmdk ;; *) echo "$1" ;; esac; }
subfmt() {
  case $1 in vmdk-sparse) echo "-o subformat=monolithicSparse" ;;
    vmdk-stream) echo "-o subformat=streamOptimized" ;; vhdx) echo "-o subformat=dynamic" ;; esac
}

# one TOOL FORMAT SRC: a conversion into $OUT
one() {
  case $1 in
    ferry) "$FERRY" convert "$3" "$OUT" ;;
    qemu-img) qemu-img convert -f "$2" -O raw "$3" "$OUT" ;;
    qemu-img-m16W) qemu-img convert -f "$2" -m 16 -W -O raw "$3" "$OUT" ;;
    qemu-img-C) qemu-img convert -C -f "$2" -O raw "$3" "$OUT" ;;
    nbdcopy) nbdcopy -- [ qemu-nbd -r -f "$2" "$3" ] "$OUT" ;;
    cp) cp --sparse=always "$3" "$OUT" ;;
  esac
}

# measure KEY TOOL FORMAT SRC REF COLD: one run, "seconds rss_kib" appended
# to SCRATCH/KEY; the first checked against REF
measure() {
  local key=$1 t0 t1 rss
  [ -e "$SCRATCH/$key.bad" ] && return 0
  rm -f "$OUT"
  if [ "$6" = 1 ] && [ "$COLD_OK" = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
  t0=$(date +%s%N)
  if ! /usr/bin/time -f %M -o "$SCRATCH/rss" bash -c "$(declare -f one); FERRY=$FERRY OUT=$OUT one \"\$@\"" _ \
      "$2" "$3" "$4" >/dev/null 2>"$SCRATCH/err"; then
    echo "error: $(head -1 "$SCRATCH/err")" >"$SCRATCH/$key.bad"
    return 0
  fi
  t1=$(date +%s%N)
  rss=$(tail -1 "$SCRATCH/rss")
  if [ ! -e "$SCRATCH/$key" ] && ! qemu-img compare -q -f raw -F raw "$5" "$OUT" 2>/dev/null; then
    echo wrong >"$SCRATCH/$key.bad"
    return 0
  fi
  echo "$(((t1 - t0) / 1000000)) $rss" >>"$SCRATCH/$key"
}

# median KEY: median seconds of KEY's runs ("" when none)
median() {
  [ -s "$SCRATCH/$1" ] || return 0
  sort -n "$SCRATCH/$1" | awk '{ t[NR] = $1 } END {
    m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2; printf "%.3f", m / 1000 }'
}
peak() { [ -s "$SCRATCH/$1" ] && awk '$2 > m { m = $2 } END { printf "%d", m / 1024 }' "$SCRATCH/$1"; }
cell() { median "$1" | grep . || { [ -e "$SCRATCH/$1.bad" ] && cut -c1-5 "$SCRATCH/$1.bad"; } || echo -; }

part convert && printf '\n%-5s %-6s %-11s %-4s %7s %8s %8s %8s %8s %7s %6s %9s %9s %8s %8s\n' size data format \
  cache ferry qemu-img m16W nbdcopy qemu-C cp rss_MB /qemu-img /best ferry/cp qemu/cp
for size in $SIZES; do
  bytes=$(numfmt --from=iec "$size") || fail "bad size '$size'"
  for kind in $KINDS; do
    base="$DIR/$kind-$bytes.g$GEN"
    if [ ! -s "$base.alloc" ] || [ ! -f "$base.raw" ]; then
      echo "generating $size $kind -> $base.raw" >&2
      seed=$(( $(printf '%s' "$kind" | cksum | cut -d' ' -f1) % 100000 + 7 ))
      make_disk "$base.raw" "$bytes" "$kind" "$seed" >"$base.alloc.part" &&
        mv "$base.alloc.part" "$base.alloc" || fail "cannot generate '$base.raw'"
    fi
    for fmt in $FORMATS; do
      wanted "$size" "$kind" "$fmt" || continue
      src="$base.$(suffix "$fmt")"
      if [ ! -f "$src" ]; then
        echo "qemu-img: $size $kind -> $fmt" >&2
        # shellcheck disable=SC2046
        qemu-img convert -f raw -O "$(driver "$fmt")" $(subfmt "$fmt") "$base.raw" "$src.part" &&
          mv "$src.part" "$src" || fail "qemu-img cannot make '$src'"
      fi
      tools="ferry qemu-img qemu-img-m16W nbdcopy cp"
      [ "$fmt" = raw ] && tools+=" qemu-img-C"
      part convert || continue
      for cache in $CACHES; do
        wanted "$size" "$kind" "$fmt" "$cache" || continue
        cold=0; [ "$cache" = cold ] && cold=1
        echo "running $size $kind $fmt $cache" >&2
        for _ in $(seq "$RUNS"); do
          for t in $tools; do
            s=$src; [ "$t" = cp ] && s=$base.raw
            measure "$size.$kind.$fmt.$cache.$t" "$t" "$(driver "$fmt")" "$s" "$base.raw" "$cold"
          done
        done
        k="$size.$kind.$fmt.$cache"
        f=$(median "$k.ferry") q=$(median "$k.qemu-img") best=""
        for t in qemu-img qemu-img-m16W nbdcopy qemu-img-C; do
          s=$(median "$k.$t")
          [ -n "$s" ] || continue
          if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
        done
        c=$(median "$k.cp") rq=- rb=- rc=- qc=-
        [ -n "$f" ] && [ -n "$q" ] && rq=$(awk "BEGIN{printf \"%.2f\", $f / $q}")
        [ -n "$f" ] && [ -n "$best" ] && rb=$(awk "BEGIN{printf \"%.2f\", $f / $best}")
        [ -n "$f" ] && [ -n "$c" ] && rc=$(awk "BEGIN{printf \"%.2f\", $f / $c}")
        [ -n "$q" ] && [ -n "$c" ] && qc=$(awk "BEGIN{printf \"%.2f\", $q / $c}")
        printf '%-5s %-6s %-11s %-4s %7s %8s %8s %8s %8s %7s %6s %9s %9s %8s %8s\n' "$size" "$kind" \
          "$fmt" "$cache" "$(cell "$k.ferry")" "$(cell "$k.qemu-img")" \
          "$(cell "$k.qemu-img-m16W")" "$(cell "$k.nbdcopy")" \
          "$([ "$fmt" = raw ] && cell "$k.qemu-img-C" || echo -)" "$(cell "$k.cp")" \
          "$(peak "$k.ferry" || echo -)" "$rq" "$rb" "$rc" "$qc"
      done
      rm -f "$OUT"
    done
  done
done

# --- the read floor: each source read from disk, nothing else ---------------
if part read && [ "$COLD_OK" = 1 ]; then
  echo
  echo "cold read of each source file (cat SRC >/dev/null), median of $RUNS (s)"
  printf '%-5s %-6s' size data
  for fmt in $FORMATS; do printf ' %11s' "$fmt"; done
  echo
  for size in $SIZES; do
    bytes=$(numfmt --from=iec "$size")
    for kind in $KINDS; do
      printf '%-5s %-6s' "$size" "$kind"
      for fmt in $FORMATS; do
        src="$DIR/$kind-$bytes.g$GEN.$(suffix "$fmt")"
        : >"$SCRATCH/read"
        for _ in $(seq "$RUNS"); do
          sync; echo 3 >/proc/sys/vm/drop_caches
          t0=$(date +%s%N); cat "$src" >/dev/null; t1=$(date +%s%N)
          echo "$(((t1 - t0) / 1000000))" >>"$SCRATCH/read"
        done
        printf ' %11s' "$(median read)"
      done
      echo
    done
  done
fi

# --- start-up: the fixed cost of every command -------------------------------
part startup || exit 0
echo
echo "start-up, warm, median of 21 (ms): ferry / qemu-img --version"
"$FERRY" convert "$DIR/mix-$(numfmt --from=iec 256M).g$GEN.raw" "$OUT" >/dev/null 2>&1
head -c 1048576 /dev/urandom >"$SCRATCH/small.raw"
startup() {
  local i t0 t1
  for i in $(seq 21); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | sort -n | awk 'NR == 11 { printf "%.1f", $1 / 1000 }'
}
ref=$(startup qemu-img --version)
for c in "--version" "convert --help" "validate --no-disk-check $TOP/plans/example-local.yaml" \
  "convert $SCRATCH/small.raw $SCRATCH/small.out"; do
  # shellcheck disable=SC2086
  ms=$(startup "$FERRY" $c)
  printf '  %-50s %6s ms   qemu-img --version %5s ms   +%s ms\n' "ferry $c" "$ms" "$ref" \
    "$(awk "BEGIN{printf \"%.1f\", $ms - $ref}")"
done
exit 0
