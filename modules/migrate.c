/* migrate: a live migration of a libvirt source's domain to a libvirt
 * target (vms[].migrate: live), as one step: libvirt moves memory and,
 * with storage: copy, mirrors the disks onto raw files ferry creates in the
 * target's path first; ferry steers convergence
 * (src/clients/libvirt-migrate.h).  check observes both hosts, so a rerun
 * after a crash or kill -9 finds a running job (waits for it), a stale
 * half-arrived domain on the target (removes it and retries), or the guest
 * already on the target (done). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "clients/libvirt-migrate.h"
#include "clients/libvirt-xml.h"
#include "clients/libvirt.h"
#include "disk/disk.h"
#include "modules/local.h"
#include "modules/lvsource.h"
#include "modules/module.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* Live migrations of domain VMs. */
static bool
migrate_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return step->vm->domain && step->vm->migrate == FERRY_MIGRATE_LIVE;
}

/* The uri the source libvirtd dials, and the one ferry uses. */
static const char *
peer_uri (const struct ferry_plan_target *t)
{
  return t->migration_uri ? t->migration_uri : t->uri;
}

/* Where disk DEV of STEP's VM goes on the target (storage: copy). */
static char *
dest_disk_path (const struct ferry_step *step, const char *dev)
{
  char *p;

  if (asprintf (&p, "%s/%s-%s.raw", step->target->path, step->vm->name, dev) <
      0)
    return NULL;
  return p;
}

/* Is disk D copied by a non-shared migration (a writable file or block
 * disk)?  Network disks, read-only and shareable ones stay. */
static bool
copied (const struct ferry_lvx_disk *d)
{
  return (d->type == FERRY_LVX_DISK_FILE || d->type == FERRY_LVX_DISK_BLOCK) &&
         d->path && !d->readonly && !d->shareable && !d->empty &&
         (d->device == NULL || strcmp (d->device, "disk") == 0);
}

/* "copy storage: 2 disks, 100 MiB/s, max downtime 300 ms (up to 1200),
 * escalate downtime+postcopy, stall 10 s, deadline 600 s" */
static void
describe_params (const struct ferry_vm *vm, char *buf, size_t len)
{
  const struct ferry_live_cfg *l = &vm->live;
  size_t i, n = 0;
  char bw[32] = "unlimited", esc[64] = "", dl[32] = "none";

  for (i = 0; vm->found->parsed && i < vm->found->dom.n_disks; i++)
    n += copied (&vm->found->dom.disks[i]);
  if (l->bandwidth_mib)
    snprintf (bw, sizeof bw, "%u MiB/s", l->bandwidth_mib);
  snprintf (esc, sizeof esc, "%s%s%s%s",
            l->escalate & FERRY_ESCALATE_DOWNTIME ? "+downtime" : "",
            l->escalate & FERRY_ESCALATE_AUTO_CONVERGE ? "+auto-converge" : "",
            l->escalate & FERRY_ESCALATE_POSTCOPY ? "+postcopy" : "",
            l->escalate ? "" : "+none");
  if (l->deadline_s)
    snprintf (dl, sizeof dl, "%u s", l->deadline_s);
  snprintf (buf, len,
            "%s storage (%s%zu disk%s), bandwidth %s, max downtime %u ms, "
            "escalate %s, stall %u s, deadline %s",
            l->storage == FERRY_LIVE_STORAGE_SHARED ? "shared" : "copy",
            l->storage == FERRY_LIVE_STORAGE_SHARED ? "" : "copies ", n,
            n == 1 ? "" : "s", bw,
            l->max_downtime_ms ? l->max_downtime_ms : 300, esc + 1, l->stall_s,
            dl);
}

