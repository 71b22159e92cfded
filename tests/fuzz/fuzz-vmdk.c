/* libFuzzer target: the VMDK reader (descriptor text, sparse header, grain
 * directory and tables, compressed grains, footer).  The input is written
 * to a memfd and opened through /proc/self/fd as one layer (a parent hint
 * is not followed); block status and reads cover the virtual disk, capped,
 * and every DATA extent is read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk/disk.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_SCAN (64ull << 20) /* virtual bytes walked per input */
#define MAX_STEPS 4096         /* block_status calls per input */

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferry_disk disk;
  struct ferry_err err = {0};
  struct ferry_extent ext;
  static uint8_t buf[1 << 20];
  char path[64];
  uint64_t off = 0, end, len;
  unsigned steps = 0;
  int fd;

  fd = memfd_create ("fuzz-vmdk", MFD_CLOEXEC);
  if (fd < 0)
    return 0;
  if (size > 0 && write (fd, data, size) != (ssize_t)size) {
    close (fd);
    return 0;
  }
  snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  memset (&disk, 0, sizeof disk);
  disk.format = &ferry_format_vmdk;
  disk.path = path;
  disk.fd = fd;
  disk.file_size = size;
  if (ferry_format_vmdk.open (&disk, &err) == 0) {
    end = disk.virtual_size < MAX_SCAN ? disk.virtual_size : MAX_SCAN;
    while (off < end && steps++ < MAX_STEPS) {
      len = end - off < sizeof buf ? end - off : sizeof buf;
      if (ferry_format_vmdk.block_status (&disk, off, len, &ext, &err) < 0)
        break;
      if (ext.offset != off || ext.length == 0 || ext.length > len ||
          ext.kind >= FERRY_EXTENT_LAST)
        __builtin_trap ();
      if (ext.kind == FERRY_EXTENT_DATA &&
          ferry_format_vmdk.pread (&disk, buf, ext.length, off, &err) < 0)
        break;
      off += ext.length;
    }
    /* an unaligned read across grains */
    if (disk.virtual_size > 4096)
      (void)ferry_format_vmdk.pread (&disk, buf, 3000, 1000, &err);
  }
  ferry_format_vmdk.close (&disk);
  free (disk.parent_hint);
  close (fd);
  return 0;
}
