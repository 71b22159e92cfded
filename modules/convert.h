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
struct ferry_convert_opts;
/* Set CO's workers, checkpoint interval, stop flag and callbacks from
 * CB's context: checkpoints to the journal, progress to the context. */
void ferry_convert_opts_journal (struct ferry_convert_opts *co,
                                 struct ferry_convert_cb *cb);

/* The guest steps change disk DISK of VM's local target file after convert
 * finished it: OPEN true before they first write (convert's evidence gets
 * " guest=open": a file changed from here on is ferry's doing), false after
 * their appliance closed (the evidence takes the file's new identity).  A
 * no-op in dry-run and when convert's evidence is not about this file. */
int ferry_convert_rebind (struct ferry_ctx *ctx, const struct ferry_vm *vm,
                          const struct ferry_plan_target *t, size_t disk,
                          bool open, struct ferry_err *err);

/* Warm migration (modules/precopy.c, docs/warm.md). */
struct ferry_disk;
struct ferry_target;
struct ferry_convert_stats;
enum ferry_warm_kind {
  FERRY_WARM_NONE,   /* nothing recorded */
  FERRY_WARM_HELD,   /* the target holds chain HELD */
  FERRY_WARM_MOVING, /* a copy from HELD toward TO started */
};
/* What VM/precopy/diskN's record says the disk's target holds. */
struct ferry_warm_rec {
  enum ferry_warm_kind kind;
  char held[65];  /* chain identity held (MOVING: the one copied onto) */
  char to[65];    /* MOVING: chain identity the copy goes to */
  char part[65];  /* identity of the target the record is about */
  uint64_t bytes; /* HELD: bytes the pre-copy read ... */
  double secs;    /* ... in this many seconds (the rate for estimates) */
  int64_t at;     /* HELD: when (unix seconds) */
  char name[256]; /* HELD: file name of the layer held */
};
/* The cutover's refusal, with ferry_warm_base's WHY and the target. */
#define FERRY_WARM_REFUSED                                                     \
  "cutover refused: %s; '%s' is left as it is (apply --phase precopy "         \
  "copies it in full again while the VM runs)"
/* Read the record of VM's disk DISK (kind NONE when absent or garbled).
 * 0, or -1 when out of memory. */
int ferry_warm_rec_get (struct ferry_ctx *ctx, const struct ferry_vm *vm,
                        size_t disk, struct ferry_warm_rec *ret);
/* The layer of TOP's chain that the target PART_ID holds per REC: *RET, or
 * NULL (with WHY when REC is about this target but its layer is not in
 * TOP's chain, or sizes differ: a copy onto it would be wrong).  0 nothing
 * recorded about this target, 1 decided (see *RET), -1 error. */
int ferry_warm_base (struct ferry_disk *top, const struct ferry_warm_rec *rec,
                     const char *part_id, struct ferry_disk **ret, char *why,
                     size_t len, struct ferry_err *err);
/* Was a cutover of TOP into the target PART_ID under way when REC was
 * written (a copy toward TOP itself)?  1 yes (the pre-copy has nothing to
 * do: the convert step resumes it), 0 no, -1 error. */
int ferry_warm_cutting (struct ferry_disk *top,
                        const struct ferry_warm_rec *rec, const char *part_id,
                        struct ferry_err *err);
/* Bytes the layers of TOP above BASE define: data (*RET_DATA) and zeroed
 * (*RET_ZERO; with BASE NULL everything not data is a hole, 0). */
int ferry_warm_measure (struct ferry_disk *top, struct ferry_disk *base,
                        uint64_t *ret_data, uint64_t *ret_zero,
                        struct ferry_err *err);
/* "340 KiB", "12.5 MiB" */
void ferry_warm_size (uint64_t bytes, char *buf, size_t len);
/* " (~N s at the last pre-copy's R MiB/s)" for BYTES, or "". */
void ferry_warm_estimate (const struct ferry_warm_rec *rec, uint64_t bytes,
                          char *buf, size_t len);
/* The checkpoint source identity of a copy of TOP_ID onto BASE_ID (65
 * bytes into OUT). */
void ferry_warm_ckpt_src (const char *top_id, const char *base_id, char *out);
/* Copy the layers of TOP above BASE into DST (open to resume; its identity
 * PART_ID) for STEP: records MOVING first, then resumes from STEP's
 * checkpoint when it belongs to this copy. */
