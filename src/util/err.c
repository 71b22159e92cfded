#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Record the first error: later calls keep the first message, so the root
 * cause is what the user sees.  Messages quote names read from disk images
 * and other hostile input: control bytes become '?', so that no message
 * can move the cursor or recolour the operator's terminal. */
int
ferry_err_set (struct ferry_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  size_t n;
  char *p;

  if (err == NULL || err->set)
    return -1;
  va_start (ap, fmt);
  vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (errnum != 0) {
    n = strlen (err->msg);
    snprintf (err->msg + n, sizeof err->msg - n, ": %s", strerror (errnum));
  }
  for (p = err->msg; *p; p++)
    if ((unsigned char) *p < 0x20 || *p == 0x7f)
      *p = '?';
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
