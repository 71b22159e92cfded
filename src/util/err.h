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

#endif
