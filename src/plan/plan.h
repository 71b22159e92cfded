/* A parsed, validated migration plan (shared/DESIGN.md §2, docs/ferry-plan.5).
 * Every node keeps the line:col where it was written, for error messages. */
#ifndef FERRY_PLAN_H
#define FERRY_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/location.h"

struct ferry_pos {
  unsigned line; /* 1-based, 0 = unknown */
  unsigned col;  /* 1-based */
};

enum ferry_secret_kind {
  FERRY_SECRET_NONE,
  FERRY_SECRET_ENV,
  FERRY_SECRET_FILE,
  FERRY_SECRET_LAST
};

/* A reference to a secret; the value itself is never stored in the plan. */
struct ferry_secret {
  enum ferry_secret_kind kind; /* env var or file */
  char *ref;                   /* variable name or path (resolved) */
  struct ferry_pos pos;
};

/* state.backend (and the in-process store the tests use). */
enum ferry_state_backend {
  FERRY_STATE_FILE,   /* "file": journal file + lock files (default) */
  FERRY_STATE_RADOS,  /* "rados": objects in a Ceph pool */
  FERRY_STATE_MEMORY, /* "memory": in-process, for tests; not in plans */
  FERRY_STATE_BACKEND_LAST
};

/* enum <-> "file", "rados", "memory": name() gives NULL out of range,
 * from_name() -1 for an unknown name. */
const char *ferry_state_backend_name (enum ferry_state_backend b);
int ferry_state_backend_from_name (const char *name);

struct ferry_state_cfg {
  enum ferry_state_backend backend; /* file (default) or rados */
  char *path;   /* file backend: journal path (resolved); default
                   .ferry/<metadata.name>.state beside the plan */
  char *pool;   /* rados: pool */
  char *object; /* rados: object name prefix (default metadata.name) */
  char *conf;   /* rados: ceph.conf */
  char *user;   /* rados: cephx user */
  struct ferry_pos pos;
  /* Not a plan key: set by a caller that needs one VM's journal only (a
   * worker's VM thread).  A backend may then replay just that VM's events
   * and the plan-wide ones (rados: two reads instead of one per VM); a
   * lookup of another VM's step may find nothing.  NULL: everything. */
  const char *only_vm;
};

/* sources.NAME.type.  NONE: missing or unknown (the plan has a
 * diagnostic for it and is not loaded). */
enum ferry_source_type {
  FERRY_SOURCE_NONE,      /* not given or unknown */
  FERRY_SOURCE_DIRECTORY, /* "directory": image files in a directory */
  FERRY_SOURCE_RBD,       /* "rbd": RBD images in a pool */
  FERRY_SOURCE_LIBVIRT,   /* "libvirt": a libvirt host */
  FERRY_SOURCE_LAST
};

/* targets.NAME.type (NONE as above). */
enum ferry_plan_target_type {
  FERRY_PLAN_TARGET_NONE,      /* not given or unknown */
  FERRY_PLAN_TARGET_LOCAL,     /* "local": files in a directory */
  FERRY_PLAN_TARGET_OPENSTACK, /* "openstack": Cinder/Neutron/Nova on Ceph */
  FERRY_PLAN_TARGET_LIBVIRT,   /* "libvirt": a libvirt host */
  FERRY_PLAN_TARGET_LAST
};

/* enum <-> the plan's spelling: name() gives NULL for NONE and values out
 * of range; from_name() gives -1 for an unknown name (never NONE). */
const char *ferry_source_type_name (enum ferry_source_type t);
int ferry_source_type_from_name (const char *name);
const char *ferry_plan_target_type_name (enum ferry_plan_target_type t);
int ferry_plan_target_type_from_name (const char *name);

struct ferry_source {
  char *name;                  /* key in sources: */
  enum ferry_source_type type; /* directory, rbd or libvirt */
  char *path;                  /* directory (resolved against the plan's) */
  char **allow_dirs;   /* directory: more places images may name (resolved) */
  size_t n_allow_dirs; /* entries in allow_dirs */
  char *pool;          /* rbd: pool */
  char *conf;          /* rbd: ceph.conf (resolved) */
  char *user;          /* rbd: cephx user, without "client." */
  char *uri;           /* libvirt: connection URI */
  struct ferry_pos pos;
};

/* How a disk's data gets behind its Cinder volume (targets.NAME.volume_mode,
 * vms[].disks[].volume_mode). */
