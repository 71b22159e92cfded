/* image: a Glance image of the VM's first disk, its data written straight
 * into Ceph (targets.X.ceph.images_pool), never through the Image API.
 *
 *   find      ferry's image: name ferry_osm_image_name, properties
 *             ferry_plan / ferry_vm (ferry_osm_find_image); active = done
 *   create    POST /v2/images (queued, no data), CREATED "image:<id>"
 *   copy      the first disk's converted data, i.e. the RBD image behind
 *             its Cinder volume (<volumes_pool>/volume-<volume id>), into
 *             <images_pool>/<image id> with the converter (zeroes
 *             skipped); the copy gets the volume's ferry.converted
 *             metadata when complete, so a rerun skips an equal copy and
 *             redoes a partial or stale one
 *   snapshot  "snap", protected (Glance's RBD store layout)
 *   location  PATCH /v2/images/<id>: add rbd://<fsid>/<pool>/<id>/snap;
 *             Glance then makes the image active
 *
 * Without an images pool the data is streamed through the Image API
 * instead (PUT /v2/images/<id>/file) and Glance stores it.  A queued
 * image of ours (a run interrupted before the location or the upload
 * ended) is resumed, never made twice.  Deleting the image in Glance also
 * deletes its RBD data (ferry destroy). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clients/rbd.h"
#include "disk/convert.h"
#include "disk/disk.h"
#include "disk/target.h"
#include "modules/local.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

#define SNAP "snap"

/* The image's status, or "". */
static const char *
image_status (const cJSON *img)
{
  const char *s = ferry_osm_str (img, "status");

  return s ? s : "";
}

/* Observe ferry's image of the VM (read-only): active, queued (resume), none
 * (create; blocked without an images pool) or unusable (blocked). */
static int
image_check (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_plan_target *t = step->target;
  CLEANUP_FREE char *name = ferry_osm_image_name (ctx->plan, step->vm);
  struct ferry_os *os;
  cJSON *img = NULL;
  const char *st, *id, *url;
  int r;

  if (name == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  os = ferry_osm_session (ctx, t, err);
  if (os == NULL)
    return -1;
  r = ferry_osm_find_image (os, ctx->plan, step->vm, &img, err);
  if (r < 0)
    return -1;
  if (r == 0) {
    ret->need = FERRY_NEED_CREATE;
    if (t->ceph.images_pool == NULL)
      snprintf (ret->detail, sizeof ret->detail,
                "image %s of %s-disk0, uploaded through the Image API", name,
                step->vm->name);
    else
      snprintf (ret->detail, sizeof ret->detail,
                "image %s of %s-disk0, data into rbd:%s/<image id>", name,
                step->vm->name, t->ceph.images_pool);
    return 0;
  }
  st = image_status (img);
  id = ferry_osm_str (img, "id");
  url = ferry_osm_str (img, "direct_url");
  if (strcasecmp (st, "active") == 0) {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "image %s (id %s) active%s%s",
              name, id, url ? ", " : "", url ? url : "");
  } else if (strcasecmp (st, "queued") == 0) {
    ret->need = FERRY_NEED_UPDATE;
    if (t->ceph.images_pool == NULL)
      snprintf (ret->detail, sizeof ret->detail,
                "image %s (id %s) queued: upload %s-disk0 through the Image "
                "API",
                name, id, step->vm->name);
    else
      snprintf (ret->detail, sizeof ret->detail,
                "image %s (id %s) queued: copy %s-disk0 into rbd:%s/%s, add "
                "the location",
                name, id, step->vm->name, t->ceph.images_pool, id);
  } else {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "image %s (id %s) is '%s': remove it (ferry destroy --vm %s) "
              "and apply again",
              name, id, st, step->vm->name);
  }
  cJSON_Delete (img);
  return 0;
}

