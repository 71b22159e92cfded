/* Raw images: the file is the disk; holes found with SEEK_DATA/SEEK_HOLE. */
#include "disk/disk.h"

#include <errno.h>
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

static int
raw_open (struct ferry_disk *disk, struct ferry_err *err)
{
  (void) err;
  disk->virtual_size = disk->file_size;
  snprintf (disk->subformat, sizeof disk->subformat, "raw");
  return 0;
}

/* Data or hole at OFFSET, from the file system's own map. */
static int
raw_block_status (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                  struct ferry_extent *ret, struct ferry_err *err)
{
  off_t data, hole;

  ret->offset = offset;
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
  (void) disk;
}

const struct ferry_disk_format ferry_format_raw = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .block_status = raw_block_status,
    .pread = raw_pread,
    .close = raw_close,
};
