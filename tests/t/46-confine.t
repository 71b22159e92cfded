#!/bin/bash
# A disk image must not read files outside its source directory: every file
# an image names (VMDK extents and parents, ESXi delta parents, VHD/VHDX
# parent locators, qcow2 backing files) must resolve, symlinks followed, to
# a regular file in the image's directory (convert/inspect) or the plan
# source's path, plus --allow-dir / allow_dirs.  The hostile corpus comes
# from tests/gen/confine-corpus.py: each case exits exactly 1 with an error
# naming the image, the field and the name, and writes nothing.  Legit
# chains, symlinks inside the directory and allowed directories still give
# the right bytes.
. "$(dirname "$0")/../lib.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img not installed"
PY=/usr/bin/python3
TOOL=$TOP/tests/gen/vhdtool.py
cd "$TMP" || exit 1

# exit1 NAME RE_FIXED... -- CMD...: CMD exits exactly 1 (a FIFO must not
# make it hang: 60 s at most) and its output contains every fixed string.
exit1() {
  local name=$1; shift
  local needles=() out rc n miss=
  while [ "$1" != -- ]; do needles+=("$1"); shift; done; shift
  out=$(timeout 60 "$@" 2>&1 </dev/null); rc=$?
  for n in "${needles[@]}"; do
    grep -qF -- "$n" <<<"$out" || miss="$miss [$n]"
  done
  T_N=$((T_N + 1))
  if [ "$rc" = 1 ] && [ -z "$miss" ]; then echo "ok $T_N - $name"
  else echo "not ok $T_N - $name (exit $rc, missing:$miss)"
    T_FAIL=$((T_FAIL + 1)); printf '%s\n' "$out" | sed 's/^/# /' | head -5; fi
}

$PY "$TOP/tests/gen/confine-corpus.py" "$TMP/c" > cases.tsv ||
  { echo "1..0 # SKIP corpus generator failed"; exit 1; }
n_cases=$(wc -l < cases.tsv)
ok "the corpus has cases for every format" \
  test "$(grep -c '\.vmdk	' cases.tsv)" -ge 20 -a \
       "$(grep -c '\.qcow2	' cases.tsv)" -ge 14 -a \
       "$(grep -c '\.vhd	' cases.tsv)" -ge 8 -a \
       "$(grep -c '\.vhdx	' cases.tsv)" -ge 8

# 1. ferry convert and ferry inspect refuse every case; nothing written.
mkdir out
while IFS=$'\t' read -r img needle reason; do
  b=$(basename "$img")
  exit1 "convert $b: refused ($reason)" "'$img': $needle" "$reason" -- \
    "$FERRY" convert "$img" "out/$b.raw"
  ok "convert $b: no target written" \
    test ! -e "out/$b.raw" -a ! -e "out/$b.raw.part"
  exit1 "inspect $b: refused" "'$img': $needle" -- "$FERRY" inspect "$img"
done < cases.tsv
ok "the host secret reached no output" \
  test -z "$(grep -rl SECRET-host-file out 2>/dev/null)"

# The type check itself: /dev allowed explicitly, /dev/zero is still a
# device; an allowed directory does not let other names out.
exit1 "a device in an allowed directory is refused" \
  "backing file names '/dev/zero', which is a character device" -- \
  "$FERRY" convert --allow-dir /dev "$TMP/c/src/qcow2-devzero.qcow2" out/d.raw
exit1 "--allow-dir does not open other directories" \
  "backing file names '../host/secret'" "outside the allowed directories" -- \
  "$FERRY" convert --allow-dir /dev "$TMP/c/src/qcow2-dotdot.qcow2" out/d.raw
exit1 "--allow-dir that does not exist is an error" \
  "--allow-dir '$TMP/nowhere': No such file or directory" -- \
  "$FERRY" convert --allow-dir "$TMP/nowhere" "$TMP/c/src/qcow2-abs.qcow2" \
  out/d.raw
ok "no target written" test ! -e out/d.raw

# 2. The same through a plan: validate, plan and apply exit 1 naming every
# image, and apply converts nothing.
{
  cat <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: hostile}
