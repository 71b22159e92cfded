/* ferry destroy PLAN --vm NAME: remove the OpenStack objects ferry made for
 * a VM (server, ports, volumes, manage-mode RBD images, Glance image), so
 * that the VM can be migrated again from scratch.
 *
 * Only objects that carry ferry's mark for this plan and VM are found
 * (modules/openstack.h finders): an object of the same name without the
 * mark is someone else's and is never touched, and the source is never
 * read or written.  The list is printed first; nothing is removed without
 * "yes" (or --yes); --dry-run only prints.  Removal runs in the order that
 * frees each object: the server (its ports and volumes are then released),
 * the ports, the volumes, the image.  Before anything is removed, every
 * step of the VM that the journal knows gets a FAIL record, so that no
 * later run takes the journal's old ids or "done" for the world. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clients/openstack.h"
#include "clients/rbd.h"
#include "cmd/cmd.h"
#include "modules/openstack.h"
#include "util/cleanup.h"

/* The message of the journal's FAIL records. */
#define DESTROY_MSG "destroyed by ferry destroy"

static const struct ferry_option destroy_options[] = {
    {"vm", 'm', "NAME", "the VM whose objects to remove (repeatable)"},
    {"yes", 'y', NULL, "do not ask for confirmation"},
    {"dry-run", 'n', NULL, "only print what would be removed"},
    {0},
};

/* What was found of one VM. */
struct victim {
  const struct ferry_vm *vm;         /* the plan's VM */
  const struct ferry_plan_target *t; /* its target (openstack) */
  struct ferry_os *os;               /* session on the target's cloud */
  cJSON *server;                     /* the server, or NULL */
  cJSON **ports;                     /* per port index, NULL: none */
  cJSON **volumes;                   /* per disk index, NULL: none */
  struct ferry_location *manage;     /* per disk: manage-mode RBD image */
  bool *has_manage;                  /* ...that exists and is ferry's */
  cJSON *image;                      /* the Glance image, or NULL */
  struct ferry_location image_data;  /* <images_pool>/<image id> */
  bool has_image_data;               /* ...that exists and is ferry's */
  size_t count;                      /* objects found */
};

/* Free what victim_find found (a half-filled victim is fine). */
static void
victim_clear (struct victim *v)
{
  size_t i;

  cJSON_Delete (v->server);
  for (i = 0; v->ports && i < v->vm->n_ports; i++)
    cJSON_Delete (v->ports[i]);
  for (i = 0; v->volumes && i < v->vm->n_disks; i++)
    cJSON_Delete (v->volumes[i]);
  for (i = 0; v->manage && i < v->vm->n_disks; i++)
    ferry_location_clear (&v->manage[i]);
  free (v->ports);
  free (v->volumes);
  free (v->manage);
  free (v->has_manage);
  cJSON_Delete (v->image);
  ferry_location_clear (&v->image_data);
  memset (v, 0, sizeof *v);
}

/* Is the RBD image at LOC there and tagged ferry.created-by=ferry?  1 yes,
 * 0 no (missing or someone else's), -1 error. */
static int
rbd_is_ours (const struct ferry_location *loc, struct ferry_err *err)
{
  struct ferry_rbd_info info;
  CLEANUP_FREE char *tag = NULL;
  int m;

  if (ferry_rbd_stat (&loc->rbd, &info, err) < 0)
    return -1;
  if (!info.exists)
    return 0;
  m = ferry_rbd_meta_get (&loc->rbd, "ferry.created-by", &tag, err);
  if (m < 0)
    return -1;
  return m == 1 && strcmp (tag, "ferry") == 0;
}

/* A marked volume attached to a server that is not the VM's own marked
 * server stays where it is: refuse before anything is removed. */
static int
check_attachments (const struct victim *v, const cJSON *vol,
                   struct ferry_err *err)
{
  const cJSON *a, *list = cJSON_GetObjectItemCaseSensitive (vol, "attachments");
  const char *ours = v->server ? ferry_osm_str (v->server, "id") : NULL;
  const char *sid;

  cJSON_ArrayForEach (a, list)
  {
    sid = ferry_osm_str (a, "server_id");
    if (sid && (ours == NULL || strcmp (sid, ours) != 0))
      return ferry_err_set (err, EBUSY,
                            "volume '%s' (id %s) is attached to server '%s', "
                            "which is not ferry's server of VM '%s': detach "
                            "it first (nothing was removed)",
                            ferry_osm_str (vol, "name"),
                            ferry_osm_str (vol, "id"), sid, v->vm->name);
  }
  return 0;
}

