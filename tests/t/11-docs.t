#!/bin/bash
# Every CLI command and option is documented in docs/ferry.1.md (the lists
# come from the binary's command table: `ferry help --list` and
# `ferry help --list-options`), and every registered module in
# docs/ferry-modules.7.md.
. "$(dirname "$0")/../lib.sh"
DOC=$TOP/docs/ferry.1.md
cmds=$("$FERRY" help --list)
opts=$("$FERRY" help --list-options)
[ -n "$cmds" ] || { echo "not ok 1 - ferry help --list printed no commands"; exit 1; }
[ -n "$opts" ] || { echo "not ok 1 - ferry help --list-options printed no options"; exit 1; }
# The text of one command's section: from '### CMD' to the next heading.
section() { awk -v c="$1" '/^##/ { on = ($0 ~ "^### " c "( |$)") } on' "$DOC"; }
while read -r c o; do
  if [ "$c" = ferry ]; then
    ok "global option $o is documented in ferry(1)" grep -q -- "$o" "$DOC"
  else
    ok "option '$c $o' is documented in its section of ferry(1)" \
      sh -c 'printf "%s\n" "$1" | grep -q -- "$2"' _ "$(section "$c")" "$o"
  fi
done <<< "$opts"
for c in $cmds; do
  ok "command '$c' is documented" grep -q "^### $c" "$DOC"
  ok "command '$c' has --help" "$FERRY" "$c" --help
done
for m in $("$FERRY" modules | awk '{print $1}'); do
  ok "module '$m' is documented in ferry-modules(7)" grep -q "| $m |" "$TOP/docs/ferry-modules.7.md"
done
for x in 0 1 2 130; do
  ok "exit status $x documented" grep -qx "$x" "$DOC"
done
# --help points at the manual, and both places it names hold it.
help=$("$FERRY" --help)
docdir=$(printf '%s\n' "$help" | sed -n 's|^  \(/.*\)/ferry\.1\.md (installed)$|\1|p')
ok "--help names the installed manual" test -n "$docdir"
ok "--help names the manual in the source tree" sh -c 'printf "%s\n" "$1" | grep -qx "  docs/ferry.1.md (source tree)"' _ "$help"
ok "the source tree's manual exists" test -s "$TOP/docs/ferry.1.md"
ok "--help promises no man page that is not installed" sh -c '! printf "%s\n" "$1" | grep -q "man ferry"' _ "$help"
ok "make install puts the manual where --help says" \
  sh -c 'make -s -C "$1" install DESTDIR="$2" PREFIX="$3" >/dev/null && cmp "$1/docs/ferry.1.md" "$2$4/ferry.1.md"' \
  _ "$TOP" "$TMP/inst" "${docdir%/share/doc/ferry}" "$docdir"
done_testing
