/* modules/guest-linux-customize.c: the plan's customize section on a Linux
 * guest (ferry_guest_linux_customize, modules/guest.h):
 *
 *   - files: each customize.files[] entry copied to its guest path, with
 *     its mode and owner when the plan gives them; compared byte for byte
 *     (the guest copy is downloaded), so a rerun copies nothing;
 *   - firstboot: the scripts go to /usr/lib/ferry/firstboot/scripts/NN-name
 *     (0755, in plan order) with a runner, firstboot.sh, started once by
 *     ferry-firstboot.service (enabled by its link in
 *     multi-user.target.wants).  The runner logs to
 *     /var/log/ferry-firstboot.log, moves each script that succeeds to
 *     done/, stops at the first failure (it is retried at the next boot)
 *     and, when every script has succeeded, removes the unit's link so it
 *     never runs again;
 *   - hostname: /etc/hostname, and the 127.0.1.1 line of /etc/hosts (the
 *     Debian convention; other lines are left alone). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modules/guest-linux-util.h"
#include "plan/plan.h"
#include "util/cleanup.h"

#define FB_DIR "/usr/lib/ferry/firstboot"
#define FB_UNIT "/etc/systemd/system/ferry-firstboot.service"
#define FB_LINK                                                                \
  "/etc/systemd/system/multi-user.target.wants/ferry-firstboot.service"

static const char fb_runner[] =
    "#!/bin/sh\n"
    "# Written by ferry: runs the first-boot scripts in " FB_DIR "/scripts\n"
    "# once, in name order.  A script that succeeds moves to done/; the\n"
    "# first that fails stops the run (it is retried at the next boot).\n"
    "# When all have succeeded the service disables itself.\n"
    "d=" FB_DIR "\n"
    "exec >>/var/log/ferry-firstboot.log 2>&1\n"
    "echo \"=== ferry firstboot $(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n"
    "mkdir -p \"$d/done\"\n"
    "for s in \"$d\"/scripts/*; do\n"
    "  [ -f \"$s\" ] || continue\n"
    "  echo \"--- $s\"\n"
    "  \"$s\"\n"
    "  rc=$?\n"
    "  if [ $rc -ne 0 ]; then\n"
    "    echo \"--- $s failed (exit $rc); retried at the next boot\"\n"
    "    exit 1\n"
    "  fi\n"
    "  mv \"$s\" \"$d/done/\"\n"
    "done\n"
    "echo \"=== all scripts done; disabling ferry-firstboot.service\"\n"
    "rm -f " FB_LINK "\n";

static const char fb_unit[] =
    "# Written by ferry: runs " FB_DIR "/firstboot.sh once.\n"
    "[Unit]\n"
    "Description=ferry first-boot scripts\n"
    "Wants=network-online.target\n"
    "After=network-online.target\n"
    "ConditionDirectoryNotEmpty=" FB_DIR "/scripts\n"
    "\n"
    "[Service]\n"
    "Type=oneshot\n"
    "ExecStart=" FB_DIR "/firstboot.sh\n"
    "TimeoutSec=0\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

/* Do host file SRC and guest file DST have the same bytes?  *RET_SAME. */
static int
same_bytes (guestfs_h *g, const char *src, const char *dst, bool *ret_same,
            struct ferry_err *err)
{
  char tmp[] = "/var/tmp/ferry-cmp.XXXXXX";
  CLEANUP_FCLOSE FILE *a = NULL;
  CLEANUP_FCLOSE FILE *b = NULL;
  int fd = mkstemp (tmp), ca, cb;

  if (fd < 0)
    return ferry_err_set (err, errno, "cannot create '%s'", tmp);
  close (fd);
  if (guestfs_download (g, dst, tmp) < 0) {
    unlink (tmp);
    return ferry_err_set (err, 0, "cannot read '%s' in the guest: %s", dst,
                          ferry_gfs_last_error (g));
  }
  a = fopen (src, "re");
  b = fopen (tmp, "re");
  unlink (tmp);
  if (a == NULL)
    return ferry_err_set (err, errno, "cannot open '%s'", src);
  if (b == NULL)
    return ferry_err_set (err, errno, "cannot open '%s'", tmp);
  do {
    ca = getc (a);
    cb = getc (b);
  } while (ca == cb && ca != EOF);
  *ret_same = ca == cb;
  return 0;
}

/* Guest file DST has host file SRC's bytes, MODE (octal string or NULL)
 * and OWNER ("UID:GID" or NULL). */
static int
ensure_copy (struct ferry_guest_op *op, const char *src, const char *dst,
             const char *mode, const char *owner, struct ferry_changes *ch,
             struct ferry_err *err)
{
  guestfs_h *g = op->g;
  struct stat hst;
  struct guestfs_statns *st;
  unsigned long m = 0;
  int uid = -1, gid = -1;
  bool same = false;
  CLEANUP_FREE char *dir = strdup (dst);

