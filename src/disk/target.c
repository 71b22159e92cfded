/* Target dispatch: rbd: names go to librbd, everything else is a file. */
#include "disk/target.h"

#include <stdlib.h>

#include "disk/rbdname.h"

int
ferry_target_open (const char *name, uint64_t size, unsigned flags,
                   struct ferry_target **ret, struct ferry_err *err)
{
  if (ferry_is_rbd_name (name))
    return ferry_target_rbd_open (name, size, flags, ret, err);
  return ferry_target_file_open (name, size, flags, ret, err);
}

int
ferry_target_close (struct ferry_target *t, struct ferry_err *err)
{
  if (t == NULL)
    return 0;
  return t->ops->close (t, err);
}
