/* Typed locations: where a disk (or a RADOS object) lives, as a struct that
 * travels between layers (plan validation, the disk readers, the targets,
 * the Ceph client).  Strings are parsed only at the edges: the command line
 * (qemu's `rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER]` syntax, or a path)
 * and the plan (a source's fields).  This header depends on nothing but
 * util/err.h, so both src/disk/ and src/clients/ may include it.
 *
 * Every string field is malloc'd and owned by the struct; lengths are
 * bounded (FERRY_LOCATION_NAME_MAX, FERRY_LOCATION_PATH_MAX) and an
 * over-long field is an error, never truncated. */
#ifndef FERRY_LOCATION_H
#define FERRY_LOCATION_H

#include <stdbool.h>

#include "util/err.h"

#define FERRY_LOCATION_NAME_MAX 1024 /* bytes of a pool/image/snap/user */
#define FERRY_LOCATION_PATH_MAX 4095 /* bytes of a file or conf path */

enum ferry_location_kind {
  FERRY_LOCATION_FILE, /* a file or block device on this host */
  FERRY_LOCATION_RBD,  /* an RBD image (or, image NULL, a Ceph pool) */
  FERRY_LOCATION_LAST
};

/* A file on the migration host. */
struct ferry_file_location {
  char *path; /* as given or resolved; never empty */
};

/* An RBD image on a Ceph cluster. */
struct ferry_rbd_location {
  char *conf;  /* ceph.conf path, NULL = librados' default search */
  char *user;  /* cephx user without "client.", NULL = "admin" */
  char *pool;  /* pool name, never empty */
  char *image; /* image name, NULL only for a pool (RADOS objects) */
  char *snap;  /* snapshot name, NULL = the image itself */
};

/* A location of either kind. */
struct ferry_location {
  enum ferry_location_kind kind; /* which member is valid */
  union {
    struct ferry_file_location file; /* FERRY_LOCATION_FILE */
    struct ferry_rbd_location rbd;   /* FERRY_LOCATION_RBD */
  };
};

/* "file" or "rbd" (NULL for a value out of range). */
const char *ferry_location_kind_name (enum ferry_location_kind kind);

/* True if NAME is written in the rbd: syntax (starts with "rbd:"). */
bool ferry_location_is_rbd_name (const char *name);

/* Parse a name given by the user: rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER]
 * (a backslash escapes the next character, as in qemu: `\:` `\@` `\/` `\\`)
 * or else a file path.  *RET is written only on success and must be cleared
 * with ferry_location_clear. */
int ferry_location_parse (const char *name, struct ferry_location *ret,
                          struct ferry_err *err);
/* The rbd: part of ferry_location_parse (NAME must be an rbd: name). */
int ferry_rbd_location_parse (const char *name, struct ferry_rbd_location *ret,
                              struct ferry_err *err);

/* Build a file location from PATH (copied; empty or over-long is an
 * error). */
int ferry_location_set_file (struct ferry_location *ret, const char *path,
                             struct ferry_err *err);
/* Build an RBD location from the fields of FIELDS (copied: the caller keeps
 * its strings; NULL or "" conf/user/snap mean "not set").  Pool and image
 * must be non-empty (image may be NULL when ALLOW_NO_IMAGE: a pool for RADOS
 * objects); over-long fields are errors. */
int ferry_location_set_rbd (struct ferry_location *ret,
                            const struct ferry_rbd_location *fields,
                            bool allow_no_image, struct ferry_err *err);
/* Deep copy of SRC into *RET. */
int ferry_location_copy (struct ferry_location *ret,
                         const struct ferry_location *src,
                         struct ferry_err *err);

/* The location as a user would write it (rbd: names escaped so that
 * ferry_location_parse gives the same location back; a file path that
 * looks like an rbd: name gets "./" in front).  For messages and display
 * only: layers pass the struct, never this string.  Returns a malloc'd
 * string, or NULL when out of memory. */
char *ferry_location_format (const struct ferry_location *loc);
char *ferry_rbd_location_format (const struct ferry_rbd_location *loc);

/* True if A and B name the same thing (field by field). */
bool ferry_location_equal (const struct ferry_location *a,
                           const struct ferry_location *b);

/* Free the fields (a zeroed or half-built location is fine); the struct is
 * zeroed afterwards. */
void ferry_location_clear (struct ferry_location *loc);
void ferry_rbd_location_clear (struct ferry_rbd_location *loc);
/* A zero-initialised location cleared when it goes out of scope. */
#define CLEANUP_LOCATION __attribute__ ((cleanup (ferry_location_clear)))

#endif
