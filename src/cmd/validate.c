/* ferry validate PLAN...: syntax and semantics, no I/O beyond files. */
#include "cmd/cmd.h"

enum { OPT_NO_DISK_CHECK = FERRY_OPT_LONG };

static const struct ferry_option validate_options[] = {
    {"no-disk-check", OPT_NO_DISK_CHECK, NULL, "do not open the disk images"},
    {0},
};

/* Load every plan named; report each one. */
static int
validate_run (int argc, char **argv)
{
  unsigned flags = 0;
  struct ferry_run r;
  int c, rc = FERRY_EXIT_OK, i;

  while ((c = ferry_cmd_getopt (&ferry_cmd_validate, argc, argv)) != -1) {
    if (c == OPT_NO_DISK_CHECK)
      flags |= FERRY_PLAN_NO_DISK_CHECK;
    else if (c == 'h') {
      ferry_command_usage (&ferry_cmd_validate, stdout);
      return FERRY_EXIT_OK;
    } else
      return FERRY_EXIT_ERROR;
  }
  if (optind >= argc)
    return ferry_cmd_usage_error (&ferry_cmd_validate);
  for (i = optind; i < argc; i++) {
    if (ferry_run_load (argv[i], flags, NULL, &r) < 0 ||
        ferry_run_state (&r, false) < 0)
      rc = FERRY_EXIT_ERROR;
    else {
      ferry_run_check_writer (&r);
      printf ("%s: ok (%zu vm%s, %zu steps)\n", argv[i], r.plan->n_vms,
              r.plan->n_vms == 1 ? "" : "s", r.graph->n);
    }
    ferry_run_free (&r);
  }
  return rc;
}

const struct ferry_command ferry_cmd_validate = {
    .name = "validate",
    .run = validate_run,
    .usage = "PLAN...",
    .summary = "check syntax and semantics",
    .description = "Check syntax and semantics of migration plans (no "
                   "changes, no network).",
    .options = validate_options,
};
