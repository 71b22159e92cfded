/* Identities: the evidence that ties a convert checkpoint or a DONE record
 * to the very files it is about (the source chain, the .part file, the
 * target), so that resume and `check` trust nothing they cannot prove. */
#ifndef FERRY_IDENTITY_H
#define FERRY_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "disk/disk.h"
#include "util/err.h"

#define FERRY_IDENT_HEX 65 /* 64 hex digits and the NUL */

/* A stable hex digest (SHA-256) over every member of DISK's chain: its
 * real path, file system id, inode, size, mtime, format, the format's own
 * id (VMDK CID, VHD unique id, VHDX DataWriteGuid), the first 4 KiB of
 * the file (the qcow2/VHD/VMDK header) and the path, inode, size and mtime
 * of every other file holding its data (VMDK extents).  LEN must be at least
 * FERRY_IDENT_HEX. */
int ferry_disk_identity (struct ferry_disk *disk, char *buf, size_t len,
                         struct ferry_err *err);

/* Where a file lives and what it is now, as recorded with DONE. */
struct ferry_file_ident {
  uint64_t fsid; /* file system id (statfs f_fsid, else st_dev) */
  uint64_t ino;  /* inode number */
  uint64_t size; /* bytes */
  int64_t mtime; /* seconds */
  long mtime_ns; /* nanoseconds */
};

/* Observe PATH.  -1 with errno (ENOENT: missing) on failure, no message. */
int ferry_file_ident_get (const char *path, struct ferry_file_ident *ret);

/* The identity of a .part file: file system id, inode, birth time (where
 * the file system keeps one) and the random token ferry stored in its
 * "user.ferry.part" attribute (where it could).  Hex digest in BUF. */
int ferry_part_identity (const char *path, char *buf, size_t len,
                         struct ferry_err *err);
/* Give a new .part file a random token (best effort: without user xattrs
 * the inode and birth time remain). */
void ferry_part_stamp (const char *path);

/* Refuse PATH (a target about to be written) when it is the same file
 * (device and inode) as any member of SRC's chain or any file holding
 * its data (VMDK extents): writing it would
 * destroy the source.  A missing PATH is fine. */
int ferry_disk_check_not_source (struct ferry_disk *src, const char *path,
                                 struct ferry_err *err);

#endif
