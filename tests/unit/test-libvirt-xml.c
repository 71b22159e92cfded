/* libvirt domain XML: what ferry reads from realistic domains (a
 * virt-install'd Debian as a running domain shows it, rbd, block, bridge),
 * the blockers that keep a domain on its host, memory units, hostile
 * documents (entity bombs, oversize, bad values), and rewrites read back
 * through the parser. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clients/libvirt-xml.h"
#include "util/cleanup.h"

/* virt-install --os-variant debian12 --boot uefi, running: live ids and
 * aliases, a backing chain, an empty cdrom, the agent channel, an emulated
 * TPM and the two spicevmc redirdevs virt-install adds (not blockers). */
static const char debian[] =
    "<domain type='kvm' id='3'>\n"
    "  <name>debian12</name>\n"
    "  <uuid>4DEA22B3-1D52-D8F3-2516-782E98AB3FA0</uuid>\n"
    "  <metadata>\n"
    "    <libosinfo:libosinfo "
    "xmlns:libosinfo=\"http://libosinfo.org/xmlns/libvirt/domain/1.0\">\n"
    "      <libosinfo:os id=\"http://debian.org/debian/12\"/>\n"
    "    </libosinfo:libosinfo>\n"
    "  </metadata>\n"
    "  <memory unit='KiB'>2097152</memory>\n"
    "  <currentMemory unit='KiB'>2097152</currentMemory>\n"
    "  <vcpu placement='static'>2</vcpu>\n"
    "  <resource>\n"
    "    <partition>/machine</partition>\n"
    "  </resource>\n"
    "  <os firmware='efi'>\n"
    "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
    "    <firmware>\n"
    "      <feature enabled='yes' name='enrolled-keys'/>\n"
    "      <feature enabled='yes' name='secure-boot'/>\n"
    "    </firmware>\n"
    "    <loader readonly='yes' secure='yes' "
    "type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>\n"
    "    <nvram "
    "template='/usr/share/OVMF/"
    "OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/debian12_VARS.fd</"
    "nvram>\n"
    "    <boot dev='hd'/>\n"
    "  </os>\n"
    "  <features>\n"
    "    <acpi/>\n"
    "    <apic/>\n"
    "    <smm state='on'/>\n"
    "  </features>\n"
    "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n"
    "  <on_poweroff>destroy</on_poweroff>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='qcow2' cache='none' io='native' "
    "discard='unmap'/>\n"
    "      <source file='/var/lib/libvirt/images/debian12.qcow2' index='2'/>\n"
    "      <backingStore type='file' index='3'>\n"
    "        <format type='qcow2'/>\n"
    "        <source file='/var/lib/libvirt/images/debian12-base.qcow2'/>\n"
    "        <backingStore/>\n"
    "      </backingStore>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "      <alias name='virtio-disk0'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' "
    "function='0x0'/>\n"
    "    </disk>\n"
    "    <disk type='file' device='cdrom'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <target dev='sda' bus='sata'/>\n"
    "      <readonly/>\n"
    "      <alias name='sata0-0-0'/>\n"
    "    </disk>\n"
    "    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>\n"
    "    <interface type='network'>\n"
    "      <mac address='52:54:00:6B:3C:58'/>\n"
    "      <source network='default' "
    "portid='7f2f7e6e-4a3c-4d8e-9bd3-0a1c2b3d4e5f' bridge='virbr0'/>\n"
    "      <target dev='vnet2'/>\n"
    "      <model type='virtio'/>\n"
    "      <alias name='net0'/>\n"
    "    </interface>\n"
    "    <channel type='unix'>\n"
    "      <source mode='bind' "
    "path='/run/libvirt/qemu/channel/3-debian12/org.qemu.guest_agent.0'/>\n"
    "      <target type='virtio' name='org.qemu.guest_agent.0' "
    "state='connected'/>\n"
    "      <alias name='channel0'/>\n"
    "    </channel>\n"
    "    <channel type='spicevmc'>\n"
    "      <target type='virtio' name='com.redhat.spice.0'/>\n"
    "    </channel>\n"
    "    <graphics type='spice' port='5900' autoport='yes' "
    "listen='127.0.0.1'/>\n"
    "    <tpm model='tpm-crb'>\n"
    "      <backend type='emulator' version='2.0'/>\n"
    "    </tpm>\n"
    "    <redirdev bus='usb' type='spicevmc'/>\n"
    "    <redirdev bus='usb' type='spicevmc'/>\n"
    "  </devices>\n"
    "  <seclabel type='dynamic' model='dac' relabel='yes'/>\n"
    "</domain>\n";

/* A Ceph-backed domain: rbd disk with two monitors, auth and a secret, a
 * block device, a bridge NIC, BIOS boot, no agent. */
static const char cephdom[] =
    "<domain type='kvm'>\n"
    "  <name>db1</name>\n"
    "  <uuid>0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d</uuid>\n"
    "  <memory unit='GiB'>8</memory>\n"
    "  <vcpu placement='static' current='4'>8</vcpu>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n"
    "  </os>\n"
    "  <devices>\n"
    "    <disk type='network' device='disk'>\n"
    "      <driver name='qemu' type='raw' cache='writeback' "
    "discard='unmap'/>\n"
    "      <auth username='libvirt'>\n"
    "        <secret type='ceph' "
    "uuid='5c1f2e3d-0a9b-4c8d-b7e6-f5a4b3c2d1e0'/>\n"
    "      </auth>\n"
    "      <source protocol='rbd' name='vms/db1-root'>\n"
    "        <host name='10.0.0.11' port='6789'/>\n"
    "        <host name='10.0.0.12' port='6789'/>\n"
    "      </source>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "    </disk>\n"
    "    <disk type='block' device='disk'>\n"
    "      <driver name='qemu' type='raw' cache='none' io='native'/>\n"
    "      <source dev='/dev/vg0/db1-data'/>\n"
    "      <target dev='vdb' bus='virtio'/>\n"
    "      <shareable/>\n"
    "    </disk>\n"
    "    <interface type='bridge'>\n"
    "      <mac address='52:54:00:aa:bb:01'/>\n"
    "      <source bridge='br0'/>\n"
    "      <model type='e1000e'/>\n"
    "    </interface>\n"
    "  </devices>\n"
    "</domain>\n";

