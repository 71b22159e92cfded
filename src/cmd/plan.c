/* ferry plan PLAN: observe the world read-only and print what apply would
 * change; -o stores a saved plan for `ferry apply SAVED`. */
#include "cmd/cmd.h"

enum { OPT_DETAILED_EXITCODE = FERRY_OPT_LONG };

static const struct ferry_option plan_options[] = {
    {"out", 'o', "SAVED", "also write a saved plan"},
    {"json", 'j', NULL, "machine-readable output"},
    {"detailed-exitcode", OPT_DETAILED_EXITCODE, NULL,
     "exit 0: nothing to do, 2: changes pending, 1: error"},
    FERRY_OPTION_TARGET,
    FERRY_OPTION_PHASE,
    {0},
};

/* Observe every selected step, print, optionally save. */
static int
plan_run (int argc, char **argv)
{
  struct ferry_targets targets = {0};
  const char *out = NULL;
  bool json = false, detailed = false;
  struct ferry_ctx ctx = {0};
  struct ferry_err err = {0};
  struct ferry_need_counts cnt;
  struct ferry_run r;
  int c, rc = FERRY_EXIT_ERROR;

  while ((c = ferry_cmd_getopt (&ferry_cmd_plan, argc, argv)) != -1) {
    switch (c) {
    case 'o':
      out = optarg;
      break;
    case 'j':
      json = true;
      break;
    case OPT_DETAILED_EXITCODE:
      detailed = true;
      break;
    case 't':
      if (ferry_targets_add (&targets, optarg) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case FERRY_OPT_PHASE:
      if (ferry_targets_phase (&targets, optarg) < 0)
        return FERRY_EXIT_ERROR;
      break;
    case 'h':
      ferry_command_usage (&ferry_cmd_plan, stdout);
      return FERRY_EXIT_OK;
    default:
      return FERRY_EXIT_ERROR;
    }
  }
  if (argc - optind != 1)
    return ferry_cmd_usage_error (&ferry_cmd_plan);
  if (ferry_run_load (argv[optind], 0, &targets, &r) < 0 ||
      (out && ferry_saved_check_target (out, r.plan->file) < 0) ||
      ferry_run_state (&r, false) < 0)
    goto out;
  ferry_run_check_writer (&r);
  ctx.plan = r.plan;
  ctx.os = r.os;
  ctx.guests = r.guests;
  ctx.dry_run = true;
  ctx.cutover = targets.phase == FERRY_PHASE_CUTOVER;
  ctx.state = r.state;
  if (ferry_engine_observe (&ctx, r.graph, r.keep, r.res, &err) < 0) {
    ferry_die_err (&err);
    goto out;
  }
  ferry_print_plan (&r, json, stdout);
  if (out && ferry_saved_write (out, &r) < 0)
    goto out;
  ferry_count_need (&r, &cnt);
  rc = detailed && (cnt.create || cnt.update || cnt.blocked)
           ? FERRY_EXIT_CHANGES
           : FERRY_EXIT_OK;
out:
  ferry_run_free (&r);
  return rc;
}

const struct ferry_command ferry_cmd_plan = {
    .name = "plan",
    .run = plan_run,
    .usage = "PLAN",
    .summary = "show what apply would change (read-only)",
    .description = "Observe the world (read-only) and print what apply would "
                   "change.",
    .options = plan_options,
};