/* Find every marked object of V's VM (read-only).  0 or -1. */
static int
victim_find (struct ferry_ctx *ctx, struct victim *v, struct ferry_err *err)
{
  const struct ferry_vm *vm = v->vm;
  const char *id;
  size_t i;
  int r;

  v->os = ferry_osm_session (ctx, v->t, err);
  if (v->os == NULL)
    return -1;
  v->ports = calloc (vm->n_ports + 1, sizeof *v->ports);
  v->volumes = calloc (vm->n_disks + 1, sizeof *v->volumes);
  v->manage = calloc (vm->n_disks + 1, sizeof *v->manage);
  v->has_manage = calloc (vm->n_disks + 1, sizeof *v->has_manage);
  if (!v->ports || !v->volumes || !v->manage || !v->has_manage)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  r = ferry_osm_find_server (v->os, ctx->plan, vm, &v->server, err);
  if (r < 0)
    return -1;
  v->count += r;
  for (i = 0; i < vm->n_ports; i++) {
    r = ferry_osm_find_port (v->os, ctx->plan, vm, i, &v->ports[i], err);
    if (r < 0)
      return -1;
    v->count += r;
  }
  for (i = 0; i < vm->n_disks; i++) {
    r = ferry_osm_find_volume (v->os, ctx->plan, vm, i, &v->volumes[i], err);
    if (r < 0 || (r && check_attachments (v, v->volumes[i], err) < 0))
      return -1;
    v->count += r;
    if (ferry_plan_volume_mode (ctx->plan, vm, i) != FERRY_VOLUME_MODE_MANAGE)
      continue;
    CLEANUP_FREE char *name = ferry_osm_manage_image (ctx->plan, vm, i);
    if (name == NULL)
      return ferry_err_set (err, ENOMEM, "cannot allocate memory");
    if (ferry_osm_rbd (v->t, NULL, name, &v->manage[i], err) < 0)
      return -1;
    r = rbd_is_ours (&v->manage[i], err);
    if (r < 0)
      return -1;
    v->has_manage[i] = r;
    v->count += r;
  }
  r = ferry_osm_find_image (v->os, ctx->plan, vm, &v->image, err);
  if (r < 0)
    return -1;
  v->count += r;
  /* the image step's data: Glance removes it with an rbd location; a
   * half-made image (queued, no location yet) leaves it to ferry */
  id = v->image ? ferry_osm_str (v->image, "id") : NULL;
  if (id && v->t->ceph.images_pool) {
    if (ferry_osm_rbd (v->t, v->t->ceph.images_pool, id, &v->image_data, err) <
        0)
      return -1;
    r = rbd_is_ours (&v->image_data, err);
    if (r < 0)
      return -1;
    v->has_image_data = r;
  }
  return 0;
}

/* "127.100.0.21" of a port (its first fixed IP), or "". */
static const char *
port_ip (const cJSON *port)
{
  const cJSON *ips = cJSON_GetObjectItemCaseSensitive (port, "fixed_ips");
  const char *s = ferry_osm_str (cJSON_GetArrayItem (ips, 0), "ip_address");

  return s ? s : "";
}

