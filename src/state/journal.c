/* The state journal, file backend: one JSON object per line, appended with a
 * single write(2) on an O_APPEND descriptor and fdatasync'd.  Opening replays
 * every line into per-step records (the fold of the step's events) indexed
 * by a hash table, so ferry_journal_step is O(1) for thousands of steps.
 *
 * A line that cannot be trusted (torn by a crash, not JSON, unknown event,
 * absurd values) is skipped and counted, never fatal: the world is the
 * truth, the journal only the evidence. */
#include "state/journal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* Bounds on what a line may hold; anything larger is refused on append and
 * skipped on replay. */
#define JOURNAL_MAX_LINE 65536   /* bytes, newline included */
#define JOURNAL_MAX_STEP 1024    /* bytes in a step id */
#define JOURNAL_MAX_ID 1024      /* bytes in a created object id */
#define JOURNAL_MAX_MSG 8192     /* bytes in a fail message */
#define JOURNAL_MAX_CREATED 4096 /* created ids kept per step */
#define JOURNAL_MAX_OFFSET (UINT64_C (1) << 53) /* exact in a JSON number */
#define JOURNAL_MAX_TIME_MS INT64_C (253402300799999) /* 9999-12-31 */

static const char *const event_names[] = {
    [FERRY_EVENT_BEGIN] = "begin",     [FERRY_EVENT_DONE] = "done",
    [FERRY_EVENT_FAIL] = "fail",       [FERRY_EVENT_CHECKPOINT] = "checkpoint",
    [FERRY_EVENT_CREATED] = "created",
};
static_assert (FERRY_ARRAY_SIZE (event_names) == FERRY_EVENT_LAST,
               "event_names must name every event");

struct ferry_journal {
  char *path;                      /* the journal file */
  int fd;                          /* O_APPEND (or O_RDONLY), -1 if none */
  bool readonly;                   /* opened for reading only */
  pthread_mutex_t lock;            /* guards every field below */
  bool need_newline;               /* file ends in a torn line */
  struct ferry_step_record **recs; /* records, in order of first sight */
  size_t n_recs, cap_recs;
  size_t *index;    /* hash table: record index + 1, 0 free */
  size_t index_cap; /* power of two, > 2 * n_recs */
  size_t bad_lines; /* lines skipped on replay */
  size_t first_bad; /* 1-based line number of the first */
};

/* The name of event E ("begin", ...), or NULL if out of range. */
const char *
ferry_event_name (enum ferry_event e)
{
  if ((unsigned)e >= FERRY_EVENT_LAST)
    return NULL;
  return event_names[e];
}

/* The event called S, or -1. */
int
ferry_event_from_name (const char *s)
{
  size_t i;

  if (s == NULL)
    return -1;
  for (i = 0; i < FERRY_EVENT_LAST; i++)
    if (strcmp (s, event_names[i]) == 0)
      return (int)i;
  return -1;
}

/* FNV-1a over the step id: cheap and good enough for an in-memory index. */
static size_t
hash_step (const char *s)
{
  uint64_t h = UINT64_C (14695981039346656037);

  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= UINT64_C (1099511628211);
  }
  return (size_t)h;
}

/* The slot of STEP in the index: where it is, or the free slot where it
 * would go.  The table is never full (load factor <= 1/2). */
static size_t
index_slot (const struct ferry_journal *j, const char *step)
{
  size_t mask = j->index_cap - 1;
  size_t i = hash_step (step) & mask;

  while (j->index[i] != 0 && strcmp (j->recs[j->index[i] - 1]->step, step))
    i = (i + 1) & mask;
  return i;
}

/* Double the hash table and re-insert every record. */
static int
index_grow (struct ferry_journal *j)
{
  size_t new_cap = j->index_cap ? j->index_cap * 2 : 64;
  size_t *new_index = calloc (new_cap, sizeof *new_index);
  size_t *old = j->index;
  size_t i;

  if (new_index == NULL)
    return -1;
  j->index = new_index;
  j->index_cap = new_cap;
  for (i = 0; i < j->n_recs; i++)
    j->index[index_slot (j, j->recs[i]->step)] = i + 1;
  free (old);
  return 0;
}

/* Free one record and everything it owns. */
static void
record_free (struct ferry_step_record *r)
{
  size_t i;

  if (r == NULL)
    return;
  for (i = 0; i < r->n_created; i++)
    free (r->created[i]);
  free (r->created);
  free (r->msg);
  free (r->checkpoint_ident);
  free (r->done_ident);
  free (r->step);
  free (r);
}