  if (dir == NULL)
    return ferry_err_set (err, ENOMEM, "out of memory");
  if (dst[0] != '/')
    return ferry_err_set (err, 0, "file '%s': not an absolute guest path", dst);
  if (stat (src, &hst) < 0)
    return ferry_err_set (err, errno, "cannot read '%s'", src);
  if (mode) {
    char *end;
    m = strtoul (mode, &end, 8);
    if (*end || m > 07777)
      return ferry_err_set (err, 0, "file '%s': bad mode '%s'", dst, mode);
  }
  if (owner && sscanf (owner, "%d:%d", &uid, &gid) != 2)
    return ferry_err_set (err, 0, "file '%s': bad owner '%s'", dst, owner);
  st = guestfs_statns (g, dst);
  if (st && (st->st_mode & 0170000) != 0100000) {
    guestfs_free_statns (st);
    return ferry_err_set (err, 0, "'%s' in the guest is not a regular file",
                          dst);
  }
  if (st && same_bytes (g, src, dst, &same, err) < 0) {
    guestfs_free_statns (st);
    return -1;
  }
  if (st == NULL)
    ferry_changes_add (ch, "file %s: create (%lld bytes%s%s%s%s)", dst,
                       (long long) hst.st_size, mode ? ", mode " : "",
                       mode ? mode : "", owner ? ", owner " : "",
                       owner ? owner : "");
  else {
    if (!same)
      ferry_changes_add (ch, "file %s: update (%lld bytes)", dst,
                         (long long) hst.st_size);
    if (mode && (unsigned long) (st->st_mode & 07777) != m)
      ferry_changes_add (ch, "file %s: mode %04lo -> %04lo", dst,
                         (unsigned long) (st->st_mode & 07777), m);
    if (owner && (st->st_uid != uid || st->st_gid != gid))
      ferry_changes_add (ch, "file %s: owner %lld:%lld -> %s", dst,
                         (long long) st->st_uid, (long long) st->st_gid, owner);
  }
  if (op->apply) {
    *strrchr (dir, '/') = '\0';
    if ((st == NULL || !same) &&
        ((dir[0] && ferry_lx_mkdir_p (g, dir, err) < 0) ||
         guestfs_upload (g, src, dst) < 0)) {
      guestfs_free_statns (st);
      return err->set ? -1
                      : ferry_err_set (err, 0, "cannot copy '%s' to '%s': %s",
                                       src, dst, ferry_gfs_last_error (g));
    }
    if ((mode && guestfs_chmod (g, (int) m, dst) < 0) ||
        (owner && guestfs_chown (g, uid, gid, dst) < 0)) {
      guestfs_free_statns (st);
      return ferry_err_set (err, 0, "cannot set the mode or owner of '%s': %s",
                            dst, ferry_gfs_last_error (g));
    }
  }
  guestfs_free_statns (st);
  return 0;
}

/* Guest file PATH has TEXT and MODE. */
static int
ensure_text (struct ferry_guest_op *op, const char *path, const char *text,
             int mode, struct ferry_changes *ch, struct ferry_err *err)
{
  CLEANUP_FREE char *have = NULL, *dir = strdup (path);
  struct guestfs_statns *st;
  bool mode_ok = false;

  if (dir == NULL)
    return ferry_err_set (err, ENOMEM, "out of memory");
  if (ferry_lx_read (op->g, path, &have, NULL, err) < 0)
    return -1;
  st = have ? guestfs_statns (op->g, path) : NULL;
  mode_ok = st && (int) (st->st_mode & 07777) == mode;
  guestfs_free_statns (st);
  if (have && strcmp (have, text) == 0 && mode_ok)
    return 0;
  ferry_changes_add (ch, "file %s: %s", path, have ? "update" : "create");
  if (!op->apply)
    return 0;
  *strrchr (dir, '/') = '\0';
  if (ferry_lx_mkdir_p (op->g, dir, err) < 0 ||
      ferry_lx_write (op->g, path, text, err) < 0)
    return -1;
  if (guestfs_chmod (op->g, mode, path) < 0)
    return ferry_err_set (err, 0, "cannot chmod '%s': %s", path,
                          ferry_gfs_last_error (op->g));
  return 0;
}

/* Install the firstboot scripts, their runner and unit, and enable it. */
static int
firstboot (struct ferry_guest_op *op, const struct ferry_customize *c,
           struct ferry_changes *ch, struct ferry_err *err)
{
  CLEANUP_FREE char *target = NULL;
  size_t i;

