/* precopy: a warm VM's disks copied while the VM runs (docs/warm.md).
 *
 * The plan names each disk's top: the snapshot delta the running VM
 * writes.  Its parents are read-only while it runs, so precopy copies the
 * chain below the top (the top's parent and everything under it) into the
 * disk's target, and the cutover (the convert step, once the VM is shut
 * down) copies only the layers above what the target holds.  A later
 * precopy, after the operator took another snapshot and pointed the plan
 * at it, copies only the layers between.
 *
 * What the target holds is the evidence in the DONE records of
 * VM/precopy/diskN (one line each, bound to the target's identity):
 *
 *   held=<chain id> part=<target id> bytes=<n> secs=<s> at=<t> name=<file>
 *       the target holds the data of the chain whose identity
 *       (disk/identity.h) is <chain id>, the layer <file> and its parents;
 *   moving=<chain id> from=<chain id> part=<target id>
 *       a copy of the layers above <from> toward <moving> started: the
 *       target holds <from>'s data except where those layers write.
 *
 * A copy onto a layer is then sound only when that layer (or, while
 * moving, <from>, with <moving> in the same chain) is in the chain being
 * copied; otherwise the cutover is refused and the target left alone. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "disk/convert.h"
#include "disk/disk.h"
#include "disk/identity.h"
#include "modules/convert.h"
#include "modules/local.h"
#include "modules/module.h"
#include "util/cleanup.h"
#include "util/log.h"

/* "VM/precopy/diskN" (caller frees). */
static char *
rec_id (const struct ferry_vm *vm, size_t disk)
{
  char *id;

  return asprintf (&id, "%s/precopy/disk%zu", vm->name, disk) < 0 ? NULL : id;
}

/* See convert.h. */
int
ferry_warm_rec_get (struct ferry_ctx *ctx, const struct ferry_vm *vm,
                    size_t disk, struct ferry_warm_rec *ret)
{
  CLEANUP_FREE char *id = rec_id (vm, disk);
  const struct ferry_step_record *rec;
  const char *s, *name;
  int n = 0;

  memset (ret, 0, sizeof *ret);
  if (id == NULL)
    return -1;
  rec = ctx->state ? ferry_state_step (ctx->state, id) : NULL;
  s = rec ? rec->done_ident : NULL;
  if (s == NULL)
    return 0;
  if (sscanf (s,
              "held=%64[0-9a-f] part=%64[0-9a-f] bytes=%" SCNu64
              " secs=%lf at=%" SCNd64 " %n",
              ret->held, ret->part, &ret->bytes, &ret->secs, &ret->at,
              &n) == 5 &&
      n > 0 && strlen (ret->held) == 64 && strlen (ret->part) == 64) {
    name = s + n;
    if (strncmp (name, "name=", 5) == 0)
      snprintf (ret->name, sizeof ret->name, "%s", name + 5);
    ret->kind = FERRY_WARM_HELD;
  } else if (sscanf (s, "moving=%64[0-9a-f] from=%64[0-9a-f] part=%64[0-9a-f]",
                     ret->to, ret->held, ret->part) == 3 &&
             strlen (ret->to) == 64 && strlen (ret->held) == 64 &&
             strlen (ret->part) == 64)
    ret->kind = FERRY_WARM_MOVING;
  return 0;
}

