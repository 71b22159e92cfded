/* Helpers shared by the step modules (modules/local.h). */
#include "modules/local.h"

#include <stdio.h>
#include <string.h>

/* Append an event for STEP to the journal, unless dry-run; a CREATED id
 * already on record (a rerun re-adopting the object) is not appended
 * again. */
int
ferry_ctx_record (struct ferry_ctx *ctx, const struct ferry_step *step,
                  enum ferry_event ev, uint64_t offset, const char *id,
                  struct ferry_err *err)
{
  struct ferry_journal_entry e = {0};

  if (ctx->dry_run || ctx->state == NULL)
    return 0;
  if (ev == FERRY_EVENT_CREATED) {
    const struct ferry_step_record *rec =
        ferry_state_step (ctx->state, step->id);
    size_t i;
    for (i = 0; rec && i < rec->n_created; i++)
      if (strcmp (rec->created[i], id) == 0)
        return 0;
  }
  e.step = step->id;
  e.event = ev;
  e.offset = offset;
  e.id = id;
  return ferry_state_append (ctx->state, &e, err);
}

/* The observation's detail is the whole line. */
int
ferry_describe_detail (const struct ferry_step *step,
                       const struct ferry_observation *obs, char *buf,
                       size_t len)
{
  (void) step;
  return snprintf (buf, len, "%s", obs->detail);
}

/* Where a local/libvirt target keeps disk DISK of the step's VM. */
char *
ferry_local_disk_path (const struct ferry_step *step, size_t disk)
{
  char *p;

  if (asprintf (&p, "%s/%s-disk%zu.raw", step->target->path, step->vm->name,
                disk) < 0)
    return NULL;
  return p;
}

/* Where a local/libvirt target keeps the step's VM's domain XML. */
char *
ferry_local_xml_path (const struct ferry_step *step)
{
  char *p;

  if (asprintf (&p, "%s/%s.xml", step->target->path, step->vm->name) < 0)
    return NULL;
  return p;
}

/* The larger of the source's virtual size and size_gb. */
uint64_t
ferry_local_disk_size (const struct ferry_disk_spec *spec,
                       uint64_t virtual_size)
{
  uint64_t want = spec->size_gb << 30;

  return want > virtual_size ? want : virtual_size;
}

/* Observe again after apply: done, or an error with what check saw. */
int
ferry_verify_by_check (int (*check) (struct ferry_ctx *,
                                     const struct ferry_step *,
                                     struct ferry_observation *,
                                     struct ferry_err *),
                       struct ferry_ctx *ctx, const struct ferry_step *step,
                       const char *what, struct ferry_err *err)
{
  struct ferry_observation obs;

  memset (&obs, 0, sizeof obs);
  if (check (ctx, step, &obs, err) < 0)
    return -1;
  if (obs.need != FERRY_NEED_DONE) {
    if (what)
      return ferry_err_set (err, 0, "%s after apply: %s", what, obs.detail);
    return ferry_err_set (err, 0, "step %s is not done after apply: %s",
                          step->id, obs.detail);
  }
  return 0;
}
