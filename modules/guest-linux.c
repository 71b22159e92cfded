/* modules/guest-linux.c: guest operations (modules/guest.h).  Not written yet.
 */
#include <errno.h>

#include "modules/guest.h"

int
ferry_guest_linux_inject (struct ferry_guest_op *op, struct ferry_changes *ch,
                          struct ferry_err *err)
{
  (void) op;
  (void) ch;
  return ferry_err_set (err, ENOSYS,
                        "ferry_guest_linux_inject: not in this build");
}

int
ferry_guest_linux_network (struct ferry_guest_op *op, struct ferry_changes *ch,
                           struct ferry_err *err)
{
  (void) op;
  (void) ch;
  return ferry_err_set (err, ENOSYS,
                        "ferry_guest_linux_network: not in this build");
}

int
ferry_guest_linux_customize (struct ferry_guest_op *op,
                             struct ferry_changes *ch, struct ferry_err *err)
{
  (void) op;
  (void) ch;
  return ferry_err_set (err, ENOSYS,
                        "ferry_guest_linux_customize: not in this build");
}
