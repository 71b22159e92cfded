/* ferry unlock PLAN: release a stale lock, showing its owner. */
#include <string.h>

#include "cmd/cmd.h"

enum { OPT_FORCE = FERRY_OPT_LONG };

static const struct ferry_option unlock_options[] = {
    {"force", OPT_FORCE, NULL, "remove any lock, even a live one"},
    {0},
};

/* Break the plan's lock when its owner is dead (or always with --force). */
static int
unlock_run (int argc, char **argv)
{
  const struct ferry_lock_scope plan = {FERRY_LOCK_SCOPE_PLAN, NULL};
  struct ferry_lock_owner owner;
  struct ferry_err err = {0};
  struct ferry_run r;
  bool force = false;
  int c, b = -1;

  while ((c = ferry_cmd_getopt (&ferry_cmd_unlock, argc, argv)) != -1) {
    if (c == OPT_FORCE)
      force = true;
    else if (c == 'h') {
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
    b = ferry_state_lock_break (r.state, &plan, force, &owner, &err);
    if (b < 0)
      ferry_die_err (&err);
    else if (b == 0)
      printf ("%s: not locked\n", argv[optind]);
    else
      printf ("%s: removed lock of pid %d on host '%s' (ferry %s)\n",
              argv[optind], (int) owner.pid, owner.host, owner.version);
  }
  ferry_run_free (&r);
  return b < 0 ? FERRY_EXIT_ERROR : FERRY_EXIT_OK;
}

const struct ferry_command ferry_cmd_unlock = {
    .name = "unlock",
    .run = unlock_run,
    .usage = "PLAN",
    .summary = "release a stale lock",
    .description = "Remove the plan's lock if its owner is dead on this host "
                   "(--force: any lock).",
    .options = unlock_options,
};
