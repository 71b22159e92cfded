/* The state interface (state.h): choose the backend from the plan's state
 * block, check and order appends, answer lookups from the fold, and hand
 * locks to the backend.  Nothing here knows where state is stored. */
#include "state/state.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"

static const char *const scope_names[] = {
    [FERRY_LOCK_SCOPE_PLAN] = "plan",
    [FERRY_LOCK_SCOPE_VM] = "vm",
    [FERRY_LOCK_SCOPE_WAVE] = "wave",
};
static_assert (FERRY_ARRAY_SIZE (scope_names) == FERRY_LOCK_SCOPE_LAST,
               "scope_names must name every lock scope");

struct ferry_state {
  const struct ferry_state_ops *ops; /* the backend */
  void *data;                        /* the backend's, from ops->open */
  bool readonly;                     /* opened for reading only */
  pthread_mutex_t lock;              /* guards fold and the append order */
  struct ferry_fold *fold;           /* the records */
  struct ferry_state_lock *fence;    /* appends need it held, or NULL */
};

struct ferry_state_lock {
  const struct ferry_state_ops *ops; /* whose release to call */
  void *impl;                        /* the backend's lock */
};

/* The name of lock scope K, or NULL if out of range. */
const char *
ferry_lock_scope_name (enum ferry_lock_scope_kind k)
{
  if ((unsigned) k >= FERRY_LOCK_SCOPE_LAST)
    return NULL;
  return scope_names[k];
}

/* The lock scope called S, or -1. */
int
ferry_lock_scope_from_name (const char *s)
{
  size_t i;

  for (i = 0; s != NULL && i < FERRY_LOCK_SCOPE_LAST; i++)
    if (strcmp (s, scope_names[i]) == 0)
      return (int) i;
  return -1;
}

/* Open the state CFG describes; see state.h. */
int
ferry_state_open (const struct ferry_state_cfg *cfg, bool readonly,
                  struct ferry_state **ret, struct ferry_err *err)
{
  struct ferry_state *st;
  enum ferry_state_backend b = cfg->backend;

  switch (b) {
  case FERRY_STATE_FILE:
  case FERRY_STATE_MEMORY:
  case FERRY_STATE_RADOS:
    break;
  case FERRY_STATE_BACKEND_LAST:
  default:
    return ferry_err_set (err, EINVAL, "unknown state backend %d", (int) b);
  }
  st = calloc (1, sizeof *st);
  if (st == NULL || (st->fold = ferry_fold_new ()) == NULL) {
    free (st);
    return ferry_err_set (err, ENOMEM, "state");
  }
  st->ops = b == FERRY_STATE_FILE    ? &ferry_state_file_ops
            : b == FERRY_STATE_RADOS ? &ferry_state_rados_ops
                                     : &ferry_state_memory_ops;
  st->readonly = readonly;
  pthread_mutex_init (&st->lock, NULL);
  if (st->ops->open (cfg, readonly, st->fold, &st->data, err) < 0) {
    st->ops = NULL; /* nothing to close */
    ferry_state_close (st);
    return -1;
  }
  *ret = st;
  return 0;
}

/* Close ST and free its records; see state.h. */
void
ferry_state_close (struct ferry_state *st)
{
  if (st == NULL)
    return;
  if (st->ops != NULL)
    st->ops->close (st->data);
  ferry_fold_free (st->fold);
  pthread_mutex_destroy (&st->lock);
  free (st);
}

/* The backend's name. */
const char *
ferry_state_backend (const struct ferry_state *st)
{
  return st->ops->name;
}

/* Where the state lives, for messages. */
const char *
ferry_state_where (const struct ferry_state *st)
{
  return st->ops->where (st->data);
}

/* The wall clock in ms since the epoch. */
static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append one event; it is folded in only once the backend made it
 * durable, so the records never claim what a crash would lose. */
int
ferry_state_append (struct ferry_state *st,
                    const struct ferry_journal_entry *in, struct ferry_err *err)
{
  struct ferry_journal_entry e = *in;
  int r = -1;

  if (st->readonly)
    return ferry_err_set (err, EBADF, "%s is open read-only",
                          ferry_state_where (st));
  if (e.time_ms == 0)
    e.time_ms = now_ms ();
  if (ferry_fold_check (&e, err) < 0)
    return -1;
  /* a fenced state stops recording the moment its lock is lost: a step
   * may then not claim a checkpoint or done that another holder owns */
  if (st->fence && ferry_state_lock_lost (st->fence))
    return ferry_err_set (err, ENOLCK,
                          "%s: not recorded: this worker lost the lock that "
                          "guards it (another worker may own it now)",
                          e.step);
  pthread_mutex_lock (&st->lock);
  if (st->ops->append (st->data, &e, err) < 0)
    goto out;
  if (ferry_fold_apply (st->fold, &e) < 0) {
    ferry_err_set (err, ENOMEM, "%s", ferry_state_where (st));
    goto out;
  }
  r = 0;
out:
  pthread_mutex_unlock (&st->lock);
  return r;
}

/* Fence ST's appends with LOCK (see state.h). */
void
ferry_state_set_fence (struct ferry_state *st, struct ferry_state_lock *lock)
{
  st->fence = lock;
}

/* The record of STEP, or NULL. */
const struct ferry_step_record *
ferry_state_step (struct ferry_state *st, const char *step)
{
  const struct ferry_step_record *r;

  pthread_mutex_lock (&st->lock);
  r = ferry_fold_step (st->fold, step);
  pthread_mutex_unlock (&st->lock);
  return r;
}

/* How many steps the journal knows. */
size_t
ferry_state_count (struct ferry_state *st)
{
  size_t n;

  pthread_mutex_lock (&st->lock);
  n = ferry_fold_count (st->fold);
  pthread_mutex_unlock (&st->lock);
  return n;
}

