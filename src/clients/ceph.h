/* Connecting to a Ceph cluster (librados) for RBD sources and targets. */
#ifndef FERRY_CLIENTS_CEPH_H
#define FERRY_CLIENTS_CEPH_H

#include <rados/librados.h>
#include <stdbool.h>

#include "disk/rbdname.h"
#include "util/err.h"

/* A connection and an I/O context on one pool. */
struct ferry_ceph {
  rados_t cluster;  /* connected cluster handle */
  rados_ioctx_t io; /* I/O context on the pool */
  bool rbd_copies_writes; /* librbd copies aio write data at submission */
};

/* Connect as client.ID (NAME->id, "admin" if empty) using NAME->conf (or
 * librados' default search: $CEPH_CONF, /etc/ceph/ceph.conf, ...) and open
 * NAME->pool.  WHAT is the user's name for the image (for messages). */
int ferry_ceph_connect (const struct ferry_rbd_name *name, const char *what,
                        struct ferry_ceph *ret, struct ferry_err *err);
/* Close the pool and the connection (a zeroed struct is fine). */
void ferry_ceph_disconnect (struct ferry_ceph *c);

#endif