/* Print the list of what would be removed. */
static void
victim_print (const struct victim *v)
{
  const cJSON *o;
  size_t i;

  if (v->count == 0) {
    ferry_say (stdout, FERRY_LOG_INFO, "VM '%s': nothing of ferry's to remove",
               v->vm->name);
    return;
  }
  ferry_say (stdout, FERRY_LOG_INFO, "VM '%s':", v->vm->name);
  if ((o = v->server))
    ferry_say (stdout, FERRY_LOG_INFO, "- server %s (id %s, %s)",
               ferry_osm_str (o, "name"), ferry_osm_str (o, "id"),
               ferry_osm_str (o, "status"));
  for (i = 0; i < v->vm->n_ports; i++)
    if ((o = v->ports[i]))
      ferry_say (stdout, FERRY_LOG_INFO, "- port %s (id %s, %s %s)",
                 ferry_osm_str (o, "name"), ferry_osm_str (o, "id"),
                 port_ip (o), ferry_osm_str (o, "mac_address"));
  for (i = 0; i < v->vm->n_disks; i++) {
    if ((o = v->volumes[i]))
      ferry_say (stdout, FERRY_LOG_INFO, "- volume %s (id %s, %d GiB, %s)",
                 ferry_osm_str (o, "name"), ferry_osm_str (o, "id"),
                 cJSON_GetObjectItemCaseSensitive (o, "size")
                     ? cJSON_GetObjectItemCaseSensitive (o, "size")->valueint
                     : 0,
                 ferry_osm_str (o, "status"));
    if (v->has_manage[i])
      ferry_say (stdout, FERRY_LOG_INFO,
                 "- rbd image %s/%s (manage-mode disk %zu)",
                 v->manage[i].rbd.pool, v->manage[i].rbd.image, i);
  }
  if ((o = v->image))
    ferry_say (stdout, FERRY_LOG_INFO, "- image %s (id %s, %s%s%s%s%s)",
               ferry_osm_str (o, "name"), ferry_osm_str (o, "id"),
               ferry_osm_str (o, "status"),
               v->has_image_data ? "; data rbd:" : "",
               v->has_image_data ? v->image_data.rbd.pool : "",
               v->has_image_data ? "/" : "",
               v->has_image_data ? v->image_data.rbd.image : "");
}

/* A FAIL record for every step of VM the journal knows (unless its last
 * record is already ours): its created ids and "done" are history now. */
static int
record_destroyed (struct ferry_run *r, const struct ferry_vm *vm,
                  struct ferry_err *err)
{
  const struct ferry_step_record *rec;
  struct ferry_journal_entry e = {0};
  const struct ferry_step *s;
  size_t i;

  for (i = 0; i < r->graph->n; i++) {
    s = &r->graph->steps[i];
    if (s->vm == NULL || strcmp (s->vm->name, vm->name) != 0)
      continue;
    rec = ferry_state_step (r->state, s->id);
    if (rec == NULL || (rec->last == FERRY_EVENT_FAIL && rec->msg &&
                        strcmp (rec->msg, DESTROY_MSG) == 0))
      continue;
    e.step = s->id;
    e.event = FERRY_EVENT_FAIL;
    e.msg = DESTROY_MSG;
    if (ferry_state_append (r->state, &e, err) < 0)
      return -1;
  }
  return 0;
}

/* "/servers/ID" etc. (caller frees); NULL when out of memory. */
static char *
object_path (const char *prefix, const cJSON *o)
{
  CLEANUP_FREE char *q = ferry_os_escape (ferry_osm_str (o, "id"));
  char *p;

  if (q == NULL || asprintf (&p, "%s/%s", prefix, q) < 0)
    return NULL;
  return p;
}

/* DELETE PATH on S (a 404 is fine: gone already), then, with KEY, wait
 * until GET PATH says 404. */
static int
delete_and_wait (struct ferry_os *os, enum ferry_os_service s, const char *path,
                 const char *key, const char *const *fail, double deadline,
                 struct ferry_err *err)
{
  static const char *const deleted[] = {"DELETED", NULL};

  if (ferry_os_request (os, s, "DELETE", path, NULL, FERRY_OS_OK_404, NULL,
                        err) < 0)
    return -1;
  if (key == NULL)
    return 0;
  return ferry_os_wait (os, s, path, key, deleted, fail, deadline, NULL, err);
}

/* Cinder refuses to delete a volume that is attached: after its server
 * was deleted Nova detaches it (wait for that); attached to anything
 * else it stays, with an error that says so. */
static int
volume_free (struct victim *v, const char *path, const cJSON *vol,
             bool server_deleted, struct ferry_err *err)
{
  static const char *const ready[] = {"available", "error", NULL};
  static const char *const busy[] = {"in-use", "attaching", "detaching",
                                     "reserved", NULL};
  cJSON *j = NULL;
  const char *s;
  char status[32] = "";
  size_t i;
  int code;

  code = ferry_os_request (v->os, FERRY_OS_VOLUME, "GET", path, NULL,
                           FERRY_OS_OK_404, &j, err);
  if (code < 0)
    return -1;
  s = ferry_osm_str (cJSON_GetObjectItemCaseSensitive (j, "volume"), "status");
  snprintf (status, sizeof status, "%s", code == 404 || s == NULL ? "" : s);
  cJSON_Delete (j);
  for (i = 0; busy[i]; i++)
    if (strcasecmp (status, busy[i]) == 0)
      break;
  if (busy[i] == NULL)
    return 0;
  if (server_deleted &&
      ferry_os_wait (v->os, FERRY_OS_VOLUME, path, "volume", ready, NULL,
                     ferry_osm_deadline (120), NULL, NULL) == 0)
    return 0;
  return ferry_err_set (err, EBUSY,
                        "volume '%s' (id %s) is still attached (status "
                        "'%s'); detach it from its server first, then run "
                        "destroy again",
                        ferry_osm_str (vol, "name"), ferry_osm_str (vol, "id"),
                        status);
}

