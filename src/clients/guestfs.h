/* The libguestfs seam: one launched appliance over a VM's target disks
 * (files or RBD images), launched under KVM with a fallback to TCG,
 * inspection of the guest it finds, and mounting its filesystems.
 *
 * Launches are expensive (11-19 s under TCG here): the guest modules share
 * one handle per VM and run (modules/guest.h).  Every launch is counted
 * (ferry_gfs_stats) so that apply and the benchmark can report launches
 * per VM.
 *
 * Acceleration: FERRY_GUESTFS_ACCEL=auto|kvm|tcg (auto when unset).  auto
 * leaves libguestfs' default (kvm:tcg) and, when the appliance dies while
 * launching (a /dev/kvm that opens yet aborts every guest is seen on some
 * hosts), launches once more with force_tcg and says so.  kvm never retries;
 * tcg always sets force_tcg.  An explicit LIBGUESTFS_BACKEND_SETTINGS in the
 * environment is libguestfs' own and wins over auto. */
#ifndef FERRY_CLIENTS_GUESTFS_H
#define FERRY_CLIENTS_GUESTFS_H

#include <guestfs.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "util/location.h"

enum ferry_gfs_accel {
  FERRY_GFS_ACCEL_AUTO, /* libguestfs' default, TCG retry once */
  FERRY_GFS_ACCEL_KVM,  /* libguestfs' default, no retry */
  FERRY_GFS_ACCEL_TCG,  /* force_tcg */
  FERRY_GFS_ACCEL_LAST
};
/* "auto", "kvm", "tcg"; -1 for an unknown name */
const char *ferry_gfs_accel_name (enum ferry_gfs_accel a);
int ferry_gfs_accel_from_name (const char *name);

/* One launched appliance. */
struct ferry_gfs;

/* Add DISKS (N of them; raw, unless FORMATS, when not NULL, names qemu's
 * format of each: "vmdk", "vpc", "vhdx", "qcow2", "raw" — only for images
 * whose every file ferry's own reader opened confined first, read-only)
 * to a new handle, read-only or not, and launch
 * it with ACCEL (FERRY_GUESTFS_ACCEL overrides when set).  RBD locations
 * are added with protocol rbd (the monitors and the key come from the
 * location's ceph.conf and its keyring).  Errors name the disks and carry
 * libguestfs' last error. */
int ferry_gfs_launch (const struct ferry_location *disks,
                      const char *const *formats, size_t n, bool readonly,
                      enum ferry_gfs_accel accel, struct ferry_gfs **ret,
                      struct ferry_err *err);
/* The libguestfs handle (valid until ferry_gfs_close). */
guestfs_h *ferry_gfs_handle (struct ferry_gfs *g);
/* Was it launched read-only? */
bool ferry_gfs_readonly (const struct ferry_gfs *g);
/* Seconds the launch took (including a TCG retry). */
double ferry_gfs_launch_seconds (const struct ferry_gfs *g);
/* Unmount everything, shut the appliance down (flushing every write to
 * the disks) and free.  -1 when the shutdown reports an error: writes may
 * be lost.  NULL is fine (0). */
int ferry_gfs_close (struct ferry_gfs *g, struct ferry_err *err);

/* Launches of this process so far and their seconds in total. */
void ferry_gfs_stats (unsigned *ret_launches, double *ret_seconds);

/* guestfs' last error as a string for messages ("unknown error" if none). */
const char *ferry_gfs_last_error (guestfs_h *g);

/* What inspection found (strings malloc'd; free with
 * ferry_guest_info_clear). */
enum ferry_firmware_kind {
  FERRY_FIRMWARE_UNKNOWN,
  FERRY_FIRMWARE_BIOS,
  FERRY_FIRMWARE_UEFI,
  FERRY_FIRMWARE_LAST
};
struct ferry_guest_mount {
  char *mountpoint; /* "/", "/boot" (Windows: "C:" from drive mappings) */
  char *device;     /* "/dev/sda1", "/dev/vg0/root" */
};
struct ferry_guest_info {
  char *root;                /* inspection root device, e.g. "/dev/sda2" */
  char *type;                /* "linux", "windows", ... */
  char *distro;              /* "debian", "rhel", "windows", ... */
  int major, minor;          /* version */
  char *product;             /* product name */
  char *variant;             /* Windows "Server"/"Client"; "" if none */
  char *arch;                /* "x86_64", "i386" */
  char *hostname;            /* as the guest has it ("" if none) */
  char *osinfo;              /* "win2k19", "debian12", "" if unknown */
  char *package_format;      /* "deb", "rpm", "" */
  char *systemroot;          /* Windows: "/Windows" (guest path), else NULL */
  char *current_control_set; /* Windows: "ControlSet001", else NULL */
  unsigned build;            /* Windows CurrentBuildNumber, 0 if unknown */
  bool has_driver_database;  /* Windows: SYSTEM\DriverDatabase exists */
  enum ferry_firmware_kind firmware;
  struct ferry_guest_mount *mounts; /* sorted: shortest mountpoint first */
  size_t n_mounts;
  char **kernels; /* Linux: installed kernel versions ("6.1.0-13-amd64") */
  size_t n_kernels;
  char *initramfs_tool; /* "update-initramfs", "dracut", "mkinitrd", "" */
  bool vmware_tools;    /* VMware Tools / open-vm-tools present */
  char *blocked;        /* why ferry cannot convert this guest, or NULL */
};
void ferry_guest_info_clear (struct ferry_guest_info *info);

/* Inspect the launched handle: exactly one OS root must be found (none:
 * blocked "no operating system found"; several: blocked naming them).
 * Fills every field it can; a guest ferry cannot convert (unknown OS,
 * encrypted root, Windows dynamic disks, a Linux kernel older than 2.6.25)
 * gets INFO->blocked, not an error.  -1 only when libguestfs fails.
 * Mounts the guest read-only to look at it and leaves it mounted so. */
int ferry_gfs_inspect (struct ferry_gfs *g, struct ferry_guest_info *ret,
                       struct ferry_err *err);

/* Mount INFO's filesystems (shortest mountpoint first), read-only or
 * read-write, unmounting whatever was mounted before.  Linux guests get
 * every mountpoint; Windows the system drive at "/". */
int ferry_gfs_mount (struct ferry_gfs *g, const struct ferry_guest_info *info,
                     bool rw, struct ferry_err *err);
/* Is the guest mounted read-write now? */
bool ferry_gfs_mounted_rw (const struct ferry_gfs *g);

/* One line, as `plan` and the journal show it:
 * "windows 10.0 'Windows Server 2019 Standard' x86_64 bios root=/dev/sda1"
 * (caller frees). */
char *ferry_guest_info_summary (const struct ferry_guest_info *info);
/* The whole record as JSON text for `ferry inspect --guest --json` (caller
 * frees). */
char *ferry_guest_info_json (const struct ferry_guest_info *info);

#endif
