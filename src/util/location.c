/* Typed locations: the rbd: name parser and formatter, constructors, copy
 * and free.  The grammar is qemu's (block/rbd.c):
 *
 *   rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER]
 *
 * where a backslash makes the next character literal, so a name may hold
 * ':', '@', '/' or '\' (`\:` `\@` `\/` `\\`).  POOL ends at '/', IMAGE at
 * '@' or ':', SNAP and option values at ':'.  Unlike qemu, a second '/'
 * (qemu's POOL/NAMESPACE/IMAGE) and options other than conf= and id= are
 * refused: ferry passes no free-form settings to librados. */
#include "util/location.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define RBD_PREFIX "rbd:"
#define SHOWN_MAX 80 /* bytes of a user's name quoted in a message */

static const char *const kind_names[] = {
    [FERRY_LOCATION_FILE] = "file",
    [FERRY_LOCATION_RBD] = "rbd",
};
_Static_assert(FERRY_ARRAY_SIZE (kind_names) == FERRY_LOCATION_LAST,
               "kind_names must name every location kind");

/* Characters escaped by the formatter, per field: those that end the
 * field while parsing, '\' itself, and '@' everywhere (qemu looks for '@'
 * in the whole rest of the name before splitting off the options). */
#define ESC_NAME "\\/@:"
#define ESC_VALUE "\\@:"

/* The kind's name; see location.h. */
const char *
ferry_location_kind_name (enum ferry_location_kind kind)
{
  if ((unsigned) kind >= FERRY_LOCATION_LAST)
    return NULL;
  return kind_names[kind];
}

/* Is NAME in the rbd: syntax?  Only the prefix decides, as in qemu. */
bool
ferry_location_is_rbd_name (const char *name)
{
  return strncmp (name, RBD_PREFIX, strlen (RBD_PREFIX)) == 0;
}

/* NAME as quoted in messages: cut to SHOWN_MAX bytes with "..." so that a
 * hostile 64 KiB name does not push the reason out of the message. */
static const char *
shown (const char *name, char buf[SHOWN_MAX + 4])
{
  if (strlen (name) <= SHOWN_MAX)
    return name;
  memcpy (buf, name, SHOWN_MAX);
  memcpy (buf + SHOWN_MAX, "...", 4);
  return buf;
}

/* Read one field of NAME starting at S: up to the first unescaped
 * character of STOP (or the end), with escapes undone.  *RET gets a new
 * string and *RET_END the stop position.  A field longer than MAX bytes
 * or a backslash at the very end is an error; WHAT names the field. */
static int
next_field (const char *name, const char *s, const char *stop, size_t max,
            const char *what, char **ret, const char **ret_end,
            struct ferry_err *err)
{
  char sb[SHOWN_MAX + 4];
  const char *p;
  size_t n = 0;
  char *out, *o;

  for (p = s; *p && !strchr (stop, *p); p++) {
    if (*p == '\\') {
      if (p[1] == '\0')
        return ferry_err_set (err, 0,
                              "'%s': a backslash ends the name (escape it "
                              "as '\\\\')",
                              shown (name, sb));
      p++;
    }
    if (++n > max)
      return ferry_err_set (err, ENAMETOOLONG,
                            "'%s': %s is longer than %zu bytes",
                            shown (name, sb), what, max);
  }
  out = malloc (n + 1);
  if (out == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  for (o = out, p = s; *p && !strchr (stop, *p); p++) {
    if (*p == '\\')
      p++;
    *o++ = *p;
  }
  *o = '\0';
  *ret = out;
  *ret_end = p;
  return 0;
}

/* Parse the ":KEY=VALUE" options that follow the image (P is at the first
 * ':' or at the end). */
static int
parse_options (const char *name, const char *p, struct ferry_rbd_location *r,
               struct ferry_err *err)
{
  char sb[SHOWN_MAX + 4];

  while (*p == ':') {
    CLEANUP_FREE char *key = NULL;
    char *value = NULL, **slot;
    size_t max;

    if (next_field (name, p + 1, "=:", FERRY_LOCATION_NAME_MAX, "option name",
                    &key, &p, err) < 0)
      return -1;
    if (strcmp (key, "conf") == 0) {
      slot = &r->conf;
      max = FERRY_LOCATION_PATH_MAX;
    } else if (strcmp (key, "id") == 0) {
      slot = &r->user;
      max = FERRY_LOCATION_NAME_MAX;
    } else {
      return ferry_err_set (err, 0,
                            "'%s': unknown option '%s' (known: conf=, id=)",
                            shown (name, sb), key);
    }
    if (*p != '=')
      return ferry_err_set (err, 0, "'%s': option '%s' needs a value ('%s=')",
                            shown (name, sb), key, key);
    if (*slot)
      return ferry_err_set (err, 0, "'%s': option '%s=' is given twice",
                            shown (name, sb), key);
    if (next_field (name, p + 1, ":", max, key, &value, &p, err) < 0)
      return -1;
    if (value[0] == '\0') {
      free (value);
      return ferry_err_set (err, 0, "'%s': option '%s=' has an empty value",
                            shown (name, sb), key);
    }
    *slot = value;
  }
  return 0;
}

/* POOL up to '/', IMAGE up to '@' or ':', then SNAP, then the options;
 * every field unescaped and bounded (see the head of this file). */
int
ferry_rbd_location_parse (const char *name, struct ferry_rbd_location *ret,
                          struct ferry_err *err)
{
  struct ferry_rbd_location r = {0};
  char sb[SHOWN_MAX + 4];
  const char *p;

