/* librados.so.2 loaded on first use: stubs for the functions ferry calls
 * (see util/dl.h).  ferry_ceph_connect () loads it with a clear error;
 * a stub without the library returns -ELIBACC. */
#include <errno.h>
#include <rados/librados.h>

#include "util/dl.h"

struct ferry_dl ferry_dl_rados = FERRY_DL_INIT ("librados.so.2");

FERRY_DL_FN (ferry_dl_rados, int, rados_cluster_fsid, -ELIBACC,
             (rados_t cluster, char *buf, size_t len), (cluster, buf, len))
FERRY_DL_FN (ferry_dl_rados, int, rados_conf_parse_env, -ELIBACC,
             (rados_t cluster, const char *var), (cluster, var))
FERRY_DL_FN (ferry_dl_rados, int, rados_conf_read_file, -ELIBACC,
             (rados_t cluster, const char *path), (cluster, path))
FERRY_DL_FN (ferry_dl_rados, int, rados_conf_set, -ELIBACC,
             (rados_t cluster, const char *option, const char *value),
             (cluster, option, value))
FERRY_DL_FN (ferry_dl_rados, int, rados_connect, -ELIBACC, (rados_t cluster),
             (cluster))
FERRY_DL_FN (ferry_dl_rados, int, rados_create2, -ELIBACC,
             (rados_t * pcluster, const char *const clustername,
              const char *const name, uint64_t flags),
             (pcluster, clustername, name, flags))
FERRY_DL_FN (ferry_dl_rados, int, rados_ioctx_create, -ELIBACC,
             (rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx),
             (cluster, pool_name, ioctx))
FERRY_DL_VOID (ferry_dl_rados, rados_ioctx_destroy, (rados_ioctx_t io), (io))
FERRY_DL_VOID (ferry_dl_rados, rados_shutdown, (rados_t cluster), (cluster))
/* state/rados.c: journal objects, omap, locks */
FERRY_DL_FN (ferry_dl_rados, int, rados_append, -ELIBACC,
             (rados_ioctx_t io, const char *oid, const char *buf, size_t len),
             (io, oid, buf, len))
FERRY_DL_FN (ferry_dl_rados, int, rados_read, -ELIBACC,
             (rados_ioctx_t io, const char *oid, char *buf, size_t len,
              uint64_t off),
             (io, oid, buf, len, off))
FERRY_DL_FN (ferry_dl_rados, int, rados_remove, -ELIBACC,
             (rados_ioctx_t io, const char *oid), (io, oid))
FERRY_DL_FN (ferry_dl_rados, int, rados_stat, -ELIBACC,
             (rados_ioctx_t io, const char *o, uint64_t *psize, time_t *pmtime),
             (io, o, psize, pmtime))
FERRY_DL_FN (ferry_dl_rados, rados_write_op_t, rados_create_write_op, NULL,
             (void), ())
FERRY_DL_VOID (ferry_dl_rados, rados_release_write_op,
               (rados_write_op_t write_op), (write_op))
FERRY_DL_VOID (ferry_dl_rados, rados_write_op_omap_set,
               (rados_write_op_t write_op, char const *const *keys,
                char const *const *vals, const size_t *lens, size_t num),
               (write_op, keys, vals, lens, num))
FERRY_DL_FN (ferry_dl_rados, int, rados_write_op_operate, -ELIBACC,
             (rados_write_op_t write_op, rados_ioctx_t io, const char *oid,
              time_t *mtime, int flags),
             (write_op, io, oid, mtime, flags))
FERRY_DL_FN (ferry_dl_rados, rados_read_op_t, rados_create_read_op, NULL,
             (void), ())
FERRY_DL_VOID (ferry_dl_rados, rados_release_read_op, (rados_read_op_t read_op),
               (read_op))
FERRY_DL_VOID (ferry_dl_rados, rados_read_op_omap_get_keys2,
               (rados_read_op_t read_op, const char *start_after,
                uint64_t max_return, rados_omap_iter_t *iter,
                unsigned char *pmore, int *prval),
               (read_op, start_after, max_return, iter, pmore, prval))
