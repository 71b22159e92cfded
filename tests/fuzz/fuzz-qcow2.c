/* libFuzzer target: the qcow2 reader (header, L1/L2, compressed clusters).
 * The input is written to a memfd and opened through /proc/self/fd; the
 * whole virtual disk (capped) is mapped and read through the chain layer.
 * A backing file name is ignored (the chain layer would open real files),
 * so only the qcow2 layer itself is exercised; any other name would be
 * confined to a private empty directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk/disk.h"
#include "fuzz-confine.h"

#define FUZZ_MAX_READ (64u << 20) /* virtual bytes read per input */

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferry_err err = {0};
  struct ferry_disk *disk;
  struct ferry_extent ext;
  char path[64];
  uint64_t off = 0, n;
  static uint8_t buf[1 << 20];
  const char *dir;
  int fd;

  fd = memfd_create ("fuzz-qcow2", 0);
  if (fd < 0)
    return 0;
  if (write (fd, data, size) != (ssize_t) size) {
    close (fd);
    return 0;
  }
  snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  disk = calloc (1, sizeof *disk);
  if (disk == NULL) {
    close (fd);
    return 0;
  }
  disk->fd = fd;
  disk->path = path;
  disk->confine = fuzz_confine (&dir);
  disk->file_size = size;
  disk->format = &ferry_format_qcow2;
  if (ferry_format_qcow2.open (disk, &err) == 0) {
    while (off < disk->virtual_size && off < FUZZ_MAX_READ) {
      n = disk->virtual_size - off;
      if (n > sizeof buf)
        n = sizeof buf;
      ferry_err_clear (&err);
      if (ferry_format_qcow2.block_status (disk, off, n, &ext, &err) < 0)
        break;
      if (ext.offset != off || ext.length == 0 || ext.length > n)
        abort ();
      if (ext.kind == FERRY_EXTENT_DATA)
        (void) ferry_format_qcow2.pread (disk, buf, ext.length, off, &err);
      off += ext.length;
    }
  }
  ferry_format_qcow2.close (disk);
  free (disk->parent_hint);
  free (disk->parent_names);
  free (disk);
  close (fd);
  return 0;
}
