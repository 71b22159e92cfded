/* Target dispatch: rbd: names go to librbd, everything else is a file. */
#include "disk/target.h"

#include <stdlib.h>

#include "disk/rbdname.h"

/* Open the target NAME for a disk of SIZE bytes: rbd: names go to librbd,
 * anything else is a local file. FLAGS and the result are as for the
 * backend's open; close *RET with ferry_target_close. */
int
ferry_target_open (const char *name, uint64_t size, unsigned flags,
                   struct ferry_target **ret, struct ferry_err *err)
{
  if (ferry_is_rbd_name (name))
    return ferry_target_rbd_open (name, size, flags, ret, err);
  return ferry_target_file_open (name, size, flags, ret, err);
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
