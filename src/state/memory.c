/* The in-memory backend of the state interface (state.h), for the unit
 * tests: it proves that nothing above the ops table depends on files, and
 * is the smallest model of the contract a new backend must meet.
 *
 * A "store" is named by the cfg's path and lives as long as the process,
 * so closing and reopening the same name replays what was appended, as it
 * would from a file or a pool.  Events are kept as the same JSON lines the
 * file backend writes (state/fold.c), so replay goes through the same
 * parser.  Locks are one table per store; exclusivity is within the
 * process (its only users), guaranteed by one mutex.
 *
 * The store list is the one mutable global: it stands for the disk. */
#include "state/state.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mem_lock_slot {
  char *key;                     /* "plan", "vm/<name>" or "wave" */
  struct ferry_lock_owner owner; /* who holds it */
  unsigned long token;           /* which acquire took it */
  bool shared;                   /* a share of the wave lock */
  char tag[65];                  /* shared: the holders' tag */
};

struct mem_store {
  struct mem_store *next; /* in the store list */
  char *name;             /* cfg->path */
  char **lines;           /* appended events, JSON + '\n' */
  size_t n_lines;
  struct mem_lock_slot *locks; /* held locks */
  size_t n_locks;
};

struct mem_state {
  struct mem_store *store; /* where appends go */
  bool readonly;           /* no appends (locks still work) */
  char *where;             /* "memory state '<name>'" */
};

struct mem_lock {
  struct mem_store *store; /* stores are never freed */
  char *key;               /* the slot it holds */
  unsigned long token;     /* proof that the slot is still ours */
};

/* Guards the store list and every store's fields. */
static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mem_store *stores;
static unsigned long next_token = 1;

/* The store called NAME, created if CREATE; NULL if absent or out of
 * memory.  Caller holds stores_lock. */
static struct mem_store *
store_get (const char *name, bool create)
{
  struct mem_store *s;

  for (s = stores; s != NULL; s = s->next)
    if (strcmp (s->name, name) == 0)
      return s;
  if (!create || (s = calloc (1, sizeof *s)) == NULL)
    return NULL;
  if ((s->name = strdup (name)) == NULL) {
    free (s);
    return NULL;
  }
  s->next = stores;
  stores = s;
  return s;
}

/* Close a memory state (the store stays). */
static void
mem_close (void *data)
{
  struct mem_state *m = data;

  if (m == NULL)
    return;
  free (m->where);
  free (m);
}

/* Open the store CFG->path (created unless READONLY) and replay it. */
static int
mem_open (const struct ferry_state_cfg *cfg, bool readonly,
          struct ferry_fold *fold, void **ret_data, struct ferry_err *err)
{
  struct mem_state *m;
  size_t i;
  int r = 0;

  if (cfg->path == NULL || cfg->path[0] == '\0')
    return ferry_err_set (err, EINVAL,
                          "state: the memory backend needs a "
                          "name (path)");
  m = calloc (1, sizeof *m);
  if (m == NULL || asprintf (&m->where, "memory state '%s'", cfg->path) < 0) {
    free (m);
    return ferry_err_set (err, ENOMEM, "memory state '%s'", cfg->path);
  }
  pthread_mutex_lock (&stores_lock);
  /* an empty store is indistinguishable from none: a read-only open may
   * make one, so that its locks work (ferry unlock) */
  m->readonly = readonly;
  m->store = store_get (cfg->path, true);
  if (m->store == NULL)
    r = ferry_err_set (err, ENOMEM, "%s", m->where);
  for (i = 0; r == 0 && m->store != NULL && i < m->store->n_lines; i++) {
    const char *line = m->store->lines[i];
    int k = ferry_fold_line (fold, line, strlen (line) - 1);

    if (k < 0)
      r = ferry_err_set (err, ENOMEM, "%s", m->where);
    else if (k > 0)
      ferry_fold_note_bad (fold, i + 1);
  }
  pthread_mutex_unlock (&stores_lock);
  if (r < 0) {
    mem_close (m);
    return -1;
  }
  *ret_data = m;
  return 0;
}

/* "memory state '<name>'". */
static const char *
mem_where (void *data)
{
  return ((struct mem_state *) data)->where;
}

