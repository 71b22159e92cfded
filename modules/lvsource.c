/* libvirt source discovery (modules/lvsource.h): read each domain VM's
 * domain from the source host, turn its disks and NICs into the plan's
 * disks and ports, and keep what blocks it. */
#include "modules/lvsource.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/disk.h"
#include "modules/module.h"
#include "util/cleanup.h"

/* Free one VM's discovery result. */
static void
found_free (struct ferry_lv_found *f)
{
  if (f == NULL)
    return;
  free (f->uri);
  ferry_libvirt_dom_clear (&f->src);
  ferry_lvx_domain_free (&f->dom);
  free (f->disk_index);
  free (f->blocker);
  free (f->summary);
  free (f);
}

/* Set F's blocker to the formatted text (first one wins). */
static void __attribute__ ((format (printf, 2, 3)))
block (struct ferry_lv_found *f, const char *fmt, ...)
{
  va_list ap;

  if (f->blocker)
    return;
  va_start (ap, fmt);
  if (vasprintf (&f->blocker, fmt, ap) < 0)
    f->blocker = NULL;
  va_end (ap);
}

/* The target's name for network or bridge NAME. */
const char *
ferry_lvsource_net (const struct ferry_plan_target *t, const char *name)
{
  size_t i;

  for (i = 0; t && name && i < t->n_networks; i++)
    if (strcmp (t->networks[i].from, name) == 0)
      return t->networks[i].to;
  return name;
}

/* Write S to F escaped for XML text and attribute values. */
void
ferry_lvsource_xml_text (FILE *f, const char *s)
{
  for (; s && *s; s++) {
    switch (*s) {
    case '<':
      fputs ("&lt;", f);
      break;
    case '>':
      fputs ("&gt;", f);
      break;
    case '&':
      fputs ("&amp;", f);
      break;
    case '\'':
      fputs ("&apos;", f);
      break;
    case '"':
      fputs ("&quot;", f);
      break;
    default:
      fputc (*s, f);
    }
  }
}

/* See the header. */
int
ferry_lvsource_rewrite (const struct ferry_plan *plan,
                        const struct ferry_vm *vm,
                        const struct ferry_plan_target *t,
                        const struct ferry_lvx_disk_rewrite *dr, bool drop_uuid,
                        char **ret_xml, struct ferry_err *err)
{
  const struct ferry_lv_found *f = vm->found;
  struct ferry_lvx_net_map *nets = calloc (t->n_networks + 1, sizeof *nets);
  struct ferry_lvx_rewrite rw = {0};
  size_t i;
  int r = -1;

  if (nets == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  for (i = 0; i < t->n_networks; i++) {
    nets[i].from = t->networks[i].from;
    nets[i].to = t->networks[i].to;
  }
  rw.disks = dr;
  rw.n_disks = f->dom.n_disks;
  rw.nets = nets;
  rw.n_nets = t->n_networks;
  rw.drop_uuid = drop_uuid;
  rw.metadata = ferry_lvsource_metadata (plan, vm);
  if (rw.metadata == NULL)
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
  else
    r = ferry_lvx_domain_rewrite (f->src.xml, strlen (f->src.xml), &rw, ret_xml,
                                  err);
  free ((char *) rw.metadata);
  free (nets);
  return r;
}

/* ferry's metadata element for VM (see the header). */
char *
ferry_lvsource_metadata (const struct ferry_plan *plan,
                         const struct ferry_vm *vm)
{
  const struct ferry_lv_found *fd = vm->found;
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL)
    return NULL;
  fprintf (f, "<ferry:migration xmlns:ferry='%s' plan='", FERRY_LVX_NS);
  ferry_lvsource_xml_text (f, plan->name ? plan->name : "");
  fputs ("' vm='", f);
  ferry_lvsource_xml_text (f, vm->name);
  fputs ("' source-uri='", f);
  ferry_lvsource_xml_text (f, fd ? fd->uri : "");
  fputs ("' source-uuid='", f);
  ferry_lvsource_xml_text (f, fd ? fd->src.uuid : "");
  fputc ('\'', f);
  for (i = 0; i < vm->n_disks; i++) {
    fprintf (f, " disk%zu='", i);
    ferry_lvsource_xml_text (f, vm->disks[i].path);
    fputc ('\'', f);
  }
  fputs ("/>", f);
  if (fclose (f) != 0) {
    free (buf);
    return NULL;
  }
  return buf;
}