/* The Glance properties of a new image of STEP's VM. */
static cJSON *
image_body (const struct ferry_plan *plan, const struct ferry_vm *vm,
            const char *name)
{
  cJSON *b = cJSON_CreateObject ();

  if (b == NULL || !cJSON_AddStringToObject (b, "name", name) ||
      !cJSON_AddStringToObject (b, "disk_format", "raw") ||
      !cJSON_AddStringToObject (b, "container_format", "bare") ||
      !cJSON_AddStringToObject (b, "visibility", "private") ||
      !cJSON_AddStringToObject (b, "ferry_plan", plan->name) ||
      !cJSON_AddStringToObject (b, "ferry_vm", vm->name) ||
      !cJSON_AddStringToObject (b, "hw_disk_bus", "virtio") ||
      !cJSON_AddStringToObject (b, "hw_vif_model", "virtio") ||
      (vm->os_type && !cJSON_AddStringToObject (b, "os_type", vm->os_type)) ||
      (vm->firmware &&
       !cJSON_AddStringToObject (b, "hw_firmware_type", vm->firmware)) ||
      (vm->machine_type &&
       !cJSON_AddStringToObject (b, "hw_machine_type", vm->machine_type))) {
    cJSON_Delete (b);
    return NULL;
  }
  return b;
}

/* Progress of the copy, passed on to the run's callback. */
struct copy_cb {
  struct ferry_ctx *ctx;
  const struct ferry_step *step;
};

/* The converter's progress, as the run's progress of this step. */
static void
copy_progress (void *opaque, const struct ferry_convert_progress *p)
{
  struct copy_cb *cb = opaque;

  if (cb->ctx->progress)
    cb->ctx->progress (cb->ctx, cb->step, p->done, p->total, p->elapsed,
                       p->final);
}

/* Copy SRC (the volume's RBD image, converted as CONVERTED says) into DST
 * (<images_pool>/<image id>) unless DST already holds that copy; a partial
 * or stale DST (ferry's) is removed and written again. */
static int
copy_data (struct ferry_ctx *ctx, const struct ferry_step *step,
           const struct ferry_location *src, const struct ferry_location *dst,
           const char *converted, struct ferry_err *err)
{
  struct ferry_convert_opts co = {0};
  struct copy_cb cb = {ctx, step};
  struct ferry_rbd_info info;
  struct ferry_disk *disk = NULL;
  struct ferry_target *t = NULL;
  CLEANUP_FREE char *have = NULL;
  int r = -1, m;

  if (ferry_rbd_stat (&dst->rbd, &info, err) < 0)
    return -1;
  if (info.exists) {
    m = ferry_rbd_meta_get (&dst->rbd, FERRY_OSM_CONVERTED_KEY, &have, err);
    if (m < 0)
      return -1;
    if (m == 1 && strcmp (have, converted) == 0) {
      ferry_info ("%s: rbd:%s/%s already holds the data", step->id,
                  dst->rbd.pool, dst->rbd.image);
      return 0;
    }
    ferry_info ("%s: rbd:%s/%s is incomplete or stale, writing it again",
                step->id, dst->rbd.pool, dst->rbd.image);
    if (ferry_rbd_remove (&dst->rbd, err) < 0)
      return -1;
  }
  if (ferry_disk_open_location (src, NULL, &disk, err) < 0)
    return -1;
  if (ferry_target_open_location (dst, disk->virtual_size, 0, &t, err) < 0)
    goto out;
  co.threads = ctx->io_threads;
  co.progress = copy_progress;
  co.opaque = &cb;
  co.stop = ctx->stop;
  if (ferry_convert_disk (disk, t, &co, NULL, err) < 0)
    goto out;
  r = ferry_target_close (t, err);
  t = NULL;
  if (r == 0)
    r = ferry_rbd_meta_set (&dst->rbd, FERRY_OSM_CONVERTED_KEY, converted, err);
out:
  if (t)
    ferry_target_close (t, NULL);
  ferry_disk_close (disk);
  return r;
}

/* Add the location rbd://FSID/POOL/ID/snap to image ID (Glance's JSON
 * patch). */
