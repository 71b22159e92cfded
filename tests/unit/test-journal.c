/* Unit tests for the state journal (file backend). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

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

/* A fresh scratch directory per test, removed afterwards. */
struct fixture {
  char dir[64];   /* the scratch directory */
  char path[128]; /* dir/sub/journal.jsonl (sub does not exist yet) */
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);

  assert_non_null (f);
  strcpy (f->dir, "/tmp/ferry-test-journal.XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  snprintf (f->path, sizeof f->path, "%s/sub/dir/journal.jsonl", f->dir);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal (system (cmd), 0);
  free (f);
  return 0;
}

/* Write TEXT to PATH, replacing it. */
static void
write_file (const char *path, const char *text, bool append)
{
  FILE *fp = fopen (path, append ? "a" : "w");

  assert_non_null (fp);
  assert_int_equal (fputs (text, fp) >= 0, 1);
  assert_int_equal (fclose (fp), 0);
}

/* Read PATH into a malloc'd string. */
static char *
read_file (const char *path)
{
  FILE *fp = fopen (path, "r");
  char *buf;
  long n;

  assert_non_null (fp);
  fseek (fp, 0, SEEK_END);
  n = ftell (fp);
  rewind (fp);
  buf = malloc ((size_t) n + 1);
  assert_non_null (buf);
  assert_int_equal (fread (buf, 1, (size_t) n, fp), (size_t) n);
  buf[n] = '\0';
  fclose (fp);
  return buf;
}

/* Append one event; fail the test on error. */
static void
put (struct ferry_state *j, const char *step, enum ferry_event ev,
     uint64_t offset, const char *id, const char *msg)
{
  struct ferry_journal_entry e = {
      .step = step, .event = ev, .offset = offset, .id = id, .msg = msg};
  struct ferry_err err = {0};

  if (ferry_state_append (j, &e, &err) < 0)
    fail_msg ("append: %s", err.msg);
}

static struct ferry_state *
open_j (const char *path, bool readonly)
{
  struct ferry_state *j = NULL;
  struct ferry_err err = {0};

  if (journal_open_file (path, readonly, &j, &err) < 0)
    fail_msg ("open: %s", err.msg);
  return j;
}

static void
test_event_names (void **state)
{
  int i;

  (void) state;
  for (i = 0; i < FERRY_EVENT_LAST; i++)
    assert_int_equal (ferry_event_from_name (ferry_event_name (i)), i);
  assert_string_equal (ferry_event_name (FERRY_EVENT_CHECKPOINT), "checkpoint");
  assert_int_equal (ferry_event_from_name ("bogus"), -1);
  assert_null (ferry_event_name (FERRY_EVENT_LAST));
}

/* What is appended is what a reopened journal replays, and the file is a
 * private 0600 file in a 0700 directory made for it. */
