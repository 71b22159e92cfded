/* The state interface's test suite: the same cases run over every backend
 * (file, memory, and rados when FERRY_TEST_RADOS_CONF (a ceph.conf) and
 * FERRY_TEST_RADOS_POOL are set: tests/t/31-state-rados.t starts a Ceph
 * for it), so that a backend passes only if it keeps the contract of
 * state/state.h.  Cases that only make sense for one backend (torn lines
 * in a file, lock file names, races between processes) follow. */
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
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>

#include "state/state.h"
#include "util/cleanup.h"

/* One backend under test; the prestate of every case. */
struct backend {
  const char *name;              /* its name, for messages */
  enum ferry_state_backend kind; /* cfg.backend */
};

static struct backend file_backend = {"file", FERRY_STATE_FILE};
static struct backend memory_backend = {"memory", FERRY_STATE_MEMORY};
static struct backend rados_backend = {"rados", FERRY_STATE_RADOS};

/* A fresh place per case: a scratch directory (file) or name (memory). */
struct fixture {
  const struct backend *b;    /* which backend */
  char dir[64];               /* scratch directory */
  char path[128];             /* cfg.path: dir/sub/plan.state */
  char object[128];           /* cfg.object (rados): unique per case */
  struct ferry_state_cfg cfg; /* what ferry_state_open gets */
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);
  static unsigned serial;

  assert_non_null (f);
  f->b = *state;
  strcpy (f->dir, "/tmp/ferry-test-state.XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  /* memory store names are unique per case too: stores outlive a case */
  snprintf (f->path, sizeof f->path, "%s/sub/plan-%u.state", f->dir, serial++);
  f->cfg.backend = f->b->kind;
  f->cfg.path = f->path;
  if (f->b->kind == FERRY_STATE_RADOS) {
    snprintf (f->object, sizeof f->object, "test-state-%d-%u-%ld",
              (int) getpid (), serial, (long) time (NULL));
    f->cfg.path = NULL;
    f->cfg.object = f->object;
    f->cfg.pool = getenv ("FERRY_TEST_RADOS_POOL");
    f->cfg.conf = getenv ("FERRY_TEST_RADOS_CONF");
  }
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

/* Open the fixture's state or fail the case with the error. */
static struct ferry_state *
open_state (struct fixture *f, bool readonly)
{
  struct ferry_state *st = NULL;
  struct ferry_err err = {0};

  if (ferry_state_open (&f->cfg, readonly, &st, &err) < 0)
    fail_msg ("%s: open: %s", f->b->name, err.msg);
  assert_string_equal (ferry_state_backend (st), f->b->name);
  return st;
}

/* Append one event or fail the case. */
static void
append (struct ferry_state *st, const char *step, enum ferry_event ev,
        uint64_t offset, const char *id, const char *ident)
{
  struct ferry_journal_entry e = {.step = step,
                                  .event = ev,
                                  .offset = offset,
                                  .id = id,
                                  .ident = ident,
                                  .msg = ev == FERRY_EVENT_FAIL ? id : NULL};
  struct ferry_err err = {0};

  if (ferry_state_append (st, &e, &err) < 0)
    fail_msg ("append %s: %s", step, err.msg);
}

/* assert_string_equal that also accepts two NULLs. */
static void
same_str (const char *got, const char *want)
{
  if (want == NULL) {
    if (got != NULL)
      fail_msg ("got '%s', want NULL", got);
    return;
  }
  assert_non_null (got);
  assert_string_equal (got, want);
}

static void
this_host (char *buf, size_t len)
{
  memset (buf, 0, len);
  assert_int_equal (gethostname (buf, len - 1), 0);
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

/* Rados: assert how many of the fixture's objects exist (the plan object,
 * O.journal and O.vm.web01), asking the cluster directly. */
static void
rados_objects (struct fixture *f, int want)
{
  const char *suffix[] = {"", ".journal", ".vm.web01"};
  rados_t cluster = NULL;
  rados_ioctx_t io = NULL;
  char oid[256];
  uint64_t size;
  int i, n = 0;

  assert_int_equal (rados_create2 (&cluster, "ceph", "client.admin", 0), 0);
  assert_int_equal (rados_conf_read_file (cluster, f->cfg.conf), 0);
  assert_int_equal (rados_connect (cluster), 0);
  assert_int_equal (rados_ioctx_create (cluster, f->cfg.pool, &io), 0);
  for (i = 0; i < 3; i++) {
    snprintf (oid, sizeof oid, "%s%s", f->object, suffix[i]);
    n += rados_stat (io, oid, &size, NULL) == 0;
  }
  rados_ioctx_destroy (io);
  rados_shutdown (cluster);
  assert_int_equal (n, want);
}

/* Events appended come back, in order of first appearance, after close
 * and reopen (read-only too), and a read-only state refuses appends. */
static void
test_append_replay (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  const struct ferry_step_record *r;
  struct ferry_journal_entry e = {.step = "x", .event = FERRY_EVENT_BEGIN};
  struct ferry_err err = {0};
  int round;

  assert_int_equal (ferry_state_count (st), 0);
  append (st, "web01/volume/disk0", FERRY_EVENT_BEGIN, 0, NULL, NULL);
  append (st, "web01/volume/disk0", FERRY_EVENT_CREATED, 0, "vol-1", NULL);
  append (st, "web01/volume/disk0", FERRY_EVENT_CREATED, 0, "vol-2", NULL);
  append (st, "web01/volume/disk0", FERRY_EVENT_CREATED, 0, "vol-1", NULL);
  append (st, "web01/convert/disk0", FERRY_EVENT_BEGIN, 0, NULL, NULL);
  append (st, "web01/convert/disk0", FERRY_EVENT_CHECKPOINT, 1048576, NULL,
          "src=a.vmdk:cid=1234");
  append (st, "web01/convert/disk0", FERRY_EVENT_FAIL, 0, "no space", NULL);
  append (st, "web01/volume/disk0", FERRY_EVENT_DONE, 0, NULL, "vol=vol-2");

  for (round = 0; round < 3; round++) {
    /* 0: as appended, 1: replayed read-write, 2: replayed read-only */
    assert_int_equal (ferry_state_count (st), 2);
    assert_int_equal (ferry_state_bad_lines (st, NULL), 0);
    r = ferry_state_at (st, 0);
    assert_string_equal (r->step, "web01/volume/disk0");
    assert_ptr_equal (ferry_state_step (st, "web01/volume/disk0"), r);
    assert_int_equal (r->last, FERRY_EVENT_DONE);
    assert_int_equal (r->n_created, 2);
    assert_string_equal (r->created[0], "vol-1");
    assert_string_equal (r->created[1], "vol-2");
    same_str (r->done_ident, "vol=vol-2");
    r = ferry_state_at (st, 1);
    assert_string_equal (r->step, "web01/convert/disk0");
    assert_int_equal (r->last, FERRY_EVENT_FAIL);
    assert_true (r->has_checkpoint);
    assert_int_equal (r->checkpoint, 1048576);
    same_str (r->checkpoint_ident, "src=a.vmdk:cid=1234");
    same_str (r->msg, "no space");
    assert_true (r->time_ms > 1700000000000);
    assert_null (ferry_state_at (st, 2));
    assert_null (ferry_state_step (st, "web02/convert/disk0"));
    ferry_state_close (st);
    st = open_state (f, round >= 1);
  }
  /* read-only refuses appends and changes nothing */
  assert_int_equal (ferry_state_append (st, &e, &err), -1);
  assert_int_equal (err.errnum, EBADF);
  assert_non_null (strstr (err.msg, "read-only"));
  assert_int_equal (ferry_state_count (st), 2);
  ferry_state_close (st);
  ferry_state_close (NULL);
}

/* A state that does not exist opens read-only as empty, creating
 * nothing. */
static void
test_missing_readonly (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, true);

  assert_int_equal (ferry_state_count (st), 0);
  ferry_state_close (st);
  st = open_state (f, true);
  assert_int_equal (ferry_state_count (st), 0);
  ferry_state_close (st);
  if (f->b->kind == FERRY_STATE_FILE)
    assert_int_equal (access (f->path, F_OK), -1);
  if (f->b->kind == FERRY_STATE_RADOS) {
    rados_objects (f, 0);
    /* a read-write open creates nothing either until something is
     * appended; the first append lists its VM in the plan object */
    st = open_state (f, false);
    rados_objects (f, 0);
    append (st, "web01/convert/disk0", FERRY_EVENT_BEGIN, 0, NULL, NULL);
    append (st, "@plan", FERRY_EVENT_DONE, 0, NULL, "/x/plan.yaml");
    ferry_state_close (st);
    rados_objects (f, 3);
  }
}

/* The fold: a checkpoint and its identity survive BEGIN and FAIL, each
 * checkpoint replaces both (no ident: NULL), DONE resets them and records
 * its own identity, which survives the next BEGIN/FAIL and is replaced by
 * the next DONE.  Same after replay. */
static void
test_fold_semantics (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  const struct ferry_step_record *r;
  const char *s = "db01/convert/disk1";
  int round;

  append (st, s, FERRY_EVENT_BEGIN, 0, NULL, NULL);
  append (st, s, FERRY_EVENT_CHECKPOINT, 4096, NULL, "A");
  append (st, s, FERRY_EVENT_FAIL, 0, "killed", NULL);
  append (st, s, FERRY_EVENT_BEGIN, 0, NULL, NULL);
  r = ferry_state_step (st, s);
  assert_int_equal (r->last, FERRY_EVENT_BEGIN);
  assert_true (r->has_checkpoint);
  assert_int_equal (r->checkpoint, 4096);
  same_str (r->checkpoint_ident, "A");
  same_str (r->done_ident, NULL);
  same_str (r->msg, "killed");

  append (st, s, FERRY_EVENT_CHECKPOINT, 8192, NULL, NULL);
  assert_int_equal (r->checkpoint, 8192);
  same_str (r->checkpoint_ident, NULL);
  append (st, s, FERRY_EVENT_CHECKPOINT, 12288, NULL, "B");
  append (st, s, FERRY_EVENT_DONE, 0, NULL, "B-done");
  assert_int_equal (r->last, FERRY_EVENT_DONE);
  assert_false (r->has_checkpoint);
  assert_int_equal (r->checkpoint, 0);
  same_str (r->checkpoint_ident, NULL);
  same_str (r->done_ident, "B-done");

  append (st, s, FERRY_EVENT_BEGIN, 0, NULL, NULL);
  append (st, s, FERRY_EVENT_CHECKPOINT, 512, NULL, "C");
  append (st, s, FERRY_EVENT_FAIL, 0, "again", NULL);
  for (round = 0; round < 2; round++) {
    r = ferry_state_step (st, s);
    assert_non_null (r);
    assert_int_equal (r->last, FERRY_EVENT_FAIL);
    assert_int_equal (r->checkpoint, 512);
    same_str (r->checkpoint_ident, "C");
    same_str (r->done_ident, "B-done");
    ferry_state_close (st);
    st = open_state (f, true);
  }
  ferry_state_close (st);

  /* a DONE without identity (the engine's, after the module's own DONE
   * that carried one) keeps the identity of what was done */
  st = open_state (f, false);
  append (st, s, FERRY_EVENT_DONE, 0, NULL, NULL);
  r = ferry_state_step (st, s);
  same_str (r->done_ident, "B-done");
  same_str (r->checkpoint_ident, NULL);
  ferry_state_close (st);
}

/* Entries out of bounds are refused before anything is stored. */
static void
test_refused_entries (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  struct ferry_journal_entry e = {.step = "s",
                                  .event = FERRY_EVENT_CHECKPOINT,
                                  .offset = 1,
                                  .ident = "line\nbreak"};
  struct ferry_err err = {0};
  char *big = malloc (9000);

  assert_non_null (big);
  assert_int_equal (ferry_state_append (st, &e, &err), -1);
  assert_non_null (strstr (err.msg, "identity"));
  memset (big, 'x', 8999);
  big[8999] = '\0';
  e.ident = big;
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_append (st, &e, &err), -1);
  e.ident = NULL;
  e.step = "";
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_append (st, &e, &err), -1);
  assert_int_equal (ferry_state_count (st), 0);
  ferry_state_close (st);
  st = open_state (f, true);
  assert_int_equal (ferry_state_count (st), 0);
  assert_int_equal (ferry_state_bad_lines (st, NULL), 0);
  ferry_state_close (st);
  free (big);
}