static int
add_location (struct ferry_os *os, const struct ferry_location *dst,
              const char *id, const char *path, struct ferry_err *err)
{
  char fsid[64], url[2200];
  cJSON *patch = NULL, *op, *val;
  int r = -1;

  if (ferry_ceph_fsid (&dst->rbd, fsid, sizeof fsid, err) < 0)
    return -1;
  snprintf (url, sizeof url, "rbd://%s/%s/%s/%s", fsid, dst->rbd.pool, id,
            SNAP);
  if ((patch = cJSON_CreateArray ()) == NULL ||
      (op = cJSON_CreateObject ()) == NULL) {
    cJSON_Delete (patch);
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  cJSON_AddItemToArray (patch, op);
  if (!cJSON_AddStringToObject (op, "op", "add") ||
      !cJSON_AddStringToObject (op, "path", "/locations/-") ||
      (val = cJSON_AddObjectToObject (op, "value")) == NULL ||
      !cJSON_AddStringToObject (val, "url", url) ||
      !cJSON_AddObjectToObject (val, "metadata")) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  if (ferry_os_request (os, FERRY_OS_IMAGE, "PATCH", path, patch,
                        FERRY_OS_JSON_PATCH, NULL, err) < 0)
    goto out;
  r = 0;
out:
  cJSON_Delete (patch);
  return r;
}

/* The reader of an upload: the source disk, read at an offset, with the
 * run's progress every half second and its stop flag. */
struct upload_src {
  struct ferry_ctx *ctx;
  const struct ferry_step *step;
  struct ferry_disk *disk;
  double t0, last; /* start, last progress (monotonic seconds) */
};

/* Monotonic seconds. */
static double
mono (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ferry_os_read_fn over the source disk. */
static int
upload_read (void *opaque, void *buf, size_t len, uint64_t offset,
             size_t *ret_n, struct ferry_err *err)
{
  struct upload_src *u = opaque;
  uint64_t size = u->disk->virtual_size;
  double t = mono ();

  if (u->ctx->stop && *u->ctx->stop)
    return ferry_err_set (err, EINTR, "interrupted");
  if (ferry_disk_read (u->disk, buf, len, offset, err) < 0)
    return -1;
  *ret_n = len;
  if (u->ctx->progress && (t - u->last >= 0.5 || offset + len == size)) {
    u->last = t;
    u->ctx->progress (u->ctx, u->step, offset + len, size, t - u->t0,
                      offset + len == size);
  }
  return 0;
}

/* PUT the source disk SRC as image PATH's data (Glance stores it). */
static int
upload_data (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_os *os, const struct ferry_location *src,
             const char *path, struct ferry_err *err)
{
  struct upload_src u = {ctx, step, NULL, mono (), 0};
  CLEANUP_FREE char *file = NULL;
  int r;

  if (asprintf (&file, "%s/file", path) < 0) {
    file = NULL;
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  if (ferry_disk_open_location (src, NULL, &u.disk, err) < 0)
    return -1;
  r = ferry_os_upload (os, FERRY_OS_IMAGE, file, u.disk->virtual_size,
                       upload_read, &u, err);
  ferry_disk_close (u.disk);
  return r < 0 ? -1 : 0;
}

/* The first disk's volume and the ferry.converted of its RBD image into
 * *RET_SRC / *RET_CONVERTED (caller frees); an error when the volume or
 * its converted data is not there yet. */
static int
find_source (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_os *os, struct ferry_location *ret_src,
             char **ret_converted, struct ferry_err *err)
{
  cJSON *vol = NULL;
  char img[128];
  int r;

  r = ferry_osm_find_volume (os, ctx->plan, step->vm, 0, &vol, err);
  if (r < 0)
    return -1;
  if (r == 0)
    return ferry_err_set (err, ENOENT,
                          "disk 0 of VM '%s' has no volume '%s-disk0' of "
                          "ferry's yet (the volume and convert steps make it)",
                          step->vm->name, step->vm->name);
  snprintf (img, sizeof img, "volume-%s", ferry_osm_str (vol, "id"));
  cJSON_Delete (vol);
  if (ferry_osm_rbd (step->target, NULL, img, ret_src, err) < 0)
    return -1;
  r = ferry_rbd_meta_get (&ret_src->rbd, FERRY_OSM_CONVERTED_KEY, ret_converted,
                          err);
  if (r == 1)
    return 0;
  if (r == 0)
    ferry_err_set (err, ENOENT,
                   "rbd:%s/%s holds no converted data yet (no %s metadata): "
                   "convert disk 0 first",
                   ret_src->rbd.pool, img, FERRY_OSM_CONVERTED_KEY);
  ferry_location_clear (ret_src);
  return -1;
}

/* Converge: the source must be converted; find or create the image
 * (recorded at once), copy the data unless an equal copy is there,
 * snapshot, add the location, wait for active. */
static int
image_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_err *err)
{
  static const char *const active[] = {"active", NULL};
  static const char *const bad[] = {"killed", "deleted", "pending_delete",
                                    "deactivated", NULL};
  const struct ferry_plan_target *t = step->target;
  CLEANUP_FREE char *name = ferry_osm_image_name (ctx->plan, step->vm);
  CLEANUP_FREE char *converted = NULL, *path = NULL, *q = NULL;
  struct ferry_location src = {0}, dst = {0};
  char created[128];
  struct ferry_os *os;
  cJSON *img = NULL, *body = NULL;
  const char *id, *st;
  int r = -1;

  if (name == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  os = ferry_osm_session (ctx, t, err);
  if (os == NULL)
    return -1;
  /* the source first: no image is made for data that is not there */
  if (find_source (ctx, step, os, &src, &converted, err) < 0)
    return -1;
  r = ferry_osm_find_image (os, ctx->plan, step->vm, &img, err);
  if (r < 0)
    goto out;
  r = -1;
  if (img == NULL) {
    if ((body = image_body (ctx->plan, step->vm, name)) == NULL) {
      ferry_err_set (err, ENOMEM, "cannot allocate memory");
      goto out;
    }
    if (ferry_os_request (os, FERRY_OS_IMAGE, "POST", "/v2/images", body,
                          FERRY_OS_NO_RETRY, &img, err) < 0)
      goto out;
    if (ferry_osm_str (img, "id") == NULL) {
      ferry_err_set (err, 0, "glance: the new image '%s' has no id", name);
      goto out;
    }
    snprintf (created, sizeof created, "image:%s", ferry_osm_str (img, "id"));
    if (ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, created, err) < 0)
      goto out;
  }
  id = ferry_osm_str (img, "id");
  st = image_status (img);
  if (strcasecmp (st, "active") == 0) {
    r = 0;
    goto out;
  }
  if (strcasecmp (st, "queued") != 0) {
    ferry_err_set (err, 0,
                   "image '%s' (id %s) is '%s': remove it (ferry destroy "
                   "--vm %s) and apply again",
                   name, id, st, step->vm->name);
    goto out;
  }
  if ((q = ferry_os_escape (id)) == NULL ||
      asprintf (&path, "/v2/images/%s", q) < 0) {
    path = NULL;
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  if (t->ceph.images_pool == NULL) {
    /* no pool of Glance's to write into: the Image API stores the data */
    if (upload_data (ctx, step, os, &src, path, err) < 0 ||
        ferry_os_wait (os, FERRY_OS_IMAGE, path, NULL, active, bad,
                       ferry_osm_deadline (300), NULL, err) < 0)
      goto out;
    r = 0;
    goto out;
  }
  if (ferry_osm_rbd (t, t->ceph.images_pool, id, &dst, err) < 0 ||
      copy_data (ctx, step, &src, &dst, converted, err) < 0 ||
      ferry_rbd_snap_protect (&dst.rbd, SNAP, err) < 0 ||
      add_location (os, &dst, id, path, err) < 0 ||
      ferry_os_wait (os, FERRY_OS_IMAGE, path, NULL, active, bad,
                     ferry_osm_deadline (300), NULL, err) < 0)
    goto out;
  r = 0;
out:
  cJSON_Delete (body);
  cJSON_Delete (img);
  ferry_location_clear (&src);
  ferry_location_clear (&dst);
  return r;
}

/* The image of ours is there and active. */
static int
image_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_err *err)
{
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  cJSON *img = NULL;
  int r;

  if (os == NULL)
    return -1;
  r = ferry_osm_find_image (os, ctx->plan, step->vm, &img, err);
  if (r < 0)
    return -1;
  if (r == 0)
    return ferry_err_set (err, ENOENT, "image of VM '%s' is missing",
                          step->vm->name);
  r = strcasecmp (image_status (img), "active") == 0
          ? 0
          : ferry_err_set (err, 0, "image '%s' (id %s) is '%s', not active",
                           ferry_osm_str (img, "name"),
                           ferry_osm_str (img, "id"), image_status (img));
  cJSON_Delete (img);
  return r;
}

/* Only for VMs that ask for an image (vms[].image) and have a disk. */
static bool
image_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return step->vm->has_image && step->vm->n_disks > 0;
}

static const char *const image_after[] = {"volume-swap", "convert", "customize",
                                          "inject",      "resize",  NULL};
const struct ferry_module ferry_module_image = {
    .name = "image",
    .summary = "a Glance image of the first disk, its data written straight "
               "into the images pool",
    .scope = FERRY_SCOPE_VM,
    .targets = FERRY_KIND (FERRY_PLAN_TARGET_OPENSTACK),
    .after = image_after,
    .applies = image_applies,
    .check = image_check,
    .describe = ferry_describe_detail,
    .apply = image_apply,
    .verify = image_verify,
};
