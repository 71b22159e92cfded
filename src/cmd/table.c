/* The one sorted table of commands, the global options, and the usage
 * text generated from them (`ferry --help`, `ferry CMD --help`). */
#include <string.h>

#include "cmd/cmd.h"
#include "util/cleanup.h"

/* Where `make install` puts docs/ (the Makefile passes PREFIX's). */
#ifndef FERRY_DOCDIR
#define FERRY_DOCDIR "/usr/local/share/doc/ferry"
#endif

const struct ferry_command *const ferry_commands[] = {
    &ferry_cmd_apply,   &ferry_cmd_convert, &ferry_cmd_destroy,
    &ferry_cmd_graph,   &ferry_cmd_help,    &ferry_cmd_inspect,
    &ferry_cmd_modules, &ferry_cmd_plan,    &ferry_cmd_schema,
    &ferry_cmd_status,  &ferry_cmd_unlock,  &ferry_cmd_validate,
    &ferry_cmd_version,
};
const size_t ferry_n_commands = FERRY_ARRAY_SIZE (ferry_commands);

const struct ferry_option ferry_global_options[] = {
    {"version", FERRY_OPT_LONG, NULL, "print the version and exit"},
    {"verbose", 'v', NULL, "debug detail on stderr (never secrets)"},
    {"quiet", 'q', NULL, "only warnings and errors on stderr"},
    {"log-file", FERRY_OPT_LONG + 1, "PATH",
     "append a timestamped log to PATH"},
    {"help", 'h', NULL, "this text; 'ferry COMMAND --help' for a command"},
    {0},
};

/* Binary search: the table is sorted (checked at start-up and in
 * tests/unit/test-cmd.c). */
const struct ferry_command *
ferry_command_find (const char *name)
{
  size_t lo = 0, hi = ferry_n_commands, mid;
  int c;

  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    c = strcmp (name, ferry_commands[mid]->name);
    if (c == 0)
      return ferry_commands[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* Options of one table: names and keys unique, help present. */
static int
check_options (const char *where, const struct ferry_option *opts,
               struct ferry_err *err)
{
  const struct ferry_option *o, *p;

  for (o = opts; o && o->name; o++) {
    if (o->key <= 0 ||
        (opts != ferry_global_options && strcmp (o->name, "help") == 0))
      return ferry_err_set (err, 0,
                            "%s: option '--%s' has no key or shadows --help",
                            where, o->name);
    for (p = opts; p != o; p++)
      if (strcmp (p->name, o->name) == 0 || p->key == o->key)
        return ferry_err_set (err, 0,
                              "%s: option '--%s' repeats the name or key "
                              "of '--%s'",
                              where, o->name, p->name);
  }
  return 0;
}

/* Check the command table and the option tables at start-up (main), so a
 * bad entry fails every run instead of a lookup silently missing: the
 * global options, then each command's mandatory fields, strictly increasing
 * names (ferry_command_find's binary search needs it) and its options.
 * 0, or -1 with ERR naming the first fault. */
int
ferry_commands_check (struct ferry_err *err)
{
  const struct ferry_command *c;
  size_t i;

  if (check_options ("global options", ferry_global_options, err) < 0)
    return -1;
  for (i = 0; i < ferry_n_commands; i++) {
    c = ferry_commands[i];
    if (c == NULL || c->name == NULL || c->run == NULL || c->usage == NULL ||
        c->summary == NULL)
      return ferry_err_set (err, 0,
                            "command table: entry %zu lacks a mandatory "
                            "field",
                            i);
    if (i > 0 && strcmp (ferry_commands[i - 1]->name, c->name) >= 0)
      return ferry_err_set (err, 0,
                            "command table: '%s' is not sorted after '%s' "
                            "or is a duplicate",
                            c->name, ferry_commands[i - 1]->name);
    if (check_options (c->name, c->options, err) < 0)
      return -1;
  }
  return 0;
}

/* One option row of a help text: "  -x, --name ARG   help". */
static void
print_option (const struct ferry_option *o, FILE *f)
{
  char left[64];

  if (o->key > 0 && o->key < FERRY_OPT_LONG)
    snprintf (left, sizeof left, "-%c, --%s%s%s", o->key, o->name,
              o->arg ? " " : "", o->arg ? o->arg : "");
  else
    snprintf (left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
              o->arg ? o->arg : "");
  fprintf (f, "  %-28s %s\n", left, o->help);
}

/* Print `ferry --help` to F: the usage line, the global options that have
 * help, every command not hidden with its summary, and where the manual
 * is. */
void
ferry_usage (FILE *f)
{
  const struct ferry_option *o;
  const struct ferry_command *c;
  char left[64];
  size_t i;

  fprintf (f, "usage: ferry [--version] [-v] [-q] [--log-file PATH] COMMAND "
              "[ARGS]\n\nGlobal options:\n");
  for (o = ferry_global_options; o->name; o++)
    if (o->help)
      print_option (o, f);
  fprintf (f, "\nCommands:\n");
  for (i = 0; i < ferry_n_commands; i++) {
    c = ferry_commands[i];
    if (c->hidden)
      continue;
    snprintf (left, sizeof left, "%s %s", c->name, c->usage);
    fprintf (f, "  %-28s %s\n", left, c->summary);
  }
  fprintf (f,
           "\nRun 'ferry COMMAND --help' for a command's options.  The manual:"
           "\n  %s/ferry.1.md (installed)\n  docs/ferry.1.md (source tree)\n",
           FERRY_DOCDIR);
}

/* Whether CMD has an option --help shows. */
bool
ferry_command_has_options (const struct ferry_command *cmd)
{
  const struct ferry_option *o;

  for (o = cmd->options; o && o->name; o++)
    if (o->help)
      return true;
  return false;
}

/* Print `ferry CMD --help` to F: the usage line ("[options]" only when CMD
 * has an option with help), the description (or the summary when CMD has
 * none), and the option rows. */
void
ferry_command_usage (const struct ferry_command *cmd, FILE *f)
{
  const struct ferry_option *o;
  bool opts = ferry_command_has_options (cmd);

  fprintf (f, "usage: ferry %s %s%s\n", cmd->name, cmd->usage,
           opts ? " [options]" : "");
  fprintf (f, "%s\n", cmd->description ? cmd->description : cmd->summary);
  if (!opts)
    return;
  fprintf (f, "\nOptions:\n");
  for (o = cmd->options; o->name; o++)
    if (o->help)
      print_option (o, f);
}
