/* resize: grow the boot disk's last partition and its filesystem to the
 * plan's size_gb, in place on the target (modules/guest-resize.c does the
 * work; modules/guest.c runs it in the VM's appliance). */
#include <stdio.h>

#include "modules/guest.h"
#include "modules/local.h"
#include "modules/module.h"

static bool
resize_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return ferry_guest_resize_wanted (step->vm);
}

static size_t
resize_pick (const struct ferry_plan *plan, const struct ferry_vm *vm,
             const struct ferry_guest_info *info, ferry_guest_op_fn ops[4],
             char *why, size_t len)
{
  (void) plan;
  (void) vm;
  (void) info;
  (void) why;
  (void) len;
  ops[0] = ferry_guest_resize;
  return 1;
}

static int
resize_check (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_observation *ret, struct ferry_err *err)
{
  return ferry_guest_step_check (ctx, step, resize_pick, ret, err);
}

static int
resize_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_err *err)
{
  return ferry_guest_step_apply (ctx, step, resize_pick, err);
}

static int
resize_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  return ferry_guest_step_verify (ctx, step, resize_pick, err);
}

static const char *const resize_after[] = {"inspect", "convert", NULL};
const struct ferry_module ferry_module_resize = {
    .name = "resize",
    .summary = "grow the partition and filesystem to size_gb",
    .scope = FERRY_SCOPE_VM,
    .after = resize_after,
    .applies = resize_applies,
    .check = resize_check,
    .describe = ferry_describe_detail,
    .apply = resize_apply,
    .verify = resize_verify,
};