/* Locks are exclusive per scope; the plan scope and each VM scope are
 * independent; a released lock can be taken again. */
static void
test_lock_exclusive (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  struct ferry_state *st2 = open_state (f, false);
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN,
                                        .vm = NULL};
  const struct ferry_lock_scope web01 = {.kind = FERRY_LOCK_SCOPE_VM,
                                         .vm = "web01"};
  const struct ferry_lock_scope web02 = {.kind = FERRY_LOCK_SCOPE_VM,
                                         .vm = "web02"};
  const struct ferry_lock_scope novm = {.kind = FERRY_LOCK_SCOPE_VM, .vm = ""};
  struct ferry_state_lock *lp = NULL, *l1 = NULL, *l2 = NULL, *x = NULL;
  struct ferry_err err = {0};
  char want[64];

  assert_int_equal (ferry_state_lock_acquire (st, &plan, 0, &lp, NULL, &err),
                    0);
  /* a lock just taken is ours (rados: renewed; the others never lose one) */
  assert_false (ferry_state_lock_lost (lp));
  assert_false (ferry_state_lock_lost (NULL));
  /* the same scope, from another open of the same state */
  assert_int_equal (ferry_state_lock_acquire (st2, &plan, 0, &x, NULL, &err),
                    -1);
  assert_null (x);
  assert_int_equal (err.errnum, EBUSY);
  snprintf (want, sizeof want, "plan is locked by pid %d on host",
            (int) getpid ());
  if (strstr (err.msg, want) == NULL)
    fail_msg ("message: %s", err.msg);
  /* the stale-takeover flag does not take a live lock */
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st2, &plan, FERRY_LOCK_TAKE_STALE,
                                              &x, NULL, &err),
                    -1);
  assert_int_equal (err.errnum, EBUSY);

  /* VM scopes: independent of the plan and of each other */
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st2, &web01, 0, &l1, NULL, &err),
                    0);
  assert_int_equal (ferry_state_lock_acquire (st, &web01, 0, &x, NULL, &err),
                    -1);
  assert_int_equal (err.errnum, EBUSY);
  assert_non_null (strstr (err.msg, "vm 'web01' is locked by pid"));
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st, &web02, 0, &l2, NULL, &err),
                    0);
  assert_int_equal (ferry_state_lock_acquire (st, &novm, 0, &x, NULL, &err),
                    -1);
  assert_int_equal (err.errnum, EINVAL);

  /* release: only that scope is free again */
  ferry_state_lock_release (l1);
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st, &web01, 0, &l1, NULL, &err),
                    0);
  assert_int_equal (ferry_state_lock_acquire (st, &plan, 0, &x, NULL, &err),
                    -1);
  /* locks outlive the state that took them */
  ferry_state_close (st);
  ferry_state_close (st2);
  st = open_state (f, false);
  ferry_state_lock_release (lp);
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st, &plan, 0, &lp, NULL, &err),
                    0);
  ferry_state_lock_release (lp);
  ferry_state_lock_release (l1);
  ferry_state_lock_release (l2);
  ferry_state_lock_release (NULL);
  assert_int_equal (ferry_state_lock_read (st, &plan, NULL, &err), 0);
  assert_int_equal (ferry_state_lock_read (st, &web01, NULL, &err), 0);
  ferry_state_close (st);
}

