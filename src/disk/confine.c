/* Confinement of the files an image names: the one place that decides
 * whether a name found inside an image may be opened (see confine.h). */
#include "disk/confine.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define ESC_MAX 512 /* bytes of a hostile name shown in a message */

/* Copy S into OUT (SIZE bytes) for a message: control bytes become \xNN so
 * that a name from an image cannot write to the operator's terminal; long
 * names are cut with "...". */
static void
esc (const char *s, char *out, size_t size)
{
  size_t o = 0;
  unsigned char ch;

  for (; *s; s++) {
    ch = (unsigned char) *s;
    if (o + 8 >= size) {
      memcpy (out + o, "...", 3);
      o += 3;
      break;
    }
    if (ch < 0x20 || ch == 0x7f)
      o += (size_t) snprintf (out + o, size - o, "\\x%02x", ch);
    else
      out[o++] = (char) ch;
  }
  out[o] = '\0';
}

/* Whether NAME starts like a URI scheme: a letter, then letters, digits,
 * '+', '.' or '-', then ':'.  A '/' ends the scheme, so "./a:b" and
 * "dir/x:y" are file names; "nbd:host" and "json:{...}" are protocols. */
bool
ferry_confine_is_protocol (const char *name)
{
  const char *p = name;

  if (!isalpha ((unsigned char) *p))
    return false;
  while (isalnum ((unsigned char) *p) || *p == '+' || *p == '.' || *p == '-')
    p++;
  return *p == ':';
}

/* IMAGE's directory joined with NAME, or NAME when it is absolute. */
static char *
join_name (const char *image, const char *name)
{
  CLEANUP_FREE char *copy = NULL;
  char *out;

  if (name[0] == '/')
    return strdup (name);
  copy = strdup (image);
  if (copy == NULL || asprintf (&out, "%s/%s", dirname (copy), name) < 0)
    return NULL;
  return out;
}

/* Where FULL would be if it existed, for names realpath cannot resolve:
 * the longest prefix that resolves, followed by the rest as written
 * (cleaned lexically).  Only used to word the error. */
static char *
resolve_missing (const char *full)
{
  CLEANUP_FREE char *abs = NULL, *cwd = NULL, *copy = NULL;
  char *slash, *r, *out;

  if (full[0] == '/')
    abs = strdup (full);
  else if ((cwd = getcwd (NULL, 0)) == NULL ||
           asprintf (&abs, "%s/%s", cwd, full) < 0)
    abs = NULL;
  if (abs == NULL)
    return NULL;
  ferry_path_normalize (abs);
  copy = strdup (abs);
  if (copy == NULL)
    return NULL;
  while ((slash = strrchr (copy, '/')) != NULL) {
    *slash = '\0';
    r = realpath (copy[0] ? copy : "/", NULL);
    if (r == NULL)
      continue;
    if (asprintf (&out, "%s%s", strcmp (r, "/") == 0 ? "" : r,
                  abs + (slash - copy)) < 0)
      out = NULL;
    free (r);
    return out;
  }
  return TAKE_PTR (abs);
}

/* Is PATH (absolute, resolved) DIR or inside it?  "/srv/src2" is not
 * inside "/srv/src". */
