/* libFuzzer target: the plan loader (libyaml events → node tree → struct
 * ferry_plan → cross checks) on arbitrary bytes, without opening disks.
 * Checks the contract too: a plan is returned exactly when there is no
 * diagnostic, and every diagnostic starts with the file name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char file[] = "/fuzz/plan.yaml";
  struct ferry_err err = {0};
  struct ferry_diag diag = {0};
  struct ferry_plan *plan = NULL;
  size_t i;
  int r;

  r = ferry_plan_load_buffer (file, (const char *) data, size,
                              FERRY_PLAN_NO_DISK_CHECK, &plan, &diag, &err);
  if (r == 0) {
    if (plan == NULL || diag.n != 0)
      __builtin_trap ();
    /* Walk what the engine would walk. */
    for (i = 0; i < plan->n_vms; i++) {
      const struct ferry_vm *vm = &plan->vms[i];
      /* a VM lists disks, or names a domain whose disks discovery
       * finds later (modules/lvsource.c), never both */
      if (vm->name == NULL || (vm->n_disks == 0) == (vm->domain == NULL) ||
          vm->target == NULL || ferry_plan_vm (plan, vm->name) == NULL ||
          ferry_plan_target (plan, vm->target) == NULL ||
          (vm->n_disks && vm->disks[0].path == NULL))
        __builtin_trap ();
    }
    ferry_plan_free (plan);
  } else {
    if (!err.set && diag.n == 0)
      __builtin_trap ();
    for (i = 0; i < diag.n; i++)
      if (strncmp (diag.lines[i], file, sizeof file - 1) != 0)
        __builtin_trap ();
    ferry_diag_free (&diag);
  }
  return 0;
}