/* Remove what victim_find found, in order: server, ports, volumes,
 * manage-mode RBD images, image (and its data if Glance left it). */
static int
victim_remove (struct victim *v, struct ferry_err *err)
{
  static const char *const vol_fail[] = {"error_deleting", NULL};
  static const char *const srv_fail[] = {"ERROR", NULL};
  const cJSON *o;
  size_t i;

  if ((o = v->server)) {
    CLEANUP_FREE char *path = object_path ("/servers", o);
    if (path == NULL)
      return ferry_err_set (err, ENOMEM, "cannot allocate memory");
    ferry_say (stdout, FERRY_LOG_INFO, "removing server %s (id %s)",
               ferry_osm_str (o, "name"), ferry_osm_str (o, "id"));
    if (delete_and_wait (v->os, FERRY_OS_COMPUTE, path, "server", srv_fail,
                         ferry_osm_deadline (300), err) < 0)
      return -1;
  }
  for (i = 0; i < v->vm->n_ports; i++) {
    if ((o = v->ports[i]) == NULL)
      continue;
    CLEANUP_FREE char *path = object_path ("/v2.0/ports", o);
    if (path == NULL)
      return ferry_err_set (err, ENOMEM, "cannot allocate memory");
    ferry_say (stdout, FERRY_LOG_INFO, "removing port %s (id %s)",
               ferry_osm_str (o, "name"), ferry_osm_str (o, "id"));
    if (delete_and_wait (v->os, FERRY_OS_NETWORK, path, NULL, NULL, 0, err) < 0)
      return -1;
  }
  for (i = 0; i < v->vm->n_disks; i++) {
    if ((o = v->volumes[i]) != NULL) {
      CLEANUP_FREE char *path = object_path ("/volumes", o);
      if (path == NULL)
        return ferry_err_set (err, ENOMEM, "cannot allocate memory");
      ferry_say (stdout, FERRY_LOG_INFO, "removing volume %s (id %s)",
                 ferry_osm_str (o, "name"), ferry_osm_str (o, "id"));
      if (volume_free (v, path, o, v->server != NULL, err) < 0 ||
          delete_and_wait (v->os, FERRY_OS_VOLUME, path, "volume", vol_fail,
                           ferry_osm_deadline (300), err) < 0)
        return -1;
    }
    if (v->has_manage[i]) {
      ferry_say (stdout, FERRY_LOG_INFO, "removing rbd image %s/%s",
                 v->manage[i].rbd.pool, v->manage[i].rbd.image);
      if (ferry_rbd_remove (&v->manage[i].rbd, err) < 0)
        return -1;
    }
  }
  if ((o = v->image)) {
    CLEANUP_FREE char *path = object_path ("/v2/images", o);
    if (path == NULL)
      return ferry_err_set (err, ENOMEM, "cannot allocate memory");
    ferry_say (stdout, FERRY_LOG_INFO, "removing image %s (id %s)",
               ferry_osm_str (o, "name"), ferry_osm_str (o, "id"));
    /* Glance removes an rbd location's data with the image */
    if (delete_and_wait (v->os, FERRY_OS_IMAGE, path, NULL, NULL, 0, err) < 0)
      return -1;
    if (v->has_image_data) {
      int ours = rbd_is_ours (&v->image_data, err);
      if (ours < 0 || (ours && ferry_rbd_remove (&v->image_data.rbd, err) < 0))
        return -1;
    }
  }
  return 0;
}

/* The plan's VMs named by --vm, each on an openstack target.  Prints;
 * 0 or -1. */
static int
select_vms (const struct ferry_plan *plan, char **names, size_t n,
            struct victim *v)
{
  size_t i;

