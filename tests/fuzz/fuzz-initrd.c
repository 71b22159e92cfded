/* Fuzz the initramfs lister (modules/guest-linux-initrd.c): the input is
 * an initramfs file as a guest's /boot may hold it (hostile: the guest is
 * not trusted), listed through the same path inject uses. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "modules/guest-linux-util.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[] = "/tmp/ferry-fuzz-initrd.XXXXXX";
  struct ferry_err err = {0};
  char **names = NULL;
  int fd = mkstemp (path);

  if (fd < 0)
    return 0;
  if (write (fd, data, size) != (ssize_t) size) {
    close (fd);
    unlink (path);
    return 0;
  }
  close (fd);
  if (ferry_lx_initrd_list (path, &names, &err) == 0)
    ferry_lx_strv_free (names);
  unlink (path);
  return 0;
}