/* The record of STEP, created (with last = FERRY_EVENT_LAST, "nothing yet")
 * if the journal has not seen it.  NULL when out of memory. */
static struct ferry_step_record *
record_get (struct ferry_journal *j, const char *step)
{
  struct ferry_step_record *r;
  struct ferry_step_record **recs;
  size_t slot;

  if (j->index_cap == 0 || 2 * (j->n_recs + 1) > j->index_cap)
    if (index_grow (j) < 0)
      return NULL;
  slot = index_slot (j, step);
  if (j->index[slot] != 0)
    return j->recs[j->index[slot] - 1];

  if (j->n_recs == j->cap_recs) {
    size_t cap = j->cap_recs ? j->cap_recs * 2 : 64;
    recs = realloc (j->recs, cap * sizeof *recs);
    if (recs == NULL)
      return NULL;
    j->recs = recs;
    j->cap_recs = cap;
  }
  r = calloc (1, sizeof *r);
  if (r == NULL)
    return NULL;
  r->step = strdup (step);
  if (r->step == NULL) {
    free (r);
    return NULL;
  }
  r->last = FERRY_EVENT_LAST;
  j->recs[j->n_recs++] = r;
  j->index[slot] = j->n_recs;
  return r;
}

/* Fold event E into its step's record.  -1 only when out of memory. */
static int
record_apply (struct ferry_journal *j, const struct ferry_journal_entry *e)
{
  struct ferry_step_record *r = record_get (j, e->step);
  char **created;
  char *s;
  size_t i;

  if (r == NULL)
    return -1;
  switch (e->event) {
  case FERRY_EVENT_BEGIN:
    /* a new attempt keeps the checkpoint: it is what the attempt resumes
     * from (the module checks that the world still agrees) */
    r->last = e->event;
    break;
  case FERRY_EVENT_DONE:
    /* a DONE without an ident (the engine's) keeps the module's */
    if (e->ident) {
      s = strdup (e->ident);
      if (s == NULL)
        return -1;
      free (r->done_ident);
      r->done_ident = s;
    }
    r->last = e->event;
    r->has_checkpoint = false;
    r->checkpoint = 0;
    free (r->checkpoint_ident);
    r->checkpoint_ident = NULL;
    break;
  case FERRY_EVENT_FAIL:
    /* the checkpoint survives a failure: that is what resume is for */
    s = strdup (e->msg ? e->msg : "");
    if (s == NULL)
      return -1;
    free (r->msg);
    r->msg = s;
    r->last = e->event;
    break;
  case FERRY_EVENT_CHECKPOINT:
    s = NULL;
    if (e->ident && (s = strdup (e->ident)) == NULL)
      return -1;
    free (r->checkpoint_ident);
    r->checkpoint_ident = s;
    r->has_checkpoint = true;
    r->checkpoint = e->offset;
    break;
  case FERRY_EVENT_CREATED:
    for (i = 0; i < r->n_created; i++)
      if (strcmp (r->created[i], e->id) == 0)
        break;
    if (i < r->n_created || r->n_created >= JOURNAL_MAX_CREATED)
      break;
    created = realloc (r->created, (r->n_created + 1) * sizeof *created);
    if (created == NULL)
      return -1;
    r->created = created;
    s = strdup (e->id);
    if (s == NULL)
      return -1;
    r->created[r->n_created++] = s;
    break;
  case FERRY_EVENT_LAST:
    break;
  }
  r->time_ms = e->time_ms;
  return 0;
}

/* True if S is at most MAX bytes without control characters: step ids and
 * object ids are single-line printable text. */