FERRY_DL_VOID (ferry_dl_rados, rados_read_op_stat,
               (rados_read_op_t read_op, uint64_t *psize, time_t *pmtime,
                int *prval),
               (read_op, psize, pmtime, prval))
FERRY_DL_VOID (ferry_dl_rados, rados_read_op_read,
               (rados_read_op_t read_op, uint64_t offset, size_t len,
                char *buffer, size_t *bytes_read, int *prval),
               (read_op, offset, len, buffer, bytes_read, prval))
FERRY_DL_FN (ferry_dl_rados, int, rados_read_op_operate, -ELIBACC,
             (rados_read_op_t read_op, rados_ioctx_t io, const char *oid,
              int flags),
             (read_op, io, oid, flags))
FERRY_DL_FN (ferry_dl_rados, int, rados_aio_read_op_operate, -ELIBACC,
             (rados_read_op_t read_op, rados_ioctx_t io,
              rados_completion_t completion, const char *oid, int flags),
             (read_op, io, completion, oid, flags))
FERRY_DL_FN (ferry_dl_rados, int, rados_omap_get_next2, -ELIBACC,
             (rados_omap_iter_t iter, char **key, char **val, size_t *key_len,
              size_t *val_len),
             (iter, key, val, key_len, val_len))
FERRY_DL_VOID (ferry_dl_rados, rados_omap_get_end, (rados_omap_iter_t iter),
               (iter))
FERRY_DL_FN (ferry_dl_rados, int, rados_aio_create_completion2, -ELIBACC,
             (void *cb_arg, rados_callback_t cb_complete,
              rados_completion_t *pc),
             (cb_arg, cb_complete, pc))
FERRY_DL_FN (ferry_dl_rados, int, rados_aio_wait_for_complete, -ELIBACC,
             (rados_completion_t c), (c))
FERRY_DL_FN (ferry_dl_rados, int, rados_aio_get_return_value, -ELIBACC,
             (rados_completion_t c), (c))
FERRY_DL_VOID (ferry_dl_rados, rados_aio_release, (rados_completion_t c), (c))
FERRY_DL_FN (ferry_dl_rados, int, rados_lock_exclusive, -ELIBACC,
             (rados_ioctx_t io, const char *oid, const char *name,
              const char *cookie, const char *desc, struct timeval *duration,
              uint8_t flags),
             (io, oid, name, cookie, desc, duration, flags))
FERRY_DL_FN (ferry_dl_rados, int, rados_lock_shared, -ELIBACC,
             (rados_ioctx_t io, const char *o, const char *name,
              const char *cookie, const char *tag, const char *desc,
              struct timeval *duration, uint8_t flags),
             (io, o, name, cookie, tag, desc, duration, flags))
FERRY_DL_FN (ferry_dl_rados, int, rados_setxattr, -ELIBACC,
             (rados_ioctx_t io, const char *o, const char *name,
              const char *buf, size_t len),
             (io, o, name, buf, len))
FERRY_DL_FN (ferry_dl_rados, int, rados_getxattr, -ELIBACC,
             (rados_ioctx_t io, const char *o, const char *name, char *buf,
              size_t len),
             (io, o, name, buf, len))
FERRY_DL_FN (ferry_dl_rados, int, rados_unlock, -ELIBACC,
             (rados_ioctx_t io, const char *o, const char *name,
              const char *cookie),
             (io, o, name, cookie))
FERRY_DL_FN (ferry_dl_rados, ssize_t, rados_list_lockers, -ELIBACC,
             (rados_ioctx_t io, const char *o, const char *name, int *exclusive,
              char *tag, size_t *tag_len, char *clients, size_t *clients_len,
              char *cookies, size_t *cookies_len, char *addrs,
              size_t *addrs_len),
             (io, o, name, exclusive, tag, tag_len, clients, clients_len,
              cookies, cookies_len, addrs, addrs_len))
FERRY_DL_FN (ferry_dl_rados, int, rados_break_lock, -ELIBACC,
             (rados_ioctx_t io, const char *o, const char *name,
              const char *client, const char *cookie),
             (io, o, name, client, cookie))
FERRY_DL_FN (ferry_dl_rados, unsigned int, rados_omap_iter_size, 0,
             (rados_omap_iter_t iter), (iter))
