# tests/lib.sh — tiny TAP helpers for shell tests (source it).
# Usage: . "$(dirname "$0")/../lib.sh"; plan N; ok "name" cmd...; done_testing
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
T_N=0
T_FAIL=0
# A scratch directory removed at exit (kept with KEEP=1).
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-test.XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# ok NAME CMD...: passes if CMD exits 0; on failure shows CMD's output.
ok() {
  local name=$1; shift
  T_N=$((T_N + 1))
  local out
  if out=$("$@" 2>&1); then echo "ok $T_N - $name"
  else echo "not ok $T_N - $name"; T_FAIL=$((T_FAIL + 1))
    printf '%s\n' "$out" | sed 's/^/# /' | head -40; fi
}
# fails NAME CMD...: passes if CMD exits non-zero.
fails() {
  local name=$1; shift
  T_N=$((T_N + 1))
  local out
  if out=$("$@" 2>&1); then echo "not ok $T_N - $name (expected failure)"
    T_FAIL=$((T_FAIL + 1)); printf '%s\n' "$out" | sed 's/^/# /' | head -20
  else echo "ok $T_N - $name"; fi
}
# is NAME GOT WANT
is() {
  T_N=$((T_N + 1))
  if [ "$2" = "$3" ]; then echo "ok $T_N - $1"
  else echo "not ok $T_N - $1"; echo "#   got: '$2'"; echo "#  want: '$3'"
    T_FAIL=$((T_FAIL + 1)); fi
}
done_testing() { echo "1..$T_N"; [ "$T_FAIL" = 0 ]; }
