/* ferry version: the same as `ferry --version`. */
#include "cmd/cmd.h"

/* Print "ferry VERSION". */
static int
version_run (int argc, char **argv)
{
  (void) argc, (void) argv;
  printf ("ferry %s\n", FERRY_VERSION);
  return FERRY_EXIT_OK;
}

const struct ferry_command ferry_cmd_version = {
    .name = "version",
    .run = version_run,
    .usage = "",
    .summary = "print the version",
};
