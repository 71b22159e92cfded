/* convert: one source disk → its raw target, one pass, holes and zeroes
 * skipped, resumable mid-disk from the journal's checkpoints.
 *
 * Local targets: the data goes to "<vm>-disk<N>.raw.part", which is renamed
 * to "<vm>-disk<N>.raw" once complete and flushed: the final name existing
 * is the world's proof that the disk is done. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk/convert.h"
#include "disk/disk.h"
#include "disk/identity.h"
#include "modules/convert.h"
#include "modules/local.h"
#include "modules/lvsource.h"
#include "modules/module.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* Local, libvirt file and OpenStack targets (libvirt rbd pools: not yet). */
static int
convert_supported (const struct ferry_step *step, char *why, size_t len)
{
  if (step->target == NULL) {
    snprintf (why, len, "vm '%s' has no target", step->vm->name);
    return 0;
  }
  if (step->target->type != FERRY_PLAN_TARGET_LOCAL &&
      step->target->type != FERRY_PLAN_TARGET_OPENSTACK &&
      !(step->target->type == FERRY_PLAN_TARGET_LIBVIRT && step->target->path &&
        step->target->pool == NULL)) {
    snprintf (why, len,
              "converting into a '%s' target with an rbd pool is not "
              "supported in ferry %s",
              ferry_plan_target_type_name (step->target->type), FERRY_VERSION);
    return 0;
  }
  return 1;
}

/* The evidence convert keeps in the journal.
 *
 * With DONE: "src=<source chain identity> dst=<fsid>:<ino>:<size>:<mtime>
 * at=<unix time>", the target file as ferry left it.  `check` says done
 * only when the final file is that very file, unmodified, and the source
 * chain is still the one converted.
 *
 * The guest steps (modules/guest.c) change the file after convert: before
 * they first write they append a DONE with the same identity and
 * " guest=open"; after their appliance flushed and closed, a DONE with the
 * file's new identity (ferry_convert_rebind).  A file that differs from a
 * " guest=open" identity was being changed by ferry's own guest steps
 * (interrupted): convert is done and the guest steps look again.
 *
 * With each CHECKPOINT: "src=<source identity> part=<.part identity>
 * sum=<digest of both and the offset>": a checkpoint resumes only into the
 * .part file it was taken in, from the same source, at the offset it was
 * taken at (a hand-edited offset breaks the sum). */
#define DONE_FMT                                                               \
  "src=%64[0-9a-f] dst=%" SCNx64 ":%" SCNu64 ":%" SCNu64 ":%" SCNd64           \
  ".%ld at=%" SCNd64
#define CKPT_FMT "src=%64[0-9a-f] part=%64[0-9a-f] sum=%16[0-9a-f]"

struct done_ident {
  char src[FERRY_IDENT_HEX];   /* source chain identity */
  struct ferry_file_ident dst; /* target file when ferry finished it */
  int64_t at;                  /* when (unix seconds) */
};

/* Parse a DONE ident; false if absent or not ours. */
static bool
parse_done (const char *s, struct done_ident *ret)
{
  return s != NULL &&
         sscanf (s, DONE_FMT, ret->src, &ret->dst.fsid, &ret->dst.ino,
                 &ret->dst.size, &ret->dst.mtime, &ret->dst.mtime_ns,
                 &ret->at) == 7 &&
         strlen (ret->src) == 64;
}