state: {backend: file, path: state/hostile.state}
sources: {s: {type: directory, path: c/src}}
targets: {t: {type: local, path: planout}}
defaults: {source: s, target: t}
vms:
  - name: h
    disks:
EOF
  while IFS=$'\t' read -r img needle reason; do
    echo "      - {file: \"$(basename "$img")\"}"
  done < cases.tsv
} > hostile.yaml
out=$(timeout 120 "$FERRY" validate hostile.yaml 2>&1); rc=$?
is "validate of the hostile plan exits 1" "$rc" 1
i=0
while IFS=$'\t' read -r img needle reason; do
  b=$(basename "$img")
  ok "validate names $b, the field and the name" \
    grep -qF -- "vms[0].disks[$i].file: '$img': $needle" <<<"$out"
  i=$((i + 1))
done < cases.tsv
is "validate: one problem per hostile disk" \
  "$(grep -c '^hostile.yaml:.*vms\[0\]\.disks' <<<"$out")" "$n_cases"
exit1 "plan of the hostile plan exits 1" "qcow2-etc.qcow2': backing file" -- \
  "$FERRY" plan hostile.yaml
exit1 "apply of the hostile plan exits 1" \
  "vmdk-flat-abs.vmdk': extent 1 'FLAT' names" -- \
  "$FERRY" apply --yes hostile.yaml
ok "apply wrote no target" test -z "$(ls -A planout 2>/dev/null)"

# 3. Legit chains inside the directory convert to the right bytes.
mkdir -p pos/real shared
cd pos || exit 1
qemu-img create -q -f qcow2 base.qcow2 8M
qemu-io -f qcow2 -c "write -P 0x11 0 1M" -c "write -P 0x22 5M 512K" \
  base.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2
qemu-io -f qcow2 -c "write -P 0x33 512K 1M" top.qcow2 >/dev/null
same() {  # same IMAGE [ferry options]: ferry's raw equals qemu-img's
  local img=$1; shift
  rm -f f.raw q.raw
  "$FERRY" convert "$@" "$img" f.raw && qemu-img convert -O raw "$img" q.raw &&
    cmp f.raw q.raw
}
ok "qcow2 chain inside the directory: bytes equal qemu-img's" same top.qcow2
qemu-img convert -q -f qcow2 -O vmdk base.qcow2 base.vmdk
qemu-img create -q -f vmdk -b base.vmdk -F vmdk delta.vmdk
qemu-io -f vmdk -c "write -P 0x44 64K 128K" delta.vmdk >/dev/null
ok "VMDK delta inside the directory: bytes equal qemu-img's" same delta.vmdk
# symlinks that stay inside: a file and a directory
ln -s base.qcow2 alias.qcow2
qemu-img create -q -f qcow2 -u -b alias.qcow2 -F qcow2 viaalias.qcow2 8M
ok "backing file through a symlink inside the directory" same viaalias.qcow2
cp base.qcow2 real/base2.qcow2
ln -s real lnk
qemu-img create -q -f qcow2 -u -b lnk/base2.qcow2 -F qcow2 vialnk.qcow2 8M
ok "backing file through a symlinked subdirectory inside" same vialnk.qcow2
# VHD and VHDX differencing chains (qemu-img reads neither: compare with
# the parent's bytes and the write applied by dd)
head -c 4096 /dev/urandom > w
qemu-img convert -q -O raw top.qcow2 pattern.raw
for ext in vhd vhdx; do
  fmt=$([ $ext = vhd ] && echo vpc || echo vhdx)
  qemu-img convert -q -f raw -O $fmt -o subformat=dynamic pattern.raw base.$ext
  qemu-img convert -q -f $fmt -O raw base.$ext exp-$ext.raw
  dd if=w of=exp-$ext.raw bs=4096 seek=3 conv=notrunc status=none
  $PY "$TOOL" diff-$ext base.$ext child.$ext --write $((3 * 4096)):w
  rm -f f.raw
  ok "$ext differencing chain inside the directory converts" \
    "$FERRY" convert child.$ext f.raw
  ok "$ext chain: bytes equal the parent plus the write" cmp f.raw exp-$ext.raw
