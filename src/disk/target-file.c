/* Raw file target: sparse (holes where the source has nothing), fsync on
 * flush.
 *
 * Writes are buffered, without a lock: pwrite at disjoint offsets needs
 * none (the file system takes its own inode lock where it must).  On a
 * file system with a disk behind it (not tmpfs), a writeback thread starts
 * the write-out of what the workers wrote (sync_file_range, once 16 MiB
 * more are dirty), so that many writes are in flight while the workers go
 * on reading and inflating, and the final flush finds little left to do.
 * The workers never wait for the device.  (O_DIRECT, the former default,
 * makes each worker wait for its write, and ext4 serialises O_DIRECT
 * writes that allocate blocks, device time included: into a fresh sparse
 * file one write was in flight at a time.  1 GiB disks, 418 MiB allocated,
 * into ext4 on the project VM (disk shared, noisy), cold cache, final sync
 * included, medians of 5 interleaved, seconds, O_DIRECT -> this: raw 1.46
 * -> 1.26, qcow2 1.31 -> 0.85, VHDX 1.32 -> 1.00, VMDK monolithicSparse
 * 1.33 -> 1.36; dd conv=fsync of the allocated bytes 0.54-0.91.)  Into
 * tmpfs the old lock made no measurable difference either way: tmpfs
 * serialises writes on its inode lock itself.
 *
 * --direct still writes aligned pieces through an O_DIRECT descriptor
 * (unaligned ones, the tail of a disk whose size is not a multiple of
 * 4 KiB, through the buffered one). */
#include "disk/target.h"

#include <dirent.h>
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

#define DIRECT_ALIGN 4096      /* O_DIRECT offsets, lengths and buffers */
#define KICK_BYTES (16u << 20) /* start write-out every this many bytes */

struct file_target {
  int fd;               /* the target file, buffered */
  int dfd;              /* the same file with O_DIRECT, or -1 */
  bool copy;            /* copy_from may use copy_file_range */
  bool locks_ready;     /* lock and cond initialised */
  pthread_mutex_t lock; /* guards the fields below */
  pthread_cond_t cond;  /* more dirty bytes, or stop */
  bool flusher;         /* the writeback thread runs */
  pthread_t flusher_id; /* it */
  bool stop;            /* the writeback thread must exit */
  uint64_t dirty;       /* bytes written since its last kick */
};

/* Writeback thread: start the write-out of the file's dirty pages each
 * time KICK_BYTES more have been written (sync_file_range does not wait
 * for the device), until told to stop. */
