/* Typed locations: the rbd: parser (fields, escapes, errors, limits), the
 * formatter (round trips through the parser), constructors and copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/location.h"

/* Assert that NAME parses as an RBD location with these fields (NULL =
 * not set). */
static void
expect_rbd (const char *name, const char *pool, const char *image,
            const char *snap, const char *conf, const char *user)
{
  struct ferry_err err = {0};
  struct ferry_location loc;

  if (ferry_location_parse (name, &loc, &err) < 0)
    fail_msg ("'%s': %s", name, err.msg);
  assert_int_equal (loc.kind, FERRY_LOCATION_RBD);
  assert_string_equal (loc.rbd.pool, pool);
  assert_string_equal (loc.rbd.image, image);
  if (snap)
    assert_string_equal (loc.rbd.snap, snap);
  else
    assert_null (loc.rbd.snap);
  if (conf)
    assert_string_equal (loc.rbd.conf, conf);
  else
    assert_null (loc.rbd.conf);
  if (user)
    assert_string_equal (loc.rbd.user, user);
  else
    assert_null (loc.rbd.user);
  ferry_location_clear (&loc);
}

/* Assert that NAME is refused with exactly MSG, and *RET is untouched. */
static void
expect_error (const char *name, const char *msg)
{
  struct ferry_err err = {0};
  struct ferry_location loc;

  memset (&loc, 0x5a, sizeof loc);
  assert_int_equal (ferry_location_parse (name, &loc, &err), -1);
  assert_true (err.set);
  assert_string_equal (err.msg, msg);
  assert_int_equal (loc.kind, 0x5a5a5a5a);
}

static void
test_parse_fields (void **state)
{
  (void) state;
  expect_rbd ("rbd:p/i", "p", "i", NULL, NULL, NULL);
  expect_rbd ("rbd:volumes/web01@snap1", "volumes", "web01", "snap1", NULL,
              NULL);
  expect_rbd ("rbd:volumes/web01:conf=/etc/ceph/ceph.conf", "volumes", "web01",
              NULL, "/etc/ceph/ceph.conf", NULL);
  expect_rbd ("rbd:volumes/web01@s:conf=/c.conf:id=cinder", "volumes", "web01",
              "s", "/c.conf", "cinder");
  /* options in either order */
  expect_rbd ("rbd:volumes/web01:id=cinder:conf=/c.conf", "volumes", "web01",
              NULL, "/c.conf", "cinder");
  /* '=' and '@' are plain inside an option value after the first '=' */
  expect_rbd ("rbd:p/i:conf=/a=b.conf", "p", "i", NULL, "/a=b.conf", NULL);
}

static void
test_parse_escapes (void **state)
{
  (void) state;
  expect_rbd ("rbd:p/a\\:b", "p", "a:b", NULL, NULL, NULL);
  expect_rbd ("rbd:p/a\\@b@s\\:1", "p", "a@b", "s:1", NULL, NULL);
  expect_rbd ("rbd:p/a\\\\b", "p", "a\\b", NULL, NULL, NULL);
  expect_rbd ("rbd:p\\/q/a\\/b", "p/q", "a/b", NULL, NULL, NULL);
  expect_rbd ("rbd:p/i:conf=/etc/ce\\:ph/x\\@y.conf:id=a\\:b", "p", "i", NULL,
              "/etc/ce:ph/x@y.conf", "a:b");
  /* any escaped character is itself, as in qemu */
  expect_rbd ("rbd:p/\\i", "p", "i", NULL, NULL, NULL);
}

static void
test_parse_file (void **state)
{
  struct ferry_err err = {0};
  struct ferry_location loc;

  (void) state;
  assert_int_equal (ferry_location_parse ("/srv/a:b@c.vmdk", &loc, &err), 0);
  assert_int_equal (loc.kind, FERRY_LOCATION_FILE);
  assert_string_equal (loc.file.path, "/srv/a:b@c.vmdk");
  ferry_location_clear (&loc);
  /* "rbd" without the colon is a file name */
  assert_int_equal (ferry_location_parse ("rbd/x", &loc, &err), 0);
  assert_int_equal (loc.kind, FERRY_LOCATION_FILE);
  ferry_location_clear (&loc);
  expect_error ("", "the file name is empty");
}