/* Append E to the store: "durable" once it is in the list. */
static int
mem_append (void *data, const struct ferry_journal_entry *e,
            struct ferry_err *err)
{
  struct mem_state *m = data;
  char **lines;
  char *line;
  size_t len;

  if (m->readonly)
    return ferry_err_set (err, EBADF, "%s is open read-only", m->where);
  line = ferry_fold_format (e, &len);
  if (line == NULL)
    return ferry_err_set (err, ENOMEM, "%s", m->where);
  pthread_mutex_lock (&stores_lock);
  lines = realloc (m->store->lines,
                   (m->store->n_lines + 1) * sizeof *m->store->lines);
  if (lines != NULL) {
    m->store->lines = lines;
    lines[m->store->n_lines++] = line;
  }
  pthread_mutex_unlock (&stores_lock);
  if (lines == NULL) {
    free (line);
    return ferry_err_set (err, ENOMEM, "%s", m->where);
  }
  return 0;
}

/* The slot key of SCOPE: "plan" or "vm/<name>"; NULL out of memory. */
static char *
scope_key (const struct ferry_lock_scope *scope)
{
  char *key;

  if (scope->kind == FERRY_LOCK_SCOPE_PLAN)
    return strdup ("plan");
  if (scope->kind == FERRY_LOCK_SCOPE_WAVE)
    return strdup ("wave");
  if (asprintf (&key, "vm/%s", scope->vm) < 0)
    return NULL;
  return key;
}

/* The slot of KEY in S, or NULL.  Caller holds stores_lock. */
static struct mem_lock_slot *
slot_find (struct mem_store *s, const char *key)
{
  size_t i;

  for (i = 0; s != NULL && i < s->n_locks; i++)
    if (strcmp (s->locks[i].key, key) == 0)
      return &s->locks[i];
  return NULL;
}

/* The slot of KEY in S that TOKEN took, or NULL.  Caller holds
 * stores_lock. */
static struct mem_lock_slot *
slot_find_token (struct mem_store *s, const char *key, unsigned long token)
{
  size_t i;

  for (i = 0; i < s->n_locks; i++)
    if (s->locks[i].token == token && strcmp (s->locks[i].key, key) == 0)
      return &s->locks[i];
  return NULL;
}

/* Remove SLOT from S.  Caller holds stores_lock. */
static void
slot_remove (struct mem_store *s, struct mem_lock_slot *slot)
{
  free (slot->key);
  *slot = s->locks[--s->n_locks];
}

/* The busy error for SCOPE held by O. */
static int
busy (const struct ferry_lock_scope *scope, const struct ferry_lock_owner *o,
      struct ferry_err *err)
{
  char who[512];

  ferry_lock_describe (o, who, sizeof who);
  if (scope->kind == FERRY_LOCK_SCOPE_VM)
    return ferry_err_set (err, EBUSY,
                          "vm '%s' is locked by %s; if that run is dead, run "
                          "'ferry unlock --vm %s'",
                          scope->vm, who, scope->vm);
  if (scope->kind == FERRY_LOCK_SCOPE_WAVE)
    return ferry_err_set (err, EBUSY,
                          "the plan is being applied by %s (a worker, or a "
                          "plain apply or destroy)",
                          who);
  return ferry_err_set (err, EBUSY,
                        "plan is locked by %s; if that run is dead, run "
                        "'ferry unlock'",
                        who);
}

/* Take SCOPE's lock in the name of AS; the check, the takeover of a stale
 * holder and the taking are one critical section. */
static int
mem_lock_acquire (void *data, const struct ferry_lock_scope *scope,
                  const struct ferry_lock_owner *as, unsigned flags,
                  void **ret_lock, struct ferry_lock_owner *ret_taken,
                  struct ferry_err *err)
{
  struct mem_state *m = data;
  struct mem_lock *l = NULL;
  struct mem_lock_slot *slot, *slots;
  int r = -1;