/* Observe both hosts and judge. */
static int
migrate_check (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_lv_found *f = vm->found;
  const struct ferry_plan_target *t = step->target;
  struct ferry_lvm_where w;
  char params[400];

  (void) ctx;
  if (f == NULL || f->blocker) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "%s",
              f ? f->blocker : "domain not discovered");
    return 0;
  }
  if (ferry_lvm_observe (f->uri, t->uri, vm->domain, &w, err) < 0)
    return -1;
  describe_params (vm, params, sizeof params);
  if (w.src.state == VIR_DOMAIN_RUNNING && w.dst.state == VIR_DOMAIN_RUNNING) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "domain '%s' runs on both '%s' and '%s': stop one by hand",
              vm->domain, f->uri, t->uri);
  } else if (w.src.exists && w.src.job) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "a job runs on the source domain (an earlier migration?): "
              "wait for it, then finish; %s",
              params);
  } else if (w.dst.exists && w.src.exists &&
             strcmp (w.dst.uuid, w.src.uuid) != 0 &&
             w.src.state != VIR_DOMAIN_RUNNING) {
    /* (a running source with another domain on the target: below) */
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "another domain '%s' (uuid %s, %s) is on '%s', the source's "
              "is %s (uuid %s): left alone",
              vm->domain, w.dst.uuid, ferry_libvirt_state_name (w.dst.state),
              t->uri, ferry_libvirt_state_name (w.src.state), w.src.uuid);
  } else if (w.dst.exists && w.dst.state == VIR_DOMAIN_RUNNING &&
             w.dst.persistent) {
    /* the same UUID (a migration keeps it), or the source is gone and
     * discovery found ferry's metadata on the target */
    if (vm->undefine_source && w.src.exists) {
      ret->need = FERRY_NEED_UPDATE;
      snprintf (ret->detail, sizeof ret->detail,
                "runs on '%s'; undefine the %s source definition", t->uri,
                ferry_libvirt_state_name (w.src.state));
    } else {
      ret->need = FERRY_NEED_DONE;
      snprintf (ret->detail, sizeof ret->detail, "runs on '%s'%s", t->uri,
                w.src.exists ? " (source definition kept, shut off)" : "");
    }
  } else if (w.src.state == VIR_DOMAIN_RUNNING && w.dst.exists &&
             strcmp (w.dst.uuid, w.src.uuid) != 0) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "another domain '%s' (uuid %s, %s) is on '%s': not a "
              "half-arrived copy of this one (uuid %s); left alone",
              vm->domain, w.dst.uuid, ferry_libvirt_state_name (w.dst.state),
              t->uri, w.src.uuid);
  } else if (w.src.state == VIR_DOMAIN_RUNNING) {
    ret->need = w.dst.exists ? FERRY_NEED_UPDATE : FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail, "%s%s to '%s', %s; %s",
              w.dst.exists ? "remove the half-arrived domain, then " : "",
              "live-migrate", t->uri, params, f->summary ? f->summary : "");
  } else {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "domain '%s' is %s on '%s' (target: %s): a live migration "
              "needs it running (migrate: cold copies a shut-off domain)",
              vm->domain, ferry_libvirt_state_name (w.src.state), f->uri,
              ferry_libvirt_state_name (w.dst.state));
  }
  return 0;
}

/* Create (or re-create) the sparse raw destination file PATH of SIZE
 * bytes for a non-shared migration.  0 / -1. */
static int
make_dest (const char *path, uint64_t size, struct ferry_err *err)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    return ferry_err_set (err, errno, "cannot create '%s'", path);
  if (ftruncate (fd, 0) < 0 || ftruncate (fd, (off_t) size) < 0 ||
      fsync (fd) < 0) {
    ferry_err_set (err, errno, "cannot size '%s'", path);
    close (fd);
    return -1;
  }
  close (fd);
  return ferry_sync_parent (path, err);
}

/* The destination XML: copied disks onto raw files in the target's path
 * (created here with the source's virtual size), networks mapped, ferry's
 * metadata.  *RET_DEVS: the target devs to copy (caller frees the array).
 * 0 / -1. */