static bool
text_ok (const char *s, size_t max)
{
  size_t n = strlen (s);

  if (n > max)
    return false;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

/* Check an entry's fields against the bounds; a message in ERR if bad. */
static int
entry_check (const struct ferry_journal_entry *e, struct ferry_err *err)
{
  if (e->step == NULL || e->step[0] == '\0' ||
      !text_ok (e->step, JOURNAL_MAX_STEP))
    return ferry_err_set (err, EINVAL,
                          "journal: step id is empty, longer than %d bytes "
                          "or holds control characters",
                          JOURNAL_MAX_STEP);
  if ((unsigned)e->event >= FERRY_EVENT_LAST)
    return ferry_err_set (err, EINVAL, "journal: step '%s': unknown event %d",
                          e->step, (int)e->event);
  if (e->time_ms < 0 || e->time_ms > JOURNAL_MAX_TIME_MS)
    return ferry_err_set (err, EINVAL, "journal: step '%s': bad time %lld",
                          e->step, (long long)e->time_ms);
  if (e->event == FERRY_EVENT_CHECKPOINT && e->offset > JOURNAL_MAX_OFFSET)
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': checkpoint offset %llu is out "
                          "of range",
                          e->step, (unsigned long long)e->offset);
  if (e->event == FERRY_EVENT_CREATED &&
      (e->id == NULL || e->id[0] == '\0' || !text_ok (e->id, JOURNAL_MAX_ID)))
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': created id is empty, longer "
                          "than %d bytes or holds control characters",
                          e->step, JOURNAL_MAX_ID);
  if (e->ident != NULL && !text_ok (e->ident, JOURNAL_MAX_ID))
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': ident longer than %d bytes or "
                          "holds control characters",
                          e->step, JOURNAL_MAX_ID);
  if (e->event == FERRY_EVENT_FAIL && e->msg != NULL &&
      strlen (e->msg) > JOURNAL_MAX_MSG)
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': fail message longer than %d "
                          "bytes",
                          e->step, JOURNAL_MAX_MSG);
  return 0;
}

/* A JSON number that is an integer in [MIN, MAX]. */
static bool
json_int (const cJSON *item, double min, double max, double *ret)
{
  double v;

  if (!cJSON_IsNumber (item))
    return false;
  v = item->valuedouble;
  if (!isfinite (v) || v != floor (v) || v < min || v > max)
    return false;
  *ret = v;
  return true;
}

/* Parse one line (LEN bytes, no newline) and fold it in.  Returns 0 when
 * applied, 1 when the line is bad, -1 when out of memory. */
static int
replay_line (struct ferry_journal *j, const char *line, size_t len)
{
  cJSON *root;
  const cJSON *item;
  const char *end = NULL;
  struct ferry_journal_entry e = {0};
  double v;
  int ev, r = 1;

  root = cJSON_ParseWithLengthOpts (line, len, &end, false);
  if (root == NULL)
    return 1;
  while (end != NULL && end < line + len &&
         (*end == ' ' || *end == '\t' || *end == '\r'))
    end++;
  if (end != line + len || !cJSON_IsObject (root))
    goto out;

  item = cJSON_GetObjectItemCaseSensitive (root, "step");
  if (!cJSON_IsString (item))
    goto out;
  e.step = item->valuestring;
  item = cJSON_GetObjectItemCaseSensitive (root, "event");
  if (!cJSON_IsString (item) ||
      (ev = ferry_event_from_name (item->valuestring)) < 0)
    goto out;
  e.event = (enum ferry_event)ev;
  item = cJSON_GetObjectItemCaseSensitive (root, "time_ms");
  if (!json_int (item, 0, (double)JOURNAL_MAX_TIME_MS, &v))
    goto out;
  e.time_ms = (int64_t)v;
  if (e.event == FERRY_EVENT_CHECKPOINT) {
    item = cJSON_GetObjectItemCaseSensitive (root, "offset");
    if (!json_int (item, 0, (double)JOURNAL_MAX_OFFSET, &v))
      goto out;
    e.offset = (uint64_t)v;
  }
  if (e.event == FERRY_EVENT_CREATED) {
    item = cJSON_GetObjectItemCaseSensitive (root, "id");
    if (!cJSON_IsString (item))
      goto out;
    e.id = item->valuestring;
  }
  item = cJSON_GetObjectItemCaseSensitive (root, "ident");
  if (item != NULL && !cJSON_IsNull (item)) {
    if (!cJSON_IsString (item))
      goto out;
    e.ident = item->valuestring;
  }
  if (e.event == FERRY_EVENT_FAIL) {
    item = cJSON_GetObjectItemCaseSensitive (root, "msg");
    if (item != NULL && !cJSON_IsNull (item)) {
      if (!cJSON_IsString (item))
        goto out;
      e.msg = item->valuestring;
    }
  }
  if (entry_check (&e, NULL) < 0)
    goto out;
  r = record_apply (j, &e) < 0 ? -1 : 0;
out:
  cJSON_Delete (root);
  return r;
}

