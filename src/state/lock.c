/* Plan locks, file backend: git's lockfile shape.  The lock is a file
 * created with O_CREAT|O_EXCL holding "key=value" lines:
 *
 *   host=migr01
 *   pid=1234
 *   started=1795466460
 *   version=0.1.0
 *
 * written and fsync'd before acquire returns.  A lock file that cannot be
 * parsed (a crash between create and write, a hand edit) is held by an
 * unknown owner: it is refused, and only unlock --force removes it.
 *
 * Taking a lock is link(2) of a complete file of our own onto the lock
 * path: atomic, it succeeds only when there is no lock.  Removing one
 * (release, break, stale takeover) is read-decide-unlink, which is not
 * atomic by itself: two runs that both read the same stale owner would
 * both unlink, the second one removing the lock the first had just taken.
 * So every remove runs under an exclusive flock(2) on the lock's directory
 * (a stable object, never removed, released by the kernel if we die):
 * while we hold it nobody else can remove the file we read, and link(2)
 * cannot replace an existing file, so what we read is what we unlink. */
#include "state/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define LOCK_MAX_SIZE 4096 /* a lock file larger than this is garbled */

struct ferry_lock {
  char *path;                  /* the lock file */
  char content[LOCK_MAX_SIZE]; /* what we wrote */
  size_t len;                  /* bytes of content */
  int fd; /* open on the file we linked: our proof of ownership.  Its
             inode cannot be reused while we hold it, so a lock file with
             the same device and inode is ours; equal content is not proof
             (a retake by the same pid within the same second) */
};

/* Read at most LOCK_MAX_SIZE bytes of PATH into BUF (NUL-terminated).
 * 1 read, 0 no such file, -1 error.  *RET_LEN is the byte count; a file
 * longer than the buffer reports LOCK_MAX_SIZE (garbled). */
static int
read_lock_file (const char *path, char *buf, size_t *ret_len,
                struct ferry_err *err)
{
  CLEANUP_CLOSE int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  size_t have = 0;
  ssize_t n;

  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot open lock file '%s'", path);
  while (have < LOCK_MAX_SIZE) {
    n = read (fd, buf + have, LOCK_MAX_SIZE - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ferry_err_set (err, errno, "cannot read lock file '%s'", path);
    if (n == 0)
      break;
    have += (size_t) n;
  }
  buf[have < LOCK_MAX_SIZE ? have : LOCK_MAX_SIZE - 1] = '\0';
  *ret_len = have;
  return 1;
}

/* Parse a decimal integer in [MIN, MAX] that is the whole of S. */
static bool
parse_int (const char *s, long long min, long long max, long long *ret)
{
  char *end;
  long long v;

  if (*s < '0' || *s > '9')
    return false;
  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return false;
  *ret = v;
  return true;
}

/* Parse lock file text BUF into *RET.  False if anything is missing,
 * repeated, out of range or not "key=value". */
static bool
parse_owner (char *buf, size_t len, struct ferry_lock_owner *ret)
{
  struct ferry_lock_owner o;
  unsigned seen = 0;
  char *line, *next, *eq;
  long long v;

  memset (&o, 0, sizeof o);
  if (len == 0 || len >= LOCK_MAX_SIZE || strlen (buf) != len ||
      buf[len - 1] != '\n')
    return false;
  for (line = buf; *line; line = next) {
    next = strchr (line, '\n');
    *next++ = '\0';
    eq = strchr (line, '=');
    if (eq == NULL)
      return false;
    *eq++ = '\0';
    if (strcmp (line, "host") == 0 && !(seen & 1) && *eq &&
        strlen (eq) < sizeof o.host) {
      strcpy (o.host, eq);
      seen |= 1;
    } else if (strcmp (line, "pid") == 0 && !(seen & 2) &&
               parse_int (eq, 1, INT_MAX, &v)) {
      o.pid = (pid_t) v;
      seen |= 2;
    } else if (strcmp (line, "started") == 0 && !(seen & 4) &&
               parse_int (eq, 0, INT64_C (253402300799), &v)) {
      o.started = v;
      seen |= 4;
    } else if (strcmp (line, "version") == 0 && !(seen & 8) && *eq &&
               strlen (eq) < sizeof o.version) {
      strcpy (o.version, eq);
      seen |= 8;
    } else
      return false;
  }
  if (seen != 15)
    return false;
  *ret = o;
  return true;
}

/* Read the owner of the lock at PATH; see lock.h.  A garbled lock file is
 * present (1) with an unknown owner: pid 0, empty host and version. */
int
ferry_lock_read (const char *path, struct ferry_lock_owner *ret,
                 struct ferry_err *err)
{
  char buf[LOCK_MAX_SIZE];
  size_t len = 0;
  int r;

