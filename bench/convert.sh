#!/bin/bash
# bench/convert.sh — ferry convert against qemu-img and nbdcopy.
#
# One synthetic disk (BENCH_SIZE virtual, ~40% allocated: random blocks,
# text-like blocks, allocated zero runs, holes; fixed seed) is generated once
# into $FERRY_BENCH_DIR and converted with qemu-img into VMDK
# monolithicSparse, VMDK streamOptimized, VHDX dynamic and qcow2.  Then, per
# format, BENCH_RUNS interleaved runs of each tool, the page cache dropped
# before every run (when root):
#
#   table 1: output on tmpfs (/dev/shm): the converter's own speed
#   table 2: output on disk, every tool timed until `sync -f OUT` returns,
#            against `dd conv=fsync` of the allocated bytes (the disk's write
#            floor) and that dd while `cat` reads the source file (rd+dd:
#            the floor of a converter, which reads and writes the same disk)
#   table 3: into RBD on a throwaway single-node Ceph (tests/lab/ceph-start.sh:
#            one memstore OSD, data in RAM, pool size 1); the target image is
#            removed before every run, so each tool writes a new image
#   table 4: the same data in a disk 8x larger (BENCH_BIG_SIZE): the time
#            follows the allocated bytes, not the virtual size
#   table 5 (BENCH_TABLES=xfs, as root): raw and qcow2 sources and the output
#            on one XFS file system (a loop mount of a sparse file in
#            $FERRY_BENCH_DIR, reflink on): copy_file_range shares blocks
#            instead of copying them; against qemu-img -C (copy offloading)
#            and, for raw, cp --reflink=always
#
# A tool that fails shows as "error" (first line of its stderr below the
# table), the bench goes on.  Env:
#   BENCH_SIZE=4G  BENCH_RUNS=3  FERRY_BENCH_DIR=/var/tmp/ferry-bench
#   BENCH_TABLES="disk rbd big" (the tables to run; add tmpfs for table 1,
#   which bench/convert-matrix.sh covers at every size)
#   BENCH_FORMATS="raw vmdk-sparse vmdk-stream vhdx qcow2"
#   BENCH_DISK_FORMATS (default: BENCH_FORMATS; "" skips table 2)
#   BENCH_RBD_FORMATS (default: BENCH_FORMATS; BENCH_RBD=0 skips table 3)
#   BENCH_CEPH_OSD_BYTES (memstore capacity; default 1.25 x allocated + 1 GiB)
#   BENCH_BIG_SIZE (default 8 x BENCH_SIZE; BENCH_BIG=0 skips table 4)
#   BENCH_TIMEOUT=900 (seconds per run; BENCH_RBD_TIMEOUT=300 into RBD)
#   BENCH_SHM=/dev/shm  FERRY=./ferry
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
SIZE=${BENCH_SIZE:-4G}
RUNS=${BENCH_RUNS:-3}
DIR=${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}
SHM=${BENCH_SHM:-/dev/shm}
FORMATS=${BENCH_FORMATS:-raw vmdk-sparse vmdk-stream vhdx qcow2}
DISK_FORMATS=${BENCH_DISK_FORMATS-$FORMATS}
RBD_FORMATS=${BENCH_RBD_FORMATS-$FORMATS}
TABLES=${BENCH_TABLES:-disk rbd big}
TIMEOUT=${BENCH_TIMEOUT:-900}
RBD_TIMEOUT=${BENCH_RBD_TIMEOUT:-300}
SEED=20261123
GEN_VERSION=1
PY=/usr/bin/python3
TIME=/usr/bin/time

die() { echo "bench/convert.sh: $*" >&2; exit 1; }
for t in qemu-img qemu-nbd nbdcopy timeout; do
  command -v "$t" >/dev/null || die "'$t' is not installed"
done
[ -x "$TIME" ] || die "GNU time is not installed (Debian package 'time')"
[ -x "$FERRY" ] || die "'$FERRY' is not built (make)"
[ -x "$PY" ] || die "/usr/bin/python3 is not installed"
for t in $TABLES; do
  case $t in tmpfs | disk | rbd | big | xfs) ;; *) die "unknown table '$t' in BENCH_TABLES" ;; esac
