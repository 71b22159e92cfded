/* RBD target: rbd:POOL/IMAGE[:conf=PATH][:id=USER] through librbd.
 *
 * A missing image is created with the source's size (and tagged with the
 * metadata key ferry.created-by so that later checks can tell ferry's images
 * from others'); an existing one must be at least that big and is never
 * fresh, so zero ranges are written as zeroes and stale data cannot
 * survive.  librbd image handles are thread-safe: every worker submits its
 * own aio request and waits for it. */
#include "disk/target.h"

#include <errno.h>
#include <rbd/librbd.h>
#include <stdlib.h>
#include <string.h>

#include "clients/ceph.h"
#include "disk/rbdname.h"

#define RBD_ZERO_STEP (1ull << 30) /* bytes per write-zeroes request */

struct rbd_target {
  struct ferry_ceph ceph; /* connection and pool */
  rbd_image_t image;      /* the open image, NULL before rbd_open */
};

/* Wait for C and return its result (bytes or -errno); releases C. */
static ssize_t
aio_wait (rbd_completion_t c)
{
  ssize_t r;

  rbd_aio_wait_for_complete (c);
  r = rbd_aio_get_return_value (c);
  rbd_aio_release (c);
  return r;
}

static int
rbd_target_pwrite (struct ferry_target *t, const void *buf, uint64_t length,
                   uint64_t offset, struct ferry_err *err)
{
  struct rbd_target *rt = t->priv;
  rbd_completion_t c;
  ssize_t r;

  r = rbd_aio_create_completion (NULL, NULL, &c);
  if (r < 0)
    return ferry_err_set (err, (int) -r, "cannot write to '%s'", t->name);
  r = rbd_aio_write (rt->image, offset, length, buf, c);
  if (r < 0) {
    rbd_aio_release (c);
    return ferry_err_set (err, (int) -r,
                          "cannot write to '%s' at offset %llu", t->name,
                          (unsigned long long) offset);
  }
  r = aio_wait (c);
  if (r < 0)
    return ferry_err_set (err, (int) -r,
                          "cannot write to '%s' at offset %llu", t->name,
                          (unsigned long long) offset);
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

  while (length > 0) {
    n = length < RBD_ZERO_STEP ? length : RBD_ZERO_STEP;
    r = rbd_write_zeroes (rt->image, offset, n, 0, 0);
    if (r < 0)
      return ferry_err_set (err, (int) -r,
                            "cannot zero '%s' at offset %llu", t->name,
                            (unsigned long long) offset);
    offset += n;
    length -= n;
  }
  return 0;
}

static int
rbd_target_flush (struct ferry_target *t, struct ferry_err *err)
{
  struct rbd_target *rt = t->priv;
  int r;

  r = rbd_flush (rt->image);
  if (r < 0)
    return ferry_err_set (err, -r, "cannot flush '%s'", t->name);
  return 0;
}

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
create_image (struct rbd_target *rt, const struct ferry_rbd_name *n,
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

int
ferry_target_rbd_open (const char *spec, uint64_t size, unsigned flags,
                       struct ferry_target **ret, struct ferry_err *err)
{
  struct ferry_rbd_name n;
  struct ferry_target *t;
  struct rbd_target *rt;
  bool created = false;
  uint64_t cur;
  int r;

  if (ferry_rbd_name_parse (spec, &n, err) < 0)
    return -1;
  if (n.snap[0])
    return ferry_err_set (err, 0,
                          "'%s': cannot write to an rbd snapshot", spec);
  t = calloc (1, sizeof *t);
  rt = calloc (1, sizeof *rt);
  if (t == NULL || rt == NULL) {
    free (t);
    free (rt);
    return ferry_err_set (err, errno, "cannot allocate memory");
  }
  t->ops = &rbd_ops;
  t->priv = rt;
  t->align = 512;
  t->size = size;
  t->name = strdup (spec);
  if (t->name == NULL) {
    ferry_err_set (err, errno, "cannot allocate memory");
    goto fail;
  }
  if (ferry_ceph_connect (&n, spec, &rt->ceph, err) < 0)
    goto fail;
  r = rbd_open (rt->ceph.io, n.image, &rt->image, NULL);
  if (r == -ENOENT) {
    if (create_image (rt, &n, spec, size, &created, err) < 0)
      goto fail;
    r = rbd_open (rt->ceph.io, n.image, &rt->image, NULL);
  }
  if (r < 0) {
    rt->image = NULL;
    ferry_err_set (err, -r, "cannot open rbd image '%s'", spec);
    goto fail;
  }
  if (created) {
    r = rbd_metadata_set (rt->image, "ferry.created-by", "ferry");
    if (r < 0) {
      ferry_err_set (err, -r, "cannot set metadata on rbd image '%s'", spec);
      goto fail;
    }
  }
  r = rbd_get_size (rt->image, &cur);
  if (r < 0) {
    ferry_err_set (err, -r, "cannot get the size of rbd image '%s'", spec);
    goto fail;
  }
  if (cur < size) {
    ferry_err_set (err, 0,
                   "target '%s' is smaller (%llu bytes) than the source "
                   "(%llu bytes)",
                   spec, (unsigned long long) cur, (unsigned long long) size);
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
