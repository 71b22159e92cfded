# tests/lib.sh — tiny TAP helpers for shell tests (source it).
# Usage: . "$(dirname "$0")/../lib.sh"; plan N; ok "name" cmd...; done_testing
#
#   ok NAME CMD...                 CMD exits 0
#   fails NAME CODE CMD...         CMD exits exactly CODE (1..127; ferry: 1
#                                  error, 2 plan changes, 130 interrupted —
#                                  see docs/ferry.1.md EXIT STATUS)
#   fails_with NAME CODE ERE CMD...  as fails, and the output matches ERE
#   is NAME GOT WANT               strings equal
# TODO="why" fails_with ... marks a known, reported defect: the result is
# printed with "# TODO why" (prove lists it; a pass shows as "unexpectedly
# succeeded") and a failure does not fail the file.  Never use it to hide
# a failure nobody is fixing.
# Failure details go to stderr, so that prove shows them without -v.
# A death by signal (status >= 128 unless CODE says so exactly) and any
# sanitizer report ("AddressSanitizer", "LeakSanitizer", "runtime error:")
# in the output always fail, in ok as well as in fails.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FERRY=${FERRY:-$TOP/ferry}
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# Sanitizers exit 1 by default, the very status ferry uses for "error":
# make a sanitizer death (make check-asan) exit 86, which no test expects.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=86:print_stacktrace=1
T_N=0
T_FAIL=0
# A scratch directory removed at exit (kept with KEEP=1).
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-test.XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"' EXIT

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# sanitized OUT: true when OUT holds a sanitizer report.
sanitized() {
  grep -Eq 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' <<<"$1"
}
# ok NAME CMD...: passes if CMD exits 0 and no sanitizer spoke; on failure
# shows CMD's output.
ok() {
  local name=$1; shift
  T_N=$((T_N + 1))
  local out
  if out=$("$@" 2>&1) && ! sanitized "$out"; then echo "ok $T_N - $name"
  else echo "not ok $T_N - $name"; T_FAIL=$((T_FAIL + 1))
    printf '%s\n' "$out" | sed 's/^/# /' | head -40 >&2; fi
}
# fails_with NAME CODE ERE CMD...: passes if CMD exits exactly CODE, prints
# a line matching ERE (grep -E; "" matches anything), and no sanitizer
# spoke.  CODE must be a number: "fails NAME CMD" (the old form) is refused.
fails_with() {
  local name=$1 code=$2 re=$3 out rc why=""
  T_N=$((T_N + 1))
  if ! [[ $code =~ ^[0-9]+$ ]] || [ $# -lt 4 ]; then
    echo "not ok $T_N - $name (test bug: fails/fails_with need an exit CODE, got '$code')"
    T_FAIL=$((T_FAIL + 1)); return
  fi
  shift 3
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then
    why="exit $rc, want $code"
    [ "$rc" -ge 128 ] && why="$why: killed by signal $((rc - 128))?"
  elif sanitized "$out"; then why="sanitizer report"
  elif [ -n "$re" ] && ! grep -Eq -- "$re" <<<"$out"; then why="output lacks /$re/"
  fi
  local todo=${TODO:+ # TODO $TODO}
  if [ -z "$why" ]; then echo "ok $T_N - $name$todo"
  else echo "not ok $T_N - $name ($why)$todo"
    [ -n "$todo" ] || T_FAIL=$((T_FAIL + 1))
    printf '%s\n' "$out" | sed 's/^/# /' | head -20 >&2; fi
}
# fails NAME CODE CMD...: passes if CMD exits exactly CODE (see above).
fails() {
  local name=$1 code=${2-}
  shift 2 2>/dev/null || shift $#
  fails_with "$name" "$code" "" "$@"
}
# is NAME GOT WANT
is() {
  T_N=$((T_N + 1))
  if [ "$2" = "$3" ]; then echo "ok $T_N - $1"
  else echo "not ok $T_N - $1"; echo "#   got: '$2'" >&2; echo "#  want: '$3'" >&2
    T_FAIL=$((T_FAIL + 1)); fi
}
done_testing() { echo "1..$T_N"; [ "$T_FAIL" = 0 ]; }