/* "2026-12-04T23:40:00Z" for unix time T. */
static void
format_utc (int64_t t, char *buf, size_t len)
{
  time_t tt = (time_t) t;
  struct tm tm;

  gmtime_r (&tt, &tm);
  strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The 16 hex digits binding SRC, PART and OFFSET together. */
static void
checkpoint_sum (const char *src, const char *part, uint64_t offset,
                char out[17])
{
  unsigned char md[32];
  unsigned int n = 0, i;
  char text[200];

  snprintf (text, sizeof text, "ferry-checkpoint-v1 %s %s %" PRIu64, src, part,
            offset);
  EVP_Digest (text, strlen (text), md, &n, EVP_sha256 (), NULL);
  for (i = 0; i < 8; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
}

/* The journal ident of a checkpoint at OFFSET into the target PART_ID from
 * SRC_ID. */
void
ferry_convert_ckpt_ident (const char *src_id, const char *part_id,
                          uint64_t offset, char *buf, size_t len)
{
  char sum[17];

  checkpoint_sum (src_id, part_id, offset, sum);
  snprintf (buf, len, "src=%s part=%s sum=%s", src_id, part_id, sum);
}

/* Can REC's checkpoint be resumed into PART for source SRC_ID (a disk of
 * VSIZE bytes)?  True with *RET_OFFSET; false with WHY filled when there
 * was a checkpoint that cannot be trusted ("" when there was none). */
static bool
checkpoint_usable (const struct ferry_step_record *rec, const char *src_id,
                   const char *part, uint64_t vsize, uint64_t *ret_offset,
                   char *why, size_t len)
{
  char have_part[FERRY_IDENT_HEX];
  struct ferry_err err = {0};
  struct stat st;

  why[0] = '\0';
  if (rec == NULL || !rec->has_checkpoint || rec->checkpoint == 0)
    return false;
  if (stat (part, &st) < 0) {
    snprintf (why, len, "checkpoint at %" PRIu64 " MiB but '%s' is gone",
              rec->checkpoint >> 20, part);
    return false;
  }
  if (ferry_part_identity (part, have_part, sizeof have_part, &err) < 0)
    have_part[0] = '\0';
  if (!ferry_convert_ckpt_match (rec, src_id, have_part, part, vsize,
                                 ret_offset, why, len))
    return false;
  if (*ret_offset > (uint64_t) st.st_size) {
    snprintf (why, len, "checkpoint offset is past the end of the disk");
    return false;
  }
  return true;
}

/* Does REC's checkpoint belong to source SRC_ID and the target whose
 * identity is HAVE_PART (named WHAT in messages), at an offset within
 * VSIZE?  True with *RET_OFFSET; false with WHY. */
bool
ferry_convert_ckpt_match (const struct ferry_step_record *rec,
                          const char *src_id, const char *have_part,
                          const char *what, uint64_t vsize,
                          uint64_t *ret_offset, char *why, size_t len)
{
  char src[FERRY_IDENT_HEX], pid[FERRY_IDENT_HEX], sum[17], want[17];

  why[0] = '\0';
  if (rec == NULL || !rec->has_checkpoint || rec->checkpoint == 0)
    return false;
  if (rec->checkpoint_ident == NULL) {
    snprintf (why, len,
              "checkpoint carries no identity (written by hand or by an "
              "older ferry)");
    return false;
  }
  if (sscanf (rec->checkpoint_ident, CKPT_FMT, src, pid, sum) != 3 ||
      strlen (src) != 64 || strlen (pid) != 64 || strlen (sum) != 16) {
    snprintf (why, len, "checkpoint identity is garbled");
    return false;
  }
  if (strcmp (src, src_id) != 0) {
    snprintf (why, len,
              "checkpoint is for another source (the source chain is not "
              "the one converted: another disk, or changed since)");
    return false;
  }
  if (strcmp (pid, have_part) != 0) {
    snprintf (why, len, "checkpoint is for another '%s' (replaced since)",
              what);
    return false;
  }
  checkpoint_sum (src, pid, rec->checkpoint, want);
  if (strcmp (sum, want) != 0) {
    snprintf (why, len,
              "checkpoint record does not match its offset (edited or "
              "damaged)");
    return false;
  }
  if (rec->checkpoint > vsize) {
    snprintf (why, len, "checkpoint offset is past the end of the disk");
    return false;
  }
  *ret_offset = rec->checkpoint;
  return true;
}

/* True if PART is the finished file REC's DONE describes, from the source
 * SRC_ID, only the rename missing (a crash between the two). */
static bool
part_is_done (const struct ferry_step_record *rec, const char *src_id,
              const char *part)
{
  struct ferry_file_ident fi;
  struct done_ident d;

  return parse_done (rec ? rec->done_ident : NULL, &d) &&
         strcmp (d.src, src_id) == 0 && ferry_file_ident_get (part, &fi) == 0 &&
         d.dst.fsid == fi.fsid && d.dst.ino == fi.ino &&
         d.dst.size == fi.size && d.dst.mtime == fi.mtime &&
         d.dst.mtime_ns == fi.mtime_ns;
}

/* What the final file says, against the DONE evidence in REC: 1 done, 0
 * not (NEED and DETAIL filled). */
static int
judge_final (const struct ferry_step_record *rec, const char *src_id,
             const char *final, const struct ferry_file_ident *fi,
             uint64_t want_size, enum ferry_need *need, char *detail,
             size_t len)
{
  struct done_ident d;
  char when[32];

  if (!parse_done (rec ? rec->done_ident : NULL, &d) ||
      d.dst.fsid != fi->fsid || d.dst.ino != fi->ino) {
    *need = FERRY_NEED_BLOCKED;
    snprintf (detail, len,
              "target '%s' exists but was not written by ferry for this "
              "plan; remove it or use apply --replace",
              final);
    return 0;
  }
  format_utc (d.at, when, sizeof when);
  if ((d.dst.size != fi->size || d.dst.mtime != fi->mtime ||
       d.dst.mtime_ns != fi->mtime_ns) &&
      !(strstr (rec->done_ident, " guest=open") && d.dst.size == fi->size)) {
    *need = FERRY_NEED_BLOCKED;
    snprintf (detail, len,
              "target '%s' was modified after ferry wrote it (at %s); "
              "remove it or use apply --replace",
              final, when);
    return 0;
  }
  if (fi->size != want_size) {
    *need = FERRY_NEED_UPDATE;
    snprintf (detail, len,
              "%s: size: %" PRIu64 " → %" PRIu64 " (convert again)", final,
              fi->size, want_size);
    return 0;
  }
  if (strcmp (d.src, src_id) != 0) {
    *need = FERRY_NEED_UPDATE;
    snprintf (detail, len, "%s: update (source changed since %s)", final, when);
    return 0;
  }
  *need = FERRY_NEED_DONE;
  snprintf (detail, len, "%s", final);
  return 1;
}

/* A warm disk's cutover onto its pre-copied PART: 1 with RET filled when
 * the pre-copy's record is about PART (a copy onto its layer, or blocked
 * when that layer is not in SRC's chain now), 0 when nothing is recorded
 * about it (convert as usual), -1 on error. */
static int
warm_judge (struct ferry_ctx *ctx, const struct ferry_step *step,
            struct ferry_disk *src, const char *part,
            struct ferry_observation *ret, struct ferry_err *err)
{
  char part_id[FERRY_IDENT_HEX];
  struct ferry_err e2 = {0};

  if (ferry_part_identity (part, part_id, sizeof part_id, &e2) < 0)
    return 0;
  return ferry_warm_cutover_judge (ctx, step, src, part_id, part, ret, err);
}

static int
convert_check (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];
  CLEANUP_FREE char *final = NULL, *part = NULL;
  const struct ferry_step_record *rec;
  char src_id[FERRY_IDENT_HEX], why[512];
  struct ferry_file_ident fi;
  struct ferry_disk *src = NULL;
  struct ferry_err e2 = {0};
  uint64_t resume = 0;
  struct stat st;

  if (!convert_supported (step, ret->detail, sizeof ret->detail)) {
    ret->need = FERRY_NEED_BLOCKED;
    return 0;
  }
  if (step->target->type == FERRY_PLAN_TARGET_OPENSTACK)
    return ferry_convert_os_check (ctx, step, ret, err);
  switch (ferry_lvsource_handed_over (ctx, step, ret->detail,
                                      sizeof ret->detail, err)) {
  case -1:
    return -1;
  case 1:
    ret->need = FERRY_NEED_DONE;
    return 0;
  }
  final = ferry_local_disk_path (step, step->index);
  if (final == NULL || asprintf (&part, "%s.part", final) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  rec = ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  if (ferry_plan_disk_get (ctx->plan,
                           ferry_plan_source (ctx->plan, step->vm->source),
                           &spec->loc, &src, err) < 0)
    return -1;
  if (ferry_disk_identity (src, src_id, sizeof src_id, err) < 0) {
    ferry_plan_disk_put (ctx->plan, src, false);
    return -1;
  }
  ret->work_bytes = src->virtual_size;
  if (ferry_disk_check_not_source (src, final, &e2) < 0 ||
      ferry_disk_check_not_source (src, part, &e2) < 0) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "%s", e2.msg);
  } else if (ferry_file_ident_get (final, &fi) == 0) {
    judge_final (rec, src_id, final, &fi,
                 ferry_local_disk_size (spec, src->virtual_size), &ret->need,
                 ret->detail, sizeof ret->detail);
  } else if (part_is_done (rec, src_id, part)) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "%s: complete in '%s', rename it", final, part);
  } else if (stat (part, &st) == 0 && step->vm->warm &&
             warm_judge (ctx, step, src, part, ret, err) != 0) {
    /* the cutover of a pre-copied disk: judged there */
  } else if (stat (part, &st) == 0) {
    ret->need = FERRY_NEED_UPDATE;
    if (checkpoint_usable (rec, src_id, part, src->virtual_size, &resume, why,
                           sizeof why))
      snprintf (ret->detail, sizeof ret->detail,
                "%s: resume from %" PRIu64 " MiB of %" PRIu64 " MiB (%s %s)",
                final, resume >> 20, src->virtual_size >> 20, src->format->name,
                src->subformat);
    else
      snprintf (ret->detail, sizeof ret->detail,
                "%s: convert from 0 of %" PRIu64 " MiB (%s %s)%s%s%s", final,
                src->virtual_size >> 20, src->format->name, src->subformat,
                why[0] ? "; " : "", why, why[0] ? ", restarting from 0" : "");
  } else {
    ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail, "%s from %s (%s %s, %llu MiB)",
              final, spec->path, src->format->name, src->subformat,
              (unsigned long long) (src->virtual_size >> 20));
  }
  /* apply, on this worker, takes the same handle up again */
  ferry_plan_disk_put (ctx->plan, src, false);
  return 0;
}

