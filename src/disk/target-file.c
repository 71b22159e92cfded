/* Raw file target: sparse (holes where the source has nothing), fsync on
 * flush.
 *
 * Aligned writes go through O_DIRECT wherever the file system takes it
 * (not tmpfs, where it is a copy like any other): the data then goes
 * straight from the workers' buffers to the device, in parallel, instead
 * of being copied into the page cache and written back at the final
 * flush.  Unaligned writes (the tail of a disk whose size is not a
 * multiple of 4 KiB) use a second, buffered descriptor.  Buffered writes
 * to one file serialise on its inode lock anyway; they are serialised
 * here too, so that waiting workers sleep instead of spinning in the
 * kernel. */
#include "disk/target.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"

#define DIRECT_ALIGN 4096 /* O_DIRECT offsets, lengths and buffers */

struct file_target {
  int fd;               /* the target file, buffered */
  int dfd;              /* the same file with O_DIRECT, or -1 */
  bool locks_ready;     /* lock initialised */
  pthread_mutex_t lock; /* serialises writes through fd */
};

/* pwrite all of BUF to FD. */
static int
write_all (struct ferry_target *t, int fd, const void *buf, uint64_t length,
           uint64_t offset, struct ferry_err *err)
{
  size_t done = 0;
  ssize_t r;

  while (done < length) {
    r = pwrite (fd, (const char *) buf + done, length - done,
                (off_t) (offset + done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return ferry_err_set (err, r < 0 ? errno : EIO,
                            "cannot write to '%s' at offset %llu", t->name,
                            (unsigned long long) (offset + done));
    done += (size_t) r;
  }
  return 0;
}

/* pwrite op: aligned writes (offset, length and buffer on 4 KiB) go
 * through the O_DIRECT descriptor, in parallel; the rest through the
 * buffered one, one at a time under F->lock (see the top of the file).
 * 0, or -1 with ERR. */
static int
file_pwrite (struct ferry_target *t, const void *buf, uint64_t length,
             uint64_t offset, struct ferry_err *err)
{
  struct file_target *f = t->priv;
  int r;

  if (f->dfd >= 0 && offset % DIRECT_ALIGN == 0 && length % DIRECT_ALIGN == 0 &&
      (uintptr_t) buf % DIRECT_ALIGN == 0)
    return write_all (t, f->dfd, buf, length, offset, err);
  pthread_mutex_lock (&f->lock);
  r = write_all (t, f->fd, buf, length, offset, err);
  pthread_mutex_unlock (&f->lock);
  return r;
}

/* Punch a hole (reads as zero, frees the space); fall back to writing
 * zeroes where the file system cannot punch. */
static int
file_zero (struct ferry_target *t, uint64_t offset, uint64_t length,
           struct ferry_err *err)
{
  struct file_target *f = t->priv;
  static const char zeroes[65536] __attribute__ ((aligned (4096)));
  uint64_t n;

  if (fallocate (f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 (off_t) offset, (off_t) length) == 0)
    return 0;
  if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
    return ferry_err_set (err, errno, "cannot zero '%s' at offset %llu",
                          t->name, (unsigned long long) offset);
  while (length > 0) {
    n = length < sizeof zeroes ? length : sizeof zeroes;
    if (file_pwrite (t, zeroes, n, offset, err) < 0)
      return -1;
    offset += n;
    length -= n;
  }
  return 0;
}

/* flush op: fdatasync the buffered descriptor, which also covers what went
 * through the O_DIRECT one (same file).  EINVAL, a file that cannot be
 * synced, is not an error.  0, or -1 with ERR. */
static int
file_flush (struct ferry_target *t, struct ferry_err *err)
{
  struct file_target *f = t->priv;

  if (fdatasync (f->fd) < 0 && errno != EINVAL)
    return ferry_err_set (err, errno, "cannot flush '%s'", t->name);
  return 0;
}

/* close op: flush and close the file, then free T with its name and
 * private state.  Also undoes a half-built target from
 * ferry_target_file_open (priv NULL or descriptors still -1).  0, or -1
 * with ERR when the flush or the close of the buffered descriptor fails,
 * since the data may then not be on disk. */
static int
file_close (struct ferry_target *t, struct ferry_err *err)
{
  struct file_target *f = t->priv;
  int r = 0;

  if (f && f->fd >= 0) {
    r = file_flush (t, err);
    if (close (f->fd) < 0 && r == 0)
      r = ferry_err_set (err, errno, "cannot close '%s'", t->name);
  }
  if (f && f->dfd >= 0)
    close (f->dfd);
  if (f && f->locks_ready)
    pthread_mutex_destroy (&f->lock);
  free (f);
  free (t->name);
  free (t);
  return r;
}

static const struct ferry_target_ops file_ops = {
    .name = "file",
    .pwrite = file_pwrite,
    .zero = file_zero,
    .flush = file_flush,
    .close = file_close,
};

/* Open F->dfd, the O_DIRECT twin of F->fd (PATH, already open).  With
 * REQUIRED (--direct) failing is an error; otherwise the target stays
 * buffered, as it does on tmpfs. */
static int
open_direct (struct ferry_target *t, const char *path, bool required,
             struct ferry_err *err)
{
  struct file_target *f = t->priv;
  struct stat a, b;
  struct statfs sfs;

  if (!required && fstatfs (f->fd, &sfs) == 0 &&
      (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC))
    return 0;
  f->dfd = open (path, O_WRONLY | O_CLOEXEC | O_DIRECT);
  if (f->dfd < 0)
    return required
               ? ferry_err_set (err, errno,
                                "cannot open target '%s' with O_DIRECT", path)
               : 0;
  if (fstat (f->fd, &a) < 0 || fstat (f->dfd, &b) < 0 || a.st_dev != b.st_dev ||
      a.st_ino != b.st_ino)
    return ferry_err_set (err, errno, "target '%s' changed while opening it",
                          path);
  t->align = DIRECT_ALIGN;
  return 0;
}

/* Open or create the file.  A regular file is truncated to zero length and
 * extended to SIZE (fresh, all holes) unless resuming; a block device must
 * be at least SIZE bytes and is never fresh. */
int
ferry_target_file_open (const char *path, uint64_t size, unsigned flags,
                        struct ferry_target **ret, struct ferry_err *err)
{
  struct ferry_target *t;
  struct file_target *f;
  struct stat st;
  int oflags = O_WRONLY | O_CREAT | O_CLOEXEC;
  off_t end;

  t = calloc (1, sizeof *t);
  f = calloc (1, sizeof *f);
  if (t == NULL || f == NULL) {
    free (t);
    free (f);
    return ferry_err_set (err, errno, "cannot allocate memory");
  }
  f->fd = -1;
  f->dfd = -1;
  pthread_mutex_init (&f->lock, NULL);
  f->locks_ready = true;
  t->ops = &file_ops;
  t->priv = f;
  t->size = size;
  t->align = 512;
  t->name = strdup (path);
  if (t->name == NULL) {
    ferry_err_set (err, errno, "cannot allocate memory");
    goto fail;
  }
  f->fd = open (path, oflags, 0644);
  if (f->fd < 0) {
    ferry_err_set (err, errno, "cannot open target '%s'", path);
    goto fail;
  }
  if (fstat (f->fd, &st) < 0) {
    ferry_err_set (err, errno, "cannot stat target '%s'", path);
    goto fail;
  }
  if (S_ISBLK (st.st_mode)) {
    end = lseek (f->fd, 0, SEEK_END);
    if (end < 0 || (uint64_t) end < size) {
      ferry_err_set (err, 0,
                     "target '%s' is smaller (%lld bytes) than the source "
                     "(%llu bytes)",
                     path, (long long) end, (unsigned long long) size);
      goto fail;
    }
    t->size = (uint64_t) end;
    t->fresh = false;
  } else if (!S_ISREG (st.st_mode)) {
    ferry_err_set (err, 0, "target '%s' is not a file or block device", path);
    goto fail;
  } else if (flags & FERRY_TARGET_RESUME) {
    if ((uint64_t) st.st_size < size && ftruncate (f->fd, (off_t) size) < 0) {
      ferry_err_set (err, errno, "cannot resize target '%s'", path);
      goto fail;
    }
    t->fresh = false;
  } else {
    if (ftruncate (f->fd, 0) < 0 || ftruncate (f->fd, (off_t) size) < 0) {
      ferry_err_set (err, errno, "cannot size target '%s'", path);
      goto fail;
    }
    t->fresh = true;
  }
  if (open_direct (t, path, flags & FERRY_TARGET_DIRECT, err) < 0)
    goto fail;
  *ret = t;
  return 0;

fail:
  if (f->fd >= 0)
    close (f->fd);
  f->fd = -1;
  file_close (t, NULL);
  return -1;
}

#define OWNER_XATTR "user.ferry.owner" /* "pid host" of the writer */

/* The owner of the lock held on FD ("pid N on host H") into BUF. */
static void
lock_owner (int fd, char *buf, size_t len)
{
  char text[HOST_NAME_MAX + 64], host[HOST_NAME_MAX + 1];
  ssize_t n = fgetxattr (fd, OWNER_XATTR, text, sizeof text - 1);
  long pid;

  if (n > 0) {
    text[n] = '\0';
    if (sscanf (text, "%ld %64s", &pid, host) == 2) {
      snprintf (buf, len, "pid %ld on host %s", pid, host);
      return;
    }
  }
  snprintf (buf, len, "another ferry process");
}

/* Record who holds the lock on FD (best effort: needs user xattrs). */
static void
lock_set_owner (int fd)
{
  char host[HOST_NAME_MAX + 1] = "unknown", text[HOST_NAME_MAX + 64];
  int n;

  gethostname (host, sizeof host - 1);
  n = snprintf (text, sizeof text, "%ld %s", (long) getpid (), host);
  (void) fsetxattr (fd, OWNER_XATTR, text, (size_t) n, 0);
}

/* See target.h.  After taking the flock, the file must still be the one
 * at PATH: a writer that starts over renames a new file over it, and a
 * finished one renames it away. */
int
ferry_target_file_lock (const char *path, const char *what, int *ret_fd,
                        struct ferry_err *err)
{
  char owner[HOST_NAME_MAX + 64];
  struct stat a, b;
  int fd = -1, tries, e;

  for (tries = 0; tries < 100; tries++) {
    fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return ferry_err_set (err, errno, "cannot open '%s'", path);
    if (flock (fd, LOCK_EX | LOCK_NB) < 0) {
      e = errno;
      lock_owner (fd, owner, sizeof owner);
      close (fd);
      if (e == EWOULDBLOCK)
        return ferry_err_set (err, EBUSY, "target '%s' is being written by %s",
                              what, owner);
      return ferry_err_set (err, e, "cannot lock '%s'", path);
    }
    if (fstat (fd, &a) == 0 && stat (path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
      break;
    close (fd);
    fd = -1;
  }
  if (fd < 0)
    return ferry_err_set (err, EAGAIN, "cannot lock '%s'", path);
  lock_set_owner (fd);
  *ret_fd = fd;
  return 0;
}

/* See target.h. */
int
ferry_target_file_renew (const char *path, int *fd, struct ferry_err *err)
{
  CLEANUP_FREE char *tmp = NULL;
  int nfd;

  if (asprintf (&tmp, "%s.%ld", path, (long) getpid ()) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  unlink (tmp);
  nfd = open (tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (nfd < 0)
    return ferry_err_set (err, errno, "cannot create '%s'", tmp);
  if (flock (nfd, LOCK_EX | LOCK_NB) < 0 || rename (tmp, path) < 0) {
    ferry_err_set (err, errno, "cannot replace '%s'", path);
    close (nfd);
    unlink (tmp);
    return -1;
  }
  lock_set_owner (nfd);
  close (*fd);
  *fd = nfd;
  return 0;
}

/* See target.h. */
void
ferry_target_file_unlock (int fd)
{
  if (fd >= 0)
    close (fd);
}
