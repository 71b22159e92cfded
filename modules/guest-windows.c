/* modules/guest-windows.c: VirtIO drivers for a Windows guest
 * (ferry_guest_win_inject, modules/guest.h), as virt-v2v 2.2 writes them
 * (docs/guest-windows.md has every key and file, and where ferry differs).
 *
 * 1. The drivers: every file under customize.virtio_drivers whose path has
 *    a directory named for the guest's release (2k19, 2k8r2, w10, ...) and
 *    one named for its arch (amd64, x86), copied flattened and lower-cased
 *    to %SystemRoot%\Drivers\VirtIO; viostor.sys also to
 *    System32\drivers, where the boot loader finds it.
 * 2. SYSTEM (control set from Select\Current): Services\viostor as a boot
 *    driver, the PCI ids of virtio-blk bound to it (CriticalDeviceDatabase
 *    when SYSTEM\DriverDatabase is absent, else DriverDatabase entries),
 *    CrashControl\AutoReboot=0 when that key exists.
 * 3. First boot (ferry's folder, modules/guest-windows-files.c): pnputil
 *    installs the copied packages; VMware Tools is uninstalled through its
 *    MSI uninstall entry. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "modules/guest-windows.h"
#include "plan/plan.h"
#include "util/cleanup.h"

#define VIRTIO_DEFAULT_DIR "/usr/share/virtio-win"
#define STORAGE_CLASS "{4D36E97B-E325-11CE-BFC1-08002BE10318}"

/* virtio-blk, legacy and modern (virtio 1.0) */
static const char *const pci_ids[] = {
    "VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00",
    "VEN_1AF4&DEV_1042&SUBSYS_11001AF4&REV_01",
};

/* A driver file found for the guest. */
struct drv_file {
  char *rel;  /* path below the driver directory, lower case */
  char *src;  /* host path */
  char *name; /* lower-cased base name */
};

struct drv_list {
  struct drv_file *v;
  size_t n;
  const char *const *os; /* release directory names, best first */
  const char *arch;      /* arch directory name */
  const char *arch2;     /* another spelling, or NULL */
};

/* Free L's files. */
static void
drv_list_clear (struct drv_list *l)
{
  size_t i;

  for (i = 0; i < l->n; i++) {
    free (l->v[i].rel);
    free (l->v[i].src);
    free (l->v[i].name);
  }
  free (l->v);
  l->v = NULL;
  l->n = 0;
}

/* The names of the virtio-win directories for INFO's release, best
 * first; NULL when ferry knows none. */
const char *const *
ferry_win_release_dirs (const struct ferry_guest_info *info)
{
  static const char
      *const w7[] = {"w7", NULL},
             *const k8r2[] = {"2k8r2", NULL}, *const vista[] = {"vista", NULL},
             *const k8[] = {"2k8", NULL}, *const w8[] = {"w8", NULL},
             *const k12[] = {"2k12", NULL}, *const w81[] = {"w8.1", NULL},
             *const k12r2[] = {"2k12r2", NULL}, *const w10[] = {"w10", NULL},
             *const w11[] = {"w11", "w10", NULL}, *const k16[] = {"2k16", NULL},
             *const k19[] = {"2k19", NULL}, *const k22[] = {"2k22", NULL},
             *const k25[] = {"2k25", "2k22", NULL};
  bool server = info->variant && strcasecmp (info->variant, "Server") == 0;

  if (info->major == 6 && info->minor == 0)
    return server ? k8 : vista;
  if (info->major == 6 && info->minor == 1)
    return server ? k8r2 : w7;
  if (info->major == 6 && info->minor == 2)
    return server ? k12 : w8;
  if (info->major == 6 && info->minor == 3)
    return server ? k12r2 : w81;
  if (info->major == 10 && info->minor == 0) {
    if (!server)
      return info->build >= 22000 ? w11 : w10;
    if (info->build >= 26100)
      return k25;
    if (info->build >= 20348)
      return k22;
    if (info->build >= 17763)
      return k19;
    return k16;
  }
  return NULL;
}

/* Does lower-case relative path REL have a directory named NAME? */
static bool
has_dir (const char *rel, const char *name)
{
  size_t n = strlen (name);
  const char *p = rel;

  while ((p = strstr (p, name)) != NULL) {
    if ((p == rel || p[-1] == '/') && p[n] == '/')
      return true;
    p++;
  }
  return false;
}

