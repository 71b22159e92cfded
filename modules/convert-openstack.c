/* convert into an OpenStack target: the source disk goes straight into the
 * RBD image behind the disk's Cinder volume.
 *
 *   write-in-place: the volume step created the volume; Cinder's RBD
 *                   driver made <volumes_pool>/volume-<id>; ferry writes
 *                   into it.
 *   manage:         ferry converts into <volumes_pool>/ferry-<plan>-<vm>-
 *                   disk<N>, which volume-swap then adopts (Cinder renames
 *                   it volume-<id>, keeping the RBD image id).
 *
 * Done is the world's fact, not the journal's: after the last flush the
 * image gets the metadata ferry.converted = <source chain identity>, so a
 * rerun with the journal lost converts nothing twice, and never writes
 * over a server that booted from the volume.  Checkpoints are bound to the
 * RBD image's id (stable across Cinder's rename) and the source. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/rbd.h"
#include "disk/convert.h"
#include "disk/disk.h"
#include "disk/identity.h"
#include "disk/target.h"
#include "modules/convert.h"
#include "modules/local.h"
#include "modules/openstack.h"
#include "util/cleanup.h"
#include "util/log.h"

/* Where a disk's data goes. */
struct os_dst {
  enum ferry_volume_mode mode;
  char vol_id[64];           /* the Cinder volume, "" when none yet */
  char vol_status[32];       /* its status */
  struct ferry_location loc; /* the RBD image (valid when has_loc) */
  bool has_loc;
  struct ferry_rbd_info info;    /* the image (info.exists) */
  char *name;                    /* "rbd:pool/image" for messages */
  char part_id[FERRY_IDENT_HEX]; /* identity of the image for checkpoints */
};

static void
dst_clear (struct os_dst *d)
{
  ferry_location_clear (&d->loc);
  free (d->name);
  memset (d, 0, sizeof *d);
}

