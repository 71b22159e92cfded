/* Small file-system helpers. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Create the directories leading to file PATH (not PATH itself), mode 0700,
 * private to the user, since the callers put state journals and locks there;
 * existing ones are fine. Return 0, or -1 with ERR naming the directory that
 * could not be made. */
int
ferry_mkdir_parents (const char *path, struct ferry_err *err)
{
  CLEANUP_FREE char *dir = strdup (path);
  char *p;

  if (dir == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  p = strrchr (dir, '/');
  if (p == NULL || p == dir)
    return 0;
  *p = '\0';
  for (p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir (dir, 0700) < 0 && errno != EEXIST)
      return ferry_err_set (err, errno, "cannot create directory '%s'", dir);
    *p = '/';
  }
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return ferry_err_set (err, errno, "cannot create directory '%s'", dir);
  return 0;
}

/* fsync the directory holding PATH, so that a file just created or renamed
 * there survives a crash, not only its data. File systems that cannot sync a
 * directory (EINVAL, EROFS) are not an error. Return 0, or -1 with ERR set. */
int
ferry_sync_parent (const char *path, struct ferry_err *err)
{
  CLEANUP_FREE char *dir = strdup (path);
  char *p;
  int fd;

  if (dir == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  p = strrchr (dir, '/');
  if (p == NULL)
    strcpy (dir, ".");
  else if (p == dir)
    dir[1] = '\0';
  else
    *p = '\0';
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot open directory '%s'", dir);
  if (fsync (fd) < 0 && errno != EINVAL && errno != EROFS) {
    ferry_err_set (err, errno, "cannot sync directory '%s'", dir);
    close (fd);
    return -1;
  }
  close (fd);
  return 0;
}

/* Tidy an absolute PATH in place, lexically: "//" and "/./" collapse and
 * "dir/.." goes ("/srv/plans/../out" becomes "/srv/out"); a relative PATH
 * is left alone.  No file system access: symbolic links are not followed
 * (callers that need the real file use realpath). */
void
ferry_path_normalize (char *path)
{
  char *out = path, *in = path, *seg;
  size_t len;

  if (path[0] != '/')
    return;
  while (*in) {
    while (*in == '/')
      in++;
    if (*in == '\0')
      break;
    seg = in;
    while (*in && *in != '/')
      in++;
    len = (size_t) (in - seg);
    if (len == 1 && seg[0] == '.')
      continue;
    if (len == 2 && seg[0] == '.' && seg[1] == '.') {
      while (out > path && *--out != '/')
        ;
      continue;
    }
    *out++ = '/';
    memmove (out, seg, len);
    out += len;
  }
  if (out == path)
    *out++ = '/';
  *out = '\0';
}