done
# want TABLE: TABLE is in BENCH_TABLES
want() { case " $TABLES " in *" $1 "*) return 0 ;; esac; return 1; }
want tmpfs || FORMATS=""
want disk || DISK_FORMATS=""
{ want rbd && [ "${BENCH_RBD:-1}" != 0 ]; } || RBD_FORMATS=""
want big || BENCH_BIG=0

# to_bytes 8G -> 8589934592
to_bytes() {
  numfmt --from=iec "${1%B}" 2>/dev/null || die "bad size '$1'"
}
SIZE_B=$(to_bytes "$SIZE")
BIG_B=$(to_bytes "${BENCH_BIG_SIZE:-$((SIZE_B * 8))}")
mkdir -p "$DIR" || die "cannot create '$DIR'"
WORK=$(mktemp -d "$DIR/run.XXXXXX") || die "cannot create a scratch dir"
OUT_SHM="$SHM/ferry-bench-out.$$.raw"
OUT_DISK="$WORK/out.raw"
CEPH_DIR="" # set while the Ceph lab of table 3 may run
# ceph_stop: stop the Ceph lab (if any) and remove its directory
ceph_stop() {
  [ -n "$CEPH_DIR" ] || return 0
  "$TOP/tests/lab/ceph-stop.sh" "$CEPH_DIR" >/dev/null 2>&1
  rm -rf "$CEPH_DIR"
  CEPH_DIR=""
}
XFS_MNT="" # set while table 5's XFS is mounted
CHILD=""   # the running tool's `timeout`
trap '[ -z "$CHILD" ] || { kill -TERM "$CHILD"; wait "$CHILD"; } 2>/dev/null
  ceph_stop; [ -z "$XFS_MNT" ] || umount "$XFS_MNT"; rm -rf "$WORK" "$OUT_SHM"' EXIT
trap 'exit 130' INT TERM
# a private copy: a rebuild of ./ferry during the bench must not change it
cp "$FERRY" "$WORK/ferry" || die "cannot copy '$FERRY'"
FERRY=$WORK/ferry
echo "ferry $(git -C "$TOP" describe --always --dirty 2>/dev/null || echo '?')," \
  "$(qemu-img --version | head -1), $(nbdcopy --version | head -1)," \
  "$(nproc) CPUs"

# --- the source disk --------------------------------------------------------

# gen_raw PATH BYTES: the synthetic disk (bench/gen-disk.py): extents of
# 64 KiB..16 MiB; 60% of them holes, the rest random (incompressible),
# text-like (compresses ~4x) or allocated zeroes.  Prints the bytes allocated.
gen_raw() {
  "$PY" "$TOP/bench/gen-disk.py" "$1" "$2" "$SEED" hole:0.6,random:0.16,text:0.16,zero:0.08
}

# ext FORMAT -> file name suffix; qfmt FORMAT -> qemu driver name
ext() {
  case $1 in
    raw) echo raw ;; vmdk-sparse) echo vmdk ;; vmdk-stream) echo stream.vmdk ;;
    vhdx) echo vhdx ;; qcow2) echo qcow2 ;; *) die "unknown format '$1'" ;;
  esac
}
qfmt() { case $1 in vmdk-*) echo vmdk ;; *) echo "$1" ;; esac; }
qopts() {
  case $1 in
    vmdk-sparse) echo "-o subformat=monolithicSparse" ;;
    vmdk-stream) echo "-o subformat=streamOptimized" ;;
    vhdx) echo "-o subformat=dynamic" ;;
  esac
}

BASE="$DIR/src-$SIZE_B"
STAMP="$BASE.gen$GEN_VERSION.seed$SEED"
if [ ! -f "$STAMP" ] || [ ! -f "$BASE.raw" ]; then
  echo "generating the source disk: $SIZE virtual, seed $SEED -> $BASE.raw"
  rm -f "$BASE".* "$DIR/big-$SIZE_B".*
  start=$(date +%s)
  gen_raw "$BASE.raw" "$SIZE_B" >"$STAMP.tmp" || die "generation failed"
  mv "$STAMP.tmp" "$STAMP"
  echo "  done in $(($(date +%s) - start)) s"