  if (c->n_firstboot == 0)
    return 0;
  if (!ferry_lx_exists (op->g, "/usr/lib/systemd/systemd") &&
      !ferry_lx_exists (op->g, "/lib/systemd/systemd"))
    return ferry_err_set (err, 0,
                          "firstboot scripts need systemd in the guest");
  for (i = 0; i < c->n_firstboot; i++) {
    CLEANUP_FREE char *dst = NULL;
    const char *b = strrchr (c->firstboot[i], '/');
    b = b ? b + 1 : c->firstboot[i];
    if (asprintf (&dst, FB_DIR "/scripts/%02zu-%s", i + 1, b) < 0)
      return ferry_err_set (err, ENOMEM, "out of memory");
    if (ensure_copy (op, c->firstboot[i], dst, "0755", NULL, ch, err) < 0)
      return -1;
  }
  if (ensure_text (op, FB_DIR "/firstboot.sh", fb_runner, 0755, ch, err) < 0 ||
      ensure_text (op, FB_UNIT, fb_unit, 0644, ch, err) < 0)
    return -1;
  target = guestfs_readlink (op->g, FB_LINK);
  if (target && strcmp (target, FB_UNIT) == 0)
    return 0;
  ferry_changes_add (ch, "enable ferry-firstboot.service (%s)", FB_LINK);
  if (!op->apply)
    return 0;
  guestfs_rm_f (op->g, FB_LINK);
  if (ferry_lx_mkdir_p (op->g, "/etc/systemd/system/multi-user.target.wants",
                        err) < 0)
    return -1;
  if (guestfs_ln_s (op->g, FB_UNIT, FB_LINK) < 0)
    return ferry_err_set (err, 0, "cannot create '%s': %s", FB_LINK,
                          ferry_gfs_last_error (op->g));
  return 0;
}

/* Set /etc/hostname and the 127.0.1.1 line of /etc/hosts to H. */
static int
hostname (struct ferry_guest_op *op, const char *h, struct ferry_changes *ch,
          struct ferry_err *err)
{
  CLEANUP_FREE char *want = NULL, *have = NULL, *hosts = NULL, *names = NULL;
  struct ferry_lx_buf b = {0};
  const char *l, *next;
  bool found = false, changed = false;
  const char *dot = strchr (h, '.');
  int rc = 0;

  if (asprintf (&want, "%s\n", h) < 0 ||
      (dot ? asprintf (&names, "%s %.*s", h, (int) (dot - h), h)
           : asprintf (&names, "%s", h)) < 0)
    return ferry_err_set (err, ENOMEM, "out of memory");
  if (ferry_lx_read (op->g, "/etc/hostname", &have, NULL, err) < 0 ||
      ferry_lx_read (op->g, "/etc/hosts", &hosts, NULL, err) < 0)
    return -1;
  if (have == NULL || strcmp (have, want) != 0) {
    ferry_changes_add (ch, "/etc/hostname: '%.*s' -> '%s'",
                       have ? (int) strcspn (have, "\n") : 0, have ? have : "",
                       h);
    if (op->apply && ferry_lx_write (op->g, "/etc/hostname", want, err) < 0)
      return -1;
  }
  for (l = hosts ? hosts : ""; *l; l = next) {
    const char *s = l + strspn (l, " \t"), *rest;
    next = l + strcspn (l, "\n");
    next += *next == '\n';
    if (strncmp (s, "127.0.1.1", 9) == 0 && strchr (" \t", s[9]) && !found) {
      found = true;
      rest = s + 9 + strspn (s + 9, " \t");
      if ((size_t) (next - rest) - (next[-1] == '\n') == strlen (names) &&
          strncmp (rest, names, strlen (names)) == 0) {
        ferry_lx_buf_add (&b, l, (size_t) (next - l));
        continue;
      }
      ferry_lx_buf_addf (&b, "127.0.1.1\t%s\n", names);
      changed = true;
      continue;
    }
    ferry_lx_buf_add (&b, l, (size_t) (next - l));
  }
  if (!found) {
    if (b.len && b.s[b.len - 1] != '\n')
      ferry_lx_buf_add (&b, "\n", 1);
    ferry_lx_buf_addf (&b, "127.0.1.1\t%s\n", names);
    changed = true;
  }
  if (changed) {
    ferry_changes_add (ch, "/etc/hosts: 127.0.1.1 %s", names);
    if (b.oom)
      rc = ferry_err_set (err, ENOMEM, "out of memory");
    else if (op->apply)
      rc = ferry_lx_write (op->g, "/etc/hosts", b.s, err);
  }
  free (b.s);
  return rc;
}

/* files, then firstboot, then hostname: see the head of this file. */
int
ferry_guest_linux_customize (struct ferry_guest_op *op,
                             struct ferry_changes *ch, struct ferry_err *err)
{
  const struct ferry_customize *c;
  size_t i;

  if (op->vm == NULL || !op->vm->has_customize)
    return 0;
  c = &op->vm->customize;
  for (i = 0; i < c->n_files; i++)
    if (ensure_copy (op, c->files[i].src, c->files[i].dst, c->files[i].mode,
                     c->files[i].owner, ch, err) < 0)
      return -1;
  if (firstboot (op, c, ch, err) < 0)
    return -1;
  if (c->hostname && c->hostname[0] && hostname (op, c->hostname, ch, err) < 0)
    return -1;
  return 0;
}
