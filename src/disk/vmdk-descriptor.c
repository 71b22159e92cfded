/* VMDK text descriptor: "# Disk DescriptorFile", key=value lines and
 * extent lines.  Also decodes the binary sparse header. */
#include "disk/vmdk.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"

#define DESC_MAGIC "# Disk DescriptorFile"

static const char *const extent_types[] = {
    [FERRY_VMDK_EXTENT_FLAT] = "FLAT",
    [FERRY_VMDK_EXTENT_SPARSE] = "SPARSE",
    [FERRY_VMDK_EXTENT_ZERO] = "ZERO",
    [FERRY_VMDK_EXTENT_VMFSSPARSE] = "VMFSSPARSE",
    [FERRY_VMDK_EXTENT_SESPARSE] = "SESPARSE",
};
_Static_assert(FERRY_ARRAY_SIZE (extent_types) == FERRY_VMDK_EXTENT_LAST,
               "extent_types covers every extent type");

/* The descriptor keyword of extent type TYPE (static string), or "?" for a
 * value out of range, so a corrupt value can still be printed. */
const char *
ferry_vmdk_extent_type_name (enum ferry_vmdk_extent_type type)
{
  return type < FERRY_VMDK_EXTENT_LAST ? extent_types[type] : "?";
}

/* Read a little-endian field out of a header buffer. */
static uint64_t
get64 (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, 8);
  return le64toh (v);
}

/* Read a little-endian 32-bit field out of a header buffer; memcpy because
 * the field may be unaligned. */
static uint32_t
get32 (const uint8_t *p)
{
  uint32_t v;

  memcpy (&v, p, 4);
  return le32toh (v);
}

/* Decode the sparse extent header (KDMV) in BUF into RET
 * field by field, from little endian. No checking here: the caller validates
 * the fields against the file. */
void
ferry_vmdk_decode_header (const uint8_t *buf, struct ferry_vmdk_header *ret)
{
  ret->magic = get32 (buf + 0);
  ret->version = get32 (buf + 4);
  ret->flags = get32 (buf + 8);
  ret->capacity = get64 (buf + 12);
  ret->grain_size = get64 (buf + 20);
  ret->desc_offset = get64 (buf + 28);
  ret->desc_size = get64 (buf + 36);
  ret->gtes_per_gt = get32 (buf + 44);
  ret->rgd_offset = get64 (buf + 48);
  ret->gd_offset = get64 (buf + 56);
  ret->overhead = get64 (buf + 64);
  ret->unclean = buf[72];
  memcpy (ret->nl, buf + 73, 4);
  ret->compress = (uint16_t) (buf[77] | (buf[78] << 8));
}

/* A text descriptor: text that starts with the descriptor magic or has a
 * createType line, up to the first NUL if there is one.  After that NUL
 * only NULs and text may follow: qemu pads descriptors with NULs, and when
 * it rewrites the CID with fewer digits (it prints "%x", so 00d4aa89 is
 * "d4aa89") the old text's last bytes stay behind the new NUL.  Binary
 * bytes there mean something else that merely starts with text. */
bool
ferry_vmdk_is_descriptor (const uint8_t *head, size_t len)
{
  const uint8_t *nul = memchr (head, 0, len);
  size_t i = 0;

  if (nul) {
    const uint8_t *p;
    for (p = nul; p < head + len; p++)
      if (*p != 0 && *p != '\t' && *p != '\n' && *p != '\r' &&
          (*p < 0x20 || *p > 0x7e))
        return false;
    len = (size_t) (nul - head);
  }
  if (len < 12)
    return false;
  while (i < len && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' ||
                     head[i] == '\n'))
    i++;
  if (len - i >= strlen (DESC_MAGIC) &&
      strncasecmp ((const char *) head + i, DESC_MAGIC, strlen (DESC_MAGIC)) ==
          0)
    return true;
  if (memcmp (head, "createType", 10) == 0)
    return true;
  return memmem (head, len, "\ncreateType", 11) != NULL &&
         memmem (head, len, "\nRW ", 4) != NULL;
}

/* Free what a parsed descriptor owns (extent file names, the extent array,
 * the parent hint) and leave D empty, so freeing twice is harmless. The
 * struct itself is the caller's; NULL is allowed. */
void
ferry_vmdk_descriptor_free (struct ferry_vmdk_descriptor *d)
{
  size_t i;

  if (d == NULL)
    return;
  for (i = 0; i < d->nr_extents; i++)
    free (d->extents[i].file);
  free (d->extents);
  free (d->parent_hint);
  d->extents = NULL;
  d->parent_hint = NULL;
  d->nr_extents = 0;
}

