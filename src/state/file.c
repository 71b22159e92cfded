/* The file backend of the state interface (state.h).
 *
 * Journal: one JSON object per line (state/fold.c says what a line holds),
 * appended with a single write(2) on an O_APPEND descriptor and
 * fdatasync'd before append returns.  A crash can tear only the last line;
 * replay skips it (and any other line it cannot trust) and the next append
 * starts with a newline so the torn bytes stay a line of their own.
 *
 * Locks: one lock file per scope beside the journal (state/lock.c does the
 * work): "<journal>.lock" for the plan, "<journal>.vm.<name>.lock" for a
 * VM, the name escaped so it is one file name.
 *
 * The wave lock is flock(2) on "<journal>.wave", a file never removed:
 * LOCK_SH for a share, LOCK_EX for the exclusive lock, never waiting; the
 * kernel drops it when its holder dies, so it is never stale.  The shares'
 * tag is the file's content: the first sharer takes LOCK_EX, writes its
 * tag and converts to LOCK_SH; a later sharer gets LOCK_SH (only while no
 * LOCK_EX is held, so never during a write) and compares.  The conversion
 * is not atomic (flock drops LOCK_EX before taking LOCK_SH), so every
 * sharer reads the tag again once it holds LOCK_SH: whoever wrote in the
 * gap is seen. */
#include "state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define JOURNAL_MAX_LINE FERRY_JOURNAL_MAX_LINE

struct file_state {
  char *path;              /* the journal file */
  char *where;             /* "journal '<path>'" */
  int fd;                  /* O_APPEND (or O_RDONLY), -1 if none */
  bool need_newline;       /* file ends in a torn line (state.c serialises) */
  struct ferry_fold *fold; /* replay target (open only) */
};

/* True if LINE (LEN bytes) is only blanks: ignored, not counted. */
static bool
blank (const char *line, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
      return false;
  return true;
}

/* Read the whole file line by line through a bounded buffer: a line longer
 * than JOURNAL_MAX_LINE is skipped without being held in memory.  A last
 * line without its newline is torn (its write never completed) and is
 * skipped even if it parses. */
