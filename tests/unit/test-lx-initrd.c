/* The initramfs reader of the Linux guest operations
 * (modules/guest-linux-initrd.c): names from an uncompressed early archive
 * followed by a compressed one (gzip, xz, zstd, lz4, bzip2), zero padding
 * between them, and clear errors for truncated, garbage or empty input.
 * Archives are made by the host's cpio and compressors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modules/guest-linux-util.h"

static char dir[] = "/tmp/ferry-test-initrd.XXXXXX";

static int
sh (const char *fmt, const char *arg)
{
  char cmd[2048];

  snprintf (cmd, sizeof cmd, fmt, dir, arg);
  return system (cmd);
}

static bool
has (char **v, const char *name)
{
  size_t i;

  for (i = 0; v && v[i]; i++)
    if (strcmp (v[i], name) == 0)
      return true;
  return false;
}

static int
setup (void **state)
{
  (void) state;
  if (mkdtemp (dir) == NULL)
    return -1;
  return sh ("cd %s && mkdir -p early/kernel/x86/microcode main/lib/modules/V"
             " && echo u > early/kernel/x86/microcode/GenuineIntel.bin"
             " && echo m > main/lib/modules/V/virtio_blk.ko.zst"
             " && (cd early && find . | cpio --quiet -o -H newc) > early.cpio"
             " && (cd main && find . | cpio --quiet -o -H newc) > main.cpio"
             " && head -c 1000 /dev/zero > zeros%s",
             "");
}

static int
teardown (void **state)
{
  (void) state;
  return sh ("rm -rf %s%s", "");
}

static void
test_formats (void **state)
{
  static const char *const comp[] = {"gzip -c", "xz -c",    "zstd -qc",
                                     "lz4 -lc", "bzip2 -c", "cat"};
  size_t i;

  (void) state;
  for (i = 0; i < sizeof comp / sizeof comp[0]; i++) {
    char path[256], **names = NULL;
    struct ferry_err err = {0};
    assert_int_equal (
        sh ("cd %s && { cat early.cpio zeros; %s main.cpio; } > initrd",
            comp[i]),
        0);
    snprintf (path, sizeof path, "%s/initrd", dir);
    assert_int_equal (ferry_lx_initrd_list (path, &names, &err), 0);
    assert_true (has (names, "kernel/x86/microcode/GenuineIntel.bin"));
    assert_true (has (names, "lib/modules/V/virtio_blk.ko.zst"));
    ferry_lx_strv_free (names);
  }
}

static void
test_bad (void **state)
{
  static const char *const bad[] = {
      "head -c 300 main.cpio",                          /* truncated */
      "cat early.cpio; echo garbage-garbage",           /* unknown part */
      "cat early.cpio; head -c 40 main.cpio | gzip -c", /* truncated inside */
  };
  size_t i;

  (void) state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char path[256], **names = NULL;
    struct ferry_err err = {0};
    assert_int_equal (sh ("cd %s && { %s; } > bad", bad[i]), 0);
    snprintf (path, sizeof path, "%s/bad", dir);
    assert_int_equal (ferry_lx_initrd_list (path, &names, &err), -1);
    assert_true (err.set);
    assert_non_null (strstr (err.msg, "initramfs"));
    assert_null (names);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_formats),
      cmocka_unit_test (test_bad),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
