/* The RADOS backend of the state interface (state.h): journal and locks in
 * a Ceph pool, so that several migration hosts can share one plan's state.
 * librados is called through the stubs of clients/dl-rados.c (loaded on
 * first use).
 *
 * Objects in the pool (O is the cfg's object, default metadata.name):
 *
 *   O               the plan object: an omap key "vm.<VM>" (empty value)
 *                   for every VM that has a journal object, set before the
 *                   first event is appended to it; the plan lock
 *   O.journal       events whose step has no VM: a step id without '/'
 *                   (plan-scope steps, "@plan", the writer record)
 *   O.vm.<VM>       the journal of one VM (the step id's part before the
 *                   first '/'; flavor steps "flavor/<name>" land in
 *                   O.vm.flavor) and that VM's lock
 *
 * A journal object holds the same JSON lines as the file backend
 * (state/fold.c), each appended with one rados_append: one OSD op, applied
 * whole or not at all, so no torn line; appends return once the OSDs
 * acknowledged them (durable).  An append that timed out (the cluster was
 * briefly unreachable) is retried a few times with backoff; an event the
 * OSD applied before the timeout may then be stored twice, which the fold
 * absorbs (every event is idempotent for its record).  Open reads the plan
 * object's keys, then O.journal and every VM object with asynchronous
 * reads (READ_WINDOW in flight), and folds the lines of all objects merged
 * by their time_ms, stable (an object's own lines keep their order, ties
 * go by object order): one VM's events were appended by one host at a
 * time, so only the order of first appearance across VMs depends on the
 * clocks.  A READONLY open creates nothing; a missing object is empty.
 *
 * Locks are cls_lock exclusive locks named "ferry": the plan lock on O, a
 * VM lock on O.vm.<VM> (locking creates the object; an empty journal
 * object replays as nothing).  The owner (host, pid, start, version) is
 * encoded in the lock's cookie together with a random per-handle id:
 * rados_list_lockers returns the cookie but not the description, and the
 * cookie is set atomically with the lock (an xattr written after locking
 * could be missing or belong to the previous holder).  rados_unlock and
 * the renewals name our cookie, so release removes only our own lock.
 * A lock has a duration (60 s, env FERRY_RADOS_LOCK_DURATION in seconds);
 * a heartbeat thread per held lock renews it every duration/4 with
 * LIBRADOS_LOCK_FLAG_MUST_RENEW (which fails once the lock expired or was
 * broken, never re-taking it); a renewal refused, or none that succeeded
 * for half a duration, marks the lock lost (ferry_state_lock_lost: the
 * lease, see rados_lock_lost).  A holder that
 * dies stops renewing and cls_lock drops its lock when the duration ends:
 * list_lockers no longer shows it and anybody can take it.  Before that, a
 * lock is stale when ferry_lock_is_stale says so (its owner ran on this
 * host and its pid is gone); lock_break and FERRY_LOCK_TAKE_STALE remove it
 * with rados_break_lock naming the client and cookie that were judged, so
 * the lock removed is the one judged, and the taking that follows is an
 * exclusive lock: of two takers only one gets it.
 *
 * The wave lock is a second cls_lock on O, named "ferry.wave": the
 * workers of one plan file hold it shared with the file's SHA-256 as the
 * cls_lock tag (cls_lock refuses a share under another tag, atomically:
 * two hosts with different versions of the plan never both run), a plain
 * apply or destroy holds it exclusively.  It has the same duration,
 * heartbeat and lease as the other locks; FERRY_LOCK_TAKE_STALE breaks
 * every stale holder (exclusive or shared) before it tries again.
 *
 * After each renewal of a plan or VM lock the heartbeat sets the locked
 * object's xattr "ferry.renewed" to "<wall-clock ms> <cookie>", which
 * lock_read reports when the cookie is the current holder's (ferry status:
 * "renewed N s ago"); a failed write of it is ignored.
 *
 * A lock handle holds a reference on the cluster connection (the lock
 * belongs to that client instance), so it outlives the state. */
#include "state/state.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <rados/librados.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/dl.h"

#define LOCK_NAME "ferry"             /* the cls_lock name on every object */
#define WAVE_LOCK_NAME "ferry.wave"   /* the wave lock's name on O */
#define RENEWED_XATTR "ferry.renewed" /* "<wall ms> <cookie>": last renewal */
#define COOKIE_MAGIC "ferry1"         /* first field of our cookies */
#define DEFAULT_DURATION 60           /* seconds a lock lives unrenewed */
#define READ_WINDOW 64                /* journal reads in flight on open */
#define READ_FIRST 65536              /* bytes asked of each object at once */
#define OMAP_PAGE 512                 /* plan object keys per request */
#define APPEND_TRIES 5                /* appends tried on a timeout */
#define VM_KEY_PREFIX "vm."           /* plan object omap keys */
#define JOURNAL_SUFFIX ".journal"     /* events without a VM */
#define VM_SUFFIX ".vm."              /* O.vm.<VM> */

/* A connection and an I/O context, shared by a state and its locks. */
struct rconn {
  int refs;         /* atomic */
  rados_t cluster;  /* connected */
  rados_ioctx_t io; /* on the pool */
  char *where;      /* "rados object 'O' in pool 'P'" */
};

struct rados_state {
  struct rconn *c;   /* our reference */
  char *object;      /* the plan object's name */
  bool readonly;     /* no appends */
  unsigned duration; /* lock duration, seconds */
  char **vms;        /* VMs known to be listed in the plan object */
  size_t n_vms;
};

struct rados_lock {
  struct rconn *c;    /* a reference: the lock is this client's */
  char *oid;          /* the locked object */
  const char *name;   /* LOCK_NAME or WAVE_LOCK_NAME */
  char *tag;          /* a share of the wave lock: its tag, else NULL */
  char *cookie;       /* ours: id + owner */
  char *desc;         /* description (humans, `rados lock info`) */
  unsigned duration;  /* seconds */
  pthread_t hb;       /* heartbeat thread */
  bool hb_running;    /* hb was started */
  pthread_mutex_t mu; /* guards stop, last_ok */
  pthread_cond_t cv;  /* wakes the heartbeat to stop */
  bool stop;          /* release asked the heartbeat to end */
  int64_t last_ok;    /* monotonic ms of the last successful (re)lock */
  int lost;           /* atomic: the lock is known not to be ours */
};

