/* libFuzzer target: the VMDK reader (descriptor text, sparse header, grain
 * directory and tables, compressed grains, footer, ESXi vmfsSparse and
 * seSparse extents).  The input is written to a memfd and opened as one
 * layer (a parent hint is not followed) whose files are confined to a
 * private directory (fuzz-confine.h): a descriptor naming host files opens
 * nothing.  An input that starts like a COWD or seSparse extent is written
 * to that directory and opened through a made-up descriptor naming it, as
 * such extents cannot be opened alone.  Block status and reads cover the
 * virtual disk, capped, and every DATA extent is read. */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fcntl.h>

#include "disk/disk.h"
#include "fuzz-confine.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_SCAN (64ull << 20) /* virtual bytes walked per input */
#define MAX_STEPS 4096         /* block_status calls per input */

/* For an ESXi delta extent in DATA, write it to DIR/FUZZ_EXTENT and a
 * descriptor naming it to a new memfd, and return that (-1: not such an
 * extent). */
static int
esx_descriptor (const uint8_t *data, size_t size, const char *dir,
                size_t *ret_len)
{
  static const uint8_t se_magic[8] = {0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0};
  char desc[256], ext[128];
  uint64_t sectors = 0;
  const char *type;
  int dfd, efd, n;

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
  snprintf (ext, sizeof ext, "%s/%s", dir, FUZZ_EXTENT);
  efd = open (ext, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (efd < 0)
    return -1;
  if (write (efd, data, size) != (ssize_t) size) {
    close (efd);
    return -1;
  }
  close (efd);
  n = snprintf (desc, sizeof desc,
                "# Disk DescriptorFile\nversion=1\nCID=12345678\n"
                "parentCID=ffffffff\ncreateType=\"esx\"\n"
                "RW %llu %s \"%s\"\n",
                (unsigned long long) sectors, type, FUZZ_EXTENT);
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
  const char *dir;
  int fd, dfd;

  fd = memfd_create ("fuzz-vmdk", MFD_CLOEXEC);
  if (fd < 0)
    return 0;
  if (size > 0 && write (fd, data, size) != (ssize_t) size) {
    close (fd);
    return 0;
  }
  memset (&disk, 0, sizeof disk);
  disk.confine = fuzz_confine (&dir);
  dfd = esx_descriptor (data, size, dir, &desc_len);
  snprintf (path, sizeof path, "%s/input.vmdk", dir);
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
  free (disk.parent_names);
  if (dfd >= 0)
    close (dfd);
  close (fd);
  return 0;
}