static int
replay (struct file_state *j, struct ferry_err *err)
{
  const size_t bufsize = 4 * JOURNAL_MAX_LINE;
  CLEANUP_FREE char *buf = malloc (bufsize);
  size_t have = 0, pos = 0, lineno = 0;
  bool skipping = false, eof = false;
  uint64_t off = 0;
  char *nl;
  ssize_t n;
  int r;

  if (buf == NULL)
    return ferry_err_set (err, ENOMEM, "journal '%s'", j->path);
  for (;;) {
    nl = memchr (buf + pos, '\n', have - pos);
    if (nl != NULL) {
      size_t len = (size_t) (nl - (buf + pos));
      lineno++;
      if (skipping) {
        /* the tail of an overlong line */
        skipping = false;
      } else if (len + 1 > JOURNAL_MAX_LINE)
        ferry_fold_note_bad (j->fold, lineno);
      else if (!blank (buf + pos, len)) {
        r = ferry_fold_line (j->fold, buf + pos, len);
        if (r < 0)
          return ferry_err_set (err, ENOMEM, "journal '%s'", j->path);
        if (r > 0)
          ferry_fold_note_bad (j->fold, lineno);
      }
      pos += len + 1;
      continue;
    }
    if (eof)
      break;
    /* no complete line in the buffer: make room and read more */
    if (pos > 0) {
      memmove (buf, buf + pos, have - pos);
      have -= pos;
      pos = 0;
    }
    if (have > JOURNAL_MAX_LINE) {
      /* overlong line: count it once, drop what we have of it */
      if (!skipping) {
        ferry_fold_note_bad (j->fold, lineno + 1);
        skipping = true;
      }
      have = 0;
    }
    n = pread (j->fd, buf + have, bufsize - have, (off_t) off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ferry_err_set (err, errno, "cannot read journal '%s'", j->path);
    if (n == 0)
      eof = true;
    have += (size_t) n;
    off += (uint64_t) n;
  }
  if (have > pos || skipping) {
    /* torn last line */
    if (!skipping)
      ferry_fold_note_bad (j->fold, lineno + 1);
    j->need_newline = true;
  }
  return 0;
}

/* Close the file backend's state. */
static void
file_close (void *data)
{
  struct file_state *j = data;

  if (j == NULL)
    return;
  if (j->fd >= 0)
    close (j->fd);
  free (j->path);
  free (j->where);
  free (j);
}

/* Open (creating the file and its directory unless READONLY) and replay
 * the journal at CFG->path into FOLD.  A missing file in READONLY mode is
 * an empty journal. */
static int
file_open (const struct ferry_state_cfg *cfg, bool readonly,
           struct ferry_fold *fold, void **ret_data, struct ferry_err *err)
{
  const char *path = cfg->path;
  struct file_state *j;
  struct stat st;
  bool created = false;

  if (path == NULL || path[0] == '\0')
    return ferry_err_set (err, EINVAL, "state: the file backend needs a path");
  j = calloc (1, sizeof *j);
  if (j == NULL)
    return ferry_err_set (err, ENOMEM, "journal '%s'", path);
  j->fd = -1;
  j->fold = fold;
  j->path = strdup (path);
  if (j->path == NULL || asprintf (&j->where, "journal '%s'", path) < 0) {
    j->where = NULL;
    file_close (j);
    return ferry_err_set (err, ENOMEM, "journal '%s'", path);
  }

  if (readonly) {
    j->fd = open (path, O_RDONLY | O_CLOEXEC);
    if (j->fd < 0 && errno == ENOENT) {
      j->fold = NULL;
      *ret_data = j;
      return 0;
    }
  } else {
    if (ferry_mkdir_parents (path, err) < 0) {
      file_close (j);
      return -1;
    }
    j->fd = open (path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (j->fd < 0 && errno == ENOENT) {
      j->fd =
          open (path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      created = j->fd >= 0;
      if (j->fd < 0 && errno == EEXIST)
        j->fd = open (path, O_RDWR | O_APPEND | O_CLOEXEC);
    }
  }
  if (j->fd < 0) {
    ferry_err_set (err, errno, "cannot open journal '%s'", path);
    file_close (j);
    return -1;
  }
  if (fstat (j->fd, &st) < 0) {
    ferry_err_set (err, errno, "cannot stat journal '%s'", path);
    file_close (j);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    ferry_err_set (err, EINVAL, "journal '%s' is not a regular file", path);
    file_close (j);
    return -1;
  }
  if (created)
    ferry_sync_parent (path, NULL); /* best effort */
  if (replay (j, err) < 0) {
    file_close (j);
    return -1;
  }
  j->fold = NULL;
  *ret_data = j;
  return 0;
}

/* "journal '<path>'". */
static const char *
file_where (void *data)
{
  return ((struct file_state *) data)->where;
}

/* Append E (checked by state.c) with one write(2) and fdatasync. */
static int
file_append (void *data, const struct ferry_journal_entry *e,
             struct ferry_err *err)
{
  struct file_state *j = data;
  CLEANUP_FREE char *line = NULL;
  size_t len;
  ssize_t n;

  if (j->fd < 0)
    return ferry_err_set (err, EBADF, "journal '%s' is open read-only",
                          j->path);
  line = ferry_fold_format (e, &len);
  if (line == NULL)
    return ferry_err_set (err, ENOMEM, "journal '%s'", j->path);
  if (len > JOURNAL_MAX_LINE)
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': entry is longer than %d bytes",
                          e->step, JOURNAL_MAX_LINE);
  if (j->need_newline) {
    /* end the torn line first, in the same write */
    char *nl = malloc (len + 2);

    if (nl == NULL)
      return ferry_err_set (err, ENOMEM, "journal '%s'", j->path);
    nl[0] = '\n';
    memcpy (nl + 1, line, len + 1);
    free (line);
    line = nl;
    len++;
  }
  do
    n = write (j->fd, line, len);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t) len) {
    if (n > 0)
      j->need_newline = true; /* a part of the line is on disk */
    return ferry_err_set (err, n < 0 ? errno : ENOSPC,
                          "cannot append to journal '%s'", j->path);
  }
  j->need_newline = false;
  if (fdatasync (j->fd) < 0)
    return ferry_err_set (err, errno, "cannot sync journal '%s'", j->path);
  return 0;
}

