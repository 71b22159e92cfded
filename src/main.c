/* ferry command line: global options, then one lookup in the command table
 * (src/cmd/table.c).  Each command lives in src/cmd/<name>.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "modules/module.h"
#include "util/cleanup.h"
#include "util/log.h"

/* Parse the global options (they stop at the command name).  Returns -1 to
 * go on with argv[optind] as the command, else the exit code. */
static int
global_options (int argc, char **argv)
{
  struct option longopts[16];
  const struct ferry_option *o;
  size_t n = 0;
  int c;

  for (o = ferry_global_options; o->name && n + 1 < 16; o++)
    longopts[n++] = (struct option){
        o->name, o->arg ? required_argument : no_argument, NULL, o->key};
  longopts[n] = (struct option){NULL, 0, NULL, 0};
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+vqh", longopts, NULL)) != -1) {
    switch (c) {
    case 'v':
      ferry_log_set_level (FERRY_LOG_DEBUG);
      break;
    case 'q':
      ferry_log_set_level (FERRY_LOG_WARN);
      break;
    case FERRY_OPT_LONG + 1: /* --log-file */
      if (ferry_log_open_file (optarg) < 0) {
        ferry_error ("cannot open log file '%s': %s", optarg, strerror (errno));
        return FERRY_EXIT_ERROR;
      }
      break;
    case FERRY_OPT_LONG: /* --version */
      printf ("ferry %s\n", FERRY_VERSION);
      return FERRY_EXIT_OK;
    case 'h':
      ferry_usage (stdout);
      return FERRY_EXIT_OK;
    default:
      ferry_error ("unknown option '%s'", argv[optind - 1]);
      ferry_usage (stderr);
      return FERRY_EXIT_ERROR;
    }
  }
  opterr = 1;
  return -1;
}

/* Check the module and command tables, apply the global options, then run
 * the named command with argv starting at its name.  Returns the
 * command's exit code, or FERRY_EXIT_ERROR for a bad table, option or
 * command name (usage on stderr). */
int
main (int argc, char **argv)
{
  const struct ferry_command *cmd;
  struct ferry_err err = {0};
  int rc;

  if (ferry_modules_check (&err) < 0 || ferry_commands_check (&err) < 0)
    return ferry_die_err (&err);
  rc = global_options (argc, argv);
  if (rc >= 0)
    return rc;
  if (optind >= argc) {
    ferry_usage (stderr);
    return FERRY_EXIT_ERROR;
  }
  cmd = ferry_command_find (argv[optind]);
  if (cmd == NULL) {
    ferry_error ("unknown command '%s'", argv[optind]);
    ferry_usage (stderr);
    return FERRY_EXIT_ERROR;
  }
  argc -= optind;
  argv += optind;
  optind = 0; /* glibc: restart the scan for the command */
  return cmd->run (argc, argv);
}