/* sha256 hex of "rbd:<pool>/<id>": the image whatever its name. */
static void
image_identity (const struct os_dst *d, char *out)
{
  unsigned char md[32];
  unsigned int n = 0, i;
  char text[400];

  snprintf (text, sizeof text, "rbd:%s/%s", d->loc.rbd.pool, d->info.id);
  EVP_Digest (text, strlen (text), md, &n, EVP_sha256 (), NULL);
  for (i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
}

/* Find the disk's volume and RBD image (no writes). */
static int
locate (struct ferry_ctx *ctx, const struct ferry_step *step, struct os_dst *d,
        struct ferry_err *err)
{
  struct ferry_os *os = ferry_osm_session (ctx, step->target, err);
  CLEANUP_FREE char *image = NULL;
  cJSON *vol = NULL;
  int r;

  memset (d, 0, sizeof *d);
  d->mode = ferry_plan_volume_mode (ctx->plan, step->vm, step->index);
  if (os == NULL)
    return -1;
  r = ferry_osm_find_volume (os, ctx->plan, step->vm, step->index, &vol, err);
  if (r < 0)
    return -1;
  if (r == 1) {
    snprintf (d->vol_id, sizeof d->vol_id, "%s",
              ferry_osm_str (vol, "id") ? ferry_osm_str (vol, "id") : "");
    snprintf (d->vol_status, sizeof d->vol_status, "%s",
              ferry_osm_str (vol, "status") ? ferry_osm_str (vol, "status")
                                            : "");
    cJSON_Delete (vol);
    if (asprintf (&image, "volume-%s", d->vol_id) < 0)
      image = NULL;
  } else if (d->mode == FERRY_VOLUME_MODE_MANAGE)
    image = ferry_osm_manage_image (ctx->plan, step->vm, step->index);
  else
    return 0; /* write-in-place: no volume yet */
  if (image == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (ferry_osm_rbd (step->target, NULL, image, &d->loc, err) < 0)
    return -1;
  d->has_loc = true;
  d->name = ferry_location_format (&d->loc);
  if (d->name == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (ferry_rbd_stat (&d->loc.rbd, &d->info, err) < 0)
    return -1;
  if (d->info.exists)
    image_identity (d, d->part_id);
  return 0;
}

/* Open the step's source disk and its identity. */
static int
source_get (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_disk **src, char *src_id, struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];

  if (ferry_plan_disk_get (ctx->plan,
                           ferry_plan_source (ctx->plan, step->vm->source),
                           &spec->loc, src, err) < 0)
    return -1;
  if (ferry_disk_identity (*src, src_id, FERRY_IDENT_HEX, err) < 0) {
    ferry_plan_disk_put (ctx->plan, *src, false);
    *src = NULL;
    return -1;
  }
  return 0;
}

/* Is the volume attached to a server (written by a guest)? */
static bool
attached (const struct os_dst *d)
{
  return strcasecmp (d->vol_status, "in-use") == 0 ||
         strcasecmp (d->vol_status, "attaching") == 0 ||
         strcasecmp (d->vol_status, "reserved") == 0;
}

/* A warm disk's cutover onto the image of D (not converted yet, not
 * attached): 1 with RET filled when the pre-copy's record is about this
 * image, 0 when nothing is recorded about it, -1 on error. */
static int
warm_judge (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_disk *src, const struct os_dst *d,
            struct ferry_observation *ret, struct ferry_err *err)
{
  return ferry_warm_cutover_judge (ctx, step, src, d->part_id, d->name, ret,
                                   err);
}

/* The cutover of a warm disk into D's image: the layers of SRC above the
 * one the image holds.  1 copied, 0 nothing recorded about this image
 * (convert in full), -1 error (a pre-copied layer not in SRC's chain is
 * one: the image is not touched). */
static int
warm_cutover (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_disk *src, const struct os_dst *d,
              struct ferry_err *err)
{
  struct ferry_convert_stats stats = {0};
  struct ferry_target *dst = NULL;
  struct ferry_disk *base = NULL;
  struct ferry_warm_rec wr;
  char why[600];
  int r;

  r = ferry_warm_cutover_base (ctx, step, src, d->part_id, &base, &wr, why,
                               sizeof why, err);
  if (r <= 0)
    return r;
  if (base == NULL)
    return ferry_err_set (err, 0, FERRY_WARM_REFUSED, why, d->name);
  if (ferry_target_open_location (&d->loc, src->virtual_size,
                                  FERRY_TARGET_RESUME, &dst, err) < 0)
    return -1;
  if (ferry_warm_copy (ctx, step, src, base, d->part_id, dst, &stats, err) <
      0) {
    ferry_target_close (dst, NULL);
    return -1;
  }
  if (ferry_target_close (dst, err) < 0)
    return -1;
  ferry_info ("%s: cutover onto '%s': %" PRIu64 " bytes written, %" PRIu64
              " bytes zeroed in %.2fs",
              step->id, base->path, stats.written, stats.zeroed, stats.seconds);
  return 1;
}

int
ferry_convert_os_check (struct ferry_ctx *ctx, const struct ferry_step *step,
                        struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];
  char src_id[FERRY_IDENT_HEX], why[512];
  CLEANUP_FREE char *vname = ferry_osm_volume_name (step->vm, step->index);
  CLEANUP_FREE char *conv = NULL;
  const struct ferry_step_record *rec;
  struct ferry_disk *src = NULL;
  struct os_dst d;
  uint64_t resume = 0;
  int r = -1, m, w;

  if (source_get (ctx, step, &src, src_id, err) < 0)
    return -1;
  ret->work_bytes = src->virtual_size;
  if (locate (ctx, step, &d, err) < 0)
    goto out;
  if (!d.has_loc || !d.info.exists) {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s%s from %s (%s %s, %" PRIu64 " MiB)",
              d.mode == FERRY_VOLUME_MODE_MANAGE ? "" : "volume ",
              d.mode == FERRY_VOLUME_MODE_MANAGE && d.name ? d.name : vname,
              spec->path, src->format->name, src->subformat,
              src->virtual_size >> 20);
    r = 0;
    goto out;
  }
  m = ferry_rbd_meta_get (&d.loc.rbd, FERRY_OSM_CONVERTED_KEY, &conv, err);
  if (m < 0)
    goto out;
  rec = ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  if (m == 1 && strcmp (conv, src_id) == 0) {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "%s holds %s", d.name,
              spec->path);
  } else if (attached (&d)) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "%s: volume %s is attached (%s) but %s; not writing under a "
              "guest (ferry destroy --vm %s, then apply)",
              d.name, d.vol_id, d.vol_status,
              m == 1 ? "the source changed since it was converted"
                     : "its conversion never finished",
              step->vm->name);
  } else if (m == 1) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s: convert again (the source changed since)", d.name);
  } else if (step->vm->warm &&
             (w = warm_judge (ctx, step, src, &d, ret, err)) != 0) {
    if (w < 0)
      goto out;
  } else if (ferry_convert_ckpt_match (rec, src_id, d.part_id, d.name,
                                       src->virtual_size, &resume, why,
                                       sizeof why)) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s: resume from %" PRIu64 " MiB of %" PRIu64 " MiB (%s %s)",
              d.name, resume >> 20, src->virtual_size >> 20, src->format->name,
              src->subformat);
  } else {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s from %s (%s %s, %" PRIu64 " MiB)%s%s", d.name, spec->path,
              src->format->name, src->subformat, src->virtual_size >> 20,
              why[0] ? "; " : "", why);
  }
  r = 0;
