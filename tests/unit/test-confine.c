/* Unit tests for src/disk/confine.c: the containment rule (a proper path
 * prefix, symlinks resolved), protocol names, file types, and the error
 * naming the image, the field and the name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk/confine.h"

static char root[] = "/tmp/ferry-test-confine.XXXXXX";

/* ROOT/NAME as a new string. */
static char *
at (const char *name)
{
  char *p;

  assert_true (asprintf (&p, "%s/%s", root, name) > 0);
  return p;
}

static void
touch (const char *name)
{
  char *p = at (name);
  FILE *f = fopen (p, "w");

  assert_non_null (f);
  fputs ("x", f);
  fclose (f);
  free (p);
}

static int
setup (void **state)
{
  char *p;

  (void) state;
  if (mkdtemp (root) == NULL)
    return -1;
  p = at ("src");
  mkdir (p, 0755);
  free (p);
  p = at ("src2");
  mkdir (p, 0755);
  free (p);
  touch ("src/a");
  touch ("src2/b");
  p = at ("src/out");
  if (symlink ("../src2/b", p) < 0)
    return -1;
  free (p);
  p = at ("src/in");
  if (symlink ("a", p) < 0)
    return -1;
  free (p);
  p = at ("src/fifo");
  if (mkfifo (p, 0600) < 0)
    return -1;
  free (p);
  return 0;
}

static int
teardown (void **state)
{
  char *cmd;

  (void) state;
  if (asprintf (&cmd, "rm -rf '%s'", root) > 0) {
    if (system (cmd) != 0)
      fprintf (stderr, "cannot remove %s\n", root);
    free (cmd);
  }
  return 0;
}

static void
test_protocol (void **state)
{
  (void) state;
  assert_true (ferry_confine_is_protocol ("rbd:pool/img:conf=/x"));
  assert_true (ferry_confine_is_protocol ("json:{}"));
  assert_true (ferry_confine_is_protocol ("nbd+unix:x"));
  assert_false (ferry_confine_is_protocol ("./a:b"));
  assert_false (ferry_confine_is_protocol ("dir/a:b"));
  assert_false (ferry_confine_is_protocol ("/abs:x"));
  assert_false (ferry_confine_is_protocol ("plain.vmdk"));
}

static void
test_open (void **state)
{
  struct ferry_confine c = {0};
  struct ferry_err err = {0};
  char *src = at ("src"), *image = at ("src/img"), *path = NULL;
  char *sibling = at ("src2/b");
  int fd;

  (void) state;
  assert_int_equal (ferry_confine_add (&c, src, "test", &err), 0);
  /* inside, directly and through a symlink that stays inside */
  assert_int_equal (
      ferry_confine_open (&c, image, "f", "a", 0, &path, &fd, &err), 0);
  close (fd);
  free (path);
  assert_true (ferry_confine_allows (&c, image, "in"));
  /* src2 starts like src but is not inside it */
  assert_false (ferry_confine_allows (&c, image, sibling));
  assert_int_equal (ferry_confine_open (&c, image, "backing file", sibling, 0,
                                        NULL, &fd, &err),
                    -1);
  assert_non_null (strstr (err.msg, "backing file names '"));
  assert_non_null (strstr (err.msg, "outside the source directory"));
  ferry_err_clear (&err);
  /* a symlink leading out, ../, a FIFO (refused before opening), a
   * directory, a protocol name, a missing file */
  assert_false (ferry_confine_allows (&c, image, "out"));
  assert_false (ferry_confine_allows (&c, image, "../src2/b"));
  assert_int_equal (
      ferry_confine_open (&c, image, "f", "fifo", 0, NULL, &fd, &err), -1);
  assert_non_null (strstr (err.msg, "which is a FIFO"));
  ferry_err_clear (&err);
  assert_false (ferry_confine_allows (&c, image, "."));
  assert_false (ferry_confine_allows (&c, image, "rbd:p/i:conf=/etc/x"));
  assert_int_equal (
      ferry_confine_open (&c, image, "f", "gone", 0, NULL, &fd, &err), -1);
  assert_non_null (strstr (err.msg, "cannot open f 'gone'"));
  ferry_err_clear (&err);
  /* a name escaping while missing is still "outside", not "missing" */
  assert_int_equal (
      ferry_confine_open (&c, image, "f", "/nonexistent/x", 0, NULL, &fd, &err),
      -1);
  assert_non_null (strstr (err.msg, "outside the source directory"));
  ferry_err_clear (&err);
  /* control bytes of a hostile name are shown escaped */
  assert_int_equal (
      ferry_confine_open (&c, image, "f", "/x\033[2J", 0, NULL, &fd, &err), -1);
  assert_non_null (strstr (err.msg, "'/x\\x1b[2J'"));
  ferry_err_clear (&err);
  /* nothing allowed at all */
  assert_false (ferry_confine_allows (NULL, image, "a"));
  ferry_confine_free (&c);
  free (src);
  free (image);
  free (sibling);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_protocol),
      cmocka_unit_test (test_open),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