/* Append REC as the DONE record of VM/precopy/DISK (no-op in dry-run). */
static int
rec_put (struct ferry_ctx *ctx, const struct ferry_vm *vm, size_t disk,
         const struct ferry_warm_rec *rec, struct ferry_err *err)
{
  CLEANUP_FREE char *id = rec_id (vm, disk);
  struct ferry_step step = {0};
  char line[700];

  if (id == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  step.id = id;
  step.vm = vm;
  step.index = disk;
  if (rec->kind == FERRY_WARM_HELD)
    snprintf (line, sizeof line,
              "held=%s part=%s bytes=%" PRIu64 " secs=%.3f at=%" PRId64
              " name=%s",
              rec->held, rec->part, rec->bytes, rec->secs, rec->at, rec->name);
  else
    snprintf (line, sizeof line, "moving=%s from=%s part=%s", rec->to,
              rec->held, rec->part);
  return ferry_convert_record (ctx, &step, FERRY_EVENT_DONE, 0, line, err);
}

/* See convert.h. */
int
ferry_warm_held (struct ferry_ctx *ctx, const struct ferry_step *step,
                 struct ferry_disk *upto, const char *part_id,
                 const struct ferry_convert_stats *stats, struct ferry_err *err)
{
  CLEANUP_FREE char *copy = strdup (upto->path);
  struct ferry_warm_rec wr = {0};

  wr.kind = FERRY_WARM_HELD;
  if (ferry_disk_identity (upto, wr.held, sizeof wr.held, err) < 0)
    return -1;
  snprintf (wr.part, sizeof wr.part, "%s", part_id);
  wr.bytes = stats->data_read;
  wr.secs = stats->seconds;
  wr.at = (int64_t) time (NULL);
  snprintf (wr.name, sizeof wr.name, "%s", copy ? basename (copy) : "?");
  ferry_info ("%s: pre-copied '%s': %" PRIu64 " bytes written, %" PRIu64
              " bytes zeroed in %.2fs",
              step->id, upto->path, stats->written, stats->zeroed,
              stats->seconds);
  return rec_put (ctx, step->vm, step->index, &wr, err);
}

/* See convert.h. */
int
ferry_warm_void (struct ferry_ctx *ctx, const struct ferry_step *step,
                 const char *to_id, const char *part_id, struct ferry_err *err)
{
  struct ferry_warm_rec wr;

  if (ferry_warm_rec_get (ctx, step->vm, step->index, &wr) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (wr.kind == FERRY_WARM_MOVING && strcmp (wr.to, to_id) == 0 &&
      strspn (wr.held, "0") == 64 && strcmp (wr.part, part_id) == 0)
    return 0; /* said already: its checkpoints stand */
  memset (&wr, 0, sizeof wr);
  wr.kind = FERRY_WARM_MOVING;
  snprintf (wr.to, sizeof wr.to, "%s", to_id);
  memset (wr.held, '0', 64);
  snprintf (wr.part, sizeof wr.part, "%s", part_id);
  return rec_put (ctx, step->vm, step->index, &wr, err);
}

/* See convert.h. */
int
ferry_warm_cutting (struct ferry_disk *top, const struct ferry_warm_rec *rec,
                    const char *part_id, struct ferry_err *err)
{
  char id[FERRY_IDENT_HEX];

  if (rec->kind != FERRY_WARM_MOVING || strcmp (rec->part, part_id) != 0)
    return 0;
  if (ferry_disk_identity (top, id, sizeof id, err) < 0)
    return -1;
  return strcmp (id, rec->to) == 0;
}

/* See convert.h. */
int
ferry_warm_base (struct ferry_disk *top, const struct ferry_warm_rec *rec,
                 const char *part_id, struct ferry_disk **ret, char *why,
                 size_t len, struct ferry_err *err)
{
  char id[FERRY_IDENT_HEX];
  struct ferry_disk *l, *from = NULL;
  bool to_found = false;

  *ret = NULL;
  why[0] = '\0';
  if (rec->kind == FERRY_WARM_NONE || strcmp (rec->part, part_id) != 0 ||
      strspn (rec->held, "0") == 64)
    return 0; /* nothing usable recorded about this very target */
  for (l = top; l; l = l->parent) {
    if (ferry_disk_identity (l, id, sizeof id, err) < 0)
      return -1;
    if (strcmp (id, rec->held) == 0 && from == NULL)
      from = l;
    if (rec->kind == FERRY_WARM_MOVING && strcmp (id, rec->to) == 0)
      to_found = true;
  }
  if (from && (rec->kind == FERRY_WARM_HELD || to_found)) {
    if (from->virtual_size != top->virtual_size) {
      snprintf (why, len,
                "'%s' is %" PRIu64 " bytes but the pre-copied '%s' %" PRIu64
                " (resized between the snapshots): copy it in full",
                top->path, top->virtual_size, from->path, from->virtual_size);
      return 1;
    }
    *ret = from;
    return 1;
  }
  if (rec->kind == FERRY_WARM_HELD)
    snprintf (why, len,
              "the pre-copied '%s' is not in the chain of '%s' now (another "
              "parent, a consolidated or reverted chain)",
              rec->name[0] ? rec->name : "layer", top->path);
  else
    snprintf (why, len,
              "an interrupted pre-copy went toward a chain that '%s' is not "
              "made of now",
              top->path);
  return 1;
}

/* See convert.h. */
int
ferry_warm_measure (struct ferry_disk *top, struct ferry_disk *base,
                    uint64_t *ret_data, uint64_t *ret_zero,
                    struct ferry_err *err)
{
  struct ferry_map m;
  uint64_t off;

  *ret_data = *ret_zero = 0;
  for (off = 0; off < top->virtual_size; off += m.length) {
    if (ferry_disk_map_above (top, base, off, top->virtual_size - off, &m,
                              err) < 0)
      return -1;
    if (m.held)
      continue;
    if (m.zero)
      *ret_zero += base ? m.length : 0;
    else
      *ret_data += m.length;
  }
  return 0;
}

/* See convert.h. */
void
ferry_warm_size (uint64_t bytes, char *buf, size_t len)
{
  if (bytes < (1u << 20))
    snprintf (buf, len, "%" PRIu64 " KiB", (bytes + 1023) >> 10);
  else
    snprintf (buf, len, "%.1f MiB", (double) bytes / 1048576.0);
}

/* See convert.h. */
void
ferry_warm_estimate (const struct ferry_warm_rec *rec, uint64_t bytes,
                     char *buf, size_t len)
{
  double rate = rec->secs > 0 ? (double) rec->bytes / rec->secs : 0;

  if (rate > 1048576.0 && rec->bytes >= (16u << 20))
    snprintf (buf, len, " (~%.0f s at the last pre-copy's %.0f MiB/s)",
              (double) bytes / rate + 0.5, rate / 1048576.0);
  else
    buf[0] = '\0';
}

/* See convert.h. */
void
ferry_warm_ckpt_src (const char *top_id, const char *base_id, char *out)
{
  unsigned char md[32];
  unsigned int n = 0, i;
  char text[200];

  snprintf (text, sizeof text, "ferry-warm-v1 %s onto %s", top_id, base_id);
  EVP_Digest (text, strlen (text), md, &n, EVP_sha256 (), NULL);
  for (i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
}

/* See convert.h. */
int
ferry_warm_copy (struct ferry_ctx *ctx, const struct ferry_step *step,
                 struct ferry_disk *top, struct ferry_disk *base,
                 const char *part_id, struct ferry_target *dst,
                 struct ferry_convert_stats *stats, struct ferry_err *err)
{
  char top_id[FERRY_IDENT_HEX], base_id[FERRY_IDENT_HEX];
  char src_id[FERRY_IDENT_HEX], why[512];
  const struct ferry_step_record *rec;
  struct ferry_convert_opts co = {0};
  struct ferry_convert_cb cb = {ctx, step, src_id, part_id};
  struct ferry_warm_rec wr = {0};

  if (ferry_disk_identity (top, top_id, sizeof top_id, err) < 0 ||
      (base && ferry_disk_identity (base, base_id, sizeof base_id, err) < 0))
    return -1;
  if (base == NULL)
    return ferry_err_set (err, EINVAL, "internal error: no base");
  ferry_warm_ckpt_src (top_id, base_id, src_id);
  /* before the first byte: the target is on its way from BASE to TOP (a
   * resume finds that already said, and its checkpoints kept) */
  if (ferry_warm_rec_get (ctx, step->vm, step->index, &wr) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (wr.kind != FERRY_WARM_MOVING || strcmp (wr.to, top_id) != 0 ||
      strcmp (wr.held, base_id) != 0 || strcmp (wr.part, part_id) != 0) {
    memset (&wr, 0, sizeof wr);
    wr.kind = FERRY_WARM_MOVING;
    snprintf (wr.to, sizeof wr.to, "%s", top_id);
    snprintf (wr.held, sizeof wr.held, "%s", base_id);
    snprintf (wr.part, sizeof wr.part, "%s", part_id);
    if (rec_put (ctx, step->vm, step->index, &wr, err) < 0)
      return -1;
  }
  rec = ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  if (ferry_convert_ckpt_match (rec, src_id, part_id, dst->name,
                                top->virtual_size, &co.resume_from, why,
                                sizeof why))
    ferry_info ("%s: resuming the copy onto '%s' from %" PRIu64
                " MiB (checkpoint in the journal)",
                step->id, base->path, co.resume_from >> 20);
  ferry_convert_opts_journal (&co, &cb);
  co.base = base;
  return ferry_convert_disk (top, dst, &co, stats, err);
}

/* See convert.h. */
int
ferry_warm_copy_file (struct ferry_ctx *ctx, const struct ferry_step *step,
                      struct ferry_disk *top, struct ferry_disk *base,
                      const char *part, const char *part_id,
                      struct ferry_convert_stats *stats, struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];
  struct ferry_target *dst = NULL;

  if (ferry_target_file_open (part,
                              ferry_local_disk_size (spec, top->virtual_size),
                              FERRY_TARGET_RESUME, &dst, err) < 0)
    return -1;
  if (ferry_warm_copy (ctx, step, top, base, part_id, dst, stats, err) < 0) {
    ferry_target_close (dst, NULL);
    return -1;
  }
  return ferry_target_close (dst, err);
}

/* See convert.h. */
int
ferry_warm_next (struct ferry_ctx *ctx, const struct ferry_step *step,
                 struct ferry_disk *top, struct ferry_disk *upto,
                 const char *part_id, struct ferry_warm_next *ret,
                 struct ferry_err *err)
{
  int c = 0;

  memset (ret, 0, sizeof *ret);
  if (ferry_warm_rec_get (ctx, step->vm, step->index, &ret->wr) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (part_id[0] &&
      (ferry_warm_base (upto, &ret->wr, part_id, &ret->base, ret->why,
                        sizeof ret->why, err) < 0 ||
       (c = ferry_warm_cutting (top, &ret->wr, part_id, err)) < 0))
    return -1;
  if (c == 1)
    ret->what = FERRY_WARM_CUTTING;
  else if (ret->base == upto && ret->wr.kind == FERRY_WARM_HELD)
    ret->what = FERRY_WARM_HOLDS;
  else if (ret->base)
    ret->what = FERRY_WARM_DELTA;
  else if (ret->why[0] && ctx->cutover)
    /* a full copy now would take the downtime by surprise */
    ret->what = FERRY_WARM_REFUSE;
  else
    ret->what = FERRY_WARM_FULL;
  return 0;
}

/* See convert.h. */
int
ferry_warm_observe (const struct ferry_warm_next *n, struct ferry_disk *top,
                    struct ferry_disk *upto, const char *name, bool exists,
                    struct ferry_observation *ret, struct ferry_err *err)
{
  char est[100], sz[32];
  uint64_t data, zero;

  ret->work_bytes = upto->virtual_size;
  switch (n->what) {
  case FERRY_WARM_CUTTING:
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s: the cutover is under way (the convert step resumes it)",
              name);
    break;
  case FERRY_WARM_HOLDS:
    if (ferry_warm_measure (top, n->base, &data, &zero, err) < 0)
      return -1;
    ferry_warm_estimate (&n->wr, data, est, sizeof est);
    ferry_warm_size (data, sz, sizeof sz);
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s holds %s; the cutover copies %s%s", name, n->wr.name, sz,
              est);
    break;
  case FERRY_WARM_DELTA:
    if (ferry_warm_measure (upto, n->base, &data, &zero, err) < 0)
      return -1;
    ferry_warm_size (data, sz, sizeof sz);
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s: copy %s of the layers above %s, up to %s", name, sz,
              n->base->path, upto->path);
    break;
  case FERRY_WARM_REFUSE:
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, FERRY_WARM_REFUSED, n->why,
              name);
    break;
  default:
    ret->need = exists ? FERRY_NEED_UPDATE : FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s from %s (%s %s, %" PRIu64 " MiB, below the live %s)%s%s",
              name, upto->path, upto->format->name, upto->subformat,
              upto->virtual_size >> 20, top->path, n->why[0] ? "; " : "",
              n->why);
  }
  return 0;
}