/* Strip surrounding blanks and one pair of double quotes, in place. */
static char *
trim_value (char *s)
{
  size_t n;

  while (*s == ' ' || *s == '\t')
    s++;
  n = strlen (s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
    s[n - 1] = '\0';
    s++;
  }
  return s;
}

/* Parse a CID: up to 8 hex digits. */
static int
parse_cid (const char *path, unsigned line, const char *key, const char *s,
           uint32_t *ret, struct ferry_err *err)
{
  unsigned long long v = 0;
  size_t i, n = strlen (s);

  if (n == 0 || n > 8)
    goto bad;
  for (i = 0; i < n; i++) {
    if (!isxdigit ((unsigned char) s[i]))
      goto bad;
    v = v * 16 + (unsigned) (isdigit ((unsigned char) s[i])
                                 ? s[i] - '0'
                                 : tolower ((unsigned char) s[i]) - 'a' + 10);
  }
  *ret = (uint32_t) v;
  return 0;

bad:
  return ferry_err_set (err, 0,
                        "'%s': descriptor line %u: %s: expected 8 hex digits, "
                        "got '%.40s'",
                        path, line, key, s);
}

/* Parse an unsigned decimal number that ends the token at *P (advances P). */
static int
parse_u64 (char **p, uint64_t *ret)
{
  uint64_t v = 0;
  char *s = *p;

  if (!isdigit ((unsigned char) *s))
    return -1;
  while (isdigit ((unsigned char) *s)) {
    if (v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t) (*s - '0');
    s++;
  }
  if (*s != '\0' && *s != ' ' && *s != '\t')
    return -1;
  *p = s;
  *ret = v;
  return 0;
}

/* Return S advanced past spaces and tabs (not newlines: the text is already
 * split into lines). */
static char *
skip_blanks (char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  return s;
}

/* Parse one extent line (after its access word) into *X. */
static int
parse_extent (const char *path, unsigned line, char *s,
              struct ferry_vmdk_desc_extent *x, struct ferry_err *err)
{
  char *type, *name, *end;
  size_t i, tlen;

  x->line = line;
  s = skip_blanks (s);
  if (parse_u64 (&s, &x->sectors) < 0 || x->sectors == 0 ||
      x->sectors > FERRY_VMDK_MAX_SECTORS)
    return ferry_err_set (err, 0,
                          "'%s': descriptor line %u: bad extent size in "
                          "sectors",
                          path, line);
  s = skip_blanks (s);
  type = s;
  while (*s && *s != ' ' && *s != '\t')
    s++;
  tlen = (size_t) (s - type);
  for (i = 0; i < FERRY_VMDK_EXTENT_LAST; i++)
    if (tlen == strlen (extent_types[i]) &&
        strncmp (type, extent_types[i], tlen) == 0)
      break;
  if (i == FERRY_VMDK_EXTENT_LAST) {
    if ((tlen == 4 && strncmp (type, "VMFS", 4) == 0) ||
        (tlen == 7 && strncmp (type, "VMFSRAW", 7) == 0) ||
        (tlen == 7 && strncmp (type, "VMFSRDM", 7) == 0))
      i = FERRY_VMDK_EXTENT_FLAT;
    else
      return ferry_err_set (err, 0,
                            "'%s': descriptor line %u: unknown extent type "
                            "'%.*s'",
                            path, line, (int) (tlen > 20 ? 20 : tlen), type);
  }
  x->type = (enum ferry_vmdk_extent_type) i;
  s = skip_blanks (s);
  if (x->type == FERRY_VMDK_EXTENT_ZERO) {
    if (*s != '\0')
      return ferry_err_set (err, 0,
                            "'%s': descriptor line %u: ZERO extent with a "
                            "file name",
                            path, line);
    return 0;
  }
  if (*s != '"')
    return ferry_err_set (err, 0,
                          "'%s': descriptor line %u: extent file name must be "
                          "quoted",
                          path, line);
  name = s + 1;
  end = strchr (name, '"');
  if (end == NULL || end == name)
    return ferry_err_set (
        err, 0, "'%s': descriptor line %u: bad extent file name", path, line);
  *end = '\0';
  s = skip_blanks (end + 1);
  if (*s != '\0') {
    if (x->type != FERRY_VMDK_EXTENT_FLAT || parse_u64 (&s, &x->offset) < 0 ||
        *skip_blanks (s) != '\0' || x->offset > FERRY_VMDK_MAX_SECTORS)
      return ferry_err_set (
          err, 0, "'%s': descriptor line %u: bad extent offset", path, line);
  }
  x->file = strdup (name);
  if (x->file == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  return 0;
}

/* Parse the text descriptor TEXT (LEN bytes, from PATH; it ends at the first
 * NUL, as an embedded descriptor is NUL-padded) into RET: extent lines
 * (RW/RDONLY/NOACCESS), CID, parentCID, createType and parentFileNameHint;
 * other keys are ignored. Bounded against hostile input: the text size, the
 * number of extents and their total sectors are capped. Extent file names
 * are stored as written; resolving and confining them is the caller's job.
 * Return 0 with RET owning its strings (free with
 * ferry_vmdk_descriptor_free), or -1 with ERR naming the line, and RET
 * untouched. */
int
ferry_vmdk_parse_descriptor (const char *path, const char *text, size_t len,
                             struct ferry_vmdk_descriptor *ret,
                             struct ferry_err *err)
{
  struct ferry_vmdk_descriptor d = {0};
  CLEANUP_FREE char *buf = NULL;
  char *line, *next, *eq, *key, *val;
  unsigned lineno = 0;
  size_t cap = 0;
  uint64_t total = 0;
  const char *nul;