done

# 4. Parents in another directory: refused, accepted with --allow-dir.
cp base.qcow2 base.vmdk ../shared/
cp base.vhd ../shared/sbase.vhd  # no sbase.vhd here to fall back on
qemu-img create -q -f qcow2 -b ../shared/base.qcow2 -F qcow2 stop.qcow2
qemu-io -f qcow2 -c "write -P 0x55 2M 64K" stop.qcow2 >/dev/null
qemu-img create -q -f vmdk -b ../shared/base.vmdk -F vmdk sdelta.vmdk
$PY "$TOOL" diff-vhd ../shared/sbase.vhd schild.vhd --rel '..\shared\sbase.vhd' \
  --write $((3 * 4096)):w
for img in stop.qcow2 sdelta.vmdk schild.vhd; do
  exit1 "$img: parent in ../shared refused by default" \
    "outside the source directory '$(pwd -P)'" -- "$FERRY" convert $img x.raw
  ok "$img: no target written" test ! -e x.raw
done
ok "qcow2 parent in an --allow-dir: bytes equal qemu-img's" \
  same stop.qcow2 --allow-dir ../shared
ok "VMDK parent in an --allow-dir: bytes equal qemu-img's" \
  same sdelta.vmdk --allow-dir "$TMP/shared"
rm -f f.raw
ok "VHD parent in an --allow-dir converts" \
  "$FERRY" convert --allow-dir ../shared schild.vhd f.raw
ok "... to the parent plus the write" cmp f.raw exp-vhd.raw
ok "inspect with --allow-dir shows the parent" \
  grep -q "parent\[0\]: *$TMP/shared/base.qcow2" \
  <<<"$("$FERRY" inspect --allow-dir ../shared stop.qcow2)"
cd "$TMP" || exit 1

# 5. The plan's allow_dirs: without it validate refuses, with it apply
# converts the right bytes (modules/convert.c opens with the same rule).
cat > shared.yaml <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: shared}
state: {backend: file, path: state/shared.state}
sources: {s: {type: directory, path: pos}}
targets: {t: {type: local, path: sharedout}}
defaults: {source: s, target: t}
vms:
  - {name: a, disks: [{file: stop.qcow2}, {file: sdelta.vmdk}]}
EOF
exit1 "plan without allow_dirs: validate refuses the outside parents" \
  "vms[0].disks[0].file: '$TMP/pos/stop.qcow2': backing file names '../shared/base.qcow2'" \
  "vms[0].disks[1].file: '$TMP/pos/sdelta.vmdk': parentFileNameHint names" -- \
  "$FERRY" validate shared.yaml
exit1 "plan without allow_dirs: apply refuses" "outside the source directory" \
  -- "$FERRY" apply --yes shared.yaml
ok "... and writes nothing" test -z "$(ls -A sharedout 2>/dev/null)"
sed -i 's|path: pos}}|path: pos, allow_dirs: [shared]}}|' shared.yaml
ok "plan with allow_dirs: validate passes" "$FERRY" validate shared.yaml
ok "plan with allow_dirs: apply converges" \
  timeout 300 "$FERRY" apply --yes shared.yaml
qemu-img convert -O raw pos/stop.qcow2 exp0.raw
qemu-img convert -O raw pos/sdelta.vmdk exp1.raw
ok "disk 0 (qcow2 over a shared base) equals qemu-img's bytes" \
  cmp sharedout/a-disk0.raw exp0.raw
ok "disk 1 (VMDK over a shared base) equals qemu-img's bytes" \
  cmp sharedout/a-disk1.raw exp1.raw
sed -i 's|allow_dirs: \[shared\]|allow_dirs: [nowhere]|' shared.yaml
exit1 "an allow_dirs entry that does not exist is named" \
  "sources.s.allow_dirs[0] '$TMP/nowhere': No such file or directory" -- \
  "$FERRY" validate shared.yaml

done_testing