enum ferry_volume_mode {
  FERRY_VOLUME_MODE_DEFAULT,        /* not given: the target's, else in-place */
  FERRY_VOLUME_MODE_WRITE_IN_PLACE, /* "write-in-place": into volume-<id> */
  FERRY_VOLUME_MODE_MANAGE,         /* "manage": own image, adopted by Cinder */
  FERRY_VOLUME_MODE_LAST
};
/* "write-in-place", "manage" (NULL for DEFAULT); -1 for an unknown name */
const char *ferry_volume_mode_name (enum ferry_volume_mode m);
int ferry_volume_mode_from_name (const char *name);

/* What a Nova server boots from (vms[].boot_from). */
enum ferry_boot_from {
  FERRY_BOOT_FROM_VOLUME, /* "volume" (default): the first disk's volume */
  FERRY_BOOT_FROM_IMAGE,  /* "image": the VM's Glance image (vms[].image) */
  FERRY_BOOT_FROM_LAST
};

struct ferry_ceph_cfg {
  char *conf;         /* ceph.conf path */
  char *user;         /* cephx user */
  char *volumes_pool; /* Cinder volumes pool */
  char *images_pool;  /* Glance images pool */
};

/* targets.NAME.networks: one entry FROM: TO. */
struct ferry_net_map {
  char *from; /* the source domain's network or bridge name */
  char *to;   /* the target's (libvirt network or bridge, Neutron network) */
  struct ferry_pos pos;
};

/* A plan target (named ferry_plan_target: struct ferry_target is the disk
 * writer of src/disk/target.h). */
struct ferry_plan_target {
  char *name;                       /* key in targets: */
  enum ferry_plan_target_type type; /* local, openstack or libvirt */
  char *path;                       /* local: output directory (resolved) */
  char *uri;   /* local/libvirt: libvirt URI to define domains (optional) */
  char *pool;  /* libvirt: rbd pool for disks (optional) */
  char *cloud; /* openstack: clouds.yaml entry */
  struct ferry_ceph_cfg ceph;     /* openstack/libvirt on ceph */
  struct ferry_net_map *networks; /* source network/bridge -> target's */
  size_t n_networks;
  char *migration_uri; /* libvirt: the uri the SOURCE host's libvirtd dials
                          for a live migration (default: uri) */
  enum ferry_volume_mode volume_mode; /* openstack: default of its disks */
  char *volume_host;       /* openstack: Cinder host@backend#pool (manage) */
  bool create_flavors;     /* openstack: create missing flavors */
  char *availability_zone; /* openstack: default AZ of volumes and servers */
  struct ferry_pos pos;
};

struct ferry_flavor {
  char *name;
  unsigned vcpus;
  unsigned ram_mb;
  unsigned disk_gb; /* 0 = not set */
  struct ferry_pos pos;
};

struct ferry_disk_spec {
  char *file;                /* as written, relative to the source */
  struct ferry_location loc; /* resolved: the file, or the rbd source's
                                image (pool, conf, user from the source) */
  char *path;                /* LOC for messages (ferry_location_format) */
  uint64_t size_gb;          /* wanted size, 0 = the source's */
  char *volume_type;         /* openstack: overrides defaults.volume_type */
  enum ferry_volume_mode volume_mode; /* openstack: overrides the target's */
  struct ferry_pos pos;
};

struct ferry_port {
  char *network;
  char *subnet;           /* optional */
  char *fixed_ip;         /* optional, validated IPv4/IPv6 */
  char *mac;              /* optional, lower-case aa:bb:cc:dd:ee:ff */
  char **security_groups; /* names */
  size_t n_security_groups;
  unsigned prefix; /* guest: prefix length of fixed_ip, 0 = unknown */
  char *gateway;   /* guest: default gateway, optional */
  char **dns;      /* guest: DNS servers */
  size_t n_dns;
  char *guest_name; /* guest: the interface name the guest used (ens192) */
  struct ferry_pos pos;
};

struct ferry_file_copy {
  char *src;   /* resolved against the plan's directory */
  char *dst;   /* absolute path in the guest */
  char *mode;  /* octal string, optional */
  char *owner; /* "UID:GID", optional */
  struct ferry_pos pos;
};

struct ferry_autologon {
  char *user;
  struct ferry_secret password;
  unsigned count; /* logons, default 1 */
};

