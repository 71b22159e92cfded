#!/bin/bash
# Every CLI command and long option is documented in docs/ferry.1.md, and
# every registered module in docs/ferry-modules.7.md.
. "$(dirname "$0")/../lib.sh"
DOC=$TOP/docs/ferry.1.md
opts=$( { grep -oE '\{"[a-z][a-z-]*", (no|required)_argument' "$TOP/src/main.c" |
          sed -E 's/\{"([a-z-]+)".*/\1/'
        grep -oE 'one_flag_args \(argc, argv, "[a-z-]+"' "$TOP/src/main.c" |
          sed -E 's/.*"([a-z-]+)"/\1/'; } | sort -u)
[ -n "$opts" ] || { echo "not ok 1 - found no options in src/main.c"; exit 1; }
for o in $opts; do
  ok "option --$o is documented in ferry(1)" grep -q -- "--$o" "$DOC"
done
for c in validate plan apply status graph unlock schema modules convert inspect; do
  ok "command '$c' is documented" grep -q "^### $c" "$DOC"
  ok "command '$c' has --help" "$FERRY" "$c" --help
done
for m in $("$FERRY" modules | awk '{print $1}'); do
  ok "module '$m' is documented in ferry-modules(7)" grep -q "| $m |" "$TOP/docs/ferry-modules.7.md"
done
for x in 0 1 2 130; do
  ok "exit status $x documented" grep -qx "$x" "$DOC"
done
done_testing
