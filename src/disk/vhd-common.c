/* Helpers shared by the VHD and VHDX readers. */
#include "disk/vhd-common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append code point CP to OUT as UTF-8; returns bytes written. */
static size_t
put_utf8 (char *out, uint32_t cp)
{
  if (cp < 0x80) {
    out[0] = (char) cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char) (0xc0 | (cp >> 6));
    out[1] = (char) (0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char) (0xe0 | (cp >> 12));
    out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char) (0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char) (0xf0 | (cp >> 18));
  out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char) (0x80 | (cp & 0x3f));
  return 4;
}

/* UTF-16 to UTF-8; stops at NUL; bad surrogates become U+FFFD. */
char *
ferry_vhd_utf16_to_utf8 (const uint8_t *buf, size_t len, bool big_endian)
{
  size_t n = len / 2, i, o = 0;
  uint32_t u, v;
  char *out;

  /* each UTF-16 unit yields at most 3 bytes (a pair yields 4 for 2) */
  out = malloc (n * 3 + 1);
  if (out == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    u = big_endian ? (uint32_t) buf[2 * i] << 8 | buf[2 * i + 1]
                   : (uint32_t) buf[2 * i + 1] << 8 | buf[2 * i];
    if (u == 0)
      break;
    if (u >= 0xd800 && u < 0xdc00 && i + 1 < n) {
      v = big_endian ? (uint32_t) buf[2 * i + 2] << 8 | buf[2 * i + 3]
                     : (uint32_t) buf[2 * i + 3] << 8 | buf[2 * i + 2];
      if (v >= 0xdc00 && v < 0xe000) {
        o += put_utf8 (out + o, 0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00));
        i++;
        continue;
      }
    }
    if (u >= 0xd800 && u < 0xe000)
      u = 0xfffd;
    o += put_utf8 (out + o, u);
  }
  out[o] = '\0';
  return out;
}

/* Format the 16-byte GUID G into OUT (at least 37 bytes) in Microsoft's
 * mixed-endian layout: the first three fields are little endian, as in VHDX
 * and parent locator GUIDs. */
void
ferry_vhd_guid_string (const uint8_t *g, char *out)
{
  snprintf (out, 37,
            "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x",
            g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10],
            g[11], g[12], g[13], g[14], g[15]);
}

/* Format the 16-byte id G into OUT (at least 37 bytes) byte by byte in
 * order, as the VHD footer stores its big-endian unique id. */
void
ferry_vhd_uuid_string (const uint8_t *g, char *out)
{
  snprintf (out, 37,
            "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x",
            g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10],
            g[11], g[12], g[13], g[14], g[15]);
}

/* Turn one recorded name into a POSIX name usable relative to the child's
 * directory, or NULL if it is empty.  Backslashes become slashes; a Windows
 * absolute path (drive letter, UNC, \\?\ volume path) is cut to its base
 * name; a leading "./" is dropped. */
static char *
usable_name (const char *name)
{
  char *s, *p, *base;
  bool windows_abs;

  if (name == NULL || name[0] == '\0')
    return NULL;
  s = strdup (name);
  if (s == NULL)
    return NULL;
  for (p = s; *p; p++)
    if (*p == '\\')
      *p = '/';
  windows_abs =
      (((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) &&
       s[1] == ':') ||
      (s[0] == '/' && s[1] == '/');
  if (windows_abs) {
    base = strrchr (s, '/');
    base = base ? base + 1 : (s[1] == ':' ? s + 2 : s);
    memmove (s, base, strlen (base) + 1);
  }
  while (s[0] == '.' && s[1] == '/')
    memmove (s, s + 2, strlen (s + 2) + 1);
  if (s[0] == '\0' || strcmp (s, ".") == 0 || strcmp (s, "..") == 0 ||
      s[strlen (s) - 1] == '/') {
    free (s);
    return NULL;
  }
  return s;
}

/* The recorded parent names as one quoted list (see vhd-common.h). */
char *
ferry_vhd_names_text (const char *const *keys, const char *const *vals,
                      size_t n)
{
  size_t i, len = 1;
  char *out, *o;
  const char *v;

  for (i = 0; i < n; i++)
    if (vals[i] && vals[i][0])
      len += strlen (keys[i]) + strlen (vals[i]) + 5;
  if (len == 1)
    return NULL;
  out = malloc (len);
  if (out == NULL)
    return NULL;
  o = out;
  for (i = 0; i < n; i++) {
    if (vals[i] == NULL || vals[i][0] == '\0')
      continue;
    if (o != out) {
      *o++ = ',';
      *o++ = ' ';
    }
    o += sprintf (o, "%s '", keys[i]);
    for (v = vals[i]; *v; v++)
      *o++ = ((unsigned char) *v < 0x20 || *v == 0x7f || *v == '\'') ? '?' : *v;
    *o++ = '\'';
  }
  *o = '\0';
  return out;
}

/* Choose the parent file of differencing disk CHILD from the N names its
 * locators record: first each name as recorded (Windows absolute paths cut
 * to their base name), then each base name alone, since a chain copied off
 * Windows usually sits in one directory. The first name CONFINE allows wins.
 * If none is allowed, the first usable name is returned anyway so that
 * opening it fails with a confinement error naming it. Return a malloc'd
 * POSIX name, relative names meaning CHILD's directory (the caller frees
 * it), or NULL with ERR set when no name is usable. */
char *
ferry_vhd_pick_parent (const struct ferry_confine *confine, const char *child,
                       const char *const *candidates, size_t n,
                       struct ferry_err *err)
{
  char *first = NULL, *name, *slash;
  size_t i;

  for (i = 0; i < 2 * n; i++) {
    /* pass 1: names as recorded; pass 2: their base names */
    name = usable_name (candidates[i % n]);
    if (name == NULL)
      continue;
    if (i >= n && (slash = strrchr (name, '/')) != NULL)
      memmove (name, slash + 1, strlen (slash + 1) + 1);
    if (name[0] == '\0') {
      free (name);
      continue;
    }
    if (ferry_confine_allows (confine, child, name)) {
      free (first);
      return name;
    }
    if (first == NULL)
      first = name;
    else
      free (name);
  }
  if (first == NULL)
    ferry_err_set (err, 0,
                   "'%s': differencing disk records no usable parent file "
                   "name",
                   child);
  return first;
}
