/* RBD image operations besides moving data: stat, metadata, create,
 * snapshot+protect, remove, fsid (librbd, one connection per call). */
#include "clients/rbd.h"

#include <errno.h>
#include <inttypes.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/ceph.h"
#include "util/cleanup.h"

/* "pool/image" of LOC for messages. */
static void
loc_name (const struct ferry_rbd_location *loc, char *buf, size_t len)
{
  snprintf (buf, len, "%s/%s", loc->pool, loc->image ? loc->image : "");
}

/* Connect and open LOC's image (without snapshot).  1 open, 0 missing
 * (nothing to close), -1 error. */
static int
open_image (const struct ferry_rbd_location *loc, struct ferry_ceph *c,
            rbd_image_t *img, struct ferry_err *err)
{
  char name[512];
  int r;

  loc_name (loc, name, sizeof name);
  if (ferry_ceph_connect (loc, name, c, err) < 0)
    return -1;
  r = rbd_open (c->io, loc->image, img, NULL);
  if (r == -ENOENT) {
    ferry_ceph_disconnect (c);
    return 0;
  }
  if (r < 0) {
    ferry_ceph_disconnect (c);
    return ferry_err_set (err, -r, "cannot open rbd image '%s'", name);
  }
  return 1;
}

/* open_image, where a missing image is an error (ENOENT). */
static int
open_existing (const struct ferry_rbd_location *loc, struct ferry_ceph *c,
               rbd_image_t *img, struct ferry_err *err)
{
  char name[512];
  int r = open_image (loc, c, img, err);

  if (r < 0)
    return -1;
  if (r == 0) {
    loc_name (loc, name, sizeof name);
    return ferry_err_set (err, ENOENT, "rbd image '%s' not found", name);
  }
  return 0;
}

/* Whether LOC's image exists, with its id and size. */
int
ferry_rbd_stat (const struct ferry_rbd_location *loc,
                struct ferry_rbd_info *ret, struct ferry_err *err)
{
  struct ferry_ceph c = {0};
  rbd_image_t img;
  char name[512];
  int r;

  memset (ret, 0, sizeof *ret);
  r = open_image (loc, &c, &img, err);
  if (r <= 0)
    return r;
  loc_name (loc, name, sizeof name);
  ret->exists = true;
  r = rbd_get_id (img, ret->id, sizeof ret->id);
  if (r == 0)
    r = rbd_get_size (img, &ret->size);
  rbd_close (img);
  ferry_ceph_disconnect (&c);
  if (r < 0)
    return ferry_err_set (err, -r, "cannot stat rbd image '%s'", name);
  return 0;
}

/* Image metadata KEY of LOC (grows the buffer until it fits). */
int
ferry_rbd_meta_get (const struct ferry_rbd_location *loc, const char *key,
                    char **ret, struct ferry_err *err)
{
  struct ferry_ceph c = {0};
  rbd_image_t img;
  char name[512], *buf = NULL;
  size_t len = 256;
  int r;

  *ret = NULL;
  loc_name (loc, name, sizeof name);
  if (open_existing (loc, &c, &img, err) < 0)
    return -1;
  for (;;) {
    char *nb = realloc (buf, len);
    if (nb == NULL) {
      r = -ENOMEM;
      break;
    }
    buf = nb;
    r = rbd_metadata_get (img, key, buf, &len);
    if (r != -ERANGE)
      break;
  }
  rbd_close (img);
  ferry_ceph_disconnect (&c);
  if (r == -ENOENT) {
    free (buf);
    return 0;
  }
  if (r < 0) {
    free (buf);
    return ferry_err_set (
        err, -r, "cannot read metadata '%s' of rbd image '%s'", key, name);
  }
  *ret = buf;
  return 1;
}

/* Set image metadata KEY of LOC to VALUE. */
int
ferry_rbd_meta_set (const struct ferry_rbd_location *loc, const char *key,
                    const char *value, struct ferry_err *err)
{
  struct ferry_ceph c = {0};
  rbd_image_t img;
  char name[512];
  int r;

  loc_name (loc, name, sizeof name);
  if (open_existing (loc, &c, &img, err) < 0)
    return -1;
  r = rbd_metadata_set (img, key, value);
  rbd_close (img);
  ferry_ceph_disconnect (&c);
  if (r < 0)
    return ferry_err_set (err, -r, "cannot set metadata '%s' of rbd image '%s'",
                          key, name);
  return 0;
}

