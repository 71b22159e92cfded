/* ferry modules: list the step modules of this build. */
#include "cmd/cmd.h"
#include "modules/module.h"

/* One line per registered module: name and summary. */
static int
modules_run (int argc, char **argv)
{
  size_t m;
  int c;

  while ((c = ferry_cmd_getopt (&ferry_cmd_modules, argc, argv)) != -1) {
    if (c != 'h')
      return FERRY_EXIT_ERROR;
    ferry_command_usage (&ferry_cmd_modules, stdout);
    return FERRY_EXIT_OK;
  }
  for (m = 0; m < ferry_n_modules; m++)
    printf ("%-12s %s\n", ferry_modules[m]->name, ferry_modules[m]->summary);
  return FERRY_EXIT_OK;
}

const struct ferry_command ferry_cmd_modules = {
    .name = "modules",
    .run = modules_run,
    .usage = "",
    .summary = "list the step modules",
};