static int
dest_xml (struct ferry_ctx *ctx, const struct ferry_step *step, char **ret_xml,
          const char ***ret_devs, size_t *ret_n, struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_lv_found *f = vm->found;
  const struct ferry_source *src = ferry_plan_source (ctx->plan, vm->source);
  bool copy = vm->live.storage == FERRY_LIVE_STORAGE_COPY;
  struct ferry_lvx_disk_rewrite *dr = NULL;
  char **paths = NULL;
  const char **devs = NULL;
  size_t i, n = 0;
  int r = -1;

  dr = calloc (f->dom.n_disks + 1, sizeof *dr);
  paths = calloc (f->dom.n_disks + 1, sizeof *paths);
  devs = calloc (f->dom.n_disks + 1, sizeof *devs);
  if (dr == NULL || paths == NULL || devs == NULL) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  for (i = 0; copy && i < f->dom.n_disks; i++) {
    const struct ferry_lvx_disk *d = &f->dom.disks[i];
    CLEANUP_LOCATION struct ferry_location loc = {0};
    struct ferry_disk *disk = NULL;

    if (!copied (d) || d->target == NULL)
      continue;
    paths[i] = dest_disk_path (step, d->target);
    if (paths[i] == NULL) {
      ferry_err_set (err, ENOMEM, "cannot allocate memory");
      goto out;
    }
    /* the guest-visible size, through ferry's confined readers */
    if (ferry_location_set_file (&loc, d->path, err) < 0 ||
        ferry_plan_open_disk (src, &loc, &disk, err) < 0)
      goto out;
    r = make_dest (paths[i], disk->virtual_size, err);
    ferry_disk_close (disk);
    if (r < 0)
      goto out;
    r = -1;
    dr[i].file = paths[i];
    dr[i].format = "raw";
    devs[n++] = d->target;
  }
  if (ferry_lvsource_rewrite (ctx->plan, vm, step->target, dr, false, ret_xml,
                              err) < 0)
    goto out;
  *ret_devs = devs;
  *ret_n = n;
  devs = NULL;
  r = 0;
out:
  for (i = 0; paths && i < f->dom.n_disks; i++)
    free (paths[i]);
  free (paths);
  free (dr);
  free (devs);
  return r;
}

struct report {
  struct ferry_ctx *ctx;
  const struct ferry_step *step;
  double next_log; /* next sample logged (-v), every 5 s */
};

/* Escalations and phase changes: logged. */
static void
on_event (void *opaque, const char *msg)
{
  struct report *r = opaque;

  ferry_info ("%s: %s", r->step->id, msg);
}

/* Job samples: progress in bytes (memory + disk). */
static void
on_progress (void *opaque, const struct ferry_lvm_stats *s)
{
  struct report *r = opaque;
  char line[300];

  if (s->elapsed_s >= r->next_log) {
    ferry_lvm_stats_format (s, line, sizeof line);
    ferry_debug ("%s: %s", r->step->id, line);
    r->next_log = s->elapsed_s + 5;
  }
  if (r->ctx->progress)
    r->ctx->progress (r->ctx, r->step, s->mem_processed + s->disk_processed,
                      s->mem_total + s->disk_total, s->elapsed_s, false);
}