  if (!ferry_location_is_rbd_name (name))
    return ferry_err_set (err, 0, "'%s': not an rbd: name", shown (name, sb));
  if (next_field (name, name + strlen (RBD_PREFIX),
                  "/@:", FERRY_LOCATION_NAME_MAX, "the pool name", &r.pool, &p,
                  err) < 0)
    goto fail;
  if (*p != '/' || r.pool[0] == '\0') {
    ferry_err_set (err, 0,
                   "'%s': expected rbd:POOL/IMAGE[@SNAP][:conf=PATH]"
                   "[:id=USER]",
                   shown (name, sb));
    goto fail;
  }
  if (next_field (name, p + 1, "/@:", FERRY_LOCATION_NAME_MAX, "the image name",
                  &r.image, &p, err) < 0)
    goto fail;
  if (*p == '/') {
    ferry_err_set (err, 0,
                   "'%s': rbd namespaces (POOL/NAMESPACE/IMAGE) are not "
                   "supported",
                   shown (name, sb));
    goto fail;
  }
  if (r.image[0] == '\0') {
    ferry_err_set (err, 0, "'%s': empty image name", shown (name, sb));
    goto fail;
  }
  if (*p == '@') {
    if (next_field (name, p + 1, ":", FERRY_LOCATION_NAME_MAX,
                    "the snapshot name", &r.snap, &p, err) < 0)
      goto fail;
    if (r.snap[0] == '\0') {
      ferry_err_set (err, 0, "'%s': empty snapshot name", shown (name, sb));
      goto fail;
    }
  }
  if (parse_options (name, p, &r, err) < 0)
    goto fail;
  *ret = r;
  return 0;

fail:
  ferry_rbd_location_clear (&r);
  return -1;
}

/* The command line's and the plan's entry point: rbd: names are parsed,
 * anything else is a file path taken as it is. */
int
ferry_location_parse (const char *name, struct ferry_location *ret,
                      struct ferry_err *err)
{
  struct ferry_location loc = {.kind = FERRY_LOCATION_RBD};

