/* modules/guest-resize.c: guest operations (modules/guest.h).  Not written yet.
 */
#include <errno.h>

#include "modules/guest.h"

int
ferry_guest_resize (struct ferry_guest_op *op, struct ferry_changes *ch,
                    struct ferry_err *err)
{
  (void) op;
  (void) ch;
  return ferry_err_set (err, ENOSYS, "ferry_guest_resize: not in this build");
}