out:
  dst_clear (&d);
  ferry_plan_disk_put (ctx->plan, src, false);
  return r;
}

/* Find the disk's RBD image into *D and create it when ferry names it
 * (manage mode); its volume must exist.  0 or -1. */
static int
locate_image (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_disk *src, struct os_dst *d, struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];

  if (locate (ctx, step, d, err) < 0)
    return -1;
  if (!d->has_loc)
    return ferry_err_set (err, ENOENT,
                          "%s: the Cinder volume of disk %zu does not exist "
                          "(its volume step did not run)",
                          step->id, step->index);
  if (d->info.exists)
    return 0;
  if (d->mode != FERRY_VOLUME_MODE_MANAGE || d->vol_id[0])
    return ferry_err_set (err, ENOENT, "rbd image %s of volume %s not found",
                          d->name, d->vol_id);
  if (ferry_rbd_create (&d->loc.rbd,
                        ferry_osm_volume_gib (spec, src->virtual_size) << 30,
                        err) < 0 ||
      ferry_rbd_stat (&d->loc.rbd, &d->info, err) < 0)
    return -1;
  image_identity (d, d->part_id);
  return 0;
}

/* Convert SRC (identity SRC_ID) into D's image in full, resuming from a
 * checkpoint of this source and image (none when M says the image holds
 * another conversion).  0 or -1. */
static int
full_copy (struct ferry_ctx *ctx, const struct ferry_step *step,
           struct ferry_disk *src, const char *src_id, struct os_dst *d, int m,
           struct ferry_err *err)
{
  const struct ferry_step_record *rec;
  struct ferry_convert_opts co = {0};
  struct ferry_convert_cb cb = {ctx, step, src_id, d->part_id};
  struct ferry_target *dst = NULL;
  char why[512] = "";

  rec = ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  if (m == 0 && ferry_convert_ckpt_match (rec, src_id, d->part_id, d->name,
                                          src->virtual_size, &co.resume_from,
                                          why, sizeof why))
    ferry_info ("%s: resuming from %" PRIu64 " MiB (checkpoint in the "
                "journal)",
                step->id, co.resume_from >> 20);
  else {
    if (why[0])
      ferry_info ("%s: %s, restarting from 0", step->id, why);
    co.resume_from = 0;
  }
  ferry_convert_opts_journal (&co, &cb);
  if (ferry_target_open_location (&d->loc, src->virtual_size,
                                  co.resume_from ? FERRY_TARGET_RESUME : 0,
                                  &dst, err) < 0)
    return -1;
  if (ferry_convert_disk (src, dst, &co, NULL, err) < 0) {
    ferry_target_close (dst, NULL);
    return -1;
  }
  return ferry_target_close (dst, err);
}

int
ferry_convert_os_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
                        struct ferry_err *err)
{
  char src_id[FERRY_IDENT_HEX], done[300];
  CLEANUP_FREE char *conv = NULL;
  struct ferry_disk *src = NULL;
  struct os_dst d;
  int r = -1, m, w;

  if (source_get (ctx, step, &src, src_id, err) < 0)
    return -1;
  if (locate_image (ctx, step, src, &d, err) < 0)
    goto out;
  m = ferry_rbd_meta_get (&d.loc.rbd, FERRY_OSM_CONVERTED_KEY, &conv, err);
  if (m < 0)
    goto out;
  if (m == 1 && strcmp (conv, src_id) == 0) {
    ferry_info ("%s: %s already holds this source", step->id, d.name);
  } else {
    if (attached (&d)) {
      ferry_err_set (err, EBUSY,
                     "%s: volume %s is attached (%s): not writing under a "
                     "guest",
                     d.name, d.vol_id, d.vol_status);
      goto out;
    }
    w = m == 0 && step->vm->warm ? warm_cutover (ctx, step, src, &d, err) : 0;
    if (w < 0 || (w == 0 && full_copy (ctx, step, src, src_id, &d, m, err) < 0))
      goto out;
    /* the world's proof, after the data is durable */
    if (ferry_rbd_meta_set (&d.loc.rbd, FERRY_OSM_CONVERTED_KEY, src_id, err) <
        0)
      goto out;
  }
  snprintf (done, sizeof done, "src=%s rbd=%s volume=%s", src_id, d.info.id,
            d.vol_id[0] ? d.vol_id : "-");
  r = ferry_convert_record (ctx, step, FERRY_EVENT_DONE, 0, done, err);
out:
  dst_clear (&d);
  ferry_plan_disk_put (ctx->plan, src, true);
  return r;
}

