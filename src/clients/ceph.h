/* Connecting to a Ceph cluster (librados) for RBD sources and targets. */
#ifndef FERRY_CLIENTS_CEPH_H
#define FERRY_CLIENTS_CEPH_H

#include <rados/librados.h>
#include <stdbool.h>

#include "util/err.h"
#include "util/location.h"

/* A connection and an I/O context on one pool. */
struct ferry_ceph {
  rados_t cluster;  /* connected cluster handle */
  rados_ioctx_t io; /* I/O context on the pool */
};

/* Connect as client.USER (LOC->user, "admin" if NULL) using LOC->conf (or
 * librados' default search: $CEPH_CONF, /etc/ceph/ceph.conf, ...) and open
 * LOC->pool; LOC->image and LOC->snap are not used here.  WHAT is the
 * user's name for the image or object (for messages). */
int ferry_ceph_connect (const struct ferry_rbd_location *loc, const char *what,
                        struct ferry_ceph *ret, struct ferry_err *err);
/* Close the pool and the connection (a zeroed struct is fine). */
void ferry_ceph_disconnect (struct ferry_ceph *c);

#endif
