# tests/guest/windows-lib.sh - shared by the Windows guest tests
# (tests/t/82-guest-windows.t, 86-guest-windows-*.t); source it after
# tests/lib.sh.  Builds (cached) the phony Windows image of a variant, a
# fake virtio-win tree, a plan with a local target around a copy of the
# image, and reads results back independently of ferry: one guestfish
# session downloads the hives and copies out ferry's files, hivexregedit
# (hivex's own tool) exports keys with their types and data.
. "$TOP/tests/guest/env.sh" || exit 1
GUEST_OP=$TOP/tests/helpers/guest-op
GUEST_DEPS="$TOP/tests/guest/mkhive.c"

# win_setup VARIANT VM: $TMP/VM/{plan.yaml,out/VM-disk0.raw}, $TMP/virtio;
# the plan's customize block is read from stdin (indented 6 spaces).
win_setup() {
  local variant=$1 vm=$2 img custom
  img=$(guest_image "windows-$variant" "$TOP/tests/guest/make-windows.sh" "$variant") || return 1
  [ -d "$TMP/virtio" ] || "$TOP/tests/guest/make-virtio-win.sh" "$TMP/virtio" || return 1
  mkdir -p "$TMP/$vm/src" "$TMP/$vm/out"
  truncate -s 1M "$TMP/$vm/src/$vm.raw"
  cp --sparse=always "$img" "$TMP/$vm/out/$vm-disk0.raw"
  custom=$(cat)
  cat > "$TMP/$vm/plan.yaml" <<EOF
apiVersion: ferry/v1
kind: MigrationPlan
metadata: {name: t-$vm}
sources:
  s: {type: directory, path: src}
targets:
  t: {type: local, path: out}
defaults: {source: s, target: t}
vms:
  - name: $vm
    disks: [{file: $vm.raw}]
$custom
EOF
}

# win_readback VM: one appliance: $TMP/VM/rb/{SYSTEM,SOFTWARE}, the
# VirtIO driver folder, System32/drivers/viostor.sys, ferry's first-boot
# folder and every file in $READBACK_FILES (guest paths, one a line,
# copied into rb/extra/).
win_readback() {
  local vm=$1 rb=$TMP/$1/rb f
  rm -rf "$rb" && mkdir -p "$rb/drivers" "$rb/extra"
  {
    echo "run"
    echo "mount-ro /dev/sda1 /"
    echo "download /Windows/System32/config/SYSTEM $rb/SYSTEM"
    echo "download /Windows/System32/config/SOFTWARE $rb/SOFTWARE"
    echo "-copy-out /Windows/Drivers/VirtIO $rb/"
    echo "-download /Windows/System32/drivers/viostor.sys $rb/drivers/viostor.sys"
    echo "-copy-out \"/Program Files/Ferry\" $rb/"
    while IFS= read -r f; do
      [ -n "$f" ] && echo "-copy-out \"$f\" $rb/extra/"
    done <<<"${READBACK_FILES:-}"
  } | guestfish --ro --format=raw -a "$TMP/$vm/out/$vm-disk0.raw"
}

# reg_export HIVE PREFIX KEY: KEY and its subkeys as .reg text, strings
# printable, without the header line.
reg_export() {
  hivexregedit --export --unsafe-printable-strings --prefix "$2" "$1" "$3" | tail -n +2
}