/* The I-th record in order of first appearance, or NULL past the end. */
const struct ferry_step_record *
ferry_state_at (struct ferry_state *st, size_t i)
{
  const struct ferry_step_record *r;

  pthread_mutex_lock (&st->lock);
  r = ferry_fold_at (st->fold, i);
  pthread_mutex_unlock (&st->lock);
  return r;
}

/* Events skipped on replay, and the first one's 1-based number. */
size_t
ferry_state_bad_lines (struct ferry_state *st, size_t *ret_first)
{
  return ferry_fold_bad_lines (st->fold, ret_first);
}

/* Check SCOPE: a VM scope names a VM. */
static int
scope_check (const struct ferry_lock_scope *scope, struct ferry_err *err)
{
  if ((unsigned) scope->kind >= FERRY_LOCK_SCOPE_LAST)
    return ferry_err_set (err, EINVAL, "unknown lock scope %d",
                          (int) scope->kind);
  if (scope->kind == FERRY_LOCK_SCOPE_VM &&
      (scope->vm == NULL || scope->vm[0] == '\0'))
    return ferry_err_set (err, EINVAL, "a vm lock needs the vm's name");
  return 0;
}

/* Check FLAGS and the tag for taking SCOPE: only the wave lock is shared,
 * and a shared one has a tag of 1-64 letters and digits (it travels as a
 * cls_lock tag and a line of a file). */
static int
shared_check (const struct ferry_lock_scope *scope, unsigned flags,
              struct ferry_err *err)
{
  size_t i, n;

  if (!(flags & FERRY_LOCK_SHARED))
    return 0;
  if (scope->kind != FERRY_LOCK_SCOPE_WAVE)
    return ferry_err_set (err, EINVAL, "only the wave lock can be shared");
  n = scope->tag ? strlen (scope->tag) : 0;
  if (n == 0 || n > 64)
    return ferry_err_set (err, EINVAL, "a shared wave lock needs a tag");
  for (i = 0; i < n; i++)
    if (!isalnum ((unsigned char) scope->tag[i]))
      return ferry_err_set (err, EINVAL, "bad wave lock tag '%s'", scope->tag);
  return 0;
}

/* The wave lock is neither read nor broken by hand (state.h). */
static int
not_wave (const struct ferry_lock_scope *scope, struct ferry_err *err)
{
  if (scope->kind == FERRY_LOCK_SCOPE_WAVE)
    return ferry_err_set (err, EINVAL,
                          "the wave lock is not read or broken by hand");
  return 0;
}

/* Take SCOPE's lock in the name of this process. */
int
ferry_state_lock_acquire (struct ferry_state *st,
                          const struct ferry_lock_scope *scope, unsigned flags,
                          struct ferry_state_lock **ret,
                          struct ferry_lock_owner *ret_taken,
                          struct ferry_err *err)
{
  return ferry_state_lock_acquire_as (st, scope, NULL, flags, ret, ret_taken,
                                      err);
}

/* Take SCOPE's lock in the name of AS (NULL: this process). */
int
ferry_state_lock_acquire_as (struct ferry_state *st,
                             const struct ferry_lock_scope *scope,
                             const struct ferry_lock_owner *as, unsigned flags,
                             struct ferry_state_lock **ret,
                             struct ferry_lock_owner *ret_taken,
                             struct ferry_err *err)
{
  struct ferry_state_lock *l;
  struct ferry_lock_owner me, taken;

  memset (&taken, 0, sizeof taken);
  if (scope_check (scope, err) < 0 || shared_check (scope, flags, err) < 0)
    return -1;
  if (as == NULL) {
    ferry_lock_owner_self (&me);
    as = &me;
  }
  l = calloc (1, sizeof *l);
  if (l == NULL)
    return ferry_err_set (err, ENOMEM, "lock");
  l->ops = st->ops;
  if (st->ops->lock_acquire (st->data, scope, as, flags, &l->impl, &taken,
                             err) < 0) {
    free (l);
    return -1;
  }
  if (ret_taken != NULL)
    *ret_taken = taken;
  *ret = l;
  return 0;
}

/* Release LOCK if still ours, and free it. */
void
ferry_state_lock_release (struct ferry_state_lock *lock)
{
  if (lock == NULL)
    return;
  lock->ops->lock_release (lock->impl);
  free (lock);
}

/* True when the backend knows LOCK is no longer ours. */
bool
ferry_state_lock_lost (struct ferry_state_lock *lock)
{
  return lock != NULL && lock->ops->lock_lost != NULL &&
         lock->ops->lock_lost (lock->impl);
}

/* The owner of SCOPE's lock. */
int
ferry_state_lock_read (struct ferry_state *st,
                       const struct ferry_lock_scope *scope,
                       struct ferry_lock_owner *ret, struct ferry_err *err)
{
  struct ferry_lock_owner o;
  int r;

  if (scope_check (scope, err) < 0 || not_wave (scope, err) < 0)
    return -1;
  r = st->ops->lock_read (st->data, scope, &o, err);
  if (r == 1 && ret != NULL)
    *ret = o;
  return r;
}

/* Remove SCOPE's lock when stale, or when FORCE. */
int
ferry_state_lock_break (struct ferry_state *st,
                        const struct ferry_lock_scope *scope, bool force,
                        struct ferry_lock_owner *ret_owner,
                        struct ferry_err *err)
{
  struct ferry_lock_owner o;
  int r;

  if (scope_check (scope, err) < 0 || not_wave (scope, err) < 0)
    return -1;
  r = st->ops->lock_break (st->data, scope, force, &o, err);
  if (r == 1 && ret_owner != NULL)
    *ret_owner = o;
  return r;
}