fi
# every format some table needs, once
# shellcheck disable=SC2086
NEED_FORMATS=$(printf '%s\n' $FORMATS $DISK_FORMATS $RBD_FORMATS | awk '!seen[$0]++')
for f in $NEED_FORMATS; do
  [ "$f" = raw ] && continue
  img="$BASE.$(ext "$f")"
  if [ ! -f "$img" ]; then
    echo "converting the source to $f -> $img"
    # shellcheck disable=SC2046
    qemu-img convert -f raw -O "$(qfmt "$f")" $(qopts "$f") "$BASE.raw" \
      "$img.tmp" && mv "$img.tmp" "$img" || die "qemu-img convert to $f failed"
  fi
done
BIG="$DIR/big-$SIZE_B-$BIG_B.qcow2"
if [ "${BENCH_BIG:-1}" != 0 ] && [ ! -f "$BIG" ]; then
  echo "making the same data in a $((BIG_B >> 30)) GiB qcow2 -> $BIG"
  { [ -f "$BASE.qcow2" ] || qemu-img convert -f raw -O qcow2 "$BASE.raw" "$BASE.qcow2"; } &&
    cp --sparse=always "$BASE.qcow2" "$BIG.tmp" &&
    qemu-img resize -q -f qcow2 "$BIG.tmp" "$BIG_B" && mv "$BIG.tmp" "$BIG" ||
    die "cannot make '$BIG'"
fi
# allocated bytes: what the generator wrote (zero runs included)
ALLOC=$(cat "$STAMP")
ALLOC_MIB=$((ALLOC >> 20))
echo "source: $SIZE virtual ($SIZE_B bytes), $ALLOC_MIB MiB allocated" \
  "($((ALLOC * 100 / SIZE_B))%), $RUNS runs per tool, interleaved"

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

TOOLS="ferry qemu-img qemu-img-m16W nbdcopy"
# run_tool TOOL FORMAT SRC OUT: one conversion (or the dd floor)
run_tool() {
  local tool=$1 fmt=$2 src=$3 out=$4
  case $tool in
    ferry) "$FERRY" convert "$src" "$out" ;;
    qemu-img) qemu-img convert -f "$fmt" -O raw "$src" "$out" ;;
    qemu-img-m16W) qemu-img convert -f "$fmt" -m 16 -W -O raw "$src" "$out" ;;
    qemu-img-C) qemu-img convert -C -f "$fmt" -O raw "$src" "$out" ;;
    cp-reflink) cp --reflink=always "$src" "$out" ;;
    nbdcopy) nbdcopy -- [ qemu-nbd -r -f "$fmt" "$src" ] "$out" ;;
    dd) dd if=/dev/zero of="$out" bs=4M count=$(((ALLOC + (4 << 20) - 1) >> 22)) \
          conv=fsync status=none ;;
    rd+dd) # no conversion: read SRC (cold) while dd writes, both must end
      cat "$src" >/dev/null &
      dd if=/dev/zero of="$out" bs=4M count=$(((ALLOC + (4 << 20) - 1) >> 22)) \
        conv=fsync status=none
      wait $! ;;
  esac
}

# rm_out OUT: remove the output file, or the RBD image (rbd:POOL/IMAGE:conf=
# PATH): every run writes a new one.  A killed client's watch lingers ~30 s.
rm_out() {
  local spec conf
  case $1 in
    rbd:*)
      spec=${1#rbd:} conf=${1##*:conf=}
      spec=${spec%%:*}
      for _ in $(seq 30); do
        rbd -c "$conf" rm --no-progress "$spec" >/dev/null 2>&1
        rbd -c "$conf" info "$spec" >/dev/null 2>&1 || return 0
        sleep 2
      done
      echo "bench/convert.sh: cannot remove the RBD image $spec" >&2
      ;;
    *) rm -f "$1" ;;
  esac
}

