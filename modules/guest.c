/* The guest steps' per-VM session: one appliance over the VM's target
 * disks for inspect, resize, inject and customize (modules/guest.h). */
#include "modules/guest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clients/openstack.h"
#include "clients/rbd.h"
#include "modules/convert.h"
#include "modules/local.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

struct sess {
  struct sess *next;
  const struct ferry_vm *vm;
  const struct ferry_plan_target *target;
  struct ferry_gfs *gf;
  struct ferry_guest_info info;
  struct ferry_location *disks;
  uint64_t *sizes;
  size_t n_disks;
  struct ferry_guest_nic *nics;
  size_t n_nics;
  bool opened; /* convert's evidence says " guest=open" */
};

struct ferry_guests {
  pthread_mutex_t lock;
  struct sess *list;
};

/* The guest modules in the order they run (each runs after the one
 * before: modules/registry.c). */
static const char *const guest_modules[] = {"inspect", "resize", "inject",
                                            "customize"};

struct ferry_guests *
ferry_guests_new (void)
{
  struct ferry_guests *gs = calloc (1, sizeof *gs);

  if (gs)
    pthread_mutex_init (&gs->lock, NULL);
  return gs;
}

static void
nics_free (struct ferry_guest_nic *nics, size_t n)
{
  size_t i, j;

  for (i = 0; nics && i < n; i++) {
    free (nics[i].mac);
    free (nics[i].ip);
    free (nics[i].gateway);
    for (j = 0; nics[i].dns && nics[i].dns[j]; j++)
      free (nics[i].dns[j]);
    free (nics[i].dns);
    free (nics[i].guest_name);
  }
  free (nics);
}

static void
disks_free (struct ferry_location *d, size_t n)
{
  size_t i;

  for (i = 0; d && i < n; i++)
    ferry_location_clear (&d[i]);
  free (d);
}

/* Close S (flush), re-bind convert's evidence of file targets, free.
 * CTX may be NULL (end of run without a context: no journal). */
static int
sess_close (struct ferry_ctx *ctx, struct sess *s, struct ferry_err *err)
{
  bool rw = s->gf && !ferry_gfs_readonly (s->gf);
  int r = ferry_gfs_close (s->gf, err);
  size_t i;

  s->gf = NULL;
  if (r == 0 && rw && s->opened && ctx && s->target &&
      s->target->type != FERRY_PLAN_TARGET_OPENSTACK)
    for (i = 0; i < s->n_disks && r == 0; i++)
      r = ferry_convert_rebind (ctx, s->vm, s->target, i, false, err);
  ferry_guest_info_clear (&s->info);
  disks_free (s->disks, s->n_disks);
  free (s->sizes);
  nics_free (s->nics, s->n_nics);
  free (s);
  return r;
}

void
ferry_guests_free (struct ferry_guests *gs)
{
  struct sess *s, *next;
  struct ferry_err err = {0};

  if (gs == NULL)
    return;
  for (s = gs->list; s; s = next) {
    next = s->next;
    if (sess_close (NULL, s, &err) < 0)
      ferry_warn ("%s", err.msg);
  }
  pthread_mutex_destroy (&gs->lock);
  free (gs);
}