/* The wave lock: shares under one tag coexist, another tag is refused
 * (FERRY_LOCK_ETAG) while a share is held, exclusive excludes everything,
 * and a new wave may bring a new tag.  Independent of the plan lock. */
static void
test_lock_wave (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  struct ferry_state *st2 = open_state (f, false);
  struct ferry_state *st3 = open_state (f, false);
  struct ferry_lock_scope aaa = {.kind = FERRY_LOCK_SCOPE_WAVE, .tag = "aaa1"};
  struct ferry_lock_scope bbb = {.kind = FERRY_LOCK_SCOPE_WAVE, .tag = "bbb2"};
  const struct ferry_lock_scope ex = {.kind = FERRY_LOCK_SCOPE_WAVE};
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN};
  struct ferry_lock_scope bad = {.kind = FERRY_LOCK_SCOPE_WAVE, .tag = "a b"};
  struct ferry_state_lock *a1 = NULL, *a2 = NULL, *b = NULL, *x = NULL,
                          *lp = NULL, *y = NULL;
  struct ferry_err err = {0};

  /* two shares under one tag */
  assert_int_equal (
      ferry_state_lock_acquire (st, &aaa, FERRY_LOCK_SHARED, &a1, NULL, &err),
      0);
  assert_int_equal (
      ferry_state_lock_acquire (st2, &aaa, FERRY_LOCK_SHARED, &a2, NULL, &err),
      0);
  /* another tag: refused, naming the holders' tag */
  assert_int_equal (
      ferry_state_lock_acquire (
          st3, &bbb, FERRY_LOCK_SHARED | FERRY_LOCK_TAKE_STALE, &y, NULL, &err),
      -1);
  assert_null (y);
  assert_int_equal (err.errnum, FERRY_LOCK_ETAG);
  if (strstr (err.msg, "aaa1") == NULL)
    fail_msg ("message: %s", err.msg);
  /* exclusive: refused while any share is held */
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st3, &ex, FERRY_LOCK_TAKE_STALE,
                                              &x, NULL, &err),
                    -1);
  assert_int_equal (err.errnum, EBUSY);
  ferry_state_lock_release (a1);
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st3, &ex, 0, &x, NULL, &err), -1);
  assert_int_equal (err.errnum, EBUSY);
  ferry_state_lock_release (a2);
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st3, &ex, 0, &x, NULL, &err), 0);
  /* held exclusively: no share, whatever its tag; no second exclusive */
  assert_int_equal (
      ferry_state_lock_acquire (st, &aaa, FERRY_LOCK_SHARED, &y, NULL, &err),
      -1);
  assert_int_equal (err.errnum, EBUSY);
  ferry_err_clear (&err);
  assert_int_equal (
      ferry_state_lock_acquire (st, &bbb, FERRY_LOCK_SHARED, &y, NULL, &err),
      -1);
  assert_int_equal (err.errnum, EBUSY);
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st2, &ex, 0, &y, NULL, &err), -1);
  assert_int_equal (err.errnum, EBUSY);
  /* the plan lock is another scope */
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st, &plan, 0, &lp, NULL, &err),
                    0);
  ferry_state_lock_release (x);
  /* a new wave, a new tag; the old tag is then the one refused */
  assert_int_equal (
      ferry_state_lock_acquire (st, &bbb, FERRY_LOCK_SHARED, &b, NULL, &err),
      0);
  assert_int_equal (
      ferry_state_lock_acquire (st2, &aaa, FERRY_LOCK_SHARED, &y, NULL, &err),
      -1);
  assert_int_equal (err.errnum, FERRY_LOCK_ETAG);
  if (strstr (err.msg, "bbb2") == NULL)
    fail_msg ("message: %s", err.msg);
  ferry_state_lock_release (b);
  ferry_state_lock_release (lp);
  /* only the wave is shared, a share needs a tag of letters and digits, and
   * the wave lock is not read or broken by hand */
  ferry_err_clear (&err);
  assert_int_equal (
      ferry_state_lock_acquire (st, &plan, FERRY_LOCK_SHARED, &y, NULL, &err),
      -1);
  assert_int_equal (err.errnum, EINVAL);
  assert_int_equal (
      ferry_state_lock_acquire (st, &bad, FERRY_LOCK_SHARED, &y, NULL, &err),
      -1);
  assert_int_equal (err.errnum, EINVAL);
  bad.tag = NULL;
  assert_int_equal (
      ferry_state_lock_acquire (st, &bad, FERRY_LOCK_SHARED, &y, NULL, &err),
      -1);
  assert_int_equal (err.errnum, EINVAL);
  assert_int_equal (ferry_state_lock_read (st, &ex, NULL, &err), -1);
  assert_int_equal (err.errnum, EINVAL);
  assert_int_equal (ferry_state_lock_break (st, &ex, true, NULL, &err), -1);
  assert_int_equal (err.errnum, EINVAL);
  /* free again: an exclusive lock is taken at once */
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st3, &ex, 0, &x, NULL, &err), 0);
  ferry_state_lock_release (x);
  ferry_state_close (st);
  ferry_state_close (st2);
  ferry_state_close (st3);
}