static void *
flusher (void *arg)
{
  struct file_target *f = arg;

  pthread_mutex_lock (&f->lock);
  for (;;) {
    while (!f->stop && f->dirty < KICK_BYTES)
      pthread_cond_wait (&f->cond, &f->lock);
    if (f->stop)
      break;
    f->dirty = 0;
    pthread_mutex_unlock (&f->lock);
    (void) sync_file_range (f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    pthread_mutex_lock (&f->lock);
  }
  pthread_mutex_unlock (&f->lock);
  return NULL;
}

/* LENGTH more bytes written through F->fd: wake the writeback thread
 * when enough are dirty. */
static void
written (struct file_target *f, uint64_t length)
{
  if (!f->flusher)
    return;
  pthread_mutex_lock (&f->lock);
  f->dirty += length;
  if (f->dirty >= KICK_BYTES)
    pthread_cond_signal (&f->cond);
  pthread_mutex_unlock (&f->lock);
}

/* Stop and join the writeback thread, if it runs. */
static void
flusher_stop (struct file_target *f)
{
  if (!f->flusher)
    return;
  pthread_mutex_lock (&f->lock);
  f->stop = true;
  pthread_cond_signal (&f->cond);
  pthread_mutex_unlock (&f->lock);
  pthread_join (f->flusher_id, NULL);
  f->flusher = false;
}

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

/* pwrite op: with --direct, aligned writes (offset, length and buffer on
 * 4 KiB) go through the O_DIRECT descriptor; everything else through the
 * buffered one, in parallel (see the top of the file).  0, or -1 with
 * ERR. */
static int
file_pwrite (struct ferry_target *t, const void *buf, uint64_t length,
             uint64_t offset, struct ferry_err *err)
{
  struct file_target *f = t->priv;

  if (f->dfd >= 0 && offset % DIRECT_ALIGN == 0 && length % DIRECT_ALIGN == 0 &&
      (uintptr_t) buf % DIRECT_ALIGN == 0)
    return write_all (t, f->dfd, buf, length, offset, err);
  if (write_all (t, f->fd, buf, length, offset, err) < 0)
    return -1;
  written (f, length);
  return 0;
}

/* File systems whose copy_file_range moves no bytes through the page
 * cache: a reflink (XFS, btrfs, bcachefs, OCFS2, ZFS block cloning) or a
 * copy the server makes (NFS 4.2, SMB). */
#define XFS_MAGIC 0x58465342u
#define BTRFS_MAGIC 0x9123683Eu
#define BCACHEFS_MAGIC 0xca451a4eu
#define OCFS2_MAGIC 0x7461636fu
#define ZFS_MAGIC 0x2fc12fc1u
#define NFS_MAGIC 0x6969u
#define SMB2_MAGIC 0xFE534D42u
#define CIFS_MAGIC 0xFF534D42u

/* May copy_from use copy_file_range into the file open as FD?  Only where
 * the file system shares blocks or the server copies (see above), unless
 * FERRY_COPY_FILE_RANGE says "always" or "never".  *RET_SHARES: the copy
 * is a reflink (the converter then shares data without reading it; on an
 * XFS made without reflink, before 2018, the kernel copies those bytes
 * instead, zero blocks included).  Elsewhere the kernel's
 * copy goes through the page cache once more after the converter read the
 * bytes (it looks for zero blocks), and is no faster: on ext4 (the project
 * VM, 4 GiB disks, 1,530 MiB allocated, into a file on the same disk, cold
 * cache, sync included, medians of 7, all interleaved) copy_file_range ->
 * pwrite: raw 2.121 -> 1.512 s, qcow2 1.734 -> 1.737 s, VHDX 1.523 ->
 * 1.591 s (dd conv=fsync of the same bytes 1.842 s).  Between two file
 * systems the kernel refuses (EXDEV) anyway. */
static bool
copies_in_place (int fd, bool *ret_shares)
{
  const char *env = getenv ("FERRY_COPY_FILE_RANGE");
  struct statfs sfs;
  uint32_t type;

  *ret_shares = false;
  if ((env && strcmp (env, "never") == 0) || fstatfs (fd, &sfs) < 0)
    return false;
  type = (uint32_t) sfs.f_type;
  *ret_shares = type == XFS_MAGIC || type == BTRFS_MAGIC ||
                type == BCACHEFS_MAGIC || type == OCFS2_MAGIC ||
                type == ZFS_MAGIC;
  return *ret_shares || type == NFS_MAGIC || type == SMB2_MAGIC ||
         type == CIFS_MAGIC || (env && strcmp (env, "always") == 0);
}

/* copy_from op: copy_file_range from FD into the file, through the
 * buffered descriptor.  1 (write the bytes instead) where it would not
 * help (copies_in_place) or the kernel cannot copy between the two files:
 * another file system (EXDEV), a kernel or file system without it
 * (ENOSYS, EOPNOTSUPP, EINVAL). */
static int
file_copy_from (struct ferry_target *t, int fd, uint64_t foff, uint64_t length,
                uint64_t offset, struct ferry_err *err)
{
  struct file_target *f = t->priv;
  uint64_t done = 0;
  loff_t in, out;
  ssize_t r;

  if (!f->copy)
    return 1;
  while (done < length) {
    in = (loff_t) (foff + done);
    out = (loff_t) (offset + done);
    r = copy_file_range (fd, &in, f->fd, &out, length - done, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                  errno == EINVAL || errno == EBADF))
      return 1;
    if (r < 0)
      return ferry_err_set (err, errno, "cannot copy to '%s' at offset %llu",
                            t->name, (unsigned long long) (offset + done));
    if (r == 0)
      return ferry_err_set (err, EIO,
                            "cannot copy to '%s' at offset %llu: the source "
                            "file ended",
                            t->name, (unsigned long long) (offset + done));
    done += (uint64_t) r;
  }
  written (f, length);
  return 0;
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

  if (f)
    flusher_stop (f);
  if (f && f->fd >= 0) {
    r = file_flush (t, err);
    if (close (f->fd) < 0 && r == 0)
      r = ferry_err_set (err, errno, "cannot close '%s'", t->name);
  }
  if (f && f->dfd >= 0)
    close (f->dfd);
  if (f && f->locks_ready) {
    pthread_mutex_destroy (&f->lock);
    pthread_cond_destroy (&f->cond);
  }
  free (f);
  free (t->name);
  free (t);
  return r;
}