static void
test_round_trip (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, false);
  const struct ferry_step_record *r;
  struct ferry_journal_entry e = {.step = "web01/boot",
                                  .event = FERRY_EVENT_BEGIN,
                                  .time_ms = INT64_C (1795466460123)};
  struct ferry_err err = {0};
  struct stat st;
  char *text, dir[160];
  size_t first = 99;

  put (j, "web01/convert/disk0", FERRY_EVENT_BEGIN, 0, NULL, NULL);
  put (j, "web01/convert/disk0", FERRY_EVENT_CHECKPOINT, UINT64_C (5368709120),
       NULL, NULL);
  put (j, "web01/volume", FERRY_EVENT_BEGIN, 0, NULL, NULL);
  put (j, "web01/volume", FERRY_EVENT_CREATED, 0, "vol-1234", NULL);
  put (j, "web01/volume", FERRY_EVENT_FAIL, 0, NULL,
       "cinder said \"no\"\nand \\ more");
  assert_int_equal (ferry_state_append (j, &e, &err), 0);
  assert_int_equal (ferry_state_count (j), 3);
  ferry_state_close (j);

  assert_int_equal (stat (f->path, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);
  snprintf (dir, sizeof dir, "%s/sub", f->dir);
  assert_int_equal (stat (dir, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0700);

  /* one JSON object per line, with a readable UTC time */
  text = read_file (f->path);
  assert_non_null (strstr (text, "\"time\":\"2026-11-23T20:41:00.123Z\""));
  assert_non_null (strstr (text, "\"offset\":5368709120"));
  assert_int_equal (text[strlen (text) - 1], '\n');
  free (text);

  j = open_j (f->path, true);
  assert_int_equal (ferry_state_bad_lines (j, &first), 0);
  assert_int_equal (first, 0);
  assert_int_equal (ferry_state_count (j), 3);
  assert_string_equal (ferry_state_at (j, 0)->step, "web01/convert/disk0");
  assert_string_equal (ferry_state_at (j, 1)->step, "web01/volume");
  assert_string_equal (ferry_state_at (j, 2)->step, "web01/boot");
  assert_null (ferry_state_at (j, 3));

  r = ferry_state_step (j, "web01/convert/disk0");
  assert_non_null (r);
  assert_int_equal (r->last, FERRY_EVENT_BEGIN);
  assert_true (r->has_checkpoint);
  assert_int_equal (r->checkpoint, UINT64_C (5368709120));

  r = ferry_state_step (j, "web01/volume");
  assert_int_equal (r->last, FERRY_EVENT_FAIL);
  assert_string_equal (r->msg, "cinder said \"no\"\nand \\ more");
  assert_int_equal (r->n_created, 1);
  assert_string_equal (r->created[0], "vol-1234");
  assert_true (r->time_ms > INT64_C (1700000000000));

  r = ferry_state_step (j, "web01/boot");
  assert_int_equal (r->time_ms, INT64_C (1795466460123));
  assert_null (ferry_state_step (j, "web01/nope"));

  e.event = FERRY_EVENT_DONE;
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_append (j, &e, &err), -1);
  assert_non_null (strstr (err.msg, "read-only"));
  ferry_state_close (j);
}

/* A missing journal opened read-only is empty and is not created. */
static void
test_missing_readonly (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, true);

  assert_int_equal (ferry_state_count (j), 0);
  assert_null (ferry_state_step (j, "x"));
  ferry_state_close (j);
  assert_int_equal (access (f->path, F_OK), -1);
}

/* A crash mid-append leaves a torn last line: it is skipped and reported,
 * and the next append starts on a line of its own. */
static void
test_torn_last_line (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, false);
  const struct ferry_step_record *r;
  size_t first = 0;

  put (j, "a", FERRY_EVENT_BEGIN, 0, NULL, NULL);
  put (j, "a", FERRY_EVENT_DONE, 0, NULL, NULL);
  ferry_state_close (j);
  write_file (f->path, "{\"time_ms\":1,\"step\":\"b\",\"event\":\"beg", true);

  j = open_j (f->path, true);
  assert_int_equal (ferry_state_bad_lines (j, &first), 1);
  assert_int_equal (first, 3);
  assert_int_equal (ferry_state_count (j), 1);
  assert_int_equal (ferry_state_step (j, "a")->last, FERRY_EVENT_DONE);
  ferry_state_close (j);

  /* even a complete object without its newline never finished its write */
  write_file (f->path,
              "{\"time_ms\":1,\"step\":\"a\",\"event\":\"begin\"}\n"
              "{\"time_ms\":2,\"step\":\"a\",\"event\":\"done\"}",
              false);
  j = open_j (f->path, true);
  assert_int_equal (ferry_state_bad_lines (j, &first), 1);
  assert_int_equal (first, 2);
  assert_int_equal (ferry_state_step (j, "a")->last, FERRY_EVENT_BEGIN);
  ferry_state_close (j);

  /* opened for writing, the torn line gets its newline first */
  write_file (f->path,
              "{\"time_ms\":1,\"step\":\"a\",\"event\":\"begin\"}\n"
              "{\"time_ms\":2,\"step\":\"a\",\"event\":\"do",
              false);
  j = open_j (f->path, false);
  assert_int_equal (ferry_state_bad_lines (j, &first), 1);
  assert_int_equal (first, 2);
  assert_int_equal (ferry_state_step (j, "a")->last, FERRY_EVENT_BEGIN);
  put (j, "b", FERRY_EVENT_BEGIN, 0, NULL, NULL);
  put (j, "a", FERRY_EVENT_FAIL, 0, NULL, "boom");
  ferry_state_close (j);

  /* the torn line stays bad; what came after it parses */
  j = open_j (f->path, true);
  assert_int_equal (ferry_state_bad_lines (j, &first), 1);
  assert_int_equal (first, 2);
  assert_int_equal (ferry_state_count (j), 2);
  r = ferry_state_step (j, "b");
  assert_non_null (r);
  assert_int_equal (r->last, FERRY_EVENT_BEGIN);
  r = ferry_state_step (j, "a");
  assert_int_equal (r->last, FERRY_EVENT_FAIL);
  assert_string_equal (r->msg, "boom");
  ferry_state_close (j);
}

