/* RBD target: placeholder until the RBD writer lands. */
#include "disk/target.h"

int
ferry_target_rbd_open (const char *spec, uint64_t size, unsigned flags,
                       struct ferry_target **ret, struct ferry_err *err)
{
  (void) size, (void) flags, (void) ret;
  return ferry_err_set (err, 0, "'%s': rbd targets are not supported yet",
                        spec);
}