/* Add the files below DIR (REL is its path below the top, "" at the top)
 * that match L's release OS and arch. */
static int
scan (struct drv_list *l, const char *dir, const char *rel, const char *os,
      unsigned depth, struct ferry_err *err)
{
  DIR *d;
  struct dirent *e;
  int rc = 0;

  if (depth > 16)
    return 0;
  d = opendir (dir);
  if (d == NULL)
    return ferry_err_set (err, errno, "cannot read directory '%s'", dir);
  while (rc == 0 && (e = readdir (d)) != NULL) {
    CLEANUP_FREE char *path = NULL, *r = NULL;
    struct stat st;
    char *p;

    if (e->d_name[0] == '.')
      continue;
    if (asprintf (&path, "%s/%s", dir, e->d_name) < 0 ||
        asprintf (&r, "%s%s", rel, e->d_name) < 0) {
      rc = ferry_err_set (err, errno, "cannot allocate memory");
      break;
    }
    if (stat (path, &st) < 0)
      continue;
    for (p = r; *p; p++)
      *p = (char) tolower ((unsigned char) *p);
    if (S_ISDIR (st.st_mode)) {
      CLEANUP_FREE char *sub = NULL;
      if (asprintf (&sub, "%s/", r) < 0)
        rc = ferry_err_set (err, errno, "cannot allocate memory");
      else
        rc = scan (l, path, sub, os, depth + 1, err);
    } else if (S_ISREG (st.st_mode) && has_dir (r, os) &&
               (has_dir (r, l->arch) || (l->arch2 && has_dir (r, l->arch2)))) {
      struct drv_file *nv = realloc (l->v, (l->n + 1) * sizeof *nv);
      if (nv == NULL) {
        rc = ferry_err_set (err, errno, "cannot allocate memory");
        break;
      }
      l->v = nv;
      nv[l->n].rel = TAKE_PTR (r);
      nv[l->n].src = TAKE_PTR (path);
      nv[l->n].name = strdup (strrchr (nv[l->n].rel, '/') + 1);
      if (nv[l->n].name == NULL) {
        free (nv[l->n].rel);
        free (nv[l->n].src);
        rc = ferry_err_set (err, errno, "cannot allocate memory");
        break;
      }
      l->n++;
    }
  }
  closedir (d);
  return rc;
}

static int
cmp_rel (const void *a, const void *b)
{
  return strcmp (((const struct drv_file *) a)->rel,
                 ((const struct drv_file *) b)->rel);
}

/* The driver files for OP's guest from DIR: sorted, one per base name
 * (the first in path order), with a viostor.sys among them. */
static int
select_drivers (struct ferry_guest_op *op, const char *dir, struct drv_list *l,
                struct ferry_err *err)
{
  const struct ferry_guest_info *info = op->info;
  struct stat st;
  size_t i, j, k;
  bool viostor = false;

  if (stat (dir, &st) < 0)
    return ferry_err_set (err, errno, "cannot use VirtIO drivers '%s'", dir);
  if (!S_ISDIR (st.st_mode))
    return ferry_err_set (
        err, 0,
        "VirtIO drivers '%s' is not a directory: ISO images are not "
        "supported yet, unpack it (bsdtar -xf ISO -C DIR) and name the "
        "directory in customize.virtio_drivers",
        dir);
  l->os = ferry_win_release_dirs (info);
  if (info->arch && strcmp (info->arch, "x86_64") == 0)
    l->arch = "amd64";
  else if (info->arch && strcmp (info->arch, "i386") == 0)
    l->arch = "x86", l->arch2 = "i386";
  if (l->os == NULL || l->arch == NULL)
    return ferry_err_set (err, 0,
                          "no VirtIO drivers known for Windows %d.%d %s "
                          "build %u arch '%s'",
                          info->major, info->minor,
                          info->variant ? info->variant : "", info->build,
                          info->arch ? info->arch : "");
  for (i = 0; l->os[i] && l->n == 0; i++)
    if (scan (l, dir, "", l->os[i], 0, err) < 0)
      return -1;
  if (l->n == 0)
    return ferry_err_set (err, 0,
                          "no VirtIO drivers for this guest (Windows %d.%d "
                          "%s build %u, %s) in '%s': looked for files in "
                          "directories '%s' and '%s'",
                          info->major, info->minor,
                          info->variant ? info->variant : "", info->build,
                          info->arch, dir, l->os[0], l->arch);
  qsort (l->v, l->n, sizeof *l->v, cmp_rel);
  for (i = 0, k = 0; i < l->n; i++) {
    bool dup = false;
    for (j = 0; j < k && !dup; j++)
      dup = strcmp (l->v[j].name, l->v[i].name) == 0;
    if (dup) {
      free (l->v[i].rel);
      free (l->v[i].src);
      free (l->v[i].name);
      continue;
    }
    l->v[k++] = l->v[i];
    viostor = viostor || strcmp (l->v[i].name, "viostor.sys") == 0;
  }
  l->n = k;
  if (!viostor)
    return ferry_err_set (err, 0,
                          "VirtIO drivers '%s' have no viostor.sys for "
                          "this guest (directories '%s' and '%s'): the "
                          "converted guest could not find its boot disk",
                          dir, l->os[0], l->arch);
  return 0;
}