  r = read_lock_file (path, buf, &len, err);
  if (r <= 0)
    return r;
  if (!parse_owner (buf, len, ret))
    memset (ret, 0, sizeof *ret);
  return 1;
}

/* "pid 1234 on host 'h' since 2026-11-23T20:41:00Z (ferry 0.1.0)", or
 * "an unknown owner (the lock file is garbled)". */
void
ferry_lock_describe (const struct ferry_lock_owner *o, char *buf, size_t len)
{
  time_t t = (time_t) o->started;
  struct tm tm;
  char when[32];

  if (o->pid <= 0) {
    snprintf (buf, len, "an unknown owner (the lock file is garbled)");
    return;
  }
  gmtime_r (&t, &tm);
  strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf (buf, len, "pid %d on host '%s' since %s (ferry %s)", (int) o->pid,
            o->host, when, o->version);
}

/* Lock FD exclusively, waiting; 0 or -1 (errno set). */
static int
flock_wait (int fd)
{
  int r;

  do
    r = flock (fd, LOCK_EX);
  while (r < 0 && errno == EINTR);
  return r;
}

/* Serialise the removers of lock files in the directory of PATH: an
 * exclusive flock on the directory.  Where a directory cannot be flocked
 * (NFS turns flock into a byte-range lock, which needs a file open for
 * writing) a guard file ".ferry-lock-guard" in that directory stands in:
 * a stable file, never removed.  The descriptor (>= 0) is the guard;
 * close it to let go. */
static int
guard_take (const char *path, struct ferry_err *err)
{
  CLEANUP_FREE char *dir = NULL;
  CLEANUP_FREE char *alt = NULL;
  const char *slash = strrchr (path, '/');
  int fd;

  if (slash == NULL)
    dir = strdup (".");
  else
    dir = strndup (path, slash == path ? 1 : (size_t) (slash - path));
  if (dir == NULL || asprintf (&alt, "%s/.ferry-lock-guard", dir) < 0) {
    alt = NULL;
    return ferry_err_set (err, ENOMEM, "lock '%s'", path);
  }
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot open lock directory '%s'", dir);
  if (flock_wait (fd) == 0)
    return fd;
  close (fd);
  fd = open (alt, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot open lock guard '%s'", alt);
  if (flock_wait (fd) == 0)
    return fd;
  ferry_err_set (err, errno, "cannot lock '%s'", alt);
  close (fd);
  return -1;
}

/* The busy error for a lock of WHAT held by O, at PATH. */
static int
busy (const char *what, const char *path, const struct ferry_lock_owner *o,
      struct ferry_err *err)
{
  char who[512];

  ferry_lock_describe (o, who, sizeof who);
  if (o->pid <= 0)
    return ferry_err_set (err, EBUSY,
                          "%s is locked by %s at '%s'; if no run is active, "
                          "run 'ferry unlock --force'",
                          what, who, path);
  return ferry_err_set (err, EBUSY,
                        "%s is locked by %s; if that run is dead, run 'ferry "
                        "unlock'",
                        what, who);
}

/* Remove the lock at PATH if it is stale, holding the guard.  1 removed
 * (*RET_OWNER says whose), 0 not there any more, 2 held by a live or
 * unknown owner (*RET_OWNER), -1 error. */
static int
remove_if_stale (const char *path, struct ferry_lock_owner *ret_owner,
                 struct ferry_err *err)
{
  int r = ferry_lock_read (path, ret_owner, err);

  if (r <= 0)
    return r;
  if (!ferry_lock_is_stale (ret_owner))
    return 2;
  if (unlink (path) < 0 && errno != ENOENT)
    return ferry_err_set (err, errno, "cannot remove lock file '%s'", path);
  return 1;
}

/* Take the lock at PATH; see lock.h. */
int
ferry_lock_acquire (const char *path, struct ferry_lock **ret,
                    struct ferry_err *err)
{
  return ferry_lock_acquire_as (path, "plan", NULL, 0, ret, NULL, err);
}

/* Take the lock at PATH for WHAT in the name of AS (NULL: this process);
 * see lock.h. */
int
ferry_lock_acquire_as (const char *path, const char *what,
                       const struct ferry_lock_owner *as, unsigned flags,
                       struct ferry_lock **ret,
                       struct ferry_lock_owner *ret_taken,
                       struct ferry_err *err)
{
  CLEANUP_FREE char *tmp = NULL;
  struct ferry_lock *lock;
  struct ferry_lock_owner o, me;
  size_t done;
  ssize_t n;
  int fd, tries, r, guard = -1;
  static unsigned serial;

  if (ret_taken != NULL)
    memset (ret_taken, 0, sizeof *ret_taken);
  if (as == NULL) {
    ferry_lock_owner_self (&me);
    as = &me;
  }
  if (ferry_mkdir_parents (path, err) < 0)
    return -1;
  lock = calloc (1, sizeof *lock);
  if (lock == NULL || (lock->path = strdup (path)) == NULL ||
      asprintf (&tmp, "%s.%d.%u.tmp", path, (int) getpid (),
                __atomic_fetch_add (&serial, 1, __ATOMIC_RELAXED)) < 0) {
    if (lock)
      free (lock->path);
    free (lock);
    return ferry_err_set (err, ENOMEM, "lock '%s'", path);
  }
  lock->fd = -1;
  n = snprintf (lock->content, sizeof lock->content,
                "host=%s\npid=%d\nstarted=%lld\nversion=%s\n",
                as->host[0] ? as->host : "unknown", (int) as->pid,
                (long long) as->started, as->version);
  lock->len = (size_t) n;

  /* The content goes to a file of our own first and is linked into place
   * complete: a crash at any moment leaves either no lock or a whole one,
   * never an empty or half-written lock file. */
  fd = open (tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    ferry_err_set (err, errno, "cannot create lock file '%s'", tmp);
    goto fail;
  }
  for (done = 0; done < lock->len; done += (size_t) n) {
    n = write (fd, lock->content + done, lock->len - done);
    if (n < 0 && errno == EINTR) {
      n = 0;
      continue;
    }
    if (n <= 0)
      break;
  }
  if (done < lock->len || fsync (fd) < 0) {
    ferry_err_set (err, n < 0 ? errno : EIO, "cannot write lock file '%s'",
                   tmp);
    close (fd);
    goto fail;
  }
  lock->fd = fd;
  for (tries = 0; tries < 3; tries++) {
    if (link (tmp, path) == 0) {
      if (guard >= 0)
        close (guard);
      unlink (tmp);
      ferry_sync_parent (path, NULL); /* best effort */
      *ret = lock;
      return 0;
    }
    if (errno != EEXIST) {
      ferry_err_set (err, errno, "cannot create lock file '%s'", path);
      goto fail;
    }
    if (flags & FERRY_LOCK_TAKE_STALE) {
      /* under the guard nobody else removes the lock between our read
       * and our unlink, so we remove exactly the stale lock we read */
      if (guard < 0 && (guard = guard_take (path, err)) < 0)
        goto fail;
      r = remove_if_stale (path, &o, err);
      if (r < 0)
        goto fail;
      if (r == 1 && ret_taken != NULL)
        *ret_taken = o;
      if (r == 2) {
        busy (what, path, &o, err);
        goto fail;
      }
      continue; /* removed, or gone already: link again */
    }
    r = ferry_lock_read (path, &o, err);
    if (r < 0)
      goto fail;
    if (r == 0)
      continue; /* released between our link and our read: try again */
    busy (what, path, &o, err);
    goto fail;
  }
  ferry_err_set (err, EBUSY, "cannot take the lock '%s': it keeps changing",
                 path);
fail:
  if (guard >= 0)
    close (guard);
  if (lock->fd >= 0)
    close (lock->fd);
  unlink (tmp);
  free (lock->path);
  free (lock);
  return -1;
}

/* Release LOCK: remove the file only if it is still the file we linked
 * (it may have been broken with --force and taken by another run, maybe
 * by ourselves).  Under the guard, so that the file we compared is the
 * file we unlink. */
void
ferry_lock_release (struct ferry_lock *lock)
{
  struct stat ours, now;
  int guard;

  if (lock == NULL)
    return;
  guard = guard_take (lock->path, NULL);
  if (fstat (lock->fd, &ours) == 0 && lstat (lock->path, &now) == 0 &&
      ours.st_dev == now.st_dev && ours.st_ino == now.st_ino)
    unlink (lock->path);
  if (guard >= 0)
    close (guard);
  close (lock->fd);
  free (lock->path);
  free (lock);
}

/* The owner record of this process: host, pid, now, our version. */
void
ferry_lock_owner_self (struct ferry_lock_owner *ret)
{
  memset (ret, 0, sizeof *ret);
  if (gethostname (ret->host, sizeof ret->host - 1) < 0 || !ret->host[0])
    strcpy (ret->host, "unknown");
  ret->pid = getpid ();
  ret->started = (int64_t) time (NULL);
  snprintf (ret->version, sizeof ret->version, "%s", FERRY_VERSION);
}

/* True if OWNER ran on this host and its process is gone. */
bool
ferry_lock_is_stale (const struct ferry_lock_owner *owner)
{
  char host[256] = "";

  if (owner->pid <= 0)
    return false;
  if (gethostname (host, sizeof host - 1) < 0 ||
      strcmp (host[0] ? host : "unknown", owner->host) != 0)
    return false;
  return kill (owner->pid, 0) < 0 && errno == ESRCH;
}

/* Remove the lock at PATH when stale, or when FORCE; see lock.h.  The
 * read, the decision and the unlink run under the guard: the lock removed
 * is the one whose owner was judged (see the head comment). */
int
ferry_lock_break (const char *path, bool force,
                  struct ferry_lock_owner *ret_owner, struct ferry_err *err)
{
  struct ferry_lock_owner o;
  char host[256] = "";
  char who[512];
  int r, guard;

  r = ferry_lock_read (path, &o, err);
  if (r <= 0)
    return r;
  guard = guard_take (path, err);
  if (guard < 0)
    return -1;
  r = ferry_lock_read (path, &o, err); /* again, now that it holds still */
  if (r <= 0)
    goto out;
  ferry_lock_describe (&o, who, sizeof who);
  if (!force && !ferry_lock_is_stale (&o)) {
    gethostname (host, sizeof host - 1);
    if (o.pid <= 0)
      r = ferry_err_set (err, EBUSY,
                         "lock '%s' is held by %s; remove it with "
                         "--force if no run is active",
                         path, who);
    else if (strcmp (host[0] ? host : "unknown", o.host) != 0)
      r = ferry_err_set (err, EBUSY,
                         "lock '%s' is held by %s, on another host: "
                         "cannot tell whether it still runs; remove it "
                         "with --force if it does not",
                         path, who);
    else
      r = ferry_err_set (err, EBUSY,
                         "lock '%s' is held by %s, which is still running; "
                         "stop it first, or remove the lock with --force",
                         path, who);
    goto out;
  }
  if (unlink (path) < 0 && errno != ENOENT) {
    r = ferry_err_set (err, errno, "cannot remove lock file '%s'", path);
    goto out;
  }
  if (ret_owner != NULL)
    *ret_owner = o;
  r = 1;
out:
  close (guard);
  return r;
}