/* See convert.h. */
int
ferry_convert_rebind (struct ferry_ctx *ctx, const struct ferry_vm *vm,
                      const struct ferry_plan_target *t, size_t disk, bool open,
                      struct ferry_err *err)
{
  struct ferry_step step = {0};
  CLEANUP_FREE char *id = NULL, *final = NULL;
  const struct ferry_step_record *rec;
  struct ferry_file_ident fi;
  struct done_ident d;
  char done[400];

  if (ctx->dry_run || ctx->state == NULL)
    return 0;
  step.vm = vm;
  step.target = t;
  step.index = disk;
  if (asprintf (&id, "%s/convert/disk%zu", vm->name, disk) < 0 ||
      (final = ferry_local_disk_path (&step, disk)) == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  step.id = id;
  rec = ferry_state_step (ctx->state, id);
  if (!parse_done (rec ? rec->done_ident : NULL, &d) ||
      ferry_file_ident_get (final, &fi) < 0 || d.dst.fsid != fi.fsid ||
      d.dst.ino != fi.ino)
    return 0; /* not convert's file: convert's check will say so */
  snprintf (done, sizeof done,
            "src=%s dst=%" PRIx64 ":%" PRIu64 ":%" PRIu64 ":%" PRId64
            ".%09ld at=%lld%s",
            d.src, fi.fsid, fi.ino, fi.size, fi.mtime, fi.mtime_ns,
            (long long) d.at, open ? " guest=open" : "");
  if (rec->done_ident && strcmp (rec->done_ident, done) == 0)
    return 0;
  return ferry_convert_record (ctx, &step, FERRY_EVENT_DONE, 0, done, err);
}

/* Append EV with IDENT for STEP (no-op in dry-run). */
int
ferry_convert_record (struct ferry_ctx *ctx, const struct ferry_step *step,
                      enum ferry_event ev, uint64_t offset, const char *ident,
                      struct ferry_err *err)
{
  struct ferry_journal_entry e = {0};

