/* Target dispatch on the kind of location: RBD images go to librbd, files
 * to the file backend. */
#include "disk/target.h"

#include <errno.h>
#include <stdlib.h>

/* Open the backend LOC's kind calls for. */
int
ferry_target_open_location (const struct ferry_location *loc, uint64_t size,
                            unsigned flags, struct ferry_target **ret,
                            struct ferry_err *err)
{
  switch (loc->kind) {
  case FERRY_LOCATION_FILE:
    return ferry_target_file_open (loc->file.path, size, flags, ret, err);
  case FERRY_LOCATION_RBD:
    return ferry_target_rbd_open (&loc->rbd, size, flags, ret, err);
  case FERRY_LOCATION_LAST:
    break;
  }
  return ferry_err_set (err, EINVAL, "target of unknown kind %d",
                        (int) loc->kind);
}

/* Close target T through its backend, which flushes it and frees T; NULL is
 * allowed. Return 0, or -1 with ERR set when the data could not be flushed,
 * so a caller must not report success then. */
int
ferry_target_close (struct ferry_target *t, struct ferry_err *err)
{
  if (t == NULL)
    return 0;
  return t->ops->close (t, err);
}