/* Migrate (after waiting for a running job or removing a stale one). */
static int
migrate_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_lv_found *f = vm->found;
  const struct ferry_plan_target *t = step->target;
  struct ferry_lvm_params p = {0};
  struct ferry_lvm_result res = {0};
  struct ferry_lvm_where w;
  struct report rep = {ctx, step, 0};
  CLEANUP_FREE char *xml = NULL;
  const char **devs = NULL;
  size_t n_devs = 0;
  char line[300], id[128];
  bool adopt;
  int r;

  if (ferry_lvm_observe (f->uri, t->uri, vm->domain, &w, err) < 0)
    return -1;
  /* A job on the source outlives a killed ferry (libvirtd drives a
   * peer-to-peer migration): adopt it, steer it as our own, finish it.  A
   * guest already on the target (a run killed at the very end): finish. */
  adopt =
      (w.src.exists && w.src.job) ||
      (w.dst.exists && w.dst.state == VIR_DOMAIN_RUNNING && w.dst.persistent &&
       (!w.src.exists || strcmp (w.dst.uuid, w.src.uuid) == 0));
  if (adopt)
    ferry_info ("%s: %s: taking it over", step->id,
                w.src.job ? "a migration job runs on the source"
                          : "the guest already runs on the target");
  if (!adopt && w.src.state != VIR_DOMAIN_RUNNING)
    return ferry_err_set (
        err, 0, "domain '%s' is %s on '%s': cannot live-migrate it", vm->domain,
        ferry_libvirt_state_name (w.src.state), f->uri);
  if (!adopt && w.dst.exists && strcmp (w.dst.uuid, w.src.uuid) != 0)
    return ferry_err_set (err, 0,
                          "another domain '%s' (uuid %s) is on '%s': left "
                          "alone",
                          vm->domain, w.dst.uuid, t->uri);
  if (!adopt && w.dst.exists) {
    ferry_info ("%s: removing the half-arrived domain '%s' (%s) from '%s'",
                step->id, vm->domain, ferry_libvirt_state_name (w.dst.state),
                t->uri);
    if (ferry_lvm_clean_target (t->uri, vm->domain, w.dst.uuid, err) < 0)
      return -1;
  }
  if (!adopt && dest_xml (ctx, step, &xml, &devs, &n_devs, err) < 0)
    return -1;
  p.adopt = adopt;
  p.src_uri = f->uri;
  p.dst_uri = peer_uri (t);
  p.dst_client_uri = t->uri;
  p.domain = vm->domain;
  p.storage = vm->live.storage == FERRY_LIVE_STORAGE_SHARED
                  ? FERRY_LVM_SHARED
                  : FERRY_LVM_NON_SHARED;
  p.dest_xml = xml;
  p.disks = n_devs ? devs : NULL;
  p.n_disks = n_devs;
  p.bandwidth_mib = vm->live.bandwidth_mib;
  p.max_downtime_ms = vm->live.max_downtime_ms;
  p.max_downtime_limit_ms = vm->live.max_downtime_limit_ms;
  p.escalate =
      (vm->live.escalate & FERRY_ESCALATE_DOWNTIME ? FERRY_LVM_ESC_DOWNTIME
                                                   : 0) |
      (vm->live.escalate & FERRY_ESCALATE_AUTO_CONVERGE
           ? FERRY_LVM_ESC_AUTO_CONVERGE
           : 0) |
      (vm->live.escalate & FERRY_ESCALATE_POSTCOPY ? FERRY_LVM_ESC_POSTCOPY
                                                   : 0);
  p.stall_s = vm->live.stall_s;
  p.deadline_s = vm->live.deadline_s;
  p.undefine_source = vm->undefine_source;
  p.unsafe = vm->live.unsafe;
  p.stop = ctx->stop;
  p.event = on_event;
  p.progress = on_progress;
  p.opaque = &rep;
  ferry_info ("%s: live-migrating '%s' from '%s' to '%s'", step->id, vm->domain,
              f->uri, t->uri);
  r = ferry_lvm_migrate (&p, &res, err);
  free (devs);
  if (r < 0)
    return -1;
  ferry_lvm_stats_format (&res.last, line, sizeof line);
  ferry_info ("%s: migrated in %.1f s, downtime %" PRIu64 " ms; %s", step->id,
              res.total_s, res.last.downtime_ms, line);
  if (ctx->progress)
    ctx->progress (ctx, step, res.last.mem_processed + res.last.disk_processed,
                   res.last.mem_processed + res.last.disk_processed,
                   res.total_s, true);
  snprintf (id, sizeof id, "domain:%s@target downtime_ms=%" PRIu64, w.src.uuid,
            res.last.downtime_ms);
  return ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, id, err);
}

/* The guest runs on the target (and answers its agent when it has one). */
static int
migrate_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err)
{
  if (ferry_verify_by_check (migrate_check, ctx, step,
                             "domain not running on the target", err) < 0)
    return -1;
  if (step->vm->found->parsed && step->vm->found->dom.has_agent)
    return ferry_libvirt_agent_ping (step->target->uri, step->vm->domain, err);
  return 0;
}

const struct ferry_module ferry_module_migrate = {
    .name = "migrate",
    .summary = "libvirt source, live: migrate the running domain to the "
               "libvirt target (copy or shared storage) under convergence "
               "control",
    .scope = FERRY_SCOPE_VM,
    .sources = FERRY_KIND (FERRY_SOURCE_LIBVIRT),
    .targets = FERRY_KIND (FERRY_PLAN_TARGET_LIBVIRT),
    .applies = migrate_applies,
    .vm_final = true,
    .check = migrate_check,
    .describe = ferry_describe_detail,
    .apply = migrate_apply,
    .verify = migrate_verify,
};
