/* The port module's address helpers (modules/openstack.h): the same
 * address in any spelling, and CIDR membership for IPv4 and IPv6 at the
 * prefix boundaries, with Neutron's replies treated as hostile (garbage,
 * out-of-range or missing prefix lengths, mixed families). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "modules/openstack.h"

/* One address, several spellings; different addresses and families. */
static void
test_same_ip (void **state)
{
  (void) state;
  assert_true (ferry_osm_same_ip ("10.0.0.1", "10.0.0.1"));
  assert_false (ferry_osm_same_ip ("10.0.0.1", "10.0.0.2"));
  assert_true (ferry_osm_same_ip ("fd00::1", "fd00:0:0:0:0:0:0:1"));
  assert_true (ferry_osm_same_ip ("FD00::A", "fd00::a"));
  assert_false (ferry_osm_same_ip ("fd00::1", "fd00::2"));
  /* an IPv4-mapped IPv6 address is another family */
  assert_false (ferry_osm_same_ip ("::ffff:10.0.0.1", "10.0.0.1"));
  assert_false (ferry_osm_same_ip ("10.0.0.01", "10.0.0.1"));
  assert_false (ferry_osm_same_ip ("", ""));
  assert_false (ferry_osm_same_ip ("x", "x"));
}

/* IPv4: inside, outside, the edges of /24, /25, /0, /32. */
static void
test_cidr_v4 (void **state)
{
  (void) state;
  assert_true (ferry_osm_cidr_contains ("127.100.0.0/24", "127.100.0.21"));
  assert_true (ferry_osm_cidr_contains ("127.100.0.0/24", "127.100.0.0"));
  assert_true (ferry_osm_cidr_contains ("127.100.0.0/24", "127.100.0.255"));
  assert_false (ferry_osm_cidr_contains ("127.100.0.0/24", "127.101.0.1"));
  assert_true (ferry_osm_cidr_contains ("10.0.0.0/25", "10.0.0.127"));
  assert_false (ferry_osm_cidr_contains ("10.0.0.0/25", "10.0.0.128"));
  assert_true (ferry_osm_cidr_contains ("10.0.0.128/25", "10.0.0.200"));
  assert_true (ferry_osm_cidr_contains ("0.0.0.0/0", "192.0.2.1"));
  assert_true (ferry_osm_cidr_contains ("192.0.2.7/32", "192.0.2.7"));
  assert_false (ferry_osm_cidr_contains ("192.0.2.7/32", "192.0.2.6"));
  assert_true (ferry_osm_cidr_contains ("10.16.0.0/12", "10.31.255.255"));
  assert_false (ferry_osm_cidr_contains ("10.16.0.0/12", "10.32.0.0"));
}

/* IPv6: /64, /127, /128 and a prefix ending inside a byte. */
static void
test_cidr_v6 (void **state)
{
  (void) state;
  assert_true (ferry_osm_cidr_contains ("fd00:1::/64", "fd00:1::5"));
  assert_true (
      ferry_osm_cidr_contains ("fd00:1::/64", "fd00:1::ffff:ffff:ffff:ffff"));
  assert_false (ferry_osm_cidr_contains ("fd00:1::/64", "fd00:1:0:1::1"));
  assert_true (ferry_osm_cidr_contains ("fd00::/127", "fd00::1"));
  assert_false (ferry_osm_cidr_contains ("fd00::/127", "fd00::2"));
  assert_true (ferry_osm_cidr_contains ("fd00::9/128", "fd00::9"));
  assert_true (ferry_osm_cidr_contains ("2001:db8::/29", "2001:dbf::1"));
  assert_false (ferry_osm_cidr_contains ("2001:db8::/29", "2001:dc0::1"));
}

/* Hostile or wrong input is never "inside". */
static void
test_cidr_bad (void **state)
{
  static const char long_base[] =
      "1111111111111111111111111111111111111111111111111111111111111111/8";

  (void) state;
  assert_false (ferry_osm_cidr_contains ("127.100.0.0/24", "fd00::1"));
  assert_false (ferry_osm_cidr_contains ("fd00::/8", "127.100.0.1"));
  assert_false (ferry_osm_cidr_contains ("127.100.0.0", "127.100.0.1"));
  assert_false (ferry_osm_cidr_contains ("127.100.0.0/", "127.100.0.1"));
  assert_false (ferry_osm_cidr_contains ("127.100.0.0/33", "127.100.0.1"));
  assert_false (ferry_osm_cidr_contains ("127.100.0.0/-1", "127.100.0.1"));
  assert_false (ferry_osm_cidr_contains ("127.100.0.0/24x", "127.100.0.1"));
  assert_false (ferry_osm_cidr_contains ("fd00::/129", "fd00::1"));
  assert_false (ferry_osm_cidr_contains ("127.100.0.0/99999999999999999999",
                                         "127.0.0.1"));
  assert_false (ferry_osm_cidr_contains (long_base, "1.1.1.1"));
  assert_false (ferry_osm_cidr_contains ("/24", "127.100.0.1"));
  assert_false (ferry_osm_cidr_contains ("", ""));
  assert_false (ferry_osm_cidr_contains ("127.100.0.0/24", "127.100.0.256"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_same_ip),
      cmocka_unit_test (test_cidr_v4),
      cmocka_unit_test (test_cidr_v6),
      cmocka_unit_test (test_cidr_bad),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
