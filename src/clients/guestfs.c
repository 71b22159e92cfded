/* The libguestfs seam: launch (KVM, TCG fallback), RBD disks through
 * qemu-nbd, inspection, mounting.  See guestfs.h. */
#include "clients/guestfs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/dl.h"
#include "util/log.h"

static const char *const accel_names[] = {"auto", "kvm", "tcg"};

const char *
ferry_gfs_accel_name (enum ferry_gfs_accel a)
{
  return a < FERRY_GFS_ACCEL_LAST ? accel_names[a] : NULL;
}

/* The enum value of an acceleration name, or -1. */
int
ferry_gfs_accel_from_name (const char *name)
{
  int i;

  for (i = 0; i < FERRY_GFS_ACCEL_LAST; i++)
    if (name && strcmp (name, accel_names[i]) == 0)
      return i;
  return -1;
}

/* An RBD disk served to the appliance by a qemu-nbd on a Unix socket: the
 * cephx key stays in the keyring ceph.conf names (qemu's rbd driver reads
 * it), never on a command line. */
struct nbd_server {
  pid_t pid;
  char *sock;
};

struct ferry_gfs {
  guestfs_h *g;
  bool readonly;
  bool mounted;
  bool mounted_rw;
  double launch_s;
  char *tmpdir;
  struct nbd_server *nbd;
  size_t n_nbd;
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned stats_launches;
static double stats_seconds;

/* Launches so far and their seconds (under the stats lock). */
void
ferry_gfs_stats (unsigned *ret_launches, double *ret_seconds)
{
  pthread_mutex_lock (&stats_lock);
  if (ret_launches)
    *ret_launches = stats_launches;
  if (ret_seconds)
    *ret_seconds = stats_seconds;
  pthread_mutex_unlock (&stats_lock);
}

const char *
ferry_gfs_last_error (guestfs_h *g)
{
  const char *e = g ? guestfs_last_error (g) : NULL;

  return e ? e : "unknown error";
}

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

guestfs_h *
ferry_gfs_handle (struct ferry_gfs *g)
{
  return g->g;
}

bool
ferry_gfs_readonly (const struct ferry_gfs *g)
{
  return g->readonly;
}

double
ferry_gfs_launch_seconds (const struct ferry_gfs *g)
{
  return g->launch_s;
}

bool
ferry_gfs_mounted_rw (const struct ferry_gfs *g)
{
  return g->mounted && g->mounted_rw;
}

/* Escape a value for qemu's --image-opts (a comma doubles). */
static char *
opt_escape (const char *s)
{
  size_t n = strlen (s), i, k = 0;
  char *r = malloc (2 * n + 1);

  if (r == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    r[k++] = s[i];
    if (s[i] == ',')
      r[k++] = ',';
  }
  r[k] = '\0';
  return r;
}

/* Start qemu-nbd serving the RBD image LOC on SOCK; wait until the socket
 * exists (at most 30 s). */
static int
nbd_start (const struct ferry_rbd_location *loc, bool readonly,
           const char *sock, struct nbd_server *ret, struct ferry_err *err)
{
  CLEANUP_FREE char *pool = opt_escape (loc->pool);
  CLEANUP_FREE char *image = opt_escape (loc->image);
  CLEANUP_FREE char *conf = loc->conf ? opt_escape (loc->conf) : NULL;
  CLEANUP_FREE char *user = loc->user ? opt_escape (loc->user) : NULL;
  CLEANUP_FREE char *opts = NULL;
  struct stat st;
  pid_t pid;
  int i, status;

  if (pool == NULL || image == NULL ||
      asprintf (&opts,
                "driver=raw,file.driver=rbd,file.pool=%s,file.image=%s%s%s%s%s",
                pool, image, conf ? ",file.conf=" : "", conf ? conf : "",
                user ? ",file.user=" : "", user ? user : "") < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  pid = fork ();
  if (pid < 0)
    return ferry_err_set (err, errno, "guestfs: fork qemu-nbd");
  if (pid == 0) {
    int fd = open ("/dev/null", O_RDWR);
    if (fd >= 0) {
      dup2 (fd, 0);
      dup2 (fd, 1);
      close (fd);
    }
    execlp ("qemu-nbd", "qemu-nbd", "--persistent", "--shared=4",
            "--cache=writeback", "--socket", sock,
            readonly ? "--read-only" : "--discard=unmap", "--image-opts", opts,
            (char *) NULL);
    _exit (127);
  }
  for (i = 0; i < 300; i++) {
    if (stat (sock, &st) == 0) {
      ret->pid = pid;
      ret->sock = strdup (sock);
      return ret->sock ? 0 : ferry_err_set (err, ENOMEM, "out of memory");
    }
    if (waitpid (pid, &status, WNOHANG) == pid)
      return ferry_err_set (err, 0,
                            "guestfs: qemu-nbd for rbd:%s/%s exited before "
                            "serving it (status %d); is the image there and "
                            "the ceph user allowed?",
                            loc->pool, loc->image,
                            WIFEXITED (status) ? WEXITSTATUS (status) : -1);
    usleep (100000);
  }
  kill (pid, SIGTERM);
  waitpid (pid, &status, 0);
  return ferry_err_set (err, ETIMEDOUT,
                        "guestfs: qemu-nbd for rbd:%s/%s did not start in 30 s",
                        loc->pool, loc->image);
}

/* Stop a qemu-nbd and remove its socket. */
static void
nbd_stop (struct nbd_server *s)
{
  int status;

  if (s->pid > 0) {
    kill (s->pid, SIGTERM);
    waitpid (s->pid, &status, 0);
  }
  if (s->sock)
    unlink (s->sock);
  free (s->sock);
  s->pid = 0;
  s->sock = NULL;
}

/* Close the handle, stop the qemu-nbd servers, free (no flush). */
static void
gfs_free (struct ferry_gfs *g)
{
  size_t i;

  if (g == NULL)
    return;
  if (g->g)
    guestfs_close (g->g);
  for (i = 0; i < g->n_nbd; i++)
    nbd_stop (&g->nbd[i]);
  free (g->nbd);
  if (g->tmpdir)
    rmdir (g->tmpdir);
  free (g->tmpdir);
  free (g);
}

/* A fresh handle with DISKS added; TCG forced when FORCE_TCG. */
static int
make_handle (struct ferry_gfs *gf, const struct ferry_location *disks,
             const char *const *formats, size_t n, bool force_tcg,
             struct ferry_err *err)
{
  guestfs_h *g;
  size_t i, k = 0;

  if (ferry_dl_load (&ferry_dl_guestfs, err) < 0)
    return -1;
  g = guestfs_create_flags (GUESTFS_CREATE_NO_CLOSE_ON_EXIT);
  if (g == NULL)
    return ferry_err_set (err, errno, "guestfs: cannot create a handle");
  static const char *const tcg[] = {"force_tcg", NULL};

  guestfs_set_error_handler (g, NULL, NULL);
  /* (guestfs_set_backend_setting (g, "force_tcg", "") makes the launch fail
   * with no error set in libguestfs 1.48: use the list form) */
  if (force_tcg && guestfs_set_backend_settings (g, (char *const *) tcg) < 0)
    goto fail;
  for (i = 0; i < n; i++) {
    int r;
    if (disks[i].kind == FERRY_LOCATION_FILE) {
      const struct guestfs_add_drive_opts_argv o = {
          .bitmask = GUESTFS_ADD_DRIVE_OPTS_FORMAT_BITMASK |
                     GUESTFS_ADD_DRIVE_OPTS_READONLY_BITMASK |
                     GUESTFS_ADD_DRIVE_OPTS_CACHEMODE_BITMASK,
          .format = formats ? formats[i] : "raw",
          .readonly = gf->readonly,
          .cachemode = "unsafe"};
      r = guestfs_add_drive_opts_argv (g, disks[i].file.path, &o);
    } else {
      CLEANUP_FREE char *server = NULL;
      const char *servers[2];
      if (asprintf (&server, "unix:%s", gf->nbd[k++].sock) < 0) {
        guestfs_close (g);
        return ferry_err_set (err, ENOMEM, "out of memory");
      }
      servers[0] = server;
      servers[1] = NULL;
      const struct guestfs_add_drive_opts_argv o = {
          .bitmask = GUESTFS_ADD_DRIVE_OPTS_FORMAT_BITMASK |
                     GUESTFS_ADD_DRIVE_OPTS_PROTOCOL_BITMASK |
                     GUESTFS_ADD_DRIVE_OPTS_SERVER_BITMASK |
                     GUESTFS_ADD_DRIVE_OPTS_READONLY_BITMASK,
          .format = "raw",
          .protocol = "nbd",
          .server = (char *const *) servers,
          .readonly = gf->readonly};
      r = guestfs_add_drive_opts_argv (g, "", &o);
    }
    if (r < 0)
      goto fail;
  }
  gf->g = g;
  return 0;
fail:
  ferry_err_set (err, 0, "guestfs: %s", ferry_gfs_last_error (g));
  guestfs_close (g);
  return -1;
}

/* Serve RBD disks through qemu-nbd, add every disk, launch; in auto mode
 * launch once more under TCG when the first launch dies (guestfs.h). */
int
ferry_gfs_launch (const struct ferry_location *disks,
                  const char *const *formats, size_t n, bool readonly,
                  enum ferry_gfs_accel accel, struct ferry_gfs **ret,
                  struct ferry_err *err)
{
  const char *env = getenv ("FERRY_GUESTFS_ACCEL");
  struct ferry_gfs *gf = calloc (1, sizeof *gf);
  char tmpl[] = "/tmp/ferry-gfs.XXXXXX";
  double t0 = now_s ();
  size_t i, n_rbd = 0;
  bool tcg;

  if (gf == NULL)
    return ferry_err_set (err, ENOMEM, "out of memory");
  if (formats && !readonly) {
    free (gf);
    return ferry_err_set (err, EINVAL,
                          "guestfs: images other than raw are opened "
                          "read-only");
  }
  gf->readonly = readonly;
  if (env && *env) {
    int a = ferry_gfs_accel_from_name (env);
    if (a < 0) {
      free (gf);
      return ferry_err_set (err, EINVAL,
                            "FERRY_GUESTFS_ACCEL='%s': expected auto, kvm or "
                            "tcg",
                            env);
    }
    accel = (enum ferry_gfs_accel) a;
  }
  for (i = 0; i < n; i++)
    if (disks[i].kind == FERRY_LOCATION_RBD)
      n_rbd++;
  if (n_rbd) {
    if (mkdtemp (tmpl) == NULL) {
      free (gf);
      return ferry_err_set (err, errno, "guestfs: mkdtemp");
    }
    gf->tmpdir = strdup (tmpl);
    gf->nbd = calloc (n_rbd, sizeof *gf->nbd);
    if (gf->tmpdir == NULL || gf->nbd == NULL) {
      gfs_free (gf);
      return ferry_err_set (err, ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
      CLEANUP_FREE char *sock = NULL;
      if (disks[i].kind != FERRY_LOCATION_RBD)
        continue;
      if (asprintf (&sock, "%s/disk%zu.sock", gf->tmpdir, i) < 0 ||
          nbd_start (&disks[i].rbd, readonly, sock, &gf->nbd[gf->n_nbd], err) <
              0) {
        if (sock == NULL)
          ferry_err_set (err, ENOMEM, "out of memory");
        gfs_free (gf);
        return -1;
      }
      gf->n_nbd++;
    }
  }
  tcg = accel == FERRY_GFS_ACCEL_TCG;
  if (make_handle (gf, disks, formats, n, tcg, err) < 0) {
    gfs_free (gf);
    return -1;
  }
  if (guestfs_launch (gf->g) < 0) {
    char first[512];
    /* libguestfs' launch error goes on for lines of advice: its first */
    snprintf (first, sizeof first, "%s", ferry_gfs_last_error (gf->g));
    first[strcspn (first, "\n")] = '\0';
    if (accel != FERRY_GFS_ACCEL_AUTO ||
        getenv ("LIBGUESTFS_BACKEND_SETTINGS")) {
      ferry_err_set (err, 0, "guestfs: launching the appliance failed: %s",
                     first);
      gfs_free (gf);
      return -1;
    }
    ferry_warn ("guestfs: the appliance died while launching (%s); "
                "retrying once under TCG (software emulation, slower; "
                "FERRY_GUESTFS_ACCEL=tcg skips the first try)",
                first);
    guestfs_close (gf->g);
    gf->g = NULL;
    if (make_handle (gf, disks, formats, n, true, err) < 0) {
      gfs_free (gf);
      return -1;
    }
    if (guestfs_launch (gf->g) < 0) {
      ferry_err_set (err, 0,
                     "guestfs: launching the appliance failed under KVM "
                     "(%s) and under TCG: %s",
                     first, ferry_gfs_last_error (gf->g));
      gfs_free (gf);
      return -1;
    }
  }
  gf->launch_s = now_s () - t0;
  pthread_mutex_lock (&stats_lock);
  stats_launches++;
  stats_seconds += gf->launch_s;
  pthread_mutex_unlock (&stats_lock);
  ferry_info ("guestfs: appliance launched in %.1f s (%zu disk%s, %s)",
              gf->launch_s, n, n == 1 ? "" : "s",
              readonly ? "read-only" : "read-write");
  *ret = gf;
  return 0;
}

/* Unmount, shut down (the flush that matters), free. */
int
ferry_gfs_close (struct ferry_gfs *g, struct ferry_err *err)
{
  int r = 0;

  if (g == NULL)
    return 0;
  if (g->mounted)
    guestfs_umount_all (g->g);
  if (guestfs_shutdown (g->g) < 0)
    r = ferry_err_set (err, 0,
                       "guestfs: shutting the appliance down failed (writes "
                       "to the guest may be lost): %s",
                       ferry_gfs_last_error (g->g));
  gfs_free (g);
  return r;
}

/* ---- inspection ---- */

/* Free every string and list of INFO and zero it. */
void
ferry_guest_info_clear (struct ferry_guest_info *info)
{
  size_t i;

  free (info->root);
  free (info->type);
  free (info->distro);
  free (info->product);
  free (info->variant);
  free (info->arch);
  free (info->hostname);
  free (info->osinfo);
  free (info->package_format);
  free (info->systemroot);
  free (info->current_control_set);
  for (i = 0; i < info->n_mounts; i++) {
    free (info->mounts[i].mountpoint);
    free (info->mounts[i].device);
  }
  free (info->mounts);
  for (i = 0; i < info->n_kernels; i++)
    free (info->kernels[i]);
  free (info->kernels);
  free (info->initramfs_tool);
  free (info->blocked);
  memset (info, 0, sizeof *info);
}

/* Free a NULL-terminated list libguestfs returned. */
static void
free_strings (char **v)
{
  size_t i;

  if (v == NULL)
    return;
  for (i = 0; v[i]; i++)
    free (v[i]);
  free (v);
}

/* S, or "" when S is NULL ("unknown" strings of libguestfs become ""). */
static char *
str_or_empty (char *s)
{
  if (s && strcmp (s, "unknown") == 0) {
    free (s);
    s = NULL;
  }
  return s ? s : strdup ("");
}

static int
mount_cmp (const void *a, const void *b)
{
  const struct ferry_guest_mount *x = a, *y = b;
  size_t lx = strlen (x->mountpoint), ly = strlen (y->mountpoint);

  return lx < ly ? -1 : lx > ly ? 1 : strcmp (x->mountpoint, y->mountpoint);
}

/* Set INFO->blocked (printf-style) unless already set. */
static void block (struct ferry_guest_info *info, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/* Record why ferry cannot convert the guest (the first reason wins). */
static void
block (struct ferry_guest_info *info, const char *fmt, ...)
{
  va_list ap;

  if (info->blocked)
    return;
  va_start (ap, fmt);
  if (vasprintf (&info->blocked, fmt, ap) < 0)
    info->blocked = NULL;
  va_end (ap);
}

/* Compare kernel version strings numerically: is V older than 2.6.25? */
static bool
kernel_too_old (const char *v)
{
  unsigned a = 0, b = 0, c = 0;

  if (sscanf (v, "%u.%u.%u", &a, &b, &c) < 2)
    return false;
  if (a != 2)
    return a < 2;
  if (b != 6)
    return b < 6;
  return c < 25;
}

/* Linux facts: kernels under /lib/modules (those with a vmlinuz in /boot
 * too), the initramfs tool, VMware tools. */
static int
inspect_linux (guestfs_h *g, struct ferry_guest_info *info)
{
  char **mods = NULL;
  size_t i, n = 0;

  if (guestfs_is_dir (g, "/lib/modules") > 0)
    mods = guestfs_ls (g, "/lib/modules");
  for (i = 0; mods && mods[i]; i++)
    n++;
  info->kernels = calloc (n + 1, sizeof *info->kernels);
  if (info->kernels == NULL) {
    free_strings (mods);
    return -1;
  }
  for (i = 0; mods && mods[i]; i++) {
    CLEANUP_FREE char *vmlinuz = NULL;
    if (asprintf (&vmlinuz, "/boot/vmlinuz-%s", mods[i]) < 0)
      break;
    if (guestfs_exists (g, vmlinuz) > 0) {
      info->kernels[info->n_kernels++] = mods[i];
      mods[i] = NULL;
    }
  }
  free_strings (mods);
  if (guestfs_exists (g, "/usr/sbin/update-initramfs") > 0 ||
      guestfs_exists (g, "/sbin/update-initramfs") > 0)
    info->initramfs_tool = strdup ("update-initramfs");
  else if (guestfs_exists (g, "/usr/bin/dracut") > 0 ||
           guestfs_exists (g, "/sbin/dracut") > 0 ||
           guestfs_exists (g, "/usr/sbin/dracut") > 0)
    info->initramfs_tool = strdup ("dracut");
  else if (guestfs_exists (g, "/sbin/mkinitrd") > 0 ||
           guestfs_exists (g, "/usr/sbin/mkinitrd") > 0)
    info->initramfs_tool = strdup ("mkinitrd");
  else
    info->initramfs_tool = strdup ("");
  info->vmware_tools = guestfs_exists (g, "/usr/bin/vmtoolsd") > 0 ||
                       guestfs_exists (g, "/etc/vmware-tools") > 0 ||
                       guestfs_exists (g, "/usr/sbin/vmtoolsd") > 0;
  for (i = 0; i < info->n_kernels; i++)
    if (kernel_too_old (info->kernels[i]) && info->n_kernels == 1)
      block (info,
             "Linux kernel %s is older than 2.6.25 and has no virtio "
             "drivers",
             info->kernels[i]);
  return 0;
}

/* Windows facts from the SYSTEM hive: the current control set, whether a
 * DriverDatabase exists, VMware Tools from SOFTWARE's Uninstall keys. */
static int
inspect_windows (guestfs_h *g, const char *root, struct ferry_guest_info *info)
{
  CLEANUP_FREE char *sys = NULL, *sw = NULL;
  CLEANUP_FREE char *ccs =
      guestfs_inspect_get_windows_current_control_set (g, root);
  CLEANUP_FREE char *hive = guestfs_inspect_get_windows_system_hive (g, root);
  CLEANUP_FREE char *swhive =
      guestfs_inspect_get_windows_software_hive (g, root);
  int64_t node;
  char *ver = NULL;
  const struct guestfs_hivex_open_argv no_opts = {.bitmask = 0};

  info->systemroot = guestfs_inspect_get_windows_systemroot (g, root);
  info->current_control_set = ccs ? strdup (ccs) : NULL;
  if (hive && guestfs_hivex_open_argv (g, hive, &no_opts) == 0) {
    node = guestfs_hivex_root (g);
    info->has_driver_database = node > 0 && guestfs_hivex_node_get_child (
                                                g, node, "DriverDatabase") > 0;
    guestfs_hivex_close (g);
  }
  if (swhive && guestfs_hivex_open_argv (g, swhive, &no_opts) == 0) {
    int64_t n = guestfs_hivex_root (g);
    const char *path[] = {"Microsoft", "Windows NT", "CurrentVersion", NULL};
    const char *up[] = {"Microsoft", "Windows", "CurrentVersion", "Uninstall",
                        NULL};
    size_t i;
    int64_t u = n;
    for (i = 0; path[i] && n > 0; i++)
      n = guestfs_hivex_node_get_child (g, n, path[i]);
    if (n > 0) {
      int64_t v = guestfs_hivex_node_get_value (g, n, "CurrentBuildNumber");
      if (v > 0 && (ver = guestfs_hivex_value_string (g, v)) != NULL) {
        info->build = (unsigned) strtoul (ver, NULL, 10);
        free (ver);
      }
    }
    for (i = 0; up[i] && u > 0; i++)
      u = guestfs_hivex_node_get_child (g, u, up[i]);
    if (u > 0) {
      struct guestfs_hivex_node_list *kids = guestfs_hivex_node_children (g, u);
      for (i = 0; kids && i < kids->len && !info->vmware_tools; i++) {
        int64_t v = guestfs_hivex_node_get_value (g, kids->val[i].hivex_node_h,
                                                  "DisplayName");
        char *name = v > 0 ? guestfs_hivex_value_string (g, v) : NULL;
        if (name && strstr (name, "VMware Tools"))
          info->vmware_tools = true;
        free (name);
      }
      if (kids)
        guestfs_free_hivex_node_list (kids);
    }
    guestfs_hivex_close (g);
  }
  (void) sys;
  (void) sw;
  return 0;
}

/* Find exactly one OS root, fill INFO from libguestfs' inspection and
 * from the guest's files, mount it read-only; reasons to refuse the guest
 * go into INFO->blocked. */
int
ferry_gfs_inspect (struct ferry_gfs *gf, struct ferry_guest_info *ret,
                   struct ferry_err *err)
{
  guestfs_h *g = gf->g;
  char **roots = guestfs_inspect_os (g);
  char **mps = NULL;
  struct ferry_guest_info info = {0};
  size_t i, n;

  if (roots == NULL)
    return ferry_err_set (err, 0, "guestfs: inspection failed: %s",
                          ferry_gfs_last_error (g));
  if (roots[0] == NULL || roots[1] != NULL) {
    CLEANUP_FREE char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&list, &len);
    for (i = 0; f && roots[i]; i++)
      fprintf (f, "%s%s", i ? ", " : "", roots[i]);
    if (f)
      fclose (f);
    if (roots[0] == NULL) {
      /* An encrypted root is what most often hides the OS. */
      char **parts = guestfs_list_filesystems (g);
      bool luks = false;
      for (i = 0; parts && parts[i]; i += 2)
        if (parts[i + 1] && strcmp (parts[i + 1], "crypto_LUKS") == 0)
          luks = true;
      free_strings (parts);
      block (&info,
             luks ? "the guest's disks hold an encrypted (LUKS) volume and "
                    "no readable operating system: ferry cannot change an "
                    "encrypted guest"
                  : "no operating system found on the VM's disks (unknown "
                    "OS, or Windows dynamic disks)");
    } else
      block (&info,
             "several operating systems found (%s): ferry converts "
             "one per VM",
             list ? list : "?");
    free_strings (roots);
    *ret = info;
    return 0;
  }
  info.root = strdup (roots[0]);
  free_strings (roots);
  info.type = str_or_empty (guestfs_inspect_get_type (g, info.root));
  info.distro = str_or_empty (guestfs_inspect_get_distro (g, info.root));
  info.major = guestfs_inspect_get_major_version (g, info.root);
  info.minor = guestfs_inspect_get_minor_version (g, info.root);
  info.product = str_or_empty (guestfs_inspect_get_product_name (g, info.root));
  info.variant =
      str_or_empty (guestfs_inspect_get_product_variant (g, info.root));
  info.arch = str_or_empty (guestfs_inspect_get_arch (g, info.root));
  info.hostname = str_or_empty (guestfs_inspect_get_hostname (g, info.root));
  info.osinfo = str_or_empty (guestfs_inspect_get_osinfo (g, info.root));
  info.package_format =
      str_or_empty (guestfs_inspect_get_package_format (g, info.root));
  mps = guestfs_inspect_get_mountpoints (g, info.root);
  for (n = 0; mps && mps[n]; n += 2)
    ;
  info.mounts = calloc (n / 2 + 1, sizeof *info.mounts);
  for (i = 0; mps && info.mounts && mps[i]; i += 2) {
    info.mounts[info.n_mounts].mountpoint = mps[i];
    info.mounts[info.n_mounts++].device = mps[i + 1];
  }
  free (mps);
  if (info.n_mounts)
    qsort (info.mounts, info.n_mounts, sizeof *info.mounts, mount_cmp);
  if (info.type == NULL || info.arch == NULL || info.mounts == NULL) {
    ferry_guest_info_clear (&info);
    return ferry_err_set (err, ENOMEM, "out of memory");
  }
  if (strcmp (info.type, "linux") != 0 && strcmp (info.type, "windows") != 0)
    block (&info,
           "guest OS '%s' (%s) is not one ferry converts (linux, "
           "windows)",
           info.type[0] ? info.type : "unknown", info.product);
  else if (strcmp (info.arch, "x86_64") != 0 && strcmp (info.arch, "i386") != 0)
    block (&info, "guest architecture '%s' is not supported (x86_64, i386)",
           info.arch);
  /* firmware: an EFI System Partition means UEFI */
  info.firmware = FERRY_FIRMWARE_BIOS;
  {
    char **parts = guestfs_list_partitions (g);
    for (i = 0; parts && parts[i]; i++) {
      CLEANUP_FREE char *dev = guestfs_part_to_dev (g, parts[i]);
      int pn = guestfs_part_to_partnum (g, parts[i]);
      CLEANUP_FREE char *pt = dev ? guestfs_part_get_parttype (g, dev) : NULL;
      if (pt && strcmp (pt, "gpt") == 0 && pn > 0) {
        CLEANUP_FREE char *guid = guestfs_part_get_gpt_type (g, dev, pn);
        if (guid &&
            strcasecmp (guid, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B") == 0)
          info.firmware = FERRY_FIRMWARE_UEFI;
      }
    }
    free_strings (parts);
  }
  if (!info.blocked) {
    if (ferry_gfs_mount (gf, &info, false, err) < 0) {
      ferry_guest_info_clear (&info);
      return -1;
    }
    if (strcmp (info.type, "linux") == 0)
      inspect_linux (g, &info);
    else
      inspect_windows (g, info.root, &info);
  }
  *ret = info;
  return 0;
}

/* Mount INFO's filesystems shortest mountpoint first (Windows: the system
 * drive at /), read-only or read-write, after unmounting everything. */
int
ferry_gfs_mount (struct ferry_gfs *gf, const struct ferry_guest_info *info,
                 bool rw, struct ferry_err *err)
{
  guestfs_h *g = gf->g;
  size_t i;

  if (rw && gf->readonly)
    return ferry_err_set (err, EROFS,
                          "guestfs: cannot mount read-write: the appliance "
                          "was launched read-only");
  if (gf->mounted && guestfs_umount_all (g) < 0)
    return ferry_err_set (err, 0, "guestfs: unmounting: %s",
                          ferry_gfs_last_error (g));
  gf->mounted = false;
  for (i = 0; i < info->n_mounts; i++) {
    const struct ferry_guest_mount *m = &info->mounts[i];
    const char *mp = m->mountpoint;
    int r;
    /* Windows drive letters: the system drive only, at / */
    if (strcmp (info->type, "windows") == 0) {
      if (strcmp (m->device, info->root) != 0)
        continue;
      mp = "/";
    }
    r = rw ? guestfs_mount (g, m->device, mp)
           : guestfs_mount_ro (g, m->device, mp);
    if (r < 0) {
      ferry_err_set (err, 0, "guestfs: mounting %s on %s%s: %s", m->device, mp,
                     rw ? "" : " (read-only)", ferry_gfs_last_error (g));
      guestfs_umount_all (g);
      return -1;
    }
  }
  if (strcmp (info->type, "windows") == 0 && info->n_mounts == 0) {
    int r = rw ? guestfs_mount (g, info->root, "/")
               : guestfs_mount_ro (g, info->root, "/");
    if (r < 0)
      return ferry_err_set (err, 0, "guestfs: mounting %s: %s", info->root,
                            ferry_gfs_last_error (g));
  }
  gf->mounted = true;
  gf->mounted_rw = rw;
  return 0;
}

static const char *
firmware_name (enum ferry_firmware_kind f)
{
  return f == FERRY_FIRMWARE_BIOS   ? "bios"
         : f == FERRY_FIRMWARE_UEFI ? "uefi"
                                    : "unknown";
}

/* The one-line summary of INFO (plan, journal, ferry inspect --guest). */
char *
ferry_guest_info_summary (const struct ferry_guest_info *info)
{
  char *s = NULL;

  if (info->root == NULL) {
    if (asprintf (&s, "no OS: %s", info->blocked ? info->blocked : "?") < 0)
      return NULL;
    return s;
  }
  if (asprintf (&s, "%s %d.%d '%s' %s %s %s root=%s%s%s", info->type,
                info->major, info->minor, info->product,
                info->osinfo[0] ? info->osinfo : info->distro, info->arch,
                firmware_name (info->firmware), info->root,
                info->vmware_tools ? " vmware-tools" : "",
                info->blocked ? " (blocked)" : "") < 0)
    return NULL;
  return s;
}

/* The JSON record of INFO (ferry inspect --guest --json). */
char *
ferry_guest_info_json (const struct ferry_guest_info *info)
{
  cJSON *o = cJSON_CreateObject (), *a;
  char *s;
  size_t i;

  if (o == NULL)
    return NULL;
#define STR(k, v) cJSON_AddStringToObject (o, k, (v) ? (v) : "")
  STR ("root", info->root);
  STR ("type", info->type);
  STR ("distro", info->distro);
  cJSON_AddNumberToObject (o, "major", info->major);
  cJSON_AddNumberToObject (o, "minor", info->minor);
  STR ("product", info->product);
  STR ("variant", info->variant);
  STR ("arch", info->arch);
  STR ("hostname", info->hostname);
  STR ("osinfo", info->osinfo);
  STR ("package_format", info->package_format);
  STR ("firmware", firmware_name (info->firmware));
  if (info->systemroot)
    STR ("systemroot", info->systemroot);
  if (info->current_control_set)
    STR ("current_control_set", info->current_control_set);
  if (info->build)
    cJSON_AddNumberToObject (o, "build", info->build);
  if (info->type && strcmp (info->type, "windows") == 0)
    cJSON_AddBoolToObject (o, "driver_database", info->has_driver_database);
  a = cJSON_AddObjectToObject (o, "mountpoints");
  for (i = 0; a && i < info->n_mounts; i++)
    cJSON_AddStringToObject (a, info->mounts[i].mountpoint,
                             info->mounts[i].device);
  a = cJSON_AddArrayToObject (o, "kernels");
  for (i = 0; a && i < info->n_kernels; i++)
    cJSON_AddItemToArray (a, cJSON_CreateString (info->kernels[i]));
  if (info->initramfs_tool)
    STR ("initramfs_tool", info->initramfs_tool);
  cJSON_AddBoolToObject (o, "vmware_tools", info->vmware_tools);
  if (info->blocked)
    STR ("blocked", info->blocked);
#undef STR
  s = cJSON_Print (o);
  cJSON_Delete (o);
  return s;
}
