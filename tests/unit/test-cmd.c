/* Unit tests: the command table (sorted, unique, run present, options
 * well-formed), lookup, and the size/count option parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/cmd.h"

/* The table as built passes its own check, and every row is complete. */
static void
test_table_is_sound (void **state)
{
  struct ferry_err err = {0};
  size_t i;

  (void) state;
  assert_int_equal (ferry_commands_check (&err), 0);
  assert_false (err.set);
  assert_true (ferry_n_commands >= 10);
  for (i = 0; i < ferry_n_commands; i++) {
    assert_non_null (ferry_commands[i]->run);
    assert_non_null (ferry_commands[i]->summary);
    assert_non_null (ferry_commands[i]->usage);
    if (i > 0)
      assert_true (
          strcmp (ferry_commands[i - 1]->name, ferry_commands[i]->name) < 0);
  }
}

/* Every command is found by its name; unknown names and prefixes are not. */
static void
test_find (void **state)
{
  size_t i;

  (void) state;
  for (i = 0; i < ferry_n_commands; i++)
    assert_ptr_equal (ferry_command_find (ferry_commands[i]->name),
                      ferry_commands[i]);
  assert_ptr_equal (ferry_command_find ("apply"), &ferry_cmd_apply);
  assert_null (ferry_command_find ("appl"));
  assert_null (ferry_command_find ("zzz"));
  assert_null (ferry_command_find (""));
}

/* Sizes: suffixes are powers of 1024; junk is refused. */
static void
test_parse_size (void **state)
{
  uint64_t v = 0;

  (void) state;
  assert_int_equal (ferry_parse_size ("4096", &v), 0);
  assert_int_equal (v, 4096);
  assert_int_equal (ferry_parse_size ("1M", &v), 0);
  assert_int_equal (v, 1048576);
  assert_int_equal (ferry_parse_size ("2GiB", &v), 0);
  assert_int_equal (v, 2ULL << 30);
  assert_int_equal (ferry_parse_size ("1T", &v), 0);
  assert_int_equal (v, 1ULL << 40);
  assert_int_equal (ferry_parse_size ("", &v), -1);
  assert_int_equal (ferry_parse_size ("1X", &v), -1);
  assert_int_equal (ferry_parse_size ("M", &v), -1);
  /* a sign would wrap through strtoull; so would a huge multiple */
  assert_int_equal (ferry_parse_size ("-1", &v), -1);
  assert_int_equal (ferry_parse_size ("+1", &v), -1);
  assert_int_equal (ferry_parse_size (" 1", &v), -1);
  assert_int_equal (ferry_parse_size ("16777216T", &v), -1);
  assert_int_equal (ferry_parse_size ("16777215T", &v), 0);
  assert_true (v == 16777215ULL << 40);
  assert_int_equal (ferry_parse_size ("10KBB", &v), -1);
  assert_int_equal (ferry_parse_size ("10B", &v), -1);
}

/* Counts: 1..MAX only. */
static void
test_opt_count (void **state)
{
  unsigned v = 0;

  (void) state;
  assert_int_equal (ferry_opt_count ("n", "3", 8, &v), 0);
  assert_int_equal (v, 3);
  assert_int_equal (ferry_opt_count ("n", "0", 8, &v), -1);
  assert_int_equal (ferry_opt_count ("n", "9", 8, &v), -1);
  assert_int_equal (ferry_opt_count ("n", "2x", 8, &v), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_table_is_sound),
      cmocka_unit_test (test_find),
      cmocka_unit_test (test_parse_size),
      cmocka_unit_test (test_opt_count),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