struct ferry_customize {
  bool virtio;          /* inject VirtIO drivers */
  char *virtio_drivers; /* Windows: virtio-win directory or ISO (resolved) */
  char *hostname;       /* optional */
  char **runonce;       /* Windows: commands run once at first logon */
  size_t n_runonce;
  struct ferry_file_copy *files;
  size_t n_files;
  char **firstboot; /* script paths (resolved) */
  size_t n_firstboot;
  bool has_autologon;
  struct ferry_autologon autologon;
  struct ferry_pos pos;
};

/* vms[].migrate: how a VM of a libvirt source moves. */
enum ferry_migrate {
  FERRY_MIGRATE_COLD, /* "cold" (default): shut off, copy, define */
  FERRY_MIGRATE_LIVE, /* "live": libvirt live migration */
  FERRY_MIGRATE_LAST
};

/* vms[].live.storage */
enum ferry_live_storage {
  FERRY_LIVE_STORAGE_COPY,   /* "copy" (default): disks mirrored to the
                                target's path (non-shared storage) */
  FERRY_LIVE_STORAGE_SHARED, /* "shared": disks stay where they are */
  FERRY_LIVE_STORAGE_LAST
};

/* vms[].live.escalate, as bits */
#define FERRY_ESCALATE_DOWNTIME (1u << 0)      /* "downtime" */
#define FERRY_ESCALATE_AUTO_CONVERGE (1u << 1) /* "auto-converge" */
#define FERRY_ESCALATE_POSTCOPY (1u << 2)      /* "postcopy" */

/* vms[].live */
struct ferry_live_cfg {
  enum ferry_live_storage storage;
  unsigned bandwidth_mib;         /* MiB/s, 0 = unlimited */
  unsigned max_downtime_ms;       /* start value, 0 = libvirt's (300) */
  unsigned max_downtime_limit_ms; /* escalation ceiling, 0 = 4x start */
  unsigned escalate;              /* FERRY_ESCALATE_*, default downtime */
  unsigned stall_s;               /* no progress this long: escalate (10) */
  unsigned deadline_s;            /* abort after this, 0 = none */
  bool unsafe; /* a file both hosts see on a fs libvirt cannot tell is
                  shared (VIR_MIGRATE_UNSAFE) */
  struct ferry_pos pos;
};

struct ferry_lv_found; /* a discovered domain (modules/lvsource.h) */

struct ferry_vm {
  char *name;
  char *source;    /* name in sources (defaults.source if omitted) */
  char *target;    /* name in targets (defaults.target if omitted) */
  char *flavor;    /* name in flavors, or NULL */
  unsigned vcpus;  /* libvirt/local: from flavor or vm, default 1 */
  unsigned ram_mb; /* default 1024 */
  struct ferry_disk_spec *disks;
  size_t n_disks;
  struct ferry_port *ports;
  size_t n_ports;
  bool has_customize;
  struct ferry_customize customize;
  char **depends_on;
  size_t n_depends_on;
  /* openstack */
  char *availability_zone;        /* overrides the target's */
  char *key_name;                 /* Nova key pair */
  char *user_data;                /* file (resolved), sent base64 to Nova */
  char *os_type;                  /* "linux" or "windows" (image metadata) */
  char *firmware;                 /* "bios" or "uefi" */
  char *machine_type;             /* hw_machine_type, e.g. "q35" */
  bool has_image;                 /* image: a Glance image of the first disk */
  char *image_name;               /* image.name (NULL: "<plan>-<vm>") */
  enum ferry_boot_from boot_from; /* volume or image */
  bool warm; /* warm migration: the parents of each disk's snapshot chain
                are pre-copied while the VM runs (docs/warm.md) */
  char **stop_command;   /* warm: argv that shuts the source down at the
                            cutover (the stop step), or NULL */
  size_t n_stop_command; /* its entries */
  /* libvirt source */
  char *domain;                 /* the source domain (disks, NICs from it) */
  enum ferry_migrate migrate;   /* cold or live */
  bool shutdown;                /* cold: shut a running domain down */
  unsigned shutdown_timeout_s;  /* its deadline (default 300) */
  bool start;                   /* cold: start the domain on the target */
  bool undefine_source;         /* undefine the source domain at the end */
  bool new_uuid;                /* the target domain gets a new UUID */
  struct ferry_live_cfg live;   /* migrate: live */
  struct ferry_lv_found *found; /* filled by discovery before the graph is
                                   built (modules/lvsource.c), else NULL */
  struct ferry_pos pos;
};

struct ferry_defaults {
  char *source;
  char *target;
  char *volume_type;
  char *flavor;
  char *guest_accel; /* "auto", "kvm", "tcg" for the guest appliance */
};