/* Count a skipped line. */
static void
note_bad (struct ferry_journal *j, size_t lineno)
{
  if (j->bad_lines++ == 0)
    j->first_bad = lineno;
}

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
replay (struct ferry_journal *j, struct ferry_err *err)
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
      size_t len = (size_t)(nl - (buf + pos));
      lineno++;
      if (skipping) {
        /* the tail of an overlong line */
        skipping = false;
      } else if (len + 1 > JOURNAL_MAX_LINE)
        note_bad (j, lineno);
      else if (!blank (buf + pos, len)) {
        r = replay_line (j, buf + pos, len);
        if (r < 0)
          return ferry_err_set (err, ENOMEM, "journal '%s'", j->path);
        if (r > 0)
          note_bad (j, lineno);
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
        note_bad (j, lineno + 1);
        skipping = true;
      }
      have = 0;
    }
    n = pread (j->fd, buf + have, bufsize - have, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ferry_err_set (err, errno, "cannot read journal '%s'", j->path);
    if (n == 0)
      eof = true;
    have += (size_t)n;
    off += (uint64_t)n;
  }
  if (have > pos || skipping) {
    /* torn last line */
    if (!skipping)
      note_bad (j, lineno + 1);
    j->need_newline = true;
  }
  return 0;
}

/* Free J and everything it holds. */
void
ferry_journal_close (struct ferry_journal *j)
{
  size_t i;

  if (j == NULL)
    return;
  if (j->fd >= 0)
    close (j->fd);
  for (i = 0; i < j->n_recs; i++)
    record_free (j->recs[i]);
  free (j->recs);
  free (j->index);
  free (j->path);
  pthread_mutex_destroy (&j->lock);
  free (j);
}

/* Open and replay the journal at PATH; see journal.h. */
int
ferry_journal_open (const char *path, bool readonly, struct ferry_journal **ret,
                    struct ferry_err *err)
{
  struct ferry_journal *j;
  struct stat st;
  bool created = false;

  j = calloc (1, sizeof *j);
  if (j == NULL)
    return ferry_err_set (err, ENOMEM, "journal '%s'", path);
  j->fd = -1;
  j->readonly = readonly;
  pthread_mutex_init (&j->lock, NULL);
  j->path = strdup (path);
  if (j->path == NULL) {
    ferry_journal_close (j);
    return ferry_err_set (err, ENOMEM, "journal '%s'", path);
  }

  if (readonly) {
    j->fd = open (path, O_RDONLY | O_CLOEXEC);
    if (j->fd < 0 && errno == ENOENT) {
      *ret = j;
      return 0;
    }
  } else {
    if (ferry_mkdir_parents (path, err) < 0) {
      ferry_journal_close (j);
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
    ferry_journal_close (j);
    return -1;
  }
  if (fstat (j->fd, &st) < 0) {
    ferry_err_set (err, errno, "cannot stat journal '%s'", path);
    ferry_journal_close (j);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    ferry_err_set (err, EINVAL, "journal '%s' is not a regular file", path);
    ferry_journal_close (j);
    return -1;
  }
  if (created)
    ferry_sync_parent (path, NULL); /* best effort */
  if (replay (j, err) < 0) {
    ferry_journal_close (j);
    return -1;
  }
  *ret = j;
  return 0;
}

/* Format the wall clock MS as "2026-11-23T20:41:00.123Z". */
static void
format_time (int64_t ms, char *buf, size_t len)
{
  time_t s = (time_t)(ms / 1000);
  struct tm tm;

  gmtime_r (&s, &tm);
  snprintf (buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (int)(ms % 1000));
}

/* The line for entry E (newline included, NUL-terminated), or NULL. */
static char *
format_line (const struct ferry_journal_entry *e, size_t *ret_len)
{
  cJSON *root = cJSON_CreateObject ();
  char when[64];
  char *json, *line;
  size_t n;

  if (root == NULL)
    return NULL;
  format_time (e->time_ms, when, sizeof when);
  if (!cJSON_AddStringToObject (root, "time", when) ||
      !cJSON_AddNumberToObject (root, "time_ms", (double)e->time_ms) ||
      !cJSON_AddStringToObject (root, "step", e->step) ||
      !cJSON_AddStringToObject (root, "event", event_names[e->event]) ||
      (e->event == FERRY_EVENT_CHECKPOINT &&
       !cJSON_AddNumberToObject (root, "offset", (double)e->offset)) ||
      (e->event == FERRY_EVENT_CREATED &&
       !cJSON_AddStringToObject (root, "id", e->id)) ||
      (e->event == FERRY_EVENT_FAIL &&
       !cJSON_AddStringToObject (root, "msg", e->msg ? e->msg : "")) ||
      (e->ident != NULL &&
       !cJSON_AddStringToObject (root, "ident", e->ident))) {
    cJSON_Delete (root);
    return NULL;
  }
  json = cJSON_PrintUnformatted (root);
  cJSON_Delete (root);
  if (json == NULL)
    return NULL;
  n = strlen (json);
  /* room for a leading newline (torn line before us) and the trailing one */
  line = malloc (n + 3);
  if (line != NULL) {
    line[0] = '\n';
    memcpy (line + 1, json, n);
    line[n + 1] = '\n';
    line[n + 2] = '\0';
    *ret_len = n + 1;
  }
  free (json);
  return line;
}

/* The wall clock in ms since the epoch. */
static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append E with one write(2) and fdatasync; fold it into the records only
 * once it is durable. */
int
ferry_journal_append (struct ferry_journal *j,
                      const struct ferry_journal_entry *in,
                      struct ferry_err *err)
{
  struct ferry_journal_entry e = *in;
  CLEANUP_FREE char *line = NULL;
  const char *p;
  size_t len;
  ssize_t n;
  int r = -1;

