/* modules/guest-linux.c: what a Linux guest needs to boot on virtio
 * (ferry_guest_linux_inject, modules/guest.h), in the order apply does it:
 *
 *   1. VMware tools removed: open-vm-tools / vmware-tools packages purged
 *      with the guest's own dpkg or rpm, then leftover units, enablement
 *      links and files removed (virt-v2v only purges the packages).
 *   2. /etc/fstab and boot loader entries (GRUB defaults and grub.cfg, BLS
 *      entries, legacy menu.lst, /etc/kernel/cmdline) that name /dev/sdX or
 *      /dev/hdX get UUID= of that filesystem (virt-v2v renames them to
 *      /dev/vdX; a UUID survives any later controller change too).
 *   3. LVM: a filter / global_filter in lvm.conf that rejects /dev/vd* gets
 *      an accepting pattern in front; the device cache and the devices
 *      file (which pins PVs to the old disks' IDs) are removed.
 *   4. initramfs: for every installed kernel, the existing initramfs is
 *      listed (on the host: modules/guest-linux-initrd.c); when it lacks
 *      one of virtio_blk, virtio_scsi, virtio_net, virtio_pci that is not
 *      built into the kernel (or carries the LVM devices file removed in
 *      step 3, or a copy of the lvm.conf whose filter step 3 changed), the
 *      modules are added to the tool's
 *      configuration and the guest's own tool rebuilds it inside the
 *      appliance.  An initramfs that already has them is left alone
 *      (virt-v2v always rebuilds: ~15 min under TCG).
 *
 * Each step looks before it writes, so a rerun finds nothing to do. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modules/guest-linux-util.h"
#include "util/cleanup.h"

static const char *const virtio_mods[] = {"virtio_blk", "virtio_scsi",
                                          "virtio_net", "virtio_pci"};
#define N_VIRTIO (sizeof virtio_mods / sizeof virtio_mods[0])

/* ---- 1. VMware tools ---- */

static bool
is_vmware_pkg (const char *name)
{
  return strncmp (name, "open-vm-tools", 13) == 0 ||
         strncmp (name, "vmware-tools", 12) == 0;
}

/* Installed (or config-files) VMware packages from dpkg's status file,
 * space-separated into B. */
static int
dpkg_vmware (guestfs_h *g, struct ferry_lx_buf *b, struct ferry_err *err)
{
  CLEANUP_FREE char *st = NULL;
  char *save = NULL, *stanza;

  if (ferry_lx_read (g, "/var/lib/dpkg/status", &st, NULL, err) < 0)
    return -1;
  /* stanzas are separated by blank lines */
  for (stanza = st; stanza && *stanza;) {
    char *end = strstr (stanza, "\n\n"), *line, *pkg = NULL;
    bool present = false;
    if (end)
      *end = '\0';
    for (line = strtok_r (stanza, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save)) {
      if (strncmp (line, "Package: ", 9) == 0)
        pkg = line + 9;
      else if (strncmp (line, "Status: ", 8) == 0)
        present = strstr (line, " not-installed") == NULL;
    }
    if (pkg && present && is_vmware_pkg (pkg))
      ferry_lx_buf_addf (b, "%s%s", b->len ? " " : "", pkg);
    stanza = end ? end + 2 : NULL;
  }
  return 0;
}

/* Installed VMware packages from the rpm database (inspection reads it
 * without running rpm, so it works on a read-only mount). */
static int
rpm_vmware (const struct ferry_guest_op *op, struct ferry_lx_buf *b)
{
  struct guestfs_application2_list *apps =
      guestfs_inspect_list_applications2 (op->g, op->info->root);
  size_t i;

  if (apps == NULL)
    return 0;
  for (i = 0; i < apps->len; i++)
    if (is_vmware_pkg (apps->val[i].app2_name))
      ferry_lx_buf_addf (b, "%s%s", b->len ? " " : "", apps->val[i].app2_name);
  guestfs_free_application2_list (apps);
  return 0;
}

