/* shutdown: the first step of a cold migration from a libvirt source.  It
 * shows what discovery found, blocks the VM when the domain cannot move,
 * and makes sure the source domain is shut off before its disks are
 * copied: it shuts it down (ACPI, with a deadline) only when the plan says
 * `shutdown: true`, and never forces it off. */
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>

#include "clients/libvirt.h"
#include "modules/local.h"
#include "modules/lvsource.h"
#include "modules/module.h"
#include "util/log.h"

/* Cold migrations of domain VMs. */
static bool
shutdown_applies (const struct ferry_plan *plan, const struct ferry_step *step)
{
  (void) plan;
  return step->vm->domain && step->vm->migrate == FERRY_MIGRATE_COLD;
}

/* The source domain's state now: shut off (done), running (shut it down
 * when allowed, else blocked), or whatever blocks the VM. */
static int
shutdown_check (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_observation *ret, struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;
  const struct ferry_lv_found *f = vm->found;
  struct ferry_libvirt_dom d;
  const char *sum;

  if (f == NULL || f->blocker) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "%s",
              f ? f->blocker : "domain not discovered");
    return 0;
  }
  sum = f->summary ? f->summary : "";
  if (f->on_target_only) {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail,
              "source domain gone (undefined); ferry's copy is on the "
              "target: %s",
              sum);
    return 0;
  }
  switch (ferry_lvsource_foreign (ctx, step, ret->detail, sizeof ret->detail,
                                  err)) {
  case -1:
    return -1;
  case 1:
    ret->need = FERRY_NEED_BLOCKED;
    return 0;
  }
  if (ferry_libvirt_domain_get (f->uri, vm->domain, &d, err) < 0)
    return -1;
  if (!d.exists) {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail, "domain '%s' vanished from '%s'",
              vm->domain, f->uri);
  } else if (d.state == VIR_DOMAIN_SHUTOFF) {
    ret->need = FERRY_NEED_DONE;
    snprintf (ret->detail, sizeof ret->detail, "%s", sum);
  } else if (vm->shutdown) {
    ret->need = FERRY_NEED_UPDATE;
    snprintf (ret->detail, sizeof ret->detail,
              "shut down (ACPI, up to %u s): %s", vm->shutdown_timeout_s, sum);
  } else {
    ret->need = FERRY_NEED_BLOCKED;
    snprintf (ret->detail, sizeof ret->detail,
              "domain '%s' is %s on '%s': a cold migration copies a shut-off "
              "domain (shut it down, or set shutdown: true, or migrate: live)",
              vm->domain, ferry_libvirt_state_name (d.state), f->uri);
  }
  ferry_libvirt_dom_clear (&d);
  return 0;
}

/* Shut the source domain down and wait for it (never forced). */
static int
shutdown_apply (struct ferry_ctx *ctx, const struct ferry_step *step,
                struct ferry_err *err)
{
  const struct ferry_vm *vm = step->vm;

  ferry_info ("%s: shutting down domain '%s' on '%s' (up to %u s)", step->id,
              vm->domain, vm->found->uri, vm->shutdown_timeout_s);
  return ferry_libvirt_shutdown (vm->found->uri, vm->domain,
                                 vm->shutdown_timeout_s, ctx->stop, err);
}

/* The source domain is shut off now. */
static int
shutdown_verify (struct ferry_ctx *ctx, const struct ferry_step *step,
                 struct ferry_err *err)
{
  return ferry_verify_by_check (shutdown_check, ctx, step,
                                "source domain not shut off", err);
}

const struct ferry_module ferry_module_shutdown = {
    .name = "shutdown",
    .summary = "libvirt source, cold: show the domain found and shut it "
               "down (ACPI, with a deadline) when the plan allows",
    .scope = FERRY_SCOPE_VM,
    .sources = FERRY_KIND (FERRY_SOURCE_LIBVIRT),
    .applies = shutdown_applies,
    .check = shutdown_check,
    .describe = ferry_describe_detail,
    .apply = shutdown_apply,
    .verify = shutdown_verify,
};
