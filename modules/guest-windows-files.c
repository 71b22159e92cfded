/* modules/guest-windows-files.c: files in a Windows guest for the Windows
 * operations (modules/guest-windows.h): written only when their content
 * differs, on paths resolved case-insensitively (NTFS is mounted
 * case-sensitive in the appliance, Windows is not), and ferry's first-boot
 * folder that the operations add their scripts to. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/guest-windows.h"
#include "util/cleanup.h"

/* Windows text: batch files and PowerShell scripts are written CRLF. */
char *
ferry_crlf (const char *text)
{
  size_t n = 0, k = 0;
  const char *p;
  char *out;

  for (p = text; *p; p++)
    n += *p == '\n' ? 2 : 1;
  out = malloc (n + 1);
  if (out == NULL)
    return NULL;
  for (p = text; *p; p++) {
    if (*p == '\n')
      out[k++] = '\r';
    out[k++] = *p;
  }
  out[k] = 0;
  return out;
}

/* PATH with its existing components in the case the guest has them; the
 * components that do not exist yet are kept as given.  NULL when out of
 * memory. */
static char *
resolve (guestfs_h *g, const char *path)
{
  char *r, *slash, *parent, *out;

  if (strcmp (path, "/") == 0)
    return strdup ("/");
  r = guestfs_case_sensitive_path (g, path);
  if (r)
    return r;
  slash = strrchr (path, '/');
  if (slash == NULL)
    return strdup (path);
  parent = strndup (path, (size_t) (slash - path));
  if (parent == NULL)
    return NULL;
  r = resolve (g, *parent ? parent : "/");
  free (parent);
  if (r == NULL)
    return NULL;
  if (asprintf (&out, "%s%s", strcmp (r, "/") == 0 ? "" : r, slash) < 0)
    out = NULL;
  free (r);
  return out;
}

/* Does guest file REAL hold DATA/LEN?  1 yes, 0 no (or absent). */
static int
same_content (guestfs_h *g, const char *real, const void *data, size_t len)
{
  CLEANUP_FREE char *have = NULL;
  size_t n = 0;
  int64_t size;

  if (guestfs_is_file (g, real) <= 0)
    return 0;
  size = guestfs_filesize (g, real);
  if (size < 0 || (uint64_t) size != len)
    return 0;
  have = guestfs_read_file (g, real, &n);
  return have && n == len && memcmp (have, data, len) == 0;
}

/* Write PATH when its content differs (parents created). */
int
ferry_winfile_put (struct ferry_guest_op *op, struct ferry_changes *ch,
                   const char *path, const void *data, size_t len,
                   struct ferry_err *err)
{
  guestfs_h *g = op->g;
  CLEANUP_FREE char *real = resolve (g, path);
  CLEANUP_FREE char *dir = NULL;
  char *slash;
  bool exists;

