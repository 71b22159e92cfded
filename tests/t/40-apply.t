#!/bin/bash
# End to end on the bundled example: validate, plan, dry-run, apply, the
# no-op second apply, status, saved plans, --target.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/example-lib.sh"

src_before=$(tree_state "$SRC"; find "$SRC" -type f -exec sha256sum {} + | sort)
ok "validate accepts the example" "$FERRY" validate "$PLAN"
out=$("$FERRY" plan --detailed-exitcode "$PLAN"); rc=$?
is "plan --detailed-exitcode: changes pending → 2" "$rc" 2
ok "plan lists the conversion to create" grep -q '^+ web01/convert/disk0: ' <<<"$out"
ok "plan summary counts 7 to create" grep -q '^7 to create, 0 to update, 0 done, 0 blocked$' <<<"$out"

before=$(tree_state "$TMP")
dry=$("$FERRY" apply --dry-run "$PLAN" 2>&1); rc=$?
after=$(tree_state "$TMP")
is "dry-run exits 0" "$rc" 0
is "dry-run writes nothing (no output, journal or lock)" "$after" "$before"
ok "dry-run says what it would do" grep -q 'Dry run: 7 would change, 0 unchanged' <<<"$dry"

fails "apply without --yes on a non-terminal refuses" 1 "$FERRY" apply "$PLAN" </dev/null
ok "apply --yes converges" "$FERRY" apply --yes --parallel 3 "$PLAN"
ok "every disk equals qemu-img's conversion" outputs_match
ok "no temporary files left" test -z "$(find "$OUT" -name '*.part' -o -name '*.tmp')"
ok "domain XML carries the plan's MAC" grep -q "00:50:56:aa:bb:01" "$OUT/web01.xml"
ok "domain XML has virtio disks" grep -q "bus='virtio'" "$OUT/web01.xml"
ok "libvirt accepts the domain XML" virsh -q -c test:///default define "$OUT/web01.xml"
ok "the lock is released" test ! -e "$STATE/example-local.state.lock"

out=$("$FERRY" plan --detailed-exitcode "$PLAN"); rc=$?
is "second plan: no changes → 0" "$rc" 0
ok "second plan: everything done" grep -q '^0 to create, 0 to update, 7 done, 0 blocked$' <<<"$out"
lines=$(wc -l <"$STATE/example-local.state")
out=$("$FERRY" apply --yes "$PLAN")
ok "second apply reports everything unchanged" grep -q 'Apply: 0 applied, 7 unchanged, 0 failed, 0 skipped' <<<"$out"
is "second apply writes nothing to the journal" "$(wc -l <"$STATE/example-local.state")" "$lines"
ok "status --json: all done" sh -c "'$FERRY' status --json '$PLAN' | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d[\"steps\"])==7 and all(s[\"state\"]==\"done\" for s in d[\"steps\"]), d'"

# saved plans
ok "plan -o saves" "$FERRY" plan -o "$TMP/saved.json" "$PLAN"
ok "apply SAVED runs when nothing changed" "$FERRY" apply --yes "$TMP/saved.json"
rm "$OUT/app01-disk0.raw"
out=$("$FERRY" apply --yes "$TMP/saved.json" 2>&1); rc=$?
is "apply SAVED refuses when the world changed" "$rc" 1
ok "... saying so" grep -q "stale: the world changed" <<<"$out"
"$FERRY" plan -o "$TMP/saved.json" "$PLAN" >/dev/null
echo "# edited" >>"$PLAN"
out=$("$FERRY" apply --yes "$TMP/saved.json" 2>&1); rc=$?
is "apply SAVED refuses when the plan file changed" "$rc" 1
ok "... saying so" grep -q "changed since it was saved" <<<"$out"

# --target: only app01 and what it needs
rm -f "$OUT"/*.raw "$OUT"/*.xml
ok "apply --target app01" "$FERRY" apply --yes --target app01 "$PLAN"
ok "app01 converted" cmp "$TMP/expect/app01-disk0.raw" "$OUT/app01-disk0.raw"
ok "its dependency db01 defined" test -e "$OUT/db01.xml"
ok "web01 left alone" test ! -e "$OUT/web01-disk0.raw"
fails "--target with an unknown vm is an error" 1 "$FERRY" apply --yes --target nosuch "$PLAN"

is "source disks untouched (bytes and mtimes)" "$(tree_state "$SRC"; find "$SRC" -type f -exec sha256sum {} + | sort)" "$src_before"

# graph
ok "graph shows cross-vm edge" sh -c "'$FERRY' graph '$PLAN' | grep -q '^web01/define .*db01/define'"
ok "graph --dot is graphviz" sh -c "'$FERRY' graph --dot '$PLAN' | grep -q '^digraph ferry'"
ok "--version" sh -c "'$FERRY' --version | grep -q '^ferry [0-9]'"
ok "--log-file writes timestamps" sh -c "'$FERRY' --log-file '$TMP/log' apply --yes '$PLAN' >/dev/null && grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' '$TMP/log'"
done_testing