/* Garbage in the middle is skipped, counted and does not hide the lines
 * around it. */
static void
test_garbage_middle (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, false);
  char *big;
  size_t first = 0;

  ferry_state_close (j);
  big = malloc (200000);
  assert_non_null (big);
  memset (big, 'x', 199998);
  big[199998] = '\n';
  big[199999] = '\0';
  write_file (f->path,
              "{\"time_ms\":1,\"step\":\"a\",\"event\":\"begin\"}\n"
              "not json at all\n"                                      /* 2 */
              "{\"time_ms\":2,\"step\":\"a\",\"event\":\"explode\"}\n" /* 3 */
              "[1,2,3]\n"                                              /* 4 */
              "{\"time_ms\":-5,\"step\":\"a\",\"event\":\"done\"}\n"   /* 5 */
              "{\"time_ms\":3,\"step\":\"a\",\"event\":\"checkpoint\","
              "\"offset\":1e300}\n"                                    /* 6 */
              "{\"time_ms\":3,\"step\":\"\",\"event\":\"done\"}\n"     /* 7 */
              "{\"time_ms\":3,\"step\":\"a\",\"event\":\"created\"}\n" /* 8 */
              "{\"time_ms\":3,\"step\":\"a\",\"event\":\"done\"} x\n"  /* 9 */
              "\n" /* blank */
              "{\"time_ms\":4,\"step\":\"a\",\"event\":\"checkpoint\","
              "\"offset\":4096}\n", /* 11 */
              false);
  write_file (f->path, big, true); /* 12 */
  write_file (f->path, "{\"time_ms\":5,\"step\":\"c\",\"event\":\"begin\"}\n",
              true);
  free (big);

  j = open_j (f->path, true);
  assert_int_equal (ferry_state_bad_lines (j, &first), 9);
  assert_int_equal (first, 2);
  assert_int_equal (ferry_state_count (j), 2);
  assert_int_equal (ferry_state_step (j, "a")->last, FERRY_EVENT_BEGIN);
  assert_true (ferry_state_step (j, "a")->has_checkpoint);
  assert_int_equal (ferry_state_step (j, "a")->checkpoint, 4096);
  assert_int_equal (ferry_state_step (j, "c")->time_ms, 5);
  ferry_state_close (j);
}

/* Appends with absurd fields are refused, nothing reaches the file. */
static void
test_refused_entries (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, false);
  struct ferry_journal_entry e = {.step = "a", .event = FERRY_EVENT_CREATED};
  struct ferry_err err = {0};
  char *longmsg = malloc (70000);
  struct stat st;

  assert_non_null (longmsg);
  memset (longmsg, 'm', 69999);
  longmsg[69999] = '\0';
  assert_int_equal (ferry_state_append (j, &e, &err), -1); /* no id */
  assert_int_equal (err.errnum, EINVAL);
  ferry_err_clear (&err);
  e = (struct ferry_journal_entry){
      .step = "a", .event = FERRY_EVENT_FAIL, .msg = longmsg};
  assert_int_equal (ferry_state_append (j, &e, &err), -1);
  ferry_err_clear (&err);
  e = (struct ferry_journal_entry){.step = "a\nb", .event = FERRY_EVENT_DONE};
  assert_int_equal (ferry_state_append (j, &e, &err), -1);
  ferry_err_clear (&err);
  e = (struct ferry_journal_entry){
      .step = "a", .event = FERRY_EVENT_CHECKPOINT, .offset = UINT64_MAX};
  assert_int_equal (ferry_state_append (j, &e, &err), -1);
  assert_non_null (strstr (err.msg, "out of range"));
  ferry_err_clear (&err);
  e = (struct ferry_journal_entry){.step = "a", .event = FERRY_EVENT_LAST};
  assert_int_equal (ferry_state_append (j, &e, &err), -1);
  assert_int_equal (ferry_state_count (j), 0);
  ferry_state_close (j);
  assert_int_equal (stat (f->path, &st), 0);
  assert_int_equal (st.st_size, 0);
  free (longmsg);
}

