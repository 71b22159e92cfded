/* libvirt: write the VM's domain XML beside its disks (virtio disks and
 * NICs with the plan's MACs) and, when the target has a uri, define it
 * there (cold).  The XML is a pure function of the plan, so a rerun writes
 * the same bytes and `check` can compare. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/libvirt.h"
#include <libvirt/libvirt.h>

#include "clients/libvirt-xml.h"
#include "modules/local.h"
#include "modules/lvsource.h"
#include "modules/module.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* A stable UUID for (plan, vm): SHA-256 of both, shaped as a v5-style
 * UUID, so reruns and other hosts agree. */
static void
vm_uuid (const struct ferry_plan *plan, const struct ferry_vm *vm, char out[37])
{
  unsigned char md[32];
  unsigned int mdlen = 0;
  char key[512];

  snprintf (key, sizeof key, "ferry:%s/%s", plan->name ? plan->name : "",
            vm->name);
  EVP_Digest (key, strlen (key), md, &mdlen, EVP_sha256 (), NULL);
  md[6] = (md[6] & 0x0f) | 0x50;
  md[8] = (md[8] & 0x3f) | 0x80;
  snprintf (out, 37,
            "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x",
            md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8],
            md[9], md[10], md[11], md[12], md[13], md[14], md[15]);
}

/* The guest device name of disk I, as the kernel names virtio disks:
 * vda..vdz, vdaa..vdzz, vdaaa... (bijective base 26). */
void
ferry_libvirt_disk_name (size_t i, char *buf, size_t len)
{
  char rev[16];
  size_t n = 0, k;

  for (;;) {
    rev[n++] = (char) ('a' + i % 26);
    if (i < 26 || n == sizeof rev)
      break;
    i = i / 26 - 1;
  }
  if (len < n + 3) {
    if (len)
      buf[0] = '\0';
    return;
  }
  buf[0] = 'v';
  buf[1] = 'd';
  for (k = 0; k < n; k++)
    buf[2 + k] = rev[n - 1 - k];
  buf[2 + n] = '\0';
}

/* The domain XML of a VM from a libvirt source: the source domain's own
 * XML with its copied disks on the target's raw files, networks mapped,
 * the UUID kept (unless new_uuid) and ferry's metadata (caller frees;
 * NULL with ERR set). */
static char *
source_domain_xml (const struct ferry_ctx *ctx, const struct ferry_step *step,
                   struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_lv_found *f = vm->found;
  CLEANUP_FREE struct ferry_lvx_disk_rewrite *dr = NULL;
  CLEANUP_FREE char **paths = NULL;
  char *xml = NULL;
  size_t i;

  dr = calloc (f->dom.n_disks + 1, sizeof *dr);
  paths = calloc (vm->n_disks + 1, sizeof *paths);
  if (dr == NULL || paths == NULL) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    return NULL;
  }
  for (i = 0; i < vm->n_disks; i++) {
    paths[i] = ferry_local_disk_path (step, i);
    if (paths[i] == NULL) {
      ferry_err_set (err, ENOMEM, "cannot allocate memory");
      goto out;
    }
    dr[f->disk_index[i]].file = paths[i];
    dr[f->disk_index[i]].format = "raw";
  }
  if (ferry_lvsource_rewrite (ctx->plan, vm, step->target, dr, vm->new_uuid,
                              &xml, err) < 0)
    xml = NULL;
out:
  for (i = 0; i < vm->n_disks; i++)
    free (paths[i]);
  return xml;
}

