#!/bin/bash
# bench/workers.sh — a wave of VMs applied by 1, 2 and 3 `apply --worker`
# processes (issue 12), with the state in a file and in RADOS, against what
# an operator does without workers: split the VM list by hand into one plan
# per process (`split`), each a plain `ferry apply`.
#
# BENCH_WORKERS_VMS VMs (default 30), each one raw disk of
# BENCH_WORKERS_DISK (default 64M, ~40 % random data, bench/gen-disk.py, fixed
# seeds) onto a local target in one tmpfs directory; every process runs
# with -p 2.  Per backend and process count: wall time, VMs per process,
# MiB/s of source data over the wall time, and for RADOS the coordination
# cost as the OSD counts it (its perf counters `osd.op` and the sum of
# `osd.op_latency`, before and after the run: every op of the run is a
# state op, the targets being files): ops and OSD milliseconds per VM.
# Lock renewals are among those ops: one per held lock every 15 s (the
# default 60 s duration / 4), none in a run shorter than that.  Then `ferry plan` of a 1,000-VM plan whose state is
# in RADOS (bench/plan-scale.sh with BENCH_PLAN_STATE), which must stay
# under 2 s.  The page cache is dropped before each run (when root).
# Every run's targets are compared with the sources (a fast wrong answer
# is no answer); the journal is checked for steps begun twice.
# Needs a Ceph lab: started here (tests/lab/ceph-start.sh) in
# $DIR/ceph on 127.0.0.1:BENCH_WORKERS_CEPH_PORT (6896), stopped at the end.
# Env: BENCH_WORKERS_VMS=30 BENCH_WORKERS_DISK=64M BENCH_WORKERS_RUNS=1
#      BENCH_WORKERS_PLAN_VMS=1000 FERRY_BENCH_DIR=/var/tmp/ferry-bench
#      BENCH_SHM=/dev/shm FERRY=./ferry
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
N=${BENCH_WORKERS_VMS:-30}
DISK=${BENCH_WORKERS_DISK:-64M}
RUNS=${BENCH_WORKERS_RUNS:-1}
PLAN_VMS=${BENCH_WORKERS_PLAN_VMS:-1000}
PORT=${BENCH_WORKERS_CEPH_PORT:-6896}
DIR=${FERRY_BENCH_DIR:-/var/tmp/ferry-bench}/workers
SHM=${BENCH_SHM:-/dev/shm}/ferry-bench-workers
CEPH=$DIR/ceph
bytes=$(numfmt --from=iec "$DISK")
cleanup() { "$TOP/tests/lab/ceph-stop.sh" "$CEPH" >/dev/null 2>&1; rm -rf "$SHM"; }
trap cleanup EXIT
mkdir -p "$DIR/src" "$SHM"
data=0
for i in $(seq 1 "$N" | xargs printf '%02d\n'); do
  f=$DIR/src/vm$i.raw
  [ -s "$f" ] && [ "$(stat -c %s "$f")" = "$bytes" ] ||
    python3 "$TOP/bench/gen-disk.py" "$f" "$bytes" "$((1000 + 10#$i))" \
      "hole:0.6,random:0.4" >/dev/null
  data=$((data + $(stat -c %b "$f") * 512))
done
echo "workers: $N VMs x $DISK ($((data >> 20)) MiB of data), -p 2 per process, $(nproc) CPUs"
if ! "$TOP/tests/lab/ceph-start.sh" "$CEPH" "$PORT" >"$DIR/ceph-start.out" 2>&1; then
  echo "workers: the Ceph lab does not start:"; tail -5 "$DIR/ceph-start.out"; exit 1
fi
CONF=$CEPH/ceph.conf
drop() { [ "$(id -u)" = 0 ] && sync && echo 3 >/proc/sys/vm/drop_caches; }

# plan FILE NAME STATE FIRST LAST: a plan of vmFIRST..vmLAST
plan() {
  local i
  {
    echo "apiVersion: ferry/v1"
    echo "kind: MigrationPlan"
    echo "metadata: {name: $2}"
    echo "state: $3"
    echo "sources: {d: {type: directory, path: $DIR/src}}"
    echo "targets: {t: {type: local, path: out}}"
    echo "defaults: {source: d, target: t}"
    echo "vms:"
    for i in $(seq "$4" "$5" | xargs printf '%02d\n'); do
      echo "  - {name: vm$i, disks: [{file: vm$i.raw}]}"
    done
  } >"$1"
}
# check RUN_DIR...: how many VMs' vmNN-disk0.raw (in one of the dirs'
# out/) is missing or differs from its source
check() {
  local i d f bad=0
  for i in $(seq 1 "$N" | xargs printf '%02d\n'); do
    f=
    for d in "$@"; do
      [ -e "$d/out/vm$i-disk0.raw" ] && { f=$d/out/vm$i-disk0.raw; break; }
    done
    [ -n "$f" ] && cmp -s "$f" "$DIR/src/vm$i.raw" || bad=$((bad + 1))
  done
  echo $bad
}
# twice BACKEND RUN_DIR OBJECT: steps whose begin the journal has twice
twice() {
  if [ "$1" = file ]; then cat "$2"/.ferry/*.state "$2"/p*/.ferry/*.state 2>/dev/null
  else
    rados -c "$CONF" -p rbd ls | grep "^$3" | while read -r o; do
      rados -c "$CONF" -p rbd get "$o" -; done
  fi | grep '"event":"begin"' | sed 's/.*"step":"\([^"]*\)".*/\1/' | sort | uniq -d | wc -l
}

