/* Raw images: the file is the disk; holes found with SEEK_DATA/SEEK_HOLE
 * (through the cached host map: SEEK_HOLE can cost time proportional to the
 * data that follows, see hostmap.c). */
#include "disk/disk.h"

#include <errno.h>
#include <stdio.h>

#include "disk/hostmap.h"

/* Format probe: anything is a raw image, so this always says yes; the
 * detector asks it last, as the fallback when no other format claims the
 * file. */
static bool
raw_probe (const uint8_t *head, size_t len, const uint8_t *tail,
           size_t tail_len)
{
  (void) head, (void) len, (void) tail, (void) tail_len;
  return true;
}

/* Open a raw image: the virtual size is the file size, and the private state
 * is a host map that caches the file's data and holes. Return 0, or -1 with
 * ERR set when out of memory. */
static int
raw_open (struct ferry_disk *disk, struct ferry_err *err)
{
  disk->priv = ferry_hostmap_new (disk->fd);
  if (disk->priv == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  disk->virtual_size = disk->file_size;
  snprintf (disk->subformat, sizeof disk->subformat, "raw");
  return 0;
}

/* Data or hole at OFFSET, from the file system's own map. */
static int
raw_block_status (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                  struct ferry_extent *ret, struct ferry_err *err)
{
  bool data;

  (void) err;
  ret->offset = offset;
  ret->length = ferry_hostmap_query (disk->priv, offset, length, &data);
  ret->kind = data ? FERRY_EXTENT_DATA : FERRY_EXTENT_UNALLOC;
  return 0;
}

/* Read LENGTH bytes at OFFSET straight from the file; a short file is an
 * error naming it, not zeroes. */
static int
raw_pread (struct ferry_disk *disk, void *buf, uint64_t length, uint64_t offset,
           struct ferry_err *err)
{
  return ferry_disk_pread_exact (disk, buf, length, offset, "data", err);
}

/* The file is the disk: virtual OFFSET is file offset OFFSET. */
static int
raw_file_extent (struct ferry_disk *disk, uint64_t offset, uint64_t length,
                 int *fd, uint64_t *foff, uint64_t *len, struct ferry_err *err)
{
  if (offset > disk->file_size || length > disk->file_size - offset)
    return ferry_err_set (err, 0,
                          "'%s': data at offset %llu (%llu bytes) is past the "
                          "end of the file",
                          disk->path, (unsigned long long) offset,
                          (unsigned long long) length);
  *fd = disk->fd;
  *foff = offset;
  *len = length;
  return 0;
}

/* Free the host map made by raw_open (the descriptor belongs to the disk
 * layer). */
static void
raw_close (struct ferry_disk *disk)
{
  ferry_hostmap_free (disk->priv);
  disk->priv = NULL;
}

const struct ferry_disk_format ferry_format_raw = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .block_status = raw_block_status,
    .pread = raw_pread,
    .file_extent = raw_file_extent,
    .close = raw_close,
};