static void
test_parse_errors (void **state)
{
  (void) state;
  expect_error ("rbd:", "'rbd:': expected rbd:POOL/IMAGE[@SNAP][:conf=PATH]"
                        "[:id=USER]");
  expect_error ("rbd:pool", "'rbd:pool': expected rbd:POOL/IMAGE[@SNAP]"
                            "[:conf=PATH][:id=USER]");
  expect_error ("rbd:/img", "'rbd:/img': expected rbd:POOL/IMAGE[@SNAP]"
                            "[:conf=PATH][:id=USER]");
  expect_error ("rbd:pool:conf=/x/img",
                "'rbd:pool:conf=/x/img': expected rbd:POOL/IMAGE[@SNAP]"
                "[:conf=PATH][:id=USER]");
  expect_error ("rbd:p/", "'rbd:p/': empty image name");
  expect_error ("rbd:p/@s", "'rbd:p/@s': empty image name");
  expect_error ("rbd:p/i@", "'rbd:p/i@': empty snapshot name");
  expect_error ("rbd:p/i@:id=a", "'rbd:p/i@:id=a': empty snapshot name");
  expect_error ("rbd:p/ns/i", "'rbd:p/ns/i': rbd namespaces "
                              "(POOL/NAMESPACE/IMAGE) are not supported");
  expect_error ("rbd:p/i:conf=", "'rbd:p/i:conf=': option 'conf=' has an "
                                 "empty value");
  expect_error ("rbd:p/i:id", "'rbd:p/i:id': option 'id' needs a value "
                              "('id=')");
  expect_error ("rbd:p/i:", "'rbd:p/i:': unknown option '' (known: conf=, "
                            "id=)");
  expect_error ("rbd:p/i:id=a:id=b", "'rbd:p/i:id=a:id=b': option 'id=' is "
                                     "given twice");
  expect_error ("rbd:p/i\\", "'rbd:p/i\\': a backslash ends the name "
                             "(escape it as '\\\\')");
}

static void
test_unknown_option (void **state)
{
  (void) state;
  /* qemu passes other keys to librados; ferry refuses them */
  expect_error ("rbd:p/i:mon_host=10.0.0.1",
                "'rbd:p/i:mon_host=10.0.0.1': unknown option 'mon_host' "
                "(known: conf=, id=)");
  expect_error ("rbd:p/i:keyring=/tmp/k:id=a",
                "'rbd:p/i:keyring=/tmp/k:id=a': unknown option 'keyring' "
                "(known: conf=, id=)");
  expect_error ("rbd:p/i:user=a",
                "'rbd:p/i:user=a': unknown option 'user' (known: conf=, id=)");
}

/* A name of N copies of C, NUL-terminated (caller frees). */
static char *
repeat (char c, size_t n)
{
  char *s = malloc (n + 1);

  assert_non_null (s);
  memset (s, c, n);
  s[n] = '\0';
  return s;
}