/* See convert.h. */
int
ferry_warm_cutover_base (struct ferry_ctx *ctx, const struct ferry_step *step,
                         struct ferry_disk *top, const char *part_id,
                         struct ferry_disk **ret, struct ferry_warm_rec *wr,
                         char *why, size_t len, struct ferry_err *err)
{
  *ret = NULL;
  if (ferry_warm_rec_get (ctx, step->vm, step->index, wr) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  return ferry_warm_base (top, wr, part_id, ret, why, len, err);
}

/* See convert.h. */
int
ferry_warm_cutover_judge (struct ferry_ctx *ctx, const struct ferry_step *step,
                          struct ferry_disk *top, const char *part_id,
                          const char *name, struct ferry_observation *ret,
                          struct ferry_err *err)
{
  struct ferry_disk *base = NULL;
  struct ferry_warm_rec wr;
  char why[600], est[100], sz[32];
  uint64_t data, zero;
  int r;

  r = ferry_warm_cutover_base (ctx, step, top, part_id, &base, &wr, why,
                               sizeof why, err);
  if (r <= 0)
    return r;
  if (base == NULL) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, FERRY_WARM_REFUSED, why, name);
    return 1;
  }
  if (ferry_warm_measure (top, base, &data, &zero, err) < 0)
    return -1;
  ferry_warm_estimate (&wr, data, est, sizeof est);
  ferry_warm_size (data, sz, sizeof sz);
  ret->need = FERRY_NEED_UPDATE;
  snprintf (ret->detail, sizeof ret->detail,
            "%s: cutover: copy %s from %s onto the pre-copied %s%s", name, sz,
            top->path, base->path, est);
  return 1;
}