/* Everything that ties a domain to its host, one of each. */
static const char tied[] =
    "<domain type='kvm' "
    "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
    "  <name>gpu</name>\n"
    "  <memory>1048576</memory>\n"
    "  <devices>\n"
    "    <disk type='volume' device='disk'>\n"
    "      <driver name='qemu' type='qcow2'/>\n"
    "      <source pool='default' volume='gpu.qcow2'/>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "    </disk>\n"
    "    <disk type='network' device='disk'>\n"
    "      <source protocol='gluster' name='vol/img'>\n"
    "        <host name='gl1'/>\n"
    "      </source>\n"
    "      <target dev='vdb' bus='virtio'/>\n"
    "    </disk>\n"
    "    <disk type='network' device='cdrom'>\n"
    "      <source protocol='https' name='/iso/x.iso'><host "
    "name='h'/></source>\n"
    "      <target dev='sda' bus='sata'/>\n"
    "    </disk>\n"
    "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
    "      <source>\n"
    "        <address domain='0x0000' bus='0x03' slot='0x00' "
    "function='0x1'/>\n"
    "      </source>\n"
    "    </hostdev>\n"
    "    <hostdev mode='subsystem' type='usb'>\n"
    "      <source>\n"
    "        <vendor id='0x046d'/>\n"
    "        <product id='0xC52B'/>\n"
    "      </source>\n"
    "    </hostdev>\n"
    "    <interface type='hostdev' managed='yes'>\n"
    "      <mac address='52:54:00:00:00:01'/>\n"
    "      <source><address type='pci' domain='0x0000' bus='0x05' "
    "slot='0x10' function='0x2'/></source>\n"
    "    </interface>\n"
    "    <filesystem type='mount' accessmode='passthrough'>\n"
    "      <source dir='/srv/share'/>\n"
    "      <target dir='share'/>\n"
    "    </filesystem>\n"
    "    <tpm model='tpm-tis'>\n"
    "      <backend type='passthrough'><device path='/dev/tpm0'/></backend>\n"
    "    </tpm>\n"
    "    <shmem name='ivshmem0'><size unit='M'>4</size></shmem>\n"
    "  </devices>\n"
    "  <qemu:commandline>\n"
    "    <qemu:arg value='-device'/>\n"
    "    <qemu:arg value='vfio-pci,host=0000:04:00.0'/>\n"
    "  </qemu:commandline>\n"
    "</domain>\n";

/* Parse XML, which must succeed, into *D. */
static void
parse_ok (const char *xml, struct ferry_lvx_domain *d)
{
  struct ferry_err err = {0};
  int r = ferry_lvx_domain_parse (xml, strlen (xml), d, &err);
  if (r != 0)
    fail_msg ("parse failed: %s", err.msg);
  assert_false (err.set);
}

/* Parse XML, which must fail; return the message (static buffer). */
static const char *
parse_err (const char *xml, size_t len)
{
  static struct ferry_err err;
  struct ferry_lvx_domain d;
  int r;

  memset (&err, 0, sizeof err);
  r = ferry_lvx_domain_parse (xml, len, &d, &err);
  ferry_lvx_domain_free (&d);
  if (r != -1)
    fail_msg ("parsed, should not have: %s", xml);
  assert_true (err.set);
  return err.msg;
}

#define PE(lit) parse_err (lit, sizeof (lit) - 1)

/* A domain with memory element MEM (e.g. "<memory unit='G'>1</memory>"). */
static char *
with_memory (const char *mem)
{
  char *s;
  assert_true (asprintf (&s,
                         "<domain type='kvm'><name>m</name>%s"
                         "<vcpu>1</vcpu></domain>",
                         mem) > 0);
  return s;
}

/* Rewrite XML with RW, which must succeed; the new XML (caller frees). */
static char *
rewrite_ok (const char *xml, const struct ferry_lvx_rewrite *rw)
{
  struct ferry_err err = {0};
  char *out = NULL;
  if (ferry_lvx_domain_rewrite (xml, strlen (xml), rw, &out, &err) != 0)
    fail_msg ("rewrite failed: %s", err.msg);
  assert_non_null (out);
  return out;
}

/* Occurrences of NEEDLE in S. */
static size_t
count (const char *s, const char *needle)
{
  size_t n = 0;
  for (; (s = strstr (s, needle)) != NULL; s += strlen (needle))
    n++;
  return n;
}

