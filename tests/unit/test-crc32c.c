/* CRC32C: known check values, and piecewise == whole at every alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "disk/crc32c.h"

static void
test_check_values (void **state)
{
  uint8_t zeros[32] = {0}, ones[32];

  (void) state;
  memset (ones, 0xff, sizeof ones);
  assert_int_equal (ferry_crc32c (0, "123456789", 9), 0xe3069283);
  assert_int_equal (ferry_crc32c (0, "", 0), 0);
  /* RFC 3720 B.4 test vectors */
  assert_int_equal (ferry_crc32c (0, zeros, 32), 0x8a9136aa);
  assert_int_equal (ferry_crc32c (0, ones, 32), 0x62a8ab43);
}

static void
test_pieces (void **state)
{
  uint8_t buf[1000];
  uint32_t whole, c;
  size_t i, cut;

  (void) state;
  for (i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t) (i * 7 + 3);
  whole = ferry_crc32c (0, buf, sizeof buf);
  for (cut = 0; cut <= 17; cut++) {
    c = ferry_crc32c (0, buf, cut);
    c = ferry_crc32c (c, buf + cut, sizeof buf - cut);
    assert_int_equal (c, whole);
  }
  /* unaligned start */
  for (i = 1; i < 8; i++)
    assert_int_equal (
        ferry_crc32c (ferry_crc32c (0, buf, i), buf + i, sizeof buf - i),
        whole);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_check_values),
      cmocka_unit_test (test_pieces),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