# timed KEY TOOL FORMAT SRC OUT SYNC: one run; appends "seconds rss_kib" to
# $WORK/KEY.times, or the error to $WORK/KEY.err.  SYNC=1 times the final
# `sync -f OUT` too.
timed() {
  local key=$1 tool=$2 fmt=$3 src=$4 out=$5 sync=$6 t0 t1 rc tmo
  [ -f "$WORK/$key.err" ] && return 0 # failed before: don't retry
  rm_out "$out"
  drop_caches
  t0=$(date +%s.%N)
  export -f run_tool
  export FERRY ALLOC
  case $out in rbd:*) tmo=$RBD_TIMEOUT ;; *) tmo=$TIMEOUT ;; esac
  # in the background: a signal to the bench is handled at once
  timeout "$tmo" "$TIME" -f '%M' -o "$WORK/rss" \
    bash -c 'run_tool "$@"' _ "$tool" "$fmt" "$src" "$out" \
    >"$WORK/out" 2>"$WORK/stderr" &
  CHILD=$!
  # into RBD: a run that blocks on a full OSD is stopped within seconds
  local watch=""
  case $out in
    rbd:*)
      (while sleep 1; do rbd_osd_ok || exec kill -TERM "$CHILD"; done) &
      watch=$!
      ;;
  esac
  wait "$CHILD"
  rc=$?
  CHILD=""
  [ -z "$watch" ] || { kill "$watch"; wait "$watch"; } 2>/dev/null
  if [ "$rc" = 0 ] && [ "$sync" = 1 ]; then sync -f "$out" || rc=$?; fi
  t1=$(date +%s.%N)
  if [ "$rc" != 0 ]; then
    { [ "$rc" = 124 ] && echo "timed out after ${tmo}s" ||
        grep -v '^Command exited' "$WORK/stderr" | head -1 |
        grep . || echo "exit status $rc"; } >"$WORK/$key.err"
    return 0
  fi
  # the first run of each tool is checked: a fast wrong answer is no answer
  if [ ! -f "$WORK/$key.times" ] && [ "$tool" != dd ] && [ "$tool" != rd+dd ] &&
    ! qemu-img compare -q -f raw -F raw "$REF" "$out" 2>/dev/null; then
    echo "output differs from the source" >"$WORK/$key.err"
    return 0
  fi
  echo "$t0 $t1 $(tail -1 "$WORK/rss")" |
    awk '{ printf "%.3f %d\n", $2 - $1, $3 }' >>"$WORK/$key.times"
}

# stat KEY: "median min max_rss_kib n" of KEY's runs, or nothing
stat_of() {
  [ -s "$WORK/$1.times" ] || return 0
  sort -n "$WORK/$1.times" | awk '
    { t[NR] = $1; if ($2 > rss) rss = $2 }
    END { m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2;
          printf "%.3f %.3f %d %d\n", m, t[1], rss, NR }'
}

