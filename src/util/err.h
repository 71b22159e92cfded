/* ferry error object: the first error wins, main.c prints it. */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

#include <stdbool.h>

struct ferry_err {
  int errnum;     /* errno of the first failure, 0 if none */
  bool set;       /* true once an error has been recorded */
  char msg[1024]; /* the message, errno text appended */
};

/* Record an error (only the first one sticks) and return -1.  When errnum is
 * not 0, ": strerror(errnum)" is appended. */
int ferry_err_set (struct ferry_err *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Forget a recorded error. */
void ferry_err_clear (struct ferry_err *err);

/* Prefix a recorded error with "PREFIX: " (no-op when none is recorded);
 * for errors about a file another one named ("'a.vmdk': extent 1: ..."). */
void ferry_err_prefix (struct ferry_err *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#endif
