/* Connecting to a Ceph cluster (librados). */
#include "clients/ceph.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/dl.h"

/* Connect and open the pool; a cluster that does not answer fails after
 * client_mount_timeout (lowered to 30 s from librados' 300 s unless the
 * configuration sets it). */
int
ferry_ceph_connect (const struct ferry_rbd_location *loc, const char *what,
                    struct ferry_ceph *ret, struct ferry_err *err)
{
  struct ferry_ceph c = {0};
  CLEANUP_FREE char *user = NULL;
  int r;

  /* librbd needs librados: load both here, where every Ceph use starts */
  if (ferry_dl_load (&ferry_dl_rados, err) < 0 ||
      ferry_dl_load (&ferry_dl_rbd, err) < 0)
    return -1;
  if (asprintf (&user, "client.%s", loc->user ? loc->user : "admin") < 0) {
    user = NULL;
    return ferry_err_set (err, errno, "cannot allocate memory");
  }
  r = rados_create2 (&c.cluster, "ceph", user, 0);
  if (r < 0)
    return ferry_err_set (err, -r, "'%s': cannot create a ceph client", what);
  rados_conf_set (c.cluster, "client_mount_timeout", "30");
  r = rados_conf_read_file (c.cluster, loc->conf);
  if (r < 0) {
    ferry_err_set (err, -r, "'%s': cannot read ceph configuration '%s'", what,
                   loc->conf ? loc->conf : "(default)");
    goto fail;
  }
  r = rados_conf_parse_env (c.cluster, NULL);
  if (r < 0) {
    ferry_err_set (err, -r, "'%s': bad CEPH_ARGS", what);
    goto fail;
  }
  /* ferry writes large blocks once and never reads them back: librbd's
   * write-back cache would only copy them and hold memory */
  rados_conf_set (c.cluster, "rbd_cache", "false");
  /* nor copy aio write data: the rbd target copies it into buffers it
   * reuses (an older librbd without the option never copies) */
  rados_conf_set (c.cluster, "rbd_disable_zero_copy_writes", "false");
  r = rados_connect (c.cluster);
  if (r < 0) {
    ferry_err_set (err, -r, "'%s': cannot connect to the ceph cluster as '%s'",
                   what, user);
    goto fail;
  }
  r = rados_ioctx_create (c.cluster, loc->pool, &c.io);
  if (r < 0) {
    ferry_err_set (err, -r, "'%s': cannot open pool '%s'", what, loc->pool);
    goto fail;
  }
  *ret = c;
  return 0;

fail:
  ferry_ceph_disconnect (&c);
  return -1;
}

/* Close the pool context and the cluster connection, whichever exist;
 * safe on a half-connected or zeroed C. */
void
ferry_ceph_disconnect (struct ferry_ceph *c)
{
  if (c->io)
    rados_ioctx_destroy (c->io);
  if (c->cluster)
    rados_shutdown (c->cluster);
  memset (c, 0, sizeof *c);
}
