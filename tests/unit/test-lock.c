/* Unit tests for plan locks (file backend). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/lock.h"

/* A fresh scratch directory per test, removed afterwards. */
struct fixture {
  char dir[64];   /* the scratch directory */
  char path[128]; /* dir/state/plan.lock (state does not exist yet) */
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);

  assert_non_null (f);
  strcpy (f->dir, "/tmp/ferry-test-lock.XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  snprintf (f->path, sizeof f->path, "%s/state/plan.lock", f->dir);
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

static void
write_file (const char *path, const char *text)
{
  FILE *fp = fopen (path, "w");

  assert_non_null (fp);
  fputs (text, fp);
  assert_int_equal (fclose (fp), 0);
}

/* A pid that surely does not exist: a child that has been reaped. */
static pid_t
dead_pid (void)
{
  pid_t pid = fork ();

  assert_true (pid >= 0);
  if (pid == 0)
    _exit (0);
  assert_int_equal (waitpid (pid, NULL, 0), pid);
  return pid;
}

static void
this_host (char *buf, size_t len)
{
  memset (buf, 0, len);
  assert_int_equal (gethostname (buf, len - 1), 0);
}

/* Acquire writes our identity; a second acquire is refused with the owner
 * named; release removes the file and the lock can be taken again. */
static void
test_acquire_refuse_release (void **state)
{
  struct fixture *f = *state;
  struct ferry_lock *lock = NULL, *lock2 = NULL;
  struct ferry_lock_owner o;
  struct ferry_err err = {0};
  char host[256], want[512];
  struct stat st;

  assert_int_equal (ferry_lock_read (f->path, &o, &err), 0);
  if (ferry_lock_acquire (f->path, &lock, &err) < 0)
    fail_msg ("acquire: %s", err.msg);
  assert_int_equal (stat (f->path, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);

  this_host (host, sizeof host);
  assert_int_equal (ferry_lock_read (f->path, &o, &err), 1);
  assert_int_equal (o.pid, getpid ());
  assert_string_equal (o.host, host);
  assert_string_equal (o.version, FERRY_VERSION);
  assert_true (o.started > 1700000000);
  assert_false (ferry_lock_is_stale (&o));

  assert_int_equal (ferry_lock_acquire (f->path, &lock2, &err), -1);
  assert_null (lock2);
  assert_int_equal (err.errnum, EBUSY);
  snprintf (want, sizeof want, "plan is locked by pid %d on host '%s' since ",
            (int) getpid (), host);
  if (strncmp (err.msg, want, strlen (want)) != 0)
    fail_msg ("message: %s", err.msg);
  snprintf (want, sizeof want,
            "Z (ferry %s); if that run is dead, run "
            "'ferry unlock'",
            FERRY_VERSION);
  assert_non_null (strstr (err.msg, want));

  ferry_lock_release (lock);
  assert_int_equal (access (f->path, F_OK), -1);
  ferry_err_clear (&err);
  assert_int_equal (ferry_lock_acquire (f->path, &lock, &err), 0);
  ferry_lock_release (lock);
  ferry_lock_release (NULL);
}

/* The owner's start time is shown in UTC. */
static void
test_describe (void **state)
{
  struct ferry_lock_owner o = {
      .host = "migr01", .pid = 1234, .started = 1795466460, .version = "0.1.0"};
  char buf[256];

  (void) state;
  ferry_lock_describe (&o, buf, sizeof buf);
  assert_string_equal (buf, "pid 1234 on host 'migr01' since "
                            "2026-11-23T20:41:00Z (ferry 0.1.0)");
  memset (&o, 0, sizeof o);
  ferry_lock_describe (&o, buf, sizeof buf);
  assert_non_null (strstr (buf, "unknown owner"));
}

/* A lock whose process is gone is stale: unlock without --force removes
 * it, naming the dead owner. */
static void
test_stale_lock (void **state)
{
  struct fixture *f = *state;
  struct ferry_lock_owner o, got;
  struct ferry_lock *lock = NULL;
  struct ferry_err err = {0};
  char host[256], text[512];
  pid_t dead = dead_pid ();

  this_host (host, sizeof host);
  snprintf (text, sizeof text, "%s/state", f->dir);
  assert_int_equal (mkdir (text, 0700), 0);
  snprintf (text, sizeof text,
            "host=%s\npid=%d\nstarted=1795466460\nversion=0.0.9\n", host,
            (int) dead);
  write_file (f->path, text);

  assert_int_equal (ferry_lock_read (f->path, &o, &err), 1);
  assert_int_equal (o.pid, dead);
  assert_true (ferry_lock_is_stale (&o));
  /* still refused by acquire: only unlock breaks locks */
  assert_int_equal (ferry_lock_acquire (f->path, &lock, &err), -1);
  assert_non_null (strstr (err.msg, "(ferry 0.0.9)"));
  ferry_err_clear (&err);

  assert_int_equal (ferry_lock_break (f->path, false, &got, &err), 1);
  assert_int_equal (got.pid, dead);
  assert_int_equal (access (f->path, F_OK), -1);
  assert_int_equal (ferry_lock_break (f->path, false, &got, &err), 0);

  /* a dead pid on another host is not known to be dead */
  snprintf (text, sizeof text,
            "host=%s-elsewhere\npid=%d\nstarted=1795466460\nversion=0.1.0\n",
            host, (int) dead);
  write_file (f->path, text);
  assert_int_equal (ferry_lock_read (f->path, &o, &err), 1);
  assert_false (ferry_lock_is_stale (&o));
  assert_int_equal (ferry_lock_break (f->path, false, &got, &err), -1);
  assert_non_null (strstr (err.msg, "another host"));
  assert_int_equal (access (f->path, F_OK), 0);
}

/* A live lock (ours) is refused without force and removed with it. */
static void
test_live_lock (void **state)
{
  struct fixture *f = *state;
  struct ferry_lock *lock = NULL, *lock2 = NULL;
  struct ferry_lock_owner got = {0};
  struct ferry_err err = {0};
  char want[64];

  assert_int_equal (ferry_lock_acquire (f->path, &lock, &err), 0);
  assert_int_equal (ferry_lock_break (f->path, false, &got, &err), -1);
  assert_int_equal (err.errnum, EBUSY);
  snprintf (want, sizeof want, "pid %d on host", (int) getpid ());
  assert_non_null (strstr (err.msg, want));
  assert_non_null (strstr (err.msg, "still running"));
  assert_int_equal (access (f->path, F_OK), 0);

  ferry_err_clear (&err);
  assert_int_equal (ferry_lock_break (f->path, true, &got, &err), 1);
  assert_int_equal (got.pid, getpid ());
  assert_int_equal (access (f->path, F_OK), -1);

  /* another run takes it: our release must not remove their lock */
  write_file (f->path, "host=other\npid=1\nstarted=1795466460\n"
                       "version=0.1.0\n");
  ferry_lock_release (lock);
  assert_int_equal (access (f->path, F_OK), 0);
  assert_int_equal (unlink (f->path), 0);

  /* and a lock broken and retaken is released by its new owner */
  assert_int_equal (ferry_lock_acquire (f->path, &lock2, &err), 0);
  ferry_lock_release (lock2);
  assert_int_equal (access (f->path, F_OK), -1);
}

/* Half-written or garbled lock files are held by an unknown owner: acquire
 * refuses, break refuses without force and removes with it. */
static void
test_garbled_lock (void **state)
{
  struct fixture *f = *state;
  static const char *const bad[] = {
      "",                                               /* crash after create */
      "host=h\npid=12",                                 /* torn */
      "host=h\npid=12\nstarted=1\n",                    /* no version */
      "host=h\npid=-4\nstarted=1\nversion=1\n",         /* bad pid */
      "host=h\npid=12x\nstarted=1\nversion=1\n",        /* junk in number */
      "host=h\npid=12\npid=13\nstarted=1\nversion=1\n", /* repeated */
      "\x7f"
      "ELF binary junk\n",
  };
  struct ferry_lock_owner o, got;
  struct ferry_lock *lock = NULL;
  struct ferry_err err = {0};
  char dir[160];
  size_t i;

  snprintf (dir, sizeof dir, "%s/state", f->dir);
  assert_int_equal (mkdir (dir, 0700), 0);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_file (f->path, bad[i]);
    ferry_err_clear (&err);
    assert_int_equal (ferry_lock_read (f->path, &o, &err), 1);
    assert_int_equal (o.pid, 0);
    assert_false (ferry_lock_is_stale (&o));
    assert_int_equal (ferry_lock_acquire (f->path, &lock, &err), -1);
    assert_int_equal (err.errnum, EBUSY);
    assert_non_null (strstr (err.msg, "unknown owner"));
    assert_non_null (strstr (err.msg, "unlock --force"));
    ferry_err_clear (&err);
    assert_int_equal (ferry_lock_break (f->path, false, &got, &err), -1);
    assert_non_null (strstr (err.msg, "--force"));
    assert_int_equal (access (f->path, F_OK), 0);
    ferry_err_clear (&err);
    assert_int_equal (ferry_lock_break (f->path, true, &got, &err), 1);
    assert_int_equal (access (f->path, F_OK), -1);
  }
}

/* What main.c's take_lock does: acquire; if the holder is stale, break its
 * lock and acquire again.  0 when we hold the lock. */
static int
take_over (const char *path, struct ferry_lock **ret)
{
  struct ferry_lock_owner o;
  struct ferry_err err = {0};

  if (ferry_lock_acquire (path, ret, &err) == 0)
    return 0;
  if (ferry_lock_read (path, &o, NULL) == 1 && ferry_lock_is_stale (&o)) {
    ferry_err_clear (&err);
    if (ferry_lock_break (path, false, &o, &err) >= 0 &&
        ferry_lock_acquire (path, ret, &err) == 0)
      return 0;
  }
  return -1;
}

#define RACE_ROUNDS 200
#define RACE_TAKERS 6

/* Several processes find the same stale lock (its owner is dead) and take
 * it over at once, round after round: exactly one may win each round.
 * Breaking used to read the owner, decide, then unlink: a second taker
 * that had read the same stale owner unlinked the first one's fresh lock
 * and both held the plan. */
static void
test_stale_takeover_race (void **state)
{
  struct fixture *f = *state;
  char host[256], text[512];
  int round, i, winners, double_wins = 0, no_wins = 0;
  pid_t dead = dead_pid ();

  this_host (host, sizeof host);
  snprintf (text, sizeof text, "%s/state", f->dir);
  assert_int_equal (mkdir (text, 0700), 0);
  for (round = 0; round < RACE_ROUNDS; round++) {
    int go[2], result[2], hold[2];
    pid_t kids[RACE_TAKERS];
    char c;

    snprintf (text, sizeof text,
              "host=%s\npid=%d\nstarted=1795466460\nversion=0.0.9\n", host,
              (int) dead);
    write_file (f->path, text);
    assert_int_equal (pipe (go), 0);
    assert_int_equal (pipe (result), 0);
    assert_int_equal (pipe (hold), 0);
    for (i = 0; i < RACE_TAKERS; i++) {
      kids[i] = fork ();
      assert_true (kids[i] >= 0);
      if (kids[i] == 0) {
        struct ferry_lock *lock = NULL;
        char won;

        close (go[1]);
        close (result[0]);
        close (hold[1]);
        /* all start together */
        if (read (go[0], &c, 1) < 0)
          _exit (3);
        won = take_over (f->path, &lock) == 0 ? 'W' : 'L';
        if (write (result[1], &won, 1) != 1)
          _exit (3);
        /* a winner holds until everybody has tried: a winner that exited
         * would leave a stale lock that may rightly be taken over */
        if (read (hold[0], &c, 1) < 0)
          _exit (3);
        ferry_lock_release (lock);
        _exit (0);
      }
    }
    close (go[0]);
    close (result[1]);
    close (hold[0]);
    close (go[1]); /* EOF on go: start */
    winners = 0;
    for (i = 0; i < RACE_TAKERS; i++) {
      assert_int_equal (read (result[0], &c, 1), 1);
      winners += c == 'W';
    }
    close (hold[1]);
    close (result[0]);
    for (i = 0; i < RACE_TAKERS; i++) {
      int status;

      assert_int_equal (waitpid (kids[i], &status, 0), kids[i]);
      assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    if (winners > 1)
      double_wins++;
    if (winners == 0)
      no_wins++;
    unlink (f->path);
  }
  if (double_wins || no_wins)
    fail_msg ("%d of %d rounds had several holders of the plan lock, %d "
              "none",
              double_wins, RACE_ROUNDS, no_wins);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_acquire_refuse_release, setup,
                                       teardown),
      cmocka_unit_test (test_describe),
      cmocka_unit_test_setup_teardown (test_stale_lock, setup, teardown),
      cmocka_unit_test_setup_teardown (test_live_lock, setup, teardown),
      cmocka_unit_test_setup_teardown (test_garbled_lock, setup, teardown),
      cmocka_unit_test_setup_teardown (test_stale_takeover_race, setup,
                                       teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