/* begin and fail keep the checkpoint (a new attempt resumes from it: that
 * is what resume uses), done clears it. */
static void
test_checkpoint_semantics (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, false);
  const struct ferry_step_record *r;
  const char *s = "db01/convert/disk1";
  int pass;

  put (j, s, FERRY_EVENT_BEGIN, 0, NULL, NULL);
  put (j, s, FERRY_EVENT_CHECKPOINT, 1 << 20, NULL, NULL);
  put (j, s, FERRY_EVENT_CHECKPOINT, 2 << 20, NULL, NULL);
  put (j, s, FERRY_EVENT_FAIL, 0, NULL, "source vanished");
  for (pass = 0; pass < 2; pass++) {
    r = ferry_state_step (j, s);
    assert_int_equal (r->last, FERRY_EVENT_FAIL);
    assert_true (r->has_checkpoint);
    assert_int_equal (r->checkpoint, 2 << 20);
    ferry_state_close (j);
    j = open_j (f->path, false);
  }

  put (j, s, FERRY_EVENT_BEGIN, 0, NULL, NULL);
  r = ferry_state_step (j, s);
  assert_true (r->has_checkpoint);
  assert_int_equal (r->checkpoint, 2 << 20);
  assert_string_equal (r->msg, "source vanished"); /* last fail kept */
  put (j, s, FERRY_EVENT_CHECKPOINT, 3 << 20, NULL, NULL);
  assert_int_equal (ferry_state_step (j, s)->checkpoint, 3 << 20);
  put (j, s, FERRY_EVENT_DONE, 0, NULL, NULL);
  for (pass = 0; pass < 2; pass++) {
    r = ferry_state_step (j, s);
    assert_int_equal (r->last, FERRY_EVENT_DONE);
    assert_false (r->has_checkpoint);
    assert_int_equal (r->checkpoint, 0);
    ferry_state_close (j);
    j = open_j (f->path, true);
  }
  ferry_state_close (j);
}

/* Created ids accumulate in order, each once, across reopen. */
static void
test_created_dedup (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, false);
  const struct ferry_step_record *r;

  put (j, "s", FERRY_EVENT_CREATED, 0, "vol-a", NULL);
  put (j, "s", FERRY_EVENT_CREATED, 0, "vol-b", NULL);
  put (j, "s", FERRY_EVENT_CREATED, 0, "vol-a", NULL);
  ferry_state_close (j);
  j = open_j (f->path, false);
  put (j, "s", FERRY_EVENT_CREATED, 0, "vol-b", NULL);
  put (j, "s", FERRY_EVENT_DONE, 0, NULL, NULL);
  put (j, "s", FERRY_EVENT_CREATED, 0, "vol-c", NULL);
  r = ferry_state_step (j, "s");
  assert_int_equal (r->n_created, 3);
  assert_string_equal (r->created[0], "vol-a");
  assert_string_equal (r->created[1], "vol-b");
  assert_string_equal (r->created[2], "vol-c");
  assert_int_equal (r->last, FERRY_EVENT_DONE);
  ferry_state_close (j);
}

#define N_THREADS 8
#define N_PER_THREAD 200

struct worker {
  struct ferry_state *j; /* shared journal */
  int n;                 /* thread number */
  int failed;            /* appends that failed */
};

static void *
worker_run (void *arg)
{
  struct worker *w = arg;
  char step[64], id[64];
  struct ferry_err err = {0};
  int i;

  snprintf (step, sizeof step, "vm%02d/convert/disk0", w->n);
  for (i = 0; i < N_PER_THREAD; i++) {
    struct ferry_journal_entry e = {.step = step,
                                    .event = FERRY_EVENT_CHECKPOINT,
                                    .offset = (uint64_t) (i + 1) << 20};
    if (i % 10 == 0) {
      snprintf (id, sizeof id, "obj-%d-%d", w->n, i);
      e.event = FERRY_EVENT_CREATED;
      e.id = id;
    }
    if (ferry_state_append (w->j, &e, &err) < 0)
      w->failed++;
  }
  return NULL;
}

