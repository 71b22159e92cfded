/* The fold of journal events into per-step records (what the journal says
 * of each step), indexed by a hash table so that a lookup is O(1) for
 * thousands of steps, and the JSON line codec of one event.  Every state
 * backend feeds its events through here: the meaning of an event does not
 * depend on where it was stored.
 *
 * An event that cannot be trusted (not JSON, unknown event, absurd values)
 * is refused on append and skipped on replay, never fatal: the world is
 * the truth, the journal only the evidence. */
#include "state/fold.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "util/cleanup.h"

#define JOURNAL_MAX_STEP 1024    /* bytes in a step id */
#define JOURNAL_MAX_ID 1024      /* bytes in a created object id */
#define JOURNAL_MAX_IDENT 8192   /* bytes in a checkpoint/done identity */
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

struct ferry_fold {
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
  if ((unsigned) e >= FERRY_EVENT_LAST)
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
      return (int) i;
  return -1;
}

/* FNV-1a over the step id: cheap and good enough for an in-memory index. */
static size_t
hash_step (const char *s)
{
  uint64_t h = UINT64_C (14695981039346656037);

  for (; *s; s++) {
    h ^= (unsigned char) *s;
    h *= UINT64_C (1099511628211);
  }
  return (size_t) h;
}

/* The slot of STEP in the index: where it is, or the free slot where it
 * would go.  The table is never full (load factor <= 1/2). */
static size_t
index_slot (const struct ferry_fold *j, const char *step)
{
  size_t mask = j->index_cap - 1;
  size_t i = hash_step (step) & mask;

  while (j->index[i] != 0 && strcmp (j->recs[j->index[i] - 1]->step, step))
    i = (i + 1) & mask;
  return i;
}

/* Double the hash table and re-insert every record. */
static int
index_grow (struct ferry_fold *j)
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
record_get (struct ferry_fold *j, const char *step)
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

/* Replace *SLOT by a copy of S (NULL stays NULL).  -1 out of memory. */
static int
set_str (char **slot, const char *s)
{
  char *copy = NULL;

  if (s != NULL && (copy = strdup (s)) == NULL)
    return -1;
  free (*slot);
  *slot = copy;
  return 0;
}

/* Fold event E into its step's record; see fold.h. */
int
ferry_fold_apply (struct ferry_fold *j, const struct ferry_journal_entry *e)
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
    r->begin_ms = e->time_ms;
    r->begin_offset = r->has_checkpoint ? r->checkpoint : 0;
    break;
  case FERRY_EVENT_DONE:
    /* what was done, and from what: kept until the next DONE that says
     * it (the engine's own DONE after a module's carries none) */
    if (e->ident != NULL && set_str (&r->done_ident, e->ident) < 0)
      return -1;
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
    /* the identity the checkpoint belongs to goes and comes with it */
    if (set_str (&r->checkpoint_ident, e->ident) < 0)
      return -1;
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
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

/* Check an entry's fields against the bounds; see fold.h. */
int
ferry_fold_check (const struct ferry_journal_entry *e, struct ferry_err *err)
{
  if (e->step == NULL || e->step[0] == '\0' ||
      !text_ok (e->step, JOURNAL_MAX_STEP))
    return ferry_err_set (err, EINVAL,
                          "journal: step id is empty, longer than %d bytes "
                          "or holds control characters",
                          JOURNAL_MAX_STEP);
  if ((unsigned) e->event >= FERRY_EVENT_LAST)
    return ferry_err_set (err, EINVAL, "journal: step '%s': unknown event %d",
                          e->step, (int) e->event);
  if (e->time_ms < 0 || e->time_ms > JOURNAL_MAX_TIME_MS)
    return ferry_err_set (err, EINVAL, "journal: step '%s': bad time %lld",
                          e->step, (long long) e->time_ms);
  if (e->event == FERRY_EVENT_CHECKPOINT && e->offset > JOURNAL_MAX_OFFSET)
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': checkpoint offset %llu is out "
                          "of range",
                          e->step, (unsigned long long) e->offset);
  if (e->event == FERRY_EVENT_CREATED &&
      (e->id == NULL || e->id[0] == '\0' || !text_ok (e->id, JOURNAL_MAX_ID)))
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': created id is empty, longer "
                          "than %d bytes or holds control characters",
                          e->step, JOURNAL_MAX_ID);
  if (e->ident != NULL && !text_ok (e->ident, JOURNAL_MAX_IDENT))
    return ferry_err_set (err, EINVAL,
                          "journal: step '%s': identity longer than %d bytes "
                          "or holds control characters",
                          e->step, JOURNAL_MAX_IDENT);
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

