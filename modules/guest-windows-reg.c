/* modules/guest-windows-reg.c: registry edits for the Windows guest
 * operations through libguestfs' hivex API (modules/guest-windows.h).
 *
 * Every edit is "this value must be so": the value is read, compared by
 * type and bytes, and only written (in apply) or listed (in check) when it
 * differs, which is what makes the operations idempotent.  Strings are
 * stored as Windows does: UTF-16LE with one terminating NUL. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/guest-windows.h"
#include "util/cleanup.h"

/* A change line, once. */
void
ferry_win_change (struct ferry_changes *ch, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  size_t i;
  int k;

  va_start (ap, fmt);
  k = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (k < 0)
    return;
  for (i = 0; i < ch->n; i++)
    if (strcmp (ch->lines[i], s) == 0)
      break;
  if (i == ch->n)
    ferry_changes_add (ch, "%s", s);
  free (s);
}

/* UTF-8 to UTF-16LE + NUL (surrogate pairs above the BMP, U+FFFD for
 * bad bytes): what REG_SZ holds. */
char *
ferry_utf16le (const char *s, size_t *ret_len)
{
  size_t n = strlen (s), k = 0;
  const unsigned char *p = (const unsigned char *) s;
  unsigned char *out = malloc (n * 4 + 2);

  if (out == NULL)
    return NULL;
  while (*p) {
    uint32_t c = *p++;
    int more = 0;
    if (c >= 0xf0 && c < 0xf8)
      c &= 0x07, more = 3;
    else if (c >= 0xe0)
      c &= 0x0f, more = 2;
    else if (c >= 0xc0)
      c &= 0x1f, more = 1;
    else if (c >= 0x80)
      c = 0xfffd; /* stray continuation byte */
    for (; more > 0 && (*p & 0xc0) == 0x80; more--)
      c = (c << 6) | (*p++ & 0x3f);
    if (more > 0)
      c = 0xfffd;
    if (c >= 0x10000) {
      uint32_t v = c - 0x10000, hi = 0xd800 | (v >> 10),
               lo = 0xdc00 | (v & 0x3ff);
      out[k++] = hi & 0xff, out[k++] = hi >> 8;
      out[k++] = lo & 0xff, out[k++] = lo >> 8;
    } else {
      out[k++] = c & 0xff, out[k++] = (c >> 8) & 0xff;
    }
  }
  out[k++] = 0, out[k++] = 0;
  *ret_len = k;
  return (char *) out;
}

/* Open hive NAME for writing in apply, read-only in check. */
int
ferry_winreg_open (struct ferry_winreg *r, struct ferry_guest_op *op,
                   const char *name, struct ferry_changes *ch,
                   struct ferry_err *err)
{
  char *path;
  guestfs_h *g = op->g;
  const struct guestfs_hivex_open_argv open_opts = {
      .bitmask = GUESTFS_HIVEX_OPEN_WRITE_BITMASK, .write = op->apply ? 1 : 0};

  memset (r, 0, sizeof *r);
  if (strcmp (name, "SYSTEM") == 0)
    path = guestfs_inspect_get_windows_system_hive (g, op->info->root);
  else
    path = guestfs_inspect_get_windows_software_hive (g, op->info->root);
  if (path == NULL)
    return ferry_err_set (err, 0, "cannot find the %s hive: %s", name,
                          ferry_gfs_last_error (g));
  if (guestfs_hivex_open_argv (g, path, &open_opts) < 0) {
    ferry_err_set (err, 0, "cannot open hive '%s': %s", path,
                   ferry_gfs_last_error (g));
    free (path);
    return -1;
  }
  r->root = guestfs_hivex_root (g);
  if (r->root <= 0) {
    ferry_err_set (err, 0, "hive '%s' has no root key: %s", path,
                   ferry_gfs_last_error (g));
    guestfs_hivex_close (g);
    free (path);
    return -1;
  }
  r->g = g;
  r->ch = ch;
  r->name = name;
  r->path = path;
  r->apply = op->apply;
  return 0;
}

