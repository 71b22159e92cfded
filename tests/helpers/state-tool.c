/* state-tool OBJECT COMMAND...: drive the rados state backend from shell
 * tests (tests/t/31-state-rados.t), one process per lock holder, on the
 * pool FERRY_TEST_RADOS_POOL of the cluster FERRY_TEST_RADOS_CONF.
 *
 *   lock SCOPE [--as HOST:PID] [--take-stale] [--go FILE] [--hold FILE]
 *       take SCOPE ("plan" or "vm:NAME"); --go: first wait until FILE
 *       exists (to start racers together).  Prints "locked" (" took PID"
 *       when a stale lock was taken over) or "busy: MESSAGE" (exit 1); a
 *       holder then waits until the --hold FILE exists (files, not pipes:
 *       a pipe's write end leaks into every later child of the shell),
 *       prints "lost=0|1" (whether the backend knows the lock is no longer
 *       ours) and releases it.
 *   read SCOPE      "free", or "held pid=P host=H version=V"
 *   break SCOPE [--force]   "removed pid=P", "none" or "refused: MESSAGE"
 *   fill N          append begin, checkpoint, done for vm0000.. vmN-1
 *   replay          open read-only: "steps=N bad=B ms=T" */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state/state.h"

/* Parse "plan" or "vm:NAME" into *RET; false if neither. */
static bool
parse_scope (const char *s, struct ferry_lock_scope *ret)
{
  if (strcmp (s, "plan") == 0) {
    ret->kind = FERRY_LOCK_SCOPE_PLAN;
    ret->vm = NULL;
    return true;
  }
  if (strncmp (s, "vm:", 3) == 0 && s[3]) {
    ret->kind = FERRY_LOCK_SCOPE_VM;
    ret->vm = s + 3;
    return true;
  }
  return false;
}

/* Monotonic ms. */
static long long
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Take the lock and hold it until EOF on stdin. */
static int
cmd_lock (struct ferry_state *st, const struct ferry_lock_scope *scope,
          int argc, char **argv)
{
  struct ferry_lock_owner as, taken;
  struct ferry_state_lock *l = NULL;
  struct ferry_err err = {0};
  unsigned flags = 0;
  bool have_as = false;
  const char *go = NULL, *hold = NULL;
  char *colon;
  int i;

  for (i = 0; i < argc; i++) {
    if (strcmp (argv[i], "--take-stale") == 0)
      flags |= FERRY_LOCK_TAKE_STALE;
    else if (strcmp (argv[i], "--go") == 0 && i + 1 < argc)
      go = argv[++i];
    else if (strcmp (argv[i], "--hold") == 0 && i + 1 < argc)
      hold = argv[++i];
    else if (strcmp (argv[i], "--as") == 0 && i + 1 < argc &&
             (colon = strchr (argv[i + 1], ':')) != NULL) {
      ferry_lock_owner_self (&as);
      snprintf (as.host, sizeof as.host, "%.*s", (int) (colon - argv[i + 1]),
                argv[i + 1]);
      as.pid = atoi (colon + 1);
      have_as = true;
      i++;
    } else {
      fprintf (stderr, "state-tool: lock: bad argument '%s'\n", argv[i]);
      return 2;
    }
  }
  while (go && access (go, F_OK) < 0)
    usleep (1000);
  if (ferry_state_lock_acquire_as (st, scope, have_as ? &as : NULL, flags, &l,
                                   &taken, &err) < 0) {
    printf ("busy: %s\n", err.msg);
    return 1;
  }
  if (taken.pid)
    printf ("locked took %d\n", (int) taken.pid);
  else
    printf ("locked\n");
  fflush (stdout);
  while (hold && access (hold, F_OK) < 0)
    usleep (20000);
  printf ("lost=%d\n", ferry_state_lock_lost (l) ? 1 : 0);
  fflush (stdout);
  ferry_state_lock_release (l);
  return 0;
}

/* Append three events for each of N VMs. */
static int
cmd_fill (struct ferry_state *st, long n)
{
  static const enum ferry_event evs[] = {
      FERRY_EVENT_BEGIN, FERRY_EVENT_CHECKPOINT, FERRY_EVENT_DONE};
  struct ferry_err err = {0};
  char step[64];
  long i;
  size_t k;

  for (i = 0; i < n; i++)
    for (k = 0; k < 3; k++) {
      struct ferry_journal_entry e = {
          .step = step, .event = evs[k], .offset = 1048576, .ident = "x"};

      snprintf (step, sizeof step, "vm%04ld/convert/disk0", i);
      if (ferry_state_append (st, &e, &err) < 0) {
        fprintf (stderr, "state-tool: %s\n", err.msg);
        return 1;
      }
    }
  return 0;
}

int
main (int argc, char **argv)
{
  struct ferry_state_cfg cfg = {.backend = FERRY_STATE_RADOS};
  struct ferry_lock_scope scope;
  struct ferry_lock_owner o;
  struct ferry_state *st = NULL;
  struct ferry_err err = {0};
  const char *cmd;
  long long t0;
  size_t bad;
  int r = 2, k;

  if (argc < 3) {
    fprintf (stderr, "usage: state-tool OBJECT COMMAND...\n");
    return 2;
  }
  cfg.object = argv[1];
  cfg.pool = getenv ("FERRY_TEST_RADOS_POOL");
  cfg.conf = getenv ("FERRY_TEST_RADOS_CONF");
  cmd = argv[2];
  t0 = now_ms ();
  if (ferry_state_open (&cfg, strcmp (cmd, "fill") != 0, &st, &err) < 0) {
    fprintf (stderr, "state-tool: %s\n", err.msg);
    return 2;
  }
  if (strcmp (cmd, "replay") == 0) {
    bad = ferry_state_bad_lines (st, NULL);
    printf ("steps=%zu bad=%zu ms=%lld\n", ferry_state_count (st), bad,
            now_ms () - t0);
    r = 0;
  } else if (strcmp (cmd, "fill") == 0 && argc == 4)
    r = cmd_fill (st, atol (argv[3]));
  else if (argc >= 4 && parse_scope (argv[3], &scope)) {
    if (strcmp (cmd, "lock") == 0)
      r = cmd_lock (st, &scope, argc - 4, argv + 4);
    else if (strcmp (cmd, "read") == 0) {
      k = ferry_state_lock_read (st, &scope, &o, &err);
      if (k == 1)
        printf ("held pid=%d host=%s version=%s\n", (int) o.pid, o.host,
                o.version);
      else if (k == 0)
        printf ("free\n");
      else
        printf ("error: %s\n", err.msg);
      r = k < 0;
    } else if (strcmp (cmd, "break") == 0) {
      bool force = argc > 4 && strcmp (argv[4], "--force") == 0;

      k = ferry_state_lock_break (st, &scope, force, &o, &err);
      if (k == 1)
        printf ("removed pid=%d\n", (int) o.pid);
      else if (k == 0)
        printf ("none\n");
      else
        printf ("refused: %s\n", err.msg);
      r = k < 0;
    }
  }
  if (r == 2)
    fprintf (stderr, "state-tool: bad command\n");
  ferry_state_close (st);
  return r;
}