/* Parse one line (LEN bytes, no newline) and fold it in; see fold.h.
 * Fields unknown to this version are ignored; "ident" is optional (lines
 * written before it existed replay with no identity). */
int
ferry_fold_line (struct ferry_fold *j, const char *line, size_t len)
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
  e.event = (enum ferry_event) ev;
  item = cJSON_GetObjectItemCaseSensitive (root, "time_ms");
  if (!json_int (item, 0, (double) JOURNAL_MAX_TIME_MS, &v))
    goto out;
  e.time_ms = (int64_t) v;
  if (e.event == FERRY_EVENT_CHECKPOINT) {
    item = cJSON_GetObjectItemCaseSensitive (root, "offset");
    if (!json_int (item, 0, (double) JOURNAL_MAX_OFFSET, &v))
      goto out;
    e.offset = (uint64_t) v;
  }
  if (e.event == FERRY_EVENT_CREATED) {
    item = cJSON_GetObjectItemCaseSensitive (root, "id");
    if (!cJSON_IsString (item))
      goto out;
    e.id = item->valuestring;
  }
  if (e.event == FERRY_EVENT_FAIL) {
    item = cJSON_GetObjectItemCaseSensitive (root, "msg");
    if (item != NULL && !cJSON_IsNull (item)) {
      if (!cJSON_IsString (item))
        goto out;
      e.msg = item->valuestring;
    }
  }
  item = cJSON_GetObjectItemCaseSensitive (root, "ident");
  if (item != NULL && !cJSON_IsNull (item)) {
    if (!cJSON_IsString (item))
      goto out;
    e.ident = item->valuestring;
  }
  if (ferry_fold_check (&e, NULL) < 0)
    goto out;
  r = ferry_fold_apply (j, &e) < 0 ? -1 : 0;
out:
  cJSON_Delete (root);
  return r;
}

/* Format the wall clock MS as "2026-11-23T20:41:00.123Z". */
static void
format_time (int64_t ms, char *buf, size_t len)
{
  time_t s = (time_t) (ms / 1000);
  struct tm tm;

  gmtime_r (&s, &tm);
  snprintf (buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (int) (ms % 1000));
}

/* The line of entry E; see fold.h. */
char *
ferry_fold_format (const struct ferry_journal_entry *e, size_t *ret_len)
{
  cJSON *root = cJSON_CreateObject ();
  char when[64];
  char *json, *line;
  size_t n;

  if (root == NULL)
    return NULL;
  format_time (e->time_ms, when, sizeof when);
  if (!cJSON_AddStringToObject (root, "time", when) ||
      !cJSON_AddNumberToObject (root, "time_ms", (double) e->time_ms) ||
      !cJSON_AddStringToObject (root, "step", e->step) ||
      !cJSON_AddStringToObject (root, "event", event_names[e->event]) ||
      (e->event == FERRY_EVENT_CHECKPOINT &&
       !cJSON_AddNumberToObject (root, "offset", (double) e->offset)) ||
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
  line = malloc (n + 2);
  if (line != NULL) {
    memcpy (line, json, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    *ret_len = n + 1;
  }
  free (json);
  return line;
}

/* A new, empty fold. */
struct ferry_fold *
ferry_fold_new (void)
{
  return calloc (1, sizeof (struct ferry_fold));
}

/* Free F and every record. */
void
ferry_fold_free (struct ferry_fold *f)
{
  size_t i;

  if (f == NULL)
    return;
  for (i = 0; i < f->n_recs; i++)
    record_free (f->recs[i]);
  free (f->recs);
  free (f->index);
  free (f);
}

/* Count a skipped line. */
void
ferry_fold_note_bad (struct ferry_fold *f, size_t lineno)
{
  if (f->bad_lines++ == 0)
    f->first_bad = lineno;
}

/* The record of STEP, or NULL. */
const struct ferry_step_record *
ferry_fold_step (const struct ferry_fold *f, const char *step)
{
  size_t slot;

  if (f->index_cap == 0)
    return NULL;
  slot = index_slot (f, step);
  return f->index[slot] ? f->recs[f->index[slot] - 1] : NULL;
}

/* How many steps the fold knows. */
size_t
ferry_fold_count (const struct ferry_fold *f)
{
  return f->n_recs;
}

/* The I-th record in order of first appearance, or NULL past the end. */
const struct ferry_step_record *
ferry_fold_at (const struct ferry_fold *f, size_t i)
{
  return i < f->n_recs ? f->recs[i] : NULL;
}

/* Lines skipped on replay, and the first one's 1-based number. */
size_t
ferry_fold_bad_lines (const struct ferry_fold *f, size_t *ret_first)
{
  if (ret_first != NULL)
    *ret_first = f->first_bad;
  return f->bad_lines;
}