  if (!ferry_location_is_rbd_name (name))
    return ferry_location_set_file (ret, name, err);
  if (ferry_rbd_location_parse (name, &loc.rbd, err) < 0)
    return -1;
  *ret = loc;
  return 0;
}

/* Copy S (NULL or "" gives NULL unless REQUIRED) into *RET, at most MAX
 * bytes; WHAT names the field in errors. */
static int
copy_field (const char *s, bool required, size_t max, const char *what,
            char **ret, struct ferry_err *err)
{
  char sb[SHOWN_MAX + 4];

  *ret = NULL;
  if (s == NULL || s[0] == '\0') {
    if (required)
      return ferry_err_set (err, 0, "%s is empty", what);
    return 0;
  }
  if (strlen (s) > max)
    return ferry_err_set (err, ENAMETOOLONG, "%s '%s' is longer than %zu bytes",
                          what, shown (s, sb), max);
  *ret = strdup (s);
  if (*ret == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  return 0;
}

/* A file location owning a copy of PATH. */
int
ferry_location_set_file (struct ferry_location *ret, const char *path,
                         struct ferry_err *err)
{
  struct ferry_location loc = {.kind = FERRY_LOCATION_FILE};

  if (copy_field (path, true, FERRY_LOCATION_PATH_MAX, "the file name",
                  &loc.file.path, err) < 0)
    return -1;
  *ret = loc;
  return 0;
}

/* An RBD location owning copies of FIELDS' strings, checked the way the
 * parser checks them (non-empty pool/image, bounded lengths). */
int
ferry_location_set_rbd (struct ferry_location *ret,
                        const struct ferry_rbd_location *fields,
                        bool allow_no_image, struct ferry_err *err)
{
  struct ferry_location loc = {.kind = FERRY_LOCATION_RBD};
  struct ferry_rbd_location *r = &loc.rbd;

  if (copy_field (fields->pool, true, FERRY_LOCATION_NAME_MAX,
                  "the rbd pool name", &r->pool, err) < 0 ||
      copy_field (fields->image, !allow_no_image || fields->image,
                  FERRY_LOCATION_NAME_MAX, "the rbd image name", &r->image,
                  err) < 0 ||
      copy_field (fields->snap, false, FERRY_LOCATION_NAME_MAX,
                  "the rbd snapshot name", &r->snap, err) < 0 ||
      copy_field (fields->conf, false, FERRY_LOCATION_PATH_MAX,
                  "the ceph configuration path", &r->conf, err) < 0 ||
      copy_field (fields->user, false, FERRY_LOCATION_NAME_MAX,
                  "the ceph user name", &r->user, err) < 0)
    goto fail;
  if (r->snap && r->image == NULL) {
    ferry_err_set (err, 0, "an rbd snapshot needs an image name");
    goto fail;
  }
  *ret = loc;
  return 0;

fail:
  ferry_location_clear (&loc);
  return -1;
}

/* Deep copy through the constructors, so a copy is checked like an
 * original. */
int
ferry_location_copy (struct ferry_location *ret,
                     const struct ferry_location *src, struct ferry_err *err)
{
  switch (src->kind) {
  case FERRY_LOCATION_FILE:
    return ferry_location_set_file (ret, src->file.path, err);
  case FERRY_LOCATION_RBD:
    return ferry_location_set_rbd (ret, &src->rbd, true, err);
  case FERRY_LOCATION_LAST:
    break;
  }
  return ferry_err_set (err, EINVAL, "location of unknown kind %d",
                        (int) src->kind);
}

/* A growing output string for the formatter; OOM sticks. */
struct out {
  char *s;    /* NUL-terminated text so far, NULL after OOM */
  size_t len; /* bytes in s */
  size_t cap; /* bytes allocated */
};

/* Append N bytes of S. */
static void
out_add (struct out *o, const char *s, size_t n)
{
  char *p;

  if (o->s == NULL)
    return;
  if (o->len + n + 1 > o->cap) {
    o->cap = (o->len + n + 1) * 2;
    p = realloc (o->s, o->cap);
    if (p == NULL) {
      free (o->s);
      o->s = NULL;
      return;
    }
    o->s = p;
  }
  memcpy (o->s + o->len, s, n);
  o->len += n;
  o->s[o->len] = '\0';
}

/* Append S with a backslash before each character of ESC. */
static void
out_escaped (struct out *o, const char *s, const char *esc)
{
  for (; *s; s++) {
    if (strchr (esc, *s))
      out_add (o, "\\", 1);
    out_add (o, s, 1);
  }
}

/* rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER] with every special
 * character escaped: parsing it gives R back. */
char *
ferry_rbd_location_format (const struct ferry_rbd_location *r)
{
  struct out o = {.s = calloc (1, 64), .cap = 64};

  out_add (&o, RBD_PREFIX, strlen (RBD_PREFIX));
  out_escaped (&o, r->pool ? r->pool : "", ESC_NAME);
  out_add (&o, "/", 1);
  out_escaped (&o, r->image ? r->image : "", ESC_NAME);
  if (r->snap) {
    out_add (&o, "@", 1);
    out_escaped (&o, r->snap, ESC_NAME);
  }
  if (r->conf) {
    out_add (&o, ":conf=", 6);
    out_escaped (&o, r->conf, ESC_VALUE);
  }
  if (r->user) {
    out_add (&o, ":id=", 4);
    out_escaped (&o, r->user, ESC_VALUE);
  }
  return o.s;
}

/* The display form of LOC (see location.h). */
char *
ferry_location_format (const struct ferry_location *loc)
{
  char *s;

  switch (loc->kind) {
  case FERRY_LOCATION_FILE:
    if (loc->file.path == NULL)
      return strdup ("");
    if (ferry_location_is_rbd_name (loc->file.path)) {
      if (asprintf (&s, "./%s", loc->file.path) < 0)
        return NULL;
      return s;
    }
    return strdup (loc->file.path);
  case FERRY_LOCATION_RBD:
    return ferry_rbd_location_format (&loc->rbd);
  case FERRY_LOCATION_LAST:
    break;
  }
  return strdup ("?");
}

/* Both NULL, or equal strings. */
static bool
same (const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp (a, b) == 0;
}

/* Field-by-field equality of two locations. */
bool
ferry_location_equal (const struct ferry_location *a,
                      const struct ferry_location *b)
{
  if (a->kind != b->kind)
    return false;
  if (a->kind == FERRY_LOCATION_FILE)
    return same (a->file.path, b->file.path);
  return same (a->rbd.pool, b->rbd.pool) && same (a->rbd.image, b->rbd.image) &&
         same (a->rbd.snap, b->rbd.snap) && same (a->rbd.conf, b->rbd.conf) &&
         same (a->rbd.user, b->rbd.user);
}

/* Free R's strings and zero it. */
void
ferry_rbd_location_clear (struct ferry_rbd_location *r)
{
  free (r->conf);
  free (r->user);
  free (r->pool);
  free (r->image);
  free (r->snap);
  memset (r, 0, sizeof *r);
}

/* Free LOC's strings (by kind) and zero it. */
void
ferry_location_clear (struct ferry_location *loc)
{
  if (loc == NULL)
    return;
  if (loc->kind == FERRY_LOCATION_FILE)
    free (loc->file.path);
  else if (loc->kind == FERRY_LOCATION_RBD)
    ferry_rbd_location_clear (&loc->rbd);
  memset (loc, 0, sizeof *loc);
}
