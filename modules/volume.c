/* volume: the Cinder volume of a disk exists (write-in-place mode).
 *
 * One volume per disk, named "<vm>-disk<N>", marked with metadata
 * ferry:plan, ferry:vm, ferry:disk so that check finds it again without
 * the journal.  Size: the source's virtual size rounded up to GiB, or
 * size_gb when bigger; the disk's volume type (else defaults.volume_type)
 * and availability zone.  The boot disk is made bootable with the image
 * metadata Nova needs (modules/openstack.c).  The data comes next, from
 * convert, straight into the RBD image Cinder made (volume-<id>). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/disk.h"
#include "modules/local.h"
#include "modules/module.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

/* Seconds a volume may take to become available. */
#define VOLUME_DEADLINE 600

/* Only write-in-place disks: manage-mode disks get their volume from
 * volume-swap. */
static bool
volume_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  return ferry_plan_volume_mode (plan, step->vm, step->index) ==
         FERRY_VOLUME_MODE_WRITE_IN_PLACE;
}

/* The wanted size in GiB (opens the source disk). */
static int
wanted_gib (struct ferry_ctx *ctx, const struct ferry_step *step, uint64_t *ret,
            struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];
  struct ferry_disk *src = NULL;

  if (ferry_plan_disk_get (ctx->plan,
                           ferry_plan_source (ctx->plan, step->vm->source),
                           &spec->loc, &src, err) < 0)
    return -1;
  *ret = ferry_osm_volume_gib (spec, src->virtual_size);
  ferry_plan_disk_put (ctx->plan, src, false);
  return 0;
}

static const char *
volume_type (const struct ferry_plan *plan, const struct ferry_step *step)
{
  const char *t = step->vm->disks[step->index].volume_type;

  return t ? t : plan->defaults.volume_type;
}

static const char *
zone (const struct ferry_step *step)
{
  return step->vm->availability_zone ? step->vm->availability_zone
                                     : step->target->availability_zone;
}

/* A volume status that will become available by itself. */
static bool
transient (const char *s)
{
  return s &&
         (strcasecmp (s, "creating") == 0 ||
          strcasecmp (s, "downloading") == 0 ||
          strcasecmp (s, "maintenance") == 0 ||
          strcasecmp (s, "attaching") == 0 || strcasecmp (s, "detaching") == 0);
}

static bool
usable (const char *s)
{
  return s &&
         (strcasecmp (s, "available") == 0 || strcasecmp (s, "in-use") == 0 ||
          strcasecmp (s, "reserved") == 0);
}

static int
volume_check (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_observation *ret, struct ferry_err *err)
{
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  CLEANUP_FREE char *name = ferry_osm_volume_name (step->vm, step->index);
  const char *type = volume_type (ctx->plan, step), *st, *id;
  cJSON *vol = NULL;
  uint64_t gib, size;
  int r;

  if (os == NULL || wanted_gib (ctx, step, &gib, err) < 0)
    return -1;
  r = ferry_osm_find_volume (os, ctx->plan, step->vm, step->index, &vol, err);
  if (r < 0)
    return -1;
  if (r == 0) {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail,
              "volume %s: %" PRIu64 " GiB%s%s%s%s%s", name, gib,
              type ? ", type " : "", type ? type : "",
              zone (step) ? ", zone " : "", zone (step) ? zone (step) : "",
              ferry_osm_boot_disk (step->vm, step->index) ? ", bootable" : "");
    return 0;
  }
  st = ferry_osm_str (vol, "status");
  id = ferry_osm_str (vol, "id");
  size = (uint64_t) cJSON_GetNumberValue (
      cJSON_GetObjectItemCaseSensitive (vol, "size"));
  if (transient (st)) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail, "volume %s (%s) is %s: wait",
              name, id, st);
  } else if (!usable (st)) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "volume %s (%s) is in state '%s' (ferry destroy --vm %s, then "
              "apply)",
              name, id, st ? st : "?", step->vm->name);
  } else if (size < gib) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "volume %s (%s) has %" PRIu64 " GiB, the disk needs %" PRIu64
              " GiB (ferry destroy --vm %s, then apply)",
              name, id, size, gib, step->vm->name);
  } else if (ferry_osm_boot_disk (step->vm, step->index) &&
             !ferry_osm_volume_is_bootable (vol, step->vm)) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "volume %s (%s): bootable: false → true (with image metadata)",
              name, id);
  } else {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail,
              "volume %s (%s): %" PRIu64 " GiB, %s", name, id, size, st);
  }
  cJSON_Delete (vol);
  return 0;
}

