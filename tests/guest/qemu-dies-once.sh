#!/bin/bash
# A qemu for LIBGUESTFS_HV that dies (SIGABRT, as qemu does on a /dev/kvm
# that aborts every guest) on the first appliance launch after
# $QEMU_DIES_ONCE_MARK was removed, and runs the real qemu otherwise: the
# fault a healthy host cannot make, for the TCG-retry test.
mark=${QEMU_DIES_ONCE_MARK:?}
case " $* " in
*" -kernel "*)
  if [ ! -e "$mark" ]; then
    : >"$mark"
    kill -ABRT $$
  fi
  ;;
esac
exec qemu-system-x86_64 "$@"
