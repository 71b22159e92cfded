/* The journal API of the file backend, kept for the callers that predate
 * the state interface: each function is a thin wrapper over a ferry_state
 * of backend "file" (state/state.c, state/file.c, state/fold.c).  New code
 * calls ferry_state_* directly. */
#include "state/journal.h"

#include <errno.h>
#include <stdlib.h>

#include "state/state.h"

struct ferry_journal {
  struct ferry_state *st; /* the file backend state it wraps */
};

/* Open and replay the journal at PATH; see journal.h. */
int
ferry_journal_open (const char *path, bool readonly, struct ferry_journal **ret,
                    struct ferry_err *err)
{
  struct ferry_state_cfg cfg = {.backend = (char *) "file",
                                .path = (char *) path};
  struct ferry_journal *j = calloc (1, sizeof *j);

  if (j == NULL)
    return ferry_err_set (err, ENOMEM, "journal '%s'", path);
  if (ferry_state_open (&cfg, readonly, &j->st, err) < 0) {
    free (j);
    return -1;
  }
  *ret = j;
  return 0;
}

/* Close J; NULL is fine. */
void
ferry_journal_close (struct ferry_journal *j)
{
  if (j == NULL)
    return;
  ferry_state_close (j->st);
  free (j);
}

/* Append one event; see ferry_state_append. */
int
ferry_journal_append (struct ferry_journal *j,
                      const struct ferry_journal_entry *e,
                      struct ferry_err *err)
{
  return ferry_state_append (j->st, e, err);
}

/* The record of STEP, or NULL. */
const struct ferry_step_record *
ferry_journal_step (struct ferry_journal *j, const char *step)
{
  return ferry_state_step (j->st, step);
}

/* How many steps the journal knows. */
size_t
ferry_journal_count (struct ferry_journal *j)
{
  return ferry_state_count (j->st);
}

/* The I-th record in order of first appearance, or NULL past the end. */
const struct ferry_step_record *
ferry_journal_at (struct ferry_journal *j, size_t i)
{
  return ferry_state_at (j->st, i);
}

/* Lines skipped on replay, and the first one's 1-based number. */
size_t
ferry_journal_bad_lines (struct ferry_journal *j, size_t *ret_first)
{
  return ferry_state_bad_lines (j->st, ret_first);
}

/* The state J wraps, for callers moving to the state interface. */
struct ferry_state *
ferry_journal_state (struct ferry_journal *j)
{
  return j->st;
}
