/* RBD target: an RBD image (struct ferry_rbd_location) through librbd.
 *
 * A missing image is created with the source's size (and tagged with the
 * metadata key ferry.created-by so that later checks can tell ferry's images
 * from others'); an existing one must be at least that big and is never
 * fresh, so zero ranges are written as zeroes and stale data cannot
 * survive.  librbd image handles are thread-safe.  pwrite copies the data
 * into one of RBD_BUFS buffers of RBD_BUF_BYTES and queues an aio write of
 * it (librbd does not copy again: rbd_disable_zero_copy_writes is off), so a
 * worker goes back to reading while librbd writes; flush/close wait for all
 * of them (an aio error is reported by the next pwrite, zero or flush).  The
 * buffers are allocated once and reused: the data in flight is bounded, and
 * no write allocates (a fresh 4 MiB buffer per write costs a thousand page
 * faults, and freeing it makes malloc keep such sizes in every thread's
 * arena: 130-150 MiB of RSS instead of 90).  32 MiB in flight as 16 writes
 * of 2 MiB, not 8 of 4 MiB nor 32 of 1 MiB: a 4 GiB disk with 1,530 MiB
 * of data into a one-OSD bluestore cluster, cold, 3 interleaved runs
 * each, seconds: raw 3.01-3.66 / 4.90-6.68 / 3.58-3.92, VMDK sparse
 * 3.55-4.17 / 4.97-6.26 / 3.81-5.24, VHDX 3.31-3.43 / 4.85-5.36 /
 * 3.50-3.64; peak RSS 77 MiB in all three. */
#include "disk/target.h"

#include <errno.h>
#include <pthread.h>
#include <rbd/librbd.h>
#include <stdlib.h>
#include <string.h>

#include "clients/ceph.h"
#include "util/cleanup.h"
#include "util/location.h"

#define RBD_ZERO_STEP (1ull << 30) /* bytes per write-zeroes request */
#define RBD_BUF_BYTES (2ull << 20) /* bytes per write, at most */
#define RBD_BUFS 16                /* buffers: writes in flight, at most */

struct rbd_target {
  struct ferry_ceph ceph; /* connection and pool */
  rbd_image_t image;      /* the open image, NULL before rbd_open */
  bool lock_init;         /* lock and cond initialised */
  pthread_mutex_t lock;   /* guards the fields below */
  pthread_cond_t cond;    /* a queued write completed */
  unsigned inflight;      /* writes in flight */
  int error;              /* first aio error (negative errno), 0 if none */
  uint64_t error_offset;  /* offset of that write */
  struct rbd_write *idle; /* writes not in flight, buffer kept */
  unsigned nbufs;         /* writes allocated (in flight or idle) */
};

/* One write and its buffer, in flight or idle. */
struct rbd_write {
  struct rbd_target *rt;  /* target */
  struct rbd_write *next; /* in rt->idle */
  uint64_t offset;        /* where */
  uint64_t length;        /* bytes */
  char *buf;              /* our copy of the data: RBD_BUF_BYTES */
};

/* Take an idle write, or allocate one while fewer than RBD_BUFS exist, or
 * wait for one; counted in flight.  Return 0 with *RET, or the error of a
 * write that failed before, or -ENOMEM. */
static int
write_get (struct rbd_target *rt, struct rbd_write **ret)
{
  struct rbd_write *w = NULL;
  bool new = false;
  int r;

  pthread_mutex_lock (&rt->lock);
  while (rt->error == 0 && rt->idle == NULL && rt->nbufs >= RBD_BUFS)
    pthread_cond_wait (&rt->cond, &rt->lock);
  r = rt->error;
  if (r == 0) {
    w = rt->idle;
    if (w) {
      rt->idle = w->next;
    } else {
      new = true;
      rt->nbufs++;
    }
    rt->inflight++;
  }
  pthread_mutex_unlock (&rt->lock);
  if (new) {
    w = calloc (1, sizeof *w);
    if (w && (w->buf = malloc (RBD_BUF_BYTES)) == NULL) {
      free (w);
      w = NULL;
    }
    if (w == NULL) {
      pthread_mutex_lock (&rt->lock);
      rt->nbufs--;
      rt->inflight--;
      pthread_cond_broadcast (&rt->cond);
      pthread_mutex_unlock (&rt->lock);
      return -ENOMEM;
    }
  }
  if (r == 0)
    *ret = w;
  return r;
}

/* Put W back among the idle writes, no longer in flight. Caller holds
 * rt->lock. */
static void
write_put (struct rbd_target *rt, struct rbd_write *w)
{
  w->next = rt->idle;
  rt->idle = w;
  rt->inflight--;
  pthread_cond_broadcast (&rt->cond);
}