/* The domain XML of STEP's VM (caller frees). */
static char *
domain_xml (const struct ferry_ctx *ctx, const struct ferry_step *step)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_flavor *fl = NULL;
  const char *flname = vm->flavor ? vm->flavor : ctx->plan->defaults.flavor;
  const char *uri = step->target->uri;
  unsigned vcpus, ram;
  char uuid[37], *buf = NULL, *disk, dev[16];
  size_t len = 0, i;
  FILE *f;

  if (vm->found) {
    struct ferry_err e = {0};
    char *x = source_domain_xml (ctx, step, &e);
    if (x == NULL)
      ferry_log (FERRY_LOG_ERROR, "%s: %s", step->id, e.msg);
    return x;
  }
  /* the VM's own values win; the flavor fills in what the VM leaves out */
  if (flname)
    fl = ferry_plan_flavor (ctx->plan, flname);
  vcpus = vm->vcpus ? vm->vcpus : fl && fl->vcpus ? fl->vcpus : 1;
  ram = vm->ram_mb ? vm->ram_mb : fl && fl->ram_mb ? fl->ram_mb : 1024;
  vm_uuid (ctx->plan, vm, uuid);
  f = open_memstream (&buf, &len);
  if (f == NULL)
    return NULL;
  fprintf (f, "<domain type='%s'>\n  <name>",
           uri && strncmp (uri, "test:", 5) == 0 ? "test" : "kvm");
  ferry_lvsource_xml_text (f, vm->name);
  fprintf (f,
           "</name>\n  <uuid>%s</uuid>\n"
           "  <metadata>\n"
           "    <ferry:migration xmlns:ferry='https://ferry.invalid/xmlns/1'"
           " plan='",
           uuid);
  ferry_lvsource_xml_text (f, ctx->plan->name ? ctx->plan->name : "");
  fprintf (f,
           "'/>\n  </metadata>\n"
           "  <memory unit='MiB'>%u</memory>\n  <vcpu>%u</vcpu>\n"
           "  <os>\n    <type arch='x86_64'>hvm</type>\n"
           "    <boot dev='hd'/>\n  </os>\n"
           "  <features><acpi/><apic/></features>\n  <devices>\n",
           ram, vcpus);
  for (i = 0; i < vm->n_disks; i++) {
    disk = ferry_local_disk_path (step, i);
    if (disk == NULL) {
      fclose (f);
      free (buf);
      return NULL;
    }
    fprintf (f, "    <disk type='file' device='disk'>\n"
                "      <driver name='qemu' type='raw' cache='none'/>\n"
                "      <source file='");
    ferry_lvsource_xml_text (f, disk);
    ferry_libvirt_disk_name (i, dev, sizeof dev);
    fprintf (f,
             "'/>\n      <target dev='%s' bus='virtio'/>\n"
             "    </disk>\n",
             dev);
    free (disk);
  }
  for (i = 0; i < vm->n_ports; i++) {
    const struct ferry_port *p = &vm->ports[i];
    fprintf (f, "    <interface type='network'>\n");
    if (p->mac) {
      fprintf (f, "      <mac address='");
      ferry_lvsource_xml_text (f, p->mac);
      fprintf (f, "'/>\n");
    }
    fprintf (f, "      <source network='");
    ferry_lvsource_xml_text (f, p->network);
    fprintf (f, "'/>\n      <model type='virtio'/>\n    </interface>\n");
  }
  fprintf (f, "    <console type='pty'/>\n  </devices>\n</domain>\n");
  if (fclose (f) != 0) {
    free (buf);
    return NULL;
  }
  return buf;
}

/* Read a whole small file into *RET (caller frees): NULL when PATH does
 * not exist; any other failure to read it (a directory, EIO, too big) is an
 * error, so check never takes an unreadable file for a missing one. */
static int
slurp (const char *path, char **ret, struct ferry_err *err)
{
  CLEANUP_FCLOSE FILE *f = fopen (path, "re");
  struct stat st;
  char *buf;

  *ret = NULL;
  if (f == NULL && errno == ENOENT)
    return 0;
  if (f == NULL || fstat (fileno (f), &st) < 0)
    return ferry_err_set (err, errno, "cannot read '%s'", path);
  if (!S_ISREG (st.st_mode))
    return ferry_err_set (err, S_ISDIR (st.st_mode) ? EISDIR : EINVAL,
                          "cannot read '%s': not a regular file", path);
  if (st.st_size > (1 << 20))
    return ferry_err_set (err, EFBIG, "cannot read '%s': over 1 MiB", path);
  buf = malloc ((size_t) st.st_size + 1);
  if (buf == NULL)
    return ferry_err_set (err, ENOMEM, "cannot read '%s'", path);
  if (fread (buf, 1, (size_t) st.st_size, f) != (size_t) st.st_size) {
    free (buf);
    return ferry_err_set (err, ferror (f) ? errno : EIO, "cannot read '%s'",
                          path);
  }
  buf[st.st_size] = '\0';
  *ret = buf;
  return 0;
}