int
ferry_convert_os_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                         struct ferry_err *err)
{
  return ferry_verify_by_check (ferry_convert_os_check, ctx, step, NULL, err);
}

/* See convert.h. */
int
ferry_convert_os_target (struct ferry_ctx *ctx, const struct ferry_vm *vm,
                         const struct ferry_plan_target *t, size_t disk,
                         struct ferry_location *ret, bool *ret_converted,
                         struct ferry_err *err)
{
  struct ferry_step step = {0};
  struct os_dst d;
  char *val = NULL;

  step.vm = vm;
  step.target = t;
  step.index = disk;
  *ret_converted = false;
  if (locate (ctx, &step, &d, err) < 0) {
    dst_clear (&d);
    return -1;
  }
  if (!d.has_loc || !d.info.exists) {
    dst_clear (&d);
    return 0;
  }
  if (ferry_rbd_meta_get (&d.loc.rbd, FERRY_OSM_CONVERTED_KEY, &val, err) < 0) {
    dst_clear (&d);
    return -1;
  }
  *ret_converted = val != NULL && val[0] != '\0';
  free (val);
  *ret = d.loc;
  memset (&d.loc, 0, sizeof d.loc);
  d.has_loc = false;
  dst_clear (&d);
  return 1;
}

/* What the pre-copy of STEP finds in the image D: 1 decided (RET filled:
 * done, cut over, blocked), 0 go on to the layers; -1 error.  *M says
 * whether the image carries ferry.converted (then 1 always). */
static int
precopy_state (const struct ferry_step *step, const char *top_id,
               struct os_dst *d, struct ferry_observation *ret,
               struct ferry_err *err)
{
  CLEANUP_FREE char *conv = NULL;
  int m = ferry_rbd_meta_get (&d->loc.rbd, FERRY_OSM_CONVERTED_KEY, &conv, err);

  if (m < 0)
    return -1;
  if (m == 1 && strcmp (conv, top_id) == 0) {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "%s: cut over", d->name);
    return 1;
  }
  if (m == 1 || attached (d)) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "%s: %s; not pre-copying into it (ferry destroy --vm %s, then "
              "apply)",
              d->name,
              m == 1 ? "holds a finished conversion of another source"
                     : "its volume is attached",
              step->vm->name);
    return 1;
  }
  return 0;
}

/* The pre-copy's top (*TOP, with identity TOP_ID; put back by the caller)
 * and the chain it copies, *UPTO (NULL with WHY: no snapshot yet). */
static int
precopy_chain (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_disk **top, char *top_id, struct ferry_disk **upto,
               char *why, size_t len, struct ferry_err *err)
{
  if (source_get (ctx, step, top, top_id, err) < 0)
    return -1;
  *upto = (*top)->parent;
  if (*upto == NULL)
    snprintf (why, len,
              "'%s' has no parent: a warm VM's disk is the snapshot delta it "
              "writes now; take a snapshot first (docs/warm.md)",
              (*top)->path);
  return 0;
}

int
ferry_convert_os_precopy_check (struct ferry_ctx *ctx,
                                const struct ferry_step *step,
                                struct ferry_observation *ret,
                                struct ferry_err *err)
{
  char top_id[FERRY_IDENT_HEX], why[600] = "";
  struct ferry_disk *top = NULL, *upto = NULL;
  struct ferry_warm_next n;
  struct os_dst d = {0};
  int r = -1, s;

