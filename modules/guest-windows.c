/* modules/guest-windows.c: guest operations (modules/guest.h).  Not written
 * yet. */
#include <errno.h>

#include "modules/guest.h"

int
ferry_guest_win_inject (struct ferry_guest_op *op, struct ferry_changes *ch,
                        struct ferry_err *err)
{
  (void) op;
  (void) ch;
  return ferry_err_set (err, ENOSYS,
                        "ferry_guest_win_inject: not in this build");
}

int
ferry_guest_win_network (struct ferry_guest_op *op, struct ferry_changes *ch,
                         struct ferry_err *err)
{
  (void) op;
  (void) ch;
  return ferry_err_set (err, ENOSYS,
                        "ferry_guest_win_network: not in this build");
}

int
ferry_guest_win_customize (struct ferry_guest_op *op, struct ferry_changes *ch,
                           struct ferry_err *err)
{
  (void) op;
  (void) ch;
  return ferry_err_set (err, ENOSYS,
                        "ferry_guest_win_customize: not in this build");
}