/* "line N: OLD → NEW" for the first differing line. */
static void
first_difference (const char *a, const char *b, char *out, size_t len)
{
  unsigned line = 1;
  const char *ea, *eb;

  for (;;) {
    ea = strchrnul (a, '\n');
    eb = strchrnul (b, '\n');
    if (ea - a != eb - b || memcmp (a, b, (size_t) (ea - a)) != 0) {
      while (*a == ' ')
        a++;
      while (*b == ' ')
        b++;
      snprintf (out, len, "line %u: %.*s → %.*s", line,
                (int) (ea - a > 200 ? 200 : ea - a), a,
                (int) (eb - b > 200 ? 200 : eb - b), b);
      return;
    }
    if (*ea == '\0' || *eb == '\0')
      break;
    a = ea + 1;
    b = eb + 1;
    line++;
  }
  snprintf (out, len, "contents differ");
}

/* A VM from a libvirt source whose XML file is as wanted (or whose source
 * is gone, moved by an earlier run): the domain on the target is ferry's,
 * running when the plan says start, and the source undefined when it says
 * undefine_source. */
static int
target_check (const struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_lv_found *f = vm->found;
  const char *uri = step->target->uri;
  struct ferry_libvirt_dom d, s = {0};
  int r = 0;

  if (uri == NULL) {
    ret->need = FERRY_NEED_DONE;
    return 0;
  }
  if (ferry_libvirt_domain_get (uri, vm->domain, &d, err) < 0)
    return -1;
  if (!f->on_target_only &&
      ferry_libvirt_domain_get (f->uri, vm->domain, &s, err) < 0) {
    ferry_libvirt_dom_clear (&d);
    return -1;
  }
  if (!d.exists) {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail, "define '%s' on '%s'",
              vm->domain, uri);
  } else if (!ferry_lvsource_is_ours (ctx->plan, vm, d.xml)) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "a domain '%s' that ferry did not define exists on '%s': "
              "left alone",
              vm->domain, uri);
  } else if (vm->start && d.state != VIR_DOMAIN_RUNNING) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail, "start '%s' on '%s' (%s)",
              vm->domain, uri, ferry_libvirt_state_name (d.state));
  } else if (vm->undefine_source && s.exists) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "undefine the source domain '%s' on '%s' (%s)", vm->domain,
              f->uri, ferry_libvirt_state_name (s.state));
  } else {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "'%s' %s on '%s'%s", vm->domain,
              ferry_libvirt_state_name (d.state), uri,
              s.exists ? "; source kept, shut off" : "");
  }
  ferry_libvirt_dom_clear (&d);
  ferry_libvirt_dom_clear (&s);
  return r;
}

/* Compare the domain XML file with the XML the plan produces. */
static int
libvirt_check (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_observation *ret, struct ferry_err *err)
{
  CLEANUP_FREE char *path = NULL, *want = NULL, *have = NULL;
  char diff[600];

  if (step->target == NULL || step->target->path == NULL) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "libvirt targets without a path are not available in ferry %s",
              FERRY_VERSION);
    return 0;
  }
  if (step->vm->found && step->vm->found->blocker) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "%s", step->vm->found->blocker);
    return 0;
  }
  if (step->vm->found && step->vm->found->on_target_only)
    return target_check (ctx, step, ret, err);
  if (step->vm->found && step->target->uri) {
    int r = ferry_lvsource_foreign (ctx, step, ret->detail, sizeof ret->detail,
                                    err);
    if (r != 0) {
      ret->need = FERRY_NEED_BLOCKED;
      return r < 0 ? -1 : 0;
    }
  }
  path = ferry_local_xml_path (step);
  want = domain_xml (ctx, step);
  if (path == NULL || want == NULL)
    return ferry_err_set (err, ENOMEM, "cannot build the domain XML");
  if (slurp (path, &have, err) < 0)
    return -1;
  if (have == NULL) {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail, "%s%s%s", path,
              step->target->uri ? ", define on " : "",
              step->target->uri ? step->target->uri : "");
  } else if (strcmp (have, want) != 0) {
    ret->need = FERRY_NEED_UPDATE;
    first_difference (have, want, diff, sizeof diff);
    snprintf (ret->detail, sizeof ret->detail, "%s: %s", path, diff);
  } else {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "%s", path);
    if (step->vm->found && step->target->uri)
      return target_check (ctx, step, ret, err);
  }
  return 0;
}

