/* Helpers shared by the step modules: journal records, a describe callback,
 * and where local and libvirt targets keep a VM's disks and domain XML. */
#ifndef FERRY_MODULES_LOCAL_H
#define FERRY_MODULES_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "modules/module.h"

/* Append a CREATED/CHECKPOINT... event for STEP (no-op in dry-run). */
int ferry_ctx_record (struct ferry_ctx *ctx, const struct ferry_step *step,
                      enum ferry_event ev, uint64_t offset, const char *id,
                      struct ferry_err *err);

/* A verify callback's body for modules whose check can observe the result:
 * CHECK again must say done; otherwise an error "WHAT after apply: DETAIL"
 * (WHAT: "step ID is not done" when NULL). */
int ferry_verify_by_check (int (*check) (struct ferry_ctx *,
                                         const struct ferry_step *,
                                         struct ferry_observation *,
                                         struct ferry_err *),
                           struct ferry_ctx *ctx, const struct ferry_step *step,
                           const char *what, struct ferry_err *err);

/* A describe callback for modules whose check already wrote the whole
 * line into obs->detail. */
int ferry_describe_detail (const struct ferry_step *step,
                           const struct ferry_observation *obs, char *buf,
                           size_t len);

/* "<target.path>/<vm>-disk<N>.raw" (caller frees). */
char *ferry_local_disk_path (const struct ferry_step *step, size_t disk);
/* "<target.path>/<vm>.xml" (caller frees). */
char *ferry_local_xml_path (const struct ferry_step *step);
/* Bytes the target disk must have: the source's virtual size, or size_gb
 * when bigger. */
uint64_t ferry_local_disk_size (const struct ferry_disk_spec *spec,
                                uint64_t virtual_size);

/* libvirt: the guest device name of disk I ("vda", "vdz", "vdaa"...) into
 * BUF; an empty string when LEN is too small (17 bytes always do). */
void ferry_libvirt_disk_name (size_t i, char *buf, size_t len);

#endif