struct ferry_plan {
  char *file;        /* the plan file as given */
  char *dir;         /* its directory (relative paths resolve here) */
  char *api_version; /* "ferry/v1" */
  char *kind;        /* "MigrationPlan" */
  char *name;        /* metadata.name */
  struct ferry_state_cfg state;
  struct ferry_source *sources;
  size_t n_sources;
  struct ferry_plan_target *targets;
  size_t n_targets;
  struct ferry_defaults defaults;
  struct ferry_flavor *flavors;
  size_t n_flavors;
  struct ferry_vm *vms;
  size_t n_vms;
  struct ferry_disk_cache *disk_cache; /* source disks opened this run */
  /* frees a VM's found (set by whoever fills it: modules/lvsource.c) */
  void (*found_free) (struct ferry_lv_found *found);
};

/* All problems found in a plan: each is one line
 * "file:line:col: key.path: problem". */
struct ferry_diag {
  char **lines;
  size_t n;
};

enum {
  FERRY_PLAN_NO_DISK_CHECK = 1 << 0, /* skip opening disk files */
};

/* Parse and validate FILE.  Returns 0 and *ret on success; -1 when the plan
 * has problems (every one of them in DIAG, which the caller frees) or on an
 * I/O error (in ERR). */
int ferry_plan_load (const char *file, unsigned flags, struct ferry_plan **ret,
                     struct ferry_diag *diag, struct ferry_err *err);
/* Same on a buffer (FILE is used only for messages and relative paths). */
int ferry_plan_load_buffer (const char *file, const char *buf, size_t len,
                            unsigned flags, struct ferry_plan **ret,
                            struct ferry_diag *diag, struct ferry_err *err);
void ferry_plan_free (struct ferry_plan *plan);
void ferry_diag_free (struct ferry_diag *diag);

/* Look-ups (NULL when absent). */
const struct ferry_vm *ferry_plan_vm (const struct ferry_plan *plan,
                                      const char *name);
const struct ferry_plan_target *
ferry_plan_target (const struct ferry_plan *plan, const char *name);
const struct ferry_source *ferry_plan_source (const struct ferry_plan *plan,
                                              const char *name);
const struct ferry_flavor *ferry_plan_flavor (const struct ferry_plan *plan,
                                              const char *name);
/* The volume mode of disk I of VM: the disk's, else its target's, else
 * write-in-place (src/plan/kinds.c). */
enum ferry_volume_mode ferry_plan_volume_mode (const struct ferry_plan *plan,
                                               const struct ferry_vm *vm,
                                               size_t i);

/* Open the disk at LOC of source SRC (may be NULL) with its chain: for a
 * directory source every file the image names must be in the source's
 * path or its allow_dirs (src/plan/source.c). */
struct ferry_disk;
int ferry_plan_open_disk (const struct ferry_source *src,
                          const struct ferry_location *loc,
                          struct ferry_disk **ret, struct ferry_err *err);
/* The same through the plan's cache (src/plan/disks.c): a run opens each
 * source disk once for validate, check and apply.  The handle is shared
 * (reads are thread-safe, disk/disk.h) and reopened when any file of its
 * chain changed since it was opened, so identities computed from it are
 * those of the files as they are now.  Give it back with
 * ferry_plan_disk_put; LAST: this run will not need it again (close it
 * once nobody holds it). */
int ferry_plan_disk_get (const struct ferry_plan *plan,
                         const struct ferry_source *src,
                         const struct ferry_location *loc,
                         struct ferry_disk **ret, struct ferry_err *err);
void ferry_plan_disk_put (const struct ferry_plan *plan,
                          struct ferry_disk *disk, bool last);
/* The cache itself (made and freed with the plan), and how many disks it
 * opened so far. */
struct ferry_disk_cache;
struct ferry_disk_cache *ferry_disk_cache_new (void);
void ferry_disk_cache_free (struct ferry_disk_cache *c);
unsigned long ferry_disk_cache_opens (struct ferry_disk_cache *c);
/* Those directories of a directory source, into *RET (an empty struct). */
struct ferry_confine;
int ferry_plan_source_confine (const struct ferry_source *src,
                               struct ferry_confine *ret,
                               struct ferry_err *err);

/* Read a secret's value (caller frees, and should wipe).  Never log it. */
int ferry_secret_read (const struct ferry_secret *s, char **ret,
                       struct ferry_err *err);

#endif