static const struct ferry_target_ops file_ops = {
    .name = "file",
    .workers_per_cpu = 1,
    .pwrite = file_pwrite,
    .zero = file_zero,
    .copy_from = file_copy_from,
    .flush = file_flush,
    .close = file_close,
};

/* With REQUIRED (--direct), open F->dfd, the O_DIRECT twin of F->fd
 * (PATH, already open): failing is an error.  Otherwise the target stays
 * buffered, and on a file system with a device behind it (not tmpfs or
 * ramfs) the writeback thread starts. */
static int
open_direct (struct ferry_target *t, const char *path, bool required,
             struct ferry_err *err)
{
  struct file_target *f = t->priv;
  struct stat a, b;
  struct statfs sfs;

  if (!required) {
    if (fstatfs (f->fd, &sfs) == 0 &&
        (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC))
      return 0;
    if (pthread_create (&f->flusher_id, NULL, flusher, f) == 0)
      f->flusher = true;
    return 0;
  }
  f->dfd = open (path, O_WRONLY | O_CLOEXEC | O_DIRECT);
  if (f->dfd < 0)
    return ferry_err_set (err, errno, "cannot open target '%s' with O_DIRECT",
                          path);
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
  pthread_cond_init (&f->cond, NULL);
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
  f->copy = copies_in_place (f->fd, &t->shares_blocks);
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

/* Remove what a writer killed inside ferry_target_file_renew left behind:
 * its new file "PATH.<pid>", created but not yet renamed over PATH.  The
 * caller holds PATH's lock, and a renewal holds it until its rename, so no
 * renewal of PATH is under way: every such name is stale. */
static void
remove_stale_renewals (const char *path)
{
  CLEANUP_FREE char *dir = strdup (path);
  const char *base = strrchr (path, '/'), *tail;
  char *slash;
  size_t blen;
  struct dirent *e;
  DIR *d;

  if (dir == NULL)
    return;
  base = base ? base + 1 : path;
  slash = strrchr (dir, '/');
  if (slash == dir)
    slash[1] = '\0'; /* in / */
  else if (slash != NULL)
    *slash = '\0';
  if ((d = opendir (slash ? dir : ".")) == NULL)
    return;
  blen = strlen (base);
  while ((e = readdir (d)) != NULL) {
    if (strncmp (e->d_name, base, blen) != 0 || e->d_name[blen] != '.')
      continue;
    tail = e->d_name + blen + 1;
    if (*tail != '\0' && strspn (tail, "0123456789") == strlen (tail))
      (void) unlinkat (dirfd (d), e->d_name, 0);
  }
  closedir (d);
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
  remove_stale_renewals (path);
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
