# tests/example-lib.sh — set up a copy of plans/example-local.yaml in $TMP
# (source it after lib.sh).  Gives: $PLAN, $OUT, $STATE, $SRC, and
# expected raw images in $TMP/expect/*.raw made by qemu-img (the oracle).
SRC=$TMP/sources OUT=$TMP/out STATE=$TMP/state
PLAN=$TMP/plan.yaml
bash "$TOP/tests/gen/example-disks.sh" "$SRC" >/dev/null
sed "s#\.\./build/example#$TMP#g" "$TOP/plans/example-local.yaml" >"$PLAN"
mkdir -p "$TMP/expect"
for pair in db01-disk0:hyperv/db01.vhdx web01-disk0:vmware/web01/web01.vmdk \
            web01-disk1:vmware/web01/web01_1.vmdk app01-disk0:kvm/app01.qcow2; do
  qemu-img convert -O raw "$SRC/${pair#*:}" "$TMP/expect/${pair%%:*}.raw"
done
EXAMPLE_DISKS="db01-disk0 web01-disk0 web01-disk1 app01-disk0"

# outputs_match: every migrated disk equals qemu-img's conversion.
outputs_match() {
  local d
  for d in $EXAMPLE_DISKS; do
    cmp "$TMP/expect/$d.raw" "$OUT/$d.raw" || { echo "$d differs"; return 1; }
  done
}
# tree_state DIR: names, sizes and mtimes of everything under DIR.
tree_state() { find "$1" -printf '%p %s %T@\n' 2>/dev/null | sort; }