/* The lock file of SCOPE for the journal at JOURNAL; see state.h. */
char *
ferry_state_file_lock_path (const char *journal,
                            const struct ferry_lock_scope *scope)
{
  static const char hex[] = "0123456789abcdef";
  char *path, *p;
  const char *s;
  size_t n;

  if (scope->kind == FERRY_LOCK_SCOPE_PLAN ||
      scope->kind == FERRY_LOCK_SCOPE_WAVE) {
    if (asprintf (&path, "%s.%s", journal,
                  scope->kind == FERRY_LOCK_SCOPE_PLAN ? "lock" : "wave") < 0)
      return NULL;
    return path;
  }
  if (scope->kind != FERRY_LOCK_SCOPE_VM || scope->vm == NULL ||
      scope->vm[0] == '\0')
    return NULL;
  n = strlen (journal);
  path = malloc (n + 4 + 3 * strlen (scope->vm) + 6);
  if (path == NULL)
    return NULL;
  p = stpcpy (stpcpy (path, journal), ".vm.");
  for (s = scope->vm; *s; s++) {
    unsigned char c = (unsigned char) *s;

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
      *p++ = (char) c;
    else {
      *p++ = '%';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    }
  }
  strcpy (p, ".lock");
  return path;
}

/* "plan" or "vm 'NAME'": what a lock of SCOPE protects, for messages. */
static void
scope_label (const struct ferry_lock_scope *scope, char *buf, size_t len)
{
  if (scope->kind == FERRY_LOCK_SCOPE_VM)
    snprintf (buf, len, "vm '%s'", scope->vm);
  else
    snprintf (buf, len, "plan");
}

/* A held lock: a lock file, or the wave file's descriptor. */
struct file_lock {
  struct ferry_lock *lock; /* plan and VM scopes */
  int wave_fd;             /* wave scope: holds the flock, else -1 */
};

/* The tag in the wave file FD (its first line) into BUF; "" if none. */
static void
wave_tag_read (int fd, char *buf, size_t len)
{
  ssize_t n = pread (fd, buf, len - 1, 0);

  buf[n > 0 ? n : 0] = '\0';
  buf[strcspn (buf, "\n")] = '\0';
}

/* Replace the wave file FD's content by TAG (we hold LOCK_EX). */
static int
wave_tag_write (int fd, const char *tag)
{
  char line[80];
  int n = snprintf (line, sizeof line, "%s\n", tag);

  if (ftruncate (fd, 0) < 0 || pwrite (fd, line, (size_t) n, 0) != n)
    return -1;
  return 0;
}

/* Take the wave lock at PATH: shared under SCOPE->tag when SHARED, else
 * exclusive; never waits.  The descriptor holding it in *RET_FD. */
static int
wave_acquire (const char *path, const struct ferry_lock_scope *scope,
              bool shared, int *ret_fd, struct ferry_err *err)
{
  char tag[80];
  int fd, tries;

  if (ferry_mkdir_parents (path, err) < 0)
    return -1;
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot open lock file '%s'", path);
  if (!shared) {
    if (flock (fd, LOCK_EX | LOCK_NB) == 0) {
      *ret_fd = fd;
      return 0;
    }
    if (errno != EWOULDBLOCK) {
      ferry_err_set (err, errno, "cannot lock '%s'", path);
      close (fd);
      return -1;
    }
    wave_tag_read (fd, tag, sizeof tag);
    close (fd);
    return ferry_err_set (err, EBUSY,
                          "the plan is being applied by workers (apply "
                          "--worker, plan file sha256 %.12s) or by another "
                          "apply or destroy ('%s' is locked)",
                          tag[0] ? tag : "?", path);
  }
  for (tries = 0; tries < 5; tries++) {
    ferry_err_clear (err); /* the last try's reason is the one kept */
    if (flock (fd, LOCK_EX | LOCK_NB) == 0) {
      /* nobody holds it: ours is the tag */
      if (wave_tag_write (fd, scope->tag) < 0) {
        ferry_err_set (err, errno, "cannot write lock file '%s'", path);
        break;
      }
    } else if (errno != EWOULDBLOCK) {
      ferry_err_set (err, errno, "cannot lock '%s'", path);
      break;
    }
    if (flock (fd, LOCK_SH | LOCK_NB) < 0) {
      if (errno != EWOULDBLOCK) {
        ferry_err_set (err, errno, "cannot lock '%s'", path);
        break;
      }
      /* held exclusively: a plain apply, or a first sharer writing */
      ferry_err_set (err, EBUSY,
                     "the plan is being applied by a plain apply or "
                     "destroy ('%s' is locked exclusively)",
                     path);
      usleep (10000);
      continue;
    }
    wave_tag_read (fd, tag, sizeof tag);
    if (strcmp (tag, scope->tag) == 0) {
      *ret_fd = fd;
      return 0;
    }
    if (tag[0] != '\0') {
      ferry_err_set (err, 0,
                     "the workers applying this plan run another plan file "
                     "(sha256 %s; this one is %s)",
                     tag, scope->tag);
      err->errnum = FERRY_LOCK_ETAG; /* no errno text */
      break;
    }
    /* no tag yet: a first sharer between its LOCK_EX and its write */
    flock (fd, LOCK_UN);
    ferry_err_set (err, EBUSY, "the wave lock '%s' keeps changing", path);
    usleep (10000);
  }
  close (fd);
  return -1;
}