  memset (ret_taken, 0, sizeof *ret_taken);
  pthread_mutex_lock (&stores_lock);
  l = calloc (1, sizeof *l);
  if (l == NULL || (l->key = scope_key (scope)) == NULL) {
    ferry_err_set (err, ENOMEM, "%s", m->where);
    goto out;
  }
  /* every holder of the key (several only for shares of the wave) */
  while ((slot = slot_find (m->store, l->key)) != NULL &&
         (flags & FERRY_LOCK_TAKE_STALE) &&
         ferry_lock_is_stale (&slot->owner)) {
    *ret_taken = slot->owner;
    slot_remove (m->store, slot);
  }
  if (slot != NULL && (flags & FERRY_LOCK_SHARED) && slot->shared &&
      strcmp (slot->tag, scope->tag) != 0) {
    ferry_err_set (err, 0,
                   "the wave lock of %s is held by workers of another plan "
                   "(tag %s, this one's is %s)",
                   m->where, slot->tag, scope->tag);
    err->errnum = FERRY_LOCK_ETAG; /* no errno text */
    goto out;
  }
  if (slot != NULL && !((flags & FERRY_LOCK_SHARED) && slot->shared)) {
    busy (scope, &slot->owner, err);
    goto out;
  }
  slots = realloc (m->store->locks,
                   (m->store->n_locks + 1) * sizeof *m->store->locks);
  if (slots == NULL) {
    ferry_err_set (err, ENOMEM, "%s", m->where);
    goto out;
  }
  m->store->locks = slots;
  slot = &slots[m->store->n_locks];
  slot->key = strdup (l->key);
  if (slot->key == NULL) {
    ferry_err_set (err, ENOMEM, "%s", m->where);
    goto out;
  }
  m->store->n_locks++;
  slot->shared = (flags & FERRY_LOCK_SHARED) != 0;
  if (slot->shared)
    snprintf (slot->tag, sizeof slot->tag, "%s", scope->tag);
  slot->owner = *as;
  slot->token = l->token = next_token++;
  l->store = m->store;
  *ret_lock = l;
  l = NULL;
  r = 0;
out:
  pthread_mutex_unlock (&stores_lock);
  if (l != NULL)
    free (l->key);
  free (l);
  return r;
}

/* Release LOCK if its slot is still the one it took. */
static void
mem_lock_release (void *lock)
{
  struct mem_lock *l = lock;
  struct mem_lock_slot *slot;

  pthread_mutex_lock (&stores_lock);
  slot = slot_find_token (l->store, l->key, l->token);
  if (slot != NULL)
    slot_remove (l->store, slot);
  pthread_mutex_unlock (&stores_lock);
  free (l->key);
  free (l);
}

/* The owner of SCOPE's lock. */
static int
mem_lock_read (void *data, const struct ferry_lock_scope *scope,
               struct ferry_lock_owner *ret, struct ferry_err *err)
{
  struct mem_state *m = data;
  struct mem_lock_slot *slot;
  char *key = scope_key (scope);
  int r = 0;

  if (key == NULL)
    return ferry_err_set (err, ENOMEM, "%s", m->where);
  pthread_mutex_lock (&stores_lock);
  slot = slot_find (m->store, key);
  if (slot != NULL) {
    *ret = slot->owner;
    r = 1;
  }
  pthread_mutex_unlock (&stores_lock);
  free (key);
  return r;
}

/* Remove SCOPE's lock when stale, or when FORCE. */
static int
mem_lock_break (void *data, const struct ferry_lock_scope *scope, bool force,
                struct ferry_lock_owner *ret_owner, struct ferry_err *err)
{
  struct mem_state *m = data;
  struct mem_lock_slot *slot;
  char *key = scope_key (scope);
  char who[512];
  int r = 0;

  if (key == NULL)
    return ferry_err_set (err, ENOMEM, "%s", m->where);
  pthread_mutex_lock (&stores_lock);
  slot = slot_find (m->store, key);
  if (slot != NULL && !force && !ferry_lock_is_stale (&slot->owner)) {
    ferry_lock_describe (&slot->owner, who, sizeof who);
    r = ferry_err_set (err, EBUSY,
                       "lock '%s' of %s is held by %s; stop it first, or "
                       "remove the lock with --force",
                       key, m->where, who);
  } else if (slot != NULL) {
    *ret_owner = slot->owner;
    slot_remove (m->store, slot);
    r = 1;
  }
  pthread_mutex_unlock (&stores_lock);
  free (key);
  return r;
}

const struct ferry_state_ops ferry_state_memory_ops = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .where = mem_where,
    .append = mem_append,
    .lock_acquire = mem_lock_acquire,
    .lock_release = mem_lock_release,
    .lock_read = mem_lock_read,
    .lock_break = mem_lock_break,
};
