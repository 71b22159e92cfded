/* modules/guest-windows-custom.c: network identity and customization of a
 * Windows guest (modules/guest.h).  Not written yet. */
#include <errno.h>

#include "modules/guest-windows.h"

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
