/* What the guest modules (inspect, resize, inject, customize) share: one
 * launched appliance per VM for all of them, and the shape of a guest
 * operation.
 *
 * The session.  The first guest step of a VM that needs to look inside
 * launches the appliance over every target disk of the VM (read-only in
 * `plan` and dry-run, read-write in apply), inspects the guest and mounts
 * it read-only; the next steps of the same VM reuse it; the VM's last
 * guest step (or the end of the run) closes it, flushing every write.
 * Checks run with the guest mounted read-only (a read-only mount of ext4
 * replays no journal and bumps no mount count); an operation that changes
 * something remounts it read-write.  Closing a read-write session re-binds
 * the identity convert recorded for local target files (the guest steps
 * changed the file convert wrote; convert's `check` must still say done:
 * modules/convert.c).
 *
 * An operation.  Every guest change is made by one function that both
 * observes and converges, so check and apply cannot disagree:
 *
 *   int op (struct ferry_guest_op *op, struct ferry_changes *ch, err)
 *
 * With op->apply false it only reads (the guest is mounted read-only) and
 * adds one line to CH per change it would make ("registry
 * ControlSet001\Services\viostor: create", "/etc/fstab: /dev/sda1 →
 * UUID=…"); with op->apply true it makes them (the guest is mounted
 * read-write) and adds a line per change made.  Nothing to add means
 * done; a rerun after apply must add nothing (verify checks it). */
#ifndef FERRY_MODULES_GUEST_H
#define FERRY_MODULES_GUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "clients/guestfs.h"
#include "modules/module.h"

