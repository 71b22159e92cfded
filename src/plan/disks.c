/* The plan's cache of opened source disks: validate, check and apply of a
 * run open each source disk once instead of three times (issue 14, seam
 * 5).  A handle is shared by whoever asks for the same disk of the same
 * source; the disk layer allows that (disk/disk.h: after open, every
 * reader callback is safe from several threads at once).
 *
 * A cached handle must never stand for a file that changed since it was
 * opened: its reader loaded tables at open, and identities (disk/
 * identity.c) are computed from the open descriptors.  So each entry keeps
 * a stamp of every file of the chain (members and the files holding their
 * data: device, inode, size, mtime, ctime), and every get compares the
 * stamps with a fresh stat of the names.  On any difference the handle is
 * reopened (or, when a step still holds it, a fresh private handle is
 * returned), so a source changed between validate, check and apply is
 * seen as changed. */
#include "plan/plan.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "disk/disk.h"
#include "util/cleanup.h"

/* What one file of a chain was when the handle was opened. */
struct disk_stamp {
  char *path;            /* the name stat'ed again on every get */
  dev_t dev;             /* device */
  ino_t ino;             /* inode */
  off_t size;            /* bytes */
  struct timespec mtime; /* content change */
  struct timespec ctime; /* any change (cannot be set back by touch) */
};

/* One opened disk. */
struct disk_entry {
  char *source;              /* the source's name ("" when none) */
  char *path;                /* the disk's path as the plan resolved it */
  struct ferry_disk *disk;   /* the chain, opened once */
  unsigned refs;             /* gets not yet put */
  struct disk_stamp *stamps; /* every file of the chain */
  size_t n_stamps;
  struct disk_entry *next;
};

struct ferry_disk_cache {
  pthread_mutex_t lock;       /* guards entries and every entry's fields */
  struct disk_entry *entries; /* a list: plans hold tens of disks */
  unsigned long opens;        /* disks opened through the cache (tests) */
};

/* A new, empty cache; NULL when out of memory. */
struct ferry_disk_cache *
ferry_disk_cache_new (void)
{
  struct ferry_disk_cache *c = calloc (1, sizeof *c);

  if (c != NULL)
    pthread_mutex_init (&c->lock, NULL);
  return c;
}

/* Free one entry and close its disk. */
static void
entry_free (struct disk_entry *e)
{
  size_t i;

  if (e == NULL)
    return;
  ferry_disk_close (e->disk);
  for (i = 0; i < e->n_stamps; i++)
    free (e->stamps[i].path);
  free (e->stamps);
  free (e->source);
  free (e->path);
  free (e);
}

/* Close every disk of C and free it; NULL is fine.  Handles still held
 * are closed too: the plan (and the run) ends here. */
void
ferry_disk_cache_free (struct ferry_disk_cache *c)
{
  struct disk_entry *e, *next;

  if (c == NULL)
    return;
  for (e = c->entries; e != NULL; e = next) {
    next = e->next;
    entry_free (e);
  }
  pthread_mutex_destroy (&c->lock);
  free (c);
}

/* How many disks C opened so far (the tests count them). */
unsigned long
ferry_disk_cache_opens (struct ferry_disk_cache *c)
{
  unsigned long n;

  pthread_mutex_lock (&c->lock);
  n = c->opens;
  pthread_mutex_unlock (&c->lock);
  return n;
}

/* Add the stamp of PATH as ST says it is.  -1 out of memory. */
static int
stamp_add (struct disk_entry *e, const char *path, const struct stat *st)
{
  struct disk_stamp *s;

  s = realloc (e->stamps, (e->n_stamps + 1) * sizeof *s);
  if (s == NULL)
    return -1;
  e->stamps = s;
  s = &e->stamps[e->n_stamps];
  s->path = strdup (path);
  if (s->path == NULL)
    return -1;
  s->dev = st->st_dev;
  s->ino = st->st_ino;
  s->size = st->st_size;
  s->mtime = st->st_mtim;
  s->ctime = st->st_ctim;
  e->n_stamps++;
  return 0;
}

/* Stamp every file of E's chain: each member as its open descriptor
 * sees it (what the reader loaded), each data file by name.  A file that
 * cannot be stat'ed leaves the entry unstamped, hence never cached. */