/* 8 threads appending at once: every line lands whole. */
static void
test_concurrent_appends (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, false);
  struct worker w[N_THREADS];
  pthread_t t[N_THREADS];
  const struct ferry_step_record *r;
  char *text, *line, *save = NULL;
  size_t lines = 0, first;
  int i;

  for (i = 0; i < N_THREADS; i++) {
    w[i] = (struct worker){.j = j, .n = i};
    assert_int_equal (pthread_create (&t[i], NULL, worker_run, &w[i]), 0);
  }
  for (i = 0; i < N_THREADS; i++) {
    pthread_join (t[i], NULL);
    assert_int_equal (w[i].failed, 0);
  }
  ferry_state_close (j);

  text = read_file (f->path);
  for (line = strtok_r (text, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save)) {
    cJSON *o = cJSON_Parse (line);
    if (o == NULL)
      fail_msg ("line %zu is not whole: %s", lines + 1, line);
    cJSON_Delete (o);
    lines++;
  }
  free (text);
  assert_int_equal (lines, N_THREADS * N_PER_THREAD);

  j = open_j (f->path, true);
  assert_int_equal (ferry_state_bad_lines (j, &first), 0);
  assert_int_equal (ferry_state_count (j), N_THREADS);
  for (i = 0; i < N_THREADS; i++) {
    char step[64];
    snprintf (step, sizeof step, "vm%02d/convert/disk0", i);
    r = ferry_state_step (j, step);
    assert_non_null (r);
    assert_int_equal (r->n_created, N_PER_THREAD / 10);
    assert_int_equal (r->checkpoint, (uint64_t) N_PER_THREAD << 20);
  }
  ferry_state_close (j);
}

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 100k lines over 3,000 steps replay fast, and every step is found. */
static void
test_replay_100k (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *j = open_j (f->path, false);
  const struct ferry_step_record *r;
  static const char *const ev[] = {"begin", "checkpoint", "checkpoint",
                                   "created", "done"};
  FILE *fp;
  char step[64];
  double t0, t_open, t_lookup;
  size_t bad;
  int i, s;

  ferry_state_close (j);
  fp = fopen (f->path, "w");
  assert_non_null (fp);
  for (i = 0; i < 100000; i++) {
    s = i % 3000;
    fprintf (fp,
             "{\"time\":\"2026-11-23T20:41:00.123Z\",\"time_ms\":%d,"
             "\"step\":\"vm%04d/convert/disk0\",\"event\":\"%s\"",
             1000 + i, s, ev[(i / 3000) % 5]);
    if ((i / 3000) % 5 == 1 || (i / 3000) % 5 == 2)
      fprintf (fp, ",\"offset\":%d", i * 4096);
    if ((i / 3000) % 5 == 3)
      fprintf (fp, ",\"id\":\"5f0c4e3a-%08d\"", i);
    fputs ("}\n", fp);
  }
  assert_int_equal (fclose (fp), 0);

  t0 = now ();
  j = open_j (f->path, true);
  t_open = now () - t0;
  t0 = now ();
  for (i = 0; i < 3000; i++) {
    snprintf (step, sizeof step, "vm%04d/convert/disk0", i);
    r = ferry_state_step (j, step);
    assert_non_null (r);
    assert_int_equal (r->n_created, i < 100000 - 99000 ? 7 : 6);
  }
  t_lookup = now () - t0;
  bad = ferry_state_bad_lines (j, NULL);
  assert_int_equal (bad, 0);
  assert_int_equal (ferry_state_count (j), 3000);
  ferry_state_close (j);
  print_message ("# replay of 100000 lines: %.3f s; 3000 lookups: %.6f s\n",
                 t_open, t_lookup);
  /* speed is for benchmarks, not timed tests: printed, not asserted */
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_event_names),
      cmocka_unit_test_setup_teardown (test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown (test_missing_readonly, setup, teardown),
      cmocka_unit_test_setup_teardown (test_torn_last_line, setup, teardown),
      cmocka_unit_test_setup_teardown (test_garbage_middle, setup, teardown),
      cmocka_unit_test_setup_teardown (test_refused_entries, setup, teardown),
      cmocka_unit_test_setup_teardown (test_checkpoint_semantics, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_created_dedup, setup, teardown),
      cmocka_unit_test_setup_teardown (test_concurrent_appends, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_replay_100k, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