  if (ctx->dry_run || ctx->state == NULL)
    return 0;
  e.step = step->id;
  e.event = ev;
  e.offset = offset;
  e.ident = ident;
  return ferry_state_append (ctx->state, &e, err);
}

/* Checkpoints go to the journal: the offset below which data is durable,
 * bound to the source and the target (OPAQUE: struct ferry_convert_cb). */
int
ferry_convert_on_checkpoint (void *opaque, uint64_t offset,
                             struct ferry_err *err)
{
  struct ferry_convert_cb *cb = opaque;
  char ident[200];

  ferry_convert_ckpt_ident (cb->src_id, cb->part_id, offset, ident,
                            sizeof ident);
  return ferry_convert_record (cb->ctx, cb->step, FERRY_EVENT_CHECKPOINT,
                               offset, ident, err);
}

/* Progress goes to the context's callback (OPAQUE: struct
 * ferry_convert_cb). */
void
ferry_convert_on_progress (void *opaque, const struct ferry_convert_progress *p)
{
  struct ferry_convert_cb *cb = opaque;

  if (cb->ctx->progress)
    cb->ctx->progress (cb->ctx, cb->step, p->done, p->total, p->elapsed,
                       p->final);
}

/* See convert.h. */
void
ferry_convert_opts_journal (struct ferry_convert_opts *co,
                            struct ferry_convert_cb *cb)
{
  co->threads = cb->ctx->io_threads;
  co->checkpoint_interval = cb->ctx->checkpoint_interval;
  co->checkpoint = ferry_convert_on_checkpoint;
  co->progress = ferry_convert_on_progress;
  co->opaque = cb;
  co->stop = cb->ctx->stop;
}

/* The last move: the complete .part becomes the final name. */
static int
convert_finish (struct ferry_ctx *ctx, const struct ferry_step *step,
                const char *final, const char *part, struct ferry_err *err)
{
  CLEANUP_FREE char *id = NULL;

  if (rename (part, final) < 0)
    return ferry_err_set (err, errno, "cannot rename '%s' to '%s'", part,
                          final);
  if (ferry_sync_parent (final, err) < 0)
    return -1;
  if (asprintf (&id, "file:%s", final) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  return ferry_ctx_record (ctx, step, FERRY_EVENT_CREATED, 0, id, err);
}

/* SHA-256 of the source disks this run converted with a checksum, by step
 * id, for verify (the engine calls it right after apply). */
struct sha_entry {
  char *step;
  uint8_t sha[32];
  uint64_t size; /* the source's virtual size: bytes hashed */
  struct sha_entry *next;
};
static struct sha_entry *shas;
static pthread_mutex_t shas_lock = PTHREAD_MUTEX_INITIALIZER;

/* Remember SHA (of SIZE bytes) for STEP.  0 / -1 (out of memory). */
static int
remember_sha (const char *step, const uint8_t sha[32], uint64_t size,
              struct ferry_err *err)
{
  struct sha_entry *e = calloc (1, sizeof *e);

  if (e == NULL || (e->step = strdup (step)) == NULL) {
    free (e);
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  }
  memcpy (e->sha, sha, 32);
  e->size = size;
  pthread_mutex_lock (&shas_lock);
  e->next = shas;
  shas = e;
  pthread_mutex_unlock (&shas_lock);
  return 0;
}

/* When this run converted STEP with a checksum: the first SIZE bytes of
 * FINAL must hash to the source's SHA-256 (the target holds this source's
 * data, read back from the file).  Otherwise nothing to check.  0 / -1. */
static int
verify_sha (const struct ferry_step *step, const char *final,
            struct ferry_err *err)
{
  struct sha_entry *e;
  uint8_t want[32], have[32];
  uint64_t size = 0, left;
  CLEANUP_FREE char *buf = NULL;
  EVP_MD_CTX *md;
  unsigned int n = 0;
  int fd, r = -1;
  bool found = false;

  struct sha_entry **pp;

  /* taken out: one verify per conversion */
  pthread_mutex_lock (&shas_lock);
  for (pp = &shas; (e = *pp) != NULL; pp = &e->next)
    if (strcmp (e->step, step->id) == 0) {
      memcpy (want, e->sha, 32);
      size = e->size;
      found = true;
      *pp = e->next;
      free (e->step);
      free (e);
      break;
    }
  pthread_mutex_unlock (&shas_lock);
  if (!found)
    return 0;
  buf = malloc (1 << 20);
  md = EVP_MD_CTX_new ();
  fd = open (final, O_RDONLY | O_CLOEXEC);
  if (buf == NULL || md == NULL || fd < 0 ||
      EVP_DigestInit_ex (md, EVP_sha256 (), NULL) != 1) {
    ferry_err_set (err, fd < 0 ? errno : ENOMEM, "cannot read back '%s'",
                   final);
    goto out;
  }
  for (left = size; left > 0;) {
    size_t want_n = left < (1 << 20) ? (size_t) left : 1 << 20;
    ssize_t got = read (fd, buf, want_n);
    if (got <= 0) {
      ferry_err_set (err, got < 0 ? errno : EIO, "cannot read back '%s'",
                     final);
      goto out;
    }
    EVP_DigestUpdate (md, buf, (size_t) got);
    left -= (uint64_t) got;
  }
  EVP_DigestFinal_ex (md, have, &n);
  if (memcmp (have, want, 32) != 0) {
    ferry_err_set (err, EIO,
                   "'%s' does not hold the source's data (SHA-256 of its "
                   "first %" PRIu64 " bytes differs from the source's)",
                   final, size);
    goto out;
  }
  ferry_info ("%s: read back: SHA-256 equals the source's (%" PRIu64 " bytes)",
              step->id, size);
  r = 0;
out:
  if (fd >= 0)
    close (fd);
  EVP_MD_CTX_free (md);
  return r;
}

/* The cutover of a warm disk: copy the layers of SRC above the one the
 * pre-copied PART holds, record DONE and rename.  1 done, 0 nothing
 * recorded about PART (convert in full), -1 error (a pre-copied layer
 * not in SRC's chain is one: PART is not touched). */
static int
warm_cutover (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_disk *src, const char *src_id, const char *final,
              const char *part, struct ferry_err *err)
{
  char part_id[FERRY_IDENT_HEX], why[600], done[400];
  struct ferry_convert_stats stats = {0};
  struct ferry_disk *base = NULL;
  struct ferry_warm_rec wr;
  struct ferry_file_ident fi;
  struct ferry_err e2 = {0};
  CLEANUP_FREE char *name = NULL;
  int r;

  if (access (part, F_OK) < 0 ||
      ferry_part_identity (part, part_id, sizeof part_id, &e2) < 0)
    return 0;
  r = ferry_warm_cutover_base (ctx, step, src, part_id, &base, &wr, why,
                               sizeof why, err);
  if (r <= 0)
    return r;
  if (base == NULL)
    return ferry_err_set (err, 0, FERRY_WARM_REFUSED, why, part);
  if (ferry_warm_copy_file (ctx, step, src, base, part, part_id, &stats, err) <
      0)
    return -1;
  name = strdup (base->path);
  ferry_info ("%s: cutover onto '%s': %" PRIu64 " bytes written, %" PRIu64
              " bytes zeroed in %.2fs",
              step->id, name ? basename (name) : base->path, stats.written,
              stats.zeroed, stats.seconds);
  if (ferry_file_ident_get (part, &fi) < 0)
    return ferry_err_set (err, errno, "cannot stat '%s'", part);
  snprintf (done, sizeof done,
            "src=%s dst=%" PRIx64 ":%" PRIu64 ":%" PRIu64 ":%" PRId64
            ".%09ld at=%lld",
            src_id, fi.fsid, fi.ino, fi.size, fi.mtime, fi.mtime_ns,
            (long long) time (NULL));
  if (ferry_convert_record (ctx, step, FERRY_EVENT_DONE, 0, done, err) < 0 ||
      convert_finish (ctx, step, final, part, err) < 0)
    return -1;
  return 1;
}

/* Convert with the target lock held: resume from a checkpoint only when
 * it provably belongs to this source and this .part, else start a new
 * .part (a new inode with a new token), then rename and record DONE with
 * the identity of what was converted. */
static int
convert_locked (struct ferry_ctx *ctx, const struct ferry_step *step,
                const char *final, const char *part, int *lock,
                struct ferry_err *err)
{
  const struct ferry_disk_spec *spec = &step->vm->disks[step->index];
  const struct ferry_step_record *rec;
  char src_id[FERRY_IDENT_HEX], part_id[FERRY_IDENT_HEX], why[512];
  char done[400];
  struct ferry_convert_opts co = {0};
  struct ferry_convert_stats stats;
  struct ferry_convert_cb cb = {ctx, step, src_id, part_id};
  struct ferry_disk *src = NULL;
  struct ferry_target *dst = NULL;
  struct ferry_file_ident fi;
  int r = -1;

  if (ferry_plan_disk_get (ctx->plan,
                           ferry_plan_source (ctx->plan, step->vm->source),
                           &spec->loc, &src, err) < 0)
    return -1;
  if (ferry_disk_identity (src, src_id, sizeof src_id, err) < 0 ||
      ferry_disk_check_not_source (src, final, err) < 0 ||
      ferry_disk_check_not_source (src, part, err) < 0)
    goto out;
  rec = ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  if (part_is_done (rec, src_id, part)) {
    ferry_info ("%s: '%s' is complete, renaming it", step->id, part);
    r = convert_finish (ctx, step, final, part, err);
    goto out;
  }
  if (step->vm->warm) {
    switch (warm_cutover (ctx, step, src, src_id, final, part, err)) {
    case -1:
      goto out;
    case 1:
      r = 0;
      goto out;
    }
  }
  if (checkpoint_usable (rec, src_id, part, src->virtual_size, &co.resume_from,
                         why, sizeof why)) {
    ferry_info ("%s: resuming from %llu MiB (checkpoint in the journal)",
                step->id, (unsigned long long) (co.resume_from >> 20));
  } else {
    if (why[0])
      ferry_info ("%s: %s, restarting from 0", step->id, why);
    co.resume_from = 0;
    /* a new file: a checkpoint of whatever was here can never match it */
    if (ferry_target_file_renew (part, lock, err) < 0)
      goto out;
  }
  ferry_convert_opts_journal (&co, &cb);
  if (ferry_target_file_open (
          part, ferry_local_disk_size (spec, src->virtual_size),
          co.resume_from ? FERRY_TARGET_RESUME : 0, &dst, err) < 0)
    goto out;
  if (co.resume_from == 0)
    ferry_part_stamp (part);
  if (ferry_part_identity (part, part_id, sizeof part_id, err) < 0)
    goto out;
  /* a cold migration from a libvirt source proves the copy in verify:
   * the SHA-256 of the source's virtual disk, taken while converting */
  co.checksum = step->vm->found != NULL;
  if (ferry_convert_disk (src, dst, &co, &stats, err) < 0)
    goto out;
  if (co.checksum &&
      remember_sha (step->id, stats.sha256, src->virtual_size, err) < 0)
    goto out;
  if (ferry_target_close (dst, err) < 0) {
    dst = NULL;
    goto out;
  }
  dst = NULL;
  /* DONE goes on record before the rename (which keeps inode and mtime):
   * a crash in between leaves a .part that a rerun just renames */
  if (ferry_file_ident_get (part, &fi) < 0) {
    ferry_err_set (err, errno, "cannot stat '%s'", part);
    goto out;
  }
  snprintf (done, sizeof done,
            "src=%s dst=%" PRIx64 ":%" PRIu64 ":%" PRIu64 ":%" PRId64
            ".%09ld at=%lld",
            src_id, fi.fsid, fi.ino, fi.size, fi.mtime, fi.mtime_ns,
            (long long) time (NULL));
  if (ferry_convert_record (ctx, step, FERRY_EVENT_DONE, 0, done, err) < 0)
    goto out;
  r = convert_finish (ctx, step, final, part, err);
out:
  if (dst)
    ferry_target_close (dst, NULL);
  ferry_plan_disk_put (ctx->plan, src, true);
  return r;
}

static int
convert_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  CLEANUP_FREE char *final = NULL, *part = NULL;
  int lock = -1, r;

  if (step->target->type == FERRY_PLAN_TARGET_OPENSTACK)
    return ferry_convert_os_apply (ctx, step, err);
  final = ferry_local_disk_path (step, step->index);
  if (final == NULL || asprintf (&part, "%s.part", final) < 0)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (mkdir (step->target->path, 0755) < 0 && errno != EEXIST)
    return ferry_err_set (err, errno, "cannot create directory '%s'",
                          step->target->path);
  /* another plan may write the same file: one writer at a time */
  if (ferry_target_file_lock (part, final, &lock, err) < 0)
    return -1;
  r = convert_locked (ctx, step, final, part, &lock, err);
  ferry_target_file_unlock (lock);
  return r;
}

static int
convert_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err)
{
  CLEANUP_FREE char *final = ferry_local_disk_path (step, step->index);
  struct stat st;

  if (step->target->type == FERRY_PLAN_TARGET_OPENSTACK)
    return ferry_convert_os_verify (ctx, step, err);
  if (final == NULL)
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (stat (final, &st) < 0)
    return ferry_err_set (err, errno, "converted disk '%s' is missing", final);
  return verify_sha (step, final, err);
}

/* Per disk, after the disk's volume (OpenStack) and, from a libvirt
 * source, after the source domain is shut off; every target kind. */
static const char *const convert_after[] = {"volume", "shutdown", "precopy",
                                            "stop", NULL};
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
