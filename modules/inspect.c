/* inspect: what OS the VM's converted disks hold (one appliance per VM,
 * shared with the guest steps after it: modules/guest.h).  Its identity
 * (type, version, osinfo, arch, root) goes into the journal as the step's
 * evidence, the summary into `plan`; a guest
 * ferry cannot convert (no OS, several, unknown OS, encrypted, a kernel
 * without virtio) is blocked here, before any step changes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/convert.h"
#include "modules/guest.h"
#include "modules/local.h"
#include "modules/module.h"
#include "util/cleanup.h"

static bool
inspect_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return ferry_guest_resize_wanted (step->vm) ||
         ferry_guest_inject_wanted (step->vm) ||
         ferry_guest_customize_wanted (step->vm);
}

/* The identity of the guest the evidence names: what the guest steps
 * never change (the summary also says "vmware-tools", which inject
 * removes).  Caller frees. */
static char *
identity (const struct ferry_guest_info *info)
{
  char *s = NULL;

  if (asprintf (&s, "%s %d.%d %s %s root=%s", info->type, info->major,
                info->minor, info->osinfo[0] ? info->osinfo : info->distro,
                info->arch, info->root) < 0)
    return NULL;
  return s;
}

/* The session's inspection: 1 (*RET_SUMMARY and *RET_ID, caller frees),
 * 0 with NEED/DETAIL (not converted yet, blocked), -1. */
static int
inspect_now (struct ferry_ctx *ctx, const struct ferry_step *step,
             char **ret_summary, char **ret_id, struct ferry_observation *obs,
             struct ferry_err *err)
{
  const struct ferry_guest_info *info = NULL;
  struct ferry_changes ch = {0};
  char why[512] = "";
  int r;

  r = ferry_guest_run (ctx, step, NULL, false, &info, &ch, why, sizeof why,
                       err);
  if (r < 0)
    return -1;
  if (r == 0) {
    obs->need = FERRY_NEED_CREATE;
    snprintf (obs->detail, sizeof obs->detail, "%s", why);
    return 0;
  }
  *ret_summary = ferry_guest_info_summary (info);
  if (*ret_summary == NULL ||
      (!info->blocked && (*ret_id = identity (info)) == NULL))
    return ferry_err_set (err, ENOMEM, "cannot allocate memory");
  if (info->blocked) {
    obs->need = FERRY_NEED_BLOCKED;
    snprintf (obs->detail, sizeof obs->detail, "guest: %s (%s)", info->blocked,
              *ret_summary);
    return 0;
  }
  return 1;
}

static int
inspect_check (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_step_record *rec =
      ctx->state ? ferry_state_step (ctx->state, step->id) : NULL;
  CLEANUP_FREE char *sum = NULL, *id = NULL;
  int r = inspect_now (ctx, step, &sum, &id, ret, err);

  if (r < 0)
    return -1;
  if (r == 1) {
    if (rec && rec->done_ident && strcmp (rec->done_ident, id) == 0)
      ret->need = FERRY_NEED_DONE;
    else
      ret->need = FERRY_NEED_CREATE;
    snprintf (ret->detail, sizeof ret->detail, "%s", sum);
  }
  /* nothing else of this VM's guest steps may follow (none applies) */
  if (ctx->dry_run || ret->need != FERRY_NEED_CREATE)
    return ferry_guest_release (ctx, step, err);
  return 0;
}

static int
inspect_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  struct ferry_observation obs = {0};
  CLEANUP_FREE char *sum = NULL, *id = NULL;
  int r = inspect_now (ctx, step, &sum, &id, &obs, err);

  if (r < 0)
    return -1;
  if (r == 0)
    return ferry_err_set (err, 0, "%s", obs.detail);
  return ferry_convert_record (ctx, step, FERRY_EVENT_DONE, 0, id, err);
}

static int
inspect_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err)
{
  struct ferry_observation obs = {0};

  if (inspect_check (ctx, step, &obs, err) < 0)
    return -1;
  if (obs.need != FERRY_NEED_DONE)
    return ferry_err_set (err, 0, "inspect after apply: %s", obs.detail);
  return 0;
}

static const char *const inspect_after[] = {"convert", "volume-swap", NULL};
const struct ferry_module ferry_module_inspect = {
    .name = "inspect",
    .summary = "find the guest OS on the converted disks",
    .scope = FERRY_SCOPE_VM,
    .after = inspect_after,
    .applies = inspect_applies,
    .check = inspect_check,
    .describe = ferry_describe_detail,
    .apply = inspect_apply,
    .verify = inspect_verify,
};
