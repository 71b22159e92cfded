#!/bin/sh
# seeds-location.sh OUTDIR — rbd: names (plain, escaped, with options, bad)
# to start the location fuzzer from.
set -eu
D=${1:?usage: seeds-location.sh OUTDIR}
mkdir -p "$D"
i=0
for n in 'rbd:p/i' 'rbd:volumes/web01@snap:conf=/etc/ceph/ceph.conf:id=cinder' \
  'rbd:p\:o/i\@m\\g@s\:1:conf=/a\:b:id=u\@v' 'rbd:p/ns/i' 'rbd:p/i:mon_host=x' \
  'rbd:p/i:conf=' 'rbd:p/i\' '/srv/disk.vmdk' 'rbd:'; do
  i=$((i + 1))
  printf '%s' "$n" >"$D/seed-$i"
done