/* The chain the pre-copy copies: the top's parent.  Opens the plan's disk
 * (*TOP, put back by the caller) and sets *UPTO, or NULL with WHY. */
static int
precopy_source (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_disk **top, struct ferry_disk **upto, char *why,
                size_t len, struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];

  *upto = NULL;
  if (ferry_plan_disk_get (ctx->plan,
                           ferry_plan_source (ctx->plan, step->vm->source),
                           &spec->loc, top, err) < 0)
    return -1;
  *upto = (*top)->parent;
  if (*upto == NULL)
    snprintf (why, len,
              "'%s' has no parent: a warm VM's disk is the snapshot delta it "
              "writes now; take a snapshot first (docs/warm.md)",
              spec->path);
  return 0;
}

/* Local targets: the .part file convert renames at the cutover. */
struct local_dst {
  char *final, *part;
};

static int
local_paths (const struct ferry_step *step, struct local_dst *d,
             struct ferry_err *err)
{
  d->final = ferry_local_disk_path (step, step->index);
  if (d->final == NULL || asprintf (&d->part, "%s.part", d->final) < 0) {
    d->part = NULL;
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  return 0;
}

static void
local_free (struct local_dst *d)
{
  free (d->final);
  free (d->part);
}

/* The identity of the .part file PART into PART_ID, "" when there is none. */
static void
local_part_id (const char *part, char *part_id)
{
  struct ferry_err e2 = {0};
  struct stat st;

  if (stat (part, &st) < 0 ||
      ferry_part_identity (part, part_id, FERRY_IDENT_HEX, &e2) < 0)
    part_id[0] = '\0';
}

static int
precopy_check (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_observation *ret, struct ferry_err *err)
{
  struct local_dst d = {0};
  struct ferry_disk *top = NULL, *upto = NULL;
  struct ferry_warm_next n;
  char part_id[FERRY_IDENT_HEX], why[600] = "";
  struct ferry_err e2 = {0};
  struct stat st;
  int r = -1;

  if (step->target && step->target->type == FERRY_PLAN_TARGET_OPENSTACK)
    return ferry_convert_os_precopy_check (ctx, step, ret, err);
  if (step->target == NULL ||
      (step->target->type != FERRY_PLAN_TARGET_LOCAL &&
       !(step->target->type == FERRY_PLAN_TARGET_LIBVIRT &&
         step->target->path && step->target->pool == NULL))) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "a warm pre-copy into a '%s' target is not supported in "
              "ferry %s",
              step->target ? ferry_plan_target_type_name (step->target->type)
                           : "missing",
              FERRY_VERSION);
    return 0;
  }
  if (local_paths (step, &d, err) < 0)
    goto out;
  if (stat (d.final, &st) == 0) {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "%s: cut over", d.final);
    r = 0;
    goto out;
  }
  if (precopy_source (ctx, step, &top, &upto, why, sizeof why, err) < 0)
    goto out;
  if (upto == NULL) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "%s", why);
    r = 0;
    goto out;
  }
  if (ferry_disk_check_not_source (top, d.part, &e2) < 0) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "%s", e2.msg);
    r = 0;
    goto out;
  }
  local_part_id (d.part, part_id);
  if (ferry_warm_next (ctx, step, top, upto, part_id, &n, err) < 0 ||
      ferry_warm_observe (&n, top, upto, d.part, part_id[0] != '\0', ret, err) <
          0)
    goto out;
  r = 0;
