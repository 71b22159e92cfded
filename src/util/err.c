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

/* Put "PREFIX: " in front of a recorded error (nothing when none is
 * recorded): a caller that opened a file on behalf of another names the
 * one that asked, so the message says which image named the file that
 * failed.  The text is cut at the message's size, as ferry_err_set's is. */
void
ferry_err_prefix (struct ferry_err *err, const char *fmt, ...)
{
  char whole[sizeof err->msg];
  size_t n, m;
  va_list ap;
  char *p;

  if (err == NULL || !err->set)
    return;
  va_start (ap, fmt);
  vsnprintf (whole, sizeof whole, fmt, ap);
  va_end (ap);
  n = strlen (whole);
  if (n + 2 < sizeof whole) {
    memcpy (whole + n, ": ", 2);
    n += 2;
  }
  m = strlen (err->msg);
  if (m > sizeof whole - 1 - n)
    m = sizeof whole - 1 - n;
  memcpy (whole + n, err->msg, m);
  whole[n + m] = '\0';
  for (p = whole; *p; p++)
    if ((unsigned char) *p < 0x20 || *p == 0x7f)
      *p = '?';
  memcpy (err->msg, whole, sizeof whole);
}
