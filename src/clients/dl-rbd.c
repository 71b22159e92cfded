/* librbd.so.1 loaded on first use: stubs for the functions ferry calls
 * (see util/dl.h).  Every librbd call needs an ioctx, which only
 * ferry_ceph_connect () makes, and it loads librbd first with a clear
 * error; a stub without the library returns -ELIBACC. */
#include <errno.h>
#include <rbd/librbd.h>

#include "util/dl.h"

struct ferry_dl ferry_dl_rbd = FERRY_DL_INIT ("librbd.so.1");

FERRY_DL_FN (ferry_dl_rbd, int, rbd_aio_create_completion, -ELIBACC,
             (void *cb_arg, rbd_callback_t complete_cb, rbd_completion_t *c),
             (cb_arg, complete_cb, c))
FERRY_DL_FN (ferry_dl_rbd, ssize_t, rbd_aio_get_return_value, -ELIBACC,
             (rbd_completion_t c), (c))
FERRY_DL_VOID (ferry_dl_rbd, rbd_aio_release, (rbd_completion_t c), (c))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_aio_write, -ELIBACC,
             (rbd_image_t image, uint64_t off, size_t len, const char *buf,
              rbd_completion_t c),
             (image, off, len, buf, c))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_close, -ELIBACC, (rbd_image_t image),
             (image))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_create, -ELIBACC,
             (rados_ioctx_t io, const char *name, uint64_t size, int *order),
             (io, name, size, order))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_create4, -ELIBACC,
             (rados_ioctx_t io, const char *name, uint64_t size,
              rbd_image_options_t opts),
             (io, name, size, opts))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_diff_iterate2, -ELIBACC,
             (rbd_image_t image, const char *fromsnapname, uint64_t ofs,
              uint64_t len, uint8_t include_parent, uint8_t whole_object,
              int (*cb) (uint64_t, size_t, int, void *), void *arg),
             (image, fromsnapname, ofs, len, include_parent, whole_object, cb,
              arg))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_flush, -ELIBACC, (rbd_image_t image),
             (image))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_get_id, -ELIBACC,
             (rbd_image_t image, char *id, size_t id_len), (image, id, id_len))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_get_size, -ELIBACC,
             (rbd_image_t image, uint64_t *size), (image, size))
FERRY_DL_VOID (ferry_dl_rbd, rbd_image_options_create,
               (rbd_image_options_t * opts), (opts))
FERRY_DL_VOID (ferry_dl_rbd, rbd_image_options_destroy,
               (rbd_image_options_t opts), (opts))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_metadata_get, -ELIBACC,
             (rbd_image_t image, const char *key, char *value, size_t *val_len),
             (image, key, value, val_len))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_metadata_set, -ELIBACC,
             (rbd_image_t image, const char *key, const char *value),
             (image, key, value))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_open, -ELIBACC,
             (rados_ioctx_t io, const char *name, rbd_image_t *image,
              const char *snap_name),
             (io, name, image, snap_name))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_open_read_only, -ELIBACC,
             (rados_ioctx_t io, const char *name, rbd_image_t *image,
              const char *snap_name),
             (io, name, image, snap_name))
FERRY_DL_FN (ferry_dl_rbd, ssize_t, rbd_read, -ELIBACC,
             (rbd_image_t image, uint64_t ofs, size_t len, char *buf),
             (image, ofs, len, buf))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_remove, -ELIBACC,
             (rados_ioctx_t io, const char *name), (io, name))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_snap_create, -ELIBACC,
             (rbd_image_t image, const char *snapname), (image, snapname))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_snap_is_protected, -ELIBACC,
             (rbd_image_t image, const char *snap_name, int *is_protected),
             (image, snap_name, is_protected))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_snap_list, -ELIBACC,
             (rbd_image_t image, rbd_snap_info_t *snaps, int *max_snaps),
             (image, snaps, max_snaps))
FERRY_DL_VOID (ferry_dl_rbd, rbd_snap_list_end, (rbd_snap_info_t * snaps),
               (snaps))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_snap_protect, -ELIBACC,
             (rbd_image_t image, const char *snap_name), (image, snap_name))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_snap_remove, -ELIBACC,
             (rbd_image_t image, const char *snapname), (image, snapname))
FERRY_DL_FN (ferry_dl_rbd, int, rbd_snap_unprotect, -ELIBACC,
             (rbd_image_t image, const char *snap_name), (image, snap_name))
FERRY_DL_FN (ferry_dl_rbd, ssize_t, rbd_write_zeroes, -ELIBACC,
             (rbd_image_t image, uint64_t ofs, size_t len, int zero_flags,
              int op_flags),
             (image, ofs, len, zero_flags, op_flags))