/* Wall-clock ms since the epoch. */
static int64_t
wall_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic ms. */
static int64_t
mono_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep MS milliseconds. */
static void
sleep_ms (unsigned ms)
{
  struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};

  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Drop a reference on C; the last one disconnects. */
static void
conn_put (struct rconn *c)
{
  if (c == NULL || __atomic_sub_fetch (&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
    return;
  if (c->io)
    rados_ioctx_destroy (c->io);
  if (c->cluster)
    rados_shutdown (c->cluster);
  free (c->where);
  free (c);
}

/* Connect as client.USER (default admin) with CFG->conf (librados' search
 * path if NULL) and open CFG->pool.  A cluster that does not answer fails
 * after 30 s (mount, mon and OSD op timeouts; the configuration file may
 * set others). */
static int
conn_open (const struct ferry_state_cfg *cfg, struct rconn **ret,
           struct ferry_err *err)
{
  struct rconn *c;
  CLEANUP_FREE char *user = NULL;
  int r;

  if (ferry_dl_load (&ferry_dl_rados, err) < 0)
    return -1;
  c = calloc (1, sizeof *c);
  if (c == NULL)
    return ferry_err_set (err, ENOMEM, "rados state");
  c->refs = 1;
  if (asprintf (&c->where, "rados object '%s' in pool '%s'", cfg->object,
                cfg->pool) < 0 ||
      asprintf (&user, "client.%s", cfg->user ? cfg->user : "admin") < 0) {
    c->where = NULL;
    user = NULL;
    conn_put (c);
    return ferry_err_set (err, ENOMEM, "rados state");
  }
  r = rados_create2 (&c->cluster, "ceph", user, 0);
  if (r < 0) {
    c->cluster = NULL;
    ferry_err_set (err, -r, "%s: cannot create a ceph client", c->where);
    goto fail;
  }
  rados_conf_set (c->cluster, "client_mount_timeout", "30");
  rados_conf_set (c->cluster, "rados_mon_op_timeout", "30");
  rados_conf_set (c->cluster, "rados_osd_op_timeout", "30");
  r = rados_conf_read_file (c->cluster, cfg->conf);
  if (r < 0) {
    ferry_err_set (err, -r, "%s: cannot read ceph configuration '%s'", c->where,
                   cfg->conf ? cfg->conf : "(default)");
    goto fail;
  }
  r = rados_conf_parse_env (c->cluster, NULL);
  if (r < 0) {
    ferry_err_set (err, -r, "%s: bad CEPH_ARGS", c->where);
    goto fail;
  }
  r = rados_connect (c->cluster);
  if (r < 0) {
    ferry_err_set (err, -r, "%s: cannot connect to the ceph cluster as '%s'",
                   c->where, user);
    goto fail;
  }
  r = rados_ioctx_create (c->cluster, cfg->pool, &c->io);
  if (r < 0) {
    c->io = NULL;
    ferry_err_set (err, -r, "%s: cannot open pool '%s'", c->where, cfg->pool);
    goto fail;
  }
  *ret = c;
  return 0;

fail:
  conn_put (c);
  return -1;
}

/* The lock duration: FERRY_RADOS_LOCK_DURATION seconds (1..86400) or 60. */
static unsigned
lock_duration (void)
{
  const char *s = getenv ("FERRY_RADOS_LOCK_DURATION");
  char *end;
  long v;

  if (s == NULL || *s == '\0')
    return DEFAULT_DURATION;
  errno = 0;
  v = strtol (s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 1 || v > 86400)
    return DEFAULT_DURATION;
  return (unsigned) v;
}

/* "<object><suffix><name>" (NAME may be NULL); NULL out of memory. */
static char *
oid_of (const char *object, const char *suffix, const char *name)
{
  char *s;

  if (asprintf (&s, "%s%s%s", object, suffix, name ? name : "") < 0)
    return NULL;
  return s;
}

/* Forget the VM list. */
static void
vms_free (struct rados_state *s)
{
  size_t i;

  for (i = 0; i < s->n_vms; i++)
    free (s->vms[i]);
  free (s->vms);
  s->vms = NULL;
  s->n_vms = 0;
}

/* True if VM (LEN bytes) is in the list. */
static bool
vms_has (const struct rados_state *s, const char *vm, size_t len)
{
  size_t i;

  for (i = 0; i < s->n_vms; i++)
    if (strncmp (s->vms[i], vm, len) == 0 && s->vms[i][len] == '\0')
      return true;
  return false;
}

/* Add VM (LEN bytes) to the list; -1 out of memory. */
static int
vms_add (struct rados_state *s, const char *vm, size_t len)
{
  char **v = realloc (s->vms, (s->n_vms + 1) * sizeof *v);

  if (v == NULL)
    return -1;
  s->vms = v;
  if ((v[s->n_vms] = strndup (vm, len)) == NULL)
    return -1;
  s->n_vms++;
  return 0;
}

/* Read the plan object's VM keys into S->vms, page by page.  A missing
 * plan object is an empty list. */
static int
read_vm_list (struct rados_state *s, struct ferry_err *err)
{
  CLEANUP_FREE char *after = strdup (VM_KEY_PREFIX);
  const size_t plen = strlen (VM_KEY_PREFIX);
  unsigned char more = 1;

  if (after == NULL)
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  while (more) {
    rados_read_op_t op = rados_create_read_op ();
    rados_omap_iter_t it = NULL;
    int prval = 0, r;
    char *key, *val;
    size_t klen, vlen;

    if (op == NULL)
      return ferry_err_set (err, ENOMEM, "%s", s->c->where);
    more = 0;
    rados_read_op_omap_get_keys2 (op, after, OMAP_PAGE, &it, &more, &prval);
    r = rados_read_op_operate (op, s->c->io, s->object, 0);
    if (r == 0 && prval < 0)
      r = prval;
    if (r == -ENOENT) {
      if (it)
        rados_omap_get_end (it);
      rados_release_read_op (op);
      return 0;
    }
    if (r < 0) {
      if (it)
        rados_omap_get_end (it);
      rados_release_read_op (op);
      return ferry_err_set (err, -r, "%s: cannot read the vm list",
                            s->c->where);
    }
    if (rados_omap_iter_size (it) == 0)
      more = 0; /* nothing after AFTER: never ask the same again */
    while (rados_omap_get_next2 (it, &key, &val, &klen, &vlen) == 0 &&
           key != NULL) {
      if (klen < plen || memcmp (key, VM_KEY_PREFIX, plen) != 0) {
        more = 0; /* past the vm.* keys */
        break;
      }
      if (vms_add (s, key + plen, klen - plen) < 0) {
        rados_omap_get_end (it);
        rados_release_read_op (op);
        return ferry_err_set (err, ENOMEM, "%s", s->c->where);
      }
      free (after);
      after = strndup (key, klen);
      if (after == NULL) {
        rados_omap_get_end (it);
        rados_release_read_op (op);
        return ferry_err_set (err, ENOMEM, "%s", s->c->where);
      }
    }
    rados_omap_get_end (it);
    rados_release_read_op (op);
  }
  return 0;
}

/* One journal object read on open. */
struct jobj {
  char *oid;              /* its name */
  char *data;             /* its bytes (malloc'd), NULL if none */
  size_t len;             /* bytes in data */
  rados_read_op_t op;     /* while in flight */
  rados_completion_t cmp; /* while in flight */
  bool submitted;         /* cmp was handed to librados */
  char *buf;              /* READ_FIRST bytes while in flight */
  size_t got;             /* bytes read by the op */
  uint64_t size;          /* object size by the op's stat */
  int prval_stat;         /* the stat's result */
  int prval_read;         /* the read's result */
};

/* Start reading J. */
static int
jobj_start (struct rconn *c, struct jobj *j, struct ferry_err *err)
{
  int r;

  j->buf = malloc (READ_FIRST);
  j->op = rados_create_read_op ();
  if (j->buf == NULL || j->op == NULL)
    return ferry_err_set (err, ENOMEM, "%s", c->where);
  r = rados_aio_create_completion2 (NULL, NULL, &j->cmp);
  if (r < 0) {
    j->cmp = NULL;
    return ferry_err_set (err, -r, "%s: cannot read", c->where);
  }
  rados_read_op_stat (j->op, &j->size, NULL, &j->prval_stat);
  rados_read_op_read (j->op, 0, READ_FIRST, j->buf, &j->got, &j->prval_read);
  r = rados_aio_read_op_operate (j->op, c->io, j->cmp, j->oid, 0);
  if (r < 0)
    return ferry_err_set (err, -r, "%s: cannot read '%s'", c->where, j->oid);
  j->submitted = true;
  return 0;
}

/* Free what reading J holds (not its data). */
static void
jobj_end (struct jobj *j)
{
  if (j->cmp) {
    if (j->submitted) /* its buffers must outlive the op */
      rados_aio_wait_for_complete (j->cmp);
    rados_aio_release (j->cmp);
  }
  j->submitted = false;
  if (j->op)
    rados_release_read_op (j->op);
  free (j->buf);
  j->cmp = NULL;
  j->op = NULL;
  j->buf = NULL;
}

/* Wait for J's read; then read the rest of a large object. */
static int
jobj_finish (struct rconn *c, struct jobj *j, struct ferry_err *err)
{
  int r;

  rados_aio_wait_for_complete (j->cmp);
  r = rados_aio_get_return_value (j->cmp);
  if (r == 0 && j->prval_stat < 0)
    r = j->prval_stat;
  if (r == 0 && j->prval_read < 0)
    r = j->prval_read;
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return ferry_err_set (err, -r, "%s: cannot read '%s'", c->where, j->oid);
  if (j->size > SIZE_MAX / 2 || j->got > j->size)
    return ferry_err_set (err, EFBIG, "%s: object '%s' is too large", c->where,
                          j->oid);
  j->data = malloc (j->size + 1);
  if (j->data == NULL)
    return ferry_err_set (err, ENOMEM, "%s", c->where);
  memcpy (j->data, j->buf, j->got);
  j->len = j->got;
  while (j->len < j->size) {
    r = rados_read (c->io, j->oid, j->data + j->len, j->size - j->len, j->len);
    if (r < 0)
      return ferry_err_set (err, -r, "%s: cannot read '%s'", c->where, j->oid);
    if (r == 0)
      break; /* truncated meanwhile */
    j->len += (size_t) r;
  }
  return 0;
}

/* One line of a journal object, for the merge. */
struct jline {
  int64_t time;  /* its time_ms, made monotonic within its object */
  size_t obj;    /* index of its object */
  size_t pos;    /* index within its object */
  const char *p; /* its bytes */
  size_t len;    /* without the newline; (size_t) -1: torn */
};

/* Order lines by time, then object, then position: stable per object. */
static int
jline_cmp (const void *a, const void *b)
{
  const struct jline *x = a, *y = b;

  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  if (x->obj != y->obj)
    return x->obj < y->obj ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The time_ms in LINE (LEN bytes), or -1. */
static int64_t
line_time (const char *line, size_t len)
{
  static const char key[] = "\"time_ms\":";
  const char *p = memmem (line, len, key, sizeof key - 1);
  int64_t v = 0;

  if (p == NULL)
    return -1;
  for (p += sizeof key - 1; p < line + len && *p >= '0' && *p <= '9'; p++)
    if (v < INT64_MAX / 10 - 10)
      v = v * 10 + (*p - '0');
  return v;
}

/* Split every object into lines, merge them by time and fold them in.
 * A torn last line (no newline) and a bad line are counted and skipped. */
static int
fold_objects (struct jobj *objs, size_t n, struct ferry_fold *fold,
              const char *where, struct ferry_err *err)
{
  CLEANUP_FREE struct jline *lines = NULL;
  size_t n_lines = 0, cap = 0, i, k;
  int r;

  for (i = 0; i < n; i++) {
    const char *p = objs[i].data, *end = p + objs[i].len, *nl;
    int64_t last = 0;
    size_t pos = 0;

    while (p != NULL && p < end) {
      struct jline l;

      nl = memchr (p, '\n', (size_t) (end - p));
      l.p = p;
      l.len = nl ? (size_t) (nl - p) : (size_t) -1;
      l.time = nl ? line_time (p, l.len) : -1;
      if (l.time < last)
        l.time = last;
      last = l.time;
      l.obj = i;
      l.pos = pos++;
      p = nl ? nl + 1 : end;
      if (l.len == 0)
        continue;
      if (n_lines == cap) {
        struct jline *m;

        cap = cap ? cap * 2 : 1024;
        m = realloc (lines, cap * sizeof *m);
        if (m == NULL)
          return ferry_err_set (err, ENOMEM, "%s", where);
        lines = m;
      }
      lines[n_lines++] = l;
    }
  }
  if (n_lines > 1)
    qsort (lines, n_lines, sizeof *lines, jline_cmp);
  for (k = 0; k < n_lines; k++) {
    if (lines[k].len == (size_t) -1 ||
        lines[k].len + 1 > FERRY_JOURNAL_MAX_LINE) {
      ferry_fold_note_bad (fold, k + 1);
      continue;
    }
    r = ferry_fold_line (fold, lines[k].p, lines[k].len);
    if (r < 0)
      return ferry_err_set (err, ENOMEM, "%s", where);
    if (r > 0)
      ferry_fold_note_bad (fold, k + 1);
  }
  return 0;
}

/* Read O.journal and every listed VM's object, READ_WINDOW at a time, and
 * fold their events. */
static int
replay (struct rados_state *s, struct ferry_fold *fold, struct ferry_err *err)
{
  size_t n = s->n_vms + 1, i, next = 0, done = 0;
  struct jobj *objs = calloc (n, sizeof *objs);
  int r = -1;

  if (objs == NULL)
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  objs[0].oid = oid_of (s->object, JOURNAL_SUFFIX, NULL);
  for (i = 1; i < n; i++)
    objs[i].oid = oid_of (s->object, VM_SUFFIX, s->vms[i - 1]);
  for (i = 0; i < n; i++)
    if (objs[i].oid == NULL) {
      ferry_err_set (err, ENOMEM, "%s", s->c->where);
      goto out;
    }
  while (done < n) {
    while (next < n && next - done < READ_WINDOW)
      if (jobj_start (s->c, &objs[next++], err) < 0)
        goto out;
    if (jobj_finish (s->c, &objs[done], err) < 0)
      goto out;
    jobj_end (&objs[done++]);
  }
  r = fold_objects (objs, n, fold, s->c->where, err);
out:
  for (i = 0; i < n; i++) {
    jobj_end (&objs[i]);
    free (objs[i].oid);
    free (objs[i].data);
  }
  free (objs);
  return r;
}

/* Close the state (its locks keep the connection). */
static void
rados_state_close (void *data)
{
  struct rados_state *s = data;

  if (s == NULL)
    return;
  vms_free (s);
  conn_put (s->c);
  free (s->object);
  free (s);
}

/* Connect, read the VM list and replay every journal object into FOLD
 * (with CFG->only_vm: O.journal and that VM's object only). */
static int
rados_state_open (const struct ferry_state_cfg *cfg, bool readonly,
                  struct ferry_fold *fold, void **ret_data,
                  struct ferry_err *err)
{
  struct rados_state *s;

  if (cfg->pool == NULL || cfg->pool[0] == '\0')
    return ferry_err_set (err, EINVAL, "state: the rados backend needs a pool");
  if (cfg->object == NULL || cfg->object[0] == '\0')
    return ferry_err_set (err, EINVAL,
                          "state: the rados backend needs an object name");
  s = calloc (1, sizeof *s);
  if (s == NULL || (s->object = strdup (cfg->object)) == NULL) {
    free (s);
    return ferry_err_set (err, ENOMEM, "rados state");
  }
  s->readonly = readonly;
  s->duration = lock_duration ();
  if (conn_open (cfg, &s->c, err) < 0) {
    rados_state_close (s);
    return -1;
  }
  if (cfg->only_vm) {
    /* O.journal and O.vm.<only_vm> only; the VM list stays unread, so the
     * first append lists the VM again (an idempotent omap set) */
    if (vms_add (s, cfg->only_vm, strlen (cfg->only_vm)) < 0) {
      rados_state_close (s);
      return ferry_err_set (err, ENOMEM, "rados state");
    }
    if (replay (s, fold, err) < 0) {
      rados_state_close (s);
      return -1;
    }
    vms_free (s);
  } else if (read_vm_list (s, err) < 0 || replay (s, fold, err) < 0) {
    rados_state_close (s);
    return -1;
  }
  *ret_data = s;
  return 0;
}

/* "rados object 'O' in pool 'P'". */
static const char *
rados_state_where (void *data)
{
  return ((struct rados_state *) data)->c->where;
}

/* True for an error a retry may cure: the cluster did not answer. */
static bool
transient (int r)
{
  return r == -ETIMEDOUT || r == -ENOTCONN || r == -EAGAIN ||
         r == -ECONNREFUSED || r == -ESHUTDOWN;
}

/* List VM (LEN bytes) in the plan object (idempotent: an omap set). */
static int
register_vm (struct rados_state *s, const char *vm, size_t len,
             struct ferry_err *err)
{
  CLEANUP_FREE char *key = NULL;
  const char *keys[1], *vals[1] = {""};
  size_t lens[1] = {0};
  unsigned tries, delay = 250;
  int r = -EIO;

  if (asprintf (&key, "%s%.*s", VM_KEY_PREFIX, (int) len, vm) < 0) {
    key = NULL;
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  }
  keys[0] = key;
  for (tries = 0; tries < APPEND_TRIES; tries++, delay *= 2) {
    rados_write_op_t op = rados_create_write_op ();

    if (op == NULL)
      return ferry_err_set (err, ENOMEM, "%s", s->c->where);
    rados_write_op_omap_set (op, keys, vals, lens, 1);
    r = rados_write_op_operate (op, s->c->io, s->object, NULL, 0);
    rados_release_write_op (op);
    if (!transient (r) || tries + 1 == APPEND_TRIES)
      break;
    sleep_ms (delay);
  }
  if (r < 0)
    return ferry_err_set (err, -r, "%s: cannot list vm '%.*s'", s->c->where,
                          (int) len, vm);
  if (vms_add (s, vm, len) < 0)
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  return 0;
}

/* Append E's line to its VM's object (O.journal without a VM), listing
 * the VM in the plan object first. */
static int
rados_state_append (void *data, const struct ferry_journal_entry *e,
                    struct ferry_err *err)
{
  struct rados_state *s = data;
  CLEANUP_FREE char *line = NULL;
  CLEANUP_FREE char *oid = NULL;
  const char *slash = strchr (e->step, '/');
  unsigned tries, delay = 250;
  size_t len;
  int r = -EIO;

  if (s->readonly)
    return ferry_err_set (err, EBADF, "%s is open read-only", s->c->where);
  line = ferry_fold_format (e, &len);
  if (line == NULL)
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  if (len > FERRY_JOURNAL_MAX_LINE)
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': entry is longer than %d bytes",
                          e->step, FERRY_JOURNAL_MAX_LINE);
  if (slash == NULL || slash == e->step)
    oid = oid_of (s->object, JOURNAL_SUFFIX, NULL);
  else {
    size_t vlen = (size_t) (slash - e->step);

    if (!vms_has (s, e->step, vlen) && register_vm (s, e->step, vlen, err) < 0)
      return -1;
    if (asprintf (&oid, "%s%s%.*s", s->object, VM_SUFFIX, (int) vlen, e->step) <
        0)
      oid = NULL;
  }
  if (oid == NULL)
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  for (tries = 0; tries < APPEND_TRIES; tries++, delay *= 2) {
    r = rados_append (s->c->io, oid, line, len);
    if (!transient (r) || tries + 1 == APPEND_TRIES)
      break;
    sleep_ms (delay);
  }
  if (r < 0)
    return ferry_err_set (err, -r, "%s: cannot append to '%s'", s->c->where,
                          oid);
  return 0;
}

/* The object of SCOPE's lock; NULL out of memory. */
static char *
lock_oid (const struct rados_state *s, const struct ferry_lock_scope *scope)
{
  if (scope->kind == FERRY_LOCK_SCOPE_PLAN ||
      scope->kind == FERRY_LOCK_SCOPE_WAVE)
    return strdup (s->object);
  return oid_of (s->object, VM_SUFFIX, scope->vm);
}

/* Append S to BUF (at *POS, CAP bytes) with ';', '%' and bytes outside
 * printable ASCII as %XX.  False when it does not fit. */
static bool
put_escaped (char *buf, size_t cap, size_t *pos, const char *s)
{
  static const char hex[] = "0123456789abcdef";

  for (; *s; s++) {
    unsigned char ch = (unsigned char) *s;

    if (*pos + 4 > cap)
      return false;
    if (ch <= ' ' || ch >= 127 || ch == ';' || ch == '%') {
      buf[(*pos)++] = '%';
      buf[(*pos)++] = hex[ch >> 4];
      buf[(*pos)++] = hex[ch & 15];
    } else
      buf[(*pos)++] = (char) ch;
  }
  buf[*pos] = '\0';
  return true;
}

/* The cookie of a lock taken by AS:
 * "ferry1;<id>;<pid>;<started>;<host>;<version>", host and version
 * escaped; malloc'd, NULL out of memory. */
static char *
make_cookie (const struct ferry_lock_owner *as)
{
  uint64_t id = 0;
  char buf[1024];
  size_t pos;
  int n;

  if (getrandom (&id, sizeof id, 0) != (ssize_t) sizeof id)
    id = ((uint64_t) getpid () << 32) ^ (uint64_t) mono_ms () ^
         (uint64_t) (uintptr_t) &id;
  n = snprintf (buf, sizeof buf, "%s;%016" PRIx64 ";%d;%lld;", COOKIE_MAGIC, id,
                (int) as->pid, (long long) as->started);
  pos = (size_t) n;
  if (!put_escaped (buf, sizeof buf, &pos, as->host[0] ? as->host : "unknown"))
    return NULL;
  buf[pos++] = ';';
  buf[pos] = '\0';
  if (!put_escaped (buf, sizeof buf, &pos, as->version))
    return NULL;
  return strdup (buf);
}

/* Undo put_escaped on S (LEN bytes) into OUT (CAP bytes). */
static bool
get_escaped (const char *s, size_t len, char *out, size_t cap)
{
  size_t i, o = 0;
  unsigned v;

  for (i = 0; i < len; i++) {
    if (o + 1 >= cap)
      return false;
    if (s[i] == '%') {
      if (i + 2 >= len)
        return false;
      if (sscanf (s + i + 1, "%2x", &v) != 1)
        return false;
      out[o++] = (char) v;
      i += 2;
    } else
      out[o++] = s[i];
  }
  out[o] = '\0';
  return true;
}

/* Parse COOKIE into *RET; false if it is not one of ours. */
static bool
parse_cookie (const char *cookie, struct ferry_lock_owner *ret)
{
  struct ferry_lock_owner o;
  const char *f[6];
  size_t flen[6], i;
  const char *p = cookie, *semi;
  char num[32], *end;
  long long v;

  memset (&o, 0, sizeof o);
  for (i = 0; i < 6; i++) {
    semi = strchr (p, ';');
    if ((semi == NULL) != (i == 5))
      return false;
    f[i] = p;
    flen[i] = semi ? (size_t) (semi - p) : strlen (p);
    p = semi ? semi + 1 : p;
  }
  if (flen[0] != strlen (COOKIE_MAGIC) || memcmp (f[0], COOKIE_MAGIC, flen[0]))
    return false;
  if (flen[2] == 0 || flen[2] >= sizeof num)
    return false;
  memcpy (num, f[2], flen[2]);
  num[flen[2]] = '\0';
  errno = 0;
  v = strtoll (num, &end, 10);
  if (errno || *end || v < 1 || v > INT32_MAX)
    return false;
  o.pid = (pid_t) v;
  if (flen[3] == 0 || flen[3] >= sizeof num)
    return false;
  memcpy (num, f[3], flen[3]);
  num[flen[3]] = '\0';
  v = strtoll (num, &end, 10);
  if (errno || *end || v < 0)
    return false;
  o.started = v;
  if (!get_escaped (f[4], flen[4], o.host, sizeof o.host) ||
      !get_escaped (f[5], flen[5], o.version, sizeof o.version))
    return false;
  *ret = o;
  return true;
}

/* The current holder of the lock on OID: 1 (client, cookie and owner in
 * the ret_* buffers; owner pid 0 when the cookie is not ours), 0 none,
 * -1 error. */
static int
read_holder (struct rconn *c, const char *oid, char *ret_client, size_t ccap,
             char *ret_cookie, size_t kcap, struct ferry_lock_owner *ret_owner,
             struct ferry_err *err)
{
  char tag[256], clients[1024], cookies[2048], addrs[1024];
  size_t tag_len = sizeof tag, clients_len = sizeof clients,
         cookies_len = sizeof cookies, addrs_len = sizeof addrs;
  int exclusive = 0;
  ssize_t n;

  n = rados_list_lockers (c->io, oid, LOCK_NAME, &exclusive, tag, &tag_len,
                          clients, &clients_len, cookies, &cookies_len, addrs,
                          &addrs_len);
  if (n == -ENOENT || n == 0)
    return 0;
  if (n < 0)
    return ferry_err_set (err, (int) -n, "%s: cannot read the lock of '%s'",
                          c->where, oid);
  if (strlen (clients) >= ccap || strlen (cookies) >= kcap)
    return ferry_err_set (err, ERANGE, "%s: the lock of '%s' is garbled",
                          c->where, oid);
  strcpy (ret_client, clients);
  strcpy (ret_cookie, cookies);
  if (!parse_cookie (cookies, ret_owner))
    memset (ret_owner, 0, sizeof *ret_owner);
  return 1;
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
                          "'ferry unlock --vm %s' or wait for the lock to "
                          "expire",
                          scope->vm, who, scope->vm);
  if (scope->kind == FERRY_LOCK_SCOPE_WAVE)
    return ferry_err_set (err, EBUSY,
                          "the plan is being applied by %s (a worker, or a "
                          "plain apply or destroy); a dead run's share "
                          "expires by itself",
                          who);
  return ferry_err_set (err, EBUSY,
                        "plan is locked by %s; if that run is dead, run "
                        "'ferry unlock' or wait for the lock to expire",
                        who);
}

/* Every holder of lock NAME on OID. */
struct holders {
  int n;              /* how many */
  int exclusive;      /* held exclusively */
  char *tag;          /* the lock's tag */
  char *clients;      /* N NUL-terminated client names, one after another */
  char *cookies;      /* N NUL-terminated cookies */
  size_t clients_len; /* bytes in clients, cookies */
  size_t cookies_len;
  char *addrs; /* N addresses (unused) */
};

/* Free H's buffers. */
static void
holders_free (struct holders *h)
{
  free (h->tag);
  free (h->clients);
  free (h->cookies);
  free (h->addrs);
  memset (h, 0, sizeof *h);
}

/* List the holders of lock NAME on OID into *H (buffers grown until they
 * fit).  0 (H->n 0 when none), -1 error. */
static int
holders_list (struct rconn *c, const char *oid, const char *name,
              struct holders *h, struct ferry_err *err)
{
  size_t tl = 256, cl = 1024, kl = 4096, al = 1024;
  ssize_t n;
  int tries;

  memset (h, 0, sizeof *h);
  for (tries = 0; tries < 5; tries++) {
    holders_free (h);
    h->tag = malloc (tl + 1);
    h->clients = malloc (cl + 1);
    h->cookies = malloc (kl + 1);
    h->addrs = malloc (al + 1);
    if (!h->tag || !h->clients || !h->cookies || !h->addrs) {
      holders_free (h);
      return ferry_err_set (err, ENOMEM, "%s", c->where);
    }
    n = rados_list_lockers (c->io, oid, name, &h->exclusive, h->tag, &tl,
                            h->clients, &cl, h->cookies, &kl, h->addrs, &al);
    if (n == -ERANGE)
      continue; /* the lengths now say what is needed */
    if (n == -ENOENT || n == 0) {
      h->n = 0;
      return 0;
    }
    if (n < 0) {
      holders_free (h);
      return ferry_err_set (err, (int) -n, "%s: cannot read the lock of '%s'",
                            c->where, oid);
    }
    h->tag[tl] = '\0';
    h->clients[cl] = '\0';
    h->cookies[kl] = '\0';
    h->clients_len = cl;
    h->cookies_len = kl;
    h->n = (int) n;
    return 0;
  }
  holders_free (h);
  return ferry_err_set (err, ERANGE, "%s: the lock of '%s' keeps growing",
                        c->where, oid);
}

/* Break every stale holder in H (cookie of ours, owner gone); how many
 * were, the last one's owner in *RET_TAKEN; -1 error. */
static int
holders_break_stale (struct rconn *c, const char *oid, const char *name,
                     const struct holders *h,
                     struct ferry_lock_owner *ret_taken, struct ferry_err *err)
{
  const char *client = h->clients, *cookie = h->cookies;
  struct ferry_lock_owner o;
  int i, r, n = 0;

  /* (each string ends inside its buffer: the buffers are NUL-terminated
   * one byte past their length) */
  for (i = 0; i < h->n && client < h->clients + h->clients_len &&
              cookie < h->cookies + h->cookies_len;
       i++) {
    if (parse_cookie (cookie, &o) && ferry_lock_is_stale (&o)) {
      r = rados_break_lock (c->io, oid, name, client, cookie);
      if (r < 0 && r != -ENOENT)
        return ferry_err_set (err, -r, "%s: cannot break the lock of '%s'",
                              c->where, oid);
      *ret_taken = o;
      n++;
    }
    client += strlen (client) + 1;
    cookie += strlen (cookie) + 1;
  }
  return n;
}

/* Take the wave lock on L->oid (shared under L->tag, or exclusive); stale
 * holders broken first with FERRY_LOCK_TAKE_STALE.  0 or -1. */
static int
wave_take (struct rconn *c, struct rados_lock *l,
           const struct ferry_lock_scope *scope, unsigned flags,
           struct ferry_lock_owner *ret_taken, struct ferry_err *err)
{
  struct timeval tv = {(time_t) l->duration, 0};
  struct ferry_lock_owner o;
  struct holders h;
  int tries, r, k;

  for (tries = 0; tries < 5; tries++) {
    l->last_ok = mono_ms ();
    if (l->tag)
      r = rados_lock_shared (c->io, l->oid, l->name, l->cookie, l->tag, l->desc,
                             &tv, 0);
    else
      r = rados_lock_exclusive (c->io, l->oid, l->name, l->cookie, l->desc, &tv,
                                0);
    if (r == 0)
      return 0;
    if (r != -EBUSY && r != -EEXIST)
      return ferry_err_set (err, -r, "%s: cannot lock '%s'", c->where, l->oid);
    if (holders_list (c, l->oid, l->name, &h, err) < 0)
      return -1;
    if (h.n == 0) {
      holders_free (&h);
      continue; /* released or expired meanwhile */
    }
    if (flags & FERRY_LOCK_TAKE_STALE) {
      k = holders_break_stale (c, l->oid, l->name, &h, ret_taken, err);
      if (k != 0) {
        holders_free (&h);
        if (k < 0)
          return -1;
        continue;
      }
    }
    if (!parse_cookie (h.cookies, &o))
      memset (&o, 0, sizeof o);
    if (l->tag && !h.exclusive && strcmp (h.tag, l->tag) != 0) {
      ferry_err_set (err, 0,
                     "the workers applying this plan (%d) run another plan "
                     "file (sha256 %s; this one is %s)",
                     h.n, h.tag, l->tag);
      err->errnum = FERRY_LOCK_ETAG; /* no errno text */
    } else
      busy (scope, &o, err);
    holders_free (&h);
    return -1;
  }
  return ferry_err_set (err, EBUSY,
                        "%s: cannot take the lock of '%s': it keeps changing",
                        c->where, l->oid);
}

/* How long after the last renewal was sent L counts as ours: half its
 * duration (see rados_lock_lost). */
static int64_t
lease_ms (const struct rados_lock *l)
{
  return (int64_t) l->duration * 1000 / 2;
}

/* Record L's renewal in its object's RENEWED_XATTR (best effort). */
static void
note_renewal (struct rados_lock *l)
{
  char buf[1200];
  int n;

  n = snprintf (buf, sizeof buf, "%lld %s", (long long) wall_ms (), l->cookie);
  if (n > 0 && (size_t) n < sizeof buf)
    rados_setxattr (l->c->io, l->oid, RENEWED_XATTR, buf, (size_t) n);
}

/* Renew L until release or until it is lost. */
static void *
heartbeat (void *arg)
{
  struct rados_lock *l = arg;
  const int64_t period = (int64_t) l->duration * 1000 / 4;
  int64_t wait_ms = period, now, sent;
  struct timeval tv = {(time_t) l->duration, 0};
  struct timespec ts;
  int r;

  pthread_mutex_lock (&l->mu);
  for (;;) {
    clock_gettime (CLOCK_MONOTONIC, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (wait_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    while (!l->stop &&
           pthread_cond_timedwait (&l->cv, &l->mu, &ts) != ETIMEDOUT)
      ;
    if (l->stop)
      break;
    pthread_mutex_unlock (&l->mu);
    /* the lease runs from when the request left, not from the answer */
    sent = mono_ms ();
    if (l->tag)
      r = rados_lock_shared (l->c->io, l->oid, l->name, l->cookie, l->tag,
                             l->desc, &tv, LIBRADOS_LOCK_FLAG_MUST_RENEW);
    else
      r = rados_lock_exclusive (l->c->io, l->oid, l->name, l->cookie, l->desc,
                                &tv, LIBRADOS_LOCK_FLAG_MUST_RENEW);
    now = mono_ms ();
    /* not for the wave lock: one renewal record per object */
    if (r == 0 && strcmp (l->name, LOCK_NAME) == 0)
      note_renewal (l);
    pthread_mutex_lock (&l->mu);
    if (r == 0) {
      l->last_ok = sent;
      wait_ms = period;
      continue;
    }
    if (!transient (r) || now - l->last_ok >= lease_ms (l)) {
      /* broken, expired or taken by another: not ours any more */
      __atomic_store_n (&l->lost, 1, __ATOMIC_RELEASE);
      break;
    }
    wait_ms = 1000; /* the cluster did not answer: again soon */
  }
  pthread_mutex_unlock (&l->mu);
  return NULL;
}

/* Free L (the lock itself is not touched). */
static void
lock_free (struct rados_lock *l)
{
  if (l == NULL)
    return;
  conn_put (l->c);
  free (l->oid);
  free (l->tag);
  free (l->cookie);
  free (l->desc);
  pthread_mutex_destroy (&l->mu);
  pthread_cond_destroy (&l->cv);
  free (l);
}

/* Start L's heartbeat with every signal blocked in it. */
static int
heartbeat_start (struct rados_lock *l)
{
  sigset_t all, old;
  int r;

  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  r = pthread_create (&l->hb, NULL, heartbeat, l);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (r != 0)
    return -r;
  l->hb_running = true;
  return 0;
}

/* Take SCOPE's lock for AS; a stale holder is broken by its client and
 * cookie and the lock taken again, exclusively. */
static int
rados_lock_acquire (void *data, const struct ferry_lock_scope *scope,
                    const struct ferry_lock_owner *as, unsigned flags,
                    void **ret_lock, struct ferry_lock_owner *ret_taken,
                    struct ferry_err *err)
{
  struct rados_state *s = data;
  pthread_condattr_t ca;
  struct rados_lock *l;
  struct ferry_lock_owner o;
  char client[256], cookie[1024], who[512];
  struct timeval tv;
  int tries, r, k;

  memset (ret_taken, 0, sizeof *ret_taken);
  l = calloc (1, sizeof *l);
  if (l == NULL)
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  pthread_mutex_init (&l->mu, NULL);
  /* the heartbeat's deadlines are on the monotonic clock (a cond waits on
   * CLOCK_REALTIME unless told): with the default it renewed in a loop */
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&l->cv, &ca);
  pthread_condattr_destroy (&ca);
  l->c = s->c;
  __atomic_add_fetch (&s->c->refs, 1, __ATOMIC_ACQ_REL);
  l->duration = s->duration;
  l->name = scope->kind == FERRY_LOCK_SCOPE_WAVE ? WAVE_LOCK_NAME : LOCK_NAME;
  ferry_lock_describe (as, who, sizeof who);
  l->oid = lock_oid (s, scope);
  l->cookie = make_cookie (as);
  if (flags & FERRY_LOCK_SHARED)
    l->tag = strdup (scope->tag);
  if (l->oid == NULL || l->cookie == NULL ||
      ((flags & FERRY_LOCK_SHARED) && l->tag == NULL) ||
      asprintf (&l->desc, "ferry: %s", who) < 0) {
    l->desc = NULL;
    lock_free (l);
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  }
  if (scope->kind == FERRY_LOCK_SCOPE_WAVE) {
    if (wave_take (s->c, l, scope, flags, ret_taken, err) < 0) {
      lock_free (l);
      return -1;
    }
    r = heartbeat_start (l);
    if (r < 0) {
      rados_unlock (s->c->io, l->oid, l->name, l->cookie);
      lock_free (l);
      return ferry_err_set (err, -r, "%s: cannot start a thread", s->c->where);
    }
    *ret_lock = l;
    return 0;
  }
  tv.tv_sec = (time_t) l->duration;
  tv.tv_usec = 0;
  for (tries = 0; tries < 5; tries++) {
    l->last_ok = mono_ms ();
    r = rados_lock_exclusive (s->c->io, l->oid, LOCK_NAME, l->cookie, l->desc,
                              &tv, 0);
    if (r == 0) {
      r = heartbeat_start (l);
      if (r < 0) {
        rados_unlock (s->c->io, l->oid, LOCK_NAME, l->cookie);
        lock_free (l);
        return ferry_err_set (err, -r, "%s: cannot start a thread",
                              s->c->where);
      }
      *ret_lock = l;
      return 0;
    }
    if (r != -EBUSY && r != -EEXIST) {
      ferry_err_set (err, -r, "%s: cannot lock '%s'", s->c->where, l->oid);
      lock_free (l);
      return -1;
    }
    k = read_holder (s->c, l->oid, client, sizeof client, cookie, sizeof cookie,
                     &o, err);
    if (k < 0) {
      lock_free (l);
      return -1;
    }
    if (k == 0)
      continue; /* released or expired meanwhile */
    if (!(flags & FERRY_LOCK_TAKE_STALE) || !ferry_lock_is_stale (&o)) {
      busy (scope, &o, err);
      lock_free (l);
      return -1;
    }
    r = rados_break_lock (s->c->io, l->oid, LOCK_NAME, client, cookie);
    if (r == 0)
      *ret_taken = o;
    else if (r != -ENOENT) {
      ferry_err_set (err, -r, "%s: cannot break the lock of '%s'", s->c->where,
                     l->oid);
      lock_free (l);
      return -1;
    }
  }
  ferry_err_set (err, EBUSY,
                 "%s: cannot take the lock of '%s': it keeps "
                 "changing",
                 s->c->where, l->oid);
  lock_free (l);
  return -1;
}

/* Stop the heartbeat, remove our lock (only ours: our cookie) and free. */
static void
rados_lock_release (void *lock)
{
  struct rados_lock *l = lock;

  pthread_mutex_lock (&l->mu);
  l->stop = true;
  pthread_cond_signal (&l->cv);
  pthread_mutex_unlock (&l->mu);
  if (l->hb_running)
    pthread_join (l->hb, NULL);
  rados_unlock (l->c->io, l->oid, l->name, l->cookie);
  lock_free (l);
}

/* True once L is known not to be ours: a renewal was refused, or none
 * succeeded for half a duration.  Half: the cluster keeps the lock a whole
 * duration after the last renewal it saw, so a holder cut off from it
 * gives up (and stops writing) half a duration before anybody else can
 * take the lock — the lease that fences a worker that lost its VM
 * (docs/scale-out.md). */
static bool
rados_lock_lost (void *lock)
{
  struct rados_lock *l = lock;
  int64_t last;

  if (__atomic_load_n (&l->lost, __ATOMIC_ACQUIRE))
    return true;
  pthread_mutex_lock (&l->mu);
  last = l->last_ok;
  pthread_mutex_unlock (&l->mu);
  return mono_ms () - last >= lease_ms (l);
}

/* The owner of SCOPE's lock (pid 0: not a ferry cookie). */
static int
rados_lock_read (void *data, const struct ferry_lock_scope *scope,
                 struct ferry_lock_owner *ret, struct ferry_err *err)
{
  struct rados_state *s = data;
  CLEANUP_FREE char *oid = lock_oid (s, scope);
  char client[256], cookie[1024];

  char buf[1200], *sp;
  long long ms;
  int k, n;

  if (oid == NULL)
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  k = read_holder (s->c, oid, client, sizeof client, cookie, sizeof cookie, ret,
                   err);
  if (k != 1 || ret->pid == 0)
    return k;
  /* the holder's last renewal, if the record is the holder's own */
  n = rados_getxattr (s->c->io, oid, RENEWED_XATTR, buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
    sp = strchr (buf, ' ');
    if (sp && strcmp (sp + 1, cookie) == 0 && sscanf (buf, "%lld", &ms) == 1 &&
        ms > 0)
      ret->renewed_ms = ms;
  }
  return k;
}

/* Remove SCOPE's lock when stale (its owner ran here and is gone), or
 * when FORCE: the break names the client and cookie judged. */
static int
rados_lock_break (void *data, const struct ferry_lock_scope *scope, bool force,
                  struct ferry_lock_owner *ret_owner, struct ferry_err *err)
{
  struct rados_state *s = data;
  CLEANUP_FREE char *oid = lock_oid (s, scope);
  struct ferry_lock_owner o;
  char client[256], cookie[1024], who[512], host[256] = "";
  int tries, k, r;

  if (oid == NULL)
    return ferry_err_set (err, ENOMEM, "%s", s->c->where);
  for (tries = 0; tries < 5; tries++) {
    k = read_holder (s->c, oid, client, sizeof client, cookie, sizeof cookie,
                     &o, err);
    if (k <= 0)
      return k;
    if (!force && !ferry_lock_is_stale (&o)) {
      ferry_lock_describe (&o, who, sizeof who);
      gethostname (host, sizeof host - 1);
      if (o.pid > 0 && strcmp (host[0] ? host : "unknown", o.host) != 0)
        return ferry_err_set (err, EBUSY,
                              "lock '%s' of %s is held by %s, on another "
                              "host: it expires %u s after that run stops "
                              "renewing it; remove it with --force if it "
                              "does not run",
                              oid, s->c->where, who, s->duration);
      return ferry_err_set (err, EBUSY,
                            "lock '%s' of %s is held by %s, which is still "
                            "running; stop it first, or remove the lock "
                            "with --force",
                            oid, s->c->where, who);
    }
    r = rados_break_lock (s->c->io, oid, LOCK_NAME, client, cookie);
    if (r == 0) {
      *ret_owner = o;
      return 1;
    }
    if (r != -ENOENT)
      return ferry_err_set (err, -r, "%s: cannot break the lock of '%s'",
                            s->c->where, oid);
    /* gone meanwhile: judge whatever holds it now */
  }
  return ferry_err_set (err, EBUSY,
                        "%s: cannot break the lock of '%s': it keeps "
                        "changing",
                        s->c->where, oid);
}

const struct ferry_state_ops ferry_state_rados_ops = {
    .name = "rados",
    .open = rados_state_open,
    .close = rados_state_close,
    .where = rados_state_where,
    .append = rados_state_append,
    .lock_acquire = rados_lock_acquire,
    .lock_release = rados_lock_release,
    .lock_lost = rados_lock_lost,
    .lock_read = rados_lock_read,
    .lock_break = rados_lock_break,
};