  nul = memchr (text, 0, len);
  if (nul)
    len = (size_t) (nul - text);
  if (len > FERRY_VMDK_MAX_DESCRIPTOR)
    return ferry_err_set (err, 0, "'%s': descriptor larger than %u bytes", path,
                          FERRY_VMDK_MAX_DESCRIPTOR);
  buf = malloc (len + 1);
  if (buf == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  memcpy (buf, text, len);
  buf[len] = '\0';

  for (line = buf; line; line = next) {
    lineno++;
    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    line[strcspn (line, "\r")] = '\0';
    line = skip_blanks (line);
    if (*line == '\0' || *line == '#')
      continue;
    if (strncmp (line, "RW ", 3) == 0 || strncmp (line, "RDONLY ", 7) == 0 ||
        strncmp (line, "NOACCESS ", 9) == 0 || strncmp (line, "RW\t", 3) == 0 ||
        strncmp (line, "RDONLY\t", 7) == 0) {
      struct ferry_vmdk_desc_extent *x;

      if (d.nr_extents >= FERRY_VMDK_MAX_EXTENTS) {
        ferry_err_set (err, 0, "'%s': more than %d extents", path,
                       FERRY_VMDK_MAX_EXTENTS);
        goto fail;
      }
      if (d.nr_extents == cap) {
        size_t ncap = cap ? cap * 2 : 8;
        x = realloc (d.extents, ncap * sizeof *x);
        if (x == NULL) {
          ferry_err_set (err, errno, "cannot allocate memory");
          goto fail;
        }
        d.extents = x;
        cap = ncap;
      }
      x = &d.extents[d.nr_extents];
      memset (x, 0, sizeof *x);
      d.nr_extents++;
      if (parse_extent (path, lineno, line + strcspn (line, " \t"), x, err) < 0)
        goto fail;
      if (x->sectors > FERRY_VMDK_MAX_SECTORS - total) {
        ferry_err_set (err, 0,
                       "'%s': descriptor line %u: extents add up to more "
                       "than %llu sectors",
                       path, lineno,
                       (unsigned long long) FERRY_VMDK_MAX_SECTORS);
        goto fail;
      }
      total += x->sectors;
      continue;
    }
    eq = strchr (line, '=');
    if (eq == NULL) {
      ferry_err_set (err, 0,
                     "'%s': descriptor line %u: not a key=value or extent "
                     "line: '%.40s'",
                     path, lineno, line);
      goto fail;
    }
    *eq = '\0';
    key = trim_value (line);
    val = trim_value (eq + 1);
    if (strcmp (key, "CID") == 0) {
      if (parse_cid (path, lineno, key, val, &d.cid, err) < 0)
        goto fail;
      d.has_cid = true;
    } else if (strcmp (key, "parentCID") == 0) {
      if (parse_cid (path, lineno, key, val, &d.parent_cid, err) < 0)
        goto fail;
      d.has_parent_cid = true;
    } else if (strcmp (key, "createType") == 0) {
      if (*val == '\0' || strlen (val) >= sizeof d.create_type ||
          val[strspn (val, "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")] != '\0') {
        ferry_err_set (err, 0, "'%s': descriptor line %u: bad createType", path,
                       lineno);
        goto fail;
      }
      snprintf (d.create_type, sizeof d.create_type, "%s", val);
    } else if (strcmp (key, "parentFileNameHint") == 0) {
      if (*val == '\0' || d.parent_hint) {
        ferry_err_set (err, 0,
                       "'%s': descriptor line %u: bad parentFileNameHint", path,
                       lineno);
        goto fail;
      }
      d.parent_hint = strdup (val);
      if (d.parent_hint == NULL) {
        ferry_err_set (err, errno, "cannot allocate memory");
        goto fail;
      }
    }
    /* version, encoding, ddb.* and others: not needed to read data */
  }
  *ret = d;
  return 0;

fail:
  ferry_vmdk_descriptor_free (&d);
  return -1;
}