out:
  if (top)
    ferry_plan_disk_put (ctx->plan, top, false);
  local_free (&d);
  return r;
}

/* A full copy of UPTO into a new .part, resumable from its checkpoints. */
static int
precopy_full (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_disk *upto, const char *part, int *lock,
              struct ferry_convert_stats *stats, char *part_id,
              struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];
  char src_id[FERRY_IDENT_HEX], why[512];
  const struct ferry_step_record *rec;
  struct ferry_convert_opts co = {0};
  struct ferry_convert_cb cb = {ctx, step, src_id, part_id};
  struct ferry_target *dst = NULL;
  struct ferry_err e2 = {0};
  int r;

  if (ferry_disk_identity (upto, src_id, sizeof src_id, err) < 0)
    return -1;
  rec = ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  if (ferry_part_identity (part, part_id, FERRY_IDENT_HEX, &e2) < 0)
    part_id[0] = '\0';
  if (part_id[0] &&
      ferry_convert_ckpt_match (rec, src_id, part_id, part, upto->virtual_size,
                                &co.resume_from, why, sizeof why)) {
    ferry_info ("%s: resuming from %" PRIu64 " MiB (checkpoint in the "
                "journal)",
                step->id, co.resume_from >> 20);
  } else {
    co.resume_from = 0;
    if (ferry_target_file_renew (part, lock, err) < 0)
      return -1;
  }
  ferry_convert_opts_journal (&co, &cb);
  if (ferry_target_file_open (
          part, ferry_local_disk_size (spec, upto->virtual_size),
          co.resume_from ? FERRY_TARGET_RESUME : 0, &dst, err) < 0)
    return -1;
  if (co.resume_from == 0)
    ferry_part_stamp (part);
  if (ferry_part_identity (part, part_id, FERRY_IDENT_HEX, err) < 0) {
    ferry_target_close (dst, NULL);
    return -1;
  }
  r = ferry_convert_disk (upto, dst, &co, stats, err);
  if (ferry_target_close (dst, r < 0 ? NULL : err) < 0)
    r = -1;
  return r;
}