  if (real == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (same_content (g, real, data, len))
    return 0;
  exists = guestfs_exists (g, real) > 0;
  if (exists && guestfs_is_file (g, real) <= 0)
    return ferry_err_set (err, 0, "guest path '%s' is not a file", real);
  ferry_win_change (ch, "file %s: %s (%zu bytes)", real,
                    exists ? "replace" : "create", len);
  if (!op->apply)
    return 0;
  dir = strdup (real);
  if (dir == NULL)
    return ferry_err_set (err, errno, "cannot allocate memory");
  slash = strrchr (dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    if (guestfs_mkdir_p (g, dir) < 0)
      return ferry_err_set (err, 0, "cannot create guest directory '%s': %s",
                            dir, ferry_gfs_last_error (g));
  }
  if (guestfs_write (g, real, data, len) < 0)
    return ferry_err_set (err, 0, "cannot write guest file '%s': %s", real,
                          ferry_gfs_last_error (g));
  return 0;
}

/* ferry_winfile_put with a host file read whole (drivers are small). */
int
ferry_winfile_copy (struct ferry_guest_op *op, struct ferry_changes *ch,
                    const char *path, const char *src, struct ferry_err *err)
{
  CLEANUP_FCLOSE FILE *f = fopen (src, "rb");
  CLEANUP_FREE char *buf = NULL;
  size_t len = 0, cap = 0, n;

  if (f == NULL)
    return ferry_err_set (err, errno, "cannot open '%s'", src);
  for (;;) {
    if (cap - len < 65536) {
      char *nb = realloc (buf, cap + 262144);
      if (nb == NULL)
        return ferry_err_set (err, errno, "cannot allocate memory");
      buf = nb;
      cap += 262144;
    }
    n = fread (buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
    if (len > (size_t) 512 << 20)
      return ferry_err_set (err, EFBIG, "cannot copy '%s'", src);
  }
  if (ferror (f))
    return ferry_err_set (err, EIO, "cannot read '%s'", src);
  return ferry_winfile_put (op, ch, path, buf ? buf : "", len, err);
}

/* firstboot.bat: runs each scripts\*.bat once, in name order, moving it
 * to scripts-done\ before it runs and logging to log.txt.  It registers
 * itself in RunOnce again first and removes that at the end, so a reboot
 * in the middle (a driver install may ask for one) resumes with the
 * scripts not yet run. */
static const char firstboot_bat[] =
    "@echo off\n"
    "rem ferry first boot (docs/guest-windows.md): runs scripts\\*.bat once\n"
    "setlocal EnableExtensions EnableDelayedExpansion\n"
    "set \"fb=" FERRY_WIN_FB_WIN "\"\n"
    "set \"ro=HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\RunOnce\"\n"
    "cd /d \"%fb%\"\n"
    "if not exist \"%fb%\\scripts-done\" mkdir \"%fb%\\scripts-done\"\n"
    "reg add \"%ro%\" /v ferry-firstboot /t REG_SZ /d \"cmd /c "
    "\\\"%fb%\\firstboot.bat\\\"\" /f >nul\n"
    "echo %date% %time% firstboot: start >> \"%fb%\\log.txt\"\n"
    "for /f \"delims=\" %%f in ('dir /b /on \"%fb%\\scripts\\*.bat\" "
    "2^>nul') do (\n"
    "  echo %date% %time% firstboot: %%f >> \"%fb%\\log.txt\"\n"
    "  move /y \"%fb%\\scripts\\%%f\" \"%fb%\\scripts-done\\%%f\" >nul\n"
    "  call \"%fb%\\scripts-done\\%%f\" >> \"%fb%\\log.txt\" 2>&1\n"
    "  echo %date% %time% firstboot: %%f exit code !errorlevel! >> "
    "\"%fb%\\log.txt\"\n"
    ")\n"
    "reg delete \"%ro%\" /v ferry-firstboot /f >nul 2>&1\n"
    "echo %date% %time% firstboot: done >> \"%fb%\\log.txt\"\n";

/* Script NAME, firstboot.bat and the RunOnce value that starts it. */
int
ferry_win_firstboot_add (struct ferry_guest_op *op, struct ferry_changes *ch,
                         const char *name, const char *text,
                         struct ferry_err *err)
{
  CLEANUP_FREE char *bat = ferry_crlf (firstboot_bat);
  CLEANUP_FREE char *script = ferry_crlf (text);
  CLEANUP_FREE char *path = NULL;
  struct ferry_winreg r;
  int64_t node;

  if (bat == NULL || script == NULL ||
      asprintf (&path, "%s/scripts/%s", FERRY_WIN_FB_DIR, name) < 0)
    return ferry_err_set (err, errno, "cannot allocate memory");
  if (ferry_winfile_put (op, ch, FERRY_WIN_FB_DIR "/firstboot.bat", bat,
                         strlen (bat), err) < 0 ||
      ferry_winfile_put (op, ch, path, script, strlen (script), err) < 0)
    return -1;
  if (ferry_winreg_open (&r, op, "SOFTWARE", ch, err) < 0)
    return -1;
  node = ferry_winreg_key (&r, FERRY_WIN_RUNONCE, err);
  if (node < 0 ||
      ferry_winreg_set_str (
          &r, node, FERRY_WIN_RUNONCE, "ferry-firstboot", FERRY_REG_SZ,
          "cmd /c \"" FERRY_WIN_FB_WIN "\\firstboot.bat\"", false, err) < 0) {
    ferry_winreg_abort (&r);
    return -1;
  }
  return ferry_winreg_close (&r, err);
}