/* aio completion: record an error, put the write back, wake waiters. */
static void
write_done (rbd_completion_t c, void *arg)
{
  struct rbd_write *w = arg;
  struct rbd_target *rt = w->rt;
  ssize_t r = rbd_aio_get_return_value (c);

  rbd_aio_release (c);
  pthread_mutex_lock (&rt->lock);
  if (r < 0 && rt->error == 0) {
    rt->error = (int) r;
    rt->error_offset = w->offset;
  }
  write_put (rt, w);
  pthread_mutex_unlock (&rt->lock);
}

/* Report the first failed aio write, if any.  Caller holds rt->lock. */
static int
check_error (struct ferry_target *t, struct rbd_target *rt,
             struct ferry_err *err)
{
  if (rt->error == 0)
    return 0;
  return ferry_err_set (err, -rt->error, "cannot write to '%s' at offset %llu",
                        t->name, (unsigned long long) rt->error_offset);
}

/* Wait until no write is in flight; -1 if one failed. */
static int
drain (struct ferry_target *t, struct rbd_target *rt, struct ferry_err *err)
{
  int r;

  pthread_mutex_lock (&rt->lock);
  while (rt->inflight > 0)
    pthread_cond_wait (&rt->cond, &rt->lock);
  r = check_error (t, rt, err);
  pthread_mutex_unlock (&rt->lock);
  return r;
}

/* Queue asynchronous writes of LENGTH bytes at OFFSET, RBD_BUF_BYTES at
 * a time. The caller may reuse BUF on return, so the data is copied into
 * our buffers; with all RBD_BUFS in flight, wait for one (back-pressure).
 * An earlier failed write is reported here (and by flush) since
 * completions cannot return errors to anyone. Return 0 once queued, or -1
 * with ERR set. */
static int
rbd_target_pwrite (struct ferry_target *t, const void *buf, uint64_t length,
                   uint64_t offset, struct ferry_err *err)
{
  struct rbd_target *rt = t->priv;
  const char *p = buf;
  rbd_completion_t c;
  struct rbd_write *w = NULL;
  uint64_t n;
  int r;

  while (length > 0) {
    n = length < RBD_BUF_BYTES ? length : RBD_BUF_BYTES;
    r = write_get (rt, &w);
    if (r < 0) {
      if (r == -ENOMEM)
        return ferry_err_set (err, ENOMEM, "cannot allocate memory");
      pthread_mutex_lock (&rt->lock);
      r = check_error (t, rt, err);
      pthread_mutex_unlock (&rt->lock);
      return r;
    }
    memcpy (w->buf, p, n);
    w->rt = rt;
    w->offset = offset;
    w->length = n;
    r = rbd_aio_create_completion (w, write_done, &c);
    if (r == 0) {
      r = rbd_aio_write (rt->image, offset, n, w->buf, c);
      if (r < 0)
        rbd_aio_release (c);
    }
    if (r < 0) {
      pthread_mutex_lock (&rt->lock);
      write_put (rt, w);
      pthread_mutex_unlock (&rt->lock);
      return ferry_err_set (err, -r, "cannot write to '%s' at offset %llu",
                            t->name, (unsigned long long) offset);
    }
    p += n;
    offset += n;
    length -= n;
  }
  return 0;
}

/* Write zeroes (librbd discards whole objects and zeroes partial ones, so
 * the range reads as zero afterwards, unlike a plain discard). */
static int
rbd_target_zero (struct ferry_target *t, uint64_t offset, uint64_t length,
                 struct ferry_err *err)
{
  struct rbd_target *rt = t->priv;
  uint64_t n;
  ssize_t r;

  pthread_mutex_lock (&rt->lock);
  r = check_error (t, rt, err);
  pthread_mutex_unlock (&rt->lock);
  if (r < 0)
    return -1;
  while (length > 0) {
    n = length < RBD_ZERO_STEP ? length : RBD_ZERO_STEP;
    r = rbd_write_zeroes (rt->image, offset, n, 0, 0);
    if (r < 0)
      return ferry_err_set (err, (int) -r, "cannot zero '%s' at offset %llu",
                            t->name, (unsigned long long) offset);
    offset += n;
    length -= n;
  }
  return 0;
}

/* Wait for every queued write, report any that failed, then flush librbd's
 * cache, so that a 0 return means the data is on the cluster. Return 0, or
 * -1 with ERR set. */
static int
rbd_target_flush (struct ferry_target *t, struct ferry_err *err)
{
  struct rbd_target *rt = t->priv;
  int r;

  if (drain (t, rt, err) < 0)
    return -1;
  r = rbd_flush (rt->image);
  if (r < 0)
    return ferry_err_set (err, -r, "cannot flush '%s'", t->name);
  return 0;
}

/* Flush and close the image, disconnect and free the target (T itself too).
 * Also used to undo a half-done ferry_target_rbd_open, so every part may be
 * missing. Return 0, or -1 with ERR set (ERR may be NULL) when the final
 * flush or close failed: the data is then not known to be written. */