# table TITLE PREFIX FORMATS TOOLS [PEERS]: one row per format x tool; the
# ferry rows get a column ferry/PEER per PEER (default: qemu-img) and
# ferry/best-peer
table() {
  local title=$1 prefix=$2 formats=$3 tools=$4 peers=${5:-qemu-img}
  local f t p s med min rss best cols ratio errs=""
  echo
  echo "$title"
  printf '%-12s %-14s %9s %9s %9s %9s' format tool median_s min_s MiB/s rss_MiB
  for p in $peers best-peer; do printf ' %9s' "/$p"; done
  echo
  for f in $formats; do
    best=""
    for t in qemu-img qemu-img-m16W nbdcopy; do
      s=$(stat_of "$prefix.$f.$t" | cut -d' ' -f1)
      [ -n "$s" ] || continue
      if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
    done
    for t in $tools; do
      s=$(stat_of "$prefix.$f.$t")
      if [ -z "$s" ]; then
        printf '%-12s %-14s %9s\n' "$f" "$t" error
        [ -f "$WORK/$prefix.$f.$t.err" ] &&
          errs+="  $f/$t: $(cat "$WORK/$prefix.$f.$t.err")"$'\n'
        continue
      fi
      read -r med min rss _ <<<"$s"
      cols=""
      for p in $peers best-peer; do
        ratio=-
        if [ "$t" = ferry ]; then
          if [ "$p" = best-peer ]; then s=$best
          else s=$(stat_of "$prefix.$f.$p" | cut -d' ' -f1); fi
          [ -n "$s" ] && ratio=$(awk "BEGIN{printf \"%.2f\", $med / $s}")
        fi
        cols+=$(printf ' %*s' $((${#p} + 1 > 9 ? ${#p} + 1 : 9)) "$ratio")
      done
      printf '%-12s %-14s %9s %9s %9s %9s%s\n' "$f" "$t" "$med" "$min" \
        "$(awk "BEGIN{printf \"%.0f\", $ALLOC / 1048576 / $med}")" \
        "$((rss / 1024))" "$cols"
    done
  done
  [ -z "$errs" ] || printf 'errors:\n%s' "$errs"
}

src_of() {
  if [ "$1" = raw ]; then echo "$BASE.raw"; else echo "$BASE.$(ext "$1")"; fi
}
REF="$BASE.raw"

# --- table 1: into tmpfs ----------------------------------------------------
if [ -n "$FORMATS" ]; then
  for f in $FORMATS; do
    echo "running: $f -> tmpfs" >&2
    for r in $(seq 1 "$RUNS"); do
      for t in $TOOLS; do
        timed "shm.$f.$t" "$t" "$(qfmt "$f")" "$(src_of "$f")" "$OUT_SHM" 0
      done
    done
    rm -f "$OUT_SHM"
  done
  table "== into tmpfs ($SHM), median of $RUNS; MiB/s = allocated MiB / s" \
    shm "$FORMATS" "$TOOLS"
fi

# --- table 2: into a file on disk, flushed ----------------------------------
if [ -n "$DISK_FORMATS" ]; then
  for f in $DISK_FORMATS; do
    echo "running: $f -> disk" >&2
    for r in $(seq 1 "$RUNS"); do
      for t in $TOOLS; do
        timed "disk.$f.$t" "$t" "$(qfmt "$f")" "$(src_of "$f")" "$OUT_DISK" 1
      done
      timed "disk.$f.dd" dd raw /dev/zero "$OUT_DISK" 1
      timed "disk.$f.rd+dd" rd+dd raw "$(src_of "$f")" "$OUT_DISK" 1
    done
    rm -f "$OUT_DISK"
  done
  table "== into a file on disk ($DIR), each time includes sync -f OUT; dd = dd conv=fsync of $ALLOC_MIB MiB; rd+dd = the same dd while cat reads the source file (the device's floor for a converter)" \
    disk "$DISK_FORMATS" "$TOOLS dd rd+dd"
  for f in $DISK_FORMATS; do
    a=$(stat_of "disk.$f.ferry" | cut -d' ' -f1)
    b=$(stat_of "disk.$f.dd" | cut -d' ' -f1)
    c=$(stat_of "disk.$f.rd+dd" | cut -d' ' -f1)
    [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] &&
      echo "  $f: ferry / dd = $(awk "BEGIN{printf \"%.2f\", $a / $b}")," \
        "ferry / rd+dd = $(awk "BEGIN{printf \"%.2f\", $a / $c}")"
  done
fi

# --- table 5: onto XFS, sources and output on one file system ---------------
if want xfs; then
  XFS_FORMATS="raw qcow2"
  echo "running: raw, qcow2 -> XFS" >&2
  command -v mkfs.xfs >/dev/null || die "table xfs: mkfs.xfs is not installed (xfsprogs)"
  [ "$(id -u)" = 0 ] || die "table xfs: a loop mount needs root"
  [ -f "$BASE.qcow2" ] || qemu-img convert -f raw -O qcow2 "$BASE.raw" "$BASE.qcow2" ||
    die "qemu-img convert to qcow2 failed"
  truncate -s $((ALLOC * 4 + (2 << 30))) "$WORK/xfs.img" &&
    mkfs.xfs -q -m reflink=1 "$WORK/xfs.img" && mkdir "$WORK/xfs" &&
    mount -o loop "$WORK/xfs.img" "$WORK/xfs" || die "table xfs: cannot make or mount XFS"
  XFS_MNT=$WORK/xfs
  for f in $XFS_FORMATS; do
    cp --sparse=always "$(src_of "$f")" "$XFS_MNT/src.$(ext "$f")" || die "cannot copy onto XFS"
  done
  for f in $XFS_FORMATS; do
    tools="ferry qemu-img qemu-img-C"
    [ "$f" = raw ] && tools+=" cp-reflink"
    for r in $(seq 1 "$RUNS"); do
      for t in $tools; do
        timed "xfs.$f.$t" "$t" "$(qfmt "$f")" "$XFS_MNT/src.$(ext "$f")" "$XFS_MNT/out.raw" 1
      done
    done
  done
  rm -f "$XFS_MNT/out.raw"
  table "== onto XFS (reflink; sources and output on one loop-mounted file system), each time includes sync -f OUT, median of $RUNS" \
    xfs raw "ferry qemu-img qemu-img-C cp-reflink" "qemu-img qemu-img-C cp-reflink"
  table "" xfs qcow2 "ferry qemu-img qemu-img-C" "qemu-img qemu-img-C"
  umount "$XFS_MNT" && XFS_MNT=""
fi

# --- table 3: into RBD on a local single-node Ceph --------------------------
# rbd_start: start the Ceph lab into CEPH_DIR; on failure, the reason in
# $WORK/rbd.skip
rbd_start() {
  local avail bytes port p
  command -v rbd >/dev/null || { echo "'rbd' is not installed" >"$WORK/rbd.skip"; return 1; }
  # memstore keeps the image in RAM: one image at a time, plus the daemons
  avail=$(($(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) * 1024))
  bytes=${BENCH_CEPH_OSD_BYTES:-$((ALLOC + ALLOC / 4 + (1 << 30)))}
  if [ "$avail" -lt $((ALLOC + (2 << 30))) ]; then
    echo "$((avail >> 20)) MiB of RAM available, the memstore OSD needs" \
      "$(((ALLOC >> 20) + 2048))" >"$WORK/rbd.skip"
    return 1
  fi
  CEPH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-ceph.XXXXXX") || {
    echo "cannot create a directory for Ceph" >"$WORK/rbd.skip"; return 1
  }
  for _ in 1 2 3; do
    # a free mon port in 6600-6799 (the tests use 6800-6999, OSDs 6800+)
    port=""
    for _ in $(seq 50); do
      p=$((6600 + RANDOM % 200))
      if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then port=$p; break; fi
    done
    [ -n "$port" ] || { echo "no free port in 6600-6799" >"$WORK/rbd.skip"; return 1; }
    FERRY_CEPH_OSD_BYTES=$bytes timeout 180 "$TOP/tests/lab/ceph-start.sh" \
      "$CEPH_DIR" "$port" >"$WORK/ceph-start.out" 2>&1 && return 0
    "$TOP/tests/lab/ceph-stop.sh" "$CEPH_DIR" >/dev/null 2>&1
  done
  { grep -m1 'error' "$WORK/ceph-start.out" || tail -1 "$WORK/ceph-start.out"; } >"$WORK/rbd.skip"
  return 1
}
# rbd_osd_ok: the OSD has not called itself full (cheap: its log)
rbd_osd_ok() {
  ! grep -qs 'failsafe engaged' "$CEPH_DIR/log/osd.0.log"
}
# rbd_writable: neither the OSD nor the mon reports a full OSD or pool
rbd_writable() {
  rbd_osd_ok && ! timeout 30 ceph -c "$CEPH_DIR/ceph.conf" health 2>/dev/null | grep -qi full
}
if [ -n "$RBD_FORMATS" ]; then
  echo "running: starting a single-node Ceph (${FERRY_CEPH_STORE:-bluestore})" >&2
  if ! rbd_start; then
    echo
    echo "rbd: skipped ($(head -c 300 "$WORK/rbd.skip" | head -1 | grep . || echo 'Ceph did not start'))"
  else
    restarts=0
    for f in $RBD_FORMATS; do
      echo "running: $f -> rbd" >&2
      for r in $(seq 1 "$RUNS"); do
        for t in ferry qemu-img-m16W qemu-img; do
          for try in 1 2; do
            # memstore's used-bytes count can wrap below zero: the OSD then
            # calls itself full and every write blocks; start a new Ceph
            if [ -n "$CEPH_DIR" ] && ! rbd_writable; then
              echo "note: the memstore OSD reports itself full (its usage count wrapped); restarting Ceph" >&2
              restarts=$((restarts + 1))
              ceph_stop
              rbd_start || break 4
            fi
            timed "rbd.$f.$t" "$t" "$(qfmt "$f")" "$(src_of "$f")" \
              "rbd:rbd/ferry-bench:conf=$CEPH_DIR/ceph.conf" 0
            # a run that failed on a full OSD counts for nothing: once more
            [ "$try" = 1 ] && [ -f "$WORK/rbd.$f.$t.err" ] && ! rbd_writable || break
            rm -f "$WORK/rbd.$f.$t.err"
          done
        done
      done
      [ -z "$CEPH_DIR" ] || rm_out "rbd:rbd/ferry-bench:conf=$CEPH_DIR/ceph.conf"
    done
    ceph_stop
    table "== into RBD (single-node Ceph, one ${FERRY_CEPH_STORE:-bluestore} OSD, pool size 1), median of $RUNS; a new image every run" \
      rbd "$RBD_FORMATS" "ferry qemu-img-m16W qemu-img" "qemu-img-m16W qemu-img"
    [ "$restarts" = 0 ] || echo "  (Ceph restarted $restarts time(s): its OSD called itself full)"
    [ ! -s "$WORK/rbd.skip" ] || echo "rbd: stopped early ($(head -1 "$WORK/rbd.skip"))"
  fi
  ceph_stop
fi

if want rbd && [ "${BENCH_RBD:-1}" = 0 ]; then echo; echo "rbd: skipped (BENCH_RBD=0)"; fi

# --- table 4: the same data in a bigger disk --------------------------------
# label BYTES -> "8G" / "512M"
label() {
  if [ $(($1 % (1 << 30))) = 0 ]; then echo "$(($1 >> 30))G"
  else echo "$(($1 >> 20))M"; fi
}
if [ "${BENCH_BIG:-1}" != 0 ]; then
  SMALL_L="qcow2-$(label "$SIZE_B")" BIG_L="qcow2-$(label "$BIG_B")"
  echo "running: $BIG_L -> tmpfs" >&2
  # qemu-img compare accepts the longer output if its tail reads as zeroes
  for r in $(seq 1 "$RUNS"); do
    for t in ferry qemu-img; do
      timed "big.$BIG_L.$t" "$t" qcow2 "$BIG" "$OUT_SHM" 0
    done
  done
  rm -f "$OUT_SHM"
  for t in ferry qemu-img; do
    for x in times err; do
      [ -f "$WORK/shm.qcow2.$t.$x" ] &&
        cp "$WORK/shm.qcow2.$t.$x" "$WORK/big.$SMALL_L.$t.$x"
    done
  done
  # the tmpfs table did not run qcow2: run the small disk here
  if [ ! -f "$WORK/shm.qcow2.ferry.times" ] && [ ! -f "$WORK/shm.qcow2.ferry.err" ]; then
    echo "running: $SMALL_L -> tmpfs" >&2
    for _ in $(seq 1 "$RUNS"); do
      for t in ferry qemu-img; do
        timed "big.$SMALL_L.$t" "$t" qcow2 "$BASE.qcow2" "$OUT_SHM" 0
      done
    done
    rm -f "$OUT_SHM"
  fi
  table "== same allocated data ($ALLOC_MIB MiB), virtual $(label "$SIZE_B") vs $(label "$BIG_B") (qcow2, into tmpfs)" \
    big "$SMALL_L $BIG_L" "ferry qemu-img"
fi
exit 0