static const char *const vmware_units[] = {"open-vm-tools.service",
                                           "vmtoolsd.service",
                                           "vmware-tools.service",
                                           "vgauth.service",
                                           "vgauthd.service",
                                           "vmware-vgauth.service",
                                           "vmware-tools-thinprint.service",
                                           "run-vmblock\\x2dfuse.mount",
                                           NULL};
static const char *const vmware_files[] = {"/etc/vmware-tools",
                                           "/usr/bin/vmtoolsd",
                                           "/usr/sbin/vmtoolsd",
                                           "/usr/bin/vmware-toolbox-cmd",
                                           "/usr/bin/vmware-user",
                                           "/usr/bin/vmware-checkvm",
                                           "/etc/init.d/vmware-tools",
                                           "/etc/init.d/open-vm-tools",
                                           NULL};

/* Every leftover path that exists, NUL-separated list in B. */
static void
vmware_leftovers (guestfs_h *g, struct ferry_lx_buf *b)
{
  static const char *const unitdirs[] = {"/etc/systemd/system",
                                         "/usr/lib/systemd/system",
                                         "/lib/systemd/system", NULL};
  char **wants = ferry_lx_glob (g, "/etc/systemd/system", ".wants");
  size_t i, j;

  for (i = 0; vmware_files[i]; i++)
    if (ferry_lx_exists (g, vmware_files[i]))
      ferry_lx_buf_add (b, vmware_files[i], strlen (vmware_files[i]) + 1);
  /* merged /usr: /lib/systemd is /usr/lib/systemd */
  bool merged = guestfs_is_symlink (g, "/lib") > 0;

  for (j = 0; vmware_units[j]; j++) {
    for (i = 0; unitdirs[i]; i++) {
      if (merged && strncmp (unitdirs[i], "/lib/", 5) == 0)
        continue;
      CLEANUP_FREE char *p = NULL;
      if (asprintf (&p, "%s/%s", unitdirs[i], vmware_units[j]) >= 0 &&
          ferry_lx_exists (g, p))
        ferry_lx_buf_add (b, p, strlen (p) + 1);
    }
    for (i = 0; wants && wants[i]; i++) {
      CLEANUP_FREE char *p = NULL;
      if (asprintf (&p, "%s/%s", wants[i], vmware_units[j]) >= 0 &&
          ferry_lx_exists (g, p))
        ferry_lx_buf_add (b, p, strlen (p) + 1);
    }
  }
  ferry_lx_strv_free (wants);
}

/* Is PATH listed in one of dpkg's file lists of PKGS (so the purge removes
 * it)? */
static bool
dpkg_owned (guestfs_h *g, const char *pkgs, const char *path)
{
  CLEANUP_FREE char *list = strdup (pkgs);
  char *save = NULL, *p;
  size_t pl = strlen (path);

  for (p = list ? strtok_r (list, " ", &save) : NULL; p;
       p = strtok_r (NULL, " ", &save)) {
    static const char *const fmts[] = {"/var/lib/dpkg/info/%s.list",
                                       "/var/lib/dpkg/info/%s:amd64.list"};
    size_t k;
    for (k = 0; k < 2; k++) {
      CLEANUP_FREE char *lf = NULL, *text = NULL;
      struct ferry_err e = {0};
      const char *h;
      if (asprintf (&lf, fmts[k], p) < 0 ||
          ferry_lx_read (g, lf, &text, NULL, &e) < 0 || text == NULL)
        continue;
      for (h = strstr (text, path); h; h = strstr (h + 1, path))
        if ((h == text || h[-1] == '\n') && (h[pl] == '\n' || h[pl] == '\0'))
          return true;
    }
  }
  return false;
}

/* Step 1: purge the packages, then remove the leftovers. */
static int
vmware (struct ferry_guest_op *op, struct ferry_changes *ch,
        struct ferry_err *err)
{
  guestfs_h *g = op->g;
  const char *fmt = op->info->package_format ? op->info->package_format : "";
  struct ferry_lx_buf pkgs = {0}, left = {0};
  const char *p;
  int rc = -1;

