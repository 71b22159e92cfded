/* libguestfs.so.0 loaded on first use: stubs for the functions ferry calls
 * (see util/dl.h).  ferry_gfs_* load it with a clear error before creating
 * a handle; a stub without the library returns -1 or NULL, as libguestfs
 * does on failure.
 *
 * libguestfs' optional-argument calls are variadic (guestfs_add_drive_opts
 * (g, file, ..., -1)): a C stub cannot forward "...", so ferry calls the
 * *_argv variants (struct + bitmask) and only those have stubs here. */
#include <guestfs.h>
#include <stddef.h>

#include "util/dl.h"

struct ferry_dl ferry_dl_guestfs = FERRY_DL_INIT ("libguestfs.so.0");

/* guestfs_create_flags (flags, ...) takes no variable arguments today
 * (libguestfs 1.48 documents none): forward FLAGS alone. */
guestfs_h *
guestfs_create_flags (unsigned flags, ...)
{
  static void *sym;
  guestfs_h *(*fn) (unsigned, ...) = (guestfs_h * (*) (unsigned, ...))
      ferry_dl_sym (&ferry_dl_guestfs, "guestfs_create_flags", &sym);

  return fn ? fn (flags) : NULL;
}

FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_add_drive_opts_argv, -1,
             (guestfs_h * g, const char *filename,
              const struct guestfs_add_drive_opts_argv *optargs),
             (g, filename, optargs))
FERRY_DL_FN (ferry_dl_guestfs, int64_t, guestfs_blockdev_getsize64, -1,
             (guestfs_h * g, const char *device), (g, device))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_blockdev_getss, -1,
             (guestfs_h * g, const char *device), (g, device))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_case_sensitive_path, NULL,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_chmod, -1,
             (guestfs_h * g, int mode, const char *path), (g, mode, path))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_chown, -1,
             (guestfs_h * g, int owner, int group, const char *path),
             (g, owner, group, path))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_close, (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_command, NULL,
             (guestfs_h * g, char *const *arguments), (g, arguments))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_download, -1,
             (guestfs_h * g, const char *remotefilename, const char *filename),
             (g, remotefilename, filename))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_e2fsck_argv, -1,
             (guestfs_h * g, const char *device,
              const struct guestfs_e2fsck_argv *optargs),
             (g, device, optargs))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_exists, -1,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, int64_t, guestfs_filesize, -1,
             (guestfs_h * g, const char *file), (g, file))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_free_application2_list,
               (struct guestfs_application2_list * a0), (a0))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_free_hivex_node_list,
               (struct guestfs_hivex_node_list * a0), (a0))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_free_lvm_pv_list,
               (struct guestfs_lvm_pv_list * a0), (a0))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_free_lvm_vg_list,
               (struct guestfs_lvm_vg_list * a0), (a0))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_free_partition_list,
               (struct guestfs_partition_list * a0), (a0))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_free_statns,
               (struct guestfs_statns * a0), (a0))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_free_xfsinfo,
               (struct guestfs_xfsinfo * a0), (a0))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_get_trace, -1, (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_hivex_close, -1, (guestfs_h * g),
             (g))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_hivex_commit, -1,
             (guestfs_h * g, const char *filename), (g, filename))
FERRY_DL_FN (ferry_dl_guestfs, int64_t, guestfs_hivex_node_add_child, -1,
             (guestfs_h * g, int64_t parent, const char *name),
             (g, parent, name))
FERRY_DL_FN (ferry_dl_guestfs, struct guestfs_hivex_node_list *,
             guestfs_hivex_node_children, NULL, (guestfs_h * g, int64_t nodeh),
             (g, nodeh))
FERRY_DL_FN (ferry_dl_guestfs, int64_t, guestfs_hivex_node_get_child, -1,
             (guestfs_h * g, int64_t nodeh, const char *name), (g, nodeh, name))
FERRY_DL_FN (ferry_dl_guestfs, int64_t, guestfs_hivex_node_get_value, -1,
             (guestfs_h * g, int64_t nodeh, const char *key), (g, nodeh, key))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_hivex_node_set_value, -1,
             (guestfs_h * g, int64_t nodeh, const char *key, int64_t t,
              const char *val, size_t val_size),
             (g, nodeh, key, t, val, val_size))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_hivex_open_argv, -1,
             (guestfs_h * g, const char *filename,
              const struct guestfs_hivex_open_argv *optargs),
             (g, filename, optargs))
FERRY_DL_FN (ferry_dl_guestfs, int64_t, guestfs_hivex_root, -1, (guestfs_h * g),
             (g))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_hivex_value_string, NULL,
             (guestfs_h * g, int64_t valueh), (g, valueh))
