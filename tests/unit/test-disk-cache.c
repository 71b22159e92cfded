/* The plan's cache of opened source disks (src/plan/disks.c): validate,
 * check and apply share one handle per disk, and a handle whose file
 * changed since it was opened is never handed out as the file now. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk/disk.h"
#include "disk/identity.h"
#include "plan/plan.h"

static char dir[64];
static char plan_file[200], disk_file[200];

/* Write N bytes of BYTE to PATH (replacing it in place, same inode). */
static void
fill (const char *path, int byte, size_t n)
{
  FILE *f = fopen (path, "r+");
  char *buf = malloc (n);

  if (f == NULL)
    f = fopen (path, "w");
  assert_non_null (f);
  assert_non_null (buf);
  memset (buf, byte, n);
  assert_int_equal (fwrite (buf, 1, n, f), n);
  assert_int_equal (fclose (f), 0);
  free (buf);
}

static int
setup (void **state)
{
  FILE *f;

  (void) state;
  snprintf (dir, sizeof dir, "/tmp/ferry-test-disk-cache.XXXXXX");
  assert_non_null (mkdtemp (dir));
  snprintf (plan_file, sizeof plan_file, "%s/src", dir);
  assert_int_equal (mkdir (plan_file, 0755), 0);
  snprintf (plan_file, sizeof plan_file, "%s/plan.yaml", dir);
  snprintf (disk_file, sizeof disk_file, "%s/src/d.raw", dir);
  fill (disk_file, 'a', 1 << 20);
  f = fopen (plan_file, "w");
  assert_non_null (f);
  fputs ("apiVersion: ferry/v1\n"
         "kind: MigrationPlan\n"
         "metadata: {name: t}\n"
         "sources:\n"
         "  s: {type: directory, path: src}\n"
         "targets:\n"
         "  out: {type: local, path: out}\n"
         "defaults: {target: out}\n"
         "vms:\n"
         "  - name: a\n"
         "    source: s\n"
         "    disks:\n"
         "      - {file: d.raw}\n",
         f);
  assert_int_equal (fclose (f), 0);
  return 0;
}

static int
teardown (void **state)
{
  char cmd[256];

  (void) state;
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal (system (cmd), 0);
  return 0;
}

/* Load the plan (validate opens the disk through the cache). */
static struct ferry_plan *
load (void)
{
  struct ferry_plan *plan = NULL;
  struct ferry_diag d = {0};
  struct ferry_err err = {0};

  if (ferry_plan_load (plan_file, 0, &plan, &d, &err) < 0)
    fail_msg ("load: %s (%zu diagnostics)", err.msg, d.n);
  ferry_diag_free (&d);
  return plan;
}

/* validate, check and apply of one run open the disk once. */
static void
test_open_once (void **state)
{
  struct ferry_plan *plan = load ();
  const struct ferry_disk_spec *ds = &plan->vms[0].disks[0];
  const struct ferry_source *src = ferry_plan_source (plan, "s");
  struct ferry_disk *check = NULL, *apply = NULL;
  struct ferry_err err = {0};

  (void) state;
  assert_int_equal (ferry_disk_cache_opens (plan->disk_cache), 1);
  assert_int_equal (ferry_plan_disk_get (plan, src, &ds->loc, &check, &err), 0);
  ferry_plan_disk_put (plan, check, false);
  assert_int_equal (ferry_plan_disk_get (plan, src, &ds->loc, &apply, &err), 0);
  assert_ptr_equal (apply, check);
  ferry_plan_disk_put (plan, apply, true);
  assert_int_equal (ferry_disk_cache_opens (plan->disk_cache), 1);
  ferry_plan_free (plan);
}

/* A source changed after validate (in place, or replaced by a rename) is
 * opened again, and its identity is the new file's. */
static void
test_changed_reopens (void **state)
{
  struct ferry_plan *plan = load ();
  const struct ferry_disk_spec *ds = &plan->vms[0].disks[0];
  const struct ferry_source *src = ferry_plan_source (plan, "s");
  char before[FERRY_IDENT_HEX], after[FERRY_IDENT_HEX], tmp[256];
  struct ferry_disk *d = NULL, *d2 = NULL;
  struct ferry_err err = {0};
  struct timespec ts = {0, 20 * 1000 * 1000};

  (void) state;
  assert_int_equal (ferry_plan_disk_get (plan, src, &ds->loc, &d, &err), 0);
  assert_int_equal (ferry_disk_identity (d, before, sizeof before, &err), 0);
  ferry_plan_disk_put (plan, d, false);

  /* in place, same size: the mtime/ctime tell */
  nanosleep (&ts, NULL);
  fill (disk_file, 'b', 1 << 20);
  assert_int_equal (ferry_plan_disk_get (plan, src, &ds->loc, &d, &err), 0);
  assert_int_equal (ferry_disk_cache_opens (plan->disk_cache), 2);
  assert_int_equal (ferry_disk_identity (d, after, sizeof after, &err), 0);
  assert_string_not_equal (before, after);
  memcpy (before, after, sizeof before);

  /* replaced by a rename while a step still reads the old handle: the
   * step keeps its handle, the next caller gets the new file */
  snprintf (tmp, sizeof tmp, "%s.new", disk_file);
  fill (tmp, 'c', 2 << 20);
  assert_int_equal (rename (tmp, disk_file), 0);
  assert_int_equal (ferry_plan_disk_get (plan, src, &ds->loc, &d2, &err), 0);
  assert_ptr_not_equal (d2, d);
  assert_int_equal (d2->virtual_size, 2 << 20);
  assert_int_equal (d->virtual_size, 1 << 20);
  assert_int_equal (ferry_disk_identity (d2, after, sizeof after, &err), 0);
  assert_string_not_equal (before, after);
  ferry_plan_disk_put (plan, d2, false);
  ferry_plan_disk_put (plan, d, true);
  assert_int_equal (ferry_disk_cache_opens (plan->disk_cache), 3);

  /* once nobody holds the stale one, it is replaced in the cache */
  assert_int_equal (ferry_plan_disk_get (plan, src, &ds->loc, &d, &err), 0);
  assert_int_equal (d->virtual_size, 2 << 20);
  ferry_plan_disk_put (plan, d, false);
  assert_int_equal (ferry_disk_cache_opens (plan->disk_cache), 4);
  assert_int_equal (ferry_plan_disk_get (plan, src, &ds->loc, &d, &err), 0);
  ferry_plan_disk_put (plan, d, true);
  assert_int_equal (ferry_disk_cache_opens (plan->disk_cache), 4);
  ferry_plan_free (plan);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_open_once, setup, teardown),
      cmocka_unit_test_setup_teardown (test_changed_reopens, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