/* Commit when something changed, then close. */
int
ferry_winreg_close (struct ferry_winreg *r, struct ferry_err *err)
{
  int rc = 0;

  if (r->g == NULL)
    return 0;
  if (r->apply && r->dirty && guestfs_hivex_commit (r->g, NULL) < 0)
    rc = ferry_err_set (err, 0, "cannot write hive '%s': %s", r->path,
                        ferry_gfs_last_error (r->g));
  guestfs_hivex_close (r->g);
  free (r->path);
  r->path = NULL;
  r->g = NULL;
  return rc;
}

/* Close, dropping uncommitted edits. */
void
ferry_winreg_abort (struct ferry_winreg *r)
{
  if (r->g)
    guestfs_hivex_close (r->g);
  free (r->path);
  r->path = NULL;
  r->g = NULL;
}

/* Walk PATH from the root; CREATE: add missing keys (apply only).  0 when
 * a key is missing (and not created). */
static int64_t
walk (struct ferry_winreg *r, const char *path, bool create,
      struct ferry_err *err)
{
  CLEANUP_FREE char *copy = strdup (path);
  char *part, *save = NULL;
  int64_t node = r->root;

  if (copy == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  for (part = strtok_r (copy, "\\", &save); part;
       part = strtok_r (NULL, "\\", &save)) {
    int64_t c = guestfs_hivex_node_get_child (r->g, node, part);
    if (c < 0)
      return ferry_err_set (err, 0, "hive '%s': cannot read key '%s': %s",
                            r->path, path, ferry_gfs_last_error (r->g));
    if (c == 0) {
      if (!create)
        return 0;
      c = guestfs_hivex_node_add_child (r->g, node, part);
      if (c <= 0)
        return ferry_err_set (err, 0, "hive '%s': cannot create key '%s': %s",
                              r->path, path, ferry_gfs_last_error (r->g));
      r->dirty = true;
    }
    node = c;
  }
  return node;
}

int64_t
ferry_winreg_find (struct ferry_winreg *r, const char *path,
                   struct ferry_err *err)
{
  return walk (r, path, false, err);
}

/* The key at PATH: found, or created (apply) / listed (check). */
int64_t
ferry_winreg_key (struct ferry_winreg *r, const char *path,
                  struct ferry_err *err)
{
  int64_t n = walk (r, path, false, err);

  if (n != 0)
    return n;
  ferry_win_change (r->ch, "registry %s\\%s: create", r->name, path);
  if (!r->apply)
    return 0;
  return walk (r, path, true, err);
}

/* Set NAME of NODE to TYPE DATA/LEN unless it is so already; SHOW is how
 * the line shows the data. */
static int
set_value (struct ferry_winreg *r, int64_t node, const char *key,
           const char *name, int type, const void *data, size_t len,
           const char *show, struct ferry_err *err)
{
  const char *vn = *name ? name : "(default)";

  if (node > 0) {
    int64_t v = guestfs_hivex_node_get_value (r->g, node, name);
    if (v < 0)
      return ferry_err_set (err, 0, "hive '%s': cannot read '%s\\%s': %s",
                            r->path, key, vn, ferry_gfs_last_error (r->g));
    if (v > 0) {
      size_t have_len = 0;
      CLEANUP_FREE char *have = NULL;
      int64_t t = guestfs_hivex_value_type (r->g, v);
      have = guestfs_hivex_value_value (r->g, v, &have_len);
      if (have && t == type && have_len == len && memcmp (have, data, len) == 0)
        return 0;
    }
  }
  ferry_win_change (r->ch, "registry %s\\%s: %s = %s", r->name, key, vn, show);
  if (!r->apply)
    return 0;
  if (node <= 0)
    return ferry_err_set (err, 0, "hive '%s': key '%s' is missing", r->path,
                          key);
  if (guestfs_hivex_node_set_value (r->g, node, name, type, data, len) < 0)
    return ferry_err_set (err, 0, "hive '%s': cannot set '%s\\%s': %s", r->path,
                          key, vn, ferry_gfs_last_error (r->g));
  r->dirty = true;
  return 0;
}

/* A binary-ish value, shown as hex in the line. */
int
ferry_winreg_set (struct ferry_winreg *r, int64_t node, const char *key,
                  const char *name, int type, const void *data, size_t len,
                  bool secret, struct ferry_err *err)
{
  char show[64];
  size_t i, k = 0;
  const unsigned char *p = data;

  if (secret)
    snprintf (show, sizeof show, "(secret)");
  else {
    k = (size_t) snprintf (show, sizeof show, "hex ");
    for (i = 0; i < len && k + 8 < sizeof show; i++)
      k += (size_t) snprintf (show + k, sizeof show - k, "%02x", p[i]);
    if (i < len)
      snprintf (show + k, sizeof show - k, "...");
  }
  return set_value (r, node, key, name, type, data, len, show, err);
}

/* A REG_DWORD, little endian. */
int
ferry_winreg_set_dword (struct ferry_winreg *r, int64_t node, const char *key,
                        const char *name, uint32_t v, struct ferry_err *err)
{
  unsigned char b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
                        (v >> 24) & 0xff};
  char show[32];

