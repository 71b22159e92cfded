/* ferry unlock PLAN [--vm NAME]: release a stale lock (the plan's, or a
 * VM's that a worker left), showing its owner.  --force removes a lock
 * whose owner cannot be judged from here (another host, a garbled lock),
 * but only while no run of the plan is alive: it first takes the wave lock
 * exclusively, which every live apply, destroy and worker holds. */
#include <string.h>

#include "cmd/cmd.h"

enum { OPT_FORCE = FERRY_OPT_LONG, OPT_VM };

static const struct ferry_option unlock_options[] = {
    {"force", OPT_FORCE, NULL,
     "remove the lock whoever owns it, once no run of the plan is alive"},
    {"vm", OPT_VM, "NAME", "the lock of VM NAME (apply --worker) instead"},
    {0},
};

/* Break the plan's lock when its owner is dead (or always with --force). */
static int
unlock_run (int argc, char **argv)
{
  struct ferry_lock_scope scope = {.kind = FERRY_LOCK_SCOPE_PLAN, .vm = NULL};
  struct ferry_lock_owner owner;
  struct ferry_state_lock *wave = NULL;
  struct ferry_err err = {0};
  struct ferry_run r;
  bool force = false;
  int c, b = -1;

  while ((c = ferry_cmd_getopt (&ferry_cmd_unlock, argc, argv)) != -1) {
    if (c == OPT_FORCE)
      force = true;
    else if (c == OPT_VM) {
      scope.kind = FERRY_LOCK_SCOPE_VM;
      scope.vm = optarg;
    } else if (c == 'h') {
      ferry_command_usage (&ferry_cmd_unlock, stdout);
      return FERRY_EXIT_OK;
    } else
      return FERRY_EXIT_ERROR;
  }
  if (argc - optind != 1)
    return ferry_cmd_usage_error (&ferry_cmd_unlock);
  if (ferry_run_load (argv[optind], FERRY_PLAN_NO_DISK_CHECK, NULL, &r) == 0 &&
      ferry_run_state (&r, false) == 0) {
    memset (&owner, 0, sizeof owner);
    if (scope.vm && ferry_plan_vm (r.plan, scope.vm) == NULL) {
      ferry_err_set (&err, 0, "--vm: plan '%s' has no vm '%s'", argv[optind],
                     scope.vm);
      ferry_die_err (&err);
    } else if (force && ferry_run_wave_exclusive (&r, &wave, &err) < 0) {
      ferry_error ("%s: --force removes only the locks of runs that ended "
                   "(a worker's locks end with it: stop it; a dead host's "
                   "expire by themselves)",
                   err.msg);
    } else {
      b = ferry_state_lock_break (r.state, &scope, force, &owner, &err);
      if (b < 0)
        ferry_die_err (&err);
      else if (b == 0)
        printf ("%s%s%s: not locked\n", argv[optind], scope.vm ? ": vm " : "",
                scope.vm ? scope.vm : "");
      else
        printf ("%s%s%s: removed lock of pid %d on host '%s' (ferry %s)\n",
                argv[optind], scope.vm ? ": vm " : "", scope.vm ? scope.vm : "",
                (int) owner.pid, owner.host, owner.version);
      ferry_state_lock_release (wave);
    }
  }
  ferry_run_free (&r);
  return b < 0 ? FERRY_EXIT_ERROR : FERRY_EXIT_OK;
}

const struct ferry_command ferry_cmd_unlock = {
    .name = "unlock",
    .run = unlock_run,
    .usage = "PLAN",
    .summary = "release a stale lock",
    .description = "Remove the plan's lock (or with --vm a VM's lock, which "
                   "apply --worker takes) if its owner is dead on this host "
                   "(--force: whoever owns it, once no run of the plan is "
                   "alive).",
    .options = unlock_options,
};
