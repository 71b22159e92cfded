/* The state journal: append-only JSON lines, fsync'd, one event per line.
 * "The world is the truth; the journal is the evidence."  Secrets never go
 * in here.  File backend in journal.c; a RADOS backend plugs in behind the
 * same functions later. */
#ifndef FERRY_JOURNAL_H
#define FERRY_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum ferry_event {
  FERRY_EVENT_BEGIN,      /* step started */
  FERRY_EVENT_DONE,       /* step finished and verified */
  FERRY_EVENT_FAIL,       /* step failed (msg says why) */
  FERRY_EVENT_CHECKPOINT, /* convert: offset below which data is durable */
  FERRY_EVENT_CREATED,    /* an object was created: id (volume, domain...) */
  FERRY_EVENT_LAST
};

/* enum <-> "begin", "done", "fail", "checkpoint", "created" */
const char *ferry_event_name (enum ferry_event e);
int ferry_event_from_name (const char *s); /* -1 if unknown */

struct ferry_journal_entry {
  const char *step;     /* step id, e.g. "web01/convert/disk0" */
  enum ferry_event event;
  int64_t time_ms;      /* wall clock, ms since the epoch (0 = now) */
  uint64_t offset;      /* CHECKPOINT: bytes */
  const char *id;       /* CREATED: object id, else NULL */
  const char *msg;      /* FAIL: reason, else NULL */
  const char *ident;    /* CHECKPOINT, DONE: identity of what it is about */
};

/* What the journal says of one step (the fold of its events). */
struct ferry_step_record {
  char *step;              /* step id */
  enum ferry_event last;   /* last begin/done/fail event */
  int64_t time_ms;         /* when the last event was written */
  bool has_checkpoint;     /* a checkpoint since the last done...   */
  uint64_t checkpoint;     /* ...its offset (reset by DONE) */
  char **created;          /* ids of created objects, in order */
  size_t n_created;
  char *msg;               /* last FAIL message, or NULL */
  char *checkpoint_ident;  /* ident of the last checkpoint (reset by DONE) */
  char *done_ident;        /* ident of the last DONE that carried one */
};

struct ferry_journal;

/* Open (creating the file and its directory unless READONLY) and replay
 * PATH.  A torn or unparsable line is skipped and counted, never fatal.
 * A missing file in READONLY mode is an empty journal. */
int ferry_journal_open (const char *path, bool readonly,
                        struct ferry_journal **ret, struct ferry_err *err);
void ferry_journal_close (struct ferry_journal *j);
/* Append one event and fsync it; updates the in-memory records.  Safe from
 * several threads. */
int ferry_journal_append (struct ferry_journal *j,
                          const struct ferry_journal_entry *e,
                          struct ferry_err *err);
/* The record of STEP, or NULL if the journal never saw it. */
const struct ferry_step_record *
ferry_journal_step (struct ferry_journal *j, const char *step);
/* All records, in order of first appearance. */
size_t ferry_journal_count (struct ferry_journal *j);
const struct ferry_step_record *ferry_journal_at (struct ferry_journal *j,
                                                  size_t i);
/* Lines that were skipped on replay (torn last line after a crash, ...),
 * and the 1-based number of the first one (0 if none). */
size_t ferry_journal_bad_lines (struct ferry_journal *j, size_t *ret_first);

#endif
