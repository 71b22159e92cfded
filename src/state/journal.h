/* The state journal's events and records, and the journal API of the
 * file backend: append-only JSON lines, fsync'd, one event per line.
 * "The world is the truth; the journal is the evidence."  Secrets never go
 * in here.
 *
 * The types only: the journal is read and written through the state
 * interface (state/state.h), whatever the backend. */
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
  const char *step; /* step id, e.g. "web01/convert/disk0" */
  enum ferry_event event;
  int64_t time_ms;   /* wall clock, ms since the epoch (0 = now) */
  uint64_t offset;   /* CHECKPOINT: bytes */
  const char *id;    /* CREATED: object id, else NULL */
  const char *msg;   /* FAIL: reason, else NULL */
  const char *ident; /* CHECKPOINT, DONE: identity of what was
                        written from what (source chain, target), or
                        NULL; one line of text, "ident" in JSON */
};

/* What the journal says of one step (the fold of its events). */
struct ferry_step_record {
  char *step;             /* step id */
  enum ferry_event last;  /* last begin/done/fail event */
  int64_t time_ms;        /* when the last event was written */
  int64_t begin_ms;       /* when the last BEGIN was written (0: none) */
  uint64_t begin_offset;  /* the checkpoint that BEGIN resumed from (0:
                             none): checkpoint - begin_offset bytes were
                             copied by this attempt (progress, status) */
  bool has_checkpoint;    /* a checkpoint since the last done...   */
  uint64_t checkpoint;    /* ...its offset (reset by DONE) */
  char *checkpoint_ident; /* ident of that checkpoint, or NULL (reset by
                             DONE, replaced by each CHECKPOINT) */
  char *done_ident;       /* ident of the last DONE, or NULL (replaced by
                             each DONE, kept across BEGIN/FAIL) */
  char **created;         /* ids of created objects, in order */
  size_t n_created;
  char *msg; /* last FAIL message, or NULL */
};

#endif
