/* Confinement of the files an image names.
 *
 * A disk image is written by whoever owned the source VM: every file it
 * names (VMDK extents and parents, VHD/VHDX parent locators, qcow2 backing
 * files) is hostile.  Such a name is opened only if it resolves, after every
 * symlink is followed, to a regular file inside one of the allowed
 * directories (the source's directory, plus those the operator allowed
 * explicitly).  Protocol names ("rbd:", "nbd:", "json:", ...) are refused.
 * The image the operator names (CLI argument, plan disk file) is the
 * operator's choice and is not confined. */
#ifndef FERRY_CONFINE_H
#define FERRY_CONFINE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "util/location.h"

struct ferry_confine {
  char **dirs; /* allowed directories: absolute, symlinks resolved */
  size_t n;    /* entries in dirs */
};

/* Allow DIR (resolved with realpath; it must be an existing directory).
 * WHAT names the setting in errors ("--allow-dir", "allow_dirs[0]"). */
int ferry_confine_add (struct ferry_confine *c, const char *dir,
                       const char *what, struct ferry_err *err);
/* Allow the directory IMAGE is in (the default for `convert`/`inspect`). */
int ferry_confine_add_image_dir (struct ferry_confine *c, const char *image,
                                 struct ferry_err *err);
/* The confinement of `ferry convert`/`ferry inspect`: IMAGE's directory
 * (none for an RBD image) and the N directories of ALLOW (--allow-dir). */
int ferry_confine_for_image (struct ferry_confine *c,
                             const struct ferry_location *image,
                             char *const *allow, size_t n,
                             struct ferry_err *err);
/* Copy SRC into *DST (an empty struct). */
int ferry_confine_copy (struct ferry_confine *dst,
                        const struct ferry_confine *src, struct ferry_err *err);
/* Free what C holds (C itself is the caller's); an empty C is fine. */
void ferry_confine_free (struct ferry_confine *c);

/* A struct ferry_confine freed at the end of the scope. */
#define CLEANUP_CONFINE __attribute__ ((cleanup (ferry_confine_free)))

/* Open NAME, written in IMAGE's field FIELD (e.g. "backing file"), read-only
 * (FLAGS are added to O_RDONLY): relative names resolve against IMAGE's
 * directory.  Refused, with an error naming IMAGE, FIELD and NAME: protocol
 * names, names that resolve outside every allowed directory, anything but
 * a regular file (checked before opening, so a FIFO never blocks, and again
 * on the opened descriptor, which must be the file that was checked).  C ==
 * NULL allows nothing.  On success *RET_FD is the descriptor and, when
 * RET_PATH is not NULL, *RET_PATH the resolved path (caller frees). */
int ferry_confine_open (const struct ferry_confine *c, const char *image,
                        const char *field, const char *name, int flags,
                        char **ret_path, int *ret_fd, struct ferry_err *err);

/* Would ferry_confine_open accept NAME?  (No error, nothing opened: used to
 * choose among candidate names.) */
bool ferry_confine_allows (const struct ferry_confine *c, const char *image,
                           const char *name);

/* True if NAME looks like a protocol name ("rbd:...", "nbd:...", "json:...":
 * letters, digits, '+', '.', '-' and then ':' before any '/'). */
bool ferry_confine_is_protocol (const char *name);

#endif