/* The GUID of the VMware Tools MSI from SOFTWARE's Uninstall entries
 * ("MsiExec.exe /I{GUID}"), into *RET (caller frees; NULL when none). */
static int
vmware_tools_guid (struct ferry_guest_op *op, char **ret, struct ferry_err *err)
{
  struct ferry_changes none = {0};
  struct ferry_guest_op ro = *op;
  struct ferry_winreg r;
  struct guestfs_hivex_node_list *kids;
  int64_t u;
  size_t i;

  *ret = NULL;
  ro.apply = false;
  if (ferry_winreg_open (&r, &ro, "SOFTWARE", &none, err) < 0)
    return -1;
  u = ferry_winreg_find (&r, "Microsoft\\Windows\\CurrentVersion\\Uninstall",
                         err);
  if (u < 0) {
    ferry_winreg_abort (&r);
    return -1;
  }
  kids = u > 0 ? guestfs_hivex_node_children (op->g, u) : NULL;
  for (i = 0; kids && i < kids->len && *ret == NULL; i++) {
    int64_t n = kids->val[i].hivex_node_h;
    CLEANUP_FREE char *name = ferry_winreg_get_str (&r, n, "DisplayName");
    CLEANUP_FREE char *un = ferry_winreg_get_str (&r, n, "UninstallString");
    const char *g;

    if (name == NULL || strstr (name, "VMware Tools") == NULL || un == NULL ||
        strncasecmp (un, "MsiExec.exe ", 12) != 0)
      continue;
    g = strchr (un, '{');
    if (g && (g[-1] == 'I' || g[-1] == 'i' || g[-1] == 'X' || g[-1] == 'x') &&
        strlen (g) >= 38 && g[37] == '}')
      *ret = strndup (g, 38);
  }
  if (kids)
    guestfs_free_hivex_node_list (kids);
  ferry_winreg_abort (&r);
  return 0;
}