  snprintf (show, sizeof show, "dword %u", (unsigned) v);
  return set_value (r, node, key, name, FERRY_REG_DWORD, b, 4, show, err);
}

/* A REG_SZ / REG_EXPAND_SZ; a secret is wiped from memory after. */
int
ferry_winreg_set_str (struct ferry_winreg *r, int64_t node, const char *key,
                      const char *name, int type, const char *s, bool secret,
                      struct ferry_err *err)
{
  size_t len;
  CLEANUP_FREE char *w = ferry_utf16le (s, &len);
  CLEANUP_FREE char *show = NULL;
  int rc, trace;

  if (w == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (secret)
    show = strdup ("(secret)");
  else if (asprintf (&show, "%s'%s'",
                     type == FERRY_REG_EXPAND_SZ ? "expand " : "", s) < 0)
    show = NULL;
  if (show == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  /* LIBGUESTFS_TRACE=1 would print a secret's bytes: not for this call */
  trace = secret ? guestfs_get_trace (r->g) : 0;
  if (trace > 0)
    guestfs_set_trace (r->g, 0);
  rc = set_value (r, node, key, name, type, w, len, show, err);
  if (trace > 0)
    guestfs_set_trace (r->g, 1);
  if (secret)
    memset (w, 0, len);
  return rc;
}

/* A REG_MULTI_SZ: each string NUL-terminated, one more NUL at the end. */
int
ferry_winreg_set_multi (struct ferry_winreg *r, int64_t node, const char *key,
                        const char *name, const char *const *sv,
                        struct ferry_err *err)
{
  char buf[1024], show[512];
  size_t k = 0, s = 0, i;

  show[0] = 0;
  for (i = 0; sv[i]; i++) {
    size_t len;
    CLEANUP_FREE char *w = ferry_utf16le (sv[i], &len);
    if (w == NULL)
      return ferry_err_set (err, errno, "cannot allocate memory");
    if (k + len + 2 > sizeof buf)
      return ferry_err_set (err, 0, "registry value '%s' is too long", name);
    memcpy (buf + k, w, len);
    k += len;
    s += (size_t) snprintf (show + s, sizeof show - s, "%s'%s'",
                            i ? "," : "multi ", sv[i]);
    if (s >= sizeof show)
      s = sizeof show - 1;
  }
  buf[k++] = 0;
  buf[k++] = 0;
  return set_value (r, node, key, name, FERRY_REG_MULTI_SZ, buf, k, show, err);
}

/* A string value as UTF-8 (hivex decodes it). */
char *
ferry_winreg_get_str (struct ferry_winreg *r, int64_t node, const char *name)
{
  int64_t v;

  if (node <= 0)
    return NULL;
  v = guestfs_hivex_node_get_value (r->g, node, name);
  if (v <= 0)
    return NULL;
  return guestfs_hivex_value_string (r->g, v);
}
