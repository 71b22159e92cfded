/* The Windows guest operations' pure parts (modules/guest-windows.h): the
 * virtio-win release directory chosen for each Windows version, variant
 * and build (the table of docs/guest-windows.md), and the UTF-16LE
 * encoding of registry strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modules/guest-windows.h"

/* The directories for MAJOR.MINOR VARIANT BUILD, joined with ",". */
static const char *
dirs (int major, int minor, const char *variant, unsigned build)
{
  static char buf[64];
  struct ferry_guest_info info = {0};
  const char *const *d;
  size_t i;

  info.major = major;
  info.minor = minor;
  info.variant = (char *) variant;
  info.build = build;
  d = ferry_win_release_dirs (&info);
  if (d == NULL)
    return "(none)";
  buf[0] = 0;
  for (i = 0; d[i]; i++) {
    if (i)
      strcat (buf, ",");
    strcat (buf, d[i]);
  }
  return buf;
}

/* Every release of the table, at the build-number edges. */
static void
test_release_dirs (void **state)
{
  (void) state;
  assert_string_equal (dirs (6, 0, "Server", 6002), "2k8");
  assert_string_equal (dirs (6, 0, "Client", 6002), "vista");
  assert_string_equal (dirs (6, 1, "Server", 7601), "2k8r2");
  assert_string_equal (dirs (6, 1, "Client", 7601), "w7");
  assert_string_equal (dirs (6, 2, "Server", 9200), "2k12");
  assert_string_equal (dirs (6, 2, "Client", 9200), "w8");
  assert_string_equal (dirs (6, 3, "Server", 9600), "2k12r2");
  assert_string_equal (dirs (6, 3, "Client", 9600), "w8.1");
  assert_string_equal (dirs (10, 0, "Server", 14393), "2k16");
  assert_string_equal (dirs (10, 0, "Server", 17762), "2k16");
  assert_string_equal (dirs (10, 0, "Server", 17763), "2k19");
  assert_string_equal (dirs (10, 0, "Server", 20348), "2k22");
  assert_string_equal (dirs (10, 0, "Server", 26100), "2k25,2k22");
  assert_string_equal (dirs (10, 0, "Client", 19045), "w10");
  assert_string_equal (dirs (10, 0, "Client", 22000), "w11,w10");
  /* no variant: treated as a client */
  assert_string_equal (dirs (10, 0, NULL, 19045), "w10");
  assert_string_equal (dirs (5, 2, "Server", 3790), "(none)");
  assert_string_equal (dirs (11, 0, "Client", 1), "(none)");
}

/* ASCII, 2- and 3-byte UTF-8, a surrogate pair, a stray byte. */
static void
test_utf16le (void **state)
{
  size_t len;
  char *w;

  (void) state;
  w = ferry_utf16le ("Ab", &len);
  assert_int_equal (len, 6);
  assert_memory_equal (w, "A\0b\0\0\0", 6);
  free (w);
  w = ferry_utf16le ("\xc3\xa9\xe2\x82\xac", &len); /* é € */
  assert_int_equal (len, 6);
  assert_memory_equal (w, "\xe9\x00\xac\x20\0\0", 6);
  free (w);
  w = ferry_utf16le ("\xf0\x9f\x98\x80", &len); /* U+1F600 */
  assert_int_equal (len, 6);
  assert_memory_equal (w, "\x3d\xd8\x00\xde\0\0", 6);
  free (w);
  w = ferry_utf16le ("\x80x", &len);
  assert_int_equal (len, 6);
  assert_memory_equal (w,
                       "\xfd\xff"
                       "x\0\0\0",
                       6);
  free (w);
  w = ferry_utf16le ("", &len);
  assert_int_equal (len, 2);
  free (w);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_release_dirs),
      cmocka_unit_test (test_utf16le),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