static void
test_over_long (void **state)
{
  struct ferry_err err = {0};
  struct ferry_location loc;
  char *img, *name, *conf;

  (void) state;
  /* the longest image name is fine, one byte more is refused */
  img = repeat ('i', FERRY_LOCATION_NAME_MAX);
  assert_true (asprintf (&name, "rbd:p/%s", img) > 0);
  assert_int_equal (ferry_location_parse (name, &loc, &err), 0);
  assert_int_equal (strlen (loc.rbd.image), FERRY_LOCATION_NAME_MAX);
  ferry_location_clear (&loc);
  free (name);
  free (img);

  img = repeat ('i', FERRY_LOCATION_NAME_MAX + 1);
  assert_true (asprintf (&name, "rbd:p/%s@s", img) > 0);
  assert_int_equal (ferry_location_parse (name, &loc, &err), -1);
  /* the message quotes a prefix of the name and still says why */
  assert_non_null (strstr (err.msg, "': the image name is longer than 1024 "
                                    "bytes"));
  assert_non_null (strstr (err.msg, "..."));
  assert_true (strlen (err.msg) < 200);
  free (name);
  free (img);

  /* escapes count once: 1024 escaped ':' are 1024 bytes */
  ferry_err_clear (&err);
  img = repeat (':', FERRY_LOCATION_NAME_MAX);
  name = malloc (2 * FERRY_LOCATION_NAME_MAX + 16);
  assert_non_null (name);
  strcpy (name, "rbd:p/");
  for (size_t i = 0; i < FERRY_LOCATION_NAME_MAX; i++)
    strcat (name, "\\:");
  assert_int_equal (ferry_location_parse (name, &loc, &err), 0);
  assert_string_equal (loc.rbd.image, img);
  ferry_location_clear (&loc);
  free (name);
  free (img);

  /* conf paths may be longer than names, up to FERRY_LOCATION_PATH_MAX */
  ferry_err_clear (&err);
  conf = repeat ('c', FERRY_LOCATION_PATH_MAX + 1);
  assert_true (asprintf (&name, "rbd:p/i:conf=%s", conf) > 0);
  assert_int_equal (ferry_location_parse (name, &loc, &err), -1);
  assert_non_null (strstr (err.msg, "conf is longer than 4095 bytes"));
  free (name);
  ferry_err_clear (&err);
  assert_int_equal (ferry_location_parse (conf, &loc, &err), -1);
  assert_non_null (strstr (err.msg, "is longer than 4095 bytes"));
  conf[FERRY_LOCATION_PATH_MAX] = '\0';
  assert_int_equal (ferry_location_parse (conf, &loc, &err), 0);
  ferry_location_clear (&loc);
  free (conf);
}

/* Format LOC, parse it back, and demand the same location. */
static void
round_trip (const struct ferry_location *loc, const char *want)
{
  struct ferry_err err = {0};
  struct ferry_location back;
  char *s = ferry_location_format (loc);

  assert_non_null (s);
  if (want)
    assert_string_equal (s, want);
  if (ferry_location_parse (s, &back, &err) < 0)
    fail_msg ("'%s': %s", s, err.msg);
  if (loc->kind == FERRY_LOCATION_FILE && want && strncmp (want, "./", 2) == 0)
    assert_string_equal (back.file.path, want);
  else
    assert_true (ferry_location_equal (loc, &back));
  ferry_location_clear (&back);
  free (s);
}

static void
test_format_round_trip (void **state)
{
  struct ferry_err err = {0};
  struct ferry_location loc;
  static const char *const names[] = {
      "rbd:p/i",
      "rbd:volumes/volume-1@snap-2:conf=/etc/ceph/ceph.conf:id=cinder",
      "rbd:p\\:o\\@o\\/l\\\\/i\\:m\\@g\\/e\\\\@s\\:n\\@a\\/p\\\\"
      ":conf=/a\\:b\\@c/d=e\\\\:id=u\\:s\\@e\\\\r",
  };
  size_t i;

  (void) state;
  /* canonical names format back to themselves */
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    assert_int_equal (ferry_location_parse (names[i], &loc, &err), 0);
    round_trip (&loc, names[i]);
    ferry_location_clear (&loc);
  }
  /* built from fields with every special character */
  assert_int_equal (ferry_location_set_rbd (&loc,
                                            &(struct ferry_rbd_location){
                                                .pool = "a:b/c",
                                                .image = "x@y\\z",
                                                .snap = "s/1:2@3",
                                                .conf = "/etc/ceph:1/c@d.conf",
                                                .user = "u:v",
                                            },
                                            false, &err),
                    0);
  round_trip (&loc, "rbd:a\\:b\\/c/x\\@y\\\\z@s\\/1\\:2\\@3"
                    ":conf=/etc/ceph\\:1/c\\@d.conf:id=u\\:v");
  ferry_location_clear (&loc);
  /* files: as they are, and "./" before one that looks like rbd: */
  assert_int_equal (ferry_location_set_file (&loc, "/srv/x:y@z", &err), 0);
  round_trip (&loc, "/srv/x:y@z");
  ferry_location_clear (&loc);
  assert_int_equal (ferry_location_set_file (&loc, "rbd:p/i", &err), 0);
  round_trip (&loc, "./rbd:p/i");
  ferry_location_clear (&loc);
}

