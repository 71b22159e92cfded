/* ferry schema: print the plan format's JSON Schema (compiled in from
 * schemas/ by the Makefile). */
#include "cmd/cmd.h"

extern const char ferry_schema_json[];

/* Print the schema. */
static int
schema_run (int argc, char **argv)
{
  int c;

  while ((c = ferry_cmd_getopt (&ferry_cmd_schema, argc, argv)) != -1) {
    if (c != 'h')
      return FERRY_EXIT_ERROR;
    ferry_command_usage (&ferry_cmd_schema, stdout);
    return FERRY_EXIT_OK;
  }
  fputs (ferry_schema_json, stdout);
  return FERRY_EXIT_OK;
}

const struct ferry_command ferry_cmd_schema = {
    .name = "schema",
    .run = schema_run,
    .usage = "",
    .summary = "print the plan's JSON Schema",
};