  if (strcmp (fmt, "deb") == 0) {
    if (dpkg_vmware (g, &pkgs, err) < 0)
      goto out;
  } else if (strcmp (fmt, "rpm") == 0)
    rpm_vmware (op, &pkgs);
  if (pkgs.len) {
    ferry_changes_add (ch, "packages %s: %s", pkgs.s,
                       strcmp (fmt, "deb") == 0 ? "dpkg --purge" : "rpm -e");
    if (op->apply) {
      const char *argv[64];
      size_t n = 0;
      char *save = NULL, *w;
      if (strcmp (fmt, "deb") == 0) {
        argv[n++] = "dpkg";
        argv[n++] = "--purge";
      } else {
        argv[n++] = "rpm";
        argv[n++] = "-e";
        argv[n++] = "--nodeps";
      }
      for (w = strtok_r (pkgs.s, " ", &save); w && n < 62;
           w = strtok_r (NULL, " ", &save))
        argv[n++] = w;
      argv[n] = NULL;
      if (ferry_lx_run (g, "removing the VMware tools packages", argv, err) < 0)
        goto out;
      free (pkgs.s);
      pkgs = (struct ferry_lx_buf){0};
    }
  }
  vmware_leftovers (g, &left);
  for (p = left.s; p && p < left.s + left.len; p += strlen (p) + 1) {
    if (pkgs.len && strcmp (fmt, "deb") == 0 && dpkg_owned (g, pkgs.s, p))
      continue; /* the purge removes it */
    ferry_changes_add (ch, "remove %s (VMware tools)", p);
    if (op->apply && guestfs_rm_rf (g, p) < 0) {
      ferry_err_set (err, 0, "cannot remove '%s': %s", p,
                     ferry_gfs_last_error (g));
      goto out;
    }
  }
  rc = 0;
out:
  free (pkgs.s);
  free (left.s);
  return rc;
}

/* ---- 2. fstab and boot loader ---- */

/* Step 2: fstab specs /dev/sdXN and /dev/hdXN become UUID=. */
static int
fstab (struct ferry_guest_op *op, struct ferry_changes *ch,
       struct ferry_err *err)
{
  CLEANUP_FREE char *text = NULL;
  struct ferry_lx_buf b = {0};
  const char *line, *next;
  bool changed = false;
  int rc = 0;

  if (ferry_lx_read (op->g, "/etc/fstab", &text, NULL, err) < 0)
    return -1;
  if (text == NULL)
    return 0;
  for (line = text; *line; line = next) {
    const char *s = line + strspn (line, " \t"), *e;
    next = strchr (line, '\n');
    next = next ? next + 1 : line + strlen (line);
    e = s + strcspn (s, " \t\n");
    if (*s != '#' && ferry_lx_is_sd_name (s, (size_t) (e - s))) {
      CLEANUP_FREE char *spec = ferry_lx_uuid_spec (op->g, s, (size_t) (e - s));
      if (spec) {
        ferry_changes_add (ch, "/etc/fstab: %.*s -> %s", (int) (e - s), s,
                           spec);
        ferry_lx_buf_add (&b, line, (size_t) (s - line));
        ferry_lx_buf_add (&b, spec, strlen (spec));
        ferry_lx_buf_add (&b, e, (size_t) (next - e));
        changed = true;
        continue;
      }
    }
    ferry_lx_buf_add (&b, line, (size_t) (next - line));
  }
  if (b.oom)
    rc = ferry_err_set (err, ENOMEM, "out of memory");
  else if (changed && op->apply)
    rc = ferry_lx_write (op->g, "/etc/fstab", b.s, err);
  free (b.s);
  return rc;
}