static bool
in_dir (const char *path, const char *dir)
{
  size_t n = strlen (dir);

  if (strcmp (dir, "/") == 0)
    return path[0] == '/';
  return strncmp (path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Is PATH inside one of C's directories? */
static bool
allowed (const struct ferry_confine *c, const char *path)
{
  size_t i;

  for (i = 0; c && i < c->n; i++)
    if (in_dir (path, c->dirs[i]))
      return true;
  return false;
}

/* The error for a name outside every allowed directory. */
static int
outside (const struct ferry_confine *c, const char *image, const char *field,
         const char *name, const char *resolved, struct ferry_err *err)
{
  char ename[ESC_MAX], eres[ESC_MAX], via[ESC_MAX + 32], dirs[1024];
  CLEANUP_FREE char *joined = NULL;
  size_t i, o = 0;

  esc (name, ename, sizeof ename);
  esc (resolved, eres, sizeof eres);
  joined = join_name (image, name);
  via[0] = '\0';
  if (joined && strcmp (joined, resolved) != 0 && strcmp (name, resolved))
    snprintf (via, sizeof via, " (resolves to '%s')", eres);
  dirs[0] = '\0';
  for (i = 0; c && i < c->n && o < sizeof dirs - 1; i++)
    o += (size_t) snprintf (dirs + o, sizeof dirs - o, "%s'%s'", i ? ", " : "",
                            c->dirs[i]);
  if (c == NULL || c->n == 0)
    return ferry_err_set (err, 0,
                          "'%s': %s names '%s'%s, but no directory is "
                          "allowed for the files an image names",
                          image, field, ename, via);
  return ferry_err_set (
      err, 0, "'%s': %s names '%s'%s, outside the %s %s", image, field, ename,
      via, c->n == 1 ? "source directory" : "allowed directories", dirs);
}

/* What a non-regular file is, for messages. */
static const char *
file_kind (mode_t mode)
{
  if (S_ISDIR (mode))
    return "a directory";
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISSOCK (mode))
    return "a socket";
  return "not a regular file";
}

/* Every check of ferry_confine_open short of opening: *RET_PATH is the
 * resolved path of a regular file inside C, *RET_ST its stat. */
static int
confine_resolve (const struct ferry_confine *c, const char *image,
                 const char *field, const char *name, char **ret_path,
                 struct stat *ret_st, struct ferry_err *err)
{
  CLEANUP_FREE char *full = NULL, *resolved = NULL, *guess = NULL;
  char ename[ESC_MAX];
  struct stat st;
  int e;

  esc (name, ename, sizeof ename);
  if (name[0] == '\0')
    return ferry_err_set (err, 0, "'%s': %s is an empty name", image, field);
  if (ferry_confine_is_protocol (name))
    return ferry_err_set (err, 0,
                          "'%s': %s names '%s', a protocol name (an image "
                          "may only name files beside it)",
                          image, field, ename);
  full = join_name (image, name);
  if (full == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  resolved = realpath (full, NULL);
  if (resolved == NULL) {
    e = errno;
    guess = resolve_missing (full);
    if (guess && !allowed (c, guess))
      return outside (c, image, field, name, guess, err);
    return ferry_err_set (err, e, "'%s': cannot open %s '%s'", image, field,
                          ename);
  }
  if (!allowed (c, resolved))
    return outside (c, image, field, name, resolved, err);
  if (stat (resolved, &st) < 0)
    return ferry_err_set (err, errno, "'%s': cannot open %s '%s'", image, field,
                          ename);
  if (!S_ISREG (st.st_mode))
    return ferry_err_set (err, 0, "'%s': %s names '%s', which is %s", image,
                          field, ename, file_kind (st.st_mode));
  *ret_path = TAKE_PTR (resolved);
  *ret_st = st;
  return 0;
}

/* Open NAME (IMAGE's FIELD) read-only after confine_resolve has accepted
 * it; 0, or -1 with ERR naming IMAGE, FIELD and NAME.  Opened with
 * O_NONBLOCK and O_NOFOLLOW, then fstat'ed: the descriptor must be the
 * regular file that was checked (same device and inode), so a file
 * swapped in between the check and the open is refused.  O_NONBLOCK is
 * cleared again
 * before returning.  *RET_FD is the caller's to close; *RET_PATH, when
 * RET_PATH is not NULL, the resolved path for the caller to free. */
int
ferry_confine_open (const struct ferry_confine *c, const char *image,
                    const char *field, const char *name, int flags,
                    char **ret_path, int *ret_fd, struct ferry_err *err)
{
  CLEANUP_FREE char *path = NULL;
  char ename[ESC_MAX];
  struct stat st, fst;
  int fd, fl;

  if (confine_resolve (c, image, field, name, &path, &st, err) < 0)
    return -1;
  esc (name, ename, sizeof ename);
  /* O_NONBLOCK: should the file become a FIFO after the check, the open
   * must not block; the fstat below then refuses it. */
  fd = open (path,
             O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | flags);
  if (fd < 0)
    return ferry_err_set (err, errno, "'%s': cannot open %s '%s'", image, field,
                          ename);
  if (fstat (fd, &fst) < 0 || !S_ISREG (fst.st_mode) ||
      fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
    close (fd);
    return ferry_err_set (err, 0,
                          "'%s': %s '%s' changed while it was being opened",
                          image, field, ename);
  }
  fl = fcntl (fd, F_GETFL);
  if (fl >= 0)
    (void) fcntl (fd, F_SETFL, fl & ~O_NONBLOCK);
  if (ret_path)
    *ret_path = TAKE_PTR (path);
  *ret_fd = fd;
  return 0;
}

/* Whether confine_resolve accepts NAME for IMAGE: the checks of
 * ferry_confine_open without opening anything; the error is dropped. */
bool
ferry_confine_allows (const struct ferry_confine *c, const char *image,
                      const char *name)
{
  struct ferry_err ignore = {0};
  struct stat st;
  char *path = NULL;

  if (confine_resolve (c, image, "name", name, &path, &st, &ignore) < 0)
    return false;
  free (path);
  return true;
}

/* Append the resolved directory R (taken) to C, unless it is there. */
static int
add_resolved (struct ferry_confine *c, char *r, struct ferry_err *err)
{
  char **dirs;
  size_t i;

  for (i = 0; i < c->n; i++)
    if (strcmp (c->dirs[i], r) == 0) {
      free (r);
      return 0;
    }
  dirs = realloc (c->dirs, (c->n + 1) * sizeof *dirs);
  if (dirs == NULL) {
    free (r);
    return ferry_err_set (err, errno, "cannot allocate memory");
  }
  c->dirs = dirs;
  c->dirs[c->n++] = r;
  return 0;
}

/* Resolve DIR with realpath and add it to C (a duplicate is dropped);
 * 0, or -1 with ERR worded "WHAT 'DIR'" when DIR does not resolve or is
 * not a directory.  C owns the stored copy. */
int
ferry_confine_add (struct ferry_confine *c, const char *dir, const char *what,
                   struct ferry_err *err)
{
  struct stat st;
  char *r;

  r = realpath (dir, NULL);
  if (r == NULL)
    return ferry_err_set (err, errno, "%s '%s'", what, dir);
  if (stat (r, &st) < 0 || !S_ISDIR (st.st_mode)) {
    free (r);
    return ferry_err_set (err, ENOTDIR, "%s '%s'", what, dir);
  }
  return add_resolved (c, r, err);
}

/* Add the resolved directory of IMAGE (its dirname, through realpath) to
 * C; 0, or -1 with ERR.  A duplicate is dropped. */
int
ferry_confine_add_image_dir (struct ferry_confine *c, const char *image,
                             struct ferry_err *err)
{
  CLEANUP_FREE char *copy = strdup (image);
  char *r;

  if (copy == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  r = realpath (dirname (copy), NULL);
  if (r == NULL)
    return ferry_err_set (err, errno, "cannot resolve the directory of '%s'",
                          image);
  return add_resolved (c, r, err);
}

/* Fill C for `convert`/`inspect` of IMAGE: its directory (skipped for an
 * rbd: name, which has none) and each of the N --allow-dir entries of
 * ALLOW.  0, or -1 with ERR; on failure C is already freed (emptied), so
 * the caller has nothing to undo. */
int
ferry_confine_for_image (struct ferry_confine *c,
                         const struct ferry_location *image, char *const *allow,
                         size_t n, struct ferry_err *err)
{
  size_t i;

  if (image->kind == FERRY_LOCATION_FILE &&
      ferry_confine_add_image_dir (c, image->file.path, err) < 0)
    goto fail;
  for (i = 0; i < n; i++)
    if (ferry_confine_add (c, allow[i], "--allow-dir", err) < 0)
      goto fail;
  return 0;

fail:
  ferry_confine_free (c);
  return -1;
}

/* Append copies of SRC's directories (SRC may be NULL) to DST, which then
 * owns them; 0, or -1 with ERR after freeing DST, so a failed copy leaves
 * DST empty rather than half filled. */
int
ferry_confine_copy (struct ferry_confine *dst, const struct ferry_confine *src,
                    struct ferry_err *err)
{
  size_t i;
  char *r;

  for (i = 0; src && i < src->n; i++) {
    r = strdup (src->dirs[i]);
    if (r == NULL) {
      ferry_confine_free (dst);
      return ferry_err_set (err, errno, "cannot allocate memory");
    }
    if (add_resolved (dst, r, err) < 0) {
      ferry_confine_free (dst);
      return -1;
    }
  }
  return 0;
}

/* Free C's directories and leave C empty (dirs NULL, n 0) and reusable;
 * C itself is the caller's.  NULL is fine, which the cleanup attribute
 * (CLEANUP_CONFINE) relies on. */
void
ferry_confine_free (struct ferry_confine *c)
{
  size_t i;

  if (c == NULL)
    return;
  for (i = 0; i < c->n; i++)
    free (c->dirs[i]);
  free (c->dirs);
  c->dirs = NULL;
  c->n = 0;
}
