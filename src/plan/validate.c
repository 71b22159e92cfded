/* Cross checks on a parsed plan: names that must exist, values that must be
 * unique, the dependency graph, and the disk files themselves. */
#include "plan/plan-int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk/disk.h"
#include "util/cleanup.h"

/* A value that must be unique in the plan, for sort-based duplicate
 * detection (plans may hold thousands of VMs). */
struct uniq {
  const char *key;      /* compared with strcmp */
  size_t seq;           /* order of appearance */
  struct ferry_pos pos; /* where it was written */
  char *path;           /* key path for the message */
};

/* qsort order for duplicate detection: by key, then by order of
 * appearance, so the first occurrence of a value sorts first. */
static int
uniq_cmp (const void *a, const void *b)
{
  const struct uniq *x = a, *y = b;
  int c = strcmp (x->key, y->key);

  if (c)
    return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Report every value of U that appeared before, as "duplicate WHAT 'v'". */
static void
report_dups (struct ferry_pctx *ctx, struct uniq *u, size_t n, const char *what)
{
  size_t i, first = 0;

  qsort (u, n, sizeof *u, uniq_cmp);
  for (i = 0; i < n; i++) {
    if (i == 0 || strcmp (u[i].key, u[i - 1].key) != 0) {
      first = i;
      continue;
    }
    ferry_plan_diag (ctx, u[i].pos, u[i].path,
                     "duplicate %s '%s' (first at line %u)", what, u[i].key,
                     u[first].pos.line);
  }
}

/* Free the key paths of the N entries of U and U itself. */
static void
uniq_free (struct uniq *u, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    free (u[i].path);
  free (u);
}

/* Rewrite a valid address in its canonical text form, so that duplicates
 * are found however they are spelt (::1 and 0::1). */
static void
canon_ip (struct ferry_pctx *ctx, char **ip)
{
  unsigned char b[16];
  char canon[INET6_ADDRSTRLEN];
  int af = AF_INET;
  char *c;

  if (inet_pton (AF_INET, *ip, b) != 1) {
    af = AF_INET6;
    if (inet_pton (AF_INET6, *ip, b) != 1)
      return;
  }
  if (inet_ntop (af, b, canon, sizeof canon) == NULL)
    return;
  c = strdup (canon);
  if (c == NULL) {
    ctx->oom = true;
    return;
  }
  free (*ip);
  *ip = c;
}

/* The position of MAP[KEY]'s value, or MAP's own. */
static struct ferry_pos
pos_of (const struct ferry_ynode *map, const char *key)
{
  const struct ferry_ynode *v = ferry_ynode_get (map, key);

  return v ? v->pos : map->pos;
}

/* Report NAME not being one of the plan's WHATs, with a suggestion. */
static void
unknown_ref (struct ferry_pctx *ctx, struct ferry_pos pos, const char *path,
             const char *what, const char *name, const char *const *names,
             size_t n)
{
  const char *best = NULL;
  size_t bd = 3, d, i;

  for (i = 0; i < n; i++) {
    d = ferry_plan_distance (name, names[i], 2);
    if (d < bd && d < strlen (names[i])) {
      bd = d;
      best = names[i];
    }
  }
  if (best)
    ferry_plan_diag (ctx, pos, path, "unknown %s '%s'; did you mean '%s'?",
                     what, name, best);
  else
    ferry_plan_diag (ctx, pos, path, "unknown %s '%s'", what, name);
}

/* Check that NAME is a source/target/flavor of the plan. */
static bool
check_ref (struct ferry_pctx *ctx, const struct ferry_plan *plan,
           struct ferry_pos pos, const char *path, const char *what,
           const char *name)
{
  CLEANUP_FREE const char **names = NULL;
  size_t n = 0, i;

  if (strcmp (what, "source") == 0) {
    if (ferry_plan_source (plan, name))
      return true;
    n = plan->n_sources;
    names = calloc (n + 1, sizeof *names);
    for (i = 0; names && i < n; i++)
      names[i] = plan->sources[i].name;
  } else if (strcmp (what, "target") == 0) {
    if (ferry_plan_target (plan, name))
      return true;
    n = plan->n_targets;
    names = calloc (n + 1, sizeof *names);
    for (i = 0; names && i < n; i++)
      names[i] = plan->targets[i].name;
  } else {
    if (ferry_plan_flavor (plan, name))
      return true;
    n = plan->n_flavors;
    names = calloc (n + 1, sizeof *names);
    for (i = 0; names && i < n; i++)
      names[i] = plan->flavors[i].name;
  }
  if (names == NULL) {
    ctx->oom = true;
    return false;
  }
  unknown_ref (ctx, pos, path, what, name, names, n);
  return false;
}

/* One depends_on edge. */
struct edge {
  size_t to;            /* VM index */
  struct ferry_pos pos; /* the depends_on entry */
  size_t item;          /* index in depends_on */
};

struct vertex {
  struct edge *edges;
  size_t n_edges;
  size_t next;     /* DFS: next edge to follow */
  int color;       /* 0 white, 1 on the stack, 2 done */
  size_t stackpos; /* DFS: index in the stack while on it */
};

#define CYCLE_SHOWN 16 /* names printed of a longer cycle */

/* Find and report dependency cycles with an iterative depth-first search
 * (no recursion: a plan may chain thousands of VMs). */
static void
find_cycles (struct ferry_pctx *ctx, const struct ferry_plan *plan,
             struct vertex *vx)
{
  CLEANUP_FREE size_t *stack = calloc (plan->n_vms + 1, sizeof *stack);
  size_t sp, s, i, k;

  if (stack == NULL) {
    ctx->oom = true;
    return;
  }
  for (s = 0; s < plan->n_vms; s++) {
    if (vx[s].color)
      continue;
    sp = 0;
    vx[s].stackpos = 0;
    stack[sp++] = s;
    vx[s].color = 1;
    while (sp > 0) {
      size_t u = stack[sp - 1];
      struct edge *e;
      if (vx[u].next == vx[u].n_edges) {
        vx[u].color = 2;
        sp--;
        continue;
      }
      e = &vx[u].edges[vx[u].next++];
      if (vx[e->to].color == 0) {
        vx[e->to].color = 1;
        vx[e->to].stackpos = sp;
        stack[sp++] = e->to;
      } else if (vx[e->to].color == 1) {
        /* Cycle: from e->to on the stack up to u, then back to e->to;
         * a long one is shortened (the message stays one readable line). */
        CLEANUP_FREE char *path = NULL;
        char *msg = NULL;
        size_t len = 0;
        FILE *f = open_memstream (&msg, &len);
        if (f == NULL) {
          ctx->oom = true;
          return;
        }
        k = vx[e->to].stackpos;
        for (i = k; i < sp && i < k + CYCLE_SHOWN; i++)
          fprintf (f, "%s -> ", plan->vms[stack[i]].name);
        if (sp - k > CYCLE_SHOWN)
          fprintf (f, "... (%zu more) -> ", sp - k - CYCLE_SHOWN);
        fputs (plan->vms[e->to].name, f);
        if (fclose (f) != 0 || msg == NULL) {
          free (msg);
          ctx->oom = true;
          return;
        }
        if (asprintf (&path, "vms[%zu].depends_on[%zu]", u, e->item) < 0)
          path = NULL;
        ferry_plan_diag (ctx, e->pos, path, "dependency cycle: %s", msg);
        free (msg);
      }
    }
  }
}

#define TEXT_PROBE 4096     /* bytes of a raw disk looked at as text */
#define WALK_MAX (1u << 20) /* map calls of the table walk, at most */

/* Why a "raw" chain member of DISK is not a disk image (WHY filled), or
 * false: a raw disk is whatever is not another format, so a 0-byte file,
 * a .vmx or a VMDK descriptor whose extents are missing end up here. */
static bool
raw_suspect (struct ferry_disk *disk, char *why, size_t len)
{
  static const char *const text_heads[] = {"# Disk DescriptorFile", ".encoding",
                                           "config.version"};
  unsigned char head[TEXT_PROBE];
  struct ferry_disk *d;
  bool newline;
  ssize_t n;
  size_t i;

  for (d = disk; d; d = d->parent) {
    if (d->format != &ferry_format_raw || d->fd < 0)
      continue;
    if (d->file_size < 512) {
      snprintf (why, len,
                "'%s' is not a disk image: %llu bytes, less than one sector",
                d->path, (unsigned long long) d->file_size);
      return true;
    }
    n = pread (d->fd, head, sizeof head, 0);
    if (n <= 0)
      continue;
    for (i = 0; i < FERRY_ARRAY_SIZE (text_heads); i++)
      if ((size_t) n >= strlen (text_heads[i]) &&
          memcmp (head, text_heads[i], strlen (text_heads[i])) == 0) {
        snprintf (why, len,
                  "'%s' is not a disk image: it starts with '%s' (a VMDK "
                  "descriptor or a .vmx file; name the .vmdk whose extents "
                  "are present)",
                  d->path, text_heads[i]);
        return true;
      }
    newline = false;
    for (i = 0; i < (size_t) n; i++) {
      if (head[i] == '\n')
        newline = true;
      else if (!(head[i] == '\t' || head[i] == '\r' ||
                 (head[i] >= 0x20 && head[i] < 0x7f)))
        break;
    }
    if (i == (size_t) n && newline) {
      snprintf (why, len,
                "'%s' is not a disk image: its first %zd bytes are text",
                d->path, n);
      return true;
    }
  }
  return false;
}

/* The location of an rbd source's disk: FILE is IMAGE or IMAGE@SNAP in the
 * source's pool, read with the source's conf and user.  Validate does no
 * network I/O: the image is not opened here. */
static void
rbd_disk_location (struct ferry_pctx *ctx, const struct ferry_source *src,
                   struct ferry_disk_spec *ds, const struct ferry_ynode *dn,
                   const char *fp)
{
  struct ferry_err err = {0};
  CLEANUP_FREE char *image = strdup (ds->file);
  char *snap;

  if (image == NULL) {
    ctx->oom = true;
    return;
  }
  snap = strchr (image, '@');
  if (snap)
    *snap++ = '\0';
  if (image[0] == '\0' || strchr (image, '/') || (snap && snap[0] == '\0')) {
    ferry_plan_diag (ctx, pos_of (dn, "file"), fp,
                     "'%s' is not an rbd image name (IMAGE or IMAGE@SNAP)",
                     ds->file);
    return;
  }
  if (ferry_location_set_rbd (&ds->loc,
                              &(struct ferry_rbd_location){
                                  .pool = src->pool,
                                  .image = image,
                                  .snap = snap,
                                  .conf = src->conf,
                                  .user = src->user,
                              },
                              false, &err) < 0) {
    ferry_plan_diag (ctx, pos_of (dn, "file"), fp, "%s", err.msg);
    return;
  }
  ds->path = ferry_location_format (&ds->loc);
  if (ds->path == NULL)
    ctx->oom = true;
}

/* The disk's location: FILE under the source's directory (or the plan's),
 * or an image in an rbd source's pool.  Opens a file unless told not to. */
static void
check_disk (struct ferry_pctx *ctx, const struct ferry_plan *plan,
            const struct ferry_source *src, struct ferry_disk_spec *ds,
            const struct ferry_ynode *dn, const char *path)
{
  struct ferry_err err = {0};
  struct ferry_disk *disk = NULL;
  CLEANUP_FREE char *fp = NULL;
  CLEANUP_FREE char *sp = NULL;
  char why[PATH_MAX + 256];
  uint64_t alloc = 0;

  if (ds->file == NULL)
    return;
  if (asprintf (&fp, "%s.file", path) < 0 ||
      asprintf (&sp, "%s.size_gb", path) < 0) {
    ctx->oom = true;
    return;
  }
  if (src && src->type == FERRY_SOURCE_RBD) {
    if (src->pool)
      rbd_disk_location (ctx, src, ds, dn, fp);
    return;
  }
  ds->path =
      ferry_plan_resolve (src && src->path ? src->path : plan->dir, ds->file);
  if (ds->path == NULL) {
    ctx->oom = true;
    return;
  }
  if (ferry_location_set_file (&ds->loc, ds->path, &err) < 0) {
    ferry_plan_diag (ctx, pos_of (dn, "file"), fp, "%s", err.msg);
    return;
  }
  if (ctx->flags & FERRY_PLAN_NO_DISK_CHECK)
    return;
  if (ferry_plan_disk_get (plan, src, &ds->loc, &disk, &err) < 0) {
    ferry_plan_diag (ctx, pos_of (dn, "file"), fp, "%s", err.msg);
    return;
  }
  if (raw_suspect (disk, why, sizeof why)) {
    ferry_plan_diag (ctx, pos_of (dn, "file"), fp, "%s", why);
    ferry_plan_disk_put (plan, disk, false);
    return;
  }
  if (ferry_disk_walk (disk, WALK_MAX, &alloc, &err) < 0) {
    ferry_plan_diag (ctx, pos_of (dn, "file"), fp, "%s", err.msg);
    ferry_plan_disk_put (plan, disk, false);
    return;
  }
  if (ds->size_gb && ds->size_gb * (UINT64_C (1) << 30) < disk->virtual_size)
    ferry_plan_diag (ctx, pos_of (dn, "size_gb"), sp,
                     "must be at least the source's virtual size (%" PRIu64
                     " bytes)",
                     disk->virtual_size);
  ferry_plan_disk_put (plan, disk, false);
}

/* OpenStack rules of VM (mapping M at P): its own keys only on an
 * openstack target, a flavor, and a target that can adopt images when a
 * disk is in manage mode. */
static void
check_vm_openstack (struct ferry_pctx *ctx, const struct ferry_plan *plan,
                    const struct ferry_vm *vm, const struct ferry_ynode *m,
                    const char *p)
{
  static const char *const os_keys[] = {
      "availability_zone", "key_name", "user_data", "os_type", "firmware",
      "machine_type",      "image",    "boot_from", NULL};
  const struct ferry_plan_target *t = ferry_plan_target (plan, vm->target);
  size_t j;

  if (t == NULL)
    return;
  if (t->type != FERRY_PLAN_TARGET_OPENSTACK) {
    for (j = 0; os_keys[j]; j++) {
      const struct ferry_yent *e = ferry_ynode_ent (m, os_keys[j]);
      CLEANUP_FREE char *kp = NULL;
      if (e == NULL || asprintf (&kp, "%s.%s", p, os_keys[j]) < 0)
        continue;
      ferry_plan_diag (ctx, e->key->pos, kp,
                       "only for an openstack target ('%s' is %s)", t->name,
                       ferry_plan_target_type_name (t->type));
    }
    return;
  }
  if (vm->flavor == NULL)
    ferry_plan_diag (ctx, m->pos, p,
                     "a VM on openstack target '%s' needs a flavor (set "
                     "'flavor' here or 'defaults.flavor')",
                     t->name);
  for (j = 0; j < vm->n_disks; j++) {
    CLEANUP_FREE char *kp = NULL;
    if (ferry_plan_volume_mode (plan, vm, j) != FERRY_VOLUME_MODE_MANAGE ||
        t->volume_host)
      continue;
    if (asprintf (&kp, "%s.disks[%zu]", p, j) < 0)
      continue;
    ferry_plan_diag (ctx, vm->disks[j].pos, kp,
                     "volume_mode 'manage' needs targets.%s.volume_host "
                     "(the Cinder backend that adopts the image)",
                     t->name);
  }
}

/* libvirt-source rules of VM (mapping M at P): a domain needs a libvirt
 * source; a live migration needs a libvirt target with a uri, and a path
 * for its disks unless storage is shared. */
static void
check_vm_libvirt (struct ferry_pctx *ctx, const struct ferry_plan *plan,
                  const struct ferry_vm *vm, const struct ferry_source *src,
                  const struct ferry_ynode *m, const char *p)
{
  const struct ferry_plan_target *t = ferry_plan_target (plan, vm->target);
  CLEANUP_FREE char *kp = NULL;

  if (vm->domain == NULL)
    return;
  if (asprintf (&kp, "%s.domain", p) < 0) {
    ctx->oom = true;
    return;
  }
  if (src && src->type != FERRY_SOURCE_LIBVIRT)
    ferry_plan_diag (ctx, pos_of (m, "domain"), kp,
                     "needs a libvirt source ('%s' is %s)", src->name,
                     ferry_source_type_name (src->type));
  else if (src == NULL && vm->source == NULL)
    ferry_plan_diag (ctx, pos_of (m, "domain"), kp,
                     "needs a libvirt source (set 'source' here or "
                     "'defaults.source')");
  if (vm->migrate != FERRY_MIGRATE_LIVE || t == NULL)
    return;
  free (kp);
  if (asprintf (&kp, "%s.migrate", p) < 0) {
    kp = NULL;
    ctx->oom = true;
    return;
  }
  if (t->type != FERRY_PLAN_TARGET_LIBVIRT || t->uri == NULL)
    ferry_plan_diag (ctx, pos_of (m, "migrate"), kp,
                     "a live migration needs a libvirt target with a uri "
                     "('%s' is %s)",
                     t->name, ferry_plan_target_type_name (t->type));
  else if (vm->live.storage == FERRY_LIVE_STORAGE_COPY && t->path == NULL)
    ferry_plan_diag (ctx, pos_of (m, "migrate"), kp,
                     "a live migration with storage: copy needs the target's "
                     "path for the disks (targets.%s.path)",
                     t->name);
}

/* A warm VM (M at P) pre-copies the parents of file snapshot chains: a
 * directory source's disks, no domain. */
static void
check_vm_warm (struct ferry_pctx *ctx, const struct ferry_vm *vm,
               const struct ferry_source *src, const struct ferry_ynode *m,
               const char *p)
{
  CLEANUP_FREE char *kp = NULL;

  if (vm->stop_command && (!vm->warm || vm->n_stop_command == 0)) {
    if (asprintf (&kp, "%s.stop_command", p) < 0) {
      kp = NULL;
      ctx->oom = true;
      return;
    }
    ferry_plan_diag (ctx, pos_of (m, "stop_command"), kp,
                     vm->warm ? "needs the command and its arguments"
                              : "only with warm: true (a cold VM is shut "
                                "down before ferry starts)");
    free (kp);
    kp = NULL;
  }
  if (!vm->warm)
    return;
  if (asprintf (&kp, "%s.warm", p) < 0) {
    kp = NULL;
    ctx->oom = true;
    return;
  }
  if (vm->domain)
    ferry_plan_diag (ctx, pos_of (m, "warm"), kp,
                     "not for a VM with a domain (a running KVM guest moves "
                     "with migrate: live)");
  else if (src && src->type != FERRY_SOURCE_DIRECTORY)
    ferry_plan_diag (ctx, pos_of (m, "warm"), kp,
                     "needs a directory source with the disks' snapshot "
                     "files ('%s' is %s)",
                     src->name, ferry_source_type_name (src->type));
}

/* Fill defaults and check the references, disks and ports of VM I, and
 * the OpenStack rules. */
static void
check_vm (struct ferry_pctx *ctx, const struct ferry_ynode *dflt,
          struct ferry_plan *plan, size_t i, const struct ferry_ynode *m)
{
  struct ferry_vm *vm = &plan->vms[i];
  const struct ferry_source *src = NULL;
  const struct ferry_flavor *fl = NULL;
  const struct ferry_ynode *disks = ferry_ynode_get (m, "disks");
  CLEANUP_FREE char *p = NULL;
  char *kp = NULL;
  size_t j;

  if (asprintf (&p, "vms[%zu]", i) < 0) {
    p = NULL;
    ctx->oom = true;
    return;
  }
  (void) dflt;
  if (vm->source) {
    if (asprintf (&kp, "%s.source", p) >= 0)
      check_ref (ctx, plan, pos_of (m, "source"), kp, "source", vm->source);
    free (kp);
  } else if (plan->defaults.source && ferry_ynode_get (m, "source") == NULL)
    vm->source = strdup (plan->defaults.source);
  src = ferry_plan_source (plan, vm->source);

  if (vm->target) {
    if (asprintf (&kp, "%s.target", p) >= 0)
      check_ref (ctx, plan, pos_of (m, "target"), kp, "target", vm->target);
    free (kp);
  } else if (plan->defaults.target)
    vm->target = strdup (plan->defaults.target);
  else if (ferry_ynode_get (m, "target") == NULL)
    ferry_plan_diag (ctx, m->pos, p,
                     "no target (set 'target' here or 'defaults.target')");

  if (vm->flavor) {
    if (asprintf (&kp, "%s.flavor", p) >= 0)
      check_ref (ctx, plan, pos_of (m, "flavor"), kp, "flavor", vm->flavor);
    free (kp);
  } else if (plan->defaults.flavor && ferry_ynode_get (m, "flavor") == NULL)
    vm->flavor = strdup (plan->defaults.flavor);
  fl = ferry_plan_flavor (plan, vm->flavor);
  /* a domain's own CPU and memory count unless the plan says otherwise
   * (discovery fills them in: modules/lvsource.c) */
  if (vm->vcpus == 0 && (vm->domain == NULL || (fl && fl->vcpus)))
    vm->vcpus = fl && fl->vcpus ? fl->vcpus : 1;
  if (vm->ram_mb == 0 && (vm->domain == NULL || (fl && fl->ram_mb)))
    vm->ram_mb = fl && fl->ram_mb ? fl->ram_mb : 1024;
  check_vm_libvirt (ctx, plan, vm, src, m, p);
  check_vm_warm (ctx, vm, src, m, p);

  for (j = 0; disks && disks->kind == FERRY_YNODE_SEQ && j < vm->n_disks &&
              j < disks->n_items;
       j++) {
    CLEANUP_FREE char *dp = NULL;
    if (asprintf (&dp, "%s.disks[%zu]", p, j) < 0) {
      ctx->oom = true;
      return;
    }
    check_disk (ctx, plan, src, &vm->disks[j], disks->items[j], dp);
  }
  check_vm_openstack (ctx, plan, vm, m, p);
}

/* The semantic pass over a parsed plan: references (defaults, sources,
 * targets, flavors, depends_on), unique VM names, MACs and fixed IPs,
 * dependency cycles, and every disk opened read-only with the real readers
 * (confined to its source, tables walked) so a bad image is a plan error
 * at file:line:col.  Problems go to CTX's diagnostics, all of them, not
 * just the first. */
void
ferry_plan_validate (struct ferry_pctx *ctx, const struct ferry_ynode *root,
                     struct ferry_plan *plan)
{
  const struct ferry_ynode *vms, *dflt;
  struct uniq *names = NULL, *macs = NULL, *ips = NULL;
  size_t n_names = 0, n_macs = 0, n_ips = 0, n_ports = 0;
  struct vertex *vx = NULL;
  size_t i, j;

  if (root == NULL || root->kind != FERRY_YNODE_MAP)
    return;
  vms = ferry_ynode_get (root, "vms");
  dflt = ferry_ynode_get (root, "defaults");
  if (dflt && dflt->kind == FERRY_YNODE_MAP) {
    if (plan->defaults.source)
      check_ref (ctx, plan, pos_of (dflt, "source"), "defaults.source",
                 "source", plan->defaults.source);
    if (plan->defaults.target)
      check_ref (ctx, plan, pos_of (dflt, "target"), "defaults.target",
                 "target", plan->defaults.target);
    if (plan->defaults.flavor)
      check_ref (ctx, plan, pos_of (dflt, "flavor"), "defaults.flavor",
                 "flavor", plan->defaults.flavor);
  }
  if (vms == NULL || vms->kind != FERRY_YNODE_SEQ)
    return;

  for (i = 0; i < plan->n_vms; i++)
    n_ports += plan->vms[i].n_ports;
  names = calloc (plan->n_vms + 1, sizeof *names);
  macs = calloc (n_ports + 1, sizeof *macs);
  ips = calloc (n_ports + 1, sizeof *ips);
  vx = calloc (plan->n_vms + 1, sizeof *vx);
  if (names == NULL || macs == NULL || ips == NULL || vx == NULL) {
    ctx->oom = true;
    goto out;
  }

  for (i = 0; i < plan->n_vms && i < vms->n_items; i++) {
    const struct ferry_ynode *m = vms->items[i], *ports;
    struct ferry_vm *vm = &plan->vms[i];

    if (m->kind != FERRY_YNODE_MAP)
      continue;
    check_vm (ctx, dflt, plan, i, m);
    if (vm->name) {
      names[n_names].key = vm->name;
      names[n_names].seq = i;
      names[n_names].pos = pos_of (m, "name");
      if (asprintf (&names[n_names].path, "vms[%zu].name", i) < 0)
        names[n_names].path = NULL;
      n_names++;
    }
    ports = ferry_ynode_get (m, "ports");
    for (j = 0; ports && ports->kind == FERRY_YNODE_SEQ && j < vm->n_ports &&
                j < ports->n_items;
         j++) {
      struct ferry_port *pt = &vm->ports[j];
      const struct ferry_ynode *pn = ports->items[j];
      if (pt->mac) {
        macs[n_macs].key = pt->mac;
        macs[n_macs].seq = n_macs;
        macs[n_macs].pos = pos_of (pn, "mac");
        if (asprintf (&macs[n_macs].path, "vms[%zu].ports[%zu].mac", i, j) < 0)
          macs[n_macs].path = NULL;
        n_macs++;
      }
      if (pt->fixed_ip) {
        canon_ip (ctx, &pt->fixed_ip);
        ips[n_ips].key = pt->fixed_ip;
        ips[n_ips].seq = n_ips;
        ips[n_ips].pos = pos_of (pn, "fixed_ip");
        if (asprintf (&ips[n_ips].path, "vms[%zu].ports[%zu].fixed_ip", i, j) <
            0)
          ips[n_ips].path = NULL;
        n_ips++;
      }
    }
  }
  report_dups (ctx, names, n_names, "VM name");
  report_dups (ctx, macs, n_macs, "MAC address");
  report_dups (ctx, ips, n_ips, "fixed IP");

  /* The dependency graph.  NAMES is sorted by name now. */
  for (i = 0; i < plan->n_vms && i < vms->n_items; i++) {
    const struct ferry_ynode *dep =
        ferry_ynode_get (vms->items[i], "depends_on");
    struct ferry_vm *vm = &plan->vms[i];
    if (dep == NULL || dep->kind != FERRY_YNODE_SEQ)
      continue;
    vx[i].edges = calloc (dep->n_items + 1, sizeof *vx[i].edges);
    if (vx[i].edges == NULL) {
      ctx->oom = true;
      goto out;
    }
    for (j = 0; j < dep->n_items; j++) {
      const struct ferry_ynode *d = dep->items[j];
      struct uniq *hit;
      CLEANUP_FREE char *p = NULL;
      if (d->kind != FERRY_YNODE_SCALAR || d->stype != FERRY_YSCALAR_STR ||
          d->str[0] == '\0')
        continue; /* reported by the parser */
      if (asprintf (&p, "vms[%zu].depends_on[%zu]", i, j) < 0)
        p = NULL;
      if (vm->name && strcmp (vm->name, d->str) == 0) {
        ferry_plan_diag (ctx, d->pos, p, "a VM cannot depend on itself");
        continue;
      }
      {
        /* bsearch on the key field: names are sorted by key first. */
        size_t lo = 0, hi = n_names;
        hit = NULL;
        while (lo < hi) {
          size_t mid = lo + (hi - lo) / 2;
          int c = strcmp (names[mid].key, d->str);
          if (c == 0) {
            hit = &names[mid];
            break;
          }
          if (c < 0)
            lo = mid + 1;
          else
            hi = mid;
        }
      }
      if (hit == NULL) {
        CLEANUP_FREE const char **all = calloc (n_names + 1, sizeof *all);
        size_t k;
        if (all == NULL) {
          ctx->oom = true;
          goto out;
        }
        for (k = 0; k < n_names; k++)
          all[k] = names[k].key;
        unknown_ref (ctx, d->pos, p, "VM", d->str, all, n_names);
        continue;
      }
      /* The first VM of that name (duplicates are reported above). */
      while (hit > names && strcmp (hit[-1].key, d->str) == 0)
        hit--;
      vx[i].edges[vx[i].n_edges].to = hit->seq;
      vx[i].edges[vx[i].n_edges].pos = d->pos;
      vx[i].edges[vx[i].n_edges].item = j;
      vx[i].n_edges++;
    }
  }
  find_cycles (ctx, plan, vx);

out:
  uniq_free (names, n_names);
  uniq_free (macs, n_macs);
  uniq_free (ips, n_ips);
  for (i = 0; vx && i < plan->n_vms; i++)
    free (vx[i].edges);
  free (vx);
}
