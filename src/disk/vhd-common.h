/* Helpers shared by the VHD and VHDX readers: UTF-16 strings, GUIDs, and the
 * choice of a parent file name from a differencing disk's locators. */
#ifndef FERRY_VHD_COMMON_H
#define FERRY_VHD_COMMON_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "disk/confine.h"
#include "util/err.h"

/* Convert LEN bytes of UTF-16 (big- or little-endian) to a NUL-terminated
 * UTF-8 string, stopping at the first NUL character.  Unpaired surrogates
 * become U+FFFD.  Returns NULL only when out of memory. */
char *ferry_vhd_utf16_to_utf8 (const uint8_t *buf, size_t len, bool big_endian);

/* Format a 16-byte GUID stored the Microsoft way (first three fields
 * little-endian) as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into OUT[37]. */
void ferry_vhd_guid_string (const uint8_t *guid, char *out);

/* Format 16 bytes as a UUID in byte order (VHD stores UUIDs big-endian). */
void ferry_vhd_uuid_string (const uint8_t *uuid, char *out);

/* "KEY 'VALUE', KEY 'VALUE'" over the N entries of VALS that are not NULL
 * or empty (KEYS[i] names VALS[i]; control characters and quotes in a value
 * become '?'): the parent names a differencing disk records, for messages.
 * NULL when none (or out of memory). */
char *ferry_vhd_names_text (const char *const *keys, const char *const *vals,
                            size_t n);

/* Choose the parent name to put in a delta's parent_hint from the names the
 * image records, best first (NULL entries are skipped; Windows paths with
 * backslashes and drive letters are accepted).  Relative names are tried
 * relative to CHILD's directory, absolute Windows names by their base name,
 * so that a chain copied together into one directory still opens.  The first
 * candidate naming a file that CONFINE allows wins (nothing outside it is
 * even looked at); when none does, the first usable candidate is returned
 * (the chain layer then reports why it cannot be opened).  Returns NULL
 * with ERR set when no candidate is usable. */
char *ferry_vhd_pick_parent (const struct ferry_confine *confine,
                             const char *child, const char *const *candidates,
                             size_t n, struct ferry_err *err);

/* Little-endian fields of VHDX structures (memcpy: they may be unaligned). */
static inline uint16_t
ferry_vhd_le16 (const uint8_t *p)
{
  uint16_t v;
  memcpy (&v, p, 2);
  return le16toh (v);
}

static inline uint32_t
ferry_vhd_le32 (const uint8_t *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return le32toh (v);
}

static inline uint64_t
ferry_vhd_le64 (const uint8_t *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return le64toh (v);
}

#endif
