/* A libvirt domain's XML as ferry needs it: read (what a libvirt source
 * holds: disks, NICs, CPU/memory, firmware, what ties it to its host) and
 * rewritten for a target (disk sources, network names, ferry's metadata).
 * Pure functions over strings with libxml2: no connection, no file access.
 * The XML comes from another host: it is untrusted input (size-capped, no
 * network, no entity expansion, no DTD), and every value is checked before
 * use. */
#ifndef FERRY_CLIENT_LIBVIRT_XML_H
#define FERRY_CLIENT_LIBVIRT_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* <disk type='...'> */
enum ferry_lvx_disk_type {
  FERRY_LVX_DISK_FILE,    /* type='file': <source file=...> */
  FERRY_LVX_DISK_BLOCK,   /* type='block': <source dev=...> */
  FERRY_LVX_DISK_NETWORK, /* type='network': <source protocol=... name=...> */
  FERRY_LVX_DISK_OTHER,   /* volume, dir, nvme, vhostuser, ...: raw in type */
  FERRY_LVX_DISK_LAST
};

struct ferry_lvx_disk {
  enum ferry_lvx_disk_type type;
  char *type_name;  /* the type attribute as written ("file", "volume", ...) */
  char *device;     /* "disk", "cdrom", "floppy", "lun" (default "disk") */
  char *target;     /* <target dev=...>: "vda", "sda", "hdc" */
  char *bus;        /* <target bus=...>, or NULL */
  char *format;     /* <driver type=...>: "qcow2", "raw", ..., or NULL */
  char *path;       /* file: source file; block: source dev; else NULL */
  char *protocol;   /* network: "rbd", "nbd", "iscsi", "gluster", ... */
  char *name;       /* network: source name ("pool/image" for rbd) */
  char *host;       /* network: first <host name=...>, or NULL */
  unsigned port;    /* network: first <host port=...>, 0 = not given */
  bool readonly;    /* <readonly/> */
  bool shareable;   /* <shareable/> */
  bool empty;       /* removable media (cdrom/floppy) without a source */
  size_t n_backing; /* <backingStore> elements with a source below it */
};

struct ferry_lvx_nic {
  char *type;   /* <interface type=...>: "network", "bridge", "direct", ... */
  char *source; /* network or bridge name, direct: dev; NULL if none */
  char *mac;    /* lower-case aa:bb:cc:dd:ee:ff, or NULL */
  char *model;  /* <model type=...>, or NULL */
};

struct ferry_lvx_domain {
  char *name;
  char *uuid;          /* lower-case, 36 chars, or NULL */
  char *type;          /* <domain type=...>: "kvm", "qemu", ... */
  unsigned vcpus;      /* <vcpu> (current= if given, else the value) */
  uint64_t memory_kib; /* <currentMemory> if given, else <memory>, in KiB */
  char *arch;          /* <os><type arch=...>, or NULL */
  char *machine;       /* <os><type machine=...>, or NULL */
  bool uefi;           /* <os firmware='efi'> or a pflash <loader> */
  char *loader;        /* <loader> path, or NULL */
  char *nvram;         /* <nvram> path, or NULL */
  bool has_agent;      /* a channel with target name org.qemu.guest_agent.0 */
  struct ferry_lvx_disk *disks; /* in document order */
  size_t n_disks;
  struct ferry_lvx_nic *nics; /* in document order */
  size_t n_nics;
  /* What ties the domain to its host, one line each, e.g.
   * "hostdev pci 0000:03:00.0 (device passthrough)",
   * "interface type 'hostdev' (SR-IOV passthrough)". */
  char **blockers;
  size_t n_blockers;
};

/* Parse domain XML (as virDomainGetXMLDesc gives it; at most 4 MiB) into
 * *RET (zeroed first; free with ferry_lvx_domain_free even on error).
 * Return 0, or -1 with ERR set ("domain XML: ..."): not well-formed, not a
 * <domain>, a missing name, a value out of range. */
int ferry_lvx_domain_parse (const char *xml, size_t len,
                            struct ferry_lvx_domain *ret,
                            struct ferry_err *err);
void ferry_lvx_domain_free (struct ferry_lvx_domain *d);

/* "file", "block", "network", "other" */
const char *ferry_lvx_disk_type_name (enum ferry_lvx_disk_type t);

/* How to rewrite one disk (by index in ferry_lvx_domain.disks). */
struct ferry_lvx_disk_rewrite {
  const char *file;   /* non-NULL: becomes <disk type='file'> with this
                         <source file>, <backingStore/> dropped */
  const char *format; /* non-NULL: <driver type=...> (created if absent) */
};

/* A rename of a network or bridge: <interface type='network'> with
 * <source network=FROM> or type='bridge' with <source bridge=FROM>. */
struct ferry_lvx_net_map {
  const char *from;
  const char *to;
};

struct ferry_lvx_rewrite {
  const struct ferry_lvx_disk_rewrite *disks; /* n_disks entries or NULL */
  size_t n_disks;                             /* must equal the domain's */
  const struct ferry_lvx_net_map *nets;
  size_t n_nets;
  bool drop_uuid;          /* remove <uuid> (libvirt makes a new one) */
  const char *name;        /* non-NULL: new <name> */
  const char *domain_type; /* non-NULL: new <domain type=...> ("kvm") */
  /* non-NULL: one element (well-formed XML, its own xmlns on the root
   * element) that replaces any element of the same namespace URI under
   * <metadata> (created if absent); FERRY_LVX_NS below for ferry's. */
  const char *metadata;
  bool drop_nvram_path; /* keep <nvram> element but no path (libvirt
                           makes the file on the target) */
};

#define FERRY_LVX_NS "https://ferry.invalid/xmlns/1"

/* Apply RW to XML; *RET_XML (caller frees) is the new document.  Unknown
 * elements are kept as they are.  Return 0, or -1 with ERR set (bad XML,
 * n_disks mismatch, bad metadata). */
int ferry_lvx_domain_rewrite (const char *xml, size_t len,
                              const struct ferry_lvx_rewrite *rw,
                              char **ret_xml, struct ferry_err *err);

/* The value of attribute ATTR of the element of namespace FERRY_LVX_NS named
 * ELEM under <metadata> (e.g. ("migration", "plan")): *RET (caller frees)
 * or NULL when absent.  Return 0 / -1 (bad XML). */
int ferry_lvx_metadata_get (const char *xml, size_t len, const char *elem,
                            const char *attr, char **ret,
                            struct ferry_err *err);

#endif