/* root= / resume= in one boot loader file. */
static int
bootloader_file (struct ferry_guest_op *op, const char *path,
                 struct ferry_changes *ch, struct ferry_err *err)
{
  CLEANUP_FREE char *text = NULL, *out = NULL;

  if (ferry_lx_read (op->g, path, &text, NULL, err) < 0)
    return -1;
  if (text == NULL)
    return 0;
  out = ferry_lx_rewrite_cmdline (op->g, path, text, ch);
  if (out && op->apply)
    return ferry_lx_write (op->g, path, out, err);
  return 0;
}

/* Step 2: every boot loader file that may hold a kernel command line. */
static int
bootloader (struct ferry_guest_op *op, struct ferry_changes *ch,
            struct ferry_err *err)
{
  static const char *const files[] = {
      "/etc/default/grub",   "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg",
      "/boot/grub/menu.lst", "/etc/kernel/cmdline", NULL};
  char **bls = ferry_lx_glob (op->g, "/boot/loader/entries", ".conf");
  size_t i;
  int rc = 0;

  for (i = 0; files[i] && rc == 0; i++)
    rc = bootloader_file (op, files[i], ch, err);
  for (i = 0; bls && bls[i] && rc == 0; i++)
    rc = bootloader_file (op, bls[i], ch, err);
  ferry_lx_strv_free (bls);
  return rc;
}

/* ---- 3. LVM ---- */

/* Does pattern list entry S ("a|re|" or "r|re|", unquoted) match NAME?
 * 1 accept, -1 reject, 0 no match or not understood. */