  if (j->readonly || j->fd < 0)
    return ferry_err_set (err, EBADF, "journal '%s' is open read-only",
                          j->path);
  if (e.time_ms == 0)
    e.time_ms = now_ms ();
  if (entry_check (&e, err) < 0)
    return -1;
  line = format_line (&e, &len);
  if (line == NULL)
    return ferry_err_set (err, ENOMEM, "journal '%s'", j->path);
  if (len > JOURNAL_MAX_LINE)
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': entry is longer than %d bytes",
                          e.step, JOURNAL_MAX_LINE);

  pthread_mutex_lock (&j->lock);
  /* line + 1 is the entry; line + 0 adds a newline ending a torn line */
  p = j->need_newline ? line : line + 1;
  if (j->need_newline)
    len++;
  do
    n = write (j->fd, p, len);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)len) {
    if (n > 0)
      j->need_newline = true; /* a part of the line is on disk */
    ferry_err_set (err, n < 0 ? errno : ENOSPC, "cannot append to journal '%s'",
                   j->path);
    goto out;
  }
  j->need_newline = false;
  if (fdatasync (j->fd) < 0) {
    ferry_err_set (err, errno, "cannot sync journal '%s'", j->path);
    goto out;
  }
  if (record_apply (j, &e) < 0) {
    ferry_err_set (err, ENOMEM, "journal '%s'", j->path);
    goto out;
  }
  r = 0;
out:
  pthread_mutex_unlock (&j->lock);
  return r;
}

/* The record of STEP, or NULL. */
const struct ferry_step_record *
ferry_journal_step (struct ferry_journal *j, const char *step)
{
  const struct ferry_step_record *r = NULL;
  size_t slot;

  pthread_mutex_lock (&j->lock);
  if (j->index_cap > 0) {
    slot = index_slot (j, step);
    if (j->index[slot] != 0)
      r = j->recs[j->index[slot] - 1];
  }
  pthread_mutex_unlock (&j->lock);
  return r;
}

/* How many steps the journal knows. */
size_t
ferry_journal_count (struct ferry_journal *j)
{
  size_t n;

  pthread_mutex_lock (&j->lock);
  n = j->n_recs;
  pthread_mutex_unlock (&j->lock);
  return n;
}

/* The I-th record in order of first appearance, or NULL past the end. */
const struct ferry_step_record *
ferry_journal_at (struct ferry_journal *j, size_t i)
{
  const struct ferry_step_record *r = NULL;

  pthread_mutex_lock (&j->lock);
  if (i < j->n_recs)
    r = j->recs[i];
  pthread_mutex_unlock (&j->lock);
  return r;
}

/* Lines skipped on replay, and the first one's 1-based number. */
size_t
ferry_journal_bad_lines (struct ferry_journal *j, size_t *ret_first)
{
  if (ret_first != NULL)
    *ret_first = j->first_bad;
  return j->bad_lines;
}