/* The owner record reads back as written, from another open. */
static void
test_lock_owner (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  struct ferry_state *ro;
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN,
                                        .vm = NULL};
  const struct ferry_lock_scope vm = {.kind = FERRY_LOCK_SCOPE_VM,
                                      .vm = "db 01/x"};
  const struct ferry_lock_owner as = {
      .host = "migr01", .pid = 4242, .started = 1795466460, .version = "0.0.9"};
  struct ferry_state_lock *l = NULL, *lv = NULL, *lv2 = NULL;
  struct ferry_lock_owner o;
  struct ferry_err err = {0};
  char host[256];

  assert_int_equal (
      ferry_state_lock_acquire_as (st, &vm, &as, 0, &lv, NULL, &err), 0);
  assert_int_equal (ferry_state_lock_acquire (st, &plan, 0, &l, NULL, &err), 0);
  ro = open_state (f, true);
  memset (&o, 0, sizeof o);
  assert_int_equal (ferry_state_lock_read (ro, &vm, &o, &err), 1);
  assert_string_equal (o.host, "migr01");
  assert_int_equal (o.pid, 4242);
  assert_int_equal (o.started, 1795466460);
  assert_string_equal (o.version, "0.0.9");
  assert_int_equal (ferry_state_lock_read (ro, &plan, &o, &err), 1);
  this_host (host, sizeof host);
  assert_string_equal (o.host, host);
  assert_int_equal (o.pid, getpid ());
  assert_string_equal (o.version, FERRY_VERSION);
  assert_true (o.started > 1700000000);
  /* locks work through a read-only open (ferry unlock, status) */
  assert_int_equal (ferry_state_lock_acquire (ro, &vm, 0, &l, NULL, &err), -1);
  assert_int_equal (err.errnum, EBUSY);
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_break (ro, &vm, true, &o, &err), 1);
  assert_int_equal (o.pid, 4242);
  assert_int_equal (ferry_state_lock_acquire (ro, &vm, 0, &lv2, NULL, &err), 0);
  ferry_state_lock_release (lv2);
  ferry_state_lock_release (l);
  ferry_state_lock_release (lv);
  assert_int_equal (ferry_state_lock_read (ro, &vm, &o, &err), 0);
  assert_int_equal (ferry_state_lock_read (ro, &plan, &o, &err), 0);
  ferry_state_close (ro);
  ferry_state_close (st);
}

