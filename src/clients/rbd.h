/* RBD image operations besides moving data (src/disk/target-rbd.c writes,
 * src/disk reads): does an image exist and what is its id, its metadata,
 * create, snapshot and protect, remove, and the cluster's fsid.  Each call
 * connects with the location's conf and user and disconnects again: these
 * are a few calls per disk, not a data path. */
#ifndef FERRY_CLIENTS_RBD_H
#define FERRY_CLIENTS_RBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/location.h"

struct ferry_rbd_info {
  bool exists;   /* false: no such image (the rest is zero) */
  char id[64];   /* the image's id: stable across renames */
  uint64_t size; /* bytes */
};

/* Look LOC's image up (LOC->snap ignored).  A missing image is not an
 * error: ret->exists is false. */
int ferry_rbd_stat (const struct ferry_rbd_location *loc,
                    struct ferry_rbd_info *ret, struct ferry_err *err);
/* Image metadata KEY of LOC: 1 and *RET (caller frees) when set, 0 when
 * not set (*RET NULL), -1 on error (also when the image is missing). */
int ferry_rbd_meta_get (const struct ferry_rbd_location *loc, const char *key,
                        char **ret, struct ferry_err *err);
int ferry_rbd_meta_set (const struct ferry_rbd_location *loc, const char *key,
                        const char *value, struct ferry_err *err);
/* Create LOC's image of SIZE bytes, tagged ferry.created-by=ferry; an
 * existing image is an error (EEXIST). */
int ferry_rbd_create (const struct ferry_rbd_location *loc, uint64_t size,
                      struct ferry_err *err);
/* Make snapshot SNAP of LOC's image exist and be protected (each part
 * skipped when already so). */
int ferry_rbd_snap_protect (const struct ferry_rbd_location *loc,
                            const char *snap, struct ferry_err *err);
/* Remove LOC's image, unprotecting and removing its snapshots first; only
 * for images tagged ferry.created-by=ferry (others: EPERM).  A missing
 * image is fine. */
int ferry_rbd_remove (const struct ferry_rbd_location *loc,
                      struct ferry_err *err);
/* The cluster's fsid ("uuid") into BUF (at least 37 bytes). */
int ferry_ceph_fsid (const struct ferry_rbd_location *loc, char *buf,
                     size_t len, struct ferry_err *err);

#endif
