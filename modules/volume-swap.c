/* volume-swap (manage mode): the disk's data becomes a Cinder volume by
 * adoption.  convert wrote it into ferry's own RBD image
 * <volumes_pool>/ferry-<plan>-<vm>-disk<N>; Cinder's manage API
 * (manageable_volumes, volume API 3.8+) adopts that image as a new volume
 * "<vm>-disk<N>" with ferry's metadata and renames it volume-<id>.  The
 * volume never exists without its data, and no image is deleted and
 * re-created under a volume (the window the field's usual procedure
 * leaves).  Needs an admin cloud and targets.NAME.volume_host. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/rbd.h"
#include "modules/local.h"
#include "modules/module.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

#define SWAP_DEADLINE 600

static bool
swap_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  return ferry_plan_volume_mode (plan, step->vm, step->index) ==
         FERRY_VOLUME_MODE_MANAGE;
}

/* Does ferry's image exist and hold converted data?  1 yes, 0 no (WHY),
 * -1 error. */
static int
image_ready (const struct ferry_ctx *ctx, const struct ferry_step *step,
             char **ret_name, char *why, size_t len, struct ferry_err *err)
{
  CLEANUP_FREE char *image =
      ferry_osm_manage_image (ctx->plan, step->vm, step->index);
  CLEANUP_FREE char *conv = NULL;
  struct ferry_location loc = {0};
  struct ferry_rbd_info info;
  int r = -1;

  if (image == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (ferry_osm_rbd (step->target, NULL, image, &loc, err) < 0)
    return -1;
  *ret_name = ferry_location_format (&loc);
  if (ferry_rbd_stat (&loc.rbd, &info, err) < 0)
    goto out;
  r = 0;
  if (!info.exists) {
    snprintf (why, len, "%s does not exist yet (convert makes it)",
              *ret_name ? *ret_name : image);
    goto out;
  }
  r = ferry_rbd_meta_get (&loc.rbd, FERRY_OSM_CONVERTED_KEY, &conv, err);
  if (r == 0)
    snprintf (why, len, "%s is not completely converted yet",
              *ret_name ? *ret_name : image);
out:
  ferry_location_clear (&loc);
  return r;
}

static int
swap_check (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_observation *ret, struct ferry_err *err)
{
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  CLEANUP_FREE char *name = ferry_osm_volume_name (step->vm, step->index);
  CLEANUP_FREE char *img = NULL;
  const char *st, *id;
  cJSON *vol = NULL;
  char why[300] = "";
  int r;

  if (os == NULL)
    return -1;
  r = ferry_osm_find_volume (os, ctx->plan, step->vm, step->index, &vol, err);
  if (r < 0)
    return -1;
  if (r == 0) {
    if (image_ready (ctx, step, &img, why, sizeof why, err) < 0)
      return -1;
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail,
              "volume %s: adopt %s (host %s)%s%s", name, img ? img : "?",
              step->target->volume_host, why[0] ? "; " : "", why);
    return 0;
  }
  st = ferry_osm_str (vol, "status");
  id = ferry_osm_str (vol, "id");
  if (st &&
      (strcasecmp (st, "creating") == 0 || strcasecmp (st, "managing") == 0)) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail, "volume %s (%s) is %s: wait",
              name, id, st);
  } else if (st == NULL || (strcasecmp (st, "available") != 0 &&
                            strcasecmp (st, "in-use") != 0 &&
                            strcasecmp (st, "reserved") != 0)) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "volume %s (%s) is in state '%s' (ferry destroy --vm %s, then "
              "apply)",
              name, id, st ? st : "?", step->vm->name);
  } else if (ferry_osm_boot_disk (step->vm, step->index) &&
             !ferry_osm_volume_is_bootable (vol, step->vm)) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "volume %s (%s): bootable: false → true (with image metadata)",
              name, id);
  } else {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "volume %s (%s): adopted, %s",
              name, id, st);
  }
  cJSON_Delete (vol);
  return 0;
}

