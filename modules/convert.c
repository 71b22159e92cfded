/* convert: one source disk → its raw target, one pass, holes and zeroes
 * skipped, resumable mid-disk from the journal's checkpoints.
 *
 * Local targets: the data goes to "<vm>-disk<N>.raw.part", which is renamed
 * to "<vm>-disk<N>.raw" once complete and flushed: the final name existing
 * is the world's proof that the disk is done. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/convert.h"
#include "disk/disk.h"
#include "modules/local.h"
#include "modules/module.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* Only local (and libvirt file) targets are handled in this version. */
static int
convert_supported (const struct ferry_step *step, char *why, size_t len)
{
  if (step->target == NULL) {
    snprintf (why, len, "vm '%s' has no target", step->vm->name);
    return 0;
  }
  if (strcmp (step->target->type, "local") != 0 &&
      !(strcmp (step->target->type, "libvirt") == 0 && step->target->path &&
        step->target->pool == NULL)) {
    snprintf (why, len,
              "converting into a '%s' target needs the volume module, not "
              "available in ferry %s",
              step->target->type, FERRY_VERSION);
    return 0;
  }
  return 1;
}

static int
convert_check (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];
  CLEANUP_FREE char *final = NULL, *part = NULL;
  const struct ferry_step_record *rec;
  struct ferry_disk *src = NULL;
  struct stat st;
  uint64_t size;

  if (!convert_supported (step, ret->detail, sizeof ret->detail)) {
    ret->need = FERRY_NEED_BLOCKED;
    return 0;
  }
  final = ferry_local_disk_path (step, step->index);
  if (final == NULL || asprintf (&part, "%s.part", final) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  rec = ctx->journal ? ferry_journal_step (ctx->journal, step->id) : NULL;
  /* Done and recorded: trust the final name without opening the source. */
  if (stat (final, &st) == 0 && rec && rec->last == FERRY_EVENT_DONE) {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "%s", final);
    return 0;
  }
  if (ferry_plan_open_disk (ferry_plan_source (ctx->plan, step->vm->source),
                            spec->path, &src, err) < 0)
    return -1;
  size = ferry_local_disk_size (spec, src->virtual_size);
  ret->work_bytes = src->virtual_size;
  if (stat (final, &st) == 0) {
    if ((uint64_t) st.st_size == size) {
      ret->need = FERRY_NEED_DONE;
      snprintf (ret->detail, sizeof ret->detail, "%s", final);
    } else {
      ret->need = FERRY_NEED_UPDATE;
      snprintf (ret->detail, sizeof ret->detail,
                "%s: size: %lld → %llu (convert again)", final,
                (long long) st.st_size, (unsigned long long) size);
    }
  } else if (stat (part, &st) == 0) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s: resume from %llu MiB of %llu MiB (%s %s)", final,
              rec && rec->has_checkpoint
                  ? (unsigned long long) (rec->checkpoint >> 20)
                  : 0ULL,
              (unsigned long long) (src->virtual_size >> 20), src->format->name,
              src->subformat);
  } else {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail, "%s from %s (%s %s, %llu MiB)",
              final, spec->path, src->format->name, src->subformat,
              (unsigned long long) (src->virtual_size >> 20));
  }
  ferry_disk_close (src);
  return 0;
}

struct convert_cb {
  struct ferry_ctx *ctx;         /* for the journal and progress */
  const struct ferry_step *step; /* the step */
};

/* Checkpoints go to the journal: the offset below which data is durable. */
static int
convert_on_checkpoint (void *opaque, uint64_t offset, struct ferry_err *err)
{
  struct convert_cb *cb = opaque;

  return ferry_ctx_record (cb->ctx, cb->step, FERRY_EVENT_CHECKPOINT, offset,
                           NULL, err);
}

static void
convert_on_progress (void *opaque, const struct ferry_convert_progress *p)
{
  struct convert_cb *cb = opaque;

  if (cb->ctx->progress)
    cb->ctx->progress (cb->ctx, cb->step, p->done, p->total, p->elapsed,
                       p->final);
}

static int
convert_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];
  CLEANUP_FREE char *final = NULL, *part = NULL, *id = NULL;
  const struct ferry_step_record *rec;
  struct ferry_convert_opts co = {0};
  struct convert_cb cb = {ctx, step};
  struct ferry_disk *src = NULL;
  struct ferry_target *dst = NULL;
  struct stat st;
  int r = -1;

  final = ferry_local_disk_path (step, step->index);
  if (final == NULL || asprintf (&part, "%s.part", final) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (mkdir (step->target->path, 0755) < 0 && errno != EEXIST)
    return ferry_err_set (err, errno, "cannot create directory '%s'",
                          step->target->path);
  if (ferry_plan_open_disk (ferry_plan_source (ctx->plan, step->vm->source),
                            spec->path, &src, err) < 0)
    return -1;
  /* Resume only from evidence that matches the world: a checkpoint in the
   * journal and the .part file it describes. */
  rec = ctx->journal ? ferry_journal_step (ctx->journal, step->id) : NULL;
  if (rec && rec->has_checkpoint && stat (part, &st) == 0 &&
      rec->checkpoint <= src->virtual_size)
    co.resume_from = rec->checkpoint;
  if (co.resume_from)
    ferry_info ("%s: resuming from %llu MiB (checkpoint in the journal)",
                step->id, (unsigned long long) (co.resume_from >> 20));
  co.threads = ctx->io_threads;
  co.checkpoint_interval = ctx->checkpoint_interval;
  co.checkpoint = convert_on_checkpoint;
  co.progress = convert_on_progress;
  co.opaque = &cb;
  co.stop = ctx->stop;
  if (ferry_target_open (part, ferry_local_disk_size (spec, src->virtual_size),
                         co.resume_from ? FERRY_TARGET_RESUME : 0, &dst,
                         err) < 0)
    goto out;
  if (ferry_convert_disk (src, dst, &co, NULL, err) < 0)
    goto out;
  if (ferry_target_close (dst, err) < 0) {
    dst = NULL;
    goto out;
  }
  dst = NULL;
  if (rename (part, final) < 0) {
    ferry_err_set (err, errno, "cannot rename '%s' to '%s'", part, final);
    goto out;
  }
  if (ferry_sync_parent (final, err) < 0)
    goto out;
  if (asprintf (&id, "file:%s", final) < 0) {
    ferry_err_set (err, ENOMEM, "cannot allocate memory");
    goto out;
  }
  r = ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, id, err);
out:
  if (dst)
    ferry_target_close (dst, NULL);
  ferry_disk_close (src);
  return r;
}

static int
convert_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err)
{
  CLEANUP_FREE char *final = ferry_local_disk_path (step, step->index);
  struct stat st;

  (void) ctx;
  if (final == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (stat (final, &st) < 0)
    return ferry_err_set (err, errno, "converted disk '%s' is missing", final);
  return 0;
}

/* Per disk, after the disk's volume (OpenStack); every target kind. */
static const char *const convert_after[] = {"volume", NULL};
const struct ferry_module ferry_module_convert = {
    .name = "convert",
    .summary = "convert a source disk (vmdk, vhd, vhdx, qcow2, raw) into "
               "its raw target, resumable",
    .scope = FERRY_SCOPE_DISK,
    .after = convert_after,
    .check = convert_check,
    .describe = ferry_describe_detail,
    .apply = convert_apply,
    .verify = convert_verify,
};
