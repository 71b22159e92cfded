/* Unit tests for the journal's identities: the "ident" key of checkpoint
 * and done events and how records fold them (checkpoint_ident, done_ident). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/state.h"

/* The file backend's state for the journal at PATH. */
static int
journal_open_file (const char *path, bool readonly, struct ferry_state **ret,
                   struct ferry_err *err)
{
  struct ferry_state_cfg cfg = {.backend = FERRY_STATE_FILE,
                                .path = (char *) path};

  return ferry_state_open (&cfg, readonly, ret, err);
}

static char dir[64], path[128];

static int
setup (void **state)
{
  (void) state;
  strcpy (dir, "/tmp/ferry-test-ident.XXXXXX");
  assert_non_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/journal", dir);
  return 0;
}

static int
teardown (void **state)
{
  char cmd[128];

  (void) state;
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal (system (cmd), 0);
  return 0;
}

/* Append one event. */
static void
add (struct ferry_state *j, enum ferry_event ev, uint64_t off,
     const char *ident)
{
  struct ferry_journal_entry e = {0};
  struct ferry_err err = {0};

  e.step = "vm/convert/disk0";
  e.event = ev;
  e.offset = off;
  e.ident = ident;
  assert_int_equal (ferry_state_append (j, &e, &err), 0);
}

/* The fold, live and after a replay from the file. */
static void
test_ident_fold (void **state)
{
  struct ferry_state *j = NULL;
  const struct ferry_step_record *r;
  struct ferry_err err = {0};
  int pass;

  (void) state;
  assert_int_equal (journal_open_file (path, false, &j, &err), 0);
  add (j, FERRY_EVENT_BEGIN, 0, NULL);
  add (j, FERRY_EVENT_CHECKPOINT, 1 << 20, "ck-1");
  add (j, FERRY_EVENT_CHECKPOINT, 2 << 20, "ck-2");
  for (pass = 0; pass < 2; pass++) {
    r = ferry_state_step (j, "vm/convert/disk0");
    assert_non_null (r);
    assert_true (r->has_checkpoint);
    assert_string_equal (r->checkpoint_ident, "ck-2");
    assert_null (r->done_ident);
    ferry_state_close (j);
    assert_int_equal (journal_open_file (path, false, &j, &err), 0);
  }
  /* a checkpoint without ident (an older ferry, a forged line) has none */
  add (j, FERRY_EVENT_CHECKPOINT, 3 << 20, NULL);
  r = ferry_state_step (j, "vm/convert/disk0");
  assert_null (r->checkpoint_ident);
  add (j, FERRY_EVENT_DONE, 0, "done-1");
  add (j, FERRY_EVENT_DONE, 0, NULL); /* the engine's DONE keeps it */
  for (pass = 0; pass < 2; pass++) {
    r = ferry_state_step (j, "vm/convert/disk0");
    assert_false (r->has_checkpoint);
    assert_null (r->checkpoint_ident);
    assert_string_equal (r->done_ident, "done-1");
    ferry_state_close (j);
    assert_int_equal (journal_open_file (path, false, &j, &err), 0);
  }
  add (j, FERRY_EVENT_DONE, 0, "done-2");
  r = ferry_state_step (j, "vm/convert/disk0");
  assert_string_equal (r->done_ident, "done-2");
  ferry_state_close (j);
}

/* An ident with a control character is refused on append; a line whose
 * ident is not a string is skipped on replay. */
static void
test_ident_refused (void **state)
{
  struct ferry_state *j = NULL;
  struct ferry_journal_entry e = {0};
  struct ferry_err err = {0};
  size_t first = 0;
  FILE *fp;

  (void) state;
  assert_int_equal (journal_open_file (path, false, &j, &err), 0);
  e.step = "s";
  e.event = FERRY_EVENT_CHECKPOINT;
  e.offset = 4096;
  e.ident = "bad\nident";
  assert_int_equal (ferry_state_append (j, &e, &err), -1);
  ferry_state_close (j);
  fp = fopen (path, "a");
  assert_non_null (fp);
  fputs ("{\"time_ms\":1,\"step\":\"s\",\"event\":\"checkpoint\","
         "\"offset\":4096,\"ident\":42}\n",
         fp);
  fclose (fp);
  assert_int_equal (journal_open_file (path, true, &j, &err), 0);
  assert_int_equal (ferry_state_bad_lines (j, &first), 1);
  assert_null (ferry_state_step (j, "s"));
  ferry_state_close (j);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_ident_fold, setup, teardown),
      cmocka_unit_test_setup_teardown (test_ident_refused, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