static int
stamp_chain (struct disk_entry *e)
{
  const struct ferry_disk *d;
  struct stat st;
  const char *f;
  size_t i;

  for (d = e->disk; d != NULL; d = d->parent) {
    if (d->fd < 0)
      continue; /* rbd: no file to watch */
    if (fstat (d->fd, &st) < 0 || stamp_add (e, d->path, &st) < 0)
      return -1;
    for (i = 0; d->format->data_file &&
                (f = d->format->data_file ((struct ferry_disk *) d, i));
         i++)
      if (stat (f, &st) < 0 || stamp_add (e, f, &st) < 0)
        return -1;
  }
  return 0;
}

/* True while every file of E is still what it was at open. */
static bool
entry_fresh (const struct disk_entry *e)
{
  const struct disk_stamp *s;
  struct stat st;
  size_t i;

  for (i = 0; i < e->n_stamps; i++) {
    s = &e->stamps[i];
    if (stat (s->path, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino ||
        st.st_size != s->size || st.st_mtim.tv_sec != s->mtime.tv_sec ||
        st.st_mtim.tv_nsec != s->mtime.tv_nsec ||
        st.st_ctim.tv_sec != s->ctime.tv_sec ||
        st.st_ctim.tv_nsec != s->ctime.tv_nsec)
      return false;
  }
  return true;
}

/* Unlink E from C's list and free it.  Caller holds C's lock. */
static void
entry_drop (struct ferry_disk_cache *c, struct disk_entry *e)
{
  struct disk_entry **p;

  for (p = &c->entries; *p != NULL; p = &(*p)->next)
    if (*p == e) {
      *p = e->next;
      break;
    }
  entry_free (e);
}

/* Hand out the disk at PATH of SRC: the cached handle while its files are
 * unchanged, else a freshly opened one (see the head comment).  Opens
 * happen under the cache's lock, so two steps asking at once open it
 * once. */
int
ferry_plan_disk_get (const struct ferry_plan *plan,
                     const struct ferry_source *src,
                     const struct ferry_location *loc, struct ferry_disk **ret,
                     struct ferry_err *err)
{
  struct ferry_disk_cache *c = plan->disk_cache;
  const char *sname = src && src->name ? src->name : "";
  CLEANUP_FREE char *path = NULL;
  struct disk_entry *e;
  struct ferry_disk *d = NULL;
  int r = -1;

  if (c == NULL)
    return ferry_plan_open_disk (src, loc, ret, err);
  /* the key: LOC's display form, one string per location */
  path = ferry_location_format (loc);
  if (path == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  pthread_mutex_lock (&c->lock);
  for (e = c->entries; e != NULL; e = e->next)
    if (strcmp (e->source, sname) == 0 && strcmp (e->path, path) == 0)
      break;
  if (e != NULL && entry_fresh (e)) {
    e->refs++;
    *ret = e->disk;
    r = 0;
    goto out;
  }
  if (e != NULL && e->refs == 0) {
    /* changed since it was opened: forget it, open it again */
    entry_drop (c, e);
    e = NULL;
  }
  if (ferry_plan_open_disk (src, loc, &d, err) < 0)
    goto out;
  c->opens++;
  if (e != NULL) {
    /* changed, and a step still reads the old handle: this caller gets
     * a private one (put closes it) */
    *ret = d;
    r = 0;
    goto out;
  }
  e = calloc (1, sizeof *e);
  if (e == NULL || (e->source = strdup (sname)) == NULL ||
      (e->path = strdup (path)) == NULL) {
    entry_free (e);
    ferry_disk_close (d);
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  e->disk = d;
  if (stamp_chain (e) < 0) {
    /* cannot watch it: hand it out uncached */
    e->disk = NULL;
    entry_free (e);
    *ret = d;
    r = 0;
    goto out;
  }
  e->refs = 1;
  e->next = c->entries;
  c->entries = e;
  *ret = d;
  r = 0;
out:
  pthread_mutex_unlock (&c->lock);
  return r;
}

/* Give back a handle from ferry_plan_disk_get: a private one is closed;
 * a cached one stays open for the next step of the run unless LAST and
 * nobody else holds it. */
void
ferry_plan_disk_put (const struct ferry_plan *plan, struct ferry_disk *disk,
                     bool last)
{
  struct ferry_disk_cache *c = plan->disk_cache;
  struct disk_entry *e;

  if (disk == NULL)
    return;
  if (c == NULL) {
    ferry_disk_close (disk);
    return;
  }
  pthread_mutex_lock (&c->lock);
  for (e = c->entries; e != NULL; e = e->next)
    if (e->disk == disk)
      break;
  if (e == NULL)
    ferry_disk_close (disk); /* a private handle */
  else if (e->refs > 0 && --e->refs == 0 && last)
    entry_drop (c, e);
  pthread_mutex_unlock (&c->lock);
}