/* The SYSTEM hive's changes (parity.md §1-§3). */
static int
system_hive (struct ferry_winreg *r, const char *ccs, struct ferry_err *err)
{
  CLEANUP_FREE char *crash = NULL, *svc = NULL;
  int64_t n, ddb;
  size_t i;

  if (asprintf (&crash, "%s\\Control\\CrashControl", ccs) < 0 ||
      asprintf (&svc, "%s\\Services\\viostor", ccs) < 0)
    return ferry_err_set (err, errno, "cannot allocate memory");
  n = ferry_winreg_find (r, crash, err);
  if (n < 0 ||
      (n > 0 && ferry_winreg_set_dword (r, n, crash, "AutoReboot", 0, err) < 0))
    return -1;
  n = ferry_winreg_key (r, svc, err);
  if (n < 0 || ferry_winreg_set_dword (r, n, svc, "Type", 1, err) < 0 ||
      ferry_winreg_set_dword (r, n, svc, "Start", 0, err) < 0 ||
      ferry_winreg_set_str (r, n, svc, "Group", FERRY_REG_SZ, "SCSI miniport",
                            false, err) < 0 ||
      ferry_winreg_set_dword (r, n, svc, "ErrorControl", 1, err) < 0 ||
      ferry_winreg_set_str (r, n, svc, "ImagePath", FERRY_REG_EXPAND_SZ,
                            "system32\\drivers\\viostor.sys", false, err) < 0)
    return -1;
  ddb = ferry_winreg_find (r, "DriverDatabase", err);
  if (ddb < 0)
    return -1;
  if (ddb == 0) {
    /* Windows <= 7 / 2008 R2: the critical device database */
    for (i = 0; i < 2; i++) {
      CLEANUP_FREE char *k = NULL;
      if (asprintf (&k, "%s\\Control\\CriticalDeviceDatabase\\PCI#%s", ccs,
                    pci_ids[i]) < 0)
        return ferry_err_set (err, errno, "cannot allocate memory");
      n = ferry_winreg_key (r, k, err);
      if (n < 0 ||
          ferry_winreg_set_str (r, n, k, "Service", FERRY_REG_SZ, "viostor",
                                false, err) < 0 ||
          ferry_winreg_set_str (r, n, k, "ClassGUID", FERRY_REG_SZ,
                                STORAGE_CLASS, false, err) < 0)
        return -1;
    }
    return 0;
  }
  /* Windows 8 / 2012 and later: the driver database, virt-v2v's
   * "guestor.inf" package bound to viostor */
  {
    static const char *const active[] = {"guestor.inf_tmp", NULL};
    static const char *const confs[] = {"guestor_conf", NULL};
    static const unsigned char rank[4] = {0x01, 0xff, 0x00, 0x00};
    /* version: 00 ff 09 00, 4 zero bytes, the class GUID in binary,
     * 24 zero bytes */
    static const unsigned char version[48] = {
        0x00, 0xff, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0xe9, 0x36, 0x4d,
        0x25, 0xe3, 0xce, 0x11, 0xbf, 0xc1, 0x08, 0x00, 0x2b, 0xe1, 0x03, 0x18};
    const char *inf = "DriverDatabase\\DriverInfFiles\\guestor.inf";
    const char *pkg = "DriverDatabase\\DriverPackages\\guestor.inf_tmp";
    const char *conf = "DriverDatabase\\DriverPackages\\guestor.inf_tmp\\"
                       "Configurations\\guestor_conf";

    n = ferry_winreg_key (r, inf, err);
    if (n < 0 || ferry_winreg_set_multi (r, n, inf, "", active, err) < 0 ||
        ferry_winreg_set_str (r, n, inf, "Active", FERRY_REG_SZ,
                              "guestor.inf_tmp", false, err) < 0 ||
        ferry_winreg_set_multi (r, n, inf, "Configurations", confs, err) < 0)
      return -1;
    for (i = 0; i < 2; i++) {
      CLEANUP_FREE char *k = NULL;
      if (asprintf (&k, "DriverDatabase\\DeviceIds\\PCI\\%s", pci_ids[i]) < 0)
        return ferry_err_set (err, errno, "cannot allocate memory");
      n = ferry_winreg_key (r, k, err);
      if (n < 0 || ferry_winreg_set (r, n, k, "guestor.inf", FERRY_REG_BINARY,
                                     rank, sizeof rank, false, err) < 0)
        return -1;
    }
    n = ferry_winreg_key (r, pkg, err);
    if (n < 0 || ferry_winreg_set (r, n, pkg, "Version", FERRY_REG_BINARY,
                                   version, sizeof version, false, err) < 0)
      return -1;
    n = ferry_winreg_key (r, conf, err);
    if (n < 0 ||
        ferry_winreg_set_dword (r, n, conf, "ConfigFlags", 0, err) < 0 ||
        ferry_winreg_set_str (r, n, conf, "Service", FERRY_REG_SZ, "viostor",
                              false, err) < 0)
      return -1;
    for (i = 0; i < 2; i++) {
      CLEANUP_FREE char *k = NULL;
      if (asprintf (&k, "%s\\Descriptors\\PCI\\%s", pkg, pci_ids[i]) < 0)
        return ferry_err_set (err, errno, "cannot allocate memory");
      n = ferry_winreg_key (r, k, err);
      if (n < 0 || ferry_winreg_set_str (r, n, k, "Configuration", FERRY_REG_SZ,
                                         "guestor_conf", false, err) < 0)
        return -1;
    }
  }
  return 0;
}

