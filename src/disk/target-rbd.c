/* RBD target: an RBD image (struct ferry_rbd_location) through librbd.
 *
 * A missing image is created with the source's size (and tagged with the
 * metadata key ferry.created-by so that later checks can tell ferry's images
 * from others'); an existing one must be at least that big and is never
 * fresh, so zero ranges are written as zeroes and stale data cannot
 * survive.  librbd image handles are thread-safe.  pwrite queues an aio
 * write (librbd copies the data at submission: rbd_disable_zero_copy_writes
 * is set; ferry copies only if that option is unknown), so a worker goes
 * back to reading while librbd writes; at most RBD_QUEUE_BYTES are in flight,
 * and flush/close wait for all of them (an aio error is reported by the next
 * pwrite, zero or flush). */
#include "disk/target.h"

#include <errno.h>
#include <pthread.h>
#include <rbd/librbd.h>
#include <stdlib.h>
#include <string.h>

#include "clients/ceph.h"
#include "util/cleanup.h"
#include "util/location.h"

#define RBD_ZERO_STEP (1ull << 30)    /* bytes per write-zeroes request */
#define RBD_QUEUE_BYTES (32ull << 20) /* queued write data, at most */

struct rbd_target {
  struct ferry_ceph ceph; /* connection and pool */
  rbd_image_t image;      /* the open image, NULL before rbd_open */
  bool lock_init;         /* lock and cond initialised */
  pthread_mutex_t lock;   /* guards the fields below */
  pthread_cond_t cond;    /* a queued write completed */
  uint64_t queued;        /* bytes of writes in flight */
  unsigned inflight;      /* writes in flight */
  int error;              /* first aio error (negative errno), 0 if none */
  uint64_t error_offset;  /* offset of that write */
};

/* One queued write: owns its copy of the data. */
struct rbd_write {
  struct rbd_target *rt; /* target */
  uint64_t offset;       /* where */
  uint64_t length;       /* bytes */
  char *buf;             /* our copy of the data, NULL if librbd copies */
};

/* aio completion: record an error, free the copy, wake waiters. */
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
  rt->queued -= w->length;
  rt->inflight--;
  pthread_cond_broadcast (&rt->cond);
  pthread_mutex_unlock (&rt->lock);
  free (w->buf);
  free (w);
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

/* Queue an asynchronous write of LENGTH bytes at OFFSET. The caller may
 * reuse BUF on return, so the data is copied unless this librbd copies
 * writes itself. Back-pressure: wait under the lock while more than
 * RBD_QUEUE_BYTES are in flight. An earlier failed write is reported here
 * (and by flush) since completions cannot return errors to anyone. Return 0
 * once queued, or -1 with ERR set; on a submit failure the accounting is
 * undone and waiters are woken. */
static int
rbd_target_pwrite (struct ferry_target *t, const void *buf, uint64_t length,
                   uint64_t offset, struct ferry_err *err)
{
  struct rbd_target *rt = t->priv;
  rbd_completion_t c;
  struct rbd_write *w;
  int r;

  pthread_mutex_lock (&rt->lock);
  while (rt->inflight > 0 && rt->queued + length > RBD_QUEUE_BYTES &&
         rt->error == 0)
    pthread_cond_wait (&rt->cond, &rt->lock);
  r = check_error (t, rt, err);
  if (r == 0) {
    rt->queued += length;
    rt->inflight++;
  }
  pthread_mutex_unlock (&rt->lock);
  if (r < 0)
    return -1;
  w = calloc (1, sizeof *w);
  if (w && !rt->ceph.rbd_copies_writes) {
    w->buf = malloc (length);
    if (w->buf)
      memcpy (w->buf, buf, length);
  }
  if (w == NULL || (!rt->ceph.rbd_copies_writes && w->buf == NULL)) {
    r = -ENOMEM;
    goto undo;
  }
  w->rt = rt;
  w->offset = offset;
  w->length = length;
  r = rbd_aio_create_completion (w, write_done, &c);
  if (r < 0)
    goto undo;
  r = rbd_aio_write (rt->image, offset, length, w->buf ? w->buf : buf, c);
  if (r < 0) {
    rbd_aio_release (c);
    goto undo;
  }
  return 0;

undo:
  if (w)
    free (w->buf);
  free (w);
  pthread_mutex_lock (&rt->lock);
  rt->queued -= length;
  rt->inflight--;
  pthread_cond_broadcast (&rt->cond);
  pthread_mutex_unlock (&rt->lock);
  return ferry_err_set (err, -r, "cannot write to '%s' at offset %llu", t->name,
                        (unsigned long long) offset);
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