/* Create LOC's image of SIZE bytes, tagged ferry.created-by=ferry. */
int
ferry_rbd_create (const struct ferry_rbd_location *loc, uint64_t size,
                  struct ferry_err *err)
{
  struct ferry_ceph c = {0};
  rbd_image_t img;
  char name[512];
  int order = 0, r;

  loc_name (loc, name, sizeof name);
  if (ferry_ceph_connect (loc, name, &c, err) < 0)
    return -1;
  r = rbd_create (c.io, loc->image, size, &order);
  if (r == 0) {
    r = rbd_open (c.io, loc->image, &img, NULL);
    if (r == 0) {
      r = rbd_metadata_set (img, "ferry.created-by", "ferry");
      rbd_close (img);
    }
  }
  ferry_ceph_disconnect (&c);
  if (r < 0)
    return ferry_err_set (err, -r, "cannot create rbd image '%s'", name);
  return 0;
}

/* Snapshot SNAP of LOC exists and is protected (idempotent). */
int
ferry_rbd_snap_protect (const struct ferry_rbd_location *loc, const char *snap,
                        struct ferry_err *err)
{
  struct ferry_ceph c = {0};
  rbd_image_t img;
  char name[512];
  int prot = 0, r;

  loc_name (loc, name, sizeof name);
  if (open_existing (loc, &c, &img, err) < 0)
    return -1;
  r = rbd_snap_create (img, snap);
  if (r == -EEXIST)
    r = 0;
  if (r == 0)
    r = rbd_snap_is_protected (img, snap, &prot);
  if (r == 0 && !prot)
    r = rbd_snap_protect (img, snap);
  if (r == -EBUSY)
    r = 0; /* protected meanwhile */
  rbd_close (img);
  ferry_ceph_disconnect (&c);
  if (r < 0)
    return ferry_err_set (
        err, -r, "cannot snapshot and protect rbd image '%s@%s'", name, snap);
  return 0;
}

/* Remove LOC's image and its snapshots, only when ferry created it. */
int
ferry_rbd_remove (const struct ferry_rbd_location *loc, struct ferry_err *err)
{
  struct ferry_ceph c = {0};
  rbd_image_t img;
  rbd_snap_info_t snaps[64];
  char name[512], tag[32];
  size_t tlen = sizeof tag;
  int max = 64, n, i, prot, r;

  loc_name (loc, name, sizeof name);
  r = open_image (loc, &c, &img, err);
  if (r <= 0)
    return r;
  r = rbd_metadata_get (img, "ferry.created-by", tag, &tlen);
  if (r < 0 || strcmp (tag, "ferry") != 0) {
    rbd_close (img);
    ferry_ceph_disconnect (&c);
    return ferry_err_set (err, EPERM,
                          "rbd image '%s' was not created by ferry: not "
                          "removed",
                          name);
  }
  n = rbd_snap_list (img, snaps, &max);
  for (i = 0; n > 0 && i < n; i++) {
    prot = 0;
    if (rbd_snap_is_protected (img, snaps[i].name, &prot) == 0 && prot)
      rbd_snap_unprotect (img, snaps[i].name);
    rbd_snap_remove (img, snaps[i].name);
  }
  if (n > 0)
    rbd_snap_list_end (snaps);
  rbd_close (img);
  r = rbd_remove (c.io, loc->image);
  ferry_ceph_disconnect (&c);
  if (r < 0 && r != -ENOENT)
    return ferry_err_set (err, -r, "cannot remove rbd image '%s'", name);
  return 0;
}

/* The fsid of the cluster LOC is in. */
int
ferry_ceph_fsid (const struct ferry_rbd_location *loc, char *buf, size_t len,
                 struct ferry_err *err)
{
  struct ferry_ceph c = {0};
  char name[512];
  int r;

  loc_name (loc, name, sizeof name);
  if (ferry_ceph_connect (loc, name, &c, err) < 0)
    return -1;
  r = rados_cluster_fsid (c.cluster, buf, len);
  ferry_ceph_disconnect (&c);
  if (r < 0)
    return ferry_err_set (err, -r, "cannot read the ceph cluster's fsid");
  return 0;
}