static void
test_debian (void **state)
{
  struct ferry_lvx_domain d;
  (void) state;

  parse_ok (debian, &d);
  assert_string_equal (d.name, "debian12");
  assert_string_equal (d.uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  assert_string_equal (d.type, "kvm");
  assert_int_equal (d.vcpus, 2);
  assert_int_equal (d.memory_kib, 2097152);
  assert_string_equal (d.arch, "x86_64");
  assert_string_equal (d.machine, "pc-q35-7.2");
  assert_true (d.uefi);
  assert_string_equal (d.loader, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
  assert_string_equal (d.nvram, "/var/lib/libvirt/qemu/nvram/debian12_VARS.fd");
  assert_true (d.has_agent);
  assert_int_equal (d.n_disks, 2);
  assert_int_equal (d.disks[0].type, FERRY_LVX_DISK_FILE);
  assert_string_equal (ferry_lvx_disk_type_name (d.disks[0].type), "file");
  assert_string_equal (d.disks[0].type_name, "file");
  assert_string_equal (d.disks[0].device, "disk");
  assert_string_equal (d.disks[0].target, "vda");
  assert_string_equal (d.disks[0].bus, "virtio");
  assert_string_equal (d.disks[0].format, "qcow2");
  assert_string_equal (d.disks[0].path,
                       "/var/lib/libvirt/images/debian12.qcow2");
  assert_int_equal (d.disks[0].n_backing, 1);
  assert_false (d.disks[0].empty);
  assert_false (d.disks[0].readonly);
  assert_string_equal (d.disks[1].device, "cdrom");
  assert_string_equal (d.disks[1].target, "sda");
  assert_true (d.disks[1].empty);
  assert_true (d.disks[1].readonly);
  assert_null (d.disks[1].path);
  assert_int_equal (d.disks[1].n_backing, 0);
  assert_int_equal (d.n_nics, 1);
  assert_string_equal (d.nics[0].type, "network");
  assert_string_equal (d.nics[0].source, "default");
  assert_string_equal (d.nics[0].mac, "52:54:00:6b:3c:58");
  assert_string_equal (d.nics[0].model, "virtio");
  /* Emulated TPM, spicevmc redirdevs, libosinfo metadata: all movable. */
  assert_int_equal (d.n_blockers, 0);
  ferry_lvx_domain_free (&d);
  assert_null (d.name);
}

static void
test_ceph_block_bridge (void **state)
{
  struct ferry_lvx_domain d;
  (void) state;

  parse_ok (cephdom, &d);
  assert_int_equal (d.vcpus, 4);
  assert_int_equal (d.memory_kib, 8ULL * 1024 * 1024);
  assert_false (d.uefi);
  assert_null (d.loader);
  assert_null (d.nvram);
  assert_false (d.has_agent);
  assert_int_equal (d.n_disks, 2);
  assert_int_equal (d.disks[0].type, FERRY_LVX_DISK_NETWORK);
  assert_string_equal (d.disks[0].protocol, "rbd");
  assert_string_equal (d.disks[0].name, "vms/db1-root");
  assert_string_equal (d.disks[0].host, "10.0.0.11");
  assert_int_equal (d.disks[0].port, 6789);
  assert_string_equal (d.disks[0].format, "raw");
  assert_null (d.disks[0].path);
  assert_int_equal (d.disks[1].type, FERRY_LVX_DISK_BLOCK);
  assert_string_equal (ferry_lvx_disk_type_name (d.disks[1].type), "block");
  assert_string_equal (d.disks[1].path, "/dev/vg0/db1-data");
  assert_true (d.disks[1].shareable);
  assert_int_equal (d.n_nics, 1);
  assert_string_equal (d.nics[0].type, "bridge");
  assert_string_equal (d.nics[0].source, "br0");
  assert_string_equal (d.nics[0].model, "e1000e");
  assert_int_equal (d.n_blockers, 0);
  ferry_lvx_domain_free (&d);
}

static void
test_blockers (void **state)
{
  static const char *const want[] = {
      "disk 'vda': storage pool volume 'default/gpu.qcow2': not supported; "
      "use a file or rbd disk",
      "disk 'vdb': network protocol 'gluster': not supported; use rbd, nbd "
      "or iscsi",
      "hostdev pci 0000:03:00.1 (device passthrough)",
      "hostdev usb 046d:c52b (device passthrough)",
      "interface type 'hostdev' (SR-IOV passthrough)",
      "filesystem 'share' (host directory passthrough)",
      "tpm passthrough '/dev/tpm0' (host TPM)",
      "shmem 'ivshmem0' (host shared memory)",
      "qemu:commandline passthrough arguments",
  };
  struct ferry_lvx_domain d;
  size_t i;
  (void) state;

  parse_ok (tied, &d);
  assert_int_equal (d.n_disks, 3);
  assert_int_equal (d.disks[0].type, FERRY_LVX_DISK_OTHER);
  assert_string_equal (d.disks[0].type_name, "volume");
  assert_string_equal (ferry_lvx_disk_type_name (d.disks[0].type), "other");
  assert_string_equal (d.disks[1].protocol, "gluster");
  assert_int_equal (d.disks[1].port, 0);
  /* A cdrom over https: the caller decides about removable media. */
  assert_string_equal (d.disks[2].protocol, "https");
  assert_int_equal (d.vcpus, 1);
  assert_int_equal (d.memory_kib, 1048576);
  for (i = 0; i < d.n_blockers && i < FERRY_ARRAY_SIZE (want); i++)
    assert_string_equal (d.blockers[i], want[i]);
  assert_int_equal (d.n_blockers, FERRY_ARRAY_SIZE (want));
  ferry_lvx_domain_free (&d);
}

static void
test_more_blockers (void **state)
{
  static const char xml[] =
      "<domain type='kvm'><name>x</name><memory>1024</memory><devices>"
      "<disk type='nvme' device='disk'><source type='pci' managed='yes' "
      "namespace='1'><address domain='0x0000' bus='0x01' slot='0x00' "
      "function='0x0'/></source><target dev='vdc'/></disk>"
      "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
      "<address uuid='C2177883-F1BB-47F0-914D-32A22E3A8804'/></source>"
      "</hostdev>"
      "<hostdev mode='subsystem' type='scsi'><source><adapter "
      "name='scsi_host0'/><address bus='0' target='0' unit='3'/></source>"
      "</hostdev>"
      "<hostdev mode='subsystem' type='usb'><source><address bus='1' "
      "device='4'/></source></hostdev>"
      "<interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>"
      "<smartcard mode='passthrough' type='tcp'/>"
      "<smartcard mode='host'/>"
      "<redirdev bus='usb' type='tcp'><source mode='connect' "
      "host='192.0.2.1' service='4000'/></redirdev>"
      "<hostdev mode='subsystem' type='pci'><source><address "
      "domain='0x0000' bus='0x100' slot='0' function='0'/></source></hostdev>"
      "</devices></domain>";
  static const char *const want[] = {
      "disk 'vdc': host NVMe device (type 'nvme'): not supported",
      "hostdev mdev c2177883-f1bb-47f0-914d-32a22e3a8804 (mediated device)",
      "hostdev scsi scsi_host0:0:0:3 (device passthrough)",
      "hostdev usb bus 1 device 4 (device passthrough)",
      "interface type 'vdpa' (vDPA device passthrough)",
      "smartcard passthrough (host smartcard)",
      "redirdev bus 'usb' type 'tcp' (USB redirection)",
      "hostdev pci (device passthrough)", /* bus 0x100: no address shown */
  };
  struct ferry_lvx_domain d;
  size_t i;
  (void) state;

  parse_ok (xml, &d);
  for (i = 0; i < d.n_blockers && i < FERRY_ARRAY_SIZE (want); i++)
    assert_string_equal (d.blockers[i], want[i]);
  assert_int_equal (d.n_blockers, FERRY_ARRAY_SIZE (want));
  ferry_lvx_domain_free (&d);
}

/* An ejected cdrom as some libvirt versions write it, and a file disk
 * without a source: neither is an error, neither has a path. */
static void
test_ejected_cdrom (void **state)
{
  static const char xml[] =
      "<domain type='kvm'><name>x</name><memory>1024</memory><devices>"
      "<disk type='file' device='cdrom'><source file=''/>"
      "<target dev='hdc' bus='ide'/><readonly/></disk>"
      "<disk type='file' device='floppy'><source file='/isos/fd.img'/>"
      "<target dev='fda'/></disk>"
      "</devices></domain>";
  struct ferry_lvx_domain d;
  (void) state;

  parse_ok (xml, &d);
  assert_int_equal (d.n_disks, 2);
  assert_true (d.disks[0].empty);
  assert_null (d.disks[0].path);
  assert_false (d.disks[1].empty);
  assert_string_equal (d.disks[1].path, "/isos/fd.img");
  assert_string_equal (d.disks[1].device, "floppy");
  assert_int_equal (d.n_blockers, 0);
  ferry_lvx_domain_free (&d);
  assert_string_equal (
      PE ("<domain type='kvm'><name>x</name><memory>1</memory><devices>"
          "<disk type='file' device='disk'><source file=''/>"
          "<target dev='vda'/></disk></devices></domain>"),
      "domain XML: disk 'vda': bad source file ''");
}

static void
test_memory_units (void **state)
{
  static const struct {
    const char *mem;
    uint64_t kib;
  } ok[] = {
      {"<memory>524288</memory>", 524288},
      {"<memory unit='KiB'>1</memory>", 1},
      {"<memory unit='k'>3</memory>", 3},
      {"<memory unit='M'>512</memory>", 524288},
      {"<memory unit='MiB'>512</memory>", 524288},
      {"<memory unit='G'>2</memory>", 2097152},
      {"<memory unit='gib'>2</memory>", 2097152},
      {"<memory unit='TiB'>1</memory>", 1073741824},
      {"<memory unit='b'>1073741824</memory>", 1048576},
      {"<memory unit='bytes'>1025</memory>", 2}, /* rounded up */
      {"<memory unit='KB'>1000</memory>", 977},  /* 10^6 bytes */
      {"<memory unit='MB'>1</memory>", 977},
      {"<memory unit='EiB'>15</memory>", 15ULL << 50},
      {"<memory unit='KiB'> 4096 </memory>", 4096},
      {"<memory unit='GiB'>4</memory>"
       "<currentMemory unit='GiB'>2</currentMemory>",
       2097152},
  };
  static const struct {
    const char *mem;
    const char *msg;
  } bad[] = {
      {"<memory unit='KiBx'>1</memory>",
       "domain XML: <memory> has an unknown unit 'KiBx'"},
      {"<memory unit='Q'>1</memory>",
       "domain XML: <memory> has an unknown unit 'Q'"},
      {"<memory>-1</memory>", "domain XML: <memory> '-1' is not a number"},
      {"<memory>0x10</memory>", "domain XML: <memory> '0x10' is not a number"},
      {"<memory></memory>", "domain XML: <memory> '' is not a number"},
      {"<memory>0</memory>", "domain XML: <memory> is 0"},
      {"<memory unit='EiB'>16</memory>",
       "domain XML: <memory> 16 EiB is too large"},
      {"<memory unit='KiB'>18446744073709551615</memory>",
       "domain XML: <memory> 18446744073709551615 KiB is too large"},
      {"<memory>99999999999999999999999</memory>",
       "domain XML: <memory> '99999999999999999999999' is not a number"},
      {"", "domain XML: no <memory>"},
  };
  size_t i;
  (void) state;

  for (i = 0; i < FERRY_ARRAY_SIZE (ok); i++) {
    struct ferry_lvx_domain d;
    char *xml = with_memory (ok[i].mem);
    parse_ok (xml, &d);
    if (d.memory_kib != ok[i].kib)
      fail_msg ("%s: %llu KiB, want %llu", ok[i].mem,
                (unsigned long long) d.memory_kib,
                (unsigned long long) ok[i].kib);
    ferry_lvx_domain_free (&d);
    free (xml);
  }
  for (i = 0; i < FERRY_ARRAY_SIZE (bad); i++) {
    char *xml = with_memory (bad[i].mem);
    assert_string_equal (parse_err (xml, strlen (xml)), bad[i].msg);
    free (xml);
  }
}

/* Parse XML with stderr redirected to a file; return what was written
 * there (caller frees) and the parse error in MSG. */
static char *
stderr_of_parse (const char *xml, char msg[1024])
{
  char path[] = "/tmp/test-lvx-XXXXXX";
  int fd = mkstemp (path), saved = dup (2);
  struct ferry_lvx_domain d;
  struct ferry_err err = {0};
  char *buf = calloc (1, 4096);
  ssize_t n;

  assert_true (fd >= 0 && saved >= 0 && buf != NULL);
  unlink (path);
  fflush (stderr);
  assert_int_equal (dup2 (fd, 2), 2);
  assert_int_equal (ferry_lvx_domain_parse (xml, strlen (xml), &d, &err), -1);
  fflush (stderr);
  assert_int_equal (dup2 (saved, 2), 2);
  close (saved);
  ferry_lvx_domain_free (&d);
  n = pread (fd, buf, 4095, 0);
  assert_true (n >= 0);
  close (fd);
  snprintf (msg, 1024, "%s", err.msg);
  return buf;
}

static void
test_not_xml (void **state)
{
  char msg[1024];
  char *out;
  (void) state;

  out = stderr_of_parse ("this is not XML\n", msg);
  assert_string_equal (out, ""); /* libxml2 printed nothing */
  free (out);
  assert_string_equal (msg,
                       "domain XML: line 1: start tag expected, '<' not found");
  out = stderr_of_parse ("<domain type='kvm'>\n  <name>a</name>\n  <memory>"
                         "1</memory\n</domain>\n",
                         msg);
  assert_string_equal (out, "");
  free (out);
  assert_string_equal (msg, "domain XML: line 4: expected '>'");
  assert_string_equal (PE (""), "domain XML: empty document");
  assert_string_equal (PE ("<domain><name>a&foo;</name></domain>"),
                       "domain XML: line 1: entity 'foo' not defined");
}

static void
test_not_domain (void **state)
{
  (void) state;
  assert_string_equal (PE ("<network><name>x</name></network>"),
                       "domain XML: the root element is not <domain>");
  assert_string_equal (
      PE ("<d:domain xmlns:d='urn:x'><name>x</name></d:domain>"),
      "domain XML: the root element is not <domain>");
  assert_string_equal (PE ("<domain type='kvm'><memory>1</memory></domain>"),
                       "domain XML: no <name>");
  assert_string_equal (
      PE ("<domain type='kvm'><name>a/b</name><memory>1</memory>"
          "</domain>"),
      "domain XML: bad name 'a/b'");
  assert_string_equal (PE ("<domain type='kvm'><name></name><memory>1</memory>"
                           "</domain>"),
                       "domain XML: bad name ''");
}

static void
test_doctype (void **state)
{
  static const char bomb[] =
      "<?xml version='1.0'?>\n"
      "<!DOCTYPE domain [\n"
      " <!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n"
      " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
      " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
      " <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
      " <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
      " <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
      " <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
      " <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
      "]>\n"
      "<domain type='kvm' id='&h;'><name>&h;</name>"
      "<memory>1</memory></domain>\n";
  static const char xxe[] =
      "<!DOCTYPE domain SYSTEM 'file:///etc/passwd'>\n"
      "<domain type='kvm'><name>x</name><memory>1</memory></domain>";
  struct timespec t0, t1;
  double secs;
  (void) state;

  clock_gettime (CLOCK_MONOTONIC, &t0);
  assert_string_equal (parse_err (bomb, strlen (bomb)),
                       "domain XML: line 2: a DOCTYPE is not allowed");
  clock_gettime (CLOCK_MONOTONIC, &t1);
  secs = (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true (secs < 0.5);
  assert_string_equal (parse_err (xxe, strlen (xxe)),
                       "domain XML: line 1: a DOCTYPE is not allowed");
}

/* A tag with very many attributes (quadratic in libxml2 2.9) is refused
 * before libxml2 sees it; 128 are fine. */
static void
test_many_attributes (void **state)
{
  char *xml = malloc (1 << 20), *p;
  struct ferry_lvx_domain d;
  struct timespec t0, t1;
  int i;
  (void) state;

  assert_non_null (xml);
  p = xml + sprintf (xml,
                     "<domain type='kvm'>\n<name>x</name><memory>1</memory>"
                     "<devices>\n<disk");
  for (i = 0; i < 128; i++)
    p += sprintf (p, " a%d='%s'", i, i == 5 ? "x=y" : "");
  strcpy (p, "><!-- a=1 b=2 --><target dev='vda'/></disk></devices></domain>");
  parse_ok (xml, &d);
  assert_int_equal (d.n_disks, 1);
  ferry_lvx_domain_free (&d);

  p = xml + sprintf (xml,
                     "<domain type='kvm'>\n<name>x</name><memory>1</memory>"
                     "<devices>\n<disk");
  for (i = 0; i < 20000; i++)
    p += sprintf (p, " xmlns:n%d='urn:%d'", i, i);
  strcpy (p, "><target dev='vda'/></disk></devices></domain>");
  clock_gettime (CLOCK_MONOTONIC, &t0);
  assert_string_equal (parse_err (xml, strlen (xml)),
                       "domain XML: line 3: more than 128 attributes in one "
                       "tag");
  clock_gettime (CLOCK_MONOTONIC, &t1);
  assert_true (
      (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < 0.5);
  free (xml);
}

/* Documents are UTF-8 (what libvirt writes) whatever they declare. */
static void
test_encoding (void **state)
{
  static const char u8[] = "<?xml version='1.0' encoding='UTF-8'?>\n"
                           "<domain type='kvm'><name>caf\xc3\xa9</name>"
                           "<memory>1</memory></domain>";
  static const char latin1[] = "<?xml version='1.0' encoding='ISO-8859-1'?>\n"
                               "<domain type='kvm'><name>caf\xe9</name>"
                               "<memory>1</memory></domain>";
  static const char u16[] = "\xff\xfe<\0d\0o\0m\0a\0i\0n\0/\0>\0";
  struct ferry_lvx_domain d;
  (void) state;

  parse_ok (u8, &d);
  assert_string_equal (d.name, "caf\xc3\xa9");
  ferry_lvx_domain_free (&d);
  assert_string_equal (PE (latin1),
                       "domain XML: line 2: input is not proper UTF-8, "
                       "indicate encoding ! Bytes: 0xE9 0x3C 0x2F 0x6E");
  assert_true (strncmp (PE (u16), "domain XML: line 1: ", 20) == 0);
}

static void
test_too_big (void **state)
{
  size_t len = 5 * 1024 * 1024;
  char *xml = malloc (len + 1);
  struct ferry_lvx_rewrite rw = {0};
  struct ferry_err err = {0};
  char *out = NULL;
  static const char head[] = "<domain type='kvm'><name>x</name><!--";
  (void) state;

  assert_non_null (xml);
  memset (xml, ' ', len);
  memcpy (xml, head, strlen (head));
  memcpy (xml + len - 12, "--></domain>", 12);
  xml[len] = '\0';
  assert_string_equal (parse_err (xml, len),
                       "domain XML: 5242880 bytes, more than the 4 MiB "
                       "allowed");
  assert_int_equal (ferry_lvx_domain_rewrite (xml, len, &rw, &out, &err), -1);
  assert_null (out);
  assert_string_equal (err.msg, "domain XML: 5242880 bytes, more than the 4 "
                                "MiB allowed");
  free (xml);
}

static void
test_bad_values (void **state)
{
  static const struct {
    const char *xml;
    const char *msg;
  } bad[] = {
      {"<domain type='kvm'><name>x</name><uuid>4dea22b3-1d52-d8f3-2516</uuid>"
       "<memory>1</memory></domain>",
       "domain XML: bad uuid '4dea22b3-1d52-d8f3-2516'"},
      {"<domain type='kvm'><name>x</name>"
       "<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fag</uuid>"
       "<memory>1</memory></domain>",
       "domain XML: bad uuid '4dea22b3-1d52-d8f3-2516-782e98ab3fag'"},
      {"<domain type='kvm'><name>x</name>"
       "<uuid>4dea22b31d52-d8f3-2516-782e98ab3fa0-</uuid>"
       "<memory>1</memory></domain>",
       "domain XML: bad uuid '4dea22b31d52-d8f3-2516-782e98ab3fa0-'"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><vcpu>0</vcpu>"
       "</domain>",
       "domain XML: <vcpu> '0' is not 1 to 4096"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><vcpu>4097</vcpu>"
       "</domain>",
       "domain XML: <vcpu> '4097' is not 1 to 4096"},
      {"<domain type='kvm'><name>x</name><memory>1</memory>"
       "<vcpu current='5'>4</vcpu></domain>",
       "domain XML: <vcpu current> '5' is not 1 to 4"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><devices>"
       "<interface type='network'><mac address='52:54:00:zz:00:01'/>"
       "<source network='default'/></interface></devices></domain>",
       "domain XML: bad mac address '52:54:00:zz:00:01'"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><devices>"
       "<interface type='network'><mac address='52:54:00:00:01'/>"
       "</interface></devices></domain>",
       "domain XML: bad mac address '52:54:00:00:01'"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><devices>"
       "<interface type='network'><mac address=\"52-54-00-00-00-01'x\"/>"
       "</interface></devices></domain>",
       "domain XML: bad mac address '52-54-00-00-00-01?x'"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><devices>"
       "<interface type='network'><mac address='01:00:5e:00:00:01'/>"
       "</interface></devices></domain>",
       "domain XML: mac address '01:00:5e:00:00:01' is a multicast address"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><devices>"
       "<disk type='file'><source file='/a'/></disk></devices></domain>",
       "domain XML: disk 1 has no <target dev>"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><devices>"
       "<disk type='file'><source file='/a'/><target dev='vd a'/></disk>"
       "</devices></domain>",
       "domain XML: disk 1: bad target 'vd a'"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><devices>"
       "<disk type='network'><source protocol='nbd'><host name='h' "
       "port='70000'/></source><target dev='vda'/></disk></devices>"
       "</domain>",
       "domain XML: disk 'vda': bad port '70000'"},
      {"<domain type='kvm'><name>x</name><memory>1</memory><devices>"
       "<disk type='file'><source file='/a&#10;b'/><target dev='vda'/>"
       "</disk></devices></domain>",
       "domain XML: disk 'vda': bad source file '/a?b'"},
      {"<domain><name>x</name><memory>1</memory></domain>",
       "domain XML: <domain> has no type"},
      {"<domain type='k v m'><name>x</name><memory>1</memory></domain>",
       "domain XML: <domain>: bad type 'k v m'"},
  };
  size_t i;
  (void) state;

  for (i = 0; i < FERRY_ARRAY_SIZE (bad); i++)
    assert_string_equal (parse_err (bad[i].xml, strlen (bad[i].xml)),
                         bad[i].msg);
}

static void
test_rewrite_disks (void **state)
{
  const struct ferry_lvx_disk_rewrite dr[] = {
      {.file = "/var/lib/libvirt/images/debian12-ferry.raw", .format = "raw"},
      {0},
  };
  const struct ferry_lvx_rewrite rw = {.disks = dr, .n_disks = 2};
  struct ferry_lvx_domain d;
  char *out;
  (void) state;

  out = rewrite_ok (debian, &rw);
  parse_ok (out, &d);
  assert_int_equal (d.n_disks, 2);
  assert_int_equal (d.disks[0].type, FERRY_LVX_DISK_FILE);
  assert_string_equal (d.disks[0].path,
                       "/var/lib/libvirt/images/debian12-ferry.raw");
  assert_string_equal (d.disks[0].format, "raw");
  assert_int_equal (d.disks[0].n_backing, 0);
  assert_true (d.disks[1].empty);
  assert_string_equal (d.disks[1].format, "raw");
  /* The rest of the document is as it was. */
  assert_string_equal (d.uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  assert_string_equal (d.nics[0].source, "default");
  assert_true (d.has_agent);
  ferry_lvx_domain_free (&d);
  assert_null (strstr (out, "backingStore"));
  assert_null (strstr (out, "debian12-base"));
  assert_null (strstr (out, "index='2'"));
  assert_non_null (strstr (out, "<driver name=\"qemu\" type=\"raw\" "
                                "cache=\"none\" io=\"native\" "
                                "discard=\"unmap\"/>"));
  assert_non_null (strstr (out, "libosinfo:os"));
  assert_null (strstr (out, "\n\n")); /* removed nodes took their indent */
  free (out);
}

static void
test_rewrite_rbd_to_file (void **state)
{
  const struct ferry_lvx_disk_rewrite dr[] = {
      {.file = "/srv/db1 root & more.raw"},
      {.format = "qcow2"},
  };
  const struct ferry_lvx_rewrite rw = {.disks = dr, .n_disks = 2};
  struct ferry_lvx_domain d;
  char *out;
  (void) state;

  out = rewrite_ok (cephdom, &rw);
  parse_ok (out, &d);
  assert_int_equal (d.disks[0].type, FERRY_LVX_DISK_FILE);
  assert_string_equal (d.disks[0].path, "/srv/db1 root & more.raw");
  assert_string_equal (d.disks[0].format, "raw"); /* not asked to change */
  assert_null (d.disks[0].protocol);
  assert_null (d.disks[0].host);
  assert_int_equal (d.disks[1].type, FERRY_LVX_DISK_BLOCK);
  assert_string_equal (d.disks[1].format, "qcow2");
  assert_string_equal (d.disks[1].path, "/dev/vg0/db1-data");
  ferry_lvx_domain_free (&d);
  assert_null (strstr (out, "<auth"));
  assert_null (strstr (out, "<host"));
  assert_null (strstr (out, "protocol="));
  assert_non_null (strstr (out, "cache=\"writeback\""));
  free (out);
}

static void
test_rewrite_driver_created (void **state)
{
  static const char xml[] =
      "<domain type='qemu'><name>t</name><memory>1</memory><devices>"
      "<disk type='file' device='disk'><source file='/a.img'/>"
      "<target dev='hda' bus='ide'/></disk></devices></domain>";
  const struct ferry_lvx_disk_rewrite dr[] = {{.format = "raw"}};
  const struct ferry_lvx_rewrite rw = {
      .disks = dr, .n_disks = 1, .domain_type = "kvm"};
  struct ferry_lvx_domain d;
  char *out;
  (void) state;

  out = rewrite_ok (xml, &rw);
  parse_ok (out, &d);
  assert_string_equal (d.type, "kvm");
  assert_string_equal (d.disks[0].format, "raw");
  assert_string_equal (d.disks[0].path, "/a.img");
  ferry_lvx_domain_free (&d);
  assert_non_null (strstr (out, "<driver name=\"qemu\" type=\"raw\"/>"));
  free (out);
}

static void
test_rewrite_nets (void **state)
{
  const struct ferry_lvx_net_map nets[] = {
      {"defaul", "wrong"}, /* only exact names match */
      {"default", "prod"},
      {"br0", "br-vm"},
  };
  const struct ferry_lvx_rewrite rw = {.nets = nets, .n_nets = 3};
  struct ferry_lvx_domain d;
  char *out;
  (void) state;

  out = rewrite_ok (debian, &rw);
  parse_ok (out, &d);
  assert_string_equal (d.nics[0].type, "network");
  assert_string_equal (d.nics[0].source, "prod");
  assert_string_equal (d.nics[0].mac, "52:54:00:6b:3c:58");
  assert_string_equal (d.disks[0].path,
                       "/var/lib/libvirt/images/debian12.qcow2");
  assert_int_equal (d.disks[0].n_backing, 1); /* no disk rewrite asked */
  ferry_lvx_domain_free (&d);
  assert_null (strstr (out, "virbr0")); /* the old host's bridge */
  assert_null (strstr (out, "portid"));
  free (out);

  out = rewrite_ok (cephdom, &rw);
  parse_ok (out, &d);
  assert_string_equal (d.nics[0].type, "bridge");
  assert_string_equal (d.nics[0].source, "br-vm");
  ferry_lvx_domain_free (&d);
  free (out);
}

static void
test_rewrite_identity (void **state)
{
  const struct ferry_lvx_rewrite rw = {.drop_uuid = true,
                                       .name = "debian12 <copy> & 'x'",
                                       .drop_nvram_path = true};
  struct ferry_lvx_domain d;
  char *out;
  (void) state;

  out = rewrite_ok (debian, &rw);
  parse_ok (out, &d);
  assert_null (d.uuid);
  assert_string_equal (d.name, "debian12 <copy> & 'x'");
  assert_true (d.uefi);
  assert_null (d.nvram);
  assert_string_equal (d.loader, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
  ferry_lvx_domain_free (&d);
  assert_non_null (
      strstr (out, "<nvram template=\"/usr/share/OVMF/OVMF_VARS_4M.ms.fd\"/>"));
  assert_null (strstr (out, "<uuid"));
  free (out);
}

static void
test_metadata (void **state)
{
  const char *m1 =
      "<ferry:migration xmlns:ferry='" FERRY_LVX_NS "' plan='p1' step='copy'/>";
  const char *m2 = "<f:migration xmlns:f='" FERRY_LVX_NS
                   "' plan='p2 &amp; more'><f:note>x</f:note></f:migration>";
  struct ferry_lvx_rewrite rw = {.metadata = m1};
  struct ferry_err err = {0};
  char *out, *out2, *v = NULL;
  struct ferry_lvx_domain d;
  (void) state;

  /* Replace (twice): one ferry element, libosinfo's kept. */
  out = rewrite_ok (debian, &rw);
  rw.metadata = m2;
  out2 = rewrite_ok (out, &rw);
  assert_int_equal (count (out2, FERRY_LVX_NS), 1);
  assert_int_equal (count (out2, "<metadata>"), 1);
  assert_non_null (strstr (out2, "libosinfo:os"));
  assert_int_equal (ferry_lvx_metadata_get (out2, strlen (out2), "migration",
                                            "plan", &v, &err),
                    0);
  assert_string_equal (v, "p2 & more");
  free (v);
  assert_int_equal (
      ferry_lvx_metadata_get (out, strlen (out), "migration", "step", &v, &err),
      0);
  assert_string_equal (v, "copy");
  free (v);
  /* Absent: attribute, element, metadata. */
  v = (char *) "x";
  assert_int_equal (ferry_lvx_metadata_get (out2, strlen (out2), "migration",
                                            "step", &v, &err),
                    0);
  assert_null (v);
  v = (char *) "x";
  assert_int_equal (
      ferry_lvx_metadata_get (out2, strlen (out2), "other", "plan", &v, &err),
      0);
  assert_null (v);
  v = (char *) "x";
  assert_int_equal (ferry_lvx_metadata_get (cephdom, strlen (cephdom),
                                            "migration", "plan", &v, &err),
                    0);
  assert_null (v);
  assert_false (err.set);
  parse_ok (out2, &d);
  assert_string_equal (d.name, "debian12");
  ferry_lvx_domain_free (&d);
  free (out);
  free (out2);

  /* Created right after <uuid>, or after <name> when there is none. */
  rw.metadata = m1;
  out = rewrite_ok (cephdom, &rw);
  assert_non_null (strstr (out, "</uuid><metadata><ferry:migration"));
  assert_int_equal (
      ferry_lvx_metadata_get (out, strlen (out), "migration", "plan", &v, &err),
      0);
  assert_string_equal (v, "p1");
  free (v);
  parse_ok (out, &d);
  assert_string_equal (d.uuid, "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
  assert_int_equal (d.n_disks, 2);
  ferry_lvx_domain_free (&d);
  free (out);
  rw.drop_uuid = true;
  out = rewrite_ok (cephdom, &rw);
  assert_non_null (strstr (out, "</name><metadata><ferry:migration"));
  parse_ok (out, &d);
  assert_null (d.uuid);
  assert_string_equal (d.name, "db1");
  ferry_lvx_domain_free (&d);
  free (out);
}

static void
test_rewrite_errors (void **state)
{
  const struct ferry_lvx_disk_rewrite dr[] = {{.format = "raw"}};
  struct ferry_lvx_rewrite rw = {.disks = dr, .n_disks = 1};
  struct ferry_err err = {0};
  char *out = NULL;
  (void) state;

  assert_int_equal (
      ferry_lvx_domain_rewrite (debian, strlen (debian), &rw, &out, &err), -1);
  assert_null (out);
  assert_string_equal (err.msg,
                       "rewrite: 1 disk rewrites for a domain with 2 disks");

  rw = (struct ferry_lvx_rewrite){.metadata = "<migration plan='p'/>"};
  memset (&err, 0, sizeof err);
  assert_int_equal (
      ferry_lvx_domain_rewrite (debian, strlen (debian), &rw, &out, &err), -1);
  assert_string_equal (err.msg, "metadata XML: the element has no namespace");

  rw.metadata = "<!DOCTYPE x [<!ENTITY a 'b'>]><x:m xmlns:x='urn:x'/>";
  memset (&err, 0, sizeof err);
  assert_int_equal (
      ferry_lvx_domain_rewrite (debian, strlen (debian), &rw, &out, &err), -1);
  assert_string_equal (err.msg,
                       "metadata XML: line 1: a DOCTYPE is not allowed");

  rw.metadata = "<x:m xmlns:x='urn:x'>";
  memset (&err, 0, sizeof err);
  assert_int_equal (
      ferry_lvx_domain_rewrite (debian, strlen (debian), &rw, &out, &err), -1);
  assert_true (strncmp (err.msg, "metadata XML: line 1: ", 22) == 0);

  rw = (struct ferry_lvx_rewrite){.name = "a/b"};
  memset (&err, 0, sizeof err);
  assert_int_equal (
      ferry_lvx_domain_rewrite (debian, strlen (debian), &rw, &out, &err), -1);
  assert_string_equal (err.msg, "rewrite: bad domain name");

  rw = (struct ferry_lvx_rewrite){0};
  memset (&err, 0, sizeof err);
  assert_int_equal (
      ferry_lvx_domain_rewrite ("<network/>", 10, &rw, &out, &err), -1);
  assert_string_equal (err.msg, "domain XML: the root element is not <domain>");
  assert_null (out);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_debian),
      cmocka_unit_test (test_ceph_block_bridge),
      cmocka_unit_test (test_blockers),
      cmocka_unit_test (test_more_blockers),
      cmocka_unit_test (test_ejected_cdrom),
      cmocka_unit_test (test_memory_units),
      cmocka_unit_test (test_not_xml),
      cmocka_unit_test (test_not_domain),
      cmocka_unit_test (test_doctype),
      cmocka_unit_test (test_many_attributes),
      cmocka_unit_test (test_encoding),
      cmocka_unit_test (test_too_big),
      cmocka_unit_test (test_bad_values),
      cmocka_unit_test (test_rewrite_disks),
      cmocka_unit_test (test_rewrite_rbd_to_file),
      cmocka_unit_test (test_rewrite_driver_created),
      cmocka_unit_test (test_rewrite_nets),
      cmocka_unit_test (test_rewrite_identity),
      cmocka_unit_test (test_metadata),
      cmocka_unit_test (test_rewrite_errors),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
