#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Record the first error: later calls keep the first message, so the root
 * cause is what the user sees. */
int
ferry_err_set (struct ferry_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  size_t n;

  if (err == NULL || err->set)
    return -1;
  va_start (ap, fmt);
  vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (errnum != 0) {
    n = strlen (err->msg);
    snprintf (err->msg + n, sizeof err->msg - n, ": %s", strerror (errnum));
  }
  err->errnum = errnum;
  err->set = true;
  return -1;
}

/* Reset an error object for reuse. */
void
ferry_err_clear (struct ferry_err *err)
{
  err->set = false;
  err->errnum = 0;
  err->msg[0] = '\0';
}
