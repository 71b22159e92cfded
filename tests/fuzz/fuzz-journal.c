/* Fuzz the journal replay: the input is a journal file, opened read-only
 * and walked record by record. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "state/state.h"

/* The file backend's state for the journal at PATH. */
static int
journal_open_file (const char *path, bool readonly, struct ferry_state **ret,
                   struct ferry_err *err)
{
  struct ferry_state_cfg cfg = {.backend = FERRY_STATE_FILE,
                                .path = (char *) path};

  return ferry_state_open (&cfg, readonly, ret, err);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferry_state *j = NULL;
  struct ferry_err err = {0};
  const struct ferry_step_record *r;
  char path[64];
  size_t i, k, n, first, sum = 0;
  int fd;

  fd = memfd_create ("fuzz-journal", MFD_CLOEXEC);
  if (fd < 0)
    return 0;
  if (size > 0 && write (fd, data, size) != (ssize_t) size) {
    close (fd);
    return 0;
  }
  snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  if (journal_open_file (path, true, &j, &err) == 0) {
    n = ferry_state_count (j);
    for (i = 0; i < n; i++) {
      r = ferry_state_at (j, i);
      /* every record is found again by its name */
      if (r == NULL || ferry_state_step (j, r->step) != r)
        __builtin_trap ();
      if ((unsigned) r->last > FERRY_EVENT_LAST)
        __builtin_trap ();
      for (k = 0; k < r->n_created; k++)
        sum += strlen (r->created[k]);
      if (r->msg != NULL)
        sum += strlen (r->msg);
    }
    if (ferry_state_at (j, n) != NULL)
      __builtin_trap ();
    if (ferry_state_bad_lines (j, &first) > 0 && first == 0)
      __builtin_trap ();
    ferry_state_close (j);
  }
  close (fd);
  return (int) (sum & 0);
}
