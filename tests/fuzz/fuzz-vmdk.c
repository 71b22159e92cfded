/* libFuzzer target: the VMDK reader (descriptor text, sparse header, grain
 * directory and tables, compressed grains, footer, ESXi vmfsSparse and
 * seSparse extents).  The input is written to a memfd and opened through
 * /proc/self/fd as one layer (a parent hint is not followed); an input
 * that starts like a COWD or seSparse extent is opened through a made-up
 * descriptor naming it, as such extents cannot be opened alone.  Block
 * status and reads cover the virtual disk, capped, and every DATA extent
 * is read. */
#include <endian.h>
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

/* For an ESXi delta extent in DATA, write a descriptor naming /proc/self/fd/FD
 * to a new memfd and return it (-1: not such an extent). */
static int
esx_descriptor (const uint8_t *data, size_t size, int fd, size_t *ret_len)
{
  static const uint8_t se_magic[8] = {0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0};
  char desc[256];
  uint64_t sectors = 0;
  const char *type;
  int dfd, n;

  if (size >= 16 && memcmp (data, "COWD", 4) == 0) {
    type = "VMFSSPARSE";
    memcpy (&sectors, data + 12, 4);
  } else if (size >= 24 && memcmp (data, se_magic, 8) == 0) {
    type = "SESPARSE";
    memcpy (&sectors, data + 16, 8);
  } else
    return -1;
  sectors = le64toh (sectors);
  if (sectors == 0 || sectors > (1ull << 41))
    sectors = 1;
  n = snprintf (desc, sizeof desc,
                "# Disk DescriptorFile\nversion=1\nCID=12345678\n"
                "parentCID=ffffffff\ncreateType=\"esx\"\n"
                "RW %llu %s \"/proc/self/fd/%d\"\n",
                (unsigned long long) sectors, type, fd);
  dfd = memfd_create ("fuzz-vmdk-desc", MFD_CLOEXEC);
  if (dfd < 0)
    return -1;
  if (write (dfd, desc, (size_t) n) != n) {
    close (dfd);
    return -1;
  }
  *ret_len = (size_t) n;
  return dfd;
}

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
  size_t desc_len = 0;
  int fd, dfd;

  fd = memfd_create ("fuzz-vmdk", MFD_CLOEXEC);
  if (fd < 0)
    return 0;
  if (size > 0 && write (fd, data, size) != (ssize_t) size) {
    close (fd);
    return 0;
  }
  dfd = esx_descriptor (data, size, fd, &desc_len);
  snprintf (path, sizeof path, "/proc/self/fd/%d", dfd >= 0 ? dfd : fd);
  memset (&disk, 0, sizeof disk);
  disk.format = &ferry_format_vmdk;
  disk.path = path;
  disk.fd = dfd >= 0 ? dfd : fd;
  disk.file_size = dfd >= 0 ? desc_len : size;
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
      (void) ferry_format_vmdk.pread (&disk, buf, 3000, 1000, &err);
  }
  ferry_format_vmdk.close (&disk);
  free (disk.parent_hint);
  if (dfd >= 0)
    close (dfd);
  close (fd);
  return 0;
}
