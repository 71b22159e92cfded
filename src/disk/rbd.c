/* RBD images as a source (struct ferry_disk's rbd location), opened
 * read-only through librbd.  Allocation comes from
 * rbd_diff_iterate2 (objects and extents that exist, clones' parents
 * included); reads are plain librbd reads, safe from many threads. */
#include "disk/disk.h"

#include <errno.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/ceph.h"
#include "util/location.h"

#define RBD_MAP_WINDOW (32ull << 20) /* bytes asked of diff_iterate at once */

struct rbd_source {
  struct ferry_ceph ceph; /* connection and pool */
  rbd_image_t image;      /* opened read-only (at the snapshot) */
  bool no_diff;           /* diff_iterate unsupported: all data */
};

/* State of one block_status query. */
struct diff_query {
  uint64_t offset; /* start of the query */
  uint64_t end;    /* end of the query */
  bool found;      /* first extent seen */
  uint64_t first;  /* its offset */
  uint64_t len;    /* its length */
  bool exists;     /* data (true) or zeroes (false) */
};

/* Open DISK->rbd read-only, through librbd (at its snapshot when it names
 * one), and take its size as the virtual size.  Return 0, or -1 with ERR
 * set; the half-built state is released by rbd_source_close, which the
 * disk layer calls on failure. */
static int
rbd_source_open (struct ferry_disk *disk, struct ferry_err *err)
{
  const struct ferry_rbd_location *n = &disk->rbd;
  struct rbd_source *s;
  uint64_t size;
  int r;

  if (n->pool == NULL || n->image == NULL)
    return ferry_err_set (err, EINVAL, "'%s': not an rbd image", disk->path);
  s = calloc (1, sizeof *s);
  if (s == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  disk->priv = s;
  if (ferry_ceph_connect (n, disk->path, &s->ceph, err) < 0)
    return -1;
  r = rbd_open_read_only (s->ceph.io, n->image, &s->image, n->snap);
  if (r < 0) {
    s->image = NULL;
    return ferry_err_set (err, -r, "cannot open rbd image '%s'", disk->path);
  }
  r = rbd_get_size (s->image, &size);
  if (r < 0)
    return ferry_err_set (err, -r, "cannot get the size of '%s'", disk->path);
  disk->virtual_size = size;
  snprintf (disk->subformat, sizeof disk->subformat, "%s",
            n->snap ? "snapshot" : "image");
  return 0;
}

/* diff_iterate callback: keep the extent that starts first (librbd may
 * report objects out of order). */
static int
diff_cb (uint64_t off, size_t len, int exists, void *arg)
{
  struct diff_query *d = arg;

  if (off + len <= d->offset || off >= d->end)
    return 0;
  if (off < d->offset) {
    len -= (size_t) (d->offset - off);
    off = d->offset;
  }
  if (d->found && d->first <= off)
    return 0;
  d->found = true;
  d->first = off;
  d->len = len;
  d->exists = exists != 0;
  return 0;
}

/* Report the kind of the range at OFFSET from librbd's diff_iterate (parent
 * included), asking at most RBD_MAP_WINDOW bytes at a time so that one query
 * on a huge image stays cheap: before the first extent found is UNALLOC, an
 * extent is DATA or ZERO. A cluster that cannot answer (EOPNOTSUPP, ENOSYS,
 * EINVAL) is remembered, and from then on everything is reported as data,
 * which is slower but still correct. Return 0, or -1 with ERR set on any
 * other error. */
static int
rbd_source_block_status (struct ferry_disk *disk, uint64_t offset,
                         uint64_t length, struct ferry_extent *ret,
                         struct ferry_err *err)
{
  struct rbd_source *s = disk->priv;
  struct diff_query d = {0};
  uint64_t win = length < RBD_MAP_WINDOW ? length : RBD_MAP_WINDOW;
  int r;

  ret->offset = offset;
  if (!s->no_diff) {
    d.offset = offset;
    d.end = offset + win;
    r = rbd_diff_iterate2 (s->image, NULL, offset, win, 1, 0, diff_cb, &d);
    if (r == -EOPNOTSUPP || r == -ENOSYS || r == -EINVAL) {
      s->no_diff = true;
    } else if (r < 0) {
      return ferry_err_set (err, -r, "cannot map '%s' at offset %llu",
                            disk->path, (unsigned long long) offset);
    } else if (!d.found) {
      ret->length = win;
      ret->kind = FERRY_EXTENT_UNALLOC;
      return 0;
    } else if (d.first > offset) {
      ret->length = d.first - offset;
      ret->kind = FERRY_EXTENT_UNALLOC;
      return 0;
    } else {
      ret->length = d.len < length ? d.len : length;
      if (ret->length == 0)
        ret->length = length;
      ret->kind = d.exists ? FERRY_EXTENT_DATA : FERRY_EXTENT_ZERO;
      return 0;
    }
  }
  ret->length = length;
  ret->kind = FERRY_EXTENT_DATA;
  return 0;
}

/* Read exactly LENGTH bytes at OFFSET, looping over short reads; a read
 * returning 0 is an error, since the range is inside the image. Return 0, or
 * -1 with ERR naming the offset. */
static int
rbd_source_pread (struct ferry_disk *disk, void *buf, uint64_t length,
                  uint64_t offset, struct ferry_err *err)
{
  struct rbd_source *s = disk->priv;
  uint64_t done = 0;
  ssize_t r;

  while (done < length) {
    r = rbd_read (s->image, offset + done, length - done, (char *) buf + done);
    if (r < 0)
      return ferry_err_set (err, (int) -r, "cannot read '%s' at offset %llu",
                            disk->path, (unsigned long long) (offset + done));
    if (r == 0)
      return ferry_err_set (err, 0, "'%s': short read at offset %llu",
                            disk->path, (unsigned long long) (offset + done));
    done += (uint64_t) r;
  }
  return 0;
}

/* Close the image and the cluster connection and free the state; safe on a
 * half-opened source. */
static void
rbd_source_close (struct ferry_disk *disk)
{
  struct rbd_source *s = disk->priv;

  if (s == NULL)
    return;
  if (s->image)
    rbd_close (s->image);
  ferry_ceph_disconnect (&s->ceph);
  free (s);
  disk->priv = NULL;
}

const struct ferry_disk_format ferry_format_rbd = {
    .name = "rbd",
    .open = rbd_source_open,
    .block_status = rbd_source_block_status,
    .pread = rbd_source_pread,
    .close = rbd_source_close,
};
