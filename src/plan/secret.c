/* Reading a secret named by a plan: {env: NAME} or {file: PATH}.  The value
 * goes only to the caller; messages name the variable or file, never the
 * value. */
#include "plan/plan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

#define SECRET_MAX (64 * 1024) /* larger secret files are refused */

/* Read at most SECRET_MAX bytes of PATH into a NUL-terminated buffer. */
static int
read_secret_file (const char *path, char **ret, struct ferry_err *err)
{
  CLEANUP_CLOSE int fd = -1;
  char *buf;
  size_t len = 0;
  ssize_t n;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot open secret file '%s'", path);
  buf = malloc (SECRET_MAX + 2);
  if (buf == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  for (;;) {
    n = read (fd, buf + len, SECRET_MAX + 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      explicit_bzero (buf, len);
      free (buf);
      return ferry_err_set (err, e, "cannot read secret file '%s'", path);
    }
    if (n == 0)
      break;
    len += (size_t) n;
    if (len > SECRET_MAX) {
      explicit_bzero (buf, len);
      free (buf);
      return ferry_err_set (err, 0, "secret file '%s' is larger than %d KiB",
                            path, SECRET_MAX / 1024);
    }
  }
  if (len > 0 && buf[len - 1] == '\n')
    len--;
  if (len > 0 && buf[len - 1] == '\r')
    len--;
  buf[len] = '\0';
  if (memchr (buf, '\0', len)) {
    explicit_bzero (buf, len);
    free (buf);
    return ferry_err_set (err, 0, "secret file '%s' contains a NUL byte", path);
  }
  *ret = buf;
  return 0;
}

/* Fetch the value of a secret reference. */
int
ferry_secret_read (const struct ferry_secret *s, char **ret,
                   struct ferry_err *err)
{
  const char *v;
  char *r;

  switch (s->kind) {
  case FERRY_SECRET_ENV:
    v = getenv (s->ref);
    if (v == NULL)
      return ferry_err_set (err, 0, "environment variable '%s' is not set",
                            s->ref);
    r = strdup (v);
    if (r == NULL)
      return ferry_err_set (err, errno, "cannot allocate memory");
    *ret = r;
    return 0;
  case FERRY_SECRET_FILE:
    return read_secret_file (s->ref, ret, err);
  default:
    return ferry_err_set (err, EINVAL, "no secret reference");
  }
}