/* Break: a live lock is refused without force and removed with it; a
 * stale one (dead pid on this host) is removed and can be taken over; a
 * dead pid on another host is not known to be dead.  A lock broken and
 * retaken is not removed by its old holder's release. */
static void
test_lock_break (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN,
                                        .vm = NULL};
  const struct ferry_lock_scope vm = {.kind = FERRY_LOCK_SCOPE_VM,
                                      .vm = "web01"};
  struct ferry_lock_owner dead = {.started = 1795466460, .version = "0.0.9"};
  struct ferry_lock_owner o, taken;
  struct ferry_state_lock *live = NULL, *stale = NULL, *l = NULL;
  struct ferry_err err = {0};

  this_host (dead.host, sizeof dead.host);
  dead.pid = dead_pid ();

  /* live: refused, then forced */
  assert_int_equal (ferry_state_lock_acquire (st, &plan, 0, &live, NULL, &err),
                    0);
  assert_int_equal (ferry_state_lock_break (st, &plan, false, &o, &err), -1);
  assert_int_equal (err.errnum, EBUSY);
  assert_non_null (strstr (err.msg, "--force"));
  assert_int_equal (ferry_state_lock_read (st, &plan, &o, &err), 1);
  ferry_err_clear (&err);
  memset (&o, 0, sizeof o);
  assert_int_equal (ferry_state_lock_break (st, &plan, true, &o, &err), 1);
  assert_int_equal (o.pid, getpid ());
  assert_int_equal (ferry_state_lock_break (st, &plan, true, &o, &err), 0);
  /* somebody else takes it; the old holder's release leaves it alone */
  assert_int_equal (ferry_state_lock_acquire (st, &plan, 0, &l, NULL, &err), 0);
  ferry_state_lock_release (live);
  assert_int_equal (ferry_state_lock_read (st, &plan, &o, &err), 1);
  ferry_state_lock_release (l);
  assert_int_equal (ferry_state_lock_read (st, &plan, &o, &err), 0);

  /* stale: a crashed run's lock (never released) */
  assert_int_equal (
      ferry_state_lock_acquire_as (st, &vm, &dead, 0, &stale, NULL, &err), 0);
  assert_int_equal (ferry_state_lock_acquire (st, &vm, 0, &l, NULL, &err), -1);
  assert_int_equal (err.errnum, EBUSY);
  assert_non_null (strstr (err.msg, "(ferry 0.0.9)"));
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st, &vm, FERRY_LOCK_TAKE_STALE,
                                              &l, &taken, &err),
                    0);
  assert_int_equal (taken.pid, dead.pid);
  assert_string_equal (taken.version, "0.0.9");
  ferry_state_lock_release (stale); /* the dead run's handle: no effect */
  assert_int_equal (ferry_state_lock_read (st, &vm, &o, &err), 1);
  assert_int_equal (o.pid, getpid ());
  ferry_state_lock_release (l);

  /* taking a free lock with the flag takes over nobody */
  assert_int_equal (ferry_state_lock_acquire (st, &vm, FERRY_LOCK_TAKE_STALE,
                                              &l, &taken, &err),
                    0);
  assert_int_equal (taken.pid, 0);
  ferry_state_lock_release (l);

  /* unlock without force removes a stale lock, naming its owner */
  assert_int_equal (
      ferry_state_lock_acquire_as (st, &plan, &dead, 0, &stale, NULL, &err), 0);
  memset (&o, 0, sizeof o);
  assert_int_equal (ferry_state_lock_break (st, &plan, false, &o, &err), 1);
  assert_int_equal (o.pid, dead.pid);
  assert_int_equal (ferry_state_lock_read (st, &plan, &o, &err), 0);
  ferry_state_lock_release (stale);

  /* a dead pid elsewhere: not stale, not taken over */
  strcat (dead.host, "-elsewhere");
  assert_int_equal (
      ferry_state_lock_acquire_as (st, &plan, &dead, 0, &stale, NULL, &err), 0);
  assert_int_equal (ferry_state_lock_break (st, &plan, false, &o, &err), -1);
  assert_int_equal (err.errnum, EBUSY);
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_lock_acquire (st, &plan, FERRY_LOCK_TAKE_STALE,
                                              &l, NULL, &err),
                    -1);
  assert_int_equal (err.errnum, EBUSY);
  ferry_state_lock_release (stale);
  assert_int_equal (ferry_state_lock_read (st, &plan, &o, &err), 0);
  ferry_state_close (st);
}