  for (i = 0; i < n; i++) {
    v[i].vm = ferry_plan_vm (plan, names[i]);
    if (v[i].vm == NULL) {
      ferry_error ("--vm: no VM '%s' in plan '%s'", names[i], plan->file);
      return -1;
    }
    v[i].t = ferry_plan_target (plan, v[i].vm->target);
    if (v[i].t == NULL || v[i].t->type != FERRY_PLAN_TARGET_OPENSTACK) {
      ferry_error ("--vm: VM '%s' is not on an openstack target (destroy "
                   "removes OpenStack objects only)",
                   names[i]);
      return -1;
    }
  }
  return 0;
}

/* Ask for "yes" on the terminal; true when given. */
static bool
confirm (void)
{
  char answer[16] = "";

  printf ("\nRemove these objects? Only 'yes' is accepted: ");
  fflush (stdout);
  return fgets (answer, sizeof answer, stdin) != NULL &&
         strcmp (answer, "yes\n") == 0;
}

/* Parse, find, print, confirm, lock, record, remove. */
static int
destroy_run (int argc, char **argv)
{
  char *names[64];
  size_t n = 0, i, total = 0;
  bool yes = false, dry_run = false;
  struct victim v[64];
  struct ferry_ctx ctx = {0};
  struct ferry_err err = {0};
  struct ferry_run r;
  int c, rc = FERRY_EXIT_ERROR;

  while ((c = ferry_cmd_getopt (&ferry_cmd_destroy, argc, argv)) != -1) {
    switch (c) {
    case 'm':
      if (n == FERRY_ARRAY_SIZE (names)) {
        ferry_error ("too many --vm options");
        return FERRY_EXIT_ERROR;
      }
      names[n++] = optarg;
      break;
    case 'y':
      yes = true;
      break;
    case 'n':
      dry_run = true;
      break;
    case 'h':
      ferry_command_usage (&ferry_cmd_destroy, stdout);
      return FERRY_EXIT_OK;
    default:
      return FERRY_EXIT_ERROR;
    }
  }
  if (argc - optind != 1 || n == 0)
    return ferry_cmd_usage_error (&ferry_cmd_destroy);
  if (!yes && !dry_run && !isatty (0)) {
    ferry_error ("refusing to destroy without --yes "
                 "(standard input is not a terminal)");
    return FERRY_EXIT_ERROR;
  }
  memset (v, 0, sizeof v);
  if (ferry_run_load (argv[optind], FERRY_PLAN_NO_DISK_CHECK, NULL, &r) < 0 ||
      select_vms (r.plan, names, n, v) < 0)
    goto out;
  /* the lock first: nothing of the plan runs while the list is made */
  if (ferry_run_state (&r, !dry_run) < 0 ||
      (!dry_run && ferry_run_check_workers (&r) < 0))
    goto out;
  ctx.plan = r.plan;
  ctx.os = r.os;
  ctx.guests = r.guests;
  ctx.dry_run = true;
  for (i = 0; i < n; i++) {
    if (victim_find (&ctx, &v[i], &err) < 0) {
      ferry_die_err (&err);
      goto out;
    }
    victim_print (&v[i]);
    total += v[i].count;
  }
  if (total == 0 || dry_run) {
    rc = FERRY_EXIT_OK;
    goto out;
  }
  if (!yes && !confirm ()) {
    ferry_say (stderr, FERRY_LOG_WARN, "ferry: destroy cancelled");
    goto out;
  }
  for (i = 0; i < n; i++) {
    if (v[i].count == 0)
      continue;
    if (record_destroyed (&r, v[i].vm, &err) < 0 ||
        victim_remove (&v[i], &err) < 0) {
      ferry_die_err (&err);
      goto out;
    }
    ferry_say (stdout, FERRY_LOG_INFO, "VM '%s': %zu object%s removed",
               v[i].vm->name, v[i].count, v[i].count == 1 ? "" : "s");
  }
  rc = FERRY_EXIT_OK;
out:
  for (i = 0; i < n; i++)
    if (v[i].vm)
      victim_clear (&v[i]);
  ferry_run_free (&r);
  return rc;
}

const struct ferry_command ferry_cmd_destroy = {
    .name = "destroy",
    .run = destroy_run,
    .usage = "PLAN --vm NAME",
    .summary = "remove what ferry created for a VM",
    .description =
        "Remove the OpenStack objects that carry ferry's mark for this plan "
        "and VM (server, ports, volumes, manage-mode RBD images, image), so "
        "that the VM can be migrated again.  Prints the list first and asks "
        "for 'yes'; --dry-run only prints.  Never touches the source or an "
        "object without ferry's mark.",
    .options = destroy_options,
};