# osd_ops: "OPS LATENCY_SECONDS" of the OSD so far
osd_ops() {
  ceph --admin-daemon "$CEPH/run/osd.0.asok" perf dump 2>/dev/null |
    python3 -c 'import json,sys; j=json.load(sys.stdin)["osd"]; print(j["op"], j["op_latency"]["sum"])'
}
printf '\n%-7s %-8s %5s %8s %-12s %9s %10s %10s\n' backend mode procs "wall s" "VMs/proc" "MiB/s" "ops/VM" "OSD ms/VM"
run_id=0
for backend in file rados; do
  for procs in 1 2 3; do
    for mode in workers split; do
      [ $mode = split ] && [ $procs = 1 ] && continue
      for r in $(seq 1 "$RUNS"); do
        run_id=$((run_id + 1))
        W=$SHM/run$run_id; rm -rf "$W"; mkdir -p "$W"
        if [ $backend = file ]; then st="{backend: file}"
        else st="{backend: rados, pool: rbd, conf: $CONF, object: bench$run_id-$$}"; fi
        dirs=()
        if [ $mode = workers ]; then
          plan "$W/plan.yaml" wave "$st" 1 "$N"
          for p in $(seq 1 "$procs"); do dirs+=("$W"); done
        else
          per=$(((N + procs - 1) / procs))
          for p in $(seq 1 "$procs"); do
            a=$(((p - 1) * per + 1)); b=$((p * per < N ? p * per : N))
            mkdir -p "$W/p$p"
            plan "$W/p$p/plan.yaml" "wave$p" "${st/object: bench$run_id/object: bench$run_id-$p}" "$a" "$b"
            dirs+=("$W/p$p")
          done
        fi
        drop
        read -r ops0 lat0 < <(osd_ops)
        t0=$(date +%s.%N)
        pids=()
        for p in $(seq 1 "$procs"); do
          if [ $mode = workers ]; then
            (cd "$W" && exec "$FERRY" apply --worker --yes -p 2 plan.yaml >"$W/out$p.log" 2>&1) & pids+=($!)
          else
            (cd "$W/p$p" && exec "$FERRY" apply --yes -p 2 plan.yaml >"$W/out$p.log" 2>&1) & pids+=($!)
          fi
        done
        rcs=0
        for pid in "${pids[@]}"; do wait "$pid" || rcs=$((rcs + 1)); done
        t1=$(date +%s.%N)
        wall=$(echo "$t1 - $t0" | bc)
        uniq_dirs=$(printf '%s\n' "${dirs[@]}" | sort -u)
        # shellcheck disable=SC2086
        bad=$(check $uniq_dirs)
        if [ $mode = workers ]; then
          per=$(sed -n 's/.*done (\([0-9]*\) by this worker.*/\1/p' "$W"/out*.log | tr '\n' '/' | sed 's,/$,,')
        else
          per=$(for p in $(seq 1 "$procs"); do grep -c "^  - {name" "$W/p$p/plan.yaml"; done | tr '\n' '/' | sed 's,/$,,')
        fi
        read -r ops1 lat1 < <(osd_ops)
        ops=- ms=-
        if [ $backend = rados ] && [ -n "${ops1:-}" ]; then
          ops=$(echo "scale=1; ($ops1 - $ops0) / $N" | bc)
          ms=$(echo "scale=2; ($lat1 - $lat0) * 1000 / $N" | bc)
        fi
        dup=$(twice $backend "$W" "bench$run_id-$$")
        status="ok"
        [ "$rcs" = 0 ] || status="$rcs failed ($(grep -h -m1 'error' "$W"/out*.log | head -1 | cut -c1-120))"
        [ "$dup" = 0 ] || status="$status, $dup steps begun twice"
        [ "$bad" = 0 ] || status="$status, $bad wrong targets"
        printf '%-7s %-8s %5d %8.2f %-12s %9.0f %10s %10s  %s\n' $backend $mode "$procs" "$wall" "$per" \
          "$(echo "$data / 1048576 / $wall" | bc -l)" "$ops" "$ms" "$status"
      done
    done
  done
done

echo
echo "plan-scale on RADOS:"
BENCH_VMS=$PLAN_VMS BENCH_PLAN_DIR=$DIR/plan-scale \
  BENCH_PLAN_STATE="{backend: rados, pool: rbd, conf: $CONF, object: scale-$$}" \
  bash "$TOP/bench/plan-scale.sh"