/* Take SCOPE's lock file in the name of AS (the wave: its flock). */
static int
file_lock_acquire (void *data, const struct ferry_lock_scope *scope,
                   const struct ferry_lock_owner *as, unsigned flags,
                   void **ret_lock, struct ferry_lock_owner *ret_taken,
                   struct ferry_err *err)
{
  struct file_state *j = data;
  CLEANUP_FREE char *path = ferry_state_file_lock_path (j->path, scope);
  struct file_lock *l;
  char what[300];
  int r;

  if (path == NULL || (l = calloc (1, sizeof *l)) == NULL)
    return ferry_err_set (err, ENOMEM, "lock of %s", j->where);
  l->wave_fd = -1;
  if (scope->kind == FERRY_LOCK_SCOPE_WAVE) {
    memset (ret_taken, 0, sizeof *ret_taken);
    r = wave_acquire (path, scope, (flags & FERRY_LOCK_SHARED) != 0,
                      &l->wave_fd, err);
  } else {
    scope_label (scope, what, sizeof what);
    r = ferry_lock_acquire_as (path, what, as, flags, &l->lock, ret_taken, err);
  }
  if (r < 0) {
    free (l);
    return -1;
  }
  *ret_lock = l;
  return 0;
}

/* Release a lock taken by file_lock_acquire. */
static void
file_lock_release (void *lock)
{
  struct file_lock *l = lock;

  if (l->wave_fd >= 0)
    close (l->wave_fd); /* drops the flock */
  ferry_lock_release (l->lock);
  free (l);
}

/* The owner of SCOPE's lock file. */
static int
file_lock_read (void *data, const struct ferry_lock_scope *scope,
                struct ferry_lock_owner *ret, struct ferry_err *err)
{
  struct file_state *j = data;
  CLEANUP_FREE char *path = ferry_state_file_lock_path (j->path, scope);

  if (path == NULL)
    return ferry_err_set (err, ENOMEM, "lock of %s", j->where);
  return ferry_lock_read (path, ret, err);
}

/* Remove SCOPE's lock file when stale, or when FORCE. */
static int
file_lock_break (void *data, const struct ferry_lock_scope *scope, bool force,
                 struct ferry_lock_owner *ret_owner, struct ferry_err *err)
{
  struct file_state *j = data;
  CLEANUP_FREE char *path = ferry_state_file_lock_path (j->path, scope);

  if (path == NULL)
    return ferry_err_set (err, ENOMEM, "lock of %s", j->where);
  return ferry_lock_break (path, force, ret_owner, err);
}

const struct ferry_state_ops ferry_state_file_ops = {
    .name = "file",
    .open = file_open,
    .close = file_close,
    .where = file_where,
    .append = file_append,
    .lock_acquire = file_lock_acquire,
    .lock_release = file_lock_release,
    .lock_read = file_lock_read,
    .lock_break = file_lock_break,
};
