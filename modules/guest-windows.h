/* What the Windows guest operations (modules/guest-windows*.c) share: a
 * hive opened through libguestfs' hivex API that both observes and
 * converges (modules/guest.h), files written only when they differ, and
 * the first-boot folder every operation adds its scripts to.
 *
 * A hive is edited open -> edit -> commit -> close, one at a time (a
 * second hivex_open on the same handle silently replaces the first).
 * Keys are looked up case-insensitively (the registry is).  In check mode
 * a key that would be created is represented by node 0: every value under
 * it is a change. */
#ifndef FERRY_MODULES_GUEST_WINDOWS_H
#define FERRY_MODULES_GUEST_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modules/guest.h"

/* registry value types */
enum {
  FERRY_REG_SZ = 1,
  FERRY_REG_EXPAND_SZ = 2,
  FERRY_REG_BINARY = 3,
  FERRY_REG_DWORD = 4,
  FERRY_REG_MULTI_SZ = 7,
};

/* One open hive. */
struct ferry_winreg {
  guestfs_h *g;
  struct ferry_changes *ch; /* where change lines go */
  const char *name;         /* "SYSTEM", "SOFTWARE": prefix of lines */
  char *path;               /* guest path of the hive file */
  bool apply;               /* open for writing, make the changes */
  bool dirty;               /* something changed: commit */
  int64_t root;             /* root node */
};

/* Open the hive NAME ("SYSTEM" or "SOFTWARE") of OP's guest. */
int ferry_winreg_open (struct ferry_winreg *r, struct ferry_guest_op *op,
                       const char *name, struct ferry_changes *ch,
                       struct ferry_err *err);
/* Commit (when something changed) and close.  -1 when the commit fails. */
int ferry_winreg_close (struct ferry_winreg *r, struct ferry_err *err);
/* Close without committing (after an error). */
void ferry_winreg_abort (struct ferry_winreg *r);

/* The node at PATH ("ControlSet001\\Services") below the root, or 0 when
 * a key of it is missing; -1 on error. */
int64_t ferry_winreg_find (struct ferry_winreg *r, const char *path,
                           struct ferry_err *err);
/* The node at PATH, created when missing (a line per key created); in
 * check mode 0 when it would be created.  -1 on error. */
int64_t ferry_winreg_key (struct ferry_winreg *r, const char *path,
                          struct ferry_err *err);
/* Value NAME ("" = default) of NODE (KEY is its path, for lines) must be
 * TYPE with DATA/LEN: one line and a write when it is not.  SECRET: the
 * line does not show the data. */
int ferry_winreg_set (struct ferry_winreg *r, int64_t node, const char *key,
                      const char *name, int type, const void *data, size_t len,
                      bool secret, struct ferry_err *err);
int ferry_winreg_set_dword (struct ferry_winreg *r, int64_t node,
                            const char *key, const char *name, uint32_t v,
                            struct ferry_err *err);
/* REG_SZ / REG_EXPAND_SZ from UTF-8 S. */
int ferry_winreg_set_str (struct ferry_winreg *r, int64_t node, const char *key,
                          const char *name, int type, const char *s,
                          bool secret, struct ferry_err *err);
/* REG_MULTI_SZ of the NULL-terminated UTF-8 strings SV. */
int ferry_winreg_set_multi (struct ferry_winreg *r, int64_t node,
                            const char *key, const char *name,
                            const char *const *sv, struct ferry_err *err);
/* The string value NAME of NODE (UTF-8, caller frees) or NULL. */
char *ferry_winreg_get_str (struct ferry_winreg *r, int64_t node,
                            const char *name);

/* Add a line to CH unless CH has it already (in check mode two
 * operations' scripts both find firstboot.bat missing: one change). */
void ferry_win_change (struct ferry_changes *ch, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* The virtio-win directory names for INFO's Windows release (version,
 * variant, build), best first, NULL-terminated; NULL when ferry knows none
 * (modules/guest-windows.c). */
const char *const *ferry_win_release_dirs (const struct ferry_guest_info *info);

/* UTF-8 S as UTF-16LE with a terminating NUL (*RET_LEN bytes), or NULL. */
char *ferry_utf16le (const char *s, size_t *ret_len);

/* Guest file PATH (absolute, any case: resolved case-insensitively) must
 * hold DATA/LEN: a line and a write when it does not (parents made). */
int ferry_winfile_put (struct ferry_guest_op *op, struct ferry_changes *ch,
                       const char *path, const void *data, size_t len,
                       struct ferry_err *err);
/* The same with the content of host file SRC. */
int ferry_winfile_copy (struct ferry_guest_op *op, struct ferry_changes *ch,
                        const char *path, const char *src,
                        struct ferry_err *err);

/* First boot.  Ferry's folder in the guest and how Windows runs it
 * (docs/guest-windows.md): a RunOnce value starts firstboot.bat, which
 * runs scripts\*.bat in name order, moving each to scripts-done\ first,
 * and logs to log.txt. */
#define FERRY_WIN_FB_DIR "/Program Files/Ferry/Firstboot"
#define FERRY_WIN_FB_WIN "C:\\Program Files\\Ferry\\Firstboot"
/* SOFTWARE key of the commands Windows runs once at the next logon */
#define FERRY_WIN_RUNONCE "Microsoft\\Windows\\CurrentVersion\\RunOnce"
/* Script NAME ("5000-pnputil.bat", CRLF text TEXT) in the first-boot
 * folder, with firstboot.bat and its RunOnce value. */
int ferry_win_firstboot_add (struct ferry_guest_op *op,
                             struct ferry_changes *ch, const char *name,
                             const char *text, struct ferry_err *err);
/* TEXT with every "\n" as "\r\n" (caller frees), NULL when out of memory. */
char *ferry_crlf (const char *text);

#endif