/* Is XML a domain ferry defined for PLAN's VM (its metadata says so)? */
bool
ferry_lvsource_is_ours (const struct ferry_plan *plan,
                        const struct ferry_vm *vm, const char *xml)
{
  CLEANUP_FREE char *p = NULL, *v = NULL;
  struct ferry_err err = {0};

  if (xml == NULL ||
      ferry_lvx_metadata_get (xml, strlen (xml), "migration", "plan", &p,
                              &err) < 0 ||
      ferry_lvx_metadata_get (xml, strlen (xml), "migration", "vm", &v, &err) <
          0)
    return false;
  return p && v && strcmp (p, plan->name ? plan->name : "") == 0 &&
         strcmp (v, vm->name) == 0;
}

/* Add a disk to VM at LOC (taken over); PATH for messages.  0 / -1. */
static int
add_disk (struct ferry_vm *vm, struct ferry_location *loc, size_t dom_index,
          struct ferry_err *err)
{
  struct ferry_lv_found *f = vm->found;
  struct ferry_disk_spec *d, *nd;
  size_t *ni;

  nd = realloc (vm->disks, (vm->n_disks + 1) * sizeof *nd);
  if (nd == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  vm->disks = nd;
  ni = realloc (f->disk_index, (vm->n_disks + 1) * sizeof *ni);
  if (ni == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  f->disk_index = ni;
  d = &vm->disks[vm->n_disks];
  memset (d, 0, sizeof *d);
  d->loc = *loc;
  memset (loc, 0, sizeof *loc);
  d->path = ferry_location_format (&d->loc);
  d->file = d->path ? strdup (d->path) : NULL;
  d->pos = vm->pos;
  if (d->path == NULL || d->file == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  f->disk_index[vm->n_disks++] = dom_index;
  return 0;
}

/* The source disks of a cold migration: file and block devices as files,
 * rbd network disks as RBD images on the source's cluster (its conf and
 * user); cdroms and floppies are not copied.  Anything else blocks. */
static int
take_disks (const struct ferry_source *src, struct ferry_vm *vm,
            struct ferry_err *err)
{
  struct ferry_lv_found *f = vm->found;
  size_t i;

  for (i = 0; i < f->dom.n_disks; i++) {
    const struct ferry_lvx_disk *d = &f->dom.disks[i];
    CLEANUP_LOCATION struct ferry_location loc = {0};
    struct ferry_err e = {0};

    if (d->device && strcmp (d->device, "disk") != 0 &&
        strcmp (d->device, "lun") != 0)
      continue; /* cdrom, floppy: not copied */
    if ((d->type == FERRY_LVX_DISK_FILE || d->type == FERRY_LVX_DISK_BLOCK) &&
        d->path) {
      if (ferry_location_set_file (&loc, d->path, &e) < 0) {
        block (f, "disk %s: %s", d->target ? d->target : "?", e.msg);
        continue;
      }
    } else if (d->type == FERRY_LVX_DISK_NETWORK && d->protocol &&
               strcmp (d->protocol, "rbd") == 0 && d->name &&
               strchr (d->name, '/')) {
      CLEANUP_FREE char *pool = strdup (d->name);
      char *img = pool ? strchr (pool, '/') : NULL;
      struct ferry_rbd_location r = {0};

      if (pool == NULL)
        return ferry_err_set (err, ENOMEM, "cannot allocate memory");
      *img++ = '\0';
      r.pool = pool;
      r.image = img;
      r.conf = src->conf;
      r.user = src->user;
      if (ferry_location_set_rbd (&loc, &r, false, &e) < 0) {
        block (f, "disk %s: %s", d->target ? d->target : "?", e.msg);
        continue;
      }
    } else {
      block (f,
             "disk %s is a %s disk%s%s: a cold migration copies file, block "
             "and rbd disks",
             d->target ? d->target : "?", d->type_name ? d->type_name : "?",
             d->protocol ? " of protocol " : "",
             d->protocol ? d->protocol : "");
      continue;
    }
    if (add_disk (vm, &loc, i, err) < 0)
      return -1;
  }
  if (vm->n_disks == 0 && f->blocker == NULL)
    block (f, "domain '%s' has no disk to copy", vm->domain);
  return 0;
}

/* Ports from the domain's NICs (unless the plan lists ports): the
 * target's network for each source network or bridge, the MAC kept. */
static int
take_nics (const struct ferry_plan_target *t, struct ferry_vm *vm,
           struct ferry_err *err)
{
  struct ferry_lv_found *f = vm->found;
  size_t i;

  if (vm->n_ports || f->dom.n_nics == 0)
    return 0;
  vm->ports = calloc (f->dom.n_nics + 1, sizeof *vm->ports);
  if (vm->ports == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  for (i = 0; i < f->dom.n_nics; i++) {
    const struct ferry_lvx_nic *n = &f->dom.nics[i];
    struct ferry_port *p = &vm->ports[vm->n_ports];
    const char *net = ferry_lvsource_net (t, n->source);

    if (net == NULL) {
      block (f, "NIC %s (type %s) has no network or bridge to map",
             n->mac ? n->mac : "?", n->type ? n->type : "?");
      continue;
    }
    p->network = strdup (net);
    p->mac = n->mac ? strdup (n->mac) : NULL;
    p->pos = vm->pos;
    vm->n_ports++;
    if (p->network == NULL || (n->mac && p->mac == NULL))
      return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  return 0;
}

/* F's one-line summary of what was found. */
static char *
summarize (const struct ferry_vm *vm, const struct ferry_lv_found *f)
{
  char *buf = NULL;
  size_t len = 0, i;
  FILE *o = open_memstream (&buf, &len);

  if (o == NULL)
    return NULL;
  fprintf (o, "%s on %s, %zu disk%s (", ferry_libvirt_state_name (f->src.state),
           f->uri, f->dom.n_disks, f->dom.n_disks == 1 ? "" : "s");
  for (i = 0; i < f->dom.n_disks; i++) {
    const struct ferry_lvx_disk *d = &f->dom.disks[i];
    fprintf (o, "%s%s %s%s%s%s", i ? ", " : "", d->target ? d->target : "?",
             d->device && strcmp (d->device, "disk")
                 ? d->device
                 : ferry_lvx_disk_type_name (d->type),
             d->format ? " " : "", d->format ? d->format : "",
             d->empty ? " empty" : "");
    if (d->n_backing)
      fprintf (o, " +%zu backing", d->n_backing);
  }
  fprintf (o, "), %zu NIC%s", f->dom.n_nics, f->dom.n_nics == 1 ? "" : "s");
  for (i = 0; i < f->dom.n_nics; i++)
    fprintf (o, "%s%s %s", i ? ", " : " (",
             f->dom.nics[i].mac ? f->dom.nics[i].mac : "?",
             f->dom.nics[i].source ? f->dom.nics[i].source : "?");
  fprintf (o, "%s, %u vcpu, %" PRIu64 " MiB, %s", f->dom.n_nics ? ")" : "",
           f->dom.vcpus, f->dom.memory_kib / 1024,
           f->dom.uefi ? "uefi" : "bios");
  (void) vm;
  if (fclose (o) != 0) {
    free (buf);
    return NULL;
  }
  return buf;
}

/* Open each disk of VM through ferry's confined readers (as convert will):
 * a chain that names a file outside the disk's directory and allow_dirs,
 * or a broken image, blocks the VM now; the summary gets each disk's
 * virtual size and layers.  0, or -1 when out of memory. */
static int
chains (const struct ferry_plan *plan, const struct ferry_source *src,
        struct ferry_vm *vm, struct ferry_err *err)
{
  struct ferry_lv_found *f = vm->found;
  size_t i;

  for (i = 0; i < vm->n_disks; i++) {
    const struct ferry_lvx_disk *d = &f->dom.disks[f->disk_index[i]];
    struct ferry_disk *disk = NULL, *l;
    struct ferry_err e = {0};
    unsigned layers = 0;
    char *more = NULL;

    if (ferry_plan_disk_get (plan, src, &vm->disks[i].loc, &disk, &e) < 0) {
      block (f, "disk %s: %s", d->target ? d->target : "?", e.msg);
      continue;
    }
    for (l = disk; l; l = l->parent)
      layers++;
    if (asprintf (&more, "%s; %s %" PRIu64 " MiB in %u layer%s", f->summary,
                  d->target ? d->target : "?", disk->virtual_size >> 20, layers,
                  layers == 1 ? "" : "s") < 0) {
      ferry_plan_disk_put (plan, disk, false);
      return ferry_err_set (err, ENOMEM, "cannot allocate memory");
    }
    ferry_plan_disk_put (plan, disk, false);
    free (f->summary);
    f->summary = more;
  }
  return 0;
}

/* Discover one VM (see ferry_lvsource_discover). */
static int
discover_vm (struct ferry_plan *plan, struct ferry_vm *vm,
             struct ferry_err *err)
{
  const struct ferry_source *src = ferry_plan_source (plan, vm->source);
  const struct ferry_plan_target *t = ferry_plan_target (plan, vm->target);
  struct ferry_lv_found *f = calloc (1, sizeof *f);
  struct ferry_err e = {0};
  size_t i;

  if (f == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  vm->found = f;
  f->src.state = -1;
  f->uri = src && src->uri ? strdup (src->uri) : NULL;
  if (f->uri == NULL) {
    block (f, "no libvirt source for domain '%s'", vm->domain);
    return 0;
  }
  if (ferry_libvirt_domain_get (f->uri, vm->domain, &f->src, &e) < 0) {
    block (f, "%s", e.msg);
    return 0;
  }
  if (!f->src.exists && t && t->type == FERRY_PLAN_TARGET_LIBVIRT && t->uri) {
    /* gone from the source: moved there by an earlier run? */
    struct ferry_libvirt_dom td;
    if (ferry_libvirt_domain_get (t->uri, vm->domain, &td, &e) == 0 &&
        td.exists && ferry_lvsource_is_ours (plan, vm, td.xml)) {
      ferry_libvirt_dom_clear (&f->src);
      f->src = td;
      f->on_target_only = true;
    } else
      ferry_libvirt_dom_clear (&td);
  }
  if (!f->src.exists) {
    block (f, "domain '%s' not found on '%s'", vm->domain, f->uri);
    return 0;
  }
  if (ferry_lvx_domain_parse (f->src.xml, strlen (f->src.xml), &f->dom, &e) <
      0) {
    block (f, "domain '%s' on '%s': %s", vm->domain, f->uri, e.msg);
    return 0;
  }
  f->parsed = true;
  f->summary = summarize (vm, f);
  if (f->summary == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (f->dom.n_blockers)
    block (f, "domain '%s' cannot move: %s%s", vm->domain, f->dom.blockers[0],
           f->dom.n_blockers > 1 ? " (and more)" : "");
  if (f->src.n_snapshots > 0 && !f->on_target_only)
    block (f,
           "domain '%s' has %d snapshot%s in libvirt: the target would not "
           "have them; merge or delete them first (virsh snapshot-list %s)",
           vm->domain, f->src.n_snapshots, f->src.n_snapshots == 1 ? "" : "s",
           vm->domain);
  if (vm->vcpus == 0)
    vm->vcpus = f->dom.vcpus ? f->dom.vcpus : 1;
  if (vm->ram_mb == 0)
    vm->ram_mb = f->dom.memory_kib >= 64 * 1024
                     ? (unsigned) (f->dom.memory_kib / 1024)
                     : 64;
  if (vm->firmware == NULL && f->dom.uefi)
    vm->firmware = strdup ("uefi");
  if (vm->migrate == FERRY_MIGRATE_LIVE)
    return 0; /* libvirt moves disks and NICs as they are */
  if (f->on_target_only) {
    /* the disks ferry copied, as its metadata on the target recorded */
    for (i = 0;; i++) {
      CLEANUP_FREE char *p = NULL;
      CLEANUP_LOCATION struct ferry_location loc = {0};
      char key[32];
      snprintf (key, sizeof key, "disk%zu", i);
      if (ferry_lvx_metadata_get (f->src.xml, strlen (f->src.xml), "migration",
                                  key, &p, &e) < 0 ||
          p == NULL)
        break;
      if (ferry_location_parse (p, &loc, &e) < 0 ||
          add_disk (vm, &loc, i, err) < 0)
        break;
    }
  } else if (take_disks (src, vm, err) < 0 || chains (plan, src, vm, err) < 0)
    return -1;
  return take_nics (t, vm, err);
}

/* Discover every domain VM of PLAN. */
int
ferry_lvsource_discover (struct ferry_plan *plan, struct ferry_err *err)
{
  size_t i;

  plan->found_free = found_free;
  for (i = 0; i < plan->n_vms; i++)
    if (plan->vms[i].domain && plan->vms[i].found == NULL &&
        discover_vm (plan, &plan->vms[i], err) < 0)
      return -1;
  return 0;
}

/* See the header. */
int
ferry_lvsource_handed_over (struct ferry_ctx *ctx,
                            const struct ferry_step *step, char *detail,
                            size_t len, struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_step_record *rec;
  struct ferry_libvirt_dom d;
  char id[128];
  int r = 0;

  if (vm->found == NULL || vm->migrate != FERRY_MIGRATE_COLD ||
      step->target->uri == NULL || ctx->state == NULL)
    return 0;
  snprintf (id, sizeof id, "%s/define", vm->name);
  rec = ferry_state_step (ctx->state, id);
  if (rec == NULL || rec->last != FERRY_EVENT_DONE)
    return 0;
  if (ferry_libvirt_domain_get (step->target->uri, vm->domain, &d, err) < 0)
    return -1;
  if (d.exists && ferry_lvsource_is_ours (ctx->plan, vm, d.xml)) {
    snprintf (detail, len,
              "handed over: domain '%s' on '%s' (%s) owns the disk since "
              "it was defined; not compared with the source any more",
              vm->domain, step->target->uri,
              ferry_libvirt_state_name (d.state));
    r = 1;
  }
  ferry_libvirt_dom_clear (&d);
  return r;
}

/* See the header. */
int
ferry_lvsource_foreign (struct ferry_ctx *ctx, const struct ferry_step *step,
                        char *detail, size_t len, struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  struct ferry_libvirt_dom d;
  int r = 0;

  if (step->target == NULL || step->target->uri == NULL ||
      step->target->type == FERRY_PLAN_TARGET_OPENSTACK)
    return 0;
  if (ferry_libvirt_domain_get (step->target->uri, vm->domain, &d, err) < 0)
    return -1;
  if (d.exists && !ferry_lvsource_is_ours (ctx->plan, vm, d.xml)) {
    snprintf (detail, len,
              "a domain '%s' that ferry did not define exists on '%s': "
              "left alone",
              vm->domain, step->target->uri);
    r = 1;
  }
  ferry_libvirt_dom_clear (&d);
  return r;
}
