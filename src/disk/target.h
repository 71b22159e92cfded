/* Conversion targets: a raw file or an RBD image.  pwrite/zero are safe to
 * call from several threads at once. */
#ifndef FERRY_TARGET_H
#define FERRY_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/location.h"

enum {
  FERRY_TARGET_RESUME = 1 << 0, /* keep existing contents (resume) */
  FERRY_TARGET_DIRECT = 1 << 1, /* O_DIRECT for files */
};

struct ferry_target;

struct ferry_target_ops {
  const char *name; /* "file", "rbd" */
  /* Conversion workers per CPU when the user names none: a file takes one
   * (more only contend for memory bandwidth: -j 4 on 2 CPUs was ~10 %
   * slower into tmpfs from a cached source, no faster from a cold one);
   * RBD takes two (workers wait on the cluster's round trips). */
  unsigned workers_per_cpu;
  int (*pwrite) (struct ferry_target *t, const void *buf, uint64_t length,
                 uint64_t offset, struct ferry_err *err);
  /* Make [offset, offset+length) read as zeroes (punch hole / discard /
   * write-zeroes). */
  int (*zero) (struct ferry_target *t, uint64_t offset, uint64_t length,
               struct ferry_err *err);
  /* Optional: copy LENGTH bytes at FOFF of the file FD to OFFSET inside
   * the kernel (copy_file_range, a reflink where the file system shares
   * blocks).  0 when done; 1 when the kernel cannot copy between these
   * files (nothing written: write the bytes instead); -1 with ERR. */
  int (*copy_from) (struct ferry_target *t, int fd, uint64_t foff,
                    uint64_t length, uint64_t offset, struct ferry_err *err);
  /* Make everything written so far durable (fsync / rbd_flush). */
  int (*flush) (struct ferry_target *t, struct ferry_err *err);
  int (*close) (struct ferry_target *t, struct ferry_err *err);
};

struct ferry_target {
  const struct ferry_target_ops *ops; /* backend */
  char *name;                         /* display name (messages) */
  uint64_t size;      /* bytes of the target (>= source virtual size) */
  bool fresh;         /* all zero now: zero ranges may be skipped */
  size_t align;       /* preferred write alignment (4096 for O_DIRECT) */
  bool shares_blocks; /* copy_from makes a reflink: the converter may
                         share data it has not read (zero blocks too) */
  void *priv;         /* backend state */
};

/* Open or create LOC (a file or an RBD image) for a disk of SIZE bytes.  A
 * new target is created with SIZE; an existing one smaller than SIZE is an
 * error.  With FERRY_TARGET_RESUME existing contents are kept; otherwise
 * the target is made all-zero (fresh). */
int ferry_target_open_location (const struct ferry_location *loc, uint64_t size,
                                unsigned flags, struct ferry_target **ret,
                                struct ferry_err *err);
/* Close and free (NULL is fine); returns -1 if the final flush failed. */
int ferry_target_close (struct ferry_target *t, struct ferry_err *err);

/* Backends (src/disk/target-file.c, src/disk/target-rbd.c). */
int ferry_target_file_open (const char *path, uint64_t size, unsigned flags,
                            struct ferry_target **ret, struct ferry_err *err);
int ferry_target_rbd_open (const struct ferry_rbd_location *loc, uint64_t size,
                           unsigned flags, struct ferry_target **ret,
                           struct ferry_err *err);

/* Take the temporary file PATH (created if missing) for writing, against
 * other ferry processes (another plan writing the same target): an flock
 * on the file itself, its owner ("pid host") in its "user.ferry.owner"
 * attribute for the loser's message, which names WHAT.  The kernel drops
 * the lock when its holder dies: nothing stale is left behind (a renewal's
 * new file left by a writer killed inside ferry_target_file_renew is
 * removed here).  *RET_FD
 * holds the lock until ferry_target_file_unlock. */
int ferry_target_file_lock (const char *path, const char *what, int *ret_fd,
                            struct ferry_err *err);
/* Start PATH over as a new, empty file (a new inode, so nothing recorded
 * about the old one can match it), keeping it locked: *FD is replaced. */
int ferry_target_file_renew (const char *path, int *fd, struct ferry_err *err);
/* Release the lock (FD < 0 is fine). */
void ferry_target_file_unlock (int fd);

#endif