  if (precopy_chain (ctx, step, &top, top_id, &upto, why, sizeof why, err) < 0)
    return -1;
  if (upto == NULL) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "%s", why);
    r = 0;
    goto out;
  }
  ret->work_bytes = upto->virtual_size;
  if (locate (ctx, step, &d, err) < 0)
    goto out;
  if (!d.has_loc || !d.info.exists) {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail,
              "the volume of disk %zu from %s (%s %s, %" PRIu64
              " MiB, below the live %s)",
              step->index, upto->path, upto->format->name, upto->subformat,
              upto->virtual_size >> 20, top->path);
    r = 0;
    goto out;
  }
  s = precopy_state (step, top_id, &d, ret, err);
  if (s != 0) {
    r = s < 0 ? -1 : 0;
    goto out;
  }
  if (ferry_warm_next (ctx, step, top, upto, d.part_id, &n, err) < 0 ||
      ferry_warm_observe (&n, top, upto, d.name, true, ret, err) < 0)
    goto out;
  r = 0;
out:
  dst_clear (&d);
  ferry_plan_disk_put (ctx->plan, top, false);
  return r;
}

int
ferry_convert_os_precopy_apply (struct ferry_ctx *ctx,
                                const struct ferry_step *step,
                                struct ferry_err *err)
{
  char top_id[FERRY_IDENT_HEX], upto_id[FERRY_IDENT_HEX], why[600] = "";
  struct ferry_disk *top = NULL, *upto = NULL;
  struct ferry_convert_stats stats = {0};
  struct ferry_observation obs = {0};
  struct ferry_convert_opts co = {0};
  struct ferry_convert_cb cb = {ctx, step, upto_id, NULL};
  struct ferry_target *dst = NULL;
  const struct ferry_step_record *rec;
  struct ferry_warm_next n;
  struct os_dst d = {0};
  int r = -1, s;

  if (precopy_chain (ctx, step, &top, top_id, &upto, why, sizeof why, err) < 0)
    return -1;
  if (upto == NULL) {
    ferry_err_set (err, 0, "%s", why);
    goto out;
  }
  if (locate_image (ctx, step, upto, &d, err) < 0)
    goto out;
  s = precopy_state (step, top_id, &d, &obs, err);
  if (s != 0) {
    if (s > 0 && obs.need == FERRY_NEED_DONE)
      r = 0;
    else if (s > 0)
      ferry_err_set (err, EBUSY, "%s", obs.detail);
    goto out;
  }
  if (ferry_warm_next (ctx, step, top, upto, d.part_id, &n, err) < 0)
    goto out;
  if (n.what == FERRY_WARM_HOLDS || n.what == FERRY_WARM_CUTTING) {
    r = 0;
    goto out;
  }
  if (n.what == FERRY_WARM_REFUSE) {
    ferry_err_set (err, 0, FERRY_WARM_REFUSED, n.why, d.name);
    goto out;
  }
  if (n.what == FERRY_WARM_DELTA) {
    ferry_info ("%s: copying the layers above '%s' up to '%s'", step->id,
                n.base->path, upto->path);
    if (ferry_target_open_location (&d.loc, upto->virtual_size,
                                    FERRY_TARGET_RESUME, &dst, err) < 0 ||
        ferry_warm_copy (ctx, step, upto, n.base, d.part_id, dst, &stats, err) <
            0)
      goto out;
  } else {
    /* a full copy: the image keeps its identity, so what was recorded
     * about it goes first */
    if (n.why[0])
      ferry_info ("%s: %s; copying '%s' in full", step->id, n.why, upto->path);
    if (ferry_disk_identity (upto, upto_id, sizeof upto_id, err) < 0 ||
        ferry_warm_void (ctx, step, upto_id, d.part_id, err) < 0)
      goto out;
    rec = ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
    if (!ferry_convert_ckpt_match (rec, upto_id, d.part_id, d.name,
                                   upto->virtual_size, &co.resume_from, why,
                                   sizeof why))
      co.resume_from = 0;
    cb.part_id = d.part_id;
    ferry_convert_opts_journal (&co, &cb);
    if (ferry_target_open_location (&d.loc, upto->virtual_size,
                                    co.resume_from ? FERRY_TARGET_RESUME : 0,
                                    &dst, err) < 0 ||
        ferry_convert_disk (upto, dst, &co, &stats, err) < 0)
      goto out;
  }
  r = ferry_target_close (dst, err);
  dst = NULL;
  if (r == 0)
    r = ferry_warm_held (ctx, step, upto, d.part_id, &stats, err);
out:
  if (dst)
    ferry_target_close (dst, NULL);
  dst_clear (&d);
  ferry_plan_disk_put (ctx->plan, top, true);
  return r;
}