/* POST the volume; its id into ID. */
static int
create (struct ferry_ctx *ctx, struct ferry_os *os,
        const struct ferry_step *step, uint64_t gib, char *id, size_t len,
        struct ferry_err *err)
{
  CLEANUP_FREE char *name = ferry_osm_volume_name (step->vm, step->index);
  const char *type = volume_type (ctx->plan, step);
  cJSON *body = cJSON_CreateObject (), *v, *reply = NULL, *meta;
  char disk[32], desc[200];
  int r = -1;

  snprintf (disk, sizeof disk, "%zu", step->index);
  snprintf (desc, sizeof desc, "disk %zu of %s, created by ferry (plan %s)",
            step->index, step->vm->name, ctx->plan->name);
  meta = ferry_osm_metadata (ctx->plan, step->vm, "ferry:disk", disk);
  v = body ? cJSON_AddObjectToObject (body, "volume") : NULL;
  if (v == NULL || meta == NULL || name == NULL ||
      !cJSON_AddStringToObject (v, "name", name) ||
      !cJSON_AddNumberToObject (v, "size", (double) gib) ||
      !cJSON_AddStringToObject (v, "description", desc) ||
      (type && !cJSON_AddStringToObject (v, "volume_type", type)) ||
      (zone (step) &&
       !cJSON_AddStringToObject (v, "availability_zone", zone (step)))) {
    cJSON_Delete (meta);
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  cJSON_AddItemToObject (v, "metadata", meta);
  if (ferry_os_request (os, FERRY_OS_VOLUME, "POST", "/volumes", body,
                        FERRY_OS_NO_RETRY, &reply, err) < 0)
    goto out;
  v = cJSON_GetObjectItemCaseSensitive (reply, "volume");
  if (ferry_osm_str (v, "id") == NULL) {
    ferry_err_set (err, 0,
                   "cinder: the reply to creating volume '%s' has no id", name);
    goto out;
  }
  snprintf (id, len, "%s", ferry_osm_str (v, "id"));
  ferry_info ("%s: created volume %s (%s)", step->id, name, id);
  r = 0;
out:
  cJSON_Delete (body);
  cJSON_Delete (reply);
  return r;
}

static int
volume_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_err *err)
{
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  char id[64], rec[80];
  cJSON *vol = NULL;
  uint64_t gib;
  int r;

  if (os == NULL || wanted_gib (ctx, step, &gib, err) < 0)
    return -1;
  r = ferry_osm_find_volume (os, ctx->plan, step->vm, step->index, &vol, err);
  if (r < 0)
    return -1;
  if (r == 1) {
    snprintf (id, sizeof id, "%s", ferry_osm_str (vol, "id"));
    cJSON_Delete (vol);
  } else {
    if (create (ctx, os, step, gib, id, sizeof id, err) < 0)
      return -1;
    snprintf (rec, sizeof rec, "volume:%s", id);
    if (ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, rec, err) < 0)
      return -1;
  }
  return ferry_osm_volume_settle (os, step->vm, step->index, id,
                                  ferry_osm_deadline (VOLUME_DEADLINE), err);
}

static int
volume_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  return ferry_verify_by_check (volume_check, ctx, step, NULL, err);
}

const struct ferry_module ferry_module_volume = {
    .name = "volume",
    .summary = "the Cinder volume of a disk exists (write-in-place mode)",
    .scope = FERRY_SCOPE_DISK,
    .targets = FERRY_KIND (FERRY_PLAN_TARGET_OPENSTACK),
    .applies = volume_applies,
    .check = volume_check,
    .describe = ferry_describe_detail,
    .apply = volume_apply,
    .verify = volume_verify,
};