int ferry_warm_copy (struct ferry_ctx *ctx, const struct ferry_step *step,
                     struct ferry_disk *top, struct ferry_disk *base,
                     const char *part_id, struct ferry_target *dst,
                     struct ferry_convert_stats *stats, struct ferry_err *err);

/* Record that the target PART_ID holds UPTO's chain (a pre-copy of STEP
 * finished, STATS its figures) and say so. */
int ferry_warm_held (struct ferry_ctx *ctx, const struct ferry_step *step,
                     struct ferry_disk *upto, const char *part_id,
                     const struct ferry_convert_stats *stats,
                     struct ferry_err *err);
/* Before a full copy toward TO_ID into a target that keeps its identity
 * (an RBD image): nothing recorded about PART_ID holds any more. */
int ferry_warm_void (struct ferry_ctx *ctx, const struct ferry_step *step,
                     const char *to_id, const char *part_id,
                     struct ferry_err *err);
/* What a pre-copy of UPTO (the parent of the plan's TOP) into the target
 * PART_ID ("" when there is none yet) does next. */
enum ferry_warm_what {
  FERRY_WARM_FULL,    /* copy UPTO's chain in full (WHY: a record that
                         could not be used, or "") */
  FERRY_WARM_DELTA,   /* copy the layers above BASE */
  FERRY_WARM_HOLDS,   /* nothing: the target holds UPTO */
  FERRY_WARM_CUTTING, /* nothing: a cutover is under way */
  FERRY_WARM_REFUSE,  /* nothing: --phase cutover and a record that does
                         not fit (WHY): a full copy is not done unasked */
};
struct ferry_warm_next {
  enum ferry_warm_what what;
  struct ferry_disk *base;  /* DELTA, HOLDS: the layer held */
  struct ferry_warm_rec wr; /* the record */
  char why[600];
};
int ferry_warm_next (struct ferry_ctx *ctx, const struct ferry_step *step,
                     struct ferry_disk *top, struct ferry_disk *upto,
                     const char *part_id, struct ferry_warm_next *ret,
                     struct ferry_err *err);
/* The precopy step's observation of N (NAME: the target in messages;
 * EXISTS: it exists). */
int ferry_warm_observe (const struct ferry_warm_next *n, struct ferry_disk *top,
                        struct ferry_disk *upto, const char *name, bool exists,
                        struct ferry_observation *ret, struct ferry_err *err);
/* The cutover of TOP into the target PART_ID: the layer it holds, *RET,
 * and the record, *WR.  1 decided (*RET NULL: refused, WHY says why: the
 * held layer is not in TOP's chain), 0 nothing recorded about this target
 * (convert in full), -1 error. */
int ferry_warm_cutover_base (struct ferry_ctx *ctx,
                             const struct ferry_step *step,
                             struct ferry_disk *top, const char *part_id,
                             struct ferry_disk **ret, struct ferry_warm_rec *wr,
                             char *why, size_t len, struct ferry_err *err);
/* The convert step's observation of such a cutover: 1 with RET filled
 * (update, or blocked when refused), 0 nothing recorded, -1 error. */
int ferry_warm_cutover_judge (struct ferry_ctx *ctx,
                              const struct ferry_step *step,
                              struct ferry_disk *top, const char *part_id,
                              const char *name, struct ferry_observation *ret,
                              struct ferry_err *err);
/* ferry_warm_copy into the existing file PART (a local target's .part). */
int ferry_warm_copy_file (struct ferry_ctx *ctx, const struct ferry_step *step,
                          struct ferry_disk *top, struct ferry_disk *base,
                          const char *part, const char *part_id,
                          struct ferry_convert_stats *stats,
                          struct ferry_err *err);

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
/* The precopy step into the OpenStack target. */
int ferry_convert_os_precopy_check (struct ferry_ctx *ctx,
                                    const struct ferry_step *step,
                                    struct ferry_observation *ret,
                                    struct ferry_err *err);
int ferry_convert_os_precopy_apply (struct ferry_ctx *ctx,
                                    const struct ferry_step *step,
                                    struct ferry_err *err);
int ferry_convert_os_verify (struct ferry_ctx *ctx,
                             const struct ferry_step *step,
                             struct ferry_err *err);

#endif
