/* modules/guest-linux-util.c: guest file helpers for the Linux guest
 * operations (modules/guest-linux-util.h).  Files are read and written
 * whole: every file edited here is a small text file (fstab, GRUB's
 * defaults, lvm.conf, network configs). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/guest-linux-util.h"
#include "util/cleanup.h"

/* lstat, so that a dangling link (a stale enablement link) counts. */
bool
ferry_lx_exists (guestfs_h *g, const char *path)
{
  struct guestfs_statns *st = guestfs_lstatns (g, path);

  if (st == NULL)
    return false;
  guestfs_free_statns (st);
  return true;
}

/* Only regular files (after links): a directory or device is "absent". */
int
ferry_lx_read (guestfs_h *g, const char *path, char **ret, size_t *ret_len,
               struct ferry_err *err)
{
  char *data, *s;
  size_t n = 0;
  const struct guestfs_is_file_opts_argv follow_symlinks = {
      .bitmask = GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS_BITMASK,
      .followsymlinks = 1};

  *ret = NULL;
  if (guestfs_is_file_opts_argv (g, path, &follow_symlinks) <= 0)
    return 0;
  data = guestfs_read_file (g, path, &n);
  if (data == NULL)
    return ferry_err_set (err, 0, "cannot read '%s' in the guest: %s", path,
                          ferry_gfs_last_error (g));
  s = realloc (data, n + 1);
  if (s == NULL) {
    free (data);
    return ferry_err_set (err, ENOMEM, "cannot read '%s'", path);
  }
  s[n] = '\0';
  *ret = s;
  if (ret_len)
    *ret_len = n;
  return 0;
}

/* guestfs_write truncates in place, so mode and owner stay. */
int
ferry_lx_write (guestfs_h *g, const char *path, const char *text,
                struct ferry_err *err)
{
  if (guestfs_write (g, path, text, strlen (text)) < 0)
    return ferry_err_set (err, 0, "cannot write '%s' in the guest: %s", path,
                          ferry_gfs_last_error (g));
  return 0;
}

/* guestfs_mkdir_p with the error worded for ferry. */
int
ferry_lx_mkdir_p (guestfs_h *g, const char *path, struct ferry_err *err)
{
  if (guestfs_mkdir_p (g, path) < 0)
    return ferry_err_set (err, 0, "cannot create directory '%s': %s", path,
                          ferry_gfs_last_error (g));
  return 0;
}

/* guestfs_command: no shell, so guest names cannot inject commands. */
int
ferry_lx_run (guestfs_h *g, const char *what, const char *const *argv,
              struct ferry_err *err)
{
  char *out = guestfs_command (g, (char *const *) argv);

  if (out == NULL)
    return ferry_err_set (err, 0, "%s failed in the guest: %s", what,
                          ferry_gfs_last_error (g));
  free (out);
  return 0;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* guestfs_ls filtered by suffix and sorted, so changes come in a
 * stable order. */
char **
ferry_lx_glob (guestfs_h *g, const char *dir, const char *suffix)
{
  char **names = NULL, **v;
  size_t i, n = 0, k = 0, sl = strlen (suffix);

  if (guestfs_is_dir (g, dir) > 0)
    names = guestfs_ls (g, dir);
  for (i = 0; names && names[i]; i++)
    n++;
  v = calloc (n + 1, sizeof *v);
  for (i = 0; v && names && names[i]; i++) {
    size_t l = strlen (names[i]);
    if (l >= sl && strcmp (names[i] + l - sl, suffix) == 0 &&
        asprintf (&v[k], "%s/%s", dir, names[i]) >= 0)
      k++;
  }
  for (i = 0; names && names[i]; i++)
    free (names[i]);
  free (names);
  if (v)
    qsort (v, k, sizeof *v, cmp_str);
  return v;
}

/* Free a NULL-terminated list (NULL is fine). */
void
ferry_lx_strv_free (char **v)
{
  size_t i;

  for (i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}

/* /dev/sd or /dev/hd, letters, then optional digits, nothing else. */
bool
ferry_lx_is_sd_name (const char *name, size_t len)
{
  size_t i = 7;

  if (len < 8 ||
      (strncmp (name, "/dev/sd", 7) != 0 && strncmp (name, "/dev/hd", 7) != 0))
    return false;
  while (i < len && name[i] >= 'a' && name[i] <= 'z')
    i++;
  if (i == 7)
    return false;
  while (i < len && name[i] >= '0' && name[i] <= '9')
    i++;
  return i == len;
}

/* Ask the appliance (blkid) for the UUID of the same device. */
char *
ferry_lx_uuid_spec (guestfs_h *g, const char *name, size_t len)
{
  CLEANUP_FREE char *dev = strndup (name, len);
  CLEANUP_FREE char *uuid = NULL;
  char *spec = NULL;

  if (dev == NULL || !ferry_lx_is_sd_name (dev, len))
    return NULL;
  dev[5] = 's'; /* hdX: the appliance has only sdX */
  uuid = guestfs_vfs_uuid (g, dev);
  if (uuid == NULL || uuid[0] == '\0')
    return NULL;
  if (asprintf (&spec, "UUID=%s", uuid) < 0)
    return NULL;
  return spec;
}

/* Append LEN bytes of S; on allocation failure set oom and stop. */
void
ferry_lx_buf_add (struct ferry_lx_buf *b, const char *s, size_t len)
{
  if (b->oom)
    return;
  if (b->len + len + 1 > b->cap) {
    size_t cap = (b->len + len + 1) * 2;
    char *p = realloc (b->s, cap);
    if (p == NULL) {
      b->oom = true;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy (b->s + b->len, s, len);
  b->len += len;
  b->s[b->len] = '\0';
}

/* Append printf-style. */
void
ferry_lx_buf_addf (struct ferry_lx_buf *b, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  ferry_lx_buf_add (b, s, (size_t) n);
  free (s);
}

/* Copy TEXT character by character, replacing the device after each
 * root= / resume= that starts a word. */
char *
ferry_lx_rewrite_cmdline (guestfs_h *g, const char *file, const char *text,
                          struct ferry_changes *ch)
{
  static const char *const keys[] = {"root=", "resume="};
  struct ferry_lx_buf b = {0};
  const char *p = text;
  bool changed = false;

  while (*p) {
    size_t i, klen = 0;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      size_t l = strlen (keys[i]);
      /* a word start: "root=" not inside "myroot=" */
      if (strncmp (p, keys[i], l) == 0 &&
          (p == text || strchr (" \t\"'=", p[-1]) != NULL))
        klen = l;
    }
    if (klen) {
      const char *d = p + klen, *e = d;
      while (*e && strchr (" \t\"'\n;", *e) == NULL)
        e++;
      if (ferry_lx_is_sd_name (d, (size_t) (e - d))) {
        CLEANUP_FREE char *spec = ferry_lx_uuid_spec (g, d, (size_t) (e - d));
        if (spec) {
          ferry_changes_add (ch, "%s: %.*s -> %.*s%s", file, (int) (e - p), p,
                             (int) klen, p, spec);
          ferry_lx_buf_add (&b, p, klen);
          ferry_lx_buf_add (&b, spec, strlen (spec));
          p = e;
          changed = true;
          continue;
        }
      }
    }
    ferry_lx_buf_add (&b, p, 1);
    p++;
  }
  if (!changed || b.oom) {
    free (b.s);
    return NULL;
  }
  return b.s;
}
