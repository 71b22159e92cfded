/* The fold of journal events into per-step records, and the JSON line
 * codec of one event: shared by every state backend.  A backend stores and
 * returns events (as lines, objects, omap values...); what they mean is
 * decided here once. */
#ifndef FERRY_FOLD_H
#define FERRY_FOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "state/journal.h"
#include "util/err.h"

/* Bounds on what an event may hold; anything larger is refused on append
 * and skipped on replay. */
#define FERRY_JOURNAL_MAX_LINE 65536 /* bytes, newline included */

struct ferry_fold;

/* A new, empty fold; NULL when out of memory. */
struct ferry_fold *ferry_fold_new (void);
void ferry_fold_free (struct ferry_fold *f);
/* Fold event E (already checked) into its step's record.  -1 only when out
 * of memory. */
int ferry_fold_apply (struct ferry_fold *f,
                      const struct ferry_journal_entry *e);
/* Check E's fields against the bounds: 0, or -1 with a message in ERR. */
int ferry_fold_check (const struct ferry_journal_entry *e,
                      struct ferry_err *err);
/* Parse one line (LEN bytes, no newline) and fold it in: 0 applied, 1 the
 * line is bad (not counted: see ferry_fold_note_bad), -1 out of memory. */
int ferry_fold_line (struct ferry_fold *f, const char *line, size_t len);
/* Count a skipped line; LINENO is 1-based. */
void ferry_fold_note_bad (struct ferry_fold *f, size_t lineno);
/* The line of E: JSON, '\n'-terminated, NUL-terminated, *RET_LEN bytes
 * (newline included); NULL when out of memory. */
char *ferry_fold_format (const struct ferry_journal_entry *e, size_t *ret_len);

/* Lookups: see ferry_state_step, _count, _at, _bad_lines. */
const struct ferry_step_record *ferry_fold_step (const struct ferry_fold *f,
                                                 const char *step);
size_t ferry_fold_count (const struct ferry_fold *f);
const struct ferry_step_record *ferry_fold_at (const struct ferry_fold *f,
                                               size_t i);
size_t ferry_fold_bad_lines (const struct ferry_fold *f, size_t *ret_first);

#endif