/* The backend is chosen by the state block: rados needs a pool; a value
 * out of range is refused. */
static void
test_backend_choice (void **state)
{
  struct ferry_state_cfg cfg = {.backend = FERRY_STATE_RADOS,
                                .object = (char *) "x"};
  struct ferry_state *st = NULL;
  struct ferry_err err = {0};

  (void) state;
  assert_int_equal (ferry_state_open (&cfg, false, &st, &err), -1);
  assert_null (st);
  assert_non_null (strstr (err.msg, "the rados backend needs a pool"));
  cfg.backend = FERRY_STATE_BACKEND_LAST;
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_open (&cfg, false, &st, &err), -1);
  assert_non_null (strstr (err.msg, "unknown state backend 3"));
  cfg.backend = FERRY_STATE_FILE;
  cfg.path = NULL;
  ferry_err_clear (&err);
  assert_int_equal (ferry_state_open (&cfg, false, &st, &err), -1);
  assert_non_null (strstr (err.msg, "needs a path"));
  assert_string_equal (ferry_state_backend_name (FERRY_STATE_RADOS), "rados");
  assert_int_equal (ferry_state_backend_from_name ("memory"),
                    FERRY_STATE_MEMORY);
  assert_null (ferry_state_backend_name (FERRY_STATE_BACKEND_LAST));
  assert_int_equal (ferry_state_backend_from_name ("x"), -1);
  assert_string_equal (ferry_lock_scope_name (FERRY_LOCK_SCOPE_VM), "vm");
  assert_int_equal (ferry_lock_scope_from_name ("plan"), FERRY_LOCK_SCOPE_PLAN);
}