int
ferry_guest_targets (struct ferry_ctx *ctx, const struct ferry_step *step,
                     struct ferry_location **ret, size_t *ret_n, char *why,
                     size_t len, struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  struct ferry_location *d = calloc (vm->n_disks + 1, sizeof *d);
  size_t i;

  if (d == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (step->target == NULL) {
    free (d);
    snprintf (why, len, "vm '%s' has no target", vm->name);
    return 0;
  }
  for (i = 0; i < vm->n_disks; i++) {
    if (step->target->type == FERRY_PLAN_TARGET_OPENSTACK) {
      bool converted = false;
      int r = ferry_convert_os_target (ctx, vm, step->target, i, &d[i],
                                       &converted, err);
      if (r < 0) {
        disks_free (d, i);
        return -1;
      }
      if (r == 0 || !converted) {
        snprintf (why, len, "after convert (disk %zu is not converted yet)", i);
        disks_free (d, i + (r == 1));
        return 0;
      }
    } else {
      char *path = ferry_local_disk_path (step, i);
      struct stat st;
      if (path == NULL) {
        disks_free (d, i);
        return ferry_err_set (err, ENOMEM, "cannot allocate memory");
      }
      if (stat (path, &st) < 0) {
        snprintf (why, len, "after convert ('%s' is not converted yet)", path);
        free (path);
        disks_free (d, i);
        return 0;
      }
      d[i].kind = FERRY_LOCATION_FILE;
      d[i].file.path = path;
    }
  }
  *ret = d;
  *ret_n = vm->n_disks;
  return 1;
}

static char *
dup_or_null (const char *s)
{
  return s ? strdup (s) : NULL;
}

/* The prefix length of CIDR "10.0.0.0/24" (0 if none). */
static unsigned
cidr_prefix (const char *cidr)
{
  const char *slash = cidr ? strchr (cidr, '/') : NULL;

  return slash ? (unsigned) strtoul (slash + 1, NULL, 10) : 0;
}

/* On an OpenStack target, fill what the plan left out from the Neutron
 * port ferry made for port I (MAC, fixed IP) and its subnet (prefix,
 * gateway, DNS).  A port not created yet leaves the NIC as the plan has
 * it. */
static int
nic_from_neutron (struct ferry_ctx *ctx, const struct ferry_step *step,
                  size_t i, struct ferry_guest_nic *nic, struct ferry_err *err)
{
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  cJSON *port = NULL, *subnet = NULL, *ips, *ip, *dns, *d;
  CLEANUP_FREE char *path = NULL;
  const char *sid = NULL;
  size_t k = 0;
  int r;

  if (os == NULL)
    return -1;
  r = ferry_osm_find_port (os, ctx->plan, step->vm, i, &port, err);
  if (r <= 0)
    return r;
  if (nic->mac == NULL)
    nic->mac = dup_or_null (ferry_osm_str (port, "mac_address"));
  ips = cJSON_GetObjectItemCaseSensitive (port, "fixed_ips");
  ip = cJSON_IsArray (ips) ? cJSON_GetArrayItem (ips, 0) : NULL;
  if (ip) {
    if (nic->ip == NULL)
      nic->ip = dup_or_null (ferry_osm_str (ip, "ip_address"));
    sid = ferry_osm_str (ip, "subnet_id");
  }
  if (sid && asprintf (&path, "/v2.0/subnets/%s", sid) >= 0 &&
      ferry_os_request (os, FERRY_OS_NETWORK, "GET", path, NULL, 0, &subnet,
                        err) == 0) {
    cJSON *sn = cJSON_GetObjectItemCaseSensitive (subnet, "subnet");
    if (nic->prefix == 0)
      nic->prefix = cidr_prefix (ferry_osm_str (sn, "cidr"));
    if (nic->gateway == NULL)
      nic->gateway = dup_or_null (ferry_osm_str (sn, "gateway_ip"));
    dns = cJSON_GetObjectItemCaseSensitive (sn, "dns_nameservers");
    if (nic->dns == NULL && cJSON_IsArray (dns) && cJSON_GetArraySize (dns)) {
      nic->dns =
          calloc ((size_t) cJSON_GetArraySize (dns) + 1, sizeof *nic->dns);
      cJSON_ArrayForEach (d, dns) if (nic->dns && cJSON_IsString (d))
          nic->dns[k++] = strdup (d->valuestring);
    }
  } else if (sid) {
    cJSON_Delete (port);
    cJSON_Delete (subnet);
    return -1;
  }
  cJSON_Delete (port);
  cJSON_Delete (subnet);
  return 0;
}

/* The NICs of STEP's VM, one per port. */
static int
make_nics (struct ferry_ctx *ctx, const struct ferry_step *step, struct sess *s,
           struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  size_t i, j;

  s->nics = calloc (vm->n_ports + 1, sizeof *s->nics);
  if (s->nics == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  s->n_nics = vm->n_ports;
  for (i = 0; i < vm->n_ports; i++) {
    const struct ferry_port *p = &vm->ports[i];
    struct ferry_guest_nic *n = &s->nics[i];
    n->mac = dup_or_null (p->mac);
    n->ip = dup_or_null (p->fixed_ip);
    n->prefix = p->prefix;
    n->gateway = dup_or_null (p->gateway);
    n->guest_name = dup_or_null (p->guest_name);
    if (p->n_dns) {
      n->dns = calloc (p->n_dns + 1, sizeof *n->dns);
      for (j = 0; n->dns && j < p->n_dns; j++)
        n->dns[j] = strdup (p->dns[j]);
    }
    if (step->target->type == FERRY_PLAN_TARGET_OPENSTACK &&
        nic_from_neutron (ctx, step, i, n, err) < 0)
      return -1;
  }
  return 0;
}

/* The acceleration the plan or the environment asks for. */
static enum ferry_gfs_accel
plan_accel (const struct ferry_plan *plan)
{
  int a = ferry_gfs_accel_from_name (plan->defaults.guest_accel);

  return a < 0 ? FERRY_GFS_ACCEL_AUTO : (enum ferry_gfs_accel) a;
}

/* Find STEP's VM's session, or launch one: 1 with *RET, 0 when the
 * targets are not converted yet (WHY). */
static int
sess_get (struct ferry_ctx *ctx, const struct ferry_step *step,
          struct sess **ret, char *why, size_t len, struct ferry_err *err)
{
  struct ferry_guests *gs = ctx->guests;
  struct sess *s, **pp;
  size_t i;
  int r;

  if (gs == NULL)
    return ferry_err_set (err, EINVAL, "guest steps: no session table");
  pthread_mutex_lock (&gs->lock);
  for (pp = &gs->list; (s = *pp) != NULL; pp = &s->next)
    if (s->vm == step->vm)
      break;
  if (s && !ctx->dry_run && ferry_gfs_readonly (s->gf)) {
    *pp = s->next; /* a read-only one from observing: apply needs rw */
    sess_close (ctx, s, err);
    s = NULL;
  }
  pthread_mutex_unlock (&gs->lock);
  if (s) {
    *ret = s;
    return 1;
  }
  s = calloc (1, sizeof *s);
  if (s == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  s->vm = step->vm;
  s->target = step->target;
  r = ferry_guest_targets (ctx, step, &s->disks, &s->n_disks, why, len, err);
  if (r <= 0) {
    free (s);
    return r;
  }
  s->sizes = calloc (s->n_disks + 1, sizeof *s->sizes);
  if (s->sizes == NULL) {
    sess_close (ctx, s, err);
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  for (i = 0; i < s->n_disks; i++) {
    struct stat st;
    struct ferry_rbd_info info;
    if (s->disks[i].kind == FERRY_LOCATION_FILE) {
      if (stat (s->disks[i].file.path, &st) == 0)
        s->sizes[i] = (uint64_t) st.st_size;
    } else if (ferry_rbd_stat (&s->disks[i].rbd, &info, err) == 0)
      s->sizes[i] = info.size;
    else {
      sess_close (ctx, s, NULL);
      return -1;
    }
  }
  if (make_nics (ctx, step, s, err) < 0 ||
      ferry_gfs_launch (s->disks, NULL, s->n_disks, ctx->dry_run,
                        plan_accel (ctx->plan), &s->gf, err) < 0 ||
      ferry_gfs_inspect (s->gf, &s->info, err) < 0) {
    struct ferry_err e2 = {0};
    sess_close (ctx, s, &e2);
    return -1;
  }
  pthread_mutex_lock (&gs->lock);
  s->next = gs->list;
  gs->list = s;
  pthread_mutex_unlock (&gs->lock);
  *ret = s;
  return 1;
}

int
ferry_guest_run (struct ferry_ctx *ctx, const struct ferry_step *step,
                 ferry_guest_op_fn op, bool apply,
                 const struct ferry_guest_info **ret_info,
                 struct ferry_changes *ch, char *why, size_t len,
                 struct ferry_err *err)
{
  struct ferry_guest_op o = {0};
  struct sess *s;
  size_t i;
  int r;

  if (apply && ctx->dry_run)
    return ferry_err_set (err, EINVAL, "guest: apply in a dry run");
  r = sess_get (ctx, step, &s, why, len, err);
  if (r <= 0)
    return r;
  if (ret_info)
    *ret_info = &s->info;
  if (s->info.blocked || op == NULL)
    return 1;
  if (apply && !ferry_gfs_mounted_rw (s->gf)) {
    /* convert's evidence first: from here on the file changes */
    if (!s->opened && s->target->type != FERRY_PLAN_TARGET_OPENSTACK) {
      for (i = 0; i < s->n_disks; i++)
        if (ferry_convert_rebind (ctx, s->vm, s->target, i, true, err) < 0)
          return -1;
      s->opened = true;
    }
    if (ferry_gfs_mount (s->gf, &s->info, true, err) < 0)
      return -1;
  }
  o.g = ferry_gfs_handle (s->gf);
  o.info = &s->info;
  o.plan = ctx->plan;
  o.vm = step->vm;
  o.target = step->target;
  o.nics = s->nics;
  o.n_nics = s->n_nics;
  o.disk_bytes = s->sizes;
  o.n_disks = s->n_disks;
  o.apply = apply;
  return op (&o, ch, err) < 0 ? -1 : 1;
}

/* Is STEP the last guest step of its VM (no later guest module applies)? */
static bool
last_guest_step (struct ferry_ctx *ctx, const struct ferry_step *step)
{
  size_t i, k = FERRY_ARRAY_SIZE (guest_modules);
  struct ferry_step probe;

  for (i = 0; i < FERRY_ARRAY_SIZE (guest_modules); i++)
    if (strcmp (step->module->name, guest_modules[i]) == 0)
      k = i;
  for (i = k + 1; i < FERRY_ARRAY_SIZE (guest_modules); i++) {
    const struct ferry_module *m =
        ferry_registry_find (&ferry_registry_builtin, guest_modules[i]);
    probe = *step;
    probe.module = m;
    if (m && (m->applies == NULL || m->applies (ctx->plan, &probe)))
      return false;
  }
  return true;
}

int
ferry_guest_release (struct ferry_ctx *ctx, const struct ferry_step *step,
                     struct ferry_err *err)
{
  struct ferry_guests *gs = ctx->guests;
  struct sess *s, **pp;

  if (gs == NULL || !last_guest_step (ctx, step))
    return 0;
  pthread_mutex_lock (&gs->lock);
  for (pp = &gs->list; (s = *pp) != NULL; pp = &s->next)
    if (s->vm == step->vm) {
      *pp = s->next;
      break;
    }
  pthread_mutex_unlock (&gs->lock);
  return s ? sess_close (ctx, s, err) : 0;
}

/* ---- the guest steps' callbacks ---- */

bool
ferry_guest_resize_wanted (const struct ferry_vm *vm)
{
  return vm->n_disks > 0 && vm->disks[0].size_gb > 0;
}

bool
ferry_guest_inject_wanted (const struct ferry_vm *vm)
{
  return vm->has_customize && vm->customize.virtio;
}

bool
ferry_guest_customize_wanted (const struct ferry_vm *vm)
{
  const struct ferry_customize *c = &vm->customize;

  return vm->has_customize && (c->n_files || c->n_firstboot || c->n_runonce ||
                               c->hostname || c->has_autologon);
}

/* Run PICK's operations for STEP (APPLY or not) into CH.  1 done with the
 * session, 0 not converted yet / blocked (NEED and DETAIL set), -1. */
static int
run_ops (struct ferry_ctx *ctx, const struct ferry_step *step,
         ferry_guest_pick_fn pick, bool apply, struct ferry_changes *ch,
         enum ferry_need *need, char *detail, size_t len, struct ferry_err *err)
{
  const struct ferry_guest_info *info = NULL;
  ferry_guest_op_fn ops[4] = {NULL};
  char why[512] = "";
  size_t n, i;
  int r;

  r = ferry_guest_run (ctx, step, NULL, false, &info, ch, why, sizeof why, err);
  if (r < 0)
    return -1;
  if (r == 0) {
    *need = FERRY_NEED_CREATE;
    snprintf (detail, len, "%s", why);
    return 0;
  }
  if (info->blocked) {
    *need = FERRY_NEED_BLOCKED;
    snprintf (detail, len, "guest: %s", info->blocked);
    return 0;
  }
  n = pick (ctx->plan, step->vm, info, ops, why, sizeof why);
  if (n == 0) {
    *need = FERRY_NEED_BLOCKED;
    snprintf (detail, len, "%s", why);
    return 0;
  }
  for (i = 0; i < n; i++)
    if (ferry_guest_run (ctx, step, ops[i], apply, NULL, ch, why, sizeof why,
                         err) < 0)
      return -1;
  return 1;
}

int
ferry_guest_step_check (struct ferry_ctx *ctx, const struct ferry_step *step,
                        ferry_guest_pick_fn pick, struct ferry_observation *ret,
                        struct ferry_err *err)
{
  struct ferry_changes ch = {0};
  int r;

  r = run_ops (ctx, step, pick, false, &ch, &ret->need, ret->detail,
               sizeof ret->detail, err);
  if (r == 1) {
    if (ch.n == 0) {
      ret->need = FERRY_NEED_DONE;
      snprintf (ret->detail, sizeof ret->detail, "guest unchanged");
    } else {
      ret->need = FERRY_NEED_UPDATE;
      ferry_changes_summary (&ch, ret->detail, sizeof ret->detail);
    }
  }
  ferry_changes_clear (&ch);
  if (r < 0)
    return -1;
  /* plan and dry run: this VM's session is no longer needed after its last
   * check; apply keeps it for apply and verify unless nothing is to do */
  if (ctx->dry_run || ret->need == FERRY_NEED_DONE ||
      ret->need == FERRY_NEED_BLOCKED)
    return ferry_guest_release (ctx, step, err);
  return 0;
}

int
ferry_guest_step_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
                        ferry_guest_pick_fn pick, struct ferry_err *err)
{
  struct ferry_changes ch = {0};
  enum ferry_need need;
  char detail[1024];
  size_t i;
  int r;

  r = run_ops (ctx, step, pick, true, &ch, &need, detail, sizeof detail, err);
  for (i = 0; i < ch.n; i++)
    ferry_info ("%s: %s", step->id, ch.lines[i]);
  ferry_changes_clear (&ch);
  if (r == 0)
    return ferry_err_set (err, 0, "%s", detail);
  return r < 0 ? -1 : 0;
}

int
ferry_guest_step_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                         ferry_guest_pick_fn pick, struct ferry_err *err)
{
  struct ferry_changes ch = {0};
  enum ferry_need need;
  char detail[1024];
  int r;

  r = run_ops (ctx, step, pick, false, &ch, &need, detail, sizeof detail, err);
  if (r == 1 && ch.n) {
    ferry_changes_summary (&ch, detail, sizeof detail);
    ferry_err_set (err, 0, "guest still differs after apply: %s", detail);
    r = -1;
  } else if (r == 0) {
    ferry_err_set (err, 0, "%s", detail);
    r = -1;
  }
  ferry_changes_clear (&ch);
  if (r < 0) {
    struct ferry_err e2 = {0};
    ferry_guest_release (ctx, step, &e2);
    return -1;
  }
  return ferry_guest_release (ctx, step, err);
}
