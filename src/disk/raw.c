/* Raw images: the file is the disk; holes found with SEEK_DATA/SEEK_HOLE. */
#include "disk/disk.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool
raw_probe (const uint8_t *head, size_t len, const uint8_t *tail,
           size_t tail_len)
{
  (void) head, (void) len, (void) tail, (void) tail_len;
  return true;
}

/* SEEK_HOLE can cost time proportional to the data that follows (tmpfs
 * walks its pages), so the last data extent found is remembered: workers
 * ask for increasing offsets inside it. */
struct raw_priv {
  pthread_mutex_t lock; /* guards the two fields below */
  uint64_t data_start;  /* cached data extent [data_start, data_end) */
  uint64_t data_end;
};

static int
raw_open (struct ferry_disk *disk, struct ferry_err *err)
{
  struct raw_priv *p = calloc (1, sizeof *p);

  if (p == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  pthread_mutex_init (&p->lock, NULL);
  disk->priv = p;
  disk->virtual_size = disk->file_size;
  snprintf (disk->subformat, sizeof disk->subformat, "raw");
  return 0;
}

/* Data or hole at OFFSET, from the file system's own map. */
static int
raw_block_status (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                  struct ferry_extent *ret, struct ferry_err *err)
{
  struct raw_priv *p = disk->priv;
  off_t data, hole;

  ret->offset = offset;
  pthread_mutex_lock (&p->lock);
  if (offset >= p->data_start && offset < p->data_end) {
    ret->kind = FERRY_EXTENT_DATA;
    ret->length = p->data_end - offset < length ? p->data_end - offset
                                                : length;
    pthread_mutex_unlock (&p->lock);
    return 0;
  }
  pthread_mutex_unlock (&p->lock);
  data = lseek (disk->fd, (off_t) offset, SEEK_DATA);
  if (data < 0 && errno == ENXIO) {
    /* no data from here to the end of the file */
    ret->kind = FERRY_EXTENT_UNALLOC;
    ret->length = length;
    return 0;
  }
  if (data < 0) {
    /* file system without SEEK_DATA: everything is data */
    ret->kind = FERRY_EXTENT_DATA;
    ret->length = length;
    return 0;
  }
  if ((uint64_t) data > offset) {
    ret->kind = FERRY_EXTENT_UNALLOC;
    ret->length = (uint64_t) data - offset < length ? (uint64_t) data - offset
                                                    : length;
    return 0;
  }
  hole = lseek (disk->fd, (off_t) offset, SEEK_HOLE);
  if (hole < 0)
    return ferry_err_set (err, errno, "'%s': cannot map the file", disk->path);
  ret->kind = FERRY_EXTENT_DATA;
  ret->length = (uint64_t) hole - offset < length ? (uint64_t) hole - offset
                                                  : length;
  if (ret->length == 0)
    ret->length = length;
  else {
    pthread_mutex_lock (&p->lock);
    p->data_start = offset;
    p->data_end = (uint64_t) hole;
    pthread_mutex_unlock (&p->lock);
  }
  return 0;
}

static int
raw_pread (struct ferry_disk *disk, void *buf, uint64_t length,
           uint64_t offset, struct ferry_err *err)
{
  return ferry_disk_pread_exact (disk, buf, length, offset, "data", err);
}

static void
raw_close (struct ferry_disk *disk)
{
  struct raw_priv *p = disk->priv;

  if (p) {
    pthread_mutex_destroy (&p->lock);
    free (p);
  }
  disk->priv = NULL;
}

const struct ferry_disk_format ferry_format_raw = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .block_status = raw_block_status,
    .pread = raw_pread,
    .close = raw_close,
};
