/* inject: make the guest boot on virtio and keep its network identity:
 * Windows VirtIO drivers, registry and first-boot script
 * (modules/guest-windows.c), Linux initramfs, fstab, bootloader, VMware
 * tools, LVM (modules/guest-linux.c); then each NIC's address bound to its
 * new MAC.  Runs in the VM's appliance (modules/guest.c). */
#include <stdio.h>
#include <string.h>

#include "modules/guest.h"
#include "modules/local.h"
#include "modules/module.h"

static bool
inject_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return ferry_guest_inject_wanted (step->vm);
}

static size_t
inject_pick (const struct ferry_plan *plan, const struct ferry_vm *vm,
             const struct ferry_guest_info *info, ferry_guest_op_fn ops[4],
             char *why, size_t len)
{
  (void) plan;
  if (strcmp (info->type, "windows") == 0) {
    if (vm->customize.virtio_drivers == NULL) {
      snprintf (why, len,
                "a Windows guest needs customize.virtio_drivers (the "
                "virtio-win directory or ISO) to inject VirtIO drivers");
      return 0;
    }
    ops[0] = ferry_guest_win_inject;
    ops[1] = ferry_guest_win_network;
    return 2;
  }
  /* network first: an initramfs that names NICs is then rebuilt once, by
   * inject, with the .link files network wrote */
  ops[0] = ferry_guest_linux_network;
  ops[1] = ferry_guest_linux_inject;
  return 2;
}

static int
inject_check (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_observation *ret, struct ferry_err *err)
{
  return ferry_guest_step_check (ctx, step, inject_pick, ret, err);
}

static int
inject_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
              struct ferry_err *err)
{
  return ferry_guest_step_apply (ctx, step, inject_pick, err);
}

static int
inject_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
               struct ferry_err *err)
{
  return ferry_guest_step_verify (ctx, step, inject_pick, err);
}

static const char *const inject_after[] = {"resize", "inspect", "convert",
                                           "port", NULL};
const struct ferry_module ferry_module_inject = {
    .name = "inject",
    .summary = "VirtIO drivers and network identity in the guest",
    .scope = FERRY_SCOPE_VM,
    .after = inject_after,
    .applies = inject_applies,
    .check = inject_check,
    .describe = ferry_describe_detail,
    .apply = inject_apply,
    .verify = inject_verify,
};
