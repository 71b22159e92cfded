/* VHD/VHDX shared helpers: UTF-16 decoding, GUID formatting, and the choice
 * of a parent file from locator names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk/vhd-common.h"

static void
test_utf16 (void **state)
{
  /* "aé€😀" then NUL then junk, little-endian */
  static const uint8_t le[] = {'a',  0,    0xe9, 0, 0xac, 0x20, 0x3d,
                               0xd8, 0x00, 0xde, 0, 0,    'x',  0};
  static const uint8_t be[] = {0, 'p', 0, '.', 0, 'v', 0, 'h', 0, 'd'};
  static const uint8_t lone[] = {0x00, 0xd8, 'z', 0}; /* unpaired surrogate */
  char *s;

  (void) state;
  s = ferry_vhd_utf16_to_utf8 (le, sizeof le, false);
  assert_string_equal (s, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  free (s);
  s = ferry_vhd_utf16_to_utf8 (be, sizeof be, true);
  assert_string_equal (s, "p.vhd");
  free (s);
  s = ferry_vhd_utf16_to_utf8 (lone, sizeof lone, false);
  assert_string_equal (s, "\xef\xbf\xbdz");
  free (s);
  s = ferry_vhd_utf16_to_utf8 (le, 1, false); /* odd length: nothing */
  assert_string_equal (s, "");
  free (s);
}

static void
test_guid (void **state)
{
  /* the VHDX BAT region GUID as stored on disk */
  static const uint8_t g[16] = {0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                                0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08};
  char out[37];

  (void) state;
  ferry_vhd_guid_string (g, out);
  assert_string_equal (out, "2dc27766-f623-4200-9d64-115e9bfd4a08");
  ferry_vhd_uuid_string (g, out);
  assert_string_equal (out, "6677c22d-23f6-0042-9d64-115e9bfd4a08");
}

static void
test_pick_parent (void **state)
{
  char dir[] = "/tmp/ferry-test-vhdcommon.XXXXXX", child[128], file[128];
  struct ferry_err err = {0};
  struct ferry_confine conf = {0};
  const char *c[3];
  char *r;
  FILE *f;

  (void) state;
  assert_non_null (mkdtemp (dir));
  assert_int_equal (ferry_confine_add (&conf, dir, "test", &err), 0);
  snprintf (child, sizeof child, "%s/child.avhdx", dir);
  snprintf (file, sizeof file, "%s/base.vhdx", dir);
  f = fopen (file, "w");
  assert_non_null (f);
  fclose (f);

  /* relative form that exists wins */
  c[0] = ".\\base.vhdx";
  c[1] = "C:\\VMs\\other.vhdx";
  c[2] = NULL;
  r = ferry_vhd_pick_parent (&conf, child, c, 3, &err);
  assert_string_equal (r, "base.vhdx");
  free (r);
  /* relative form missing: the absolute path's base name exists */
  c[0] = "..\\moved\\nothere.vhdx";
  c[1] = "D:\\Hyper-V\\base.vhdx";
  r = ferry_vhd_pick_parent (&conf, child, c, 3, &err);
  assert_string_equal (r, "base.vhdx");
  free (r);
  /* volume path form */
  c[0] = NULL;
  c[1] = "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\VMs\\base.vhdx";
  r = ferry_vhd_pick_parent (&conf, child, c, 3, &err);
  assert_string_equal (r, "base.vhdx");
  free (r);
  /* nothing exists: the first usable candidate, for the error message */
  c[0] = ".\\gone.vhdx";
  c[1] = "C:\\x\\gone2.vhdx";
  r = ferry_vhd_pick_parent (&conf, child, c, 3, &err);
  assert_string_equal (r, "gone.vhdx");
  free (r);
  /* an existing file outside the allowed directory is never preferred
   * (not even looked at): the confined candidate wins */
  c[0] = "/etc/passwd";
  c[1] = "C:\\x\\base.vhdx";
  r = ferry_vhd_pick_parent (&conf, child, c, 3, &err);
  assert_string_equal (r, "base.vhdx");
  free (r);
  /* with nothing allowed, the first usable name is returned (the chain
   * layer refuses it) */
  c[0] = ".\\base.vhdx";
  r = ferry_vhd_pick_parent (NULL, child, c, 3, &err);
  assert_string_equal (r, "base.vhdx");
  free (r);
  /* nothing usable: error */
  c[0] = "";
  c[1] = "C:\\";
  r = ferry_vhd_pick_parent (&conf, child, c, 3, &err);
  assert_null (r);
  assert_true (err.set);
  assert_non_null (strstr (err.msg, "no usable parent file name"));

  ferry_confine_free (&conf);
  unlink (file);
  rmdir (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_utf16),
      cmocka_unit_test (test_guid),
      cmocka_unit_test (test_pick_parent),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