/* POST manageable_volumes; the new volume's id into ID. */
static int
adopt (struct ferry_ctx *ctx, struct ferry_os *os,
       const struct ferry_step *step, char *id, size_t len,
       struct ferry_err *err)
{
  CLEANUP_FREE char *name = ferry_osm_volume_name (step->vm, step->index);
  CLEANUP_FREE char *image =
      ferry_osm_manage_image (ctx->plan, step->vm, step->index);
  const char *type = step->vm->disks[step->index].volume_type
                         ? step->vm->disks[step->index].volume_type
                         : ctx->plan->defaults.volume_type;
  const char *az = step->vm->availability_zone
                       ? step->vm->availability_zone
                       : step->target->availability_zone;
  cJSON *body = cJSON_CreateObject (), *v, *ref, *reply = NULL, *meta;
  char disk[32], desc[200];
  int r = -1;

  snprintf (disk, sizeof disk, "%zu", step->index);
  snprintf (desc, sizeof desc, "disk %zu of %s, adopted by ferry (plan %s)",
            step->index, step->vm->name, ctx->plan->name);
  meta = ferry_osm_metadata (ctx->plan, step->vm, "ferry:disk", disk);
  v = body ? cJSON_AddObjectToObject (body, "volume") : NULL;
  ref = v ? cJSON_AddObjectToObject (v, "ref") : NULL;
  if (ref == NULL || meta == NULL || name == NULL || image == NULL ||
      !cJSON_AddStringToObject (ref, "source-name", image) ||
      !cJSON_AddStringToObject (v, "host", step->target->volume_host) ||
      !cJSON_AddStringToObject (v, "name", name) ||
      !cJSON_AddStringToObject (v, "description", desc) ||
      !cJSON_AddBoolToObject (v, "bootable",
                              ferry_osm_boot_disk (step->vm, step->index)) ||
      (type && !cJSON_AddStringToObject (v, "volume_type", type)) ||
      (az && !cJSON_AddStringToObject (v, "availability_zone", az))) {
    cJSON_Delete (meta);
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  cJSON_AddItemToObject (v, "metadata", meta);
  if (ferry_os_request (os, FERRY_OS_VOLUME, "POST", "/manageable_volumes",
                        body, FERRY_OS_NO_RETRY, &reply, err) < 0)
    goto out;
  v = cJSON_GetObjectItemCaseSensitive (reply, "volume");
  if (ferry_osm_str (v, "id") == NULL) {
    ferry_err_set (err, 0, "cinder: the reply to managing '%s' has no id",
                   image);
    goto out;
  }
  snprintf (id, len, "%s", ferry_osm_str (v, "id"));
  ferry_info ("%s: cinder adopts %s as volume %s (%s)", step->id, image, name,
              id);
  r = 0;
out:
  cJSON_Delete (body);
  cJSON_Delete (reply);
  return r;
}

static int
swap_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_err *err)
{
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  CLEANUP_FREE char *img = NULL;
  char id[64], rec[80], why[300] = "";
  cJSON *vol = NULL;
  int r;

  if (os == NULL)
    return -1;
  r = ferry_osm_find_volume (os, ctx->plan, step->vm, step->index, &vol, err);
  if (r < 0)
    return -1;
  if (r == 1) {
    snprintf (id, sizeof id, "%s", ferry_osm_str (vol, "id"));
    cJSON_Delete (vol);
  } else {
    r = image_ready (ctx, step, &img, why, sizeof why, err);
    if (r < 0)
      return -1;
    if (r == 0)
      return ferry_err_set (err, 0, "%s: cannot adopt: %s", step->id, why);
    if (adopt (ctx, os, step, id, sizeof id, err) < 0)
      return -1;
    snprintf (rec, sizeof rec, "volume:%s", id);
    if (ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, rec, err) < 0)
      return -1;
  }
  return ferry_osm_volume_settle (os, step->vm, step->index, id,
                                  ferry_osm_deadline (SWAP_DEADLINE), err);
}

static int
swap_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
             struct ferry_err *err)
{
  return ferry_verify_by_check (swap_check, ctx, step, NULL, err);
}

static const char *const swap_after[] = {"convert", NULL};
const struct ferry_module ferry_module_volume_swap = {
    .name = "volume-swap",
    .summary = "adopt a manage-mode disk's RBD image as its Cinder volume",
    .scope = FERRY_SCOPE_DISK,
    .step_name = "manage",
    .targets = FERRY_KIND (FERRY_PLAN_TARGET_OPENSTACK),
    .after = swap_after,
    .applies = swap_applies,
    .check = swap_check,
    .describe = ferry_describe_detail,
    .apply = swap_apply,
    .verify = swap_verify,
};
