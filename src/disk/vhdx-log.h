/* VHDX log replay in memory: the updates a dirty log holds, applied to an
 * overlay of the file so that the reader sees the file as it would be after
 * a replay, while the source itself is never written (see vhdx-log.c). */
#ifndef FERRY_VHDX_LOG_H
#define FERRY_VHDX_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "disk/disk.h"

struct ferry_vhdx_log;

/* Replay the log that HDR (the current 4 KiB VHDX header of DISK) names.
 * *RET is NULL when there is nothing to replay (LogGuid zero, or an empty
 * log area), else the overlay.  -1 with ERR (naming DISK's file) when the
 * log cannot be replayed: no valid sequence although the header says there
 * is one, a truncated file, a descriptor that writes outside the allowed
 * areas. */
int ferry_vhdx_log_replay (struct ferry_disk *disk, const uint8_t *hdr,
                           struct ferry_vhdx_log **ret, struct ferry_err *err);

/* Read LENGTH bytes at file offset OFFSET as they would be after the replay
 * (LOG may be NULL: the file as it is).  WHAT names the data in errors. */
int ferry_vhdx_log_pread (struct ferry_disk *disk,
                          const struct ferry_vhdx_log *log, void *buf,
                          size_t length, uint64_t offset, const char *what,
                          struct ferry_err *err);

/* The file size after the replay (at least DISK's size; LOG may be NULL). */
uint64_t ferry_vhdx_log_file_size (const struct ferry_disk *disk,
                                   const struct ferry_vhdx_log *log);

/* How many log entries were replayed (0 for NULL). */
uint64_t ferry_vhdx_log_entries (const struct ferry_vhdx_log *log);

/* Free the overlay (NULL is fine). */
void ferry_vhdx_log_free (struct ferry_vhdx_log *log);

#endif