/* Write TEXT at the end of PATH. */
static void
append_text (const char *path, const char *text)
{
  FILE *fp = fopen (path, "a");

  assert_non_null (fp);
  fputs (text, fp);
  assert_int_equal (fclose (fp), 0);
}

/* File backend: a torn last line is skipped and counted; the next append
 * ends it, so the file replays with the torn line skipped and everything
 * else kept.  Lines from before "ident" existed still replay; an "ident"
 * that is not a string makes a line bad. */
static void
test_file_torn_and_old_lines (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  const struct ferry_step_record *r;
  size_t first = 0;

  append (st, "a", FERRY_EVENT_BEGIN, 0, NULL, NULL);
  ferry_state_close (st);
  append_text (f->path,
               "{\"time\":\"2026-11-23T20:41:00.000Z\",\"time_ms\":"
               "1795466460000,\"step\":\"old\",\"event\":\"checkpoint\","
               "\"offset\":65536}\n"
               "{\"time_ms\":1795466460001,\"step\":\"old\",\"event\":"
               "\"checkpoint\",\"offset\":131072,\"ident\":5}\n"
               "{\"time_ms\":1795466460002,\"step\":\"a\",\"event\":\"done\","
               "\"ident\":\"x\"");
  st = open_state (f, false);
  assert_int_equal (ferry_state_bad_lines (st, &first), 2);
  assert_int_equal (first, 3);
  r = ferry_state_step (st, "old");
  assert_non_null (r);
  assert_int_equal (r->checkpoint, 65536);
  same_str (r->checkpoint_ident, NULL);
  r = ferry_state_step (st, "a");
  assert_int_equal (r->last, FERRY_EVENT_BEGIN);
  same_str (r->done_ident, NULL);
  append (st, "a", FERRY_EVENT_DONE, 0, NULL, "y");
  ferry_state_close (st);
  {
    /* on disk the identity is the line's "ident" string */
    char line[4096] = "";
    FILE *fp = fopen (f->path, "r");
    bool found = false;

    assert_non_null (fp);
    while (fgets (line, sizeof line, fp))
      found |= strstr (line, "\"step\":\"a\",\"event\":\"done\"") &&
               strstr (line, "\"ident\":\"y\"}\n");
    fclose (fp);
    assert_true (found);
  }

  st = open_state (f, true);
  assert_int_equal (ferry_state_bad_lines (st, &first), 2);
  r = ferry_state_step (st, "a");
  assert_int_equal (r->last, FERRY_EVENT_DONE);
  same_str (r->done_ident, "y");
  ferry_state_close (st);
}

/* File backend: the lock files live where main.c and earlier versions
 * put them ("<state>.lock"), one per VM beside it, names escaped. */
static void
test_file_lock_paths (void **state)
{
  struct fixture *f = *state;
  struct ferry_state *st = open_state (f, false);
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN,
                                        .vm = NULL};
  const struct ferry_lock_scope vm = {.kind = FERRY_LOCK_SCOPE_VM,
                                      .vm = "web/01 x%"};
  struct ferry_state_lock *lp = NULL, *lv = NULL;
  struct ferry_err err = {0};
  char want[256];
  char *p;

  p = ferry_state_file_lock_path (f->path, &plan);
  snprintf (want, sizeof want, "%s.lock", f->path);
  assert_string_equal (p, want);
  free (p);
  p = ferry_state_file_lock_path (f->path, &vm);
  snprintf (want, sizeof want, "%s.vm.web%%2f01%%20x%%25.lock", f->path);
  assert_string_equal (p, want);
  free (p);

  assert_int_equal (ferry_state_lock_acquire (st, &plan, 0, &lp, NULL, &err),
                    0);
  assert_int_equal (ferry_state_lock_acquire (st, &vm, 0, &lv, NULL, &err), 0);
  assert_int_equal (access (want, F_OK), 0);
  snprintf (want, sizeof want, "%s.lock", f->path);
  assert_int_equal (access (want, F_OK), 0);
  ferry_state_lock_release (lp);
  assert_int_equal (access (want, F_OK), -1);
  ferry_state_lock_release (lv);
  ferry_state_close (st);
}

#define RACE_ROUNDS 100
#define RACE_TAKERS 5

/* File backend, through the interface: several processes, each with its
 * own open state, take over the same stale plan lock at once with
 * FERRY_LOCK_TAKE_STALE; exactly one wins each round. */