static int
precopy_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  struct local_dst d = {0};
  struct ferry_disk *top = NULL, *upto = NULL;
  struct ferry_convert_stats stats = {0};
  struct ferry_warm_next n;
  char part_id[FERRY_IDENT_HEX] = "", why[600] = "";
  struct stat st;
  int lock = -1, r = -1;

  if (step->target->type == FERRY_PLAN_TARGET_OPENSTACK)
    return ferry_convert_os_precopy_apply (ctx, step, err);
  if (local_paths (step, &d, err) < 0)
    goto out;
  if (mkdir (step->target->path, 0755) < 0 && errno != EEXIST) {
    ferry_err_set (err, errno, "cannot create directory '%s'",
                   step->target->path);
    goto out;
  }
  if (ferry_target_file_lock (d.part, d.final, &lock, err) < 0)
    goto out;
  if (stat (d.final, &st) == 0) {
    r = 0; /* cut over meanwhile */
    goto out;
  }
  if (precopy_source (ctx, step, &top, &upto, why, sizeof why, err) < 0)
    goto out;
  if (upto == NULL) {
    ferry_err_set (err, 0, "%s", why);
    goto out;
  }
  if (ferry_disk_check_not_source (top, d.part, err) < 0)
    goto out;
  local_part_id (d.part, part_id);
  if (ferry_warm_next (ctx, step, top, upto, part_id, &n, err) < 0)
    goto out;
  switch (n.what) {
  case FERRY_WARM_CUTTING:
  case FERRY_WARM_HOLDS:
    r = 0;
    goto out;
  case FERRY_WARM_REFUSE:
    ferry_err_set (err, 0, FERRY_WARM_REFUSED, n.why, d.part);
    goto out;
  case FERRY_WARM_DELTA:
    ferry_info ("%s: copying the layers above '%s' up to '%s'", step->id,
                n.base->path, upto->path);
    if (ferry_warm_copy_file (ctx, step, upto, n.base, d.part, part_id, &stats,
                              err) < 0)
      goto out;
    break;
  default:
    if (n.why[0])
      ferry_info ("%s: %s; copying '%s' in full", step->id, n.why, upto->path);
    if (precopy_full (ctx, step, upto, d.part, &lock, &stats, part_id, err) < 0)
      goto out;
  }
  r = ferry_warm_held (ctx, step, upto, part_id, &stats, err);
out:
  if (top)
    ferry_plan_disk_put (ctx->plan, top, true);
  ferry_target_file_unlock (lock);
  local_free (&d);
  return r;
}

static int
precopy_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err)
{
  return ferry_verify_by_check (precopy_check, ctx, step, NULL, err);
}

/* Only the disks of warm VMs. */
static bool
precopy_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return step->vm && step->vm->warm;
}

static const char *const precopy_after[] = {"volume", NULL};
const struct ferry_module ferry_module_precopy = {
    .name = "precopy",
    .summary = "warm VMs: copy the parents of a disk's snapshot chain while "
               "the VM runs; the cutover copies only the rest",
    .scope = FERRY_SCOPE_DISK,
    .after = precopy_after,
    .precopy = true,
    .applies = precopy_applies,
    .check = precopy_check,
    .describe = ferry_describe_detail,
    .apply = precopy_apply,
    .verify = precopy_verify,
};
