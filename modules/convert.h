/* The convert module's parts shared by its two files: modules/convert.c
 * (files of local and libvirt targets) and modules/convert-openstack.c
 * (the RBD image behind a disk's Cinder volume). */
#ifndef FERRY_MODULES_CONVERT_H
#define FERRY_MODULES_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modules/module.h"

/* Append EV with IDENT for STEP (no-op in dry-run). */
int ferry_convert_record (struct ferry_ctx *ctx, const struct ferry_step *step,
                          enum ferry_event ev, uint64_t offset,
                          const char *ident, struct ferry_err *err);
/* The journal ident of a checkpoint at OFFSET into the target whose
 * identity is PART_ID, converting SRC_ID: "src=… part=… sum=…". */
void ferry_convert_ckpt_ident (const char *src_id, const char *part_id,
                               uint64_t offset, char *buf, size_t len);
/* Does REC's checkpoint belong to SRC_ID and the target HAVE_PART (WHAT in
 * messages) with an offset within VSIZE?  True with *RET_OFFSET; false
 * with WHY ("" when there was no checkpoint). */
bool ferry_convert_ckpt_match (const struct ferry_step_record *rec,
                               const char *src_id, const char *have_part,
                               const char *what, uint64_t vsize,
                               uint64_t *ret_offset, char *why, size_t len);

/* What the converter's callbacks need (ferry_convert_opts.opaque). */
struct ferry_convert_cb {
  struct ferry_ctx *ctx;         /* for the journal and progress */
  const struct ferry_step *step; /* the step */
  const char *src_id;            /* source chain identity */
  const char *part_id;           /* target identity */
};
struct ferry_convert_progress;
/* ferry_convert_opts.checkpoint: a CHECKPOINT event bound to src and part */
int ferry_convert_on_checkpoint (void *opaque, uint64_t offset,
                                 struct ferry_err *err);
/* ferry_convert_opts.progress: the context's progress callback */
void ferry_convert_on_progress (void *opaque,
                                const struct ferry_convert_progress *p);

/* The guest steps change disk DISK of VM's local target file after convert
 * finished it: OPEN true before they first write (convert's evidence gets
 * " guest=open": a file changed from here on is ferry's doing), false after
 * their appliance closed (the evidence takes the file's new identity).  A
 * no-op in dry-run and when convert's evidence is not about this file. */
int ferry_convert_rebind (struct ferry_ctx *ctx, const struct ferry_vm *vm,
                          const struct ferry_plan_target *t, size_t disk,
                          bool open, struct ferry_err *err);

/* The OpenStack target (modules/convert-openstack.c). */
/* The RBD image that holds disk DISK of VM on target T (*RET, clear with
 * ferry_location_clear) and whether convert finished it (the image carries
 * ferry.converted): 1, or 0 when there is no such volume/image yet. */
int ferry_convert_os_target (struct ferry_ctx *ctx, const struct ferry_vm *vm,
                             const struct ferry_plan_target *t, size_t disk,
                             struct ferry_location *ret, bool *ret_converted,
                             struct ferry_err *err);
int ferry_convert_os_check (struct ferry_ctx *ctx,
                            const struct ferry_step *step,
                            struct ferry_observation *ret,
                            struct ferry_err *err);
int ferry_convert_os_apply (struct ferry_ctx *ctx,
                            const struct ferry_step *step,
                            struct ferry_err *err);
int ferry_convert_os_verify (struct ferry_ctx *ctx,
                             const struct ferry_step *step,
                             struct ferry_err *err);

#endif
