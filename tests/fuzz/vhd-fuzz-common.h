/* Shared body of fuzz-vhd.c and fuzz-vhdx.c: open the input (in a memfd)
 * with one reader directly (no format detection, no parent opened), walk
 * block_status over the virtual disk and read the DATA extents, with the
 * work capped so that a huge claimed size does not stall the fuzzer.  The
 * parent locators are looked up only in a private empty directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk/disk.h"
#include "fuzz-confine.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_reader (const struct ferry_disk_format *fmt, const uint8_t *data,
             size_t size)
{
  static uint8_t buf[1 << 20];
  struct ferry_disk d = {0};
  struct ferry_err err = {0};
  struct ferry_extent ext;
  uint64_t off = 0, len;
  unsigned calls = 0;
  const char *dir;
  int fd;

  fd = memfd_create ("fuzz-vhd", MFD_CLOEXEC);
  if (fd < 0)
    return;
  if (size > 0 && write (fd, data, size) != (ssize_t) size) {
    close (fd);
    return;
  }
  d.format = fmt;
  d.fd = fd;
  d.file_size = size;
  d.confine = fuzz_confine (&dir);
  if (asprintf (&d.path, "%s/input", dir) < 0)
    d.path = NULL;
  if (d.path != NULL && fmt->open (&d, &err) == 0) {
    while (off < d.virtual_size && calls++ < 2048) {
      len = d.virtual_size - off < (64u << 20) ? d.virtual_size - off
                                               : (64u << 20);
      if (fmt->block_status (&d, off, len, &ext, &err) < 0)
        break;
      if (ext.offset != off || ext.length == 0 || ext.length > len ||
          ext.kind >= FERRY_EXTENT_LAST)
        __builtin_trap ();
      if (ext.kind == FERRY_EXTENT_DATA &&
          fmt->pread (&d, buf,
                      ext.length < sizeof buf ? ext.length : sizeof buf, off,
                      &err) < 0)
        break;
      off += ext.length;
    }
  }
  fmt->close (&d);
  free (d.path);
  free (d.parent_hint);
  free (d.parent_names);
  close (fd);
}