FERRY_DL_FN (ferry_dl_guestfs, int64_t, guestfs_hivex_value_type, -1,
             (guestfs_h * g, int64_t valueh), (g, valueh))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_hivex_value_value, NULL,
             (guestfs_h * g, int64_t valueh, size_t *size_r),
             (g, valueh, size_r))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_arch, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_distro, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_hostname, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_inspect_get_major_version, -1,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_inspect_get_minor_version, -1,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_inspect_get_mountpoints, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_osinfo, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_package_format, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_product_name, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_product_variant,
             NULL, (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_type, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *,
             guestfs_inspect_get_windows_current_control_set, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *,
             guestfs_inspect_get_windows_software_hive, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_windows_system_hive,
             NULL, (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_inspect_get_windows_systemroot,
             NULL, (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, struct guestfs_application2_list *,
             guestfs_inspect_list_applications2, NULL,
             (guestfs_h * g, const char *root), (g, root))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_inspect_os, NULL,
             (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_is_dir, -1,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_is_file_opts_argv, -1,
             (guestfs_h * g, const char *path,
              const struct guestfs_is_file_opts_argv *optargs),
             (g, path, optargs))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_is_file, -1,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_is_lv, -1,
             (guestfs_h * g, const char *mountable), (g, mountable))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_is_symlink, -1,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, const char *, guestfs_last_error, NULL,
             (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_launch, -1, (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_list_devices, NULL,
             (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_list_filesystems, NULL,
             (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_list_partitions, NULL,
             (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_ln_s, -1,
             (guestfs_h * g, const char *target, const char *linkname),
             (g, target, linkname))
FERRY_DL_FN (ferry_dl_guestfs, struct guestfs_statns *, guestfs_lstatns, NULL,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_ls, NULL,
             (guestfs_h * g, const char *directory), (g, directory))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_lvm_canonical_lv_name, NULL,
             (guestfs_h * g, const char *lvname), (g, lvname))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_lvresize_free, -1,
             (guestfs_h * g, const char *lv, int percent), (g, lv, percent))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_lvs, NULL, (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_mkdir_p, -1,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_mount_ro, -1,
             (guestfs_h * g, const char *mountable, const char *mountpoint),
             (g, mountable, mountpoint))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_mount, -1,
             (guestfs_h * g, const char *mountable, const char *mountpoint),
             (g, mountable, mountpoint))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_ntfsresize_opts_argv, -1,
             (guestfs_h * g, const char *device,
              const struct guestfs_ntfsresize_opts_argv *optargs),
             (g, device, optargs))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_part_expand_gpt, -1,
             (guestfs_h * g, const char *device), (g, device))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_part_get_gpt_type, NULL,
             (guestfs_h * g, const char *device, int partnum),
             (g, device, partnum))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_part_get_mbr_id, -1,
             (guestfs_h * g, const char *device, int partnum),
             (g, device, partnum))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_part_get_mbr_part_type, NULL,
             (guestfs_h * g, const char *device, int partnum),
             (g, device, partnum))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_part_get_parttype, NULL,
             (guestfs_h * g, const char *device), (g, device))
FERRY_DL_FN (ferry_dl_guestfs, struct guestfs_partition_list *,
             guestfs_part_list, NULL, (guestfs_h * g, const char *device),
             (g, device))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_part_resize, -1,
             (guestfs_h * g, const char *device, int partnum, int64_t endsect),
             (g, device, partnum, endsect))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_part_set_mbr_id, -1,
             (guestfs_h * g, const char *device, int partnum, int idbyte),
             (g, device, partnum, idbyte))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_part_to_dev, NULL,
             (guestfs_h * g, const char *partition), (g, partition))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_part_to_partnum, -1,
             (guestfs_h * g, const char *partition), (g, partition))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_pread_device, NULL,
             (guestfs_h * g, const char *device, int count, int64_t offset,
              size_t *size_r),
             (g, device, count, offset, size_r))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_pvresize, -1,
             (guestfs_h * g, const char *device), (g, device))
FERRY_DL_FN (ferry_dl_guestfs, struct guestfs_lvm_pv_list *, guestfs_pvs_full,
             NULL, (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_pvuuid, NULL,
             (guestfs_h * g, const char *device), (g, device))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_read_file, NULL,
             (guestfs_h * g, const char *path, size_t *size_r),
             (g, path, size_r))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_readlink, NULL,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_resize2fs, -1,
             (guestfs_h * g, const char *device), (g, device))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_rm_f, -1,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_rm_rf, -1,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_set_backend_settings, -1,
             (guestfs_h * g, char *const *settings), (g, settings))
FERRY_DL_VOID (ferry_dl_guestfs, guestfs_set_error_handler,
               (guestfs_h * g, guestfs_error_handler_cb cb, void *opaque),
               (g, cb, opaque))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_set_trace, -1,
             (guestfs_h * g, int trace), (g, trace))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_shutdown, -1, (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, struct guestfs_statns *, guestfs_statns, NULL,
             (guestfs_h * g, const char *path), (g, path))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_tune2fs_l, NULL,
             (guestfs_h * g, const char *device), (g, device))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_umount_all, -1, (guestfs_h * g),
             (g))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_upload, -1,
             (guestfs_h * g, const char *filename, const char *remotefilename),
             (g, filename, remotefilename))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_vfs_type, NULL,
             (guestfs_h * g, const char *mountable), (g, mountable))
FERRY_DL_FN (ferry_dl_guestfs, char *, guestfs_vfs_uuid, NULL,
             (guestfs_h * g, const char *mountable), (g, mountable))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_vg_activate, -1,
             (guestfs_h * g, int activate, char *const *volgroups),
             (g, activate, volgroups))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_vgpvuuids, NULL,
             (guestfs_h * g, const char *vgname), (g, vgname))
FERRY_DL_FN (ferry_dl_guestfs, struct guestfs_lvm_vg_list *, guestfs_vgs_full,
             NULL, (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, char **, guestfs_vgs, NULL, (guestfs_h * g), (g))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_write, -1,
             (guestfs_h * g, const char *path, const char *content,
              size_t content_size),
             (g, path, content, content_size))
FERRY_DL_FN (ferry_dl_guestfs, int, guestfs_xfs_growfs_argv, -1,
             (guestfs_h * g, const char *path,
              const struct guestfs_xfs_growfs_argv *optargs),
             (g, path, optargs))
FERRY_DL_FN (ferry_dl_guestfs, struct guestfs_xfsinfo *, guestfs_xfs_info, NULL,
             (guestfs_h * g, const char *pathordevice), (g, pathordevice))