/* Write XML to PATH atomically (temporary file, fsync, rename). */
static int
write_atomic (const char *path, const char *xml, struct ferry_err *err)
{
  CLEANUP_FREE char *tmp = NULL;
  size_t len = strlen (xml);
  ssize_t w;
  int fd;

  if (asprintf (&tmp, "%s.tmp", path) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return ferry_err_set (err, errno, "cannot create '%s'", tmp);
  w = write (fd, xml, len);
  if (w < 0 || (size_t) w != len || fsync (fd) < 0) {
    ferry_err_set (err, w < 0 ? errno : EIO, "cannot write '%s'", tmp);
    close (fd);
    unlink (tmp);
    return -1;
  }
  close (fd);
  if (rename (tmp, path) < 0) {
    ferry_err_set (err, errno, "cannot rename '%s'", tmp);
    unlink (tmp);
    return -1;
  }
  return ferry_sync_parent (path, err);
}

/* A VM from a libvirt source: define the rewritten XML on the target
 * (when it has a uri), write the file, start the domain when asked, and
 * undefine the (shut off) source when asked: each only when not done. */
static int
source_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_lv_found *f = vm->found;
  const char *uri = step->target->uri;
  CLEANUP_FREE char *path = ferry_local_xml_path (step);
  CLEANUP_FREE char *xml = NULL;
  struct ferry_libvirt_dom d = {0};
  char uuid[40], id[64];

  if (!f->on_target_only) {
    xml = source_domain_xml (ctx, step, err);
    if (path == NULL || xml == NULL)
      return path ? -1 : ferry_err_set (err, ENOMEM, "cannot allocate memory");
    if (mkdir (step->target->path, 0755) < 0 && errno != EEXIST)
      return ferry_err_set (err, errno, "cannot create directory '%s'",
                            step->target->path);
    if (uri) {
      if (ferry_libvirt_define (uri, xml, uuid, err) < 0)
        return -1;
      snprintf (id, sizeof id, "domain:%s", uuid);
      if (ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, id, err) < 0)
        return -1;
    }
    if (write_atomic (path, xml, err) < 0)
      return -1;
  }
  if (uri == NULL)
    return 0;
  if (vm->start && ferry_libvirt_start (uri, vm->domain, err) < 0)
    return -1;
  if (!vm->undefine_source || f->on_target_only)
    return 0;
  if (ferry_libvirt_domain_get (f->uri, vm->domain, &d, err) < 0)
    return -1;
  if (d.exists &&
      ferry_libvirt_undefine (f->uri, vm->domain, f->src.uuid, err) < 0) {
    ferry_libvirt_dom_clear (&d);
    return -1;
  }
  ferry_libvirt_dom_clear (&d);
  return 0;
}

/* Define the domain on the uri (if any), then write the XML file. */
static int
libvirt_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  CLEANUP_FREE char *path = ferry_local_xml_path (step);
  CLEANUP_FREE char *xml = domain_xml (ctx, step);
  char uuid[40], id[64];

  if (step->vm->found)
    return source_apply (ctx, step, err);
  if (path == NULL || xml == NULL)
    return ferry_err_set (err, ENOMEM, "cannot build the domain XML");
  if (mkdir (step->target->path, 0755) < 0 && errno != EEXIST)
    return ferry_err_set (err, errno, "cannot create directory '%s'",
                          step->target->path);
  /* Define first: if libvirt refuses the XML, no file claims success. */
  if (step->target->uri) {
    if (ferry_libvirt_define (step->target->uri, xml, uuid, err) < 0)
      return -1;
    snprintf (id, sizeof id, "domain:%s", uuid);
    if (ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, id, err) < 0)
      return -1;
  }
  return write_atomic (path, xml, err);
}

/* The file now holds exactly the plan's XML. */
static int
libvirt_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err)
{
  return ferry_verify_by_check (libvirt_check, ctx, step,
                                "domain XML not as expected", err);
}

/* The VM's final step on local and libvirt targets, after its disks and
 * the guest changes. */
static const char *const libvirt_after[] = {"customize", "inject", "resize",
                                            "convert", NULL};
/* Not for live migrations: libvirt defines the domain on the target. */
static bool
libvirt_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return !(step->vm->domain && step->vm->migrate == FERRY_MIGRATE_LIVE);
}
const struct ferry_module ferry_module_libvirt = {
    .name = "libvirt",
    .summary = "write the domain XML (virtio disks and NICs) and define it "
               "on the target's libvirt uri",
    .scope = FERRY_SCOPE_VM,
    .step_name = "define",
    .targets = FERRY_KIND (FERRY_PLAN_TARGET_LOCAL) |
               FERRY_KIND (FERRY_PLAN_TARGET_LIBVIRT),
    .after = libvirt_after,
    .vm_final = true,
    .applies = libvirt_applies,
    .check = libvirt_check,
    .describe = ferry_describe_detail,
    .apply = libvirt_apply,
    .verify = libvirt_verify,
};
