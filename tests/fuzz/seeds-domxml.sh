#!/bin/sh
# seeds-domxml.sh OUTDIR — seeds for fuzz-domxml: domain XML of the shapes
# ferry reads (a virt-install'd UEFI Debian with a backing chain, a Ceph
# domain with rbd + block disks and a bridge, a domain tied to its host by
# every kind of blocker) and a few hostile ones (DOCTYPE with entities,
# deep nesting, odd memory units).
set -eu
d=${1:?usage: seeds-domxml.sh OUTDIR}
mkdir -p "$d"
cat >"$d/debian.xml" <<'X'
<domain type='kvm' id='3'>
  <name>debian12</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>2097152</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/debian12_VARS.fd</nvram>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/debian12.qcow2' index='2'/>
      <backingStore type='file' index='3'>
        <format type='qcow2'/>
        <source file='/var/lib/libvirt/images/base.qcow2'/>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:6b:3c:58'/>
      <source network='default' portid='7f2f7e6e-4a3c-4d8e-9bd3-0a1c2b3d4e5f' bridge='virbr0'/>
      <model type='virtio'/>
    </interface>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>
    </channel>
    <redirdev bus='usb' type='spicevmc'/>
  </devices>
</domain>
X
cat >"$d/ceph.xml" <<'X'
<domain type='kvm'>
  <name>db1</name>
  <memory unit='GiB'>8</memory>
  <vcpu current='4'>8</vcpu>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <devices>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='writeback'/>
      <auth username='libvirt'><secret type='ceph' uuid='5c1f2e3d-0a9b-4c8d-b7e6-f5a4b3c2d1e0'/></auth>
      <source protocol='rbd' name='vms/db1-root'>
        <host name='10.0.0.11' port='6789'/>
        <host name='10.0.0.12' port='6789'/>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/vg0/db1-data'/>
      <target dev='vdb' bus='virtio'/>
      <shareable/>
    </disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
    <interface type='bridge'><mac address='52:54:00:AA:BB:01'/><source bridge='br0'/></interface>
  </devices>
</domain>
X
cat >"$d/tied.xml" <<'X'
<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>gpu</name>
  <memory unit='b'>1073741824</memory>
  <devices>
    <disk type='volume'><source pool='default' volume='v.qcow2'/><target dev='vda'/></disk>
    <hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/></source></hostdev>
    <hostdev mode='subsystem' type='usb'><source><vendor id='0x046d'/><product id='0xc52b'/></source></hostdev>
    <hostdev mode='subsystem' type='mdev'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>
    <interface type='hostdev'><mac address='52:54:00:00:00:01'/></interface>
    <filesystem type='mount'><source dir='/srv'/><target dir='srv'/></filesystem>
    <tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>
    <smartcard mode='passthrough' type='tcp'/>
    <shmem name='ivshmem0'/>
  </devices>
  <qemu:commandline><qemu:arg value='-S'/></qemu:commandline>
</domain>
X
cat >"$d/hostile-doctype.xml" <<'X'
<!DOCTYPE domain [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
]>
<domain type='kvm'><name>&b;</name><memory>1</memory></domain>
X
{ printf "<domain type='kvm'><name>n</name><memory unit='EiB'>15</memory><devices>"
  i=0; while [ $i -lt 300 ]; do printf '<disk>'; i=$((i + 1)); done
  echo '</devices></domain>'; } >"$d/hostile-deep.xml"
exit 0