static int
lvm_pattern (const char *s, size_t len, const char *name)
{
  CLEANUP_FREE char *re = NULL;
  const char *end;
  regex_t rx;
  int m;

  if (len < 3 || (s[0] != 'a' && s[0] != 'r'))
    return 0;
  end = s + len - 1;
  while (end > s + 1 && *end != s[1])
    end--;
  if (end <= s + 1)
    return 0;
  re = strndup (s + 2, (size_t) (end - s - 2));
  if (re == NULL || regcomp (&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
    return 0;
  m = regexec (&rx, name, 0, NULL, 0) == 0;
  regfree (&rx);
  return m ? (s[0] == 'a' ? 1 : -1) : 0;
}

/* Rewrite every active filter / global_filter of lvm.conf TEXT that
 * rejects /dev/vda or /dev/vda1.  Returns the new text or NULL. */
static char *
lvm_conf_fix (const char *text, const char *file, struct ferry_changes *ch)
{
  struct ferry_lx_buf b = {0};
  const char *p = text, *copied = text;
  bool changed = false;

  while (*p) {
    const char *s = p + strspn (p, " \t"), *q = s, *nl;
    size_t kl = 0;
    nl = strchr (p, '\n');
    if (strncmp (s, "global_filter", 13) == 0)
      kl = 13;
    else if (strncmp (s, "filter", 6) == 0)
      kl = 6;
    q = s + kl;
    q += strspn (q, " \t");
    if (kl && *q == '=') {
      const char *lb = strchr (q, '['), *r;
      int verdict[2] = {0, 0};
      static const char *const names[] = {"/dev/vda", "/dev/vda1"};
      if (lb == NULL)
        break;
      /* walk the strings of the list up to its closing bracket */
      for (r = lb + 1; *r && *r != ']'; r++) {
        if (*r == '"') {
          const char *e = r + 1;
          size_t k;
          while (*e && *e != '"') {
            if (*e == '\\' && e[1])
              e++;
            e++;
          }
          for (k = 0; k < 2; k++)
            if (verdict[k] == 0)
              verdict[k] = lvm_pattern (r + 1, (size_t) (e - r - 1), names[k]);
          r = *e ? e : e - 1;
        }
      }
      if (verdict[0] < 0 || verdict[1] < 0) {
        ferry_changes_add (ch, "%s: %.*s accepts /dev/vd*", file, (int) kl, s);
        ferry_lx_buf_add (&b, copied, (size_t) (lb + 1 - copied));
        ferry_lx_buf_add (&b, " \"a|^/dev/vd.*|\",", 17);
        copied = lb + 1;
        changed = true;
      }
      nl = strchr (*r ? r : r - 1, '\n');
    }
    p = nl ? nl + 1 : p + strlen (p);
  }
  ferry_lx_buf_add (&b, copied, strlen (copied));
  if (!changed || b.oom) {
    free (b.s);
    return NULL;
  }
  return b.s;
}

/* Step 3: the filter, then the stale caches; *RET_CHANGED when the
 * filter needed a change (initramfs copies of lvm.conf are then stale). */
static int
lvm (struct ferry_guest_op *op, struct ferry_changes *ch, bool *ret_changed,
     struct ferry_err *err)
{
  static const char *const stale[] = {
      "/etc/lvm/cache/.cache", "/etc/lvm/devices/system.devices",
      "/etc/blkid/blkid.tab", "/etc/blkid.tab", NULL};
  CLEANUP_FREE char *text = NULL, *out = NULL;
  size_t i;

  if (ferry_lx_read (op->g, "/etc/lvm/lvm.conf", &text, NULL, err) < 0)
    return -1;
  if (text)
    out = lvm_conf_fix (text, "/etc/lvm/lvm.conf", ch);
  *ret_changed = out != NULL;
  if (out && op->apply &&
      ferry_lx_write (op->g, "/etc/lvm/lvm.conf", out, err) < 0)
    return -1;
  for (i = 0; stale[i]; i++) {
    if (!ferry_lx_exists (op->g, stale[i]))
      continue;
    ferry_changes_add (ch, "remove %s (names the old disks)", stale[i]);
    if (op->apply && guestfs_rm_f (op->g, stale[i]) < 0)
      return ferry_err_set (err, 0, "cannot remove '%s': %s", stale[i],
                            ferry_gfs_last_error (op->g));
  }
  return 0;
}

/* ---- 4. initramfs ---- */

/* The initramfs of kernel V that exists, or NULL (caller frees). */
static char *
initrd_path (guestfs_h *g, const char *v)
{
  const struct guestfs_is_file_opts_argv follow_symlinks = {
      .bitmask = GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS_BITMASK,
      .followsymlinks = 1};
  static const char *const fmts[] = {
      "/boot/initrd.img-%s", "/boot/initramfs-%s.img", "/boot/initrd-%s.img",
      "/boot/initrd-%s", NULL};
  size_t i;

  for (i = 0; fmts[i]; i++) {
    char *p = NULL;
    if (asprintf (&p, fmts[i], v) < 0)
      return NULL;
    if (guestfs_is_file_opts_argv (g, p, &follow_symlinks) > 0)
      return p;
    free (p);
  }
  return NULL;
}

/* Mark in HAVE the virtio modules named by module path NAME
 * ("usr/lib/modules/V/kernel/drivers/block/virtio_blk.ko.zst"). */
static void
mark_module (const char *name, bool *have)
{
  const char *base = strrchr (name, '/');
  char m[64];
  size_t i, n;

  base = base ? base + 1 : name;
  n = strcspn (base, ".");
  if (strstr (base, ".ko") == NULL || n >= sizeof m)
    return;
  for (i = 0; i < n; i++)
    m[i] = base[i] == '-' ? '_' : base[i];
  m[n] = '\0';
  for (i = 0; i < N_VIRTIO; i++)
    if (strcmp (m, virtio_mods[i]) == 0)
      have[i] = true;
}

/* Kernel V's initramfs: sets HAVE[] (in it or built in), *RET_NAMES its
 * file names and *RET_PATH its path (both NULL when there is none). */
static int
initrd_look (guestfs_h *g, const char *v, bool *have, char ***ret_names,
             char **ret_path, struct ferry_err *err)
{
  CLEANUP_FREE char *builtin_path = NULL, *builtin = NULL, *path = NULL;
  char tmp[] = "/var/tmp/ferry-initrd.XXXXXX";
  char **names = NULL;
  const char *b;
  size_t i;
  int fd, rc;

  if (asprintf (&builtin_path, "/lib/modules/%s/modules.builtin", v) < 0 ||
      ferry_lx_read (g, builtin_path, &builtin, NULL, err) < 0)
    return -1;
  for (b = builtin; b && *b;
       b += strcspn (b, "\n") + (b[strcspn (b, "\n")] != 0)) {
    char line[512];
    size_t l = strcspn (b, "\n");
    if (l < sizeof line) {
      memcpy (line, b, l);
      line[l] = '\0';
      mark_module (line, have);
    }
  }
  *ret_names = NULL;
  path = initrd_path (g, v);
  if (path == NULL) {
    *ret_path = NULL;
    return 0;
  }
  fd = mkstemp (tmp);
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot create '%s'", tmp);
  close (fd);
  if (guestfs_download (g, path, tmp) < 0) {
    unlink (tmp);
    return ferry_err_set (err, 0, "cannot download '%s': %s", path,
                          ferry_gfs_last_error (g));
  }
  rc = ferry_lx_initrd_list (tmp, &names, err);
  unlink (tmp);
  if (rc < 0)
    return -1;
  for (i = 0; names[i]; i++)
    mark_module (names[i], have);
  *ret_names = names;
  *ret_path = TAKE_PTR (path);
  return 0;
}

/* Add the virtio modules to the initramfs tool's configuration. */
static int
initramfs_config (struct ferry_guest_op *op, const char *tool,
                  struct ferry_changes *ch, struct ferry_err *err)
{
  if (strcmp (tool, "update-initramfs") == 0) {
    const char *f = "/etc/initramfs-tools/modules";
    CLEANUP_FREE char *text = NULL;
    struct ferry_lx_buf b = {0};
    size_t i;
    int rc = 0;
    if (ferry_lx_read (op->g, f, &text, NULL, err) < 0)
      return -1;
    ferry_lx_buf_add (&b, text ? text : "", text ? strlen (text) : 0);
    if (b.len && b.s[b.len - 1] != '\n')
      ferry_lx_buf_add (&b, "\n", 1);
    for (i = 0; i < N_VIRTIO; i++) {
      const char *h;
      size_t ml = strlen (virtio_mods[i]);
      bool listed = false;
      for (h = text ? strstr (text, virtio_mods[i]) : NULL; h && !listed;
           h = strstr (h + 1, virtio_mods[i]))
        listed =
            (h == text || h[-1] == '\n') && strchr (" \t\n", h[ml]) != NULL;
      if (!listed) {
        ferry_changes_add (ch, "%s: add %s", f, virtio_mods[i]);
        ferry_lx_buf_addf (&b, "%s\n", virtio_mods[i]);
      }
    }
    if (b.oom)
      rc = ferry_err_set (err, ENOMEM, "out of memory");
    else if (op->apply && (text == NULL || strcmp (text, b.s) != 0))
      rc = ferry_lx_mkdir_p (op->g, "/etc/initramfs-tools", err) < 0 ||
                   ferry_lx_write (op->g, f, b.s, err) < 0
               ? -1
               : 0;
    free (b.s);
    return rc;
  }
  if (strcmp (tool, "dracut") == 0) {
    const char *f = "/etc/dracut.conf.d/ferry-virtio.conf";
    const char *want = "# added by ferry: boot on KVM virtio\n"
                       "add_drivers+=\" virtio_blk virtio_scsi virtio_net "
                       "virtio_pci \"\n";
    CLEANUP_FREE char *text = NULL;
    if (ferry_lx_read (op->g, f, &text, NULL, err) < 0)
      return -1;
    if (text && strcmp (text, want) == 0)
      return 0;
    ferry_changes_add (ch, "%s: %s", f, text ? "update" : "create");
    if (op->apply && (ferry_lx_mkdir_p (op->g, "/etc/dracut.conf.d", err) < 0 ||
                      ferry_lx_write (op->g, f, want, err) < 0))
      return -1;
  }
  return 0; /* mkinitrd: the modules go on its command line */
}

/* Rebuild kernel V's initramfs (PATH, or NULL to create one) with TOOL. */
static int
initramfs_build (struct ferry_guest_op *op, const char *tool, const char *v,
                 const char *path, struct ferry_err *err)
{
  CLEANUP_FREE char *dflt = NULL;
  const char *argv[16];
  size_t n = 0, i;

  if (strcmp (tool, "update-initramfs") == 0) {
    argv[n++] = "update-initramfs";
    argv[n++] = path ? "-u" : "-c";
    argv[n++] = "-k";
    argv[n++] = v;
  } else {
    if (path == NULL &&
        asprintf (&dflt,
                  strcmp (tool, "dracut") == 0 ? "/boot/initramfs-%s.img"
                                               : "/boot/initrd-%s.img",
                  v) < 0)
      return ferry_err_set (err, ENOMEM, "out of memory");
    argv[n++] = tool;
    argv[n++] = "-f";
    if (strcmp (tool, "mkinitrd") == 0)
      for (i = 0; i < N_VIRTIO; i++)
        argv[n++] =
            strcmp (virtio_mods[i], "virtio_blk") == 0    ? "--with=virtio_blk"
            : strcmp (virtio_mods[i], "virtio_scsi") == 0 ? "--with=virtio_scsi"
            : strcmp (virtio_mods[i], "virtio_net") == 0  ? "--with=virtio_net"
                                                          : "--with=virtio_pci";
    argv[n++] = path ? path : dflt;
    argv[n++] = v;
  }
  argv[n] = NULL;
  return ferry_lx_run (op->g, tool, argv, err);
}

/* Is NAME in the NULL-terminated list V? */
static bool
listed (char *const *v, const char *name)
{
  size_t i;

  for (i = 0; v && v[i]; i++)
    if (strcmp (v[i], name) == 0)
      return true;
  return false;
}

/* Does the initramfs name NICs itself (it carries udev's default .link)?
 * Then it must carry ferry's .link files too: udev does not rename an
 * interface the initramfs already renamed. */
static bool
names_nics (char *const *v)
{
  size_t i;

  for (i = 0; v && v[i]; i++) {
    size_t l = strlen (v[i]);
    if (l >= 31 &&
        strcmp (v[i] + l - 31, "systemd/network/99-default.link") == 0)
      return true;
  }
  return false;
}

/* Was the initramfs PATH (guest path, may be NULL) written before the
 * file REL (guest path without its leading '/')?  True when unknown. */
static bool
built_before (guestfs_h *g, const char *path, const char *rel)
{
  struct guestfs_statns *a, *b;
  CLEANUP_FREE char *abs = NULL;
  bool r = true;

  if (path == NULL || asprintf (&abs, "/%s", rel) < 0)
    return true;
  a = guestfs_statns (g, path);
  b = guestfs_statns (g, abs);
  if (a && b)
    r = a->st_mtime_sec < b->st_mtime_sec ||
        (a->st_mtime_sec == b->st_mtime_sec &&
         a->st_mtime_nsec < b->st_mtime_nsec);
  if (a)
    guestfs_free_statns (a);
  if (b)
    guestfs_free_statns (b);
  return r;
}

/* Step 4: look at each kernel's initramfs; configure the tool once and
 * rebuild those that need it. */
int
ferry_lx_initramfs (struct ferry_guest_op *op, bool lvm_changed,
                    char *const *links, struct ferry_changes *ch,
                    struct ferry_err *err)
{
  const char *tool = op->info->initramfs_tool ? op->info->initramfs_tool : "";
  char **own = NULL;
  bool configured = false;
  size_t k, i, n = 0;
  int rc = -1;

  if (links == NULL) {
    /* inject: the .link files the network operation wrote */
    char **all = ferry_lx_glob (op->g, "/etc/systemd/network", ".link");
    for (i = 0; all && all[i]; i++)
      ;
    own = calloc (i + 1, sizeof *own);
    for (i = 0; own && all && all[i]; i++)
      if (strncmp (all[i], "/etc/systemd/network/10-ferry-", 30) == 0 &&
          (own[n] = strdup (all[i] + 1)) != NULL)
        n++;
    ferry_lx_strv_free (all);
    if (own == NULL)
      return ferry_err_set (err, ENOMEM, "out of memory");
  }
  for (k = 0; k < op->info->n_kernels; k++) {
    const char *v = op->info->kernels[k];
    CLEANUP_FREE char *path = NULL;
    char **names = NULL;
    bool have[N_VIRTIO] = {false}, links_missing = false;
    struct ferry_lx_buf why = {0};

    if (initrd_look (op->g, v, have, &names, &path, err) < 0)
      goto out;
    /* a .link file the initramfs lacks matters only if the initramfs was
     * built before it: once rebuilt with the guest's own tool, what that
     * tool packs is all there is to have (Debian 12's does not pack
     * /etc/systemd/network; the real boot test shows the name kept) */
    if (names_nics (names))
      for (i = 0; (links ? links : own)[i]; i++)
        if (!listed (names, (links ? links : own)[i]) &&
            built_before (op->g, path, (links ? links : own)[i]))
          links_missing = true;
    if (links == NULL) {
      for (i = 0; i < N_VIRTIO; i++)
        if (!have[i])
          ferry_lx_buf_addf (&why, "%s%s", why.len ? ", " : "missing ",
                             virtio_mods[i]);
      if (path == NULL)
        ferry_lx_buf_addf (&why, "%sno initramfs", why.len ? "; " : "");
      if (listed (names, "etc/lvm/devices/system.devices"))
        ferry_lx_buf_addf (&why, "%sLVM devices file inside",
                           why.len ? "; " : "");
      if (lvm_changed && listed (names, "etc/lvm/lvm.conf"))
        ferry_lx_buf_addf (&why, "%sold lvm.conf inside", why.len ? "; " : "");
    }
    if (links_missing)
      ferry_lx_buf_addf (&why, "%sNIC names of ferry's .link files",
                         why.len ? "; " : "");
    ferry_lx_strv_free (names);
    if (why.len == 0)
      continue;
    if (strcmp (tool, "update-initramfs") != 0 &&
        strcmp (tool, "dracut") != 0 && strcmp (tool, "mkinitrd") != 0) {
      ferry_err_set (err, 0,
                     "the initramfs of kernel '%s' needs rebuilding (%s) and "
                     "the guest has no update-initramfs, dracut or mkinitrd",
                     v, why.s ? why.s : "");
      free (why.s);
      goto out;
    }
    if (!configured && links == NULL) {
      if (initramfs_config (op, tool, ch, err) < 0) {
        free (why.s);
        goto out;
      }
      configured = true;
    }
    ferry_changes_add (ch, "initramfs %s: rebuild with %s (%s)",
                       path ? path : v, tool, why.s ? why.s : "");
    free (why.s);
    if (op->apply && initramfs_build (op, tool, v, path, err) < 0)
      goto out;
  }
  rc = 0;
out:
  ferry_lx_strv_free (own);
  return rc;
}

/* The four steps in order (see the head of this file). */
int
ferry_guest_linux_inject (struct ferry_guest_op *op, struct ferry_changes *ch,
                          struct ferry_err *err)
{
  bool lvm_changed = false;

  if (vmware (op, ch, err) < 0 || fstab (op, ch, err) < 0 ||
      bootloader (op, ch, err) < 0 || lvm (op, ch, &lvm_changed, err) < 0 ||
      ferry_lx_initramfs (op, lvm_changed, NULL, ch, err) < 0)
    return -1;
  return 0;
}
