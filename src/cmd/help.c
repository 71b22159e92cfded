/* ferry help [COMMAND]: the usage text from the command table.  Hidden
 * options list what the docs test checks against docs/ferry.1.md. */
#include <string.h>

#include "cmd/cmd.h"

enum { OPT_LIST = FERRY_OPT_LONG, OPT_LIST_OPTIONS };

static const struct ferry_option help_options[] = {
    {"list", OPT_LIST, NULL, NULL},
    {"list-options", OPT_LIST_OPTIONS, NULL, NULL},
    {0},
};

/* Every documented option, one "COMMAND --NAME" line each ("ferry" for the
 * global options). */
static void
list_options (void)
{
  const struct ferry_option *o;
  size_t i;

  for (o = ferry_global_options; o->name; o++)
    if (o->help)
      printf ("ferry --%s\n", o->name);
  for (i = 0; i < ferry_n_commands; i++)
    for (o = ferry_commands[i]->options; o && o->name; o++)
      if (o->help)
        printf ("%s --%s\n", ferry_commands[i]->name, o->name);
}

/* No argument: the overview; COMMAND: its usage. */
static int
help_run (int argc, char **argv)
{
  const struct ferry_command *cmd;
  size_t i;
  int c;

  while ((c = ferry_cmd_getopt (&ferry_cmd_help, argc, argv)) != -1) {
    switch (c) {
    case OPT_LIST:
      for (i = 0; i < ferry_n_commands; i++)
        if (!ferry_commands[i]->hidden)
          printf ("%s\n", ferry_commands[i]->name);
      return FERRY_EXIT_OK;
    case OPT_LIST_OPTIONS:
      list_options ();
      return FERRY_EXIT_OK;
    case 'h':
      ferry_command_usage (&ferry_cmd_help, stdout);
      return FERRY_EXIT_OK;
    default:
      return FERRY_EXIT_ERROR;
    }
  }
  if (argc - optind > 1)
    return ferry_cmd_usage_error (&ferry_cmd_help);
  if (argc - optind == 0) {
    ferry_usage (stdout);
    return FERRY_EXIT_OK;
  }
  cmd = ferry_command_find (argv[optind]);
  if (cmd == NULL) {
    ferry_error ("unknown command '%s'", argv[optind]);
    return FERRY_EXIT_ERROR;
  }
  ferry_command_usage (cmd, stdout);
  return FERRY_EXIT_OK;
}

const struct ferry_command ferry_cmd_help = {
    .name = "help",
    .run = help_run,
    .usage = "[COMMAND]",
    .summary = "this text, or a command's options",
    .options = help_options,
};
