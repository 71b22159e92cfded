/* Small helpers the Linux guest operations share (modules/guest-linux*.c):
 * reading and writing guest text files, editing them line by line, running
 * a command inside the guest, the device → UUID map of the appliance, and
 * listing the file names inside an initramfs. */
#ifndef FERRY_MODULES_GUEST_LINUX_UTIL_H
#define FERRY_MODULES_GUEST_LINUX_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "modules/guest.h"

/* Does PATH exist in the guest (any type, symlinks not followed)? */
bool ferry_lx_exists (guestfs_h *g, const char *path);
/* The text of guest file PATH (NUL-terminated, malloc'd; *RET_LEN its
 * length when not NULL), or NULL when it does not exist or is not a
 * regular file.  -1 only on a libguestfs error while reading an existing
 * file. */
int ferry_lx_read (guestfs_h *g, const char *path, char **ret, size_t *ret_len,
                   struct ferry_err *err);
/* Write TEXT to guest file PATH (created 0644, or truncated keeping its
 * mode and owner). */
int ferry_lx_write (guestfs_h *g, const char *path, const char *text,
                    struct ferry_err *err);
/* Create the guest directory PATH and its parents. */
int ferry_lx_mkdir_p (guestfs_h *g, const char *path, struct ferry_err *err);
/* Run ARGV (argv[0] a program in the guest's PATH) inside the guest;
 * its output goes to the debug log, an exit status other than 0 is an
 * error naming WHAT. */
int ferry_lx_run (guestfs_h *g, const char *what, const char *const *argv,
                  struct ferry_err *err);
/* The names of the files in a directory of the guest matching SUFFIX
 * ("" for all), sorted, with the directory prefixed; NULL-terminated
 * (free with ferry_lx_strv_free).  An absent directory gives an empty
 * list. */
char **ferry_lx_glob (guestfs_h *g, const char *dir, const char *suffix);
void ferry_lx_strv_free (char **v);

/* Is NAME ("/dev/sda1", "/dev/hdb") an IDE/SCSI device name the guest
 * will not see on virtio? */
bool ferry_lx_is_sd_name (const char *name, size_t len);
/* "UUID=…" for the filesystem the guest calls /dev/sdXN or /dev/hdXN (the
 * appliance sees the VM's disks as /dev/sda.. in the same order), or NULL
 * when it has none (caller frees). */
char *ferry_lx_uuid_spec (guestfs_h *g, const char *name, size_t len);

/* Rewrite every `KEY=/dev/sdXN` (KEY root or resume) in TEXT to
 * `KEY=UUID=…`; one line added to CH per rewrite ("FILE: root=/dev/sda2 →
 * root=UUID=…").  Returns the new text (malloc'd) or NULL when nothing
 * changes. */
char *ferry_lx_rewrite_cmdline (guestfs_h *g, const char *file,
                                const char *text, struct ferry_changes *ch);

/* Growable string. */
struct ferry_lx_buf {
  char *s;
  size_t len, cap;
  bool oom;
};
void ferry_lx_buf_add (struct ferry_lx_buf *b, const char *s, size_t len);
void ferry_lx_buf_addf (struct ferry_lx_buf *b, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Step 4 of inject (modules/guest-linux.c): rebuild every installed
 * kernel's initramfs that lacks a virtio module, carries a stale LVM file
 * (LVM_CHANGED: lvm.conf's filter was changed) or names NICs without
 * ferry's .link files.  LINKS NULL: all of that, with the .link files
 * found in the guest; LINKS a NULL-terminated list of initramfs paths
 * ("etc/systemd/network/10-ferry-ens192.link"): only the .link check (the
 * network operation, which writes them). */
int ferry_lx_initramfs (struct ferry_guest_op *op, bool lvm_changed,
                        char *const *links, struct ferry_changes *ch,
                        struct ferry_err *err);

/* The names of every file inside the initramfs file HOST_PATH (on the
 * host): concatenated cpio archives, uncompressed (early microcode) or
 * compressed with gzip, zstd, xz, lzma, lz4 or bzip2 (the host's
 * decompressor is run).  NULL-terminated (ferry_lx_strv_free). */
int ferry_lx_initrd_list (const char *host_path, char ***ret,
                          struct ferry_err *err);

#endif