static int
rbd_target_close (struct ferry_target *t, struct ferry_err *err)
{
  struct rbd_target *rt = t->priv;
  int r = 0, e;

  if (rt) {
    if (rt->image) {
      r = rbd_target_flush (t, err);
      e = rbd_close (rt->image);
      if (e < 0 && r == 0)
        r = ferry_err_set (err, -e, "cannot close '%s'", t->name);
    }
    ferry_ceph_disconnect (&rt->ceph);
    while (rt->idle) {
      struct rbd_write *w = rt->idle;
      rt->idle = w->next;
      free (w->buf);
      free (w);
    }
    if (rt->lock_init) {
      pthread_mutex_destroy (&rt->lock);
      pthread_cond_destroy (&rt->cond);
    }
  }
  free (rt);
  free (t->name);
  free (t);
  return r;
}

static const struct ferry_target_ops rbd_ops = {
    .name = "rbd",
    .workers_per_cpu = 2,
    .pwrite = rbd_target_pwrite,
    .zero = rbd_target_zero,
    .flush = rbd_target_flush,
    .close = rbd_target_close,
};

/* Create IMAGE with SIZE bytes (the cluster's default features and order)
 * and tag it as ferry's.  *CREATED tells whether we made it (false when
 * somebody else created it first). */
static int
create_image (struct rbd_target *rt, const struct ferry_rbd_location *n,
              const char *spec, uint64_t size, bool *created,
              struct ferry_err *err)
{
  rbd_image_options_t opts;
  int r;

  *created = false;
  rbd_image_options_create (&opts);
  r = rbd_create4 (rt->ceph.io, n->image, size, opts);
  rbd_image_options_destroy (opts);
  if (r == -EEXIST)
    return 0;
  if (r < 0)
    return ferry_err_set (err, -r, "cannot create rbd image '%s'", spec);
  *created = true;
  return 0;
}

/* Open the RBD image N for writing SIZE bytes, creating it when it does
 * not exist and tagging an image ferry created with the metadata
 * ferry.created-by. A snapshot is refused, and so is an existing image
 * smaller than the source; a larger one is kept at its size. The target is
 * marked fresh (known to read as zeroes, so zero ranges can be skipped) only
 * when ferry just created it and FLAGS does not ask for a resume. T->name is
 * N's display form, used in every message. Return 0 with *RET (close with
 * ferry_target_close), or -1 with ERR set and nothing left open. */
int
ferry_target_rbd_open (const struct ferry_rbd_location *n, uint64_t size,
                       unsigned flags, struct ferry_target **ret,
                       struct ferry_err *err)
{
  CLEANUP_FREE char *spec = ferry_rbd_location_format (n);
  struct ferry_target *t;
  struct rbd_target *rt;
  bool created = false;
  uint64_t cur;
  int r;

  if (spec == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (n->image == NULL)
    return ferry_err_set (err, 0, "'%s': no rbd image name", spec);
  if (n->snap)
    return ferry_err_set (err, 0, "'%s': cannot write to an rbd snapshot",
                          spec);
  t = calloc (1, sizeof *t);
  rt = calloc (1, sizeof *rt);
  if (t == NULL || rt == NULL) {
    free (t);
    free (rt);
    return ferry_err_set (err, errno, "cannot allocate memory");
  }
  t->ops = &rbd_ops;
  t->priv = rt;
  pthread_mutex_init (&rt->lock, NULL);
  pthread_cond_init (&rt->cond, NULL);
  rt->lock_init = true;
  t->align = 512;
  t->size = size;
  t->name = TAKE_PTR (spec);
  if (ferry_ceph_connect (n, t->name, &rt->ceph, err) < 0)
    goto fail;
  r = rbd_open (rt->ceph.io, n->image, &rt->image, NULL);
  if (r == -ENOENT) {
    if (create_image (rt, n, t->name, size, &created, err) < 0)
      goto fail;
    r = rbd_open (rt->ceph.io, n->image, &rt->image, NULL);
  }
  if (r < 0) {
    rt->image = NULL;
    ferry_err_set (err, -r, "cannot open rbd image '%s'", t->name);
    goto fail;
  }
  if (created) {
    r = rbd_metadata_set (rt->image, "ferry.created-by", "ferry");
    if (r < 0) {
      ferry_err_set (err, -r, "cannot set metadata on rbd image '%s'", t->name);
      goto fail;
    }
  }
  r = rbd_get_size (rt->image, &cur);
  if (r < 0) {
    ferry_err_set (err, -r, "cannot get the size of rbd image '%s'", t->name);
    goto fail;
  }
  if (cur < size) {
    ferry_err_set (err, 0,
                   "target '%s' is smaller (%llu bytes) than the source "
                   "(%llu bytes)",
                   t->name, (unsigned long long) cur,
                   (unsigned long long) size);
    goto fail;
  }
  t->size = cur;
  /* a new image reads as zeroes; an existing one (or a resumed run) may
   * hold anything */
  t->fresh = created && !(flags & FERRY_TARGET_RESUME);
  *ret = t;
  return 0;

fail:
  rbd_target_close (t, NULL);
  return -1;
}