static void
test_file_takeover_race (void **state)
{
  struct fixture *f = *state;
  const struct ferry_lock_scope plan = {.kind = FERRY_LOCK_SCOPE_PLAN,
                                        .vm = NULL};
  struct ferry_lock_owner dead = {.started = 1795466460, .version = "0.0.9"};
  struct ferry_state *st = open_state (f, false);
  struct ferry_err err = {0};
  int round, i, bad = 0;

  this_host (dead.host, sizeof dead.host);
  dead.pid = dead_pid ();
  for (round = 0; round < RACE_ROUNDS; round++) {
    struct ferry_state_lock *stale = NULL;
    int go[2], result[2], hold[2], winners = 0;
    pid_t kids[RACE_TAKERS];
    char c;

    assert_int_equal (
        ferry_state_lock_acquire_as (st, &plan, &dead, 0, &stale, NULL, &err),
        0);
    assert_int_equal (pipe (go), 0);
    assert_int_equal (pipe (result), 0);
    assert_int_equal (pipe (hold), 0);
    for (i = 0; i < RACE_TAKERS; i++) {
      kids[i] = fork ();
      assert_true (kids[i] >= 0);
      if (kids[i] == 0) {
        struct ferry_state *mine = NULL;
        struct ferry_state_lock *l = NULL;
        char won = 'E';

        close (go[1]);
        close (result[0]);
        close (hold[1]);
        if (ferry_state_open (&f->cfg, false, &mine, NULL) == 0 &&
            read (go[0], &c, 1) >= 0)
          won = ferry_state_lock_acquire (mine, &plan, FERRY_LOCK_TAKE_STALE,
                                          &l, NULL, NULL) == 0
                    ? 'W'
                    : 'L';
        if (write (result[1], &won, 1) != 1 || read (hold[0], &c, 1) < 0)
          _exit (3);
        ferry_state_lock_release (l);
        ferry_state_close (mine);
        _exit (0);
      }
    }
    close (go[0]);
    close (result[1]);
    close (hold[0]);
    close (go[1]);
    for (i = 0; i < RACE_TAKERS; i++) {
      assert_int_equal (read (result[0], &c, 1), 1);
      assert_true (c != 'E');
      winners += c == 'W';
    }
    close (hold[1]);
    close (result[0]);
    for (i = 0; i < RACE_TAKERS; i++) {
      int status;

      assert_int_equal (waitpid (kids[i], &status, 0), kids[i]);
      assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    bad += winners != 1;
    ferry_state_lock_release (stale); /* gone already: no effect */
    assert_int_equal (ferry_state_lock_read (st, &plan, NULL, &err), 0);
  }
  ferry_state_close (st);
  if (bad)
    fail_msg ("%d of %d rounds did not have exactly one holder", bad,
              RACE_ROUNDS);
}

/* Every shared case, once per backend. */
#define ON(fn, b)                                                              \
  {                                                                            \
#fn " (" #b ")", fn, setup, teardown, &b                                   \
  }
#define EVERY_BACKEND(fn) ON (fn, file_backend), ON (fn, memory_backend)

int
main (void)
{
  const struct CMUnitTest rados_tests[] = {
      ON (test_append_replay, rados_backend),
      ON (test_missing_readonly, rados_backend),
      ON (test_fold_semantics, rados_backend),
      ON (test_refused_entries, rados_backend),
      ON (test_lock_exclusive, rados_backend),
      ON (test_lock_owner, rados_backend),
      ON (test_lock_break, rados_backend),
      ON (test_lock_wave, rados_backend),
  };

  const struct CMUnitTest tests[] = {
      EVERY_BACKEND (test_append_replay),
      EVERY_BACKEND (test_missing_readonly),
      EVERY_BACKEND (test_fold_semantics),
      EVERY_BACKEND (test_refused_entries),
      EVERY_BACKEND (test_lock_exclusive),
      EVERY_BACKEND (test_lock_owner),
      EVERY_BACKEND (test_lock_break),
      EVERY_BACKEND (test_lock_wave),
      cmocka_unit_test (test_backend_choice),
      ON (test_file_torn_and_old_lines, file_backend),
      ON (test_file_lock_paths, file_backend),
      ON (test_file_takeover_race, file_backend),
  };

  const size_t n = FERRY_ARRAY_SIZE (tests),
               nr = FERRY_ARRAY_SIZE (rados_tests);
  struct CMUnitTest
      all[FERRY_ARRAY_SIZE (tests) + FERRY_ARRAY_SIZE (rados_tests)];
  bool rados =
      getenv ("FERRY_TEST_RADOS_CONF") && getenv ("FERRY_TEST_RADOS_POOL");

  /* one group (one TAP plan): the shared cases again over a real pool
   * when there is one */
  memcpy (all, tests, sizeof tests);
  memcpy (all + n, rados_tests, sizeof rados_tests);
  return _cmocka_run_group_tests ("tests", all, n + (rados ? nr : 0), NULL,
                                  NULL);
}