/* Lines of changes. */
struct ferry_changes {
  char **lines;
  size_t n;
};
void ferry_changes_add (struct ferry_changes *ch, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void ferry_changes_clear (struct ferry_changes *ch);
/* "N changes: first; second; ..." cut to LEN into BUF. */
void ferry_changes_summary (const struct ferry_changes *ch, char *buf,
                            size_t len);

/* One NIC of the VM as the guest must see it (from the plan's port, and
 * on an OpenStack target from the Neutron port and subnet).  Strings may
 * be NULL when unknown. */
struct ferry_guest_nic {
  char *mac;       /* "fa:16:3e:..", lower case */
  char *ip;        /* fixed IP */
  unsigned prefix; /* 0 = unknown */
  char *gateway;
  char **dns;       /* NULL-terminated, may be NULL */
  char *guest_name; /* the interface name the guest used ("ens192"), or NULL */
};

/* What an operation sees. */
struct ferry_guest_op {
  guestfs_h *g;                        /* launched, guest mounted */
  const struct ferry_guest_info *info; /* inspection */
  const struct ferry_plan *plan;
  const struct ferry_vm *vm;
  const struct ferry_plan_target *target;
  const struct ferry_guest_nic *nics; /* one per port, in order */
  size_t n_nics;
  uint64_t *disk_bytes; /* size of each target disk */
  size_t n_disks;
  bool apply; /* false: only read */
};

typedef int (*ferry_guest_op_fn) (struct ferry_guest_op *op,
                                  struct ferry_changes *ch,
                                  struct ferry_err *err);

/* The operations (one file each). */
/* modules/guest-resize.c: grow the last partition of disk 0 and its
 * filesystem (ext2/3/4, xfs, ntfs; through LVM PV → LV → fs) to fill the
 * disk; a disk smaller than its partitions is an error. */
int ferry_guest_resize (struct ferry_guest_op *op, struct ferry_changes *ch,
                        struct ferry_err *err);
/* modules/guest-windows.c: VirtIO drivers, registry, firstboot (inject);
 * the static addresses of the NICs (network identity) */
int ferry_guest_win_inject (struct ferry_guest_op *op, struct ferry_changes *ch,
                            struct ferry_err *err);
int ferry_guest_win_network (struct ferry_guest_op *op,
                             struct ferry_changes *ch, struct ferry_err *err);
/* files, RunOnce, AutoAdminLogon, hostname */
int ferry_guest_win_customize (struct ferry_guest_op *op,
                               struct ferry_changes *ch, struct ferry_err *err);
/* modules/guest-linux.c - initramfs with virtio, fstab/bootloader names,
 * VMware tools removed, LVM filter (inject); network configs keyed to the
 * new NICs (network identity) */
int ferry_guest_linux_inject (struct ferry_guest_op *op,
                              struct ferry_changes *ch, struct ferry_err *err);
int ferry_guest_linux_network (struct ferry_guest_op *op,
                               struct ferry_changes *ch, struct ferry_err *err);
/* files, firstboot systemd unit, hostname */
int ferry_guest_linux_customize (struct ferry_guest_op *op,
                                 struct ferry_changes *ch,
                                 struct ferry_err *err);

/* ---- the per-VM session (modules/guest.c) ---- */

/* The guest sessions of one run (struct ferry_ctx.guests). */
struct ferry_guests *ferry_guests_new (void);
/* Close every session still open (flushing); errors are logged. */
void ferry_guests_free (struct ferry_guests *gs);

/* The target disks of STEP's VM when convert has finished all of them
 * (1, with *RET and *RET_N; clear each with ferry_location_clear and free), or
 * 0 with WHY ("disk 1 is not converted yet"), -1 on error. */
int ferry_guest_targets (struct ferry_ctx *ctx, const struct ferry_step *step,
                         struct ferry_location **ret, size_t *ret_n, char *why,
                         size_t len, struct ferry_err *err);

/* Run OP for STEP's VM on its session (launched on first use; read-write
 * when APPLY and not dry-run).  Returns 1 and fills CH (and *RET_INFO, a
 * pointer valid while the session lives, may be NULL), or 0 when the
 * targets are not converted yet (WHY set), or -1 on error.  With APPLY the
 * guest is remounted read-write first.  Blocked guests (info.blocked) are
 * returned as 1 with CH empty and the caller looks at *RET_INFO. */
int ferry_guest_run (struct ferry_ctx *ctx, const struct ferry_step *step,
                     ferry_guest_op_fn op, bool apply,
                     const struct ferry_guest_info **ret_info,
                     struct ferry_changes *ch, char *why, size_t len,
                     struct ferry_err *err);

/* STEP (a guest step) is done with the VM's session: when it is the VM's
 * last guest step, close the session (flush; re-bind convert's identity).
 * -1 when closing failed (writes may be lost). */
int ferry_guest_release (struct ferry_ctx *ctx, const struct ferry_step *step,
                         struct ferry_err *err);

/* ---- the guest steps' callbacks (modules/guest.c) ----
 *
 * A guest step (resize, inject, customize) is its operations, picked by
 * the guest's OS: PICK fills OPS (at most 4) and returns how many, or sets
 * WHY and returns 0 when the step cannot run on this guest (blocked). */
typedef size_t (*ferry_guest_pick_fn) (const struct ferry_plan *plan,
                                       const struct ferry_vm *vm,
                                       const struct ferry_guest_info *info,
                                       ferry_guest_op_fn ops[4], char *why,
                                       size_t len);
/* check: "+ after convert" while the targets are not converted, "!" for a
 * guest ferry cannot handle, else every operation observed: "=" when none
 * would change anything, "~ N changes: ..." otherwise. */
int ferry_guest_step_check (struct ferry_ctx *ctx,
                            const struct ferry_step *step,
                            ferry_guest_pick_fn pick,
                            struct ferry_observation *ret,
                            struct ferry_err *err);
/* apply: every operation converges (each change logged). */
int ferry_guest_step_apply (struct ferry_ctx *ctx,
                            const struct ferry_step *step,
                            ferry_guest_pick_fn pick, struct ferry_err *err);
/* verify: every operation observes nothing left to change; then the
 * session is released (closed after the VM's last guest step). */
int ferry_guest_step_verify (struct ferry_ctx *ctx,
                             const struct ferry_step *step,
                             ferry_guest_pick_fn pick, struct ferry_err *err);

/* Does VM have a guest step to run (resize, inject or customize)? */
bool ferry_guest_resize_wanted (const struct ferry_vm *vm);
bool ferry_guest_inject_wanted (const struct ferry_vm *vm);
bool ferry_guest_customize_wanted (const struct ferry_vm *vm);

#endif