static const char pnputil_bat[] =
    "@echo off\n"
    "rem ferry: install the VirtIO driver packages copied to "
    "%SystemRoot%\\Drivers\\VirtIO\n"
    "for %%i in (\"%SystemRoot%\\Drivers\\VirtIO\\*.inf\") do (\n"
    "  echo pnputil -i -a \"%%i\"\n"
    "  pnputil -i -a \"%%i\"\n"
    ")\n"
    "exit /b 0\n";

/* Drivers, SYSTEM, first boot (see the head of the file); nothing
 * unless customize.virtio. */
int
ferry_guest_win_inject (struct ferry_guest_op *op, struct ferry_changes *ch,
                        struct ferry_err *err)
{
  const struct ferry_customize *c = &op->vm->customize;
  const struct ferry_guest_info *info = op->info;
  const char *dir = c->virtio_drivers;
  struct drv_list l = {0};
  CLEANUP_FREE char *guid = NULL;
  struct ferry_winreg r;
  struct stat st;
  size_t i;
  int rc = -1;

  if (!op->vm->has_customize || !c->virtio)
    return 0;
  if (info->systemroot == NULL || info->current_control_set == NULL)
    return ferry_err_set (err, 0,
                          "windows guest without a system root or a "
                          "current control set (SYSTEM\\Select\\Current)");
  if (dir == NULL) {
    if (stat (VIRTIO_DEFAULT_DIR, &st) < 0)
      return ferry_err_set (err, 0,
                            "customize.virtio_drivers is not set and '%s' "
                            "does not exist: name a virtio-win directory",
                            VIRTIO_DEFAULT_DIR);
    dir = VIRTIO_DEFAULT_DIR;
  }
  if (select_drivers (op, dir, &l, err) < 0 ||
      vmware_tools_guid (op, &guid, err) < 0)
    goto out;

  /* the driver files */
  for (i = 0; i < l.n; i++) {
    CLEANUP_FREE char *dst = NULL;
    if (asprintf (&dst, "%s/Drivers/VirtIO/%s", info->systemroot, l.v[i].name) <
        0) {
      ferry_err_set (err, errno, "cannot allocate memory");
      goto out;
    }
    if (ferry_winfile_copy (op, ch, dst, l.v[i].src, err) < 0)
      goto out;
    if (strcmp (l.v[i].name, "viostor.sys") == 0) {
      CLEANUP_FREE char *boot = NULL;
      if (asprintf (&boot, "%s/System32/drivers/viostor.sys",
                    info->systemroot) < 0) {
        ferry_err_set (err, errno, "cannot allocate memory");
        goto out;
      }
      if (ferry_winfile_copy (op, ch, boot, l.v[i].src, err) < 0)
        goto out;
    }
  }

  /* the registry */
  if (ferry_winreg_open (&r, op, "SYSTEM", ch, err) < 0)
    goto out;
  if (system_hive (&r, info->current_control_set, err) < 0) {
    ferry_winreg_abort (&r);
    goto out;
  }
  if (ferry_winreg_close (&r, err) < 0)
    goto out;

  /* first boot */
  if (ferry_win_firstboot_add (op, ch, "5000-install-virtio-drivers.bat",
                               pnputil_bat, err) < 0)
    goto out;
  if (guid) {
    CLEANUP_FREE char *bat = NULL;
    if (asprintf (&bat,
                  "@echo off\n"
                  "\n"
                  "echo uninstalling VMware Tools\n"
                  "rem ERROR_SUCCESS_REBOOT_REQUIRED (3010) is OK too\n"
                  "MsiExec.exe /x%s /quiet /norestart /l*v+ \"%%~dpn0.log\" "
                  "REBOOT=ReallySuppress REMOVE=ALL \n"
                  "if errorlevel 3010 exit /b 0\n",
                  guid) < 0) {
      ferry_err_set (err, errno, "cannot allocate memory");
      goto out;
    }
    if (ferry_win_firstboot_add (op, ch, "5100-uninstall-vmware-tools.bat", bat,
                                 err) < 0)
      goto out;
  }
  rc = 0;
out:
  drv_list_clear (&l);
  return rc;
}
