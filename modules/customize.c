/* customize: files, first-boot scripts, RunOnce, autologon and hostname
 * in the guest (modules/guest-windows.c, modules/guest-linux.c), in the
 * VM's appliance (modules/guest.c). */
#include <stdio.h>
#include <string.h>

#include "modules/guest.h"
#include "modules/local.h"
#include "modules/module.h"

static bool
customize_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return ferry_guest_customize_wanted (step->vm);
}

static size_t
customize_pick (const struct ferry_plan *plan, const struct ferry_vm *vm,
                const struct ferry_guest_info *info, ferry_guest_op_fn ops[4],
                char *why, size_t len)
{
  (void) plan;
  if (strcmp (info->type, "windows") == 0) {
    ops[0] = ferry_guest_win_customize;
    return 1;
  }
  if (vm->customize.n_runonce || vm->customize.has_autologon) {
    snprintf (why, len,
              "customize.runonce and customize.autologon are for Windows "
              "guests; this one is %s",
              info->type);
    return 0;
  }
  ops[0] = ferry_guest_linux_customize;
  return 1;
}

static int
customize_check (struct ferry_ctx *ctx, const struct ferry_step *step,
                 struct ferry_observation *ret, struct ferry_err *err)
{
  return ferry_guest_step_check (ctx, step, customize_pick, ret, err);
}

static int
customize_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
                 struct ferry_err *err)
{
  return ferry_guest_step_apply (ctx, step, customize_pick, err);
}

static int
customize_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                  struct ferry_err *err)
{
  return ferry_guest_step_verify (ctx, step, customize_pick, err);
}

static const char *const customize_after[] = {"inject", "resize", "inspect",
                                              "convert", NULL};
const struct ferry_module ferry_module_customize = {
    .name = "customize",
    .summary = "copy files, firstboot scripts, hostname, autologon",
    .scope = FERRY_SCOPE_VM,
    .after = customize_after,
    .applies = customize_applies,
    .check = customize_check,
    .describe = ferry_describe_detail,
    .apply = customize_apply,
    .verify = customize_verify,
};