static void
test_set_rbd (void **state)
{
  struct ferry_err err = {0};
  struct ferry_location loc, copy;
  char *big;

  (void) state;
  /* "" means not set for the optional fields */
  assert_int_equal (
      ferry_location_set_rbd (
          &loc,
          &(struct ferry_rbd_location){
              .pool = "p", .image = "i", .snap = "", .conf = NULL, .user = ""},
          false, &err),
      0);
  assert_null (loc.rbd.snap);
  assert_null (loc.rbd.user);
  assert_int_equal (ferry_location_copy (&copy, &loc, &err), 0);
  assert_true (ferry_location_equal (&loc, &copy));
  assert_ptr_not_equal (copy.rbd.pool, loc.rbd.pool);
  ferry_location_clear (&copy);
  ferry_location_clear (&loc);
  /* a pool alone (RADOS objects) only when asked for */
  assert_int_equal (
      ferry_location_set_rbd (
          &loc, &(struct ferry_rbd_location){.pool = "state"}, true, &err),
      0);
  assert_null (loc.rbd.image);
  ferry_location_clear (&loc);
  assert_int_equal (
      ferry_location_set_rbd (
          &loc, &(struct ferry_rbd_location){.pool = "state"}, false, &err),
      -1);
  assert_string_equal (err.msg, "the rbd image name is empty");
  ferry_err_clear (&err);
  assert_int_equal (ferry_location_set_rbd (
                        &loc,
                        &(struct ferry_rbd_location){.pool = "", .image = "i"},
                        false, &err),
                    -1);
  assert_string_equal (err.msg, "the rbd pool name is empty");
  ferry_err_clear (&err);
  big = repeat ('u', FERRY_LOCATION_NAME_MAX + 1);
  assert_int_equal (
      ferry_location_set_rbd (
          &loc,
          &(struct ferry_rbd_location){.pool = "p", .image = "i", .user = big},
          false, &err),
      -1);
  assert_non_null (strstr (err.msg, "the ceph user name 'uuu"));
  assert_non_null (strstr (err.msg, "...' is longer than 1024 bytes"));
  free (big);
}

static void
test_kind_names (void **state)
{
  (void) state;
  assert_string_equal (ferry_location_kind_name (FERRY_LOCATION_FILE), "file");
  assert_string_equal (ferry_location_kind_name (FERRY_LOCATION_RBD), "rbd");
  assert_null (ferry_location_kind_name (FERRY_LOCATION_LAST));
  assert_true (ferry_location_is_rbd_name ("rbd:x"));
  assert_false (ferry_location_is_rbd_name ("rbd"));
  assert_false (ferry_location_is_rbd_name ("./rbd:x"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_parse_fields),
      cmocka_unit_test (test_parse_escapes),
      cmocka_unit_test (test_parse_file),
      cmocka_unit_test (test_parse_errors),
      cmocka_unit_test (test_unknown_option),
      cmocka_unit_test (test_over_long),
      cmocka_unit_test (test_format_round_trip),
      cmocka_unit_test (test_set_rbd),
      cmocka_unit_test (test_kind_names),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
